// Recorded work on the CUDA backend: record() (one stream) and
// record_program() (a step program on two branches), both captured into a
// CUDA graph unless CudaOptions::graphs is off, plus the phase timing of work
// that runs eagerly.
//
// Every recorded piece of work runs once eagerly first and is captured at its
// second replay: so every kernel and every GEMM shape it uses has been
// launched (and loaded, and planned) before any capture, and the first replay
// already checks what the capture would refuse (the backend refuses
// transfers, waits and allocations inside recorded work either way).
//
// A program's branches: branch 0 runs on the backend's stream, branch 1 on a
// second stream. Each run forks branch 1 from branch 0 (an event), turns every
// `after` edge between branches into an event recorded after the producer and
// waited for before the consumer, and joins branch 1 back into branch 0 at
// the end, so what follows on the backend's stream (reading the loss, say)
// sees all of it. Inside a capture those events become the graph's edges.

#include <map>
#include <string>

#include "cuda/cuda_backend.hpp"
#include "cuda/phase_name.hpp"
#include "nocturne/error.hpp"

namespace nocturne::inline v0::cuda {
namespace {

// Work kept and run call by call at every replay (no graph): the cuDNN path,
// and CudaOptions::graphs == false.
class EagerReplay final : public Replayable {
 public:
  explicit EagerReplay(std::function<void()> work) : work_(std::move(work)) {}
  void replay() override { work_(); }

 private:
  std::function<void()> work_;
};

// Runs `issue` eagerly at the first replay, captures it into a graph at the
// second, and launches that graph from then on.
class CapturedReplay final : public Replayable {
 public:
  CapturedReplay(CudaBackend& backend, std::function<void()> issue)
      : backend_(backend), issue_(std::move(issue)) {}

  void replay() override {
    if (runs_++ == 0) {
      backend_.begin_recorded_work();
      try {
        issue_();
      } catch (...) {
        backend_.end_recorded_work();
        throw;
      }
      backend_.end_recorded_work();
      return;
    }
    if (!exec_.get()) {
      backend_.begin_capture();
      try {
        issue_();
      } catch (...) {
        backend_.end_capture(true);
        throw;
      }
      graph_ = backend_.end_capture(false);
      cudaGraphExec_t raw_exec = nullptr;
      NOCTURNE_CUDA_CHECK(cudaGraphInstantiate(&raw_exec, graph_.get(), 0));
      exec_ = GraphExec(raw_exec);
    }
    NOCTURNE_CUDA_CHECK(cudaGraphLaunch(exec_.get(), backend_.stream()));
    NOCTURNE_CHECK_LAUNCH("recorded graph", backend_.launch());
  }

 private:
  CudaBackend& backend_;
  std::function<void()> issue_;
  int runs_ = 0;
  Graph graph_;
  GraphExec exec_;
};

// A step program issued on the backend's branches with events for the edges
// between them (see the file comment).
class ProgramIssuer {
 public:
  ProgramIssuer(CudaBackend& backend, std::vector<ProgramOp> ops) : backend_(backend), ops_(std::move(ops)) {
    branch_of_.resize(ops_.size());
    for (std::size_t k = 0; k < ops_.size(); ++k) {
      const ProgramOp& op = ops_[k];
      if (op.branch != 0 && op.branch != 1)
        throw ConfigError("step program: op " + std::to_string(k) + " (" + op.name + ") is on branch " +
                          std::to_string(op.branch) + "; branches are 0 and 1");
      if (!op.run) throw ConfigError("step program: op " + std::to_string(k) + " (" + op.name + ") has no work");
      branch_of_[k] = backend.wavefront() ? op.branch : 0;
      for (std::size_t d : op.after) {
        if (d >= k)
          throw ConfigError("step program: op " + std::to_string(k) + " (" + op.name + ") waits for op " +
                            std::to_string(d) + ", which does not come before it");
        if (branch_of_[d] != branch_of_[k] && !done_.count(d)) done_.emplace(d, make_event());
      }
    }
    fork_ = make_event();
    join_ = make_event();
  }

  void issue() {
    backend_.set_branch(0);
    const cudaStream_t stream0 = backend_.launch().stream;
    backend_.set_branch(1);
    const cudaStream_t stream1 = backend_.launch().stream;
    NOCTURNE_CUDA_CHECK(cudaEventRecord(fork_.get(), stream0));
    NOCTURNE_CUDA_CHECK(cudaStreamWaitEvent(stream1, fork_.get(), 0));
    try {
      for (std::size_t k = 0; k < ops_.size(); ++k) {
        const ProgramOp& op = ops_[k];
        backend_.set_branch(branch_of_[k]);
        const cudaStream_t stream = backend_.launch().stream;
        for (std::size_t d : op.after)
          if (branch_of_[d] != branch_of_[k]) NOCTURNE_CUDA_CHECK(cudaStreamWaitEvent(stream, done_.at(d).get(), 0));
        backend_.time_op_begin();
        op.run();
        backend_.time_op_end(op.name);
        if (const auto it = done_.find(k); it != done_.end())
          NOCTURNE_CUDA_CHECK(cudaEventRecord(it->second.get(), stream));
      }
    } catch (...) {
      backend_.set_branch(0);
      throw;
    }
    NOCTURNE_CUDA_CHECK(cudaEventRecord(join_.get(), stream1));
    NOCTURNE_CUDA_CHECK(cudaStreamWaitEvent(stream0, join_.get(), 0));
    backend_.set_branch(0);
  }

