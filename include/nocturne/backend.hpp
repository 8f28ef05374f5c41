#pragma once
// ADVANCED: the op-level interface, for writing a backend and for testing
// one; a program that trains or generates needs only nocturne.hpp's
// high-level headers (training_run.hpp, trained_model.hpp), which take a
// backend from make_cpu_backend() / choose_device() and never call an op.
//
// Lifetimes and threads: a backend must outlive every Model, Buffer and
// Trainer made on it. A backend and what is made on it are used by one
// thread at a time; distinct backends may be used from distinct threads
// (the CPU's BLAS thread count, set_cpu_threads, is process-wide).
//
// The one interface every backend implements: the ops the model needs, on
// buffers that live on the backend's device. The CPU backend is the reference;
// the CUDA backend implements the same ops with the same layouts, so results
// compare element by element.
//
// Conventions:
// - All matrices are row-major. Sequences are time-major: [T, N, F] means
//   element (t, n, f) sits at (t * N + n) * F + f.
// - LSTM weights use Keras' layout: W [F, 4H], R [H, 4H], b [4H], the four
//   gate blocks of each row in the order input, forget, cell candidate, output.
// - Every op overwrites its outputs (nothing accumulates) unless it says so.
// - Ops may run asynchronously on the device; only the host-transfer calls,
//   synchronize() and sum_squares() wait.
// - Dimensions (LstmShape, the fused ops' arguments, GEMM sizes) are `int`:
//   kernel dimensions, as BLAS and CUDA take them. The high-level headers
//   count in std::int64_t; the model narrows its sizes to these once, checked
//   (a size above INT_MAX is a ConfigError naming the field).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/buffer.hpp"
#include "nocturne/export.hpp"
#include "nocturne/fused_ops.hpp"

namespace nocturne::inline v0 {

enum class Transpose { no, yes };

struct NOCTURNE_API LstmShape {
  int steps = 0;   // T
  int batch = 0;   // N
  int input = 0;   // F
  int hidden = 0;  // H
};

// Which dropout mask to draw: element i of a mask keeps its value when the
// counter-based generator's uniform draw at (seed, stream, offset + i) is >= p
// (math::dropout_keep). Where offset_on_device is set (a pointer on the
// backend's device), the value it points to when the op runs is added to
// offset: a recorded training step then draws a fresh mask on every replay.
struct NOCTURNE_API DropoutKey {
  std::uint64_t seed = 0;
  std::uint32_t stream = 0;
  std::uint64_t offset = 0;
  const std::uint64_t* offset_on_device = nullptr;
};

// Work recorded once and issued again by replay() with the same pointers and
// shapes (a CUDA graph on the GPU; a plain call on the CPU).
class NOCTURNE_API Replayable {
 public:
  virtual ~Replayable() = default;
  virtual void replay() = 0;
};

struct NOCTURNE_API AdamaxParams {
  double learning_rate = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;
  // Decoupled weight decay (as AdamW for Adam): p -= learning_rate * weight_decay * p
  // beside the update; 0 leaves the recipe's Adamax exactly.
  double weight_decay = 0;
};

// Floating-point modes for the GEMMs: strict FP32; TF32 or BF16 operands
// (rounded to nearest even, math/precision.hpp) with FP32 sums. The CUDA
// backend runs the reduced modes on tensor cores; the CPU backend emulates
// them by rounding its GEMM operands the same way (slower, for checking),
// except BF16 on a processor with AVX-512 BF16 (CpuOptions::bf16_gemm).
enum class MathMode { strict_fp32, tf32, bf16 };
// "fp32", "tf32", "bf16" (the CLI's --precision values).
NOCTURNE_API const char* to_string(MathMode mode);
// The inverse of to_string; throws ConfigError naming the value and the choices.
NOCTURNE_API MathMode parse_math_mode(std::string_view name);

// How the model runs its LSTM layers on a backend:
// - whole_sequence: lstm_forward / lstm_backward over the whole window, in
//   Keras' gate layout (the classic path);
// - fused_steps: one lstm_step_forward / lstm_step_backward op per layer and
//   time step, on gate-interleaved weights, as a step program whose two
//   layers may run as a wavefront (record_program), with the head in one op
//   and Adamax inside the recorded step;
// - persistent_sequences: the fused path with each layer's forward and
//   backward sequences as one lstm_sequence_forward / lstm_sequence_backward
//   op (a persistent kernel on the GPU).
enum class LstmSchedule { whole_sequence, fused_steps, persistent_sequences };

// A byte range of backend memory an op reads or writes (schedule checks).
struct NOCTURNE_API MemoryRange {
  const void* begin = nullptr;
  std::size_t bytes = 0;
};

// One op of a step program. Ops on the same branch run in list order; an op
// also runs after every op listed in `after` (indices into the program, on
// any branch). On the GPU a branch is a stream of a captured graph and
// `after` an event; the CPU runs the ops one by one in an order that respects
// both. reads and writes name every range the op touches, so a program can be
// checked for races (src/model/step_program.hpp) before it runs.
struct NOCTURNE_API ProgramOp {
  std::string name;
  int branch = 0;  // 0 or 1
  std::vector<std::size_t> after;
  std::vector<MemoryRange> reads, writes;
  std::function<void()> run;
};

// Time spent in one phase of recorded work (phase timing, below).
struct NOCTURNE_API PhaseTime {
  std::string phase;  // "lstm1 forward", "head", "adamax", ...
  double ms = 0;      // summed over the ops of the phase and the replays timed
  int spans = 0;      // how many ops or marked spans were added up
};

// In which order a backend that runs ops one at a time (the CPU) runs a
// program: list order, or the wavefront (alternating between branches as
// soon as an op is ready), the order a GPU's two streams may take.
enum class ProgramOrder { list, wavefront };

template <typename T>
class NOCTURNE_API BasicBackend {
 public:
  virtual ~BasicBackend() = default;

