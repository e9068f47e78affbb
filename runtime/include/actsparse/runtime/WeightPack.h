//===- WeightPack.h - the on-disk weight store ------------------*- C++ -*-===//
//
// The weight pack is the model's "flash" image: a versioned header, tensor
// data aligned to 4 KiB (so O_DIRECT reads need no copy), and a tensor table
// with name, dtype, shape, layout, offset, size and an XXH3 checksum per
// tensor. The format is specified in docs/WeightPack.md. Plain C++, no MLIR:
// the compiler writes packs and the runtime reads them with the same code.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_RUNTIME_WEIGHTPACK_H
#define ACTSPARSE_RUNTIME_WEIGHTPACK_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace actsparse::runtime {

/// Element types, numbered as ONNX TensorProto.DataType so the importer
/// needs no second table.
enum class DType : uint32_t {
  F32 = 1,
  U8 = 2,
  I8 = 3,
  U16 = 4,
  I16 = 5,
  I32 = 6,
  I64 = 7,
  Bool = 9,
  F16 = 10,
  F64 = 11,
  U32 = 12,
  U64 = 13,
  BF16 = 16,
};

/// Bytes per element, or 0 for a value that is not a DType.
size_t dtypeSize(uint32_t dtype);
const char *dtypeName(uint32_t dtype);

/// How a tensor's bytes are arranged.
enum class Layout : uint32_t {
  /// Row-major, exactly as in the ONNX initializer.
  Dense = 0,
  /// The row-column bundles of an FFN block (FfnBundle.h): a neurons x S
  /// f32 matrix, one neuron per row. Written by --actsparse-bundle-ffn.
  FfnBundle = 1,
  /// Rows of block-quantized weights (Quant.h), one per output of the
  /// projection: an i8 matrix [N, quantRowBytes(kind, K)]. Written by
  /// --actsparse-quantize.
  Q8_0Rows = 2,
  Q4_0Rows = 3,
  Q4_1Rows = 4,
  /// FFN bundles with quantized weights (FfnBundle.h): an i8 matrix
  /// [neurons, row bytes]. Written by --actsparse-bundle-ffn="quant=...".
  FfnBundleQ8_0 = 5,
  FfnBundleQ4_0 = 6,
  FfnBundleQ4_1 = 7,
  /// Rows and FFN bundles of the float kinds (f16, bf16: Quant.h), as 2-4
  /// and 5-7 are for the integer kinds.
  F16Rows = 8,
  BF16Rows = 9,
  FfnBundleF16 = 10,
  FfnBundleBF16 = 11,
};

/// The last layout this reader knows.
constexpr Layout kLastLayout = Layout::FfnBundleBF16;

/// "dense", "ffn-bundle", "q8_0-rows", "ffn-bundle-q8_0", ...
const char *layoutName(Layout layout);

/// Whether `layout` holds FFN bundles, in f32 or quantized.
inline bool isFfnBundle(Layout layout) {
  return layout == Layout::FfnBundle ||
         (layout >= Layout::FfnBundleQ8_0 && layout <= Layout::FfnBundleQ4_1) ||
         layout >= Layout::FfnBundleF16;
}
/// The quantized format of rows (layouts 2-4, 8-9) or bundles (5-7,
/// 10-11); -1 for the f32 layouts. Numbered as QuantKind.
inline int quantKindOf(Layout layout) {
  int l = int(layout);
  if (l >= int(Layout::FfnBundleF16))
    return 3 + l - int(Layout::FfnBundleF16);
  if (l >= int(Layout::F16Rows))
    return 3 + l - int(Layout::F16Rows);
  if (l >= int(Layout::FfnBundleQ8_0))
    return l - int(Layout::FfnBundleQ8_0);
  if (l >= int(Layout::Q8_0Rows))
    return l - int(Layout::Q8_0Rows);
  return -1;
}
/// The layout of rows, or of FFN bundles, of quantized kind `kind`
/// (numbered as QuantKind).
inline Layout quantizedLayout(int kind, bool bundles) {
  if (kind >= 3)
    return Layout(int(bundles ? Layout::FfnBundleF16 : Layout::F16Rows) +
                  kind - 3);
  return Layout(int(bundles ? Layout::FfnBundleQ8_0 : Layout::Q8_0Rows) +
                kind);
}

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Layout layout = Layout::Dense;
  std::vector<int64_t> shape;
  uint64_t offset = 0; ///< From the start of the file, 4 KiB aligned.
  uint64_t size = 0;   ///< In bytes.
  uint64_t checksum = 0;

  uint64_t numElements() const;
};

