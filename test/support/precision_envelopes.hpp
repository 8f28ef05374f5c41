#pragma once
// How far the GPU may stray from the CPU reference in each math mode, per kind
// of tensor: the normwise relative error ||gpu - cpu|| / ||cpu|| of each
// tensor (the loss: |gpu - cpu| / |cpu|), the CPU backend running the same
// mode (CpuOptions::math: the same rounded operands, so what is left is the
// order of the FP32 sums, the device's exp and tanh, and, for cuBLAS's own
// TF32 / BF16 conversions, the rounding of some operands).
//
// Chosen from the errors of the CPU's emulated modes against the double
// reference (what reduced operands cost at all, an upper bound for two runs
// that share their operands), times a margin of 3 to 5, rounded up to 1, 2
// or 5 x 10^k. FP32 is the 1e-5 for step 1 of the recipe, 5 times
// or more above every measured error. test/cpu/test_cpu_precision.cpp checks
// the CPU stays within these at small shapes in every CI run.
//
// Measured 2026-12-06 on the 2-core AMD EPYC build machine (AVX-512; OpenBLAS
// 0.3.21 with its Cooperlake kernels), at commit e61f102, by
// `test_cpu_ops "[.measure]" -s`: float CPU in
// each mode against double strict, the recipe's layer shapes with initialiser
// scales (lstm_forward / lstm_backward and the fused step ops on the same data,
// then the head) and one recipe training step (N 256, V 127, initialised as
// train does; every view's gradient and the loss, classic and fused path):
//
//   mode  tensors                  forward   backward  weight_gradient  loss
//   fp32  layer 1 (T40 N256 F1 H512)  3.4e-7    3.6e-7    1.8e-6          3.2e-9
//         layer 2 (T40 N256 F512 H256) 4.1e-7   3.6e-7    1.8e-6          5.5e-10
//         recipe training step         -         -         8.9e-7          3.8e-9
//   tf32  layer 1                      3.6e-4    3.9e-4    1.0e-3          4.6e-8
//         layer 2                      3.8e-4    3.9e-4    4.4e-4          3.2e-6
//         recipe training step         -         -         5.0e-4          4.7e-8
//   bf16  layer 1                      2.9e-3    3.1e-3    1.3e-2          2.8e-6
//         layer 2                      3.2e-3    3.1e-3    4.1e-3          8.6e-6
//         recipe training step         -         -         4.0e-3          6.8e-7
//
// The CI test's smaller shapes give (max over its ops): tf32 2.7e-4, 4.7e-4,
// 1.1e-3, 8.2e-7; bf16 2.1e-3, 3.2e-3, 9.9e-3, 5.3e-6. The largest weight
// gradient error in both reduced modes is layer 1's dW through the classic
// path's GEMV over rounded x and gate gradients (the fused path's partial sums
// keep it in FP32).

#include "nocturne/backend.hpp"

namespace nocturne::inline v0::test::envelopes {

enum class Kind {
  forward,          // h, c, activated gates, logits
  backward,         // gate gradients, dh / dx carried down
  weight_gradient,  // dW, dR, db of both layers, the dense layers' gradients
  loss,             // the loss sum of a step
};
inline constexpr int kKinds = 4;

inline const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::forward: return "forward";
    case Kind::backward: return "backward";
    case Kind::weight_gradient: return "weight_gradient";
    case Kind::loss: return "loss";
  }
  return "?";
}

struct Envelope {
  double bound[kKinds];  // by Kind
  double operator[](Kind kind) const { return bound[int(kind)]; }
};

//                               forward  backward  weight_gradient  loss
inline constexpr Envelope kFp32{{1e-5, 1e-5, 1e-5, 1e-5}};
inline constexpr Envelope kTf32{{2e-3, 2e-3, 5e-3, 2e-5}};
inline constexpr Envelope kBf16{{2e-2, 2e-2, 5e-2, 5e-5}};

inline const Envelope& for_mode(MathMode mode) {
  switch (mode) {
    case MathMode::tf32: return kTf32;
    case MathMode::bf16: return kBf16;
    case MathMode::strict_fp32: break;
  }
  return kFp32;
}

}  // namespace nocturne::test::envelopes
