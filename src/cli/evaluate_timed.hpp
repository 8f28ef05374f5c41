#pragma once
// `nocturne evaluate` on a timed model: held-out cross-entropy per part of the
// stream, and the rhythm of generated pieces against the corpus's.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/evaluate_generated.hpp"
#include "nocturne/trained_model.hpp"

namespace nocturne::inline v0::cli {

// report["components"]: cross-entropy, perplexity and windows of the windows
// whose target is a symbol, a duration or a shift; printed when `table`.
void add_component_cross_entropy(nlohmann::json& report, Model& model, const HeldoutWindows& held,
                                 const std::vector<std::string>& vocab, bool table);

// report["timing"]: the corpus's training pieces' rhythm and each generated
// piece's beside it (Jensen-Shannon divergence in bits of the duration and
// inter-onset histograms, notes per bar, share of onsets on the beat).
void add_timing_statistics(nlohmann::json& report, const std::vector<GeneratedPiece>& pieces,
                           const std::vector<std::string>& vocab, const HeldoutWindows& held, bool table);

}  // namespace nocturne::cli