  virtual Device device() const = 0;
  virtual std::string name() const = 0;

  // ---- memory -------------------------------------------------------------
  // Zero-filled allocation of `bytes` on this backend's device.
  virtual RawBuffer allocate_bytes(std::size_t bytes) = 0;
  virtual void copy_to_device(void* dst, const void* host_src, std::size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, std::size_t bytes) = 0;
  // The two ranges must not overlap.
  virtual void copy_on_device(void* dst, const void* src, std::size_t bytes) = 0;
  // Waits until every op issued so far has finished.
  virtual void synchronize() = 0;
  // Records the ops `work` issues without running them; replay() runs them.
  // work must not synchronise or transfer to or from the host.
  virtual std::unique_ptr<Replayable> record(std::function<void()> work) = 0;

  // Records a step program (see ProgramOp) for replay. The default runs the
  // ops one by one in list order inside record().
  virtual std::unique_ptr<Replayable> record_program(std::vector<ProgramOp> program) {
    return record([ops = std::move(program)] {
      for (const ProgramOp& op : ops) op.run();
    });
  }

  // Phase timing, for benchmarks (a backend without it ignores the calls and
  // reports nothing). While on, work that runs eagerly is timed: a step
  // program's ops by their names (with a trailing " t=<step>" taken off, so
  // "lstm1 forward t=7" counts as "lstm1 forward"), other work from one
  // mark_phase to the next (an empty name ends a phase without starting
  // one). phase_times() synchronises and returns the totals since timing was
  // switched on, in first-seen order.
  virtual void mark_phase(const char* /*phase*/) {}
  virtual void set_phase_timing(bool /*on*/) {}
  virtual std::vector<PhaseTime> phase_times() { return {}; }

  template <typename E>
  Buffer<E> allocate(std::size_t count) {
    return Buffer<E>(allocate_bytes(count * sizeof(E)), count);
  }
  template <typename E>
  Buffer<E> upload(std::span<const E> host) {
    Buffer<E> buffer = allocate<E>(host.size());
    if (!host.empty()) copy_to_device(buffer.data(), host.data(), host.size_bytes());
    return buffer;
  }
  template <typename E>
  std::vector<E> download(const Buffer<E>& buffer) {
    std::vector<E> host(buffer.size());
    if (!host.empty()) copy_to_host(host.data(), buffer.data(), host.size() * sizeof(E));
    return host;
  }

