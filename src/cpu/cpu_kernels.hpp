#pragma once
// The CPU backend's building blocks, one family a file. Each is a plain
// function of pointers and sizes; the backend's ops check their arguments and
// then call these.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/op_checks.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cpu {

// ---- cpu_blas.cpp: row-major GEMM through CBLAS ---------------------------
// Checks the sizes (CBLAS would print and carry on), routes m == 1 and n == 1
// to GEMV (OpenBLAS' GEMM packs the whole of B even for one row).
void blas_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc);
void blas_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double beta, double* c, int ldc);
// The size checks blas_gemm makes first (ShapeError naming the size at fault).
void check_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, int lda, int ldb, int ldc);

// ---- cpu_precision.cpp: GEMMs in the reduced math modes -------------------
// Rounded copies of a GEMM's two operands, kept between calls: a training
// step allocates only while its largest shapes first appear.
template <typename T>
struct OperandCopies {
  std::vector<T> a, b;
};
// blas_gemm on copies of op(A) and op(B) whose every element is rounded as
// the tensor cores take it (math::round_to_tf32 / round_to_bf16); C, alpha,
// beta and the sums stay in T. strict_fp32 is blas_gemm itself.
void gemm_in_mode(MathMode mode, OperandCopies<float>& copies, Transpose trans_a, Transpose trans_b, int m, int n,
                  int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
void gemm_in_mode(MathMode mode, OperandCopies<double>& copies, Transpose trans_a, Transpose trans_b, int m, int n,
                  int k, double alpha, const double* a, int lda, const double* b, int ldb, double beta, double* c,
                  int ldc);
// x[0..n) rounded in place as `mode` rounds GEMM operands (strict_fp32: unchanged).
void round_in_mode(MathMode mode, std::size_t n, float* x);
void round_in_mode(MathMode mode, std::size_t n, double* x);

// ---- cpu_bf16_gemm.cpp: BF16 GEMMs with FP32 sums (AVX-512 BF16) ----------
// Whether the processor has VDPBF16PS (checked once, at run time).
bool bf16_gemm_supported();
// op(B) [k, n] as the kernels take it: BF16 pairs along k in panels of 32
// columns. Packed once, it serves every GEMM over the same B (the LSTM's R).
struct Bf16Matrix {
  std::vector<std::uint16_t> data;
  int k = 0, n = 0, pairs = 0;
};
void bf16_pack_b(Transpose trans_b, int k, int n, const float* b, int ldb, Bf16Matrix& out);
// The packed operands of one call, kept between calls.
struct Bf16Packing {
  std::vector<std::uint16_t> a;
  Bf16Matrix b;
};
// C = alpha op(A) op(B) + beta C with op(A) and op(B) rounded to BF16 as
// math::bf16_bits rounds them and FP32 sums; only where bf16_gemm_supported().
void bf16_gemm(Bf16Packing& packing, Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha,
               const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
// The same over a B packed before: C [m, b.n] = alpha op(A) B + beta C.
void bf16_gemm_packed(Bf16Packing& packing, Transpose trans_a, int m, float alpha, const float* a, int lda,
                      const Bf16Matrix& b, float beta, float* c, int ldc);
// Weights B [k, n] (leading dimension n) packed once and kept while they stay
// as they are: generation multiplies the same W and R at every note, and
// packing R took as long as the GEMM of its 40 rows. An entry is its source's
// address and shape; forget() drops the entries whose source overlaps a range
// that is about to be written.
class Bf16WeightCache {
 public:
  const Bf16Matrix& get(int k, int n, const float* b);  // packs on a miss
  void forget(const void* begin, std::size_t bytes);
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    const float* b;
    int k, n;
    Bf16Matrix packed;
  };
  std::vector<Entry> entries_;
};

// ---- cpu_fp32_gemm.cpp: FP32 GEMMs on AVX-512, on the calling thread alone --
// For the LSTM's weight gradients, which the FP32 kernels' threads compute
// side by side, each on its own block of steps (no BLAS buffers, no BLAS
// threads). Only where lstm_fp32_kernels_supported().
// C [m, n] = op(A) op(B), plus C where accumulate; row-major. column_sums (or
// null; op(B) = B only): += the sums of op(B)'s columns over k (db beside dW).
// workspace: fp32_gemm_workspace_size() floats, 64-byte aligned, for the
// packed operands; null: allocated by the call (DeviceError where it cannot
// be: the LSTM kernels allocate theirs before their threads start).
std::size_t fp32_gemm_workspace_size();
void fp32_gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, const float* a, int lda, const float* b,
               int ldb, bool accumulate, float* c, int ldc, float* column_sums = nullptr, float* workspace = nullptr);
