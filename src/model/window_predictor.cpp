#include "nocturne/window_predictor.hpp"

#include <algorithm>
#include <string>

#include "core/narrow_dim.hpp"
#include "math/sampling.hpp"
#include "nocturne/error.hpp"
#include "nocturne/generate.hpp"

namespace nocturne::inline v0 {

namespace {

// The sampling options, seed and first stream of a device request
// (SampleTokens, GenerateNotes): the same choices on either path.
template <typename Request>
void set_sampling(Request& q, const SamplingOptions& sampling, std::uint64_t seed, std::uint32_t first_stream) {
  q.greedy = sampling.greedy;
  q.temperature = sampling.temperature;
  q.top_k = narrow_dim(sampling.top_k, "top-k");
  q.top_p = sampling.top_p;
  q.seed = seed;
  q.first_stream = first_stream;
}

}  // namespace

// Device buffers: the input of one push, and each layer's state for every
// slot, twice (lstm_step's outputs must not overlap its inputs).
template <typename T>
struct BasicWindowPredictor<T>::State {
  Buffer<std::int32_t> tokens;  // [rows]
  Buffer<T> x;                  // [rows, F]
  Buffer<T> h1[2], c1[2];       // [rows, H1]; fused: [rows + streams, H1], slot 0 zero
  Buffer<T> h2[2], c2[2];       // [rows, H2]; fused: [rows + streams, H2]
  Buffer<T> gates;              // [rows, 4 max(H1, H2)]: scratch
  Buffer<T> y1, logits, probs;  // [streams, D], [streams, V] x2
  int current = 0;              // which of the two state buffers holds the state
  std::vector<std::int32_t> staged;
  // Sampling on the device (fused path): the note being chosen, the choices.
  Buffer<std::uint64_t> note;
  Buffer<std::int32_t> chosen, history;  // [streams], [notes, streams]
};

template <typename T>
BasicWindowPredictor<T>::BasicWindowPredictor(BasicModel<T>& model, std::int64_t streams) : model_(model) {
  const ModelDims& c = model.dims();
  if (streams <= 0) throw ConfigError("window predictor: streams must be positive, got " + std::to_string(streams));
  streams_ = narrow_dim(streams, "window predictor: streams");
  const long long rows = static_cast<long long>(c.window) * streams_;
  if (rows * 4 * std::max(c.hidden1, c.hidden2) > (1LL << 31))
    throw ConfigError("window predictor: " + std::to_string(streams) + " streams of " + std::to_string(c.window) +
                      "-token windows is too many at once");
  rows_ = int(rows);
  BasicBackend<T>& backend = model.backend();
  const std::size_t r = std::size_t(rows_), s = std::size_t(streams);
  const std::size_t state_rows = model.fused() ? r + s : r;  // the fused path's zero slot 0
  state_ = std::make_unique<State>();
  State& st = *state_;
  st.tokens = backend.template allocate<std::int32_t>(r);
  st.x = backend.template allocate<T>(r * std::size_t(c.input));
  for (int k = 0; k < 2; ++k) {
    st.h1[k] = backend.template allocate<T>(state_rows * std::size_t(c.hidden1));
    st.c1[k] = backend.template allocate<T>(state_rows * std::size_t(c.hidden1));
    st.h2[k] = backend.template allocate<T>(state_rows * std::size_t(c.hidden2));
    st.c2[k] = backend.template allocate<T>(state_rows * std::size_t(c.hidden2));
  }
  if (model.fused()) {
    st.note = backend.template allocate<std::uint64_t>(1);
    st.chosen = backend.template allocate<std::int32_t>(s);
  }
  st.gates = backend.template allocate<T>(r * 4 * std::size_t(std::max(c.hidden1, c.hidden2)));
  st.y1 = backend.template allocate<T>(s * std::size_t(c.dense));
  st.logits = backend.template allocate<T>(s * std::size_t(c.vocab));
  st.probs = backend.template allocate<T>(s * std::size_t(c.vocab));
  st.staged.resize(r);
}

template <typename T>
BasicWindowPredictor<T>::~BasicWindowPredictor() = default;

namespace {

void check_tokens(std::span<const std::int32_t> tokens, int vocab) {
  for (std::int32_t t : tokens)
    if (t < 0 || t >= vocab)
      throw ShapeError("window predictor: token index " + std::to_string(t) + " outside the vocabulary of " +
                       std::to_string(vocab));
}

}  // namespace

template <typename T>
void BasicWindowPredictor<T>::check_start(std::span<const std::int32_t> windows) const {
  const int w = model_.dims().window;
  const std::size_t expected = std::size_t(streams_) * std::size_t(w);
  if (windows.size() != expected)
    throw ShapeError("window predictor: start needs " + std::to_string(streams_) + " windows of " +
                     std::to_string(w) + " tokens (" + std::to_string(expected) + "), got " +
                     std::to_string(windows.size()));
  check_tokens(windows, model_.dims().vocab);
}

// Every slot from a zero state, then W pushes of the windows' tokens.
template <typename T>
void BasicWindowPredictor<T>::prime(std::span<const std::int32_t> windows) {
  const int w = model_.dims().window;
  // Slots are zeroed as their windows begin; clearing everything as well
  // keeps the slots that never report (windows from before the start) finite
  // and the run independent of what came before. On the fused path both
  // state buffers: slot 0 of each must stay zero.
  State& st = *state_;
  BasicBackend<T>& backend = model_.backend();
  for (int k = 0; k < 2; ++k) {
    if (!model_.fused() && k != st.current) continue;
    for (Buffer<T>* b : {&st.h1[k], &st.c1[k], &st.h2[k], &st.c2[k]}) backend.fill(b->data(), b->size(), T(0));
  }
  pushed_ = 0;
  std::vector<std::int32_t> column(static_cast<std::size_t>(streams_));
  for (int t = 0; t < w; ++t) {
    for (std::size_t s = 0; s < column.size(); ++s) column[s] = windows[s * std::size_t(w) + std::size_t(t)];
    advance(column);
  }
}

template <typename T>
std::vector<T> BasicWindowPredictor<T>::start(std::span<const std::int32_t> windows) {
  check_start(windows);
  prime(windows);
  return read_prediction();
}
template <typename T>
std::vector<T> BasicWindowPredictor<T>::push(std::span<const std::int32_t> tokens) {
  if (pushed_ < std::uint64_t(model_.dims().window)) throw ShapeError("window predictor: push before start");
  if (tokens.size() != std::size_t(streams_))
    throw ShapeError("window predictor: push needs one token per stream (" + std::to_string(streams_) + "), got " +
                     std::to_string(tokens.size()));
  check_tokens(tokens, model_.dims().vocab);
  advance(tokens);
  return read_prediction();
}

// Every slot takes one step on the stream's new token; the slot whose window
// begins here starts from zero.
template <typename T>
void BasicWindowPredictor<T>::advance(std::span<const std::int32_t> tokens) {
  const ModelDims& c = model_.dims();
  BasicBackend<T>& backend = model_.backend();
  State& st = *state_;
  const std::size_t s = std::size_t(streams_), rows = std::size_t(rows_);
  for (std::size_t row = 0; row < rows; ++row) st.staged[row] = tokens[row % s];
  backend.copy_to_device(st.tokens.data(), st.staged.data(), rows * sizeof(std::int32_t));
  if (model_.fused()) {
    std::vector<ProgramOp> ops;
    add_step_ops(ops, st.current);
    run_now(ops);
    st.current = 1 - st.current;
    ++pushed_;
    return;
  }
  if (model_.config().input == InputMode::embedding)
    backend.embedding_forward(st.tokens.data(), rows, c.embedding_dim, model_.parameter("embedding"), st.x.data());
  else
    backend.scalar_input(st.tokens.data(), rows, c.vocab, st.x.data());

  const int from = st.current, to = 1 - st.current;
  const std::size_t slot = std::size_t(pushed_ % std::uint64_t(c.window));
  const std::size_t h1 = std::size_t(c.hidden1), h2 = std::size_t(c.hidden2);
  backend.fill(st.h1[from].data() + slot * s * h1, s * h1, T(0));
  backend.fill(st.c1[from].data() + slot * s * h1, s * h1, T(0));
  backend.fill(st.h2[from].data() + slot * s * h2, s * h2, T(0));
  backend.fill(st.c2[from].data() + slot * s * h2, s * h2, T(0));

  backend.lstm_step(rows_, c.input, c.hidden1, st.x.data(), model_.parameter("lstm1.W"),
                    model_.parameter("lstm1.R"), model_.parameter("lstm1.b"), st.h1[from].data(), st.c1[from].data(),
                    st.h1[to].data(), st.c1[to].data(), st.gates.data());
  backend.lstm_step(rows_, c.hidden1, c.hidden2, st.h1[to].data(), model_.parameter("lstm2.W"),
                    model_.parameter("lstm2.R"), model_.parameter("lstm2.b"), st.h2[from].data(), st.c2[from].data(),
                    st.h2[to].data(), st.c2[to].data(), st.gates.data());
  st.current = to;
  ++pushed_;
}

// The slot whose window the last push completed: it began W pushes ago.
template <typename T>
std::vector<T> BasicWindowPredictor<T>::read_prediction() {
  const ModelDims& c = model_.dims();
  BasicBackend<T>& backend = model_.backend();
  State& st = *state_;
  const std::size_t s = std::size_t(streams_);
  std::vector<T> probs(s * std::size_t(c.vocab));
  if (model_.fused()) {
    std::vector<ProgramOp> ops;
    add_head_op(ops, st.current);
    run_now(ops);
    backend.copy_to_host(probs.data(), st.probs.data(), probs.size() * sizeof(T));
    return probs;
  }
  const std::size_t slot = std::size_t(pushed_ % std::uint64_t(c.window));
  const T* last = st.h2[st.current].data() + slot * s * std::size_t(c.hidden2);
  backend.dense_forward(streams_, c.hidden2, c.dense, last, model_.parameter("dense1.W"),
                        model_.parameter("dense1.b"), st.y1.data());
  backend.dense_forward(streams_, c.dense, c.vocab, st.y1.data(), model_.parameter("dense2.W"),
                        model_.parameter("dense2.b"), st.logits.data());
  backend.softmax(streams_, c.vocab, st.logits.data(), st.probs.data());
  backend.copy_to_host(probs.data(), st.probs.data(), probs.size() * sizeof(T));
  return probs;
}

// ---- the fused path ---------------------------------------------------------
// A note's work as program ops, all on branch 0 (each needs the one before);
// push() runs them at once, generate() records them.

template <typename T>
void BasicWindowPredictor<T>::run_now(const std::vector<ProgramOp>& ops) {
  for (const ProgramOp& op : ops) op.run();
}

// Every slot one step on: slots 0 .. W-1 of `from` (slot 0 zero) into slots
// 1 .. W of the other buffer, both layers.
template <typename T>
void BasicWindowPredictor<T>::add_step_ops(std::vector<ProgramOp>& ops, int from) {
  const ModelDims& c = model_.dims();
  BasicBackend<T>& backend = model_.backend();
  State& st = *state_;
  const int to = 1 - from;
  const std::size_t s = std::size_t(streams_), rows = std::size_t(rows_);
  const std::int32_t* tokens = st.tokens.data();
  T* x = st.x.data();
  if (model_.config().input == InputMode::embedding) {
    const T* table = model_.parameter("embedding");
    const int dim = c.embedding_dim;
    ops.push_back({"embedding", 0, {}, {}, {}, [&backend, tokens, rows, dim, table, x] {
                     backend.embedding_forward(tokens, rows, dim, table, x);
                   }});
  } else {
    const int vocab = c.vocab;
    ops.push_back({"scalar input", 0, {}, {}, {}, [&backend, tokens, rows, vocab, x] {
                     backend.scalar_input(tokens, rows, vocab, x);
                   }});
  }
  auto layer = [&](const char* name, int input, int hidden, const T* in, const char* w, const char* r, const char* b,
                   Buffer<T>* h, Buffer<T>* cell) {
    LstmStepForward<T> step;
    step.batch = rows_;
    step.input = input;
    step.hidden = hidden;
    step.x = in;
    step.w = model_.parameter(w);
    step.r = model_.parameter(r);
    step.b = model_.parameter(b);
    step.h_prev = h[from].data();
    step.c_prev = cell[from].data();
    step.h = h[to].data() + s * std::size_t(hidden);
    step.c = cell[to].data() + s * std::size_t(hidden);
    step.gates = st.gates.data();
    ops.push_back({name, 0, {}, {}, {}, [&backend, step] { backend.lstm_step_forward(step); }});
  };
  layer("lstm1 step", c.input, c.hidden1, x, "lstm1.W", "lstm1.R", "lstm1.b", st.h1, st.c1);
  layer("lstm2 step", c.hidden1, c.hidden2, st.h1[to].data() + s * std::size_t(c.hidden1), "lstm2.W", "lstm2.R",
        "lstm2.b", st.h2, st.c2);
}

// The probabilities of the windows that completed: slot W of buffer `at`.
template <typename T>
void BasicWindowPredictor<T>::add_head_op(std::vector<ProgramOp>& ops, int at) {
  const ModelDims& c = model_.dims();
  BasicBackend<T>& backend = model_.backend();
  State& st = *state_;
  const T* last = st.h2[at].data() + std::size_t(rows_) * std::size_t(c.hidden2);
  const T *w1 = model_.parameter("dense1.W"), *b1 = model_.parameter("dense1.b"), *w2 = model_.parameter("dense2.W"),
          *b2 = model_.parameter("dense2.b");
  T *y1 = st.y1.data(), *logits = st.logits.data(), *probs = st.probs.data();
  const int n = streams_, hidden2 = c.hidden2, dense = c.dense, vocab = c.vocab;
  ops.push_back({"head", 0, {}, {}, {}, [&backend, n, hidden2, dense, vocab, last, w1, b1, w2, b2, y1, logits, probs] {
                   backend.head_predict(n, hidden2, dense, vocab, last, w1, b1, w2, b2, y1, logits, probs);
                 }});
}

template <typename T>
bool BasicWindowPredictor<T>::samples_on_device() const {
  return model_.fused();
}

template <typename T>
std::vector<std::int32_t> BasicWindowPredictor<T>::generate(std::span<const std::int32_t> windows, std::int64_t notes,
                                                            const SamplingOptions& sampling, std::uint64_t seed,
                                                            std::uint32_t first_stream,
                                                            const std::function<void(std::int64_t)>& on_read,
                                                            std::int64_t read_every) {
  if (notes < 0) throw ConfigError("window predictor: notes must be >= 0, got " + std::to_string(notes));
  if (read_every <= 0)
    throw ConfigError("window predictor: read_every must be positive, got " + std::to_string(read_every));
  sampling.validate();
  const std::size_t s = std::size_t(streams_), vocab = std::size_t(model_.dims().vocab);
  std::vector<std::int32_t> out(std::size_t(notes) * s);
  if (!samples_on_device()) {
    std::vector<T> probs = start(windows);
    std::vector<float> row(vocab);
    std::vector<std::int32_t> chosen(s);
    for (std::int64_t k = 0; k < notes; ++k) {
      for (std::size_t b = 0; b < s; ++b) {
        std::copy(probs.begin() + std::ptrdiff_t(b * vocab), probs.begin() + std::ptrdiff_t((b + 1) * vocab),
                  row.begin());
        chosen[b] = choose_token(row, sampling, seed, first_stream + std::uint32_t(b), std::uint64_t(k));
        out[std::size_t(k) * s + b] = chosen[b];
      }
      if (k + 1 < notes) probs = push(chosen);
      if (on_read) on_read(k + 1);
    }
    return out;
  }

  check_start(windows);
  prime(windows);
  State& st = *state_;
  BasicBackend<T>& backend = model_.backend();
  {
    std::vector<ProgramOp> head;
    add_head_op(head, st.current);
    run_now(head);
  }
  if (notes == 0) return out;
  if (st.history.size() < out.size()) st.history = backend.template allocate<std::int32_t>(out.size());
  // The chosen tokens of notes [read, done) back to the host, checked.
  std::int64_t read = 0;
  auto read_back = [&](std::int64_t done) {
    const std::size_t first = std::size_t(read) * s, count = std::size_t(done - read) * s;
    backend.copy_to_host(out.data() + first, st.history.data() + first, count * sizeof(std::int32_t));
    for (std::size_t i = first; i < first + count; ++i)
      if (out[i] == math::kNoToken)
        throw ConfigError("generate: the prediction of stream " + std::to_string(i % s) + " at note " +
                          std::to_string(i / s) + " has no positive finite probability");
    read = done;
    if (on_read) on_read(read);
  };
  if (generate_in_launches(notes, sampling, seed, first_stream, read_every, read_back)) return out;

  const std::uint64_t zero = 0;
  backend.copy_to_device(st.note.data(), &zero, sizeof zero);

  SampleTokens<T> request;
  request.streams = streams_;
  request.vocab = int(vocab);
  request.probs = st.probs.data();
  set_sampling(request, sampling, seed, first_stream);
  request.note = st.note.data();
  request.chosen = st.chosen.data();
  request.tokens = st.tokens.data();  // the next note's input, every slot
  request.slots = model_.dims().window;
  request.history = st.history.data();
  request.history_notes = narrow_dim(notes, "notes");
  // Per direction: choose, push the choice through every slot, predict. The
  // last note only chooses.
  auto sample = [&](std::vector<ProgramOp>& ops) {
    ops.push_back({"sample", 0, {}, {}, {}, [&backend, request] { backend.sample_tokens(request); }});
  };
  std::unique_ptr<Replayable> note_programs[2], last_note;
  for (int from = 0; from < 2; ++from) {
    std::vector<ProgramOp> ops;
    sample(ops);
    add_step_ops(ops, from);
    add_head_op(ops, 1 - from);
    note_programs[from] = backend.record_program(std::move(ops));
  }
  std::vector<ProgramOp> last_ops;
  sample(last_ops);
  last_note = backend.record_program(std::move(last_ops));

  for (std::int64_t k = 0; k < notes; ++k) {
    if (k + 1 < notes) {
      note_programs[st.current]->replay();
      st.current = 1 - st.current;
      ++pushed_;
    } else {
      last_note->replay();
    }
    if ((k + 1) % read_every == 0 || k + 1 == notes) read_back(k + 1);
  }
  return out;
}

// The backend's generation kernel (generate_notes), read_every notes a
// launch, from the primed state and its prediction's logits; false where the
// backend has none for this model (nothing done).
template <typename T>
bool BasicWindowPredictor<T>::generate_in_launches(std::int64_t notes, const SamplingOptions& sampling,
                                                   std::uint64_t seed, std::uint32_t first_stream,
                                                   std::int64_t read_every,
                                                   const std::function<void(std::int64_t)>& read_back) {
  const ModelDims& c = model_.dims();
  if (model_.config().input != InputMode::scalar) return false;
  State& st = *state_;
  GenerateNotes<T> q;
  q.streams = streams_;
  q.window = c.window;
  q.hidden1 = c.hidden1;
  q.hidden2 = c.hidden2;
  q.dense = c.dense;
  q.vocab = c.vocab;
  q.w1 = model_.parameter("lstm1.W");
  q.r1 = model_.parameter("lstm1.R");
  q.b1 = model_.parameter("lstm1.b");
  q.w2 = model_.parameter("lstm2.W");
  q.r2 = model_.parameter("lstm2.R");
  q.b2 = model_.parameter("lstm2.b");
  q.dense1_w = model_.parameter("dense1.W");
  q.dense1_b = model_.parameter("dense1.b");
  q.dense2_w = model_.parameter("dense2.W");
  q.dense2_b = model_.parameter("dense2.b");
  for (int k = 0; k < 2; ++k) {
    q.h1[k] = st.h1[k].data();
    q.c1[k] = st.c1[k].data();
    q.h2[k] = st.h2[k].data();
    q.c2[k] = st.c2[k].data();
  }
  q.y1 = st.y1.data();
  q.logits = st.logits.data();
  q.probs = st.probs.data();
  set_sampling(q, sampling, seed, first_stream);
  q.history = st.history.data();
  q.history_notes = notes;
  for (std::int64_t first = 0; first < notes; first += read_every) {
    q.first_note = first;
    q.notes = narrow_dim(std::min(read_every, notes - first), "notes");
    q.push_last = first + q.notes < notes;
    q.current = st.current;
    if (!model_.backend().generate_notes(q)) {
      // The backend decides by the model's shapes and mode alone: it takes all launches or none.
      if (first > 0) throw DeviceError("generate: the backend refused a generation launch after the first");
      return false;
    }
    const std::int64_t pushed = q.notes - (q.push_last ? 0 : 1);
    st.current = int((std::int64_t(st.current) + pushed) % 2);
    pushed_ += std::uint64_t(pushed);
    read_back(first + q.notes);
  }
  return true;
}

template class BasicWindowPredictor<float>;
template class BasicWindowPredictor<double>;

}  // namespace nocturne
