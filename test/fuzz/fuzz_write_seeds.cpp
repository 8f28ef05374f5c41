// fuzz_write_seeds DIR: writes the seed inputs of every fuzz target into
// DIR/midi, DIR/checkpoint and DIR/tokens (tools/fuzz.sh starts from them).

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_properties.hpp"

namespace {

void write_all(const std::filesystem::path& folder, const std::vector<nocturne::fuzz::Bytes>& seeds) {
  std::filesystem::create_directories(folder);
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream out(folder / ("seed-" + std::to_string(i)), std::ios::binary);
    out.write(reinterpret_cast<const char*>(seeds[i].data()), static_cast<std::streamsize>(seeds[i].size()));
    if (!out) throw std::runtime_error("cannot write " + (folder / ("seed-" + std::to_string(i))).string());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_write_seeds DIR\n");
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    write_all(dir / "midi", nocturne::fuzz::midi_seeds());
    write_all(dir / "checkpoint", nocturne::fuzz::checkpoint_seeds());
    write_all(dir / "tokens", nocturne::fuzz::token_seeds());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_write_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
