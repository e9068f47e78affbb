# Sourced by the sparse benchmarks (run-sparse.sh, run-flash.sh): makes,
# once per settings, a Llama-shaped model relufied (shifted ReLU) and
# calibrated to $sparsity, then bundled three ways, in $dir:
#   $w-dense.mlir + $w.pack                  unbundled (dense kernels)
#   $w-exact-gate.mlir + $w-bundled.pack     bundles, every gate computed
#   $w-lowrank.mlir + $w-lowrank.pack        bundles + rank-$rank predictor
#   $w-apart.mlir + $w-apart.pack            exact gate, gates apart (a dense
#                                            gate MatMul, rows of up and down)
# and compiles each to $w-MODE.so. Expects root, dir, opt, sparsity, rank
# and SIZE (small | full | flash | stories | smollm2); sets name, w, calib.
# prepare_modes (an array) limits which of the three are compiled.
# With QUANT (q8_0, q4_0 or q4_1) each prepared MODE also gets
# $w-MODE-$QUANT.mlir + .pack + .so: every projection and every bundle
# quantized (--actsparse-quantize after bundling and predictors).
#   flash: FFN-heavy (77 % of 2.1 GB: dim 2048, hidden 8192, 8 layers,
#          GQA 16/4, vocab 8000) with rank-48 gates, so that a low-rank
#          predictor works as on trained models.

case "${SIZE:-small}" in
  stories) name=stories260K
    [ -f "$dir/$name-decode.onnx" ] || cp "$root/test/Import/Inputs/llama-decode.onnx" "$dir/$name-decode.onnx"
    calib=$root/test/Transforms/Inputs/stories-calibration.txt ;;
  smollm2) name=smollm2
    cache=${ACTSPARSE_CACHE:-$HOME/.cache/actsparse}/smollm2
    [ -f "$cache/onnx-kv/model.onnx" ] || { echo "bench: run scripts/smollm2/make.sh first" >&2; exit 1; }
    [ -e "$dir/$name-decode.onnx" ] || ln -s "$cache/onnx-kv/model.onnx" "$dir/$name-decode.onnx"
    calib=$cache/refs/calibration.txt ;;
  full) name=llama-1.9g; args=(--layers 8) ;;
  flash) name=llama-2.1g-ffn; args=(--dim 2048 --hidden 8192 --layers 8 --heads 16 --kv-heads 4 --vocab 8000 --seq-len 512 --gate-rank 48) ;;
  *) name=llama-0.24g; args=(--dim 1024 --hidden 2816 --layers 4 --heads 8 --kv-heads 8 --vocab 8000 --seq-len 512) ;;
esac
prefix=$dir/$name
if [ ! -f "$prefix-decode.onnx" ]; then
  echo "bench: generating $prefix (once)"
  /usr/bin/python3 "$root/bench/make-synthetic-llama.py" "$prefix" "${args[@]}" 2>&1 | grep -v Warning
fi
if [ -z "${calib:-}" ]; then
  # Random weights: any token ids calibrate them; two sequences of 256.
  calib=$dir/$name-calibration.txt
  [ -f "$calib" ] || awk 'BEGIN { srand(7); for (s = 0; s < 2; ++s) { printf "1"; for (i = 1; i < 256; ++i) printf " %d", 2 + int(rand() * 7000); print "" } }' > "$calib"
fi

tag=$name-s$sparsity
w=$dir/$tag
if [ ! -f "$w-dense.mlir" ]; then
  echo "bench: relufying and calibrating $name to $sparsity (once)"
  "$opt" "$prefix-decode.onnx" --weight-pack "$w.pack" --quiet --actsparse-fuse-ffn \
    --actsparse-relufy="mode=shifted-relu" \
    --actsparse-calibrate="tokens=$calib target-sparsity=$sparsity tune=shift sequential=false quiet=true" \
    -o "$w-dense.mlir"
fi
[ -f "$w-exact-gate.mlir" ] || "$opt" "$w-dense.mlir" \
  --actsparse-bundle-ffn="output-pack=$w-bundled.pack predictor=exact-gate quiet=true" -o "$w-exact-gate.mlir"
[ -f "$w-apart.mlir" ] || "$opt" "$w-dense.mlir" \
  --actsparse-bundle-ffn="output-pack=$w-apart.pack predictor=exact-gate gates=apart quiet=true" -o "$w-apart.mlir"
if [ ! -f "$w-lowrank.mlir" ]; then
  "$opt" "$w-dense.mlir" --actsparse-bundle-ffn="output-pack=$w-bundled-plain.pack quiet=true" -o "$w-plain.mlir"
  "$opt" "$w-plain.mlir" --actsparse-insert-predictors="tokens=$calib rank=$rank target-recall=0.99 output-pack=$w-lowrank.pack report=$w-lowrank.report quiet=true" \
    -o "$w-lowrank.mlir"
fi
[ -n "${prepare_modes+x}" ] || prepare_modes=(dense exact-gate lowrank apart)
if [ -n "${QUANT:-}" ]; then
  for m in "${prepare_modes[@]}"; do
    [ -f "$w-$m-$QUANT.mlir" ] || "$opt" "$w-$m.mlir" \
      --actsparse-quantize="type=$QUANT output-pack=$w-$m-$QUANT.pack quiet=true" -o "$w-$m-$QUANT.mlir"
  done
  for m in "${prepare_modes[@]}"; do prepare_modes+=("$m-$QUANT"); done
fi
for m in "${prepare_modes[@]}"; do
  if [ ! -f "$w-$m.so" ] || [ "$w-$m.so" -ot "$opt" ]; then
    echo "bench: compiling $w-$m.so"
    "$opt" "$w-$m.mlir" --emit=shared-lib -o "$w-$m.so"
  fi
done

