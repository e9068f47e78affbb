//===- Entry.cpp - calling a lowered model through the entry ABI ----------===//

#include "actsparse/runtime/Entry.h"
#include "actsparse/runtime/WeightPack.h"
#include "actsparse/runtime/Abi.h"
#include "actsparse/runtime/Quant.h"
#include "Gemm.h"
#include "ThreadPool.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <set>
#include <sstream>

namespace actsparse::runtime {

namespace {
const char *dtypeWord(DType t) { return dtypeName(uint32_t(t)); }

bool dtypeFromWord(const std::string &w, DType &t) {
  for (DType d : {DType::F32, DType::U8, DType::I8, DType::U16, DType::I16,
                  DType::U32, DType::I32, DType::U64, DType::I64,
                  DType::Bool, DType::F16, DType::F64, DType::BF16})
    if (w == dtypeWord(d)) {
      t = d;
      return true;
    }
  return false;
}

/// Copies a (possibly strided) memref into a dense tensor.
void copyOut(const MemRefDescriptor &d, Tensor &t) {
  size_t elt = dtypeSize(uint32_t(t.dtype));
  char *dst = static_cast<char *>(t.data());
  const char *base = static_cast<const char *>(d.aligned()) + d.offset() * elt;
  int64_t rank = d.rank();
  uint64_t n = t.numElements();
  if (n == 0)
    return;
  // Rows of the innermost dimension are copied whole when they are
  // contiguous (stride 1), which results almost always are; the whole
  // tensor at once when the layout is row-major. Results of a few hundred
  // KiB (a KV cache) copied element by element had cost a quarter of
  // stories260K's decode at 500 positions.
  int64_t inner = rank ? d.size(rank - 1) : 1;
  bool rowsContiguous = rank == 0 || d.stride(rank - 1) == 1 || inner == 1;
  bool rowMajor = rowsContiguous;
  for (int64_t k = rank - 2, expect = inner; rowMajor && k >= 0;
       expect *= d.size(k), --k)
    rowMajor = d.size(k) == 1 || d.stride(k) == expect;
  if (rowMajor) {
    std::memcpy(dst, base, n * elt);
    return;
  }
  int64_t run = rowsContiguous ? inner : 1;
  int64_t outer = rowsContiguous ? rank - 1 : rank;
  std::vector<int64_t> idx(outer, 0);
  for (uint64_t i = 0; i < n; i += run) {
    int64_t off = 0;
    for (int64_t k = 0; k < outer; ++k)
      off += idx[k] * d.stride(k);
    std::memcpy(dst + i * elt, base + off * elt, run * elt);
    for (int64_t k = outer - 1; k >= 0; --k) {
      if (++idx[k] < d.size(k))
        break;
      idx[k] = 0;
    }
  }
}
} // namespace

std::string EntrySignature::serialize() const {
  std::ostringstream os;
  auto line = [&](const char *role, const TensorSpec &s) -> std::ostream & {
    os << role << ' ' << s.name << ' ' << dtypeWord(s.dtype) << ' '
       << s.shape.size();
    for (int64_t d : s.shape)
      os << ' ' << d;
    return os;
  };
  os << "abi " << kAbiVersion << '\n';
  for (const TensorSpec &s : inputs)
    line("input", s) << '\n';
  for (const TensorSpec &s : weights) {
    line("weight", s);
    if (s.panelColumns)
      os << " panels " << s.panelColumns
         << (s.panelsTransposed ? " transposed" : "");
    if (s.groupRows)
      os << " groups " << s.groupRows << ' '
         << quantKindName(QuantKind(s.groupKind));
    os << '\n';
  }
  for (const TensorSpec &s : results)
    line("result", s) << '\n';
  for (const CacheSpec &c : caches)
    line("cache", c.tensor) << " past " << inputs[c.past].name << " axis "
                            << c.axis << '\n';
  if (!weightPack.empty())
    os << "pack " << weightPack << '\n';
  if (!weightPackId.empty())
    os << "pack_id " << weightPackId << '\n';
  if (context > 0)
    os << "context " << context << '\n';
  return os.str();
}

Status EntrySignature::parse(const std::string &text, EntrySignature &sig) {
  sig.abiVersion = 0; // until an `abi` line says otherwise
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string role, name, dtype;
    if (!(ls >> role))
      continue;
    if (role == "pack" || role == "pack_id") {
      ls >> (role == "pack" ? sig.weightPack : sig.weightPackId);
      continue;
    }
    if (role == "abi") {
      ls >> sig.abiVersion;
      continue;
    }
    if (role == "context") {
      if (!(ls >> sig.context) || sig.context < 0)
        return Status::error("bad model signature line '" + line + "'");
      continue;
    }
    TensorSpec s;
    size_t rank;
    if (!(ls >> s.name >> dtype >> rank) || !dtypeFromWord(dtype, s.dtype))
      return Status::error("bad model signature line '" + line + "'");
    s.shape.resize(rank);
    for (int64_t &d : s.shape)
      if (!(ls >> d))
        return Status::error("bad model signature line '" + line + "'");
    if (role == "cache") {
      CacheSpec c;
      c.tensor = s;
      std::string pastWord, past, axisWord;
      if (!(ls >> pastWord >> past >> axisWord >> c.axis) ||
          pastWord != "past" || axisWord != "axis" || c.axis < 0 ||
          c.axis >= int64_t(rank))
        return Status::error("bad model signature line '" + line + "'");
      for (size_t i = 0; i < sig.inputs.size(); ++i)
        if (sig.inputs[i].name == past)
          c.past = i;
      if (c.past < 0 || sig.inputs[c.past].shape.size() != rank)
        return Status::error("bad model signature line '" + line +
                             "': no such input of that rank");
      sig.caches.push_back(c);
    } else if (role == "input")
      sig.inputs.push_back(s);
    else if (role == "weight") {
      std::string word, kind;
      if (ls >> word) {
        bool ok = false;
        if (word == "panels") {
          // Strips of a [K, N] weight: [ceil(N / 16), K, 16]; the pack
          // holds [N, K] when `transposed` follows.
          ok = (ls >> s.panelColumns) && rank == 3 && s.panelColumns > 0 &&
               s.shape[2] == kStripWidth &&
               s.shape[0] ==
                   (s.panelColumns + kStripWidth - 1) / kStripWidth &&
               s.dtype == DType::F32;
          std::string more;
          if (ok && (ls >> more)) {
            ok = more == "transposed";
            s.panelsTransposed = ok;
          }
        } else if (word == "groups" && (ls >> s.groupRows >> kind)) {
          // Groups of eight quantized rows: [ceil(N / 8), 8 B].
          auto k = parseQuantKind(kind);
          ok = k && rank == 2 && s.groupRows > 0 && s.dtype == DType::I8 &&
               s.shape[0] == (s.groupRows + kQuantGroupRows - 1) /
                                 kQuantGroupRows &&
               s.shape[1] > 0 && s.shape[1] % kQuantGroupRows == 0 &&
               s.shape[1] / kQuantGroupRows % quantBlockBytes(*k) == 0;
          s.groupKind = k ? int64_t(*k) : 0;
        }
        if (!ok)
          return Status::error("bad model signature line '" + line + "'");
      }
      sig.weights.push_back(s);
    }
    else if (role == "result")
      sig.results.push_back(s);
    else
      return Status::error("bad model signature line '" + line + "'");
  }
  sig.deriveOutputs();
  return {};
}

