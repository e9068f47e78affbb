//===- BufferPoolTest.cpp - recycled buffers of generated code ------------===//
//
// The pool serves a buffer freed earlier when one of the same size class is
// asked for, so a repeated sequence of allocations (a decode step) reaches
// the system only the first time; buffers are aligned as asked and large
// enough, whatever class they come from.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/BufferPool.h"

#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>

using actsparse::runtime::BufferPool;

/// Under AddressSanitizer the pool allocates every buffer exactly and keeps
/// none (BufferPool.cpp), so the reuse it is built for cannot be observed.
#ifdef __SANITIZE_ADDRESS__
#define SKIP_UNDER_ASAN() GTEST_SKIP() << "the pool keeps no buffers under ASan"
#else
#define SKIP_UNDER_ASAN() (void)0
#endif

namespace {

TEST(BufferPool, ClassesHoldTheirSizesWithAtMostAQuarterSpare) {
  unsigned previous = 0;
  for (size_t size = 1; size <= (size_t(1) << 22); size += 1 + size / 97) {
    unsigned cls = BufferPool::sizeClass(size);
    size_t capacity = BufferPool::classCapacity(cls);
    ASSERT_GE(capacity, size) << size;
    if (size > 64) {
      EXPECT_LE(capacity - size, capacity / 4 + 1) << size;
      // The class below would not hold it.
      ASSERT_GT(cls, 0u);
      EXPECT_LT(BufferPool::classCapacity(cls - 1), size) << size;
    }
    EXPECT_GE(cls, previous) << size;
    previous = cls;
  }
  EXPECT_EQ(BufferPool::classCapacity(BufferPool::sizeClass(1000)), 1024u);
}

TEST(BufferPool, RepeatedStepsReuseBuffersAndKeepAlignment) {
  SKIP_UNDER_ASAN();
  BufferPool pool;
  // One "step": live buffers of assorted sizes and alignments, some freed
  // before others are allocated, then all freed.
  const size_t sizes[] = {4, 100, 100, 2048, 3000, 1 << 16, 17, 100};
  const size_t aligns[] = {16, 64, 16, 64, 32, 64, 16, 64};
  auto step = [&]() {
    std::vector<void *> live;
    for (size_t i = 0; i < std::size(sizes); ++i) {
      void *p = pool.allocate(sizes[i], aligns[i]);
      EXPECT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % aligns[i], 0u);
      std::memset(p, int(i), sizes[i]); // all of it is writable
      live.push_back(p);
      if (i == 3) {
        pool.release(live[1]);
        live[1] = nullptr;
      }
    }
    for (void *p : live)
      pool.release(p);
  };
  step();
  BufferPool::Stats first = pool.stats();
  EXPECT_EQ(first.allocations, std::size(sizes));
  for (int i = 0; i < 10; ++i)
    step();
  BufferPool::Stats later = pool.stats();
  EXPECT_EQ(later.allocations, 11 * std::size(sizes));
  EXPECT_EQ(later.systemAllocations, first.systemAllocations);
  EXPECT_GT(later.keptBytes, 0u);
  pool.trim();
  EXPECT_EQ(pool.stats().keptBytes, 0u);
}

TEST(BufferPool, LargeOrOverLimitBuffersGoBackToTheSystem) {
  SKIP_UNDER_ASAN();
  BufferPool pool(/*largest=*/4096, /*keptBytes=*/8192);
  void *big = pool.allocate(1 << 20, 64);
  ASSERT_NE(big, nullptr);
  pool.release(big);
  EXPECT_EQ(pool.stats().keptBytes, 0u);
  void *again = pool.allocate(1 << 20, 64);
  pool.release(again);
  EXPECT_EQ(pool.stats().systemAllocations, 2u);
  // Three 4 KiB buffers freed: two are kept (8 KiB), the third is not.
  void *a = pool.allocate(4096, 64), *b = pool.allocate(4096, 64),
       *c = pool.allocate(4096, 64);
  pool.release(a);
  pool.release(b);
  pool.release(c);
  EXPECT_EQ(pool.stats().keptBytes, 8192u);
  // Alignments above the header's room are honoured too.
  void *wide = pool.allocate(100, 4096);
  ASSERT_NE(wide, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(wide) % 4096, 0u);
  pool.release(wide);
  EXPECT_EQ(pool.allocate(100, 3), nullptr); // not a power of two
}

} // namespace

namespace {

TEST(BufferPool, ClassesNotUsedLatelyMakeRoomForTheCurrentOnes) {
  SKIP_UNDER_ASAN();
  // A prompt's large buffers fill the pool; decode then asks for other
  // sizes. Those must be served from the pool after their first step,
  // not dropped because the pool is full of buffers nobody asks for.
  BufferPool pool(/*largest=*/1 << 20, /*keptBytes=*/64 << 10);
  std::vector<void *> prompt;
  for (int i = 0; i < 8; ++i)
    prompt.push_back(pool.allocate(8 << 10, 64));
  for (void *p : prompt)
    pool.release(p);
  EXPECT_EQ(pool.stats().keptBytes, size_t(64) << 10);
  uint64_t before = pool.stats().systemAllocations;
  for (int step = 0; step < 20; ++step) {
    void *a = pool.allocate(3000, 64), *b = pool.allocate(100, 16);
    pool.release(a);
    pool.release(b);
  }
  // The first step reaches the system; the others reuse its buffers.
  EXPECT_EQ(pool.stats().systemAllocations - before, 2u);
  EXPECT_LE(pool.stats().keptBytes, size_t(64) << 10);
}

} // namespace
