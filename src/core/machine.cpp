#include "nocturne/machine.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

namespace {

// A "<key>: <n> kB" line of a /proc file, in bytes.
std::optional<std::uint64_t> proc_kilobytes(const char* file, const std::string& key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(key + ":")) continue;
    std::istringstream fields(line.substr(key.size() + 1));
    std::uint64_t kb = 0;
    if (fields >> kb) return kb * 1024;
  }
  return std::nullopt;
}

}  // namespace

std::optional<MemoryLimit> available_memory() {
  std::optional<MemoryLimit> best;
  if (const auto bytes = proc_kilobytes("/proc/meminfo", "MemAvailable")) {
    best = MemoryLimit{*bytes, "MemAvailable in /proc/meminfo"};
  } else {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) best = MemoryLimit{std::uint64_t(pages) * std::uint64_t(page), "physical memory"};
  }
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const std::uint64_t used = proc_kilobytes("/proc/self/status", "VmSize").value_or(0);
    const std::uint64_t cap = std::uint64_t(limit.rlim_cur);
    const std::uint64_t left = cap > used ? cap - used : 0;
    if (!best || left < best->bytes)
      best = MemoryLimit{left, "the address-space limit (ulimit -v " + std::to_string(cap / 1024) + ")"};
  }
  return best;
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(CPU_COUNT(&set), 1);
  return std::max(int(std::thread::hardware_concurrency()), 1);
}

std::string format_bytes(std::uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double value = double(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, value < 10 ? "%.1f %s" : "%.0f %s", value, kUnits[unit]);
  return text;
}

void require_memory(std::uint64_t needed, const std::optional<MemoryLimit>& available, std::string_view what,
                    std::string_view advice) {
  if (!available || needed <= available->bytes) return;
  throw ConfigError(std::string(what) + " needs about " + format_bytes(needed) + ", more than the " +
                    format_bytes(available->bytes) + " available (" + available->source + "); " +
                    std::string(advice));
}

}  // namespace nocturne
