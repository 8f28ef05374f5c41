#pragma once
// The CUDA backend: cuBLAS for every GEMM, Nocturne's own fused kernels
// (kernels/) for everything else, all issued on one stream owned by the
// backend. See docs/cuda.md for the design and the LSTM schedule.

#include <array>
#include <cstdint>

#include "cuda/cuda_check.hpp"
#include "cuda/cuda_resources.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"

namespace nocturne::cuda {

class CudaBackend final : public BasicBackend<float> {
 public:
  explicit CudaBackend(const CudaOptions& options);
  ~CudaBackend() override;

  Device device() const override { return Device::cuda; }
  std::string name() const override { return name_; }
  cudaStream_t stream() const { return stream_.get(); }

  RawBuffer allocate_bytes(std::size_t bytes) override;
  void copy_to_device(void* dst, const void* host_src, std::size_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t bytes) override;
  void copy_on_device(void* dst, const void* src, std::size_t bytes) override;
  void synchronize() override;
  std::unique_ptr<Replayable> record(std::function<void()> work) override;

  void fill(float* x, std::size_t n, float value) override;
  void gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a, int lda,
            const float* b, int ldb, float beta, float* c, int ldc) override;
  double sum_squares(const float* x, std::size_t n) override;

  void scalar_input(const std::int32_t* tokens, std::size_t n, int vocab, float* out) override;
  void embedding_forward(const std::int32_t* tokens, std::size_t n, int dim, const float* table,
                         float* out) override;
  void embedding_backward(const std::int32_t* tokens, std::size_t n, int vocab, int dim, const float* d_out,
                          float* d_table) override;

  void lstm_forward(const LstmShape& shape, const float* x, const float* w, const float* r, const float* b, float* h,
                    float* c, float* gates) override;
  void lstm_backward(const LstmShape& shape, const float* x, const float* w, const float* r, const float* h,
                     const float* c, const float* gates, const float* dh, float* dx, float* dw, float* dr,
                     float* db, float* workspace) override;
  void lstm_step(int batch, int input, int hidden, const float* x, const float* w, const float* r, const float* b,
                 const float* h_prev, const float* c_prev, float* h, float* c, float* gates) override;

  void dense_forward(int n, int k, int m, const float* x, const float* w, const float* b, float* y) override;
  void dense_backward(int n, int k, int m, const float* x, const float* w, const float* dy, float* dx, float* dw,
                      float* db) override;

  void dropout_forward(const DropoutKey& key, float p, std::size_t n, const float* x, float* y) override;
  void dropout_backward(const DropoutKey& key, float p, std::size_t n, const float* dy, float* dx) override;

  void softmax(int n, int vocab, const float* logits, float* probs) override;
  void softmax_cross_entropy(int n, int vocab, const float* logits, const std::int32_t* targets, float grad_scale,
                             float* dlogits, double* stats) override;

  void adamax(std::size_t n, float* params, const float* grads, float* m, float* u, const AdamaxParams& hp,
              std::int64_t step) override;

  // For the launch wrappers: the stream, and whether to wait after each launch.
  Launch launch() const { return Launch{stream_.get(), debug_sync_ && !recording_}; }

 private:
  // Pinned staging for small host-to-device copies: the source (often a stack
  // variable) is copied here at once, so the transfer can stay asynchronous
  // and ordered on the stream; a slot is reused only after its copy finished.
  static constexpr std::size_t kStagingSlots = 8;
  // Partial column sums: [chunks, cols] floats (4 MiB).
  static constexpr std::size_t kScratchFloats = std::size_t(1) << 20;
  static constexpr std::size_t kStagingBytes = std::size_t(1) << 20;
  struct StagingSlot {
    PinnedMemory host;
    Event done;
    bool in_flight = false;
  };

  void require_not_recording(const char* op) const;
  void dropout(const char* op, const DropoutKey& key, float p, std::size_t n, const float* in, float* out);
  void column_sums(std::size_t rows, std::size_t cols, const float* m, float* sums);

  int device_ = 0;
  bool debug_sync_ = false;
  bool recording_ = false;
  bool cudnn_lstm_ = false;  // LSTM layers through cuDNN (CudaOptions::lstm_impl)
  CudnnAlgo cudnn_algo_ = CudnnAlgo::standard;
  bool tf32_ = false;    // CudaOptions::math: cuBLAS and cuDNN may use TF32 tensor cores
  bool graphs_ = true;   // CudaOptions::graphs
  std::string name_;
  Stream stream_;
  CublasHandle cublas_;
  DeviceMemory cublas_workspace_;
  DeviceMemory scratch_;  // column-sum partials (kScratchFloats floats)
  DeviceMemory sum_partials_;  // sum_squares partials (kSumSquaresBlocks + 1 doubles)
  std::array<StagingSlot, kStagingSlots> staging_;
  std::size_t next_slot_ = 0;
};

// The module's cuda_status() and make_cuda_backend(), which the core library
// reaches through the module's function table (cuda_module_entry.cpp).
CudaStatus module_cuda_status();
std::unique_ptr<Backend> module_make_cuda_backend(const CudaOptions& options);

}  // namespace nocturne::cuda
