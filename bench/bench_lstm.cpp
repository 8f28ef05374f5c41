// bench_lstm: one LSTM layer (forward, backward, forward + backward) timed for
// our backends and for cuDNN, at the recipe's two layer shapes and over a
// sweep of shapes. See docs/benchmarks.md for how to run it and what each
// column means.
//
//   bench_lstm [--device cuda|cpu] [--quick] [--sweep full|quick|none] [--tiny]
//              [--reps N] [--sweep-reps N] [--warmup N] [--csv FILE] [--json FILE]
//
// --device cuda (the default where a GPU is usable): ours in every variant
//   (CudaOptions::math strict fp32 and TF32) and cuDNN with every algorithm
//   (STANDARD, PERSIST_STATIC, PERSIST_DYNAMIC, PERSIST_STATIC_SMALL_H) and
//   math type that accepts the shape; CUDA events after a warm-up, per
//   repetition, on fresh random data (two input sets in turn); ours and cuDNN
//   are checked against each other before they are timed. cuDNN is timed in
//   its own weight layout (weights mapped in once, gradients left in its
//   gradient space), as a framework built on it would run it: the comparison
//   favours cuDNN, never us.
// --device cpu: ours through make_cpu_backend() with std::chrono, checked
//   against the double-precision CPU backend first.
// --tiny: two tiny shapes and 3 repetitions (the CTest smoke run).
//
// Times are milliseconds per call of the whole layer (T steps).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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

#ifndef NOCTURNE_GIT_COMMIT
#define NOCTURNE_GIT_COMMIT "unknown"
#endif

using namespace nocturne;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- options ----------------------------------------------------------------

struct Options {
  std::string device;  // "cuda" or "cpu"; empty: cuda where usable
  std::string sweep;   // "full", "quick" or "none"; empty: full on cuda, none on cpu
  bool tiny = false;
  int reps = 0, sweep_reps = 0, warmup = -1;
  std::string csv, json;
};

[[noreturn]] void usage(const char* argv0, const std::string& error) {
  std::fprintf(stderr,
               "%s\nusage: %s [--device cuda|cpu] [--quick] [--sweep full|quick|none] [--tiny] [--reps N]\n"
               "       [--sweep-reps N] [--warmup N] [--csv FILE] [--json FILE]\n",
               error.c_str(), argv0);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto text = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0], arg + " needs a value");
      return argv[++i];
    };
    auto number = [&](int lo) {
      const std::string v = text();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (!end || *end || n < lo || n > 1000000) usage(argv[0], arg + ": bad value '" + v + "'");
      return int(n);
    };
    if (arg == "--device") o.device = text();
    else if (arg == "--sweep") o.sweep = text();
    else if (arg == "--quick") o.sweep = "quick";
    else if (arg == "--tiny") o.tiny = true;
    else if (arg == "--reps") o.reps = number(1);
    else if (arg == "--sweep-reps") o.sweep_reps = number(1);
    else if (arg == "--warmup") o.warmup = number(0);
    else if (arg == "--csv") o.csv = text();
    else if (arg == "--json") o.json = text();
    else if (arg == "--help" || arg == "-h") usage(argv[0], "bench_lstm: one LSTM layer, ours against cuDNN");
    else usage(argv[0], "unknown argument " + arg);
  }
  if (!o.device.empty() && o.device != "cuda" && o.device != "cpu") usage(argv[0], "--device must be cuda or cpu");
  if (!o.sweep.empty() && o.sweep != "full" && o.sweep != "quick" && o.sweep != "none")
    usage(argv[0], "--sweep must be full, quick or none");
  return o;
}

// ---- shapes -------------------------------------------------------------------

struct Job {
  std::string label;  // "recipe-layer1", "recipe-layer2", "sweep", "tiny"
  LstmShape shape;
  bool recipe = false;
};

std::vector<Job> jobs(const Options& o) {
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

std::string shape_text(const LstmShape& s) {
  return "T" + std::to_string(s.steps) + " N" + std::to_string(s.batch) + " F" + std::to_string(s.input) + " H" +
         std::to_string(s.hidden);
}

// ---- statistics and rows --------------------------------------------------------

struct Stats {
  double median = kNaN, min = kNaN, p10 = kNaN, p90 = kNaN;
  int reps = 0;
};

Stats summarize(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, std::size_t(q * double(ms.size() - 1) + 0.5))]; };
  s.min = ms.front();
  s.p10 = at(0.1);
  s.median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  s.p90 = at(0.9);
  s.reps = int(ms.size());
  return s;
}

