#pragma once
// Generation as the recipe does it, plus the decoding modes its users ask for:
// each new token comes from running the model on the last `window` tokens with
// a fresh zero state, choosing a symbol from the predicted distribution,
// appending it and sliding the window by one.
//
// Choices are reproducible: sampling draws the uniform at
// (seed, rng_stream::sampling + output, note) from the counter-based generator,
// so output k of a run depends only on the model, its primer, the options and
// the seed (not on how many outputs are generated beside it, up to float
// rounding differences between batch sizes in the BLAS library).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nocturne/export.hpp"
#include "nocturne/model.hpp"

namespace nocturne::inline v0 {

struct NOCTURNE_API SamplingOptions {
  bool greedy = true;        // argmax (the first maximum): the recipe
  double temperature = 1.0;  // > 0; p_i^(1/T), renormalised
  std::int64_t top_k = 0;    // keep the k most likely symbols; 0 = all
  double top_p = 1.0;        // keep the smallest most-likely set whose mass reaches p, in (0, 1]
  // Throws ConfigError naming the bad field and value.
  void validate() const;
  // "greedy" or "sampling (temperature 0.9, top-k 20, top-p 0.95)".
  std::string describe() const;
};

// Picks a symbol from `probs` (one model output row, any non-negative weights).
// Greedy: the index of the first maximum, no draw. Sampling: weights become
// p_i^(1/T) (computed as exp((ln p_i - ln p_max) / T), so small T approaches
// greedy without overflow); symbols are ranked by weight (ties by index);
// top-k keeps the first k; top-p keeps the shortest prefix of the ranking whose
// renormalised mass is >= p; one uniform u = random_uniform(seed, stream, index)
// then picks along the ranking from the cumulative kept mass.
// Throws ConfigError for an empty row or one with no positive finite weight.
NOCTURNE_API std::int32_t choose_token(std::span<const float> probs, const SamplingOptions& options, std::uint64_t seed,
                                       std::uint32_t stream, std::uint64_t index);

// The stream of output `output`: rng_stream::sampling + output.
NOCTURNE_API std::uint32_t sampling_stream(std::uint64_t output);

struct NOCTURNE_API GenerationRequest {
  std::int64_t notes = 500;  // new tokens per output
  SamplingOptions sampling;
  std::uint64_t seed = 1;
  std::uint64_t first_output = 0;  // output index of primers[0] (for the sampling stream)
};

// Called after each generated step with the steps done and to do (over every
// batch of outputs). Returning false cancels: generate_tokens throws Cancelled.
using GenerationProgress = std::function<bool(std::int64_t done, std::int64_t total)>;

// One continuation per primer (vocabulary indices). A primer shorter than the
// model's window is padded on the left by repeating it cyclically (the padding
// is not returned); an empty primer throws ConfigError. Outputs are generated
// together in batches of up to model.max_batch(). Returns, per primer, only the
// `notes` new tokens.
NOCTURNE_API std::vector<std::vector<std::int32_t>> generate_tokens(Model& model,
                                                                    std::span<const std::vector<std::int32_t>> primers,
                                                                    const GenerationRequest& request,
                                                                    const GenerationProgress& progress = {});

// Throws ConfigError unless the memory available holds what generate_tokens
// keeps for `outputs` outputs of `notes` new tokens after a `window`-token
// primer each (every output's tokens stay until it returns); `advice` says
// what to lower (machine.hpp, require_memory).
NOCTURNE_API void require_generation_memory(std::int64_t outputs, std::int64_t notes, std::int64_t window,
                                            std::string_view advice);

// The last `window` tokens the model reads for a primer (left-padded as above).
NOCTURNE_API std::vector<std::int32_t> primer_window(std::span<const std::int32_t> primer, std::int64_t window);

// ---- primers ----------------------------------------------------------------

// Symbols mapped to vocabulary indices; symbols absent from the vocabulary are
// dropped and counted.
struct NOCTURNE_API MappedTokens {
  std::vector<std::int32_t> indices;
  std::int64_t dropped = 0;               // occurrences dropped
  std::vector<std::string> dropped_kinds;  // distinct dropped symbols, in first-seen order
};
// `vocabulary[i]` is the symbol of index i.
NOCTURNE_API MappedTokens map_to_vocabulary(std::span<const std::string> symbols,
                                            std::span<const std::string> vocabulary);

// "C4 E4 0.4.7" or "C4,E4,0.4.7" -> {"C4", "E4", "0.4.7"} (whitespace and commas separate).
NOCTURNE_API std::vector<std::string> split_token_list(std::string_view text);

// ---- decoding ---------------------------------------------------------------

// The MIDI pitches of each token as the recipe decodes them (notes keep their
// octave, chord pitch classes go to octave 4). Throws ConfigError for a malformed token.
NOCTURNE_API std::vector<std::vector<int>> token_events(std::span<const std::string> tokens);

}  // namespace nocturne
