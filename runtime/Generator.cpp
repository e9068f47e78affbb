//===- Generator.cpp - autoregressive decoding ----------------------------===//

#include "actsparse/runtime/Generator.h"
#include "actsparse/runtime/Abi.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sys/resource.h>

namespace actsparse::runtime {

long peakRssKiB() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

std::unique_ptr<Generator> Generator::create(Executable &model,
                                             Status &status) {
  std::unique_ptr<Generator> g(new Generator(model));
  g->idsInput_ = model.inputIndex("input_ids");
  g->posInput_ = model.inputIndex("position_ids");
  // transformers/optimum exports take a padding mask over past and new
  // positions; one unpadded sequence attends to all of them.
  g->maskInput_ = model.inputIndex("attention_mask");
  g->logitsOutput_ = model.outputIndex("logits");
  if (g->idsInput_ < 0 || g->logitsOutput_ < 0) {
    status = Status::error("the model has no 'input_ids' input or no "
                           "'logits' output (exported-LLM convention)");
    return nullptr;
  }
  const TensorSpec &logits = model.outputSpecs()[g->logitsOutput_];
  if (logits.shape.size() != 3 || logits.shape[2] <= 0) {
    status = Status::error("'logits' must be [batch, sequence, vocab] with a "
                           "static vocabulary size");
    return nullptr;
  }
  g->vocab_ = logits.shape[2];
  g->lastPositionOnly_ = logits.shape[1] == 1;
  for (size_t i = 0; i < model.inputSpecs().size(); ++i) {
    const std::string &name = model.inputSpecs()[i].name;
    if (name.rfind("past_key_values.", 0) != 0)
      continue;
    std::string present = "present." + name.substr(16);
    int out = model.outputIndex(present);
    if (out < 0) {
      status = Status::error("input '" + name + "' has no matching output '" +
                             present + "'");
      return nullptr;
    }
    g->pastInputs_.push_back(i);
    g->presentOutputs_.push_back(out);
  }
  // In place when every past input is the leading rows of a cache whose
  // size is known but for the batch (1) and the positions.
  const std::vector<CacheSpec> &caches = model.cacheSpecs();
  g->inPlace_ = !caches.empty() && caches.size() == g->pastInputs_.size();
  for (size_t i = 0; g->inPlace_ && i < caches.size(); ++i) {
    const CacheSpec &c = caches[i];
    g->inPlace_ = c.past == g->pastInputs_[i] &&
                  model.outputIndex(c.tensor.name) == g->presentOutputs_[i];
    for (size_t k = 0; k < c.tensor.shape.size(); ++k)
      if (c.tensor.shape[k] < 0 && k != 0 && int(k) != c.axis)
        g->inPlace_ = false;
  }
  for (size_t i = 0; i < model.inputSpecs().size(); ++i)
    if ((int)i != g->idsInput_ && (int)i != g->posInput_ &&
        (int)i != g->maskInput_ &&
        std::find(g->pastInputs_.begin(), g->pastInputs_.end(), (int)i) ==
            g->pastInputs_.end()) {
      status = Status::error("unsupported model input '" +
                             model.inputSpecs()[i].name + "'");
      return nullptr;
    }
  status = {};
  return g;
}

void Generator::reset() {
  past_.clear();
  cacheBuffers_.clear();
  cacheViews_.clear();
  capacity_ = cachedRows_ = 0;
  if (inPlace_)
    return;
  for (int in : pastInputs_) {
    // An empty cache: batch 1, no past positions, static dims as declared.
    std::vector<int64_t> shape = model_.inputSpecs()[in].shape;
    for (size_t k = 0; k < shape.size(); ++k)
      if (shape[k] < 0)
        shape[k] = k == 0 ? 1 : 0;
    past_.emplace_back(model_.inputSpecs()[in].dtype, shape);
  }
}

void Generator::reserveCacheRows(int64_t rows) {
  int64_t need = cachedRows_ + rows;
  if (need <= capacity_)
    return;
  // Doubling keeps the copies of a growing cache at one per row on
  // average; the model's context caps the growth.
  int64_t capacity = std::max({need, 2 * capacity_, int64_t(128)});
  if (initialCapacity_ > 0)
    capacity = std::max(need, std::min(capacity, initialCapacity_));
  const std::vector<CacheSpec> &caches = model_.cacheSpecs();
  std::vector<Tensor> grown;
  for (size_t i = 0; i < caches.size(); ++i) {
    const CacheSpec &c = caches[i];
    std::vector<int64_t> shape = c.tensor.shape;
    shape[0] = 1;
    shape[c.axis] = capacity;
    // Rows past the cached ones are written by the call that appends
    // them before any call reads them.
    Tensor t = Tensor::uninitialized(c.tensor.dtype, shape);
    if (cachedRows_ > 0)
      copyLeadingRows(t.data(), capacity, cacheBuffers_[i].data(), capacity_,
                      cachedRows_, shape, c.axis,
                      dtypeSize(uint32_t(t.dtype)));
    grown.push_back(std::move(t));
  }
  cacheBuffers_ = std::move(grown);
  capacity_ = capacity;
  // The views change with the buffers; per step only their rows do.
  cacheViews_.clear();
  for (Tensor &buffer : cacheBuffers_) {
    CacheView v;
    v.data = buffer.data();
    v.shape = buffer.shape;
    v.strides = rowMajorStrides(buffer.shape);
    cacheViews_.push_back(std::move(v));
  }
}

Status Generator::forward(const std::vector<int> &tokens, int start,
                          Tensor &logits) {
  int64_t n = tokens.size();
  // (An empty call would reach the in-place caches with no rows to append,
  // before any view of them exists.)
  if (n == 0)
    return Status::error("no tokens to run the model on");
  Tensor ids(DType::I64, {1, n}), pos(DType::I64, {1, n});
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab_)
      return Status::error("token id " + std::to_string(tokens[i]) +
                           " is outside the vocabulary (0.." +
                           std::to_string(vocab_ - 1) + ")");
    ids.as<int64_t>()[i] = tokens[i];
    pos.as<int64_t>()[i] = start + i;
  }
  // Full-sequence graphs see the whole sequence again (start = 0); KV-cache
  // graphs see `start` past positions plus the new ones.
  Tensor mask;
  if (maskInput_ >= 0) {
    mask = Tensor(DType::I64, {1, start + n});
    std::fill_n(mask.as<int64_t>(), start + n, int64_t(1));
  }
  std::vector<const Tensor *> inputs(model_.inputSpecs().size());
  inputs[idsInput_] = &ids;
  if (posInput_ >= 0)
    inputs[posInput_] = &pos;
  if (maskInput_ >= 0)
    inputs[maskInput_] = &mask;
  std::vector<Tensor> outputs;
  if (inPlace_) {
    reserveCacheRows(n);
    for (size_t i = 0; i < cacheViews_.size(); ++i) {
      cacheViews_[i].shape[model_.cacheSpecs()[i].axis] = cachedRows_ + n;
      cacheViews_[i].pastRows = cachedRows_;
    }
    if (Status s = model_.runWithCaches(inputs, cacheViews_, outputs); !s)
      return s;
    cachedRows_ += n;
  } else {
    for (size_t i = 0; i < pastInputs_.size(); ++i)
      inputs[pastInputs_[i]] = &past_[i];
    if (Status s = model_.run(inputs, outputs); !s)
      return s;
    for (size_t i = 0; i < presentOutputs_.size(); ++i)
      past_[i] = std::move(outputs[presentOutputs_[i]]);
  }
  logits = std::move(outputs[logitsOutput_]);
  const int64_t rows = lastPositionOnly_ ? 1 : n;
  if (logits.shape.size() != 3 || logits.shape[1] != rows ||
      logits.shape[2] != vocab_)
    return Status::error("the model returned logits of an unexpected shape");
  return {};
}

