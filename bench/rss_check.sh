#!/usr/bin/env bash
# Bounded memory: upscales a 3000x2000 JPEG (the sample photo tiled) with x4fast and a 512 MiB tile budget
# (--tile-memory 512; the default budget grows with the machine's memory) and reports peak RSS against the bound
# 2 x (output image bytes) + 512 MiB. Needs cjpeg (libjpeg-turbo-progs)
# and /usr/bin/python3 with numpy. Usage: bench/rss_check.sh [extra resr upscale options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${RESR_BIN:-$root/build/bin/resr}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -c "
import sys, numpy as np
sys.path.insert(0, '$root/bench')
import ncnn_torch
img = ncnn_torch.read_png('$root/samples/0002.png')  # H x W x 3 uint8
img = np.asarray(img)
reps = (2000 // img.shape[0] + 1, 3000 // img.shape[1] + 1, 1)
big = np.tile(img, reps)[:2000, :3000, :3].astype(np.uint8)
with open('$work/big.ppm', 'wb') as f:
    f.write(b'P6 3000 2000 255\n'); f.write(big.tobytes())
"
cjpeg -quality 92 "$work/big.ppm" >"$work/big.jpg"
rm "$work/big.ppm"
/usr/bin/time -f "%M" -o "$work/rss" "$bin" upscale -n x4fast -i "$work/big.jpg" -o "$work/big_x4.jpg" --profile --tile-memory 512 "$@"
rss_kib=$(cat "$work/rss")
out_bytes=$((12000 * 8000 * 3))
bound_kib=$(((2 * out_bytes + 512 * 1024 * 1024) / 1024))
echo "peak RSS $((rss_kib / 1024)) MiB; bound 2 x $((out_bytes / 1048576)) MiB + 512 MiB = $((bound_kib / 1024)) MiB"
[[ $rss_kib -lt $bound_kib ]] && echo "within bound" || { echo "OVER BOUND"; exit 1; }
