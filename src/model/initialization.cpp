#include "model/initialization.hpp"

#include <cblas.h>

#include <cmath>
#include <vector>

#include "nocturne/error.hpp"
#include "nocturne/rng.hpp"
#include "core/rng_streams.hpp"

namespace nocturne::inline v0 {

void orthogonal_rows(int rows, int cols, std::uint64_t seed, std::uint32_t stream, double* out) {
  if (rows > cols) throw ShapeError("orthogonal_rows: more rows than columns");
  const std::size_t n = std::size_t(cols);
  for (std::size_t i = 0; i < std::size_t(rows) * n; ++i) out[i] = random_normal(seed, stream, i);
  std::vector<double> dots(static_cast<std::size_t>(rows));
  for (int k = 0; k < rows; ++k) {
    double* row = out + std::size_t(k) * n;
    // Classical Gram-Schmidt against the k finished rows, twice ("twice is
    // enough": the second pass restores orthogonality to working precision).
    for (int pass = 0; pass < 2 && k > 0; ++pass) {
      cblas_dgemv(CblasRowMajor, CblasNoTrans, k, cols, 1.0, out, cols, row, 1, 0.0, dots.data(), 1);
      cblas_dgemv(CblasRowMajor, CblasTrans, k, cols, -1.0, out, cols, dots.data(), 1, 1.0, row, 1);
    }
    const double norm = cblas_dnrm2(cols, row, 1);
    if (!(norm > 0)) throw Error("orthogonal initialisation: degenerate random matrix");
    cblas_dscal(cols, 1.0 / norm, row, 1);
  }
}

void initialize_parameters(const ParameterLayout& layout, std::uint64_t seed, std::vector<double>& values) {
  values.assign(layout.buffer_size(), 0.0);
  const auto& views = layout.views();
  for (std::size_t k = 0; k < views.size(); ++k) {
    const ParameterView& v = views[k];
    const std::uint32_t stream = rng_stream::initialization + std::uint32_t(k);
    double* out = values.data() + v.offset;
    const std::string& name = v.name;
    const bool is_bias = name.ends_with(".b");
    if (name == "embedding") {
      for (std::size_t i = 0; i < v.size(); ++i) out[i] = -0.05 + 0.1 * random_uniform(seed, stream, i);
    } else if (name.ends_with(".R")) {
      orthogonal_rows(v.rows, v.cols, seed, stream, out);
    } else if (is_bias) {
      if (name.starts_with("lstm")) {
        // unit_forget_bias: the forget block [H, 2H) starts at 1.
        const int hidden = v.cols / 4;
        for (int j = hidden; j < 2 * hidden; ++j) out[j] = 1.0;
      }
    } else {
      // glorot_uniform over a [fan_in, fan_out] kernel.
      const double limit = std::sqrt(6.0 / double(v.rows + v.cols));
      for (std::size_t i = 0; i < v.size(); ++i) out[i] = limit * (2.0 * random_uniform(seed, stream, i) - 1.0);
    }
  }
}

}  // namespace nocturne
