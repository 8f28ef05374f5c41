// Times whole training steps and generation on the CPU backend at the
// recipe's shapes (batch 256, 40 steps, LSTM 512 then 256, dense 256,
// V = 127, scalar input, float32, dropout 0.1), next to an SGEMM rate
// measured in the same run, so the figures say how close to the machine's
// GEMM speed a training step gets.
//
//   training step: model.set_batch + model.train_step (forward + backward)
//                  + Adamax::step, median of --reps after --warmup; where the
//                  FP32 LSTM kernels run, the same step on the SGEMM path
//                  (CpuOptions::fp32_lstm_kernels off) in turn with it, and
//                  the kernels with the weight gradients after the recurrence
//                  on OpenBLAS's threads (CpuOptions::fp32_thread_weight_gradients
//                  off; the default runs them in the kernels' threads)
//   phases:        the same steps again with the backend's phase timing on:
//                  ms per step by kind of work (input projection, recurrent
//                  GEMMs, cells, weight-gradient GEMMs, head, dropout, Adamax)
//                  and by layer; the same for the bf16 step where it runs
//   bf16 step:     where the processor has AVX-512 BF16, the step in
//                  --precision bf16 on the fused BF16 LSTM kernels and on a
//                  BF16 GEMM per LSTM step (CpuOptions::bf16_lstm_kernels off)
//   generation:    batch 1, greedy, median ms per note: the window predictor
//                  (what generate runs), and beside it the recipe's loop
//                  (set_batch + predict() on the 40-token window, sliding)
//   FLOPs:         441 MFLOP per window forward + backward (performance.md)
//
//   bench_training_cpu [--reps N] [--warmup N] [--gen-reps N] [--sgemm-reps N] [--vocab V]
//
// --vocab sets V (127, the recipe's; the timed token stream's is 146,
// docs/tokenizer.md): the output layer is the only shape it changes.
//
// Besides the readable report it prints `RESULT key=value` lines, which
// bench/run_cpu_bench.sh puts beside PyTorch's (bench/torch_training_cpu.py).
// OpenBLAS picks its thread count from OPENBLAS_NUM_THREADS (default: all cores).

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/window_predictor.hpp"

using namespace nocturne;

namespace {

constexpr double kFlopsPerWindow = 441e6;  // forward + backward, performance.md

struct Options {
  int reps = 7, warmup = 1, gen_reps = 60, sgemm_reps = 5, vocab = 127;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    auto value = [&](int& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      out = std::atoi(argv[++i]);
      if (out < 1) {
        std::fprintf(stderr, "%s must be at least 1\n", argv[i - 1]);
        std::exit(2);
      }
    };
    if (!std::strcmp(argv[i], "--reps")) value(o.reps);
    else if (!std::strcmp(argv[i], "--warmup")) value(o.warmup);
    else if (!std::strcmp(argv[i], "--gen-reps")) value(o.gen_reps);
    else if (!std::strcmp(argv[i], "--sgemm-reps")) value(o.sgemm_reps);
    else if (!std::strcmp(argv[i], "--vocab")) value(o.vocab);
    else {
      std::fprintf(stderr, "usage: %s [--reps N] [--warmup N] [--gen-reps N] [--sgemm-reps N] [--vocab V]\n", argv[0]);
      std::exit(2);
    }
  }
  return o;
}

struct Timing {
  double median = 0, min = 0, max = 0;
};

Timing time_ms(int warmup, int reps, const std::function<void(int)>& work) {
  for (int i = 0; i < warmup; ++i) work(i);
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work(warmup + i);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front(), times.back()};
}

// Each work in turn, once per repetition, so a busy machine slows them alike.
std::vector<Timing> time_interleaved(int warmup, int reps, const std::vector<std::function<void(int)>>& works) {
  for (int i = 0; i < warmup; ++i)
    for (const auto& work : works) work(i);
  std::vector<std::vector<double>> times(works.size());
  for (int i = 0; i < reps; ++i)
    for (std::size_t w = 0; w < works.size(); ++w) {
      const auto start = std::chrono::steady_clock::now();
      works[w](warmup + i);
      times[w].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
  std::vector<Timing> out;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    out.push_back({t[t.size() / 2], t.front(), t.back()});
  }
  return out;
}

