#pragma once
// Where one gate's weights go between our layout and cuDNN's, as a pure
// function, so the host tests check it without a GPU (test/cuda_host).
//
// Ours (Keras): W [F, 4H] and R [H, 4H] row-major, gate k in columns
// [k H, (k + 1) H): gate k's block is a row-major [in, H] matrix with row
// stride 4H (in = F for W, H for R). cuDNN: per gate a row-major [H, in]
// matrix (gate = M x), contiguous, at an offset cudnnGetRNNWeightParams
// reports. Each copy is dst = src^T with src a row-major [rows, cols] block
// of row stride src_ld and dst a row-major [cols, rows] block of row stride
// dst_ld: one cublasSgeam(CUBLAS_OP_T, CUBLAS_OP_T, m = rows, n = cols,
// A = src, lda = src_ld, C = dst, ldc = dst_ld) in column-major terms.

#include <cstddef>

namespace nocturne::inline v0::cudnn {

struct BlockTranspose {
  std::size_t src_offset = 0, dst_offset = 0;  // in floats
  int src_ld = 0, dst_ld = 0;
  int rows = 0, cols = 0;  // of src
};

// Gate `gate`'s block of our W (in = F) or R (in = H) into cuDNN's matrix at `at`.
inline BlockTranspose weights_in(int gate, int in, int hidden, std::size_t at) {
  return {std::size_t(gate) * std::size_t(hidden), at, 4 * hidden, in, in, hidden};
}

// cuDNN's gradient matrix at `at` back into gate `gate`'s block of our dW or dR.
inline BlockTranspose gradients_out(int gate, int in, int hidden, std::size_t at) {
  return {at, std::size_t(gate) * std::size_t(hidden), in, 4 * hidden, hidden, in};
}

}  // namespace nocturne::cudnn
