//===- FlashTest.cpp - the neuron cache, direct I/O and flash execution ---===//
//
// The flash layer is checked against plain expectations worked by hand
// (which slots hold which neurons after swaps, which reads a set of
// neurons needs) and against the in-DRAM kernel: with the bundle behind a
// FlashStore, the sparse FFN kernel must give bit-identical outputs. Faults
// come from a fake read source that fails, shortens or "changes" on demand;
// the real O_DIRECT + io_uring source is checked on a temporary file.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/FfnBundle.h"
#include "actsparse/runtime/Flash.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <sys/mman.h>
#include <gtest/gtest.h>
#include <random>
#include <unistd.h>

using namespace actsparse::runtime;

namespace {

//===----------------------------------------------------------------------===//
// NeuronCache
//===----------------------------------------------------------------------===//

void fillRow(NeuronCache &c, int64_t slot, float v) {
  std::fill(c.row(slot), c.row(slot) + c.rowFloats(), v);
}

TEST(NeuronCache, EvictionSwapsTheLastSlotIn) {
  NeuronCache c(10, 4, 3);
  EXPECT_EQ(c.capacity(), 4);
  for (int n : {7, 2, 5}) {
    int64_t slot = c.insert(n, 0);
    fillRow(c, slot, float(n));
  }
  EXPECT_EQ(c.size(), 3);
  EXPECT_EQ(c.slotOf(2), 1);
  c.evict(7); // slot 0: neuron 5 (the last) moves in, with its row
  EXPECT_EQ(c.size(), 2);
  EXPECT_EQ(c.slotOf(7), -1);
  EXPECT_EQ(c.slotOf(5), 0);
  EXPECT_EQ(c.neuronAt(0), 5);
  EXPECT_EQ(c.row(0)[2], 5.0f);
  EXPECT_EQ(c.slotOf(2), 1);
  c.evict(2); // the last slot: nothing moves
  EXPECT_EQ(c.size(), 1);
  EXPECT_EQ(c.neuronAt(0), 5);
  c.clear();
  EXPECT_EQ(c.size(), 0);
  EXPECT_EQ(c.slotOf(5), -1);
}

TEST(NeuronCache, CapacityNeverExceedsTheNeurons) {
  NeuronCache c(3, 100, 16);
  EXPECT_EQ(c.capacity(), 3);
}

TEST(NeuronCache, WindowExpiryAndLeastRecentlyUsed) {
  NeuronCache c(20, 8, 1);
  // Neuron n last used by token n.
  for (int n = 0; n < 6; ++n)
    c.insert(n, n);
  c.touch(1, 6); // 1 is now recent
  // Keep the neurons used by tokens 3.. : 0 and 2 go, 1 stays.
  EXPECT_EQ(c.expire(3), 2);
  EXPECT_EQ(c.size(), 4);
  for (int n : {1, 3, 4, 5})
    EXPECT_GE(c.slotOf(n), 0) << n;
  // Two least recently used of those used before token 6: 3 then 4.
  EXPECT_EQ(c.evictOldest(2, 6), 2);
  EXPECT_EQ(c.slotOf(3), -1);
  EXPECT_EQ(c.slotOf(4), -1);
  EXPECT_GE(c.slotOf(5), 0);
  // Only 5 is older than token 6; 1 is protected.
  EXPECT_EQ(c.evictOldest(5, 6), 1);
  EXPECT_EQ(c.size(), 1);
  EXPECT_GE(c.slotOf(1), 0);
}

TEST(FlashSizes, ParseByteSize) {
  uint64_t b = 0;
  EXPECT_TRUE(parseByteSize("4096", b));
  EXPECT_EQ(b, 4096u);
  EXPECT_TRUE(parseByteSize("512M", b));
  EXPECT_EQ(b, 512ull << 20);
  EXPECT_TRUE(parseByteSize("1.5G", b));
  EXPECT_EQ(b, 3ull << 29);
  EXPECT_TRUE(parseByteSize("64KiB", b));
  EXPECT_EQ(b, 64ull << 10);
  EXPECT_TRUE(parseByteSize("2gb", b));
  EXPECT_EQ(b, 2ull << 30);
  for (const char *bad : {"", "M", "12Q", "-1G", "1e400", "nan", "3 M"})
    EXPECT_FALSE(parseByteSize(bad, b)) << bad;
}

//===----------------------------------------------------------------------===//
// A fake flash
//===----------------------------------------------------------------------===//

/// Serves reads from memory; completes one read per reap (in submission
/// order) so compute and waiting interleave. Faults are injected by read
/// number (0-based, in submission order).
class FakeSource : public ReadSource {
public:
  FakeSource(std::vector<char> bytes, uint32_t align, int depth)
      : bytes_(std::move(bytes)), align_(align), depth_(depth) {}

