#pragma once
// Everything a program needs to train and use a Nocturne model.

#include "nocturne/backend.hpp"
#include "nocturne/buffer.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/trainer.hpp"
#include "nocturne/version.hpp"
