// Every non-LSTM op of the CUDA backend against the CPU reference backend, on
// seeded random inputs, through the backend interface. Tolerances: see
// gpu_test_support.hpp.

#include <cstring>
#include <limits>

#include "gpu_test_support.hpp"
#include "nocturne/error.hpp"
#include "test_support.hpp"
#include "core/rng_streams.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;

TEST_CASE("cuda_status describes a usable device", "[gpu][status]") {
  const CudaStatus status = cuda_status();
  REQUIRE(status.built);
  REQUIRE(status.usable);
  REQUIRE(!status.devices.empty());
  for (const CudaDeviceInfo& d : status.devices)
    WARN("device " << d.index << ": " << d.name << ", compute " << d.compute_major << "." << d.compute_minor << ", "
                   << d.multiprocessors << " SMs, " << (d.memory_bytes >> 20) << " MiB; driver "
                   << status.driver_version << ", runtime " << status.runtime_version);
  CHECK(gpu().device() == Device::cuda);
  CHECK_THROWS_AS(make_cuda_backend(CudaOptions{int(status.devices.size()), MathMode::strict_fp32, false}),
                  DeviceError);
}

TEST_CASE("transfers round-trip, and small copies from a reused host variable stay ordered", "[gpu][memory]") {
  Backend& g = gpu();
  for (std::size_t n : {std::size_t(1), std::size_t(1000), std::size_t(3) << 20}) {
    const std::vector<float> host = random_vector(n);
    Buffer<float> device = upload(g, host);
    const std::vector<float> back = g.download(device);
    CHECK(std::memcmp(back.data(), host.data(), n * sizeof(float)) == 0);
  }
  // One stack variable, changed after every copy: staging must have taken the
  // value at the time of the call (more copies than staging slots).
  Buffer<std::uint64_t> slots = g.allocate<std::uint64_t>(40);
  for (std::uint64_t i = 0; i < 40; ++i) {
    std::uint64_t value = i * 1000 + 7;
    g.copy_to_device(slots.data() + i, &value, sizeof value);
    value = 0;
  }
  const std::vector<std::uint64_t> got = g.download(slots);
  for (std::uint64_t i = 0; i < 40; ++i) CHECK(got[i] == i * 1000 + 7);
  // Allocations are zero-filled; copy_on_device copies.
  Buffer<float> zeros = g.allocate<float>(1234);
  for (float v : g.download(zeros)) REQUIRE(v == 0.0f);
  const std::vector<float> src = random_vector(1234);
  Buffer<float> a = upload(g, src);
  g.copy_on_device(zeros.data(), a.data(), 1234 * sizeof(float));
  CHECK(g.download(zeros) == src);
}

TEST_CASE("gemm matches the CPU for every transpose combination", "[gpu][gemm]") {
  struct Shape {
    int m, n, k;
  };
  std::vector<Shape> shapes{{1, 1, 1}, {3, 5, 7}, {31, 1, 17}, {1, 64, 33}, {256, 127, 256}};
  if (!small_run()) shapes.push_back({256, 2048, 512});
  for (const Shape& s : shapes)
    for (Transpose ta : {Transpose::no, Transpose::yes})
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        // Padded leading dimensions: the padding must come back untouched.
        const int a_rows = ta == Transpose::no ? s.m : s.k, a_cols = ta == Transpose::no ? s.k : s.m;
        const int b_rows = tb == Transpose::no ? s.k : s.n, b_cols = tb == Transpose::no ? s.n : s.k;
        const int lda = a_cols + 3, ldb = b_cols + 1, ldc = s.n + 2;
        const auto a = random_vector(std::size_t(a_rows) * lda);
        const auto b = random_vector(std::size_t(b_rows) * ldb);
        const auto c = random_vector(std::size_t(s.m) * ldc);
        std::vector<float> results[2];
        int which = 0;
        for (Backend* be : {&gpu(), &cpu()}) {
          Buffer<float> da = upload(*be, a), db = upload(*be, b), dc = upload(*be, c);
          be->gemm(ta, tb, s.m, s.n, s.k, 0.75f, da.data(), lda, db.data(), ldb, -0.5f, dc.data(), ldc);
          results[which++] = be->download(dc);
        }
        require_close("gemm m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" +
                          std::to_string(s.k) + " ta=" + std::to_string(int(ta)) + " tb=" + std::to_string(int(tb)),
                      results[0], results[1], kGemm);
        for (int i = 0; i < s.m; ++i)
          for (int j = s.n; j < ldc; ++j) REQUIRE(results[0][std::size_t(i) * ldc + j] == c[std::size_t(i) * ldc + j]);
      }
  // beta = 0 must ignore NaN in C (BLAS semantics); k = 0 scales C.
  Backend& g = gpu();
  const auto a = random_vector(12), b = random_vector(12);
  Buffer<float> da = upload(g, a), db = upload(g, b), dc = poisoned(g, 9);
  g.gemm(Transpose::no, Transpose::no, 3, 3, 4, 1.0f, da.data(), 4, db.data(), 3, 0.0f, dc.data(), 3);
  for (float v : g.download(dc)) CHECK(std::isfinite(v));
  const auto c0 = g.download(dc);
  g.gemm(Transpose::no, Transpose::no, 3, 3, 0, 1.0f, da.data(), 1, db.data(), 3, 2.0f, dc.data(), 3);
  const auto c1 = g.download(dc);
  for (std::size_t i = 0; i < 9; ++i) CHECK(c1[i] == 2.0f * c0[i]);
  // k = 0 with beta = 0 zeroes C whatever it held (the CPU backend's result).
  Buffer<float> dz = poisoned(g, 9);
  g.gemm(Transpose::no, Transpose::no, 3, 3, 0, 1.0f, da.data(), 1, db.data(), 3, 0.0f, dz.data(), 3);
  for (float v : g.download(dz)) CHECK(v == 0.0f);
  CHECK_THROWS_AS(g.gemm(Transpose::no, Transpose::no, 3, 3, 4, 1.0f, da.data(), 3, db.data(), 3, 0.0f, dc.data(), 3),
                  ShapeError);
}