 private:
  CudaBackend& backend_;
  std::vector<ProgramOp> ops_;
  std::vector<int> branch_of_;
  std::map<std::size_t, Event> done_;  // events after the ops another branch waits for
  Event fork_, join_;
};

Event make_timing_event() {
  cudaEvent_t e = nullptr;
  NOCTURNE_CUDA_CHECK(cudaEventCreate(&e));
  return Event(e);
}


}  // namespace

void CudaBackend::begin_recorded_work() {
  require_not_recording("record");
  recording_ = true;
}

void CudaBackend::end_recorded_work() { recording_ = false; }

void CudaBackend::begin_capture() {
  require_not_recording("record");
  NOCTURNE_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
  recording_ = true;
  capturing_ = true;
}

Graph CudaBackend::end_capture(bool failed) {
  recording_ = false;
  capturing_ = false;
  set_branch(0);
  cudaGraph_t raw_graph = nullptr;
  if (failed) {
    cudaStreamEndCapture(stream(), &raw_graph);
    if (raw_graph) cudaGraphDestroy(raw_graph);
    cudaGetLastError();  // the capture's error is the one being thrown
    return Graph();
  }
  NOCTURNE_CUDA_CHECK(cudaStreamEndCapture(stream(), &raw_graph));
  return Graph(raw_graph);
}

std::unique_ptr<Replayable> CudaBackend::record(std::function<void()> work) {
  if (!work) throw ConfigError("record: no work given");
  require_not_recording("record");
  // The cuDNN path allocates on first use and is not known to be capturable:
  // its steps run eagerly.
  if (cudnn_lstm_ || !graphs_) return std::make_unique<EagerReplay>(std::move(work));
  return std::make_unique<CapturedReplay>(*this, std::move(work));
}

std::unique_ptr<Replayable> CudaBackend::record_program(std::vector<ProgramOp> program) {
  require_not_recording("record_program");
  auto issuer = std::make_shared<ProgramIssuer>(*this, std::move(program));
  if (!graphs_)
    return std::make_unique<EagerReplay>([this, issuer] {
      begin_recorded_work();
      try {
        issuer->issue();
      } catch (...) {
        end_recorded_work();
        throw;
      }
      end_recorded_work();
    });
  return std::make_unique<CapturedReplay>(*this, [issuer] { issuer->issue(); });
}

// ---- phase timing ----------------------------------------------------------------

void CudaBackend::set_phase_timing(bool on) {
  if (!on) close_phase_span();
  phase_timing_ = on;
}

void CudaBackend::mark_phase(const char* phase) {
  if (!phase_timing_ || capturing_) return;
  close_phase_span();
  if (!phase || !*phase) return;  // an empty name only ends the open phase
  open_phase_ = phase;
  open_phase_begin_ = make_timing_event();
  NOCTURNE_CUDA_CHECK(cudaEventRecord(open_phase_begin_.get(), stream()));
}

void CudaBackend::close_phase_span() {
  if (open_phase_.empty()) return;
  TimedSpan span{open_phase_, std::move(open_phase_begin_), make_timing_event()};
  NOCTURNE_CUDA_CHECK(cudaEventRecord(span.end.get(), stream()));
  spans_.push_back(std::move(span));
  open_phase_.clear();
}

void CudaBackend::time_op_begin() {
  if (!phase_timing_ || capturing_) return;
  op_begin_ = make_timing_event();
  NOCTURNE_CUDA_CHECK(cudaEventRecord(op_begin_.get(), launch().stream));
}

void CudaBackend::time_op_end(const std::string& op_name) {
  if (!phase_timing_ || capturing_ || !op_begin_.get()) return;
  TimedSpan span{phase_of(op_name), std::move(op_begin_), make_timing_event()};
  NOCTURNE_CUDA_CHECK(cudaEventRecord(span.end.get(), launch().stream));
  spans_.push_back(std::move(span));
}

std::vector<PhaseTime> CudaBackend::phase_times() {
  close_phase_span();
  synchronize();
  std::vector<PhaseTime> times;
  std::map<std::string, std::size_t> index;
  for (const TimedSpan& span : spans_) {
    float ms = 0;
    NOCTURNE_CUDA_CHECK(cudaEventElapsedTime(&ms, span.begin.get(), span.end.get()));
    auto [it, added] = index.emplace(span.phase, times.size());
    if (added) times.push_back(PhaseTime{span.phase, 0.0, 0});
    times[it->second].ms += double(ms);
    times[it->second].spans += 1;
  }
  spans_.clear();
  return times;
}

}  // namespace nocturne::cuda
