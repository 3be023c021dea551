#!/usr/bin/env bash
# INT8 / FP8 / FP16 quality and speed of one model, in one run:
#   1. calibrate on data/quant/calib (scikit-image photos; scripts/fetch_quant_images.sh), timed
#   2. convert to FP32, FP16, INT8 and FP8 .resr (INT8 and FP8: all convs, and with --target-psnr when TARGET is
#      set); FP8 runs emulated on the CPU, so its speed here says nothing about a GPU
#   3. PSNR / SSIM of each precision against FP32 over data/quant/eval (images the calibration never saw)
#   4. speed of each .resr against the FP32 model, same run (resr bench)
# Usage: bench/quant_quality.sh MODEL [NUM_TILES] [TILE]     env: METHOD (calibration method), TARGET (dB),
#        ASYM=1 (asymmetric activations), SIZE (bench input, default 256x256), OUT (folder kept for inspection)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?model name: x4fast or x4plus}
num=${2:-200}
tile=${3:-128}
bin=${RESR_BIN:-$root/build/bin/resr}
size=${SIZE:-256x256}
out=${OUT:-$(mktemp -d)}
[[ -n ${OUT:-} ]] || trap 'rm -rf "$out"' EXIT
mkdir -p "$out"
"$root/scripts/fetch_quant_images.sh"
method_args=()
[[ -n ${METHOD:-} ]] && method_args=(--method "$METHOD")
asym_args=()
[[ -n ${ASYM:-} ]] && asym_args=(--asymmetric)

echo "== calibrate $model: $num tiles of $tile from data/quant/calib ${METHOD:+(method $METHOD)}"
/usr/bin/time -f "calibration wall time: %e s" \
  "$bin" calibrate -n "$model" -i "$root/data/quant/calib" --num "$num" --tile "$tile" "${method_args[@]}" \
  -o "$out/$model.calib"

echo "== convert"
"$bin" convert -n "$model" --precision fp32 -o "$out/$model.fp32.resr"
"$bin" convert -n "$model" --precision fp16 -o "$out/$model.fp16.resr"
"$bin" convert -n "$model" --precision int8 --calib "$out/$model.calib" "${asym_args[@]}" -o "$out/$model.int8.resr"
"$bin" convert -n "$model" --precision fp8 --calib "$out/$model.calib" -o "$out/$model.fp8.resr"
models=("$out/$model.fp16.resr" "$out/$model.int8.resr" "$out/$model.fp8.resr")
if [[ -n ${TARGET:-} ]]; then
  "$bin" convert -n "$model" --precision int8 --calib "$out/$model.calib" "${asym_args[@]}" \
    --target-psnr "$TARGET" --images "$root/data/quant/calib" -o "$out/$model.int8-target.resr"
  "$bin" convert -n "$model" --precision fp8 --calib "$out/$model.calib" \
    --target-psnr "$TARGET" --images "$root/data/quant/calib" -o "$out/$model.fp8-target.resr"
  models+=("$out/$model.int8-target.resr" "$out/$model.fp8-target.resr")
fi

echo "== quality vs FP32 over data/quant/eval"
"$bin" eval --models "$model" "${models[@]}" --dir "$root/data/quant/eval"

echo "== speed at $size (same run)"
for m in "$model" "$out/$model.fp32.resr" "${models[@]}"; do
  if [[ -f $m ]]; then "$bin" bench -m "$m" --size "$size"; else "$bin" bench -n "$m" --size "$size"; fi
done
