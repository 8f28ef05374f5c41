// The LSTM ops: forward against a naive loop, backward against central
// finite differences in double, float against double, argument checks.
//
// Gradient error measure: norm-wise ||analytic - numeric|| / ||(analytic +
// numeric) / 2|| over each whole gradient (test::relative_error).

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "cpu_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

using namespace nocturne;
using test::random_vector;

namespace {

struct LstmData {
  LstmShape shape;
  std::vector<double> x, w, r, b;
};

LstmData make_lstm(LstmShape s, std::uint32_t seed) {
  const std::size_t g = 4 * std::size_t(s.hidden);
  LstmData d{s, random_vector(std::size_t(s.steps) * s.batch * s.input, seed),
             random_vector(std::size_t(s.input) * g, seed + 1, -0.8, 0.8),
             random_vector(std::size_t(s.hidden) * g, seed + 2, -0.6, 0.6), random_vector(g, seed + 3, -0.3, 0.3)};
  for (int j = 0; j < s.hidden; ++j) d.b[std::size_t(s.hidden + j)] += 1.0;  // Keras' forget-gate bias
  return d;
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// The textbook LSTM, one element at a time, written independently of the
// backend and of src/math. Returns h [T, N, H].
std::vector<double> naive_lstm(const LstmData& d) {
  const int T = d.shape.steps, N = d.shape.batch, F = d.shape.input, H = d.shape.hidden;
  std::vector<double> h(std::size_t(T * N * H)), hp(std::size_t(N * H), 0.0), cp(std::size_t(N * H), 0.0);
  for (int t = 0; t < T; ++t) {
    for (int n = 0; n < N; ++n)
      for (int j = 0; j < H; ++j) {
        double a[4];
        for (int q = 0; q < 4; ++q) {
          const int col = q * H + j;
          double s = d.b[std::size_t(col)];
          for (int f = 0; f < F; ++f) s += d.x[std::size_t((t * N + n) * F + f)] * d.w[std::size_t(f * 4 * H + col)];
          for (int k = 0; k < H; ++k) s += hp[std::size_t(n * H + k)] * d.r[std::size_t(k * 4 * H + col)];
          a[q] = s;
        }
        const double c = sigmoid(a[1]) * cp[std::size_t(n * H + j)] + sigmoid(a[0]) * std::tanh(a[2]);
        h[std::size_t((t * N + n) * H + j)] = sigmoid(a[3]) * std::tanh(c);
        cp[std::size_t(n * H + j)] = c;  // read only by column j of row n, already done
      }
    for (int n = 0; n < N; ++n)
      for (int j = 0; j < H; ++j) hp[std::size_t(n * H + j)] = h[std::size_t((t * N + n) * H + j)];
  }
  return h;
}

template <typename T>
struct LstmRun {
  std::vector<T> h, c, gates;
};

template <typename T>
LstmRun<T> run_forward(BasicBackend<T>& backend, const LstmShape& s, const std::vector<T>& x, const std::vector<T>& w,
                       const std::vector<T>& r, const std::vector<T>& b) {
  const std::size_t nh = std::size_t(s.steps) * s.batch * s.hidden;
  LstmRun<T> run{std::vector<T>(nh), std::vector<T>(nh), std::vector<T>(4 * nh)};
  backend.lstm_forward(s, x.data(), w.data(), r.data(), b.data(), run.h.data(), run.c.data(), run.gates.data());
  return run;
}

const LstmShape kShapes[] = {
    {4, 3, 1, 5},  // the recipe's scalar input: loop projection, GEMV weight gradients
    {3, 2, 4, 3},  // small input: loop projection, GEMM gradients
    {5, 2, 9, 4},  // input wide enough for the GEMM projection
    {1, 2, 3, 3},  // one step: no recurrence, dR = 0
};

}  // namespace

TEST_CASE("lstm_forward matches a naive loop", "[cpu][lstm]") {
  auto backend = make_cpu_backend_double();
  for (const auto& s : kShapes) {
    const auto d = make_lstm(s, 10);
    const auto run = run_forward(*backend, s, d.x, d.w, d.r, d.b);
    INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H " << s.hidden);
    CHECK(test::relative_error(run.h, naive_lstm(d)) < 1e-13);
  }
}

TEST_CASE("lstm_backward matches finite differences in double", "[cpu][lstm][gradient]") {
  auto backend = make_cpu_backend_double();
  for (bool last_step_only : {false, true}) {
    for (const auto& s : kShapes) {
      auto d = make_lstm(s, 20);
      const std::size_t step_h = std::size_t(s.batch) * s.hidden;
      // L = sum(h * weights): random weights on every step, or on the last
      // step only (the recipe's second layer).
      auto weights = random_vector(std::size_t(s.steps) * step_h, 99);
      if (last_step_only)
        for (std::size_t i = 0; i < weights.size() - step_h; ++i) weights[i] = 0.0;
      auto loss = [&] { return test::dot(run_forward(*backend, s, d.x, d.w, d.r, d.b).h, weights); };

      const auto run = run_forward(*backend, s, d.x, d.w, d.r, d.b);
      std::vector<double> dx(d.x.size()), dw(d.w.size()), dr(d.r.size()), db(d.b.size());
      std::vector<double> workspace(BasicBackend<double>::lstm_workspace_size(s), 12345.0);  // garbage in
      backend->lstm_backward(s, d.x.data(), d.w.data(), d.r.data(), run.h.data(), run.c.data(), run.gates.data(),
                             weights.data(), dx.data(), dw.data(), dr.data(), db.data(), workspace.data());

      INFO("T " << s.steps << " N " << s.batch << " F " << s.input << " H " << s.hidden << " last step only "
                << last_step_only);
      CHECK(test::relative_error(dx, test::numeric_gradient(d.x, loss)) < 1e-6);
      CHECK(test::relative_error(dw, test::numeric_gradient(d.w, loss)) < 1e-6);
      CHECK(test::relative_error(db, test::numeric_gradient(d.b, loss)) < 1e-6);
      if (s.steps > 1) {
        CHECK(test::relative_error(dr, test::numeric_gradient(d.r, loss)) < 1e-6);
      } else {
        for (double v : dr) CHECK(v == 0.0);
      }
    }
  }
}

TEST_CASE("lstm_backward without dx gives the same weight gradients", "[cpu][lstm]") {
  auto backend = make_cpu_backend_double();
  const LstmShape s{4, 3, 2, 4};
  const auto d = make_lstm(s, 30);
  const auto run = run_forward(*backend, s, d.x, d.w, d.r, d.b);
  const auto dh = random_vector(run.h.size(), 31);
  std::vector<double> dx(d.x.size()), workspace(BasicBackend<double>::lstm_workspace_size(s));
  std::vector<double> dw1(d.w.size()), dr1(d.r.size()), db1(d.b.size());
  std::vector<double> dw2(d.w.size()), dr2(d.r.size()), db2(d.b.size());
  backend->lstm_backward(s, d.x.data(), d.w.data(), d.r.data(), run.h.data(), run.c.data(), run.gates.data(),
                         dh.data(), dx.data(), dw1.data(), dr1.data(), db1.data(), workspace.data());
  backend->lstm_backward(s, d.x.data(), d.w.data(), d.r.data(), run.h.data(), run.c.data(), run.gates.data(),
                         dh.data(), nullptr, dw2.data(), dr2.data(), db2.data(), workspace.data());
  CHECK(dw1 == dw2);
  CHECK(dr1 == dr2);
  CHECK(db1 == db2);
}

TEST_CASE("float lstm agrees with double lstm", "[cpu][lstm]") {
  auto single = make_cpu_backend();
  auto twice = make_cpu_backend_double();
  for (const LstmShape& s : {LstmShape{6, 4, 1, 8}, LstmShape{6, 4, 12, 8}}) {
    const auto d = make_lstm(s, 40);
    const auto dh = random_vector(std::size_t(s.steps) * s.batch * s.hidden, 41);
    const auto run64 = run_forward(*twice, s, d.x, d.w, d.r, d.b);
    const auto xf = test::convert<float>(d.x), wf = test::convert<float>(d.w), rf = test::convert<float>(d.r),
               bf = test::convert<float>(d.b), dhf = test::convert<float>(dh);
    const auto run32 = run_forward(*single, s, xf, wf, rf, bf);
    CHECK(test::relative_error(run32.h, run64.h) < 1e-5);
    CHECK(test::relative_error(run32.c, run64.c) < 1e-5);
    CHECK(test::relative_error(run32.gates, run64.gates) < 1e-5);

    std::vector<double> dx(d.x.size()), dw(d.w.size()), dr(d.r.size()), db(d.b.size());
    std::vector<double> ws(BasicBackend<double>::lstm_workspace_size(s));
    twice->lstm_backward(s, d.x.data(), d.w.data(), d.r.data(), run64.h.data(), run64.c.data(), run64.gates.data(),
                         dh.data(), dx.data(), dw.data(), dr.data(), db.data(), ws.data());
    std::vector<float> dxf(d.x.size()), dwf(d.w.size()), drf(d.r.size()), dbf(d.b.size());
    std::vector<float> wsf(BasicBackend<float>::lstm_workspace_size(s));
    single->lstm_backward(s, xf.data(), wf.data(), rf.data(), run32.h.data(), run32.c.data(), run32.gates.data(),
                          dhf.data(), dxf.data(), dwf.data(), drf.data(), dbf.data(), wsf.data());
    CHECK(test::relative_error(dxf, dx) < 1e-5);
    CHECK(test::relative_error(dwf, dw) < 1e-5);
    CHECK(test::relative_error(drf, dr) < 1e-5);
    CHECK(test::relative_error(dbf, db) < 1e-5);
  }
}

TEST_CASE("lstm_forward saturates cleanly for huge pre-activations", "[cpu][lstm]") {
  // The cell loops are compiled with -ffast-math (vector expf/tanhf): check
  // that saturated gates still give finite states within range.
  auto backend = make_cpu_backend();
  const LstmShape s{3, 2, 1, 16};
  for (float scale : {50.0f, 1e4f, -1e4f}) {
    const std::vector<float> x(6, 1.0f), r(16 * 64, 0.0f), b(64, 0.0f);
    std::vector<float> w(64);
    for (std::size_t j = 0; j < w.size(); ++j) w[j] = (j % 2 ? scale : -scale);
    const auto run = run_forward(*backend, s, x, w, r, b);
    for (float v : run.h) {
      REQUIRE(std::isfinite(v));
      CHECK(std::fabs(v) <= 1.0f);
    }
    for (float v : run.gates) {
      REQUIRE(std::isfinite(v));
      CHECK(std::fabs(v) <= 1.0f);
    }
    for (float v : run.c) REQUIRE(std::isfinite(v));
  }
}

// Steps chained from a zero state, each from the previous step's h and c,
// must reproduce the whole sequence (the naive loop, independent of the backend).
TEST_CASE("lstm_step chained from a zero state matches the naive loop", "[cpu][lstm]") {
  auto backend = make_cpu_backend_double();
  for (const LstmShape& s : kShapes) {
    const LstmData d = make_lstm(s, 61);
    const std::vector<double> expected = naive_lstm(d);
    const std::size_t nh = std::size_t(s.batch) * s.hidden, nf = std::size_t(s.batch) * s.input;
    std::vector<double> h_prev(nh, 0.0), c_prev(nh, 0.0), h(nh), c(nh), gates(4 * nh);
    for (int t = 0; t < s.steps; ++t) {
      backend->lstm_step(s.batch, s.input, s.hidden, d.x.data() + std::size_t(t) * nf, d.w.data(), d.r.data(),
                         d.b.data(), h_prev.data(), c_prev.data(), h.data(), c.data(), gates.data());
      for (std::size_t i = 0; i < nh; ++i) REQUIRE(h[i] == Approx(expected[std::size_t(t) * nh + i]).margin(1e-12));
      h_prev.swap(h);
      c_prev.swap(c);
    }
  }
}

TEST_CASE("lstm_step agrees with lstm_forward step by step in float", "[cpu][lstm]") {
  auto backend = make_cpu_backend();
  const LstmShape s{6, 5, 9, 12};
  const LstmData d = make_lstm(s, 83);
  const auto as_float = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  const std::vector<float> x = as_float(d.x), w = as_float(d.w), r = as_float(d.r), b = as_float(d.b);
  const auto whole = run_forward(*backend, s, x, w, r, b);
  const std::size_t nh = std::size_t(s.batch) * s.hidden, nf = std::size_t(s.batch) * s.input;
  std::vector<float> h_prev(nh, 0.0f), c_prev(nh, 0.0f), h(nh), c(nh), gates(4 * nh);
  for (int t = 0; t < s.steps; ++t) {
    backend->lstm_step(s.batch, s.input, s.hidden, x.data() + std::size_t(t) * nf, w.data(), r.data(), b.data(),
                       h_prev.data(), c_prev.data(), h.data(), c.data(), gates.data());
    for (std::size_t i = 0; i < nh; ++i) {
      REQUIRE(h[i] == Approx(whole.h[std::size_t(t) * nh + i]).margin(1e-6));
      REQUIRE(c[i] == Approx(whole.c[std::size_t(t) * nh + i]).margin(1e-6));
    }
    for (std::size_t i = 0; i < 4 * nh; ++i) REQUIRE(gates[i] == Approx(whole.gates[std::size_t(t) * 4 * nh + i]).margin(1e-6));
    h_prev.swap(h);
    c_prev.swap(c);
  }
}

TEST_CASE("lstm ops reject bad shapes", "[cpu][lstm]") {
  auto backend = make_cpu_backend();
  std::vector<float> buf(1024);
  float* p = buf.data();
  CHECK_THROWS_AS(backend->lstm_forward(LstmShape{0, 1, 1, 1}, p, p, p, p, p, p, p), ShapeError);
  CHECK_THROWS_AS(backend->lstm_forward(LstmShape{1, 1, 1, -2}, p, p, p, p, p, p, p), ShapeError);
  CHECK_THROWS_AS(backend->lstm_forward(LstmShape{1, 1, 1, 1}, nullptr, p, p, p, p, p, p), ShapeError);
  CHECK_THROWS_AS(backend->lstm_backward(LstmShape{2, 0, 1, 1}, p, p, p, p, p, p, p, p, p, p, p, p), ShapeError);
  CHECK_THROWS_AS(backend->lstm_backward(LstmShape{2, 1, 1, 1}, p, p, p, p, p, p, p, p, p, p, p, nullptr),
                  ShapeError);
  CHECK_THROWS_AS(backend->lstm_step(1, 0, 1, p, p, p, p, p, p, p, p, p), ShapeError);
  CHECK_THROWS_AS(backend->lstm_step(1, 1, 1, p, p, p, p, nullptr, p, p, p, p), ShapeError);
}
