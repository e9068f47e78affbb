//===- KvCacheTest.cpp - in-place KV caches between runtime and model -----===//
//
// A model compiled with --actsparse-kv-cache-in-place takes each cache as a
// parameter after its inputs and writes the step's rows after the past
// ones. These tests stand in for generated code with fake entries and fake
// models: they check the descriptors the runtime passes (the past is a view
// of the cache's leading rows, with the buffer's strides), the plain call
// that copies the past into a fresh cache, the signature lines, and the
// Generator's buffers as they grow past their first capacity.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/Entry.h"
#include "actsparse/runtime/Generator.h"

#include <cmath>
#include <cstring>
#include <gtest/gtest.h>

using namespace actsparse::runtime;

namespace {

constexpr int64_t kHeads = 2, kDim = 3;

/// The value a fake model writes at (head, row, d): independent of layout.
float marker(int64_t head, int64_t row, int64_t d) {
  return float(1000 * head + 10 * row + d) + 0.25f;
}

/// input_ids [1, ?], past [?, 2, ?, 3]; no results; one cache.
EntrySignature cacheSignature() {
  EntrySignature sig;
  sig.inputs = {{"input_ids", DType::I64, {1, -1}},
                {"past", DType::F32, {-1, kHeads, -1, kDim}}};
  CacheSpec c;
  c.tensor = {"present", DType::F32, {-1, kHeads, -1, kDim}};
  c.past = 1;
  c.axis = 2;
  sig.caches = {c};
  sig.deriveOutputs();
  return sig;
}

/// What the fake entry saw.
MemRefDescriptor seenPast(4), seenCache(4);

/// Generated code's part: the rows after the past's get their markers.
void appendingEntry(void **params) {
  std::memcpy(seenPast.data(), params[2], 8 * 11);
  std::memcpy(seenCache.data(), params[3], 8 * 11);
  auto *base = static_cast<float *>(seenCache.aligned()) + seenCache.offset();
  for (int64_t h = 0; h < seenCache.size(1); ++h)
    for (int64_t r = seenPast.size(2); r < seenCache.size(2); ++r)
      for (int64_t d = 0; d < kDim; ++d)
        base[h * seenCache.stride(1) + r * seenCache.stride(2) +
             d * seenCache.stride(3)] = marker(h, r, d);
}

TEST(KvCache, LentCacheIsWrittenInPlaceAndThePastIsItsLeadingRows) {
  EntrySignature sig = cacheSignature();
  const int64_t capacity = 8, past = 3;
  std::vector<float> buffer(kHeads * capacity * kDim, std::nanf(""));
  for (int64_t h = 0; h < kHeads; ++h)
    for (int64_t r = 0; r < past; ++r)
      for (int64_t d = 0; d < kDim; ++d)
        buffer[(h * capacity + r) * kDim + d] = marker(h, r, d);
  CacheView v;
  v.data = buffer.data();
  v.shape = {1, kHeads, past + 1, kDim};
  v.strides = {kHeads * capacity * kDim, capacity * kDim, kDim, 1};
  v.pastRows = past;
  Tensor ids(DType::I64, {1, 1});
  std::vector<CacheView> views = {v};
  std::vector<Tensor> outputs;
  Status s = invokeEntry(appendingEntry, sig, {&ids, nullptr}, &views, {},
                         outputs);
  ASSERT_TRUE(s) << s.message();
  // The past: the same buffer and strides, only its own rows.
  EXPECT_EQ(seenPast.aligned(), buffer.data());
  EXPECT_EQ(seenPast.size(2), past);
  EXPECT_EQ(seenCache.size(2), past + 1);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(seenPast.stride(k), v.strides[k]);
    EXPECT_EQ(seenCache.stride(k), v.strides[k]);
  }
  // Past rows kept, the new row written, the spare rows untouched.
  for (int64_t h = 0; h < kHeads; ++h)
    for (int64_t r = 0; r < capacity; ++r)
      for (int64_t d = 0; d < kDim; ++d) {
        float got = buffer[(h * capacity + r) * kDim + d];
        if (r <= past)
          EXPECT_EQ(got, marker(h, r, d)) << h << ' ' << r << ' ' << d;
        else
          EXPECT_TRUE(std::isnan(got)) << h << ' ' << r << ' ' << d;
      }
  // The cache's output stays empty: its rows are in the caller's buffer.
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_TRUE(outputs[0].shape.empty());
}

