// The reduced math modes: math::round_to_tf32 / round_to_bf16 (round to
// nearest even on the float's bits) against an independent rounding in
// double arithmetic and at the edges (ties, carries into the exponent,
// overflow, infinities, NaN, subnormals); the CPU backend's emulation (every
// GEMM operand rounded, the rank-one layer-1 term not); and every op in every
// mode against the double reference, within the envelopes the GPU is held to
// (support/precision_envelopes.hpp).

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "cpu_test_support.hpp"
#include "math/gate_layout.hpp"
#include "math/precision.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/model.hpp"
#include "nocturne/rng.hpp"
#include "support/precision_envelopes.hpp"

using namespace nocturne;
using test::random_vector;

namespace {

float from_bits(std::uint32_t bits) { return std::bit_cast<float>(bits); }
std::uint32_t bits_of(float x) { return std::bit_cast<std::uint32_t>(x); }

// x rounded to `kept` mantissa bits, to nearest even, in double arithmetic
// (exact: a float times a power of two, nearbyint in the default mode).
float reference_round(float x, int kept) {
  if (!std::isfinite(x) || x == 0.0f) return x;
  int exponent = 0;
  std::frexp(double(x), &exponent);  // |x| in [2^(exponent-1), 2^exponent)
  // Subnormals share the smallest normal's spacing.
  const int unit = std::max(exponent - 1, -126) - kept;
  const double scaled = std::ldexp(double(x), -unit);
  const double rounded = std::ldexp(std::nearbyint(scaled), unit);
  if (std::fabs(rounded) > double(std::numeric_limits<float>::max()))
    return std::copysign(std::numeric_limits<float>::infinity(), x);
  return float(rounded);
}

}  // namespace

TEST_CASE("round_to_tf32 and round_to_bf16 round to nearest even, as double arithmetic does", "[cpu][precision]") {
  std::vector<float> values;
  // Random bit patterns (every exponent, subnormals included) and random magnitudes.
  for (std::uint32_t i = 0; i < 200000; ++i) {
    const std::uint32_t bits = std::uint32_t(random_u32(3, 0x7e57, i));
    if ((bits & 0x7f800000u) != 0x7f800000u) values.push_back(from_bits(bits));
  }
  for (float v : random_vector<float>(20000, 9, -4.0, 4.0)) values.push_back(v);
  for (float x : values) {
    INFO("x = " << x << " (bits " << bits_of(x) << ")");
    REQUIRE(bits_of(math::round_to_tf32(x)) == bits_of(reference_round(x, 10)));
    REQUIRE(bits_of(math::round_to_bf16(x)) == bits_of(reference_round(x, 7)));
  }
}

