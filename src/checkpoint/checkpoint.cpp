// Checkpoint files: see docs/checkpoint-format.md for the byte layout.
//
// Writing: encode everything into one byte vector and hand it to the atomic
// writer (hidden temporary file, fsync, rename, fsync of the folder).
// Reading: the whole file is read (its real size bounds the one allocation),
// then magic, version, declared size and checksum are checked
// before any field is trusted; every section's offset and size is checked
// against the file before it is read.

#include "nocturne/checkpoint.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>

#include "core/narrow_dim.hpp"
#include "midi/atomic_write.hpp"
#include "nocturne/byte_text.hpp"
#include "nocturne/error.hpp"
#include "nocturne/timed_tokens.hpp"
#include "nocturne/tokenizer.hpp"
#include "checkpoint/fnv1a64.hpp"

namespace nocturne::inline v0 {

static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian; add byte swapping");

namespace {

constexpr std::size_t kHeaderSize = 32;
constexpr std::size_t kSectionEntrySize = 24;
constexpr std::size_t kChecksumSize = 8;
constexpr std::size_t kStateSize = 120;
constexpr std::uint32_t kMaxSections = 64;
// No dimension of a model we can train comes near this; it keeps every
// product in ParameterLayout far from overflowing.
constexpr int kMaxDimension = 1 << 20;

enum SectionId : std::uint32_t {
  kState = 1,
  kVocabulary = 2,
  kParameters = 3,
  kFirstMoment = 4,
  kInfinityNorm = 5,
  kMetadata = 6,
};
constexpr std::uint32_t kSectionCount = 6;

const char* section_name(std::uint32_t id) {
  switch (id) {
    case kState: return "state";
    case kVocabulary: return "vocabulary";
    case kParameters: return "parameters";
    case kFirstMoment: return "first moment";
    case kInfinityNorm: return "infinity norm";
    case kMetadata: return "metadata";
    default: return "unknown";
  }
}

// ---- writing ---------------------------------------------------------------

class Writer {
 public:
  template <typename T>
  void put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const std::size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &value, sizeof(T));
  }
  void put_bytes(const void* data, std::size_t n) {
    const std::size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n) std::memcpy(bytes_.data() + at, data, n);
  }
  void align8() {
    while (bytes_.size() % 8 != 0) bytes_.push_back(0);
  }
  template <typename T>
  void patch(std::size_t at, T value) {
    std::memcpy(bytes_.data() + at, &value, sizeof(T));
  }
  std::size_t size() const { return bytes_.size(); }
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

void write_state(Writer& w, const Checkpoint& c) {
  const std::size_t start = w.size();
  w.put<std::int32_t>(narrow_dim(c.model.vocab, "vocabulary size"));
  w.put<std::int32_t>(narrow_dim(c.model.window, "window"));
  w.put<std::int32_t>(narrow_dim(c.model.hidden1, "hidden1"));
  w.put<std::int32_t>(narrow_dim(c.model.hidden2, "hidden2"));
  w.put<std::int32_t>(narrow_dim(c.model.dense, "dense"));
  w.put<std::int32_t>(c.model.input == InputMode::embedding ? 1 : 0);
  w.put<std::int32_t>(narrow_dim(c.model.embedding_dim, "embedding size"));
  w.put<std::int32_t>(0);
  w.put<double>(c.model.dropout);
  w.put<std::int32_t>(c.epochs_total);
  w.put<std::int32_t>(narrow_dim(c.trainer.batch, "batch"));
  w.put<std::int32_t>(c.trainer.stats_every);
  w.put<std::int32_t>(c.epochs_done);
  w.put<std::uint64_t>(c.trainer.seed);
  w.put<double>(c.trainer.adamax.learning_rate);
  w.put<double>(c.trainer.adamax.beta1);
  w.put<double>(c.trainer.adamax.beta2);
  w.put<double>(c.trainer.adamax.epsilon);
  w.put<std::int64_t>(c.optimizer_steps);
  w.put<std::uint64_t>(c.parameters.size());
  w.put<std::uint64_t>(c.first_moment.size());
  if (w.size() - start != kStateSize) throw std::logic_error("checkpoint state section has the wrong size");
}

