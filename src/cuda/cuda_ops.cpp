// The CUDA backend's ops: argument checks (the CPU backend's), then cuBLAS
// GEMMs and launches of the fused kernels in kernels/, all on the backend's
// stream, nothing synchronising (sum_squares aside), so every op can be
// recorded into a graph.
//
// LSTM schedule (docs/cuda.md):
//   forward:  gates[T*N, 4H] = x W (one GEMM for all steps); per step t:
//             gates_t += h_{t-1} R (t > 0), then the fused cell kernel (adds b,
//             activates, writes c_t, h_t and the activated gates).
//   backward: per step t = T-1..0: the fused cell-backward kernel (dgates_t,
//             dc carry) then dh_next = dgates_t R^T (t > 0); after the loop
//             dW = x^T dgates, dR = h[0..T-2]^T dgates[1..T-1] (one GEMM each),
//             db = column sums of dgates, dx = dgates W^T.

#include <cmath>
#include <cstdint>
#include <string>

#include "core/op_checks.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/gemm_mapping.hpp"
#include "kernels/kernels.hpp"
#include "math/adamax.hpp"
#if NOCTURNE_WITH_CUDNN
#include "cudnn/cudnn_lstm.hpp"
#endif
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cuda {

using checks::require_pointer;

#if NOCTURNE_WITH_CUDNN
namespace {
// cuDNN's math type follows the backend's: strict fp32 is FMA; tf32 is
// CUDNN_DEFAULT_MATH, the math type cuDNN documents as allowing TF32 for fp32
// data (and what PyTorch picks with TF32 allowed).
cudnn::Config cudnn_config(CudnnAlgo algo, MathMode math) {
  const bool tf32 = math == MathMode::tf32;
  return cudnn::Config{algo, tf32 ? cudnn::Math::default_math : cudnn::Math::fma};
}
}  // namespace
#endif

// ---- linear algebra ------------------------------------------------------------

void CudaBackend::fill(float* x, std::size_t n, float value) {
  if (n == 0) return;
  require_pointer("fill", "x", x);
  kernels::fill(launch(), x, n, value);
}

void CudaBackend::gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, float alpha, const float* a,
                       int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  const ColumnMajorGemm g = map_row_major_gemm(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  require_pointer("gemm", "c", c);
  cublasHandle_t handle = branch().cublas.get();
  if (k == 0) {
    // C = beta C (BLAS implementations differ here): geam in place.
    const float zero = 0.0f;
    NOCTURNE_CUDA_CHECK(cublasSgeam(handle, CUBLAS_OP_N, CUBLAS_OP_N, g.rows, g.cols, &beta, c, g.ldc, &zero, c,
                                    g.ldc, c, g.ldc));
    return;
  }
  require_pointer("gemm", "a", a);
  require_pointer("gemm", "b", b);
  if (fused_) {
    // The fused path's GEMMs: cuBLASLt plans fixed per shape (cublas_lt.hpp).
    branch().lt.run(branch().stream.get(), math_, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const float* first = g.first_is_b ? b : a;
  const float* second = g.first_is_b ? a : b;
  const cublasOperation_t op_first = g.transpose_first ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = g.transpose_second ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (math_ == MathMode::bf16) {
    // cuBLAS rounds the FP32 operands to BF16 for its tensor cores and sums in FP32.
    NOCTURNE_CUDA_CHECK(cublasGemmEx(handle, op_first, op_second, g.rows, g.cols, g.depth, &alpha, first, CUDA_R_32F,
                                     g.ld_first, second, CUDA_R_32F, g.ld_second, &beta, c, CUDA_R_32F, g.ldc,
                                     CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT));
    return;
  }
  // Strict FP32 or TF32: the handle's math mode decides (set at construction).
  NOCTURNE_CUDA_CHECK(cublasSgemm(handle, op_first, op_second, g.rows, g.cols, g.depth, &alpha, first, g.ld_first,
                                  second, g.ld_second, &beta, c, g.ldc));
}

double CudaBackend::sum_squares(const float* x, std::size_t n) {
  require_not_recording("sum_squares");
  if (n == 0) return 0.0;
  require_pointer("sum_squares", "x", x);
  auto* partials = static_cast<double*>(sum_partials_.get());
  kernels::sum_squares(launch(), x, n, partials);
  double result = 0.0;
  const cudaStream_t stream = launch().stream;
  NOCTURNE_CUDA_CHECK(cudaMemcpyAsync(&result, partials + kernels::kSumSquaresBlocks, sizeof result,
                                      cudaMemcpyDeviceToHost, stream));
  NOCTURNE_CUDA_CHECK(cudaStreamSynchronize(stream));
  return result;
}

void CudaBackend::column_sums(std::size_t rows, std::size_t cols, const float* m, float* sums) {
  kernels::column_sums(launch(), rows, cols, m, sums, static_cast<float*>(branch().scratch.get()), kScratchFloats);
}

// ---- input features --------------------------------------------------------------

void CudaBackend::scalar_input(const std::int32_t* tokens, std::size_t n, int vocab, float* out) {
  if (!checks::scalar_input(n, vocab, tokens, out)) return;
  kernels::scalar_input(launch(), tokens, n, vocab, out);
}

void CudaBackend::embedding_forward(const std::int32_t* tokens, std::size_t n, int dim, const float* table,
                                    float* out) {
  if (!checks::embedding_forward(n, dim, tokens, table, out)) return;
  kernels::embedding_forward(launch(), tokens, n, dim, table, out);
}

void CudaBackend::embedding_backward(const std::int32_t* tokens, std::size_t n, int vocab, int dim,
                                     const float* d_out, float* d_table) {
  checks::embedding_backward(n, vocab, dim, tokens, d_out, d_table);
  kernels::embedding_backward(launch(), tokens, n, vocab, dim, d_out, d_table);
}

// ---- LSTM ------------------------------------------------------------------------

void CudaBackend::lstm_forward(const LstmShape& s, const float* x, const float* w, const float* r, const float* b,
                               float* h, float* c, float* gates) {
  checks::lstm_forward(s, {x, w, r, b, h, c, gates});
#if NOCTURNE_WITH_CUDNN
  if (cudnn_lstm_)
    return cudnn::cudnn_lstm_forward(s, x, w, r, b, h, c, gates, launch().stream, cudnn_config(cudnn_algo_, math_));
#endif
  lstm_forward_masked(s, x, w, r, b, nullptr, nullptr, h, c, gates);
}

void CudaBackend::mask_steps(int steps, std::size_t n, const float* mask, const float* x, float* y) {
  if (!mask || !x || !y) throw ShapeError("mask_steps: a mask, input or output is null");
  if (steps < 0) throw ShapeError("mask_steps: steps must not be negative, got " + std::to_string(steps));
  kernels::mask_steps(launch(), std::size_t(steps), n, mask, x, y);
}

// With a mask: step t's recurrent GEMM takes h_masked_{t-1} = h_{t-1} * mask.
void CudaBackend::lstm_forward_masked(const LstmShape& s, const float* x, const float* w, const float* r,
                                      const float* b, const float* mask, float* h_masked, float* h, float* c,
                                      float* gates) {
  checks::lstm_forward(s, {x, w, r, b, h, c, gates});
  if (mask && (cudnn_lstm_ || !h_masked))
    throw ConfigError(std::string("lstm_forward_masked: ") +
                      (cudnn_lstm_ ? "cuDNN's LSTM takes no recurrent mask (use --lstm-impl classic)" : "h_masked is null"));
  const int n = s.batch, hidden = s.hidden, g4 = 4 * s.hidden, rows = s.steps * s.batch;
  const std::size_t nh = std::size_t(n) * std::size_t(hidden), ng = std::size_t(n) * std::size_t(g4);
  const float* h_in = mask ? h_masked : h;  // what the recurrent GEMM reads
  // Input projection of every step at once.
  gemm(Transpose::no, Transpose::no, rows, g4, s.input, 1.0f, x, s.input, w, g4, 0.0f, gates, g4);
  for (int t = 0; t < s.steps; ++t) {
    float* gates_t = gates + std::size_t(t) * ng;
    const float* c_prev = t > 0 ? c + std::size_t(t - 1) * nh : nullptr;
    if (t > 0)
      gemm(Transpose::no, Transpose::no, n, g4, hidden, 1.0f, h_in + std::size_t(t - 1) * nh, hidden, r, g4, 1.0f,
           gates_t, g4);
    kernels::lstm_cell_forward(launch(), n, hidden, b, gates_t, c_prev, c + std::size_t(t) * nh,
                               h + std::size_t(t) * nh);
    if (mask) kernels::mask_steps(launch(), 1, nh, mask, h + std::size_t(t) * nh, h_masked + std::size_t(t) * nh);
  }
}

void CudaBackend::lstm_backward(const LstmShape& s, const float* x, const float* w, const float* r, const float* h,
                                const float* c, const float* gates, const float* dh, float* dx, float* dw,
                                float* dr, float* db, float* workspace) {
  checks::lstm_backward(s, {x, w, r, h, c, gates, dh, dw, dr, db, workspace});
#if NOCTURNE_WITH_CUDNN
  if (cudnn_lstm_)
    return cudnn::cudnn_lstm_backward(s, x, w, r, h, c, gates, dh, dx, dw, dr, db, workspace, launch().stream,
                                      cudnn_config(cudnn_algo_, math_));
#endif
  lstm_backward_masked(s, x, w, r, nullptr, nullptr, h, c, gates, dh, dx, dw, dr, db, workspace);
}

// With a mask: h_{t-1}'s gradient from the recurrence is (dgates_t R^T) * mask; dR from h_masked.
void CudaBackend::lstm_backward_masked(const LstmShape& s, const float* x, const float* w, const float* r,
                                       const float* mask, const float* h_masked, const float* h, const float* c,
                                       const float* gates, const float* dh, float* dx, float* dw, float* dr,
                                       float* db, float* workspace) {
  checks::lstm_backward(s, {x, w, r, h, c, gates, dh, dw, dr, db, workspace});
  if (mask && (cudnn_lstm_ || !h_masked))
    throw ConfigError(std::string("lstm_backward_masked: ") +
                      (cudnn_lstm_ ? "cuDNN's LSTM takes no recurrent mask (use --lstm-impl classic)" : "h_masked is null"));
  const int n = s.batch, hidden = s.hidden, g4 = 4 * s.hidden, rows = s.steps * s.batch;
  const std::size_t nh = std::size_t(n) * std::size_t(hidden), ng = std::size_t(n) * std::size_t(g4);
  // workspace: dgates [T, N, 4H], dh_next [N, H], dc [N, H].
  float* dgates = workspace;
  float* dh_next = dgates + std::size_t(s.steps) * ng;
  float* dc = dh_next + nh;
  kernels::fill(launch(), dh_next, 2 * nh, 0.0f);
  for (int t = s.steps - 1; t >= 0; --t) {
    const std::size_t at = std::size_t(t) * nh;
    float* dgates_t = dgates + std::size_t(t) * ng;
    kernels::lstm_cell_backward(launch(), n, hidden, gates + std::size_t(t) * ng, c + at,
                                t > 0 ? c + at - nh : nullptr, dh + at, dh_next, dc, dgates_t);
    if (t > 0) gemm(Transpose::no, Transpose::yes, n, hidden, g4, 1.0f, dgates_t, g4, r, g4, 0.0f, dh_next, hidden);
    if (t > 0 && mask) kernels::mask_steps(launch(), 1, nh, mask, dh_next, dh_next);
  }
  // Weight gradients, batched over all steps.
  gemm(Transpose::yes, Transpose::no, s.input, g4, rows, 1.0f, x, s.input, dgates, g4, 0.0f, dw, g4);
  if (s.steps > 1)
    gemm(Transpose::yes, Transpose::no, hidden, g4, rows - n, 1.0f, mask ? h_masked : h, hidden, dgates + ng, g4,
         0.0f, dr, g4);
  else
    kernels::fill(launch(), dr, std::size_t(hidden) * std::size_t(g4), 0.0f);
  column_sums(std::size_t(rows), std::size_t(g4), dgates, db);
  if (dx) gemm(Transpose::no, Transpose::yes, rows, s.input, g4, 1.0f, dgates, g4, w, g4, 0.0f, dx, s.input);
}

// Inference step: the same GEMMs and cell kernel as one step of lstm_forward,
// continuing from the given state (always ours, also with the cuDNN LSTM).
void CudaBackend::lstm_step(int batch, int input, int hidden, const float* x, const float* w, const float* r,
                            const float* b, const float* h_prev, const float* c_prev, float* h, float* c,
                            float* gates) {
  checks::lstm_step(batch, input, hidden, {x, w, r, b, h_prev, c_prev, h, c, gates});
  const int g4 = 4 * hidden;
  gemm(Transpose::no, Transpose::no, batch, g4, input, 1.0f, x, input, w, g4, 0.0f, gates, g4);
  gemm(Transpose::no, Transpose::no, batch, g4, hidden, 1.0f, h_prev, hidden, r, g4, 1.0f, gates, g4);
  kernels::lstm_cell_forward(launch(), batch, hidden, b, gates, c_prev, c, h);
}

// ---- dense -----------------------------------------------------------------------

void CudaBackend::dense_forward(int n, int k, int m, const float* x, const float* w, const float* b, float* y) {
  checks::dense_forward(n, k, m, x, w, b, y);
  kernels::broadcast_rows(launch(), std::size_t(n), std::size_t(m), b, y);
  gemm(Transpose::no, Transpose::no, n, m, k, 1.0f, x, k, w, m, 1.0f, y, m);
}

void CudaBackend::dense_backward(int n, int k, int m, const float* x, const float* w, const float* dy, float* dx,
                                 float* dw, float* db) {
  checks::dense_backward(n, k, m, x, w, dy, dw, db);
  gemm(Transpose::yes, Transpose::no, k, m, n, 1.0f, x, k, dy, m, 0.0f, dw, m);
  column_sums(std::size_t(n), std::size_t(m), dy, db);
  if (dx) gemm(Transpose::no, Transpose::yes, n, k, m, 1.0f, dy, m, w, m, 0.0f, dx, k);
}

// ---- dropout ---------------------------------------------------------------------

void CudaBackend::dropout(const char* op, const DropoutKey& key, float p, std::size_t n, const float* in,
                          float* out) {
  if (!checks::dropout(op, double(p), n, in, out)) return;
  if (p == 0.0f) return copy_on_device(out, in, n * sizeof(float));
  kernels::DropoutMask mask;
  mask.seed = key.seed;
  mask.stream = key.stream;
  mask.offset = key.offset;
  mask.offset_on_device = key.offset_on_device;
  mask.p = p;
  mask.scale = 1.0f / (1.0f - p);  // as the CPU backend computes it
  kernels::dropout(launch(), mask, n, in, out);
}

void CudaBackend::dropout_forward(const DropoutKey& key, float p, std::size_t n, const float* x, float* y) {
  dropout("dropout_forward", key, p, n, x, y);
}

void CudaBackend::dropout_backward(const DropoutKey& key, float p, std::size_t n, const float* dy, float* dx) {
  dropout("dropout_backward", key, p, n, dy, dx);
}

// ---- output ----------------------------------------------------------------------

void CudaBackend::softmax(int n, int vocab, const float* logits, float* probs) {
  checks::softmax(n, vocab, logits, probs);
  kernels::softmax(launch(), n, vocab, logits, probs);
}

void CudaBackend::softmax_cross_entropy(int n, int vocab, const float* logits, const std::int32_t* targets,
                                        float grad_scale, float* dlogits, double* stats) {
  softmax_cross_entropy_smoothed(n, vocab, logits, targets, 0.0f, grad_scale, dlogits, stats);
}

void CudaBackend::softmax_cross_entropy_smoothed(int n, int vocab, const float* logits, const std::int32_t* targets,
                                                 float smoothing, float grad_scale, float* dlogits, double* stats) {
  checks::softmax_cross_entropy(n, vocab, logits, targets, stats);
  if (!(smoothing >= 0.0f && smoothing < 1.0f))
    throw ShapeError("softmax_cross_entropy: label smoothing must lie in [0, 1), got " + std::to_string(smoothing));
  kernels::softmax_cross_entropy(launch(), n, vocab, logits, targets, smoothing, grad_scale, dlogits, stats);
}

// ---- optimiser -------------------------------------------------------------------

void CudaBackend::adamax(std::size_t n, float* params, const float* grads, float* m, float* u,
                         const AdamaxParams& hp, std::int64_t step) {
  if (!checks::adamax(n, params, grads, m, u, hp, step)) return;
  // Bias correction in double, then one rounding to float (as on the CPU).
  const float lr_t = float(math::adamax_step_size(hp.learning_rate, hp.beta1, step));
  kernels::adamax(launch(), n, params, grads, m, u, lr_t, float(hp.beta1), float(hp.beta2), float(hp.epsilon),
                  float(hp.learning_rate * hp.weight_decay));
}

}  // namespace nocturne::cuda
