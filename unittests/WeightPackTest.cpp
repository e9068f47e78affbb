//===- WeightPackTest.cpp - weight pack round trip and corruption ---------===//
//
// A pack written by WeightPackWriter reads back bit for bit, and every kind of
// damage to the file is reported by name rather than read as weights.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/Entry.h"
#include "actsparse/runtime/Quant.h"
#include "actsparse/runtime/WeightPack.h"

#include <xxhash.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <numeric>
#include <unistd.h>

using namespace actsparse::runtime;

namespace {

class WeightPackTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/actsparse-pack-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/model.weights";
    a.resize(3 * 5);
    std::iota(a.begin(), a.end(), -7.5f);
    b = {1, -2, 300000000000LL};
  }
  void TearDown() override {
    std::remove(path.c_str());
    rmdir(dir.c_str());
  }

  void writePack() {
    Status s;
    auto w = WeightPackWriter::create(path, s);
    ASSERT_TRUE(w) << s.message();
    ASSERT_TRUE(w->add("a", DType::F32, {3, 5}, a.data(), a.size() * 4))
        << "add a";
    // A tensor streamed in pieces, as the importer does for external data.
    ASSERT_TRUE(w->begin("b", DType::I64, {3}, 24));
    ASSERT_TRUE(w->append(b.data(), 8));
    ASSERT_TRUE(w->append(b.data() + 1, 16));
    ASSERT_TRUE(w->end());
    ASSERT_TRUE(w->add("empty", DType::F32, {0, 4}, nullptr, 0));
    ASSERT_TRUE(w->finish());
    ASSERT_TRUE(w->commit());
    packId = w->packId();
  }

  std::string readFile() {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void writeFile(const std::string &bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), bytes.size());
  }
  /// Opens the (damaged) pack and returns the error, or "" if it opened.
  std::string openError() {
    Status s;
    auto p = WeightPack::open(path, s);
    EXPECT_EQ(p == nullptr, !s.ok());
    return s.message();
  }

  std::string dir, path;
  std::vector<float> a;
  std::vector<int64_t> b;
  uint64_t packId = 0;
};

TEST_F(WeightPackTest, RoundTrip) {
  writePack();
  Status s;
  auto pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message();
  EXPECT_EQ(pack->packId(), packId);
  ASSERT_EQ(pack->tensors().size(), 3u);
  const TensorInfo *ta = pack->find("a");
  ASSERT_TRUE(ta);
  EXPECT_EQ(ta->dtype, DType::F32);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(ta->offset % kWeightPackAlignment, 0u);
  std::vector<float> ra(15);
  ASSERT_TRUE(pack->read(*ta, ra.data()));
  EXPECT_EQ(ra, a);
  const TensorInfo *tb = pack->find("b");
  ASSERT_TRUE(tb);
  EXPECT_EQ(tb->offset % kWeightPackAlignment, 0u);
  std::vector<int64_t> rb(3);
  ASSERT_TRUE(pack->read(*tb, rb.data()));
  EXPECT_EQ(rb, b);
  EXPECT_EQ(pack->find("empty")->size, 0u);
  EXPECT_EQ(pack->find("missing"), nullptr);
  EXPECT_TRUE(pack->verifyData());
}

TEST_F(WeightPackTest, NothingUnderFinalNameUntilCommit) {
  std::string tmp;
  {
    Status s;
    auto w = WeightPackWriter::create(path, s);
    ASSERT_TRUE(w);
    tmp = w->temporaryPath();
    EXPECT_EQ(tmp.rfind(path + ".partial-", 0), 0u) << tmp;
    ASSERT_TRUE(w->add("a", DType::F32, {3, 5}, a.data(), a.size() * 4));
    ASSERT_TRUE(w->finish());
    EXPECT_NE(access(tmp.c_str(), F_OK), -1);
  } // Destroyed without commit(): an abandoned import.
  EXPECT_EQ(access(path.c_str(), F_OK), -1);
  EXPECT_EQ(access(tmp.c_str(), F_OK), -1);
}

