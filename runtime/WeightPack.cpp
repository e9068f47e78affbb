//===- WeightPack.cpp - the on-disk weight store --------------------------===//
//
// Reader and writer of the format in docs/WeightPack.md. Every field read
// from disk is bounds-checked before use: a damaged pack is a clear error,
// never wrong numbers.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/WeightPack.h"
#include "actsparse/runtime/Quant.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

namespace actsparse::runtime {

namespace {
constexpr char kMagic[8] = {'A', 'S', 'P', 'W', 'P', 'A', 'C', 'K'};
constexpr size_t kHeaderSize = 64;
constexpr size_t kReadChunk = 8 << 20;

/// The fixed-size header at offset 0; all fields little-endian.
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t headerSize;
  uint64_t fileSize;
  uint64_t tableOffset;
  uint64_t tableSize;
  uint32_t tensorCount;
  uint32_t alignment;
  uint64_t tableChecksum;
  uint64_t headerChecksum; ///< XXH3 of the 56 bytes before it.
};
static_assert(sizeof(Header) == kHeaderSize, "header layout");

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

std::string errnoText() { return std::strerror(errno); }

Status preadAll(int fd, void *dst, size_t size, uint64_t offset) {
  char *p = static_cast<char *>(dst);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Status::error("read failed: " + errnoText());
    if (n == 0)
      return Status::error("unexpected end of file");
    p += n;
    size -= n;
    offset += n;
  }
  return {};
}

/// Appends fixed-size little-endian values to the table buffer.
struct TableWriter {
  std::string bytes;
  template <typename T> void put(T v) {
    bytes.append(reinterpret_cast<const char *>(&v), sizeof(T));
  }
};

/// Reads the table buffer back, failing (not overrunning) on short input.
struct TableReader {
  const char *p, *end;
  template <typename T> bool get(T &v) {
    if (size_t(end - p) < sizeof(T))
      return false;
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T);
    return true;
  }
  bool getString(std::string &s, uint32_t len) {
    if (size_t(end - p) < len)
      return false;
    s.assign(p, len);
    p += len;
    return true;
  }
};
} // namespace

const char *layoutName(Layout layout) {
  switch (layout) {
  case Layout::Dense: return "dense";
  case Layout::FfnBundle: return "ffn-bundle";
  case Layout::Q8_0Rows: return "q8_0-rows";
  case Layout::Q4_0Rows: return "q4_0-rows";
  case Layout::Q4_1Rows: return "q4_1-rows";
  case Layout::FfnBundleQ8_0: return "ffn-bundle-q8_0";
  case Layout::FfnBundleQ4_0: return "ffn-bundle-q4_0";
  case Layout::FfnBundleQ4_1: return "ffn-bundle-q4_1";
  case Layout::F16Rows: return "f16-rows";
  case Layout::BF16Rows: return "bf16-rows";
  case Layout::FfnBundleF16: return "ffn-bundle-f16";
  case Layout::FfnBundleBF16: return "ffn-bundle-bf16";
  }
  return "unknown";
}

size_t dtypeSize(uint32_t dtype) {
  switch (static_cast<DType>(dtype)) {
  case DType::U8:
  case DType::I8:
  case DType::Bool:
    return 1;
  case DType::I16:
  case DType::U16:
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::F32:
  case DType::I32:
  case DType::U32:
    return 4;
  case DType::I64:
  case DType::U64:
  case DType::F64:
    return 8;
  }
  return 0;
}

const char *dtypeName(uint32_t dtype) {
  switch (static_cast<DType>(dtype)) {
  case DType::F32: return "f32";
  case DType::U8: return "u8";
  case DType::I8: return "i8";
  case DType::I16: return "i16";
  case DType::U16: return "u16";
  case DType::U32: return "u32";
  case DType::U64: return "u64";
  case DType::I32: return "i32";
  case DType::I64: return "i64";
  case DType::Bool: return "bool";
  case DType::F16: return "f16";
  case DType::F64: return "f64";
  case DType::BF16: return "bf16";
  }
  return "unknown";
}

uint64_t TensorInfo::numElements() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<uint64_t>(d);
  return n;
}

namespace {
/// The bytes a tensor of `shape` and `dtype` holds, or false when that
/// overflows 64 bits (a shape of 2^32 x 2^32 f32 would otherwise wrap to
/// 0 bytes and pass for an empty tensor).
bool tensorBytes(const std::vector<int64_t> &shape, uint32_t dtype,
                 uint64_t &bytes) {
  uint64_t n = 1;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, uint64_t(d), &n))
      return false;
  return !__builtin_mul_overflow(n, uint64_t(dtypeSize(dtype)), &bytes);
}
} // namespace

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

