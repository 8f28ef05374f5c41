#pragma once
// The CUDA backend: cuBLAS for the GEMMs, Nocturne's own kernels (kernels/)
// for everything else. Work is issued on the backend's stream, or, inside a
// step program, on the stream of the op's branch (two branches, each with its
// own stream, cuBLAS handles, workspaces and scratch, so ops on different
// branches never share memory the schedule checker cannot see). See
// docs/cuda.md for the design, the classic and the fused LSTM schedules.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cuda/cublas_lt.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/cuda_resources.hpp"
#include "kernels/fused_kernels.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"

namespace nocturne::inline v0::cuda {

class CudaBackend final : public BasicBackend<float> {
 public:
  explicit CudaBackend(const CudaOptions& options);
  ~CudaBackend() override;

  Device device() const override { return Device::cuda; }
  std::string name() const override { return name_; }
  // The backend's stream (branch 0's): transfers and everything outside a
  // step program's branch 1 run here.
  cudaStream_t stream() const { return branches_[0].stream.get(); }

  RawBuffer allocate_bytes(std::size_t bytes) override;
  void copy_to_device(void* dst, const void* host_src, std::size_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t bytes) override;
  void copy_on_device(void* dst, const void* src, std::size_t bytes) override;
  void synchronize() override;
  std::unique_ptr<Replayable> record(std::function<void()> work) override;
  std::unique_ptr<Replayable> record_program(std::vector<ProgramOp> program) override;

  void mark_phase(const char* phase) override;
  void set_phase_timing(bool on) override;
  std::vector<PhaseTime> phase_times() override;

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
  void mask_steps(int steps, std::size_t n, const float* mask, const float* x, float* y) override;
  // Nocturne's own LSTM with the mask (never cuDNN's, which takes none: a mask with it throws).
  void lstm_forward_masked(const LstmShape& shape, const float* x, const float* w, const float* r, const float* b,
                           const float* mask, float* h_masked, float* h, float* c, float* gates) override;
  void lstm_backward_masked(const LstmShape& shape, const float* x, const float* w, const float* r,
                            const float* mask, const float* h_masked, const float* h, const float* c,
                            const float* gates, const float* dh, float* dx, float* dw, float* dr, float* db,
                            float* workspace) override;

  void dense_forward(int n, int k, int m, const float* x, const float* w, const float* b, float* y) override;
  void dense_backward(int n, int k, int m, const float* x, const float* w, const float* dy, float* dx, float* dw,
                      float* db) override;

  void dropout_forward(const DropoutKey& key, float p, std::size_t n, const float* x, float* y) override;
  void dropout_backward(const DropoutKey& key, float p, std::size_t n, const float* dy, float* dx) override;

  void softmax(int n, int vocab, const float* logits, float* probs) override;
  void softmax_cross_entropy(int n, int vocab, const float* logits, const std::int32_t* targets, float grad_scale,
                             float* dlogits, double* stats) override;
  void softmax_cross_entropy_smoothed(int n, int vocab, const float* logits, const std::int32_t* targets,
                                      float smoothing, float grad_scale, float* dlogits, double* stats) override;

  void adamax(std::size_t n, float* params, const float* grads, float* m, float* u, const AdamaxParams& hp,
              std::int64_t step) override;

  // ---- the fused path (cuda_fused_ops.cpp) ----------------------------------
  LstmSchedule lstm_schedule() const override {
    if (!fused_) return LstmSchedule::whole_sequence;
    return persistent_ ? LstmSchedule::persistent_sequences : LstmSchedule::fused_steps;
  }
  void lstm_step_forward(const LstmStepForward<float>& step) override;
  void lstm_step_backward(const LstmStepBackward<float>& step) override;
  // The persistent kernels where the layer fits (persistent path, every
  // math mode), else the fused step kernels one step after another.
  void lstm_sequence_forward(const LstmSequenceForward<float>& sequence) override;
  void lstm_sequence_backward(const LstmSequenceBackward<float>& sequence) override;
  void lstm_sequences_forward(const LstmSequencesForward<float>& sequences) override;
  int lstm_partial_blocks(int batch) const override;
  void lstm_partials_reduce(int steps, int blocks, int cols, const float* partials, float* out) override;
  void head_train_step(const HeadTrainStep<float>& head) override;
  void head_predict(int n, int input, int dense, int vocab, const float* x, const float* w1, const float* b1,
                    const float* w2, const float* b2, float* y1, float* logits, float* probs) override;
  void adamax_device_step(std::size_t n, float* params, const float* grads, float* m, float* u,
                          const AdamaxParams& hp, const std::int64_t* step_on_device) override;
  void sample_tokens(const SampleTokens<float>& request) override;
  // The persistent generation kernel (cuda_generate.cpp) on the persistent
  // path in strict fp32 where the plan fits; false elsewhere.
  bool generate_notes(const GenerateNotes<float>& request) override;

