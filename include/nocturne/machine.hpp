#pragma once
// What the machine offers this process: memory and cores. Large allocations
// and thread counts are checked against them up front, so that a setting too
// large for the machine is one clear error rather than the kernel's
// out-of-memory killer or a thread pool spinning on failed allocations.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

struct NOCTURNE_API MemoryLimit {
  std::uint64_t bytes = 0;
  std::string source;  // where the number comes from, for messages
};

// The lower of the memory the kernel reports available (MemAvailable in
// /proc/meminfo, else the physical memory) and what the address-space limit
// (ulimit -v) leaves this process; nullopt when neither is known.
NOCTURNE_API std::optional<MemoryLimit> available_memory();

// The cores this process may run on (its CPU affinity), at least 1.
NOCTURNE_API int available_cores();

// "1.5 GiB", "640 MiB", "12 KiB", "100 bytes".
NOCTURNE_API std::string format_bytes(std::uint64_t bytes);

// Throws ConfigError when `needed` bytes exceed `available` (when known):
// "<what> needs about X, more than the Y available (<source>); <advice>".
NOCTURNE_API void require_memory(std::uint64_t needed, const std::optional<MemoryLimit>& available,
                                 std::string_view what,
                                 std::string_view advice);

}  // namespace nocturne
