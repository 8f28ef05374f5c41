// The LSTM benchmark: shapes, inputs, the checks and the timing of ours,
// cuDNN (cuda) and oneDNN (cpu). See lstm_suite.hpp and docs/benchmarks.md.
//
// --device cuda: ours in every variant (CudaOptions::math strict fp32 and
//   TF32) and cuDNN with every algorithm (STANDARD, PERSIST_STATIC,
//   PERSIST_DYNAMIC, PERSIST_STATIC_SMALL_H) and math type that accepts the
//   shape; CUDA events after a warm-up, per repetition, on fresh random data
//   (two input sets in turn); ours and cuDNN are checked against each other
//   before they are timed. cuDNN is timed in its own weight layout (weights
//   mapped in once, gradients left in its gradient space), as a framework
//   built on it would run it: the comparison favours cuDNN, never us.
// --device cpu: ours through make_cpu_backend() with std::chrono, checked
//   against the double-precision CPU backend first; then, where built in,
//   oneDNN's LSTM on the same data and thread count, checked against ours
//   first and timed in its own weight layout (as cuDNN).
//
// Times are milliseconds per call of the whole layer (T steps).

#include "bench/lstm_suite.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/lstm_report.hpp"
#include "midi/atomic_write.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"
#include "nocturne/rng.hpp"

#if NOCTURNE_BENCH_WITH_CUDA
#include <cuda_runtime_api.h>
#endif
#if NOCTURNE_BENCH_WITH_CUDNN
#include "cudnn/cudnn_lstm.hpp"
#endif
#if NOCTURNE_BENCH_WITH_ONEDNN
#include "bench/lstm_onednn.hpp"
#endif

#include "git_commit.hpp"  // NOCTURNE_GIT_COMMIT, written at every build (bench/git_commit.cmake)

namespace nocturne::bench {

namespace {

const char* kPhases[] = {"forward", "backward", "forward+backward"};

// ---- shapes -------------------------------------------------------------------

struct Job {
  std::string label;  // "recipe-layer1", "recipe-layer2", "sweep", "tiny"
  LstmShape shape;
  bool recipe = false;
};

std::vector<Job> jobs(const LstmBenchOptions& o) {
  std::vector<Job> out;
  if (o.tiny) {
    out.push_back({"tiny", {4, 2, 3, 8}, true});
    out.push_back({"tiny", {3, 2, 1, 5}, true});
    return out;
  }
  out.push_back({"recipe-layer1", {40, 256, 1, 512}, true});
  out.push_back({"recipe-layer2", {40, 256, 512, 256}, true});
  std::vector<int> batches, hiddens;
  if (o.sweep == "full") {
    batches = {1, 8, 32, 64, 128, 256, 512};
    hiddens = {128, 256, 512, 1024};
  } else if (o.sweep == "quick") {
    batches = {1, 64, 256};
    hiddens = {128, 512};
  }
  for (int input : {1, 512})
    for (int hidden : hiddens)
      for (int batch : batches) out.push_back({"sweep", {40, batch, input, hidden}, false});
  return out;
}

// A normalised difference above this fails a CPU check: fp32 against double,
// or oneDNN's fp32 against ours (summation orders differ; errors seen: 1e-6).
constexpr double kCpuTolerance = 1e-4;

// ---- inputs -------------------------------------------------------------------------

struct HostData {
  std::vector<float> w, r, b;
  std::vector<float> x[2], dh[2];
};

std::vector<float> random_vector(std::uint64_t seed, std::size_t n, float lo, float hi) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * float(random_uniform(seed, 0, i));
  return v;
}

HostData make_data(const LstmShape& s, std::uint64_t seed) {
  const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch), g4 = 4 * std::size_t(s.hidden);
  const float ws = 1.0f / std::sqrt(float(s.input + s.hidden));
  HostData d;
  d.w = random_vector(seed + 1, std::size_t(s.input) * g4, -ws, ws);
  d.r = random_vector(seed + 2, std::size_t(s.hidden) * g4, -ws, ws);
  d.b = random_vector(seed + 3, g4, -0.5f, 0.5f);
  for (int k = 0; k < 2; ++k) {
    d.x[k] = random_vector(seed + 10 + std::uint64_t(k), tn * std::size_t(s.input), -1.0f, 1.0f);
    d.dh[k] = random_vector(seed + 20 + std::uint64_t(k), tn * std::size_t(s.hidden), -1.0f, 1.0f);
  }
  return d;
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

Stats time_cpu(int warmup, int reps, const Step& setup, const Step& work) {
  for (int i = 0; i < warmup; ++i) {
    if (setup) setup(i);
    work(i);
  }
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    if (setup) setup(i);
    const auto start = std::chrono::steady_clock::now();
    work(i);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return summarize(ms);
}

#if NOCTURNE_BENCH_WITH_CUDA
void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw DeviceError(std::string(what) + ": " + cudaGetErrorName(e) + " " + cudaGetErrorString(e));
}