  // For the launch wrappers: the current branch's stream, and whether to
  // wait after each launch (never while a graph is being captured).
  Launch launch() const { return Launch{branch().stream.get(), debug_sync_ && !capturing_}; }

  // ---- for step programs (cuda_program.cpp) ---------------------------------
  // Ops issued from now on go to `branch` (0 or 1).
  void set_branch(int branch) { branch_ = branch; }
  bool wavefront() const { return wavefront_; }
  bool graphs() const { return graphs_; }
  // Recorded work run eagerly (its first replay, or graphs off): no
  // transfers, waits or allocations in between.
  void begin_recorded_work();
  void end_recorded_work();
  // Begins / ends a graph capture on branch 0's stream; end returns the graph
  // (none when `failed`: the capture is abandoned).
  void begin_capture();
  Graph end_capture(bool failed);
  // Phase timing: events around one op on the current branch.
  void time_op_begin();
  void time_op_end(const std::string& op_name);

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

  // What each branch owns: ops on different branches may run at once.
  struct Branch {
    Stream stream;
    CublasHandle cublas;
    DeviceMemory cublas_workspace;
    LtGemm lt;              // the fused path's GEMMs (cuBLASLt, its own workspace)
    DeviceMemory scratch;   // column-sum partials (kScratchFloats floats)
    DeviceMemory flags;     // the persistent kernels' per-block step flags (one per SM)
  };
  // Phase timing of eager work: events around each op (or between phase
  // marks), read back by phase_times().
  struct TimedSpan {
    std::string phase;
    Event begin, end;
  };

  const Branch& branch() const { return branches_[std::size_t(branch_)]; }
  Branch& branch() { return branches_[std::size_t(branch_)]; }
  void require_not_recording(const char* op) const;
  void dropout(const char* op, const DropoutKey& key, float p, std::size_t n, const float* in, float* out);
  void column_sums(std::size_t rows, std::size_t cols, const float* m, float* sums);
  kernels::GemmOperands gemm_operands() const;
  void warm_up();
  void close_phase_span();

  int device_ = 0;
  bool debug_sync_ = false;
  bool recording_ = false;   // inside recorded work (captured or eager): no transfers, no waiting
  bool capturing_ = false;   // a graph capture is open
  bool cudnn_lstm_ = false;  // LSTM layers through cuDNN (CudaOptions::lstm_impl)
  bool fused_ = false;       // the fused path (CudaOptions::lstm_impl)
  bool persistent_ = false;  // ... with persistent sequence kernels (LstmImpl::persistent)
  int multiprocessors_ = 0;
  bool wavefront_ = true;    // CudaOptions::wavefront
  CudnnAlgo cudnn_algo_ = CudnnAlgo::standard;
  MathMode math_ = MathMode::strict_fp32;  // CudaOptions::math
  bool graphs_ = true;   // CudaOptions::graphs
  int branch_ = 0;
  std::string name_;
  std::array<Branch, 2> branches_;
  DeviceMemory sum_partials_;  // sum_squares partials (kSumSquaresBlocks + 1 doubles)
  bool phase_timing_ = false;
  std::vector<TimedSpan> spans_;
  std::string open_phase_;     // the phase of the last mark_phase, until the next
  Event open_phase_begin_;
  Event op_begin_;             // the start of the program op being timed
  std::array<StagingSlot, kStagingSlots> staging_;
  std::size_t next_slot_ = 0;
};

// The module's cuda_status() and make_cuda_backend(), which the core library
// reaches through the module's function table (cuda_module_entry.cpp).
CudaStatus module_cuda_status();
std::unique_ptr<Backend> module_make_cuda_backend(const CudaOptions& options);

}  // namespace nocturne::cuda
