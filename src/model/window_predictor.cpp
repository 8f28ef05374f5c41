#include "nocturne/window_predictor.hpp"

#include <algorithm>
#include <string>

#include "nocturne/error.hpp"

namespace nocturne {

// Device buffers: the input of one push, and each layer's state for every
// slot, twice (lstm_step's outputs must not overlap its inputs).
template <typename T>
struct BasicWindowPredictor<T>::State {
  Buffer<std::int32_t> tokens;  // [rows]
  Buffer<T> x;                  // [rows, F]
  Buffer<T> h1[2], c1[2];       // [rows, H1]
  Buffer<T> h2[2], c2[2];       // [rows, H2]
  Buffer<T> gates;              // [rows, 4 max(H1, H2)]: scratch
  Buffer<T> y1, logits, probs;  // [streams, D], [streams, V] x2
  int current = 0;              // which of the two state buffers holds the state
  std::vector<std::int32_t> staged;
};

template <typename T>
BasicWindowPredictor<T>::BasicWindowPredictor(BasicModel<T>& model, int streams)
    : model_(model), streams_(streams) {
  const ModelConfig& c = model.config();
  if (streams <= 0) throw ConfigError("window predictor: streams must be positive, got " + std::to_string(streams));
  const long long rows = static_cast<long long>(c.window) * streams;
  if (rows * 4 * std::max(c.hidden1, c.hidden2) > (1LL << 31))
    throw ConfigError("window predictor: " + std::to_string(streams) + " streams of " + std::to_string(c.window) +
                      "-token windows is too many at once");
  rows_ = int(rows);
  BasicBackend<T>& backend = model.backend();
  const std::size_t r = std::size_t(rows_), s = std::size_t(streams);
  state_ = std::make_unique<State>();
  State& st = *state_;
  st.tokens = backend.template allocate<std::int32_t>(r);
  st.x = backend.template allocate<T>(r * std::size_t(c.input_size()));
  for (int k = 0; k < 2; ++k) {
    st.h1[k] = backend.template allocate<T>(r * std::size_t(c.hidden1));
    st.c1[k] = backend.template allocate<T>(r * std::size_t(c.hidden1));
    st.h2[k] = backend.template allocate<T>(r * std::size_t(c.hidden2));
    st.c2[k] = backend.template allocate<T>(r * std::size_t(c.hidden2));
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
std::vector<T> BasicWindowPredictor<T>::start(std::span<const std::int32_t> windows) {
  const int w = model_.config().window;
  const std::size_t expected = std::size_t(streams_) * std::size_t(w);
  if (windows.size() != expected)
    throw ShapeError("window predictor: start needs " + std::to_string(streams_) + " windows of " +
                     std::to_string(w) + " tokens (" + std::to_string(expected) + "), got " +
                     std::to_string(windows.size()));
  check_tokens(windows, model_.config().vocab);
  // Slots are zeroed as their windows begin; clearing everything as well
  // keeps the slots that never report (windows from before the start) finite
  // and the run independent of what came before.
  State& st = *state_;
  BasicBackend<T>& backend = model_.backend();
  for (Buffer<T>* b : {&st.h1[st.current], &st.c1[st.current], &st.h2[st.current], &st.c2[st.current]})
    backend.fill(b->data(), b->size(), T(0));
  pushed_ = 0;
  std::vector<std::int32_t> column(static_cast<std::size_t>(streams_));
  for (int t = 0; t < w; ++t) {
    for (std::size_t s = 0; s < column.size(); ++s) column[s] = windows[s * std::size_t(w) + std::size_t(t)];
    advance(column);
  }
  return read_prediction();
}

template <typename T>
std::vector<T> BasicWindowPredictor<T>::push(std::span<const std::int32_t> tokens) {
  if (pushed_ < std::uint64_t(model_.config().window)) throw ShapeError("window predictor: push before start");
  if (tokens.size() != std::size_t(streams_))
    throw ShapeError("window predictor: push needs one token per stream (" + std::to_string(streams_) + "), got " +
                     std::to_string(tokens.size()));
  check_tokens(tokens, model_.config().vocab);
  advance(tokens);
  return read_prediction();
}

// Every slot takes one step on the stream's new token; the slot whose window
// begins here starts from zero.
template <typename T>
void BasicWindowPredictor<T>::advance(std::span<const std::int32_t> tokens) {
  const ModelConfig& c = model_.config();
  BasicBackend<T>& backend = model_.backend();
  State& st = *state_;
  const std::size_t s = std::size_t(streams_), rows = std::size_t(rows_);
  for (std::size_t row = 0; row < rows; ++row) st.staged[row] = tokens[row % s];
  backend.copy_to_device(st.tokens.data(), st.staged.data(), rows * sizeof(std::int32_t));
  if (c.input == InputMode::embedding)
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

  backend.lstm_step(rows_, c.input_size(), c.hidden1, st.x.data(), model_.parameter("lstm1.W"),
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
  const ModelConfig& c = model_.config();
  BasicBackend<T>& backend = model_.backend();
  State& st = *state_;
  const std::size_t s = std::size_t(streams_);
  const std::size_t slot = std::size_t(pushed_ % std::uint64_t(c.window));
  const T* last = st.h2[st.current].data() + slot * s * std::size_t(c.hidden2);
  backend.dense_forward(streams_, c.hidden2, c.dense, last, model_.parameter("dense1.W"),
                        model_.parameter("dense1.b"), st.y1.data());
  backend.dense_forward(streams_, c.dense, c.vocab, st.y1.data(), model_.parameter("dense2.W"),
                        model_.parameter("dense2.b"), st.logits.data());
  backend.softmax(streams_, c.vocab, st.logits.data(), st.probs.data());
  std::vector<T> probs(s * std::size_t(c.vocab));
  backend.copy_to_host(probs.data(), st.probs.data(), probs.size() * sizeof(T));
  return probs;
}

template class BasicWindowPredictor<float>;
template class BasicWindowPredictor<double>;

}  // namespace nocturne
