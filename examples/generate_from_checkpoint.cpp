// Loads a checkpoint (or a run folder's best.ckpt) and writes a new piece as
// a MIDI file, primed with a held-out window of the data it trained on.
//   generate_from_checkpoint <checkpoint-or-run-folder> <out.mid> [notes]

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <nocturne/nocturne.hpp>

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: generate_from_checkpoint <checkpoint-or-run-folder> <out.mid> [notes]\n");
    return 2;
  }
  try {
    nocturne::TrainedModel trained = nocturne::load_model(argv[1]);  // device auto, batches of 1
    if (!trained.device.note.empty()) std::fprintf(stderr, "%s\n", trained.device.note.c_str());
    const nocturne::Primers primers = nocturne::make_primers(nocturne::PrimerRequest{}, trained);
    for (const std::string& note : primers.notes) std::fprintf(stderr, "primer: %s\n", note.c_str());

    nocturne::GenerationRequest request;
    request.notes = argc == 4 ? std::atoi(argv[3]) : 64;
    request.sampling.greedy = false;
    request.sampling.temperature = 0.9;
    const auto outputs = nocturne::generate_tokens(*trained.model, primers.indices, request,
                                                   [](int done, int total) { return done <= total; });
    std::vector<std::string> symbols;
    for (std::int32_t index : outputs.front()) symbols.push_back(trained.vocabulary()[std::size_t(index)]);
    nocturne::write_midi(argv[2], nocturne::tokens_to_midi(symbols));
    std::printf("%s: %zu notes from %s (primer: %s)\n", argv[2], symbols.size(), trained.path.c_str(),
                primers.source.c_str());
    return 0;
  } catch (const nocturne::Error& e) {
    std::fprintf(stderr, "generate_from_checkpoint: %s\n", e.what());
    return 1;
  }
}
