#!/usr/bin/env bash
# Installs the Debian packages ActSparse needs to build and test. Idempotent:
# when everything is present it prints nothing and touches nothing.
# ACTSPARSE_EXTRA_PACKAGES adds packages that only some commands need
# (scripts/fuzz.sh: clang-22 and libFuzzer).
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache python3
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  libgtest-dev libxxhash-dev libonnx-dev libprotobuf-dev protobuf-compiler libsentencepiece-dev libeigen3-dev
  nlohmann-json3-dev libicu-dev liburing-dev libonnx-testdata
)
# shellcheck disable=SC2206
packages+=(${ACTSPARSE_EXTRA_PACKAGES:-})

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
