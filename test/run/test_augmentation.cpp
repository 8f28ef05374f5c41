// Transposition and fine-tuning in a training run (docs/quality.md), on the
// demo corpus with a tiny model: a transposed run resumes bit for bit and
// trains on other data than an untransposed one; --init-from keeps the shared
// symbols' rows of the source bit for bit, gives the others the fresh model's,
// and refuses a model of other sizes.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nocturne/checkpoint.hpp"
#include "nocturne/device.hpp"
#include "nocturne/error.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/training_run.hpp"
#include "run/transposed_epochs.hpp"
#include "run_test_settings.hpp"
#include "test_support.hpp"

using namespace nocturne;
namespace fs = std::filesystem;

namespace {

TrainingSettings tiny() { return test::tiny_run_settings(); }

DeviceChoice cpu() { return choose_device(test::cpu_request()); }

// Trains `folder`'s run (new or resumed) to its epochs; its last parameters.
std::vector<float> train(TrainingRun run) {
  DeviceChoice device = cpu();
  run.load_data();
  run.start(*device.backend, device.description);
  while (!run.finished()) REQUIRE(run.train_epoch().completed);
  return load_checkpoint(run.last_checkpoint()).parameters;
}

// The parameters of `config`'s model freshly initialised from `seed`.
std::vector<float> fresh_parameters(const ModelConfig& config, std::uint64_t seed) {
  DeviceChoice device = cpu();
  Model model(*device.backend, config, 1);
  model.initialize(seed);
  return model.download_parameters();
}

std::vector<float> row(const std::vector<float>& params, const ParameterView& v, int r) {
  const auto* first = params.data() + v.offset + std::size_t(r) * std::size_t(v.cols);
  return std::vector<float>(first, first + v.cols);
}

std::vector<float> column(const std::vector<float>& params, const ParameterView& v, int c) {
  std::vector<float> out;
  for (int r = 0; r < v.rows; ++r)
    out.push_back(params[v.offset + std::size_t(r) * std::size_t(v.cols) + std::size_t(c)]);
  return out;
}

}  // namespace

TEST_CASE("a transposed run draws per epoch, resumes bit for bit, keeps held-out pieces as written", "[run]") {
  const fs::path root = test::temp_path("nocturne-transpose-run");
  fs::remove_all(root);
  TrainingSettings s = tiny();
  s.split = "piece";
  s.heldout = 0.25;
  s.transpose = "-2..2";
  const std::vector<float> straight = train(TrainingRun::create(root / "straight", s, TrainingData{{}, true}));
  TrainingSettings one = s;
  one.epochs = 1;
  train(TrainingRun::create(root / "resumed", one, TrainingData{{}, true}));
  TrainingRun resumed = TrainingRun::resume(root / "resumed");
  resumed.set_epochs(2);
  const std::vector<float> continued = train(std::move(resumed));
  CHECK(continued == straight);

  TrainingSettings plain = s;
  plain.transpose = "0";
  CHECK(train(TrainingRun::create(root / "plain", plain, TrainingData{{}, true})) != straight);

  // The held-out pieces are not among the transposed ones; every training piece is, as written at shift 0.
  TrainingRun run = TrainingRun::resume(root / "straight");
  run.load_data();
  const Dataset& ds = run.dataset();
  const std::vector<TransposedPiece> pieces = transpose_training_pieces(ds, run.data_folder(), {-2, 2});
  std::size_t training_pieces = 0;
  for (const PieceRange& p : ds.pieces) {
    const bool held = std::any_of(ds.heldout_starts.begin(), ds.heldout_starts.end(),
                                  [&](std::int64_t x) { return x >= p.begin && x < p.end; });
    if (held) continue;
    REQUIRE(training_pieces < pieces.size());
    const TransposedPiece& t = pieces[training_pieces++];
    const auto zero = std::find(t.shifts.begin(), t.shifts.end(), 0);
    REQUIRE(zero != t.shifts.end());
    CHECK(t.versions[std::size_t(zero - t.shifts.begin())] ==
          std::vector<std::int32_t>(ds.tokens.begin() + p.begin, ds.tokens.begin() + p.end));
    CHECK(t.shifts.size() > 1);
    // The shifted versions keep what the vocabulary knows: kept + dropped = tokenized.
    std::int64_t kept = 0;
    for (std::size_t k = 0; k < t.shifts.size(); ++k)
      if (t.shifts[k] != 0) kept += std::int64_t(t.versions[k].size());
    CHECK(kept + t.dropped == t.transposed_tokens);
    CHECK(t.transposed_tokens > 0);
  }
  CHECK(training_pieces == pieces.size());
  CHECK(training_pieces < ds.pieces.size());
  fs::remove_all(root);
}

