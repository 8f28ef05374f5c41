#pragma once
// best.ckpt must be the run's own best epoch. A last.ckpt copied in from
// another run, a kill between writing last.ckpt and best.ckpt, or a deleted
// best.ckpt would otherwise leave a best.ckpt that is not the epoch the run
// reports. Checked when a run resumes.

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace nocturne::inline v0 {

struct BestCheckpointPlan {
  enum Action {
    keep,               // best.ckpt is the run's best epoch (or the run has none yet)
    rewrite_from_last,  // the run's best epoch is last.ckpt's: best.ckpt is rewritten from it exactly
    reset_to_last,      // the best epoch's parameters are gone: best.ckpt restarts from last.ckpt
  } action = keep;
  std::string reason;  // what is wrong with best.ckpt (for the message)
};

// `last_metadata` is last.ckpt's metadata (run_id, best, history), `last_epoch`
// its epochs done. Throws FileError, touching nothing, when best.ckpt belongs
// to another run (another run id, or a history that differs) or holds a later
// epoch than last.ckpt: whether to keep that file is the user's call.
BestCheckpointPlan plan_best_checkpoint(const std::filesystem::path& best, const nlohmann::json& last_metadata,
                                        int last_epoch);

}  // namespace nocturne
