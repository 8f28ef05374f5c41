// The fused path's step programs (docs/architecture.md, "The fused path").
// A training step is one program of two branches: branch 0 holds the input
// features and layer 1, branch 1 layer 2 and the head, so that layer 2's
// step t runs beside layer 1's step t + 1 (and, backward, layer 1's step t
// beside layer 2's step t - 1). Every op names the ranges it reads and
// writes; check_step_program proves the branches cannot race before the
// program is recorded. Each layer has its own gate gradients, cell-gradient
// carry and partial sums, so no scratch is shared between the branches.
//
// The list below is layer by layer (all of layer 1's forward steps, then
// layer 2's, ...): on the CPU, list order then runs the layers one after the
// other and the wavefront order interleaves them, and the two must agree
// bit for bit.

#include <functional>
#include <string>
#include <vector>

#include "core/fused_op_checks.hpp"  // sequence_step
#include "model/model_activations.hpp"
#include "model/step_program.hpp"
#include "nocturne/error.hpp"
#include "nocturne/optimizer.hpp"

namespace nocturne::inline v0 {
namespace {

constexpr int kBranch1 = 0;  // the input features, layer 1, layer 1's gradients, Adamax
constexpr int kBranch2 = 1;  // layer 2, the head, layer 2's gradients

template <typename E>
MemoryRange bytes_of(const E* p, std::size_t count) {
  return MemoryRange{p, count * sizeof(E)};
}

// The bytes of the tensor `name` in a buffer laid out as the parameters (the
// parameters themselves, or their gradients).
template <typename T>
MemoryRange tensor_bytes(const ParameterLayout& layout, const Buffer<T>& values, const char* name) {
  const ParameterView& v = layout.view(name);
  return bytes_of(values.data() + v.offset, v.size());
}

// A [steps, rows, cols] tensor of the staged batch, step by step.
template <typename T>
struct Steps {
  T* base = nullptr;
  std::size_t per_step = 0;
  T* at(int t) const { return base + std::size_t(t) * per_step; }
  MemoryRange step(int t) const { return bytes_of(at(t), per_step); }
  MemoryRange steps(int first, int count) const { return bytes_of(at(first), std::size_t(count) * per_step); }
};

std::size_t add_op(std::vector<ProgramOp>& ops, std::string name, int branch, std::vector<MemoryRange> reads,
                   std::vector<MemoryRange> writes, std::function<void()> run, std::vector<std::size_t> after = {}) {
  ops.push_back(ProgramOp{std::move(name), branch, std::move(after), std::move(reads), std::move(writes),
                          std::move(run)});
  return ops.size() - 1;
}

std::string at_step(const char* what, int t) { return std::string(what) + " t=" + std::to_string(t); }

}  // namespace

template <typename T>
void BasicModel<T>::add_fused_forward(std::vector<ProgramOp>& ops, bool dropout, const DropoutKey& key) {
  Activations& a = *act_;
  const ModelConfig& c = config_;
  const int n = batch_, w = dims_.window, f = dims_.input, hidden1 = dims_.hidden1, hidden2 = dims_.hidden2;
  const std::size_t rows = std::size_t(n), tokens = std::size_t(w) * rows;
  const Steps<T> x1{a.x1.data(), rows * f}, h1{a.h1.data(), rows * hidden1}, c1{a.c1.data(), rows * hidden1},
      g1{a.g1.data(), rows * 4 * hidden1}, drop1{a.drop1.data(), rows * hidden1}, h2{a.h2.data(), rows * hidden2},
      c2{a.c2.data(), rows * hidden2}, g2{a.g2.data(), rows * 4 * hidden2};
  auto param = [&](const char* name) { return tensor_bytes(layout_, params_, name); };
  const MemoryRange offset = bytes_of(a.dropout_offset.data(), 1);

  BasicBackend<T>& backend = backend_;
  const std::int32_t* token_data = a.tokens.data();
  T* x1_data = a.x1.data();
  std::size_t input_op = 0;
  if (c.input == InputMode::embedding) {
    const T* table = parameter("embedding");
    const int dim = dims_.embedding_dim;
    input_op = add_op(ops, "embedding", kBranch1, {bytes_of(token_data, tokens), param("embedding")}, {x1.steps(0, w)},
           [&backend, token_data, tokens, dim, table, x1_data] {
             backend.embedding_forward(token_data, tokens, dim, table, x1_data);
           });
  } else {
    const int vocab = dims_.vocab;
    input_op = add_op(ops, "scalar input", kBranch1, {bytes_of(token_data, tokens)}, {x1.steps(0, w)},
           [&backend, token_data, tokens, vocab, x1_data] {
             backend.scalar_input(token_data, tokens, vocab, x1_data);
           });
  }

  const T p = T(c.dropout);
  const DropoutKey key1 = site_key(key, 0);
  // Each layer's forward sequence, as one op on the persistent path or step
  // by step (sequence_step) on the fused one.
  auto sequence_forward = [&](const std::string& layer, int input, int hidden, const T* x, const Steps<T>& h,
                              const Steps<T>& cells, const Steps<T>& gates) {
    LstmSequenceForward<T> s;
    s.steps = w;
    s.batch = n;
    s.input = input;
    s.hidden = hidden;
    s.x = x;
    s.w = parameter(layer + ".W");
    s.r = parameter(layer + ".R");
    s.b = parameter(layer + ".b");
    s.h = h.at(0);
    s.c = cells.at(0);
    s.gates = gates.at(0);
    return s;
  };
  LstmSequenceForward<T> s1 = sequence_forward("lstm1", f, hidden1, x1.at(0), h1, c1, g1);
  if (dropout) {
    s1.h_dropped = drop1.at(0);
    s1.dropout_p = p;
  }
  LstmSequenceForward<T> s2 = sequence_forward("lstm2", hidden1, hidden2, dropout ? drop1.at(0) : h1.at(0), h2, c2, g2);

  if (backend.lstm_schedule() == LstmSchedule::persistent_sequences) {
    // The persistent path: both layers' forward sequences as one op, layer 2
    // reading layer 1's (dropped) h (one cooperative launch of both layers as
    // a wavefront on the GPU where they fit; add_fused_backward has one op a
    // layer). On layer 2's branch, as the head that reads its h, after the input.
    std::vector<MemoryRange> reads{x1.steps(0, w), param("lstm1.W"), param("lstm1.R"), param("lstm1.b"),
                                   param("lstm2.W"), param("lstm2.R"), param("lstm2.b")};
    std::vector<MemoryRange> writes{h1.steps(0, w), c1.steps(0, w), g1.steps(0, w),
                                    h2.steps(0, w), c2.steps(0, w), g2.steps(0, w)};
    if (dropout) {
      reads.push_back(offset);
      writes.push_back(drop1.steps(0, w));
    }
    add_op(
        ops, "lstm1 + lstm2 forward", kBranch2, std::move(reads), std::move(writes),
        [&backend, s1, s2, key1, dropout] {
          LstmSequencesForward<T> q{s1, s2};
          q.layer1.dropout = dropout ? &key1 : nullptr;
          backend.lstm_sequences_forward(q);
        },
        {input_op});
    return;
  }
  std::vector<std::size_t> layer1(static_cast<std::size_t>(w));
  for (int t = 0; t < w; ++t) {
    const LstmStepForward<T> s = sequence_step(s1, t);
    std::vector<MemoryRange> reads{x1.step(t), param("lstm1.W"), param("lstm1.R"), param("lstm1.b")};
    std::vector<MemoryRange> writes{h1.step(t), c1.step(t), g1.step(t)};
    if (t > 0) reads.insert(reads.end(), {h1.step(t - 1), c1.step(t - 1)});
    if (dropout) {
      reads.push_back(offset);
      writes.push_back(drop1.step(t));
    }
    layer1[std::size_t(t)] = add_op(ops, at_step("lstm1 forward", t), kBranch1, std::move(reads), std::move(writes),
                                    [&backend, s, key1, dropout] {
                                      LstmStepForward<T> step = s;
                                      step.dropout = dropout ? &key1 : nullptr;
                                      backend.lstm_step_forward(step);
                                    });
  }
  for (int t = 0; t < w; ++t) {
    const LstmStepForward<T> s = sequence_step(s2, t);
    std::vector<MemoryRange> reads{dropout ? drop1.step(t) : h1.step(t), param("lstm2.W"), param("lstm2.R"),
                                   param("lstm2.b")};
    if (t > 0) reads.insert(reads.end(), {h2.step(t - 1), c2.step(t - 1)});
    add_op(ops, at_step("lstm2 forward", t), kBranch2, std::move(reads), {h2.step(t), c2.step(t), g2.step(t)},
           [&backend, s] { backend.lstm_step_forward(s); }, {layer1[std::size_t(t)]});
  }
}

template <typename T>
void BasicModel<T>::add_fused_backward(std::vector<ProgramOp>& ops, bool dropout, const DropoutKey& key) {
  Activations& a = *act_;
  const ModelConfig& c = config_;
  const int n = batch_, w = dims_.window, f = dims_.input, hidden1 = dims_.hidden1, hidden2 = dims_.hidden2;
  const int width1 = 4 * hidden1, width2 = 4 * hidden2;
  const std::size_t rows = std::size_t(n), tokens = std::size_t(w) * rows;
  const int blocks = backend_.lstm_partial_blocks(n);
  if (blocks > backend_.lstm_partial_blocks(max_batch_))
    throw ConfigError("fused step: the backend asks for more partial blocks at batch " + std::to_string(n) +
                      " than at the model's maximum batch " + std::to_string(max_batch_));
  const std::size_t b = std::size_t(blocks);
  const Steps<T> x1{a.x1.data(), rows * f}, h1{a.h1.data(), rows * hidden1}, c1{a.c1.data(), rows * hidden1},
      g1{a.g1.data(), rows * width1}, drop1{a.drop1.data(), rows * hidden1}, h2{a.h2.data(), rows * hidden2},
      c2{a.c2.data(), rows * hidden2}, g2{a.g2.data(), rows * width2}, dg1{a.dg1.data(), rows * width1},
      dg2{a.dg2.data(), rows * width2}, d_drop1{a.d_drop1.data(), rows * hidden1},
      db1p{a.db1_partial.data(), b * width1}, dw1p{a.dw1_partial.data(), b * width1},
      db2p{a.db2_partial.data(), b * width2};
  const MemoryRange dc1 = bytes_of(a.dc1.data(), rows * hidden1), dc2 = bytes_of(a.dc2.data(), rows * hidden2);
  const MemoryRange d_h2_last = bytes_of(a.d_h2_last.data(), rows * hidden2);
  const MemoryRange offset = bytes_of(a.dropout_offset.data(), 1);
  auto param = [&](const char* name) { return tensor_bytes(layout_, params_, name); };
  auto gradient = [&](const char* name) { return tensor_bytes(layout_, grads_, name); };
  BasicBackend<T>& backend = backend_;
  const T p = T(c.dropout);

  // A layer's backward sequence op (the persistent path), less its dh and its input's terms.
  auto sequence_backward = [&](int hidden, const char* r, const Steps<T>& gates, const Steps<T>& cells, T* dc,
                               const Steps<T>& dgates, const Steps<T>& db_partial) {
    LstmSequenceBackward<T> q;
    q.steps = w;
    q.batch = n;
    q.hidden = hidden;
    q.r = parameter(r);
    q.gates = gates.at(0);
    q.c = cells.at(0);
    q.dc = dc;
    q.dgates = dgates.at(0);
    q.db_partial = db_partial.at(0);
    return q;
  };

  // Layer 2, t = T-1 .. 0: the cell step, then dx = dgates W2^T (layer 1's dh).
  const bool persistent = backend.lstm_schedule() == LstmSchedule::persistent_sequences;
  std::vector<std::size_t> dx2(static_cast<std::size_t>(w));
  const T* w2 = parameter("lstm2.W");
  if (persistent) {
    // One op for the sequence, then one for its T dx GEMMs, step by step as
    // the fused path multiplies them (one GEMM of T N rows is one launch, but
    // a BLAS may sum a different M in another order).
    LstmSequenceBackward<T> q = sequence_backward(hidden2, "lstm2.R", g2, c2, a.dc2.data(), dg2, db2p);
    q.dh_last = a.d_h2_last.data();
    add_op(ops, "lstm2 backward", kBranch2, {param("lstm2.R"), g2.steps(0, w), c2.steps(0, w), d_h2_last},
           {dg2.steps(0, w), dc2, db2p.steps(0, w)}, [&backend, q] { backend.lstm_sequence_backward(q); });
    const T* dgates = dg2.at(0);
    T* dx = d_drop1.at(0);
    const std::size_t dg_step = rows * std::size_t(width2), dx_step = rows * std::size_t(hidden1);
    auto all_dx = [&backend, n, w, hidden1, width2, dgates, w2, dx, dg_step, dx_step] {
      for (int t = w - 1; t >= 0; --t)
        backend.gemm(Transpose::no, Transpose::yes, n, hidden1, width2, T(1), dgates + std::size_t(t) * dg_step,
                     width2, w2, width2, T(0), dx + std::size_t(t) * dx_step, hidden1);
    };
    const std::size_t op =
        add_op(ops, "lstm2 dx", kBranch2, {dg2.steps(0, w), param("lstm2.W")}, {d_drop1.steps(0, w)}, all_dx);
    dx2.assign(dx2.size(), op);
  } else {
    for (int t = w - 1; t >= 0; --t) {
      LstmStepBackward<T> s;
      s.batch = n;
      s.hidden = hidden2;
      s.r = parameter("lstm2.R");
      s.dgates_next = t < w - 1 ? dg2.at(t + 1) : nullptr;
      s.dh = t == w - 1 ? a.d_h2_last.data() : nullptr;  // only the last step feeds the head
      s.gates = g2.at(t);
      s.c = c2.at(t);
      s.c_prev = t > 0 ? c2.at(t - 1) : nullptr;
      s.dc = a.dc2.data();
      s.dgates = dg2.at(t);
      s.db_partial = db2p.at(t);
      std::vector<MemoryRange> reads{param("lstm2.R"), g2.step(t), c2.step(t)};
      if (t < w - 1) reads.insert(reads.end(), {dg2.step(t + 1), dc2});
      else reads.push_back(d_h2_last);
      if (t > 0) reads.push_back(c2.step(t - 1));
      add_op(ops, at_step("lstm2 backward", t), kBranch2, std::move(reads), {dg2.step(t), dc2, db2p.step(t)},
             [&backend, s] { backend.lstm_step_backward(s); });
      const T* dgates = dg2.at(t);
      T* dx = d_drop1.at(t);
      dx2[std::size_t(t)] =
          add_op(ops, at_step("lstm2 dx", t), kBranch2, {dg2.step(t), param("lstm2.W")}, {d_drop1.step(t)},
                 [&backend, n, hidden1, width2, dgates, w2, dx] {
                   backend.gemm(Transpose::no, Transpose::yes, n, hidden1, width2, T(1), dgates, width2, w2, width2,
                                T(0), dx, hidden1);
                 });
    }
  }

  // A layer's dR = h[0..T-2]^T dgates[1..T-1]: one GEMM over the steps.
  auto add_recurrent_gradient = [&](const char* name, int branch, const Steps<T>& h, const Steps<T>& dg, int hidden,
                                    const char* view) {
    const int width = 4 * hidden, k = (w - 1) * n;
    const T* h0 = h.at(0);
    const T* dg_from = dg.at(w > 1 ? 1 : 0);
    T* dr = grad(view);
    std::vector<MemoryRange> reads;
    if (w > 1) reads = {h.steps(0, w - 1), dg.steps(1, w - 1)};
    add_op(ops, name, branch, std::move(reads), {gradient(view)}, [&backend, hidden, width, k, h0, dg_from, dr] {
      if (k == 0) return backend.fill(dr, std::size_t(hidden) * std::size_t(width), T(0));
      backend.gemm(Transpose::yes, Transpose::no, hidden, width, k, T(1), h0, hidden, dg_from, width, T(0), dr, width);
    });
  };
  auto add_reduce = [&](const char* name, int branch, const Steps<T>& partials, int width, const char* view) {
    const T* from = partials.at(0);
    T* out = grad(view);
    const int steps = w;
    add_op(ops, name, branch, {partials.steps(0, w)}, {gradient(view)},
           [&backend, steps, blocks, width, from, out] {
             backend.lstm_partials_reduce(steps, blocks, width, from, out);
           });
  };

  // Layer 2's weight gradients.
  add_recurrent_gradient("lstm2 dR", kBranch2, h2, dg2, hidden2, "lstm2.R");
  {
    const Steps<T>& x2 = dropout ? drop1 : h1;
    const T* x = x2.at(0);
    const T* dg = dg2.at(0);
    T* dw = grad("lstm2.W");
    const int k = w * n;
    add_op(ops, "lstm2 dW", kBranch2, {x2.steps(0, w), dg2.steps(0, w)}, {gradient("lstm2.W")},
           [&backend, hidden1, width2, k, x, dg, dw] {
             backend.gemm(Transpose::yes, Transpose::no, hidden1, width2, k, T(1), x, hidden1, dg, width2, T(0), dw,
                          width2);
           });
  }
  add_reduce("lstm2 db", kBranch2, db2p, width2, "lstm2.b");

  // Layer 1, t = T-1 .. 0, each step after layer 2's dx of that step.
  const DropoutKey key1 = site_key(key, 0);
  if (persistent) {
    // One op for the sequence, after the one of layer 2's dx.
    LstmSequenceBackward<T> q = sequence_backward(hidden1, "lstm1.R", g1, c1, a.dc1.data(), dg1, db1p);
    q.dh = d_drop1.at(0);
    std::vector<MemoryRange> reads{d_drop1.steps(0, w), param("lstm1.R"), g1.steps(0, w), c1.steps(0, w)};
    std::vector<MemoryRange> writes{dg1.steps(0, w), dc1, db1p.steps(0, w)};
    if (f == 1) {
      q.x = x1.at(0);
      q.dw_partial = dw1p.at(0);
      reads.push_back(x1.steps(0, w));
      writes.push_back(dw1p.steps(0, w));
    }
    if (dropout) {
      q.dropout_p = p;
      reads.push_back(offset);
    }
    add_op(ops, "lstm1 backward", kBranch1, std::move(reads), std::move(writes),
           [&backend, q, key1, dropout] {
             LstmSequenceBackward<T> sequence = q;
             sequence.dropout = dropout ? &key1 : nullptr;
             backend.lstm_sequence_backward(sequence);
           },
           {dx2[0]});
  } else {
    for (int t = w - 1; t >= 0; --t) {
      LstmStepBackward<T> s;
      s.batch = n;
      s.hidden = hidden1;
      s.r = parameter("lstm1.R");
      s.dgates_next = t < w - 1 ? dg1.at(t + 1) : nullptr;
      s.dh = d_drop1.at(t);
      s.gates = g1.at(t);
      s.c = c1.at(t);
      s.c_prev = t > 0 ? c1.at(t - 1) : nullptr;
      s.dc = a.dc1.data();
      s.dgates = dg1.at(t);
      s.db_partial = db1p.at(t);
      std::vector<MemoryRange> reads{d_drop1.step(t), param("lstm1.R"), g1.step(t), c1.step(t)};
      std::vector<MemoryRange> writes{dg1.step(t), dc1, db1p.step(t)};
      if (t < w - 1) reads.insert(reads.end(), {dg1.step(t + 1), dc1});
      if (t > 0) reads.push_back(c1.step(t - 1));
      if (f == 1) {  // the rank-one dW partial sums need the step's input
        s.x = x1.at(t);
        s.dw_partial = dw1p.at(t);
        reads.push_back(x1.step(t));
        writes.push_back(dw1p.step(t));
      }
      if (dropout) {
        s.dropout_p = p;
        s.dropout_index = std::uint64_t(t) * rows * std::size_t(hidden1);
        reads.push_back(offset);
      }
      add_op(ops, at_step("lstm1 backward", t), kBranch1, std::move(reads), std::move(writes),
             [&backend, s, key1, dropout] {
               LstmStepBackward<T> step = s;
               step.dropout = dropout ? &key1 : nullptr;
               backend.lstm_step_backward(step);
             },
             {dx2[std::size_t(t)]});
    }
  }

  // Layer 1's weight gradients.
  add_recurrent_gradient("lstm1 dR", kBranch1, h1, dg1, hidden1, "lstm1.R");
  add_reduce("lstm1 db", kBranch1, db1p, width1, "lstm1.b");
  if (f == 1) {
    add_reduce("lstm1 dW", kBranch1, dw1p, width1, "lstm1.W");
    return;
  }
  const T* x = x1.at(0);
  const T* dg = dg1.at(0);
  const T* w1 = parameter("lstm1.W");
  T* dw = grad("lstm1.W");
  T* d_x1 = a.d_x1.data();
  const int k = w * n;
  add_op(ops, "lstm1 dW", kBranch1, {x1.steps(0, w), dg1.steps(0, w)}, {gradient("lstm1.W")},
         [&backend, f, width1, k, x, dg, dw] {
           backend.gemm(Transpose::yes, Transpose::no, f, width1, k, T(1), x, f, dg, width1, T(0), dw, width1);
         });
  add_op(ops, "lstm1 dx", kBranch1, {dg1.steps(0, w), param("lstm1.W")}, {bytes_of(d_x1, tokens * std::size_t(f))},
         [&backend, f, width1, k, dg, w1, d_x1] {
           backend.gemm(Transpose::no, Transpose::yes, k, f, width1, T(1), dg, width1, w1, width1, T(0), d_x1, f);
         });
  const std::int32_t* token_data = a.tokens.data();
  T* d_table = grad("embedding");
  const int vocab = dims_.vocab, dim = dims_.embedding_dim;
  add_op(ops, "embedding backward", kBranch1, {bytes_of(token_data, tokens), bytes_of(d_x1, tokens * std::size_t(f))},
         {gradient("embedding")}, [&backend, token_data, tokens, vocab, dim, d_x1, d_table] {
           backend.embedding_backward(token_data, tokens, vocab, dim, d_x1, d_table);
         });
}

template <typename T>
std::vector<ProgramOp> BasicModel<T>::fused_program(Program kind, const DropoutKey& key, BasicAdamax<T>* optimizer) {
  Activations& a = *act_;
  const ModelConfig& c = config_;
  const bool training = kind == Program::training;
  const bool dropout = training && c.dropout > 0;
  const int n = batch_, hidden2 = dims_.hidden2, dense = dims_.dense, vocab = dims_.vocab;
  const std::size_t rows = std::size_t(n), nd = rows * std::size_t(dense), nv = rows * std::size_t(vocab);
  std::vector<ProgramOp> ops;
  add_fused_forward(ops, dropout, key);

  auto param = [&](const char* name) { return tensor_bytes(layout_, params_, name); };
  auto gradient = [&](const char* name) { return tensor_bytes(layout_, grads_, name); };
  BasicBackend<T>& backend = backend_;
  const T* last = a.h2.data() + std::size_t(dims_.window - 1) * rows * std::size_t(hidden2);
  const MemoryRange last_range = bytes_of(last, rows * std::size_t(hidden2));
  const T *w1 = parameter("dense1.W"), *b1 = parameter("dense1.b"), *w2 = parameter("dense2.W"),
          *b2 = parameter("dense2.b");
  const std::vector<MemoryRange> head_params{param("dense1.W"), param("dense1.b"), param("dense2.W"),
                                             param("dense2.b")};
  T *y1 = a.y1.data(), *logits = a.logits.data();
  const MemoryRange stats = bytes_of(a.stats.data(), 2), targets = bytes_of(a.targets.data(), rows);

  if (kind == Program::prediction) {
    T* probs = a.probs.data();
    std::vector<MemoryRange> reads = head_params;
    reads.push_back(last_range);
    add_op(ops, "head (predict)", kBranch2, std::move(reads),
           {bytes_of(y1, nd), bytes_of(logits, nv), bytes_of(probs, nv)},
           [&backend, n, hidden2, dense, vocab, last, w1, b1, w2, b2, y1, logits, probs] {
             backend.head_predict(n, hidden2, dense, vocab, last, w1, b1, w2, b2, y1, logits, probs);
           });
    return ops;
  }
  if (kind == Program::evaluation) {
    const std::int32_t* target_data = a.targets.data();
    double* stats_data = a.stats.data();
    std::vector<MemoryRange> reads = head_params;
    reads.insert(reads.end(), {last_range, targets, stats});
    add_op(ops, "head (evaluate)", kBranch2, std::move(reads), {bytes_of(y1, nd), bytes_of(logits, nv), stats},
           [&backend, n, hidden2, dense, vocab, last, w1, b1, w2, b2, y1, logits, target_data, stats_data] {
             backend.dense_forward(n, hidden2, dense, last, w1, b1, y1);
             backend.dense_forward(n, dense, vocab, y1, w2, b2, logits);
             backend.softmax_cross_entropy(n, vocab, logits, target_data, T(0), nullptr, stats_data);
           });
    return ops;
  }

  HeadTrainStep<T> head;
  head.batch = n;
  head.input = hidden2;
  head.dense = dense;
  head.vocab = vocab;
  head.x = last;
  head.w1 = w1;
  head.b1 = b1;
  head.w2 = w2;
  head.b2 = b2;
  head.targets = a.targets.data();
  head.dropout_p = dropout ? T(c.dropout) : T(0);
  head.grad_scale = T(1) / T(n);
  head.label_smoothing = T(c.label_smoothing);
  head.y1 = y1;
  head.y1_dropped = a.drop2.data();
  head.logits = logits;
  head.dlogits = a.d_logits.data();
  head.dy1 = a.d_y1.data();
  head.dx = a.d_h2_last.data();
  head.dw1 = grad("dense1.W");
  head.db1 = grad("dense1.b");
  head.dw2 = grad("dense2.W");
  head.db2 = grad("dense2.b");
  head.stats = a.stats.data();
  std::vector<MemoryRange> reads = head_params;
  reads.insert(reads.end(), {last_range, targets, stats});
  if (dropout) reads.push_back(bytes_of(a.dropout_offset.data(), 1));
  add_op(ops, "head", kBranch2, std::move(reads),
         {bytes_of(y1, nd), bytes_of(head.y1_dropped, nd), bytes_of(logits, nv), bytes_of(head.dlogits, nv),
          bytes_of(head.dy1, nd), bytes_of(head.dx, rows * std::size_t(hidden2)), gradient("dense1.W"),
          gradient("dense1.b"), gradient("dense2.W"), gradient("dense2.b"), stats},
         [&backend, head, key2 = site_key(key, 1), dropout] {
           HeadTrainStep<T> h = head;
           h.dropout = dropout ? &key2 : nullptr;
           backend.head_train_step(h);
         });
  add_fused_backward(ops, dropout, key);
  if (!optimizer) return ops;

  // Adamax over the whole flat buffer, after every op of both branches (all
  // of them read parameters or write gradients).
  std::size_t last_of_branch2 = 0;
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (ops[i].branch == kBranch2) last_of_branch2 = i;
  const std::size_t count = params_.size();
  T* params = params_.data();
  const T* grads = grads_.data();
  T* m = optimizer->m_.data();
  T* u = optimizer->u_.data();
  const std::int64_t* step = a.adamax_step.data();
  const AdamaxParams hp = optimizer->params();
  add_op(ops, "adamax", kBranch1,
         {bytes_of(params, count), bytes_of(grads, count), bytes_of(m, count), bytes_of(u, count), bytes_of(step, 1)},
         {bytes_of(params, count), bytes_of(m, count), bytes_of(u, count)},
         [&backend, ranges = optimizer->ranges(), params, grads, m, u, hp, step] {
           for (const auto& r : ranges) {
             AdamaxParams range_hp = hp;
             if (!r.decay) range_hp.weight_decay = 0;
             backend.adamax_device_step(r.count, params + r.offset, grads + r.offset, m + r.offset, u + r.offset,
                                        range_hp, step);
           }
         },
         {last_of_branch2});
  return ops;
}

template <typename T>
void BasicModel<T>::run_fused(Program kind, const DropoutKey& key, BasicAdamax<T>* optimizer) {
  const std::tuple<int, int, std::uint64_t> id{int(kind), batch_, optimizer ? optimizer->id_ : 0};
  // An optimiser whose learning rate changed has a new id: its old recordings go.
  if (optimizer && !recorded_programs_.contains(id))
    std::erase_if(recorded_programs_, [&](const auto& entry) {
      return std::get<0>(entry.first) == int(kind) && std::get<1>(entry.first) == batch_ &&
             std::get<2>(entry.first) != 0;
    });
  auto& recorded = recorded_programs_[id];
  if (!recorded) {
    std::vector<ProgramOp> program = fused_program(kind, key, optimizer);
    // Names for the checker's messages.
    Activations& a = *act_;
    std::vector<NamedRange> names;
    auto name = [&](const char* what, const auto& buffer) {
      if (!buffer.empty()) names.push_back({what, bytes_of(buffer.data(), buffer.size())});
    };
    name("parameters", params_);
    name("gradients", grads_);
    name("x1", a.x1);
    name("h1", a.h1);
    name("c1", a.c1);
    name("g1", a.g1);
    name("drop1", a.drop1);
    name("h2", a.h2);
    name("c2", a.c2);
    name("g2", a.g2);
    name("dg1", a.dg1);
    name("dg2", a.dg2);
    name("dc1", a.dc1);
    name("dc2", a.dc2);
    name("d_drop1", a.d_drop1);
    name("d_h2_last", a.d_h2_last);
    name("db1_partial", a.db1_partial);
    name("dw1_partial", a.dw1_partial);
    name("db2_partial", a.db2_partial);
    check_step_program(program, names);
    recorded = backend_.record_program(std::move(program));
  }
  recorded->replay();
}

#define NOCTURNE_MODEL_FUSED_INSTANTIATE(T)                                                                       \
  template void BasicModel<T>::add_fused_forward(std::vector<ProgramOp>&, bool, const DropoutKey&);              \
  template void BasicModel<T>::add_fused_backward(std::vector<ProgramOp>&, bool, const DropoutKey&);             \
  template std::vector<ProgramOp> BasicModel<T>::fused_program(Program, const DropoutKey&, BasicAdamax<T>*);     \
  template void BasicModel<T>::run_fused(Program, const DropoutKey&, BasicAdamax<T>*);
NOCTURNE_MODEL_FUSED_INSTANTIATE(float)
NOCTURNE_MODEL_FUSED_INSTANTIATE(double)
#undef NOCTURNE_MODEL_FUSED_INSTANTIATE

}  // namespace nocturne
