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
//   against the double-precision CPU backend first; where that runs the
//   AVX-512 FP32 kernels, ours again on the SGEMM path (ours-sgemm rows,
//   checked against ours); then, where built in,
//   oneDNN's LSTM on the same data and thread count, checked against ours
//   first and timed in its own weight layout (as cuDNN).
//
// Times are milliseconds per call of the whole layer (T steps).

#include "lstm_bench/lstm_suite.hpp"

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

#include "core/cuda_module.hpp"
#include "lstm_bench/lstm_layer.hpp"
#include "lstm_bench/lstm_report.hpp"
#include "midi/atomic_write.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"

#if NOCTURNE_BENCH_WITH_ONEDNN
#include "lstm_bench/lstm_onednn.hpp"
#endif

#include "git_commit.hpp"  // NOCTURNE_GIT_COMMIT, written at every build (src/lstm_bench/git_commit.cmake)

namespace nocturne::inline v0::bench {

namespace {

// A normalised difference above this fails a CPU check: fp32 against double,
// or oneDNN's fp32 against ours (summation orders differ; errors seen: 1e-6).
constexpr double kCpuTolerance = 1e-4;

// ---- timing ---------------------------------------------------------------------------

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
  // Ours again with an OpenBLAS SGEMM per step (the path the AVX-512 kernels
  // replace), where the kernels run; timed right after them.
  CpuOptions sgemm_options;
  sgemm_options.fp32_lstm_kernels = false;
  auto sgemm_backend = make_cpu_backend(sgemm_options);
  const bool sgemm_row = backend->name() != sgemm_backend->name();
  auto reference = make_cpu_backend_double();
  meta.set("device", "cpu: " + cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " threads");
  meta.set("backend", backend->name());
  if (sgemm_row) meta.set("backend_sgemm", sgemm_backend->name() + " (impl ours-sgemm)");
  apply_threads(o, meta);
  for (const Job& job : jobs(o)) {
    const LstmShape& s = job.shape;
    const int reps = job.recipe ? (o.reps ? o.reps : o.tiny ? 3 : 5) : (o.sweep_reps ? o.sweep_reps : 3);
    const int warmup = o.warmup >= 0 ? o.warmup : 1;
    std::printf("%s %s: cpu, %d reps\n", job.label.c_str(), shape_text(s).c_str(), reps);
    std::fflush(stdout);
    const HostData d = make_data(s, data_seed(s));
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
    if (sgemm_row) {
      Layer<float> classic(*sgemm_backend, s, d);
      classic.forward(0);
      classic.backward(0);
      Row row = base;
      row.impl = "ours-sgemm";
      row.variant = "ours/cpu/fp32-sgemm";
      row.check_err = max_error(classic.outputs(), ours);
      if (!(row.check_err < kCpuTolerance)) {
        row.status = "mismatch";
        row.note = "differs from ours/cpu/fp32 by " + number_text(row.check_err);
      }
      time_ours(rows, row, classic, &time_cpu, warmup, reps, true);
    }
#if NOCTURNE_BENCH_WITH_ONEDNN
    time_onednn(rows, base, d, ours, warmup, reps);
#endif
  }
}

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
    if (!status.built) throw DeviceError("--device cuda, but this build has no CUDA backend; use --device cpu");
    if (!status.usable) throw DeviceError("--device cuda, but CUDA is not usable: " + status.reason);
    // Usable: the module is loaded. Its table has the CUDA mode.
    const cuda_module::CudaModule* module = cuda_module::loaded().module;
    if (!module || !module->lstm_bench) throw DeviceError("--device cuda: the CUDA module has no LSTM benchmark");
    module->lstm_bench(o, meta, rows);
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