Status Generator::generate(const std::vector<int> &prompt,
                           const GenerationOptions &options,
                           const std::function<void(int, int)> &onToken,
                           GenerationStats &stats) {
  using Clock = std::chrono::steady_clock;
  if (prompt.empty())
    return Status::error("empty prompt (it needs at least BOS)");
  if (options.context > 0 && (int)prompt.size() > options.context)
    return Status::error("the prompt has " + std::to_string(prompt.size()) +
                         " tokens but the context holds " +
                         std::to_string(options.context));
  initialCapacity_ = options.context;
  reset();
  Sampler sampler(options.temperature, options.topp, options.seed);
  std::vector<int> tokens = prompt;
  stats = {};
  stats.promptTokens = prompt.size();
  Tensor logits;
  auto t0 = Clock::now();
  if (Status s = forward(tokens, 0, logits); !s)
    return s;
  stats.prefillSeconds =
      std::chrono::duration<double>(Clock::now() - t0).count();
  auto t1 = Clock::now();
  const uint64_t allocationsBefore = generatedCodeAllocations();
  const uint64_t systemBefore = generatedCodeSystemAllocations();
  for (int step = 0; step < options.steps; ++step) {
    const float *last =
        logits.as<float>() + (logits.shape[1] - 1) * int64_t(vocab_);
    if (onLogits)
      onLogits(last);
    int next = sampler.sample(last, vocab_);
    if (std::find(options.stopTokens.begin(), options.stopTokens.end(),
                  next) != options.stopTokens.end())
      break;
    onToken(tokens.back(), next);
    tokens.push_back(next);
    ++stats.generatedTokens;
    if (step + 1 == options.steps)
      break;
    if (options.context > 0 && (int)tokens.size() >= options.context) {
      stats.stoppedAtContext = true;
      break;
    }
    Status s = usesKvCache() ? forward({next}, tokens.size() - 1, logits)
                             : forward(tokens, 0, logits);
    if (!s)
      return s;
    ++stats.decodeCalls;
  }
  stats.decodeSeconds =
      std::chrono::duration<double>(Clock::now() - t1).count();
  stats.decodeAllocations = generatedCodeAllocations() - allocationsBefore;
  stats.decodeSystemAllocations =
      generatedCodeSystemAllocations() - systemBefore;
  stats.peakRssKiB = peakRssKiB();
  return {};
}

