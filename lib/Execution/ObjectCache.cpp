//===- ObjectCache.cpp - compiled models kept on disk between runs --------===//
//
// An entry is `<key>.o`: the line "actsparse-object 1 SIZE CHECKSUM\n", then
// SIZE bytes of object code whose xxh3 is CHECKSUM (16 hex digits).
//
//===----------------------------------------------------------------------===//

#include "actsparse/Execution/ObjectCache.h"
#include "actsparse/runtime/Abi.h"

#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <link.h>
#include <vector>

using namespace mlir::actsparse;
using llvm::StringRef;
namespace fs = llvm::sys::fs;

static constexpr StringRef kMagic = "actsparse-object 1 ";

std::string ObjectCache::defaultDirectory() {
  // The same root as the scripts' downloads (scripts/get-smollm2.sh).
  llvm::SmallString<256> path;
  if (const char *root = std::getenv("ACTSPARSE_CACHE"); root && *root) {
    path = root;
  } else if (const char *home = std::getenv("HOME"); home && *home) {
    path = home;
    llvm::sys::path::append(path, ".cache", "actsparse");
  } else {
    return "";
  }
  llvm::sys::path::append(path, "objects");
  return std::string(path);
}

namespace {
/// What dl_iterate_phdr looks for: the loaded object that contains `addr`,
/// and its GNU build ID.
struct BuildIdSearch {
  uintptr_t addr = 0;
  bool found = false;
  std::string name;
  std::string buildId;
};
} // namespace

static int findBuildId(struct dl_phdr_info *info, size_t, void *data) {
  auto *search = static_cast<BuildIdSearch *>(data);
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum && !contains; ++i) {
    const ElfW(Phdr) &ph = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    contains = ph.p_type == PT_LOAD && search->addr >= start &&
               search->addr < start + ph.p_memsz;
  }
  if (!contains)
    return 0;
  search->found = true;
  search->name = info->dlpi_name ? info->dlpi_name : "";
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr) &ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE)
      continue;
    const char *p = reinterpret_cast<const char *>(info->dlpi_addr + ph.p_vaddr);
    const char *end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto *note = reinterpret_cast<const ElfW(Nhdr) *>(p);
      const char *name = p + sizeof(ElfW(Nhdr));
      const char *desc = name + ((note->n_namesz + 3) & ~3u);
      if (desc + note->n_descsz > end)
        break;
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
          std::memcmp(name, "GNU", 4) == 0) {
        search->buildId.assign(desc, note->n_descsz);
        return 1;
      }
      p = desc + ((note->n_descsz + 3) & ~3u);
    }
  }
  return 1;
}

/// What identifies the machine code loaded at `addr`: its object's build
/// ID, or, when it has none, a hash of the object's file.
static std::string codeIdentity(const void *addr) {
  BuildIdSearch search;
  search.addr = reinterpret_cast<uintptr_t>(addr);
  dl_iterate_phdr(findBuildId, &search);
  if (!search.buildId.empty())
    return "build-id:" + llvm::toHex(search.buildId);
  std::string file = search.name.empty() ? "/proc/self/exe" : search.name;
  auto buffer = llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return "unknown:" + file;
  return "file:" + llvm::utohexstr(llvm::xxh3_64bits((*buffer)->getBuffer()));
}

std::string ObjectCache::key(StringRef ir, unsigned optLevel,
                             StringRef passes) {
  // Everything that decides the object code, each with a label.
  static const std::string compiler = [] {
    std::string s = "actsparse-object-cache 1\nabi " +
                    std::to_string(::actsparse::runtime::kAbiVersion) +
                    "\nllvm " LLVM_VERSION_STRING "\n";
    s += "actsparse " + codeIdentity(reinterpret_cast<const void *>(
                            &ObjectCache::key)) + "\n";
    s += "mlir " + codeIdentity(reinterpret_cast<const void *>(
                       &mlir::translateModuleToLLVMIR)) + "\n";
    s += "llvm-code " + codeIdentity(reinterpret_cast<const void *>(
                            &llvm::sys::getHostCPUName)) + "\n";
    s += "cpu " + llvm::sys::getHostCPUName().str() + "\n";
    std::vector<std::string> features;
    for (const auto &f : llvm::sys::getHostCPUFeatures())
      features.push_back((f.getValue() ? "+" : "-") + f.getKey().str());
    std::sort(features.begin(), features.end());
    s += "features " + llvm::join(features, ",") + "\n";
    return s;
  }();
  llvm::BLAKE3 hasher;
  hasher.update(compiler);
  hasher.update("opt-level " + std::to_string(optLevel) + "\npasses " +
                passes.str() + "\nir " + std::to_string(ir.size()) + "\n");
  hasher.update(ir);
  llvm::BLAKE3Result<16> digest;
  hasher.final(digest);
  return llvm::toHex(digest, /*LowerCase=*/true);
}

