#pragma once
// A small checkpoint with every field set to something other than its
// default (notes with accidentals and chords in the vocabulary), for the
// checkpoint tests and the fuzz seeds; and reseal(), which rewrites the
// checksum of bytes a test changed on purpose.

#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include "nocturne/checkpoint.hpp"
#include "nocturne/model.hpp"
#include "nocturne/rng.hpp"
#include "checkpoint/fnv1a64.hpp"

namespace nocturne::inline v0::test {

inline Checkpoint sample_checkpoint(bool with_moments = true, InputMode input = InputMode::embedding) {
  Checkpoint c;
  c.model.vocab = 5;
  c.model.window = 4;
  c.model.hidden1 = 3;
  c.model.hidden2 = 2;
  c.model.dense = 2;
  c.model.dropout = 0.25;
  c.model.input = input;
  c.model.embedding_dim = 3;
  c.epochs_total = 17;
  c.trainer.batch = 9;
  c.trainer.stats_every = 3;
  c.trainer.seed = 0x123456789abcdefull;
  c.trainer.adamax.learning_rate = 0.003;
  c.trainer.adamax.beta1 = 0.8;
  c.trainer.adamax.beta2 = 0.99;
  c.trainer.adamax.epsilon = 1e-6;
  c.vocabulary = {"0.4.7", "C#4", "E-2", "B-1", "11.2.5"};
  c.epochs_done = 6;
  c.optimizer_steps = 1234567890123ll;
  const std::size_t n = ParameterLayout(c.model).buffer_size();
  for (std::size_t i = 0; i < n; ++i) {
    c.parameters.push_back(float(random_normal(7, 1, i)));
    if (with_moments) {
      c.first_moment.push_back(float(random_normal(7, 2, i)));
      c.infinity_norm.push_back(float(random_uniform(7, 3, i)));
    }
  }
  c.metadata = R"({"history": [1, 2, 3], "note": "anything"})";
  return c;
}

// Rewrites the trailing checksum so that only the structural checks can object.
inline void reseal(std::vector<std::uint8_t>& bytes) {
  const std::uint64_t sum = fnv1a64(std::span<const std::uint8_t>(bytes).first(bytes.size() - 8));
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
}

}  // namespace nocturne::test