struct WeightPackWriter::Hasher {
  XXH3_state_t *state = XXH3_createState();
  ~Hasher() { XXH3_freeState(state); }
};

WeightPackWriter::WeightPackWriter(std::string path, std::string tmpPath,
                                   int fd)
    : path_(std::move(path)), tmpPath_(std::move(tmpPath)), fd_(fd),
      cursor_(kWeightPackAlignment), hasher_(std::make_unique<Hasher>()) {}

WeightPackWriter::~WeightPackWriter() {
  if (fd_ >= 0)
    ::close(fd_);
  if (!committed_)
    ::unlink(tmpPath_.c_str());
}

std::unique_ptr<WeightPackWriter>
WeightPackWriter::create(const std::string &path, Status &status) {
  // A unique name next to the final one (same file system, so commit() is
  // an atomic rename): two runs writing the same pack do not collide, and
  // an old pack stays untouched until the new one is complete.
  std::string tmp = path + ".partial-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd >= 0)
    ::fchmod(fd, 0644);
  if (fd < 0) {
    status = Status::error("cannot create weight pack '" + path +
                           "': " + errnoText());
    return nullptr;
  }
  status = {};
  return std::unique_ptr<WeightPackWriter>(
      new WeightPackWriter(path, std::move(tmp), fd));
}

Status WeightPackWriter::writeAt(uint64_t offset, const void *data,
                                 size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::pwrite(fd_, p, size, offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Status::error("cannot write weight pack '" + path_ +
                           "': " + errnoText());
    p += n;
    size -= n;
    offset += n;
  }
  return {};
}

Status WeightPackWriter::begin(const std::string &name, DType dtype,
                               const std::vector<int64_t> &shape,
                               uint64_t size, Layout layout) {
  if (open_ || finished_)
    return Status::error("weight pack writer misuse: begin() while a tensor "
                         "is open or after finish()");
  if (name.empty())
    return Status::error("weight pack tensors need a name");
  if (index_.count(name))
    return Status::error("duplicate tensor name '" + name + "'");
  TensorInfo info;
  info.name = name;
  info.dtype = dtype;
  info.layout = layout;
  info.shape = shape;
  info.size = size;
  for (int64_t d : shape)
    if (d < 0)
      return Status::error("tensor '" + name + "' has a negative dimension");
  if (uint64_t bytes; !tensorBytes(info.shape, uint32_t(dtype), bytes) ||
                     bytes != size)
    return Status::error("tensor '" + name + "': " + std::to_string(size) +
                         " bytes do not match its shape and dtype");
  cursor_ = alignUp(cursor_, kWeightPackAlignment);
  info.offset = cursor_;
  index_[name] = tensors_.size();
  tensors_.push_back(std::move(info));
  XXH3_64bits_reset(hasher_->state);
  written_ = 0;
  open_ = true;
  return {};
}

Status WeightPackWriter::append(const void *data, size_t size) {
  if (!open_)
    return Status::error("weight pack writer misuse: append() outside a "
                         "tensor");
  TensorInfo &info = tensors_.back();
  if (written_ + size > info.size)
    return Status::error("tensor '" + info.name + "' receives more than its " +
                         std::to_string(info.size) + " bytes");
  if (Status s = writeAt(cursor_, data, size); !s)
    return s;
  XXH3_64bits_update(hasher_->state, data, size);
  cursor_ += size;
  written_ += size;
  return {};
}

Status WeightPackWriter::end() {
  if (!open_)
    return Status::error("weight pack writer misuse: end() outside a tensor");
  TensorInfo &info = tensors_.back();
  if (written_ != info.size)
    return Status::error("tensor '" + info.name + "' received " +
                         std::to_string(written_) + " of its " +
                         std::to_string(info.size) + " bytes");
  info.checksum = XXH3_64bits_digest(hasher_->state);
  open_ = false;
  return {};
}

Status WeightPackWriter::add(const std::string &name, DType dtype,
                             const std::vector<int64_t> &shape,
                             const void *data, uint64_t size, Layout layout) {
  if (Status s = begin(name, dtype, shape, size, layout); !s)
    return s;
  if (Status s = append(data, size); !s)
    return s;
  return end();
}

