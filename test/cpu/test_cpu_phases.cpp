// The CPU backend's phase timing (BasicBackend::set_phase_timing): off, it
// reports nothing; on, a training step's marked phases and, inside the ops,
// their kinds of work ("lstm1 forward / cells", ...), each counted as often
// as the ops ran, and no part longer than the phase around it.

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/rng.hpp"

using namespace nocturne;

namespace {

// A small model on a CPU backend with `options`, one random batch set.
struct PhaseModel {
  ModelConfig config;
  std::unique_ptr<BasicBackend<float>> backend;
  std::optional<Model> model;
  std::optional<Adamax> adamax;

  PhaseModel(const CpuOptions& options, int batch) : backend(make_cpu_backend(options)) {
    config.vocab = 19;
    config.window = 7;
    config.hidden1 = 24;
    config.hidden2 = 12;
    config.dense = 10;
    model.emplace(*backend, config, batch);
    model->initialize(1);
    adamax.emplace(*backend, model->parameters().size(), AdamaxParams{});
    std::vector<std::int32_t> tokens(std::size_t(config.window) * std::size_t(batch));
    std::vector<std::int32_t> targets(static_cast<std::size_t>(batch));
    for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = std::int32_t(random_below(19, 3, 1, i));
    for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = std::int32_t(random_below(19, 3, 2, i));
    model->set_batch(tokens, targets);
  }
  void step() { model->train_step(1, *adamax); }
};

// One training step with phase timing on: the phases by name (none where
// the backend does not run the FP32 kernels).
std::map<std::string, PhaseTime> timed_step(const CpuOptions& options, int batch) {
  PhaseModel m(options, batch);
  m.backend->set_phase_timing(true);
  m.step();
  std::map<std::string, PhaseTime> by_name;
  for (const PhaseTime& t : m.backend->phase_times()) by_name[t.phase] = t;
  if (m.backend->name().find("AVX-512 LSTM kernels") == std::string::npos) by_name.clear();
  return by_name;
}

}  // namespace

// The AVX-512 FP32 kernels run each layer's forward (x W, recurrent GEMMs,
// cells) and its backward recurrence as one part each. They take sequences
// of 256 rows and more: 40 x 7 here.
TEST_CASE("CPU phase timing: the FP32 kernels' recurrence as one part", "[cpu][phases]") {
  auto by_name = timed_step(CpuOptions{}, 40);
  if (by_name.empty()) {
    WARN("this processor has no AVX-512F: the FP32 LSTM kernels are not used, nothing to check");
    return;
  }
  for (const char* name : {"lstm1 forward / recurrent GEMMs + cells", "lstm2 forward / recurrent GEMMs + cells",
                           "lstm1 backward / recurrent GEMMs + cells", "lstm2 backward / recurrent GEMMs + cells",
                           "lstm2 backward / weight-gradient GEMMs"}) {
    INFO(name);
    CHECK(by_name.count(name) == 1);
  }
  CHECK(by_name.count("lstm1 forward / input projection") == 0);
  CHECK(by_name.count("lstm2 forward / input projection") == 0);
  CHECK(by_name.count("lstm1 forward / cells") == 0);
  CHECK(by_name["lstm1 forward / recurrent GEMMs + cells"].spans == 1);  // one call a sequence
}

// The SGEMM path (fp32_lstm_kernels off): a GEMM and a cell loop per step.
TEST_CASE("CPU phase timing: marked phases and the kinds of work inside the ops", "[cpu][phases]") {
  CpuOptions options;
  options.fp32_lstm_kernels = false;
  PhaseModel m(options, 5);
  const ModelConfig& config = m.config;
  BasicBackend<float>* backend = m.backend.get();

  m.step();
  CHECK(backend->phase_times().empty());  // off by default

  backend->set_phase_timing(true);
  m.step();
  std::map<std::string, PhaseTime> by_name;
  for (const PhaseTime& t : backend->phase_times()) {
    CHECK(t.ms >= 0);
    CHECK(t.spans > 0);
    by_name[t.phase] = t;
  }
  for (const char* name : {"lstm1 forward", "lstm2 forward", "head", "lstm2 backward", "lstm1 backward", "adamax",
                           "lstm1 forward / input projection", "lstm1 forward / recurrent GEMMs",
                           "lstm1 forward / cells", "lstm2 backward / cells", "lstm2 backward / recurrent GEMMs",
                           "lstm2 backward / weight-gradient GEMMs", "head / head", "dropout / dropout",
                           "adamax / adamax"}) {
    INFO(name);
    CHECK(by_name.count(name) == 1);
  }
  // One cell loop per step, forward and backward.
  CHECK(by_name["lstm1 forward / cells"].spans == config.window);
  CHECK(by_name["lstm2 backward / cells"].spans == config.window);
  // The parts lie inside their phase.
  for (const char* phase : {"lstm1 forward", "lstm2 backward"}) {
    double parts = 0;
    for (const auto& [name, t] : by_name)
      if (name.rfind(std::string(phase) + " / ", 0) == 0) parts += t.ms;
    INFO(phase << ": parts " << parts << " ms, phase " << by_name[phase].ms << " ms");
    CHECK(parts <= by_name[phase].ms * 1.0001 + 1e-6);
  }
  CHECK(backend->phase_times().empty());  // read and cleared

  backend->set_phase_timing(false);
  m.step();
  CHECK(backend->phase_times().empty());
}
