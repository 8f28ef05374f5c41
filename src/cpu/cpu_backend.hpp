#pragma once
// The CPU reference backend: OpenBLAS GEMMs plus fused, vectorisable loops
// that call the per-element math of src/math (the formulas the CUDA kernels
// run). Every op runs synchronously on the calling thread (OpenBLAS may use
// its own threads inside a GEMM).

#include <vector>

#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_phases.hpp"
#include "nocturne/backend.hpp"

namespace nocturne::inline v0::cpu {

template <typename T>
class CpuBackend final : public BasicBackend<T> {
 public:
  explicit CpuBackend(const CpuOptions& options = {})
      : options_(options),
        bf16_kernels_(sizeof(T) == sizeof(float) && options.math == MathMode::bf16 && options.bf16_gemm &&
                      bf16_gemm_supported()),
        fp32_kernels_(sizeof(T) == sizeof(float) && options.math == MathMode::strict_fp32 &&
                      options.fp32_lstm_kernels && lstm_fp32_kernels_supported()),
        bf16_lstm_kernels_(bf16_kernels_ && options.bf16_lstm_kernels && lstm_bf16_kernels_supported()) {}
  // Whether the BF16 mode runs on the processor's BF16 unit (else it is emulated).
  bool bf16_kernels() const { return bf16_kernels_; }
  // Whether the LSTM's FP32 recurrence runs on the AVX-512 kernels (cpu_lstm_fp32.cpp).
  bool fp32_kernels() const { return fp32_kernels_; }
  // Whether the LSTM's BF16 recurrence runs on the AVX-512 BF16 kernels (cpu_lstm_bf16.cpp).
  bool bf16_lstm_kernels() const { return bf16_lstm_kernels_; }
  const CpuOptions& options() const { return options_; }

  Device device() const override { return Device::cpu; }
  std::string name() const override;

  RawBuffer allocate_bytes(std::size_t bytes) override;
  void copy_to_device(void* dst, const void* host_src, std::size_t bytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t bytes) override;
  void copy_on_device(void* dst, const void* src, std::size_t bytes) override;
  void synchronize() override {}
  // Wall-clock phases between marks, and inside them the ops' kinds of work
  // as "<phase> / <kind>" (cpu_phases.hpp).
  void mark_phase(const char* phase) override { phases_.mark(phase); }
  void set_phase_timing(bool on) override { phases_.set_on(on); }
  std::vector<PhaseTime> phase_times() override { return phases_.take(); }
  std::unique_ptr<Replayable> record(std::function<void()> work) override;
  // In options().order (cpu_program.cpp).
  std::unique_ptr<Replayable> record_program(std::vector<ProgramOp> program) override;

  void fill(T* x, std::size_t n, T value) override;
  void gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b,
            int ldb, T beta, T* c, int ldc) override;
  double sum_squares(const T* x, std::size_t n) override;

  void scalar_input(const std::int32_t* tokens, std::size_t n, int vocab, T* out) override;
  void embedding_forward(const std::int32_t* tokens, std::size_t n, int dim, const T* table, T* out) override;
  void embedding_backward(const std::int32_t* tokens, std::size_t n, int vocab, int dim, const T* d_out,
                          T* d_table) override;

  void lstm_forward(const LstmShape& shape, const T* x, const T* w, const T* r, const T* b, T* h, T* c,
                    T* gates) override;
  void lstm_backward(const LstmShape& shape, const T* x, const T* w, const T* r, const T* h, const T* c,
                     const T* gates, const T* dh, T* dx, T* dw, T* dr, T* db, T* workspace) override;
  void lstm_step(int batch, int input, int hidden, const T* x, const T* w, const T* r, const T* b, const T* h_prev,
                 const T* c_prev, T* h, T* c, T* gates) override;
  void mask_steps(int steps, std::size_t n, const T* mask, const T* x, T* y) override;
  void lstm_forward_masked(const LstmShape& shape, const T* x, const T* w, const T* r, const T* b, const T* mask,
                           T* h_masked, T* h, T* c, T* gates) override;
  void lstm_backward_masked(const LstmShape& shape, const T* x, const T* w, const T* r, const T* mask,
                            const T* h_masked, const T* h, const T* c, const T* gates, const T* dh, T* dx, T* dw,
                            T* dr, T* db, T* workspace) override;

  void dense_forward(int n, int k, int m, const T* x, const T* w, const T* b, T* y) override;
  void dense_backward(int n, int k, int m, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) override;

  void dropout_forward(const DropoutKey& key, T p, std::size_t n, const T* x, T* y) override;
  void dropout_backward(const DropoutKey& key, T p, std::size_t n, const T* dy, T* dx) override;

