#pragma once
// Every failure the library reports is one of these. The library never prints
// and never exits: callers (the CLI) turn an Error into one line and an exit code.

#include <stdexcept>
#include <string>

#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

class NOCTURNE_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A setting that cannot work: the message names the field and its value.
class NOCTURNE_API ConfigError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read or written, or whose contents are malformed:
// the message names the file and, where it helps, the byte offset.
class NOCTURNE_API FileError : public Error {
 public:
  using Error::Error;
};

// Shapes or sizes that do not fit together at an API boundary.
class NOCTURNE_API ShapeError : public Error {
 public:
  using Error::Error;
};

// Training went wrong (a loss that became NaN or Inf, say).
class NOCTURNE_API TrainingError : public Error {
 public:
  using Error::Error;
};

// A backend or device failure (CUDA, cuBLAS, cuDNN, or a backend that is not built in).
class NOCTURNE_API DeviceError : public Error {
 public:
  using Error::Error;
};

// The device library refuses this combination of sizes and settings (cuDNN's
// CUDNN_STATUS_NOT_SUPPORTED, say): a limit of the library, not a fault.
class NOCTURNE_API NotSupportedError : public DeviceError {
 public:
  using DeviceError::DeviceError;
};

// A callback asked to stop (generation, evaluation): nothing is wrong.
class NOCTURNE_API Cancelled : public Error {
 public:
  using Error::Error;
};

}  // namespace nocturne