TEST_CASE("fill, scalar input and embedding match the CPU", "[gpu][input]") {
  Backend& g = gpu();
  Buffer<float> x = poisoned(g, 1001);
  g.fill(x.data(), 1001, 0.25f);
  for (float v : g.download(x)) REQUIRE(v == 0.25f);

  const int vocab = 127;
  for (std::size_t n : {std::size_t(1), std::size_t(3), std::size_t(40 * 256)}) {
    const auto tokens = random_tokens(n, vocab);
    std::vector<float> out[2];
    int which = 0;
    for (Backend* be : {&gpu(), &cpu()}) {
      Buffer<std::int32_t> t = upload(*be, tokens);
      Buffer<float> o = poisoned(*be, n);
      be->scalar_input(t.data(), n, vocab, o.data());
      out[which++] = be->download(o);
    }
    CHECK(out[0] == out[1]);  // one IEEE division each: exact

    for (int dim : {1, 31, 64}) {
      const auto table = random_vector(std::size_t(vocab) * dim);
      const auto d_out = random_vector(n * std::size_t(dim));
      std::vector<float> fwd[2], bwd[2];
      which = 0;
      for (Backend* be : {&gpu(), &cpu()}) {
        Buffer<std::int32_t> t = upload(*be, tokens);
        Buffer<float> tab = upload(*be, table), dout = upload(*be, d_out);
        Buffer<float> o = poisoned(*be, n * std::size_t(dim)), dtab = poisoned(*be, table.size());
        be->embedding_forward(t.data(), n, dim, tab.data(), o.data());
        be->embedding_backward(t.data(), n, vocab, dim, dout.data(), dtab.data());
        fwd[which] = be->download(o);
        bwd[which++] = be->download(dtab);
      }
      CHECK(fwd[0] == fwd[1]);  // a gather: exact
      // Both add in increasing token order: exact too.
      CHECK(bwd[0] == bwd[1]);
    }
  }
}