void write_section(Writer& w, std::uint32_t id, const Checkpoint& c) {
  switch (id) {
    case kState: write_state(w, c); break;
    case kVocabulary:
      w.put<std::uint32_t>(std::uint32_t(c.vocabulary.size()));
      for (const std::string& s : c.vocabulary) {
        w.put<std::uint32_t>(std::uint32_t(s.size()));
        w.put_bytes(s.data(), s.size());
      }
      break;
    case kParameters: w.put_bytes(c.parameters.data(), c.parameters.size() * sizeof(float)); break;
    case kFirstMoment: w.put_bytes(c.first_moment.data(), c.first_moment.size() * sizeof(float)); break;
    case kInfinityNorm: w.put_bytes(c.infinity_norm.data(), c.infinity_norm.size() * sizeof(float)); break;
    case kMetadata: w.put_bytes(c.metadata.data(), c.metadata.size()); break;
    default: break;
  }
}

// ---- reading ---------------------------------------------------------------

class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, std::string_view name, std::size_t base)
      : bytes_(bytes), name_(name), base_(base) {}

  std::size_t remaining() const { return bytes_.size() - at_; }
  std::size_t offset() const { return base_ + at_; }

  template <typename T>
  T get(const char* what) {
    if (remaining() < sizeof(T)) fail(std::string(what) + " runs past its section");
    T value;
    std::memcpy(&value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  std::string get_string(std::size_t n, const char* what) {
    if (n > remaining()) fail(std::string(what) + " of " + std::to_string(n) + " bytes runs past its section");
    std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), n);
    at_ += n;
    return s;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw FileError(std::string(name_) + ": " + what + " (byte offset " + std::to_string(offset()) + ")");
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::string_view name_;
  std::size_t base_;
  std::size_t at_ = 0;
};

