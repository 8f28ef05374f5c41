#include "nocturne/byte_text.hpp"

#include <cstdint>

#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

namespace {

// The length of the well-formed UTF-8 sequence starting at text[at], or 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[at + k]); };
  const std::uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint8_t low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  return length;
}

bool is_control(std::uint8_t b) { return b < 0x20 || b == 0x7F; }

void append_hex(std::string& out, const char* prefix, std::uint8_t b) {
  constexpr char kDigits[] = "0123456789ABCDEF";
  out += prefix;
  out += kDigits[b >> 4];
  out += kDigits[b & 0xF];
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Walks `bytes`, keeping well-formed UTF-8 and handing every other byte (and
// the bytes `also` picks) to `escape`.
template <typename Also, typename Escape>
std::string rewrite(std::string_view bytes, Also also, Escape escape) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t at = 0; at < bytes.size();) {
    const auto b = static_cast<std::uint8_t>(bytes[at]);
    const std::size_t length = utf8_sequence_length(bytes, at);
    if (length == 0 || is_control(b) || also(b)) {
      escape(out, b);
      ++at;
    } else {
      out.append(bytes.substr(at, length));
      at += length;
    }
  }
  return out;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_length(text, at);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

std::string escape_bytes(std::string_view bytes) {
  return rewrite(
      bytes, [](std::uint8_t b) { return b == '%'; }, [](std::string& out, std::uint8_t b) { append_hex(out, "%", b); });
}

std::string unescape_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size(); ++at) {
    if (text[at] != '%') {
      out += text[at];
      continue;
    }
    const bool room = at + 2 < text.size();
    const int high = room ? hex_value(text[at + 1]) : -1;
    const int low = room ? hex_value(text[at + 2]) : -1;
    if (high < 0 || low < 0)
      throw ConfigError("malformed escape at character " + std::to_string(at) + " of '" + display_text(text) +
                        "' (expected %XX with two hex digits)");
    out += static_cast<char>(high * 16 + low);
    at += 2;
  }
  return out;
}

std::string display_text(std::string_view bytes) {
  return rewrite(
      bytes, [](std::uint8_t) { return false; }, [](std::string& out, std::uint8_t b) { append_hex(out, "\\x", b); });
}

}  // namespace nocturne
