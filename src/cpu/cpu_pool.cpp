// Worker threads kept between calls, for the short parallel GEMMs of
// generation: starting and joining a std::thread costs about 45 us here, and
// a note of the window predictor ran three such GEMMs of 0.05-0.3 ms each.
// Idle workers sleep on a futex (std::atomic::wait): they spin briefly first,
// as the next GEMM of a note follows within microseconds, and then take no
// core from anyone.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "cpu/cpu_kernels.hpp"

namespace nocturne::inline v0::cpu {
namespace {

constexpr int kSpins = 4000;  // polls of the generation before sleeping (a few microseconds)

class WorkerPool {
 public:
  ~WorkerPool() {
    {
      const std::lock_guard<std::mutex> lock(call_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
      generation_.notify_all();
    }
    for (std::thread& t : workers_) t.join();
  }

  // False where the pool is busy (a call from another thread, or from inside a task).
  bool run(int threads, const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> lock(call_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    while (int(workers_.size()) < threads - 1) {
      // The generation it has seen is this one: the call below is its first task.
      const int index = int(workers_.size()) + 1;
      const std::uint64_t seen = generation_.load(std::memory_order_relaxed);
      workers_.emplace_back([this, index, seen] { work(index, seen); });
    }
    task_ = &fn;
    active_ = threads;
    pending_.store(threads - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    fn(0);
    for (int spin = 0; pending_.load(std::memory_order_acquire) > 0; ++spin) {
      if (spin < kSpins) continue;
      const int left = pending_.load(std::memory_order_acquire);
      if (left > 0) pending_.wait(left, std::memory_order_acquire);
    }
    task_ = nullptr;
    return true;
  }

 private:
  void work(int index, std::uint64_t seen) {
    for (;;) {
      std::uint64_t now = generation_.load(std::memory_order_acquire);
      for (int spin = 0; now == seen && spin < kSpins; ++spin) now = generation_.load(std::memory_order_acquire);
      if (now == seen) {
        generation_.wait(seen, std::memory_order_acquire);
        continue;
      }
      seen = now;
      if (stop_) return;
      if (index < active_) {
        (*task_)(index);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
      }
    }
  }

  std::mutex call_;  // one parallel call at a time
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int)>* task_ = nullptr;
  int active_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace

void parallel_run(int threads, const std::function<void(int)>& fn) {
  if (threads <= 1) return fn(0);
  static WorkerPool pool;
  if (pool.run(threads, fn)) return;
  std::vector<std::thread> spawned;
  for (int t = 1; t < threads; ++t) spawned.emplace_back(fn, t);
  fn(0);
  for (std::thread& t : spawned) t.join();
}

}  // namespace nocturne::cpu