template <typename T>
T read_at(std::span<const std::uint8_t> bytes, std::size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

struct Section {
  std::uint64_t offset = 0, size = 0;
};

void check_dimension(Reader& r, const char* field, std::int64_t value) {
  if (value <= 0 || value > kMaxDimension)
    r.fail(std::string("implausible ") + field + " " + std::to_string(value) + " (expected 1.." +
           std::to_string(kMaxDimension) + ")");
}

void read_state(Reader& r, Checkpoint& c, std::uint64_t& parameter_count, std::uint64_t& moment_count) {
  c.model.vocab = r.get<std::int32_t>("vocabulary size");
  c.model.window = r.get<std::int32_t>("window");
  c.model.hidden1 = r.get<std::int32_t>("hidden1");
  c.model.hidden2 = r.get<std::int32_t>("hidden2");
  c.model.dense = r.get<std::int32_t>("dense");
  const std::int32_t input = r.get<std::int32_t>("input mode");
  c.model.embedding_dim = r.get<std::int32_t>("embedding size");
  (void)r.get<std::int32_t>("reserved");
  c.model.dropout = r.get<double>("dropout");
  c.epochs_total = r.get<std::int32_t>("epochs");
  c.trainer.batch = r.get<std::int32_t>("batch");
  c.trainer.stats_every = r.get<std::int32_t>("stats_every");
  c.epochs_done = r.get<std::int32_t>("epochs done");
  c.trainer.seed = r.get<std::uint64_t>("seed");
  c.trainer.adamax.learning_rate = r.get<double>("learning rate");
  c.trainer.adamax.beta1 = r.get<double>("beta1");
  c.trainer.adamax.beta2 = r.get<double>("beta2");
  c.trainer.adamax.epsilon = r.get<double>("epsilon");
  c.optimizer_steps = r.get<std::int64_t>("optimizer steps");
  parameter_count = r.get<std::uint64_t>("parameter count");
  moment_count = r.get<std::uint64_t>("moment count");

  check_dimension(r, "vocabulary size", c.model.vocab);
  check_dimension(r, "window", c.model.window);
  check_dimension(r, "hidden1", c.model.hidden1);
  check_dimension(r, "hidden2", c.model.hidden2);
  check_dimension(r, "dense", c.model.dense);
  if (input != 0 && input != 1) r.fail("unknown input mode " + std::to_string(input));
  c.model.input = input == 1 ? InputMode::embedding : InputMode::scalar;
  if (c.model.input == InputMode::embedding) check_dimension(r, "embedding size", c.model.embedding_dim);
  if (c.epochs_done < 0) r.fail("negative epochs done " + std::to_string(c.epochs_done));
  if (c.optimizer_steps < 0) r.fail("negative optimizer step count " + std::to_string(c.optimizer_steps));
  try {
    c.model.validate();
    c.trainer.validate();
  } catch (const ConfigError& e) {
    r.fail(std::string("invalid settings: ") + e.what());
  }
}

std::vector<float> read_floats(std::span<const std::uint8_t> bytes, const Section& s) {
  std::vector<float> values(s.size / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data() + s.offset, values.size() * sizeof(float));
  return values;
}

// The first non-finite value of a float section, named by its tensor: NaN or
// infinite weights give NaN predictions (a false score, a failed sampling).
std::optional<std::string> non_finite_value(const std::vector<float>& values, const ParameterLayout& layout) {
  for (const ParameterView& view : layout.views())
    for (std::size_t i = 0; i < view.size(); ++i) {
      const float v = values[view.offset + i];
      if (std::isfinite(v)) continue;
      const std::size_t row = i / std::size_t(view.cols), col = i % std::size_t(view.cols);
      return "tensor " + view.name + " [" + std::to_string(view.rows) + " x " + std::to_string(view.cols) +
             "] holds " + (std::isnan(v) ? "NaN" : v > 0 ? "+infinity" : "-infinity") + " at row " +
             std::to_string(row) + ", column " + std::to_string(col);
    }
  return std::nullopt;
}

// A vocabulary the generator can decode: every symbol a note or chord token
// (or a timed stream's duration or shift token), each once (an index per
// symbol, a symbol per index).
std::optional<std::string> vocabulary_problem(const std::vector<std::string>& vocabulary) {
  std::unordered_map<std::string_view, std::size_t> seen;
  for (std::size_t i = 0; i < vocabulary.size(); ++i) {
    const std::string& symbol = vocabulary[i];
    const std::string name = "vocabulary symbol " + std::to_string(i) + " '" + display_text(symbol) + "'";
    try {
      const auto part = timed_component(symbol);
      if (!part || *part == TimedComponent::symbol) (void)token_pitches(symbol);
    } catch (const ConfigError& e) {
      return name + " is not a note, chord, duration or shift token (" + e.what() + ")";
    }
    const auto [it, inserted] = seen.emplace(symbol, i);
    if (!inserted) return name + " repeats symbol " + std::to_string(it->second);
  }
  return std::nullopt;
}

std::string version_hint(std::uint32_t version) {
  if (version > checkpoint_format_version)
    return "written by a newer nocturne; load it with that version, or retrain with this one";
  return "written by an older nocturne; load it with that version, or retrain with this one";
}

}  // namespace

