#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (scripts/get-smollm2.sh), then exports it to
# ONNX with transformers + optimum and writes the transformers references
# (scripts/smollm2/export.py), all into the cache (default
# ~/.cache/actsparse/smollm2). Python packages live in a virtual environment
# this script creates, with pinned versions; the build and the tests never
# use it. Idempotent: finished steps are not repeated.
#
#   ACTSPARSE_CACHE   cache directory (default ~/.cache/actsparse)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}
venv=$cache/venv-smollm2

"$root/scripts/get-smollm2.sh" >/dev/null

pins=(
  torch==2.5.1 transformers==4.46.3 tokenizers==0.20.3 gguf==0.10.0
  accelerate==1.1.1 optimum==1.23.3 onnx==1.17.0 onnxruntime==1.20.1
  numpy==1.26.4 sentencepiece==0.2.0
)
stamp=$venv/.actsparse-pins
if [ "$(cat "$stamp" 2>/dev/null)" != "${pins[*]}" ]; then
  echo "smollm2: creating $venv (about 3 GB with torch's dependencies)" >&2
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    [ "$(id -u)" -eq 0 ] ||
      { echo "smollm2: python3-venv is needed (apt-get install python3-venv)" >&2; exit 1; }
    echo "smollm2: installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
  echo "${pins[*]}" > "$stamp"
fi

"$venv/bin/python" "$root/scripts/smollm2/export.py" --cache "$cache/smollm2"