  void softmax(int n, int vocab, const T* logits, T* probs) override;
  void softmax_cross_entropy(int n, int vocab, const T* logits, const std::int32_t* targets, T grad_scale,
                             T* dlogits, double* stats) override;
  void softmax_cross_entropy_smoothed(int n, int vocab, const T* logits, const std::int32_t* targets, T smoothing,
                                      T grad_scale, T* dlogits, double* stats) override;

  void adamax(std::size_t n, T* params, const T* grads, T* m, T* u, const AdamaxParams& hp,
              std::int64_t step) override;

  // The fused path's ops (cpu_fused.cpp), by composition: the same GEMMs
  // and cell loops as the classic ops, on gate-interleaved columns.
  LstmSchedule lstm_schedule() const override {
    if (!options_.fused_lstm && !options_.persistent_lstm) return LstmSchedule::whole_sequence;
    return options_.persistent_lstm ? LstmSchedule::persistent_sequences : LstmSchedule::fused_steps;
  }
  void lstm_step_forward(const LstmStepForward<T>& step) override;
  void lstm_step_backward(const LstmStepBackward<T>& step) override;
  int lstm_partial_blocks(int batch) const override;
  void lstm_partials_reduce(int steps, int blocks, int cols, const T* partials, T* out) override;
  void head_train_step(const HeadTrainStep<T>& head) override;
  void head_predict(int n, int input, int dense, int vocab, const T* x, const T* w1, const T* b1, const T* w2,
                    const T* b2, T* y1, T* logits, T* probs) override;
  void adamax_device_step(std::size_t n, T* params, const T* grads, T* m, T* u, const AdamaxParams& hp,
                          const std::int64_t* step_on_device) override;
  void sample_tokens(const SampleTokens<T>& request) override;

 private:
  // gates[r, :] = b + x[r, :] W for the rows of x [rows, F] (cpu_lstm.cpp).
  void input_projection(int rows, int input, int width, const T* x, const T* w, const T* b, T* gates);
  // The recurrent GEMM C [m, n] (+)= A [m, k] op(R) of a whole sequence: in
  // the BF16 mode on its kernels, R packed once by pack_recurrent (which says
  // whether it packed), else gemm.
  bool pack_recurrent(Transpose trans_r, int k, int n, const T* r);
  void recurrent_gemm(bool packed, Transpose trans_r, int m, int n, int k, const T* a, const T* r, T beta, T* c);
  // C [m, n] = A [m, k] W + beta C for a weight matrix W [k, n] of an
  // inference op (lstm_step, dense_forward): in the BF16 mode on W packed
  // once (bf16_weights_), else gemm.
  void weight_gemm(int m, int n, int k, const T* a, const T* w, T beta, T* c);
  // The packed weights stay valid through the inference ops: an op that
  // writes [p, p + bytes) drops the packings of what it overwrites, and the
  // training ops and the optimizer, which change weights, drop them all.
  // Memory written without an op (a host pointer into a CPU buffer) is not
  // seen: write weights with copy_to_device, as on a GPU.
  void weights_written(const void* p, std::size_t bytes) {
    if (bf16_weights_.size()) bf16_weights_.forget(p, bytes);
  }
  void weights_may_change() { bf16_weights_.clear(); }
  // The threads the AVX-512 kernels split their rows between: the BLAS's.
  static int kernel_threads() { return cpu_threads() > 0 ? cpu_threads() : 1; }
  // A scratch area of at least `count` elements (the fused ops' per-call temporaries).
  T* scratch(std::size_t count);

  CpuOptions options_;
  OperandCopies<T> operand_copies_;  // the reduced modes' rounded GEMM operands
  Bf16Packing bf16_packing_;         // the BF16 kernels' packed operands
  Bf16Matrix packed_r_;              // R of the sequence op running, packed for the BF16 kernels
  Bf16WeightCache bf16_weights_;     // the inference ops' weights, packed for them (weight_gemm)
  bool bf16_kernels_ = false;        // MathMode::bf16 on the AVX-512 BF16 kernels (float only)
  bool fp32_kernels_ = false;        // strict FP32 recurrence on the AVX-512 kernels (float only)
  PackedRecurrent packed_fp32_;      // R of the sequence op running, packed for them
  PackedRecurrent packed_w_;         // and W of its forward
  bool bf16_lstm_kernels_ = false;   // the BF16 recurrence on the AVX-512 BF16 kernels (float only)
  Bf16Recurrent packed_bf16_r_;      // R of the sequence op running, packed for them
  Bf16Recurrent packed_bf16_w_;      // and W of its forward
  Bf16LstmScratch bf16_lstm_scratch_;  // their weight-gradient GEMMs' packings
  std::vector<float> weight_partials_;  // the kernels' per-thread weight-gradient sums
  std::vector<T> scratch_;
  PhaseClock phases_;
};

extern template class CpuBackend<float>;
extern template class CpuBackend<double>;

}  // namespace nocturne::cpu
