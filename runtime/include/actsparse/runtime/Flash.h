//===- Flash.h - FFN bundles read from flash under a DRAM budget -*- C++ -*-===//
//
// "LLM in a flash" for the runtime. With a DRAM budget, the FFN bundles
// (FfnBundle.h) stay in the weight pack on disk; everything else is loaded
// as usual. Each lowered actsparse.sparse_ffn call then:
//
//   1. asks its layer's NeuronCache which of the neurons it needs are
//      resident: those used by the last `window` tokens stay in DRAM;
//   2. reads the missing ones with O_DIRECT through io_uring (ReadSource),
//      neurons adjacent in the file coalesced into one read, so the page
//      cache never holds FFN weights;
//   3. computes resident neurons while the reads are in flight, and each
//      new neuron as soon as its read completes.
//
// The cache is one preallocated matrix per layer: a new neuron takes the
// slot after the last; an evicted one is replaced by the last (the paper's
// "deletion by swapping"), so nothing is allocated per token.
//
// Neurons are computed in the order and partition the in-DRAM kernel uses,
// so results are bit-identical to running without a budget.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_FLASH_H
#define ACTSPARSE_RUNTIME_FLASH_H

#include "actsparse/runtime/WeightPack.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace actsparse::runtime {

//===----------------------------------------------------------------------===//
// The I/O layer
//===----------------------------------------------------------------------===//

/// One read of `size` bytes at file `offset` into `dst`. Offset, size and
/// dst are multiples of the source's alignment().
struct ReadRequest {
  uint64_t offset = 0;
  uint32_t size = 0;
  /// Fewer bytes than this is a short read (an error); the aligned size
  /// may run past the end of the file.
  uint32_t required = 0;
  void *dst = nullptr;
  uint64_t tag = 0; ///< returned by reap()
};

/// Where flash-resident weights come from. The real one is the pack opened
/// with O_DIRECT and read through io_uring; tests use a fake that injects
/// faults. One thread at a time calls submit/reap.
class ReadSource {
public:
  virtual ~ReadSource() = default;
  /// What offsets, sizes and buffers must be multiples of.
  virtual uint32_t alignment() const = 0;
  /// Reads that may be outstanding at once.
  virtual int queueDepth() const = 0;
  /// Reads submitted and not yet reaped (failed ones included).
  virtual int64_t inFlight() const = 0;
  /// Queues reads (at most queueDepth() outstanding in total).
  virtual Status submit(const ReadRequest *requests, size_t count) = 0;
  /// Appends the tags of completed reads to `done`, waiting for at least
  /// one when `wait`. A failed or short read is an error naming the file
  /// (it is reaped all the same).
  virtual Status reap(std::vector<uint64_t> &done, bool wait) = 0;
  /// An error when the file was truncated or rewritten since it was opened.
  virtual Status checkUnchanged() = 0;
};

/// `path` opened with O_DIRECT, read through an io_uring of `queueDepth`
/// entries. Fails when the file system refuses direct I/O or io_uring is
/// unavailable, saying so.
std::unique_ptr<ReadSource> openDirectSource(const std::string &path,
                                             int queueDepth, Status &status);

//===----------------------------------------------------------------------===//
// The neuron cache
//===----------------------------------------------------------------------===//

/// The resident neurons of one layer: `capacity` preallocated rows of
/// `rowFloats` floats, the first size() in use. Tokens are numbered from 0;
/// each resident neuron remembers the last token that used it.
class NeuronCache {
public:
  NeuronCache(int64_t neurons, int64_t capacity, int64_t rowFloats);
  ~NeuronCache();
  NeuronCache(const NeuronCache &) = delete;
  NeuronCache &operator=(const NeuronCache &) = delete;

  int64_t neurons() const { return int64_t(slotOf_.size()); }
  int64_t capacity() const { return capacity_; }
  int64_t size() const { return size_; }
  int64_t rowFloats() const { return rowFloats_; }