void EntrySignature::deriveOutputs() {
  outputs = results;
  for (const CacheSpec &c : caches)
    outputs.push_back(c.tensor);
}

namespace {
/// The plain call of a model with in-place caches: each cache is a new
/// tensor holding a copy of its past input, with room for one row per
/// token of `input_ids`; the caches come back as outputs.
Status invokeWithCopiedCaches(EntryFn entry, const EntrySignature &sig,
                              const std::vector<const Tensor *> &inputs,
                              const std::vector<const void *> &weights,
                              std::vector<Tensor> &outputs) {
  const Tensor *ids = nullptr;
  for (size_t i = 0; i < sig.inputs.size() && i < inputs.size(); ++i)
    if (sig.inputs[i].name == "input_ids")
      ids = inputs[i];
  if (!ids || ids->shape.empty())
    return Status::error("a model with in-place KV caches needs an "
                         "'input_ids' input: the caches grow by one row per "
                         "token of it");
  int64_t added = ids->shape.back();
  std::vector<Tensor> caches;
  std::vector<CacheView> views;
  for (const CacheSpec &c : sig.caches) {
    const Tensor *past = c.past < int(inputs.size()) ? inputs[c.past] : nullptr;
    if (!past || past->shape.size() != c.tensor.shape.size() ||
        past->dtype != c.tensor.dtype)
      return Status::error("input '" + sig.inputs[c.past].name +
                           "' has the wrong type or rank");
    std::vector<int64_t> shape = past->shape;
    int64_t pastRows = shape[c.axis];
    shape[c.axis] += added;
    Tensor t(c.tensor.dtype, shape);
    copyLeadingRows(t.data(), shape[c.axis], past->data(), pastRows, pastRows,
                    shape, c.axis, dtypeSize(uint32_t(t.dtype)));
    CacheView v;
    v.data = t.data();
    v.shape = shape;
    v.strides = rowMajorStrides(shape);
    v.pastRows = pastRows;
    views.push_back(std::move(v));
    caches.push_back(std::move(t));
  }
  if (Status s = invokeEntry(entry, sig, inputs, &views, weights, outputs); !s)
    return s;
  for (size_t i = 0; i < caches.size(); ++i)
    outputs[sig.results.size() + i] = std::move(caches[i]);
  return {};
}
} // namespace