TEST_CASE("dropout draws the CPU's masks exactly, forward and backward", "[gpu][dropout]") {
  for (std::size_t n : {std::size_t(1), std::size_t(1000), std::size_t(40 * 256 * 512)}) {
    if (small_run() && n > 100000) continue;
    const auto x = random_vector(n);
    const std::uint64_t offset_value = (std::uint64_t(7) << 32) + 5;
    std::vector<float> fwd[2], bwd[2];
    int which = 0;
    for (Backend* be : {&gpu(), &cpu()}) {
      Buffer<std::uint64_t> offset = be->allocate<std::uint64_t>(1);
      be->copy_to_device(offset.data(), &offset_value, sizeof offset_value);
      const DropoutKey key{0x1234567890abcdefULL, rng_stream::dropout + 1, 11, offset.data()};
      Buffer<float> in = upload(*be, x), y = poisoned(*be, n), dx = poisoned(*be, n);
      be->dropout_forward(key, 0.1f, n, in.data(), y.data());
      be->dropout_backward(key, 0.1f, n, in.data(), dx.data());
      fwd[which] = be->download(y);
      bwd[which++] = be->download(dx);
    }
    std::size_t dropped = 0;
    for (std::size_t i = 0; i < n; ++i) {
      REQUIRE((fwd[0][i] == 0.0f) == (fwd[1][i] == 0.0f));
      dropped += fwd[1][i] == 0.0f;
    }
    CHECK(fwd[0] == fwd[1]);  // the same mask and the same float scale: exact
    CHECK(bwd[0] == bwd[1]);
    if (n >= 1000) {
      CHECK(double(dropped) / double(n) > 0.05);
      CHECK(double(dropped) / double(n) < 0.15);
    }
  }
  // p = 0 copies; p outside [0, 1) is refused.
  Backend& g = gpu();
  const auto x = random_vector(100);
  Buffer<float> in = upload(g, x), out = poisoned(g, 100);
  g.dropout_forward(DropoutKey{}, 0.0f, 100, in.data(), out.data());
  CHECK(g.download(out) == x);
  CHECK_THROWS_AS(g.dropout_forward(DropoutKey{}, 1.0f, 100, in.data(), out.data()), ConfigError);
}

TEST_CASE("dense layer forward and backward match the CPU", "[gpu][dense]") {
  struct Shape {
    int n, k, m;
  };
  // n = 777: the bias gradient's column sums split the rows into uneven chunks.
  std::vector<Shape> shapes{{1, 1, 1}, {3, 31, 127}, {256, 256, 256}, {256, 256, 127}, {3, 256, 1}, {777, 31, 127}};
  for (const Shape& s : shapes) {
    const auto x = random_vector(std::size_t(s.n) * s.k), w = random_vector(std::size_t(s.k) * s.m);
    const auto b = random_vector(std::size_t(s.m)), dy = random_vector(std::size_t(s.n) * s.m);
    std::vector<float> y[2], dx[2], dw[2], db[2];
    int which = 0;
    for (Backend* be : {&gpu(), &cpu()}) {
      Buffer<float> dxb = upload(*be, x), dwb = upload(*be, w), dbb = upload(*be, b), ddy = upload(*be, dy);
      Buffer<float> oy = poisoned(*be, std::size_t(s.n) * s.m), odx = poisoned(*be, x.size()),
                    odw = poisoned(*be, w.size()), odb = poisoned(*be, b.size());
      be->dense_forward(s.n, s.k, s.m, dxb.data(), dwb.data(), dbb.data(), oy.data());
      be->dense_backward(s.n, s.k, s.m, dxb.data(), dwb.data(), ddy.data(), odx.data(), odw.data(), odb.data());
      y[which] = be->download(oy);
      dx[which] = be->download(odx);
      dw[which] = be->download(odw);
      db[which++] = be->download(odb);
    }
    const std::string shape = " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) + " m=" + std::to_string(s.m);
    require_close("dense y" + shape, y[0], y[1], kGemm);
    require_close("dense dx" + shape, dx[0], dx[1], kGemm);
    require_close("dense dW" + shape, dw[0], dw[1], kGemm);
    require_close("dense db" + shape, db[0], db[1], kGemm);
  }
}

