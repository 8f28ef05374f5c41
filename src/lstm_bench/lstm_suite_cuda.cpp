// The CUDA mode of the LSTM benchmark (lstm_suite.cpp has the CPU mode and the
// dispatch): ours and cuDNN timed with CUDA events. Compiled into the CUDA
// module (libnocturne-cuda.so), which calls its own backend factory, and
// reached through the module's function table (core/cuda_module.hpp).

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "kernels/persistent_kernels.hpp"
#include "lstm_bench/lstm_layer.hpp"
#if NOCTURNE_WITH_CUDNN
#include "cudnn/cudnn_lstm.hpp"
#endif
#include "nocturne/cuda.hpp"
#include "nocturne/error.hpp"
#include "nocturne/fused_ops.hpp"
#include "math/gate_layout.hpp"

namespace nocturne::inline v0::bench {

namespace {

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw DeviceError(std::string(what) + ": " + cudaGetErrorName(e) + " " + cudaGetErrorString(e));
}

// CUDA events on the legacy default stream, which orders with the backend's
// blocking stream and is the stream the cuDNN objects here use.
Stats time_gpu(int warmup, int reps, const Step& setup, const Step& work) {
  for (int i = 0; i < warmup; ++i) {
    if (setup) setup(i);
    work(i);
  }
  std::vector<cudaEvent_t> ev(2 * std::size_t(reps));
  for (cudaEvent_t& e : ev) cuda_ok(cudaEventCreate(&e), "cudaEventCreate");
  for (int i = 0; i < reps; ++i) {
    if (setup) setup(i);
    cuda_ok(cudaEventRecord(ev[2 * std::size_t(i)], nullptr), "cudaEventRecord");
    work(i);
    cuda_ok(cudaEventRecord(ev[2 * std::size_t(i) + 1], nullptr), "cudaEventRecord");
  }
  cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    float t = 0;
    cuda_ok(cudaEventElapsedTime(&t, ev[2 * std::size_t(i)], ev[2 * std::size_t(i) + 1]), "cudaEventElapsedTime");
    ms.push_back(double(t));
  }
  for (cudaEvent_t e : ev) cudaEventDestroy(e);
  return summarize(ms);
}

