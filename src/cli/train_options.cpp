// The options of `nocturne train` (train_options.hpp).

#include "cli/train_options.hpp"

#include <ctime>
#include <filesystem>

#include "cli/commands.hpp"

namespace nocturne::inline v0::cli {

namespace fs = std::filesystem;

TrainingSettings apply_options(TrainingSettings s, const TrainArgs& a) {
  const TrainingSettings& v = a.values;
  for (const auto& [name, option] : a.setting_options) {
    if (option->count() == 0) continue;
    if (name == "window") s.window = v.window;
    else if (name == "hidden1") s.hidden1 = v.hidden1;
    else if (name == "hidden2") s.hidden2 = v.hidden2;
    else if (name == "dense") s.dense = v.dense;
    else if (name == "dropout") s.dropout = v.dropout;
    else if (name == "input") s.input = v.input;
    else if (name == "embedding_dim") s.embedding_dim = v.embedding_dim;
    else if (name == "min_count") s.min_count = v.min_count;
    else if (name == "split") s.split = v.split;
    else if (name == "heldout") s.heldout = v.heldout;
    else if (name == "epochs") s.epochs = v.epochs;
    else if (name == "batch") s.batch = v.batch;
    else if (name == "lr") s.lr = v.lr;
    else if (name == "seed") s.seed = v.seed;
    else if (name == "weight_decay") s.weight_decay = v.weight_decay;
    else if (name == "input_dropout") s.input_dropout = v.input_dropout;
    else if (name == "recurrent_dropout") s.recurrent_dropout = v.recurrent_dropout;
    else if (name == "label_smoothing") s.label_smoothing = v.label_smoothing;
    else if (name == "lr_schedule") s.lr_schedule = v.lr_schedule;
    else if (name == "warmup") s.warmup = v.warmup;
    else if (name == "lr_decay_epochs") s.lr_decay_epochs = v.lr_decay_epochs;
    else if (name == "lr_floor") s.lr_floor = v.lr_floor;
    else if (name == "patience") s.patience = v.patience;
    else if (name == "transpose") s.transpose = v.transpose;
    else if (name == "init_from") s.init_from = v.init_from;
    else if (name == "tokens") s.tokens = v.tokens;
  }
  return s;
}

bool given(const TrainArgs& a, const std::string& setting) {
  for (const auto& [name, option] : a.setting_options)
    if (name == setting && option->count() > 0) return true;
  return false;
}

std::string default_run_folder() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
  const fs::path base = fs::path("runs") / (std::string("run-") + stamp);
  fs::path candidate = base;
  std::error_code ec;
  for (int k = 2; fs::exists(candidate, ec); ++k) candidate = base.string() + "-" + std::to_string(k);
  return candidate.string();
}

