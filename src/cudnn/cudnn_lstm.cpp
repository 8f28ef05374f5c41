// CudnnLstm: one LSTM layer through cuDNN 9's RNN API (cudnnRNNForward,
// cudnnRNNBackwardData_v8, cudnnRNNBackwardWeights_v8), with our layouts at
// the boundary. See cudnn_lstm.hpp.
//
// History: v1 (this one) maps weights with cublasSgeam transposes; the data
// layout CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED with every sequence of length
// T is exactly our time-major [T, N, F], so x, h, dh and dx need no copies.

#include "cudnn/cudnn_lstm.hpp"

#include <cudnn.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "cuda/cuda_check.hpp"
#include "cuda/cuda_resources.hpp"
#include "cudnn/cudnn_refusal.hpp"
#include "cudnn/gate_blocks.hpp"

namespace nocturne::inline v0::cuda {

[[noreturn]] inline void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string message = "cuDNN error " + std::to_string(int(status)) + " (" + cudnnGetErrorString(status) + ") in " +
                        call + " at " + file + ":" + std::to_string(line);
  if (detail[0]) message += ": " + std::string(detail);
  if (refuses_the_case(status)) throw NotSupportedError(message);
  throw DeviceError(message);
}

// The cuDNN overload of the backend's check(), so NOCTURNE_CUDA_CHECK covers
// cuDNN calls too.
inline void check(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) throw_cudnn_error(status, call, file, line);
}

}  // namespace nocturne::cuda

namespace nocturne::inline v0::cudnn {
namespace {

using cuda::DeviceMemory;
using cuda::device_memory;

inline void destroy_handle(cudnnHandle_t h) { cudnnDestroy(h); }
inline void destroy_rnn(cudnnRNNDescriptor_t d) { cudnnDestroyRNNDescriptor(d); }
inline void destroy_rnn_data(cudnnRNNDataDescriptor_t d) { cudnnDestroyRNNDataDescriptor(d); }
inline void destroy_tensor(cudnnTensorDescriptor_t d) { cudnnDestroyTensorDescriptor(d); }
inline void destroy_dropout(cudnnDropoutDescriptor_t d) { cudnnDestroyDropoutDescriptor(d); }
using Handle = cuda::Owned<cudnnHandle_t, destroy_handle>;
using RnnDesc = cuda::Owned<cudnnRNNDescriptor_t, destroy_rnn>;
using RnnDataDesc = cuda::Owned<cudnnRNNDataDescriptor_t, destroy_rnn_data>;
using TensorDesc = cuda::Owned<cudnnTensorDescriptor_t, destroy_tensor>;
using DropoutDesc = cuda::Owned<cudnnDropoutDescriptor_t, destroy_dropout>;

TensorDesc make_tensor() {
  cudnnTensorDescriptor_t d = nullptr;
  NOCTURNE_CUDA_CHECK(cudnnCreateTensorDescriptor(&d));
  return TensorDesc(d);
}
RnnDataDesc make_rnn_data(int steps, int batch, int vector, const std::vector<int>& lengths) {
  cudnnRNNDataDescriptor_t d = nullptr;
  NOCTURNE_CUDA_CHECK(cudnnCreateRNNDataDescriptor(&d));
  RnnDataDesc owned(d);
  NOCTURNE_CUDA_CHECK(cudnnSetRNNDataDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, steps,
                                                batch, vector, lengths.data(), nullptr));
  return owned;
}

cudnnRNNAlgo_t to_cudnn(Algo algo) {
  switch (algo) {
    case Algo::standard: return CUDNN_RNN_ALGO_STANDARD;
    case Algo::persist_static: return CUDNN_RNN_ALGO_PERSIST_STATIC;
    case Algo::persist_dynamic: return CUDNN_RNN_ALGO_PERSIST_DYNAMIC;
    case Algo::persist_static_small_h: return CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H;
  }
  throw ConfigError("unknown cuDNN RNN algorithm");
}
cudnnMathType_t to_cudnn(Math math) {
  switch (math) {
    case Math::fma: return CUDNN_FMA_MATH;
    case Math::default_math: return CUDNN_DEFAULT_MATH;
    case Math::tensor_op: return CUDNN_TENSOR_OP_MATH;
    case Math::tensor_op_fp16: return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
  }
  throw ConfigError("unknown cuDNN math type");
}

std::size_t element_count(cudnnTensorDescriptor_t d) {
  cudnnDataType_t type{};
  int dims = 0;
  int dim[8] = {0}, stride[8] = {0};
  NOCTURNE_CUDA_CHECK(cudnnGetTensorNdDescriptor(d, 8, &type, &dims, dim, stride));
  std::size_t n = 1;
  for (int i = 0; i < dims; ++i) n *= std::size_t(dim[i]);
  return n;
}

}  // namespace

