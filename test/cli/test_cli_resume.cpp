// --resume continues exactly where the last completed epoch left off: on the
// CPU, 1 epoch + resume to 3 gives the same history and bit-identical
// parameters and optimiser state as 3 epochs straight. best.ckpt stays the
// run's own best epoch; the run folder may be named by its last.ckpt; a data
// folder whose path is not UTF-8 is found again.

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_test_support.hpp"
#include "nocturne/backend.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/demo_corpus.hpp"

using namespace nocturne::test;

namespace {
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
}  // namespace

TEST_CASE("resume after 1 epoch to 3 equals 3 epochs straight, bit for bit", "[cli][resume]") {
  TempDir dir;
  const fs::path straight = dir.path / "straight", resumed = dir.path / "resumed";
  const RunResult a = run_cli("train --data demo --out " + quote(straight.string()) + " " + kTiny + " --epochs 3");
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  const RunResult b = run_cli("train --data demo --out " + quote(resumed.string()) + " " + kTiny + " --epochs 1");
  INFO(b.out << b.err);
  REQUIRE(b.exit_code == 0);
  CHECK(read_csv(resumed / "history.csv").size() == 2);
  const RunResult c = run_cli("train --resume " + quote(resumed.string()) + " --epochs 3 --threads 1");
  INFO(c.out << c.err);
  REQUIRE(c.exit_code == 0);
  CHECK(c.out.find("resuming") != std::string::npos);

  // Losses, accuracies and validation measures of every epoch, as printed.
  const auto expected = history_results(straight / "history.csv");
  REQUIRE(expected.size() == 3 * 6);
  CHECK(history_results(resumed / "history.csv") == expected);

  const nocturne::Checkpoint x = nocturne::load_checkpoint(straight / "last.ckpt");
  const nocturne::Checkpoint y = nocturne::load_checkpoint(resumed / "last.ckpt");
  CHECK(x.epochs_done == 3);
  CHECK(y.epochs_done == 3);
  CHECK(x.optimizer_steps == y.optimizer_steps);
  CHECK(same_bits(x.parameters, y.parameters));
  CHECK(same_bits(x.first_moment, y.first_moment));
  CHECK(same_bits(x.infinity_norm, y.infinity_norm));
  const nocturne::Checkpoint bx = nocturne::load_checkpoint(straight / "best.ckpt");
  const nocturne::Checkpoint by = nocturne::load_checkpoint(resumed / "best.ckpt");
  CHECK(bx.epochs_done == by.epochs_done);
  CHECK(same_bits(bx.parameters, by.parameters));
}

TEST_CASE("resume refuses to change what the run computes", "[cli][resume]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  REQUIRE(run_cli("train --data demo --out " + quote(run.string()) + " " + kTiny + " --epochs 1").exit_code == 0);
  const RunResult r = run_cli("train --resume " + quote(run.string()) + " --epochs 2 --hidden1 32");
  CHECK(r.exit_code != 0);
  CHECK(r.error_lines().size() == 1);
  CHECK(r.err.find("hidden1") != std::string::npos);
  // The same value as the run's is accepted.
  const RunResult ok = run_cli("train --resume " + quote(run.string()) + " --epochs 2 --hidden1 16 --threads 1");
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  CHECK(read_csv(run / "history.csv").size() == 3);
}

TEST_CASE("resume refuses data whose counts match but whose windows changed (files reordered)", "[cli][resume]") {
  TempDir dir;
  const fs::path data = dir.path / "data", run = dir.path / "run";
  nocturne::write_demo_corpus(data, 4);
  REQUIRE(run_cli("train --data " + quote(data.string()) + " --out " + quote(run.string()) + " " + kTiny +
                  " --epochs 1")
              .exit_code == 0);
  // The same four files, in another sorted order: every count stays, the token stream does not.
  fs::rename(data / "demo-01.mid", data / "zz-demo-01.mid");
  const RunResult r = run_cli("train --resume " + quote(run.string()) + " --epochs 2");
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  REQUIRE(r.error_lines().size() == 1);
  CHECK(r.err.find("reordered") != std::string::npos);
  // Put back, it resumes.
  fs::rename(data / "zz-demo-01.mid", data / "demo-01.mid");
  CHECK(run_cli("train --resume " + quote(run.string()) + " --epochs 2").exit_code == 0);
}