TEST_CASE("a timed run transposes pitches and keeps every duration and shift", "[run]") {
  const fs::path root = test::temp_path("nocturne-transpose-timed");
  fs::remove_all(root);
  TrainingSettings s = tiny();
  s.tokens = "timed";
  s.split = "piece";
  s.heldout = 0.25;
  s.transpose = "-3..3";
  s.epochs = 1;
  const std::vector<float> transposed = train(TrainingRun::create(root / "transposed", s, TrainingData{{}, true}));
  TrainingSettings plain = s;
  plain.transpose = "0";
  CHECK(train(TrainingRun::create(root / "plain", plain, TrainingData{{}, true})) != transposed);

  TrainingRun run = TrainingRun::resume(root / "transposed");
  run.load_data();
  const Dataset& ds = run.dataset();
  const std::vector<std::string>& symbols = ds.vocab.symbols();
  // A version's tokens of one component, as symbols.
  const auto part = [&](const std::vector<std::int32_t>& version, TimedComponent which) {
    std::vector<std::string> out;
    for (const std::int32_t i : version)
      if (timed_component(symbols[std::size_t(i)]) == which) out.push_back(symbols[std::size_t(i)]);
    return out;
  };
  const std::vector<TransposedPiece> pieces =
      transpose_training_pieces(ds, run.data_folder(), {-3, 3}, TokenKind::timed);
  REQUIRE(!pieces.empty());
  int moved = 0;
  for (const TransposedPiece& t : pieces) {
    const auto zero = std::find(t.shifts.begin(), t.shifts.end(), 0);
    REQUIRE(zero != t.shifts.end());
    const std::vector<std::int32_t>& written = t.versions[std::size_t(zero - t.shifts.begin())];
    for (std::size_t k = 0; k < t.shifts.size(); ++k) {
      if (t.shifts[k] == 0) continue;
      // Time is untouched by a change of key: the same durations and shifts in the same order.
      CHECK(part(t.versions[k], TimedComponent::duration) == part(written, TimedComponent::duration));
      CHECK(part(t.versions[k], TimedComponent::shift) == part(written, TimedComponent::shift));
      moved += part(t.versions[k], TimedComponent::symbol) != part(written, TimedComponent::symbol);
    }
  }
  CHECK(moved > 0);
  fs::remove_all(root);
}

TEST_CASE("--transpose is refused with the random split's held-out windows", "[run]") {
  TrainingSettings s = tiny();
  s.transpose = "all";
  CHECK_THROWS_WITH(s.validate(), Catch::Contains("--split piece"));
  s.heldout = 0;
  CHECK_NOTHROW(s.validate());
  s.transpose = "2..3";
  CHECK_THROWS_WITH(s.validate(), Catch::Contains("--transpose"));
}

