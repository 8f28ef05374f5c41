// Persistent generation: one cooperative launch generates many notes of the
// window predictor, each block keeping its columns of every weight matrix
// (both LSTM layers, both dense layers) in shared memory for the whole
// launch. Per note: every block chooses the tokens itself from the logits
// (softmax and src/math/sampling.hpp's steps: the same tokens in every block,
// so no barrier hands them over), then layer 1's step over the W slots, layer
// 2's, dense 1 and dense 2 for the completed windows, a grid barrier after
// each (cooperative groups): four a note. The host reads the tokens between
// launches; the state buffers and the logits carry over.
//
// Strict FP32 on CUDA cores: the LSTM sums in the fused FP32 step kernel's
// order and its cell (math::lstm_fused_forward), the dense sums in
// head_predict's, so the state and the logits are those kernels' bits
// (checked by the host simulator, test/kernels_host). Everything another
// block wrote is read past L1 (ld.global.cg): L1 is not coherent across SMs,
// and a line read two notes ago may still sit there.
//
// History: v1 (this one) - first version, written without a GPU: the phases
// checked by the host simulator against the CPU window predictor.

#include <cooperative_groups.h>

#include <string>

#include "generation_kernels.hpp"
#include "nocturne/error.hpp"
#include "persistent_kernels.hpp"

namespace nocturne::inline v0::kernels {
namespace {

__global__ void __launch_bounds__(kGenerationThreads, 1) lstm_persistent_generate_kernel(GenerateArgs a) {
  extern __shared__ __align__(16) unsigned char shared[];
  cooperative_groups::grid_group grid = cooperative_groups::this_grid();
  const int block = int(blockIdx.x), thread = int(threadIdx.x);
  generation_load_weights(a, block, thread, shared);
  __syncthreads();
  const int streams = a.plan.shape.streams;
  for (int n = 0; n < a.notes; ++n) {
    const std::uint64_t note = std::uint64_t(a.first_note + n);
    generation_stage_logits(a, thread, shared);
    __syncthreads();
    for (int s = 0; s < streams; ++s)
      for (int step = 0; step < kChooseSteps; ++step) {
        generation_choose_step(a, block, s, note, step, thread, shared);
        __syncthreads();
      }
    if (n + 1 == a.notes && !a.push_last) break;
    const int from = generation_from(a, n);
    for (int ph = 0; ph < kGenerationPhases; ++ph) {
      const GenerationPhase phase = GenerationPhase(ph);
      const PhaseShape q = generation_phase(a.plan, phase, block);
      GenerationRegisters r;
      generation_begin(r);
      const int chunks = generation_chunks(a.plan, q);
      for (int c = 0; c < chunks; ++c) {
        generation_stage(a, phase, from, q, c, thread, shared);
        __syncthreads();
        if (q.sums == kUnitGates)
          generation_accumulate<kUnitGates>(a.plan, q, c, thread, shared, r);
        else
          generation_accumulate<1>(a.plan, q, c, thread, shared, r);
        __syncthreads();
      }
      generation_finish(a, phase, from, q, thread, shared, r);
      grid.sync();  // a fence and a barrier: the phase's outputs visible to every block
    }
  }
}

}  // namespace

GenerationPlan generation_device_plan(const GenerationShape& shape) {
  const DeviceLimits device = current_device_limits();
  GenerationPlan plan = generation_plan(shape, device);
  if (!plan.fits()) return plan;
  const void* kernel = reinterpret_cast<const void*>(&lstm_persistent_generate_kernel);
  allow_persistent_shared(kernel, device);
  int id = 0, cooperative = 0, per_sm = 0;
  NOCTURNE_CUDA_CHECK(cudaGetDevice(&id));
  NOCTURNE_CUDA_CHECK(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, id));
  NOCTURNE_CUDA_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kGenerationThreads, plan.shared.total));
  plan.resident_per_sm = per_sm;
  if (!cooperative || per_sm < 1) plan.refusal = GenerationRefusal::not_resident;
  return plan;
}

void lstm_persistent_generate(const Launch& launch, const GenerateArgs& args) {
  if (!args.plan.fits())
    throw ShapeError(std::string("lstm_persistent_generate: ") + generation_refusal_text(args.plan.refusal));
  if (args.notes <= 0) return;
  GenerateArgs a = args;
  void* params[] = {&a};
  cudaLaunchAttribute cooperative[1];
  cooperative[0].id = cudaLaunchAttributeCooperative;
  cooperative[0].val.cooperative = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(unsigned(a.plan.blocks));
  config.blockDim = dim3(kGenerationThreads);
  config.dynamicSmemBytes = a.plan.shared.total;
  config.stream = launch.stream;
  config.attrs = cooperative;
  config.numAttrs = 1;
  NOCTURNE_CUDA_CHECK(cudaLaunchKernelExC(&config, reinterpret_cast<const void*>(&lstm_persistent_generate_kernel),
                                          params));
  NOCTURNE_CHECK_LAUNCH("lstm_persistent_generate", launch);
}

}  // namespace nocturne::kernels