/// Result of an operation that can fail on bad input: empty means success.
class Status {
public:
  Status() = default;
  static Status error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return message_.empty(); }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return message_; }

private:
  std::string message_;
};

constexpr uint32_t kWeightPackVersion = 1;
constexpr uint64_t kWeightPackAlignment = 4096;

/// Writes a pack incrementally, one tensor at a time, so that a model whose
/// weights come from external data never has to be held in memory. The file
/// appears under its final name only when commit() succeeds; a writer that
/// is destroyed earlier removes its temporary file.
class WeightPackWriter {
public:
  ~WeightPackWriter();
  WeightPackWriter(const WeightPackWriter &) = delete;
  WeightPackWriter &operator=(const WeightPackWriter &) = delete;

  static std::unique_ptr<WeightPackWriter> create(const std::string &path,
                                                  Status &status);

  /// Starts a tensor of `size` bytes; its data follows in append() calls.
  Status begin(const std::string &name, DType dtype,
               const std::vector<int64_t> &shape, uint64_t size,
               Layout layout = Layout::Dense);
  Status append(const void *data, size_t size);
  Status end();

  /// begin + append + end for data already in memory.
  Status add(const std::string &name, DType dtype,
             const std::vector<int64_t> &shape, const void *data,
             uint64_t size, Layout layout = Layout::Dense);

  /// Writes the table and header and flushes; the pack is complete but
  /// still under its temporary name.
  Status finish();
  /// Renames the finished pack to its final path.
  Status commit();

  /// Identifies the finished pack's contents (hash of its tensor table).
  uint64_t packId() const { return packId_; }
  const std::string &path() const { return path_; }
  /// Where the pack is written until commit().
  const std::string &temporaryPath() const { return tmpPath_; }

private:
  WeightPackWriter(std::string path, std::string tmpPath, int fd);
  Status writeAt(uint64_t offset, const void *data, size_t size);

  std::string path_, tmpPath_;
  int fd_ = -1;
  uint64_t cursor_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  struct Hasher;
  std::unique_ptr<Hasher> hasher_;
  uint64_t written_ = 0;
  bool open_ = false, finished_ = false, committed_ = false;
  uint64_t packId_ = 0;
};

/// A pack opened for reading. open() checks the header, the table and
/// every entry's bounds; tensor data checksums are checked when a tensor is
/// read (or all at once by verifyData()).
class WeightPack {
public:
  ~WeightPack();
  WeightPack(const WeightPack &) = delete;
  WeightPack &operator=(const WeightPack &) = delete;

  static std::unique_ptr<WeightPack> open(const std::string &path,
                                          Status &status);

  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  const TensorInfo *find(const std::string &name) const;
  uint64_t packId() const { return packId_; }
  const std::string &path() const { return path_; }

  /// Reads a tensor's bytes into `dst` (info.size bytes) and checks them
  /// against the stored checksum.
  Status read(const TensorInfo &info, void *dst) const;
  /// Reads every tensor once and checks its checksum.
  Status verifyData() const;

private:
  WeightPack(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_ = -1;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  uint64_t packId_ = 0;
};

} // namespace actsparse::runtime

#endif // ACTSPARSE_RUNTIME_WEIGHTPACK_H
