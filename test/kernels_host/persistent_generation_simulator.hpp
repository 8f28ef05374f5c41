#pragma once
// A host simulator of the persistent generation kernel
// (kernels/lstm_persistent_generate.cu): the kernel's own phase functions
// (kernels/lstm_persistent_generate_phases.hpp) run block by block and
// thread by thread, each block with its own shared memory (filled with NaN
// bytes before the weights load), block barriers as the boundaries of the
// threads' loops and grid barriers as the boundaries of the blocks' loops.
// The blocks and the threads of an interval run forwards or backwards: a
// block that read what another writes in the same grid interval, or a thread
// what another writes in the same block interval, gives other results in the
// other order.

#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <vector>

#include "kernels/lstm_persistent_generate_phases.hpp"

namespace nocturne::inline v0::kernels::simulation {

struct GenerationOrder {
  bool blocks_backwards = false;
  bool threads_backwards = false;
};

class GenerationSimulator {
 public:
  // The blocks' shared memory and resident weights for the plan (the kernel's prologue).
  GenerationSimulator(const GenerateArgs& a, GenerationOrder order) : order_(order) {
    if (!a.plan.fits()) throw std::logic_error("generation simulator: the plan does not fit");
    shared_.assign(std::size_t(a.plan.blocks), std::vector<unsigned char>(a.plan.shared.total, 0xff));
    for_blocks(a.plan, [&](int block) {
      for_threads([&](int thread) { generation_load_weights(a, block, thread, shared(block)); });
    });
  }

  // One launch: a.notes notes chosen (or, where `forced` is given, pushed
  // with forced[n S + s] as the tokens instead of choosing), the kernel's loop.
  void run(const GenerateArgs& a, const std::vector<std::int32_t>* forced = nullptr) {
    const GenerationPlan& p = a.plan;
    const int streams = p.shape.streams;
    for (int n = 0; n < a.notes; ++n) {
      const std::uint64_t note = std::uint64_t(a.first_note + n);
      for_blocks(p, [&](int block) {
        unsigned char* sh = shared(block);
        if (forced) {
          for (int s = 0; s < streams; ++s)
            shared_at<std::int32_t>(sh, p.shared.tokens)[s] = (*forced)[std::size_t(n * streams + s)];
          return;
        }
        for_threads([&](int thread) { generation_stage_logits(a, thread, sh); });
        for (int s = 0; s < streams; ++s)
          for (int step = 0; step < kChooseSteps; ++step)
            for_threads([&](int thread) { generation_choose_step(a, block, s, note, step, thread, sh); });
      });
      if (n + 1 == a.notes && !a.push_last) break;
      const int from = generation_from(a, n);
      for (int ph = 0; ph < kGenerationPhases; ++ph) {
        const GenerationPhase phase = GenerationPhase(ph);
        for_blocks(p, [&](int block) {
          unsigned char* sh = shared(block);
          const PhaseShape q = generation_phase(p, phase, block);
          std::vector<GenerationRegisters> regs(kGenerationThreads);
          for (auto& r : regs) generation_begin(r);
          for (int chunk = 0; chunk < generation_chunks(a.plan, q); ++chunk) {
            for_threads([&](int thread) { generation_stage(a, phase, from, q, chunk, thread, sh); });
            for_threads([&](int thread) {
              if (q.sums == kUnitGates)
                generation_accumulate<kUnitGates>(p, q, chunk, thread, sh, regs[std::size_t(thread)]);
              else
                generation_accumulate<1>(p, q, chunk, thread, sh, regs[std::size_t(thread)]);
            });
          }
          for_threads([&](int thread) { generation_finish(a, phase, from, q, thread, sh, regs[std::size_t(thread)]); });
        });
      }
    }
  }

 private:
  unsigned char* shared(int block) { return shared_[std::size_t(block)].data(); }
  void for_blocks(const GenerationPlan& p, const std::function<void(int)>& f) const {
    for (int i = 0; i < p.blocks; ++i) f(order_.blocks_backwards ? p.blocks - 1 - i : i);
  }
  void for_threads(const std::function<void(int)>& f) const {
    for (int i = 0; i < kGenerationThreads; ++i) f(order_.threads_backwards ? kGenerationThreads - 1 - i : i);
  }

  GenerationOrder order_;
  std::vector<std::vector<unsigned char>> shared_;
};

}  // namespace nocturne::kernels::simulation
