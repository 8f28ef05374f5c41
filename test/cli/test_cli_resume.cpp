// --resume continues exactly where the last completed epoch left off: on the
// CPU, 1 epoch + resume to 3 gives the same history and bit-identical
// parameters and optimiser state as 3 epochs straight.

#include <catch2/catch.hpp>

#include <cstring>

#include "cli_test_support.hpp"
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
  CHECK(a.out.find("cpu (fused LSTM, emulated bf16") != std::string::npos);
  CHECK(a.out.find("is an emulation") != std::string::npos);
  CHECK(read_text(run / "config.json").find("\"precision\": \"bf16\"") != std::string::npos);
  // No --precision: the run's bf16; the LSTM implementation is this call's (classic by default).
  const RunResult b = run_cli("train --resume " + quote(run.string()) + " --epochs 2 --threads 1");
  INFO(b.out << b.err);
  REQUIRE(b.exit_code == 0);
  CHECK(b.out.find("on cpu (emulated bf16") != std::string::npos);
  // Given: it changes, and the run remembers the change.
  const RunResult c = run_cli("train --resume " + quote(run.string()) + " --epochs 3 --threads 1 --precision fp32 "
                              "--lstm-impl ours");
  INFO(c.out << c.err);
  REQUIRE(c.exit_code == 0);
  CHECK(c.out.find("emulat") == std::string::npos);
  CHECK(read_text(run / "config.json").find("\"precision\": \"fp32\"") != std::string::npos);
  CHECK(nocturne::load_checkpoint(run / "last.ckpt").epochs_done == 3);
}