  uint32_t alignment() const override { return align_; }
  int queueDepth() const override { return depth_; }
  int64_t inFlight() const override { return int64_t(queue_.size()); }

  Status submit(const ReadRequest *r, size_t n) override {
    for (size_t k = 0; k < n; ++k) {
      EXPECT_EQ(r[k].offset % align_, 0u);
      EXPECT_EQ(r[k].size % align_, 0u);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(r[k].dst) % align_, 0u);
      queue_.push_back({r[k], submitted_++});
      log.push_back(r[k]);
    }
    maxInFlight = std::max<int64_t>(maxInFlight, queue_.size());
    if (int64_t(queue_.size()) > depth_)
      return Status::error("fake: queue depth exceeded");
    return {};
  }

  Status reap(std::vector<uint64_t> &done, bool wait) override {
    if (queue_.empty())
      return wait ? Status::error("fake: wait with nothing in flight")
                  : Status();
    auto [r, number] = queue_.front();
    queue_.pop_front();
    if (number == failRead)
      return Status::error("reading weight pack failed: Input/output error");
    uint64_t available =
        r.offset < bytes_.size() ? bytes_.size() - r.offset : 0;
    uint64_t got = std::min<uint64_t>(r.size, available);
    if (number == shortRead)
      got = r.required / 2;
    std::memcpy(r.dst, bytes_.data() + r.offset, got);
    if (got < r.required)
      return Status::error("short read of weight pack");
    done.push_back(r.tag);
    return {};
  }

  Status checkUnchanged() override {
    return changed ? Status::error("weight pack changed on disk") : Status();
  }

  int64_t failRead = -1, shortRead = -1;
  bool changed = false;
  std::vector<ReadRequest> log;
  int64_t maxInFlight = 0;

private:
  std::vector<char> bytes_;
  uint32_t align_;
  int depth_;
  std::deque<std::pair<ReadRequest, int64_t>> queue_;
  int64_t submitted_ = 0;
};

/// A "pack": `rows` rows of `rowFloats` floats at offset 4096, row i
/// element k = i * 1000 + k.
std::vector<char> fakePack(int64_t rows, int64_t rowFloats) {
  std::vector<char> bytes(4096 + rows * rowFloats * 4 + 4096, 0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t k = 0; k < rowFloats; ++k) {
      float v = float(i * 1000 + k);
      std::memcpy(bytes.data() + 4096 + (i * rowFloats + k) * 4, &v, 4);
    }
  return bytes;
}

/// What a run computed: per thread, the neurons and whether each row
/// held that neuron's data.
struct Seen {
  std::vector<std::vector<int32_t>> ids;
  bool rowsRight = true;
  int64_t rowFloats;
};

void record(void *context, int thread, const int32_t *ids,
            const float *const *rows, int64_t count) {
  Seen &s = *static_cast<Seen *>(context);
  for (int64_t k = 0; k < count; ++k) {
    s.ids[thread].push_back(ids[k]);
    for (int64_t f = 0; f < s.rowFloats; ++f)
      s.rowsRight &= rows[k][f] == float(ids[k] * 1000 + f);
  }
}

struct Fixture {
  FakeSource *source;
  std::unique_ptr<FlashStore> store;
};