std::uint64_t fnv1a64(std::span<const std::uint8_t> bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (std::uint8_t b : bytes) {
    hash ^= b;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::vector<std::uint8_t> encode_checkpoint(const Checkpoint& c) {
  c.model.validate();
  c.trainer.validate();
  const std::size_t expected = ParameterLayout(c.model).buffer_size();
  if (c.vocabulary.size() != std::size_t(c.model.vocab))
    throw ConfigError("checkpoint: " + std::to_string(c.vocabulary.size()) + " vocabulary symbols for a model of " +
                      std::to_string(c.model.vocab));
  if (c.parameters.size() != expected)
    throw ConfigError("checkpoint: " + std::to_string(c.parameters.size()) + " parameters, the layout needs " +
                      std::to_string(expected));
  if (c.first_moment.size() != c.infinity_norm.size() ||
      (!c.first_moment.empty() && c.first_moment.size() != expected))
    throw ConfigError("checkpoint: optimiser moments of " + std::to_string(c.first_moment.size()) + " and " +
                      std::to_string(c.infinity_norm.size()) + " values for " + std::to_string(expected) +
                      " parameters");
  if (c.epochs_done < 0 || c.optimizer_steps < 0) throw ConfigError("checkpoint: negative epoch or step count");
  if (const auto problem = vocabulary_problem(c.vocabulary)) throw ConfigError("checkpoint: " + *problem);

  Writer w;
  w.put_bytes(checkpoint_magic, sizeof(checkpoint_magic));
  w.put<std::uint32_t>(checkpoint_format_version);
  w.put<std::uint32_t>(kSectionCount);
  w.put<std::uint64_t>(0);  // file size, patched below
  w.put<std::uint64_t>(0);  // reserved
  const std::size_t table = w.size();
  for (std::uint32_t i = 0; i < kSectionCount; ++i) {
    w.put<std::uint32_t>(i + 1);
    w.put<std::uint32_t>(0);
    w.put<std::uint64_t>(0);
    w.put<std::uint64_t>(0);
  }
  for (std::uint32_t id = 1; id <= kSectionCount; ++id) {
    w.align8();
    const std::size_t start = w.size();
    write_section(w, id, c);
    const std::size_t entry = table + (id - 1) * kSectionEntrySize;
    w.patch<std::uint64_t>(entry + 8, start);
    w.patch<std::uint64_t>(entry + 16, w.size() - start);
  }
  w.align8();
  w.patch<std::uint64_t>(16, w.size() + kChecksumSize);
  const std::uint64_t checksum = fnv1a64(w.bytes());
  w.put<std::uint64_t>(checksum);
  return std::move(w.bytes());
}

Checkpoint decode_checkpoint(std::span<const std::uint8_t> bytes, std::string_view name) {
  const std::string file(name);
  auto fail = [&](const std::string& what) -> void { throw FileError(file + ": " + what); };
  const std::size_t n = bytes.size();
  if (n < kHeaderSize + kChecksumSize)
    fail("too short to be a Nocturne checkpoint (" + std::to_string(n) + " bytes)");
  if (std::memcmp(bytes.data(), checkpoint_magic, sizeof(checkpoint_magic)) != 0)
    fail("not a Nocturne checkpoint (the file does not start with \"NOCTCKPT\")");
  const auto version = read_at<std::uint32_t>(bytes, 8);
  if (version != checkpoint_format_version)
    fail("checkpoint format version " + std::to_string(version) + ", but this nocturne reads version " +
         std::to_string(checkpoint_format_version) + ": " + version_hint(version));
  const auto declared = read_at<std::uint64_t>(bytes, 16);
  if (declared != n)
    fail(declared > n ? "truncated: the header says " + std::to_string(declared) + " bytes, the file has " +
                            std::to_string(n)
                      : "the header says " + std::to_string(declared) + " bytes, but the file has " +
                            std::to_string(n) + " (trailing bytes)");
  const auto stored = read_at<std::uint64_t>(bytes, n - kChecksumSize);
  const std::uint64_t computed = fnv1a64(bytes.first(n - kChecksumSize));
  if (stored != computed) fail("checksum mismatch: the file is corrupt");

  // The section table.
  const auto count = read_at<std::uint32_t>(bytes, 12);
  if (count == 0 || count > kMaxSections) fail("implausible section count " + std::to_string(count));
  const std::size_t table_end = kHeaderSize + std::size_t(count) * kSectionEntrySize;
  const std::size_t payload_end = n - kChecksumSize;
  if (table_end > payload_end) fail("the section table runs past the end of the file");
  std::optional<Section> sections[kSectionCount + 1];
  std::uint64_t previous_end = table_end;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t entry = kHeaderSize + i * kSectionEntrySize;
    const auto id = read_at<std::uint32_t>(bytes, entry);
    const Section s{read_at<std::uint64_t>(bytes, entry + 8), read_at<std::uint64_t>(bytes, entry + 16)};
    const std::string what = "section " + std::to_string(id) + " (" + section_name(id) + ")";
    if (id == 0 || id > kSectionCount) fail("unknown " + what);
    if (sections[id]) fail(what + " appears twice");
    if (s.offset < previous_end || s.offset > payload_end || s.size > payload_end - s.offset)
      fail(what + " at byte offset " + std::to_string(s.offset) + " with " + std::to_string(s.size) +
           " bytes lies outside the payload or overlaps another section");
    previous_end = s.offset + s.size;
    sections[id] = s;
  }
  for (std::uint32_t id = 1; id <= kSectionCount; ++id)
    if (!sections[id]) fail("section " + std::to_string(id) + " (" + section_name(id) + ") is missing");
  auto section_bytes = [&](std::uint32_t id) {
    return bytes.subspan(std::size_t(sections[id]->offset), std::size_t(sections[id]->size));
  };

  Checkpoint c;
  std::uint64_t parameter_count = 0, moment_count = 0;
  {
    Reader r(section_bytes(kState), file, std::size_t(sections[kState]->offset));
    if (sections[kState]->size != kStateSize)
      r.fail("state section of " + std::to_string(sections[kState]->size) + " bytes, expected " +
             std::to_string(kStateSize));
    read_state(r, c, parameter_count, moment_count);
  }
  const std::size_t expected = ParameterLayout(c.model).buffer_size();
  if (parameter_count != expected)
    fail("the header declares " + std::to_string(parameter_count) + " parameters, the model's layout needs " +
         std::to_string(expected));
  if (sections[kParameters]->size != expected * sizeof(float))
    fail("parameter section of " + std::to_string(sections[kParameters]->size) + " bytes, expected " +
         std::to_string(expected * sizeof(float)));
  if (moment_count != 0 && moment_count != expected)
    fail("optimiser moments of " + std::to_string(moment_count) + " values for " + std::to_string(expected) +
         " parameters");
  for (std::uint32_t id : {kFirstMoment, kInfinityNorm})
    if (sections[id]->size != moment_count * sizeof(float))
      fail(std::string(section_name(id)) + " section of " + std::to_string(sections[id]->size) +
           " bytes, expected " + std::to_string(moment_count * sizeof(float)));

  {
    Reader r(section_bytes(kVocabulary), file, std::size_t(sections[kVocabulary]->offset));
    const auto symbols = r.get<std::uint32_t>("vocabulary count");
    if (symbols != std::uint32_t(c.model.vocab))
      r.fail("vocabulary of " + std::to_string(symbols) + " symbols for a model of " +
             std::to_string(c.model.vocab));
    if (std::size_t(symbols) > r.remaining() / sizeof(std::uint32_t))
      r.fail("vocabulary of " + std::to_string(symbols) + " symbols cannot fit in its section");
    c.vocabulary.reserve(symbols);
    for (std::uint32_t i = 0; i < symbols; ++i) {
      const auto length = r.get<std::uint32_t>("symbol length");
      c.vocabulary.push_back(r.get_string(length, "symbol"));
    }
    if (r.remaining() != 0) r.fail(std::to_string(r.remaining()) + " unexpected bytes after the vocabulary");
  }
  if (const auto problem = vocabulary_problem(c.vocabulary)) fail(*problem);
  c.parameters = read_floats(bytes, *sections[kParameters]);
  c.first_moment = read_floats(bytes, *sections[kFirstMoment]);
  c.infinity_norm = read_floats(bytes, *sections[kInfinityNorm]);
  const ParameterLayout layout(c.model);
  if (const auto problem = non_finite_value(c.parameters, layout)) fail("parameters: " + *problem);
  if (!c.first_moment.empty()) {
    if (const auto problem = non_finite_value(c.first_moment, layout)) fail("Adamax first moment: " + *problem);
    if (const auto problem = non_finite_value(c.infinity_norm, layout)) fail("Adamax infinity norm: " + *problem);
  }
  const auto meta = section_bytes(kMetadata);
  c.metadata.assign(reinterpret_cast<const char*>(meta.data()), meta.size());
  return c;
}

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  const std::vector<std::uint8_t> bytes = encode_checkpoint(checkpoint);
  detail::write_file_atomically(path, {reinterpret_cast<const char*>(bytes.data()), bytes.size()},
                                detail::Durability::synced);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw FileError(name + ": no such checkpoint");
  if (!std::filesystem::is_regular_file(path, ec)) throw FileError(name + ": not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw FileError(name + ": cannot read its size: " + ec.message());
  if (size > std::uintmax_t(std::numeric_limits<std::streamsize>::max()))
    throw FileError(name + ": implausibly large (" + std::to_string(size) + " bytes)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(name + ": cannot open for reading");
  std::vector<std::uint8_t> bytes(std::size_t(size), 0);
  in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size));
  if (std::size_t(in.gcount()) != bytes.size())
    throw FileError(name + ": read " + std::to_string(in.gcount()) + " of " + std::to_string(size) + " bytes");
  return decode_checkpoint(bytes, name);
}

}  // namespace nocturne
