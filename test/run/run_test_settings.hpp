#pragma once
// What the training-run tests share: settings small enough that an epoch of
// the demo corpus takes a fraction of a second, on the CPU.

#include "nocturne/device.hpp"
#include "nocturne/training_run.hpp"

namespace nocturne::inline v0::test {

inline TrainingSettings tiny_run_settings() {
  TrainingSettings s = training_preset("demo");
  s.window = 8;
  s.hidden1 = 16;
  s.hidden2 = 8;
  s.dense = 8;
  s.embedding_dim = 4;
  s.epochs = 2;
  s.batch = 64;
  return s;
}

inline DeviceRequest cpu_request() {
  DeviceRequest d;
  d.device = "cpu";
  return d;
}

}  // namespace nocturne::test
