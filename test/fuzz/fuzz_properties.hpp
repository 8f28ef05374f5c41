#pragma once
// What must hold for any bytes a user can hand the library: a MIDI file, a
// checkpoint, a list of tokens. Each check_* either returns (the input was
// read, or refused with a nocturne::Error) or throws: PropertyFailure when
// the library accepted the input but broke one of its own promises, or
// whatever else escaped (std::out_of_range, std::bad_alloc...), which is a
// bug too. The same checks run under libFuzzer (fuzz_main.cpp, where an
// escaping exception is a crash) and in every test run (test_fuzz_replay.cpp).

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace nocturne::inline v0::fuzz {

using Bytes = std::vector<std::uint8_t>;

struct PropertyFailure : std::logic_error {
  using std::logic_error::logic_error;
};

// read_midi_bytes, then: every value in range, tokenize() and decoding its
// tokens work, and encoding is a fixed point after one round trip
// (encode(read(encode(f))) == encode(f) for the file f that was read).
void check_midi(std::span<const std::uint8_t> bytes);

// decode_checkpoint on the bytes with their checksum made to match (so that
// mutations reach the section parser), then: sizes agree with the layout,
// and encode(decode(encode(c))) == encode(c), bit for bit.
void check_checkpoint(std::span<const std::uint8_t> bytes);

// The bytes as a token list (split_token_list, as `--primer tokens:...`):
// token_pitches / is_chord_token agree, and tokens_to_midi -> encode -> read -> tokenize works, the second
// round trip giving the same tokens as the first.
void check_tokens(std::span<const std::uint8_t> bytes);

// Well-formed inputs written by the library itself, to start from.
std::vector<Bytes> midi_seeds();
std::vector<Bytes> checkpoint_seeds();
std::vector<Bytes> token_seeds();

}  // namespace nocturne::fuzz
