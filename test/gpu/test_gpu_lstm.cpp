// The LSTM ops of the CUDA backend against the CPU reference, over shapes with
// odd sizes: N in {1, 3, 256}, T in {1, 40}, H in {1, 31, 256, 512}, plus the
// recipe's two layers. The backward pass is fed the CPU forward's outputs on
// both backends, so its errors are its own.

#include "gpu_test_support.hpp"

namespace {

using namespace nocturne;
using namespace nocturne::test::gpu;

std::string describe(const LstmShape& s) {
  return "T=" + std::to_string(s.steps) + " N=" + std::to_string(s.batch) + " F=" + std::to_string(s.input) +
         " H=" + std::to_string(s.hidden);
}

std::vector<LstmShape> shapes() {
  std::vector<LstmShape> list{{1, 1, 1, 1}, {1, 3, 5, 31}, {40, 3, 1, 31}, {40, 1, 7, 1}, {40, 3, 31, 256}};
  if (small_run()) return list;
  list.push_back({1, 256, 512, 256});
  list.push_back({40, 1, 64, 512});
  list.push_back({40, 256, 1, 512});    // the recipe's layer 1
  list.push_back({40, 256, 512, 256});  // the recipe's layer 2
  return list;
}

TEST_CASE("lstm_forward and lstm_backward match the CPU", "[gpu][lstm]") {
  for (const LstmShape& s : shapes()) {
    const std::size_t t = std::size_t(s.steps), n = std::size_t(s.batch), f = std::size_t(s.input),
                      h = std::size_t(s.hidden);
    const std::size_t seq = t * n;
    // Keras-like scales keep the gates away from saturation.
    const float w_scale = float(std::sqrt(6.0 / double(f + 4 * h))), r_scale = float(1.0 / std::sqrt(double(h)));
    const auto x = random_vector(seq * f);
    const auto w = random_vector(f * 4 * h, -w_scale, w_scale);
    const auto r = random_vector(h * 4 * h, -r_scale, r_scale);
    const auto b = random_vector(4 * h, -0.1f, 0.1f);
    const auto dh = random_vector(seq * h);

    std::vector<float> hs[2], cs[2], gs[2];
    int which = 0;
    for (Backend* be : {&gpu(), &cpu()}) {
      Buffer<float> dx = upload(*be, x), dw = upload(*be, w), dr = upload(*be, r), db = upload(*be, b);
      Buffer<float> oh = poisoned(*be, seq * h), oc = poisoned(*be, seq * h), og = poisoned(*be, seq * 4 * h);
      be->lstm_forward(s, dx.data(), dw.data(), dr.data(), db.data(), oh.data(), oc.data(), og.data());
      hs[which] = be->download(oh);
      cs[which] = be->download(oc);
      gs[which++] = be->download(og);
    }
    require_close("lstm h " + describe(s), hs[0], hs[1], kLstmForward);
    require_close("lstm c " + describe(s), cs[0], cs[1], kLstmForward);
    require_close("lstm gates " + describe(s), gs[0], gs[1], kLstmForward);

    // Backward from the CPU's forward state, on both backends.
    std::vector<float> dxs[2], dws[2], drs[2], dbs[2];
    which = 0;
    for (Backend* be : {&gpu(), &cpu()}) {
      Buffer<float> bx = upload(*be, x), bw = upload(*be, w), br = upload(*be, r);
      Buffer<float> bh = upload(*be, hs[1]), bc = upload(*be, cs[1]), bg = upload(*be, gs[1]), bdh = upload(*be, dh);
      Buffer<float> odx = poisoned(*be, seq * f), odw = poisoned(*be, w.size()), odr = poisoned(*be, r.size()),
                    odb = poisoned(*be, b.size()), ws = poisoned(*be, Backend::lstm_workspace_size(s));
      be->lstm_backward(s, bx.data(), bw.data(), br.data(), bh.data(), bc.data(), bg.data(), bdh.data(), odx.data(),
                        odw.data(), odr.data(), odb.data(), ws.data());
      dxs[which] = be->download(odx);
      dws[which] = be->download(odw);
      drs[which] = be->download(odr);
      dbs[which++] = be->download(odb);
    }
    require_close("lstm dx " + describe(s), dxs[0], dxs[1], kLstmBackward);
    require_close("lstm dW " + describe(s), dws[0], dws[1], kLstmBackward);
    require_close("lstm dR " + describe(s), drs[0], drs[1], kLstmBackward);
    require_close("lstm db " + describe(s), dbs[0], dbs[1], kLstmBackward);
  }
}

TEST_CASE("lstm_backward without dx and column sums over many rows are deterministic", "[gpu][lstm]") {
  const LstmShape s{small_run() ? 3 : 40, small_run() ? 3 : 256, 31, small_run() ? 31 : 256};
  const std::size_t seq = std::size_t(s.steps) * std::size_t(s.batch), h = std::size_t(s.hidden),
                    f = std::size_t(s.input);
  Backend& g = gpu();
  Buffer<float> x = upload(g, random_vector(seq * f)), w = upload(g, random_vector(f * 4 * h, -0.1f, 0.1f)),
                r = upload(g, random_vector(h * 4 * h, -0.1f, 0.1f)), b = upload(g, random_vector(4 * h));
  Buffer<float> hb = poisoned(g, seq * h), cb = poisoned(g, seq * h), gb = poisoned(g, seq * 4 * h);
  Buffer<float> dh = upload(g, random_vector(seq * h));
  g.lstm_forward(s, x.data(), w.data(), r.data(), b.data(), hb.data(), cb.data(), gb.data());
  std::vector<float> first[3];
  for (int run = 0; run < 2; ++run) {
    Buffer<float> dw = poisoned(g, f * 4 * h), dr = poisoned(g, h * 4 * h), db = poisoned(g, 4 * h),
                  ws = poisoned(g, Backend::lstm_workspace_size(s));
    g.lstm_backward(s, x.data(), w.data(), r.data(), hb.data(), cb.data(), gb.data(), dh.data(), nullptr, dw.data(),
                    dr.data(), db.data(), ws.data());
    const std::vector<float> now[3] = {g.download(dw), g.download(dr), g.download(db)};
    for (int i = 0; i < 3; ++i) {
      for (float v : now[i]) REQUIRE(std::isfinite(v));
      if (run == 0)
        first[i] = now[i];
      else
        CHECK(now[i] == first[i]);  // bit-identical
    }
  }
}

}  // namespace
