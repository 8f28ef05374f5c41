// The parameter layout and Keras' initialisation at the recipe's sizes:
// parameter counts, view alignment, orthonormal recurrent kernels,
// glorot-uniform bounds and variance, biases (forget gate 1), the embedding
// range, zero padding, and determinism from the seed.
#include <catch2/catch.hpp>

#include <cblas.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "model_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"
#include "nocturne/model.hpp"

using namespace nocturne;
using nocturne::test::padding_indices;
using nocturne::test::view_values;

namespace {

ModelConfig recipe_config(InputMode input = InputMode::scalar) {
  ModelConfig c;  // the defaults are the recipe's sizes
  c.vocab = 127;
  c.input = input;
  return c;
}

// Embedding input at smaller LSTM sizes: the properties checked with it do
// not depend on the hidden sizes, and the recipe-size initialisation costs
// about a second (the Gram-Schmidt of two orthogonal kernels).
ModelConfig small_embedding_config() {
  ModelConfig c = recipe_config(InputMode::embedding);
  c.hidden1 = 64;
  c.hidden2 = 32;
  c.dense = 32;
  return c;
}

std::vector<double> initial_parameters(const ModelConfig& config, std::uint64_t seed) {
  static auto backend = make_cpu_backend_double();
  BasicModel<double> model(*backend, config, 1);
  model.initialize(seed);
  return model.download_parameters();
}

// The recipe's parameters for seed 42, computed once for all test cases.
const std::vector<double>& recipe_parameters() {
  static const std::vector<double> params = initial_parameters(recipe_config(), 42);
  return params;
}

struct Moments {
  double min = 0, max = 0, mean = 0, variance = 0;
};

Moments moments(const std::vector<double>& x) {
  Moments m{x[0], x[0], 0, 0};
  for (double v : x) {
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
    m.mean += v;
  }
  m.mean /= double(x.size());
  for (double v : x) m.variance += (v - m.mean) * (v - m.mean);
  m.variance /= double(x.size() - 1);
  return m;
}

}  // namespace

TEST_CASE("parameter counts follow recipe.md", "[model][initialization]") {
  // recipe.md: 1,052,672 + 787,456 + 65,792 + 257 V; V = 127 gives 1,938,559.
  CHECK(ParameterLayout(recipe_config()).parameter_count() == 1938559);
  for (int v : {1, 127, 228, 266}) {
    ModelConfig c = recipe_config();
    c.vocab = v;
    CHECK(ParameterLayout(c).parameter_count() == std::size_t(1052672 + 787456 + 65792 + 257 * v));
  }
  // Embedding input: the table [V, E] plus a layer-1 kernel of E rows instead of 1.
  ModelConfig e = recipe_config(InputMode::embedding);
  CHECK(ParameterLayout(e).parameter_count() ==
        std::size_t(1938559 + 127 * e.embedding_dim + (e.embedding_dim - 1) * 2048));
}

TEST_CASE("views are named, shaped as Keras lays them out, 32-aligned and disjoint", "[model][initialization]") {
  for (InputMode input : {InputMode::scalar, InputMode::embedding}) {
    const ModelConfig c = recipe_config(input);
    const ParameterLayout layout(c);
    struct Want {
      const char* name;
      std::int64_t rows, cols;
    };
    std::vector<Want> want;
    if (input == InputMode::embedding) want.push_back({"embedding", 127, c.embedding_dim});
    const std::vector<Want> rest = {{"lstm1.W", c.input_size(), 2048}, {"lstm1.R", 512, 2048}, {"lstm1.b", 1, 2048},
                                    {"lstm2.W", 512, 1024},            {"lstm2.R", 256, 1024}, {"lstm2.b", 1, 1024},
                                    {"dense1.W", 256, 256},            {"dense1.b", 1, 256},   {"dense2.W", 256, 127},
                                    {"dense2.b", 1, 127}};
    want.insert(want.end(), rest.begin(), rest.end());
    REQUIRE(layout.views().size() == want.size());
    std::size_t end = 0;
    for (std::size_t k = 0; k < want.size(); ++k) {
      const ParameterView& v = layout.views()[k];
      INFO(v.name);
      CHECK(v.name == want[k].name);
      CHECK(v.rows == want[k].rows);
      CHECK(v.cols == want[k].cols);
      CHECK(v.offset % 32 == 0);
      CHECK(v.offset >= end);  // in order, no overlap
      end = v.offset + v.size();
      CHECK(&layout.view(v.name) == &v);
    }
    CHECK(layout.buffer_size() >= end);
    CHECK(layout.buffer_size() % 32 == 0);
    CHECK_THROWS_AS(layout.view("lstm3.W"), ConfigError);
  }
}

TEST_CASE("recurrent kernels have orthonormal rows", "[model][initialization]") {
  const ModelConfig config = recipe_config();
  const ParameterLayout layout(config);
  const auto& params = recipe_parameters();
  for (const char* name : {"lstm1.R", "lstm2.R"}) {
    const ParameterView& v = layout.view(name);
    const int rows = v.rows, cols = v.cols;
    // R R^T, [rows, rows], upper triangle.
    std::vector<double> gram(std::size_t(rows) * std::size_t(rows), 0.0);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, rows, cols, 1.0, params.data() + v.offset, cols, 0.0,
                gram.data(), rows);
    double worst = 0;
    for (int i = 0; i < rows; ++i)
      for (int j = i; j < rows; ++j)
        worst = std::max(worst, std::abs(gram[std::size_t(i) * std::size_t(rows) + std::size_t(j)] - (i == j)));
    INFO(name << ": max |R R^T - I| = " << worst);
    CHECK(worst <= 1e-5);
    // Orthonormal rows of length 4H have entries of variance 1 / (4H).
    const Moments m = moments(view_values(params, v));
    CHECK(m.variance == Approx(1.0 / cols).epsilon(0.02));
  }
}

