#pragma once
// The persistent generation kernel's work between its barriers
// (lstm_persistent_generate.cu), as __host__ __device__ functions: the kernel
// calls them with block barriers (__syncthreads) and grid barriers between,
// and test/kernels_host runs the very same functions block by block and
// thread by thread on the CPU (persistent_generation_simulator.hpp). The
// partition is persistent_generation_plan.hpp.
//
// A block's loop (plan: rows = W S; `from` the state buffer that holds the
// state, 1 - from the one the note writes):
//   load_weights; barrier
//   per note:
//     choose: for each choose step: choose_step; barrier   (every block)
//     [the launch's last note, when it is the generation's last: stop]
//     per phase (layer 1, layer 2, dense 1, dense 2):
//       for each K chunk (256, 128 or 64 values): stage; barrier; accumulate; barrier
//       finish; grid barrier
// Within a block barrier interval a thread writes only its own items or
// partial slots, and reads what the interval before wrote; within a grid
// barrier interval a block reads only what earlier intervals wrote.

#include <cstddef>
#include <cstdint>

#include "lstm_step_phases.hpp"
#include "math/lstm_fused.hpp"
#include "math/sampling.hpp"
#include "persistent_generation_plan.hpp"

namespace nocturne::inline v0::kernels {

// The launch's arguments: device pointers (gate-interleaved LSTM weights).
struct GenerateArgs {
  GenerationPlan plan;
  const float *w1, *r1, *b1;  // [1, 4 H1], [H1, 4 H1], [4 H1]
  const float *w2, *r2, *b2;  // [H1, 4 H2], [H2, 4 H2], [4 H2]
  const float *dw1, *db1;     // [H2, D], [D]
  const float *dw2, *db2;     // [D, V], [V]
  float* h1[2];  // [(W + 1) S, H1] each; slot 0 (rows 0 .. S - 1) zero
  float* c1[2];
  float* h2[2];  // [(W + 1) S, H2]
  float* c2[2];
  float* y1;      // [S, D]
  float* logits;  // [S, V]: on entry the logits of the state in h2[current]
  float* probs;   // [S, V] out: the probabilities of the launch's last chosen note
  int current = 0;  // which state buffer holds the state on entry
  math::SamplingRule rule;
  std::uint64_t seed = 0;
  std::uint32_t first_stream = 0;
  std::int64_t first_note = 0;  // the uniform's index of the first note chosen
  int notes = 0;                // notes chosen by this launch
  bool push_last = true;        // whether the last chosen note is pushed through the network too
  std::int32_t* history = nullptr;  // [history_notes, S]: note n of stream s at n S + s
  std::int64_t history_notes = 0;
};

enum class GenerationPhase { layer1, layer2, dense1, dense2 };
inline constexpr int kGenerationPhases = 4;

// The state buffer a note reads (`from`) for note n of the launch.
NOCTURNE_HD int generation_from(const GenerateArgs& a, int n) { return (a.current + n) & 1; }

template <typename Type>
NOCTURNE_HD Type* shared_at(unsigned char* shared, std::size_t offset) {
  return reinterpret_cast<Type*>(shared + offset);
}

// ---- resident weights ---------------------------------------------------------------------
// Block b's columns of every matrix, zeros where it owns fewer than the plan's share.
NOCTURNE_HD void generation_load_weights(const GenerateArgs& a, int block, int thread, unsigned char* shared) {
  const GenerationPlan& p = a.plan;
  const GenerationShape& s = p.shape;
  const GenerationShared& m = p.shared;
  const OwnedRange u1 = generation_owned(block, p.units1, s.hidden1);
  const OwnedRange u2 = generation_owned(block, p.units2, s.hidden2);
  const OwnedRange d1 = generation_owned(block, p.dense1, s.dense);
  const OwnedRange d2 = generation_owned(block, p.dense2, s.vocab);
  const std::size_t cols1 = std::size_t(kUnitGates) * std::size_t(s.hidden1);
  const std::size_t cols2 = std::size_t(kUnitGates) * std::size_t(s.hidden2);
  // [k][pitch] slice of interleaved columns 4 first .. 4 end of a [rows, cols] matrix.
  auto lstm_rows = [thread](float* out, int pitch, const float* in, std::size_t cols, int rows, OwnedRange u) {
    for (int i = thread; i < rows * pitch; i += kGenerationThreads) {
      const int k = i / pitch, j = i % pitch;
      const int col = kUnitGates * u.first + j;
      out[i] = j < kUnitGates * u.size() ? in[std::size_t(k) * cols + std::size_t(col)] : 0.0f;
    }
  };
  auto dense_rows = [thread](float* out, int width, const float* in, int cols, int rows, OwnedRange d) {
    for (int i = thread; i < rows * width; i += kGenerationThreads) {
      const int k = i / width, j = i % width;
      out[i] = j < d.size() ? in[std::size_t(k) * std::size_t(cols) + std::size_t(d.first + j)] : 0.0f;
    }
  };
  lstm_rows(shared_at<float>(shared, m.r1), m.pitch1, a.r1, cols1, s.hidden1, u1);
  lstm_rows(shared_at<float>(shared, m.w1), m.pitch1, a.w1, cols1, 1, u1);
  lstm_rows(shared_at<float>(shared, m.b1), m.pitch1, a.b1, cols1, 1, u1);
  lstm_rows(shared_at<float>(shared, m.rw2), m.pitch2, a.r2, cols2, s.hidden2, u2);
  lstm_rows(shared_at<float>(shared, m.rw2) + std::size_t(s.hidden2) * std::size_t(m.pitch2), m.pitch2, a.w2, cols2,
            s.hidden1, u2);
  lstm_rows(shared_at<float>(shared, m.b2), m.pitch2, a.b2, cols2, 1, u2);
  dense_rows(shared_at<float>(shared, m.d1), p.dense1, a.dw1, s.dense, s.hidden2, d1);
  dense_rows(shared_at<float>(shared, m.d1_bias), p.dense1, a.db1, s.dense, 1, d1);
  dense_rows(shared_at<float>(shared, m.d2), p.dense2, a.dw2, s.vocab, s.dense, d2);
  dense_rows(shared_at<float>(shared, m.d2_bias), p.dense2, a.db2, s.vocab, 1, d2);
}

// ---- the four matrix phases ---------------------------------------------------------------
// What a phase multiplies: `rows` input rows of depth K by the block's
// resident columns; an item is (row, unit) with 4 sums (LSTM) or (row,
// column) with one (dense).
struct PhaseShape {
  int rows = 0, depth = 0, sums = 1;
  OwnedRange owned;  // units or columns of the block
  int width = 0;     // the plan's share (units or columns per block)
  std::size_t weights = 0;  // shared-memory offset of the resident [depth][pitch]
  int pitch = 0;            // floats per resident row
  int items = 0;            // rows x width
};

NOCTURNE_HD PhaseShape generation_phase(const GenerationPlan& p, GenerationPhase phase, int block) {
  const GenerationShape& s = p.shape;
  PhaseShape q;
  switch (phase) {
    case GenerationPhase::layer1:
      q = {s.rows(), s.hidden1, kUnitGates, generation_owned(block, p.units1, s.hidden1), p.units1, p.shared.r1,
           p.shared.pitch1, 0};
      break;
    case GenerationPhase::layer2:
      q = {s.rows(), s.hidden2 + s.hidden1, kUnitGates, generation_owned(block, p.units2, s.hidden2), p.units2,
           p.shared.rw2, p.shared.pitch2, 0};
      break;
    case GenerationPhase::dense1:
      q = {s.streams, s.hidden2, 1, generation_owned(block, p.dense1, s.dense), p.dense1, p.shared.d1, p.dense1, 0};
      break;
    case GenerationPhase::dense2:
      q = {s.streams, s.dense, 1, generation_owned(block, p.dense2, s.vocab), p.dense2, p.shared.d2, p.dense2, 0};
      break;
  }
  q.items = q.rows * q.width;
  return q;
}

NOCTURNE_HD int generation_chunks(const GenerationPlan& p, const PhaseShape& q) {
  return ceil_div(q.depth, p.shared.chunk);
}

// Element (row, k) of a phase's input, from what other blocks wrote before
// the last grid barrier (past L1). Layer 1: h1_{t-1}; layer 2: h2_{t-1},
// then h1_t (the fused step's order: h_prev R, then x W); dense 1: h2_t of
// the completed windows (slot W); dense 2: y1.
NOCTURNE_HD float generation_input(const GenerateArgs& a, GenerationPhase phase, int from, int row, int k) {
  const GenerationShape& s = a.plan.shape;
  const std::size_t h1 = std::size_t(s.hidden1), h2 = std::size_t(s.hidden2);
  switch (phase) {
    case GenerationPhase::layer1:
      return load_past_l1(a.h1[from] + std::size_t(row) * h1 + std::size_t(k));
    case GenerationPhase::layer2:
      if (k < s.hidden2) return load_past_l1(a.h2[from] + std::size_t(row) * h2 + std::size_t(k));
      return load_past_l1(a.h1[1 - from] + std::size_t(row + s.streams) * h1 + std::size_t(k - s.hidden2));
    case GenerationPhase::dense1:
      return load_past_l1(a.h2[1 - from] + std::size_t(s.rows() + row) * h2 + std::size_t(k));
    case GenerationPhase::dense2:
      return load_past_l1(a.y1 + std::size_t(row) * std::size_t(s.dense) + std::size_t(k));
  }
  return 0.0f;
}

// Chunk c of the input, all rows, into [row][chunk + 1] (zeros past K). A
// thread loads kGenerationStageBatch values into registers before it stores
// them, so that many trips through L2 are in flight at once.
NOCTURNE_HD void generation_stage(const GenerateArgs& a, GenerationPhase phase, int from, const PhaseShape& q,
                                  int chunk, int thread, unsigned char* shared) {
  float* stage = shared_at<float>(shared, a.plan.shared.stage);
  const int width = a.plan.shared.chunk, pitch = a.plan.shared.stage_pitch;
  const int k0 = chunk * width, total = q.rows * width;
  constexpr int kStride = kGenerationStageBatch * kGenerationThreads;
  for (int base = thread; base < total; base += kStride) {
    float v[kGenerationStageBatch];
    NOCTURNE_UNROLL
    for (int b = 0; b < kGenerationStageBatch; ++b) {
      const int i = base + b * kGenerationThreads;
      const int row = i / width, j = i % width;
      v[b] = i < total && k0 + j < q.depth ? generation_input(a, phase, from, row, k0 + j) : 0.0f;
    }
    NOCTURNE_UNROLL
    for (int b = 0; b < kGenerationStageBatch; ++b) {
      const int i = base + b * kGenerationThreads;
      if (i < total) stage[(i / width) * pitch + i % width] = v[b];
    }
  }
}

// A thread's accumulators: item i of the thread is block item thread + i * threads.
struct GenerationRegisters {
  float acc[kGenerationMaxItems][kUnitGates];
};

NOCTURNE_HD void generation_begin(GenerationRegisters& r) {
  NOCTURNE_UNROLL
  for (int i = 0; i < kGenerationMaxItems; ++i) {
    NOCTURNE_UNROLL
    for (int g = 0; g < kUnitGates; ++g) r.acc[i][g] = 0.0f;
  }
}

// acc += the staged chunk x the resident rows, k in increasing order.
template <int kSums>
NOCTURNE_HD void generation_accumulate(const GenerationPlan& p, const PhaseShape& q, int chunk, int thread,
                                       unsigned char* shared, GenerationRegisters& r) {
  const float* stage = shared_at<float>(shared, p.shared.stage);
  const float* weights = shared_at<float>(shared, q.weights);
  const int pitch = p.shared.stage_pitch;
  const int width = p.shared.chunk, k0 = chunk * width;
  const int depth = q.depth - k0 < width ? q.depth - k0 : width;
  NOCTURNE_UNROLL
  for (int i = 0; i < kGenerationMaxItems; ++i) {
    const int item = thread + i * kGenerationThreads;
    if (item >= q.items) break;
    const int row = item / q.width, column = item % q.width;
    const float* in = stage + row * pitch;
    const float* w = weights + std::size_t(k0) * std::size_t(q.pitch) + std::size_t(kSums * column);
    for (int k = 0; k < depth; ++k) {
      NOCTURNE_UNROLL
      for (int g = 0; g < kSums; ++g)
        r.acc[i][g] = math::fma_of(in[k], w[std::size_t(k) * std::size_t(q.pitch) + std::size_t(g)], r.acc[i][g]);
    }
  }
}

// The items' outputs: the cells (LSTM; slot shifted one on into the other
// buffer) or the dense outputs (sum + bias, as head_predict).
NOCTURNE_HD void generation_finish(const GenerateArgs& a, GenerationPhase phase, int from, const PhaseShape& q,
                                   int thread, unsigned char* shared, const GenerationRegisters& r) {
  const GenerationPlan& p = a.plan;
  const GenerationShape& s = p.shape;
  const std::int32_t* tokens = shared_at<std::int32_t>(shared, p.shared.tokens);
  const int to = 1 - from;
  NOCTURNE_UNROLL
  for (int i = 0; i < kGenerationMaxItems; ++i) {
    const int item = thread + i * kGenerationThreads;
    if (item >= q.items) break;
    const int row = item / q.width, column = item % q.width;
    if (column >= q.owned.size()) continue;
    const int unit = q.owned.first + column;
    switch (phase) {
      case GenerationPhase::layer1:
      case GenerationPhase::layer2: {
        const bool first = phase == GenerationPhase::layer1;
        const std::size_t hidden = std::size_t(first ? s.hidden1 : s.hidden2);
        const float* bias = shared_at<float>(shared, first ? p.shared.b1 : p.shared.b2) + kUnitGates * column;
        float* h = first ? a.h1[to] : a.h2[to];
        float* c = first ? a.c1[to] : a.c2[to];
        const float* c_prev = first ? a.c1[from] : a.c2[from];
        const float c_in = load_past_l1(c_prev + std::size_t(row) * hidden + std::size_t(unit));
        math::CellForward<float> out;
        if (first) {
          const float* w = shared_at<float>(shared, p.shared.w1) + kUnitGates * column;
          const float x = float(tokens[row % s.streams]) / float(s.vocab);  // scalar_input's
          out = math::lstm_fused_forward(r.acc[i], bias, x, w, c_in);
        } else {
          out = math::lstm_fused_forward(r.acc[i], bias, 0.0f, static_cast<const float*>(nullptr), c_in);
        }
        const std::size_t at = std::size_t(row + s.streams) * hidden + std::size_t(unit);
        h[at] = out.h;
        c[at] = out.c;
        break;
      }
      case GenerationPhase::dense1:
        a.y1[std::size_t(row) * std::size_t(s.dense) + std::size_t(unit)] =
            r.acc[i][0] + shared_at<float>(shared, p.shared.d1_bias)[column];
        break;
      case GenerationPhase::dense2:
        a.logits[std::size_t(row) * std::size_t(s.vocab) + std::size_t(unit)] =
            r.acc[i][0] + shared_at<float>(shared, p.shared.d2_bias)[column];
        break;
    }
  }
}

// ---- choosing the tokens (every block, the same result) -----------------------------------
// Per stream, steps separated by block barriers: the logits' maximum, the
// sum of exp(l - max), the probabilities and their first maximum (each a
// reduction: every thread's strided part, then 16 groups of 16 parts, then
// the groups in order), then, when sampling, the weights, the ranking and
// the pick (src/math/sampling.hpp: choose_token_row's steps).
struct GenerationSlot {
  double value;
  std::int32_t index;  // first maximum: math::kNoToken for none
  std::int32_t pad;
};
static_assert(sizeof(GenerationSlot) == kGenerationSlotBytes, "the plan's reduction slots");

enum ChooseStep : int {
  kChooseMaxParts,
  kChooseMaxGroups,
  kChooseMaxTotal,
  kChooseSumParts,
  kChooseSumGroups,
  kChooseSumTotal,
  kChooseBestParts,
  kChooseBestGroups,
  kChooseBestTotal,
  kChooseWeights,
  kChooseRanking,
  kChoosePick,
  kChooseSteps
};

enum class Reduction { max, sum, first_maximum };

NOCTURNE_HD GenerationSlot generation_combine(Reduction how, GenerationSlot a, GenerationSlot b) {
  switch (how) {
    case Reduction::max:
      return b.value > a.value ? b : a;
    case Reduction::sum:
      return {a.value + b.value, 0, 0};
    case Reduction::first_maximum:
      if (b.index == math::kNoToken) return a;
      if (a.index == math::kNoToken) return b;
      return math::first_maximum_before(float(b.value), b.index, float(a.value), a.index) ? b : a;
  }
  return a;
}

// Reduction levels 2 and 3: group g (thread g) combines parts 16 g .. 16 g + 15 in order; then thread 0 the groups.
NOCTURNE_HD void generation_reduce_groups(Reduction how, int thread, unsigned char* shared, const GenerationShared& m) {
  constexpr int per_group = kGenerationPartials / kGenerationGroups;
  if (thread >= kGenerationGroups) return;
  const GenerationSlot* parts = shared_at<GenerationSlot>(shared, m.partial) + thread * per_group;
  GenerationSlot total = parts[0];
  for (int i = 1; i < per_group; ++i) total = generation_combine(how, total, parts[i]);
  shared_at<GenerationSlot>(shared, m.group)[thread] = total;
}
NOCTURNE_HD void generation_reduce_total(Reduction how, int thread, unsigned char* shared, const GenerationShared& m) {
  if (thread != 0) return;
  GenerationSlot* groups = shared_at<GenerationSlot>(shared, m.group);
  GenerationSlot total = groups[0];
  for (int g = 1; g < kGenerationGroups; ++g) total = generation_combine(how, total, groups[g]);
  groups[0] = total;  // only thread 0 reads or writes the groups in this interval
}

// The logits of every stream into shared memory (before the first choose step; then a barrier).
NOCTURNE_HD void generation_stage_logits(const GenerateArgs& a, int thread, unsigned char* shared) {
  const GenerationShape& s = a.plan.shape;
  float* probs = shared_at<float>(shared, a.plan.shared.probs);
  for (int i = thread; i < s.streams * s.vocab; i += kGenerationThreads) probs[i] = load_past_l1(a.logits + i);
}

// One step of choosing stream `stream`'s token of note `note`. The row of
// probs holds the logits until kChooseBestParts, the probabilities after.
// Block 0 writes the token to the history and the probabilities to a.probs.
NOCTURNE_HD void generation_choose_step(const GenerateArgs& a, int block, int stream, std::uint64_t note, int step,
                                        int thread, unsigned char* shared) {
  const GenerationShape& s = a.plan.shape;
  const GenerationShared& m = a.plan.shared;
  const int vocab = s.vocab;
  float* row = shared_at<float>(shared, m.probs) + std::size_t(stream) * std::size_t(vocab);
  GenerationSlot* parts = shared_at<GenerationSlot>(shared, m.partial);
  const GenerationSlot* result = shared_at<GenerationSlot>(shared, m.group);  // group 0 after a total
  double* weight = shared_at<double>(shared, m.weight);
  std::int32_t* order = shared_at<std::int32_t>(shared, m.order);
  std::int32_t* tokens = shared_at<std::int32_t>(shared, m.tokens);
  switch (step) {
    case kChooseMaxParts: {
      GenerationSlot mine{-double(math::kLargestFloat) * 2.0, 0, 0};  // below every float, -inf included
      for (int j = thread; j < vocab; j += kGenerationThreads)
        if (double(row[j]) > mine.value) mine.value = double(row[j]);
      parts[thread] = mine;
      return;
    }
    case kChooseMaxGroups:
      return generation_reduce_groups(Reduction::max, thread, shared, m);
    case kChooseMaxTotal:
      return generation_reduce_total(Reduction::max, thread, shared, m);
    case kChooseSumParts: {
      const float best = float(result->value);
      float sum = 0.0f;
      for (int j = thread; j < vocab; j += kGenerationThreads) sum += math::exp_of(row[j] - best);
      parts[thread] = GenerationSlot{double(sum), 0, 0};
      // The maximum is read again after the sum's reduction overwrites the groups: keep it in the weights' place.
      if (thread == 0) weight[0] = result->value;
      return;
    }
    case kChooseSumGroups:
      return generation_reduce_groups(Reduction::sum, thread, shared, m);
    case kChooseSumTotal:
      return generation_reduce_total(Reduction::sum, thread, shared, m);
    case kChooseBestParts: {
      const float best = float(weight[0]);
      const float inv = 1.0f / float(result->value);
      GenerationSlot mine{0.0, math::kNoToken, 0};
      for (int j = thread; j < vocab; j += kGenerationThreads) {
        const float p = math::exp_of(row[j] - best) * inv;
        row[j] = p;
        if (block == 0) a.probs[std::size_t(stream) * std::size_t(vocab) + std::size_t(j)] = p;
        if (math::sampling_candidate(p))
          mine = generation_combine(Reduction::first_maximum, mine, GenerationSlot{double(p), std::int32_t(j), 0});
      }
      parts[thread] = mine;
      return;
    }
    case kChooseBestGroups:
      return generation_reduce_groups(Reduction::first_maximum, thread, shared, m);
    case kChooseBestTotal:
      generation_reduce_total(Reduction::first_maximum, thread, shared, m);
      if (thread == 0) tokens[stream] = shared_at<GenerationSlot>(shared, m.group)[0].index;
      return;
    case kChooseWeights: {
      const std::int32_t best = tokens[stream];
      if (best == math::kNoToken || a.rule.greedy) return;
      const double log_max = math::log_of(double(row[best]));
      for (int j = thread; j < vocab; j += kGenerationThreads)
        weight[j] = math::sampling_weight(row[j], log_max, a.rule.temperature);
      return;
    }
    case kChooseRanking: {
      const std::int32_t best = tokens[stream];
      if (best == math::kNoToken || a.rule.greedy) return;
      for (int j = thread; j < vocab; j += kGenerationThreads)
        if (weight[j] > 0.0) order[math::ranking_position(weight, vocab, std::int32_t(j))] = std::int32_t(j);
      return;
    }
    case kChoosePick: {
      if (thread != 0) return;
      std::int32_t token = tokens[stream];
      if (token != math::kNoToken && !a.rule.greedy) {
        int ranked = 0;
        for (int j = 0; j < vocab; ++j) ranked += weight[j] > 0.0 ? 1 : 0;
        const int kept = math::top_k_count(ranked, a.rule.top_k);
        double total = math::ranked_mass(weight, order, kept);
        const int cut = math::top_p_cut(weight, order, kept, a.rule.top_p, total);
        token = math::pick_ranked(weight, order, cut, total,
                                  math::random_uniform(a.seed, a.first_stream + std::uint32_t(stream), note));
      }
      if (block == 0 && a.history && note < std::uint64_t(a.history_notes))
        a.history[note * std::uint64_t(s.streams) + std::uint64_t(stream)] = token;
      tokens[stream] = token >= 0 ? token : 0;  // the next input stays in range (as sample_tokens)
      return;
    }
    default:
      return;
  }
}

}  // namespace nocturne::kernels
