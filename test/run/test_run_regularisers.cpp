// The regularisers in a training run (demo corpus, tiny model): the
// scheduled learning rate lands in the history and survives a resume
// exactly; early stopping ends a run whose val_loss stopped improving, keeps
// its best epoch in best.ckpt, and a resumed stopped run stays stopped; the
// settings are validated, stored and read back (runs from before them too).

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nocturne/checkpoint.hpp"
#include "nocturne/device.hpp"
#include "nocturne/error.hpp"
#include "nocturne/training_run.hpp"
#include "run_test_settings.hpp"
#include "test_support.hpp"

using namespace nocturne;
namespace fs = std::filesystem;

namespace {

TrainingSettings tiny() { return test::tiny_run_settings(); }

DeviceRequest cpu() { return test::cpu_request(); }

void train_to_end(TrainingRun& run, DeviceChoice& device) {
  run.load_data();
  run.start(*device.backend, device.description);
  while (!run.finished()) REQUIRE(run.train_epoch().completed);
}

}  // namespace

TEST_CASE("a scheduled learning rate is recorded per epoch and resumes exactly", "[run][regularisers]") {
  const fs::path root = test::temp_path("nocturne-run-schedule");
  fs::remove_all(root);
  DeviceChoice device = choose_device(cpu());
  TrainingSettings s = tiny();
  s.lr_schedule = "cosine";
  s.warmup = 1;
  s.lr_decay_epochs = 4;
  s.lr_floor = 0.1;
  s.weight_decay = 0.01;
  s.input_dropout = 0.1;
  s.recurrent_dropout = 0.1;
  s.label_smoothing = 0.1;
  s.epochs = 4;
  {
    TrainingRun whole = TrainingRun::create(root / "whole", s, TrainingData{{}, true});
    train_to_end(whole, device);
  }
  TrainingSettings first = s;
  first.epochs = 2;
  {
    TrainingRun part = TrainingRun::create(root / "part", first, TrainingData{{}, true});
    train_to_end(part, device);
  }
  {
    TrainingRun part = TrainingRun::resume(root / "part");
    CHECK(part.settings().lr_decay_epochs == 4);
    CHECK(part.settings().label_smoothing == 0.1);
    part.set_epochs(4);
    train_to_end(part, device);
  }
  const Checkpoint whole = load_checkpoint(root / "whole" / "last.ckpt");
  const Checkpoint part = load_checkpoint(root / "part" / "last.ckpt");
  CHECK(part.parameters == whole.parameters);  // bit for bit: the same rates, masks and decay
  const auto history = nlohmann::json::parse(whole.metadata).at("history");
  REQUIRE(history.size() == 4);
  // Warm-up 1 (lr / 2), then cosine from lr at epoch 2 to 0.1 lr at epoch 4.
  const double lr = s.lr, want[] = {lr / 2, lr, lr * (0.1 + 0.9 * 0.5), lr * 0.1};
  for (std::size_t e = 0; e < 4; ++e) CHECK(history[e].at("lr").get<double>() == Approx(want[e]));
  const auto part_history = nlohmann::json::parse(part.metadata).at("history");
  for (std::size_t e = 0; e < 4; ++e)  // all but the timings
    for (const char* key : {"loss", "val_loss", "lr"}) CHECK(part_history[e].at(key) == history[e].at(key));
  std::ifstream csv(root / "whole" / "history.csv");
  std::string header;
  std::getline(csv, header);
  CHECK(header.ends_with(",lr"));
  fs::remove_all(root);
}

TEST_CASE("early stopping ends the run after --patience epochs without a lower val_loss", "[run][regularisers]") {
  const fs::path root = test::temp_path("nocturne-run-patience");
  fs::remove_all(root);
  DeviceChoice device = choose_device(cpu());
  TrainingSettings s = tiny();
  s.epochs = 60;
  s.lr = 0.05;  // overfits the demo corpus within a few epochs
  s.patience = 2;
  int best = 0;
  {
    TrainingRun run = TrainingRun::create(root / "run", s, TrainingData{{}, true});
    train_to_end(run, device);
    REQUIRE(run.stopped_early());
    REQUIRE(run.epochs_done() < 60);
    REQUIRE(run.best());
    best = run.best()->epoch;
    CHECK(run.epochs_done() == best + 2);
    for (const HistoryRow& row : run.history())
      if (row.epoch > best) CHECK(*row.val_loss >= run.best()->value);
    CHECK(run.stopped_early()->find("since epoch " + std::to_string(best)) != std::string::npos);
    CHECK(load_checkpoint(root / "run" / "best.ckpt").epochs_done == best);
  }
  {
    TrainingRun run = TrainingRun::resume(root / "run");
    CHECK(run.finished());
    CHECK(run.stopped_early());
    run.set_epochs(100);  // more epochs do not restart a stopped run
    CHECK(run.finished());
  }
  fs::remove_all(root);
}

TEST_CASE("regulariser settings are validated with the option's name", "[run][regularisers][config]") {
  auto refused = [](auto change, const char* name) {
    TrainingSettings s = tiny();
    change(s);
    INFO(name);
    CHECK_THROWS_WITH(s.validate(), Catch::Contains(name));
  };
  refused([](TrainingSettings& s) { s.input_dropout = 1.0; }, "--input-dropout");
  refused([](TrainingSettings& s) { s.recurrent_dropout = -0.1; }, "--recurrent-dropout");
  refused([](TrainingSettings& s) { s.label_smoothing = 1.5; }, "--label-smoothing");
  refused([](TrainingSettings& s) { s.weight_decay = -1e-4; }, "--weight-decay");
  refused([](TrainingSettings& s) { s.lr_schedule = "step"; }, "--lr-schedule");
  refused([](TrainingSettings& s) { s.warmup = -1; }, "--warmup");
  refused([](TrainingSettings& s) { s.patience = -2; }, "--patience");
  refused([](TrainingSettings& s) { s.lr_floor = 0; }, "--lr-floor");
  CHECK_NOTHROW(training_preset("quality").validate());
  // The older presets keep every regulariser off.
  for (const char* name : {"recipe", "small", "demo"}) {
    const TrainingSettings p = training_preset(name);
    CHECK(p.weight_decay == 0);
    CHECK(p.input_dropout == 0);
    CHECK(p.recurrent_dropout == 0);
    CHECK(p.label_smoothing == 0);
    CHECK(p.lr_schedule == "constant");
    CHECK(p.warmup == 0);
    CHECK(p.patience == 0);
  }
}
