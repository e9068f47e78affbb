//===- stream-read.cpp - memory bandwidth baseline for decode benchmarks --===//
//
// Reads a buffer of the given size (the model's weight bytes) once per round
// with N threads and reports GB/s: the same-run bandwidth limit that decode
// speed is compared against (bench/run-decode.sh).
//
//===----------------------------------------------------------------------===//

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: stream-read BYTES [THREADS] [ROUNDS]\n");
    return 2;
  }
  size_t bytes = std::strtoull(argv[1], nullptr, 10);
  int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  size_t n = bytes / sizeof(float);
  std::vector<float> data(n, 1.0f);
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < rounds; ++r) {
    std::vector<float> partial(threads, 0);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        size_t lo = n * t / threads, hi = n * (t + 1) / threads;
        float acc[16] = {};
        for (size_t i = lo; i + 16 <= hi; i += 16)
          for (int j = 0; j < 16; ++j)
            acc[j] += data[i + j];
        float s = 0;
        for (float a : acc)
          s += a;
        partial[t] = s;
      });
    for (auto &th : pool)
      th.join();
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    for (float p : partial)
      sink = sink + p;
    best = std::max(best, bytes / secs / 1e9);
  }
  std::printf("%.2f\n", best);
  return sink == -1.0f;
}
