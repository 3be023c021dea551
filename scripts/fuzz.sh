#!/usr/bin/env bash
# Builds one libFuzzer target with clang (ASan + UBSan) and runs it for N seconds on a seed corpus.
#   scripts/fuzz.sh ncnn_reader 60      scripts/fuzz.sh image_decode 60      scripts/fuzz.sh pth_reader 60
# Needs clang and libclang-rt-14-dev (apt). Corpus and crashes go to build-fuzz/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?target: ncnn_reader, image_decode or pth_reader}
seconds=${2:-60}
out=build-fuzz/$target
mkdir -p "$out/corpus"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc)
case $target in
  ncnn_reader)
    sources=(tests/fuzz/fuzz_ncnn_reader.cpp src/formats/ncnn_reader.cpp src/formats/file_bytes.cpp src/ir/graph.cpp)
    libs=()
    # Seeds: the real x4fast param with a slice of its weights, and the tiny test model.
    if [[ -f models/realesrgan-x4fast.param ]]; then
      { cat models/realesrgan-x4fast.param; printf '\0'; head -c 4096 models/realesrgan-x4fast.bin; } >"$out/corpus/x4fast"
    fi
    printf '7767517\n2 2\nInput in 0 1 data\nConvolution c 1 1 data out 0=3 1=1 5=0 6=9\n\0\0\0\0\0' >"$out/corpus/tiny"
    ;;
  image_decode)
    sources=(tests/fuzz/fuzz_image_decode.cpp src/image/codec.cpp src/image/png_codec.cpp src/image/jpeg_codec.cpp
      src/image/webp_codec.cpp src/image/metadata.cpp)
    libs=(-lpng -ljpeg -lwebp -lwebpdemux -lwebpmux)
    cp tests/data/*.png "$out/corpus/" 2>/dev/null || true
    ;;
  pth_reader)
    # .pth (zip + restricted unpickler) and .safetensors; the first byte of an input picks the reader.
    sources=(tests/fuzz/fuzz_pth_reader.cpp src/formats/pth_reader.cpp src/formats/pickle.cpp
      src/formats/zip_archive.cpp src/formats/safetensors_reader.cpp src/formats/weight_map.cpp
      src/formats/file_bytes.cpp)
    flags+=(-Itests)
    libs=(-lz)
    # Seeds: the committed fixtures, whole (0), their data.pkl alone (1), and safetensors files (2).
    for f in tests/data/fixtures/*.pth; do
      { printf '\0'; cat "$f"; } >"$out/corpus/$(basename "$f").0"
      { printf '\1'; /usr/bin/python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); n = [i for i in z.namelist() if i.endswith("/data.pkl")][0]
sys.stdout.buffer.write(z.read(n))' "$f"; } >"$out/corpus/$(basename "$f").1"
    done
    for f in tests/data/fixtures/*.safetensors; do { printf '\2'; cat "$f"; } >"$out/corpus/$(basename "$f").2"; done
    ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
clang++ "${flags[@]}" "${sources[@]}" "${libs[@]}" -o "$out/fuzz_$target"
"$out/fuzz_$target" -rss_limit_mb=4096 -max_total_time="$seconds" -artifact_prefix="$out/" "$out/corpus" 2>&1 | tail -5