TEST_F(WeightPackTest, OldPackUntouchedUntilCommitAndWritersDoNotCollide) {
  writePack();
  std::string old = readFile();
  Status s;
  auto w1 = WeightPackWriter::create(path, s);
  auto w2 = WeightPackWriter::create(path, s);
  ASSERT_TRUE(w1 && w2);
  EXPECT_NE(w1->temporaryPath(), w2->temporaryPath());
  ASSERT_TRUE(w1->add("z", DType::F32, {2}, a.data(), 8));
  ASSERT_TRUE(w1->finish());
  EXPECT_EQ(readFile(), old);
  ASSERT_TRUE(w1->commit());
  EXPECT_NE(readFile(), old);
  EXPECT_EQ(access(w1->temporaryPath().c_str(), F_OK), -1);
}

TEST_F(WeightPackTest, WriterRejectsBadTensors) {
  Status s;
  auto w = WeightPackWriter::create(path, s);
  ASSERT_TRUE(w);
  EXPECT_NE(w->add("x", DType::F32, {4}, a.data(), 12).message().find(
                "do not match its shape"),
            std::string::npos);
  ASSERT_TRUE(w->add("y", DType::F32, {1}, a.data(), 4));
  EXPECT_NE(w->add("y", DType::F32, {1}, a.data(), 4).message().find(
                "duplicate tensor name 'y'"),
            std::string::npos);
  ASSERT_TRUE(w->begin("z", DType::F32, {2}, 8));
  EXPECT_NE(w->end().message().find("received 0 of its 8 bytes"),
            std::string::npos);
}

TEST_F(WeightPackTest, MissingFile) {
  EXPECT_NE(openError().find("cannot open"), std::string::npos);
}

TEST_F(WeightPackTest, BadMagic) {
  writePack();
  std::string f = readFile();
  f[0] = 'X';
  writeFile(f);
  EXPECT_NE(openError().find("bad magic"), std::string::npos);
}

TEST_F(WeightPackTest, WrongVersion) {
  writePack();
  std::string f = readFile();
  f[8] = 2; // version field
  writeFile(f);
  EXPECT_NE(openError().find("format version 2"), std::string::npos);
}

TEST_F(WeightPackTest, DamagedHeader) {
  writePack();
  std::string f = readFile();
  f[30] ^= 0x10; // inside tableOffset
  writeFile(f);
  EXPECT_NE(openError().find("header checksum mismatch"), std::string::npos);
}

TEST_F(WeightPackTest, Truncated) {
  writePack();
  std::string f = readFile();
  writeFile(f.substr(0, f.size() - 10));
  EXPECT_NE(openError().find("(truncated)"), std::string::npos);
  writeFile(f.substr(0, 20));
  EXPECT_NE(openError().find("too small"), std::string::npos);
}

TEST_F(WeightPackTest, TrailingGarbage) {
  writePack();
  writeFile(readFile() + "junk");
  EXPECT_NE(openError().find("but its header says"), std::string::npos);
}

TEST_F(WeightPackTest, DamagedTable) {
  writePack();
  std::string f = readFile();
  f[f.size() - 3] ^= 0x01; // last entry's checksum bytes
  writeFile(f);
  EXPECT_NE(openError().find("tensor table checksum mismatch"),
            std::string::npos);
}

// A forger recomputes the checksums (docs/WeightPack.md says how), so what
// the header and table claim must be checked on its own.
namespace {
template <typename T> void put(std::string &f, size_t at, T v) {
  std::memcpy(&f[at], &v, sizeof(T));
}
template <typename T> T get(const std::string &f, size_t at) {
  T v;
  std::memcpy(&v, &f[at], sizeof(T));
  return v;
}
/// Recomputes the table and header checksums after an edit.
void reseal(std::string &f) {
  uint64_t tableOffset = get<uint64_t>(f, 24), tableSize = get<uint64_t>(f, 32);
  put(f, 48, XXH3_64bits(f.data() + tableOffset, tableSize));
  put(f, 56, XXH3_64bits(f.data(), 56));
}
} // namespace

TEST_F(WeightPackTest, ForgedHeaderClaimsMoreTensorsThanTheTableHolds) {
  writePack();
  std::string f = readFile();
  ASSERT_EQ(get<uint32_t>(f, 40), 3u);
  put<uint32_t>(f, 40, 4000000000u);
  reseal(f);
  writeFile(f);
  EXPECT_NE(openError().find("tensor table entry 3 is truncated"),
            std::string::npos)
      << openError();
}

