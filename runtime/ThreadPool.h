//===- ThreadPool.h - the runtime's worker threads (internal) ---*- C++ -*-===//
//
// The kernels (dense projections, sparse FFN blocks) share one small pool
// of persistent threads, sized by setNumThreads (Abi.h).
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_THREADPOOL_H
#define ACTSPARSE_RUNTIME_THREADPOOL_H

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace actsparse::runtime {

/// A fixed set of worker threads running one parallel-for at a time.
class ThreadPool {
public:
  explicit ThreadPool(int threads) { resize(threads); }
  ~ThreadPool() { stop(); }

  int size() const { return int(workers_.size()) + 1; }

  void resize(int threads) {
    stop();
    done_.store(false);
    for (int i = 1; i < std::max(1, threads); ++i)
      workers_.emplace_back(
          [this, i, g = generation_.load()] { work(i, g); });
  }

  /// Runs fn(t) for t in [0, size()), the caller taking t = 0.
  ///
  /// Decode calls the pool for every projection, tens of microseconds
  /// apart, and waking a sleeping thread costs about as much as the work.
  /// So workers and the caller first spin for a while (kSpin pauses, a
  /// few hundred microseconds) before they sleep on a condition variable.
  void run(const std::function<void(int)> &fn) {
    if (workers_.empty()) {
      fn(0);
      return;
    }
    task_.store(&fn, std::memory_order_relaxed);
    pending_.store(workers_.size(), std::memory_order_relaxed);
    {
      // Under the lock, so that a worker about to sleep sees it.
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    fn(0);
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < kSpin) {
        pause();
        continue;
      }
      std::unique_lock<std::mutex> lock(mu_);
      doneCv_.wait(lock, [&] {
        return pending_.load(std::memory_order_acquire) == 0;
      });
      break;
    }
  }

private:
  static constexpr int kSpin = 1 << 14;

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
  }

  /// `seen` is the generation current when the worker started: it only runs
  /// tasks posted after that.
  void work(int index, uint64_t seen) {
    while (true) {
      uint64_t g = generation_.load(std::memory_order_acquire);
      for (int spin = 0; g == seen && spin < kSpin &&
                         !done_.load(std::memory_order_relaxed);
           ++spin) {
        pause();
        g = generation_.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return done_.load() || generation_.load() != seen;
        });
        g = generation_.load(std::memory_order_acquire);
      }
      if (done_.load())
        return;
      seen = g;
      (*task_.load(std::memory_order_relaxed))(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);
        doneCv_.notify_one();
      }
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.store(true);
    }
    cv_.notify_all();
    for (auto &w : workers_)
      w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, doneCv_;
  std::atomic<const std::function<void(int)> *> task_{nullptr};
  std::atomic<size_t> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> done_{false};
};

/// Products of fewer multiply-adds (M N K) run on the calling thread: below
/// this, waking the pool costs more than it saves (measured on SmolLM2's
/// 576 x 192 projections and up, 2 threads).
constexpr int64_t kMinPooledWork = 1 << 16;

/// The pool every kernel uses.
ThreadPool &pool();

/// Runs fn(n0, n1) over slices of the N output columns of an M x K x N
/// product (decode: of every weight row), one contiguous slice per thread
/// of the pool, the same from call to call, so that a thread's weights and
/// outputs stay in its cache when they fit. Slices are multiples of 16
/// columns, so threads never share a cache line of a float output and
/// slices start on GEMM strips; products below kMinPooledWork run on the
/// calling thread. (Slices taken in turn, four per thread, were measured
/// and not kept: no faster end to end, and up to 2x slower on products
/// whose weights stay in cache, as their slices moved between cores.)
void forColumnSlices(int64_t M, int64_t N, int64_t K,
                     const std::function<void(int64_t, int64_t)> &fn);

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_THREADPOOL_H
