// read_corpus: a folder or a list of files, a bad file skipped (told to a
// callback) or stopping everything, and an empty folder named as such.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nocturne/corpus.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/error.hpp"
#include "test_support.hpp"

using namespace nocturne;
namespace fs = std::filesystem;

namespace {

struct Folder {
  fs::path path;
  explicit Folder(const std::string& name) : path(test::temp_path(name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Folder() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("an empty folder is an empty folder, not a vocabulary problem", "[corpus]") {
  Folder dir("nocturne-read-empty");
  CHECK_THROWS_AS(read_corpus(dir.path), FileError);
  CHECK_THROWS_WITH(read_corpus(dir.path), Catch::Contains("no MIDI files") && Catch::Contains("(it is empty)"));
  CHECK_THROWS_WITH(load_corpus(dir.path), Catch::Contains("no MIDI files"));
  std::ofstream(dir.path / "notes.txt") << "not music";
  CHECK_THROWS_WITH(read_corpus(dir.path), Catch::Contains("no MIDI files") && !Catch::Contains("it is empty"));
  CHECK_THROWS_WITH(read_corpus(dir.path / "absent"), Catch::Contains("no such data folder"));
  // An empty list of files reaching the dataset says so too.
  CHECK_THROWS_WITH(build_dataset(std::vector<CorpusFile>{}), Catch::Contains("corpus is empty"));
}

TEST_CASE("a bad file is skipped and told, or stops the reading", "[corpus]") {
  Folder dir("nocturne-read-policy");
  write_demo_corpus(dir.path, 3);
  std::ofstream(dir.path / "demo-01b.mid", std::ios::binary) << "MThd broken";

  std::vector<std::string> told;
  CorpusReadOptions skip;
  skip.on_skip = [&](const std::string& name, const Error& why) {
    told.push_back(name);
    CHECK(std::string(why.what()).find("demo-01b.mid") != std::string::npos);
  };
  const Corpus read = read_corpus(dir.path, skip);
  CHECK(told == std::vector<std::string>{"demo-01b.mid"});
  CHECK(read.skipped == told);
  REQUIRE(read.files.size() == 3);
  CHECK(read.files[0].name == "demo-01.mid");  // write_demo_corpus numbers from 01
  CHECK(read.files[2].name == "demo-03.mid");
  CHECK_FALSE(read.files[0].tokens.empty());

  CorpusReadOptions stop;
  stop.on_bad_file = BadFilePolicy::stop;
  CHECK_THROWS_WITH(read_corpus(dir.path, stop), Catch::Contains("demo-01b.mid"));

  // The callback may stop the reading itself.
  CorpusReadOptions refuse;
  refuse.on_skip = [](const std::string& name, const Error&) { throw ConfigError("refused " + name); };
  CHECK_THROWS_WITH(read_corpus(dir.path, refuse), "refused demo-01b.mid");

  // An explicit list keeps its order and its names.
  const std::vector<fs::path> list = {dir.path / "demo-03.mid", dir.path / "demo-01b.mid", dir.path / "demo-01.mid"};
  const Corpus listed = read_corpus(std::span<const fs::path>(list));
  REQUIRE(listed.files.size() == 2);
  CHECK(listed.files[0].name == list[0].generic_string());
  CHECK(listed.files[0].tokens == read.files[2].tokens);
  CHECK(listed.skipped == std::vector<std::string>{list[1].generic_string()});
  CHECK_THROWS_AS(read_corpus(std::span<const fs::path>()), FileError);
  const std::vector<fs::path> only_bad = {dir.path / "demo-01b.mid"};
  CHECK_THROWS_WITH(read_corpus(std::span<const fs::path>(only_bad)), Catch::Contains("could be read"));
}