TEST_CASE("operand rounding at the edges: ties, carries, overflow, infinities, NaN, subnormals", "[cpu][precision]") {
  // TF32 drops 13 bits (half = 0x1000), BF16 16 bits (half = 0x8000).
  // Ties go to the even neighbour, either way.
  CHECK(bits_of(math::round_to_tf32(from_bits(0x3f801000u))) == 0x3f800000u);  // 1 + half ulp: down to 1
  CHECK(bits_of(math::round_to_tf32(from_bits(0x3f803000u))) == 0x3f804000u);  // odd + half: up to even
  CHECK(bits_of(math::round_to_tf32(from_bits(0x3f801001u))) == 0x3f802000u);  // above half: up
  CHECK(bits_of(math::round_to_tf32(from_bits(0x3f800fffu))) == 0x3f800000u);  // below half: down
  CHECK(bits_of(math::round_to_bf16(from_bits(0x3f808000u))) == 0x3f800000u);
  CHECK(bits_of(math::round_to_bf16(from_bits(0x3f818000u))) == 0x3f820000u);
  CHECK(bits_of(math::round_to_bf16(from_bits(0xbf818000u))) == 0xbf820000u);  // sign kept
  // A carry out of the mantissa raises the exponent: 2 - 2^-23 rounds to 2.
  CHECK(math::round_to_tf32(from_bits(0x3fffffffu)) == 2.0f);
  CHECK(math::round_to_bf16(from_bits(0x3fffffffu)) == 2.0f);
  // Past the largest finite value: infinity, as IEEE rounding gives.
  CHECK(math::round_to_bf16(std::numeric_limits<float>::max()) == std::numeric_limits<float>::infinity());
  CHECK(math::round_to_tf32(-std::numeric_limits<float>::max()) == -std::numeric_limits<float>::infinity());
  CHECK(bits_of(math::round_to_bf16(from_bits(0x7f7f7fffu))) == 0x7f7f0000u);  // the largest BF16 stays
  // Infinities pass; NaN stays NaN (quiet), payload or not.
  CHECK(math::round_to_tf32(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
  CHECK(math::round_to_bf16(-std::numeric_limits<float>::infinity()) == -std::numeric_limits<float>::infinity());
  for (std::uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800100u, 0x7fffffffu}) {
    CHECK(std::isnan(math::round_to_tf32(from_bits(nan))));
    CHECK(std::isnan(math::round_to_bf16(from_bits(nan))));
    CHECK((bits_of(math::round_to_bf16(from_bits(nan))) & 0x00400000u) != 0u);
  }
  // Subnormals round on the same grid; the smallest ones flush to signed zero.
  CHECK(bits_of(math::round_to_tf32(from_bits(0x00000001u))) == 0x00000000u);
  CHECK(bits_of(math::round_to_tf32(from_bits(0x80000fffu))) == 0x80000000u);
  CHECK(bits_of(math::round_to_tf32(from_bits(0x00001000u))) == 0x00000000u);  // tie to even 0
  CHECK(bits_of(math::round_to_tf32(from_bits(0x00003000u))) == 0x00004000u);  // tie to even 0x4000
  CHECK(bits_of(math::round_to_bf16(from_bits(0x007fffffu))) == 0x00800000u);  // the largest subnormal: up to normal
  CHECK(bits_of(math::round_to_tf32(-0.0f)) == 0x80000000u);
  // Values already on the grid do not move; the double overloads round through float.
  CHECK(math::round_to_tf32(1.5f) == 1.5f);
  CHECK(math::round_to_bf16(-0.1875f) == -0.1875f);
  CHECK(math::round_to_tf32(1.0 + 1e-9) == 1.0);
  CHECK(math::bf16_bits(1.0f) == 0x3f80);
}

namespace {

// op(A) op(B) of the emulated GEMM must be the strict GEMM of the rounded
// operands, bit for bit: the emulation rounds and nothing else.
template <typename T>
void check_emulated_gemm(MathMode mode) {
  auto strict = make_cpu_backend_double();
  std::unique_ptr<BasicBackend<T>> emulated, plain;
  if constexpr (sizeof(T) == sizeof(float)) {
    emulated = make_cpu_backend(CpuOptions{.math = mode, .bf16_gemm = false});
    plain = make_cpu_backend();
  } else {
    emulated = make_cpu_backend_double(CpuOptions{mode, false, ProgramOrder::list});
    plain = make_cpu_backend_double();
  }
  std::uint32_t seed = 40;
  for (const auto& size : {std::array<int, 3>{17, 9, 13}, {1, 33, 8}, {21, 1, 6}, {64, 70, 65}})
    for (Transpose ta : {Transpose::no, Transpose::yes})
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        const int m = size[0], n = size[1], k = size[2];
        const int lda = (ta == Transpose::no ? k : m) + 2, ldb = (tb == Transpose::no ? n : k) + 1, ldc = n + 3;
        const int a_rows = ta == Transpose::no ? m : k, b_rows = tb == Transpose::no ? k : n;
        const auto a = random_vector<T>(std::size_t(a_rows * lda), seed++);
        const auto b = random_vector<T>(std::size_t(b_rows * ldb), seed++);
        const auto c0 = random_vector<T>(std::size_t(m * ldc), seed++);
        auto ra = a, rb = b;
        for (auto& v : ra) v = mode == MathMode::bf16 ? math::round_to_bf16(v) : math::round_to_tf32(v);
        for (auto& v : rb) v = mode == MathMode::bf16 ? math::round_to_bf16(v) : math::round_to_tf32(v);
        auto got = c0, want = c0, unrounded = c0;
        emulated->gemm(ta, tb, m, n, k, T(0.5), a.data(), lda, b.data(), ldb, T(0.25), got.data(), ldc);
        plain->gemm(ta, tb, m, n, k, T(0.5), ra.data(), lda, rb.data(), ldb, T(0.25), want.data(), ldc);
        plain->gemm(ta, tb, m, n, k, T(0.5), a.data(), lda, b.data(), ldb, T(0.25), unrounded.data(), ldc);
        INFO(to_string(mode) << " m " << m << " n " << n << " k " << k);
        if (m > 1 && n > 1) {
          CHECK(got == want);  // BLAS packs both operands: their layout in memory cannot change the sums
        } else {
          // The GEMV routes' sums may follow the operands' alignment (the
          // rounded copies lie elsewhere): equal to rounding.
          CHECK(test::relative_error(got, want) < (sizeof(T) == sizeof(float) ? 1e-6 : 1e-14));
        }
        CHECK(test::relative_error(got, unrounded) > (mode == MathMode::bf16 ? 1e-4 : 1e-5));
      }
}

}  // namespace

