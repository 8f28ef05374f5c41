#pragma once
// The schedule checker of step programs (ProgramOp lists, nocturne/backend.hpp).
// A program runs its two branches concurrently on a GPU (two streams of one
// graph); the only order between ops is a branch's list order and the
// `after` links. The checker proves, from the ranges each op declares, that
// no op can see a half-written or not-yet-written value and no two ops race:
//  (a) an op that reads a range an earlier op writes must be ordered after
//      that op (a chain of same-branch successions and `after` links);
//  (b) two ops ordered neither way must not touch overlapping ranges where
//      either of them writes.
// The model runs it on every program it records; CI runs its tests.

#include <span>
#include <string>

#include "nocturne/backend.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

// A program that breaks a rule: the message names both ops and the range.
class ScheduleError : public Error {
 public:
  using Error::Error;
};

// A named buffer, so that a message says "h1 bytes [1024, 2048)" instead of an address.
struct NamedRange {
  std::string name;
  MemoryRange range;
};

// Throws ScheduleError for a program that breaks rule (a) or (b), and for a
// malformed one: a branch other than 0 or 1, or an `after` index that is not
// an earlier op (a GPU waits only on work already issued).
void check_step_program(std::span<const ProgramOp> program, std::span<const NamedRange> names = {});

}  // namespace nocturne