struct Row {
  std::string device, label, impl, variant, math, phase, status, note;
  LstmShape shape;
  Stats stats;
  double build_ms = kNaN;   // cudnnBuildRNNDynamic (persist_dynamic only)
  double check_err = kNaN;  // normalised difference from the check reference
};

const char* kPhases[] = {"forward", "backward", "forward+backward"};

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

void time_ours(std::vector<Row>& rows, const Row& base, Layer<float>& layer, Timer timer, int warmup, int reps,
               bool synchronous_backend) {
  auto sync = [&] {
    if (synchronous_backend) layer.be.synchronize();
  };
  Row row = base;
  row.phase = kPhases[0];
  row.stats = timer(warmup, reps, nullptr, [&](int i) {
    layer.forward(i);
    sync();
  });
  rows.push_back(row);
  row.phase = kPhases[1];
  row.stats = timer(
      warmup, reps, [&](int i) { layer.forward(i); }, [&](int i) {
        layer.backward(i);
        sync();
      });
  rows.push_back(row);
  row.phase = kPhases[2];
  row.stats = timer(warmup, reps, nullptr, [&](int i) {
    layer.forward(i);
    layer.backward(i);
    sync();
  });
  rows.push_back(row);
}

// ---- the run's description ------------------------------------------------------------------

std::map<std::string, std::string> meta;
std::vector<std::string> meta_order;
void set_meta(const std::string& key, const std::string& value) {
  if (!meta.count(key)) meta_order.push_back(key);
  meta[key] = value;
}

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

// ---- output -----------------------------------------------------------------------------

std::string num(double v) {
  if (!std::isfinite(v)) return "";
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", v);
  return text;
}
std::string json_num(double v) {
  const std::string t = num(v);
  return t.empty() ? "null" : t;
}
std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

const char* kCsvHeader =
    "device,label,T,N,F,H,impl,variant,math,phase,status,median_ms,min_ms,p10_ms,p90_ms,reps,build_ms,check_err,note";

void write_csv(const std::string& path, const std::vector<Row>& rows) {
  std::ofstream out(path);
  for (const std::string& k : meta_order) out << "# " << k << ": " << meta[k] << "\n";
  out << kCsvHeader << "\n";
  for (const Row& r : rows)
    out << r.device << "," << r.label << "," << r.shape.steps << "," << r.shape.batch << "," << r.shape.input << ","
        << r.shape.hidden << "," << r.impl << "," << csv_field(r.variant) << "," << r.math << "," << r.phase << ","
        << r.status << "," << num(r.stats.median) << "," << num(r.stats.min) << "," << num(r.stats.p10) << ","
        << num(r.stats.p90) << "," << r.stats.reps << "," << num(r.build_ms) << "," << num(r.check_err) << ","
        << csv_field(r.note) << "\n";
  if (!out) throw FileError("cannot write " + path);
}

void write_json(const std::string& path, const std::vector<Row>& rows) {
  std::ofstream out(path);
  out << "{\n  \"tool\": \"bench_lstm\",\n  \"meta\": {";
  for (std::size_t i = 0; i < meta_order.size(); ++i)
    out << (i ? ", " : "") << json_str(meta_order[i]) << ": " << json_str(meta[meta_order[i]]);
  out << "},\n  \"rows\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out << (i ? "," : "") << "\n    {\"device\": " << json_str(r.device) << ", \"label\": " << json_str(r.label)
        << ", \"T\": " << r.shape.steps << ", \"N\": " << r.shape.batch << ", \"F\": " << r.shape.input
        << ", \"H\": " << r.shape.hidden << ", \"impl\": " << json_str(r.impl) << ", \"variant\": " << json_str(r.variant)
        << ", \"math\": " << json_str(r.math) << ", \"phase\": " << json_str(r.phase)
        << ", \"status\": " << json_str(r.status) << ", \"median_ms\": " << json_num(r.stats.median)
        << ", \"min_ms\": " << json_num(r.stats.min) << ", \"p10_ms\": " << json_num(r.stats.p10)
        << ", \"p90_ms\": " << json_num(r.stats.p90) << ", \"reps\": " << r.stats.reps
        << ", \"build_ms\": " << json_num(r.build_ms) << ", \"check_err\": " << json_num(r.check_err)
        << ", \"note\": " << json_str(r.note) << "}";
  }
  out << "\n  ]\n}\n";
  if (!out) throw FileError("cannot write " + path);
}

