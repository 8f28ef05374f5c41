// `nocturne evaluate` on a timed model (evaluate_timed.hpp).

#include "cli/evaluate_timed.hpp"

#include <cstdio>

#include "nocturne/timed_evaluate.hpp"

namespace nocturne::inline v0::cli {

using nlohmann::json;

void add_component_cross_entropy(json& report, Model& model, const HeldoutWindows& held,
                                 const std::vector<std::string>& vocab, bool table) {
  const ComponentMetrics m = evaluate_windows_by_component(model, held.tokens, held.starts, vocab);
  json parts = json::object();
  const std::pair<const char*, const HeldoutMetrics*> named[] = {
      {"symbol", &m.symbol}, {"duration", &m.duration}, {"shift", &m.shift}};
  for (const auto& [name, metrics] : named) {
    parts[name] = {{"windows", metrics->windows},
                   {"cross_entropy", metrics->cross_entropy},
                   {"perplexity", metrics->perplexity},
                   {"top1", metrics->top1}};
    if (table)
      std::printf("  %-9s  %7lld windows, cross-entropy %.4f nats, perplexity %.2f, top-1 %.4f\n", name,
                  static_cast<long long>(metrics->windows), metrics->cross_entropy, metrics->perplexity,
                  metrics->top1);
  }
  report["components"] = parts;
}

namespace {

std::vector<TimedEvent> decode_indices(const std::vector<std::int32_t>& piece, const std::vector<std::string>& vocab) {
  std::vector<std::string> symbols;
  for (std::int32_t t : piece) symbols.push_back(vocab[std::size_t(t)]);
  return decode_timed(symbols);
}

json timing_json(const TimingStatistics& s) {
  return {{"elements", s.elements}, {"notes", s.notes}, {"notes_per_bar", s.notes_per_bar}, {"on_beat", s.on_beat}};
}

}  // namespace

void add_timing_statistics(json& report, const std::vector<GeneratedPiece>& pieces,
                           const std::vector<std::string>& vocab, const HeldoutWindows& held, bool table) {
  std::vector<std::vector<TimedEvent>> corpus_pieces;
  for (const auto& piece : held.training_pieces) corpus_pieces.push_back(decode_indices(piece, vocab));
  const TimingStatistics corpus = timing_statistics(corpus_pieces);
  json out = {{"corpus", timing_json(corpus)}, {"generated", json::array()}};
  if (table)
    std::printf("timing       notes/bar  on-beat  JS durations  JS inter-onsets (bits)\n"
                "  corpus     %9.2f  %7.3f\n",
                corpus.notes_per_bar, corpus.on_beat);
  for (const GeneratedPiece& piece : pieces) {
    const std::vector<std::vector<TimedEvent>> one{decode_timed(piece.tokens)};
    const TimingStatistics s = timing_statistics(one);
    // A piece without durations or intervals is as far as can be: 1 bit.
    auto js = [](const TimingHistogram& a, const TimingHistogram& b) {
      try {
        return histogram_js_divergence(a, b);
      } catch (const ConfigError&) {
        return 1.0;
      }
    };
    const double js_durations = js(s.durations, corpus.durations), js_onsets = js(s.inter_onsets, corpus.inter_onsets);
    json j = timing_json(s);
    j["file"] = piece.name;
    j["js_durations_bits"] = js_durations;
    j["js_inter_onsets_bits"] = js_onsets;
    out["generated"].push_back(j);
    if (table)
      std::printf("  %s\n             %9.2f  %7.3f  %12.4f  %15.4f\n", piece.name.c_str(), s.notes_per_bar, s.on_beat,
                  js_durations, js_onsets);
  }
  report["timing"] = out;
}

}  // namespace nocturne::cli
