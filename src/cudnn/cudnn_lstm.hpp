#pragma once
// The cuDNN LSTM path: one LSTM layer computed by cuDNN 9's RNN API, with the
// library's own layouts at the boundary. Plain C++ (no cuDNN or CUDA types),
// so the benchmark, the tests and the CUDA backend include it freely; it
// exists only in builds with NOCTURNE_WITH_CUDNN.
//
// Layouts (the same as BasicBackend::lstm_forward/lstm_backward): row-major,
// time-major x [T, N, F] and h [T, N, H]; Keras weights W [F, 4H], R [H, 4H],
// b [4H], gate blocks i, f, g, o; zero initial state. cuDNN keeps its weights
// per gate as [H, F] and [H, H] matrices in its own weight space: set_weights()
// transposes ours in (8 cublasSgeam + 4 bias copies) and weight_gradients()
// transposes the gradients out. All pointers are device pointers; every call
// is asynchronous on the stream given at construction (nullptr: the legacy
// default stream).

#include <array>
#include <cstddef>
#include <memory>
#include <string>

#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cudnn {

// The public CudnnAlgo (nocturne/cuda.hpp), which CudaOptions carries.
using Algo = CudnnAlgo;
// fma: strict fp32 (CUDNN_FMA_MATH, no tensor cores). default_math: what
// PyTorch picks with TF32 allowed (CUDNN_DEFAULT_MATH: TF32 tensor cores on
// Ampere and newer). tensor_op: CUDNN_TENSOR_OP_MATH (TF32 for fp32 data).
// tensor_op_fp16: CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (fp32 may be
// converted down to fp16 for the tensor cores: the loosest).
enum class Math { fma, default_math, tensor_op, tensor_op_fp16 };

inline constexpr std::array<Math, 4> kAllMaths = {Math::fma, Math::default_math, Math::tensor_op,
                                                  Math::tensor_op_fp16};

// (to_string(Algo) is nocturne::to_string(CudnnAlgo).)
const char* to_string(Math math);
// True for the math types that may use tensor cores (looser tolerances).
inline bool uses_tensor_cores(Math math) { return math != Math::fma; }

// cuDNN's CUDNN_STATUS_NOT_SUPPORTED (its 3xxx codes) for a shape, algorithm
// and math type is thrown as NotSupportedError (nocturne/error.hpp), reported
// apart from a failure (any other DeviceError, including the 3xxx codes of a
// broken installation: driver, runtime, architecture, NVRTC, sub-library).

// cudnnGetVersion() of the loaded library, e.g. 91900 for 9.19.0, and the
// version the library was compiled against (CUDNN_VERSION).
std::size_t loaded_version();
std::size_t compiled_version();
std::string version_text(std::size_t version);

class CudnnLstm {
 public:
  // Builds the descriptors (cudnnBuildRNNDynamic for persist_dynamic: its
  // cost is build_ms()) and allocates the weight, gradient, work and reserve
  // spaces for this shape, once. Throws NotSupportedError or DeviceError.
  CudnnLstm(const LstmShape& shape, Algo algo, Math math, void* stream = nullptr);
  ~CudnnLstm();
  CudnnLstm(CudnnLstm&&) noexcept;
  CudnnLstm& operator=(CudnnLstm&&) noexcept;
  CudnnLstm(const CudnnLstm&) = delete;
  CudnnLstm& operator=(const CudnnLstm&) = delete;

  const LstmShape& shape() const;
  Algo algo() const;
  Math math() const;
  // Host milliseconds spent in cudnnBuildRNNDynamic (0 for the other algorithms).
  double build_ms() const;
  std::size_t weight_space_bytes() const;
  std::size_t workspace_bytes() const;
  std::size_t reserve_bytes() const;

  // W [F, 4H], R [H, 4H], b [4H] into cuDNN's weight space.
  void set_weights(const float* w, const float* r, const float* b);
  // Training-mode forward: h [T, N, H] from x [T, N, F]; keeps the reserve
  // space that backward() reads.
  void forward(const float* x, float* h);
  // Backward data and weights after forward(x, h) with the same x and h:
  // dx [T, N, F] (may be null) from dh [T, N, H] (the gradient of every h_t;
  // none flows in through the final state), and the weight gradients in
  // cuDNN's gradient space (zeroed, then cudnnRNNBackwardWeights_v8 with
  // CUDNN_WGRAD_MODE_ADD).
  void backward(const float* x, const float* h, const float* dh, float* dx);
  // The last backward()'s gradients in our layout: dW [F, 4H], dR [H, 4H],
  // db [4H] (overwritten).
  void weight_gradients(float* dw, float* dr, float* db);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- wiring for the CUDA backend --------------------------------------------
// The same argument lists as BasicBackend<float>::lstm_forward/lstm_backward,
// plus the stream the backend issues its work on. A CudnnLstm per (stream,
// shape, algorithm, math, x, h) is built on first use and kept (at most 16,
// oldest dropped), so the layer's forward and backward meet the same reserve
// space. c and gates are not written (cuDNN keeps its own in the reserve
// space) and are ignored by backward; workspace is not used. The first call
// for a new key allocates and must not be inside a CUDA graph capture.
struct Config {
  Algo algo = Algo::standard;
  Math math = Math::fma;
};
void cudnn_lstm_forward(const LstmShape& shape, const float* x, const float* w, const float* r, const float* b,
                        float* h, float* c, float* gates, void* stream, const Config& config = {});
void cudnn_lstm_backward(const LstmShape& shape, const float* x, const float* w, const float* r, const float* h,
                         const float* c, const float* gates, const float* dh, float* dx, float* dw, float* dr,
                         float* db, float* workspace, void* stream, const Config& config = {});
// Frees the cached CudnnLstm objects of one stream (call it before that stream
// is destroyed: the CUDA backend's destructor), or of every stream.
void cudnn_lstm_release(void* stream);
void cudnn_lstm_release_cache();

}  // namespace nocturne::cudnn
