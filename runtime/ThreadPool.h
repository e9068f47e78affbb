//===- ThreadPool.h - the runtime's worker threads (internal) ---*- C++ -*-===//
//
// The kernels (dense projections, sparse FFN blocks) share one small pool
// of persistent threads, sized by setNumThreads (Abi.h).
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_THREADPOOL_H
#define ACTSPARSE_RUNTIME_THREADPOOL_H

#include <algorithm>
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
    done_ = false;
    for (int i = 1; i < std::max(1, threads); ++i)
      workers_.emplace_back([this, i, g = generation_] { work(i, g); });
  }

  /// Runs fn(t) for t in [0, size()), the caller taking t = 0.
  void run(const std::function<void(int)> &fn) {
    if (workers_.empty()) {
      fn(0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      task_ = &fn;
      pending_ = workers_.size();
      ++generation_;
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lock(mu_);
    doneCv_.wait(lock, [&] { return pending_ == 0; });
    task_ = nullptr;
  }

private:
  /// `seen` is the generation current when the worker started: it only runs
  /// tasks posted after that.
  void work(int index, uint64_t seen) {
    while (true) {
      const std::function<void(int)> *task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return done_ || generation_ != seen; });
        if (done_)
          return;
        seen = generation_;
        task = task_;
      }
      (*task)(index);
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0)
        doneCv_.notify_one();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    for (auto &w : workers_)
      w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, doneCv_;
  const std::function<void(int)> *task_ = nullptr;
  size_t pending_ = 0;
  uint64_t generation_ = 0;
  bool done_ = false;
};

/// The pool every kernel uses.
ThreadPool &pool();

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_THREADPOOL_H
