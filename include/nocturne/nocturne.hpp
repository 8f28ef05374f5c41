#pragma once
// Everything a program needs to read music, train a Nocturne model and use it.

#include "nocturne/backend.hpp"
#include "nocturne/buffer.hpp"
#include "nocturne/checkpoint.hpp"
#include "nocturne/corpus.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"
#include "nocturne/evaluate.hpp"
#include "nocturne/generate.hpp"
#include "nocturne/midi.hpp"
#include "nocturne/model.hpp"
#include "nocturne/optimizer.hpp"
#include "nocturne/render.hpp"
#include "nocturne/rng.hpp"
#include "nocturne/tokenizer.hpp"
#include "nocturne/trainer.hpp"
#include "nocturne/version.hpp"