TEST_CASE("an emulated GEMM is the strict GEMM of rounded operands, float and double", "[cpu][precision]") {
  for (MathMode mode : {MathMode::tf32, MathMode::bf16}) {
    check_emulated_gemm<float>(mode);
    check_emulated_gemm<double>(mode);
  }
  // strict_fp32 is the plain GEMM.
  auto a = make_cpu_backend(CpuOptions{MathMode::strict_fp32, false, ProgramOrder::list});
  const auto x = random_vector<float>(12, 1), y = random_vector<float>(12, 2);
  float dot = 0;
  a->gemm(Transpose::no, Transpose::no, 1, 1, 12, 1.0f, x.data(), 12, y.data(), 1, 0.0f, &dot, 1);
  float want = 0;
  for (int i = 0; i < 12; ++i) want = std::fma(x[std::size_t(i)], y[std::size_t(i)], want);
  CHECK(dot == Approx(want).epsilon(1e-6));
  CHECK(dot != math::round_to_bf16(dot));  // not rounded on the way out either
}

TEST_CASE("the rank-one layer-1 input term is never rounded; wider inputs are GEMM operands", "[cpu][precision]") {
  for (const bool fused : {false, true}) {
    auto strict = make_cpu_backend(CpuOptions{MathMode::strict_fp32, fused, ProgramOrder::list});
    auto bf16 = make_cpu_backend(CpuOptions{MathMode::bf16, fused, ProgramOrder::list});
    // F = 3 projects by a loop in strict_fp32 and by a GEMM in the reduced
    // modes; F = 9 by a GEMM in both.
    for (int f : {1, 3, 9}) {
      const int n = 4, hidden = 5;
      const auto x = random_vector<float>(std::size_t(n * f), 1),
                 w = random_vector<float>(std::size_t(f * 4 * hidden), 2),
                 r = random_vector<float>(std::size_t(hidden * 4 * hidden), 3),
                 b = random_vector<float>(std::size_t(4 * hidden), 4);
      const std::vector<float> zeros(std::size_t(n * hidden), 0.0f);
      auto run = [&](BasicBackend<float>& backend, const std::vector<float>& xs, const std::vector<float>& ws) {
        std::vector<float> h(zeros.size()), c(zeros.size()), g(4 * zeros.size());
        if (fused) {
          LstmStepForward<float> s{n, f, hidden, xs.data(), ws.data(), r.data(), b.data(), nullptr, nullptr,
                                   h.data(), c.data(), g.data()};
          backend.lstm_step_forward(s);
        } else {
          backend.lstm_step(n, f, hidden, xs.data(), ws.data(), r.data(), b.data(), zeros.data(), zeros.data(),
                            h.data(), c.data(), g.data());
        }
        return h;
      };
      auto rounded = [](std::vector<float> v) {
        for (float& e : v) e = math::round_to_bf16(e);
        return v;
      };
      INFO((fused ? "fused" : "classic") << " step, F = " << f);
      const auto got = run(*bf16, x, w);
      if (f == 1) {
        CHECK(got == run(*strict, x, w));  // x W + b in full precision
      } else {
        CHECK(got != run(*strict, x, w));
        CHECK(got == run(*bf16, rounded(x), rounded(w)));  // rounding is all the mode does to x and W
        if (f == 9) CHECK(got == run(*strict, rounded(x), rounded(w)));
      }
    }
  }
}

