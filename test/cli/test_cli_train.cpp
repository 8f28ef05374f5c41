// `nocturne train` end to end on the demo corpus: the run folder, the history,
// the JSONL events, the info command, the demo-corpus command.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_test_support.hpp"
#include "nocturne/checkpoint.hpp"

using namespace nocturne::test;

TEST_CASE("train on the demo corpus writes a complete run folder", "[cli][train]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  const RunResult r = run_cli("train --data demo --out " + quote(run.string()) + " " + kTiny + " --epochs 2");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("DEMO corpus") != std::string::npos);
  for (const char* name : {"config.json", "vocabulary.txt", "history.csv", "loss.png", "last.ckpt", "best.ckpt"})
    CHECK(fs::is_regular_file(run / name));
  CHECK(fs::is_directory(run / "demo-corpus"));

  const auto rows = read_csv(run / "history.csv");
  REQUIRE(rows.size() == 3);  // header + 2 epochs
  CHECK(rows[0] == std::vector<std::string>{"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "val_perplexity",
                                            "seconds", "windows_per_second", "lr"});
  CHECK(rows[1][0] == "1");
  CHECK(rows[2][0] == "2");
  for (std::size_t r2 = 1; r2 < rows.size(); ++r2) {
    REQUIRE(rows[r2].size() == 9);
    for (const auto& cell : rows[r2]) CHECK_FALSE(cell.empty());
    CHECK(std::stod(rows[r2][1]) > 0);
  }

  const nocturne::Checkpoint last = nocturne::load_checkpoint(run / "last.ckpt");
  CHECK(last.epochs_done == 2);
  CHECK(last.model.hidden1 == 16);
  CHECK(last.model.window == 8);
  CHECK_FALSE(last.first_moment.empty());
  // vocabulary.txt holds the checkpoint's symbols in index order.
  std::vector<std::string> symbols;
  std::istringstream in(read_text(run / "vocabulary.txt"));
  for (std::string line; std::getline(in, line);) symbols.push_back(line);
  CHECK(symbols == last.vocabulary);
  CHECK(last.vocabulary.size() >= 20);
  CHECK(last.vocabulary.size() <= 60);

  const auto config = nlohmann::json::parse(read_text(run / "config.json"));
  CHECK(config["settings"]["hidden1"] == 16);
  CHECK(config["data"]["demo"] == true);
  CHECK(config["corpus"]["windows"].get<int>() > 2000);

  // No temporary file is left beside the checkpoints.
  for (const auto& entry : fs::directory_iterator(run))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);

  {  // info describes the run's checkpoint
    const RunResult info = run_cli("info " + quote(run.string()));
    INFO(info.out << info.err);
    CHECK(info.exit_code == 0);
    CHECK(info.out.find("epochs done 2 of 2") != std::string::npos);
    CHECK(info.out.find("cpu: available") != std::string::npos);
  }
  {  // resuming a finished run has nothing to do
    const RunResult again = run_cli("train --resume " + quote(run.string()));
    CHECK(again.exit_code == 0);
    CHECK(again.out.find("already has 2 of 2 epochs") != std::string::npos);
  }
  {  // a second run into the same folder is refused
    const RunResult again = run_cli("train --data demo --out " + quote(run.string()) + " " + kTiny);
    CHECK(again.exit_code != 0);
    CHECK(again.err.find("--resume") != std::string::npos);
  }
}

TEST_CASE("train --jsonl prints one JSON object per event on stdout", "[cli][train]") {
  TempDir dir;
  const RunResult r = run_cli("train --jsonl --data demo --out " + quote((dir.path / "run").string()) + " " + kTiny +
                              " --epochs 2");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::istringstream in(r.out);
  std::vector<std::string> events;
  int epochs = 0;
  for (std::string line; std::getline(in, line);) {
    const auto event = nlohmann::json::parse(line);  // every line is JSON
    events.push_back(event.at("event").get<std::string>());
    if (events.back() == "epoch") {
      ++epochs;
      CHECK(event.at("epoch") == epochs);
      CHECK(event.at("loss").get<double>() > 0);
      CHECK(event.contains("val_loss"));
      CHECK(event.at("lr").get<double>() > 0);  // the history row as history.csv has it
    }
  }
  CHECK(epochs == 2);
  CHECK(std::find(events.begin(), events.end(), "start") != events.end());
  CHECK(events.back() == "done");
}