TEST_CASE("the run keeps its precision when resumed; --precision and --lstm-impl may change it", "[cli][resume]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  const RunResult a = run_cli("train --data demo --out " + quote(run.string()) + " " + kTiny +
                              " --epochs 1 --precision bf16 --lstm-impl fused");
  INFO(a.out << a.err);
  REQUIRE(a.exit_code == 0);
  // bf16 runs on AVX-512 BF16 where the processor has it, else it is emulated and says so.
  const bool native_bf16 = nocturne::cpu_has_bf16_gemm();
  const std::string bf16_detail = native_bf16 ? "bf16 GEMMs on AVX-512 BF16" : "emulated bf16";
  CHECK(a.out.find("cpu (fused LSTM, " + bf16_detail) != std::string::npos);
  CHECK((a.out.find("is an emulation") != std::string::npos) == !native_bf16);
  CHECK(read_text(run / "config.json").find("\"precision\": \"bf16\"") != std::string::npos);
  // No --precision: the run's bf16; the LSTM implementation is this call's (classic by default).
  const RunResult b = run_cli("train --resume " + quote(run.string()) + " --epochs 2 --threads 1");
  INFO(b.out << b.err);
  REQUIRE(b.exit_code == 0);
  CHECK(b.out.find("on cpu (" + bf16_detail) != std::string::npos);
  // Given: it changes, and the run remembers the change.
  const RunResult c = run_cli("train --resume " + quote(run.string()) + " --epochs 3 --threads 1 --precision fp32 "
                              "--lstm-impl ours");
  INFO(c.out << c.err);
  REQUIRE(c.exit_code == 0);
  CHECK(c.out.find("emulat") == std::string::npos);
  CHECK(read_text(run / "config.json").find("\"precision\": \"fp32\"") != std::string::npos);
  CHECK(nocturne::load_checkpoint(run / "last.ckpt").epochs_done == 3);
  // The persistent path's program (one forward op per layer) resumes the same checkpoint.
  const RunResult d = run_cli("train --resume " + quote(run.string()) + " --epochs 4 --threads 1 "
                              "--lstm-impl persistent");
  INFO(d.out << d.err);
  REQUIRE(d.exit_code == 0);
  CHECK(d.out.find("cpu (persistent LSTM program") != std::string::npos);
  CHECK(nocturne::load_checkpoint(run / "last.ckpt").epochs_done == 4);
}

namespace {
std::string tiny(const fs::path& out, int epochs, const std::string& more = "") {
  return "train --data demo --out " + quote(out.string()) + " " + kTiny + " --epochs " + std::to_string(epochs) + " " +
         more;
}
nlohmann::json metadata_of(const fs::path& checkpoint) {
  return nlohmann::json::parse(nocturne::load_checkpoint(checkpoint).metadata);
}
}  // namespace

TEST_CASE("resume refuses a best.ckpt of another run, touching nothing", "[cli][resume]") {
  TempDir dir;
  const fs::path a = dir.path / "a", b = dir.path / "b";
  REQUIRE(run_cli(tiny(a, 1)).exit_code == 0);
  REQUIRE(run_cli(tiny(b, 2, "--seed 2")).exit_code == 0);
  CHECK(metadata_of(a / "last.ckpt")["run_id"] != metadata_of(b / "last.ckpt")["run_id"]);
  // b's last.ckpt copied into a: a's best.ckpt is not this run's best epoch.
  fs::copy_file(b / "last.ckpt", a / "last.ckpt", fs::copy_options::overwrite_existing);
  const std::string a_best = read_text(a / "best.ckpt");
  const RunResult r = run_cli("train --resume " + quote(a.string()) + " --epochs 3");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  REQUIRE(r.error_lines().size() == 1);
  CHECK(r.err.find("best.ckpt") != std::string::npos);
  CHECK(r.err.find("another run") != std::string::npos);
  CHECK(read_text(a / "best.ckpt") == a_best);
  CHECK(nocturne::load_checkpoint(a / "last.ckpt").epochs_done == 2);
}

