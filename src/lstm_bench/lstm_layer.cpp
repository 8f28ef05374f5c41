// The LSTM benchmark's shared pieces (lstm_layer.hpp).

#include "lstm_bench/lstm_layer.hpp"

#include "nocturne/rng.hpp"

namespace nocturne::inline v0::bench {

std::vector<Job> jobs(const LstmBenchOptions& o) {
  std::vector<Job> out;
  if (o.tiny) {
    out.push_back({"tiny", {4, 2, 3, 8}, true});
    out.push_back({"tiny", {3, 2, 1, 5}, true});
    return out;
  }
  out.push_back({"recipe-layer1", {40, 256, 1, 512}, true});
  out.push_back({"recipe-layer2", {40, 256, 512, 256}, true});
  std::vector<int> batches, hiddens;
  if (o.sweep == "full") {
    batches = {1, 8, 32, 64, 128, 256, 512};
    hiddens = {128, 256, 512, 1024};
  } else if (o.sweep == "quick") {
    batches = {1, 64, 256};
    hiddens = {128, 512};
  }
  for (int input : {1, 512})
    for (int hidden : hiddens)
      for (int batch : batches) out.push_back({"sweep", {40, batch, input, hidden}, false});
  return out;
}

namespace {

std::vector<float> random_vector(std::uint64_t seed, std::size_t n, float lo, float hi) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * float(random_uniform(seed, 0, i));
  return v;
}

}  // namespace

HostData make_data(const LstmShape& s, std::uint64_t seed) {
  const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch), g4 = 4 * std::size_t(s.hidden);
  const float ws = 1.0f / std::sqrt(float(s.input + s.hidden));
  HostData d;
  d.w = random_vector(seed + 1, std::size_t(s.input) * g4, -ws, ws);
  d.r = random_vector(seed + 2, std::size_t(s.hidden) * g4, -ws, ws);
  d.b = random_vector(seed + 3, g4, -0.5f, 0.5f);
  for (int k = 0; k < 2; ++k) {
    d.x[k] = random_vector(seed + 10 + std::uint64_t(k), tn * std::size_t(s.input), -1.0f, 1.0f);
    d.dh[k] = random_vector(seed + 20 + std::uint64_t(k), tn * std::size_t(s.hidden), -1.0f, 1.0f);
  }
  return d;
}

void time_phases(std::vector<Row>& rows, Row row, Timer timer, int warmup, int reps, const Step& forward,
                 const Step& backward) {
  row.phase = kPhases[0];
  row.stats = timer(warmup, reps, nullptr, forward);
  rows.push_back(row);
  row.phase = kPhases[1];
  row.stats = timer(warmup, reps, forward, backward);
  rows.push_back(row);
  row.phase = kPhases[2];
  row.stats = timer(warmup, reps, nullptr, [&](int i) {
    forward(i);
    backward(i);
  });
  rows.push_back(row);
}

void time_ours(std::vector<Row>& rows, const Row& base, Layer<float>& layer, Timer timer, int warmup, int reps,
               bool synchronous_backend) {
  auto sync = [&] {
    if (synchronous_backend) layer.be.synchronize();
  };
  time_phases(
      rows, base, timer, warmup, reps,
      [&](int i) {
        layer.forward(i);
        sync();
      },
      [&](int i) {
        layer.backward(i);
        sync();
      });
}

}  // namespace nocturne::bench
