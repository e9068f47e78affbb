//===- sparse-run.cpp - run a compiled ActSparse model --------------------===//
//
// Today sparse-run inspects weight packs (--inspect-weights). Running models
// needs the code generator and runtime, which are not there yet: asked to run
// one, it says so and fails rather than pretending.
//
//===----------------------------------------------------------------------===//

#include "actsparse/runtime/WeightPack.h"

#include <cstdio>
#include <cstring>
#include <inttypes.h>
#include <string>
#include <vector>

using namespace actsparse::runtime;

static void usage(FILE *out) {
  std::fprintf(out,
               "USAGE: sparse-run MODEL.mlir [options]\n"
               "       sparse-run --inspect-weights PACK [--values N]\n\n"
               "  --inspect-weights PACK  list the tensors of a weight pack, "
               "print the first\n"
               "                          values of each and verify every "
               "checksum\n"
               "  --values N              values printed per tensor (default "
               "20)\n"
               "  -h, --help              this text\n\n"
               "Running models is not implemented yet: code generation and "
               "the runtime\nare still to come.\n");
}

static void printValues(const TensorInfo &t, const std::vector<char> &data,
                        size_t limit) {
  size_t n = std::min<uint64_t>(limit, t.numElements());
  std::printf("  values:");
  for (size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
    case DType::F32: {
      float v;
      std::memcpy(&v, data.data() + 4 * i, 4);
      std::printf(" %g", v);
      break;
    }
    case DType::I64: {
      int64_t v;
      std::memcpy(&v, data.data() + 8 * i, 8);
      std::printf(" %" PRId64, v);
      break;
    }
    case DType::I32: {
      int32_t v;
      std::memcpy(&v, data.data() + 4 * i, 4);
      std::printf(" %d", v);
      break;
    }
    default:
      std::printf(" (%s not shown)", dtypeName(uint32_t(t.dtype)));
      i = n;
    }
  }
  std::printf("%s\n", n < t.numElements() ? " ..." : "");
}

static int inspect(const std::string &path, size_t limit) {
  Status s;
  auto pack = WeightPack::open(path, s);
  if (!pack) {
    std::fprintf(stderr, "sparse-run: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("weight pack %s: format version %u, %zu tensors, id %016" PRIx64
              "\n",
              path.c_str(), kWeightPackVersion, pack->tensors().size(),
              pack->packId());
  for (const TensorInfo &t : pack->tensors()) {
    std::printf("%s %s [", t.name.c_str(), dtypeName(uint32_t(t.dtype)));
    for (size_t i = 0; i < t.shape.size(); ++i)
      std::printf("%s%" PRId64, i ? ", " : "", t.shape[i]);
    std::printf("] dense offset %" PRIu64 " size %" PRIu64 "\n", t.offset,
                t.size);
    std::vector<char> data(t.size);
    if (Status r = pack->read(t, data.data()); !r) {
      std::fprintf(stderr, "sparse-run: %s\n", r.message().c_str());
      return 1;
    }
    if (limit)
      printValues(t, data, limit);
  }
  std::printf("checksums ok\n");
  return 0;
}

int main(int argc, char **argv) {
  std::string packPath;
  size_t limit = 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
    if (a == "--inspect-weights" && i + 1 < argc) {
      packPath = argv[++i];
    } else if (a == "--values" && i + 1 < argc) {
      limit = std::strtoul(argv[++i], nullptr, 10);
    } else if (a.rfind("-", 0) == 0) {
      std::fprintf(stderr, "sparse-run: unknown option '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (!packPath.empty())
    return inspect(packPath, limit);
  std::fprintf(stderr, "sparse-run: not implemented yet: ActSparse cannot "
                       "execute models until code generation and the runtime "
                       "land\n");
  return 2;
}
