//===- sparse-run.cpp - run a compiled ActSparse model --------------------===//
//
// Loads an imported model (.mlir) and its weight pack, JIT-compiles it for
// the host CPU and generates text, scores a token file, or checks outputs
// against a reference. The work is done by CompiledModel (lib/Conversion)
// and the runtime's Generator; this file parses flags and reports.
//
//===----------------------------------------------------------------------===//

#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseDialect.h"
#include "actsparse/Execution/CompiledModel.h"
#include "actsparse/Execution/ObjectCache.h"
#include "actsparse/Import/OnnxImporter.h"
#include "actsparse/Import/OnnxTensorFile.h"
#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/Entry.h"
#include "actsparse/runtime/FfnStats.h"
#include "actsparse/runtime/Flash.h"
#include "actsparse/runtime/Generator.h"
#include "actsparse/runtime/HfTokenizer.h"
#include "actsparse/runtime/Tokenizer.h"
#include "actsparse/runtime/Quant.h"
#include "actsparse/runtime/WeightPack.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/SourceMgr.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <limits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace actsparse::runtime;
using mlir::actsparse::ObjectCache;

namespace {

struct Options {
  std::string model, weights, tokenizer, prompt, inputIds, checkRef,
      checkOnnx, perplexity, statsJson, dumpLogits, inspect, stopIds, system;
  /// --dram-budget as given ("" : everything in DRAM), and the flash
  /// options it enables.
  std::string dramBudget;
  FlashOptions flash;
  GenerationOptions gen;
  /// --tolerance (absolute), and whether it was given: --check-onnx's
  /// default is ONNX's, 1e-7.
  double tolerance = 1e-4;
  bool toleranceGiven = false;
  double rtol = 1e-3; ///< --rtol, for --check-onnx
  int threads = 0; ///< 0: all cores
  int sparseDenseRows = -1; ///< -1: the runtime's default
  int optLevel = 3;         ///< LLVM level of JIT-compiled code
  /// --cache-dir as given; "" : the default location (ObjectCache.h).
  std::string cacheDir;
  bool noCache = false;
  /// --perplexity windows: length (0: the model's context) and stride (0:
  /// half the window).
  int ctxWindow = 0, ctxStride = 0;
  /// --ctx-score-from: each window scores its predictions from there on.
  int ctxScoreFrom = 0;
  size_t values = 20;
  /// --warmup: one untimed generation (prefill and a step) first.
  bool warmup = false;
  bool printIds = false, stats = true, chat = false, checkPredictor = false;
  bool exactPrefill = false;
  bool allLogits = false; ///< --all-logits
};

void usage(FILE *out) {
  std::fprintf(
      out,
      "USAGE: sparse-run MODEL.mlir|MODEL.so|MODEL.onnx [options]\n"
      "       sparse-run --inspect-weights PACK [--values N]\n\n"
      "Runs a model imported by sparse-opt: JIT-compiles it for this CPU (or\n"
      "loads the shared library of sparse-opt --emit=shared-lib), loads its\n"
      "weight pack, then generates (default), scores or checks. An ONNX\n"
      "model (.onnx, .onnxtxt) is imported first, as sparse-opt imports it,\n"
      "with its weights in a temporary pack removed at exit: every run\n"
      "imports again, so import large models once with sparse-opt.\n\n"
      "Generation:\n"
      "  --prompt TEXT          prompt text (needs --tokenizer); BOS alone "
      "when absent\n"
      "  --input-ids 1,2,3      prompt as token ids (BOS is not added)\n"
      "  --tokenizer FILE       llama2.c tokenizer.bin, SentencePiece .model, "
      "or a\n"
      "                         Hugging Face tokenizer.json (byte-level BPE)\n"
      "  --chat                 --prompt is a user turn in ChatML (needs a\n"
      "                         tokenizer.json with <|im_start|>, <|im_end|>);"
      "\n"
      "                         generation stops at <|im_end|>\n"
      "  --system TEXT          system turn before it (SmolLM2's template "
      "uses\n"
      "                         \"You are a helpful AI assistant named "
      "SmolLM,\n"
      "                         trained by Hugging Face\")\n"
      "                         (needed to print text)\n"
      "  -n N                   tokens to generate at most (default 256)\n"
      "  --stop-ids 2,0         token ids that end generation (default 1, "
      "BOS, as\n"
      "                         llama2.c); --stop-ids none never stops early\n"
      "  --temperature T        0 = greedy (default), otherwise sampled\n"
      "  --top-p P              nucleus sampling mass (default 0.9)\n"
      "  --seed S               sampler seed (default 42)\n"
      "  --context N            positions the model supports (default: read "
      "from the\n"
      "                         model when it has a position table); longer "
      "prompts\n"
      "                         are refused, generation stops there\n"
      "  --print-ids            print token ids instead of text\n"
      "  --dump-logits FILE     write every step's logits (one line each)\n"
      "  --all-logits           compute the logits of every prompt position "
      "(by\n"
      "                         default generation compiles MODEL.mlir to "
      "compute\n"
      "                         the last one only, all it samples from)\n"
      "  --warmup               first run the prompt and one step untimed and\n"
      "                         unprinted, so that the statistics describe a\n"
      "                         warm process (buffers, caches), as a server's\n"
      "                         next request finds it; not with --dram-budget\n"
      "Other modes:\n"
      "  --perplexity FILE      perplexity of FILE: token ids (whitespace or "
      "comma\n"
      "                         separated), or text with --tokenizer\n"
      "  --ctx-window N         score longer texts in windows of N tokens "
      "(default:\n"
      "                         the context), each from an empty cache\n"
      "  --ctx-stride N         windows start N tokens apart (default N/2); "
      "each\n"
      "                         scores the tokens after the previous one's "
      "end\n"
      "  --ctx-score-from P     each window scores what its logits at "
      "positions P..\n"
      "                         predict instead, whole windows only "
      "(llama.cpp's\n"
      "                         perplexity -c W: --ctx-window W --ctx-stride "
      "W\n"
      "                         --ctx-score-from W/2)\n"
      "  --check-ref FILE       run the inputs of a reference file, compare "
      "every output\n"
      "  --tolerance X          max abs error allowed by --check-ref (default "
      "1e-4)\n"
      "  --check-onnx DIR       run an ONNX backend test's data sets "
      "(DIR/test_data_set_*/\n"
      "                         input_N.pb, output_N.pb, or one such "
      "directory) and\n"
      "                         compare as ONNX does: |got - expected| <= "
      "atol + rtol\n"
      "                         |expected|, atol = --tolerance (default "
      "1e-7), rtol =\n"
      "                         --rtol (default 1e-3); integers exactly\n"
      "  --inspect-weights PACK list a weight pack and verify its checksums\n"
      "  --values N             values printed per tensor by "
      "--inspect-weights (20;\n"
      "                         of quantized rows: row 0, dequantized)\n"
      "Common:\n"
      "  --weights PACK         weight pack (default: the one the IR names, "
      "beside it)\n"
      "  --opt-level N          LLVM optimisation level (0-3) when compiling\n"
      "                         MODEL.mlir (default 3; lower compiles faster)\n"
      "  --cache-dir DIR        where compiled code is kept, so that the next\n"
      "                         run of the same IR, options, CPU and compiler\n"
      "                         starts without compiling (default:\n"
      "                         $ACTSPARSE_CACHE/objects, else\n"
      "                         ~/.cache/actsparse/objects; at most 2 GiB,\n"
      "                         least recently used removed first)\n"
      "  --no-cache             compile, and neither read nor write the cache\n"
      "  --threads N            threads of the weight kernels and of the\n"
      "                         loop nests large enough to split (default:\n"
      "                         all cores)\n"
      "  --exact-prefill        quantized weights: prefill multiplies the\n"
      "                         activations in f32, as on a CPU without\n"
      "                         AVX-512 (the AVX-512 kernels round them to\n"
      "                         8 bits or bf16: faster, less precise)\n"
      "  --check-predictor      sparse FFN blocks with a low-rank predictor\n"
      "                         also compute the exact block, and the\n"
      "                         statistics give the predictor's recall and\n"
      "                         precision (slower: a dense block per call)\n"
      "  --sparse-dense-rows N  sparse FFN calls of N or more tokens (prefill,\n"
      "                         --perplexity) run the exact block with dense\n"
      "                         kernels on the bundles, whatever the predictor\n"
      "                         (default: 8 for blocks without a predictor,\n"
      "                         never for the others); 0: never\n"
      "Flash (FFN bundles stay on disk; see README \"Flash-resident weights\"):\n"
      "  --dram-budget SIZE     DRAM for weights: resident tensors, read "
      "buffers\n"
      "                         and the neuron caches; bytes with K/M/G, or "
      "N%%\n"
      "                         of the weights the model uses\n"
      "  --flash-mode MODE      windowed (default): the neurons the predictor\n"
      "                         selects, kept for --flash-window tokens; "
      "naive:\n"
      "                         every FFN row read for every call; mmap: the\n"
      "                         pack mapped, each layer's pages dropped after\n"
      "                         use (baselines)\n"
      "  --flash-window K       tokens a neuron stays cached after its last use\n"
      "                         (default 4)\n"
      "  --flash-queue-depth N  direct reads in flight (default 64)\n"
      "  --flash-read-size SIZE largest single read, neighbours coalesced up "
      "to it\n"
      "                         (default 128K)\n"
      "  --flash-prefetch       after layer l, start reading what layer l+1's\n"
      "                         predictor picks on layer l's input (decode)\n"
      "  --flash-merge-gap SIZE read through gaps of up to SIZE between needed\n"
      "                         rows rather than issue separate reads "
      "(default 0)\n"
      "  --no-stats             no statistics on stderr\n"
      "  --stats-json FILE      statistics as JSON\n"
      "  -h, --help             this text\n");
}

int fail(const std::string &message) {
  std::fprintf(stderr, "sparse-run: %s\n", message.c_str());
  return 1;
}

bool parseArgs(int argc, char **argv, Options &o, int &exitCode) {
  auto need = [&](int &i) -> const char * {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "sparse-run: %s needs a value\n", argv[i]);
      exitCode = 2;
      return nullptr;
    }
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char *v = nullptr;
    if (a == "-h" || a == "--help") {
      usage(stdout);
      exitCode = 0;
      return false;
    }
    // Flags without a value: each sets one field.
    const struct {
      const char *name;
      bool *field;
      bool value;
    } switches[] = {{"--chat", &o.chat, true},
                    {"--print-ids", &o.printIds, true},
                    {"--no-stats", &o.stats, false},
                    {"--check-predictor", &o.checkPredictor, true},
                    {"--exact-prefill", &o.exactPrefill, true},
                    {"--all-logits", &o.allLogits, true},
                    {"--flash-prefetch", &o.flash.prefetch, true},
                    {"--no-cache", &o.noCache, true},
                    {"--warmup", &o.warmup, true}};
    auto flag = std::find_if(std::begin(switches), std::end(switches),
                             [&](const auto &f) { return a == f.name; });
    if (flag != std::end(switches)) {
      *flag->field = flag->value;
      continue;
    }
    if (a.rfind("-", 0) != 0) {
      if (!o.model.empty()) {
        std::fprintf(stderr, "sparse-run: more than one model given\n");
        exitCode = 2;
        return false;
      }
      o.model = a;
      continue;
    }
    static const char *withValue[] = {
        "--weights", "--tokenizer", "--prompt", "--input-ids", "--check-ref",
        "--check-onnx", "--rtol",
        "--perplexity", "--stats-json", "--dump-logits", "--inspect-weights",
        "--ctx-score-from",
        "-n", "--temperature", "--top-p", "--seed", "--context",
        "--tolerance", "--threads", "--values", "--stop-ids", "--system",
        "--sparse-dense-rows", "--opt-level", "--dram-budget", "--flash-mode",
        "--flash-window", "--flash-queue-depth", "--flash-read-size",
        "--flash-merge-gap", "--ctx-window", "--ctx-stride", "--cache-dir"};
    if (std::find(std::begin(withValue), std::end(withValue), a) ==
        std::end(withValue)) {
      std::fprintf(stderr, "sparse-run: unknown option '%s'\n", a.c_str());
      usage(stderr);
      exitCode = 2;
      return false;
    }
    if (!(v = need(i)))
      return false;
    char *end = nullptr;
    auto num = [&](auto &field) {
      using T = std::remove_reference_t<decltype(field)>;
      double d = std::strtod(v, &end);
      bool fits = std::isfinite(d);
      // An integer flag takes an integer it can hold (converting 1e30 to an
      // int is undefined behaviour).
      if constexpr (std::is_integral_v<T>)
        fits = fits && d == std::floor(d) &&
               d >= double(std::numeric_limits<T>::min()) &&
               d < double(std::numeric_limits<T>::max()) + 1.0;
      if (*v == '\0' || *end != '\0' || !fits) {
        std::fprintf(stderr, "sparse-run: %s expects a number, got '%s'\n",
                     a.c_str(), v);
        exitCode = 2;
        return false;
      }
      field = static_cast<T>(d);
      return true;
    };
    bool ok = true;
    if (a == "--weights") o.weights = v;
    else if (a == "--tokenizer") o.tokenizer = v;
    else if (a == "--prompt") o.prompt = v;
    else if (a == "--input-ids") o.inputIds = v;
    else if (a == "--check-ref") o.checkRef = v;
    else if (a == "--check-onnx") o.checkOnnx = v;
    else if (a == "--rtol") ok = num(o.rtol);
    else if (a == "--perplexity") o.perplexity = v;
    else if (a == "--stats-json") o.statsJson = v;
    else if (a == "--dump-logits") o.dumpLogits = v;
    else if (a == "--inspect-weights") o.inspect = v;
    else if (a == "--stop-ids") o.stopIds = v;
    else if (a == "--system") o.system = v;
    else if (a == "--cache-dir") o.cacheDir = v;
    else if (a == "-n") ok = num(o.gen.steps);
    else if (a == "--temperature") ok = num(o.gen.temperature);
    else if (a == "--top-p") ok = num(o.gen.topp);
    else if (a == "--seed") ok = num(o.gen.seed);
    else if (a == "--context") ok = num(o.gen.context);
    else if (a == "--tolerance") ok = num(o.tolerance), o.toleranceGiven = true;
    else if (a == "--threads") ok = num(o.threads);
    else if (a == "--sparse-dense-rows") ok = num(o.sparseDenseRows);
    else if (a == "--opt-level") {
      ok = num(o.optLevel);
      if (ok && (o.optLevel < 0 || o.optLevel > 3)) {
        std::fprintf(stderr, "sparse-run: --opt-level must be 0, 1, 2 or 3\n");
        exitCode = 2;
        return false;
      }
    }
    else if (a == "--values") ok = num(o.values);
    else if (a == "--ctx-score-from") {
      ok = num(o.ctxScoreFrom);
      if (ok && o.ctxScoreFrom < 1) {
        std::fprintf(stderr, "sparse-run: --ctx-score-from must be at least 1\n");
        exitCode = 2;
        return false;
      }
    }
    else if (a == "--ctx-window" || a == "--ctx-stride") {
      int &field = a == "--ctx-window" ? o.ctxWindow : o.ctxStride;
      ok = num(field);
      if (ok && field < (a == "--ctx-window" ? 2 : 1)) {
        std::fprintf(stderr, "sparse-run: %s must be at least %d\n", a.c_str(),
                     a == "--ctx-window" ? 2 : 1);
        exitCode = 2;
        return false;
      }
    }
    else if (a == "--dram-budget") o.dramBudget = v;
    else if (a == "--flash-mode") {
      std::string m = v;
      if (m == "windowed") o.flash.mode = FlashMode::Windowed;
      else if (m == "naive") o.flash.mode = FlashMode::Naive;
      else if (m == "mmap") o.flash.mode = FlashMode::Mmap;
      else {
        std::fprintf(stderr, "sparse-run: --flash-mode must be windowed, "
                             "naive or mmap, got '%s'\n", v);
        exitCode = 2;
        return false;
      }
    }
    else if (a == "--flash-window" || a == "--flash-queue-depth") {
      int &field = a == "--flash-window" ? o.flash.window : o.flash.queueDepth;
      ok = num(field);
      int low = a == "--flash-window" ? 0 : 1;
      if (ok && (field < low || field > 4096)) {
        std::fprintf(stderr, "sparse-run: %s must be in [%d, 4096]\n",
                     a.c_str(), low);
        exitCode = 2;
        return false;
      }
    }
    else if (a == "--flash-read-size" || a == "--flash-merge-gap") {
      bool read = a == "--flash-read-size";
      uint64_t bytes = 0, low = read ? 4096 : 0;
      if (!parseByteSize(v, bytes) || bytes < low || bytes > (64u << 20)) {
        std::fprintf(stderr, "sparse-run: %s expects a size from %s to 64M, "
                             "got '%s'\n", a.c_str(), read ? "4K" : "0", v);
        exitCode = 2;
        return false;
      }
      (read ? o.flash.maxRead : o.flash.mergeGap) = uint32_t(bytes);
    }
    if (!ok)
      return false;
  }
  return true;
}