// The short table: per shape and phase, ours against the best cuDNN.
void print_table(const std::vector<Row>& rows) {
  if (!rows.empty() && rows.front().device == "cpu") {
    std::printf("\n%-22s %-17s %12s %12s %12s %12s  %s\n", "shape", "phase", "median ms", "p10 ms", "p90 ms",
                "check_err", "variant");
    for (const Row& r : rows)
      std::printf("%-22s %-17s %12s %12s %12s %12s  %s\n", shape_text(r.shape).c_str(), r.phase.c_str(),
                  num(r.stats.median).c_str(), num(r.stats.p10).c_str(), num(r.stats.p90).c_str(),
                  num(r.check_err).c_str(), r.variant.c_str());
    return;
  }
  struct Best {
    double ms = kNaN;
    std::string what;
  };
  auto better = [](Best& b, const Row& r) {
    if (r.status != "ok" || !std::isfinite(r.stats.median)) return;
    if (!std::isfinite(b.ms) || r.stats.median < b.ms) b = {r.stats.median, r.variant};
  };
  std::vector<std::string> keys;
  std::map<std::string, std::map<std::string, Best>> table;  // key -> column -> best
  for (const Row& r : rows) {
    const std::string key = shape_text(r.shape) + "|" + r.phase;
    if (!table.count(key)) keys.push_back(key);
    auto& cols = table[key];
    if (r.impl == "ours") {
      better(cols[r.math == "tf32" ? "ours_tf32" : "ours_fp32"], r);
      better(cols["ours_best"], r);
    } else if (r.impl == "cudnn") {
      better(cols[r.math == "fma" ? "cudnn_fma" : "cudnn_tc"], r);
      better(cols["cudnn_best"], r);
    }
  }
  auto ms = [](const Best& b) { return std::isfinite(b.ms) ? num(b.ms) : std::string("-"); };
  auto ratio = [](const Best& a, const Best& b) {
    if (!std::isfinite(a.ms) || !std::isfinite(b.ms) || a.ms <= 0) return std::string("-");
    char t[32];
    std::snprintf(t, sizeof(t), "%.2fx", b.ms / a.ms);
    return std::string(t);
  };
  std::printf("\n%-22s %-17s %10s %10s %10s %10s %14s %14s  %s\n", "shape", "phase", "ours fp32", "ours tf32",
              "cudnn fma", "cudnn tc", "fp32 speed-up", "best speed-up", "best cuDNN");
  for (const std::string& key : keys) {
    auto& c = table[key];
    const std::size_t bar = key.find('|');
    std::printf("%-22s %-17s %10s %10s %10s %10s %14s %14s  %s\n", key.substr(0, bar).c_str(),
                key.substr(bar + 1).c_str(), ms(c["ours_fp32"]).c_str(), ms(c["ours_tf32"]).c_str(),
                ms(c["cudnn_fma"]).c_str(), ms(c["cudnn_tc"]).c_str(), ratio(c["ours_fp32"], c["cudnn_fma"]).c_str(),
                ratio(c["ours_best"], c["cudnn_best"]).c_str(), c["cudnn_best"].what.c_str());
  }
  std::printf("(milliseconds per layer call, medians; speed-up = cuDNN time / ours: above 1 means ours is faster)\n");
}

// ---- CPU mode -------------------------------------------------------------------------------

void run_cpu(const Options& o, std::vector<Row>& rows) {
  auto backend = make_cpu_backend();
  auto reference = make_cpu_backend_double();
  const char* blas_threads = std::getenv("OPENBLAS_NUM_THREADS");
  set_meta("device", "cpu: " + cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " threads");
  set_meta("backend", backend->name());
  set_meta("openblas_threads", blas_threads ? blas_threads : "default (all cores)");
  for (const Job& job : jobs(o)) {
    const LstmShape& s = job.shape;
    const int reps = o.reps ? o.reps : (o.tiny ? 3 : job.recipe ? 5 : 3);
    const int warmup = o.warmup >= 0 ? o.warmup : 1;
    std::printf("%s %s: ours cpu, %d reps\n", job.label.c_str(), shape_text(s).c_str(), reps);
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
    {
      Layer<double> ref(*reference, s, d);
      ref.forward(0);
      ref.backward(0);
      layer.forward(0);
      layer.backward(0);
      base.check_err = max_error(layer.outputs(), ref.outputs());
      if (!(base.check_err < 1e-4)) {
        base.status = "mismatch";
        base.note = "fp32 vs double CPU backend differs by " + num(base.check_err);
      }
    }
    time_ours(rows, base, layer, &time_cpu, warmup, reps, true);
  }
}

