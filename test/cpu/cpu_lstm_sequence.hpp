#pragma once
// The LSTM kernels' tests (test_cpu_lstm_fp32.cpp, test_cpu_lstm_bf16.cpp):
// one layer's sequence forward then backward on a backend, every output
// compared with another backend's, and the BLAS's thread count for a scope.

#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

#include "cpu_test_support.hpp"
#include "nocturne/backend.hpp"

namespace nocturne::inline v0::test {

template <typename T>
struct LstmSequence {
  std::vector<T> h, c, gates, h_masked, dx, dw, dr, db;
};

// Forward then backward of one layer, the inputs converted to T; a null mask
// runs the unmasked ops.
template <typename T, typename In>
LstmSequence<T> run_lstm_sequence(BasicBackend<T>& be, const LstmShape& s, const std::vector<In>& x,
                                  const std::vector<In>& w, const std::vector<In>& r, const std::vector<In>& b,
                                  const std::vector<In>& dh, const std::vector<In>* mask) {
  const std::vector<T> xt = convert<T>(x), wt = convert<T>(w), rt = convert<T>(r), bt = convert<T>(b),
                       dht = convert<T>(dh);
  const std::size_t nh = std::size_t(s.steps) * std::size_t(s.batch) * std::size_t(s.hidden);
  LstmSequence<T> out{std::vector<T>(nh),       std::vector<T>(nh),       std::vector<T>(4 * nh),
                      std::vector<T>(nh),       std::vector<T>(x.size()), std::vector<T>(w.size()),
                      std::vector<T>(r.size()), std::vector<T>(b.size())};
  std::vector<T> work(BasicBackend<T>::lstm_workspace_size(s));
  if (mask) {
    const std::vector<T> mt = convert<T>(*mask);
    be.lstm_forward_masked(s, xt.data(), wt.data(), rt.data(), bt.data(), mt.data(), out.h_masked.data(), out.h.data(),
                           out.c.data(), out.gates.data());
    be.lstm_backward_masked(s, xt.data(), wt.data(), rt.data(), mt.data(), out.h_masked.data(), out.h.data(),
                            out.c.data(), out.gates.data(), dht.data(), out.dx.data(), out.dw.data(), out.dr.data(),
                            out.db.data(), work.data());
  } else {
    be.lstm_forward(s, xt.data(), wt.data(), rt.data(), bt.data(), out.h.data(), out.c.data(), out.gates.data());
    be.lstm_backward(s, xt.data(), wt.data(), rt.data(), out.h.data(), out.c.data(), out.gates.data(), dht.data(),
                     out.dx.data(), out.dw.data(), out.dr.data(), out.db.data(), work.data());
  }
  return out;
}

// The forward's outputs (h, c, gates, and h_masked where masked) within
// `forward` of want's, the gradients within `gradient`.
template <typename A, typename B>
void check_lstm_close(const LstmSequence<A>& got, const LstmSequence<B>& want, bool masked, double forward,
                      double gradient) {
  CHECK(relative_error(got.h, want.h) < forward);
  CHECK(relative_error(got.c, want.c) < forward);
  CHECK(relative_error(got.gates, want.gates) < forward);
  if (masked) CHECK(relative_error(got.h_masked, want.h_masked) < forward);
  CHECK(relative_error(got.dx, want.dx) < gradient);
  CHECK(relative_error(got.dw, want.dw) < gradient);
  CHECK(relative_error(got.dr, want.dr) < gradient);
  CHECK(relative_error(got.db, want.db) < gradient);
}

// The BLAS's thread count (the kernels' too) for one scope.
struct CpuThreadsScope {
  int saved = cpu_threads();
  explicit CpuThreadsScope(int n) { set_cpu_threads(n); }
  ~CpuThreadsScope() {
    if (saved > 0) set_cpu_threads(saved);
  }
};

}  // namespace nocturne::test
