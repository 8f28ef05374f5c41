// CpuBackend: memory, recording, the small ops, and the factories. The LSTM,
// dense, input-feature and output ops live in cpu_lstm.cpp, cpu_dense.cpp and
// cpu_output.cpp.

#include "cpu/cpu_backend.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "cpu/cpu_kernels.hpp"
#include "math/adamax.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cpu {
namespace {

constexpr std::size_t kAlignment = 64;  // one cache line; a full AVX-512 vector

void release_aligned(void* p) { std::free(p); }

// On the CPU a recording is the work itself, called again on every replay.
class CpuReplayable final : public Replayable {
 public:
  explicit CpuReplayable(std::function<void()> work) : work_(std::move(work)) {}
  void replay() override { work_(); }

 private:
  std::function<void()> work_;
};

void check_copy(const char* op, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  require_pointer(op, "destination", dst);
  require_pointer(op, "source", src);
}

// The mask's first index: the key's offset plus, where set, the value its
// device pointer (a host pointer on the CPU) holds when the op runs.
std::uint64_t mask_offset(const DropoutKey& key) {
  return key.offset + (key.offset_on_device ? *key.offset_on_device : 0);
}

template <typename T>
void dropout(const DropoutKey& key, T p, std::size_t n, const T* in, T* out) {
  if (p == T(0)) {
    if (in != out) std::memcpy(out, in, n * sizeof(T));
    return;
  }
  dropout_apply(key.seed, key.stream, mask_offset(key), float(p), T(1) / (T(1) - p), n, in, out, cpu_threads());
}

}  // namespace

template <typename T>
std::string CpuBackend<T>::name() const {
  std::string text = sizeof(T) == sizeof(float) ? "cpu (float32, OpenBLAS" : "cpu (float64, OpenBLAS";
  if (bf16_kernels_)
    text += ", bf16 GEMMs on AVX-512 BF16";
  else if (options_.math != MathMode::strict_fp32)
    text += std::string(", emulated ") + to_string(options_.math);
  if (bf16_lstm_kernels_) text += ", AVX-512 BF16 LSTM kernels";
  if (fp32_kernels_)
    text += options_.fp32_thread_weight_gradients ? ", AVX-512 LSTM kernels (weight gradients in their threads)"
                                                  : ", AVX-512 LSTM kernels (weight gradients after, on OpenBLAS)";
  if (options_.persistent_lstm)
    text += ", persistent LSTM (sequence ops)";
  else if (options_.fused_lstm)
    text += ", fused LSTM";
  return text + ")";
}

template <typename T>
RawBuffer CpuBackend<T>::allocate_bytes(std::size_t bytes) {
  // At least one line, so that even an empty buffer has a distinct pointer.
  const std::size_t rounded = bytes == 0 ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded < bytes) throw DeviceError("cpu: cannot allocate " + std::to_string(bytes) + " bytes");
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (!p) throw DeviceError("cpu: cannot allocate " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, rounded);
  weights_written(p, rounded);  // memory freed and handed out again
  return RawBuffer(p, bytes, Device::cpu, &release_aligned);
}

template <typename T>
void CpuBackend<T>::copy_to_device(void* dst, const void* host_src, std::size_t bytes) {
  check_copy("copy_to_device", dst, host_src, bytes);
  weights_written(dst, bytes);
  if (bytes) std::memcpy(dst, host_src, bytes);
}

template <typename T>
void CpuBackend<T>::copy_to_host(void* host_dst, const void* src, std::size_t bytes) {
  check_copy("copy_to_host", host_dst, src, bytes);
  if (bytes) std::memcpy(host_dst, src, bytes);
}

template <typename T>
void CpuBackend<T>::copy_on_device(void* dst, const void* src, std::size_t bytes) {
  check_copy("copy_on_device", dst, src, bytes);
  weights_written(dst, bytes);
  if (bytes) std::memmove(dst, src, bytes);  // memmove: overlapping ranges stay defined
}

template <typename T>
std::unique_ptr<Replayable> CpuBackend<T>::record(std::function<void()> work) {
  if (!work) throw ConfigError("record: no work given");
  return std::make_unique<CpuReplayable>(std::move(work));
}

template <typename T>
void CpuBackend<T>::fill(T* x, std::size_t n, T value) {
  if (n == 0) return;
  require_pointer("fill", "x", x);
  weights_written(x, n * sizeof(T));
  for (std::size_t i = 0; i < n; ++i) x[i] = value;
}