Fixture makeStore(int64_t rows, int64_t rowFloats, uint64_t budget,
                  FlashMode mode = FlashMode::Windowed, int window = 2,
                  uint32_t maxRead = 4096, uint32_t mergeGap = 0) {
  auto source = std::make_unique<FakeSource>(fakePack(rows, rowFloats), 512, 4);
  FakeSource *raw = source.get();
  FlashOptions o;
  o.budget = budget;
  o.mode = mode;
  o.window = window;
  o.queueDepth = 4;
  o.maxRead = maxRead;
  o.mergeGap = mergeGap;
  Status s;
  auto store = FlashStore::create(o, std::move(source), "fake.pack",
                                  {{"ffn.0.bundle", 4096, rows, rowFloats}},
                                  /*residentBytes=*/1000, s);
  EXPECT_TRUE(store) << s.message();
  return {raw, std::move(store)};
}

Status runOnce(FlashStore &store, const std::vector<std::vector<int32_t>> &n,
               Seen &seen, int64_t tokens = 1) {
  FlashLayer *layer = store.find(store.binding(0));
  EXPECT_NE(layer, nullptr);
  seen.ids.assign(n.size(), {});
  seen.rowsRight = true;
  seen.rowFloats = layer->tensor().rowFloats;
  return layer->run(n, tokens, record, &seen);
}

//===----------------------------------------------------------------------===//
// FlashStore and FlashLayer
//===----------------------------------------------------------------------===//