std::vector<float> random_floats(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = float(2.0 * random_uniform(seed, 0xbe7c, i) - 1.0);
  return v;
}

std::vector<std::int32_t> random_tokens(std::size_t n, std::int64_t vocab, std::uint64_t seed) {
  std::vector<std::int32_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::int32_t(random_below(std::uint64_t(vocab), seed, 0xbe7d, i));
  return v;
}

// The CPU backend's phase times: "<phase> / <kind>" inside its ops, "<phase>"
// for the span between marks, "<kind>" for ops outside any mark (Adamax).
// `result` prefixes the RESULT keys.
void print_phases(const std::vector<PhaseTime>& times, int reps, double step_ms, const char* result = "phase_") {
  std::vector<std::string> kinds;
  std::map<std::string, double> by_kind;
  std::vector<std::pair<std::string, double>> by_phase;
  double parts = 0;
  for (const PhaseTime& t : times) {
    const auto cut = t.phase.find(" / ");
    const bool is_part = cut != std::string::npos || t.phase == "adamax";
    if (!is_part) {
      by_phase.emplace_back(t.phase, t.ms / reps);
      continue;
    }
    const std::string kind = cut == std::string::npos ? t.phase : t.phase.substr(cut + 3);
    if (!by_kind.count(kind)) kinds.push_back(kind);
    by_kind[kind] += t.ms / reps;
    parts += t.ms / reps;
  }
  std::printf("phases of a training step (phase timing on, %d steps, median step %.2f ms):\n", reps, step_ms);
  std::printf("  %-34s %9s %7s\n", "kind of work", "ms/step", "share");
  for (const std::string& kind : kinds) {
    std::printf("  %-34s %9.2f %6.1f%%\n", kind.c_str(), by_kind[kind], 100.0 * by_kind[kind] / step_ms);
    std::string key = kind;
    for (char& ch : key) ch = ch == ' ' || ch == '-' ? '_' : ch;
    std::printf("RESULT %s%s_ms=%.3f\n", result, key.c_str(), by_kind[kind]);
  }
  std::printf("  %-34s %9.2f %6.1f%%\n", "rest (staging, fills, copies)", step_ms - parts,
              100.0 * (step_ms - parts) / step_ms);
  std::printf("  %-34s %9s %7s\n", "model phase", "ms/step", "share");
  for (const auto& [phase, ms] : by_phase) std::printf("  %-34s %9.2f %6.1f%%\n", phase.c_str(), ms, 100.0 * ms / step_ms);
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  ModelConfig config;  // the recipe: T 40, 512/256/256, dropout 0.1, scalar input
  config.vocab = opt.vocab;
  const int batch = 256;

  std::printf("Nocturne CPU training benchmark: batch %d, T %" PRId64 ", LSTM %" PRId64 "/%" PRId64 ", dense %" PRId64
              ", V %" PRId64 ", %s input, float32\n",
              batch, config.window, config.hidden1, config.hidden2, config.dense, config.vocab,
              input_mode_name(config.input));
  std::printf("BLAS: %s, %d threads (OPENBLAS_NUM_THREADS=%s)\n", cpu_blas_description().c_str(), cpu_threads(),
              std::getenv("OPENBLAS_NUM_THREADS") ? std::getenv("OPENBLAS_NUM_THREADS") : "unset");

  // The machine's GEMM rate, measured now: OpenBLAS's SGEMM and, where the
  // processor has AVX-512 BF16, the BF16 mode's GEMM, interleaved.
  double sgemm_gflops = 0;
  {
    const int n = 2048;
    const auto a = random_floats(std::size_t(n) * n, 1), b = random_floats(std::size_t(n) * n, 2);
    std::vector<float> c(std::size_t(n) * n);
    auto bf16 = make_cpu_backend(CpuOptions{MathMode::bf16, false, ProgramOrder::list, true});
    std::vector<std::function<void(int)>> works{[&](int) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(),
                  n);
    }};
    if (cpu_has_bf16_gemm())
      works.push_back([&](int) {
        bf16->gemm(Transpose::no, Transpose::no, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
      });
    const std::vector<Timing> t = time_interleaved(1, opt.sgemm_reps, works);
    sgemm_gflops = 2.0 * n * n * double(n) / (t[0].median * 1e-3) / 1e9;
    std::printf("sgemm 2048^3 (cblas_sgemm)          %9.2f ms   %7.1f GFLOP/s\n", t[0].median, sgemm_gflops);
    std::printf("RESULT sgemm_gflops=%.2f\n", sgemm_gflops);
    if (t.size() > 1) {
      const double bf16_gflops = 2.0 * n * n * double(n) / (t[1].median * 1e-3) / 1e9;
      std::printf("bf16 GEMM 2048^3 (AVX-512 BF16)     %9.2f ms   %7.1f GFLOP/s\n", t[1].median, bf16_gflops);
      std::printf("RESULT bf16_gemm_gflops=%.2f\n", bf16_gflops);
    }
  }

  auto backend = make_cpu_backend();
  Model model(*backend, config, batch);
  model.initialize(1);
  Adamax adamax(*backend, model.parameters().size(), AdamaxParams{});
  // A few distinct batches, cycled, so no step sees the data of the one before.
  constexpr int kBatches = 4;
  std::vector<std::vector<std::int32_t>> tokens, targets;
  for (int k = 0; k < kBatches; ++k) {
    tokens.push_back(random_tokens(std::size_t(config.window) * batch, config.vocab, std::uint64_t(10 + k)));
    targets.push_back(random_tokens(std::size_t(batch), config.vocab, std::uint64_t(20 + k)));
  }

  // One training step: stage, forward + backward, Adamax. Where the processor
  // has AVX-512 BF16, the same step in --precision bf16 (BF16 GEMM operands,
  // FP32 sums and state) is timed too, interleaved with FP32 step by step so
  // both see the same machine.
  auto step_of = [&](Model& m, Adamax& opt_state) {
    return [&m, &opt_state, &tokens, &targets](int i) {
      const auto k = std::size_t(i % kBatches);
      m.set_batch(tokens[k], targets[k]);
      m.train_step(1, std::uint64_t(i));
      opt_state.step(m.parameters().data(), m.gradients().data());
    };
  };
  std::vector<std::function<void(int)>> steps{step_of(model, adamax)};
  // A model of its own on another backend, stepped beside the default one:
  // made only where `options` give a backend other than the one named
  // `other` (an option that changes nothing on this processor is not timed).
  struct Variant {
    std::unique_ptr<Backend> backend;
    std::unique_ptr<Model> model;
    std::unique_ptr<Adamax> adamax;
    std::size_t index = 0;  // its place in steps and their timings
  };
  auto add_variant = [&](const CpuOptions& options, const std::string& other) {
    Variant v;
    v.backend = make_cpu_backend(options);
    v.index = steps.size();
    if (v.backend->name() != other) {
      v.model = std::make_unique<Model>(*v.backend, config, batch);
      v.model->initialize(1);
      v.adamax = std::make_unique<Adamax>(*v.backend, v.model->parameters().size(), AdamaxParams{});
      steps.push_back(step_of(*v.model, *v.adamax));
    }
    return v;
  };
  // The FP32 step again on the SGEMM path (an OpenBLAS SGEMM per LSTM step),
  // where the default runs the AVX-512 kernels.
  CpuOptions sgemm_options;
  sgemm_options.fp32_lstm_kernels = false;
  const Variant sgemm = add_variant(sgemm_options, backend->name());
  // The FP32 kernels with the weight gradients after the recurrence, by
  // OpenBLAS's threads over the whole batch (CpuOptions::fp32_thread_weight_gradients
  // off), where the default runs them in the kernels' threads on GEMMs of ours.
  CpuOptions after_options;
  after_options.fp32_thread_weight_gradients = false;
  const Variant after = add_variant(after_options, backend->name());
  Variant bf16, bf16_gemm;
  if (cpu_has_bf16_gemm()) {
    const CpuOptions bf16_options{MathMode::bf16, false, ProgramOrder::list, true};
    bf16 = add_variant(bf16_options, backend->name());
    // The bf16 step again on a BF16 GEMM per LSTM step (CpuOptions::bf16_lstm_kernels
    // off), where the default runs the fused BF16 kernels.
    CpuOptions gemm_options = bf16_options;
    gemm_options.bf16_lstm_kernels = false;
    bf16_gemm = add_variant(gemm_options, bf16.backend->name());
  }
  const std::vector<Timing> step_times = time_interleaved(opt.warmup, opt.reps, steps);
  const Timing step = step_times[0];
  const double windows_per_s = batch / (step.median * 1e-3);
  const double train_gflops = kFlopsPerWindow * windows_per_s / 1e9;
  std::printf("training step, batch %d                %9.2f ms   (min %.2f, max %.2f over %d reps, %d warm-up)\n",
              batch, step.median, step.min, step.max, opt.reps, opt.warmup);
  std::printf("  windows per second                   %9.1f\n", windows_per_s);
  std::printf("  achieved                             %9.1f GFLOP/s (441 MFLOP per window), %.0f%% of SGEMM's\n",
              train_gflops, 100.0 * train_gflops / sgemm_gflops);
  std::printf("  on %s\n", backend->name().c_str());
  std::printf("RESULT train_over_sgemm_rate=%.3f\n", train_gflops / sgemm_gflops);
  // An FP32 variant's line beside the default step's.
  auto print_fp32_variant = [&](const Variant& v, const char* label, const char* speedup, const char* key) {
    if (!v.model) return;
    const Timing& g = step_times[v.index];
    const double g_gflops = kFlopsPerWindow * batch / (g.median * 1e-3) / 1e9;
    std::printf("training step, %s (%s)\n", label, v.backend->name().c_str());
    std::printf("                                       %9.2f ms   (min %.2f, max %.2f), %.1f GFLOP/s, %.0f%% of "
                "SGEMM's; %s speed-up %.2fx\n",
                g.median, g.min, g.max, g_gflops, 100.0 * g_gflops / sgemm_gflops, speedup, g.median / step.median);
    std::printf("RESULT %s=%.3f\n", key, g.median);
  };
  print_fp32_variant(sgemm, "SGEMM path", "kernels'", "train_step_sgemm_path_ms");
  print_fp32_variant(after, "weight gradients after the recurrence", "in-thread gradients'",
                     "train_step_gradients_after_ms");
  if (bf16.model) {
    const Timing& b = step_times[bf16.index];
    std::printf("training step, bf16 (%s)\n", bf16.backend->name().c_str());
    std::printf("                                       %9.2f ms   (min %.2f, max %.2f), %.2f of fp32's time\n",
                b.median, b.min, b.max, b.median / step.median);
    std::printf("RESULT train_step_bf16_ms=%.3f\n", b.median);
    std::printf("RESULT bf16_over_fp32=%.3f\n", b.median / step.median);
    if (bf16_gemm.model) {
      const Timing& g = step_times[bf16_gemm.index];
      std::printf("training step, bf16, a BF16 GEMM per LSTM step (%s)\n", bf16_gemm.backend->name().c_str());
      std::printf("                                       %9.2f ms   (min %.2f, max %.2f), %.2f of fp32's time; "
                  "fused kernels' speed-up %.2fx\n",
                  g.median, g.min, g.max, g.median / step.median, g.median / b.median);
      std::printf("RESULT train_step_bf16_gemm_path_ms=%.3f\n", g.median);
    }
  } else {
    std::printf("training step, bf16: skipped (no AVX-512 BF16 on this processor; the bf16 mode is an emulation)\n");
  }
  std::printf("RESULT train_step_ms=%.3f\n", step.median);
  std::printf("RESULT windows_per_s=%.2f\n", windows_per_s);
  std::printf("RESULT train_gflops=%.2f\n", train_gflops);

  // Where a step's time goes: the same steps with phase timing on.
  backend->set_phase_timing(true);
  const Timing timed = time_ms(0, opt.reps, [&](int i) {
    const auto k = std::size_t(i % kBatches);
    backend->mark_phase("stage");
    model.set_batch(tokens[k], targets[k]);
    model.train_step(1, std::uint64_t(i));
    backend->mark_phase("");
    adamax.step(model.parameters().data(), model.gradients().data());
  });
  print_phases(backend->phase_times(), opt.reps, timed.median);
  if (bf16.model) {
    std::printf("bf16: ");
    bf16.backend->set_phase_timing(true);
    const Timing bf16_timed = time_ms(0, opt.reps, [&](int i) {
      const auto k = std::size_t(i % kBatches);
      bf16.backend->mark_phase("stage");
      bf16.model->set_batch(tokens[k], targets[k]);
      bf16.model->train_step(1, std::uint64_t(i));
      bf16.backend->mark_phase("");
      bf16.adamax->step(bf16.model->parameters().data(), bf16.model->gradients().data());
    });
    print_phases(bf16.backend->phase_times(), opt.reps, bf16_timed.median, "bf16_phase_");
  }

  // Generation at batch 1, greedy. What `nocturne generate` runs: the window
  // predictor (one batched step of the 40 windows that share the new token per
  // note). Beside it, the recipe's loop written directly: a fresh 40-step
  // forward pass per note. Both compute the same probabilities.
  Model generator(*backend, config, 1);
  generator.upload_parameters(model.download_parameters());
  const std::vector<std::int32_t> primer = random_tokens(std::size_t(config.window), config.vocab, 30);
  const auto argmax = [](const std::vector<float>& probs) {
    return std::int32_t(std::max_element(probs.begin(), probs.end()) - probs.begin());
  };
  WindowPredictor predictor(generator, 1);
  std::vector<std::int32_t> next{argmax(predictor.start(primer))};
  // The same in --precision bf16 where the processor has AVX-512 BF16, note by
  // note in turn with FP32.
  std::vector<std::function<void(int)>> pushes{[&](int) { next[0] = argmax(predictor.push(next)); }};
  std::unique_ptr<Model> bf16_generator;
  std::unique_ptr<WindowPredictor> bf16_predictor;
  std::vector<std::int32_t> bf16_next;
  if (bf16.backend) {
    bf16_generator = std::make_unique<Model>(*bf16.backend, config, 1);
    bf16_generator->upload_parameters(model.download_parameters());
    bf16_predictor = std::make_unique<WindowPredictor>(*bf16_generator, 1);
    bf16_next = {argmax(bf16_predictor->start(primer))};
    pushes.push_back([&](int) { bf16_next[0] = argmax(bf16_predictor->push(bf16_next)); });
  }
  const std::vector<Timing> note_times = time_interleaved(5, opt.gen_reps, pushes);
  const Timing note = note_times[0];
  std::vector<std::int32_t> window = primer;
  const Timing recipe_note = time_ms(5, opt.gen_reps, [&](int) {
    generator.set_batch(window, {});
    const std::int32_t token = argmax(generator.predict());
    std::rotate(window.begin(), window.begin() + 1, window.end());
    window.back() = token;
  });
  std::printf("generation, batch 1, per note         %9.3f ms   (min %.3f, max %.3f over %d notes)\n", note.median,
              note.min, note.max, opt.gen_reps);
  std::printf("  the recipe's loop (40-step pass)     %9.3f ms   (min %.3f, max %.3f over %d notes)\n",
              recipe_note.median, recipe_note.min, recipe_note.max, opt.gen_reps);
  if (note_times.size() > 1) {
    const Timing& b = note_times[1];
    std::printf("generation, bf16, batch 1, per note   %9.3f ms   (min %.3f, max %.3f over %d notes), %.2f of fp32's\n",
                b.median, b.min, b.max, opt.gen_reps, b.median / note.median);
    std::printf("RESULT note_bf16_ms=%.4f\n", b.median);
  }
  std::printf("RESULT note_ms=%.4f\n", note.median);
  std::printf("RESULT note_recipe_loop_ms=%.4f\n", recipe_note.median);
  return 0;
}
