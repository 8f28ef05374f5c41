// The reduced precisions learn as FP32 does: the small preset on part of the
// Chopin corpus for a few epochs on the CPU, in fp32, in the emulated tf32
// mode and in bf16 (BF16 GEMMs on AVX-512 BF16 where the processor has it,
// else the emulation), with every epoch's training loss within 2 % of fp32's (the
// 20-epoch runs on the whole corpus are in docs/benchmarks.md). Slow (some
// minutes): labelled `slow`, skipped where the corpus is absent.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cli_test_support.hpp"
#include "nocturne/backend.hpp"
#include "test_support.hpp"

using namespace nocturne::test;

static const bool needs_corpus = nocturne::test::require_chopin();

namespace {

constexpr int kPieces = 12;
constexpr int kEpochs = 3;

std::vector<double> epoch_losses(const fs::path& data, const fs::path& run, const std::string& precision) {
  const RunResult r = run_cli("train --data " + quote(data.string()) + " --out " + quote(run.string()) +
                              " --preset small --epochs " + std::to_string(kEpochs) +
                              " --heldout 0 --device cpu --precision " + precision);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  if (precision == "bf16" && nocturne::cpu_has_bf16_gemm())
    CHECK(r.out.find("bf16 GEMMs on AVX-512 BF16") != std::string::npos);
  else if (precision != "fp32")
    CHECK(r.out.find("emulation") != std::string::npos);
  std::vector<double> losses;
  for (const auto& row : read_csv(run / "history.csv"))
    if (!row.empty() && row[0] != "epoch") losses.push_back(std::stod(row[1]));
  REQUIRE(losses.size() == std::size_t(kEpochs));
  return losses;
}

}  // namespace

TEST_CASE("the small preset in tf32 and bf16 keeps its loss within 2 % of fp32", "[cli][precision][slow]") {
  TempDir dir;
  // The first pieces of the corpus, by name, linked into a folder of their own.
  std::vector<fs::path> pieces;
  for (const auto& entry : fs::directory_iterator(*chopin_dir()))
    if (entry.path().extension() == ".mid") pieces.push_back(entry.path());
  std::sort(pieces.begin(), pieces.end());
  REQUIRE(pieces.size() >= std::size_t(kPieces));
  const fs::path data = dir.path / "data";
  fs::create_directories(data);
  for (int k = 0; k < kPieces; ++k)
    fs::create_symlink(pieces[std::size_t(k)], data / pieces[std::size_t(k)].filename());

  const std::vector<double> fp32 = epoch_losses(data, dir.path / "fp32", "fp32");
  CHECK(fp32.back() < fp32.front());  // it learns
  for (const std::string precision : {"tf32", "bf16"}) {
    const std::vector<double> reduced = epoch_losses(data, dir.path / precision, precision);
    for (int e = 0; e < kEpochs; ++e) {
      const double fp32_loss = fp32[std::size_t(e)], loss = reduced[std::size_t(e)];
      INFO(precision << " epoch " << e + 1 << ": loss " << loss << " against fp32 " << fp32_loss);
      CHECK(std::abs(loss - fp32_loss) <= 0.02 * fp32_loss);
      CHECK(loss != fp32_loss);  // the reduced mode did change the arithmetic
    }
  }
}
