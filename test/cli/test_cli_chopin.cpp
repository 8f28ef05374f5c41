// A tiny model for two epochs on the 48 Chopin files (skipped where the corpus is absent).

#include <catch2/catch.hpp>

#include "cli_test_support.hpp"
#include "nocturne/checkpoint.hpp"
#include "test_support.hpp"

using namespace nocturne::test;

static const bool needs_corpus = nocturne::test::require_chopin();

TEST_CASE("train a tiny model for two epochs on the Chopin corpus", "[cli][chopin]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  const RunResult r = run_cli("train --data " + quote(chopin_dir()->string()) + " --out " + quote(run.string()) +
                              " --hidden1 16 --hidden2 8 --dense 8 --window 8 --min-count 1 --batch 256"
                              " --device cpu --threads 1 --epochs 2");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* name : {"config.json", "vocabulary.txt", "history.csv", "loss.png", "last.ckpt", "best.ckpt"})
    CHECK(fs::is_regular_file(run / name));
  const auto rows = read_csv(run / "history.csv");
  REQUIRE(rows.size() == 3);
  CHECK(std::stod(rows[2][1]) < std::stod(rows[1][1]) + 0.5);
  const nocturne::Checkpoint c = nocturne::load_checkpoint(run / "last.ckpt");
  CHECK(c.epochs_done == 2);
  CHECK(c.vocabulary.size() > 100);  // --min-count 1 keeps every symbol of the corpus
}
