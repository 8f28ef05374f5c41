#pragma once
// The checkpoint's checksum (docs/checkpoint-format.md), also the training
// run's data fingerprint.

#include <cstdint>
#include <span>

namespace nocturne::inline v0 {

// FNV-1a 64 over `bytes`.
std::uint64_t fnv1a64(std::span<const std::uint8_t> bytes);

}  // namespace nocturne
