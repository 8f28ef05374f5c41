// Times the CPU backend at the recipe's shapes (batch 256, 40 steps, LSTM 512
// then 256, input size 1): SGEMM, both LSTM layers forward and backward,
// dropout, and the batch-1 forward of generation. Prints the median of
// several repetitions after one warm-up, and GFLOP/s where FLOPs are known.
//
//   bench_cpu_ops [repetitions]   (default 5)

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "nocturne/backend.hpp"

using namespace nocturne;
using bench::median_ms;
using bench::random_floats;

namespace {

void report(const std::string& what, double ms, double flops) {
  if (flops > 0)
    std::printf("%-44s %10.3f ms  %7.1f GFLOP/s\n", what.c_str(), ms, flops / (ms * 1e-3) / 1e9);
  else
    std::printf("%-44s %10.3f ms\n", what.c_str(), ms);
}

double time_sgemm(Backend& backend, int reps, int m, int n, int k) {
  const auto a = random_floats(std::size_t(m) * k, 1, 1.0f), b = random_floats(std::size_t(k) * n, 2, 1.0f);
  std::vector<float> c(std::size_t(m) * n);
  const double ms = median_ms(reps, [&] {
    backend.gemm(Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
  });
  report("sgemm " + std::to_string(m) + "x" + std::to_string(k) + " by " + std::to_string(k) + "x" +
             std::to_string(n),
         ms, 2.0 * m * n * k);
  return ms;
}

struct LayerTimes {
  double forward_ms, backward_ms;
};

// GEMM FLOPs of one layer: forward x W and h R; backward dh R^T, dW, dR, dx.
LayerTimes time_lstm(Backend& backend, int reps, const LstmShape& s, const std::string& label) {
  const std::size_t rows = std::size_t(s.steps) * s.batch, g = 4 * std::size_t(s.hidden);
  const auto x = random_floats(rows * s.input, 3, 1.0f), w = random_floats(std::size_t(s.input) * g, 4, 0.1f),
             r = random_floats(std::size_t(s.hidden) * g, 5, 0.05f), b = random_floats(g, 6, 0.1f),
             dh = random_floats(rows * s.hidden, 7, 0.01f);
  std::vector<float> h(rows * s.hidden), c(rows * s.hidden), gates(rows * g), dx(rows * s.input),
      dw(std::size_t(s.input) * g), dr(std::size_t(s.hidden) * g), db(g), ws(Backend::lstm_workspace_size(s));
  const double nh = double(rows), recurrent = 2.0 * (nh - s.batch) * s.hidden * double(g);
  const double projection = 2.0 * nh * s.input * double(g);
  const double fwd = median_ms(reps, [&] {
    backend.lstm_forward(s, x.data(), w.data(), r.data(), b.data(), h.data(), c.data(), gates.data());
  });
  report(label + " forward", fwd, recurrent + projection);
  const double bwd = median_ms(reps, [&] {
    backend.lstm_backward(s, x.data(), w.data(), r.data(), h.data(), c.data(), gates.data(), dh.data(), dx.data(),
                          dw.data(), dr.data(), db.data(), ws.data());
  });
  report(label + " backward (with dx)", bwd, 2.0 * recurrent + 2.0 * projection);
  return {fwd, bwd};
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  auto backend = make_cpu_backend();
  std::printf("CPU backend: %s, median of %d after one warm-up\n\n", backend->name().c_str(), reps);

  time_sgemm(*backend, reps, 2048, 2048, 2048);
  time_sgemm(*backend, reps, 256, 2048, 512);  // layer-1 recurrent step
  time_sgemm(*backend, reps, 256, 1024, 256);  // layer-2 recurrent step
  std::printf("\n");

  const auto layer1 = time_lstm(*backend, reps, LstmShape{40, 256, 1, 512}, "lstm layer 1 T40 N256 F1 H512");
  const auto layer2 = time_lstm(*backend, reps, LstmShape{40, 256, 512, 256}, "lstm layer 2 T40 N256 F512 H256");

  const std::size_t drop_n = std::size_t(40) * 256 * 512;
  const auto drop_x = random_floats(drop_n, 8, 1.0f);
  std::vector<float> drop_y(drop_n);
  std::uint64_t offset = 0;
  const double drop_ms = median_ms(reps, [&] {
    backend->dropout_forward(DropoutKey{1, 0, 0, &offset}, 0.1f, drop_n, drop_x.data(), drop_y.data());
    offset += drop_n;
  });
  report("dropout 40x256x512", drop_ms, 0);

  std::printf("\nLSTM part of a training step (both layers, forward + backward, one dropout each way): %.1f ms\n",
              layer1.forward_ms + layer1.backward_ms + layer2.forward_ms + layer2.backward_ms + 2 * drop_ms);

  // Generation: one window of 40 steps at batch 1 through both layers.
  std::printf("\n");
  const auto g1 = time_lstm(*backend, reps * 4, LstmShape{40, 1, 1, 512}, "batch-1 layer 1 T40 F1 H512");
  const auto g2 = time_lstm(*backend, reps * 4, LstmShape{40, 1, 512, 256}, "batch-1 layer 2 T40 F512 H256");
  std::printf("batch-1 LSTM forward per generated note: %.3f ms\n", g1.forward_ms + g2.forward_ms);
  return 0;
}
