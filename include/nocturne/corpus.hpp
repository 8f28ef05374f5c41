#pragma once
// The recipe's data pipeline: a folder of MIDI files -> one token list -> rare
// symbols filtered -> vocabulary -> windows with next-token targets -> a split.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/error.hpp"
#include "nocturne/export.hpp"
#include "nocturne/midi.hpp"
#include "nocturne/tokenizer.hpp"

namespace nocturne::inline v0 {

// Every .mid/.midi file under `folder` (recursively), sorted by relative path bytewise.
NOCTURNE_API std::vector<std::filesystem::path> find_midi_files(const std::filesystem::path& folder);

struct NOCTURNE_API CorpusFile {
  std::string name;  // path relative to the corpus folder, '/'-separated
  std::vector<std::string> tokens;
};

// What reading a corpus does with a MIDI file it cannot read.
enum class BadFilePolicy {
  skip,  // leave it out, tell on_skip, go on
  stop,  // throw the file's FileError
};

// Which token stream a corpus is read into: the recipe's symbols, or the
// timed stream of nocturne/timed_tokens.hpp (symbols with their rhythm).
enum class TokenKind { recipe, timed };

struct NOCTURNE_API CorpusReadOptions {
  TokenizerOptions tokenizer;
  TokenKind tokens = TokenKind::recipe;
  BadFilePolicy on_bad_file = BadFilePolicy::skip;
  // Called for each skipped file: its name (relative to the folder) and why.
  // It may throw to stop reading there (the exception propagates as is).
  std::function<void(const std::string& name, const Error& why)> on_skip;
};

struct NOCTURNE_API Corpus {
  std::vector<CorpusFile> files;     // the files read, in the order given (a folder's: sorted)
  std::vector<std::string> skipped;  // names of the files left out
};

// Every MIDI file under `folder`, tokenized. Throws FileError for a missing
// folder, a path that is not a folder, a folder without MIDI files ("no MIDI
// files (.mid or .midi) in the data folder", "(it is empty)" when it is), and
// when no file can be read; a bad file as `options` say.
NOCTURNE_API Corpus read_corpus(const std::filesystem::path& folder, const CorpusReadOptions& options = {});
// An explicit list of files (names are the paths as given, '/'-separated).
// Throws FileError for an empty list, and when no file can be read.
NOCTURNE_API Corpus read_corpus(std::span<const std::filesystem::path> files, const CorpusReadOptions& options = {});

// One token list per file, files in sorted order: read_corpus with
// BadFilePolicy::stop. Throws FileError naming a bad file or an empty folder.
NOCTURNE_API std::vector<CorpusFile> load_corpus(const std::filesystem::path& folder,
                                                 const TokenizerOptions& options = {});

// Symbols sorted as byte strings (std::string operator<), as the recipe's sorted(set(...)).
class NOCTURNE_API Vocabulary {
 public:
  Vocabulary() = default;
  explicit Vocabulary(std::vector<std::string> symbols);  // sorted and deduplicated here

  std::size_t size() const { return symbols_.size(); }
  const std::string& symbol(std::int32_t index) const;           // throws ConfigError when out of range
  std::int32_t index(std::string_view symbol) const;             // throws ConfigError when unknown
  std::optional<std::int32_t> find(std::string_view symbol) const;
  const std::vector<std::string>& symbols() const { return symbols_; }

  // A plain text file, one symbol a line (atomic write). load throws FileError.
  void save(const std::filesystem::path& path) const;
  static Vocabulary load(const std::filesystem::path& path);
  friend bool operator==(const Vocabulary&, const Vocabulary&) = default;

 private:
  std::vector<std::string> symbols_;
};

NOCTURNE_API std::map<std::string, std::int64_t> count_symbols(std::span<const std::string> tokens);

// Drops every occurrence of every symbol occurring fewer than min_count times.
NOCTURNE_API std::vector<std::string> filter_rare(std::span<const std::string> tokens, std::int64_t min_count);

enum class SplitMode { random, piece };

struct NOCTURNE_API DatasetOptions {
  std::int64_t min_count = 100;   // symbols rarer than this are dropped
  // The recipe's own loop, which removes from the list while iterating over
  // it: after each removal the next element is skipped, so only part of the
  // rare symbols go. For reproducing the recipe's numbers only.
  bool recipe_partial_filter = false;
  std::int64_t window = 40;       // input steps; the target is the next token
  SplitMode split = SplitMode::random;
  std::uint64_t seed = 42;
  double heldout_fraction = 0.2;
};

struct NOCTURNE_API PieceRange {
  std::string name;
  std::int64_t begin = 0;  // [begin, end) in Dataset::tokens
  std::int64_t end = 0;
};

// Windows: window k starts at s = train_starts[k] (or heldout_starts[k]); its
// input is tokens[s, s + window) and its target tokens[s + window].
// Random split (the recipe's): every s in [0, tokens - window) over the whole
// concatenated list, windows crossing piece boundaries included; a seeded
// Fisher-Yates shuffle (splitmix64 keyed by the seed) puts ceil(fraction * n)
// windows in held-out. Piece split: only windows inside one piece; pieces are
// shuffled the same way and whole pieces are held out until the held-out
// windows reach the fraction, so no window of a held-out piece is in training.
// Both start lists are sorted ascending.
struct NOCTURNE_API Dataset {
  Vocabulary vocab;
  std::vector<std::int32_t> tokens;  // filtered, as vocabulary indices
  std::vector<PieceRange> pieces;
  std::int64_t window = 40;
  std::vector<std::int64_t> train_starts;
  std::vector<std::int64_t> heldout_starts;

  std::span<const std::int32_t> input(std::int64_t start) const {
    return std::span<const std::int32_t>(tokens).subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(window));
  }
  std::int32_t target(std::int64_t start) const { return tokens[static_cast<std::size_t>(start + window)]; }
};

struct NOCTURNE_API CorpusStats {
  std::int64_t files = 0;
  std::int64_t tokens = 0;            // before filtering
  std::int64_t distinct_symbols = 0;  // before filtering
  std::int64_t rare_symbols = 0;      // symbols with fewer than min_count occurrences
  std::int64_t rare_occurrences = 0;
  std::int64_t tokens_kept = 0;
  std::int64_t vocabulary_size = 0;
  std::int64_t windows = 0;
  std::int64_t train_windows = 0;
  std::int64_t heldout_windows = 0;
};

// Throws ConfigError for unusable options (window < 1, fraction outside [0, 1),
// nothing left after filtering), and for no files or no tokens at all (an empty corpus).
NOCTURNE_API Dataset build_dataset(std::span<const CorpusFile> files, const DatasetOptions& options = {},
                                   CorpusStats* stats = nullptr);

struct NOCTURNE_API DecodeOptions {
  int ticks_per_quarter = 480;
  int velocity = 90;
  int microseconds_per_quarter = 500000;  // 120 bpm
  int program = 0;                        // acoustic grand piano
};

// Back to music as the recipe decodes: token k becomes a quarter note (or a
// chord of quarter notes) at quarter k; note tokens keep their octave, chord
// pitch classes go to octave 4 (MIDI 60 + pc), each chord written once.
// Track 0: tempo and 4/4; track 1: program change and the notes.
NOCTURNE_API MidiFile tokens_to_midi(std::span<const std::string> tokens, const DecodeOptions& options = {});

}  // namespace nocturne