  /// The slot holding `neuron`, or -1.
  int32_t slotOf(int64_t neuron) const { return slotOf_[neuron]; }
  int64_t neuronAt(int64_t slot) const { return neuronAt_[slot]; }
  float *row(int64_t slot) { return rows_ + slot * rowFloats_; }
  int64_t lastUse(int64_t slot) const { return lastUse_[slot]; }

  /// Marks a resident neuron as used by token `token`.
  void touch(int64_t neuron, int64_t token) {
    lastUse_[slotOf_[neuron]] = token;
  }
  /// Takes the next free slot for an absent `neuron`, used by `token`;
  /// the caller fills its row. Requires size() < capacity().
  int64_t insert(int64_t neuron, int64_t token);
  /// Removes a resident neuron: the last slot's neuron moves into its slot.
  void evict(int64_t neuron);
  /// Evicts every neuron last used before token `oldest` (the window);
  /// returns how many.
  int64_t expire(int64_t oldest);
  /// Evicts up to `count` neurons last used before token `keepFrom`, least
  /// recently used first; returns how many.
  int64_t evictOldest(int64_t count, int64_t keepFrom);
  void clear();

private:
  int64_t capacity_, rowFloats_, size_ = 0;
  float *rows_ = nullptr;
  std::vector<int32_t> slotOf_;
  std::vector<int32_t> neuronAt_;
  std::vector<int64_t> lastUse_;
  std::vector<std::pair<int64_t, int32_t>> scratch_;
};

//===----------------------------------------------------------------------===//
// The store
//===----------------------------------------------------------------------===//

enum class FlashMode {
  /// Neurons the predictor selects, kept for `window` tokens (default).
  Windowed,
  /// Baseline: every row of a layer read for every call, same direct I/O.
  Naive,
  /// Baseline: the pack mmapped, a layer's pages dropped after each call
  /// (madvise + posix_fadvise DONTNEED): the OS's own paging.
  Mmap,
};

const char *flashModeName(FlashMode mode);

struct FlashOptions {
  /// Bytes of DRAM for weights: the resident tensors, the read buffers and
  /// the neuron caches.
  uint64_t budget = 0;
  FlashMode mode = FlashMode::Windowed;
  /// Tokens a neuron stays resident after its last use. Defaults chosen
  /// with bench/sweep-flash.sh on this machine (README).
  int window = 4;
  /// Reads in flight, and the largest single read.
  int queueDepth = 64;
  uint32_t maxRead = 128 << 10;
  /// Neurons at most this many bytes of rows apart share a read.
  uint32_t mergeGap = 0;
  /// After a decode call of layer l, load what layer l+1's predictor
  /// selects on layer l's input, so the reads run while layer l+1's
  /// attention computes. Off by default: on the models measured, layer l's
  /// input chose 7-12 % of the right neurons (README).
  bool prefetch = false;
};

/// A block's low-rank predictor of active neurons: scores s = (x A) B + c,
/// with A [d, rank] (row stride lda), B [rank, h] (ldb), c [h] (stride
/// cStride); a neuron is predicted active where its score is > 0.
struct LowRankPredictor {
  const float *a = nullptr, *b = nullptr, *c = nullptr;
  int64_t d = 0, rank = 0, h = 0, lda = 0, ldb = 0, cStride = 1;

  /// Scores of `t` rows of x (row stride ldx) into `scores` [t, h], with
  /// the runtime's dense kernel; `z` is scratch. Defined with the sparse
  /// FFN kernel (SparseFfn.cpp).
  void score(const float *x, int64_t t, int64_t ldx, std::vector<float> &z,
             std::vector<float> &scores) const;
};