std::string ObjectCache::pathOf(StringRef key) const {
  llvm::SmallString<256> path(dir_);
  llvm::sys::path::append(path, key + ".o");
  return std::string(path);
}

static std::string checksumOf(StringRef object) {
  std::string hex = llvm::utohexstr(llvm::xxh3_64bits(object), true);
  return std::string(16 - hex.size(), '0') + hex;
}

std::unique_ptr<llvm::MemoryBuffer>
ObjectCache::lookup(StringRef key, std::string &warning) const {
  std::string path = pathOf(key);
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file) {
    if (file.getError() != std::errc::no_such_file_or_directory)
      warning = "cannot read cached object '" + path +
                "': " + file.getError().message();
    return nullptr;
  }
  StringRef data = (*file)->getBuffer();
  StringRef header = data.take_until([](char c) { return c == '\n'; });
  uint64_t size = 0;
  StringRef rest = header;
  bool ok = rest.consume_front(kMagic);
  auto [sizeText, checksum] = rest.split(' ');
  ok = ok && !sizeText.getAsInteger(10, size) && checksum.size() == 16 &&
       header.size() < data.size() && data.size() - header.size() - 1 == size;
  StringRef object = ok ? data.substr(header.size() + 1) : StringRef();
  if (!ok || checksumOf(object) != checksum) {
    warning = "cached object '" + path + "' is damaged; compiling again";
    fs::remove(path);
    return nullptr;
  }
  // Its last use, for trimming (best effort).
  int fd;
  if (!fs::openFileForWrite(path, fd, fs::CD_OpenExisting, fs::OF_Append)) {
    (void)fs::setLastAccessAndModificationTime(
        fd, std::chrono::system_clock::now());
    fs::closeFile(fd);
  }
  return llvm::MemoryBuffer::getMemBufferCopy(object, path);
}

bool ObjectCache::store(StringRef key, StringRef object,
                        std::string &warning) const {
  if (std::error_code ec = fs::create_directories(dir_)) {
    warning = "cannot create the object cache '" + dir_ + "': " + ec.message();
    return false;
  }
  std::string path = pathOf(key);
  llvm::SmallString<256> model(path);
  model += ".tmp-%%%%%%%%";
  int fd;
  llvm::SmallString<256> temp;
  if (std::error_code ec = fs::createUniqueFile(model, fd, temp)) {
    warning = "cannot write to the object cache '" + dir_ + "': " + ec.message();
    return false;
  }
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    out << kMagic << object.size() << ' ' << checksumOf(object) << '\n'
        << object;
    out.close();
    if (out.has_error()) {
      warning = "cannot write '" + std::string(temp) +
                "': " + out.error().message();
      out.clear_error();
      fs::remove(temp);
      return false;
    }
  }
  if (std::error_code ec = fs::rename(temp, path)) {
    warning = "cannot write '" + path + "': " + ec.message();
    fs::remove(temp);
    return false;
  }
  trim(path);
  return true;
}

void ObjectCache::trim(StringRef keep) const {
  struct Entry {
    std::string path;
    uint64_t size;
    llvm::sys::TimePoint<> used;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!StringRef(it->path()).ends_with(".o"))
      continue;
    fs::file_status st;
    if (fs::status(it->path(), st) || st.type() != fs::file_type::regular_file)
      continue;
    entries.push_back({it->path(), st.getSize(), st.getLastModificationTime()});
    total += st.getSize();
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry &a, const Entry &b) { return a.used < b.used; });
  for (const Entry &e : entries) {
    if (total <= maxBytes_)
      break;
    if (e.path == keep)
      continue;
    if (!fs::remove(e.path))
      total -= e.size;
  }
}