// The weight gradients of a one-feature input in one pass over g [k, n]
// (leading dimension ldg): dw [n] = x^T g, db [n] += column sums of g, and
// dx [k] = g w (dx may be null; w [n]).
void fp32_rank_one_gradients(int k, int n, const float* x, const float* g, int ldg, const float* w, float* dw,
                             float* db, float* dx);

// ---- cpu_pool.cpp: fn(0) .. fn(threads - 1) side by side ----------------------
// fn(0) on the calling thread, the others on workers kept between calls
// (spawned threads where the workers are busy with another call).
void parallel_run(int threads, const std::function<void(int)>& fn);

// ---- cpu_lstm_cells.cpp: one time step's fused cell loops ------------------
// gates [n, 4H]: pre-activations in, activated i, f, g, o out. c_prev [n, H]
// or null for the zero initial state.
void lstm_cells_forward(int n, int hidden, float* gates, const float* c_prev, float* c, float* h);
void lstm_cells_forward(int n, int hidden, double* gates, const double* c_prev, double* c, double* h);
// dh [n, H] from above plus dh_next [n, H] from step t + 1 is h_t's gradient;
// dc_carry [n, H] holds c_t's gradient from step t + 1 on entry and c_{t-1}'s
// on exit. dgates [n, 4H] receives the pre-activation gradients.
void lstm_cells_backward(int n, int hidden, const float* gates, const float* c, const float* c_prev,
                         const float* dh, const float* dh_next, float* dc_carry, float* dgates);
void lstm_cells_backward(int n, int hidden, const double* gates, const double* c, const double* c_prev,
                         const double* dh, const double* dh_next, double* dc_carry, double* dgates);

// ---- cpu_lstm_fp32.cpp: the FP32 recurrence on AVX-512 (GEMM and cells fused)
// Whether the processor has AVX-512F (checked once, at run time).
bool lstm_fp32_kernels_supported();
// R [H, 4H] packed as the kernels read it, 64-byte aligned; kept between calls.
class PackedRecurrent {
 public:
  void resize(std::size_t count);  // keeps the allocation where it is large enough
  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  int hidden = 0, rows = 0;  // H and the rows of the matrix packed (k)

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  std::size_t capacity_ = 0;
};
// For the forward (h R, or x W with W [rows, 4H]: panels of 16 units, their
// four gates side by side) and for the backward (dgates R^T: panels of 64 units).
void pack_recurrent_forward(int rows, int hidden, const float* r, PackedRecurrent& out);
void pack_recurrent_backward(int hidden, const float* r, PackedRecurrent& out);

// One layer's forward over `steps` steps of `batch` rows, gate layout i, f, g,
// o in blocks of H (Keras'), as lstm_forward_masked: each pre-activation is
// b + x W + h R, x W summed in the cells' loop where fold_input (small input
// widths), else in the same register tiles as h R; gates need hold nothing on
// entry. The state before step 0 is zeros. mask (null: none): h_masked =
// h * mask, which the next step multiplies by R.
struct LstmRecurrence {
  int steps = 0, batch = 0, input = 0, hidden = 0;
  const float *x = nullptr, *w = nullptr, *b = nullptr;
  bool fold_input = false;
  const float* mask = nullptr;
  float* h_masked = nullptr;
  float *h = nullptr, *c = nullptr, *gates = nullptr;
};
// The sequence on R (and W, unless fold_input) packed by pack_recurrent_forward,
// rows split between up to `threads` threads.
void lstm_recurrence_forward(const LstmRecurrence& s, const PackedRecurrent& r, const PackedRecurrent& w,
                             int threads);

// The backward's recurrence: for t = T - 1 down to 0 the cells' backward
// (dh from above plus (dgates_{t+1} R^T) * mask, dc_carry in and out, as
// lstm_cells_backward) and dgates_t out. dh_next and dc_carry [batch, H] are
// zeros on entry; dh_next stays so (the sums go from registers to the cells).
//
// With dr set, the same threads then take the weight gradients, each of a
// block of steps (all rows): dW = x^T dgates, dR = h_prev^T dgates (h_prev:
// h, or h_masked, of the step before), db = column sums of dgates and
// dx = dgates W^T (dx may be null), by single-threaded GEMMs of ours
// (fp32_gemm, fp32_rank_one_gradients); the threads' partial dW, dR and db
// are added once at the end. No OpenBLAS call, so no BLAS worker shares a
// core with a kernel thread and no BLAS buffer is taken per thread.
// `partials` holds lstm_weight_partials_size(...) floats: the partial sums,
// then each thread's GEMM workspace.
struct LstmRecurrenceBackward {
  int steps = 0, batch = 0, hidden = 0;
  const float *gates = nullptr, *c = nullptr, *dh = nullptr, *mask = nullptr;
  float *dgates = nullptr, *dh_next = nullptr, *dc_carry = nullptr;
  int input = 0;
  const float *x = nullptr, *w = nullptr, *h_prev = nullptr;
  float *dw = nullptr, *dr = nullptr, *db = nullptr, *dx = nullptr, *partials = nullptr;
};
std::size_t lstm_weight_partials_size(int threads, int input, int hidden);
// The calling thread's wall-clock split (the other threads run alike).
struct LstmBackwardTimes {
  double recurrence_ms = 0, weight_gradients_ms = 0;
};
LstmBackwardTimes lstm_recurrence_backward(const LstmRecurrenceBackward& s, const PackedRecurrent& rt, int threads);