TEST(FlashStore, RefusesABudgetBelowTheMinimumAndSaysWhatIsNeeded) {
  // 200 rows of 48 floats (192 bytes): 64 rows minimum = 12288 bytes; one
  // read buffer (the layer is 38400 bytes < 4 reads of 4 KiB... so 4
  // buffers of 4096) = 16384; resident 1000.
  FlashOptions o;
  o.queueDepth = 4;
  o.maxRead = 4096;
  o.budget = 1000 + 16384 + 12288 - 1;
  Status s;
  auto make = [&] {
    return FlashStore::create(
        o, std::make_unique<FakeSource>(fakePack(200, 48), 512, 4), "f",
        {{"t", 4096, 200, 48}}, 1000, s);
  };
  EXPECT_FALSE(make());
  EXPECT_NE(s.message().find("at least"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("(29672 bytes)"), std::string::npos)
      << s.message();
  o.budget += 1;
  auto store = make();
  ASSERT_TRUE(store) << s.message();
  EXPECT_EQ(store->find(store->binding(0))->cache().capacity(), 64);
}

TEST(FlashLayer, LoadsMissingNeuronsCoalescedAndReusesThemInTheWindow) {
  // 48-float rows (192 bytes); a budget for every row.
  Fixture f = makeStore(200, 48, 1 << 20);
  Seen seen;
  // Neurons 10, 11, 12 are adjacent: one read; 50 another.
  ASSERT_TRUE(runOnce(*f.store, {{10, 11, 12, 50}}, seen));
  EXPECT_TRUE(seen.rowsRight);
  EXPECT_EQ(seen.ids[0], (std::vector<int32_t>{10, 11, 12, 50}));
  ASSERT_EQ(f.source->log.size(), 2u);
  // Row 10 starts at 4096 + 1920 = 6016: aligned down to 5632, and the
  // read ends at 4096 + 13 * 192 = 6592, aligned up to 6656.
  EXPECT_EQ(f.source->log[0].offset, 5632u);
  EXPECT_EQ(f.source->log[0].size, 1024u);
  EXPECT_EQ(f.source->log[0].required, 6592u - 5632u);
  const FlashCounters &c = f.store->counters();
  EXPECT_EQ(c.loaded, 4);
  EXPECT_EQ(c.hits, 0);
  // Token 1: 11 and 50 are resident, 13 is read.
  ASSERT_TRUE(runOnce(*f.store, {{11, 13, 50}}, seen));
  EXPECT_TRUE(seen.rowsRight);
  EXPECT_EQ(c.hits, 2);
  EXPECT_EQ(c.loaded, 5);
  EXPECT_EQ(f.source->log.size(), 3u);
  // Tokens 2 and 3 need nothing; at token 4 (window 2) neurons last used
  // by token 1 have expired, so 11 is read again.
  ASSERT_TRUE(runOnce(*f.store, {{}}, seen));
  ASSERT_TRUE(runOnce(*f.store, {{}}, seen));
  ASSERT_TRUE(runOnce(*f.store, {{11}}, seen));
  EXPECT_EQ(c.loaded, 6);
  EXPECT_EQ(c.tokens, 5);
  // Windowing predicted the same rows: 4 + 1 + 1.
  EXPECT_EQ(c.windowPredictedBytes, 6 * 192);
  EXPECT_EQ(c.rowBytes, 6 * 192);
}

TEST(FlashLayer, ReadsThroughSmallGaps) {
  // Gaps of up to 2 rows (384 bytes) are read through.
  Fixture f = makeStore(200, 48, 1 << 20, FlashMode::Windowed, 2, 4096, 384);
  Seen seen;
  ASSERT_TRUE(runOnce(*f.store, {{10, 12, 15, 40}}, seen));
  EXPECT_TRUE(seen.rowsRight);
  EXPECT_EQ(seen.ids[0], (std::vector<int32_t>{10, 12, 15, 40}));
  // 10..15 (gaps of 1 and 2 rows) in one read, 40 (24 rows on) alone.
  ASSERT_EQ(f.source->log.size(), 2u);
  EXPECT_EQ(f.source->log[0].required, 384u + 6 * 192u);
  EXPECT_EQ(f.store->counters().rowBytes, 4 * 192);
  // Only the needed rows are cached.
  EXPECT_EQ(f.store->find(f.store->binding(0))->cache().size(), 4);
}

TEST(FlashLayer, StreamsThroughASmallCacheInEachThreadsOrder) {
  // Capacity 64 rows; 2 threads need 150 neurons each.
  setNumThreads(2);
  Fixture f = makeStore(400, 48, 1000 + 4 * 4096 + 64 * 192);
  ASSERT_EQ(f.store->find(f.store->binding(0))->cache().capacity(), 64);
  std::vector<std::vector<int32_t>> need(2);
  for (int i = 0; i < 300; ++i)
    need[i < 150 ? 0 : 1].push_back(i < 150 ? i : 100 + i);
  Seen seen;
  ASSERT_TRUE(runOnce(*f.store, need, seen));
  EXPECT_TRUE(seen.rowsRight);
  EXPECT_EQ(seen.ids, need);
  EXPECT_LE(f.source->maxInFlight, 4);
  // A second call that fits keeps the resident part.
  ASSERT_TRUE(runOnce(*f.store, {{}, {need[1].back()}}, seen));
  EXPECT_EQ(f.store->counters().hits, 1);
  setNumThreads(0);
}

TEST(FlashLayer, PrefetchesTheNextLayersPredictedNeurons) {
  // Two layers of 100 rows; layer 1's predictor (rank 1 on a 2-wide
  // input) selects neurons 3 and 4 when x = (1, 0).
  std::vector<char> bytes = fakePack(200, 48);
  FlashOptions o;
  o.budget = 1 << 20;
  o.window = 2;
  o.queueDepth = 4;
  o.maxRead = 4096;
  o.prefetch = true;
  auto source = std::make_unique<FakeSource>(bytes, 512, 4);
  FakeSource *fake = source.get();
  Status s;
  auto store = FlashStore::create(
      o, std::move(source), "fake",
      {{"l0", 4096, 100, 48}, {"l1", 4096 + 100 * 192, 100, 48}}, 0, s);
  ASSERT_TRUE(store) << s.message();
  FlashLayer *l0 = store->find(store->binding(0));
  FlashLayer *l1 = store->find(store->binding(1));
  std::vector<float> a = {1, 0}, b(100, -1.0f), c(100, 0.0f), x = {1, 0};
  b[3] = b[4] = 1.0f;
  l1->setPredictor(a.data(), b.data(), c.data(), 2, 1, 1);
  Seen seen;
  seen.rowFloats = 48;
  auto run = [&](FlashLayer *l, std::vector<int32_t> ids) {
    seen.ids.assign(1, {});
    return l->run({ids}, 1, record, &seen);
  };
  // Token 0: layer 0 then layer 1 (which links them).
  ASSERT_TRUE(run(l0, {1}));
  ASSERT_TRUE(run(l1, {50}));
  // Token 1: after layer 0, layer 1's neurons 3 and 4 are read ahead.
  ASSERT_TRUE(run(l0, {1}));
  size_t before = fake->log.size();
  ASSERT_TRUE(l0->prefetchNext(x.data(), 2));
  ASSERT_EQ(fake->log.size(), before + 1); // 3 and 4: one read
  EXPECT_EQ(fake->log.back().offset, (4096 + 100 * 192 + 3 * 192) / 512 * 512u);
  // Layer 1 needs 3 (prefetched) and 7 (read now): rows 100 + i.
  ASSERT_TRUE(run(l1, {3, 7}));
  EXPECT_EQ(seen.ids[0], (std::vector<int32_t>{3, 7}));
  const FlashCounters &k = store->counters();
  EXPECT_EQ(k.prefetched, 2);
  EXPECT_EQ(k.prefetchUsed, 1);
  EXPECT_EQ(k.hits, 2); // layer 0 reused 1, layer 1 found 3
  // 3 was resident (prefetched); only 7 was read.
  EXPECT_EQ(fake->log.size(), before + 2);
}

TEST(FlashLayer, NaiveModeReadsEveryCall) {
  Fixture f = makeStore(100, 48, 1 << 20, FlashMode::Naive);
  std::vector<std::vector<int32_t>> all(1);
  for (int i = 0; i < 100; ++i)
    all[0].push_back(i);
  Seen seen;
  ASSERT_TRUE(runOnce(*f.store, all, seen));
  ASSERT_TRUE(runOnce(*f.store, all, seen));
  EXPECT_TRUE(seen.rowsRight);
  EXPECT_EQ(f.store->counters().loaded, 200);
  EXPECT_EQ(f.store->counters().hits, 0);
}

TEST(FlashLayer, FaultsAreErrorsAndTheNextCallRecovers) {
  Fixture f = makeStore(200, 48, 1 << 20);
  Seen seen;
  f.source->failRead = 1;
  Status s = runOnce(*f.store, {{3, 40, 90}}, seen);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("Input/output error"), std::string::npos);
  f.source->failRead = -1;
  // Rows of the failed call are not trusted: all three are read again.
  size_t before = f.source->log.size();
  ASSERT_TRUE(runOnce(*f.store, {{3, 40, 90}}, seen));
  EXPECT_TRUE(seen.rowsRight);
  EXPECT_EQ(f.source->log.size() - before, 3u);

  f.source->shortRead = int64_t(f.source->log.size());
  s = runOnce(*f.store, {{120}}, seen);
  EXPECT_NE(s.message().find("short read"), std::string::npos);
  EXPECT_TRUE(seen.ids[0].empty()); // nothing computed from a short row

  f.source->changed = true;
  s = runOnce(*f.store, {{3}}, seen);
  EXPECT_NE(s.message().find("changed on disk"), std::string::npos);
}

