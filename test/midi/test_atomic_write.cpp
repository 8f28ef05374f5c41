// The output policy of write_file_atomically (midi/atomic_write.hpp), which
// every output goes through: files replaced whole, links followed, devices
// and FIFOs written in place, never replaced; one-line errors naming the path.
// Device nodes are copies made with mknod in a temporary folder (as root), so
// no system file is ever at stake, whatever the code under test does.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "midi/atomic_write.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/error.hpp"
#include "nocturne/midi.hpp"

namespace fs = std::filesystem;
using nocturne::FileError;
using nocturne::detail::write_file_atomically;

namespace {

struct Folder {
  fs::path path;
  Folder() {
    std::string pattern = (fs::temp_directory_path() / "nocturne-atomic-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

mode_t file_type(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & S_IFMT;
}

// Only the files a test made: no temporary file left behind.
std::size_t entries(const fs::path& folder) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(folder)) ++n;
  return n;
}

// The message of the FileError that `write` throws.
template <typename F>
std::string error_of(F&& write) {
  try {
    write();
  } catch (const FileError& e) {
    return e.what();
  }
  return "(no error)";
}

bool make_device(const fs::path& path, unsigned major, unsigned minor, mode_t type = S_IFCHR) {
  return ::mknod(path.c_str(), type | 0666, makedev(major, minor)) == 0;
}

}  // namespace

TEST_CASE("a new file is created and a regular file replaced whole, keeping its permissions", "[atomic_write]") {
  Folder dir;
  const fs::path file = dir.path / "out.json";
  write_file_atomically(file, "first");
  CHECK(read_text(file) == "first");
  REQUIRE(::chmod(file.c_str(), 0600) == 0);
  write_file_atomically(file, "second, longer");
  CHECK(read_text(file) == "second, longer");
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(entries(dir.path) == 1);
}

TEST_CASE("a symbolic link is followed: its target is replaced and the link stays", "[atomic_write]") {
  Folder dir;
  fs::create_directories(dir.path / "elsewhere");
  const fs::path target = dir.path / "elsewhere" / "real.json", link = dir.path / "link.json";
  write_text(target, "old");
  fs::create_symlink(fs::path("elsewhere") / "real.json", link);  // relative, as ln -s makes them
  write_file_atomically(link, "new");
  CHECK(file_type(link) == S_IFLNK);
  CHECK(fs::read_symlink(link) == fs::path("elsewhere") / "real.json");
  CHECK(read_text(target) == "new");
  // The temporary file went beside the target, and is gone.
  CHECK(entries(dir.path / "elsewhere") == 1);

  SECTION("a chain of links, and a link that dangles") {
    const fs::path second = dir.path / "second.json";
    fs::create_symlink(link, second);
    write_file_atomically(second, "through two");
    CHECK(read_text(target) == "through two");
    CHECK(file_type(second) == S_IFLNK);
    const fs::path dangling = dir.path / "dangling.json";
    fs::create_symlink(dir.path / "elsewhere" / "not-yet.json", dangling);
    write_file_atomically(dangling, "created");
    CHECK(file_type(dangling) == S_IFLNK);
    CHECK(read_text(dir.path / "elsewhere" / "not-yet.json") == "created");
  }
}

TEST_CASE("a FIFO is written to, not replaced", "[atomic_write]") {
  Folder dir;
  const fs::path fifo = dir.path / "pipe.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // The reader is open before the write (without blocking), and what the
  // writer leaves fits the pipe's buffer: nothing waits, whatever happens.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  REQUIRE(reader >= 0);
  write_file_atomically(fifo, "through the pipe");
  std::string received;
  char buffer[256];
  for (ssize_t n; (n = ::read(reader, buffer, sizeof buffer)) > 0;) received.append(buffer, std::size_t(n));
  ::close(reader);
  CHECK(received == "through the pipe");
  CHECK(file_type(fifo) == S_IFIFO);
}

TEST_CASE("a character device is written to, not replaced; a write error names it", "[atomic_write]") {
  Folder dir;
  const fs::path null = dir.path / "null", full = dir.path / "full";
  if (!make_device(null, 1, 3) || !make_device(full, 1, 7)) {
    WARN("mknod is not permitted here (not root): the device cases are left out");
    return;
  }
  write_file_atomically(null, "into nothing");
  CHECK(file_type(null) == S_IFCHR);
  // /dev/full refuses every write: the error names the file and the reason, and the node stays.
  const std::string message = error_of([&] { write_file_atomically(full, "no room"); });
  CHECK(message.find(full.string()) != std::string::npos);
  CHECK(message.find("No space left on device") != std::string::npos);
  CHECK(file_type(full) == S_IFCHR);
  CHECK(entries(dir.path) == 2);
}

TEST_CASE("a block device is refused, never replaced", "[atomic_write]") {
  Folder dir;
  const fs::path block = dir.path / "disk";
  if (!make_device(block, 7, 0, S_IFBLK)) {  // a loop device's numbers; nothing is opened
    WARN("mknod is not permitted here (not root): the block device case is left out");
    return;
  }
  const std::string message = error_of([&] { write_file_atomically(block, "data"); });
  CHECK(message.find(block.string()) != std::string::npos);
  CHECK(message.find("block device") != std::string::npos);
  CHECK(file_type(block) == S_IFBLK);
}

TEST_CASE("descriptors the program holds are written as they are: a shell's >> appends", "[atomic_write]") {
  Folder dir;
  const fs::path log = dir.path / "log.txt";
  write_text(log, "kept\n");
  const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  REQUIRE(fd >= 0);
  write_file_atomically("/proc/self/fd/" + std::to_string(fd), "added\n");
  write_file_atomically("/dev/fd/" + std::to_string(fd), "and more\n");
  ::close(fd);
  CHECK(read_text(log) == "kept\nadded\nand more\n");
  CHECK(entries(dir.path) == 1);
}

TEST_CASE("folders, empty paths and missing folders are one clear line naming the path", "[atomic_write]") {
  Folder dir;
  const std::string folder = error_of([&] { write_file_atomically(dir.path, "x"); });
  CHECK(folder.find(dir.path.string()) != std::string::npos);
  CHECK(folder.find("is a folder") != std::string::npos);
  CHECK(fs::is_directory(dir.path));

  CHECK(error_of([&] { write_file_atomically("", "x"); }).find("empty path") != std::string::npos);

  // The folder is named, not the temporary file.
  const fs::path missing = dir.path / "no-such-folder" / "piece.mid";
  nocturne::MidiFile piece;
  piece.tracks.resize(1);
  const std::string message = error_of([&] { nocturne::write_midi(missing, piece); });
  CHECK(message.find("the folder " + (dir.path / "no-such-folder").string() + " does not exist") != std::string::npos);
  CHECK(message.find(".tmp") == std::string::npos);
  CHECK(message.find('\n') == std::string::npos);

  // Under /proc nothing can be created: the reason is given.
  const std::string proc = error_of([&] { write_file_atomically("/proc/nocturne-test.json", "x"); });
  CHECK(proc.find("/proc/nocturne-test.json") != std::string::npos);
  CHECK(proc.find(": ", proc.find("temporary file")) != std::string::npos);
}

TEST_CASE("checkpoints go through the same policy", "[atomic_write]") {
  Folder dir;
  nocturne::Checkpoint c;
  c.model.vocab = 2;
  c.model.window = 2;
  c.model.hidden1 = c.model.hidden2 = c.model.dense = 2;
  c.vocabulary = {"C4", "0.4.7"};
  c.parameters.assign(nocturne::ParameterLayout(c.model).buffer_size(), 0.5f);
  fs::create_directories(dir.path / "store");
  const fs::path link = dir.path / "last.ckpt";
  fs::create_symlink(dir.path / "store" / "run-last.ckpt", link);
  nocturne::save_checkpoint(link, c);
  CHECK(file_type(link) == S_IFLNK);
  CHECK(nocturne::load_checkpoint(dir.path / "store" / "run-last.ckpt").vocabulary == c.vocabulary);
  CHECK(entries(dir.path / "store") == 1);
}