// ---- CUDA mode ------------------------------------------------------------------------------

#if NOCTURNE_BENCH_WITH_CUDA
std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

void run_cuda(const Options& o, std::vector<Row>& rows) {
  const CudaStatus status = cuda_status();
  const CudaDeviceInfo& dev = status.devices.at(0);
  set_meta("device", "cuda:0 " + dev.name + " (compute " + std::to_string(dev.compute_major) + "." +
                         std::to_string(dev.compute_minor) + ", " + std::to_string(dev.multiprocessors) + " SMs, " +
                         std::to_string(dev.memory_bytes >> 20) + " MiB)");
  set_meta("driver", version_text(status.driver_version));
  set_meta("cuda_runtime", version_text(status.runtime_version));
#if NOCTURNE_BENCH_WITH_CUDNN
  set_meta("cudnn", cudnn::version_text(cudnn::loaded_version()) + " (compiled against " +
                        cudnn::version_text(cudnn::compiled_version()) + ")");
#else
  set_meta("cudnn", "not built (NOCTURNE_WITH_CUDNN off): ours only");
#endif
  CudaOptions fp32_options, tf32_options;
  tf32_options.math = MathMode::tf32;
  auto fp32 = make_cuda_backend(fp32_options);
  auto tf32 = make_cuda_backend(tf32_options);
  set_meta("backend_fp32", fp32->name());
  set_meta("backend_tf32", tf32->name());

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
    for (cudnn::Algo algo : cudnn::kAllAlgos) {
      for (cudnn::Math math : maths) {
        Row row = base;
        row.impl = "cudnn";
        row.variant = std::string("cudnn/") + cudnn::to_string(algo) + "/" + cudnn::to_string(math);
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
            row.note = "differs from ours/fp32 by " + num(row.check_err) + " (tolerance " + num(tol) + ")";
          }
          auto fwd = [&](int i) { lstm.forward(ours.x[i & 1].data(), ours.h.data()); };
          auto bwd = [&](int i) {
            lstm.backward(ours.x[i & 1].data(), ours.h.data(), ours.dh[i & 1].data(), ours.dx.data());
          };
          row.phase = kPhases[0];
          row.stats = time_gpu(warmup, reps, nullptr, fwd);
          rows.push_back(row);
          row.phase = kPhases[1];
          row.stats = time_gpu(warmup, reps, fwd, bwd);
          rows.push_back(row);
          row.phase = kPhases[2];
          row.stats = time_gpu(warmup, reps, nullptr, [&](int i) {
            fwd(i);
            bwd(i);
          });
          rows.push_back(row);
        } catch (const cudnn::NotSupported& e) {
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

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    const CudaStatus status = cuda_status();
    std::string device = o.device;
    if (device.empty()) device = status.usable ? "cuda" : "cpu";
    Options opts = o;
    if (opts.sweep.empty()) opts.sweep = device == "cuda" ? "full" : "none";
    set_meta("git_commit", NOCTURNE_GIT_COMMIT);
    set_meta("date_utc", now_utc());
    set_meta("host_cpu", cpu_model());
    set_meta("mode", device + (opts.tiny ? ", tiny" : "") + ", sweep " + opts.sweep);
    std::vector<Row> rows;
    if (device == "cuda") {
#if NOCTURNE_BENCH_WITH_CUDA
      if (!status.usable) {
        std::fprintf(stderr, "bench_lstm: --device cuda, but CUDA is not usable: %s\n", status.reason.c_str());
        return 1;
      }
      run_cuda(opts, rows);
#else
      std::fprintf(stderr, "bench_lstm: built without CUDA; use --device cpu\n");
      return 1;
#endif
    } else {
      run_cpu(opts, rows);
    }
    std::printf("\n");
    for (const std::string& k : meta_order) std::printf("# %s: %s\n", k.c_str(), meta[k].c_str());
    print_table(rows);
    int bad = 0;
    for (const Row& r : rows)
      if (r.status == "failed" || r.status == "mismatch") ++bad;
    if (bad) std::printf("%d rows failed or mismatched their check (see the status and note columns)\n", bad);
    if (!opts.csv.empty()) write_csv(opts.csv, rows);
    if (!opts.json.empty()) write_json(opts.json, rows);
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_lstm: %s\n", e.what());
    return 1;
  }
}
