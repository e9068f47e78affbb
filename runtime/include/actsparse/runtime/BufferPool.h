//===- BufferPool.h - recycled buffers for generated code -------*- C++ -*-===//
//
// Generated code allocates a buffer for most intermediate tensors and frees
// it when the tensor dies: decode makes the same few hundred allocations at
// every step (stories260K: 477), and malloc and free had cost about 12 % of
// its decode time. The pool keeps freed buffers on a free list per size
// class and hands them out again, so in the steady state of decode no call
// reaches malloc. Sizes that grow with the position (attention scores) move
// to the next class only every few dozen positions.
//
// Every buffer carries a small header in front of it, so buffers of the pool
// must be returned to it (release), never to free().
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_BUFFERPOOL_H
#define ACTSPARSE_RUNTIME_BUFFERPOOL_H

#include <cstddef>
#include <cstdint>
#include <atomic>
#include <mutex>
#include <vector>

namespace actsparse::runtime {

class BufferPool {
public:
  /// Buffers above `largest` bytes bypass the free lists. At most
  /// `keptBytes` bytes are kept free: beyond that, the free lists of the
  /// size classes used least recently go back to the system (a prompt's
  /// large buffers, once decode needs other sizes), and a freed buffer is
  /// dropped only when no other class holds any.
  explicit BufferPool(size_t largest = size_t(64) << 20,
                      size_t keptBytes = size_t(64) << 20);
  ~BufferPool();
  BufferPool(const BufferPool &) = delete;
  BufferPool &operator=(const BufferPool &) = delete;

  /// A buffer of at least `size` bytes aligned to `alignment` (a power of
  /// two; at least 16 is used); null when the system has no memory.
  void *allocate(size_t size, size_t alignment);
  /// Returns a buffer of allocate(); null is ignored.
  void release(void *buffer);
  /// Gives every kept buffer back to the system.
  void trim();

  struct Stats {
    uint64_t allocations = 0;       ///< calls of allocate()
    uint64_t systemAllocations = 0; ///< of which reached the system
    size_t keptBytes = 0;           ///< bytes on the free lists now
  };
  Stats stats() const;

  /// The size class of `size` bytes and its capacity: four classes per
  /// doubling above 64 bytes, so at most 25 % of a buffer is unused.
  static unsigned sizeClass(size_t size);
  static size_t classCapacity(unsigned sizeClass);

  struct Header;

private:
  static Header *headerOf(void *buffer);

  /// A spin lock: held for a few instructions, almost never contended
  /// (generated code allocates on the calling thread), and a mutex had
  /// cost 2 % of stories260K's decode.
  class SpinLock {
  public:
    void lock() {
      while (flag_.test_and_set(std::memory_order_acquire))
        ;
    }
    void unlock() { flag_.clear(std::memory_order_release); }

  private:
    std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
  };

  /// One size class's free buffers, linked through their headers.
  struct FreeList {
    Header *head = nullptr;
    uint64_t lastUse = 0; ///< stats_.allocations when last asked for
  };
  /// Unlinks the free lists of other classes than `keep`, least recently
  /// used first, until `needed` more bytes fit; returns them chained.
  Header *evictFor(size_t needed, unsigned keep);
  static void freeChain(Header *chain);

  size_t largest_, keepLimit_;
  mutable SpinLock mutex_;
  std::vector<FreeList> free_; ///< per size class
  Stats stats_;
};

/// The pool behind generated code's allocation functions (Abi.h).
BufferPool &generatedCodePool();

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_BUFFERPOOL_H