const char* to_string(Math math) {
  switch (math) {
    case Math::fma: return "fma";
    case Math::default_math: return "default";
    case Math::tensor_op: return "tensor_op";
    case Math::tensor_op_fp16: return "tensor_op_fp16";
  }
  return "?";
}

std::size_t loaded_version() { return cudnnGetVersion(); }
std::size_t compiled_version() { return CUDNN_VERSION; }
std::string version_text(std::size_t v) {
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}

struct CudnnLstm::Impl {
  LstmShape shape;
  Algo algo = Algo::standard;
  Math math = Math::fma;
  cudaStream_t stream = nullptr;
  double build_ms = 0;

  Handle handle;
  cuda::CublasHandle cublas;
  DropoutDesc dropout;
  RnnDesc rnn;
  RnnDataDesc x_desc, y_desc;
  TensorDesc h_desc, c_desc;

  std::size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;
  DeviceMemory weights, dweights, work, reserve, seq_lengths, dx_scratch;
  // Offsets (in floats) into the weight space: per gate i, f, g, o the input
  // matrix [H, F], the recurrent matrix [H, H] and the bias [H].
  std::array<std::size_t, 4> w_at{}, r_at{}, b_at{};

  float* wspace() const { return static_cast<float*>(weights.get()); }
  float* dwspace() const { return static_cast<float*>(dweights.get()); }

  void locate_weights();
  // dst = src^T as gate_blocks.hpp describes the block.
  void transpose(const float* src, float* dst, const BlockTranspose& block) const;
};

CudnnLstm::CudnnLstm(const LstmShape& s, Algo algo, Math math, void* stream) : impl_(std::make_unique<Impl>()) {
  if (s.steps <= 0 || s.batch <= 0 || s.input <= 0 || s.hidden <= 0)
    throw ShapeError("CudnnLstm: every size must be positive (T " + std::to_string(s.steps) + ", N " +
                     std::to_string(s.batch) + ", F " + std::to_string(s.input) + ", H " + std::to_string(s.hidden) +
                     ")");
  Impl& m = *impl_;
  m.shape = s;
  m.algo = algo;
  m.math = math;
  m.stream = static_cast<cudaStream_t>(stream);

  cudnnHandle_t handle = nullptr;
  NOCTURNE_CUDA_CHECK(cudnnCreate(&handle));
  m.handle = Handle(handle);
  NOCTURNE_CUDA_CHECK(cudnnSetStream(handle, m.stream));
  m.cublas = cuda::make_cublas();
  NOCTURNE_CUDA_CHECK(cublasSetStream(m.cublas.get(), m.stream));

  // No dropout inside one layer: a descriptor with p = 0 needs no RNG states.
  cudnnDropoutDescriptor_t dropout = nullptr;
  NOCTURNE_CUDA_CHECK(cudnnCreateDropoutDescriptor(&dropout));
  m.dropout = DropoutDesc(dropout);
  NOCTURNE_CUDA_CHECK(cudnnSetDropoutDescriptor(dropout, handle, 0.0f, nullptr, 0, 0));

  cudnnRNNDescriptor_t rnn = nullptr;
  NOCTURNE_CUDA_CHECK(cudnnCreateRNNDescriptor(&rnn));
  m.rnn = RnnDesc(rnn);
  NOCTURNE_CUDA_CHECK(cudnnSetRNNDescriptor_v8(rnn, to_cudnn(algo), CUDNN_LSTM, CUDNN_RNN_SINGLE_INP_BIAS,
                                               CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT,
                                               CUDNN_DATA_FLOAT, to_cudnn(math), s.input, s.hidden, s.hidden, 1,
                                               dropout, CUDNN_RNN_PADDED_IO_DISABLED));

  const std::vector<int> lengths(std::size_t(s.batch), s.steps);
  m.x_desc = make_rnn_data(s.steps, s.batch, s.input, lengths);
  m.y_desc = make_rnn_data(s.steps, s.batch, s.hidden, lengths);
  const int dims[3] = {1, s.batch, s.hidden};
  const int strides[3] = {s.batch * s.hidden, s.hidden, 1};
  m.h_desc = make_tensor();
  m.c_desc = make_tensor();
  NOCTURNE_CUDA_CHECK(cudnnSetTensorNdDescriptor(m.h_desc.get(), CUDNN_DATA_FLOAT, 3, dims, strides));
  NOCTURNE_CUDA_CHECK(cudnnSetTensorNdDescriptor(m.c_desc.get(), CUDNN_DATA_FLOAT, 3, dims, strides));

  if (algo == Algo::persist_dynamic) {
    const auto start = std::chrono::steady_clock::now();
    NOCTURNE_CUDA_CHECK(cudnnBuildRNNDynamic(handle, rnn, s.batch));
    m.build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }

  NOCTURNE_CUDA_CHECK(cudnnGetRNNWeightSpaceSize(handle, rnn, &m.weight_bytes));
  NOCTURNE_CUDA_CHECK(cudnnGetRNNTempSpaceSizes(handle, rnn, CUDNN_FWD_MODE_TRAINING, m.x_desc.get(), &m.work_bytes,
                                                &m.reserve_bytes));
  m.weights = device_memory(m.weight_bytes);
  m.dweights = device_memory(m.weight_bytes);
  m.work = device_memory(m.work_bytes);
  m.reserve = device_memory(m.reserve_bytes);
  m.seq_lengths = device_memory(lengths.size() * sizeof(int));
  m.dx_scratch = device_memory(std::size_t(s.steps) * std::size_t(s.batch) * std::size_t(s.input) * sizeof(float));
  // Synchronous copy from pageable memory: `lengths` may go away at once.
  NOCTURNE_CUDA_CHECK(cudaMemcpy(m.seq_lengths.get(), lengths.data(), lengths.size() * sizeof(int),
                                 cudaMemcpyHostToDevice));
  NOCTURNE_CUDA_CHECK(cudaMemsetAsync(m.weights.get(), 0, m.weight_bytes, m.stream));
  m.locate_weights();
}