TEST_F(WeightPackTest, ForgedShapeWhoseSizeOverflows) {
  writePack();
  std::string f = readFile();
  // The first entry is "a": u32 1, 'a', dtype, layout, rank 2, then the
  // shape {3, 5}, offset, size and checksum.
  size_t entry = get<uint64_t>(f, 24);
  ASSERT_EQ(get<uint32_t>(f, entry + 13), 2u);
  put<int64_t>(f, entry + 17, int64_t(1) << 32);
  put<int64_t>(f, entry + 25, int64_t(1) << 32);
  put<uint64_t>(f, entry + 41, 0); // 2^64 * 4 bytes, wrapped to 0
  reseal(f);
  writeFile(f);
  EXPECT_NE(openError().find("tensor 'a': size does not match its shape"),
            std::string::npos)
      << openError();
}

TEST_F(WeightPackTest, DamagedDataIsCaughtOnRead) {
  writePack();
  std::string f = readFile();
  f[kWeightPackAlignment + 5] ^= 0x40; // inside tensor "a"
  writeFile(f);
  Status s;
  auto pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message(); // Data is checked when read.
  std::vector<float> ra(15);
  Status r = pack->read(*pack->find("a"), ra.data());
  EXPECT_NE(r.message().find("tensor 'a': checksum mismatch"),
            std::string::npos);
  EXPECT_NE(pack->verifyData().message().find("tensor 'a'"),
            std::string::npos);
  std::vector<int64_t> rb(3); // Undamaged tensors still read.
  EXPECT_TRUE(pack->read(*pack->find("b"), rb.data()));
}

TEST_F(WeightPackTest, NotAPackAtAll) {
  writeFile(std::string(100, 'z'));
  EXPECT_NE(openError().find("bad magic"), std::string::npos);
}

} // namespace