Status Generator::score(const std::vector<int> &tokens, int window,
                        int stride, ScoreResult &result, int scoreFrom) {
  result = {};
  const int n = int(tokens.size());
  if (n < 2)
    return Status::error("perplexity needs at least two tokens, got " +
                         std::to_string(n));
  if (scoreFrom > 0 && window > n)
    return Status::error("the text has " + std::to_string(n) +
                         " tokens, less than one window of " +
                         std::to_string(window));
  if (window <= 0 || window >= n)
    window = n;
  if (window < 2)
    return Status::error("the perplexity window must hold at least two "
                         "tokens");
  if (stride <= 0)
    stride = std::max(1, window / 2);
  if (stride > window)
    return Status::error("the perplexity stride (" + std::to_string(stride) +
                         ") is longer than the window (" +
                         std::to_string(window) + ")");
  if (lastPositionOnly_)
    return Status::error("the model returns the logits of one position only "
                         "(as --actsparse-last-position-logits compiles "
                         "it); scoring needs every position's");
  if (scoreFrom < 0 || scoreFrom > window - 2)
    return Status::error("a window of " + std::to_string(window) +
                         " tokens scores from positions 0 to " +
                         std::to_string(window - 2) + ", not " +
                         std::to_string(scoreFrom));
  result.window = window;
  result.stride = window < n ? stride : 0;
  result.scoreFrom = scoreFrom;
  int scoredTo = 1; // tokens[0] is never predicted
  for (int begin = 0;; begin += stride) {
    int end = std::min(begin + window, n);
    // Whole windows only when each scores its second part; and a last
    // window of one token has nothing to predict (its token was the
    // previous window's end, which no window scores when stride = window).
    if ((scoreFrom > 0 && end - begin < window) || end - begin < 2)
      break;
    if (scoreFrom > 0)
      scoredTo = begin + scoreFrom + 1;
    reset();
    Tensor logits;
    std::vector<int> in(tokens.begin() + begin, tokens.begin() + end - 1);
    if (Status s = forward(in, 0, logits); !s)
      return s;
    for (int p = std::max(scoredTo, begin + 1); p < end; ++p) {
      const float *row = logits.as<float>() + (p - 1 - begin) * int64_t(vocab_);
      result.nll += logSumExp(row, vocab_) - double(row[tokens[p]]);
      ++result.count;
    }
    scoredTo = end;
    ++result.windows;
    if (end == n)
      break;
  }
  return {};
}

} // namespace actsparse::runtime
