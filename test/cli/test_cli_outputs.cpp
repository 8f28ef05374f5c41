// Outputs never clobber: a link is followed (its target replaced, the link
// kept), a FIFO or device is written in place, standard output works as a
// file name, a folder that is not a run of ours is never written into, and a
// file name that is not UTF-8 survives. Device nodes are copies made with
// mknod in a temporary folder, so no system file is at stake.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "cli_test_support.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/demo_corpus.hpp"

using namespace nocturne::test;
using nlohmann::json;

namespace {

mode_t file_type(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & S_IFMT;
}

void write_bytes(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// The keys of a tokenize JSON file, or a failed check when it is not JSON.
std::vector<std::string> keys_of(const std::string& text) {
  std::vector<std::string> keys;
  try {
    const json j = json::parse(text);
    for (const auto& [key, value] : j.items()) keys.push_back(key);
  } catch (const json::exception& e) {
    FAIL_CHECK("not JSON: " << e.what());
  }
  return keys;
}

std::string tiny_run(const fs::path& out) { return "--out " + quote(out.string()) + " " + kTiny + " --epochs 1"; }

}  // namespace

TEST_CASE("tokenize --json follows a link, leaving the link in place", "[cli][outputs]") {
  TempDir dir;
  nocturne::write_demo_corpus(dir.path / "data", 2);
  fs::create_directories(dir.path / "store");
  write_bytes(dir.path / "store" / "tokens.json", "old");
  fs::create_symlink(fs::path("store") / "tokens.json", dir.path / "tokens.json");
  const RunResult r = run_cli("tokenize " + quote((dir.path / "data").string()) + " --json " +
                              quote((dir.path / "tokens.json").string()));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(file_type(dir.path / "tokens.json") == S_IFLNK);
  CHECK(keys_of(read_text(dir.path / "store" / "tokens.json")) ==
        std::vector<std::string>{"demo-01.mid", "demo-02.mid"});
}

TEST_CASE("tokenize --json - and /dev/stdout print the JSON; the summary goes to stderr", "[cli][outputs]") {
  TempDir dir;
  nocturne::write_demo_corpus(dir.path / "data", 2);
  for (const std::string target : {"-", "/dev/stdout"}) {
    // A writer that renamed over /dev/stdout would, run as root, replace the
    // system's link: checked, and put back at once so that nothing else suffers.
    const bool was_link = fs::is_symlink("/dev/stdout");
    const fs::path link_target = was_link ? fs::read_symlink("/dev/stdout") : fs::path();
    const RunResult r = run_cli("tokenize " + quote((dir.path / "data").string()) + " --json " + target);
    const bool intact = !was_link || fs::is_symlink("/dev/stdout");
    if (!intact) {
      fs::remove("/dev/stdout");
      fs::create_symlink(link_target, "/dev/stdout");
    }
    INFO("--json " << target << "\n" << r.out << r.err);
    REQUIRE(intact);
    REQUIRE(r.exit_code == 0);
    CHECK(keys_of(r.out).size() == 2);
    CHECK(r.err.find("2 files") != std::string::npos);
  }
  CHECK_FALSE(fs::exists("-"));
}

TEST_CASE("tokenize --json into a FIFO or a device writes there, never replacing the node", "[cli][outputs]") {
  TempDir dir;
  nocturne::write_demo_corpus(dir.path / "data", 2);
  const std::string tokenize = "tokenize " + quote((dir.path / "data").string()) + " --json ";

  const fs::path fifo = dir.path / "pipe.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // The reader is open before the program runs (without blocking), and two
  // short pieces' tokens fit the pipe's buffer: nothing waits, whatever happens.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  REQUIRE(reader >= 0);
  const RunResult r = run_cli(tokenize + quote(fifo.string()));
  std::string received;
  char buffer[4096];
  for (ssize_t n; (n = ::read(reader, buffer, sizeof buffer)) > 0;) received.append(buffer, std::size_t(n));
  ::close(reader);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(keys_of(received).size() == 2);
  CHECK(file_type(fifo) == S_IFIFO);

  const fs::path null = dir.path / "null";
  if (::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    WARN("mknod is not permitted here (not root): the device case is left out");
    return;
  }
  CHECK(run_cli(tokenize + quote(null.string())).exit_code == 0);
  CHECK(file_type(null) == S_IFCHR);
}

TEST_CASE("an output path that cannot be written is one line with the reason", "[cli][outputs]") {
  TempDir dir;
  nocturne::write_demo_corpus(dir.path / "data", 1);
  const std::string tokenize = "tokenize " + quote((dir.path / "data").string()) + " --json ";
  expect_one_line_error(tokenize + "''", {"empty path"});
  expect_one_line_error(tokenize + "/proc/nocturne-test.json",
                        {"/proc/nocturne-test.json", "temporary file in /proc: "});
  expect_one_line_error(tokenize + quote((dir.path / "missing" / "t.json").string()),
                        {"the folder " + (dir.path / "missing").string() + " does not exist"});
  expect_one_line_error(tokenize + quote(dir.path.string()), {dir.path.string(), "is a folder"});
}

TEST_CASE("tokenize keeps a file name that is not UTF-8, escaped losslessly", "[cli][outputs]") {
  TempDir dir;
  const fs::path data = dir.path / "data";
  nocturne::write_demo_corpus(data, 2);
  const std::string latin1 = "caf\xe9 100%.mid";  // Latin-1, as an old archive might name it
  fs::rename(data / "demo-02.mid", data / latin1);
  const RunResult r = run_cli("tokenize " + quote(data.string()) + " --json " + quote((dir.path / "t.json").string()));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const json j = json::parse(read_text(dir.path / "t.json"));
  CHECK(j.contains("demo-01.mid"));
  REQUIRE(j.contains("caf%E9 100%25.mid"));  // docs/cli.md: '%' and bytes that are not UTF-8 as %XX
  CHECK(j["caf%E9 100%25.mid"].size() > 10);
}

TEST_CASE("train --out: a folder that is not empty and not a run of ours is never written into", "[cli][outputs]") {
  TempDir dir;
  const fs::path data = dir.path / "data";
  nocturne::write_demo_corpus(data, 4);
  write_bytes(data / "config.json", "{\"mine\": true}\n");
  write_bytes(data / "history.csv", "my,own,data\n");
  expect_one_line_error("train --data " + quote(data.string()) + " " + tiny_run(data),
                        {data.string(), "not a nocturne run folder", "--out"});
  CHECK(read_text(data / "config.json") == "{\"mine\": true}\n");
  CHECK(read_text(data / "history.csv") == "my,own,data\n");
  CHECK_FALSE(fs::exists(data / "vocabulary.txt"));
  CHECK_FALSE(fs::exists(data / ".nocturne-run"));

  // An empty folder is taken, and marked as a run.
  fs::create_directories(dir.path / "empty");
  const RunResult e = run_cli("train --data demo " + tiny_run(dir.path / "empty"));
  INFO(e.out << e.err);
  CHECK(e.exit_code == 0);
  CHECK(fs::exists(dir.path / "empty" / ".nocturne-run"));
  // A run of ours that never saved a checkpoint (killed while loading data) is taken again.
  fs::create_directories(dir.path / "early");
  write_bytes(dir.path / "early" / ".nocturne-run", "{}\n");
  write_bytes(dir.path / "early" / "config.json", "{}\n");
  CHECK(run_cli("train --data demo " + tiny_run(dir.path / "early")).exit_code == 0);
  CHECK(fs::exists(dir.path / "early" / "last.ckpt"));
}

TEST_CASE("resume writes the checkpoint through a link to it, keeping the link", "[cli][outputs]") {
  TempDir dir;
  const fs::path run = dir.path / "run";
  REQUIRE(run_cli("train --data demo " + tiny_run(run)).exit_code == 0);
  fs::create_directories(dir.path / "store");
  fs::rename(run / "last.ckpt", dir.path / "store" / "last.ckpt");
  fs::create_symlink(dir.path / "store" / "last.ckpt", run / "last.ckpt");
  const RunResult r = run_cli("train --resume " + quote(run.string()) + " --epochs 2");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(file_type(run / "last.ckpt") == S_IFLNK);
  CHECK(nocturne::load_checkpoint(dir.path / "store" / "last.ckpt").epochs_done == 2);
}