// ---- every op in every mode against the double reference ---------------------

namespace {

using test::envelopes::Kind;

double normwise(const std::vector<float>& got, const std::vector<double>& want) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

// The largest error per tensor kind of one mode's run of every op.
struct ModeErrors {
  double error[test::envelopes::kKinds] = {};
  void add(Kind kind, double e) { error[int(kind)] = std::max(error[int(kind)], e); }
};

std::unique_ptr<BasicBackend<float>> float_backend(MathMode mode, bool fused) {
  return make_cpu_backend(CpuOptions{mode, fused, ProgramOrder::list});
}

// The layer ops (classic and fused) and the head at the given sizes, float in
// `mode` against double strict: the errors per kind.
ModeErrors op_errors(MathMode mode, int steps, int batch, int input, int hidden, int dense, int vocab) {
  ModeErrors e;
  auto ref = make_cpu_backend_double();
  auto fl = float_backend(mode, true);
  const LstmShape s{steps, batch, input, hidden};
  const std::size_t g = 4 * std::size_t(hidden), nh = std::size_t(steps) * batch * hidden;
  // Initializer-like scales: Glorot for W, about 1 / sqrt(H) for R.
  const double w_scale = std::sqrt(6.0 / double(input + g)), r_scale = 1.0 / std::sqrt(double(hidden));
  const auto x = random_vector(std::size_t(steps) * batch * input, 11, 0.0, 1.0);
  const auto w = random_vector(std::size_t(input) * g, 12, -w_scale, w_scale);
  const auto r = random_vector(std::size_t(hidden) * g, 13, -r_scale, r_scale);
  const auto b = random_vector(g, 14, -0.1, 0.1);
  const auto dh = random_vector(nh, 15, -0.01, 0.01);
  auto to_float = [](const std::vector<double>& v) { return test::convert<float>(v); };
  std::vector<double> h(nh), c(nh), gates(4 * nh), dw(w.size()), dr(r.size()), db(b.size()), dx(x.size()),
      ws(BasicBackend<double>::lstm_workspace_size(s));
  ref->lstm_forward(s, x.data(), w.data(), r.data(), b.data(), h.data(), c.data(), gates.data());
  ref->lstm_backward(s, x.data(), w.data(), r.data(), h.data(), c.data(), gates.data(), dh.data(), dx.data(),
                     dw.data(), dr.data(), db.data(), ws.data());
  const std::vector<double> dgates(ws.begin(), ws.begin() + std::ptrdiff_t(4 * nh));

  const auto xf = to_float(x), wf = to_float(w), rf = to_float(r), bf = to_float(b), dhf = to_float(dh);
  std::vector<float> hf(nh), cf(nh), gf(4 * nh), dwf(w.size()), drf(r.size()), dbf(b.size()), dxf(x.size()),
      wsf(ws.size());
  fl->lstm_forward(s, xf.data(), wf.data(), rf.data(), bf.data(), hf.data(), cf.data(), gf.data());
  fl->lstm_backward(s, xf.data(), wf.data(), rf.data(), hf.data(), cf.data(), gf.data(), dhf.data(), dxf.data(),
                    dwf.data(), drf.data(), dbf.data(), wsf.data());
  e.add(Kind::forward, normwise(hf, h));
  e.add(Kind::forward, normwise(cf, c));
  e.add(Kind::forward, normwise(gf, gates));
  e.add(Kind::backward, normwise(std::vector<float>(wsf.begin(), wsf.begin() + std::ptrdiff_t(4 * nh)), dgates));
  e.add(Kind::backward, normwise(dxf, dx));
  e.add(Kind::weight_gradient, normwise(dwf, dw));
  e.add(Kind::weight_gradient, normwise(drf, dr));
  e.add(Kind::weight_gradient, normwise(dbf, db));

  // The fused step ops on the same data: forward and backward, step by step.
  const std::size_t n = std::size_t(batch), f = std::size_t(input), hs = std::size_t(hidden);
  std::vector<float> wi(wf.size()), ri(rf.size()), bi(bf.size());
  math::interleave_gates<float>(wf, wi, f, hs);
  math::interleave_gates<float>(rf, ri, hs, hs);
  math::interleave_gates<float>(bf, bi, 1, hs);
  std::vector<float> sh(nh), sc(nh), sg(4 * nh), sdg(4 * nh), dc(n * hs);
  const int blocks = fl->lstm_partial_blocks(batch);
  std::vector<float> dbp(std::size_t(steps) * std::size_t(blocks) * g), dwp(dbp.size()), sdb(g), sdw(g);
  for (int t = 0; t < steps; ++t) {
    LstmStepForward<float> st{batch,
                              input,
                              hidden,
                              xf.data() + std::size_t(t) * n * f,
                              wi.data(),
                              ri.data(),
                              bi.data(),
                              t ? sh.data() + std::size_t(t - 1) * n * hs : nullptr,
                              t ? sc.data() + std::size_t(t - 1) * n * hs : nullptr,
                              sh.data() + std::size_t(t) * n * hs,
                              sc.data() + std::size_t(t) * n * hs,
                              sg.data() + std::size_t(t) * n * g};
    fl->lstm_step_forward(st);
  }
  for (int t = steps - 1; t >= 0; --t) {
    LstmStepBackward<float> st;
    st.batch = batch;
    st.hidden = hidden;
    st.r = ri.data();
    st.dgates_next = t < steps - 1 ? sdg.data() + std::size_t(t + 1) * n * g : nullptr;
    st.dh = dhf.data() + std::size_t(t) * n * hs;
    st.gates = sg.data() + std::size_t(t) * n * g;
    st.c = sc.data() + std::size_t(t) * n * hs;
    st.c_prev = t ? sc.data() + std::size_t(t - 1) * n * hs : nullptr;
    st.dc = dc.data();
    st.dgates = sdg.data() + std::size_t(t) * n * g;
    st.db_partial = dbp.data() + std::size_t(t) * std::size_t(blocks) * g;
    if (input == 1) {
      st.x = xf.data() + std::size_t(t) * n;
      st.dw_partial = dwp.data() + std::size_t(t) * std::size_t(blocks) * g;
    }
    fl->lstm_step_backward(st);
  }
  fl->lstm_partials_reduce(steps, blocks, int(g), dbp.data(), sdb.data());
  std::vector<float> keras_g(sg.size()), keras_dg(sdg.size()), keras_db(g);
  math::deinterleave_gates<float>(sg, keras_g, std::size_t(steps) * n, hs);
  math::deinterleave_gates<float>(sdg, keras_dg, std::size_t(steps) * n, hs);
  math::deinterleave_gates<float>(sdb, keras_db, 1, hs);
  e.add(Kind::forward, normwise(sh, h));
  e.add(Kind::forward, normwise(sc, c));
  e.add(Kind::forward, normwise(keras_g, gates));
  e.add(Kind::backward, normwise(keras_dg, dgates));
  e.add(Kind::weight_gradient, normwise(keras_db, db));
  if (input == 1) {
    fl->lstm_partials_reduce(steps, blocks, int(g), dwp.data(), sdw.data());
    std::vector<float> keras_dw(g);
    math::deinterleave_gates<float>(sdw, keras_dw, 1, hs);
    e.add(Kind::weight_gradient, normwise(keras_dw, dw));
  }

  // The head on the layer's last h.
  const std::size_t last = std::size_t(steps - 1) * n * hs;
  const std::vector<double> hx(h.begin() + std::ptrdiff_t(last), h.end());
  const auto w1 = random_vector(hs * std::size_t(dense), 21, -0.2, 0.2),
             b1 = random_vector(std::size_t(dense), 22, -0.1, 0.1),
             w2 = random_vector(std::size_t(dense) * std::size_t(vocab), 23, -0.2, 0.2),
             b2 = random_vector(std::size_t(vocab), 24, -0.1, 0.1);
  std::vector<std::int32_t> targets(n);
  for (std::size_t i = 0; i < n; ++i) targets[i] = std::int32_t(i * 7 % std::size_t(vocab));
  auto head = [&](auto& backend, const auto& xv, const auto& w1v, const auto& b1v, const auto& w2v, const auto& b2v) {
    using E = std::decay_t<decltype(xv[0])>;
    std::vector<E> y1(n * std::size_t(dense)), y1d(y1.size()), logits(n * std::size_t(vocab)), dlogits(logits.size()),
        dy1(y1.size()), dxv(n * hs), dw1(w1v.size()), db1(b1v.size()), dw2(w2v.size()), db2(b2v.size());
    double stats[2] = {0, 0};
    HeadTrainStep<E> hd;
    hd.batch = batch;
    hd.input = hidden;
    hd.dense = dense;
    hd.vocab = vocab;
    hd.x = xv.data();
    hd.w1 = w1v.data();
    hd.b1 = b1v.data();
    hd.w2 = w2v.data();
    hd.b2 = b2v.data();
    hd.targets = targets.data();
    hd.grad_scale = E(1) / E(batch);
    hd.y1 = y1.data();
    hd.y1_dropped = y1d.data();
    hd.logits = logits.data();
    hd.dlogits = dlogits.data();
    hd.dy1 = dy1.data();
    hd.dx = dxv.data();
    hd.dw1 = dw1.data();
    hd.db1 = db1.data();
    hd.dw2 = dw2.data();
    hd.db2 = db2.data();
    hd.stats = stats;
    backend.head_train_step(hd);
    return std::make_tuple(logits, dxv, dw1, dw2, db1, stats[0]);
  };
  const auto [lr, dxr, dw1r, dw2r, db1r, lossr] = head(*ref, hx, w1, b1, w2, b2);
  const auto [lf, dxf2, dw1f, dw2f, db1f, lossf] =
      head(*fl, to_float(hx), to_float(w1), to_float(b1), to_float(w2), to_float(b2));
  e.add(Kind::forward, normwise(lf, lr));
  e.add(Kind::backward, normwise(dxf2, dxr));
  e.add(Kind::weight_gradient, normwise(dw1f, dw1r));
  e.add(Kind::weight_gradient, normwise(dw2f, dw2r));
  e.add(Kind::weight_gradient, normwise(db1f, db1r));
  e.add(Kind::loss, std::fabs(lossf - lossr) / std::fabs(lossr));
  return e;
}

// One training step of a whole model (initialised as train does), float in
// `mode` on the classic and the fused path, against double strict: the loss
// and every view's gradient.
ModeErrors model_errors(MathMode mode, const ModelConfig& config, int batch) {
  ModeErrors e;
  auto ref_backend = make_cpu_backend_double();
  BasicModel<double> ref(*ref_backend, config, batch);
  ref.initialize(3);
  std::vector<std::int32_t> tokens(std::size_t(config.window) * std::size_t(batch));
  std::vector<std::int32_t> targets(static_cast<std::size_t>(batch));
  const std::uint64_t vocab = std::uint64_t(config.vocab);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = std::int32_t(random_below(vocab, 8, 1, i));
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = std::int32_t(random_below(vocab, 8, 2, i));
  ref.set_batch(tokens, targets);
  ref.reset_stats();
  ref.train_step(5, 0);
  const double loss = ref.read_stats().loss_sum;
  const auto grads = ref.download_gradients();
  const auto params = ref.download_parameters();
  for (const bool fused : {false, true}) {
    auto backend = float_backend(mode, fused);
    Model model(*backend, config, batch);
    model.upload_parameters(test::convert<float>(params));
    model.set_batch(tokens, targets);
    model.reset_stats();
    model.train_step(5, 0);
    e.add(Kind::loss, std::fabs(model.read_stats().loss_sum - loss) / std::fabs(loss));
    const auto got = model.download_gradients();
    for (const ParameterView& v : model.layout().views()) {
      const std::vector<float> g(got.begin() + std::ptrdiff_t(v.offset),
                                 got.begin() + std::ptrdiff_t(v.offset + v.size()));
      const std::vector<double> want(grads.begin() + std::ptrdiff_t(v.offset),
                                     grads.begin() + std::ptrdiff_t(v.offset + v.size()));
      e.add(Kind::weight_gradient, normwise(g, want));
    }
  }
  return e;
}

void report(const char* what, MathMode mode, const ModeErrors& e) {
  std::printf("%-28s %-5s", what, to_string(mode));
  for (int k = 0; k < test::envelopes::kKinds; ++k)
    std::printf("  %s %.2e", test::envelopes::kind_name(Kind(k)), e.error[k]);
  std::printf("\n");
}

ModelConfig small_model() {
  ModelConfig c;
  c.vocab = 23;
  c.window = 8;
  c.hidden1 = 32;
  c.hidden2 = 16;
  c.dense = 16;
  return c;
}

}  // namespace