TEST_CASE("--init-from keeps the shared symbols' weights bit for bit; new symbols start fresh", "[run]") {
  const fs::path root = test::temp_path("nocturne-init-from");
  fs::remove_all(root);
  // The source: the demo corpus with a high min-count (fewer symbols), one epoch.
  TrainingSettings source_settings = tiny();
  source_settings.min_count = 40;
  source_settings.epochs = 1;
  train(TrainingRun::create(root / "source", source_settings, TrainingData{{}, true}));
  Checkpoint source = load_checkpoint(root / "source" / "last.ckpt");
  REQUIRE(source.vocabulary.size() > 2);
  // One source symbol renamed to one the target lacks: its rows must not be used.
  const std::string renamed = source.vocabulary[1];
  source.vocabulary[1] = "0.1.2.3.4.5";
  save_checkpoint(root / "source.ckpt", source);

  TrainingSettings target = tiny();
  target.seed = 5;
  target.init_from = (root / "source.ckpt").string();
  const fs::path demo = root / "source" / "demo-corpus";
  {
    DeviceChoice device = cpu();
    TrainingRun run = TrainingRun::create(root / "target", target, TrainingData{demo});
    run.load_data();
    run.start(*device.backend, device.description);
  }
  const Checkpoint tuned = load_checkpoint(root / "target" / "last.ckpt");
  const std::vector<std::string>& vocab = tuned.vocabulary;
  REQUIRE(vocab.size() > source.vocabulary.size());
  const std::vector<float> fresh = fresh_parameters(tuned.model, target.seed);
  const ParameterLayout to(tuned.model), from(source.model);
  int shared = 0, fresh_rows = 0;
  for (int i = 0; i < int(vocab.size()); ++i) {
    INFO(vocab[std::size_t(i)]);
    const auto it = std::find(source.vocabulary.begin(), source.vocabulary.end(), vocab[std::size_t(i)]);
    const bool known = it != source.vocabulary.end();
    const int j = int(it - source.vocabulary.begin());
    for (const char* name : {"embedding", "dense2.W", "dense2.b"}) {
      const ParameterView& v = to.view(name);
      const auto got = v.name == "embedding" ? row(tuned.parameters, v, i) : column(tuned.parameters, v, i);
      const auto want = !known ? (v.name == "embedding" ? row(fresh, v, i) : column(fresh, v, i))
                               : (v.name == "embedding" ? row(source.parameters, from.view(name), j)
                                                        : column(source.parameters, from.view(name), j));
      CHECK(got == want);
    }
    if (vocab[std::size_t(i)] == renamed) CHECK_FALSE(known);
    (known ? shared : fresh_rows) += 1;
  }
  CHECK(shared == int(source.vocabulary.size()) - 1);
  CHECK(fresh_rows > 1);
  // Tensors that do not depend on the vocabulary come whole from the source.
  for (const char* name : {"lstm1.W", "lstm1.R", "lstm1.b", "lstm2.W", "lstm2.R", "lstm2.b", "dense1.W", "dense1.b"}) {
    const ParameterView& v = to.view(name);
    const ParameterView& w = from.view(name);
    INFO(name);
    CHECK(std::equal(tuned.parameters.begin() + std::ptrdiff_t(v.offset),
                     tuned.parameters.begin() + std::ptrdiff_t(v.offset + v.size()),
                     source.parameters.begin() + std::ptrdiff_t(w.offset)));
  }
  // The mapping and the source are recorded.
  const nlohmann::json meta = nlohmann::json::parse(tuned.metadata);
  REQUIRE(meta.contains("init_from"));
  CHECK(meta["init_from"]["checkpoint"] == target.init_from);
  CHECK(meta["init_from"]["shared_symbols"] == shared);
  CHECK(meta["init_from"]["mapping"].size() == vocab.size());
  CHECK(meta["init_from"]["run_id"] == nlohmann::json::parse(source.metadata)["run_id"]);
  // Resuming keeps the record and does not start over from the source.
  {
    TrainingRun run = TrainingRun::resume(root / "target");
    DeviceChoice device = cpu();
    run.load_data();
    run.start(*device.backend, device.description);
    REQUIRE(run.train_epoch().completed);
  }
  const Checkpoint after = load_checkpoint(root / "target" / "last.ckpt");
  CHECK(after.epochs_done == 1);
  CHECK(nlohmann::json::parse(after.metadata)["init_from"] == meta["init_from"]);

  // Other layer sizes, or scalar input across vocabularies, are refused by name.
  TrainingSettings wider = target;
  wider.hidden1 = 24;
  {
    TrainingRun run = TrainingRun::create(root / "wider", wider, TrainingData{demo});
    CHECK_THROWS_WITH(run.load_data(), Catch::Contains("hidden1 is 16, this run's 24"));
  }
  TrainingSettings scalar_source = source_settings;
  scalar_source.input = "scalar";
  train(TrainingRun::create(root / "scalar-source", scalar_source, TrainingData{demo}));
  TrainingSettings scalar = target;
  scalar.input = "scalar";
  scalar.init_from = (root / "scalar-source" / "last.ckpt").string();
  {
    TrainingRun run = TrainingRun::create(root / "scalar", scalar, TrainingData{demo});
    CHECK_THROWS_WITH(run.load_data(), Catch::Contains("--input scalar"));
  }
  // The same vocabulary with scalar input is allowed.
  scalar.min_count = scalar_source.min_count;
  {
    TrainingRun run = TrainingRun::create(root / "scalar-same", scalar, TrainingData{demo});
    CHECK_NOTHROW(run.load_data());
  }
  fs::remove_all(root);
}