// CUDA events on the legacy default stream, which orders with the backend's
// blocking stream and is the stream the cuDNN objects here use.
Stats time_gpu(int warmup, int reps, const Step& setup, const Step& work) {
  for (int i = 0; i < warmup; ++i) {
    if (setup) setup(i);
    work(i);
  }
  std::vector<cudaEvent_t> ev(2 * std::size_t(reps));
  for (cudaEvent_t& e : ev) cuda_ok(cudaEventCreate(&e), "cudaEventCreate");
  for (int i = 0; i < reps; ++i) {
    if (setup) setup(i);
    cuda_ok(cudaEventRecord(ev[2 * std::size_t(i)], nullptr), "cudaEventRecord");
    work(i);
    cuda_ok(cudaEventRecord(ev[2 * std::size_t(i) + 1], nullptr), "cudaEventRecord");
  }
  cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    float t = 0;
    cuda_ok(cudaEventElapsedTime(&t, ev[2 * std::size_t(i)], ev[2 * std::size_t(i) + 1]), "cudaEventElapsedTime");
    ms.push_back(double(t));
  }
  for (cudaEvent_t e : ev) cudaEventDestroy(e);
  return summarize(ms);
}
#endif

// ---- one backend, three phases -----------------------------------------------------------

using Timer = Stats (*)(int, int, const Step&, const Step&);

// The three phases of any implementation: forward, backward after an untimed
// forward, and both; forward and backward include whatever waits the timer
// needs. Appends one row a phase to rows.
void time_phases(std::vector<Row>& rows, Row row, Timer timer, int warmup, int reps, const Step& forward,
                 const Step& backward) {
  row.phase = kPhases[0];
  row.stats = timer(warmup, reps, nullptr, forward);
  rows.push_back(row);
  row.phase = kPhases[1];
  row.stats = timer(warmup, reps, forward, backward);
  rows.push_back(row);
  row.phase = kPhases[2];
  row.stats = timer(warmup, reps, nullptr, [&](int i) {
    forward(i);
    backward(i);
  });
  rows.push_back(row);
}

void time_ours(std::vector<Row>& rows, const Row& base, Layer<float>& layer, Timer timer, int warmup, int reps,
               bool synchronous_backend) {
  auto sync = [&] {
    if (synchronous_backend) layer.be.synchronize();
  };
  time_phases(
      rows, base, timer, warmup, reps,
      [&](int i) {
        layer.forward(i);
        sync();
      },
      [&](int i) {
        layer.backward(i);
        sync();
      });
}

// ---- the run's description ------------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const std::size_t at = line.find(':');
      if (at != std::string::npos) return line.substr(at + 2);
    }
  return "unknown";
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char text[32] = {0};
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// ---- CPU mode -------------------------------------------------------------------------------

// The threads each side runs on: ours multithreads only its GEMMs (OpenBLAS);
// oneDNN's OpenMP runtime is given the same count.
void apply_threads(const LstmBenchOptions& o, Meta& meta) {
  if (o.threads > 0 && !set_cpu_threads(o.threads))
    throw ConfigError("--threads " + std::to_string(o.threads) + ": the BLAS library offers no thread control");
  const int ours = cpu_threads();
  const char* env = std::getenv("OPENBLAS_NUM_THREADS");
  const std::string source = o.threads > 0 ? "--threads"
                             : env         ? std::string("OPENBLAS_NUM_THREADS=") + env
                                           : std::string("OpenBLAS's default: every core");
  meta.set("openblas_threads", ours > 0 ? std::to_string(ours) + " (" + source + ")" : "unknown (not OpenBLAS)");
  meta.set("blas", cpu_blas_description());
#if NOCTURNE_BENCH_WITH_ONEDNN
  const int wanted = ours > 0 ? ours : o.threads;
  const int onednn = set_onednn_threads(wanted);
  meta.set("onednn", onednn_version());
  meta.set("onednn_threads", onednn > 0 ? std::to_string(onednn) + " (OpenMP" +
                                              (wanted > 0 ? std::string(", set to ours") : std::string()) + ")"
                                        : "its runtime's default");
#else
  meta.set("onednn", "not built in (oneDNN not found at configure time, or NOCTURNE_BENCH_ONEDNN off): ours only");
#endif
}

