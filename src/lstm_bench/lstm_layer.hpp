#pragma once
// The pieces of the LSTM benchmark that its CPU mode (lstm_suite.cpp, in the
// engine) and its CUDA mode (lstm_suite_cuda.cpp, in the CUDA module) share:
// the shapes, the inputs, one layer's buffers on a backend, the checks and
// the three timed phases.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lstm_bench/lstm_report.hpp"
#include "lstm_bench/lstm_suite.hpp"
#include "nocturne/backend.hpp"

namespace nocturne::inline v0::bench {

inline constexpr const char* kPhases[] = {"forward", "backward", "forward+backward"};

// ---- shapes -------------------------------------------------------------------

struct Job {
  std::string label;  // "recipe-layer1", "recipe-layer2", "sweep", "tiny"
  LstmShape shape;
  bool recipe = false;
};

std::vector<Job> jobs(const LstmBenchOptions& o);

// ---- inputs -------------------------------------------------------------------------

struct HostData {
  std::vector<float> w, r, b;
  std::vector<float> x[2], dh[2];
};

HostData make_data(const LstmShape& s, std::uint64_t seed);

// The seed of a job's data, the same on every device.
inline std::uint64_t data_seed(const LstmShape& s) {
  return 0x6c73746d + std::uint64_t(s.batch) * 131 + std::uint64_t(s.hidden);
}

// ||a - b|| / ||b||.
template <typename A, typename B>
double normalised_error(const std::vector<A>& a, const std::vector<B>& b) {
  double d2 = 0, r2 = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const double d = double(a[i]) - double(b[i]);
    d2 += d * d;
    r2 += double(b[i]) * double(b[i]);
  }
  return r2 > 0 ? std::sqrt(d2 / r2) : std::sqrt(d2);
}

// The layer's outputs that a check compares: h, dx, dW, dR, db.
template <typename T>
struct Outputs {
  std::vector<T> h, dx, dw, dr, db;
};
template <typename A, typename B>
double max_error(const Outputs<A>& a, const Outputs<B>& b) {
  return std::max({normalised_error(a.h, b.h), normalised_error(a.dx, b.dx), normalised_error(a.dw, b.dw),
                   normalised_error(a.dr, b.dr), normalised_error(a.db, b.db)});
}

// One layer's buffers on a backend, with the two input sets.
template <typename T>
struct Layer {
  BasicBackend<T>& be;
  LstmShape s;
  Buffer<T> w, r, b, x[2], dh[2], h, c, gates, dx, dw, dr, db, work;

  template <typename E>
  static std::vector<T> cast(const std::vector<E>& v) {
    return std::vector<T>(v.begin(), v.end());
  }
  Buffer<T> up(const std::vector<float>& v) { return be.upload(std::span<const T>(cast(v))); }

  Layer(BasicBackend<T>& backend, const LstmShape& shape, const HostData& d) : be(backend), s(shape) {
    const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch), g4 = 4 * std::size_t(s.hidden);
    w = up(d.w);
    r = up(d.r);
    b = up(d.b);
    for (int k = 0; k < 2; ++k) {
      x[k] = up(d.x[k]);
      dh[k] = up(d.dh[k]);
    }
    h = be.template allocate<T>(tn * std::size_t(s.hidden));
    c = be.template allocate<T>(tn * std::size_t(s.hidden));
    gates = be.template allocate<T>(tn * g4);
    dx = be.template allocate<T>(tn * std::size_t(s.input));
    dw = be.template allocate<T>(std::size_t(s.input) * g4);
    dr = be.template allocate<T>(std::size_t(s.hidden) * g4);
    db = be.template allocate<T>(g4);
    work = be.template allocate<T>(BasicBackend<T>::lstm_workspace_size(s));
  }
  void forward(int k) {
    be.lstm_forward(s, x[k & 1].data(), w.data(), r.data(), b.data(), h.data(), c.data(), gates.data());
  }
  void backward(int k) {
    be.lstm_backward(s, x[k & 1].data(), w.data(), r.data(), h.data(), c.data(), gates.data(), dh[k & 1].data(),
                     dx.data(), dw.data(), dr.data(), db.data(), work.data());
  }
  Outputs<T> outputs() { return {be.download(h), be.download(dx), be.download(dw), be.download(dr), be.download(db)}; }
};

// ---- timing ---------------------------------------------------------------------------

// Per repetition: setup(i) untimed, then work(i) timed.
using Step = std::function<void(int)>;
using Timer = Stats (*)(int, int, const Step&, const Step&);

// The three phases of any implementation: forward, backward after an untimed
// forward, and both; forward and backward include whatever waits the timer
// needs. Appends one row a phase to rows.
void time_phases(std::vector<Row>& rows, Row row, Timer timer, int warmup, int reps, const Step& forward,
                 const Step& backward);

// Ours on one layer; with a synchronous backend each call waits for the device.
void time_ours(std::vector<Row>& rows, const Row& base, Layer<float>& layer, Timer timer, int warmup, int reps,
               bool synchronous_backend);

// The CUDA mode (lstm_suite_cuda.cpp): compiled into the CUDA module, reached
// through its function table (core/cuda_module.hpp).
void run_cuda(const LstmBenchOptions& o, Meta& meta, std::vector<Row>& rows);

}  // namespace nocturne::bench