CudnnLstm::~CudnnLstm() {
  // Work may still read the spaces this object frees.
  if (impl_) cudaStreamSynchronize(impl_->stream);
}
CudnnLstm::CudnnLstm(CudnnLstm&&) noexcept = default;
CudnnLstm& CudnnLstm::operator=(CudnnLstm&&) noexcept = default;

const LstmShape& CudnnLstm::shape() const { return impl_->shape; }
Algo CudnnLstm::algo() const { return impl_->algo; }
Math CudnnLstm::math() const { return impl_->math; }
double CudnnLstm::build_ms() const { return impl_->build_ms; }
std::size_t CudnnLstm::weight_space_bytes() const { return impl_->weight_bytes; }
std::size_t CudnnLstm::workspace_bytes() const { return impl_->work_bytes; }
std::size_t CudnnLstm::reserve_bytes() const { return impl_->reserve_bytes; }

void CudnnLstm::Impl::locate_weights() {
  TensorDesc m_desc = make_tensor(), b_desc = make_tensor();
  const std::size_t hf = std::size_t(shape.hidden) * std::size_t(shape.input);
  const std::size_t hh = std::size_t(shape.hidden) * std::size_t(shape.hidden);
  std::array<bool, 4> have_bias{};
  // linLayerID 0-3: input matrices of gates i, f, g (c'), o; 4-7: recurrent.
  for (int id = 0; id < 8; ++id) {
    void* m_addr = nullptr;
    void* b_addr = nullptr;
    NOCTURNE_CUDA_CHECK(cudnnGetRNNWeightParams(handle.get(), rnn.get(), 0, weight_bytes, weights.get(), id,
                                                m_desc.get(), &m_addr, b_desc.get(), &b_addr));
    const std::size_t gate = std::size_t(id % 4);
    if (!m_addr) throw DeviceError("cudnnGetRNNWeightParams: no matrix for linLayerID " + std::to_string(id));
    const std::size_t at = std::size_t(static_cast<float*>(m_addr) - wspace());
    const std::size_t want = id < 4 ? hf : hh;
    if (element_count(m_desc.get()) != want)
      throw DeviceError("cudnnGetRNNWeightParams: linLayerID " + std::to_string(id) + " has " +
                        std::to_string(element_count(m_desc.get())) + " weights, expected " + std::to_string(want));
    (id < 4 ? w_at : r_at)[gate] = at;
    if (b_addr) {
      if (have_bias[gate] || element_count(b_desc.get()) != std::size_t(shape.hidden))
        throw DeviceError("cudnnGetRNNWeightParams: unexpected bias layout at linLayerID " + std::to_string(id));
      b_at[gate] = std::size_t(static_cast<float*>(b_addr) - wspace());
      have_bias[gate] = true;
    }
  }
  for (bool have : have_bias)
    if (!have) throw DeviceError("cudnnGetRNNWeightParams: a gate has no bias (CUDNN_RNN_SINGLE_INP_BIAS)");
}

