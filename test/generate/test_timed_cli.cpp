// Timed tokens end to end through the nocturne program: a run records its
// token stream (config.json, checkpoints), generate decodes timed tokens into
// real note values, and a model used with the other stream's --tokens is
// refused in one line. Old checkpoints (no token kind) read as recipe.

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "nocturne/checkpoint.hpp"
#include "nocturne/error.hpp"
#include "nocturne/midi.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/trained_model.hpp"
#include "cli/cli_test_support.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace nocturne;
using nocturne::test::read_text;
using nocturne::test::run_cli;
using nocturne::test::RunResult;

namespace {

const fs::path& root() {
  static const fs::path dir = [] {
    const fs::path d = nocturne::test::temp_path("nocturne-test-timed-cli");
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

void expect_one_line_error(const RunResult& r, const std::string& needle) {
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

// One epoch of the demo preset on the demo corpus, timed: seconds on one core.
const fs::path& timed_run() {
  static const fs::path run_folder = [] {
    const fs::path folder = root() / "timed-run";
    const RunResult r = run_cli("train --data demo --tokens timed --epochs 1 --device cpu --threads 1 --out \"" +
                         folder.string() + "\"");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return folder;
  }();
  return run_folder;
}

}  // namespace

TEST_CASE("a timed run records its token stream; resuming it as recipe is refused in one line") {
  const fs::path run_folder = timed_run();
  const json config = json::parse(read_text(run_folder / "config.json"));
  CHECK(config["settings"]["tokens"] == "timed");
  const TrainedModel trained = open_trained_model(run_folder / "last.ckpt");
  CHECK(trained.data.tokens == TokenKind::timed);
  CHECK(json::parse(trained.checkpoint.metadata)["settings"]["tokens"] == "timed");
  bool has_duration = false, has_shift = false;
  for (const std::string& symbol : trained.vocabulary()) {
    REQUIRE(timed_component(symbol).has_value());
    has_duration |= timed_component(symbol) == TimedComponent::duration;
    has_shift |= timed_component(symbol) == TimedComponent::shift;
  }
  CHECK(has_duration);
  CHECK(has_shift);
  const RunResult info = run_cli("info --json \"" + run_folder.string() + "\"");
  REQUIRE(info.exit_code == 0);
  CHECK(json::parse(info.out)["checkpoint"]["tokens"] == "timed");
  expect_one_line_error(
      run_cli("train --resume \"" + run_folder.string() + "\" --tokens recipe --epochs 2 --device cpu"),
      "tokens = \"timed\"");
}

TEST_CASE("a checkpoint without a token kind reads as recipe; one with durations in its vocabulary as timed") {
  Checkpoint c = open_trained_model(timed_run() / "last.ckpt").checkpoint;
  json m = json::parse(c.metadata);
  m["settings"].erase("tokens");
  c.metadata = m.dump();
  // The vocabulary still holds durations and shifts: timed whatever the metadata says.
  save_checkpoint(root() / "no-kind-timed.ckpt", c);
  CHECK(open_trained_model(root() / "no-kind-timed.ckpt").data.tokens == TokenKind::timed);
  // Symbols only, as every checkpoint before timed tokens: recipe.
  c.vocabulary.clear();
  for (int k = 0; k < c.model.vocab; ++k) c.vocabulary.push_back(pitch_name(30 + k));
  save_checkpoint(root() / "recipe.ckpt", c);
  CHECK(open_trained_model(root() / "recipe.ckpt").data.tokens == TokenKind::recipe);
  const std::string recipe_model = "--model \"" + (root() / "recipe.ckpt").string() + "\" --device cpu ";
  expect_one_line_error(run_cli("generate " + recipe_model + "--tokens timed --no-audio --out \"" +
                            (root() / "never").string() + "\""),
                        "is a model of recipe tokens");
  CHECK_FALSE(fs::exists(root() / "never" / "output-01.mid"));
  // Duration and shift tokens are vocabulary symbols; malformed ones are not.
  for (const char* bad : {"d1/5", "s0", "d5"}) {
    c.vocabulary.back() = bad;
    CHECK_THROWS_AS(encode_checkpoint(c), ConfigError);
  }
  c.vocabulary.back() = "s7/3";
  CHECK_NOTHROW(encode_checkpoint(c));
}

TEST_CASE("generate from a timed model writes real note values into the MIDI and the score") {
  const std::string model = "--model \"" + timed_run().string() + "\" --device cpu ";
  expect_one_line_error(run_cli("generate " + model + "--tokens recipe --no-audio"), "is a model of timed tokens");
  expect_one_line_error(run_cli("evaluate " + model + "--tokens recipe"), "is a model of timed tokens");
  const fs::path out = root() / "generated";
  const RunResult r = run_cli("generate " + model + "--notes 300 --temperature 1 --seed 3 --no-audio --no-primer " +
                              "--out \"" + out.string() + "\"");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(read_text(out / "output-01.tokens.json"));
  CHECK(j["tokens_kind"] == "timed");
  const auto tokens = j["tokens"].get<std::vector<std::string>>();
  // The MIDI holds the decoded events: every note at its onset for its duration.
  const MidiFile expected = timed_tokens_to_midi(tokens);
  const MidiFile midi = read_midi(out / "output-01.mid");
  REQUIRE(midi.tracks.size() == 2);
  auto as_set = [](const MidiFile& f) {
    std::multiset<std::tuple<std::int64_t, std::int64_t, int>> notes;
    for (const Note& n : f.tracks[1].notes) notes.insert({n.on_tick, n.off_tick, n.pitch});
    return notes;
  };
  CHECK(as_set(midi) == as_set(expected));
  std::set<std::int64_t> durations;
  for (const Note& n : midi.tracks[1].notes) durations.insert(n.duration());
  CHECK(durations.size() > 1);
  const std::string xml = read_text(out / "output-01.musicxml");
  CHECK(xml.find("<beats>4</beats>") != std::string::npos);
  CHECK(xml.find("<divisions>") != std::string::npos);
  CHECK(fs::file_size(out / "output-01.roll.png") > 100);

  // evaluate: the held-out windows by part of the stream, and the piece's rhythm beside the corpus's.
  const RunResult e = run_cli("evaluate " + model + "--json --generated \"" + out.string() + "\"");
  INFO(e.out << e.err);
  REQUIRE(e.exit_code == 0);
  const json report = json::parse(e.out);
  const json& parts = report["components"];
  CHECK(parts["symbol"]["windows"].get<std::int64_t>() + parts["duration"]["windows"].get<std::int64_t>() +
            parts["shift"]["windows"].get<std::int64_t>() ==
        report["windows"].get<std::int64_t>());
  CHECK(parts["duration"]["cross_entropy"].get<double>() > 0);
  const json& timing = report["timing"];
  CHECK(timing["corpus"]["notes_per_bar"].get<double>() > 0);
  REQUIRE(timing["generated"].size() == 1);
  const double js = timing["generated"][0]["js_durations_bits"].get<double>();
  CHECK(js >= 0);
  CHECK(js <= 1);
  CHECK(report["generated"][0]["tokens"].get<std::size_t>() == tokens.size());
}
