// The generation loop: every step predicts from each output's last `window`
// tokens (a fresh state per window, as the recipe does; WindowPredictor shares
// the work between overlapping windows), chooses, appends and slides.

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/machine.hpp"
#include "nocturne/tokenizer.hpp"
#include "nocturne/window_predictor.hpp"

namespace nocturne::inline v0 {

void require_generation_memory(std::int64_t outputs, std::int64_t notes, std::int64_t window,
                               std::string_view advice) {
  const std::uint64_t tokens = std::uint64_t(outputs) * (std::uint64_t(notes) + std::uint64_t(window));
  require_memory(tokens * sizeof(std::int32_t), available_memory(),
                 std::to_string(outputs) + " outputs of " + std::to_string(notes) + " notes", advice);
}

std::vector<std::int32_t> primer_window(std::span<const std::int32_t> primer, std::int64_t window) {
  if (primer.empty()) throw ConfigError("generate: the primer is empty");
  if (window <= 0) throw ConfigError("generate: window must be positive, got " + std::to_string(window));
  const std::size_t w = std::size_t(window);
  std::vector<std::int32_t> out(w);
  if (primer.size() >= w) {
    std::copy(primer.end() - std::ptrdiff_t(w), primer.end(), out.begin());
    return out;
  }
  // Left padding by cycling the primer backwards from its end, so the primer
  // itself ends the window: ... p[n-2] p[n-1] | p[0] ... p[n-1].
  const std::size_t n = primer.size();
  for (std::size_t k = 0; k < w; ++k) out[w - 1 - k] = primer[n - 1 - (k % n)];
  return out;
}

std::vector<std::vector<std::int32_t>> generate_tokens(Model& model, std::span<const std::vector<std::int32_t>> primers,
                                                       const GenerationRequest& request,
                                                       const GenerationProgress& progress) {
  if (request.notes < 0) throw ConfigError("generate: notes must be >= 0, got " + std::to_string(request.notes));
  request.sampling.validate();
  const std::int64_t window = model.config().window, vocab = model.config().vocab;
  const std::size_t w = std::size_t(window), batch_max = std::size_t(model.max_batch());
  for (const auto& primer : primers)
    for (std::int32_t t : primer)
      if (t < 0 || t >= vocab)
        throw ConfigError("generate: primer token index " + std::to_string(t) + " outside the vocabulary of " +
                          std::to_string(vocab));

  std::vector<std::vector<std::int32_t>> outputs(primers.size());
  if (request.notes == 0) return outputs;
  const std::size_t chunks = (primers.size() + batch_max - 1) / batch_max;
  const std::int64_t total = request.notes * std::int64_t(chunks);
  for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
    const std::size_t first = chunk * batch_max, n = std::min(batch_max, primers.size() - first);
    std::vector<std::int32_t> windows;  // stream-major [n, window]
    windows.reserve(n * w);
    for (std::size_t b = 0; b < n; ++b) {
      const std::vector<std::int32_t> primer = primer_window(primers[first + b], window);
      windows.insert(windows.end(), primer.begin(), primer.end());
      outputs[first + b].reserve(std::size_t(request.notes));
    }
    // On the fused path the predictor samples on the device and hands the
    // tokens back every few notes; elsewhere it chooses on the host.
    WindowPredictor predictor(model, std::int64_t(n));
    const std::vector<std::int32_t> chosen = predictor.generate(
        windows, request.notes, request.sampling, request.seed, sampling_stream(request.first_output + first),
        [&](std::int64_t done) {
          const std::int64_t all_done = std::int64_t(chunk) * request.notes + done;
          if (progress && !progress(all_done, total))
            throw Cancelled("generate: cancelled after " + std::to_string(all_done) + " of " + std::to_string(total) +
                            " steps");
        });
    for (std::size_t step = 0; step < std::size_t(request.notes); ++step)
      for (std::size_t b = 0; b < n; ++b) outputs[first + b].push_back(chosen[step * n + b]);
  }
  return outputs;
}

MappedTokens map_to_vocabulary(std::span<const std::string> symbols, std::span<const std::string> vocabulary) {
  MappedTokens mapped;
  std::unordered_map<std::string_view, std::int32_t> index;
  for (std::size_t i = 0; i < vocabulary.size(); ++i) index.emplace(vocabulary[i], std::int32_t(i));
  for (const std::string& s : symbols) {
    if (const auto it = index.find(s); it != index.end()) {
      mapped.indices.push_back(it->second);
    } else {
      ++mapped.dropped;
      if (std::find(mapped.dropped_kinds.begin(), mapped.dropped_kinds.end(), s) == mapped.dropped_kinds.end())
        mapped.dropped_kinds.push_back(s);
    }
  }
  return mapped;
}

std::vector<std::string> split_token_list(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',') {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

std::vector<std::vector<int>> token_events(std::span<const std::string> tokens) {
  std::vector<std::vector<int>> events;
  events.reserve(tokens.size());
  for (const std::string& t : tokens) events.push_back(token_pitches(t));
  return events;
}

}  // namespace nocturne