namespace {

// Layout 1 (FFN bundle rows) round-trips; the reader refuses it on a tensor
// that is not an f32 matrix. The writer records what it is told, so the
// bad entry is written directly.
TEST_F(WeightPackTest, BundleLayout) {
  Status s;
  auto w = WeightPackWriter::create(path, s);
  ASSERT_TRUE(w) << s.message();
  ASSERT_TRUE(w->add("ffn.0.bundle", DType::F32, {3, 5}, a.data(), a.size() * 4,
                     Layout::FfnBundle));
  ASSERT_TRUE(w->add("a", DType::F32, {3, 5}, a.data(), a.size() * 4));
  ASSERT_TRUE(w->finish());
  ASSERT_TRUE(w->commit());
  auto pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message();
  EXPECT_EQ(pack->find("ffn.0.bundle")->layout, Layout::FfnBundle);
  EXPECT_EQ(pack->find("a")->layout, Layout::Dense);
  std::vector<float> back(15);
  ASSERT_TRUE(pack->read(*pack->find("ffn.0.bundle"), back.data()));
  EXPECT_EQ(back, a);

  auto bad = WeightPackWriter::create(path, s);
  ASSERT_TRUE(bad);
  ASSERT_TRUE(bad->add("b", DType::I64, {3}, b.data(), 24, Layout::FfnBundle));
  ASSERT_TRUE(bad->finish());
  ASSERT_TRUE(bad->commit());
  EXPECT_NE(openError().find("tensor 'b' is marked as FFN bundles (layout 1) "
                             "but is not an f32 matrix"),
            std::string::npos)
      << openError();
}

// Layouts 2-4 (quantized rows) need an i8 matrix of whole blocks; a layout
// past the last known one is refused.
TEST_F(WeightPackTest, QuantizedRowsLayout) {
  auto write = [&](std::vector<int64_t> shape, DType dtype, uint32_t layout) {
    Status s;
    auto w = WeightPackWriter::create(path, s);
    ASSERT_TRUE(w) << s.message();
    size_t bytes = size_t(shape[0] * shape[1]) * (dtype == DType::I8 ? 1 : 4);
    std::vector<char> data(bytes);
    ASSERT_TRUE(w->add("q", dtype, shape, data.data(), bytes, Layout(layout)));
    ASSERT_TRUE(w->finish());
    ASSERT_TRUE(w->commit());
  };
  write({2, 36}, DType::I8, 3); // two q4_0 rows of two blocks
  Status s;
  auto pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message();
  EXPECT_EQ(pack->find("q")->layout, Layout::Q4_0Rows);
  EXPECT_STREQ(layoutName(pack->find("q")->layout), "q4_0-rows");

  write({2, 36}, DType::I8, 2); // 36 is not a whole number of q8_0 blocks
  EXPECT_NE(openError().find("tensor 'q' is marked as q8_0 rows (layout 2) "
                             "but is not an i8 matrix of whole 34-byte blocks"),
            std::string::npos)
      << openError();
  write({2, 36}, DType::F32, 4);
  EXPECT_NE(openError().find("marked as q4_1 rows"), std::string::npos);
  // The float kinds' rows: 64-byte blocks of 32 16-bit floats.
  write({2, 36}, DType::I8, 8);
  EXPECT_NE(openError().find("tensor 'q' is marked as f16 rows (layout 8) "
                             "but is not an i8 matrix of whole 64-byte blocks"),
            std::string::npos)
      << openError();
  write({2, 128}, DType::I8, 9);
  pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message();
  EXPECT_STREQ(layoutName(pack->find("q")->layout), "bf16-rows");
  EXPECT_EQ(quantKindOf(pack->find("q")->layout), int(QuantKind::BF16));
  EXPECT_FALSE(isFfnBundle(pack->find("q")->layout));
  write({2, 128}, DType::I8, 11);
  pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message();
  EXPECT_STREQ(layoutName(pack->find("q")->layout), "ffn-bundle-bf16");
  EXPECT_TRUE(isFfnBundle(pack->find("q")->layout));
  write({2, 36}, DType::I8, 12);
  EXPECT_NE(openError().find("tensor 'q' has unknown layout 12"),
            std::string::npos)
      << openError();
}

// Layouts 5-7 (quantized FFN bundles) need an i8 matrix of 64-byte rows.
TEST_F(WeightPackTest, QuantizedBundleLayout) {
  auto write = [&](std::vector<int64_t> shape, DType dtype, uint32_t layout) {
    Status s;
    auto w = WeightPackWriter::create(path, s);
    ASSERT_TRUE(w) << s.message();
    size_t bytes = shape[0] * shape[1] * (dtype == DType::I8 ? 1 : 4);
    std::vector<char> data(bytes);
    ASSERT_TRUE(w->add("b", dtype, shape, data.data(), bytes, Layout(layout)));
    ASSERT_TRUE(w->finish());
    ASSERT_TRUE(w->commit());
  };
  write({3, 128}, DType::I8, 6);
  Status s;
  auto pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message();
  EXPECT_EQ(pack->find("b")->layout, Layout::FfnBundleQ4_0);
  EXPECT_STREQ(layoutName(pack->find("b")->layout), "ffn-bundle-q4_0");
  EXPECT_TRUE(isFfnBundle(Layout::FfnBundleQ4_0));
  EXPECT_EQ(quantKindOf(Layout::FfnBundleQ4_1), int(QuantKind::Q4_1));
  EXPECT_EQ(quantKindOf(Layout::Q8_0Rows), int(QuantKind::Q8_0));
  EXPECT_EQ(quantKindOf(Layout::FfnBundle), -1);

  write({3, 100}, DType::I8, 5);
  EXPECT_NE(openError().find("tensor 'b' is marked as quantized FFN bundles "
                             "(layout 5) but is not an i8 matrix of 64-byte "
                             "rows"),
            std::string::npos)
      << openError();
  write({3, 64}, DType::F32, 7);
  EXPECT_NE(openError().find("marked as quantized FFN bundles (layout 7)"),
            std::string::npos)
      << openError();
}

} // namespace

namespace {

// A weight the IR wants as GEMM strips (TensorSpec::panelColumns) is read as
// the pack stores it, [K, N], and laid out as [ceil(N / 16), K, 16]: strip s
// holds columns 16 s .. 16 s + 15 of every row, zero past N (Abi.h).
TEST_F(WeightPackTest, PanelWeightsAreLaidOutAsStrips) {
  writePack();
  Status s;
  auto pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message();
  TensorSpec spec{"a", DType::F32, {1, 3, 16}};
  spec.panelColumns = 5;
  EXPECT_EQ(storedShape(spec), (std::vector<int64_t>{3, 5}));
  std::vector<Tensor> buffers;
  ASSERT_TRUE(loadWeights({spec}, *pack, buffers));
  ASSERT_EQ(buffers.size(), 1u);
  ASSERT_EQ(buffers[0].shape, (std::vector<int64_t>{1, 3, 16}));
  const float *got = buffers[0].as<float>();
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t j = 0; j < 16; ++j)
      EXPECT_EQ(got[k * 16 + j], j < 5 ? a[k * 5 + j] : 0.0f)
          << "k=" << k << " j=" << j;

