//===- Flash.cpp - FFN bundles read from flash under a DRAM budget --------===//
//
// See Flash.h. The direct-I/O source, the neuron cache, the budget plan
// and the per-call loading that the sparse FFN kernel drives.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Flash.h"

#include "ThreadPool.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <liburing.h>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace actsparse::runtime {
namespace {

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  return buf;
}

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

//===----------------------------------------------------------------------===//
// O_DIRECT + io_uring
//===----------------------------------------------------------------------===//

class UringSource final : public ReadSource {
public:
  ~UringSource() override {
    if (ringReady_)
      io_uring_queue_exit(&ring_);
    if (fd_ >= 0)
      ::close(fd_);
  }

  static std::unique_ptr<ReadSource> open(const std::string &path, int depth,
                                          Status &status) {
    std::unique_ptr<UringSource> s(new UringSource);
    s->path_ = path;
    s->depth_ = depth;
    s->fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (s->fd_ < 0) {
      int err = errno;
      status = Status::error(
          "cannot open weight pack '" + path + "' for direct I/O: " +
          std::strerror(err) +
          (err == EINVAL ? " (the file system does not support O_DIRECT; "
                           "put the pack on a disk file system such as ext4)"
                         : ""));
      return nullptr;
    }
    if (::fstat(s->fd_, &s->stat_) != 0) {
      status = Status::error("cannot stat '" + path + "'");
      return nullptr;
    }
    // The direct-I/O alignment the file system asks for; 4 KiB, which
    // every one accepts, when the kernel does not say.
    s->align_ = 4096;
#ifdef STATX_DIOALIGN
    struct statx sx;
    if (statx(s->fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
        (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align > 0)
      s->align_ = std::max<uint32_t>(sx.stx_dio_offset_align,
                                     sx.stx_dio_mem_align);
#endif
    int rc = io_uring_queue_init(unsigned(depth), &s->ring_, 0);
    if (rc < 0) {
      status = Status::error(std::string("io_uring is unavailable: ") +
                             std::strerror(-rc) +
                             " (check /proc/sys/kernel/io_uring_disabled)");
      return nullptr;
    }
    s->ringReady_ = true;
    s->slots_.resize(depth);
    for (int i = depth - 1; i >= 0; --i)
      s->freeSlots_.push_back(i);
    return s;
  }

  uint32_t alignment() const override { return align_; }
  int queueDepth() const override { return depth_; }
  int64_t inFlight() const override {
    return depth_ - int64_t(freeSlots_.size());
  }

  Status submit(const ReadRequest *requests, size_t count) override {
    for (size_t k = 0; k < count; ++k) {
      if (freeSlots_.empty())
        return Status::error("internal: more reads than the queue depth");
      int slot = freeSlots_.back();
      freeSlots_.pop_back();
      slots_[slot] = requests[k];
      io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
      if (!sqe)
        return Status::error("internal: io_uring submission queue full");
      io_uring_prep_read(sqe, fd_, requests[k].dst, requests[k].size,
                         requests[k].offset);
      io_uring_sqe_set_data64(sqe, uint64_t(slot));
    }
    int rc = io_uring_submit(&ring_);
    if (rc < 0)
      return Status::error("cannot submit reads of '" + path_ +
                           "': " + std::strerror(-rc));
    return {};
  }

  Status reap(std::vector<uint64_t> &done, bool wait) override {
    io_uring_cqe *cqe = nullptr;
    if (wait) {
      int rc;
      do
        rc = io_uring_wait_cqe(&ring_, &cqe);
      while (rc == -EINTR);
      if (rc < 0)
        return Status::error("waiting for reads of '" + path_ +
                             "' failed: " + std::strerror(-rc));
    }
    Status result;
    while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe) {
      int slot = int(io_uring_cqe_get_data64(cqe));
      int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      const ReadRequest &r = slots_[slot];
      freeSlots_.push_back(slot);
      if (!result.ok())
        continue;
      if (res < 0)
        result = Status::error("reading " + std::to_string(r.size) +
                               " bytes at offset " + std::to_string(r.offset) +
                               " of weight pack '" + path_ +
                               "' failed: " + std::strerror(-res));
      else if (uint32_t(res) < r.required)
        result = Status::error(
            "short read of weight pack '" + path_ + "': " +
            std::to_string(res) + " of " + std::to_string(r.required) +
            " bytes at offset " + std::to_string(r.offset) +
            " (was the file truncated?)");
      else
        done.push_back(r.tag);
    }
    return result;
  }

  Status checkUnchanged() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0)
      return Status::error("cannot stat weight pack '" + path_ + "'");
    if (st.st_size != stat_.st_size ||
        st.st_mtim.tv_sec != stat_.st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != stat_.st_mtim.tv_nsec)
      return Status::error("weight pack '" + path_ +
                           "' changed on disk while the model ran (size " +
                           std::to_string(stat_.st_size) + " -> " +
                           std::to_string(st.st_size) + " bytes)");
    return {};
  }