void add_setting_options(CLI::App& cmd, TrainingSettings& v, std::vector<std::pair<std::string, CLI::Option*>>& options) {
  auto setting = [&](const std::string& key, CLI::Option* option) { options.emplace_back(key, option); };
  setting("hidden1", cmd.add_option("--hidden1", v.hidden1, "Units of the first LSTM (recipe 512)"));
  setting("hidden2", cmd.add_option("--hidden2", v.hidden2, "Units of the second LSTM (recipe 256)"));
  setting("dense", cmd.add_option("--dense", v.dense, "Units of the hidden dense layer (recipe 256)"));
  setting("window", cmd.add_option("--window", v.window, "Input steps per window (recipe 40)"));
  setting("dropout", cmd.add_option("--dropout", v.dropout, "Dropout rate (recipe 0.1)"));
  setting("input", cmd.add_option("--input", v.input, "Input features: scalar (index / V, the recipe's) or embedding")
                       ->check(CLI::IsMember({"scalar", "embedding"})));
  setting("embedding_dim", cmd.add_option("--embedding-dim", v.embedding_dim, "Embedding size for --input embedding"));
  setting("min_count", cmd.add_option("--min-count", v.min_count, "Drop symbols rarer than this (recipe 100)"));
  setting("split", cmd.add_option("--split", v.split, "Held-out split: random (windows, the recipe's) or piece")
                       ->check(CLI::IsMember({"random", "piece"})));
  setting("heldout", cmd.add_option("--heldout", v.heldout, "Held-out fraction used for validation (0.2; 0 = none)"));
  setting("epochs", cmd.add_option("--epochs", v.epochs, "Epochs in total (recipe 200); with --resume, the new total")
                        ->check(at_least(1)));
  setting("batch", cmd.add_option("--batch", v.batch, "Windows per batch (recipe 256)"));
  setting("lr", cmd.add_option("--lr", v.lr, "Adamax learning rate (recipe 0.01)"));
  setting("tokens", cmd.add_option("--tokens", v.tokens,
                                   "Token stream: recipe (pitch symbols) or timed (with durations and shifts, "
                                   "docs/tokenizer.md)")
                        ->check(CLI::IsMember({"recipe", "timed"})));
  setting("seed", cmd.add_option("--seed", v.seed, "Seed of initialisation, split, shuffling and dropout (1)")
                      ->check(seed_number()));
  // Regularisers (off but in the quality preset).
  setting("weight_decay", cmd.add_option("--weight-decay", v.weight_decay,
                                         "Decoupled weight decay of the weight matrices, lr * wd * p a step (0)"));
  setting("input_dropout", cmd.add_option("--input-dropout", v.input_dropout,
                                          "Variational dropout of the LSTM inputs, one mask per window (0)"));
  setting("recurrent_dropout", cmd.add_option("--recurrent-dropout", v.recurrent_dropout,
                                              "Variational dropout of the LSTM recurrent state (0)"));
  setting("label_smoothing", cmd.add_option("--label-smoothing", v.label_smoothing,
                                            "Label smoothing of the training targets (0)"));
  setting("lr_schedule", cmd.add_option("--lr-schedule", v.lr_schedule,
                                        "Learning rate by epoch after the warm-up: constant, cosine or linear")
                             ->check(CLI::IsMember({"constant", "cosine", "linear"})));
  setting("warmup", cmd.add_option("--warmup", v.warmup, "Epochs of linear learning-rate warm-up (0)"));
  setting("lr_decay_epochs", cmd.add_option("--lr-decay-epochs", v.lr_decay_epochs,
                                            "The epoch the decay reaches --lr-floor (0: --epochs)"));
  setting("lr_floor", cmd.add_option("--lr-floor", v.lr_floor, "Final learning rate as a fraction of --lr (0.01)"));
  setting("patience", cmd.add_option("--patience", v.patience,
                                     "Stop after this many epochs without a lower val_loss (0: never)"));
  setting("transpose", cmd.add_option("--transpose", v.transpose,
                                      "Training pieces in other keys, one drawn per piece each epoch: 0 (off), n "
                                      "(-n..n semitones), a..b or all (-5..6); needs --split piece"));
  setting("init_from", cmd.add_option("--init-from", v.init_from,
                                      "Start from this checkpoint's weights (same layer sizes); vocabularies merged by "
                                      "symbol"));
}

void add_device_options(CLI::App& cmd, DeviceRequest& device, CLI::Option** precision) {
  cmd.add_option("--device", device.device, "auto (CUDA when usable, else CPU), cpu or cuda")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  *precision = cmd.add_option("--precision", device.precision,
                              "GEMM operands: fp32, tf32 or bf16 (tensor cores on the GPU; an emulation on the CPU); "
                              "kept when resuming unless given")
                   ->capture_default_str();
  cmd.add_option("--threads", device.threads, kThreadsHelp)->capture_default_str();
  cmd.add_option("--lstm-impl", device.lstm_impl,
                 "LSTM layers: classic (whole-sequence ops; 'ours' is its former name), fused (one step program "
                 "per training step, the layers as a wavefront; on the CPU too), persistent (fused, each layer's "
                 "forward sequence one persistent kernel where it fits) or cudnn (GPU only, for comparison)")
      ->capture_default_str();
  cmd.add_option("--cudnn-algo", device.cudnn_algo,
                 "cuDNN's RNN algorithm with --lstm-impl cudnn: standard (default), persist_static, "
                 "persist_dynamic or persist_static_small_h");
}

}  // namespace nocturne::cli
