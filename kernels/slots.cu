// The window predictor's slot reset on the device: the slot whose window
// starts at this note is read from a counter in device memory when the
// kernel runs, so one recorded program serves every note.
//
// Design: grid (x: grid-stride over the slot's rows x cols, y: buffer); the
// buffers' pointers and widths travel in the kernel's arguments.
//
// History: v1 (this one).

#include <string>

#include "fused_kernels.hpp"
#include "launch_config.hpp"
#include "nocturne/error.hpp"

namespace nocturne::kernels {
namespace {

struct SlotBuffers {
  float* data[kMaxSlotBuffers];
  int cols[kMaxSlotBuffers];
};

__global__ void zero_slot_rows_kernel(const std::uint64_t* counter, int slots, int rows, SlotBuffers buffers) {
  // Buffer blockIdx.y, picked by constant indices (a dynamic index would
  // copy the arguments to the stack).
  float* data = nullptr;
  std::size_t cols = 0;
#pragma unroll
  for (int k = 0; k < kMaxSlotBuffers; ++k)
    if (k == int(blockIdx.y)) {
      data = buffers.data[k];
      cols = std::size_t(buffers.cols[k]);
    }
  const std::size_t slot = std::size_t(*counter % std::uint64_t(slots));
  float* first = data + slot * std::size_t(rows) * cols;
  const std::size_t n = std::size_t(rows) * cols;
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) first[i] = 0.0f;
}

}  // namespace

void zero_slot_rows(const Launch& launch, const std::uint64_t* counter, int slots, int rows, int buffers,
                    float* const* data, const int* cols) {
  if (buffers <= 0 || slots <= 0 || rows <= 0) return;
  if (buffers > kMaxSlotBuffers)
    throw ShapeError("zero_slot_rows: " + std::to_string(buffers) + " buffers, at most " +
                     std::to_string(kMaxSlotBuffers));
  SlotBuffers b{};
  int widest = 0;
  for (int k = 0; k < buffers; ++k) {
    b.data[k] = data[k];
    b.cols[k] = cols[k];
    widest = cols[k] > widest ? cols[k] : widest;
  }
  if (widest == 0) return;
  const dim3 grid(blocks_for(std::size_t(rows) * std::size_t(widest)), unsigned(buffers));
  zero_slot_rows_kernel<<<grid, kThreads, 0, launch.stream>>>(counter, slots, rows, b);
  NOCTURNE_CHECK_LAUNCH("zero_slot_rows", launch);
}

}  // namespace nocturne::kernels