void printValues(const TensorInfo &t, const std::vector<char> &data,
                 size_t limit) {
  if (quantKindOf(t.layout) >= 0 && !isFfnBundle(t.layout) &&
      t.shape.size() == 2 && t.shape[0] > 0) {
    // Quantized rows: the weights the first row stands for.
    auto kind = QuantKind(quantKindOf(t.layout));
    int64_t k = t.shape[1] / quantBlockBytes(kind) * kQuantBlock;
    std::vector<float> row(k);
    dequantizeRow(kind, reinterpret_cast<const uint8_t *>(data.data()), k,
                  row.data());
    size_t n = std::min<size_t>(limit, k);
    std::printf("  row 0 dequantized:");
    for (size_t i = 0; i < n; ++i)
      std::printf(" %g", row[i]);
    std::printf("%s\n", n < size_t(k) ? " ..." : "");
    return;
  }
  size_t n = std::min<uint64_t>(limit, t.numElements());
  std::printf("  values:");
  for (size_t i = 0; i < n; ++i) {
    if (t.dtype == DType::F32) {
      float v;
      std::memcpy(&v, data.data() + 4 * i, 4);
      std::printf(" %g", v);
    } else if (t.dtype == DType::I64) {
      int64_t v;
      std::memcpy(&v, data.data() + 8 * i, 8);
      std::printf(" %" PRId64, v);
    } else {
      std::printf(" (%s not shown)", dtypeName(uint32_t(t.dtype)));
      break;
    }
  }
  std::printf("%s\n", n < t.numElements() ? " ..." : "");
}