/// A bundled tensor left on flash.
struct FlashTensor {
  std::string name;
  uint64_t offset = 0; ///< in the pack file
  /// Rows and their length in 4-byte words: floats of an f32 bundle, or
  /// the bytes of a quantized one over 4 (its rows are whole cache lines).
  /// The store only moves the rows; the kernel reads them.
  int64_t rows = 0, rowFloats = 0;
};

/// Totals over every layer, since the store was created.
struct FlashCounters {
  /// Layer calls, and tokens (each counted once, not once per layer).
  int64_t calls = 0, tokens = 0;
  /// Neurons the calls needed, those already resident, those read.
  int64_t needed = 0, hits = 0, loaded = 0;
  /// Reads issued, bytes they transferred (alignment included), and the
  /// bytes of the rows loaded.
  int64_t reads = 0, bytesRead = 0, rowBytes = 0;
  /// What pure windowing predicts: rows needed by a token and not needed
  /// by any of the `window` tokens before it, in bytes.
  int64_t windowPredictedBytes = 0;
  /// Time with reads outstanding, and time compute threads spent waiting
  /// for a read; the difference is I/O hidden behind compute.
  double ioSeconds = 0, waitSeconds = 0;
  /// Neurons prefetched for the next layer, and those of them it needed.
  int64_t prefetched = 0, prefetchUsed = 0;
};

class FlashLayer;

class FlashStore {
public:
  ~FlashStore();

  /// Plans the budget: `residentBytes` are the weights loaded into DRAM.
  /// Refuses (with the budget it would need) a budget that cannot hold the
  /// resident weights, the read buffers and a minimal cache per layer.
  /// `source` is unused in Mmap mode (may be null); `packPath` is used for
  /// Mmap mode only.
  static std::unique_ptr<FlashStore>
  create(const FlashOptions &options, std::unique_ptr<ReadSource> source,
         const std::string &packPath, const std::vector<FlashTensor> &tensors,
         uint64_t residentBytes, Status &status);

  /// What the model's weight k (tensors[k] at create) is bound to.
  const void *binding(size_t k) const;
  /// The layer whose binding is `data`, or null.
  FlashLayer *find(const void *data);

  const FlashOptions &options() const { return options_; }
  const FlashCounters &counters() const { return counters_; }
  /// Neuron cache bytes, read buffer bytes.
  uint64_t cacheBytes() const { return cacheBytes_; }
  uint64_t bufferBytes() const { return bufferSize_ * uint64_t(bufferCount_); }
  uint64_t residentBytes() const { return residentBytes_; }

  /// A few lines for --stats, and the same as a JSON object.
  std::string report() const;
  std::string json() const;

private:
  friend class FlashLayer;
  FlashStore() = default;

  FlashOptions options_;
  std::unique_ptr<ReadSource> source_;
  std::vector<std::unique_ptr<FlashLayer>> layers_;
  FlashCounters counters_;
  uint64_t cacheBytes_ = 0, residentBytes_ = 0;
  FlashLayer *lastRun_ = nullptr; // the layer that ran last
  // Read buffers: bufferCount_ (at most the queue depth) of bufferSize_.
  char *buffers_ = nullptr;
  uint64_t bufferSize_ = 0;
  int bufferCount_ = 0;
  // Mmap mode.
  void *map_ = nullptr;
  size_t mapSize_ = 0;
  int mapFd_ = -1;
};

/// Computes neurons `ids[0..count)` whose rows are `rows[...]`, on thread
/// `thread`; supplied by the kernel.
using NeuronBatchFn = void (*)(void *context, int thread, const int32_t *ids,
                               const float *const *rows, int64_t count);

/// One bundled FFN tensor on flash.
class FlashLayer {
public:
  FlashLayer(FlashStore &store, const FlashTensor &tensor, int64_t capacity);

  const FlashTensor &tensor() const { return tensor_; }
  NeuronCache &cache() { return cache_; }
  /// In Mmap mode, the mapped rows.
  const float *mapped() const { return mapped_; }

