#pragma once
// What `nocturne train` shows of a training run: the lines and JSONL events
// of its start, epochs and end, loss.png, and Ctrl-C.

#include "cli/progress.hpp"
#include "nocturne/device.hpp"
#include "nocturne/training_run.hpp"

namespace nocturne::inline v0::cli {

// Loads the run's data, starts it on the device and trains to its last epoch,
// reporting as it goes; a stop signal ends it with kInterruptedExitCode after
// saying where it stopped. Throws nocturne::Error.
void train_with_reports(TrainingRun& run, DeviceChoice& device, Reporter& reporter);

}  // namespace nocturne::cli