TEST_CASE("softmax and softmax + cross-entropy match the CPU", "[gpu][output]") {
  for (int n : {1, 3, 256}) {
    for (int vocab : {1, 31, 127, 1000}) {
      if (small_run() && vocab > 127) continue;
      auto logits = random_vector(std::size_t(n) * vocab, -8.0f, 8.0f);
      if (vocab > 1) logits[1] = logits[0];  // a tie: the first maximum counts
      const auto targets = random_tokens(std::size_t(n), vocab);
      const std::vector<double> stats0{1.5, 2.0};  // the op adds to these
      std::vector<float> probs[2], dl[2];
      std::vector<double> stats[2], stats_nograd[2];
      int which = 0;
      for (Backend* be : {&gpu(), &cpu()}) {
        Buffer<float> l = upload(*be, logits), p = poisoned(*be, logits.size()), d = poisoned(*be, logits.size());
        Buffer<std::int32_t> t = upload(*be, targets);
        Buffer<double> st = upload(*be, stats0), st2 = upload(*be, stats0);
        be->softmax(n, vocab, l.data(), p.data());
        be->softmax_cross_entropy(n, vocab, l.data(), t.data(), 1.0f / float(n), d.data(), st.data());
        be->softmax_cross_entropy(n, vocab, l.data(), t.data(), 0.0f, nullptr, st2.data());
        probs[which] = be->download(p);
        dl[which] = be->download(d);
        stats[which] = be->download(st);
        stats_nograd[which++] = be->download(st2);
      }
      const std::string shape = " n=" + std::to_string(n) + " vocab=" + std::to_string(vocab);
      // Each row divides by a sum of `vocab` exponentials that the two
      // backends add in different orders: in float, 1000 terms in [e^-16, 1]
      // added in sequence or by 32 lanes and a butterfly differ by up to
      // 2.5e-6 (relative) per row and 9e-7 normalised over 256 rows.
      const Tolerance rows{5e-6, kElementwise.max_abs, kElementwise.max_rel};
      require_close("softmax" + shape, probs[0], probs[1], rows);
      // dlogits = p - onehot: near-cancellation at the target, so compare with
      // the GEMM tolerance for the relative part.
      require_close("dlogits" + shape, dl[0], dl[1], Tolerance{rows.normalised, 1e-6, 1e-4});
      require_close("loss" + shape, std::vector<float>{float(stats[0][0])}, std::vector<float>{float(stats[1][0])},
                    kElementwise);
      CHECK(stats[0][1] == stats[1][1]);  // correct counts: exact
      CHECK(stats_nograd[0] == stats[0]);
    }
  }
}

TEST_CASE("Adamax and sum_squares match the CPU", "[gpu][optimizer]") {
  const std::size_t n = small_run() ? 10007 : 1938559;
  const auto p0 = random_vector(n), g0 = random_vector(n, -0.01f, 0.01f);
  const auto m0 = random_vector(n, -0.001f, 0.001f), u0 = random_vector(n, 0.0f, 0.01f);
  AdamaxParams hp;
  hp.learning_rate = 0.002;
  std::vector<float> p[2], m[2], u[2];
  double sums[2] = {0, 0};
  int which = 0;
  for (Backend* be : {&gpu(), &cpu()}) {
    Buffer<float> bp = upload(*be, p0), bg = upload(*be, g0), bm = upload(*be, m0), bu = upload(*be, u0);
    for (std::int64_t step = 1; step <= 3; ++step) be->adamax(n, bp.data(), bg.data(), bm.data(), bu.data(), hp, step);
    p[which] = be->download(bp);
    m[which] = be->download(bm);
    u[which] = be->download(bu);
    Buffer<float> original = upload(*be, p0);
    sums[which++] = be->sum_squares(original.data(), n);
  }
  require_close("adamax params", p[0], p[1], kElementwise);
  require_close("adamax m", m[0], m[1], kElementwise);
  CHECK(u[0] == u[1]);  // max of products: exact
  INFO("sum_squares of the same input: gpu " << sums[0] << " cpu " << sums[1]);
  CHECK(std::fabs(sums[0] - sums[1]) <= 1e-12 * sums[1]);  // double sums of float squares, different order
  Backend& g = gpu();
  Buffer<float> bp = upload(g, p0);
  CHECK(g.sum_squares(bp.data(), n) == sums[0]);  // deterministic
  CHECK(g.sum_squares(bp.data(), 0) == 0.0);
}

TEST_CASE("misuse is refused with typed errors and leaves the backend working", "[gpu][errors]") {
  Backend& g = gpu();
  Buffer<float> x = g.allocate<float>(16);
  // Recorded work runs first at its first replay (eagerly, before it is
  // captured): that is where the misuse is refused.
  CHECK_THROWS_AS(g.record([&] { g.synchronize(); })->replay(), DeviceError);
  CHECK_THROWS_AS(g.record([&] {
    float v = 1.0f;
    g.copy_to_device(x.data(), &v, sizeof v);
  })->replay(),
                  DeviceError);
  CHECK_THROWS_AS(g.record([&] { (void)g.allocate<float>(4); })->replay(), DeviceError);
  CHECK_THROWS_AS(g.dense_forward(0, 1, 1, x.data(), x.data(), x.data(), x.data()), ShapeError);
  g.fill(x.data(), 16, 3.0f);
  for (float v : g.download(x)) CHECK(v == 3.0f);
}

}  // namespace