  // Several strips, split between the pool's threads.
  for (int threads : {1, 2, 3}) {
    setNumThreads(threads);
    TensorSpec wide{"w", DType::F32, {3, 7, 16}};
    wide.panelColumns = 40;
    std::vector<float> values(7 * 40);
    std::iota(values.begin(), values.end(), 1.0f);
    Tensor strips = layOutWeight(wide, values.data());
    const float *p = strips.as<float>();
    for (int64_t n = 0; n < 48; ++n)
      for (int64_t k = 0; k < 7; ++k)
        ASSERT_EQ(p[(n / 16) * 7 * 16 + k * 16 + n % 16],
                  n < 40 ? values[k * 40 + n] : 0.0f)
            << "threads=" << threads << " k=" << k << " n=" << n;
  }

  // Strips of another weight shape than the pack's are refused by name.
  spec.panelColumns = 6;
  buffers.clear();
  Status bad = loadWeights({spec}, *pack, buffers);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find("'a'"), std::string::npos) << bad.message();
}

// A grouped weight's kind must be the pack's: rows of another kind would
// be laid out and read with the wrong block format, so they are refused
// by name.
TEST_F(WeightPackTest, GroupedWeightOfAnotherKindIsRefused) {
  Status s;
  auto w = WeightPackWriter::create(path, s);
  ASSERT_TRUE(w) << s.message();
  std::vector<char> data(3 * 36);
  ASSERT_TRUE(w->add("q", DType::I8, {3, 36}, data.data(), data.size(),
                     Layout::Q4_0Rows));
  ASSERT_TRUE(w->finish());
  ASSERT_TRUE(w->commit());
  auto pack = WeightPack::open(path, s);
  ASSERT_TRUE(pack) << s.message();
  TensorSpec spec{"q", DType::I8, {1, 8 * 36}};
  spec.groupRows = 3;
  spec.groupKind = int64_t(QuantKind::Q4_0);
  std::vector<Tensor> buffers;
  ASSERT_TRUE(loadWeights({spec}, *pack, buffers));
  spec.groupKind = int64_t(QuantKind::Q4_1);
  buffers.clear();
  Status bad = loadWeights({spec}, *pack, buffers);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.message().find(
                "weight 'q' in the pack is q4_0-rows, not the q4_1 rows"),
            std::string::npos)
      << bad.message();
}

// Quantized rows the IR wants in groups (TensorSpec::groupRows) are read as
// the pack stores them, [N, B], and laid out as [ceil(N / 8), 8 B]
// (groupQuantizedRows, whose layout QuantTest checks byte by byte).
TEST(LayOutWeightTest, QuantizedRowsAreLaidOutInGroups) {
  const int64_t N = 37, K = 64, B = quantRowBytes(QuantKind::Q4_0, K);
  std::vector<uint8_t> rows(N * B);
  for (size_t i = 0; i < rows.size(); ++i)
    rows[i] = uint8_t(i * 7 + 3);
  std::vector<uint8_t> want(5 * 8 * B);
  groupQuantizedRows(QuantKind::Q4_0, rows.data(), B, N, K, want.data());
  for (int threads : {1, 2, 3}) {
    setNumThreads(threads);
    TensorSpec spec{"w", DType::I8, {5, 8 * B}};
    spec.groupRows = N;
    spec.groupKind = int64_t(QuantKind::Q4_0);
    EXPECT_EQ(storedShape(spec), (std::vector<int64_t>{N, B}));
    Tensor groups = layOutWeight(spec, rows.data());
    ASSERT_EQ(groups.byteSize(), want.size());
    EXPECT_EQ(std::memcmp(groups.data(), want.data(), want.size()), 0)
        << "threads=" << threads;
  }
}

