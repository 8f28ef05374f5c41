// Names as bytes (byte_text.hpp): lossless escaping of what is not UTF-8.

#include <catch2/catch.hpp>

#include <string>

#include "nocturne/byte_text.hpp"
#include "nocturne/error.hpp"

using namespace nocturne;

TEST_CASE("UTF-8 validity follows the standard's table", "[byte_text]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("\xc3\xa9tude \xe2\x99\xaf \xf0\x9d\x84\x9e"));  // é, ♯, 𝄞
  CHECK_FALSE(is_valid_utf8("caf\xe9"));                             // Latin-1
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));                            // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));                        // a surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));                    // past U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xe2\x99"));                            // cut short
}

TEST_CASE("escape_bytes keeps UTF-8 names and escapes the rest, losslessly", "[byte_text]") {
  CHECK(escape_bytes("Chopin/op9-2.mid") == "Chopin/op9-2.mid");
  CHECK(escape_bytes("\xc3\x89tude.mid") == "\xc3\x89tude.mid");
  CHECK(escape_bytes("caf\xe9.mid") == "caf%E9.mid");
  CHECK(escape_bytes("100%.mid") == "100%25.mid");
  CHECK(escape_bytes("a\nb") == "a%0Ab");
  // Every byte value survives the round trip, and the escaped text is UTF-8.
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  all += "%E9 \xc3\xa9";
  const std::string escaped = escape_bytes(all);
  CHECK(is_valid_utf8(escaped));
  CHECK(unescape_bytes(escaped) == all);
  CHECK(unescape_bytes("caf%e9") == "caf\xe9");
}

TEST_CASE("a malformed escape is a ConfigError naming the text", "[byte_text]") {
  CHECK_THROWS_AS(unescape_bytes("50%"), ConfigError);
  CHECK_THROWS_AS(unescape_bytes("%G1"), ConfigError);
  CHECK_THROWS_WITH(unescape_bytes("a%4"), Catch::Contains("'a%4'"));
}

TEST_CASE("display_text is one printable line", "[byte_text]") {
  CHECK(display_text("C4") == "C4");
  CHECK(display_text("caf\xe9\n") == "caf\\xE9\\x0A");
  CHECK(display_text("\xc3\xa9t\xc3\xa9") == "\xc3\xa9t\xc3\xa9");
}