int inspect(const std::string &path, size_t limit) {
  Status s;
  auto pack = WeightPack::open(path, s);
  if (!pack)
    return fail(s.message());
  std::printf("weight pack %s: format version %u, %zu tensors, id %016" PRIx64
              "\n",
              path.c_str(), kWeightPackVersion, pack->tensors().size(),
              pack->packId());
  for (const TensorInfo &t : pack->tensors()) {
    std::printf("%s %s [", t.name.c_str(), dtypeName(uint32_t(t.dtype)));
    for (size_t i = 0; i < t.shape.size(); ++i)
      std::printf("%s%" PRId64, i ? ", " : "", t.shape[i]);
    std::printf("] %s offset %" PRIu64 " size %" PRIu64 "\n",
                layoutName(t.layout),
                t.offset, t.size);
    std::vector<char> data(t.size);
    if (Status r = pack->read(t, data.data()); !r)
      return fail(r.message());
    if (limit)
      printValues(t, data, limit);
  }
  std::printf("checksums ok\n");
  return 0;
}

/// Bytes this process has made the kernel read from storage (0 when
/// /proc/self/io is unreadable).
uint64_t storageReadBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  uint64_t value;
  while (io >> key >> value)
    if (key == "read_bytes:")
      return value;
  return 0;
}