template <typename T>
void CpuBackend<T>::gemm(Transpose trans_a, Transpose trans_b, int m, int n, int k, T alpha, const T* a, int lda,
                         const T* b, int ldb, T beta, T* c, int ldc) {
  // Every GEMM of the backend's ops comes through here: the math mode's
  // operand rounding covers them all.
  if (m > 0 && n > 0) weights_written(c, (std::size_t(m - 1) * std::size_t(ldc) + std::size_t(n)) * sizeof(T));
  if constexpr (sizeof(T) == sizeof(float)) {
    if (bf16_kernels_)
      return bf16_gemm(bf16_packing_, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  gemm_in_mode(options_.math, operand_copies_, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
void CpuBackend<T>::weight_gemm(int m, int n, int k, const T* a, const T* w, T beta, T* c) {
  if constexpr (sizeof(T) == sizeof(float)) {
    if (bf16_kernels_ && m > 0 && n > 0 && k > 0) {
      weights_written(c, std::size_t(m) * std::size_t(n) * sizeof(T));
      constexpr std::size_t kMaxEntries = 16;  // a bound on what a caller's changing weights can pile up
      if (bf16_weights_.size() >= kMaxEntries) bf16_weights_.clear();
      return bf16_gemm_packed(bf16_packing_, Transpose::no, m, 1.0f, a, k, bf16_weights_.get(k, n, w), beta, c, n);
    }
  }
  gemm(Transpose::no, Transpose::no, m, n, k, T(1), a, k, w, n, beta, c, n);
}

template <typename T>
T* CpuBackend<T>::scratch(std::size_t count) {
  if (scratch_.size() < count) scratch_.resize(count);
  return scratch_.data();
}

template <typename T>
double CpuBackend<T>::sum_squares(const T* x, std::size_t n) {
  if (n == 0) return 0.0;
  require_pointer("sum_squares", "x", x);
  // Four partial sums in a fixed pattern: faster than one chain, and the
  // result still depends only on the data.
  double partial[4] = {0.0, 0.0, 0.0, 0.0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (std::size_t lane = 0; lane < 4; ++lane) partial[lane] += double(x[i + lane]) * double(x[i + lane]);
  for (; i < n; ++i) partial[0] += double(x[i]) * double(x[i]);
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
}

template <typename T>
void CpuBackend<T>::dropout_forward(const DropoutKey& key, T p, std::size_t n, const T* x, T* y) {
  auto span = phases_.span(kPartDropout);
  if (checks::dropout("dropout_forward", double(p), n, x, y)) dropout(key, p, n, x, y);
}

template <typename T>
void CpuBackend<T>::dropout_backward(const DropoutKey& key, T p, std::size_t n, const T* dy, T* dx) {
  auto span = phases_.span(kPartDropout);
  if (checks::dropout("dropout_backward", double(p), n, dy, dx)) dropout(key, p, n, dy, dx);
}

template <typename T>
void CpuBackend<T>::adamax(std::size_t n, T* params, const T* grads, T* m, T* u, const AdamaxParams& hp,
                           std::int64_t step) {
  if (!checks::adamax(n, params, grads, m, u, hp, step)) return;
  weights_may_change();
  auto span = phases_.span(kPartAdamax);
  // Bias correction in double, then one rounding to T.
  const T lr_t = T(math::adamax_step_size(hp.learning_rate, hp.beta1, step));
  const T beta1 = T(hp.beta1), beta2 = T(hp.beta2), eps = T(hp.epsilon);
  const T decay = T(hp.learning_rate * hp.weight_decay);
  for (std::size_t i = 0; i < n; ++i)
    math::adamax_element(params[i], grads[i], m[i], u[i], lr_t, beta1, beta2, eps, decay);
}

template class CpuBackend<float>;
template class CpuBackend<double>;

}  // namespace nocturne::cpu

namespace nocturne::inline v0 {

bool cpu_has_bf16_gemm() { return cpu::bf16_gemm_supported(); }

std::unique_ptr<BasicBackend<float>> make_cpu_backend(const CpuOptions& options) {
  return std::make_unique<cpu::CpuBackend<float>>(options);
}
std::unique_ptr<BasicBackend<double>> make_cpu_backend_double(const CpuOptions& options) {
  return std::make_unique<cpu::CpuBackend<double>>(options);
}

}  // namespace nocturne
