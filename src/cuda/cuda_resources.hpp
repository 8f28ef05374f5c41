#pragma once
// Move-only owners of CUDA objects: device and pinned host memory, a stream,
// an event, a cuBLAS handle, an executable graph. Destructors never throw
// (a failure while releasing is ignored: there is nothing left to do).

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "cuda/cuda_check.hpp"

namespace nocturne::inline v0::cuda {

// One owned handle; Destroy(handle) releases it.
template <typename Handle, void (*Destroy)(Handle)>
class Owned {
 public:
  Owned() = default;
  explicit Owned(Handle handle) : handle_(handle) {}
  Owned(Owned&& other) noexcept : handle_(std::exchange(other.handle_, Handle{})) {}
  Owned& operator=(Owned&& other) noexcept {
    Owned(std::move(other)).swap(*this);
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (handle_) Destroy(handle_);
  }
  Handle get() const { return handle_; }
  // Gives up ownership (the caller frees the handle).
  Handle release() { return std::exchange(handle_, Handle{}); }
  void swap(Owned& other) noexcept { std::swap(handle_, other.handle_); }

 private:
  Handle handle_{};
};

inline void free_device(void* p) { cudaFree(p); }
inline void free_pinned(void* p) { cudaFreeHost(p); }
inline void destroy_stream(cudaStream_t s) { cudaStreamDestroy(s); }
inline void destroy_event(cudaEvent_t e) { cudaEventDestroy(e); }
inline void destroy_cublas(cublasHandle_t h) { cublasDestroy(h); }
inline void destroy_graph(cudaGraph_t g) { cudaGraphDestroy(g); }
inline void destroy_graph_exec(cudaGraphExec_t g) { cudaGraphExecDestroy(g); }

using DeviceMemory = Owned<void*, free_device>;
using PinnedMemory = Owned<void*, free_pinned>;
using Stream = Owned<cudaStream_t, destroy_stream>;
using Event = Owned<cudaEvent_t, destroy_event>;
using CublasHandle = Owned<cublasHandle_t, destroy_cublas>;
using Graph = Owned<cudaGraph_t, destroy_graph>;
using GraphExec = Owned<cudaGraphExec_t, destroy_graph_exec>;

inline DeviceMemory device_memory(std::size_t bytes) {
  void* p = nullptr;
  if (bytes) NOCTURNE_CUDA_CHECK(cudaMalloc(&p, bytes));
  return DeviceMemory(p);
}
inline PinnedMemory pinned_memory(std::size_t bytes) {
  void* p = nullptr;
  NOCTURNE_CUDA_CHECK(cudaMallocHost(&p, bytes));
  return PinnedMemory(p);
}
// A blocking stream (it orders with the legacy default stream, so events
// recorded there by a benchmark time the backend's work).
inline Stream make_stream() {
  cudaStream_t s = nullptr;
  NOCTURNE_CUDA_CHECK(cudaStreamCreate(&s));
  return Stream(s);
}
inline Event make_event() {
  cudaEvent_t e = nullptr;
  NOCTURNE_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return Event(e);
}
inline CublasHandle make_cublas() {
  cublasHandle_t h = nullptr;
  NOCTURNE_CUDA_CHECK(cublasCreate(&h));
  return CublasHandle(h);
}

}  // namespace nocturne::cuda