//===----------------------------------------------------------------------===//
// The sparse FFN kernel on flash
//===----------------------------------------------------------------------===//

/// Runs the kernel on a random gated block (T tokens, D = 24, E = 20,
/// H = 600, predicted set `keep` through a rank-1 predictor's bias) with
/// the bundle either in DRAM or behind `store`.
std::vector<float> kernel(int64_t t, const std::vector<char> &keep,
                          std::vector<float> &bundle, const void *binding) {
  const int64_t d = 24, e = 20, h = int64_t(keep.size());
  FfnKernelConfig config;
  config.fields = kBundleGate | kBundleUp | kBundleDown;
  config.activation = FfnActivation::Relu;
  config.predictor = FfnPredictorKind::LowRank;
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0, 1);
  std::vector<float> x(t * d), a(d, 0.0f), b(h, 0.0f), c(h), y(t * e), r;
  for (float &v : x)
    v = dist(rng);
  for (int64_t i = 0; i < h; ++i)
    c[i] = keep[i] ? 1.0f : -1.0f;
  int64_t stride = int64_t(bundle.size()) / h;
  float *bd = static_cast<float *>(const_cast<void *>(binding));
  ActSparseMemRef2DF32 xv{x.data(), x.data(), 0, {t, d}, {d, 1}},
      bv{bd, bd, 0, {h, stride}, {stride, 1}},
      av{a.data(), a.data(), 0, {d, 1}, {1, 1}},
      bbv{b.data(), b.data(), 0, {1, h}, {h, 1}},
      cv{c.data(), c.data(), 0, {1, h}, {h, 1}},
      rv{nullptr, nullptr, 0, {0, e}, {e, 1}},
      yv{y.data(), y.data(), 0, {t, e}, {e, 1}};
  ActSparseMemRef2DF32 gv{nullptr, nullptr, 0, {0, 0}, {0, 1}};
  _mlir_ciface_actsparse_rt_sparse_ffn_f32(0, config.encode(), 0.0f, &xv, &bv,
                                           &gv, &av, &bbv, &cv, &rv, &yv);
  return y;
}

