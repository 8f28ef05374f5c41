// Row-wise helpers shared by the LSTM and dense ops.
#include <cstddef>
#include <cstring>

#include "cpu/cpu_kernels.hpp"

namespace nocturne::inline v0::cpu {

template <typename T>
void broadcast_rows(std::size_t rows, std::size_t cols, const T* v, T* out) {
  for (std::size_t r = 0; r < rows; ++r) std::memcpy(out + r * cols, v, cols * sizeof(T));
}

template <typename T>
void column_sums(std::size_t rows, std::size_t cols, const T* m, T* sums) {
  for (std::size_t j = 0; j < cols; ++j) sums[j] = T(0);
  // Row by row: the inner loop runs along contiguous memory and vectorises;
  // each column still adds its rows in increasing order (deterministic).
  for (std::size_t r = 0; r < rows; ++r) {
    const T* row = m + r * cols;
    for (std::size_t j = 0; j < cols; ++j) sums[j] += row[j];
  }
}

template void broadcast_rows<float>(std::size_t, std::size_t, const float*, float*);
template void broadcast_rows<double>(std::size_t, std::size_t, const double*, double*);
template void column_sums<float>(std::size_t, std::size_t, const float*, float*);
template void column_sums<double>(std::size_t, std::size_t, const double*, double*);

}  // namespace nocturne::cpu
