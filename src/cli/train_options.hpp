#pragma once
// The options of `nocturne train`: the settings (each counts only when
// given, over the preset's or the resumed run's), the device, the run folder.

#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "nocturne/device.hpp"
#include "nocturne/training_run.hpp"

namespace nocturne::inline v0::cli {

struct TrainArgs {
  std::string data, out, resume, preset;
  TrainingSettings values;
  DeviceRequest device;
  CLI::Option* precision_option = nullptr;  // resuming keeps the run's precision unless given
  bool jsonl = false, strict = false;
  std::vector<std::pair<std::string, CLI::Option*>> setting_options;  // an option counts only when given
};

// `s` with the settings whose options were given replaced by their values.
TrainingSettings apply_options(TrainingSettings s, const TrainArgs& a);
// Whether the option of `setting` (a TrainingSettings field name) was given.
bool given(const TrainArgs& a, const std::string& setting);
// The options of every setting (--window ... --seed), bound to `values`; each
// option is listed with its setting's name (a TrainingSettings field).
void add_setting_options(CLI::App& cmd, TrainingSettings& values,
                         std::vector<std::pair<std::string, CLI::Option*>>& options);
// --device, --precision (its option in *precision), --threads, --lstm-impl, --cudnn-algo.
void add_device_options(CLI::App& cmd, DeviceRequest& device, CLI::Option** precision);

// runs/run-<date>-<time>, with -2, -3... when that exists.
std::string default_run_folder();

}  // namespace nocturne::cli