Status WeightPackWriter::finish() {
  if (open_ || finished_)
    return Status::error("weight pack writer misuse: finish() with a tensor "
                         "open or twice");
  TableWriter table;
  for (const TensorInfo &t : tensors_) {
    table.put<uint32_t>(t.name.size());
    table.bytes += t.name;
    table.put<uint32_t>(uint32_t(t.dtype));
    table.put<uint32_t>(uint32_t(t.layout));
    table.put<uint32_t>(t.shape.size());
    for (int64_t d : t.shape)
      table.put<int64_t>(d);
    table.put<uint64_t>(t.offset);
    table.put<uint64_t>(t.size);
    table.put<uint64_t>(t.checksum);
  }
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kWeightPackVersion;
  h.headerSize = kHeaderSize;
  h.tableOffset = alignUp(cursor_, 8);
  h.tableSize = table.bytes.size();
  h.fileSize = h.tableOffset + h.tableSize;
  h.tensorCount = tensors_.size();
  h.alignment = kWeightPackAlignment;
  h.tableChecksum = XXH3_64bits(table.bytes.data(), table.bytes.size());
  h.headerChecksum = XXH3_64bits(&h, offsetof(Header, headerChecksum));
  if (Status s = writeAt(h.tableOffset, table.bytes.data(), h.tableSize); !s)
    return s;
  if (Status s = writeAt(0, &h, sizeof(h)); !s)
    return s;
  // fsync before the rename in commit(): after a crash the final name holds
  // either the old pack or the whole new one, never an empty file.
  if (::ftruncate(fd_, h.fileSize) != 0 || ::fsync(fd_) != 0 ||
      ::close(fd_) != 0) {
    fd_ = -1;
    return Status::error("cannot finish weight pack '" + path_ +
                         "': " + errnoText());
  }
  fd_ = -1;
  packId_ = h.tableChecksum;
  finished_ = true;
  return {};
}