Status invokeEntry(EntryFn entry, const EntrySignature &sig,
                   const std::vector<const Tensor *> &inputs,
                   const std::vector<CacheView> *caches,
                   const std::vector<const void *> &weights,
                   std::vector<Tensor> &outputs) {
  if (inputs.size() != sig.inputs.size() || weights.size() != sig.weights.size())
    return Status::error("model expects " + std::to_string(sig.inputs.size()) +
                         " inputs and " + std::to_string(sig.weights.size()) +
                         " weights");
  if (!sig.caches.empty() && !caches)
    return invokeWithCopiedCaches(entry, sig, inputs, weights, outputs);
  if (caches && caches->size() != sig.caches.size())
    return Status::error("model expects " + std::to_string(sig.caches.size()) +
                         " in-place caches");
  // Past inputs of lent caches are views of the caches' leading rows.
  std::vector<const CacheView *> pastView(inputs.size(), nullptr);
  std::vector<int> pastAxis(inputs.size(), 0);
  for (size_t c = 0; caches && c < caches->size(); ++c) {
    const CacheView &v = (*caches)[c];
    const CacheSpec &spec = sig.caches[c];
    size_t rank = spec.tensor.shape.size();
    if (v.shape.size() != rank || v.strides.size() != rank ||
        v.pastRows < 0 || v.pastRows > v.shape[spec.axis])
      return Status::error("the view lent for cache '" + spec.tensor.name +
                           "' has the wrong rank or rows");
    for (size_t k = 0; k < rank; ++k)
      if (spec.tensor.shape[k] >= 0 && spec.tensor.shape[k] != v.shape[k])
        return Status::error("cache '" + spec.tensor.name + "' dimension " +
                             std::to_string(k) + " must be " +
                             std::to_string(spec.tensor.shape[k]));
    // The generated code assumes dense rows from the axis on.
    for (int64_t k = rank - 1, dense = 1; k >= spec.axis; dense *= v.shape[k--])
      if (v.strides[k] != dense)
        return Status::error("the view lent for cache '" + spec.tensor.name +
                             "' is not dense from dimension " +
                             std::to_string(spec.axis) + " on");
    pastView[spec.past] = &v;
    pastAxis[spec.past] = spec.axis;
  }
  std::vector<MemRefDescriptor> descs;
  std::set<const void *> owned; // buffers the caller owns: never freed here
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec &p = sig.inputs[i];
    if (const CacheView *v = pastView[i]) {
      std::vector<int64_t> shape = v->shape;
      shape[pastAxis[i]] = v->pastRows;
      descs.push_back(MemRefDescriptor::forView(v->data, shape, v->strides));
      owned.insert(v->data);
      continue;
    }
    const Tensor &t = *inputs[i];
    if (t.dtype != p.dtype || t.shape.size() != p.shape.size())
      return Status::error("input '" + p.name + "' has the wrong type or rank");
    for (size_t k = 0; k < t.shape.size(); ++k)
      if (p.shape[k] >= 0 && p.shape[k] != t.shape[k])
        return Status::error("input '" + p.name + "' dimension " +
                             std::to_string(k) + " must be " +
                             std::to_string(p.shape[k]));
    descs.push_back(
        MemRefDescriptor::forBuffer(const_cast<void *>(t.data()), t.shape));
    owned.insert(t.data());
  }
  for (size_t c = 0; caches && c < caches->size(); ++c) {
    const CacheView &v = (*caches)[c];
    descs.push_back(MemRefDescriptor::forView(v.data, v.shape, v.strides));
    owned.insert(v.data);
  }
  for (size_t i = 0; i < weights.size(); ++i) {
    descs.push_back(MemRefDescriptor::forBuffer(const_cast<void *>(weights[i]),
                                                sig.weights[i].shape));
    owned.insert(weights[i]);
  }
  size_t resultWords = 0;
  for (const TensorSpec &r : sig.results)
    resultWords += 3 + 2 * r.shape.size();
  std::vector<uint64_t> results(resultWords + 1, 0);
  std::vector<void *> params;
  params.push_back(results.data());
  for (MemRefDescriptor &d : descs)
    params.push_back(d.data());
  uint64_t failedBytes = 0;
  if (!runGuarded(entry, params.data(), failedBytes)) {
    // Reports of the abandoned call mean nothing now.
    int64_t a, b;
    takeIndexOutOfRange(a, b);
    takeShapeMismatch(a, b);
    return Status::error("the model could not allocate " +
                         std::to_string(failedBytes) +
                         " bytes (a tensor larger than memory); call "
                         "abandoned");
  }
  std::string runtimeError;
  bool failed = takeRuntimeError(runtimeError);
  int64_t badIndex, tableSize;
  bool outOfRange = takeIndexOutOfRange(badIndex, tableSize);
  int64_t gotDim, expectedDim;
  bool mismatch = takeShapeMismatch(gotDim, expectedDim);

  outputs.clear();
  std::set<void *> freed;
  size_t word = 0;
  for (const TensorSpec &r : sig.results) {
    int64_t rank = r.shape.size();
    MemRefDescriptor d(rank);
    std::memcpy(d.data(), results.data() + word, 8 * (3 + 2 * rank));
    word += 3 + 2 * rank;
    std::vector<int64_t> shape(rank);
    for (int64_t k = 0; k < rank; ++k)
      shape[k] = d.size(k);
    Tensor t(r.dtype, shape);
    copyOut(d, t);
    outputs.push_back(std::move(t));
    if (d.allocated() && !owned.count(d.allocated()) &&
        freed.insert(d.allocated()).second)
      _mlir_memref_to_llvm_free(d.allocated());
  }
  // The caches' rows are in the caller's buffers.
  outputs.resize(sig.results.size() + sig.caches.size());
  if (failed) {
    outputs.clear();
    return Status::error(runtimeError + "; results discarded");
  }
  if (mismatch) {
    outputs.clear();
    return Status::error(
        "an operand dimension is " + std::to_string(gotDim) +
        " at run time where " + std::to_string(expectedDim) +
        " was needed: broadcasting a dimension the importer could not infer "
        "is not supported (declare or fix the input shapes); results "
        "discarded");
  }
  if (outOfRange) {
    outputs.clear();
    return Status::error(
        "index " + std::to_string(badIndex) + " read from a table of " +
        std::to_string(tableSize) +
        " entries (a token id outside the vocabulary, or a position past the "
        "model's context); results discarded");
  }
  return {};
}