private:
  UringSource() = default;
  std::string path_;
  int fd_ = -1, depth_ = 0;
  uint32_t align_ = 4096;
  struct stat stat_ {};
  io_uring ring_{};
  bool ringReady_ = false;
  std::vector<ReadRequest> slots_;
  std::vector<int> freeSlots_;
};

std::atomic<FlashStore *> gStore{nullptr};

} // namespace

std::unique_ptr<ReadSource> openDirectSource(const std::string &path,
                                             int queueDepth, Status &status) {
  if (queueDepth < 1 || queueDepth > 4096) {
    status = Status::error("the queue depth must be in [1, 4096]");
    return nullptr;
  }
  return UringSource::open(path, queueDepth, status);
}

void setFlashStore(FlashStore *store) { gStore.store(store); }
FlashStore *flashStore() { return gStore.load(std::memory_order_relaxed); }

bool parseByteSize(const std::string &text, uint64_t &bytes) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno || end == text.c_str() || !(v >= 0) || !std::isfinite(v))
    return false;
  std::string unit(end);
  if (unit.size() == 2 && (unit[1] == 'B' || unit[1] == 'b'))
    unit.pop_back();
  else if (unit.size() == 3 && unit.substr(1) == "iB")
    unit.resize(1);
  double scale = 1;
  if (unit.empty())
    scale = 1;
  else if (unit == "K" || unit == "k")
    scale = 1024.0;
  else if (unit == "M" || unit == "m")
    scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "g")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "t")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else
    return false;
  double b = v * scale;
  if (b >= 18446744073709551615.0)
    return false;
  bytes = uint64_t(b);
  return true;
}

//===----------------------------------------------------------------------===//
// NeuronCache
//===----------------------------------------------------------------------===//

NeuronCache::NeuronCache(int64_t neurons, int64_t capacity, int64_t rowFloats)
    : capacity_(std::min(capacity, neurons)), rowFloats_(rowFloats),
      slotOf_(neurons, -1), neuronAt_(capacity_, -1), lastUse_(capacity_, 0) {
  size_t bytes = alignUp(size_t(capacity_ * rowFloats_) * sizeof(float), 64);
  rows_ = static_cast<float *>(std::aligned_alloc(64, std::max<size_t>(bytes, 64)));
  if (!rows_)
    throw std::bad_alloc();
  // Touched now, so the budget is taken up front and decode never faults.
  std::memset(rows_, 0, bytes);
  scratch_.reserve(capacity_);
}

NeuronCache::~NeuronCache() { std::free(rows_); }

int64_t NeuronCache::insert(int64_t neuron, int64_t token) {
  int64_t slot = size_++;
  slotOf_[neuron] = int32_t(slot);
  neuronAt_[slot] = int32_t(neuron);
  lastUse_[slot] = token;
  return slot;
}

void NeuronCache::evict(int64_t neuron) {
  int64_t slot = slotOf_[neuron];
  int64_t last = --size_;
  if (slot != last) {
    int32_t moved = neuronAt_[last];
    std::memcpy(row(slot), row(last), rowFloats_ * sizeof(float));
    neuronAt_[slot] = moved;
    lastUse_[slot] = lastUse_[last];
    slotOf_[moved] = int32_t(slot);
  }
  slotOf_[neuron] = -1;
  neuronAt_[last] = -1;
}

int64_t NeuronCache::expire(int64_t oldest) {
  int64_t evicted = 0;
  // Walk down, so a neuron swapped in from the end was already seen.
  for (int64_t slot = size_ - 1; slot >= 0; --slot)
    if (lastUse_[slot] < oldest) {
      evict(neuronAt_[slot]);
      ++evicted;
    }
  return evicted;
}