TEST(FlashKernel, BitIdenticalToTheBundleInDram) {
  const int64_t d = 24, e = 20, h = 600;
  FfnBundleLayout l =
      FfnBundleLayout::make(d, e, kBundleGate | kBundleUp | kBundleDown);
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0, 0.3f);
  std::vector<float> bundle(h * l.stride, 0.0f);
  for (int64_t i = 0; i < h; ++i)
    for (int64_t k = 0; k < 2 * d + e; ++k)
      bundle[i * l.stride + k] = dist(rng);
  std::vector<char> pack(4096 + bundle.size() * 4 + 4096, 0);
  std::memcpy(pack.data() + 4096, bundle.data(), bundle.size() * 4);
  for (int threads : {1, 2})
    for (uint64_t cacheRows : {64, 600})
      for (FlashMode mode : {FlashMode::Windowed, FlashMode::Naive}) {
        setNumThreads(threads);
        FlashOptions o;
        o.mode = mode;
        o.queueDepth = 8;
        o.maxRead = 8192;
        o.budget = 8 * 8192 + cacheRows * l.stride * 4;
        Status s;
        auto store = FlashStore::create(
            o, std::make_unique<FakeSource>(pack, 512, 8), "fake",
            {{"b", 4096, h, l.stride}}, 0, s);
        ASSERT_TRUE(store) << s.message();
        for (int64_t t : {1, 3, 40}) {
          std::vector<char> keep(h);
          for (char &k : keep)
            k = rng() % 3 == 0;
          std::vector<float> want = kernel(t, keep, bundle, bundle.data());
          setFlashStore(store.get());
          std::vector<float> got = kernel(t, keep, bundle, store->binding(0));
          setFlashStore(nullptr);
          std::string error;
          ASSERT_FALSE(takeRuntimeError(error)) << error;
          ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * 4))
              << "threads " << threads << ", cache " << cacheRows
              << " rows, mode " << flashModeName(mode) << ", " << t
              << " tokens";
        }
      }
  setNumThreads(0);
}

TEST(FlashKernel, AFailedReadIsReportedAndTheOutputZeroed) {
  const int64_t d = 24, e = 20, h = 600;
  FfnBundleLayout l =
      FfnBundleLayout::make(d, e, kBundleGate | kBundleUp | kBundleDown);
  std::vector<float> bundle(h * l.stride, 0.5f);
  std::vector<char> pack(4096 + bundle.size() * 4 + 4096, 0);
  auto source = std::make_unique<FakeSource>(pack, 512, 8);
  source->failRead = 0;
  FlashOptions o;
  o.queueDepth = 8;
  o.budget = 64 << 20;
  Status s;
  auto store = FlashStore::create(o, std::move(source), "fake",
                                  {{"b", 4096, h, l.stride}}, 0, s);
  ASSERT_TRUE(store) << s.message();
  setFlashStore(store.get());
  std::vector<float> y = kernel(1, std::vector<char>(h, 1), bundle,
                                store->binding(0));
  setFlashStore(nullptr);
  std::string error;
  ASSERT_TRUE(takeRuntimeError(error));
  EXPECT_NE(error.find("Input/output error"), std::string::npos) << error;
  for (float v : y)
    ASSERT_EQ(v, 0.0f);
}

//===----------------------------------------------------------------------===//
// The real source: O_DIRECT and io_uring on a file
//===----------------------------------------------------------------------===//

