#include "midi/atomic_write.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>

#include "nocturne/error.hpp"

namespace nocturne::inline v0::detail {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxLinkHops = 40;  // as the kernel's ELOOP limit

std::string errno_text(int error) { return std::system_category().message(error); }

// Where the bytes go once the path has been looked at.
struct OutputTarget {
  enum Kind { replace, direct, stream } kind = replace;
  fs::path path;                  // replace, direct: the file itself (links followed)
  std::optional<mode_t> mode;     // replace: the permissions of the file being replaced
  int fd = -1;                    // stream: the descriptor the program already holds
};

// "/dev/stdout", "/dev/stderr", "/dev/fd/N", "/proc/self/fd/N": a descriptor of
// this process. Resolving them as links would find a pipe or the file a shell
// opened, which a rename must not replace.
std::optional<int> stream_descriptor(const fs::path& path) {
  const std::string text = path.string();
  if (text == "/dev/stdout") return 1;
  if (text == "/dev/stderr") return 2;
  for (const std::string_view prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    if (!text.starts_with(prefix)) continue;
    int fd = -1;
    const char* first = text.data() + prefix.size();
    const char* last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(first, last, fd);
    if (ec == std::errc() && end == last && first != last && fd >= 0) return fd;
  }
  return std::nullopt;
}

std::string kind_of(const struct stat& st) {
  if (S_ISBLK(st.st_mode)) return "a block device";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "not a regular file";
}

// The message prefix: the path asked for, and where its links led.
std::string where(const fs::path& asked, const fs::path& resolved) {
  if (asked == resolved) return asked.string();
  return asked.string() + " (a link to " + resolved.string() + ")";
}

[[noreturn]] void fail(const fs::path& asked, const fs::path& resolved, const std::string& what) {
  throw FileError(where(asked, resolved) + ": " + what);
}

// A path that does not exist yet: its folder must.
void require_folder(const fs::path& asked, const fs::path& file) {
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  struct stat st {};
  if (::stat(folder.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) fail(asked, file, "the folder " + folder.string() + " does not exist");
    fail(asked, file, "cannot reach the folder " + folder.string() + ": " + errno_text(error));
  }
  if (!S_ISDIR(st.st_mode)) fail(asked, file, folder.string() + " is not a folder");
}

OutputTarget resolve_output(const fs::path& asked) {
  if (asked.empty()) throw FileError("'': an empty path is not a file name to write");
  fs::path current = asked;
  for (int hop = 0;; ++hop) {
    if (const auto fd = stream_descriptor(current)) return {OutputTarget::stream, current, std::nullopt, *fd};
    struct stat st {};
    if (::lstat(current.c_str(), &st) != 0) {
      const int error = errno;
      if (error != ENOENT) fail(asked, current, "cannot look at it: " + errno_text(error));
      require_folder(asked, current);
      return {OutputTarget::replace, current, std::nullopt, -1};
    }
    if (S_ISLNK(st.st_mode)) {
      if (hop >= kMaxLinkHops) fail(asked, current, "too many levels of symbolic links");
      std::error_code ec;
      const fs::path target = fs::read_symlink(current, ec);
      if (ec) fail(asked, current, "cannot read the link: " + ec.message());
      current = target.is_absolute() ? target : current.parent_path() / target;
      continue;
    }
    if (S_ISREG(st.st_mode)) return {OutputTarget::replace, current, st.st_mode & 07777, -1};
    if (S_ISDIR(st.st_mode)) fail(asked, current, "is a folder, not a file");
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return {OutputTarget::direct, current, std::nullopt, -1};
    fail(asked, current, kind_of(st) + ": refusing to write an output there");
  }
}

// Writes every byte; returns 0 or the errno of the failure.
int write_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += std::size_t(wrote);
  }
  return 0;
}

void write_stream(const fs::path& asked, const OutputTarget& target, std::string_view bytes) {
  // stdout and stderr through their stdio streams, so that what was printed
  // before stays before.
  if (target.fd == 1 || target.fd == 2) {
    std::FILE* stream = target.fd == 1 ? stdout : stderr;
    std::fwrite(bytes.data(), 1, bytes.size(), stream);
    if (std::fflush(stream) != 0 || std::ferror(stream)) fail(asked, asked, "write failed: " + errno_text(errno));
    return;
  }
  if (const int error = write_all(target.fd, bytes)) fail(asked, asked, "write failed: " + errno_text(error));
}

// A device or a FIFO: opened and written as it is (a FIFO waits for its reader).
void write_direct(const fs::path& asked, const OutputTarget& target, std::string_view bytes) {
  const int fd = ::open(target.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fail(asked, target.path, "cannot open for writing: " + errno_text(errno));
  const int error = write_all(fd, bytes);
  const int closed = ::close(fd) == 0 ? 0 : errno;
  if (error) fail(asked, target.path, "write failed: " + errno_text(error));
  if (closed) fail(asked, target.path, "close failed: " + errno_text(closed));
}

// Hidden, and not ending in the target's extension, so nothing mistakes a
// leftover for an output; the pid and a counter keep writers apart.
fs::path temporary_sibling(const fs::path& path) {
  static std::atomic<unsigned long> counter{0};
  return path.parent_path() / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                               std::to_string(counter.fetch_add(1)));
}

void replace_file(const fs::path& asked, const OutputTarget& target, std::string_view bytes, Durability durability) {
  const fs::path temp = temporary_sibling(target.path);
  const fs::path folder = target.path.has_parent_path() ? target.path.parent_path() : fs::path(".");
  // O_EXCL: never through whatever might already sit at the temporary name.
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0)
    fail(asked, target.path, "cannot create a temporary file in " + folder.string() + ": " + errno_text(errno));
  auto abandon = [&](const std::string& what, int error) {
    ::close(fd);
    ::unlink(temp.c_str());
    fail(asked, target.path, what + ": " + errno_text(error));
  };
  if (target.mode && ::fchmod(fd, *target.mode) != 0) abandon("cannot keep its permissions", errno);
  if (const int error = write_all(fd, bytes)) abandon("write failed", error);
  if (durability == Durability::synced && ::fsync(fd) != 0) abandon("fsync failed", errno);
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    fail(asked, target.path, "close failed: " + errno_text(error));
  }
  if (::rename(temp.c_str(), target.path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    fail(asked, target.path, "cannot rename the temporary file into place: " + errno_text(error));
  }
  if (durability == Durability::synced) {
    // Make the rename itself durable; failure here leaves a complete file either way.
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      (void)::fsync(dir);
      ::close(dir);
    }
  }
}

}  // namespace

void write_file_atomically(const fs::path& path, std::string_view bytes, Durability durability) {
  const OutputTarget target = resolve_output(path);
  switch (target.kind) {
    case OutputTarget::stream: write_stream(path, target, bytes); break;
    case OutputTarget::direct: write_direct(path, target, bytes); break;
    case OutputTarget::replace: replace_file(path, target, bytes, durability); break;
  }
}

void install_file(const fs::path& finished, const fs::path& target) {
  std::ifstream in(finished, std::ios::binary);
  if (!in) throw FileError(finished.string() + ": cannot open for reading");
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw FileError(finished.string() + ": read failed");
  write_file_atomically(target, bytes);
  std::error_code ignored;
  fs::remove(finished, ignored);
}

}  // namespace nocturne::detail
