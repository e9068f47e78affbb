//===- Abi.cpp - runtime functions called by generated code ---------------===//

#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/BufferPool.h"

#include <atomic>
#include <csetjmp>
#include <malloc.h>
#include <cstdlib>
#include <mutex>

namespace {
/// The first report of one kind since it was last taken: two numbers.
struct Report {
  bool set = false;
  int64_t a = 0, b = 0;

  void put(int64_t x, int64_t y) {
    if (set)
      return; // keep the first report
    set = true;
    a = x;
    b = y;
  }
  bool take(int64_t &x, int64_t &y) {
    if (!set)
      return false;
    set = false;
    x = a;
    y = b;
    return true;
  }
};
thread_local Report gOutOfRange, gMismatch;
/// Where a failed allocation jumps to (runGuarded), and its size.
thread_local std::jmp_buf *gAllocFailure = nullptr;
thread_local uint64_t gFailedBytes = 0;

[[noreturn]] void allocationFailed(size_t size) {
  gFailedBytes = size;
  if (gAllocFailure)
    std::longjmp(*gAllocFailure, 1);
  std::abort(); // generated code called outside runGuarded
}
} // namespace

uint64_t actsparse::runtime::generatedCodeAllocations() {
  return actsparse::runtime::generatedCodePool().stats().allocations;
}

uint64_t actsparse::runtime::generatedCodeSystemAllocations() {
  return actsparse::runtime::generatedCodePool().stats().systemAllocations;
}

void actsparse::runtime::keepTensorsInHeap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

extern "C" void *_mlir_memref_to_llvm_alloc(size_t size) {
  return _mlir_memref_to_llvm_aligned_alloc(16, size);
}

extern "C" void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment,
                                                    size_t size) {
  void *p = actsparse::runtime::generatedCodePool().allocate(size, alignment);
  if (!p)
    allocationFailed(size);
  return p;
}

extern "C" void _mlir_memref_to_llvm_free(void *ptr) {
  actsparse::runtime::generatedCodePool().release(ptr);
}

extern "C" void actsparse_rt_index_out_of_range(int64_t index, int64_t size) {
  gOutOfRange.put(index, size);
}

extern "C" void actsparse_rt_shape_mismatch(int64_t got, int64_t expected) {
  gMismatch.put(got, expected);
}

extern "C" void actsparse_rt_kv_cache_mismatch(int64_t dim, int64_t size,
                                               int64_t needed) {
  actsparse::runtime::reportRuntimeError(
      "the KV cache lent to the model has " + std::to_string(size) +
      " entries in dimension " + std::to_string(dim) + " where the past and "
      "new rows need " + std::to_string(needed) +
      " (the runtime and the graph disagree on the rows a call appends); "
      "nothing was written");
}

extern "C" void actsparse_rt_invalid_reshape(int64_t elements,
                                             int64_t requested) {
  std::string message = "Reshape of a tensor of " + std::to_string(elements) +
                        " elements to a shape ";
  message += requested < 0
                 ? "with a negative, overflowing or uninferable dimension"
                 : "of " + std::to_string(requested) + " elements";
  actsparse::runtime::reportRuntimeError(message + " (the graph computed an "
                                                   "invalid shape)");
}

namespace actsparse::runtime {
bool takeIndexOutOfRange(int64_t &index, int64_t &size) {
  return gOutOfRange.take(index, size);
}

bool takeShapeMismatch(int64_t &got, int64_t &expected) {
  return gMismatch.take(got, expected);
}

namespace {
std::mutex gErrorMutex;
std::string gError;
std::atomic<bool> gErrorSet{false};
} // namespace

void reportRuntimeError(const std::string &message) {
  std::lock_guard<std::mutex> lock(gErrorMutex);
  if (gErrorSet.load())
    return;
  gError = message;
  gErrorSet.store(true);
}

bool runtimeErrorPending() { return gErrorSet.load(std::memory_order_relaxed); }

bool takeRuntimeError(std::string &message) {
  std::lock_guard<std::mutex> lock(gErrorMutex);
  if (!gErrorSet.load())
    return false;
  message = std::move(gError);
  gError.clear();
  gErrorSet.store(false);
  return true;
}

bool runGuarded(void (*entry)(void **), void **params, uint64_t &failedBytes) {
  // Nothing with a destructor lives in this frame between setjmp and a
  // longjmp back to it: generated code has none, and no runtime kernel
  // allocates through these functions.
  std::jmp_buf env;
  std::jmp_buf *outer = gAllocFailure;
  gAllocFailure = &env;
  if (setjmp(env) != 0) {
    gAllocFailure = outer;
    failedBytes = gFailedBytes;
    return false;
  }
  entry(params);
  gAllocFailure = outer;
  return true;
}
} // namespace actsparse::runtime