TEST(KvCache, PlainCallCopiesThePastAndAppendsOneRowPerToken) {
  EntrySignature sig = cacheSignature();
  const int64_t past = 3, tokens = 2;
  Tensor ids(DType::I64, {1, tokens});
  Tensor pastT(DType::F32, {1, kHeads, past, kDim});
  for (int64_t h = 0; h < kHeads; ++h)
    for (int64_t r = 0; r < past; ++r)
      for (int64_t d = 0; d < kDim; ++d)
        pastT.as<float>()[(h * past + r) * kDim + d] = marker(h, r, d);
  std::vector<Tensor> outputs;
  Status s = invokeEntry(appendingEntry, sig, {&ids, &pastT}, nullptr, {},
                         outputs);
  ASSERT_TRUE(s) << s.message();
  ASSERT_EQ(outputs.size(), 1u);
  const Tensor &present = outputs[0];
  ASSERT_EQ(present.shape,
            (std::vector<int64_t>{1, kHeads, past + tokens, kDim}));
  for (int64_t h = 0; h < kHeads; ++h)
    for (int64_t r = 0; r < past + tokens; ++r)
      for (int64_t d = 0; d < kDim; ++d)
        EXPECT_EQ(present.as<float>()[(h * (past + tokens) + r) * kDim + d],
                  marker(h, r, d))
            << h << ' ' << r << ' ' << d;
}

TEST(KvCache, ViewsOfTheWrongShapeAreRefused) {
  EntrySignature sig = cacheSignature();
  std::vector<float> buffer(64);
  CacheView v;
  v.data = buffer.data();
  v.shape = {1, kHeads + 1, 2, kDim}; // three heads where the model has two
  v.strides = {3 * 2 * kDim, 2 * kDim, kDim, 1};
  v.pastRows = 1;
  Tensor ids(DType::I64, {1, 1});
  std::vector<CacheView> views = {v};
  std::vector<Tensor> outputs;
  Status s = invokeEntry(appendingEntry, sig, {&ids, nullptr}, &views, {},
                         outputs);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("cache 'present' dimension 1 must be 2"),
            std::string::npos)
      << s.message();
  v.shape = {1, kHeads, 2, kDim};
  v.pastRows = 3; // more past rows than the view holds
  views = {v};
  s = invokeEntry(appendingEntry, sig, {&ids, nullptr}, &views, {}, outputs);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("wrong rank or rows"), std::string::npos)
      << s.message();
  v.pastRows = 1;
  v.strides = {2 * 4 * kDim, 4 * kDim, 2 * kDim, 1}; // rows not dense
  views = {v};
  s = invokeEntry(appendingEntry, sig, {&ids, nullptr}, &views, {}, outputs);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("is not dense from dimension 2 on"),
            std::string::npos)
      << s.message();
}

TEST(KvCache, SignatureLinesRoundTrip) {
  EntrySignature sig = cacheSignature();
  std::string text = sig.serialize();
  EXPECT_NE(text.find("cache present f32 4 -1 2 -1 3 past past axis 2\n"),
            std::string::npos)
      << text;
  EntrySignature back;
  ASSERT_TRUE(EntrySignature::parse(text, back));
  ASSERT_EQ(back.caches.size(), 1u);
  EXPECT_EQ(back.caches[0].past, 1);
  EXPECT_EQ(back.caches[0].axis, 2);
  EXPECT_EQ(back.caches[0].tensor.shape, sig.caches[0].tensor.shape);
  ASSERT_EQ(back.outputs.size(), 1u);
  EXPECT_EQ(back.outputs[0].name, "present");

  EntrySignature bad;
  EXPECT_FALSE(EntrySignature::parse(
      "input past f32 1 -1\ncache present f32 1 -1 past other axis 0\n",
      bad));
  EXPECT_FALSE(EntrySignature::parse(
      "input past f32 1 -1\ncache present f32 1 -1 past past axis 1\n",
      bad));
}

