#include "midi/atomic_write.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <system_error>

#include "nocturne/error.hpp"

namespace nocturne::detail {

namespace {

// A name unlikely to collide with another writer of the same target.
std::filesystem::path temporary_sibling(const std::filesystem::path& path) {
  static std::atomic<unsigned long> counter{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  std::string name = "." + path.filename().string() + ".tmp-" + std::to_string(stamp) + "-" +
                     std::to_string(counter.fetch_add(1));
  return path.parent_path() / name;
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path temp = temporary_sibling(path);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path.string() + ": cannot create temporary file " + temp.string());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      throw FileError(path.string() + ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw FileError(path.string() + ": cannot rename the temporary file into place: " + ec.message());
  }
}

}  // namespace nocturne::detail