// The persistent kernels on one layer, from gate-interleaved weights: the
// forward (lstm_sequence_forward), the backward as the model runs it
// (lstm_sequence_backward, then the GEMMs dx = dgates W^T and dR = h^T
// dgates, the partial sums reduced to db and, F == 1, dW; F > 1: dW = x^T
// dgates) and both, timed as time_phases times ours; checked on h, dx, dW,
// dR and db against ours in fp32 (by 1e-4 in fp32, by ours/tf32's 5e-2 with
// tensor cores). The note says which plans ran (or why the fused steps did):
// every mode has a persistent forward and backward kernel (TF32 and BF16 on
// tensor cores).
void time_persistent(std::vector<Row>& rows, Row row, BasicBackend<float>& be, const LstmShape& s, const HostData& d,
                     const Outputs<float>& want, int warmup, int reps, kernels::GemmOperands operands) {
  const std::size_t hidden = std::size_t(s.hidden), input = std::size_t(s.input), width = 4 * hidden;
  const std::size_t tn = std::size_t(s.steps) * std::size_t(s.batch);
  const int partial_blocks = be.lstm_partial_blocks(s.batch), cols = int(width);
  std::vector<float> w(d.w.size()), r(d.r.size()), b(d.b.size());
  math::interleave_gates(std::span<const float>(d.w), std::span<float>(w), input, hidden);
  math::interleave_gates(std::span<const float>(d.r), std::span<float>(r), hidden, hidden);
  math::interleave_gates(std::span<const float>(d.b), std::span<float>(b), 1, hidden);
  Buffer<float> dw = be.upload(std::span<const float>(w)), dr = be.upload(std::span<const float>(r)),
                db = be.upload(std::span<const float>(b));
  Buffer<float> x[2] = {be.upload(std::span<const float>(d.x[0])), be.upload(std::span<const float>(d.x[1]))};
  Buffer<float> dh[2] = {be.upload(std::span<const float>(d.dh[0])), be.upload(std::span<const float>(d.dh[1]))};
  Buffer<float> h = be.allocate<float>(tn * hidden), c = be.allocate<float>(tn * hidden),
                gates = be.allocate<float>(tn * width);
  Buffer<float> dgates = be.allocate<float>(tn * width), dc = be.allocate<float>(std::size_t(s.batch) * hidden);
  const std::size_t partials = std::size_t(s.steps) * std::size_t(partial_blocks) * width;
  Buffer<float> db_partial = be.allocate<float>(partials), dw_partial = be.allocate<float>(partials);
  Buffer<float> grad_x = be.allocate<float>(tn * input), grad_w = be.allocate<float>(input * width),
                grad_r = be.allocate<float>(hidden * width), grad_b = be.allocate<float>(width);
  LstmSequenceForward<float> q;
  q.steps = s.steps;
  q.batch = s.batch;
  q.input = s.input;
  q.hidden = s.hidden;
  q.w = dw.data();
  q.r = dr.data();
  q.b = db.data();
  q.h = h.data();
  q.c = c.data();
  q.gates = gates.data();
  LstmSequenceBackward<float> qb;
  qb.steps = s.steps;
  qb.batch = s.batch;
  qb.hidden = s.hidden;
  qb.r = dr.data();
  qb.gates = gates.data();
  qb.c = c.data();
  qb.dc = dc.data();
  qb.dgates = dgates.data();
  qb.db_partial = db_partial.data();
  auto forward = [&](int i) {
    q.x = x[i & 1].data();
    be.lstm_sequence_forward(q);
  };
  auto backward = [&](int i) {
    qb.dh = dh[i & 1].data();
    if (s.input == 1) {
      qb.x = x[i & 1].data();
      qb.dw_partial = dw_partial.data();
    }
    be.lstm_sequence_backward(qb);
    const int k = int(tn);
    be.gemm(Transpose::no, Transpose::yes, k, s.input, cols, 1.0f, dgates.data(), cols, dw.data(), cols, 0.0f,
            grad_x.data(), s.input);
    if (s.steps > 1) {
      const int recurrent_rows = (s.steps - 1) * s.batch;
      be.gemm(Transpose::yes, Transpose::no, s.hidden, cols, recurrent_rows, 1.0f, h.data(), s.hidden,
              dgates.data() + std::size_t(s.batch) * width, cols, 0.0f, grad_r.data(), cols);
    } else {
      be.fill(grad_r.data(), hidden * width, 0.0f);
    }
    be.lstm_partials_reduce(s.steps, partial_blocks, cols, db_partial.data(), grad_b.data());
    if (s.input == 1)
      be.lstm_partials_reduce(s.steps, partial_blocks, cols, dw_partial.data(), grad_w.data());
    else
      be.gemm(Transpose::yes, Transpose::no, s.input, cols, k, 1.0f, x[i & 1].data(), s.input, dgates.data(), cols,
              0.0f, grad_w.data(), cols);
  };
  const kernels::PersistentPlan plan = kernels::persistent_device_plan(s.batch, s.input, s.hidden, operands);
  const kernels::PersistentPlan back = kernels::persistent_device_backward_plan(s.batch, s.hidden, operands);
  auto describe = [](const kernels::PersistentPlan& p) {
    return p.fits() ? std::to_string(p.blocks) + " blocks of " + std::to_string(p.units) + " units, " +
                          std::to_string(p.shared.total) + " B shared, " + std::to_string(p.resident_per_sm) +
                          " resident a SM, clusters of " + std::to_string(p.cluster) + " (through L2)"
                    : std::string("fused steps: ") + kernels::persistent_refusal_text(p.refusal);
  };
  row.note = "forward " + describe(plan) + "; backward " + describe(back);
  forward(0);
  backward(0);
  // Ours' layout: Keras' gate blocks.
  auto keras = [&](const Buffer<float>& interleaved, std::size_t rows_of) {
    const std::vector<float> v = be.download(interleaved);
    std::vector<float> out(v.size());
    math::deinterleave_gates(std::span<const float>(v), std::span<float>(out), rows_of, hidden);
    return out;
  };
  const Outputs<float> got{be.download(h), be.download(grad_x), keras(grad_w, input), keras(grad_r, hidden),
                           keras(grad_b, 1)};
  row.check_err = max_error(got, want);
  const bool strict = operands == kernels::GemmOperands::fp32;
  if (!(row.check_err < (strict ? 1e-4 : 5e-2))) row.status = "mismatch";
  time_phases(rows, row, &time_gpu, warmup, reps, forward, backward);
}

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

