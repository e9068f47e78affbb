#!/usr/bin/env bash
# The demo command: installs what is missing, builds, and runs the main job.
# Until the ONNX importer and the runtime land, the main job is sparse-opt
# naming the decomposed activations of an exported FFN.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ACTSPARSE_BUILD_DIR:-$root/build}

"$root/scripts/build.sh"
example="$root/docs/examples/gpt2-ffn.mlir"
echo
echo "== input: $example (GELU as torch.onnx.export writes it)"
grep -v '^//' "$example"
echo
echo "== sparse-opt --actsparse-graph-cleanup"
"$build/bin/sparse-opt" --actsparse-graph-cleanup "$example"