void CudnnLstm::Impl::transpose(const float* src, float* dst, const BlockTranspose& block) const {
  // cuBLAS is column-major: a row-major [rows, cols] block with row stride
  // src_ld is a column-major (cols x rows) matrix with leading dimension
  // src_ld; its transpose, the row-major [cols, rows] dst with row stride
  // dst_ld, is the column-major (rows x cols) matrix op(A) = A^T. beta = 0
  // with B = A keeps every read inside valid, finite memory.
  const float one = 1.0f, zero = 0.0f;
  const float* a = src + block.src_offset;
  NOCTURNE_CUDA_CHECK(cublasSgeam(cublas.get(), CUBLAS_OP_T, CUBLAS_OP_T, block.rows, block.cols, &one, a,
                                  block.src_ld, &zero, a, block.src_ld, dst + block.dst_offset, block.dst_ld));
}

void CudnnLstm::set_weights(const float* w, const float* r, const float* b) {
  if (!w || !r || !b) throw ShapeError("CudnnLstm::set_weights: null weight pointer");
  Impl& m = *impl_;
  const int f = m.shape.input, h = m.shape.hidden;
  for (std::size_t k = 0; k < 4; ++k) {
    const std::size_t col = k * std::size_t(h);
    // Our W block: row-major [F, H] with row stride 4H; cuDNN's: [H, F].
    m.transpose(w, m.wspace(), weights_in(int(k), f, h, m.w_at[k]));
    m.transpose(r, m.wspace(), weights_in(int(k), h, h, m.r_at[k]));
    NOCTURNE_CUDA_CHECK(cudaMemcpyAsync(m.wspace() + m.b_at[k], b + col, std::size_t(h) * sizeof(float),
                                        cudaMemcpyDeviceToDevice, m.stream));
  }
}

void CudnnLstm::forward(const float* x, float* h) {
  if (!x || !h) throw ShapeError("CudnnLstm::forward: null x or h");
  Impl& m = *impl_;
  NOCTURNE_CUDA_CHECK(cudnnRNNForward(m.handle.get(), m.rnn.get(), CUDNN_FWD_MODE_TRAINING,
                                      static_cast<const int32_t*>(m.seq_lengths.get()), m.x_desc.get(), x,
                                      m.y_desc.get(), h, m.h_desc.get(), nullptr, nullptr, m.c_desc.get(), nullptr,
                                      nullptr, m.weight_bytes, m.weights.get(), m.work_bytes, m.work.get(),
                                      m.reserve_bytes, m.reserve.get()));
}

void CudnnLstm::backward(const float* x, const float* h, const float* dh, float* dx) {
  if (!x || !h || !dh) throw ShapeError("CudnnLstm::backward: null x, h or dh");
  Impl& m = *impl_;
  float* dx_out = dx ? dx : static_cast<float*>(m.dx_scratch.get());
  const auto* lengths = static_cast<const int32_t*>(m.seq_lengths.get());
  NOCTURNE_CUDA_CHECK(cudnnRNNBackwardData_v8(m.handle.get(), m.rnn.get(), lengths, m.y_desc.get(), h, dh,
                                              m.x_desc.get(), dx_out, m.h_desc.get(), nullptr, nullptr, nullptr,
                                              m.c_desc.get(), nullptr, nullptr, nullptr, m.weight_bytes,
                                              m.weights.get(), m.work_bytes, m.work.get(), m.reserve_bytes,
                                              m.reserve.get()));
  NOCTURNE_CUDA_CHECK(cudaMemsetAsync(m.dweights.get(), 0, m.weight_bytes, m.stream));
  NOCTURNE_CUDA_CHECK(cudnnRNNBackwardWeights_v8(m.handle.get(), m.rnn.get(), CUDNN_WGRAD_MODE_ADD, lengths,
                                                 m.x_desc.get(), x, m.h_desc.get(), nullptr, m.y_desc.get(), h,
                                                 m.weight_bytes, m.dweights.get(), m.work_bytes, m.work.get(),
                                                 m.reserve_bytes, m.reserve.get()));
}

void CudnnLstm::weight_gradients(float* dw, float* dr, float* db) {
  if (!dw || !dr || !db) throw ShapeError("CudnnLstm::weight_gradients: null gradient pointer");
  Impl& m = *impl_;
  const int f = m.shape.input, h = m.shape.hidden;
  for (std::size_t k = 0; k < 4; ++k) {
    const std::size_t col = k * std::size_t(h);
    // cuDNN's [H, F] block back to our [F, H] block with row stride 4H.
    m.transpose(m.dwspace(), dw, gradients_out(int(k), f, h, m.w_at[k]));
    m.transpose(m.dwspace(), dr, gradients_out(int(k), h, h, m.r_at[k]));
    NOCTURNE_CUDA_CHECK(cudaMemcpyAsync(db + col, m.dwspace() + m.b_at[k], std::size_t(h) * sizeof(float),
                                        cudaMemcpyDeviceToDevice, m.stream));
  }
}

}  // namespace nocturne::cudnn