  /// One call over `tokens` tokens. `needed[j]` lists, ascending, the
  /// neurons thread j computes (ranges of the threads ascending too).
  /// Makes them resident (reading what is missing; in chunks when they do
  /// not fit the cache at once) and calls `compute` on each thread with
  /// batches of ready neurons, in each thread's list order.
  Status run(const std::vector<std::vector<int32_t>> &needed, int64_t tokens,
             NeuronBatchFn compute, void *context);

  /// The layer's low-rank predictor, s = (x A) B + c (A: d x rank, B:
  /// rank x neurons, c: neurons floats at stride cStride), which the
  /// layer before it uses to prefetch.
  void setPredictor(const float *a, const float *b, const float *c,
                    int64_t d, int64_t rank, int64_t cStride);
  void setPredictor(const LowRankPredictor &predictor) {
    predictor_ = predictor;
  }
  /// After a call of one token whose input was `x` (d floats): starts
  /// reading, into the next layer's free cache slots, the neurons its
  /// predictor selects on `x`. The next layer's run() lands them first.
  Status prefetchNext(const float *x, int64_t d);

  /// Mmap mode: drops the layer's pages from this process and the page
  /// cache (with every other page of the file).
  void dropPages();

private:
  friend class FlashStore;
  Status loadChunk(const std::vector<int32_t> &chunk);
  Status submitMore();
  /// Waits out every read still in flight, ignoring their results (after
  /// an error, before their buffers are used again).
  void drainSource();
  uint64_t rowBytes() const {
    return uint64_t(tensor_.rowFloats) * sizeof(float);
  }
  Status finishPrefetch();
  Status waitFor(int32_t slot);
  Status reapReads(bool wait);

  FlashStore &store_;
  FlashTensor tensor_;
  NeuronCache cache_;
  const float *mapped_ = nullptr;
  int64_t clock_ = 0; // tokens seen
  // Per slot: 1 once its row is in the cache.
  std::unique_ptr<std::atomic<uint8_t>[]> ready_;
  // Window prediction: the last token that needed each neuron (-inf: none).
  std::vector<int64_t> lastNeeded_;
  // The predictor (setPredictor), the next layer, and the prefetch state.
  LowRankPredictor predictor_;
  FlashLayer *next_ = nullptr;
  size_t index_ = 0; // in the store's layers
  bool prefetching_ = false;
  double prefetchStart_ = 0;
  std::vector<char> prefetchedMark_; // per neuron: brought by a prefetch
  std::vector<int32_t> prefetchList_;
  std::vector<float> scores_, z_;
  // Reads of the current chunk, and their state.
  struct Pending {
    uint64_t offset;
    uint32_t size;
    int32_t first, count; // into chunk_
    int32_t rows;         // rows spanned, gaps included
    uint32_t skip;        // bytes before the first row in the buffer
  };
  std::vector<Pending> pending_;
  std::vector<int32_t> chunk_; // neurons of the current chunk, ascending
  // run()'s per-thread state, kept so no call allocates: where each
  // thread's missing neurons are in its list, how many it has taken, and
  // where it stands and stops in the current chunk.
  std::vector<std::vector<int32_t>> missAt_;
  std::vector<size_t> taken_, cursor_, stop_;
  std::vector<int32_t> freeBuffers_;
  std::vector<int32_t> bufferOf_; // pending -> buffer
  size_t nextSubmit_ = 0;
  std::atomic<int64_t> inFlight_{0};
  std::vector<uint64_t> done_;
  std::vector<ReadRequest> batch_;
  double lastDone_ = 0; // when the last read completed
  Status error_;
};

/// The store the sparse FFN kernel consults (null: everything in DRAM).
void setFlashStore(FlashStore *store);
FlashStore *flashStore();

/// Parses "512M", "1.5G", "300000K", "4096" (bytes); false on bad syntax.
bool parseByteSize(const std::string &text, uint64_t &bytes);

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_FLASH_H
