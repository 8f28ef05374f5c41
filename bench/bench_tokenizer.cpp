// Time to read and tokenize every MIDI file of a folder, single-threaded,
// best of several runs. Usage: bench_tokenizer [folder] [runs]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "nocturne/corpus.hpp"

int main(int argc, char** argv) {
  const std::string folder = argc > 1 ? argv[1] : NOCTURNE_BENCH_CHOPIN_DIR;
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  try {
    double best = 1e30;
    std::size_t files = 0, tokens = 0;
    for (int run = 0; run < runs; ++run) {
      const auto start = std::chrono::steady_clock::now();
      const auto corpus = nocturne::load_corpus(folder);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::min(best, seconds);
      files = corpus.size();
      tokens = 0;
      for (const auto& f : corpus) tokens += f.tokens.size();
    }
    std::printf("read + tokenize: %zu files, %zu tokens, best of %d runs %.4f s (%.0f tokens/s)\n", files, tokens,
                runs, best, static_cast<double>(tokens) / best);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
