// Trains a small model in a new run folder and saves it: last.ckpt and
// best.ckpt every epoch, history.csv, config.json. Ctrl-C-safe by
// construction: a run killed at any moment resumes with TrainingRun::resume.
//   train_and_save <new-run-folder> [<midi-folder>]   (no folder: the built-in demo corpus)

#include <cstdio>

#include <nocturne/nocturne.hpp>

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: train_and_save <new-run-folder> [<midi-folder>]\n");
    return 2;
  }
  try {
    nocturne::TrainingSettings settings = nocturne::training_preset("demo");
    settings.window = 16;  // tiny, to finish in seconds
    settings.hidden1 = 32;
    settings.hidden2 = 16;
    settings.dense = 16;
    settings.epochs = 3;
    nocturne::TrainingData data;
    data.demo = argc == 2;
    if (argc == 3) data.folder = argv[2];

    nocturne::DeviceRequest request;  // device "auto": the GPU when usable, else the CPU
    nocturne::DeviceChoice device = nocturne::choose_device(request);  // outlives the run below
    nocturne::TrainingRun run = nocturne::TrainingRun::create(argv[1], settings, data);
    nocturne::RunMessages messages;
    messages.info = [](const std::string& m) { std::printf("%s\n", m.c_str()); };
    messages.warning = [](const std::string& m) { std::fprintf(stderr, "warning: %s\n", m.c_str()); };
    run.load_data(messages);
    run.start(*device.backend, device.description, messages);
    std::printf("training %llu parameters on %s\n", static_cast<unsigned long long>(run.parameter_count()),
                device.description.c_str());
    while (!run.finished()) {
      const nocturne::RunEpoch epoch = run.train_epoch([](const nocturne::Progress&) { return true; });
      std::printf("epoch %d: loss %.4f, val_loss %.4f%s\n", epoch.row.epoch, epoch.row.loss,
                  epoch.row.val_loss.value_or(0.0), epoch.best ? " (best)" : "");
    }
    std::printf("saved %s and %s\n", run.last_checkpoint().c_str(), run.best_checkpoint().c_str());
    return 0;
  } catch (const nocturne::Error& e) {
    std::fprintf(stderr, "train_and_save: %s\n", e.what());
    return 1;
  }
}
