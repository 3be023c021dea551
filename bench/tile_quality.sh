#!/usr/bin/env bash
# Tiling quality and cost: upscales ../shared/images with a model at the given tile settings, then compares
# with the golden whole-image outputs (../shared/golden/<model>_000N.full.png): overall and worst 64x64 PSNR,
# plus the --profile timing. Usage: bench/tile_quality.sh MODEL [resr upscale options...]
#   bench/tile_quality.sh x4fast                 # defaults
#   bench/tile_quality.sh x4plus -t 128 --tile-pad 32
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?model name: x4fast or x4plus}
shift
shared=${RESR_SHARED:-$root/../shared}
bin=${RESR_BIN:-$root/build/bin/resr}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/in"
cp "$shared/images/0001.png" "$shared/images/0002.png" "$out/in/"
"$bin" upscale -n "$model" -i "$out/in" -o "$out" --profile "$@"
for n in 0001 0002; do
  "$bin" eval "$out/$n.png" --ref "$shared/golden/${model}_$n.full.png" --block 64
done