/// --dram-budget: loads every weight except the FFN bundles, which stay in
/// the pack behind a FlashStore sized to the budget.
Status loadWithBudget(const EntrySignature &sig, const WeightPack &pack,
                      const Options &o, std::vector<Tensor> &buffers,
                      std::vector<const void *> &bindings,
                      std::unique_ptr<FlashStore> &flash) {
  std::vector<TensorSpec> resident;
  std::vector<FlashTensor> onFlash;
  std::vector<int> flashIndex(sig.weights.size(), -1);
  uint64_t residentBytes = 0, usedBytes = 0;
  for (size_t k = 0; k < sig.weights.size(); ++k) {
    const TensorSpec &w = sig.weights[k];
    const TensorInfo *t = pack.find(w.name);
    if (!t)
      return Status::error("weight pack '" + pack.path() +
                           "' has no tensor '" + w.name + "' that the IR uses");
    usedBytes += t->size;
    if (isFfnBundle(t->layout) && t->shape == w.shape &&
        t->shape.size() == 2) {
      // The store moves rows of 4-byte words; quantized bundle rows are
      // whole 64-byte lines (the pack checks it).
      int64_t words = t->layout == Layout::FfnBundle
                          ? t->shape[1]
                          : t->shape[1] / int64_t(sizeof(float));
      flashIndex[k] = int(onFlash.size());
      onFlash.push_back({w.name, t->offset, t->shape[0], words});
    } else {
      resident.push_back(w);
      residentBytes += t->size;
    }
  }
  if (onFlash.empty())
    return Status::error(
        "--dram-budget: the model has no bundled FFN weights to keep on "
        "flash (run --actsparse-bundle-ffn first; see README)");
  FlashOptions options = o.flash;
  const std::string &b = o.dramBudget;
  bool valid;
  if (!b.empty() && b.back() == '%') {
    char *end = nullptr;
    double percent = std::strtod(b.c_str(), &end);
    valid = end == b.c_str() + b.size() - 1 && percent > 0 && percent <= 100;
    options.budget = uint64_t(double(usedBytes) * percent / 100.0);
  } else {
    valid = parseByteSize(b, options.budget);
  }
  if (!valid)
    return Status::error("--dram-budget expects a size (512M, 1.5G) or a "
                         "percentage in (0, 100], got '" + b + "'");
  // The direct-I/O source comes first: a budget or file system it cannot
  // work with is refused before anything is loaded.
  Status s;
  std::unique_ptr<ReadSource> source;
  if (options.mode != FlashMode::Mmap) {
    source = openDirectSource(pack.path(), options.queueDepth, s);
    if (!source)
      return s;
  }
  flash = FlashStore::create(options, std::move(source), pack.path(), onFlash,
                             residentBytes, s);
  if (!flash)
    return s;
  if (Status l = loadWeights(resident, pack, buffers); !l)
    return l;
  size_t next = 0;
  for (size_t k = 0; k < sig.weights.size(); ++k)
    bindings.push_back(flashIndex[k] >= 0 ? flash->binding(flashIndex[k])
                                          : buffers[next++].data());
  setFlashStore(flash.get());
  return {};
}

/// Reads the weights the compiled model needs from the pack, checking that
/// each exists with the dtype and shape the IR expects.
int checkReference(Executable &model, const Options &o) {
  std::vector<NamedTensor> ref;
  if (Status s = readReferenceFile(o.checkRef, ref); !s)
    return fail(s.message());
  std::vector<const Tensor *> inputs(model.inputSpecs().size(), nullptr);
  for (const NamedTensor &t : ref)
    if (t.role == "input") {
      int i = model.inputIndex(t.name);
      if (i < 0)
        return fail("reference input '" + t.name + "' is not a model input");
      inputs[i] = &t.tensor;
    }
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i])
      return fail("the reference file has no input '" +
                  model.inputSpecs()[i].name + "'");
  std::vector<Tensor> outputs;
  if (Status s = model.run(inputs, outputs); !s)
    return fail(s.message());
  double worst = 0;
  for (const NamedTensor &t : ref) {
    if (t.role != "output")
      continue;
    int i = model.outputIndex(t.name);
    if (i < 0)
      return fail("reference output '" + t.name + "' is not a model output");
    const Tensor &got = outputs[i];
    if (got.shape != t.tensor.shape)
      return fail("output '" + t.name + "' has another shape than the "
                                        "reference");
    if (got.dtype != t.tensor.dtype)
      return fail("output '" + t.name + "' has another element type than "
                                        "the reference");
    TensorComparison c = compareTensors(got, t.tensor, o.tolerance, 0);
    // A NaN or infinity where the reference has none counts as unbounded.
    double maxErr = c.mismatches && c.maxAbsError <= o.tolerance
                        ? INFINITY
                        : c.maxAbsError;
    std::printf("output %s: %" PRIu64 " values, max abs error %.3g\n",
                t.name.c_str(), got.numElements(), maxErr);
    worst = std::max(worst, maxErr);
  }
  std::printf("max abs error %.3g (tolerance %.3g): %s\n", worst, o.tolerance,
              worst <= o.tolerance ? "ok" : "FAILED");
  return worst <= o.tolerance ? 0 : 1;
}

