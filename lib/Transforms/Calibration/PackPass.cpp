//===- PackPass.cpp - what passes that read weights share -----------------===//

#include "PackPass.h"

#include "actsparse/Conversion/Passes.h"
#include "actsparse/Dialect/ActSparseOps.h"
#include "actsparse/Execution/CompiledModel.h"
#include "actsparse/Execution/ObjectCache.h"
#include "actsparse/Transforms/Calibration.h"
#include "actsparse/runtime/Generator.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

using namespace mlir;
using namespace mlir::actsparse;
using namespace mlir::actsparse::calibration;

static llvm::StringMap<std::string> &packLocations() {
  static llvm::StringMap<std::string> locations;
  return locations;
}

void mlir::actsparse::setWeightPackLocation(StringRef reference,
                                            StringRef path) {
  packLocations()[reference] = path.str();
}

void InputRecorder::observe(const rt::FfnProbe &p) {
  features[p.layer] = p.input.cols;
  for (auto [from, to] : {std::pair(&p.input, &rows[p.layer]),
                          std::pair(&p.residual, &residuals[p.layer])})
    for (int64_t i = 0; i < from->rows; ++i)
      to->insert(to->end(), from->row(i), from->row(i) + from->cols);
}

LogicalResult
calibration::readTokenFile(StringRef path,
                           std::vector<std::vector<int>> &sequences,
                           const FailFn &fail) {
  std::ifstream in(path.str());
  if (!in)
    return fail("cannot read token file '" + path + "'");
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    std::vector<int> ids;
    std::string error;
    if (!rt::parseTokenIds(line, ids, error))
      return fail("'" + path + "' line " + Twine(lineNo) + ": " + error);
    if (ids.size() == 1)
      return fail("'" + path + "' line " + Twine(lineNo) +
                  ": a sequence needs at least two tokens");
    if (!ids.empty())
      sequences.push_back(std::move(ids));
  }
  if (sequences.empty())
    return fail("'" + path + "' holds no token sequence");
  return success();
}

LogicalResult calibration::recordFfnInputs(
    ModuleOp module, StringRef what,
    const std::vector<std::vector<int>> &sequences, unsigned optLevel,
    bool cache, const WeightLoader &load, const ProgressFn &progress,
    const FailFn &fail, InputRecorder &recorder) {
  // Compile a copy in a context of its own, as sparse-run would load it:
  // the pass must not load dialects into the context it is running in.
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  DialectRegistry registry;
  registry.insert<ActSparseDialect, func::FuncDialect>();
  registerLoweringDialects(registry);
  MLIRContext context(registry);
  progress("compiling " + what);
  // Through the object cache, as sparse-run compiles: a calibration run
  // again, or another one of the same model, finds the original model and
  // the blocks already calibrated the same way compiled.
  CompileOptions options;
  options.optLevel = optLevel;
  if (cache)
    options.cacheDirectory = ObjectCache::defaultDirectory();
  CompileReport report;
  std::string error;
  auto model = CompiledModel::compileBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "the module to calibrate"),
      context, options, report, error);
  if (!report.warning.empty())
    progress("  " + report.warning);
  if (!model)
    return fail("compiling the model failed: " + error);
  std::string compiled =
      report.cacheHit
          ? std::string("code from the cache")
          : llvm::formatv("compile {0:F1} s", report.seconds).str();
  auto start = std::chrono::steady_clock::now();
  std::vector<rt::Tensor> weightBuffers;
  if (rt::Status s = load(model->signature().weights, weightBuffers); !s)
    return fail(s.message());
  std::vector<const void *> weights;
  for (const rt::Tensor &t : weightBuffers)
    weights.push_back(t.data());
  model->bindWeights(weights);
  rt::Status s;
  auto generator = rt::Generator::create(*model, s);
  if (!generator)
    return fail(s.message());

  rt::setFfnObserver(&recorder);
  double nll = 0;
  int count = 0;
  for (size_t i = 0; i < sequences.size(); ++i) {
    rt::ScoreResult scored;
    rt::Status r = generator->score(sequences[i], 0, 0, scored);
    double seqNll = scored.nll;
    int seqCount = scored.count;
    if (!r) {
      rt::setFfnObserver(nullptr);
      return fail("sequence " + Twine(i + 1) + ": " + r.message());
    }
    nll += seqNll;
    count += seqCount;
    if (sequences.size() <= 8 || (i + 1) % 8 == 0 || i + 1 == sequences.size())
      progress(llvm::formatv("  sequence {0}/{1}: {2} tokens, perplexity so "
                             "far {3:F3}",
                             i + 1, sequences.size(), sequences[i].size(),
                             std::exp(nll / count)));
  }
  rt::setFfnObserver(nullptr);
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  progress(llvm::formatv("  recorded FFN inputs of {0} tokens in {1:F1} s "
                         "({2}; perplexity {3:F4})",
                         count + sequences.size(), seconds, compiled,
                         std::exp(nll / count)));
  return success();
}

