// Dense layer and the input features (scalar input, embedding).
#include <cstddef>
#include <cstdint>
#include <string>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_kernels.hpp"

namespace nocturne::inline v0::cpu {

template <typename T>
void CpuBackend<T>::dense_forward(int n, int k, int m, const T* x, const T* w, const T* b, T* y) {
  checks::dense_forward(n, k, m, x, w, b, y);
  auto span = phases_.span(kPartHead);
  broadcast_rows(std::size_t(n), std::size_t(m), b, y);
  weight_gemm(n, m, k, x, w, T(1), y);
}

template <typename T>
void CpuBackend<T>::dense_backward(int n, int k, int m, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  checks::dense_backward(n, k, m, x, w, dy, dw, db);
  weights_may_change();
  auto span = phases_.span(kPartHead);
  gemm(Transpose::yes, Transpose::no, k, m, n, T(1), x, k, dy, m, T(0), dw, m);
  column_sums(std::size_t(n), std::size_t(m), dy, db);
  if (dx) gemm(Transpose::no, Transpose::yes, n, k, m, T(1), dy, m, w, m, T(0), dx, k);
}

template <typename T>
void CpuBackend<T>::scalar_input(const std::int32_t* tokens, std::size_t n, int vocab, T* out) {
  if (!checks::scalar_input(n, vocab, tokens, out)) return;
  const T v = T(vocab);
  for (std::size_t i = 0; i < n; ++i) out[i] = T(tokens[i]) / v;
}

template <typename T>
void CpuBackend<T>::embedding_forward(const std::int32_t* tokens, std::size_t n, int dim, const T* table, T* out) {
  const char* op = "embedding_forward";
  if (!checks::embedding_forward(n, dim, tokens, table, out)) return;
  const std::size_t d = std::size_t(dim);
  for (std::size_t i = 0; i < n; ++i) {
    require(tokens[i] >= 0, op, "negative token " + std::to_string(tokens[i]) + " at " + std::to_string(i));
    const T* row = table + std::size_t(tokens[i]) * d;
    for (std::size_t j = 0; j < d; ++j) out[i * d + j] = row[j];
  }
}

template <typename T>
void CpuBackend<T>::embedding_backward(const std::int32_t* tokens, std::size_t n, int vocab, int dim, const T* d_out,
                                       T* d_table) {
  const char* op = "embedding_backward";
  checks::embedding_backward(n, vocab, dim, tokens, d_out, d_table);
  weights_may_change();
  const std::size_t d = std::size_t(dim);
  for (std::size_t i = 0; i < std::size_t(vocab) * d; ++i) d_table[i] = T(0);
  for (std::size_t i = 0; i < n; ++i) {
    require(tokens[i] >= 0 && tokens[i] < vocab, op,
            "token " + std::to_string(tokens[i]) + " at " + std::to_string(i) + " is outside [0, " +
                std::to_string(vocab) + ")");
    T* row = d_table + std::size_t(tokens[i]) * d;
    for (std::size_t j = 0; j < d; ++j) row[j] += d_out[i * d + j];
  }
}

#define NOCTURNE_CPU_DENSE_INSTANTIATE(T)                                                                        \
  template void CpuBackend<T>::dense_forward(int, int, int, const T*, const T*, const T*, T*);                 \
  template void CpuBackend<T>::dense_backward(int, int, int, const T*, const T*, const T*, T*, T*, T*);        \
  template void CpuBackend<T>::scalar_input(const std::int32_t*, std::size_t, int, T*);                        \
  template void CpuBackend<T>::embedding_forward(const std::int32_t*, std::size_t, int, const T*, T*);         \
  template void CpuBackend<T>::embedding_backward(const std::int32_t*, std::size_t, int, int, const T*, T*);
NOCTURNE_CPU_DENSE_INSTANTIATE(float)
NOCTURNE_CPU_DENSE_INSTANTIATE(double)
#undef NOCTURNE_CPU_DENSE_INSTANTIATE

}  // namespace nocturne::cpu