/// `bytes` in a new file of the temporary directory; empty on failure.
std::filesystem::path writeTemp(const std::string &tag,
                                const std::vector<char> &bytes) {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("actsparse-" + tag + "-" + std::to_string(::getpid()) + ".bin");
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return {};
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok &= std::fclose(f) == 0;
  return ok ? path : std::filesystem::path();
}

TEST(DirectSource, ReadsAlignedRangesAndNoticesTruncation) {
  std::vector<char> bytes = fakePack(100, 256); // 1 KiB rows
  std::filesystem::path path = writeTemp("flash", bytes);
  ASSERT_FALSE(path.empty());
  Status s;
  auto source = openDirectSource(path, 8, s);
  if (!source && s.message().find("O_DIRECT") != std::string::npos) {
    std::filesystem::remove(path);
    GTEST_SKIP() << s.message();
  }
  ASSERT_TRUE(source) << s.message();
  uint32_t align = source->alignment();
  ASSERT_GT(align, 0u);
  void *buf = std::aligned_alloc(4096, 65536);
  ReadRequest r;
  r.offset = 8192;
  r.size = 16384;
  r.required = 16384;
  r.dst = buf;
  r.tag = 7;
  ASSERT_TRUE(source->submit(&r, 1));
  std::vector<uint64_t> done;
  ASSERT_TRUE(source->reap(done, true));
  ASSERT_EQ(done, std::vector<uint64_t>{7});
  EXPECT_EQ(0, std::memcmp(buf, bytes.data() + 8192, 16384));
  ASSERT_TRUE(source->checkUnchanged());

  // Past the end of the file: fewer bytes than required.
  r.offset = bytes.size() / 4096 * 4096;
  r.size = 8192;
  r.required = 8192;
  ASSERT_TRUE(source->submit(&r, 1));
  done.clear();
  Status shortRead = source->reap(done, true);
  EXPECT_FALSE(shortRead);
  EXPECT_NE(shortRead.message().find("short read"), std::string::npos)
      << shortRead.message();

  ASSERT_EQ(0, ::truncate(path.c_str(), 8192));
  Status changed = source->checkUnchanged();
  EXPECT_NE(changed.message().find("changed on disk"), std::string::npos)
      << changed.message();
  std::free(buf);
  std::filesystem::remove(path);
}

TEST(MmapBaseline, DropsALayersPagesFromTheProcessAndThePageCache) {
  std::vector<char> bytes = fakePack(64, 1024); // 64 rows of 4 KiB
  std::filesystem::path path = writeTemp("mmap", bytes);
  ASSERT_FALSE(path.empty());
  // Clean pages only can be dropped: write them back first.
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(0, ::fsync(fd));
  FlashOptions o;
  o.mode = FlashMode::Mmap;
  o.budget = 1 << 20;
  Status s;
  auto store = FlashStore::create(o, nullptr, path, {{"b", 4096, 64, 1024}},
                                  0, s);
  ASSERT_TRUE(store) << s.message();
  FlashLayer *layer = store->find(store->binding(0));
  ASSERT_TRUE(layer && layer->mapped());
  EXPECT_EQ(layer->mapped()[5 * 1024 + 3], 5003.0f);
  // Resident in the page cache now, as a second mapping sees.
  void *probe = ::mmap(nullptr, bytes.size(), PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(probe, MAP_FAILED);
  std::vector<unsigned char> pages(bytes.size() / 4096);
  auto residentRows = [&] {
    EXPECT_EQ(0, ::mincore(probe, bytes.size(), pages.data()));
    int n = 0;
    for (int p = 1; p <= 64; ++p)
      n += pages[p] & 1;
    return n;
  };
  float sum = 0;
  for (int r = 0; r < 64; ++r)
    sum += layer->mapped()[r * 1024];
  EXPECT_GT(sum, 0.0f);
  EXPECT_EQ(residentRows(), 64);
  layer->dropPages();
  EXPECT_EQ(residentRows(), 0);
  ::munmap(probe, bytes.size());
  ::close(fd);
  std::filesystem::remove(path);
}

} // namespace