SharedLibraryModel::~SharedLibraryModel() {
  if (handle_)
    dlclose(handle_);
}

std::unique_ptr<SharedLibraryModel>
SharedLibraryModel::load(const std::string &path, Status &status) {
  std::unique_ptr<SharedLibraryModel> m(new SharedLibraryModel());
  m->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->handle_) {
    status = Status::error("cannot load compiled model '" + path +
                           "': " + dlerror());
    return nullptr;
  }
  auto sigFn = reinterpret_cast<const char *(*)()>(
      dlsym(m->handle_, kSignatureSymbol));
  m->entry_ = reinterpret_cast<EntryFn>(dlsym(m->handle_, kEntrySymbol));
  if (!sigFn || !m->entry_) {
    status = Status::error("'" + path + "' is not a model compiled by "
                                        "sparse-opt --emit=shared-lib");
    return nullptr;
  }
  status = EntrySignature::parse(sigFn(), m->sig_);
  if (!status)
    return nullptr;
  // Generated code calls the runtime: a library built against another
  // version of that interface would pass it the wrong arguments.
  if (m->sig_.abiVersion != kAbiVersion) {
    status = Status::error(
        "'" + path + "' was compiled for runtime interface version " +
        std::to_string(m->sig_.abiVersion) + ", this runtime has version " +
        std::to_string(kAbiVersion) + ": compile it again with sparse-opt "
        "--emit=shared-lib");
    return nullptr;
  }
  return m;
}

