// The cuDNN path behind the backend interface's lstm_forward/lstm_backward
// argument lists: a small cache of CudnnLstm objects, so a layer's forward and
// its backward meet the same reserve space. See cudnn_lstm.hpp.

#include <deque>
#include <mutex>
#include <string>
#include <utility>

#include "cudnn/cudnn_lstm.hpp"

namespace nocturne::inline v0::cudnn {
namespace {

struct Key {
  void* stream = nullptr;
  LstmShape shape;
  Config config;
  const float* x = nullptr;
  const float* h = nullptr;
  bool operator==(const Key& o) const {
    return stream == o.stream && shape.steps == o.shape.steps && shape.batch == o.shape.batch &&
           shape.input == o.shape.input && shape.hidden == o.shape.hidden && config.algo == o.config.algo &&
           config.math == o.config.math && x == o.x && h == o.h;
  }
};

struct Entry {
  Key key;
  CudnnLstm lstm;
  bool forward_done = false;
};

constexpr std::size_t kMaxEntries = 16;

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::deque<Entry>& cache() {
  static std::deque<Entry> entries;
  return entries;
}

Entry* find(const Key& key) {
  for (Entry& e : cache())
    if (e.key == key) return &e;
  return nullptr;
}

std::string describe(const LstmShape& s) {
  return "T " + std::to_string(s.steps) + ", N " + std::to_string(s.batch) + ", F " + std::to_string(s.input) +
         ", H " + std::to_string(s.hidden);
}

}  // namespace

void cudnn_lstm_forward(const LstmShape& shape, const float* x, const float* w, const float* r, const float* b,
                        float* h, float* /*c*/, float* /*gates*/, void* stream, const Config& config) {
  std::lock_guard<std::mutex> lock(cache_mutex());
  const Key key{stream, shape, config, x, h};
  Entry* entry = find(key);
  if (!entry) {
    if (cache().size() >= kMaxEntries) cache().pop_front();
    cache().push_back(Entry{key, CudnnLstm(shape, config.algo, config.math, stream), false});
    entry = &cache().back();
  }
  entry->lstm.set_weights(w, r, b);
  entry->lstm.forward(x, h);
  entry->forward_done = true;
}

void cudnn_lstm_backward(const LstmShape& shape, const float* x, const float* /*w*/, const float* /*r*/,
                         const float* h, const float* /*c*/, const float* /*gates*/, const float* dh, float* dx,
                         float* dw, float* dr, float* db, float* /*workspace*/, void* stream, const Config& config) {
  std::lock_guard<std::mutex> lock(cache_mutex());
  Entry* entry = find(Key{stream, shape, config, x, h});
  if (!entry || !entry->forward_done)
    throw DeviceError("cudnn_lstm_backward: no cuDNN forward with these x and h buffers (" + describe(shape) +
                      ", " + to_string(config.algo) + ", " + to_string(config.math) +
                      "): the reserve space backward needs comes from that forward");
  // The weights in cuDNN's space are those of the forward (the same as w and
  // r unless they changed in between, which would make the gradients wrong
  // on every backend).
  entry->lstm.backward(x, h, dh, dx);
  entry->lstm.weight_gradients(dw, dr, db);
  // Backward rewrites the reserve space: a second backward needs a new forward.
  entry->forward_done = false;
}

void cudnn_lstm_release(void* stream) {
  std::lock_guard<std::mutex> lock(cache_mutex());
  std::deque<Entry>& entries = cache();
  for (auto it = entries.begin(); it != entries.end();) it = it->key.stream == stream ? entries.erase(it) : it + 1;
}

void cudnn_lstm_release_cache() {
  std::lock_guard<std::mutex> lock(cache_mutex());
  cache().clear();
}

}  // namespace nocturne::cudnn
