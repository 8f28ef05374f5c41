// The row-major -> column-major (cuBLAS) GEMM mapping, the cuDNN path's gate
// blocks and the launch configuration, checked on the host: reference
// column-major GEMM and GEAM with BLAS semantics stand in for cuBLAS, and
// plain row-major loops are the specification.

#include <catch2/catch.hpp>

#include <vector>

#include "cuda/gemm_mapping.hpp"
#include "cudnn/gate_blocks.hpp"
#include "kernels/launch_config.hpp"
#include "nocturne/error.hpp"
#include "nocturne/rng.hpp"

namespace {

using namespace nocturne;

// BLAS sgemm, column-major: C = alpha op(A) op(B) + beta C, C [m, n].
void reference_column_major(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda,
                            const double* b, int ldb, double beta, double* c, int ldc) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double sum = 0;
      for (int p = 0; p < k; ++p) {
        const double av = trans_a ? a[p + std::size_t(i) * lda] : a[i + std::size_t(p) * lda];
        const double bv = trans_b ? b[j + std::size_t(p) * ldb] : b[p + std::size_t(j) * ldb];
        sum += av * bv;
      }
      c[i + std::size_t(j) * ldc] = alpha * sum + beta * c[i + std::size_t(j) * ldc];
    }
}

std::vector<double> values(std::size_t n, std::uint64_t seed) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = random_uniform(seed, 0, i) - 0.5;
  return v;
}

TEST_CASE("row-major GEMM through the column-major mapping equals the row-major definition", "[cuda_host]") {
  std::uint64_t seed = 1;
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, std::tuple{2, 3, 4}, std::tuple{5, 1, 3}, std::tuple{4, 6, 1}})
    for (Transpose ta : {Transpose::no, Transpose::yes})
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        const int a_rows = ta == Transpose::no ? m : k, a_cols = ta == Transpose::no ? k : m;
        const int b_rows = tb == Transpose::no ? k : n, b_cols = tb == Transpose::no ? n : k;
        const int lda = a_cols + 1, ldb = b_cols + 2, ldc = n + 3;
        const auto a = values(std::size_t(a_rows) * lda, seed++);
        const auto b = values(std::size_t(b_rows) * ldb, seed++);
        const auto c0 = values(std::size_t(m) * ldc, seed++);
        // Specification: row-major op(A) op(B).
        std::vector<double> want = c0;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int p = 0; p < k; ++p) {
              const double av = ta == Transpose::no ? a[std::size_t(i) * lda + p] : a[std::size_t(p) * lda + i];
              const double bv = tb == Transpose::no ? b[std::size_t(p) * ldb + j] : b[std::size_t(j) * ldb + p];
              sum += av * bv;
            }
            want[std::size_t(i) * ldc + j] = 0.5 * sum + 2.0 * c0[std::size_t(i) * ldc + j];
          }
        const cuda::ColumnMajorGemm g = cuda::map_row_major_gemm(ta, tb, m, n, k, lda, ldb, ldc);
        CHECK(g.rows == n);
        CHECK(g.cols == m);
        CHECK(g.depth == k);
        REQUIRE(g.first_is_b);
        std::vector<double> got = c0;
        reference_column_major(g.transpose_first, g.transpose_second, g.rows, g.cols, g.depth, 0.5, b.data(),
                               g.ld_first, a.data(), g.ld_second, 2.0, got.data(), g.ldc);
        for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-12));
      }
}

TEST_CASE("the GEMM mapping refuses what cuBLAS would refuse", "[cuda_host]") {
  CHECK_THROWS_AS(cuda::map_row_major_gemm(Transpose::no, Transpose::no, -1, 2, 2, 2, 2, 2), ShapeError);
  CHECK_THROWS_AS(cuda::map_row_major_gemm(Transpose::no, Transpose::no, 2, 2, 3, 2, 2, 2), ShapeError);  // lda < k
  CHECK_THROWS_AS(cuda::map_row_major_gemm(Transpose::yes, Transpose::no, 4, 2, 3, 3, 2, 2), ShapeError);  // lda < m
  CHECK_THROWS_AS(cuda::map_row_major_gemm(Transpose::no, Transpose::yes, 2, 5, 3, 3, 2, 5), ShapeError);  // ldb < k
  CHECK_THROWS_AS(cuda::map_row_major_gemm(Transpose::no, Transpose::no, 2, 5, 3, 3, 5, 4), ShapeError);  // ldc < n
  CHECK_NOTHROW(cuda::map_row_major_gemm(Transpose::no, Transpose::no, 0, 0, 0, 1, 1, 1));
}