LogicalResult ModuleWeights::open(ModuleOp module, StringRef explicitPath,
                                  const FailFn &fail) {
  path_ = explicitPath.str();
  if (path_.empty()) {
    auto ref = module->getAttrOfType<StringAttr>(
        ActSparseDialect::getWeightPackAttrName());
    if (!ref)
      return fail("the module names no weight pack; give weights=FILE");
    auto it = packLocations().find(ref.getValue());
    path_ = it != packLocations().end() ? it->second : ref.str();
    // A relative reference is relative to the IR file, as for sparse-run.
    if (it == packLocations().end() && llvm::sys::path::is_relative(path_))
      if (auto file = dyn_cast<FileLineColLoc>(module.getLoc())) {
        llvm::SmallString<256> beside =
            llvm::sys::path::parent_path(file.getFilename().getValue());
        llvm::sys::path::append(beside, path_);
        if (llvm::sys::fs::exists(beside))
          path_ = beside.str().str();
      }
  }
  rt::Status s;
  pack_ = rt::WeightPack::open(path_, s);
  if (!pack_)
    return fail(s.message() + " (give weights=FILE if the pack is elsewhere)");
  return success();
}

LogicalResult ModuleWeights::openForRewrite(ModuleOp module,
                                            StringRef explicitPath,
                                            StringRef outputPack,
                                            StringRef doing,
                                            const FailFn &fail) {
  if (outputPack.empty())
    return fail(doing + " writes a new weight pack: give output-pack=FILE");
  return open(module, explicitPath, fail);
}

FailureOr<std::vector<float>>
ModuleWeights::packValues(StringRef name, int64_t expected,
                          const FailFn &fail) {
  const rt::TensorInfo *info = pack_->find(name.str());
  if (!info || info->dtype != rt::DType::F32 ||
      int64_t(info->numElements()) != expected) {
    (void)fail("weight '" + name +
               "' is missing from the pack or is not f32 of the IR's shape");
    return failure();
  }
  std::vector<float> values(expected);
  if (rt::Status s = pack_->read(*info, values.data()); !s) {
    (void)fail(s.message());
    return failure();
  }
  return values;
}

FailureOr<std::vector<float>>
ModuleWeights::values(Value v, int64_t expected, const FailFn &fail) {
  if (auto w = v.getDefiningOp<WeightOp>())
    return packValues(w.getName(), expected, fail);
  DenseElementsAttr attr;
  if (auto c = v.getDefiningOp<ConstantOp>())
    attr = dyn_cast<DenseElementsAttr>(c.getValue());
  if (!attr || !attr.getElementType().isF32()) {
    v.getDefiningOp() ? (void)v.getDefiningOp()->emitError(
                            "FFN parameters must be weights or f32 constants")
                      : (void)fail("an FFN parameter is a block argument");
    return failure();
  }
  std::vector<float> values;
  for (float f : attr.getValues<float>())
    values.push_back(f);
  if (attr.isSplat())
    values.resize(expected, values.front());
  return values;
}

std::set<std::string> calibration::tensorNames(const rt::WeightPack &pack) {
  std::set<std::string> names;
  for (const rt::TensorInfo &t : pack.tensors())
    names.insert(t.name);
  return names;
}

std::vector<std::string> calibration::referencedWeights(ModuleOp module) {
  std::set<std::string> names;
  module.walk([&](WeightOp w) { names.insert(w.getName().str()); });
  return {names.begin(), names.end()};
}

std::function<bool(const rt::TensorInfo &)>
calibration::stillUsed(ModuleOp module, std::vector<std::string> before) {
  return [after = referencedWeights(module),
          before = std::move(before)](const rt::TensorInfo &t) {
    return std::binary_search(after.begin(), after.end(), t.name) ||
           !std::binary_search(before.begin(), before.end(), t.name);
  };
}

LogicalResult calibration::writePack(
    ModuleOp module, const rt::WeightPack &input, StringRef outputPath,
    const std::function<bool(const rt::TensorInfo &)> &keep,
    const std::vector<NewTensor> &added, const FailFn &fail) {
  if (llvm::sys::fs::equivalent(outputPath, input.path()))
    return fail("output-pack must differ from the input pack");
  rt::Status s;
  auto writer = rt::WeightPackWriter::create(outputPath.str(), s);
  if (!writer)
    return fail(s.message());
  // An interrupted run leaves no temporary pack behind.
  llvm::sys::RemoveFileOnSignal(writer->temporaryPath());
  for (const rt::TensorInfo &t : input.tensors()) {
    if (!keep(t))
      continue;
    std::vector<char> data(t.size);
    if (!(s = input.read(t, data.data())) ||
        !(s = writer->begin(t.name, t.dtype, t.shape, t.size, t.layout)) ||
        !(s = writer->append(data.data(), t.size)) || !(s = writer->end()))
      return fail(s.message());
  }
  for (const NewTensor &t : added)
    if (!(s = t.dtype == rt::DType::F32
                  ? writer->add(t.name, rt::DType::F32, t.shape,
                                t.values.data(),
                                t.values.size() * sizeof(float), t.layout)
                  : writer->add(t.name, t.dtype, t.shape, t.bytes.data(),
                                t.bytes.size(), t.layout)))
      return fail(s.message());
  if (!(s = writer->finish()) || !(s = writer->commit()))
    return fail(s.message());
  Builder b(module.getContext());
  module->setAttr(ActSparseDialect::getWeightPackAttrName(),
                  b.getStringAttr(outputPath));
  module->setAttr(
      ActSparseDialect::getWeightPackIdAttrName(),
      b.getStringAttr(llvm::formatv("{0:x-16}", writer->packId()).str()));
  return success();
}

LogicalResult calibration::emitReport(StringRef text, StringRef path,
                                      bool quiet, const FailFn &fail) {
  if (!quiet)
    llvm::errs() << text;
  if (path.empty())
    return success();
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec);
  if (ec)
    return fail("cannot write report '" + path + "': " + ec.message());
  out << text;
  return success();
}
