// TrainingRun end to end on the demo corpus with a tiny model: a new run
// trains and saves, a resumed run continues exactly where it stopped and
// refuses changed settings or data, a stop discards only the epoch under way;
// load_model then gives the model with its vocabulary and its data's primers.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nocturne/checkpoint.hpp"
#include "nocturne/demo_corpus.hpp"
#include "nocturne/error.hpp"
#include "nocturne/trained_model.hpp"
#include "nocturne/training_run.hpp"
#include "run_test_settings.hpp"
#include "test_support.hpp"

using namespace nocturne;
namespace fs = std::filesystem;

namespace {

TrainingSettings tiny() { return test::tiny_run_settings(); }

DeviceRequest cpu() { return test::cpu_request(); }

}  // namespace

TEST_CASE("a training run trains, saves, stops and resumes", "[run]") {
  const fs::path root = test::temp_path("nocturne-training-run");
  fs::remove_all(root);
  const fs::path folder = root / "run";
  DeviceChoice device = choose_device(cpu());
  {
    TrainingRun run = TrainingRun::create(folder, tiny(), TrainingData{{}, true});
    CHECK(fs::exists(folder / ".nocturne-run"));
    CHECK_FALSE(fs::exists(folder / "last.ckpt"));
    std::vector<std::string> infos;
    run.load_data({[&](const std::string& m) { infos.push_back(m); }, {}});
    REQUIRE_FALSE(infos.empty());
    CHECK(infos.front().find("DEMO corpus") != std::string::npos);
    CHECK(run.data_folder() == fs::absolute(folder / "demo-corpus"));
    run.start(*device.backend, device.description);
    CHECK(load_checkpoint(run.last_checkpoint()).epochs_done == 0);
    CHECK(run.model_config().vocab == int(run.dataset().vocab.size()));
    int calls = 0;
    while (!run.finished()) {
      const RunEpoch e = run.train_epoch([&](const Progress&) { return ++calls > 0; });
      CHECK(e.completed);
    }
    CHECK(calls > 0);
    REQUIRE(run.history().size() == 2);
    REQUIRE(run.best());
    CHECK(run.best()->metric == "val_loss");
    const Checkpoint last = load_checkpoint(folder / "last.ckpt");
    CHECK(last.epochs_done == 2);
    CHECK(load_checkpoint(folder / "best.ckpt").epochs_done == run.best()->epoch);
    std::ifstream history(folder / "history.csv");
    std::string line;
    int lines = 0;
    while (std::getline(history, line)) ++lines;
    CHECK(lines == 3);  // header and two epochs
    CHECK(fs::exists(folder / "config.json"));
    CHECK(fs::exists(folder / "vocabulary.txt"));
    // A folder that holds a run is not a new run's.
    CHECK_THROWS_AS(TrainingRun::create(folder, tiny(), TrainingData{{}, true}), FileError);
  }
  {
    TrainingRun run = TrainingRun::resume(folder / "last.ckpt");
    CHECK(run.resumed());
    CHECK(run.folder() == folder);
    CHECK(run.epochs_done() == 2);
    CHECK(run.finished());
    TrainingSettings other = tiny();
    other.window = 9;
    CHECK_THROWS_WITH(run.require_settings(other), Catch::Contains("window = 8"));
    other = tiny();
    other.epochs = 5;  // epochs may change
    CHECK_NOTHROW(run.require_settings(other));
    CHECK_THROWS_AS(run.set_data_folder(root), ConfigError);  // a demo run's data is its own
    run.set_epochs(4);
    run.load_data();
    run.start(*device.backend, device.description);
    // A stop during an epoch discards it: last.ckpt keeps epoch 2.
    const RunEpoch stopped = run.train_epoch([](const Progress&) { return false; });
    CHECK_FALSE(stopped.completed);
    CHECK(stopped.row.epoch == 3);
    CHECK(load_checkpoint(folder / "last.ckpt").epochs_done == 2);
  }
  {
    TrainingRun run = TrainingRun::resume(folder);
    CHECK(run.settings().epochs == 2);  // the stopped run's new total was never saved
    run.set_epochs(3);
    run.load_data();
    run.start(*device.backend, device.description);
    const RunEpoch e = run.train_epoch();
    CHECK(e.completed);
    CHECK(e.row.epoch == 3);
    CHECK(run.history().size() == 3);
    CHECK(load_checkpoint(folder / "last.ckpt").epochs_done == 3);
  }
  {
    // Changed data is refused when resuming.
    TrainingRun run = TrainingRun::resume(folder);
    fs::remove(folder / "demo-corpus" / "demo-15.mid");
    run.set_epochs(4);
    CHECK_THROWS_WITH(run.load_data(), Catch::Contains("changed"));
  }
  fs::remove_all(root);
}

TEST_CASE("load_model gives the run's model, vocabulary and held-out primers", "[run]") {
  const fs::path root = test::temp_path("nocturne-load-model");
  fs::remove_all(root);
  TrainingSettings settings = tiny();
  settings.epochs = 1;
  std::vector<std::string> vocabulary;
  {
    DeviceChoice device = choose_device(cpu());
    TrainingRun run = TrainingRun::create(root / "run", settings, TrainingData{{}, true});
    run.load_data();
    run.start(*device.backend, device.description);
    run.train_epoch();
    vocabulary = run.dataset().vocab.symbols();
  }
  TrainedModel trained = load_model(root / "run", cpu(), 2);
  CHECK(trained.path == root / "run" / "best.ckpt");
  CHECK(trained.vocabulary() == vocabulary);
  REQUIRE(trained.model);
  CHECK(trained.model->max_batch() == 2);
  REQUIRE(trained.data.folder);
  CHECK(*trained.data.folder == fs::absolute(root / "run" / "demo-corpus"));
  CHECK(trained.data.min_count == settings.min_count);
  CHECK(trained.data.window == settings.window);

  PrimerRequest request;
  request.count = 3;
  const Primers heldout = make_primers(request, trained);
  REQUIRE(heldout.indices.size() == 3);
  CHECK(heldout.indices[0].size() == std::size_t(settings.window));
  CHECK(heldout.source.find("held-out window") != std::string::npos);
  CHECK(heldout.notes.empty());

  request.primer = "tokens:" + vocabulary[0] + " " + vocabulary[1];
  const Primers listed = make_primers(request, trained);
  CHECK(listed.indices[0] == std::vector<std::int32_t>{0, 1});
  request.primer = "tokens:C-1";
  CHECK_THROWS_AS(make_primers(request, trained), ConfigError);

  // Without the data folder, a random window, said in the notes.
  fs::remove_all(root / "run" / "demo-corpus");
  request.primer = "heldout";
  const Primers random = make_primers(request, trained);
  REQUIRE(random.notes.size() == 1);
  CHECK(random.notes[0].find("random window") != std::string::npos);
  CHECK_THROWS_AS(load_model(root / "absent"), FileError);
  fs::remove_all(root);
}