TEST_CASE("every op in every mode stays within its envelope against the double reference", "[cpu][precision]") {
  ModeErrors by_mode[3];
  const MathMode modes[] = {MathMode::strict_fp32, MathMode::tf32, MathMode::bf16};
  for (int m = 0; m < 3; ++m) {
    const MathMode mode = modes[m];
    ModeErrors& e = by_mode[m];
    for (const ModeErrors& part : {op_errors(mode, 6, 20, 1, 24, 16, 30), op_errors(mode, 5, 70, 24, 16, 8, 11),
                                   model_errors(mode, small_model(), 12)})
      for (int k = 0; k < test::envelopes::kKinds; ++k) e.add(Kind(k), part.error[k]);
    report("ops and a small model", mode, e);
    const test::envelopes::Envelope& envelope = test::envelopes::for_mode(mode);
    for (int k = 0; k < test::envelopes::kKinds; ++k) {
      INFO(to_string(mode) << " " << test::envelopes::kind_name(Kind(k)) << ": error " << e.error[k]
                           << ", envelope " << envelope.bound[k]);
      CHECK(e.error[k] <= envelope.bound[k]);
      CHECK(e.error[k] > 0);
    }
  }
  // The reduced modes are reduced: each error well above FP32's, BF16's above TF32's.
  for (int k = 0; k < test::envelopes::kKinds; ++k) {
    INFO(test::envelopes::kind_name(Kind(k)));
    CHECK(by_mode[1].error[k] > 4 * by_mode[0].error[k]);
    CHECK(by_mode[2].error[k] > 2 * by_mode[1].error[k]);
  }
}

// The measurement behind support/precision_envelopes.hpp, at the recipe's
// shapes (a minute or two on two cores; hidden: run it with
//   build/test/cpu/test_cpu_ops "[.measure]" -s
// and copy the table into the header when the arithmetic changes).
TEST_CASE("measure: errors at the recipe's shapes, per mode and tensor kind", "[.measure]") {
  ModelConfig recipe;
  recipe.vocab = 127;
  for (MathMode mode : {MathMode::strict_fp32, MathMode::tf32, MathMode::bf16}) {
    report("layer 1 (T40 N256 F1 H512)", mode, op_errors(mode, 40, 256, 1, 512, 256, 127));
    report("layer 2 (T40 N256 F512 H256)", mode, op_errors(mode, 40, 256, 512, 256, 256, 127));
    report("recipe training step", mode, model_errors(mode, recipe, 256));
  }
}