TEST_CASE("resume rebuilds a best.ckpt that is missing or behind, so that it is the run's best epoch",
          "[cli][resume]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  REQUIRE(run_cli(tiny(run, 1)).exit_code == 0);
  const std::string epoch1_best = read_text(run / "best.ckpt");
  REQUIRE(run_cli("train --resume " + quote(run.string()) + " --epochs 2").exit_code == 0);
  const int best_epoch = metadata_of(run / "last.ckpt")["best"]["epoch"].get<int>();

  SECTION("missing") {
    fs::remove(run / "best.ckpt");
    const RunResult r = run_cli("train --resume " + quote(run.string()) + " --epochs 3");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("best.ckpt is missing") != std::string::npos);
  }
  SECTION("an earlier epoch of the run (a kill between writing last.ckpt and best.ckpt)") {
    if (best_epoch == 1) {
      WARN("epoch 2 was not the best: nothing is behind");
      return;
    }
    std::ofstream(run / "best.ckpt", std::ios::binary) << epoch1_best;
    const RunResult r = run_cli("train --resume " + quote(run.string()) + " --epochs 3");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("best.ckpt holds epoch 1, not the run's best epoch 2") != std::string::npos);
  }
  // Either way best.ckpt is now the epoch last.ckpt names, of this run.
  const nlohmann::json last = metadata_of(run / "last.ckpt");
  const nocturne::Checkpoint best = nocturne::load_checkpoint(run / "best.ckpt");
  CHECK(best.epochs_done == last["best"]["epoch"].get<int>());
  CHECK(nlohmann::json::parse(best.metadata)["run_id"] == last["run_id"]);
}

TEST_CASE("resume restarts best.ckpt from last.ckpt when the best epoch's file is gone, and says so",
          "[cli][resume]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  // A learning rate this high overshoots by epoch 3 (on the CPU, deterministically: best epoch 2).
  REQUIRE(run_cli(tiny(run, 3, "--lr 0.5")).exit_code == 0);
  const nlohmann::json before = metadata_of(run / "last.ckpt");
  const int best_epoch = before["best"]["epoch"].get<int>();
  if (best_epoch == 3) {
    WARN("epoch 3 was the best here: the lost-best case is not reached");
    return;
  }
  fs::remove(run / "best.ckpt");
  const RunResult r = run_cli("train --resume " + quote(run.string()) + " --epochs 4");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("best.ckpt is missing; the parameters of the best epoch " + std::to_string(best_epoch) +
                   " are gone, so best.ckpt restarts from last.ckpt (epoch 3") != std::string::npos);
  const nlohmann::json last = metadata_of(run / "last.ckpt");
  CHECK(last["best"]["epoch"].get<int>() >= 3);
  CHECK(nocturne::load_checkpoint(run / "best.ckpt").epochs_done == last["best"]["epoch"].get<int>());
}

TEST_CASE("--resume given the run's last.ckpt resumes its folder; another file is refused", "[cli][resume]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  REQUIRE(run_cli(tiny(run, 1)).exit_code == 0);
  const RunResult r = run_cli("train --resume " + quote((run / "last.ckpt").string()) + " --epochs 2");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(nocturne::load_checkpoint(run / "last.ckpt").epochs_done == 2);
  const RunResult b = run_cli("train --resume " + quote((run / "best.ckpt").string()) + " --epochs 3");
  CHECK(b.exit_code == 1);
  REQUIRE(b.error_lines().size() == 1);
  CHECK(b.err.find("--resume takes the run folder") != std::string::npos);
  CHECK(b.err.find("no such run folder") == std::string::npos);
}

TEST_CASE("a data folder whose path is not UTF-8: the run resumes, evaluates and primes from it", "[cli][resume]") {
  TempDir dir;
  const fs::path data = dir.path / std::string("donn\xe9" "es \xff");  // Latin-1 and a stray byte
  const fs::path run = dir.path / "run";
  nocturne::write_demo_corpus(data, 4);
  const std::string tiny_data = "--out " + quote(run.string()) + " " + kTiny;
  REQUIRE(run_cli("train --data " + quote(data.string()) + " " + tiny_data + " --epochs 1").exit_code == 0);
  // The exact bytes are stored beside a readable form (docs/cli.md).
  const nlohmann::json stored = metadata_of(run / "last.ckpt")["data"];
  CHECK(stored["folder_bytes"].get<std::string>().find("donn%E9es %FF") != std::string::npos);

  const RunResult r = run_cli("train --resume " + quote(run.string()) + " --epochs 2");
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(nocturne::load_checkpoint(run / "last.ckpt").epochs_done == 2);

  const RunResult e = run_cli("evaluate --model " + quote(run.string()) + " --device cpu --threads 1");
  INFO(e.out << e.err);
  CHECK(e.exit_code == 0);
  CHECK(e.out.find("not the folder the model trained on") == std::string::npos);  // recognised as its own

  const RunResult g = run_cli("generate --model " + quote(run.string()) + " --device cpu --notes 5 --no-audio " +
                              "--no-score --out " + quote((dir.path / "gen").string()));
  INFO(g.out << g.err);
  CHECK(g.exit_code == 0);
  CHECK(g.out.find("held-out window") != std::string::npos);
  CHECK(g.out.find("random vocabulary window") == std::string::npos);
}
