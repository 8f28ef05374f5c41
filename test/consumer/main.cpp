// Builds a small model through the installed public API and trains it on a
// repeating pattern: the loss must fall. Exits non-zero otherwise. Says what
// cuda_status() reports, and with the render component (CONSUMER_WITH_RENDER)
// plots the losses to the PNG file named by its first argument.

#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <nocturne/nocturne.hpp>

int main(int argc, char** argv) {
  // The library it runs with is the one whose headers it was built with.
  if (std::string(nocturne::version().text) != NOCTURNE_VERSION_STRING) {
    std::fprintf(stderr, "consumer: library %s, headers %s\n", nocturne::version().text, NOCTURNE_VERSION_STRING);
    return 1;
  }
  const nocturne::CudaStatus cuda = nocturne::cuda_status();
  std::printf("consumer: cuda %s\n", cuda.usable ? "usable" : ("not usable: " + cuda.reason).c_str());
  auto backend = nocturne::make_cpu_backend();
  nocturne::ModelConfig config;
  config.vocab = 5;
  config.window = 6;
  config.hidden1 = 16;
  config.hidden2 = 8;
  config.dense = 8;
  nocturne::Model model(*backend, config, 16);
  model.initialize(7);

  std::vector<std::int32_t> tokens(200);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = std::int32_t(i % 5);
  std::vector<std::int64_t> starts(tokens.size() - std::size_t(config.window));
  std::iota(starts.begin(), starts.end(), 0);

  nocturne::TrainerConfig tc;
  tc.batch = 16;
  nocturne::Trainer trainer(model, tc);
  const nocturne::WindowSet windows{tokens, starts};
  double first = 0, last = 0;
  std::vector<nocturne::LossPoint> losses;
  for (int epoch = 1; epoch <= 5; ++epoch) {
    const auto result = trainer.train_epoch(windows);
    if (epoch == 1) first = result.loss;
    last = result.loss;
    losses.push_back({epoch, result.loss, std::nan("")});
    std::printf("nocturne %s consumer: epoch %d loss %.4f accuracy %.3f\n", nocturne::version_string, epoch,
                result.loss, result.accuracy);
  }
  if (!std::isfinite(last) || !(last < first)) {
    std::fprintf(stderr, "consumer: the loss did not fall (%.4f -> %.4f)\n", first, last);
    return 1;
  }
#if CONSUMER_WITH_RENDER
  if (argc > 1) {
    nocturne::write_loss_plot(argv[1], losses);
    std::printf("consumer: loss plot written to %s\n", argv[1]);
  }
#else
  (void)argc, (void)argv, (void)losses;
#endif
  return 0;
}
