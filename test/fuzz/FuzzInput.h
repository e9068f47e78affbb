//===- FuzzInput.h - fuzz inputs as files -----------------------*- C++ -*-===//
//
// The parsers under test take paths (the importer also resolves external
// data next to the model), so each input is written to a file in a
// temporary directory of this process, named with the suffix that selects
// the parser.
//
//===----------------------------------------------------------------------===//

#ifndef ACTSPARSE_TEST_FUZZ_FUZZINPUT_H
#define ACTSPARSE_TEST_FUZZ_FUZZINPUT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace actsparse::fuzz {

/// The process's scratch directory, made once and removed at exit.
inline const std::string &scratchDir() {
  static const std::string dir = [] {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") +
                          "/actsparse-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    static std::string removeAtExit;
    removeAtExit = pattern;
    std::atexit([] {
      std::string cmd = "rm -rf '" + removeAtExit + "'";
      if (std::system(cmd.c_str()) != 0)
        std::fprintf(stderr, "could not remove %s\n", removeAtExit.c_str());
    });
    return pattern;
  }();
  return dir;
}

/// Writes the input to `<scratch>/input<suffix>` and returns the path.
inline std::string writeInput(const uint8_t *data, size_t size,
                              const char *suffix) {
  std::string path = scratchDir() + "/input" + suffix;
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) ||
      std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

} // namespace actsparse::fuzz

#endif // ACTSPARSE_TEST_FUZZ_FUZZINPUT_H
