#include "run/best_checkpoint.hpp"

#include <algorithm>
#include <optional>

#include "nocturne/checkpoint.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0 {

namespace {

using nlohmann::json;

std::optional<int> best_epoch_of(const json& metadata) {
  const auto it = metadata.find("best");
  if (it == metadata.end() || !it->is_object() || !it->contains("epoch")) return std::nullopt;
  return it->at("epoch").get<int>();
}

std::string run_id_of(const json& metadata) {
  const auto it = metadata.find("run_id");
  return it != metadata.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The first epoch whose history rows differ, over the epochs both hold.
std::optional<int> first_differing_epoch(const json& a, const json& b) {
  const json empty = json::array();
  const json& ha = a.contains("history") && a["history"].is_array() ? a["history"] : empty;
  const json& hb = b.contains("history") && b["history"].is_array() ? b["history"] : empty;
  for (std::size_t k = 0; k < std::min(ha.size(), hb.size()); ++k)
    if (ha[k] != hb[k]) return int(k) + 1;
  return std::nullopt;
}

[[noreturn]] void refuse(const std::filesystem::path& best, const std::string& why) {
  throw FileError(best.string() + ": " + why + "; move it away, then resume (best.ckpt is then rebuilt from last.ckpt)");
}

BestCheckpointPlan rebuild(const std::optional<int>& best_epoch, int last_epoch, const std::string& reason) {
  if (!best_epoch) return {BestCheckpointPlan::keep, reason};
  return {*best_epoch == last_epoch ? BestCheckpointPlan::rewrite_from_last : BestCheckpointPlan::reset_to_last,
          reason};
}

}  // namespace

BestCheckpointPlan plan_best_checkpoint(const std::filesystem::path& best, const json& last_metadata,
                                        int last_epoch) {
  const std::optional<int> best_epoch = best_epoch_of(last_metadata);
  std::error_code ec;
  if (!std::filesystem::exists(best, ec)) return rebuild(best_epoch, last_epoch, "best.ckpt is missing");
  Checkpoint checkpoint;
  try {
    checkpoint = load_checkpoint(best);
  } catch (const Error& e) {
    return rebuild(best_epoch, last_epoch, std::string("best.ckpt is unreadable (") + e.what() + ")");
  }
  json metadata;
  try {
    metadata = json::parse(checkpoint.metadata);
  } catch (const json::exception&) {
    refuse(best, "not a checkpoint of a training run (its metadata is not a run's)");
  }
  if (!metadata.is_object()) refuse(best, "not a checkpoint of a training run (its metadata is not a run's)");
  const std::string ours = run_id_of(last_metadata), theirs = run_id_of(metadata);
  if (!ours.empty() && !theirs.empty() && ours != theirs)
    refuse(best, "belongs to another run (run id " + theirs + ", while last.ckpt's run is " + ours + ")");
  if (const auto epoch = first_differing_epoch(metadata, last_metadata))
    refuse(best, "belongs to another run (its history differs from last.ckpt's at epoch " + std::to_string(*epoch) +
                     ")");
  if (checkpoint.epochs_done > last_epoch)
    refuse(best, "holds epoch " + std::to_string(checkpoint.epochs_done) + ", later than last.ckpt's epoch " +
                     std::to_string(last_epoch));
  if (!best_epoch) refuse(best, "the run has no best epoch yet, but best.ckpt exists");
  if (checkpoint.epochs_done == *best_epoch) return {};
  return rebuild(best_epoch, last_epoch,
                 "best.ckpt holds epoch " + std::to_string(checkpoint.epochs_done) + ", not the run's best epoch " +
                     std::to_string(*best_epoch));
}

}  // namespace nocturne