  // ---- elementwise and linear algebra -------------------------------------
  virtual void fill(T* x, std::size_t n, T value) = 0;
  // C[M, N] = alpha * op(A)[M, K] * op(B)[K, N] + beta * C. Row-major, leading
  // dimensions in elements.
  virtual void gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, T alpha, const T* a, int lda,
                    const T* b, int ldb, T beta, T* c, int ldc) = 0;
  // Sum of squares of x[0..n), in double. Synchronises.
  virtual double sum_squares(const T* x, std::size_t n) = 0;

  // ---- input features -----------------------------------------------------
  // The recipe's scalar input: out[i] = tokens[i] / vocab.
  virtual void scalar_input(const std::int32_t* tokens, std::size_t n, int vocab, T* out) = 0;
  // out[i, :] = table[tokens[i], :]. table [V, D], out [n, D].
  virtual void embedding_forward(const std::int32_t* tokens, std::size_t n, int dim, const T* table, T* out) = 0;
  // d_table[v, :] = sum over i with tokens[i] == v of d_out[i, :], summed in
  // increasing i (deterministic). d_table [V, D] is overwritten.
  virtual void embedding_backward(const std::int32_t* tokens, std::size_t n, int vocab, int dim, const T* d_out,
                                  T* d_table) = 0;

  // ---- LSTM over a whole sequence, zero initial state ----------------------
  // x [T, N, F]; W [F, 4H]; R [H, 4H]; b [4H].
  // Outputs: h [T, N, H], c [T, N, H], gates [T, N, 4H] (activated i, f, g, o),
  // all of which lstm_backward reads.
  virtual void lstm_forward(const LstmShape& shape, const T* x, const T* w, const T* r, const T* b, T* h, T* c,
                            T* gates) = 0;
  // dh [T, N, H]: the loss gradient with respect to every h_t (zeros where a
  // step's output is unused). Outputs: dx [T, N, F] (may be null), dW, dR, db.
  // workspace: lstm_workspace_size(shape) elements.
  virtual void lstm_backward(const LstmShape& shape, const T* x, const T* w, const T* r, const T* h, const T* c,
                             const T* gates, const T* dh, T* dx, T* dw, T* dr, T* db, T* workspace) = 0;
  static std::size_t lstm_workspace_size(const LstmShape& s) {
    const std::size_t nh = std::size_t(s.batch) * s.hidden;
    return std::size_t(s.steps) * nh * 4 + 2 * nh;
  }
  // One step onward from a given state, for inference: x [N, F], h_prev and
  // c_prev [N, H]. Outputs h, c [N, H] and gates [N, 4H] (activated); no
  // output may overlap an input. With zero h_prev and c_prev it equals step 0
  // of lstm_forward.
  virtual void lstm_step(int batch, int input, int hidden, const T* x, const T* w, const T* r, const T* b,
                         const T* h_prev, const T* c_prev, T* h, T* c, T* gates) = 0;

  // ---- variational dropout (Gal & Ghahramani): one mask for every step ------
  // The ops below have defaults that throw NotSupportedError where a mask is given.
  // y [T, n] = x [T, n] * mask [n] at every step t (x may equal y).
  virtual void mask_steps(int steps, std::size_t n, const T* mask, const T* x, T* y);
  // lstm_forward with the recurrent state masked: step t's recurrent GEMM takes
  // hm_{t-1} = h_{t-1} * mask (mask [N, H], the same at every step), written to
  // h_masked [T, N, H] for the backward. A null mask is lstm_forward.
  virtual void lstm_forward_masked(const LstmShape& shape, const T* x, const T* w, const T* r, const T* b,
                                   const T* mask, T* h_masked, T* h, T* c, T* gates);
  // lstm_backward of lstm_forward_masked: dR from h_masked, and the gradient
  // carried to h_{t-1} multiplied by the mask. A null mask is lstm_backward.
  virtual void lstm_backward_masked(const LstmShape& shape, const T* x, const T* w, const T* r, const T* mask,
                                    const T* h_masked, const T* h, const T* c, const T* gates, const T* dh, T* dx,
                                    T* dw, T* dr, T* db, T* workspace);

