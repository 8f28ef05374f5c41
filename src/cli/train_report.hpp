#pragma once
// What `nocturne train` shows of a training run: its options, the lines and
// JSONL events of its start, epochs and end, loss.png, and Ctrl-C.

#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/progress.hpp"
#include "nocturne/device.hpp"
#include "nocturne/training_run.hpp"

namespace nocturne::cli {

// The options of every setting (--window ... --seed), bound to `values`; each
// option is listed with its setting's name (a TrainingSettings field).
void add_setting_options(CLI::App& cmd, TrainingSettings& values,
                         std::vector<std::pair<std::string, CLI::Option*>>& options);
// --device, --precision (its option in *precision), --threads, --lstm-impl, --cudnn-algo.
void add_device_options(CLI::App& cmd, DeviceRequest& device, CLI::Option** precision);

// Loads the run's data, starts it on the device and trains to its last epoch,
// reporting as it goes; a stop signal ends it with kInterruptedExitCode after
// saying where it stopped. Throws nocturne::Error.
void train_with_reports(TrainingRun& run, DeviceChoice& device, Reporter& reporter);

}  // namespace nocturne::cli
