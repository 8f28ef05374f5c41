// nocturne bench: the CPU mode on the tiny shapes writes a JSON and a CSV file
// that parse and hold the expected fields; bad options fail without writing.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_test_support.hpp"

using namespace nocturne::test;
using nlohmann::json;

namespace {

const char* kCsvHeader =
    "device,label,T,N,F,H,impl,variant,math,phase,status,median_ms,min_ms,p10_ms,p90_ms,reps,build_ms,check_err,note";

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("nocturne bench --device cpu --tiny writes well-formed JSON and CSV", "[cli][bench]") {
  TempDir dir;
  const fs::path json_path = dir.path / "lstm.json", csv_path = dir.path / "lstm.csv";
  const RunResult r =
      run_cli("bench --device cpu --tiny --json " + quote(json_path.string()) + " --csv " + quote(csv_path.string()));
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("speed-up") != std::string::npos);
  // Written atomically: the two files and no temporary left beside them.
  CHECK(files_in(dir.path) == std::vector<std::string>{"lstm.csv", "lstm.json"});

  const json doc = json::parse(read_text(json_path));
  CHECK(doc.at("tool") == "bench_lstm");
  const json& meta = doc.at("meta");
  for (const char* key : {"git_commit", "date_utc", "device", "mode", "backend", "openblas_threads", "onednn"}) {
    INFO(key);
    REQUIRE(meta.contains(key));
    CHECK_FALSE(meta.at(key).get<std::string>().empty());
  }
  const bool with_onednn = meta.at("onednn").get<std::string>().rfind("not built in", 0) != 0;
  if (with_onednn) CHECK(meta.contains("onednn_threads"));

  const json& rows = doc.at("rows");
  int ours = 0, onednn = 0, sgemm = 0;
  for (const json& row : rows) {
    INFO(row.dump());
    CHECK(row.at("device") == "cpu");
    CHECK(row.at("label") == "tiny");
    CHECK(row.at("status") == "ok");
    const std::string impl = row.at("impl");
    ours += impl == "ours";
    onednn += impl == "onednn";
    sgemm += impl == "ours-sgemm";
    CHECK((impl == "ours" || impl == "onednn" || impl == "ours-sgemm"));
    CHECK(row.at("reps").get<int>() == 3);
    const double median = row.at("median_ms"), lo = row.at("min_ms"), hi = row.at("p90_ms");
    CHECK(lo > 0);
    CHECK(lo <= median);
    CHECK(median <= hi);
    CHECK(row.at("check_err").get<double>() < 1e-4);
  }
  // Two shapes: ours in three phases, oneDNN (where built in) in four.
  CHECK(ours == 6);
  CHECK(onednn == (with_onednn ? 8 : 0));
  // Ours on the SGEMM path too, where the AVX-512 kernels run (meta backend_sgemm).
  CHECK(sgemm == (meta.contains("backend_sgemm") ? 6 : 0));

  const auto csv = read_csv(csv_path);
  std::vector<std::vector<std::string>> table;
  for (const auto& cells : csv)
    if (!cells.empty() && cells[0].rfind("#", 0) != 0) table.push_back(cells);
  REQUIRE(table.size() == rows.size() + 1);
  std::string header;
  for (const auto& cell : table[0]) header += (header.empty() ? "" : ",") + cell;
  CHECK(header == kCsvHeader);
  for (std::size_t i = 1; i < table.size(); ++i) {
    INFO("CSV row " << i);
    REQUIRE(table[i].size() == table[0].size());
    CHECK(table[i][6] == rows[i - 1].at("impl").get<std::string>());
    CHECK(table[i][10] == "ok");
  }
}

TEST_CASE("nocturne bench: a bad option fails and writes nothing", "[cli][bench][errors]") {
  TempDir dir;
  const std::string out = " --json " + quote((dir.path / "x.json").string());
  for (const std::string args : {"bench --device gpu", "bench --bogus", "bench --reps 0", "bench --sweep most"}) {
    const RunResult r = run_cli(args + out);
    INFO("nocturne " << args << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code != 0);
    const auto lines = r.error_lines();
    REQUIRE_FALSE(lines.empty());
    const std::string option = args.substr(6, args.find(' ', 6) - 6);
    CHECK(lines[0].find(option) != std::string::npos);
  }
  CHECK(fs::is_empty(dir.path));
}