int64_t NeuronCache::evictOldest(int64_t count, int64_t keepFrom) {
  scratch_.clear();
  for (int64_t slot = 0; slot < size_; ++slot)
    if (lastUse_[slot] < keepFrom)
      scratch_.push_back({lastUse_[slot], neuronAt_[slot]});
  int64_t n = std::min<int64_t>(count, scratch_.size());
  std::partial_sort(scratch_.begin(), scratch_.begin() + n, scratch_.end());
  for (int64_t k = 0; k < n; ++k)
    evict(scratch_[k].second);
  return n;
}

void NeuronCache::clear() {
  for (int64_t slot = 0; slot < size_; ++slot)
    slotOf_[neuronAt_[slot]] = -1;
  std::fill(neuronAt_.begin(), neuronAt_.begin() + size_, -1);
  size_ = 0;
}

//===----------------------------------------------------------------------===//
// FlashStore
//===----------------------------------------------------------------------===//

namespace {
/// The least a layer's cache may hold: enough for every thread to have
/// work while reads are in flight.
constexpr int64_t kMinCacheRows = 64;
} // namespace

FlashStore::~FlashStore() {
  if (gStore.load() == this)
    setFlashStore(nullptr);
  layers_.clear();
  std::free(buffers_);
  if (map_)
    ::munmap(map_, mapSize_);
  if (mapFd_ >= 0)
    ::close(mapFd_);
}