// A tied classifier's embedding, stored [N, K], laid out as the strips of
// its transpose: the same strips as the [K, N] matrix gives, for any
// split between threads and a partial last strip.
TEST(LayOutWeightTest, TransposedPanelsAreTheTransposesStrips) {
  const int64_t N = 37, K = 19;
  std::vector<float> wt(N * K), w(K * N);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      w[k * N + n] = wt[n * K + k] = float(n * 100 + k);
  for (int threads : {1, 2, 3}) {
    setNumThreads(threads);
    TensorSpec plain{"w", DType::F32, {3, K, 16}};
    plain.panelColumns = N;
    TensorSpec tied = plain;
    tied.panelsTransposed = true;
    EXPECT_EQ(storedShape(tied), (std::vector<int64_t>{N, K}));
    Tensor a = layOutWeight(plain, w.data()), b = layOutWeight(tied, wt.data());
    ASSERT_EQ(a.byteSize(), b.byteSize());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.byteSize()), 0)
        << "threads=" << threads;
    // Strip 2 holds columns 32-36 and zeros.
    const float *p = b.as<float>() + 2 * K * 16;
    EXPECT_EQ(p[5 * 16 + 4], float(36 * 100 + 5));
    EXPECT_EQ(p[5 * 16 + 5], 0.0f);
  }
}

// Signature lines carry the layout; a malformed one is refused.
TEST(EntrySignatureTest, PanelWeightsRoundTrip) {
  EntrySignature sig;
  TensorSpec w{"w", DType::F32, {3, 64, 16}};
  w.panelColumns = 40;
  sig.weights = {w, {"b", DType::F32, {40}}};
  std::string text = sig.serialize();
  EXPECT_NE(text.find("weight w f32 3 3 64 16 panels 40\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("weight b f32 1 40\n"), std::string::npos) << text;
  EntrySignature back;
  ASSERT_TRUE(EntrySignature::parse(text, back));
  ASSERT_EQ(back.weights.size(), 2u);
  EXPECT_EQ(back.weights[0].panelColumns, 40);
  EXPECT_EQ(back.weights[0].shape, w.shape);
  EXPECT_EQ(back.weights[1].panelColumns, 0);
  EXPECT_FALSE(back.weights[0].panelsTransposed);
  sig.weights[0].panelsTransposed = true;
  text = sig.serialize();
  EXPECT_NE(text.find("weight w f32 3 3 64 16 panels 40 transposed\n"),
            std::string::npos)
      << text;
  EntrySignature tied;
  ASSERT_TRUE(EntrySignature::parse(text, tied));
  EXPECT_TRUE(tied.weights[0].panelsTransposed);
  for (const char *line : {
           "weight w f32 3 3 64 16 panels 49\n", // 49 columns need 4 strips
           "weight w f32 3 3 64 8 panels 40\n",  // strips are 16 wide
           "weight w f32 2 64 40 panels 40\n",   // strips are rank 3
           "weight w f32 3 3 64 16 columns 40\n",
           "weight w f32 3 3 64 16 panels\n",
           "weight w i8 3 3 64 16 panels 40\n",
           "weight w f32 3 3 64 16 panels 40 sideways\n"}) {
    EntrySignature bad;
    EXPECT_FALSE(EntrySignature::parse(line, bad)) << line;
  }
}

TEST(EntrySignatureTest, GroupedWeightsRoundTrip) {
  EntrySignature sig;
  TensorSpec w{"w.q4_1", DType::I8, {5, 320}};
  w.groupRows = 37;
  w.groupKind = int64_t(QuantKind::Q4_1);
  sig.weights = {w};
  std::string text = sig.serialize();
  EXPECT_NE(text.find("weight w.q4_1 i8 2 5 320 groups 37 q4_1\n"),
            std::string::npos)
      << text;
  EntrySignature back;
  ASSERT_TRUE(EntrySignature::parse(text, back));
  ASSERT_EQ(back.weights.size(), 1u);
  EXPECT_EQ(back.weights[0].groupRows, 37);
  EXPECT_EQ(back.weights[0].groupKind, int64_t(QuantKind::Q4_1));
  EXPECT_EQ(back.weights[0].shape, w.shape);
  for (const char *line : {
           "weight w i8 2 5 320 groups 41 q4_1\n",  // 41 rows need 6 groups
           "weight w i8 2 5 320 groups 37 q5_0\n",  // no such kind
           "weight w i8 2 5 240 groups 37 q4_1\n",  // 30-byte rows: no blocks
           "weight w i8 2 5 320 groups 37\n",
           "weight w f32 2 5 320 groups 37 q4_1\n", // rows are bytes
           "weight w i8 3 5 40 8 groups 37 q4_1\n"}) {
    EntrySignature bad;
    EXPECT_FALSE(EntrySignature::parse(line, bad)) << line;
  }
}

} // namespace