void run_cuda(const LstmBenchOptions& o, Meta& meta, std::vector<Row>& rows) {
  const CudaStatus status = cuda::module_cuda_status();
  const CudaDeviceInfo& dev = status.devices.at(0);
  meta.set("device", "cuda:0 " + dev.name + " (compute " + std::to_string(dev.compute_major) + "." +
                         std::to_string(dev.compute_minor) + ", " + std::to_string(dev.multiprocessors) + " SMs, " +
                         std::to_string(dev.memory_bytes >> 20) + " MiB)");
  meta.set("driver", version_text(status.driver_version));
  meta.set("cuda_runtime", version_text(status.runtime_version));
#if NOCTURNE_WITH_CUDNN
  meta.set("cudnn", cudnn::version_text(cudnn::loaded_version()) + " (compiled against " +
                        cudnn::version_text(cudnn::compiled_version()) + ")");
#else
  meta.set("cudnn", "not built (NOCTURNE_WITH_CUDNN off): ours only");
#endif
  CudaOptions fp32_options, tf32_options;
  tf32_options.math = MathMode::tf32;
  auto fp32 = cuda::module_make_cuda_backend(fp32_options);
  auto tf32 = cuda::module_make_cuda_backend(tf32_options);
  // The persistent path in each mode (tensor cores for tf32 and bf16).
  struct PersistentVariant {
    MathMode math;
    kernels::GemmOperands operands;
    const char* name;
  };
  const PersistentVariant persistent_variants[] = {
      {MathMode::strict_fp32, kernels::GemmOperands::fp32, "fp32"},
      {MathMode::tf32, kernels::GemmOperands::tf32, "tf32"},
      {MathMode::bf16, kernels::GemmOperands::bf16, "bf16"},
  };
  std::unique_ptr<Backend> persistent[3];
  for (int i = 0; i < 3; ++i) {
    CudaOptions persistent_options;
    persistent_options.lstm_impl = LstmImpl::persistent;
    persistent_options.math = persistent_variants[i].math;
    persistent[i] = cuda::module_make_cuda_backend(persistent_options);
  }
  meta.set("backend_fp32", fp32->name());
  meta.set("backend_tf32", tf32->name());

  for (const Job& job : jobs(o)) {
    const LstmShape& s = job.shape;
    const int reps = job.recipe ? (o.reps ? o.reps : o.tiny ? 3 : 100) : (o.sweep_reps ? o.sweep_reps : 30);
    const int warmup = o.warmup >= 0 ? o.warmup : 5;
    std::printf("%s %s: %d reps\n", job.label.c_str(), shape_text(s).c_str(), reps);
    std::fflush(stdout);
    const HostData d = make_data(s, data_seed(s));
    Row base;
    base.device = "cuda";
    base.label = job.label;
    base.shape = s;
    base.status = "ok";

    // Ours, strict fp32: the check reference for every other variant.
    Layer<float> ours(*fp32, s, d);
    ours.forward(0);
    ours.backward(0);
    const Outputs<float> want = ours.outputs();
    {
      Row row = base;
      row.impl = "ours";
      row.variant = "ours/fp32";
      row.math = "fp32";
      row.check_err = 0;
      time_ours(rows, row, ours, &time_gpu, warmup, reps, false);
    }
    {
      Layer<float> ours_tf32(*tf32, s, d);
      ours_tf32.forward(0);
      ours_tf32.backward(0);
      Row row = base;
      row.impl = "ours";
      row.variant = "ours/tf32";
      row.math = "tf32";
      row.check_err = max_error(ours_tf32.outputs(), want);
      if (!(row.check_err < 5e-2)) row.status = "mismatch";
      time_ours(rows, row, ours_tf32, &time_gpu, warmup, reps, false);
    }
    for (int i = 0; i < 3; ++i) {
      Row row = base;
      row.impl = "ours";
      row.variant = std::string("persistent/") + persistent_variants[i].name;
      row.math = persistent_variants[i].name;
      time_persistent(rows, row, *persistent[i], s, d, want, warmup, reps, persistent_variants[i].operands);
    }

#if NOCTURNE_WITH_CUDNN
    // cuDNN on the fp32 backend's buffers, on the legacy default stream.
    std::vector<cudnn::Math> maths = {cudnn::Math::fma, cudnn::Math::default_math};
    if (job.recipe) maths.assign(cudnn::kAllMaths.begin(), cudnn::kAllMaths.end());
    for (cudnn::Algo algo : kCudnnAlgos) {
      for (cudnn::Math math : maths) {
        Row row = base;
        row.impl = "cudnn";
        row.variant = std::string("cudnn/") + nocturne::to_string(algo) + "/" + cudnn::to_string(math);
        row.math = cudnn::to_string(math);
        fp32->synchronize();
        try {
          cudnn::CudnnLstm lstm(s, algo, math, nullptr);
          if (algo == cudnn::Algo::persist_dynamic) row.build_ms = lstm.build_ms();
          lstm.set_weights(ours.w.data(), ours.r.data(), ours.b.data());
          lstm.forward(ours.x[0].data(), ours.h.data());
          lstm.backward(ours.x[0].data(), ours.h.data(), ours.dh[0].data(), ours.dx.data());
          lstm.weight_gradients(ours.dw.data(), ours.dr.data(), ours.db.data());
          cuda_ok(cudaDeviceSynchronize(), "cuDNN check run");
          row.check_err = max_error(ours.outputs(), want);
          const double tol = cudnn::uses_tensor_cores(math) ? 5e-2 : 1e-4;
          if (!(row.check_err < tol)) {
            row.status = "mismatch";
            row.note =
                "differs from ours/fp32 by " + number_text(row.check_err) + " (tolerance " + number_text(tol) + ")";
          }
          auto fwd = [&](int i) { lstm.forward(ours.x[i & 1].data(), ours.h.data()); };
          auto bwd = [&](int i) {
            lstm.backward(ours.x[i & 1].data(), ours.h.data(), ours.dh[i & 1].data(), ours.dx.data());
          };
          time_phases(rows, row, &time_gpu, warmup, reps, fwd, bwd);
        } catch (const NotSupportedError& e) {
          row.phase = "all";
          row.status = "not_supported";
          row.note = e.what();
          rows.push_back(row);
          cudaGetLastError();
        } catch (const DeviceError& e) {
          row.phase = "all";
          row.status = "failed";
          row.note = e.what();
          rows.push_back(row);
          cudaGetLastError();
          std::fprintf(stderr, "FAILED %s %s: %s\n", row.variant.c_str(), shape_text(s).c_str(), e.what());
        }
      }
    }
#endif
  }
}

}  // namespace nocturne::bench
