//===- sparse-run.cpp - run a compiled ActSparse model --------------------===//
//
// Placeholder until the code generator and runtime land (see README, "Status"):
// it says so plainly and fails, rather than pretending to run a model.
//
//===----------------------------------------------------------------------===//

#include <cstdio>
#include <cstring>

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("USAGE: sparse-run MODEL.mlir [options]\n\n"
                  "Runs a model compiled by sparse-opt. Not implemented yet: "
                  "code generation and the runtime are still to come.\n");
      return 0;
    }
  }
  std::fprintf(stderr, "sparse-run: not implemented yet: ActSparse cannot "
                       "execute models until code generation and the runtime "
                       "land\n");
  return 2;
}
