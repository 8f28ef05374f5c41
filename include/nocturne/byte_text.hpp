#pragma once
// Names as bytes: a file name or path on Linux is any bytes but '/' and NUL,
// while JSON holds UTF-8 text. escape_bytes turns bytes into valid UTF-8 text
// that unescape_bytes turns back exactly; display_text makes one printable
// line for messages.

#include <string>
#include <string_view>

#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
NOCTURNE_API bool is_valid_utf8(std::string_view text);

// Percent-escaping, lossless: '%', control bytes (0x00-0x1F, 0x7F) and every
// byte outside well-formed UTF-8 become %XX (two upper-case hex digits); all
// else is kept. A valid UTF-8 name without '%' or control bytes is unchanged.
NOCTURNE_API std::string escape_bytes(std::string_view bytes);
// The inverse of escape_bytes. Throws ConfigError for a '%' not followed by
// two hex digits.
NOCTURNE_API std::string unescape_bytes(std::string_view text);

// For messages: valid UTF-8 kept, other and control bytes as \xNN.
NOCTURNE_API std::string display_text(std::string_view bytes);

}  // namespace nocturne
