#!/usr/bin/env bash
# Builds llama.cpp's own llama-bench, llama-quantize, llama-simple, llama-perplexity and
# llama-convert-llama2c-to-ggml (llama2.c checkpoints such as stories260K to
# GGUF) from the source that the PyPI sdist of llama-cpp-python vendors
# (pinned), into the cache. For benchmarks only: nothing of it is committed
# or linked into ActSparse. Prints the directory holding the binaries on the
# last line.
#
#   ACTSPARSE_CACHE   cache directory (default ~/.cache/actsparse)
set -euo pipefail
cache=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}
version=0.3.16
dir=$cache/llamacpp
src=$dir/llama_cpp_python-$version/vendor/llama.cpp
bin=$dir/build/bin
targets="llama-bench llama-quantize llama-simple llama-perplexity llama-convert-llama2c-to-ggml"
missing=0
for t in $targets; do [ -x "$bin/$t" ] || missing=1; done
if [ $missing = 0 ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
if [ ! -d "$src" ]; then
  echo "llamacpp: downloading the llama-cpp-python $version sdist from PyPI" >&2
  pip=$(command -v pip3 || command -v pip) ||
    { echo "llamacpp: pip is needed (apt-get install python3-pip)" >&2; exit 1; }
  "$pip" download --quiet --no-deps --no-binary :all: --disable-pip-version-check \
    "llama-cpp-python==$version" -d "$dir" >&2
  tar xzf "$dir/llama_cpp_python-$version.tar.gz" -C "$dir"
fi
echo "llamacpp: building $targets (about 10 minutes on 2 cores)" >&2
cmake -S "$src" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON \
  -DLLAMA_BUILD_SERVER=OFF -DGGML_CUDA=OFF >/dev/null
# shellcheck disable=SC2086
ninja -C "$dir/build" $targets >/dev/null
echo "$bin"