  // ---- dense layer --------------------------------------------------------
  // y [N, M] = x [N, K] * W [K, M] + b [M].
  virtual void dense_forward(int n, int k, int m, const T* x, const T* w, const T* b, T* y) = 0;
  // dx [N, K] (may be null), dW [K, M], db [M] from dy [N, M].
  virtual void dense_backward(int n, int k, int m, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) = 0;

  // ---- dropout (inverted: kept values scale by 1 / (1 - p)) ----------------
  virtual void dropout_forward(const DropoutKey& key, T p, std::size_t n, const T* x, T* y) = 0;
  virtual void dropout_backward(const DropoutKey& key, T p, std::size_t n, const T* dy, T* dx) = 0;

  // ---- output -------------------------------------------------------------
  // Row-wise softmax of logits [N, V] into probs [N, V].
  virtual void softmax(int n, int vocab, const T* logits, T* probs) = 0;
  // Fused softmax + cross-entropy against targets [N]:
  //   dlogits = (softmax(logits) - onehot(target)) * grad_scale   (may be null)
  //   stats[0] += sum of -log softmax(logits)[target]
  //   stats[1] += number of rows whose argmax (first maximum) equals the target
  // stats [2] is double in every backend: an epoch adds up hundreds of batches.
  virtual void softmax_cross_entropy(int n, int vocab, const T* logits, const std::int32_t* targets, T grad_scale,
                                     T* dlogits, double* stats) = 0;

  // softmax_cross_entropy against targets smoothed by eps (label smoothing):
  //   loss = (1 - eps) * CE(target) + eps * mean over k of -log softmax[k]
  //   dlogits = (softmax - ((1 - eps) onehot(target) + eps / V)) * grad_scale
  // stats[0] adds that loss; eps = 0 is softmax_cross_entropy (the default's only case).
  virtual void softmax_cross_entropy_smoothed(int n, int vocab, const T* logits, const std::int32_t* targets,
                                              T smoothing, T grad_scale, T* dlogits, double* stats);

  // ---- optimiser ----------------------------------------------------------
  // Adamax over n parameters, step t counted from 1:
  //   m = b1 m + (1 - b1) g;  u = max(b2 u, |g|);  p -= lr / (1 - b1^t) * m / (u + eps)
  // and, where hp.weight_decay > 0, p -= lr * weight_decay * p (decoupled, on the old p).
  virtual void adamax(std::size_t n, T* params, const T* grads, T* m, T* u, const AdamaxParams& hp,
                      std::int64_t step) = 0;

  // ---- the fused LSTM path (nocturne/fused_ops.hpp) -------------------------
  // The ops below are this path's; a backend without it keeps the defaults,
  // which throw NotSupportedError, and reports whole_sequence.
  virtual LstmSchedule lstm_schedule() const { return LstmSchedule::whole_sequence; }
  virtual void lstm_step_forward(const LstmStepForward<T>& step);
  virtual void lstm_step_backward(const LstmStepBackward<T>& step);
  // The default runs lstm_step_forward step after step.
  virtual void lstm_sequence_forward(const LstmSequenceForward<T>& sequence);
  // The default runs lstm_step_backward step after step, t = T - 1 down to 0.
  virtual void lstm_sequence_backward(const LstmSequenceBackward<T>& sequence);
  // Both layers' forward sequences, layer 2 reading layer 1's output
  // (LstmSequencesForward). The default runs lstm_sequence_forward for layer
  // 1, then for layer 2.
  virtual void lstm_sequences_forward(const LstmSequencesForward<T>& sequences);
  // Row blocks P of lstm_step_backward's partial sums for N rows.
  virtual int lstm_partial_blocks(int batch) const;
  // out[j] = sum over steps t = 0..steps-1, then blocks p = 0..blocks-1 (in
  // that order) of partials[(t * blocks + p) * cols + j].
  virtual void lstm_partials_reduce(int steps, int blocks, int cols, const T* partials, T* out);
  virtual void head_train_step(const HeadTrainStep<T>& head);
  // probs [N, V] = softmax(dense2(dense1(x))): the head for prediction.
  // y1 [N, D] and logits [N, V] are scratch.
  virtual void head_predict(int n, int input, int dense, int vocab, const T* x, const T* w1, const T* b1,
                            const T* w2, const T* b2, T* y1, T* logits, T* probs);
  // adamax() with the step count read from *step_on_device when the op runs.
  virtual void adamax_device_step(std::size_t n, T* params, const T* grads, T* m, T* u, const AdamaxParams& hp,
                                  const std::int64_t* step_on_device);
  virtual void sample_tokens(const SampleTokens<T>& request);
  // Runs the request where the backend has a generation kernel for its
  // shapes and mode, and returns true; returns false (having done nothing)
  // elsewhere: the default, and the caller then runs the notes as ops.
  virtual bool generate_notes(const GenerateNotes<T>& request);
};