Status loadWeights(const std::vector<TensorSpec> &weights,
                   const WeightPack &pack, std::vector<Tensor> &buffers) {
  std::vector<char, UninitializedAllocator<char>> stored;
  for (const TensorSpec &w : weights) {
    const TensorInfo *t = pack.find(w.name);
    if (!t)
      return Status::error("weight pack '" + pack.path() + "' has no tensor '" +
                           w.name + "' that the IR uses");
    if (t->dtype != w.dtype || t->shape != storedShape(w))
      return Status::error("weight '" + w.name + "' in the pack has another "
                           "dtype or shape than the IR expects");
    // Rows laid out in groups are read as the kind the IR names: the pack
    // must hold rows of that kind.
    if (w.groupRows && (isFfnBundle(t->layout) ||
                        quantKindOf(t->layout) != int(w.groupKind)))
      return Status::error(
          "weight '" + w.name + "' in the pack is " + layoutName(t->layout) +
          ", not the " + quantKindName(QuantKind(w.groupKind)) +
          " rows the IR expects");
    if (w.panelColumns || w.groupRows) {
      // Read into one scratch buffer for all such weights, then laid out.
      stored.resize(t->size);
      if (Status s = pack.read(*t, stored.data()); !s)
        return s;
      buffers.push_back(layOutWeight(w, stored.data()));
      continue;
    }
    Tensor buf = Tensor::uninitialized(t->dtype, t->shape);
    if (Status s = pack.read(*t, buf.data()); !s)
      return s;
    buffers.push_back(std::move(buf));
  }
  return {};
}

std::vector<int64_t> storedShape(const TensorSpec &spec) {
  if (spec.groupRows && spec.shape.size() == 2)
    return {spec.groupRows, spec.shape[1] / kQuantGroupRows};
  if (!spec.panelColumns || spec.shape.size() != 3)
    return spec.shape;
  if (spec.panelsTransposed)
    return {spec.panelColumns, spec.shape[1]};
  return {spec.shape[1], spec.panelColumns};
}

Tensor layOutWeight(const TensorSpec &spec, const void *stored) {
  Tensor buf = Tensor::uninitialized(spec.dtype, spec.shape);
  if (spec.groupRows) {
    // Split between the pool's threads on multiples of 16 rows, so on
    // groups.
    auto kind = QuantKind(spec.groupKind);
    int64_t rowBytes = spec.shape[1] / kQuantGroupRows;
    int64_t K = rowBytes / quantBlockBytes(kind) * kQuantBlock;
    const auto *rows = static_cast<const uint8_t *>(stored);
    auto *groups = static_cast<uint8_t *>(buf.data());
    forColumnSlices(1, spec.groupRows, K, [&](int64_t n0, int64_t n1) {
      groupQuantizedRows(kind, rows + n0 * rowBytes, rowBytes, n1 - n0, K,
                         groups + n0 / kQuantGroupRows * spec.shape[1]);
    });
    return buf;
  }
  if (!spec.panelColumns) {
    std::memcpy(buf.data(), stored, buf.byteSize());
    return buf;
  }
  // The strips are split between the pool's threads as a product's
  // columns are (slices start on strips); a model's weights pass through
  // here once, at load.
  int64_t K = spec.shape[1], N = spec.panelColumns;
  const float *w = static_cast<const float *>(stored);
  float *out = static_cast<float *>(buf.data());
  forColumnSlices(1, N, K, [&](int64_t n0, int64_t n1) {
    if (spec.panelsTransposed)
      packPanelStripsTransposed(w + n0 * K, K, K, n1 - n0, out + n0 * K);
    else
      packPanelStrips(w + n0, N, K, n1 - n0, out + n0 * K);
  });
  return buf;
}

} // namespace actsparse::runtime