std::unique_ptr<FlashStore>
FlashStore::create(const FlashOptions &options,
                   std::unique_ptr<ReadSource> source,
                   const std::string &packPath,
                   const std::vector<FlashTensor> &tensors,
                   uint64_t residentBytes, Status &status) {
  std::unique_ptr<FlashStore> s(new FlashStore);
  s->options_ = options;
  s->residentBytes_ = residentBytes;
  if (options.window < 0) {
    status = Status::error("the window must be at least 0 tokens");
    return nullptr;
  }
  uint64_t bundleBytes = 0, largest = 0, minimum = 0;
  int64_t maxRow = 0;
  for (const FlashTensor &t : tensors) {
    uint64_t bytes = uint64_t(t.rows) * t.rowFloats * sizeof(float);
    bundleBytes += bytes;
    largest = std::max(largest, bytes);
    minimum += uint64_t(std::min(t.rows, kMinCacheRows)) * t.rowFloats *
               sizeof(float);
    maxRow = std::max<int64_t>(maxRow, t.rowFloats * sizeof(float));
  }
  auto refuse = [&](uint64_t needed, const std::string &parts) {
    status = Status::error(
        "a DRAM budget of " + mib(options.budget) + " cannot hold " + parts +
        ": --dram-budget must be at least " + mib(needed) + " (" +
        std::to_string(needed) + " bytes) for this model");
    return nullptr;
  };

  if (options.mode == FlashMode::Mmap) {
    // The OS pages one layer in at a time; that layer must fit.
    uint64_t needed = residentBytes + largest;
    if (options.budget < needed)
      return refuse(needed, "the resident weights (" + mib(residentBytes) +
                                ") and one FFN layer's pages (" +
                                mib(largest) + ")");
    s->mapFd_ = ::open(packPath.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (s->mapFd_ < 0 || ::fstat(s->mapFd_, &st) != 0) {
      status = Status::error("cannot open weight pack '" + packPath + "'");
      return nullptr;
    }
    s->mapSize_ = size_t(st.st_size);
    s->map_ = ::mmap(nullptr, s->mapSize_, PROT_READ, MAP_SHARED, s->mapFd_,
                     0);
    if (s->map_ == MAP_FAILED) {
      s->map_ = nullptr;
      status = Status::error("cannot map weight pack '" + packPath +
                             "': " + std::strerror(errno));
      return nullptr;
    }
    for (const FlashTensor &t : tensors) {
      s->layers_.push_back(std::make_unique<FlashLayer>(*s, t, 0));
      s->layers_.back()->mapped_ = reinterpret_cast<const float *>(
          static_cast<const char *>(s->map_) + t.offset);
    }
    return s;
  }

  if (!source) {
    status = Status::error("internal: no read source");
    return nullptr;
  }
  uint32_t align = source->alignment();
  // A read is at most maxRead, never more than a layer, at least a row.
  uint64_t bufferSize = alignUp(
      std::max<uint64_t>(std::min<uint64_t>(options.maxRead, largest + 2 * align),
                         uint64_t(maxRow) + 2 * align),
      align);
  // Never more buffers than a layer fills.
  s->bufferSize_ = bufferSize;
  s->bufferCount_ = int(std::clamp<uint64_t>((largest + bufferSize - 1) /
                                                 bufferSize,
                                             1, source->queueDepth()));
  uint64_t fixed = residentBytes + s->bufferBytes();
  if (options.budget < fixed + minimum)
    return refuse(fixed + minimum,
                  "the resident weights (" + mib(residentBytes) +
                      "), the read buffers (" + mib(s->bufferBytes()) +
                      ") and " + std::to_string(kMinCacheRows) +
                      " neurons per FFN layer (" + mib(minimum) + ")");
  // The cache gets the rest, shared by the layers in proportion to their
  // size.
  double share = std::min(1.0, double(options.budget - fixed) /
                                   double(std::max<uint64_t>(bundleBytes, 1)));
  s->buffers_ = static_cast<char *>(std::aligned_alloc(align, s->bufferBytes()));
  if (!s->buffers_) {
    status = Status::error("cannot allocate the read buffers");
    return nullptr;
  }
  std::memset(s->buffers_, 0, s->bufferBytes());
  s->source_ = std::move(source);
  for (const FlashTensor &t : tensors) {
    int64_t capacity = std::clamp<int64_t>(
        int64_t(std::floor(share * double(t.rows))),
        std::min(t.rows, kMinCacheRows), t.rows);
    s->layers_.push_back(std::make_unique<FlashLayer>(*s, t, capacity));
    s->layers_.back()->index_ = s->layers_.size() - 1;
    s->cacheBytes_ += uint64_t(capacity) * t.rowFloats * sizeof(float);
  }
  return s;
}

const void *FlashStore::binding(size_t k) const {
  const FlashLayer &l = *layers_[k];
  // Without a budget nothing reads through a binding; the cache's storage
  // is a unique address the kernel recognises.
  return l.mapped_ ? static_cast<const void *>(l.mapped_)
                   : static_cast<const void *>(&l);
}

FlashLayer *FlashStore::find(const void *data) {
  for (auto &l : layers_)
    if (binding(&l - layers_.data()) == data)
      return l.get();
  return nullptr;
}

const char *flashModeName(FlashMode mode) {
  switch (mode) {
  case FlashMode::Windowed:
    return "windowed";
  case FlashMode::Naive:
    return "naive";
  case FlashMode::Mmap:
    return "mmap";
  }
  return "?";
}

std::string FlashStore::report() const {
  const FlashCounters &c = counters_;
  const char *mode = flashModeName(options_.mode);
  char buf[1024];
  int n = std::snprintf(
      buf, sizeof buf,
      "flash (%s, budget %s): resident weights %s, neuron cache %s, read "
      "buffers %s\n",
      mode, mib(options_.budget).c_str(), mib(residentBytes_).c_str(),
      mib(cacheBytes_).c_str(), mib(bufferBytes()).c_str());
  std::string out(buf, n);
  if (options_.mode == FlashMode::Mmap || c.tokens == 0)
    return out;
  double perToken = 1.0 / double(c.tokens);
  n = std::snprintf(
      buf, sizeof buf,
      "flash: window %d tokens; cache hit rate %.1f%% (%lld of %lld neurons "
      "needed); read %.1f KiB per token in %.1f reads (rows %.1f KiB; "
      "windowing predicts %.1f KiB); %.0f MB/s while reading; I/O hidden "
      "behind compute %.0f%%; prefetched %.1f neurons per token, %.0f%% "
      "used\n",
      options_.window, c.needed ? 100.0 * c.hits / c.needed : 0.0,
      (long long)c.hits, (long long)c.needed, c.bytesRead * perToken / 1024,
      c.reads * perToken, c.rowBytes * perToken / 1024,
      c.windowPredictedBytes * perToken / 1024,
      c.ioSeconds > 0 ? c.bytesRead / c.ioSeconds / 1e6 : 0.0,
      c.ioSeconds > 0
          ? 100.0 * std::max(0.0, 1.0 - c.waitSeconds / c.ioSeconds)
          : 0.0,
      c.prefetched * perToken,
      c.prefetched ? 100.0 * c.prefetchUsed / c.prefetched : 0.0);
  return out + std::string(buf, n);
}

std::string FlashStore::json() const {
  const FlashCounters &c = counters_;
  return nlohmann::json{{"mode", flashModeName(options_.mode)},
                        {"budget_bytes", options_.budget},
                        {"resident_bytes", residentBytes_},
                        {"cache_bytes", cacheBytes_},
                        {"buffer_bytes", bufferBytes()},
                        {"window", options_.window},
                        {"queue_depth", options_.queueDepth},
                        {"max_read", options_.maxRead},
                        {"merge_gap", options_.mergeGap},
                        {"calls", c.calls},
                        {"tokens", c.tokens},
                        {"needed", c.needed},
                        {"hits", c.hits},
                        {"loaded", c.loaded},
                        {"reads", c.reads},
                        {"bytes_read", c.bytesRead},
                        {"row_bytes", c.rowBytes},
                        {"window_predicted_bytes", c.windowPredictedBytes},
                        {"io_seconds", c.ioSeconds},
                        {"wait_seconds", c.waitSeconds},
                        {"prefetch", options_.prefetch},
                        {"prefetched", c.prefetched},
                        {"prefetch_used", c.prefetchUsed}}
      .dump();
}

//===----------------------------------------------------------------------===//
// FlashLayer
//===----------------------------------------------------------------------===//

FlashLayer::FlashLayer(FlashStore &store, const FlashTensor &tensor,
                       int64_t capacity)
    : store_(store), tensor_(tensor),
      cache_(tensor.rows, capacity, tensor.rowFloats),
      ready_(new std::atomic<uint8_t>[std::max<int64_t>(capacity, 1)]),
      lastNeeded_(tensor.rows, INT64_MIN / 2), prefetchedMark_(tensor.rows, 0) {
  for (int64_t s = 0; s < std::max<int64_t>(capacity, 1); ++s)
    ready_[s].store(0);
}

void FlashLayer::dropPages() {
  if (!mapped_)
    return;
  // The whole mapping and file, not the layer's range: the page cache may
  // hold the file in large folios, which stay while any page of them is
  // mapped (fault-around maps neighbours of the pages touched) or when
  // the range does not cover them whole. Nothing else is lost: resident
  // tensors were copied out, other layers' pages dropped after their call.
  ::madvise(store_.map_, store_.mapSize_, MADV_DONTNEED);
  ::posix_fadvise(store_.mapFd_, 0, 0, POSIX_FADV_DONTNEED);
}

/// Plans the reads of chunk_ (ascending neurons, slots already taken):
/// runs of neurons adjacent in the file, each at most one buffer long.
Status FlashLayer::loadChunk(const std::vector<int32_t> &chunk) {
  FlashStore &s = store_;
  ReadSource &src = *s.source_;
  const uint64_t align = src.alignment();
  const uint64_t rowBytes = this->rowBytes();
  const uint64_t bufferSize = s.bufferSize_;
  const uint64_t maxGap = s.options_.mergeGap;
  pending_.clear();
  // The aligned bytes a read of chunk[from, to) covers.
  auto spanOf = [&](size_t from, size_t to) {
    uint64_t begin = tensor_.offset + uint64_t(chunk[from]) * rowBytes;
    uint64_t last = tensor_.offset + uint64_t(chunk[to - 1] + 1) * rowBytes;
    return alignUp(last, align) - begin / align * align;
  };
  for (size_t k = 0; k < chunk.size();) {
    size_t end = k + 1;
    // Neighbours join the read, and so do neurons a small gap away: one
    // larger read costs less than two small ones (the gap's rows are read
    // and dropped).
    while (end < chunk.size() &&
           uint64_t(chunk[end] - chunk[end - 1] - 1) * rowBytes <= maxGap &&
           spanOf(k, end + 1) <= bufferSize)
      ++end;
    uint64_t begin = tensor_.offset + uint64_t(chunk[k]) * rowBytes;
    uint64_t start = begin / align * align;
    Pending p;
    p.offset = start;
    p.size = uint32_t(spanOf(k, end));
    p.first = int32_t(k);
    p.count = int32_t(end - k);
    p.rows = chunk[end - 1] - chunk[k] + 1;
    p.skip = uint32_t(begin - start);
    pending_.push_back(p);
    k = end;
  }
  freeBuffers_.clear();
  for (int b = s.bufferCount_ - 1; b >= 0; --b)
    freeBuffers_.push_back(b);
  bufferOf_.assign(pending_.size(), -1);
  nextSubmit_ = 0;
  inFlight_ = 0;
  s.counters_.reads += int64_t(pending_.size());
  s.counters_.loaded += int64_t(chunk.size());
  s.counters_.rowBytes += int64_t(chunk.size() * rowBytes);
  return submitMore();
}

/// Submits pending reads while there are free buffers.
Status FlashLayer::submitMore() {
  FlashStore &s = store_;
  const uint64_t rowBytes = this->rowBytes();
  std::vector<ReadRequest> &batch = batch_;
  batch.clear();
  while (nextSubmit_ < pending_.size() && !freeBuffers_.empty()) {
    const Pending &p = pending_[nextSubmit_];
    int b = freeBuffers_.back();
    freeBuffers_.pop_back();
    bufferOf_[nextSubmit_] = b;
    ReadRequest r;
    r.offset = p.offset;
    r.size = p.size;
    r.required = uint32_t(p.skip + uint64_t(p.rows) * rowBytes);
    r.dst = s.buffers_ + uint64_t(b) * s.bufferSize_;
    r.tag = nextSubmit_;
    batch.push_back(r);
    s.counters_.bytesRead += p.size;
    ++nextSubmit_;
  }
  inFlight_ += int64_t(batch.size());
  return batch.empty() ? Status() : s.source_->submit(batch.data(), batch.size());
}

/// Reaps completions until `slot` is ready; called with the layer's mutex
/// held. Copies finished reads into their slots and keeps the queue full.
Status FlashLayer::waitFor(int32_t slot) {
  while (!ready_[slot].load(std::memory_order_acquire)) {
    if (!error_.ok())
      return error_;
    if (inFlight_ == 0)
      return error_ = Status::error("internal: waiting for a neuron that "
                                    "no read brings");
    if (Status r = reapReads(/*wait=*/true); !r)
      return r;
  }
  return {};
}

/// Copies the rows of completed reads into their slots and keeps the
/// queue full; waits for one completion when `wait`. Called with the
/// layer's mutex held.
Status FlashLayer::reapReads(bool wait) {
  FlashStore &s = store_;
  const uint64_t rowBytes = this->rowBytes();
  done_.clear();
  if (Status r = s.source_->reap(done_, wait); !r)
    return error_ = r;
  if (done_.empty())
    return {};
  lastDone_ = now();
  for (uint64_t tag : done_) {
    const Pending &p = pending_[tag];
    int b = bufferOf_[tag];
    const char *data = s.buffers_ + uint64_t(b) * s.bufferSize_ + p.skip;
    const int32_t base = chunk_[p.first];
    for (int32_t k = 0; k < p.count; ++k) {
      int32_t neuron = chunk_[p.first + k];
      int32_t to = cache_.slotOf(neuron);
      std::memcpy(cache_.row(to), data + (neuron - base) * rowBytes, rowBytes);
      ready_[to].store(1, std::memory_order_release);
    }
    freeBuffers_.push_back(b);
    --inFlight_;
  }
  if (Status r = submitMore(); !r)
    return error_ = r;
  return {};
}

void FlashLayer::setPredictor(const float *a, const float *b, const float *c,
                              int64_t d, int64_t rank, int64_t cStride) {
  predictor_ = {a, b, c, d, rank, tensor_.rows, rank, tensor_.rows, cStride};
}

Status FlashLayer::prefetchNext(const float *x, int64_t d) {
  FlashStore &s = store_;
  FlashLayer *n = next_;
  if (!s.options_.prefetch || s.options_.mode != FlashMode::Windowed ||
      s.options_.window == 0 || !n || !n->predictor_.a ||
      n->predictor_.d != d || n->prefetching_ || inFlight_ > 0)
    return {};
  // The next layer's scores on this layer's input.
  n->predictor_.score(x, 1, d, z_, scores_);
  const int64_t h = n->tensor_.rows;
  // A call whose neurons do not fit will stream them through the cache
  // anyway: prefetching would only take the slots it streams through.
  int64_t predicted = 0;
  for (int64_t i = 0; i < h; ++i)
    predicted += scores_[i] > 0.0f;
  if (predicted > n->cache_.capacity())
    return {};
  // Into the slots the next call would have free: after its window expiry.
  const int64_t first = n->clock_;
  n->cache_.expire(first - s.options_.window);
  int64_t free = n->cache_.capacity() - n->cache_.size();
  n->chunk_.clear();
  for (int64_t i = 0; i < h && int64_t(n->chunk_.size()) < free; ++i)
    if (scores_[i] > 0.0f && n->cache_.slotOf(i) < 0)
      n->chunk_.push_back(int32_t(i));
  if (n->chunk_.empty())
    return {};
  // Marked as used by the token before: the next call keeps them (window
  // >= 1) but may evict the ones it does not need when it is short of room.
  for (int32_t i : n->chunk_) {
    n->ready_[n->cache_.insert(i, first - 1)].store(0,
                                                    std::memory_order_relaxed);
    n->prefetchedMark_[i] = 1;
  }
  n->prefetchList_ = n->chunk_;
  s.counters_.prefetched += int64_t(n->chunk_.size());
  n->prefetching_ = true;
  n->prefetchStart_ = now();
  n->error_ = Status();
  return n->loadChunk(n->chunk_);
}

void FlashLayer::drainSource() {
  ReadSource &src = *store_.source_;
  while (src.inFlight() > 0) {
    done_.clear();
    (void)src.reap(done_, /*wait=*/true);
  }
  inFlight_ = 0;
}

/// Lands the reads a prefetch started; the time spent here is I/O the
/// attention in between did not hide.
Status FlashLayer::finishPrefetch() {
  if (!prefetching_)
    return {};
  prefetching_ = false;
  FlashStore &s = store_;
  double w0 = now();
  Status result;
  while (inFlight_ > 0)
    if (Status r = reapReads(/*wait=*/true); !r) {
      result = r;
      break;
    }
  if (!result.ok()) {
    drainSource();
    cache_.clear();
    return result;
  }
  s.counters_.ioSeconds += std::max(0.0, lastDone_ - prefetchStart_);
  s.counters_.waitSeconds += now() - w0;
  return {};
}

Status FlashLayer::run(const std::vector<std::vector<int32_t>> &needed,
                       int64_t tokens, NeuronBatchFn compute, void *context) {
  FlashStore &s = store_;
  FlashCounters &c = s.counters_;
  if (Status r = s.source_->checkUnchanged(); !r)
    return r;
  if (Status r = finishPrefetch(); !r)
    return r;
  // Layers that run one after the other within a token prefetch for each
  // other.
  if (s.lastRun_ && s.lastRun_->index_ < index_)
    s.lastRun_->next_ = this;
  s.lastRun_ = this;
  const int threads = int(needed.size());
  const int64_t first = clock_;
  const int64_t last = clock_ + tokens - 1;
  const int window = s.options_.window;
  const int64_t rowBytes = int64_t(this->rowBytes());
  clock_ += tokens;
  ++c.calls;
  c.tokens = std::max(c.tokens, clock_);
  error_ = Status();

  if (s.options_.mode == FlashMode::Naive)
    cache_.clear();
  else
    cache_.expire(first - window);

  // Touch what is resident; count what is missing.
  int64_t missing = 0, hits = 0, count = 0;
  for (const std::vector<int32_t> &list : needed)
    for (int32_t i : list) {
      ++count;
      if (lastNeeded_[i] < first - window)
        c.windowPredictedBytes += rowBytes;
      lastNeeded_[i] = last;
      c.prefetchUsed += prefetchedMark_[i];
      if (cache_.slotOf(i) >= 0) {
        cache_.touch(i, last);
        ++hits;
      } else {
        ++missing;
      }
    }
  c.needed += count;
  for (int32_t i : prefetchList_) // counted above when needed
    prefetchedMark_[i] = 0;
  prefetchList_.clear();
  int64_t free = cache_.capacity() - cache_.size();
  if (missing > free)
    free += cache_.evictOldest(missing - free, first);
  // Everything fits: one chunk. Otherwise the missing neurons stream
  // through the free slots, a share per thread, each chunk evicted for the
  // next; resident neurons stay. With too few free slots for that, the
  // whole cache streams.
  const bool streaming = missing > free;
  if (streaming && free < std::max<int64_t>(threads, cache_.capacity() / 8)) {
    cache_.clear();
    hits = 0;
    free = cache_.capacity();
  }
  c.hits += hits;

  // Where each thread's missing neurons are in its list.
  std::vector<std::vector<int32_t>> &missAt = missAt_;
  missAt.resize(threads);
  for (int j = 0; j < threads; ++j) {
    missAt[j].clear();
    for (size_t k = 0; k < needed[j].size(); ++k)
      if (cache_.slotOf(needed[j][k]) < 0)
        missAt[j].push_back(int32_t(k));
  }
  const size_t share =
      streaming ? size_t(std::max<int64_t>(1, free / threads)) : SIZE_MAX;
  std::vector<size_t> &cursor = cursor_, &taken = taken_, &stop = stop_;
  cursor.assign(threads, 0);
  taken.assign(threads, 0);
  stop.assign(threads, 0);
  chunk_.clear();
  std::mutex mu;
  double waited = 0;
  while (true) {
    // The chunk: the next share of each thread's missing neurons; a thread
    // computes up to its first missing neuron outside the chunk.
    if (streaming)
      for (int32_t i : chunk_)
        cache_.evict(i);
    chunk_.clear();
    for (int j = 0; j < threads; ++j) {
      size_t end = taken[j] + std::min(share, missAt[j].size() - taken[j]);
      for (size_t m = taken[j]; m < end; ++m)
        chunk_.push_back(needed[j][missAt[j][m]]);
      stop[j] = end < missAt[j].size() ? size_t(missAt[j][end])
                                       : needed[j].size();
      taken[j] = end;
    }
    for (int32_t i : chunk_)
      ready_[cache_.insert(i, last)].store(0, std::memory_order_relaxed);
    double start = now();
    if (Status r = loadChunk(chunk_); !r)
      return r;

    auto body = [&](int j) {
      constexpr int kBatch = 32;
      int32_t ids[kBatch];
      const float *rows[kBatch];
      int n = 0;
      double myWait = 0;
      for (size_t k = cursor[j]; k < stop[j]; ++k) {
        int32_t i = needed[j][k];
        int32_t slot = cache_.slotOf(i);
        if (!ready_[slot].load(std::memory_order_acquire)) {
          if (n)
            compute(context, j, ids, rows, n);
          n = 0;
          double w0 = now();
          Status r;
          {
            std::lock_guard<std::mutex> lock(mu);
            r = waitFor(slot);
          }
          myWait += now() - w0;
          if (!r)
            return;
        }
        ids[n] = i;
        rows[n] = cache_.row(slot);
        if (++n == kBatch) {
          // Between batches, land finished reads and refill the queue if
          // nobody else is doing it.
          if (inFlight_ > 0 && mu.try_lock()) {
            Status r = error_.ok() ? reapReads(/*wait=*/false) : error_;
            mu.unlock();
            if (!r)
              return;
          }
          compute(context, j, ids, rows, n);
          n = 0;
        }
      }
      if (n)
        compute(context, j, ids, rows, n);
      std::lock_guard<std::mutex> lock(mu);
      waited += myWait;
    };
    if (threads == 1)
      body(0);
    else
      pool().run(body);
    // Every read of the chunk was waited for by the thread needing it,
    // except after an error: then the reads still in flight must land
    // before their buffers are used again.
    drainSource();
    if (!pending_.empty())
      c.ioSeconds += std::max(0.0, lastDone_ - start);
    c.waitSeconds += waited / threads;
    waited = 0;
    if (!error_.ok()) {
      // Rows of the failed chunk may be missing: start over next time.
      cache_.clear();
      return error_;
    }
    cursor = stop;
    bool more = false;
    for (int j = 0; j < threads; ++j)
      more |= cursor[j] < needed[j].size();
    if (!more)
      break;
  }
  return {};
}

} // namespace actsparse::runtime
