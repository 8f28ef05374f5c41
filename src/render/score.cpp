// Scores of the generated music: MusicXML (always) and LilyPond (engraved to
// PNG when the lilypond program is installed).

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <utility>
#include <vector>

#include "midi/atomic_write.hpp"
#include "render/lilypond_text.hpp"
#include "render/xml_text.hpp"
#include "nocturne/error.hpp"
#include "nocturne/render.hpp"

extern char** environ;

namespace nocturne::inline v0 {

namespace {

void check_pitch(int pitch) {
  if (pitch < 0 || pitch > 127) throw ConfigError("score: MIDI pitch " + std::to_string(pitch) + " outside 0..127");
}

std::vector<int> sorted_unique(const ScoreEvent& event) {
  std::vector<int> pitches(event.begin(), event.end());
  std::sort(pitches.begin(), pitches.end());
  pitches.erase(std::unique(pitches.begin(), pitches.end()), pitches.end());
  for (int p : pitches) check_pitch(p);
  return pitches;
}

}  // namespace

std::string musicxml_text(std::span<const ScoreEvent> events, const std::string& title) {
  std::ostringstream x;
  detail::write_musicxml_opening(x, title);
  const std::size_t bars = std::max<std::size_t>(1, (events.size() + 3) / 4);
  for (std::size_t bar = 0; bar < bars; ++bar) {
    x << "    <measure number=\"" << bar + 1 << "\">\n";
    if (bar == 0)
      x << "      <attributes>\n        <divisions>1</divisions>\n        <key>\n          <fifths>0</fifths>\n"
           "        </key>\n        <time>\n          <beats>4</beats>\n          <beat-type>4</beat-type>\n"
           "        </time>\n        <clef>\n          <sign>G</sign>\n          <line>2</line>\n"
           "        </clef>\n      </attributes>\n";
    for (std::size_t beat = 0; beat < 4; ++beat) {
      const std::size_t i = bar * 4 + beat;
      const std::vector<int> pitches = i < events.size() ? sorted_unique(events[i]) : std::vector<int>{};
      if (pitches.empty()) {
        x << "      <note>\n        <rest/>\n        <duration>1</duration>\n        <voice>1</voice>\n"
             "        <type>quarter</type>\n      </note>\n";
        continue;
      }
      for (std::size_t k = 0; k < pitches.size(); ++k) {
        const detail::Spelling s = detail::kSharps[pitches[k] % 12];
        x << "      <note>\n";
        if (k > 0) x << "        <chord/>\n";
        x << "        <pitch>\n          <step>" << s.step << "</step>\n";
        if (s.alter) x << "          <alter>" << s.alter << "</alter>\n";
        x << "          <octave>" << pitches[k] / 12 - 1 << "</octave>\n        </pitch>\n"
          << "        <duration>1</duration>\n        <voice>1</voice>\n        <type>quarter</type>\n";
        if (s.alter) x << "        <accidental>sharp</accidental>\n";
        x << "      </note>\n";
      }
    }
    if (bar + 1 == bars) x << "      <barline location=\"right\">\n        <bar-style>light-heavy</bar-style>\n"
                              "      </barline>\n";
    x << "    </measure>\n";
  }
  detail::write_musicxml_closing(x);
  return x.str();
}

void write_musicxml(const std::filesystem::path& path, std::span<const ScoreEvent> events, const std::string& title) {
  detail::write_file_atomically(path, musicxml_text(events, title));
}

namespace {

std::string lily_beat(const std::vector<int>& pitches) {
  if (pitches.empty()) return "r4";
  if (pitches.size() == 1) return detail::lily_pitch(pitches[0]) + "4";
  std::string s = "<";
  for (std::size_t k = 0; k < pitches.size(); ++k) s += (k ? " " : "") + detail::lily_pitch(pitches[k]);
  return s + ">4";
}

}  // namespace

std::string lilypond_text(std::span<const ScoreEvent> events, const std::string& title) {
  std::ostringstream upper, lower;
  for (std::size_t i = 0; i < events.size(); ++i) {
    std::vector<int> hi, lo;
    for (int p : sorted_unique(events[i])) (p >= 60 ? hi : lo).push_back(p);
    upper << lily_beat(hi) << (i % 4 == 3 ? "\n    " : " ");
    lower << lily_beat(lo) << (i % 4 == 3 ? "\n    " : " ");
  }
  for (std::size_t i = events.size(); i == 0 || i % 4 != 0; ++i) {  // fill the last bar
    upper << "r4 ";
    lower << "r4 ";
  }
  return detail::lily_piano_score(title, upper.str(), lower.str());
}

namespace {

std::optional<std::filesystem::path> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::string_view rest = path;
  while (true) {
    const std::size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    if (!dir.empty()) {
      const std::filesystem::path candidate = std::filesystem::path(dir) / program;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

}  // namespace

bool lilypond_available() { return find_on_path("lilypond").has_value(); }

std::vector<std::filesystem::path> write_lilypond_png(const std::filesystem::path& png,
                                                      std::span<const ScoreEvent> events, const std::string& title) {
  if (!lilypond_available()) return {};
  return detail::engrave_lilypond(png, lilypond_text(events, title));
}

std::vector<std::filesystem::path> detail::engrave_lilypond(const std::filesystem::path& png,
                                                            const std::string& ly_text) {
  namespace fs = std::filesystem;
  const auto lilypond = find_on_path("lilypond");
  if (!lilypond) return {};
  const fs::path dir = png.parent_path().empty() ? fs::path(".") : png.parent_path();
  const std::string stem = png.stem().string();
  const fs::path ly = dir / (stem + ".ly"), log = dir / (stem + ".lilypond.log");
  detail::write_file_atomically(ly, ly_text);

  // LilyPond writes into a private folder beside the score, and what it made
  // is renamed into place: a failed or interrupted run leaves no partial PNG.
  const fs::path work = dir / ("." + stem + ".lilypond-work");
  std::error_code ec;
  fs::remove_all(work, ec);
  if (!fs::create_directories(work, ec) && ec) throw FileError(work.string() + ": cannot create: " + ec.message());
  struct RemoveWork {
    fs::path path;
    ~RemoveWork() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } remove_work{work};

  // -dcrop (LilyPond 2.22 and later) adds one image cut to the music
  // (name.cropped.png) beside the full pages; older versions ignore it.
  const std::string out_base = (work / stem).string(), ly_name = ly.string(), program = lilypond->string();
  std::vector<std::string> args = {program, "--png", "-dresolution=110", "-dcrop", "-o", out_base, ly_name};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw FileError(ly.string() + ": cannot run " + program);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw FileError(ly.string() + ": lilypond failed; see " + log.string());

  // The cropped image where there is one, else the pages (name.png, or
  // name-page1.png, name-page2.png, ...), under the names the caller asked for.
  std::vector<std::pair<fs::path, fs::path>> moves;
  if (fs::exists(work / (stem + ".cropped.png"), ec)) {
    moves.emplace_back(work / (stem + ".cropped.png"), dir / (stem + ".png"));
  } else {
    if (fs::exists(work / (stem + ".png"), ec)) moves.emplace_back(work / (stem + ".png"), dir / (stem + ".png"));
    for (int page = 1;; ++page) {
      const std::string name = stem + "-page" + std::to_string(page) + ".png";
      if (!fs::exists(work / name, ec)) break;
      moves.emplace_back(work / name, dir / name);
    }
  }
  std::vector<fs::path> pages;
  for (const auto& [from, to] : moves) {
    detail::install_file(from, to);
    pages.push_back(to);
  }
  return pages;
}

}  // namespace nocturne
