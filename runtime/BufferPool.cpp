//===- BufferPool.cpp - recycled buffers for generated code ---------------===//

#include "actsparse/runtime/BufferPool.h"

#include <algorithm>
#include <cstdlib>

namespace actsparse::runtime {

/// In front of every buffer, ending where the buffer starts.
struct BufferPool::Header {
  static constexpr uint64_t kMagic = 0x6c6f6f7066667562; // "bufpool"
  static constexpr unsigned kUnpooled = ~0u;
  uint64_t magic;
  Header *next;       ///< on a free list
  void *base;         ///< what the system returned
  unsigned sizeClass; ///< kUnpooled: allocated for its own size
  unsigned alignment;
};

static_assert(sizeof(BufferPool::Header) <= 64);

BufferPool::BufferPool(size_t largest, size_t keptBytes)
    : largest_(largest), keepLimit_(keptBytes) {}

BufferPool::~BufferPool() { trim(); }

unsigned BufferPool::sizeClass(size_t size) {
  if (size <= 64)
    return 0;
  // size in (2^p, 2^(p+1)]: four steps of 2^(p-2).
  unsigned p = 63 - __builtin_clzll(uint64_t(size - 1));
  size_t step = size_t(1) << (p - 2);
  unsigned quarter = unsigned((size - 1 - (size_t(1) << p)) / step);
  return 1 + (p - 6) * 4 + quarter;
}

size_t BufferPool::classCapacity(unsigned sizeClass) {
  if (sizeClass == 0)
    return 64;
  unsigned p = (sizeClass - 1) / 4 + 6, quarter = (sizeClass - 1) % 4;
  return (size_t(1) << p) + (quarter + 1) * (size_t(1) << (p - 2));
}

BufferPool::Header *BufferPool::headerOf(void *buffer) {
  return reinterpret_cast<Header *>(static_cast<char *>(buffer) -
                                    sizeof(Header));
}

void *BufferPool::allocate(size_t size, size_t alignment) {
  if (alignment & (alignment - 1))
    return nullptr;
  alignment = std::max<size_t>(alignment, 16);
  bool pooled = size <= largest_ && alignment <= 64;
#ifdef __SANITIZE_ADDRESS__
  // Under AddressSanitizer every buffer is its own allocation of the exact
  // size, so that a write past a tensor's end is still reported.
  pooled = false;
#endif
  unsigned cls = pooled ? sizeClass(size) : Header::kUnpooled;
  {
    std::lock_guard<SpinLock> lock(mutex_);
    ++stats_.allocations;
    if (pooled) {
      if (free_.size() <= cls)
        free_.resize(cls + 1);
      FreeList &list = free_[cls];
      list.lastUse = stats_.allocations;
      if (Header *h = list.head) {
        list.head = h->next;
        stats_.keptBytes -= classCapacity(cls);
        return reinterpret_cast<char *>(h) + sizeof(Header);
      }
    }
    ++stats_.systemAllocations;
  }
  // The header sits in the `room` bytes before the buffer, which keep the
  // buffer aligned as the base is.
  size_t room = std::max<size_t>(alignment, 64);
  size_t capacity = pooled ? classCapacity(cls) : size;
  size_t total = room + capacity;
  if (total < capacity || total + room < total)
    return nullptr; // overflow
  total = (total + room - 1) / room * room;
  void *base = std::aligned_alloc(room, total);
  if (!base)
    return nullptr;
  char *buffer = static_cast<char *>(base) + room;
  Header *h = headerOf(buffer);
  h->magic = Header::kMagic;
  h->next = nullptr;
  h->base = base;
  h->sizeClass = cls;
  h->alignment = unsigned(alignment);
  return buffer;
}

void BufferPool::release(void *buffer) {
  if (!buffer)
    return;
  Header *h = headerOf(buffer);
  if (h->magic != Header::kMagic)
    std::abort(); // not a buffer of the pool: a double or foreign free
  if (h->sizeClass != Header::kUnpooled) {
    Header *evicted = nullptr;
    bool kept = false;
    {
      std::lock_guard<SpinLock> lock(mutex_);
      size_t capacity = classCapacity(h->sizeClass);
      if (stats_.keptBytes + capacity > keepLimit_)
        evicted = evictFor(capacity, h->sizeClass);
      if (stats_.keptBytes + capacity <= keepLimit_) {
        FreeList &list = free_[h->sizeClass];
        h->next = list.head;
        list.head = h;
        stats_.keptBytes += capacity;
        kept = true;
      }
    }
    freeChain(evicted);
    if (kept)
      return;
  }
  h->magic = 0;
  std::free(h->base);
}

BufferPool::Header *BufferPool::evictFor(size_t needed, unsigned keep) {
  Header *chain = nullptr;
  while (stats_.keptBytes + needed > keepLimit_) {
    FreeList *oldest = nullptr;
    for (size_t c = 0; c < free_.size(); ++c)
      if (c != keep && free_[c].head &&
          (!oldest || free_[c].lastUse < oldest->lastUse))
        oldest = &free_[c];
    if (!oldest)
      break;
    size_t capacity = classCapacity(unsigned(oldest - free_.data()));
    while (Header *h = oldest->head) {
      oldest->head = h->next;
      h->next = chain;
      chain = h;
      stats_.keptBytes -= capacity;
    }
  }
  return chain;
}

void BufferPool::freeChain(Header *chain) {
  while (chain) {
    Header *next = chain->next;
    chain->magic = 0;
    std::free(chain->base);
    chain = next;
  }
}

void BufferPool::trim() {
  std::vector<FreeList> lists;
  {
    std::lock_guard<SpinLock> lock(mutex_);
    lists.swap(free_);
    stats_.keptBytes = 0;
  }
  for (FreeList &list : lists)
    freeChain(list.head);
}

BufferPool::Stats BufferPool::stats() const {
  std::lock_guard<SpinLock> lock(mutex_);
  return stats_;
}

BufferPool &generatedCodePool() {
  // Never destroyed: generated code may free buffers during exit.
  static BufferPool *pool = new BufferPool();
  return *pool;
}

} // namespace actsparse::runtime
