#pragma once
// Phase timing on the CPU (BasicBackend::set_phase_timing): wall-clock time
// between the model's marks, as the CUDA backend reports it, and inside the
// LSTM and output ops a finer split by kind of work ("lstm1 forward / cells",
// "lstm1 forward / recurrent GEMMs", ...), so a benchmark can say where a
// step's time goes. Off, a span costs one branch.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"

namespace nocturne::inline v0::cpu {

// The kinds of work the CPU ops time inside a phase.
inline constexpr const char* kPartInputProjection = "input projection";
inline constexpr const char* kPartRecurrentGemm = "recurrent GEMMs";
inline constexpr const char* kPartCells = "cells";
// The AVX-512 FP32 kernels' recurrence: recurrent GEMMs and cells in one pass.
inline constexpr const char* kPartRecurrentFused = "recurrent GEMMs + cells";
inline constexpr const char* kPartWeightGradients = "weight-gradient GEMMs";
inline constexpr const char* kPartHead = "head";
inline constexpr const char* kPartDropout = "dropout";
inline constexpr const char* kPartAdamax = "adamax";

class PhaseClock {
 public:
  using Clock = std::chrono::steady_clock;

  // Adds the time from construction to destruction to `part` of the open phase.
  class Span {
   public:
    Span(PhaseClock* clock, const char* part) : clock_(clock), part_(part) {
      if (clock_) begin_ = Clock::now();
    }
    ~Span() {
      if (clock_) clock_->add(part_, std::chrono::duration<double, std::milli>(Clock::now() - begin_).count());
    }
    Span(const Span&) = delete;
    Span& operator=(const Span&) = delete;

   private:
    PhaseClock* clock_;
    const char* part_;
    Clock::time_point begin_{};
  };

  Span span(const char* part) { return Span(on_ ? this : nullptr, part); }
  // `ms` measured elsewhere (a kernel's own split of its time), added to `part`.
  void record(const char* part, double ms) {
    if (on_) add(part, ms);
  }

  void set_on(bool on) {
    if (!on) close();
    on_ = on;
  }
  void mark(const char* phase) {
    if (!on_) return;
    close();
    if (!phase || !*phase) return;
    open_ = phase;
    open_begin_ = Clock::now();
  }
  // The totals since timing was switched on, in first-seen order; clears them.
  std::vector<PhaseTime> take() {
    close();
    std::vector<PhaseTime> out = std::move(times_);
    times_.clear();
    index_.clear();
    return out;
  }

 private:
  void close() {
    if (open_.empty()) return;
    add_total(open_, std::chrono::duration<double, std::milli>(Clock::now() - open_begin_).count());
    open_.clear();
  }
  void add(const char* part, double ms) { add_total(open_.empty() ? std::string(part) : open_ + " / " + part, ms); }
  void add_total(const std::string& name, double ms) {
    auto [it, added] = index_.emplace(name, times_.size());
    if (added) times_.push_back(PhaseTime{name, 0.0, 0});
    times_[it->second].ms += ms;
    times_[it->second].spans += 1;
  }

  bool on_ = false;
  std::string open_;
  Clock::time_point open_begin_{};
  std::vector<PhaseTime> times_;
  std::map<std::string, std::size_t> index_;
};

}  // namespace nocturne::cpu
