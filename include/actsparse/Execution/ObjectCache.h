//===- ObjectCache.h - compiled models kept on disk between runs -*- C++ -*-===//
//
// Compiling a model is the slow part of starting one. The object cache keeps
// the native object code of every model compiled from IR, keyed by what
// decides that code: the IR text, the options, the CPU and the compiler
// itself. The next run of the same IR on the same machine loads the object
// and starts without compiling.
//
// Entries are files `<key>.o` in one directory, written atomically
// (temporary file + rename), each with a header that carries the object's
// size and checksum, so a truncated or damaged entry is detected, reported
// and replaced rather than loaded. The least recently used entries are
// removed when the directory grows past a size limit.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_EXECUTION_OBJECTCACHE_H
#define ACTSPARSE_EXECUTION_OBJECTCACHE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <string>

namespace mlir {
namespace actsparse {

class ObjectCache {
public:
  /// Entries beyond this many bytes in total are removed, oldest use first.
  static constexpr uint64_t kDefaultMaxBytes = uint64_t(2) << 30;

  explicit ObjectCache(std::string directory,
                       uint64_t maxBytes = kDefaultMaxBytes)
      : dir_(std::move(directory)), maxBytes_(maxBytes) {}

  /// Where entries go unless the user says otherwise: $ACTSPARSE_CACHE/objects
  /// (the root the scripts also download into), else
  /// $HOME/.cache/actsparse/objects; empty when neither is set.
  static std::string defaultDirectory();

  /// The key of `ir` compiled at `optLevel` with the graph passes named in
  /// `passes` (CompileOptions): a hash of the IR text, the options, the
  /// host CPU's name and features, the runtime interface version, the LLVM
  /// version and the build IDs of the code that compiles (this library,
  /// libMLIR, libLLVM). 32 hex digits.
  static std::string key(llvm::StringRef ir, unsigned optLevel,
                         llvm::StringRef passes = {});

  const std::string &directory() const { return dir_; }
  /// The file an entry is kept in.
  std::string pathOf(llvm::StringRef key) const;

  /// The object stored under `key`, or null when there is none. An entry
  /// that is damaged (short, bad header, wrong checksum) is removed and
  /// reported in `warning`; so is one that cannot be read.
  std::unique_ptr<llvm::MemoryBuffer> lookup(llvm::StringRef key,
                                             std::string &warning) const;

  /// Stores `object` under `key` (creating the directory), then trims the
  /// cache to its size limit. Returns false with `warning` set when the
  /// entry could not be written; the cache is then simply not used.
  bool store(llvm::StringRef key, llvm::StringRef object,
             std::string &warning) const;

private:
  void trim(llvm::StringRef keep) const;

  std::string dir_;
  uint64_t maxBytes_;
};

} // namespace actsparse
} // namespace mlir

#endif // ACTSPARSE_EXECUTION_OBJECTCACHE_H