#if NOCTURNE_BENCH_WITH_ONEDNN
// oneDNN's LSTM on the data ours ran on, checked against ours (`want`: h, dx,
// dW, dR, db from x[0], dh[0]) before it is timed. Phases as ours, plus
// forward-inference (a forward that keeps nothing for backward).
void time_onednn(std::vector<Row>& rows, Row row, const HostData& d, const Outputs<float>& want, int warmup, int reps) {
  const LstmShape& s = row.shape;
  const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch);
  row.impl = "onednn";
  row.variant = "onednn/fp32";
  row.math = "fp32";
  row.status = "ok";
  row.note.clear();
  try {
    OneDnnLstm lstm(s, d.w.data(), d.r.data(), d.b.data());
    Outputs<float> got;
    got.h.resize(tn * std::size_t(s.hidden));
    got.dx.resize(tn * std::size_t(s.input));
    std::vector<float> h_inference(got.h.size());
    lstm.forward_inference(d.x[0].data(), h_inference.data());
    lstm.forward_training(d.x[0].data(), got.h.data());
    lstm.backward(d.x[0].data(), got.h.data(), d.dh[0].data(), got.dx.data());
    lstm.weight_gradients(got.dw, got.dr, got.db);
    row.check_err = std::max(max_error(got, want), normalised_error(h_inference, want.h));
    if (!(row.check_err < kCpuTolerance)) {
      row.status = "mismatch";
      row.note = "differs from ours/cpu/fp32 by " + number_text(row.check_err) + " (tolerance " +
                 number_text(kCpuTolerance) + ")";
    }
    std::vector<float> h(got.h.size()), dx(got.dx.size());
    auto inference = [&](int i) { lstm.forward_inference(d.x[i & 1].data(), h.data()); };
    auto forward = [&](int i) { lstm.forward_training(d.x[i & 1].data(), h.data()); };
    auto backward = [&](int i) { lstm.backward(d.x[i & 1].data(), h.data(), d.dh[i & 1].data(), dx.data()); };
    time_phases(rows, row, &time_cpu, warmup, reps, forward, backward);
    row.phase = "forward-inference";
    row.stats = time_cpu(warmup, reps, nullptr, inference);
    rows.push_back(row);
  } catch (const std::exception& e) {
    row.phase = "all";
    row.status = "failed";
    row.note = std::string("oneDNN: ") + e.what();
    rows.push_back(row);
    std::fprintf(stderr, "FAILED onednn/fp32 %s: %s\n", shape_text(s).c_str(), e.what());
  }
}
#endif

void run_cpu(const LstmBenchOptions& o, Meta& meta, std::vector<Row>& rows) {
  auto backend = make_cpu_backend();
  auto reference = make_cpu_backend_double();
  meta.set("device", "cpu: " + cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " threads");
  meta.set("backend", backend->name());
  apply_threads(o, meta);
  for (const Job& job : jobs(o)) {
    const LstmShape& s = job.shape;
    const int reps = job.recipe ? (o.reps ? o.reps : o.tiny ? 3 : 5) : (o.sweep_reps ? o.sweep_reps : 3);
    const int warmup = o.warmup >= 0 ? o.warmup : 1;
    std::printf("%s %s: cpu, %d reps\n", job.label.c_str(), shape_text(s).c_str(), reps);
    std::fflush(stdout);
    const HostData d = make_data(s, 0x6c73746d + std::uint64_t(s.batch) * 131 + std::uint64_t(s.hidden));
    Layer<float> layer(*backend, s, d);
    Row base;
    base.device = "cpu";
    base.label = job.label;
    base.shape = s;
    base.impl = "ours";
    base.variant = "ours/cpu/fp32";
    base.math = "fp32";
    base.status = "ok";
    // Correct first: against the double-precision CPU backend.
    layer.forward(0);
    layer.backward(0);
    const Outputs<float> ours = layer.outputs();
    {
      Layer<double> ref(*reference, s, d);
      ref.forward(0);
      ref.backward(0);
      base.check_err = max_error(ours, ref.outputs());
      if (!(base.check_err < kCpuTolerance)) {
        base.status = "mismatch";
        base.note = "fp32 vs double CPU backend differs by " + number_text(base.check_err);
      }
    }
    time_ours(rows, base, layer, &time_cpu, warmup, reps, true);
#if NOCTURNE_BENCH_WITH_ONEDNN
    time_onednn(rows, base, d, ours, warmup, reps);
#endif
  }
}