// ---- cpu_lstm_bf16.cpp: the BF16 recurrence on AVX-512 BF16 (GEMM and cells fused)
// The FP32 kernels' sequences (LstmRecurrence, LstmRecurrenceBackward) with the
// recurrent GEMM's operands, h_{t-1} and R forward, dgates_t and R^T backward,
// rounded to BF16 as math::bf16_bits rounds them and FP32 sums, cells and
// state; x W in the tiles (BF16 operands) unless fold_input, which adds x W in
// FP32 (the emulation's rank-one input: use it for F == 1 only). Where the
// processor has AVX-512 BF16 and AVX-512F.
bool lstm_bf16_kernels_supported();
// R (or W) packed once per sequence in BF16 pairs along k: forward, panels of
// 16 units with their four gates side by side; backward (R^T), panels of 64 units.
struct Bf16Recurrent {
  std::vector<std::uint16_t> data;
  int hidden = 0, rows = 0, pairs = 0;
};
void pack_recurrent_forward_bf16(int rows, int hidden, const float* r, Bf16Recurrent& out);
void pack_recurrent_backward_bf16(int hidden, const float* r, Bf16Recurrent& out);
void lstm_recurrence_forward_bf16(const LstmRecurrence& s, const Bf16Recurrent& r, const Bf16Recurrent& w,
                                  int threads);
// What the backward's weight-gradient GEMMs keep between calls: per thread
// the packings and a transposed left operand, and W^T for dx.
struct Bf16LstmScratch {
  std::vector<Bf16Packing> packings;
  std::vector<std::vector<float>> transposed;
  Bf16Matrix w_t;
};
// The backward recurrence, then always the weight gradients in the same
// threads (dr, dw, db and partials must be set; dx may be null), on the BF16
// GEMM, one thread a call; `partials` holds lstm_weight_partials_size(...) floats.
LstmBackwardTimes lstm_recurrence_backward_bf16(const LstmRecurrenceBackward& s, const Bf16Recurrent& rt,
                                                Bf16LstmScratch& scratch, int threads);

// ---- cpu_dropout.cpp: out[i] = in[i] * (keep(offset + i) ? scale : 0) ------
// The mask generator's instruction sets: the best the processor has is used;
// the tests run every one it has against math::dropout_keep. Calls of more
// than 2^15 elements a thread are split between `threads`.
enum class DropoutIsa { scalar, avx2, avx512 };
bool dropout_isa_supported(DropoutIsa isa);
DropoutIsa best_dropout_isa();
void dropout_apply(std::uint64_t seed, std::uint32_t stream, std::uint64_t offset, float p, float scale,
                   std::size_t n, const float* in, float* out, int threads = 1,
                   DropoutIsa isa = best_dropout_isa());
void dropout_apply(std::uint64_t seed, std::uint32_t stream, std::uint64_t offset, float p, double scale,
                   std::size_t n, const double* in, double* out, int threads = 1,
                   DropoutIsa isa = best_dropout_isa());

// ---- cpu_rows.cpp: small row-wise helpers ---------------------------------
// Every row of out [rows, cols] = v [cols].
template <typename T>
void broadcast_rows(std::size_t rows, std::size_t cols, const T* v, T* out);
// sums [cols] = column sums of m [rows, cols], rows added in increasing order.
template <typename T>
void column_sums(std::size_t rows, std::size_t cols, const T* m, T* sums);

// ---- cpu_program.cpp: the order a step program runs in --------------------
// The op indices in the order `order` runs them: list order, or the
// wavefront (after each op the other branch goes next if its next op is
// ready). Throws ConfigError for a branch other than 0 or 1, an `after`
// index out of range or naming the op itself, and a program that cannot be
// ordered (list order: an op after a later one; wavefront: a cycle).
std::vector<std::size_t> program_order(std::span<const ProgramOp> program, ProgramOrder order);

// ---- argument checks (src/core/op_checks.hpp) --------------------------------
using checks::require;
using checks::require_pointer;
using checks::require_positive;

}  // namespace nocturne::cpu
