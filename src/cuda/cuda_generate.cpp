// The window predictor's notes in one launch of the persistent generation
// kernel (kernels/lstm_persistent_generate.cu) on the persistent path in
// strict fp32, where the partition fits the device; false elsewhere (TF32
// and BF16, too many streams, a device that refuses the grid), and the
// predictor runs the fused path's device loop, as silently as the training
// path falls back to the fused steps.

#include <string>

#include "cuda/cuda_backend.hpp"
#include "kernels/generate_args.hpp"
#include "kernels/generation_kernels.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cuda {

bool CudaBackend::generate_notes(const GenerateNotes<float>& q) {
  if (!persistent_ || math_ != MathMode::strict_fp32 || q.notes <= 0) return false;
  const kernels::GenerationShape shape{q.streams, q.window, q.hidden1, q.hidden2, q.dense, q.vocab};
  const kernels::GenerationPlan plan = kernels::generation_device_plan(shape);
  if (!plan.fits() || plan.blocks > multiprocessors_) return false;
  for (const void* p : {static_cast<const void*>(q.w1), static_cast<const void*>(q.r1), static_cast<const void*>(q.b1),
                        static_cast<const void*>(q.w2), static_cast<const void*>(q.r2), static_cast<const void*>(q.b2),
                        static_cast<const void*>(q.dense1_w), static_cast<const void*>(q.dense1_b),
                        static_cast<const void*>(q.dense2_w), static_cast<const void*>(q.dense2_b),
                        static_cast<const void*>(q.y1), static_cast<const void*>(q.logits),
                        static_cast<const void*>(q.probs)})
    if (!p) throw ShapeError("generate_notes: a weight or scratch pointer is null");
  for (int k = 0; k < 2; ++k)
    if (!q.h1[k] || !q.c1[k] || !q.h2[k] || !q.c2[k])
      throw ShapeError("generate_notes: state buffer " + std::to_string(k) + " is null");
  if (q.current != 0 && q.current != 1)
    throw ShapeError("generate_notes: current must be 0 or 1, got " + std::to_string(q.current));
  kernels::lstm_persistent_generate(launch(), kernels::generate_args(q, plan));
  return true;
}

}  // namespace nocturne::cuda