// cublasSgeam(CUBLAS_OP_T, CUBLAS_OP_T, m, n, alpha = 1, A, lda, beta = 0, ..., C, ldc), column-major:
// C (m x n) = A^T, A (n x m); a_size and c_size are what A and C may span.
void reference_geam_transpose(int m, int n, const double* a, int lda, std::size_t a_size, double* c, int ldc,
                              std::size_t c_size) {
  REQUIRE(lda >= n);  // cuBLAS' own requirements for op(A) = A^T
  REQUIRE(ldc >= m);
  REQUIRE(std::size_t(m - 1) * std::size_t(lda) + std::size_t(n) <= a_size);
  REQUIRE(std::size_t(n - 1) * std::size_t(ldc) + std::size_t(m) <= c_size);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) c[i + std::size_t(j) * ldc] = a[j + std::size_t(i) * lda];
}

TEST_CASE("cuDNN gate blocks: our W, R go to cuDNN's [H, in] matrices and the gradients come back", "[cuda_host]") {
  // cuDNN's matrix of gate k multiplies the layer input: gate_k[j] = sum_f
  // M_k[j, f] x[f], so M_k[j, f] must be our W[f, k H + j] (R likewise).
  for (auto [in, hidden] : {std::pair{1, 1}, std::pair{3, 5}, std::pair{7, 2}}) {
    const int g4 = 4 * hidden;
    const auto ours = values(std::size_t(in) * std::size_t(g4), std::uint64_t(in * 100 + hidden));
    // cuDNN's space: the four matrices in a scrambled order with gaps, as
    // cudnnGetRNNWeightParams may place them.
    const std::size_t block = std::size_t(hidden) * std::size_t(in);
    const std::size_t at[4] = {2 * (block + 3), 0 * (block + 3), 3 * (block + 3), 1 * (block + 3)};
    std::vector<double> space(4 * (block + 3), -99.0);
    for (int k = 0; k < 4; ++k) {
      const cudnn::BlockTranspose t = cudnn::weights_in(k, in, hidden, at[k]);
      REQUIRE(t.rows == in);  // geam's m, n: op(A) = A^T is in x hidden, column-major
      REQUIRE(t.cols == hidden);
      reference_geam_transpose(t.rows, t.cols, ours.data() + t.src_offset, t.src_ld, ours.size() - t.src_offset,
                               space.data() + t.dst_offset, t.dst_ld, block);
    }
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < hidden; ++j)
        for (int f = 0; f < in; ++f)
          REQUIRE(space[at[k] + std::size_t(j) * std::size_t(in) + std::size_t(f)] ==
                  ours[std::size_t(f) * std::size_t(g4) + std::size_t(k) * std::size_t(hidden) + std::size_t(j)]);
    for (int k = 0; k < 4; ++k)  // the gaps stay untouched
      for (std::size_t i = at[k] + block; i < at[k] + block + 3; ++i) REQUIRE(space[i] == -99.0);
    // Gradients come back the same way: the round trip is the identity.
    std::vector<double> back(ours.size(), -1.0);
    for (int k = 0; k < 4; ++k) {
      const cudnn::BlockTranspose t = cudnn::gradients_out(k, in, hidden, at[k]);
      reference_geam_transpose(t.rows, t.cols, space.data() + t.src_offset, t.src_ld, block,
                               back.data() + t.dst_offset, t.dst_ld, back.size() - t.dst_offset);
    }
    CHECK(back == ours);
  }
}

TEST_CASE("launch configuration", "[cuda_host]") {
  using namespace nocturne::kernels;
  CHECK(blocks_for(0) == 1);
  CHECK(blocks_for(1) == 1);
  CHECK(blocks_for(256) == 1);
  CHECK(blocks_for(257) == 2);
  CHECK(blocks_for(std::size_t(1) << 40) == kMaxBlocks);
  // Column sums: a single pass for few rows, chunks of about 256 rows
  // otherwise, never more than the scratch holds.
  CHECK(column_sum_chunks(1, 2048, 1 << 20) == 1);
  CHECK(column_sum_chunks(256, 2048, 1 << 20) == 1);
  CHECK(column_sum_chunks(10240, 2048, 1 << 20) == 40);
  CHECK(column_sum_chunks(10240, 1 << 20, 1 << 20) == 1);
  CHECK(column_sum_chunks(1 << 20, 16, 1 << 20) == kColumnSumMaxChunks);
  CHECK(column_sum_chunks(10240, 2048, 0) == 1);
  CHECK(column_sum_chunks(5, 0, 0) == 1);
}

}  // namespace