/// A decoder whose only state is its cache: each call checks that every
/// past row still holds its marker, writes the new rows' markers, and
/// always predicts token 2.
class FakeDecoder : public Executable {
public:
  FakeDecoder() {
    inputs_ = {{"input_ids", DType::I64, {1, -1}},
               {"past_key_values.0.key", DType::F32, {-1, kHeads, -1, kDim}}};
    CacheSpec c;
    c.tensor = {"present.0.key", DType::F32, {-1, kHeads, -1, kDim}};
    c.past = 1;
    c.axis = 2;
    caches_ = {c};
    outputs_ = {{"logits", DType::F32, {1, -1, kVocab}}, c.tensor};
  }
  const std::vector<TensorSpec> &inputSpecs() const override {
    return inputs_;
  }
  const std::vector<TensorSpec> &outputSpecs() const override {
    return outputs_;
  }
  const std::vector<CacheSpec> &cacheSpecs() const override {
    return caches_;
  }
  Status run(const std::vector<const Tensor *> &,
             std::vector<Tensor> &) override {
    return Status::error("the fake decoder runs with lent caches only");
  }
  Status runWithCaches(const std::vector<const Tensor *> &inputs,
                       const std::vector<CacheView> &caches,
                       std::vector<Tensor> &outputs) override {
    const CacheView &v = caches.at(0);
    int64_t n = inputs[0]->shape[1];
    if (v.shape[2] != v.pastRows + n)
      return Status::error("the cache view does not hold past + new rows");
    auto *base = static_cast<float *>(v.data);
    auto at = [&](int64_t h, int64_t r, int64_t d) -> float & {
      return base[h * v.strides[1] + r * v.strides[2] + d * v.strides[3]];
    };
    for (int64_t h = 0; h < kHeads; ++h)
      for (int64_t r = 0; r < v.shape[2]; ++r)
        for (int64_t d = 0; d < kDim; ++d) {
          if (r < v.pastRows && at(h, r, d) != marker(h, r, d))
            return Status::error("past row " + std::to_string(r) + " lost");
          if (r >= v.pastRows)
            at(h, r, d) = marker(h, r, d);
        }
    maxRows = std::max(maxRows, v.shape[2]);
    ++calls;
    Tensor logits(DType::F32, {1, n, kVocab});
    for (int64_t t = 0; t < n; ++t)
      logits.as<float>()[t * kVocab + 2] = 1.0f;
    outputs.clear();
    outputs.push_back(std::move(logits));
    outputs.emplace_back();
    return {};
  }

  static constexpr int64_t kVocab = 4;
  int calls = 0;
  int64_t maxRows = 0;

private:
  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<CacheSpec> caches_;
};

TEST(KvCache, GeneratorKeepsEveryRowAsItsBuffersGrow) {
  FakeDecoder model;
  Status status;
  std::unique_ptr<Generator> g = Generator::create(model, status);
  ASSERT_TRUE(g) << status.message();
  ASSERT_TRUE(g->usesKvCache());
  GenerationOptions options;
  options.steps = 600; // three times past the first capacity (128 rows)
  options.stopTokens = {};
  GenerationStats stats;
  int generated = 0;
  Status s = g->generate({1, 3, 3}, options,
                         [&](int, int token) {
                           EXPECT_EQ(token, 2);
                           ++generated;
                         },
                         stats);
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(generated, 600);
  EXPECT_EQ(model.calls, 600); // the prompt, then every token but the last
  EXPECT_EQ(model.maxRows, 3 + 599);
}

} // namespace