/// The data sets of an ONNX backend test directory (its test_data_set_*
/// subdirectories, in order), or the directory itself when it holds the
/// input_N.pb files.
std::vector<std::string> onnxDataSets(const std::string &dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> sets;
  std::error_code ec;
  for (const auto &e : fs::directory_iterator(dir, ec))
    if (e.is_directory() &&
        e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path().string());
  std::sort(sets.begin(), sets.end());
  if (sets.empty() && fs::exists(fs::path(dir) / "input_0.pb"))
    sets.push_back(dir);
  if (sets.empty() && fs::exists(fs::path(dir) / "output_0.pb"))
    sets.push_back(dir); // a graph without inputs
  return sets;
}

/// Reads `dir`/`prefix`_0.pb, _1.pb, ... until one is missing; `specs`
/// are the model's tensors in the same order (their types decide how
/// ONNX's uint16-stored bfloat16 data is read).
Status readOnnxTensors(const std::string &dir, const char *prefix,
                       const std::vector<TensorSpec> &specs,
                       std::vector<Tensor> &tensors) {
  for (size_t k = 0;; ++k) {
    std::string path = dir + "/" + prefix + "_" + std::to_string(k) + ".pb";
    if (!std::filesystem::exists(path))
      return {};
    std::string name;
    Tensor t;
    std::optional<DType> expected;
    if (k < specs.size())
      expected = specs[k].dtype;
    if (Status s = mlir::actsparse::readOnnxTensorFile(path, name, t, expected);
        !s)
      return s;
    tensors.push_back(std::move(t));
  }
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string r = "[";
  for (size_t k = 0; k < shape.size(); ++k)
    r += (k ? "," : "") + std::to_string(shape[k]);
  return r + "]";
}

/// --check-onnx: runs every data set of an ONNX backend test. Inputs and
/// outputs match the graph's by position, as ONNX's runner does. Prints
/// "mismatch:" lines for values that differ (exit status 1, as for errors).
int checkOnnxTest(Executable &model, const Options &o) {
  std::vector<std::string> sets = onnxDataSets(o.checkOnnx);
  if (sets.empty())
    return fail("'" + o.checkOnnx + "' holds no test_data_set_* directory "
                "and no input_0.pb");
  double atol = o.toleranceGiven ? o.tolerance : 1e-7;
  bool allOk = true;
  for (const std::string &set : sets) {
    std::vector<Tensor> inputs, expected;
    const auto &inSpecs = model.inputSpecs();
    const auto &outSpecs = model.outputSpecs();
    if (Status s = readOnnxTensors(set, "input", inSpecs, inputs); !s)
      return fail(s.message());
    if (Status s = readOnnxTensors(set, "output", outSpecs, expected); !s)
      return fail(s.message());
    if (inputs.size() != inSpecs.size())
      return fail(set + " has " + std::to_string(inputs.size()) +
                  " inputs, the model " + std::to_string(inSpecs.size()));
    if (expected.size() != outSpecs.size())
      return fail(set + " has " + std::to_string(expected.size()) +
                  " outputs, the model " + std::to_string(outSpecs.size()));
    std::vector<const Tensor *> args;
    for (const Tensor &t : inputs)
      args.push_back(&t);
    std::vector<Tensor> outputs;
    if (Status s = model.run(args, outputs); !s)
      return fail(s.message());
    std::string setName = std::filesystem::path(set).filename().string();
    for (size_t i = 0; i < expected.size(); ++i) {
      const Tensor &got = outputs[i], &want = expected[i];
      std::string what = setName + " output " + std::to_string(i) + " '" +
                         outSpecs[i].name + "'";
      if (got.dtype != want.dtype) {
        std::printf("mismatch: %s is %s, expected %s\n", what.c_str(),
                    dtypeName(uint32_t(got.dtype)),
                    dtypeName(uint32_t(want.dtype)));
        allOk = false;
        continue;
      }
      if (got.shape != want.shape) {
        std::printf("mismatch: %s has shape %s, expected %s\n", what.c_str(),
                    shapeString(got.shape).c_str(),
                    shapeString(want.shape).c_str());
        allOk = false;
        continue;
      }
      TensorComparison c = compareTensors(got, want, atol, o.rtol);
      if (c.mismatches) {
        std::printf("mismatch: %s: %" PRIu64 " of %" PRIu64
                    " values differ; %s\n",
                    what.c_str(), c.mismatches, want.numElements(),
                    c.firstMismatch.c_str());
        allOk = false;
      } else {
        std::printf("%s: %" PRIu64 " %s values, max abs error %.3g\n",
                    what.c_str(), want.numElements(),
                    dtypeName(uint32_t(want.dtype)), c.maxAbsError);
      }
    }
  }
  std::printf("%zu data set%s: %s\n", sets.size(), sets.size() == 1 ? "" : "s",
              allOk ? "ok" : "FAILED");
  return allOk ? 0 : 1;
}

/// Imports the ONNX model `o.model` as sparse-opt would, its weights into a
/// temporary pack (kept in `pack`, which removes it when it goes; `o.weights`
/// then names it), and returns the IR as text, or null after reporting the
/// importer's errors. The IR names the pack after the model, not after the
/// temporary file, so that a second run of the same model finds its code in
/// the object cache.
std::unique_ptr<llvm::MemoryBuffer>
importOnnx(Options &o, mlir::MLIRContext &context,
           std::unique_ptr<WeightPackWriter> &pack) {
  std::string stem = llvm::sys::path::stem(o.model).str();
  llvm::SmallString<256> tmp;
  llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/true, tmp);
  llvm::sys::path::append(tmp, "sparse-run-" + stem + ".pack");
  mlir::actsparse::OnnxImportOptions options;
  options.weightPackPath = std::string(tmp);
  options.weightPackReference = stem + ".pack";
  options.progress = o.stats;
  mlir::ScopedDiagnosticHandler diagnostics(&context, [](mlir::Diagnostic &d) {
    mlir::actsparse::printImportDiagnostic(d, llvm::errs());
    return mlir::success();
  });
  auto imported = mlir::actsparse::importOnnxFile(context, o.model, options);
  if (mlir::failed(imported))
    return nullptr;
  if (imported->pack) {
    llvm::sys::RemoveFileOnSignal(imported->pack->temporaryPath());
    o.weights = imported->pack->temporaryPath();
    pack = std::move(imported->pack);
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  imported->module->print(os);
  return llvm::MemoryBuffer::getMemBufferCopy(text, o.model);
}

