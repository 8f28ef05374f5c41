// Tokenizes a folder of MIDI files, skipping (and naming) files it cannot
// read, and prints each file's token count and the corpus's vocabulary size.
//   tokenize_folder <midi-folder>

#include <cstdio>
#include <set>

#include <nocturne/nocturne.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tokenize_folder <midi-folder>\n");
    return 2;
  }
  try {
    nocturne::CorpusReadOptions options;  // skip bad files (BadFilePolicy::stop would throw instead)
    options.on_skip = [](const std::string& name, const nocturne::Error& why) {
      std::fprintf(stderr, "skipped %s: %s\n", name.c_str(), why.what());
    };
    const nocturne::Corpus corpus = nocturne::read_corpus(argv[1], options);
    std::set<std::string> symbols;
    for (const nocturne::CorpusFile& file : corpus.files) {
      std::printf("%s: %zu tokens\n", file.name.c_str(), file.tokens.size());
      symbols.insert(file.tokens.begin(), file.tokens.end());
    }
    std::printf("%zu files read, %zu skipped, %zu distinct symbols\n", corpus.files.size(), corpus.skipped.size(),
                symbols.size());
    return corpus.files.empty() ? 1 : 0;
  } catch (const nocturne::Error& e) {  // a missing or empty folder, say
    std::fprintf(stderr, "tokenize_folder: %s\n", e.what());
    return 1;
  }
}
