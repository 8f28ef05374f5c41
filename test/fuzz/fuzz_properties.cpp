// The properties behind fuzz_properties.hpp. Only nocturne::Error counts as
// a refusal; everything else that escapes is reported by the caller.

#include "fuzz_properties.hpp"

#include <cstring>
#include <set>
#include <string_view>

#include "nocturne/checkpoint.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/midi.hpp"
#include "nocturne/model.hpp"
#include "nocturne/tokenizer.hpp"
#include "checkpoint/fnv1a64.hpp"

namespace nocturne::inline v0::fuzz {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw PropertyFailure(what);
}

// Returns f(), where a nocturne::Error from f breaks a promise.
template <typename F>
auto must(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw PropertyFailure(what + ": " + e.what());
  }
}

std::string note_text(const Note& n) {
  return "note pitch " + std::to_string(n.pitch) + " velocity " + std::to_string(n.velocity) + " channel " +
         std::to_string(n.channel) + " ticks " + std::to_string(n.on_tick) + ".." + std::to_string(n.off_tick);
}

// What midi.hpp promises of every file read_midi_bytes returns.
void check_ranges(const MidiFile& file) {
  require(file.format == 0 || file.format == 1, "format " + std::to_string(file.format));
  require(file.ticks_per_quarter > 0, "ticks per quarter " + std::to_string(file.ticks_per_quarter));
  for (const auto& track : file.tracks) {
    for (const auto& n : track.notes) {
      const bool ok = n.pitch >= 0 && n.pitch <= 127 && n.velocity >= 1 && n.velocity <= 127 && n.channel >= 0 &&
                      n.channel <= 15 && n.on_tick >= 0 && n.off_tick >= n.on_tick && n.off_tick <= track.end_tick;
      require(ok, "read a " + note_text(n) + " in a track ending at tick " + std::to_string(track.end_tick));
    }
    for (const auto& t : track.tempos)
      require(t.microseconds_per_quarter > 0, "tempo " + std::to_string(t.microseconds_per_quarter));
    for (const auto& ts : track.time_signatures)
      require(ts.numerator > 0 && ts.denominator > 0 && (ts.denominator & (ts.denominator - 1)) == 0,
              "time signature " + std::to_string(ts.numerator) + "/" + std::to_string(ts.denominator));
  }
}

bool same_notes(const MidiFile& a, const MidiFile& b) {
  if (a.tracks.size() != b.tracks.size()) return false;
  for (std::size_t i = 0; i < a.tracks.size(); ++i)
    if (a.tracks[i].notes != b.tracks[i].notes) return false;
  return true;
}

// Every token the tokenizer makes must decode, and the decoder must take them all.
void check_tokens_decode(const std::vector<std::string>& tokens) {
  for (const auto& token : tokens)
    (void)must("the tokenizer made the token '" + token + "', which does not decode",
               [&] { return token_pitches(token); });
  (void)tokens_to_midi(tokens);
}

std::vector<std::string> tokens_through_midi(const std::vector<std::string>& tokens) {
  const auto bytes = encode_midi(tokens_to_midi(tokens));
  return tokenize(read_midi_bytes(bytes, "decoded tokens"));
}

// A token the decoder and the tokenizer give back unchanged: a note spelled as
// pitch_name spells it, or a chord of two or more pitch classes in normal order.
bool canonical(const std::string& token, const std::vector<int>& pitches) {
  if (!is_chord_token(token)) return pitches.size() == 1 && pitch_name(pitches[0]) == token;
  std::set<int> classes;
  for (int p : pitches) classes.insert(p % 12);
  return classes.size() >= 2 && chord_token(pitches) == token;
}