bool readIds(const std::string &text, std::vector<int> &ids) {
  std::string error;
  return parseTokenIds(text, ids, error) && !ids.empty();
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  int exitCode = 0;
  if (!parseArgs(argc, argv, o, exitCode))
    return exitCode;
  if (!o.inspect.empty())
    return inspect(o.inspect, o.values);
  if (o.model.empty()) {
    usage(stderr);
    return 2;
  }

  keepTensorsInHeap();
  if (o.threads > 0)
    setNumThreads(o.threads);
  // The model: a shared library from sparse-opt --emit=shared-lib (no
  // compiler needed), or imported IR that is JIT-compiled here.
  std::unique_ptr<Executable> model;
  // The weights of an imported ONNX model, under a temporary name that the
  // writer removes when it goes.
  std::unique_ptr<WeightPackWriter> importedPack;
  const EntrySignature *signature = nullptr;
  std::function<void(std::vector<const void *>)> bindWeights;
  mlir::actsparse::CompileReport compileReport;
  mlir::DialectRegistry registry;
  registry.insert<mlir::actsparse::ActSparseDialect, mlir::func::FuncDialect>();
  mlir::actsparse::registerLoweringDialects(registry);
  mlir::MLIRContext context(registry);
  if (llvm::StringRef(o.model).ends_with(".so")) {
    if (o.allLogits)
      std::fprintf(stderr, "sparse-run: warning: --all-logits applies to "
                           "MODEL.mlir; a library computes the logits as "
                           "sparse-opt compiled it\n");
    Status s;
    auto lib = SharedLibraryModel::load(
        o.model.find('/') == std::string::npos ? "./" + o.model : o.model, s);
    if (!lib)
      return fail(s.message());
    signature = &lib->signature();
    bindWeights = [m = lib.get()](std::vector<const void *> w) {
      m->bindWeights(std::move(w));
    };
    model = std::move(lib);
  } else {
    mlir::actsparse::CompileOptions compileOptions;
    compileOptions.optLevel = unsigned(o.optLevel);
    // Generation samples from the last position only; the other modes
    // compare or score every position.
    compileOptions.lastPositionLogits =
        !o.allLogits && o.perplexity.empty() && o.checkRef.empty() &&
        o.checkOnnx.empty();
    if (!o.noCache)
      compileOptions.cacheDirectory = o.cacheDir.empty()
                                          ? ObjectCache::defaultDirectory()
                                          : o.cacheDir;
    std::string error;
    std::unique_ptr<mlir::actsparse::CompiledModel> jit;
    if (mlir::actsparse::isOnnxPath(o.model)) {
      if (!o.weights.empty())
        return fail("--weights: an ONNX model's weights are its own");
      auto ir = importOnnx(o, context, importedPack);
      if (!ir)
        return fail("cannot import '" + o.model + "'");
      jit = mlir::actsparse::CompiledModel::compileBuffer(
          std::move(ir), context, compileOptions, compileReport, error);
    } else {
      jit = mlir::actsparse::CompiledModel::compileFile(
          o.model, context, compileOptions, compileReport, error);
    }
    if (!compileReport.warning.empty())
      std::fprintf(stderr, "sparse-run: warning: %s\n",
                   compileReport.warning.c_str());
    if (!jit)
      return fail(error);
    std::string phases;
    if (!compileReport.cacheHit)
      phases = llvm::formatv(" (MLIR lowering {0:F2} s, LLVM optimization "
                             "{1:F2} s, code generation {2:F2} s)",
                             compileReport.loweringSeconds,
                             compileReport.optimizationSeconds,
                             compileReport.codegenSeconds)
                   .str();
    if (o.stats)
      std::fprintf(
          stderr, "sparse-run: %s in %.2f s%s%s%s\n",
          compileReport.cacheHit ? "compiled code loaded from the cache"
                                 : "compiled",
          compileReport.seconds, phases.c_str(),
          compileReport.cacheEntry.empty()
              ? (o.noCache ? " (--no-cache)" : " (not cached)")
              : compileReport.cacheHit ? ": " : "; cached as ",
          compileReport.cacheEntry.c_str());
    signature = &jit->signature();
    bindWeights = [m = jit.get()](std::vector<const void *> w) {
      m->bindWeights(std::move(w));
    };
    model = std::move(jit);
  }

  // The weight pack: named by the model, beside it unless absolute.
  std::string packPath = o.weights;
  if (packPath.empty() && !signature->weightPack.empty()) {
    llvm::SmallString<256> p(signature->weightPack);
    if (!llvm::sys::path::is_absolute(p)) {
      p = llvm::sys::path::parent_path(o.model);
      llvm::sys::path::append(p, signature->weightPack);
    }
    packPath = std::string(p);
  }
  std::unique_ptr<WeightPack> pack;
  if (!packPath.empty()) {
    Status s;
    pack = WeightPack::open(packPath, s);
    if (!pack)
      return fail(s.message());
    char id[17];
    std::snprintf(id, sizeof id, "%016" PRIx64, pack->packId());
    if (!signature->weightPackId.empty() && signature->weightPackId != id)
      return fail("weight pack '" + packPath + "' (id " + id +
                  ") does not match the IR, which expects id " +
                  signature->weightPackId);
  }
  std::vector<Tensor> weightBuffers;
  std::vector<const void *> weightPtrs;
  std::unique_ptr<FlashStore> flash;
  if (!signature->weights.empty() && !pack)
    return fail("the model uses weights but no weight pack is named");
  if (o.dramBudget.empty()) {
    // A model without weights may name no pack at all.
    if (pack)
      if (Status s = loadWeights(signature->weights, *pack, weightBuffers); !s)
        return fail(s.message());
    for (const Tensor &t : weightBuffers)
      weightPtrs.push_back(t.data());
  } else if (!pack) {
    return fail("--dram-budget: the model has no weight pack to keep on "
                "flash");
  } else {
    if (o.checkPredictor)
      return fail("--check-predictor needs every FFN row in DRAM; drop "
                  "--dram-budget");
    if (o.warmup)
      return fail("--warmup would count its flash reads in the run's; drop "
                  "--dram-budget");
    Status s = loadWithBudget(*signature, *pack, o, weightBuffers, weightPtrs,
                              flash);
    if (!s)
      return fail(s.message());
  }
  bindWeights(weightPtrs);

  // The context: as given, else what the graph says.
  if (o.gen.context <= 0)
    o.gen.context = int(signature->context);
  else if (signature->context > 0 && o.gen.context > signature->context)
    return fail("--context " + std::to_string(o.gen.context) +
                " is longer than the model's position table (" +
                std::to_string(signature->context) + " positions)");

  // Lowered actsparse.ffn blocks report their neurons here.
  FfnSparsityStats ffnStats;
  setFfnObserver(&ffnStats);
  setCheckPredictor(o.checkPredictor);
  setRoundedPrefill(!o.exactPrefill);
  setSparseDenseRows(o.sparseDenseRows);
  const uint64_t storageAtStart = storageReadBytes();
  auto ffnReport = [&] {
    if (o.stats && !ffnStats.layers().empty())
      std::fputs(("sparse-run: " + ffnStats.report()).c_str(), stderr);
    if (o.stats && flash)
      std::fprintf(stderr, "sparse-run: %sstorage reads of the run: %.1f MiB "
                           "(/proc/self/io)\n",
                   flash->report().c_str(),
                   (storageReadBytes() - storageAtStart) / 1048576.0);
  };
  // --stats-json: `fields` plus the FFN and flash statistics.
  auto writeStatsJson = [&](nlohmann::json fields) {
    if (o.statsJson.empty())
      return true;
    if (!llvm::StringRef(o.model).ends_with(".so"))
      fields["compile"] = {{"seconds", compileReport.seconds},
                           {"lowering_seconds", compileReport.loweringSeconds},
                           {"optimization_seconds",
                            compileReport.optimizationSeconds},
                           {"codegen_seconds", compileReport.codegenSeconds},
                           {"cache_hit", compileReport.cacheHit},
                           {"cache_entry", compileReport.cacheEntry}};
    fields["ffn"] = ffnStats.layers().empty()
                        ? nlohmann::json(nullptr)
                        : nlohmann::json::parse(ffnStats.json());
    fields["flash"] =
        flash ? nlohmann::json::parse(flash->json()) : nlohmann::json(nullptr);
    fields["storage_read_bytes"] = storageReadBytes() - storageAtStart;
    fields["context"] = o.gen.context;
    fields["threads"] = numThreads();
    std::ofstream out(o.statsJson);
    out << fields.dump(2) << '\n';
    return bool(out.flush());
  };

  if (o.warmup && (!o.perplexity.empty() || !o.checkRef.empty() ||
                   !o.checkOnnx.empty()))
    return fail("--warmup applies to generation only");
  if (!o.checkOnnx.empty()) {
    int rc = checkOnnxTest(*model, o);
    if (!writeStatsJson({{"check_onnx", rc == 0}}))
      return fail("cannot write '" + o.statsJson + "'");
    return rc;
  }
  if (!o.checkRef.empty()) {
    int rc = checkReference(*model, o);
    ffnReport();
    if (!writeStatsJson({{"check_ref", rc == 0}}))
      return fail("cannot write '" + o.statsJson + "'");
    return rc;
  }

  Status s;
  auto generator = Generator::create(*model, s);
  if (!generator)
    return fail(s.message());

  std::unique_ptr<Tokenizer> tokenizerPtr;
  bool haveTokenizer = !o.tokenizer.empty();
  if (haveTokenizer) {
    Status t;
    tokenizerPtr = Tokenizer::open(o.tokenizer, generator->vocabSize(), t);
    if (!tokenizerPtr)
      return fail(t.message());
  }

  if (!o.perplexity.empty()) {
    std::ifstream in(o.perplexity);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<int> ids;
    if (!in)
      return fail("cannot read '" + o.perplexity + "'");
    if (text.str().find_first_not_of(" \t\r\n") == std::string::npos)
      return fail("'" + o.perplexity + "' is empty: nothing to score");
    // Token ids, or text when a tokenizer is given and the file is not ids.
    if (!readIds(text.str(), ids)) {
      if (!haveTokenizer)
        return fail("'" + o.perplexity + "' is not a list of token ids (give "
                    "--tokenizer to score text)");
      ids = tokenizerPtr->encode(text.str(), /*bos=*/true);
    }
    // Windows of the context by default: a text longer than the model's
    // positions is scored as llama.cpp and transformers do.
    int window = o.ctxWindow ? o.ctxWindow : int(o.gen.context);
    if (o.ctxStride && !window)
      return fail("--ctx-stride needs --ctx-window (the model does not say "
                  "its context)");
    if (o.gen.context && window > o.gen.context)
      return fail("--ctx-window " + std::to_string(window) +
                  " is longer than the model's context of " +
                  std::to_string(o.gen.context) + " positions");
    ScoreResult r;
    if (o.ctxScoreFrom && !o.ctxWindow)
      return fail("--ctx-score-from needs --ctx-window");
    if (Status p = generator->score(ids, window, o.ctxStride, r,
                                    o.ctxScoreFrom);
        !p)
      return fail(p.message());
    double mean = r.nll / r.count;
    std::printf("perplexity %.4f over %d tokens (mean NLL %.4f)", std::exp(mean),
                r.count, mean);
    if (r.stride)
      std::printf(" in %d windows of %d tokens, stride %d", r.windows,
                  r.window, r.stride);
    if (r.scoreFrom)
      std::printf(", each scored from position %d", r.scoreFrom);
    std::printf("\n");
    ffnReport();
    if (!writeStatsJson({{"perplexity", std::exp(mean)},
                         {"tokens", r.count},
                         {"mean_nll", mean},
                         {"windows", r.windows},
                         {"window", r.window},
                         {"stride", r.stride},
                         {"score_from", r.scoreFrom}}))
      return fail("cannot write '" + o.statsJson + "'");
    return 0;
  }

  if ((o.chat || !o.system.empty()) && (o.prompt.empty() || !haveTokenizer))
    return fail("--chat and --system need --prompt and --tokenizer");
  if (!o.system.empty() && !o.chat)
    return fail("--system needs --chat");
  if (!o.stopIds.empty()) {
    o.gen.stopTokens.clear();
    if (o.stopIds != "none" && !readIds(o.stopIds, o.gen.stopTokens))
      return fail("--stop-ids expects comma-separated integers or 'none'");
  }

  std::vector<int> prompt;
  if (!o.inputIds.empty()) {
    if (!readIds(o.inputIds, prompt))
      return fail("--input-ids expects comma-separated integers");
  } else if (!o.prompt.empty()) {
    if (!haveTokenizer)
      return fail("--prompt needs --tokenizer");
    if (o.chat) {
      auto *hf = dynamic_cast<const HfBpeTokenizer *>(tokenizerPtr.get());
      int start = hf ? hf->tokenId("<|im_start|>") : -1;
      int end = hf ? hf->tokenId("<|im_end|>") : -1;
      if (start < 0 || end < 0)
        return fail("--chat needs a tokenizer.json with ChatML's "
                    "<|im_start|> and <|im_end|> tokens");
      std::string text;
      if (!o.system.empty())
        text += "<|im_start|>system\n" + o.system + "<|im_end|>\n";
      text += "<|im_start|>user\n" + o.prompt +
              "<|im_end|>\n<|im_start|>assistant\n";
      prompt = tokenizerPtr->encode(text, /*specials=*/false);
      if (o.stopIds.empty())
        o.gen.stopTokens = {end};
    } else {
      prompt = tokenizerPtr->encode(o.prompt, /*bos=*/true);
    }
  } else {
    prompt = {Tokenizer::kBos};
  }
  if (!generator->usesKvCache() && o.stats)
    std::fprintf(stderr, "sparse-run: this model has no KV cache: every step "
                         "recomputes the whole prefix\n");

  if (o.warmup) {
    // Untimed and unobserved: the FFN statistics describe the timed run.
    GenerationOptions once = o.gen;
    once.steps = std::min(once.steps, 2);
    GenerationStats ignored;
    setFfnObserver(nullptr);
    Status w = generator->generate(prompt, once, [](int, int) {}, ignored);
    setFfnObserver(&ffnStats);
    if (!w)
      return fail(w.message());
  }

  std::FILE *logitsFile = nullptr;
  if (!o.dumpLogits.empty()) {
    logitsFile = std::fopen(o.dumpLogits.c_str(), "w");
    if (!logitsFile)
      return fail("cannot write '" + o.dumpLogits + "'");
    int vocab = generator->vocabSize();
    generator->onLogits = [&, vocab](const float *l) {
      for (int v = 0; v < vocab; ++v)
        std::fprintf(logitsFile, v ? " %.9g" : "%.9g", l[v]);
      std::fprintf(logitsFile, "\n");
    };
  }
  bool printed = false;
  GenerationStats stats;
  Status g = generator->generate(
      prompt, o.gen,
      [&](int prev, int tok) {
        if (!printed && haveTokenizer && !o.printIds && !o.chat)
          for (size_t i = 1; i < prompt.size(); ++i)
            std::fputs(tokenizerPtr->decode(prompt[i - 1], prompt[i]).c_str(),
                       stdout);
        printed = true;
        if (haveTokenizer && !o.printIds)
          std::fputs(tokenizerPtr->decode(prev, tok).c_str(), stdout);
        else
          std::printf("%d ", tok);
        std::fflush(stdout);
      },
      stats);
  if (printed)
    std::printf("\n");
  std::fflush(stdout);
  if (logitsFile)
    std::fclose(logitsFile);
  if (!g)
    return fail(g.message());

  double prefillTps = stats.prefillSeconds > 0
                          ? stats.promptTokens / stats.prefillSeconds
                          : 0;
  double decodeMs = stats.generatedTokens > 1
                        ? 1000 * stats.decodeSeconds / stats.generatedTokens
                        : 0;
  auto perCall = [&](uint64_t n) {
    return stats.decodeCalls > 0 ? double(n) / stats.decodeCalls : 0.0;
  };
  double allocationsPerCall = perCall(stats.decodeAllocations);
  double systemAllocationsPerCall = perCall(stats.decodeSystemAllocations);
  if (o.stats)
    std::fprintf(stderr,
                 "sparse-run: prompt %d tokens, prefill %.1f tokens/s; "
                 "generated %d tokens, decode %.2f ms/token (%.1f tokens/s, "
                 "%.0f buffers a step, %.2g from malloc); peak RSS %.1f "
                 "MiB; %s; "
                 "context %s\n",
                 stats.promptTokens, prefillTps, stats.generatedTokens,
                 decodeMs, decodeMs > 0 ? 1000 / decodeMs : 0,
                 allocationsPerCall, systemAllocationsPerCall,
                 stats.peakRssKiB / 1024.0,
                 generator->usesKvCache() ? "KV cache" : "no KV cache",
                 o.gen.context > 0 ? std::to_string(o.gen.context).c_str()
                                   : "unknown");
  if (stats.stoppedAtContext)
    std::fprintf(stderr, "sparse-run: stopped at the model's context of %d "
                         "positions\n", o.gen.context);
  if (!generator->usesKvCache() && !ffnStats.layers().empty() && o.stats)
    std::fprintf(stderr, "sparse-run: (without a KV cache every step "
                         "recomputes the prefix, so FFN statistics count "
                         "prefix tokens once per step)\n");
  ffnReport();
  if (!writeStatsJson({{"prompt_tokens", stats.promptTokens},
                       {"prefill_seconds", stats.prefillSeconds},
                       {"prefill_tokens_per_second", prefillTps},
                       {"generated_tokens", stats.generatedTokens},
                       {"decode_seconds", stats.decodeSeconds},
                       {"decode_ms_per_token", decodeMs},
                       {"decode_allocations_per_step", allocationsPerCall},
                       {"decode_system_allocations_per_step",
                        systemAllocationsPerCall},
                       {"peak_rss_kib", stats.peakRssKiB},
                       {"kv_cache", generator->usesKvCache()},
                       {"stopped_at_context", stats.stoppedAtContext}}))
    return fail("cannot write '" + o.statsJson + "'");
  return 0;
}