// ---- CUDA mode ------------------------------------------------------------------------------

#if NOCTURNE_BENCH_WITH_CUDA
std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

void run_cuda(const LstmBenchOptions& o, Meta& meta, std::vector<Row>& rows) {
  const CudaStatus status = cuda_status();
  const CudaDeviceInfo& dev = status.devices.at(0);
  meta.set("device", "cuda:0 " + dev.name + " (compute " + std::to_string(dev.compute_major) + "." +
                         std::to_string(dev.compute_minor) + ", " + std::to_string(dev.multiprocessors) + " SMs, " +
                         std::to_string(dev.memory_bytes >> 20) + " MiB)");
  meta.set("driver", version_text(status.driver_version));
  meta.set("cuda_runtime", version_text(status.runtime_version));
#if NOCTURNE_BENCH_WITH_CUDNN
  meta.set("cudnn", cudnn::version_text(cudnn::loaded_version()) + " (compiled against " +
                        cudnn::version_text(cudnn::compiled_version()) + ")");
#else
  meta.set("cudnn", "not built (NOCTURNE_WITH_CUDNN off): ours only");
#endif
  CudaOptions fp32_options, tf32_options;
  tf32_options.math = MathMode::tf32;
  auto fp32 = make_cuda_backend(fp32_options);
  auto tf32 = make_cuda_backend(tf32_options);
  meta.set("backend_fp32", fp32->name());
  meta.set("backend_tf32", tf32->name());

  for (const Job& job : jobs(o)) {
    const LstmShape& s = job.shape;
    const int reps = job.recipe ? (o.reps ? o.reps : o.tiny ? 3 : 100) : (o.sweep_reps ? o.sweep_reps : 30);
    const int warmup = o.warmup >= 0 ? o.warmup : 5;
    std::printf("%s %s: %d reps\n", job.label.c_str(), shape_text(s).c_str(), reps);
    std::fflush(stdout);
    const HostData d = make_data(s, 0x6c73746d + std::uint64_t(s.batch) * 131 + std::uint64_t(s.hidden));
    Row base;
    base.device = "cuda";
    base.label = job.label;
    base.shape = s;
    base.status = "ok";

    // Ours, strict fp32: the check reference for every other variant.
    Layer<float> ours(*fp32, s, d);
    ours.forward(0);
    ours.backward(0);
    const Outputs<float> want = ours.outputs();
    {
      Row row = base;
      row.impl = "ours";
      row.variant = "ours/fp32";
      row.math = "fp32";
      row.check_err = 0;
      time_ours(rows, row, ours, &time_gpu, warmup, reps, false);
    }
    {
      Layer<float> ours_tf32(*tf32, s, d);
      ours_tf32.forward(0);
      ours_tf32.backward(0);
      Row row = base;
      row.impl = "ours";
      row.variant = "ours/tf32";
      row.math = "tf32";
      row.check_err = max_error(ours_tf32.outputs(), want);
      if (!(row.check_err < 5e-2)) row.status = "mismatch";
      time_ours(rows, row, ours_tf32, &time_gpu, warmup, reps, false);
    }

#if NOCTURNE_BENCH_WITH_CUDNN
    // cuDNN on the fp32 backend's buffers, on the legacy default stream.
    std::vector<cudnn::Math> maths = {cudnn::Math::fma, cudnn::Math::default_math};
    if (job.recipe) maths.assign(cudnn::kAllMaths.begin(), cudnn::kAllMaths.end());
    for (cudnn::Algo algo : kCudnnAlgos) {
      for (cudnn::Math math : maths) {
        Row row = base;
        row.impl = "cudnn";
        row.variant = std::string("cudnn/") + nocturne::to_string(algo) + "/" + cudnn::to_string(math);
        row.math = cudnn::to_string(math);
        fp32->synchronize();
        try {
          cudnn::CudnnLstm lstm(s, algo, math, nullptr);
          if (algo == cudnn::Algo::persist_dynamic) row.build_ms = lstm.build_ms();
          lstm.set_weights(ours.w.data(), ours.r.data(), ours.b.data());
          lstm.forward(ours.x[0].data(), ours.h.data());
          lstm.backward(ours.x[0].data(), ours.h.data(), ours.dh[0].data(), ours.dx.data());
          lstm.weight_gradients(ours.dw.data(), ours.dr.data(), ours.db.data());
          cuda_ok(cudaDeviceSynchronize(), "cuDNN check run");
          row.check_err = max_error(ours.outputs(), want);
          const double tol = cudnn::uses_tensor_cores(math) ? 5e-2 : 1e-4;
          if (!(row.check_err < tol)) {
            row.status = "mismatch";
            row.note =
                "differs from ours/fp32 by " + number_text(row.check_err) + " (tolerance " + number_text(tol) + ")";
          }
          auto fwd = [&](int i) { lstm.forward(ours.x[i & 1].data(), ours.h.data()); };
          auto bwd = [&](int i) {
            lstm.backward(ours.x[i & 1].data(), ours.h.data(), ours.dh[i & 1].data(), ours.dx.data());
          };
          time_phases(rows, row, &time_gpu, warmup, reps, fwd, bwd);
        } catch (const NotSupportedError& e) {
          row.phase = "all";
          row.status = "not_supported";
          row.note = e.what();
          rows.push_back(row);
          cudaGetLastError();
        } catch (const DeviceError& e) {
          row.phase = "all";
          row.status = "failed";
          row.note = e.what();
          rows.push_back(row);
          cudaGetLastError();
          std::fprintf(stderr, "FAILED %s %s: %s\n", row.variant.c_str(), shape_text(s).c_str(), e.what());
        }
      }
    }
#endif
  }
}
#endif

