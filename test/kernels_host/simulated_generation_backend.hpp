#pragma once
// A backend for checking the window predictor's use of generate_notes on the
// CPU: every op forwards to a CPU backend on the fused path (its buffers are
// host memory), and generate_notes runs the generation kernel's host
// simulator (persistent_generation_simulator.hpp) on those buffers with the
// plan for an H100, as the CUDA backend runs the kernel.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/generate_args.hpp"
#include "nocturne/backend.hpp"
#include "persistent_generation_simulator.hpp"

namespace nocturne::inline v0::kernels::simulation {

class SimulatedGenerationBackend final : public BasicBackend<float> {
 public:
  using T = float;
  explicit SimulatedGenerationBackend(std::unique_ptr<BasicBackend<float>> inner) : in_(std::move(inner)) {}

  int launches = 0;  // generate_notes calls that ran

  bool generate_notes(const GenerateNotes<T>& q) override {
    const GenerationPlan plan = generation_plan({q.streams, q.window, q.hidden1, q.hidden2, q.dense, q.vocab}, kH100);
    if (!plan.fits() || q.notes <= 0) return false;
    const GenerateArgs a = generate_args(q, plan);
    GenerationSimulator(a, {}).run(a);
    ++launches;
    return true;
  }

  Device device() const override { return in_->device(); }
  std::string name() const override { return "simulated generation on " + in_->name(); }
  RawBuffer allocate_bytes(std::size_t bytes) override { return in_->allocate_bytes(bytes); }
  void copy_to_device(void* dst, const void* src, std::size_t bytes) override { in_->copy_to_device(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) override { in_->copy_to_host(dst, src, bytes); }
  void copy_on_device(void* dst, const void* src, std::size_t bytes) override { in_->copy_on_device(dst, src, bytes); }
  void synchronize() override { in_->synchronize(); }
  std::unique_ptr<Replayable> record(std::function<void()> work) override { return in_->record(std::move(work)); }
  std::unique_ptr<Replayable> record_program(std::vector<ProgramOp> program) override {
    return in_->record_program(std::move(program));
  }
  void fill(T* x, std::size_t n, T value) override { in_->fill(x, n, value); }
  void gemm(Transpose ta, Transpose tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb, T beta,
            T* c, int ldc) override {
    in_->gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  double sum_squares(const T* x, std::size_t n) override { return in_->sum_squares(x, n); }
  void scalar_input(const std::int32_t* tokens, std::size_t n, int vocab, T* out) override {
    in_->scalar_input(tokens, n, vocab, out);
  }
  void embedding_forward(const std::int32_t* tokens, std::size_t n, int dim, const T* table, T* out) override {
    in_->embedding_forward(tokens, n, dim, table, out);
  }
  void embedding_backward(const std::int32_t* tokens, std::size_t n, int vocab, int dim, const T* d_out,
                          T* d_table) override {
    in_->embedding_backward(tokens, n, vocab, dim, d_out, d_table);
  }
  void lstm_forward(const LstmShape& s, const T* x, const T* w, const T* r, const T* b, T* h, T* c,
                    T* gates) override {
    in_->lstm_forward(s, x, w, r, b, h, c, gates);
  }
  void lstm_backward(const LstmShape& s, const T* x, const T* w, const T* r, const T* h, const T* c, const T* gates,
                     const T* dh, T* dx, T* dw, T* dr, T* db, T* workspace) override {
    in_->lstm_backward(s, x, w, r, h, c, gates, dh, dx, dw, dr, db, workspace);
  }
  void lstm_step(int batch, int input, int hidden, const T* x, const T* w, const T* r, const T* b, const T* h_prev,
                 const T* c_prev, T* h, T* c, T* gates) override {
    in_->lstm_step(batch, input, hidden, x, w, r, b, h_prev, c_prev, h, c, gates);
  }
  void dense_forward(int n, int k, int m, const T* x, const T* w, const T* b, T* y) override {
    in_->dense_forward(n, k, m, x, w, b, y);
  }
  void dense_backward(int n, int k, int m, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) override {
    in_->dense_backward(n, k, m, x, w, dy, dx, dw, db);
  }
  void dropout_forward(const DropoutKey& key, T p, std::size_t n, const T* x, T* y) override {
    in_->dropout_forward(key, p, n, x, y);
  }
  void dropout_backward(const DropoutKey& key, T p, std::size_t n, const T* dy, T* dx) override {
    in_->dropout_backward(key, p, n, dy, dx);
  }
  void softmax(int n, int vocab, const T* logits, T* probs) override { in_->softmax(n, vocab, logits, probs); }
  void softmax_cross_entropy(int n, int vocab, const T* logits, const std::int32_t* targets, T grad_scale, T* dlogits,
                             double* stats) override {
    in_->softmax_cross_entropy(n, vocab, logits, targets, grad_scale, dlogits, stats);
  }
  void adamax(std::size_t n, T* params, const T* grads, T* m, T* u, const AdamaxParams& hp,
              std::int64_t step) override {
    in_->adamax(n, params, grads, m, u, hp, step);
  }
  LstmSchedule lstm_schedule() const override { return in_->lstm_schedule(); }
  void lstm_step_forward(const LstmStepForward<T>& step) override { in_->lstm_step_forward(step); }
  void head_predict(int n, int input, int dense, int vocab, const T* x, const T* w1, const T* b1, const T* w2,
                    const T* b2, T* y1, T* logits, T* probs) override {
    in_->head_predict(n, input, dense, vocab, x, w1, b1, w2, b2, y1, logits, probs);
  }
  void sample_tokens(const SampleTokens<T>& request) override { in_->sample_tokens(request); }
  void lstm_step_backward(const LstmStepBackward<T>& step) override { in_->lstm_step_backward(step); }
  void lstm_sequence_forward(const LstmSequenceForward<T>& q) override { in_->lstm_sequence_forward(q); }
  void lstm_sequence_backward(const LstmSequenceBackward<T>& q) override { in_->lstm_sequence_backward(q); }
  int lstm_partial_blocks(int batch) const override { return in_->lstm_partial_blocks(batch); }
  void lstm_partials_reduce(int steps, int blocks, int cols, const T* partials, T* out) override {
    in_->lstm_partials_reduce(steps, blocks, cols, partials, out);
  }
  void head_train_step(const HeadTrainStep<T>& head) override { in_->head_train_step(head); }
  void adamax_device_step(std::size_t n, T* params, const T* grads, T* m, T* u, const AdamaxParams& hp,
                          const std::int64_t* step_on_device) override {
    in_->adamax_device_step(n, params, grads, m, u, hp, step_on_device);
  }

 private:
  std::unique_ptr<BasicBackend<float>> in_;
};

}  // namespace nocturne::kernels::simulation