void store_le64(std::uint8_t* at, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

void check_midi(std::span<const std::uint8_t> bytes) {
  MidiFile file;
  try {
    file = read_midi_bytes(bytes, "fuzz.mid");
  } catch (const Error&) {
    return;
  }
  check_ranges(file);
  (void)TempoMap(file).seconds_at(file.end_tick());

  // The tokenizer's limits, lowered so that every run stays fast; the checks
  // that enforce them are the same.
  TokenizerOptions options;
  options.max_bars = 1 << 14;
  options.max_tokens = 1 << 14;
  std::vector<std::string> tokens;
  try {
    tokens = tokenize(file, options);
  } catch (const Error&) {
    // A file can be readable and still have nothing a tokenizer can place.
  }
  check_tokens_decode(tokens);

  const Bytes encoded = must("a file the reader accepted does not encode", [&] { return encode_midi(file); });
  const MidiFile again = must("the writer made a file the reader refuses",
                              [&] { return read_midi_bytes(encoded, "re-encoded.mid"); });
  require(same_notes(file, again), "the notes changed through encode_midi and read_midi_bytes");
  require(encode_midi(again) == encoded, "encode_midi(read_midi_bytes(encode_midi(f))) differs from encode_midi(f)");
}

void check_checkpoint(std::span<const std::uint8_t> bytes) {
  Bytes patched(bytes.begin(), bytes.end());
  if (patched.size() >= 8)
    store_le64(patched.data() + patched.size() - 8, fnv1a64({patched.data(), patched.size() - 8}));
  Checkpoint c;
  try {
    c = decode_checkpoint(patched, "fuzz.ckpt");
  } catch (const Error&) {
    return;
  }
  const std::size_t p = ParameterLayout(c.model).buffer_size();
  require(c.vocabulary.size() == std::size_t(c.model.vocab), "vocabulary size differs from the model's");
  require(c.parameters.size() == p, "parameter count differs from the layout's");
  require(c.first_moment.size() == c.infinity_norm.size() && (c.first_moment.empty() || c.first_moment.size() == p),
          "optimizer moments of the wrong size");

  const Bytes encoded = must("a decoded checkpoint does not encode", [&] { return encode_checkpoint(c); });
  const Checkpoint again = must("an encoded checkpoint does not decode",
                                [&] { return decode_checkpoint(encoded, "re-encoded.ckpt"); });
  require(same_bits(c.parameters, again.parameters) && same_bits(c.first_moment, again.first_moment) &&
              same_bits(c.infinity_norm, again.infinity_norm) && c.vocabulary == again.vocabulary &&
              c.metadata == again.metadata && c.epochs_done == again.epochs_done &&
              c.optimizer_steps == again.optimizer_steps,
          "a checkpoint changed through encode and decode");
  require(encode_checkpoint(again) == encoded, "encode(decode(encode(c))) differs from encode(c)");
}

void check_tokens(std::span<const std::uint8_t> bytes) {
  constexpr std::size_t kMaxTokens = 4096;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::string> decodable, canonical_tokens;
  for (const std::string& token : split_token_list(text)) {
    require(!token.empty() && token.find_first_of(" \t\n\r\f\v,") == std::string::npos,
            "split_token_list gave the token '" + token + "'");
    if (decodable.size() == kMaxTokens) break;
    std::vector<int> pitches;
    try {
      pitches = token_pitches(token);
    } catch (const Error&) {
      continue;
    }
    require(!pitches.empty(), "token '" + token + "' decodes to no pitch");
    for (int p : pitches) require(p >= 0 && p <= 127, "token '" + token + "' decodes to pitch " + std::to_string(p));
    if (is_chord_token(token))
      for (int p : pitches) require(p >= 60 && p < 72, "chord token '" + token + "' leaves octave 4");
    decodable.push_back(token);
    if (canonical(token, pitches)) canonical_tokens.push_back(token);
  }
  if (decodable.empty()) return;
  const auto once = tokens_through_midi(decodable);
  check_tokens_decode(once);
  if (!canonical_tokens.empty())
    require(tokens_through_midi(canonical_tokens) == canonical_tokens,
            "canonical tokens changed through tokens_to_midi, encode, read and tokenize");
}

}  // namespace nocturne::fuzz