TEST_CASE("info prints the version, the built-in features and the devices", "[cli][info]") {
  const RunResult r = run_cli("info");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("nocturne ") != std::string::npos);
  for (const char* feature : {"CUDA", "cuDNN", "FluidSynth", "RtMidi"}) CHECK(r.out.find(feature) != std::string::npos);
  CHECK(r.out.find("cuda") != std::string::npos);
  const RunResult j = run_cli("info --json");
  REQUIRE(j.exit_code == 0);
  const auto info = nlohmann::json::parse(j.out);
  CHECK(info.contains("version"));
  CHECK(info["cuda"].contains("usable"));
  CHECK(info["built_with"].contains("RtMidi"));
  // The BLAS the CPU backend runs on, with the kernels OpenBLAS chose and
  // the environment's override of that choice.
  const std::string blas = info["cpu"]["blas"].get<std::string>();
  CHECK(r.out.find(blas) != std::string::npos);
  if (blas.rfind("OpenBLAS", 0) == 0) {
    CHECK(blas.find("; kernels ") != std::string::npos);
    CHECK(info["cpu"]["threads"].get<int>() >= 1);
    const char* forced = std::getenv("OPENBLAS_CORETYPE");
    if (forced && *forced) CHECK(blas.find(std::string("OPENBLAS_CORETYPE=") + forced) != std::string::npos);
  } else {
    CHECK(blas == "unknown BLAS (not OpenBLAS)");
  }
}

TEST_CASE("demo-corpus writes labelled MIDI files", "[cli][demo]") {
  TempDir dir;
  const RunResult r = run_cli("demo-corpus " + quote((dir.path / "demo").string()) + " --count 3");
  REQUIRE(r.exit_code == 0);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path / "demo")) {
    ++files;
    CHECK(entry.path().extension() == ".mid");
  }
  CHECK(files == 3);
}

TEST_CASE("train takes the regularisers, refuses bad ones in one line, and a run stopped early stays stopped",
          "[cli][train][regularisers]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  // --lr 0.05 overfits the demo corpus within a few epochs: --patience 2 stops it.
  const RunResult r = run_cli("train --data demo --out " + quote(run.string()) + " " + kTiny +
                              " --epochs 60 --lr 0.05 --patience 2 --weight-decay 0.001 --label-smoothing 0.05 "
                              "--input-dropout 0.1 --recurrent-dropout 0.1 --lr-schedule linear --warmup 1");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("stopped early: no lower val_loss in the 2 epochs since epoch") != std::string::npos);
  const auto rows = read_csv(run / "history.csv");
  REQUIRE(rows.size() < 61);
  CHECK(rows[0].back() == "lr");
  const RunResult again = run_cli("train --resume " + quote(run.string()) + " --epochs 80");
  INFO(again.out << again.err);
  CHECK(again.exit_code == 0);
  CHECK(again.out.find("already stopped early") != std::string::npos);
  const RunResult info = run_cli("info " + quote(run.string()));
  CHECK(info.out.find("regularisers: weight decay 0.001, input dropout 0.1, recurrent dropout 0.1, label smoothing "
                      "0.05, lr schedule linear (warm-up 1, decay end 60") != std::string::npos);

  for (const char* bad : {"--input-dropout 1", "--recurrent-dropout -0.5", "--label-smoothing 2",
                          "--weight-decay -1", "--patience -1", "--lr-floor 0"}) {
    const RunResult refused =
        run_cli("train --data demo --out " + quote((dir.path / "bad").string()) + " " + kTiny + " " + bad);
    INFO(bad << ": " << refused.err);
    CHECK(refused.exit_code == 1);
    const std::string option = std::string(bad).substr(0, std::string(bad).find(' '));
    CHECK(refused.err.find(option) != std::string::npos);
    CHECK(std::count(refused.err.begin(), refused.err.end(), '\n') == 1);
  }
  const RunResult fused = run_cli("train --data demo --out " + quote((dir.path / "fused").string()) + " " + kTiny +
                                  " --recurrent-dropout 0.2 --lstm-impl fused");
  CHECK(fused.exit_code == 1);
  CHECK(fused.err.find("--input-dropout and --recurrent-dropout need --lstm-impl classic, not fused") !=
        std::string::npos);
}
