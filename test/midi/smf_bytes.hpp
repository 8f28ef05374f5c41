#pragma once
// Builds raw Standard MIDI File bytes in memory for the reader tests.

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace nocturne::inline v0::test {

using Bytes = std::vector<std::uint8_t>;

inline void append(Bytes& out, std::initializer_list<int> bytes) {
  for (int b : bytes) out.push_back(static_cast<std::uint8_t>(b));
}
inline void append_be32(Bytes& out, std::uint32_t v) {
  append(out, {int(v >> 24) & 0xFF, int(v >> 16) & 0xFF, int(v >> 8) & 0xFF, int(v) & 0xFF});
}
inline Bytes header(int format, int tracks, int division) {
  Bytes out{'M', 'T', 'h', 'd'};
  append_be32(out, 6);
  append(out, {format >> 8, format & 0xFF, tracks >> 8, tracks & 0xFF, division >> 8, division & 0xFF});
  return out;
}
inline void track(Bytes& out, const Bytes& body) {
  append(out, {'M', 'T', 'r', 'k'});
  append_be32(out, static_cast<std::uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
}
inline Bytes file(int format, int division, std::initializer_list<Bytes> bodies) {
  Bytes out = header(format, static_cast<int>(bodies.size()), division);
  for (const auto& b : bodies) track(out, b);
  return out;
}

}  // namespace nocturne::test