void check_options(const LstmBenchOptions& o) {
  if (!o.device.empty() && o.device != "cuda" && o.device != "cpu")
    throw ConfigError("--device must be cuda or cpu, got '" + o.device + "'");
  if (!o.sweep.empty() && o.sweep != "full" && o.sweep != "quick" && o.sweep != "none")
    throw ConfigError("--sweep must be full, quick or none, got '" + o.sweep + "'");
  if (o.reps < 0 || o.sweep_reps < 0 || o.warmup < -1 || o.threads < 0)
    throw ConfigError("--reps, --sweep-reps, --warmup and --threads must not be negative");
}

}  // namespace

LstmBenchResult run_lstm_bench(const LstmBenchOptions& options) {
  check_options(options);
  LstmBenchOptions o = options;
  const CudaStatus status = cuda_status();
  if (o.device.empty()) o.device = status.usable ? "cuda" : "cpu";
  if (o.sweep.empty()) o.sweep = o.device == "cuda" ? "full" : "none";
  Meta meta;
  meta.set("git_commit", NOCTURNE_GIT_COMMIT);
  meta.set("date_utc", now_utc());
  meta.set("host_cpu", cpu_model());
  meta.set("mode", o.device + (o.tiny ? ", tiny" : "") + ", sweep " + o.sweep);
  std::vector<Row> rows;
  if (o.device == "cuda") {
#if NOCTURNE_BENCH_WITH_CUDA
    if (!status.usable) throw DeviceError("--device cuda, but CUDA is not usable: " + status.reason);
    run_cuda(o, meta, rows);
#else
    throw DeviceError("--device cuda, but this build has no CUDA backend; use --device cpu");
#endif
  } else {
    run_cpu(o, meta, rows);
  }
  std::printf("\n");
  for (const auto& [key, value] : meta.entries()) std::printf("# %s: %s\n", key.c_str(), value.c_str());
  print_table(rows);
  LstmBenchResult result;
  result.rows = int(rows.size());
  for (const Row& r : rows)
    if (r.status == "failed" || r.status == "mismatch") ++result.bad_rows;
  if (result.bad_rows)
    std::printf("%d rows failed or mismatched their check (see the status and note columns)\n", result.bad_rows);
  std::fflush(stdout);
  if (!o.csv.empty()) detail::write_file_atomically(o.csv, csv_text(meta, rows));
  if (!o.json.empty()) detail::write_file_atomically(o.json, json_text(meta, rows));
  return result;
}

}  // namespace nocturne::bench