Status WeightPackWriter::commit() {
  if (!finished_)
    return Status::error("weight pack writer misuse: commit() before "
                         "finish()");
  if (::rename(tmpPath_.c_str(), path_.c_str()) != 0)
    return Status::error("cannot move weight pack into place at '" + path_ +
                         "': " + errnoText());
  committed_ = true;
  return {};
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

WeightPack::~WeightPack() {
  if (fd_ >= 0)
    ::close(fd_);
}

std::unique_ptr<WeightPack> WeightPack::open(const std::string &path,
                                             Status &status) {
  auto fail = [&](const std::string &why) {
    status = Status::error("weight pack '" + path + "': " + why);
    return nullptr;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail("cannot open: " + errnoText());
  std::unique_ptr<WeightPack> pack(new WeightPack(path, fd));
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return fail("cannot stat: " + errnoText());
  uint64_t actualSize = st.st_size;

  Header h;
  if (actualSize < kHeaderSize)
    return fail("file of " + std::to_string(actualSize) +
                " bytes is too small to be a weight pack");
  if (Status s = preadAll(fd, &h, sizeof(h), 0); !s)
    return fail(s.message());
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0)
    return fail("not an ActSparse weight pack (bad magic)");
  if (h.version != kWeightPackVersion)
    return fail("format version " + std::to_string(h.version) +
                ", this build reads version " +
                std::to_string(kWeightPackVersion));
  if (h.headerChecksum != XXH3_64bits(&h, offsetof(Header, headerChecksum)))
    return fail("header checksum mismatch (damaged header)");
  if (h.headerSize != kHeaderSize || h.alignment != kWeightPackAlignment)
    return fail("unsupported header size or alignment");
  if (h.fileSize != actualSize)
    return fail("file has " + std::to_string(actualSize) +
                " bytes but its header says " + std::to_string(h.fileSize) +
                (actualSize < h.fileSize ? " (truncated)" : ""));
  if (h.tableOffset < kHeaderSize || h.tableOffset > actualSize ||
      h.tableSize > actualSize - h.tableOffset)
    return fail("tensor table lies outside the file");

  std::string table(h.tableSize, '\0');
  if (Status s = preadAll(fd, table.data(), table.size(), h.tableOffset); !s)
    return fail(s.message());
  if (XXH3_64bits(table.data(), table.size()) != h.tableChecksum)
    return fail("tensor table checksum mismatch (damaged table)");

  TableReader r{table.data(), table.data() + table.size()};
  for (uint32_t i = 0; i < h.tensorCount; ++i) {
    TensorInfo t;
    uint32_t nameLen, dtype, layout, rank;
    if (!r.get(nameLen) || !r.getString(t.name, nameLen) || !r.get(dtype) ||
        !r.get(layout) || !r.get(rank))
      return fail("tensor table entry " + std::to_string(i) + " is truncated");
    if (rank > 64)
      return fail("tensor '" + t.name + "' has an implausible rank");
    t.shape.resize(rank);
    for (int64_t &d : t.shape)
      if (!r.get(d) || d < 0)
        return fail("tensor '" + t.name + "' has a bad shape");
    if (!r.get(t.offset) || !r.get(t.size) || !r.get(t.checksum))
      return fail("tensor table entry " + std::to_string(i) + " is truncated");
    if (dtypeSize(dtype) == 0)
      return fail("tensor '" + t.name + "' has unknown dtype " +
                  std::to_string(dtype));
    if (layout > uint32_t(kLastLayout))
      return fail("tensor '" + t.name + "' has unknown layout " +
                  std::to_string(layout));
    if (layout == uint32_t(Layout::FfnBundle) &&
        !(dtype == uint32_t(DType::F32) && rank == 2))
      return fail("tensor '" + t.name +
                  "' is marked as FFN bundles (layout 1) but is not an f32 "
                  "matrix");
    if (layout != uint32_t(Layout::FfnBundle) &&
        isFfnBundle(Layout(layout))) {
      if (dtype != uint32_t(DType::I8) || rank != 2 ||
          t.shape[1] % 64 != 0)
        return fail("tensor '" + t.name + "' is marked as quantized FFN "
                    "bundles (layout " + std::to_string(layout) +
                    ") but is not an i8 matrix of 64-byte rows");
    } else if (layout >= uint32_t(Layout::Q8_0Rows)) {
      auto kind = QuantKind(quantKindOf(Layout(layout)));
      if (dtype != uint32_t(DType::I8) || rank != 2 ||
          t.shape[1] % quantBlockBytes(kind) != 0)
        return fail("tensor '" + t.name + "' is marked as " +
                    quantKindName(kind) + " rows (layout " +
                    std::to_string(layout) +
                    ") but is not an i8 matrix of whole " +
                    std::to_string(quantBlockBytes(kind)) + "-byte blocks");
    }
    t.dtype = static_cast<DType>(dtype);
    t.layout = static_cast<Layout>(layout);
    if (uint64_t bytes; !tensorBytes(t.shape, dtype, bytes) || bytes != t.size)
      return fail("tensor '" + t.name + "': size does not match its shape");
    if (t.offset % kWeightPackAlignment != 0 || t.offset < kHeaderSize ||
        t.offset > h.tableOffset || t.size > h.tableOffset - t.offset)
      return fail("tensor '" + t.name + "' lies outside the data area");
    if (!pack->index_.emplace(t.name, pack->tensors_.size()).second)
      return fail("duplicate tensor name '" + t.name + "'");
    pack->tensors_.push_back(std::move(t));
  }
  if (r.p != r.end)
    return fail("tensor table has trailing bytes");
  pack->packId_ = h.tableChecksum;
  status = {};
  return pack;
}

const TensorInfo *WeightPack::find(const std::string &name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Status WeightPack::read(const TensorInfo &info, void *dst) const {
  if (Status s = preadAll(fd_, dst, info.size, info.offset); !s)
    return Status::error("weight pack '" + path_ + "', tensor '" + info.name +
                         "': " + s.message());
  if (XXH3_64bits(dst, info.size) != info.checksum)
    return Status::error("weight pack '" + path_ + "', tensor '" + info.name +
                         "': checksum mismatch (damaged data)");
  return {};
}

Status WeightPack::verifyData() const {
  std::vector<char> buf(kReadChunk);
  XXH3_state_t *state = XXH3_createState();
  Status result;
  for (const TensorInfo &t : tensors_) {
    XXH3_64bits_reset(state);
    for (uint64_t done = 0; done < t.size && result;) {
      size_t n = std::min<uint64_t>(buf.size(), t.size - done);
      if (Status s = preadAll(fd_, buf.data(), n, t.offset + done); !s)
        result = Status::error("weight pack '" + path_ + "', tensor '" +
                               t.name + "': " + s.message());
      XXH3_64bits_update(state, buf.data(), n);
      done += n;
    }
    if (result && XXH3_64bits_digest(state) != t.checksum)
      result = Status::error("weight pack '" + path_ + "', tensor '" + t.name +
                             "': checksum mismatch (damaged data)");
    if (!result)
      break;
  }
  XXH3_freeState(state);
  return result;
}

} // namespace actsparse::runtime