using Backend = BasicBackend<float>;

// The reference backend: OpenBLAS GEMMs and fused loops.
struct NOCTURNE_API CpuOptions {
  // Reduced modes round every GEMM operand as the GPU's tensor cores take it
  // (an emulation for checking: slower than strict_fp32).
  MathMode math = MathMode::strict_fp32;
  // The fused LSTM path's schedule and layout (the GPU's), run on the CPU.
  bool fused_lstm = false;
  // How record_program() orders a program's ops.
  ProgramOrder order = ProgramOrder::list;
  // MathMode::bf16 in float: BF16 GEMMs on the processor's AVX-512 BF16 unit
  // where it has one (cpu_has_bf16_gemm()), the same rounded operands with
  // FP32 sums; false, or a processor without it: the emulation.
  bool bf16_gemm = true;
  // MathMode::bf16 on the BF16 GEMM kernels: the LSTM's recurrence on the
  // backend's AVX-512 BF16 kernels (recurrent GEMM and cells fused, R packed
  // once per sequence, the weight gradients in the same threads); false: a
  // BF16 GEMM per step, then the cells.
  bool bf16_lstm_kernels = true;
  // The persistent path's program (the fused path with one forward and one
  // backward op per layer and sequence, LstmSchedule::persistent_sequences).
  bool persistent_lstm = false;
  // strict_fp32 in float: the LSTM's recurrence on the backend's AVX-512
  // kernels (recurrent GEMM and cells fused, R packed once per sequence)
  // where the processor has AVX-512F; false: an OpenBLAS SGEMM per step.
  bool fp32_lstm_kernels = true;
  // With the FP32 LSTM kernels: after the backward recurrence the kernels'
  // threads take the weight gradients (dW, dR, db) and dx, each of a block
  // of steps, on single-threaded GEMMs of the backend's own (no OpenBLAS
  // call), and their partial sums are added once; false: OpenBLAS's own
  // threads run those GEMMs over the whole sequence after the recurrence
  // (kept to compare the two).
  bool fp32_thread_weight_gradients = true;
};
// Whether this processor has the AVX-512 BF16 instructions CpuOptions::bf16_gemm uses.
NOCTURNE_API bool cpu_has_bf16_gemm();
NOCTURNE_API std::unique_ptr<BasicBackend<float>> make_cpu_backend(const CpuOptions& options = {});
NOCTURNE_API std::unique_ptr<BasicBackend<double>> make_cpu_backend_double(const CpuOptions& options = {});

// The threads the CPU backend's GEMMs use (its BLAS library's setting): 0 where
// the BLAS has no thread control. set_cpu_threads(n) returns false there, or
// for n <= 0, and changes nothing. The setting is OpenBLAS's, one for the whole
// process: every CPU backend (and any other OpenBLAS user in the process) runs
// with it, and the last call wins. OpenBLAS's threads meet at the end of every
// GEMM, so on a busy machine a GEMM goes at the pace of its slowest thread: on
// 2 cores, two threads lose to one as soon as another process takes a core.
NOCTURNE_API int cpu_threads();
NOCTURNE_API bool set_cpu_threads(int threads);
// The BLAS library the CPU backend runs on, as it describes itself, e.g.
// "OpenBLAS 0.3.21 DYNAMIC_ARCH ... MAX_THREADS=64; kernels Haswell
// (OPENBLAS_CORETYPE=Haswell)": OpenBLAS picks its kernels by processor at
// run time unless OPENBLAS_CORETYPE says which, and the choice can double or
// halve GEMM speed. "unknown BLAS (not OpenBLAS)" for another library.
NOCTURNE_API std::string cpu_blas_description();

}  // namespace nocturne
