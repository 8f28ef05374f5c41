// End to end through the nocturne program: generate in each decoding mode and
// with each primer, read the outputs back, evaluate them; play without a MIDI
// system. The checkpoint is made through the library (a tiny random model whose
// vocabulary is the demo corpus's), so no training command is needed.

#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "nocturne/backend.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/midi.hpp"
#include "nocturne/render.hpp"
#include "nocturne/tokenizer.hpp"
#include "sample_checkpoint.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace nocturne;

namespace {

const fs::path& root() {
  static const fs::path dir = [] {
    const fs::path d = nocturne::test::temp_path("nocturne-test-generate-cli");
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

struct Result {
  int code = -1;
  std::string out, err;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result run(const std::string& args) {
  const fs::path out = root() / "stdout.txt", err = root() / "stderr.txt";
  const std::string command = std::string("\"") + NOCTURNE_CLI_PATH + "\" " + args + " > \"" + out.string() +
                              "\" 2> \"" + err.string() + "\" < /dev/null";
  const int status = std::system(command.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// A checkpoint whose vocabulary is the demo corpus's (min count 1) and whose
// metadata names that folder, as `nocturne train` writes it.
const fs::path& checkpoint() {
  static const fs::path path = [] {
    const fs::path data = root() / "demo";
    write_demo_corpus(data, 6);
    DatasetOptions options;
    options.min_count = 1;
    options.window = 8;
    options.split = SplitMode::piece;
    options.seed = 1;
    const Dataset dataset = build_dataset(load_corpus(data), options);
    Checkpoint c;
    c.model.vocab = int(dataset.vocab.size());
    c.model.window = 8;
    c.model.hidden1 = 12;
    c.model.hidden2 = 8;
    c.model.dense = 8;
    c.vocabulary = dataset.vocab.symbols();
    auto backend = make_cpu_backend();
    Model model(*backend, c.model, 1);
    model.initialize(7);
    c.parameters = model.download_parameters();
    c.epochs_done = 1;
    c.metadata = json{{"settings", {{"window", 8}, {"min_count", 1}, {"split", "piece"}, {"heldout", 0.2}, {"seed", 1}}},
                      {"data", {{"folder", fs::absolute(data).string()}, {"demo", true}, {"skipped", json::array()}}}}
                     .dump();
    const fs::path file = root() / "tiny.ckpt";
    save_checkpoint(file, c);
    return file;
  }();
  return path;
}

json tokens_json(const fs::path& file) { return json::parse(read_text(file)); }

// The MIDI file holds the tokens as the recipe decodes them: token k -> the
// pitches at quarter k.
void check_midi_holds(const fs::path& midi_path, const std::vector<std::string>& tokens) {
  const MidiFile midi = read_midi(midi_path);
  std::map<std::int64_t, std::set<int>> by_quarter;
  for (const MidiTrack& track : midi.tracks)
    for (const Note& n : track.notes) {
      REQUIRE(n.on_tick % midi.ticks_per_quarter == 0);
      CHECK(n.duration() == midi.ticks_per_quarter);
      by_quarter[n.on_tick / midi.ticks_per_quarter].insert(n.pitch);
    }
  REQUIRE(by_quarter.size() == tokens.size());
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    const std::vector<int> pitches = token_pitches(tokens[k]);
    CHECK(by_quarter[std::int64_t(k)] == std::set<int>(pitches.begin(), pitches.end()));
  }
}

std::string model_arg() { return "--model \"" + checkpoint().string() + "\" --device cpu "; }
std::string out_arg(const std::string& name) { return "--out \"" + (root() / name).string() + "\" "; }

}  // namespace

TEST_CASE("generate greedy from a token primer: MIDI, tokens, score and piano roll") {
  const Result r = run("generate " + model_arg() + out_arg("greedy") + "--greedy --notes 20 --no-audio --primer \"tokens:C4 E4 G4\"");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const fs::path dir = root() / "greedy";
  const json j = tokens_json(dir / "output-01.tokens.json");
  CHECK(j["primer"] == json({"C4", "E4", "G4"}));
  CHECK(j["generated"].size() == 20);
  CHECK(j["tokens"].size() == 23);
  CHECK(j["decoding"] == "greedy");
  check_midi_holds(dir / "output-01.mid", j["tokens"].get<std::vector<std::string>>());
  CHECK(fs::file_size(dir / "output-01.roll.png") > 100);
  const std::string xml = read_text(dir / "output-01.musicxml");
  CHECK(xml.find("<score-partwise version=\"3.1\">") != std::string::npos);
  CHECK(!fs::exists(dir / "output-01.wav"));
  // top-k 1 is greedy.
  const Result k1 = run("generate " + model_arg() + out_arg("topk1") + "--top-k 1 --notes 20 --no-audio --primer \"tokens:C4 E4 G4\"");
  REQUIRE(k1.code == 0);
  CHECK(tokens_json(root() / "topk1" / "output-01.tokens.json")["generated"] == j["generated"]);
}

TEST_CASE("generate with sampling: reproducible from the seed, several outputs, primer left out") {
  const std::string common = "--temperature 1.5 --top-p 0.95 --notes 30 --count 2 --no-audio --no-score --no-primer ";
  const Result a = run("generate " + model_arg() + out_arg("s1") + common + "--seed 5");
  INFO(a.out << a.err);
  REQUIRE(a.code == 0);
  const Result b = run("generate " + model_arg() + out_arg("s2") + common + "--seed 5");
  REQUIRE(b.code == 0);
  const Result c = run("generate " + model_arg() + out_arg("s3") + common + "--seed 6");
  REQUIRE(c.code == 0);
  const json a1 = tokens_json(root() / "s1" / "output-01.tokens.json");
  const json a2 = tokens_json(root() / "s1" / "output-02.tokens.json");
  CHECK(a1["tokens"] == a1["generated"]);  // --no-primer
  CHECK(a1["generated"].size() == 30);
  CHECK(a1["generated"] == tokens_json(root() / "s2" / "output-01.tokens.json")["generated"]);
  CHECK(a2["generated"] == tokens_json(root() / "s2" / "output-02.tokens.json")["generated"]);
  CHECK(a1["generated"] != tokens_json(root() / "s3" / "output-01.tokens.json")["generated"]);
  CHECK(a1["generated"] != a2["generated"]);
  check_midi_holds(root() / "s1" / "output-02.mid", a2["tokens"].get<std::vector<std::string>>());
  CHECK(!fs::exists(root() / "s1" / "output-01.musicxml"));
}

TEST_CASE("generate from the held-out pool and from a MIDI file") {
  const Result h = run("generate " + model_arg() + out_arg("heldout") + "--notes 10 --no-audio --no-score");
  INFO(h.out << h.err);
  REQUIRE(h.code == 0);
  CHECK(h.out.find("held-out window") != std::string::npos);
  const json j = tokens_json(root() / "heldout" / "output-01.tokens.json");
  CHECK(j["primer"].size() == 8);  // one window
  check_midi_holds(root() / "heldout" / "output-01.mid", j["tokens"].get<std::vector<std::string>>());

  const fs::path primer = root() / "demo" / "demo-01.mid";
  const Result m = run("generate " + model_arg() + out_arg("midi") + "--notes 10 --no-audio --no-score --primer \"" +
                       primer.string() + "\"");
  REQUIRE(m.code == 0);
  const json k = tokens_json(root() / "midi" / "output-01.tokens.json");
  CHECK(k["primer"].get<std::vector<std::string>>() == tokenize_file(primer));
}

TEST_CASE("generate writes WAV audio of the documented length when FluidSynth is built in") {
  if (!audio_rendering_available() || !find_soundfont()) {
    WARN("no FluidSynth or no soundfont: WAV output not checked");
    return;
  }
  const Result r = run("generate " + model_arg() + out_arg("audio") + "--notes 6 --no-score --primer \"tokens:C4\"");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const fs::path dir = root() / "audio";
  const MidiFile midi = read_midi(dir / "output-01.mid");
  // 7 quarters at 120 bpm = 3.5 s, plus the 1 s release tail.
  CHECK(wav_frame_count(midi) == std::llround(4.5 * wav_sample_rate));
  CHECK(fs::file_size(dir / "output-01.wav") == 44 + std::uintmax_t(wav_frame_count(midi)) * 4);
}

TEST_CASE("generate and evaluate on the fused path and in a reduced precision") {
  // The fused path samples on the device (here the CPU's): the same tokens as the classic path.
  const Result a =
      run("generate " + model_arg() + out_arg("classic") + "--notes 40 --top-k 5 --seed 3 --no-audio --no-score");
  const Result b = run("generate " + model_arg() + out_arg("fused") +
                       "--notes 40 --top-k 5 --seed 3 --no-audio --no-score --lstm-impl fused");
  INFO(a.out << a.err << b.out << b.err);
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  CHECK(b.out.find("fused LSTM") != std::string::npos);
  CHECK(tokens_json(root() / "fused" / "output-01.tokens.json")["generated"] ==
        tokens_json(root() / "classic" / "output-01.tokens.json")["generated"]);
  const Result t =
      run("generate " + model_arg() + out_arg("tf32") + "--notes 10 --no-audio --no-score --precision tf32");
  INFO(t.out << t.err);
  REQUIRE(t.code == 0);
  CHECK(t.err.find("nocturne: note: --precision tf32 on the CPU is an emulation") != std::string::npos);
  const Result e = run("evaluate " + model_arg() + "--json --precision bf16 --lstm-impl fused");
  const Result f = run("evaluate " + model_arg() + "--json");
  INFO(e.out << e.err << f.out);
  REQUIRE(e.code == 0);
  REQUIRE(f.code == 0);
  const double reduced = json::parse(e.out)["cross_entropy"].get<double>();
  const double fp32 = json::parse(f.out)["cross_entropy"].get<double>();
  CHECK(reduced == Approx(fp32).epsilon(1e-2));
  CHECK(reduced != fp32);
  // bf16 is emulated, and says so, only where the processor has no AVX-512 BF16.
  CHECK((e.err.find("emulation") != std::string::npos) == !nocturne::cpu_has_bf16_gemm());
}

TEST_CASE("generate fails in one line on a bad primer or model") {
  const Result r = run("generate " + model_arg() + out_arg("bad") + "--notes 5 --primer \"tokens:Q9\"");
  CHECK(r.code == 1);
  CHECK(r.err.find("Q9") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  const Result m = run("generate --model \"" + (root() / "missing.ckpt").string() + "\" --notes 5");
  CHECK(m.code == 1);
  CHECK(m.err.find("missing.ckpt") != std::string::npos);
  const Result t = run("generate " + model_arg() + "--temperature 0 --notes 5");
  CHECK(t.code == 1);
  // A gain out of range is named before any work, and nothing is written.
  const Result g = run("generate " + model_arg() + out_arg("badgain") + "--notes 5 --gain 61");
  CHECK(g.code == 1);
  CHECK(g.err == "nocturne: error: --gain must be within -60..+60 dB, got +61\n");
  CHECK_FALSE(fs::exists(root() / "badgain"));
  const Result n = run("generate " + model_arg() + out_arg("badgain") + "--notes 5 --gain nan");
  CHECK(n.code == 1);
  CHECK(n.err.find("--gain") != std::string::npos);
}

TEST_CASE("generate without LilyPond says so in one line and writes the MusicXML score") {
  // A PATH holding no lilypond program; the nocturne program itself is run by its full path.
  const fs::path empty = root() / "empty-path";
  fs::create_directories(empty);
  const std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", empty.c_str(), 1);
  const Result r = run("generate " + model_arg() + out_arg("nolily") + "--notes 8 --no-audio");
  ::setenv("PATH", saved.c_str(), 1);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("score: MusicXML only, no PNG score: LilyPond is not installed (no lilypond program on PATH; "
                   "Debian package lilypond, which tools/setup.sh installs)\n") != std::string::npos);
  const fs::path dir = root() / "nolily";
  CHECK(fs::exists(dir / "output-01.musicxml"));
  CHECK(fs::exists(dir / "output-01.roll.png"));
  CHECK_FALSE(fs::exists(dir / "output-01.png"));
  CHECK_FALSE(fs::exists(dir / "output-01.ly"));
}

TEST_CASE("evaluate: held-out measures and statistics of generated pieces") {
  const Result g = run("generate " + model_arg() + out_arg("eval") + "--notes 30 --count 2 --top-k 5 --no-audio --no-score");
  REQUIRE(g.code == 0);
  const Result r = run("evaluate " + model_arg() + "--json --generated \"" + (root() / "eval").string() + "\"");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json j = json::parse(r.out);
  CHECK(j["windows"].get<long>() > 0);
  CHECK(j["perplexity"].get<double>() == Approx(std::exp(j["cross_entropy"].get<double>())));
  CHECK(j["top5"].get<double>() >= j["top1"].get<double>());
  CHECK(j["heldout_pieces"].get<int>() >= 1);
  REQUIRE(j["generated"].size() == 2);
  for (const json& piece : j["generated"]) {
    CHECK(piece["tokens"] == 30);
    CHECK(piece["js_divergence_bits"].get<double>() >= 0);
    CHECK(piece["js_divergence_bits"].get<double>() <= 1);
    CHECK(piece["repetition_rate"].get<double>() >= 0);
    CHECK(piece["distinct_4gram_ratio"].get<double>() <= 1);
    CHECK(piece["longest_copy"].get<int>() >= 1);  // every symbol occurs in the corpus
    CHECK(piece["lowest"].get<int>() <= piece["highest"].get<int>());
  }
  // On another folder every piece is corpus: a piece of it is copied whole.
  fs::remove_all(root() / "demo-copy");
  fs::copy(root() / "demo", root() / "demo-copy");
  const Result c = run("evaluate " + model_arg() + "--json --data \"" + (root() / "demo-copy").string() +
                       "\" --generated \"" + (root() / "demo" / "demo-01.mid").string() + "\"");
  INFO(c.out << c.err);
  REQUIRE(c.code == 0);
  const json cj = json::parse(c.out)["generated"][0];
  CHECK(cj["longest_copy"] == cj["tokens"]);
}

TEST_CASE("evaluate --generated: a folder named like a MIDI file is passed over; a bad input fails first") {
  const Result g = run("generate " + model_arg() + out_arg("odd") + "--notes 20 --no-audio --no-score");
  REQUIRE(g.code == 0);
  fs::create_directories(root() / "odd" / "folder.mid");
  fs::remove(root() / "odd" / "output-01.tokens.json");  // so that the MIDI files are read
  const Result r = run("evaluate " + model_arg() + "--json --generated \"" + (root() / "odd").string() + "\"");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(json::parse(r.out)["generated"].size() == 1);
  // A missing input is named before the held-out evaluation runs and prints.
  const Result m = run("evaluate " + model_arg() + "--generated \"" + (root() / "nowhere").string() + "\"");
  CHECK(m.code == 1);
  CHECK(m.err.find("nowhere") != std::string::npos);
  CHECK(m.out.find("cross-entropy") == std::string::npos);
}

TEST_CASE("generate into a folder of an earlier run: its stale files go, later outputs are named") {
  REQUIRE(run("generate " + model_arg() + out_arg("again") + "--notes 10 --count 2 --no-audio").code == 0);
  REQUIRE(fs::exists(root() / "again" / "output-01.musicxml"));
  const Result r = run("generate " + model_arg() + out_arg("again") + "--notes 10 --no-audio --no-score");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(!fs::exists(root() / "again" / "output-01.musicxml"));  // not this run's: removed
  CHECK(r.out.find("removed output-01.musicxml") != std::string::npos);
  CHECK(r.out.find("also holds output-02") != std::string::npos);
  CHECK(fs::exists(root() / "again" / "output-02.mid"));  // another piece: said, not touched
}

TEST_CASE("play says in one line that there is no MIDI system") {
  if (fs::exists("/dev/snd/seq")) {
    WARN("an ALSA sequencer exists here: the no-MIDI-system message is not checked");
    return;
  }
  const Result r = run("play \"" + (root() / "demo" / "demo-01.mid").string() + "\"");
  CHECK(r.code == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("MIDI") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  // A virtual port needs the sequencer too: no "playing" line first.
  const Result v = run("play \"" + (root() / "demo" / "demo-01.mid").string() + "\" --virtual");
  CHECK(v.code == 1);
  CHECK(v.out.empty());
  CHECK(v.err.find("MIDI") != std::string::npos);
}

TEST_CASE("play --model checks its arguments and says there is no MIDI system before composing") {
  const Result both = run("play \"" + (root() / "demo" / "demo-01.mid").string() + "\" --model \"" +
                          checkpoint().string() + "\"");
  CHECK(both.code != 0);
  CHECK(both.err.find("MIDI file or --model") != std::string::npos);
  CHECK(both.err.find("not both") != std::string::npos);
  if (fs::exists("/dev/snd/seq")) {
    WARN("an ALSA sequencer exists here: the no-MIDI-system message is not checked");
    return;
  }
  const Result r = run("play --model \"" + checkpoint().string() + "\" --notes 5");
  CHECK(r.code == 1);
  CHECK(r.out.empty());  // nothing composed: the missing MIDI system is found first
  CHECK(r.err.find("MIDI") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

namespace {
// A copy of the tiny checkpoint whose vocabulary symbol `from` is rewritten as
// `to` (same length) in the file's bytes, resealed: what another writer might make.
fs::path with_symbol(const std::string& name, const std::string& from, const std::string& to) {
  std::vector<std::uint8_t> bytes = encode_checkpoint(load_checkpoint(checkpoint()));
  std::uint64_t vocabulary_offset = 0;
  std::memcpy(&vocabulary_offset, bytes.data() + 32 + 24 + 8, 8);  // the second section table entry
  const std::string entry = std::string(1, char(from.size())) + std::string(3, '\0') + from;
  const auto at =
      std::search(bytes.begin() + std::ptrdiff_t(vocabulary_offset), bytes.end(), entry.begin(), entry.end());
  REQUIRE(at != bytes.end());
  std::copy(to.begin(), to.end(), at + 4);
  test::reseal(bytes);
  const fs::path path = root() / name;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return path;
}

int lines_of(const std::string& text) { return int(std::count(text.begin(), text.end(), '\n')); }
}  // namespace

TEST_CASE("non-finite weights are refused at load by evaluate and generate, naming the file and the tensor") {
  Checkpoint c = load_checkpoint(checkpoint());
  const ParameterView r = ParameterLayout(c.model).view("lstm2.R");
  c.parameters[r.offset + 3] = std::numeric_limits<float>::quiet_NaN();
  const fs::path nan_file = root() / "nan.ckpt";
  save_checkpoint(nan_file, c);
  const std::string model = "\"" + nan_file.string() + "\"";
  for (const std::string& command : {"evaluate --device cpu --model " + model,
                                     "generate --device cpu --notes 5 --no-audio --model " + model + " " +
                                         out_arg("nan-out"),
                                     "info " + model}) {
    const Result e = run(command);
    INFO(command << ": " << e.out << e.err);
    CHECK(e.code == 1);
    CHECK(lines_of(e.err) == 1);
    CHECK(e.err.find("nan.ckpt") != std::string::npos);
    CHECK(e.err.find("lstm2.R") != std::string::npos);
    CHECK(e.err.find("NaN") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(root() / "nan-out" / "output-01.mid"));
}

TEST_CASE("a malformed or repeated vocabulary symbol is refused at load, naming the file and the symbol") {
  const std::vector<std::string>& vocabulary = load_checkpoint(checkpoint()).vocabulary;
  const auto two_letters = std::find_if(vocabulary.begin(), vocabulary.end(), [](const std::string& s) {
    return s.size() == 2 && s != "A9";
  });
  REQUIRE(two_letters != vocabulary.end());
  const auto another =
      std::find_if(two_letters + 1, vocabulary.end(), [](const std::string& s) { return s.size() == 2; });
  REQUIRE(another != vocabulary.end());
  const fs::path malformed = with_symbol("malformed.ckpt", *two_letters, "A9");  // MIDI 129
  const fs::path repeated = with_symbol("repeated.ckpt", *another, *two_letters);
  for (const auto& [file, words] :
       std::vector<std::pair<fs::path, std::vector<std::string>>>{{malformed, {"malformed.ckpt", "'A9'", "0..127"}},
                                                                   {repeated, {"repeated.ckpt", "repeats symbol"}}}) {
    const Result i = run("info \"" + file.string() + "\"");
    const Result g = run("generate --model \"" + file.string() + "\" --device cpu --notes 5 --no-audio --no-score " +
                         out_arg("bad-vocabulary"));
    for (const Result& r : {i, g}) {
      INFO(r.out << r.err);
      CHECK(r.code == 1);
      CHECK(lines_of(r.err) == 1);
      for (const std::string& w : words) CHECK(r.err.find(w) != std::string::npos);
    }
  }
  CHECK_FALSE(fs::exists(root() / "bad-vocabulary" / "output-01.mid"));
}

TEST_CASE("evaluate --batch larger than the held-out windows is capped, and said") {
  const Result r = run("evaluate " + model_arg() + "--json --batch 30000000");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json j = json::parse(r.out);  // stdout stays pure JSON
  CHECK(r.err.find("--batch 30000000 is more than the " + std::to_string(j["windows"].get<long>()) +
                   " held-out windows") != std::string::npos);
}

TEST_CASE("generate writes its outputs through links, keeping them") {
  const fs::path dir = root() / "linked", store = root() / "linked-store";
  fs::remove_all(dir);
  fs::remove_all(store);
  fs::create_directories(dir);
  fs::create_directories(store);
  for (const std::string suffix : {".mid", ".tokens.json", ".roll.png", ".musicxml"})
    fs::create_symlink(store / ("piece" + suffix), dir / ("output-01" + suffix));
  const Result r = run("generate " + model_arg() + out_arg("linked") + "--notes 8 --no-audio --primer \"tokens:C4\"");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  for (const std::string suffix : {".mid", ".tokens.json", ".roll.png", ".musicxml"}) {
    INFO(suffix);
    CHECK(fs::is_symlink(dir / ("output-01" + suffix)));
    CHECK(fs::file_size(store / ("piece" + suffix)) > 20);
  }
  const json written = tokens_json(store / "piece.tokens.json");
  CHECK(written["generated"].size() == 8);
  check_midi_holds(store / "piece.mid", written["tokens"].get<std::vector<std::string>>());
}