TEST_CASE("the float model starts from the double initialisation rounded to float", "[model][initialization]") {
  // So the float recurrent kernels are orthonormal to float rounding too.
  const ModelConfig config = small_embedding_config();
  const auto want = initial_parameters(config, 42);
  auto backend = make_cpu_backend();
  Model model(*backend, config, 1);
  model.initialize(42);
  const auto got = model.download_parameters();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    if (double(got[i]) != double(float(want[i]))) FAIL("float initialisation differs from double at " << i);
}

TEST_CASE("glorot-uniform kernels respect the bound and its variance", "[model][initialization]") {
  const ModelConfig config = recipe_config();
  const ParameterLayout layout(config);
  const auto& params = recipe_parameters();
  for (const char* name : {"lstm1.W", "lstm2.W", "dense1.W", "dense2.W"}) {
    const ParameterView& v = layout.view(name);
    const double limit = std::sqrt(6.0 / double(v.rows + v.cols));  // fan_in + fan_out
    const Moments m = moments(view_values(params, v));
    // Uniform on [-L, L]: variance L^2 / 3. The sample variance's relative
    // standard error is sqrt(0.8 / n): 2 % for lstm1.W (n = 2048), under
    // 0.5 % for the others; 10 % is five of those at the smallest.
    INFO(name << ": limit " << limit << ", min " << m.min << ", max " << m.max << ", mean " << m.mean
              << ", variance " << m.variance << " (want " << limit * limit / 3 << ")");
    CHECK(m.min >= -limit);
    CHECK(m.max <= limit);
    CHECK(m.max > 0.99 * limit);  // the whole range is used
    CHECK(m.min < -0.99 * limit);
    CHECK(m.variance == Approx(limit * limit / 3).epsilon(0.1));
    CHECK(std::abs(m.mean) < 5 * limit / std::sqrt(3.0 * double(v.size())));
  }
}

TEST_CASE("biases are zero except the LSTM forget blocks, which are one", "[model][initialization]") {
  const ModelConfig config = recipe_config();
  const ParameterLayout layout(config);
  const auto& params = recipe_parameters();
  for (const char* name : {"lstm1.b", "lstm2.b"}) {
    const auto b = view_values(params, layout.view(name));
    const std::size_t h = b.size() / 4;
    for (std::size_t j = 0; j < b.size(); ++j) {
      const double want = (j >= h && j < 2 * h) ? 1.0 : 0.0;  // gate order i, f, g, o
      if (b[j] != want) FAIL(name << "[" << j << "] = " << b[j] << ", want " << want);
    }
  }
  for (const char* name : {"dense1.b", "dense2.b"})
    for (double x : view_values(params, layout.view(name)))
      if (x != 0.0) FAIL(name << " has a nonzero entry " << x);
}

TEST_CASE("the embedding is uniform in [-0.05, 0.05]", "[model][initialization]") {
  const ModelConfig config = small_embedding_config();
  const ParameterLayout layout(config);
  const auto params = initial_parameters(config, 42);
  const Moments m = moments(view_values(params, layout.view("embedding")));
  CHECK(m.min >= -0.05);
  CHECK(m.max <= 0.05);
  CHECK(m.max > 0.049);
  CHECK(m.min < -0.049);
  // 127 x 64 = 8128 draws: relative standard error of the variance about 1 %.
  CHECK(m.variance == Approx(0.05 * 0.05 / 3).epsilon(0.05));
  // The layer-1 kernel is then glorot over [E, 4 H1] = [64, 256].
  const Moments w = moments(view_values(params, layout.view("lstm1.W")));
  CHECK(w.max <= std::sqrt(6.0 / (64 + 256)));
  CHECK(w.max > 0.9 * std::sqrt(6.0 / (64 + 256)));
}

TEST_CASE("padding between views is zero", "[model][initialization]") {
  for (const ModelConfig& config : {recipe_config(), small_embedding_config()}) {
    const auto params = config.input == InputMode::scalar ? recipe_parameters() : initial_parameters(config, 7);
    const auto padding = padding_indices(ParameterLayout(config));
    REQUIRE(!padding.empty());  // dense2 (256 x 127) and the 127 biases cannot be 32-aligned without it
    for (std::size_t i : padding)
      if (params[i] != 0.0) FAIL("padding element " << i << " = " << params[i]);
  }
}

TEST_CASE("initialisation is a function of the seed", "[model][initialization]") {
  const ModelConfig config = small_embedding_config();
  const ParameterLayout layout(config);
  const auto a = initial_parameters(config, 1);
  const auto b = initial_parameters(config, 1);
  const auto c = initial_parameters(config, 2);
  CHECK(a == b);
  for (const ParameterView& v : layout.views()) {
    if (v.name.ends_with(".b")) continue;  // constant biases do not depend on the seed
    INFO(v.name);
    std::size_t same = 0;
    const auto va = view_values(a, v), vc = view_values(c, v);
    for (std::size_t i = 0; i < va.size(); ++i) same += va[i] == vc[i] ? 1 : 0;
    CHECK(same == 0);
  }
  // Views draw from streams of their own: no two kernels share draws.
  const auto d1 = view_values(a, layout.view("dense1.W"));
  const auto l2 = view_values(a, layout.view("lstm2.R"));
  CHECK(std::set<double>(d1.begin(), d1.end()).size() == d1.size());
  CHECK(d1[0] != l2[0]);
}
