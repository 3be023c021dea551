#!/usr/bin/env bash
# Builds one libFuzzer target with clang (ASan + UBSan) and runs it for N seconds on a seed corpus.
#   scripts/fuzz.sh ncnn_reader 60      scripts/fuzz.sh image_decode 60      scripts/fuzz.sh pth_reader 60
#   scripts/fuzz.sh resr_reader 60      (seeds made with a built resr: $RESR_BIN, default build/bin/resr)
#   scripts/fuzz.sh onnx_reader 60      (seeds: the ONNX fixtures)   scripts/fuzz.sh calib_table 60
#   scripts/fuzz.sh video_reader 60     (seeds made with build/bin/make_test_clip and build/bin/resr)
# Needs clang and libclang-rt-14-dev (apt). Corpus and crashes go to build-fuzz/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?target: ncnn_reader, image_decode, pth_reader, resr_reader, onnx_reader, video_reader or calib_table}
seconds=${2:-60}
out=build-fuzz/$target
mkdir -p "$out/corpus"

# .resr seeds: small fixtures at each precision, whole (0), resealed (1) and as graph JSON + blob (2).
make_resr_seeds() {
  local bin=$1 tmp=$2 corpus=$3 fx=tests/data/fixtures f n m
  [[ -x $bin ]] || return 1
  "$bin" calibrate -m $fx/srvgg_x4_prelu.safetensors -i tests/data/x4fast_37x29.in.png --num 2 --tile 16 \
    -o "$tmp/t.calib" >/dev/null || return 1
  for m in srvgg_x4_prelu srvgg_x1_leakyrelu rrdb_x2; do
    "$bin" convert -m "$fx/$m.safetensors" -o "$tmp/$m.fp32.resr" >/dev/null || return 1
    "$bin" convert -m "$fx/$m.safetensors" --precision fp16 -o "$tmp/$m.fp16.resr" >/dev/null || return 1
  done
  "$bin" convert -m $fx/srvgg_x4_prelu.safetensors --precision int8 --asymmetric --calib "$tmp/t.calib" \
    -o "$tmp/srvgg_x4_prelu.int8.resr" >/dev/null || return 1
  "$bin" convert -m $fx/srvgg_x4_prelu.safetensors --precision int8 --calib "$tmp/t.calib" \
    -o "$tmp/srvgg_x4_prelu.int8c.resr" >/dev/null || return 1  # per-channel input scales (format version 2)
  "$bin" convert -m $fx/srvgg_x4_prelu.safetensors --precision fp8 --calib "$tmp/t.calib" \
    -o "$tmp/srvgg_x4_prelu.fp8.resr" >/dev/null || return 1
  mkdir -p "$tmp/images" && cp tests/data/x4fast_37x29.in.png "$tmp/images/"  # the metadata's measured quality
  "$bin" convert -m $fx/srvgg_x4_prelu.safetensors --precision int8 --calib "$tmp/t.calib" --images "$tmp/images" \
    --search-tiles 1 --search-tile 16 -o "$tmp/srvgg_x4_prelu.int8q.resr" >/dev/null || return 1
  for f in "$tmp"/*.resr; do
    n=$(basename "$f")
    { printf '\0'; cat "$f"; } >"$corpus/$n.0"
    { printf '\1'; cat "$f"; } >"$corpus/$n.1"
    /usr/bin/python3 - "$f" "$corpus/$n.2" <<'PY' || return 1
import struct, sys
b = open(sys.argv[1], 'rb').read()
sec = [struct.unpack_from('<IIQQ', b, 32 + 24 * i) for i in range(3)]
g, w = sec[1], sec[2]
open(sys.argv[2], 'wb').write(b'\2' + b[g[2]:g[2] + g[3]] + b'\0' + b[w[2]:w[2] + w[3]])
PY
  done
}
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc)
extra=()
case $target in
  ncnn_reader)
    sources=(tests/fuzz/fuzz_ncnn_reader.cpp src/formats/ncnn_reader.cpp src/formats/file_bytes.cpp
      src/formats/weight_arrays.cpp src/core/populate_pages.cpp src/ir/graph.cpp)
    libs=()
    # Seeds: the real x4fast param with a slice of its weights, and the tiny test model.
    if [[ -f models/realesrgan-x4fast.param ]]; then
      { cat models/realesrgan-x4fast.param; printf '\0'; head -c 4096 models/realesrgan-x4fast.bin; } >"$out/corpus/x4fast"
    fi
    printf '7767517\n2 2\nInput in 0 1 data\nConvolution c 1 1 data out 0=3 1=1 5=0 6=9\n\0\0\0\0\0' >"$out/corpus/tiny"
    ;;
  image_decode)
    sources=(tests/fuzz/fuzz_image_decode.cpp src/image/codec.cpp src/image/png_codec.cpp src/image/png_idat.cpp
      src/image/png_text.cpp src/image/jpeg_codec.cpp src/image/webp_codec.cpp src/image/tiff_codec.cpp src/image/tiff_exif.cpp src/image/metadata.cpp
      src/core/populate_pages.cpp src/core/staged_file.cpp)
    libs=(-lpng -lz -ljpeg -lwebp -lwebpdemux -lwebpmux -ltiff)
    cp tests/data/*.png tests/data/*.tif "$out/corpus/" 2>/dev/null || true
    # TIFF seeds (8-bit RGB, 16-bit gray+alpha) written by the built Python module, when there is one.
    PYTHONPATH=build/python /usr/bin/python3 -c 'import sys, numpy as np, resr
a = resr.read_image(sys.argv[1])
resr.write_image(sys.argv[2] + "/rgb8.tif", a)
g = (a[:, :, :2].astype(np.uint16) * 257)
resr.write_image(sys.argv[2] + "/graya16.tif", g)' tests/data/x4fast_37x29.in.png "$out/corpus" 2>/dev/null ||
      echo "fuzz.sh: no TIFF seeds (build the Python module first)" >&2
    ;;
  pth_reader)
    # .pth (zip + restricted unpickler) and .safetensors; the first byte of an input picks the reader. What
    # they read goes on to the architecture detection (RRDBNet in both layouts, SRVGGNetCompact).
    sources=(tests/fuzz/fuzz_pth_reader.cpp src/formats/pth_reader.cpp src/formats/pth_legacy.cpp
      src/formats/pth_state_dict.cpp src/formats/pickle.cpp
      src/formats/zip_archive.cpp src/formats/safetensors_reader.cpp src/formats/weight_map.cpp
      src/formats/tensor_dtype.cpp src/formats/file_bytes.cpp src/models/detect.cpp src/models/esrgan_layout.cpp src/models/rrdb_trunk_layout.cpp
      src/models/rrdbnet.cpp
      src/models/srvgg_compact.cpp src/models/graph_builder.cpp src/ir/graph.cpp)
    flags+=(-Itests)
    libs=(-lz)
    # Seeds: the committed fixtures, whole (0), their data.pkl alone (1; zip format), and safetensors files (2).
    for f in tests/data/fixtures/*.pth; do
      { printf '\0'; cat "$f"; } >"$out/corpus/$(basename "$f").0"
      [[ $f == *.legacy*.pth ]] && continue
      { printf '\1'; /usr/bin/python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); n = [i for i in z.namelist() if i.endswith("/data.pkl")][0]
sys.stdout.buffer.write(z.read(n))' "$f"; } >"$out/corpus/$(basename "$f").1"
    done
    for f in tests/data/fixtures/*.safetensors; do { printf '\2'; cat "$f"; } >"$out/corpus/$(basename "$f").2"; done
    ;;
  resr_reader)
    sources=(tests/fuzz/fuzz_resr_reader.cpp src/formats/resr_reader.cpp src/formats/resr_writer.cpp
      src/formats/resr_graph_read.cpp src/formats/resr_graph_write.cpp src/formats/resr_metadata.cpp
      src/formats/resr_compare.cpp src/formats/precision_summary.cpp src/formats/weight_map.cpp src/formats/file_bytes.cpp
      src/formats/weight_arrays.cpp src/core/populate_pages.cpp src/core/staged_file.cpp src/ir/graph.cpp)
    libs=(-lz)
    extra=(-dict=tests/fuzz/resr_reader.dict)
    resr_bin=${RESR_BIN:-build/bin/resr}
    tmp=$(mktemp -d)
    if ! make_resr_seeds "$resr_bin" "$tmp" "$out/corpus"; then
      echo "fuzz.sh: could not make .resr seeds with $resr_bin (build resr or set RESR_BIN)" >&2
    fi
    rm -rf "$tmp"
    ;;
  onnx_reader)
    # Debian's libonnx_proto and libprotobuf are not instrumented: the coverage is resr's mapping onto the IR.
    sources=(tests/fuzz/fuzz_onnx_reader.cpp src/formats/onnx_reader.cpp src/formats/onnx_constants.cpp
      src/formats/onnx_graph_builder.cpp src/formats/onnx_feature_ops.cpp src/formats/onnx_views.cpp
      src/formats/onnx_const_ops.cpp src/formats/onnx_final_clamp.cpp src/formats/onnx_external_data.cpp
      src/formats/file_bytes.cpp
      src/formats/weight_map.cpp src/ir/graph.cpp src/core/populate_pages.cpp)
    flags+=(-DRESR_HAVE_ONNX=1 -DONNX_ML=1 -DONNX_NAMESPACE=onnx)
    libs=(-lonnx_proto -lprotobuf)
    cp tests/data/fixtures/*.onnx "$out/corpus/"
    ;;
  video_reader)
    sources=(tests/fuzz/fuzz_video_reader.cpp src/video/video_reader.cpp src/video/library_log.cpp)
    read -r -a libs <<<"$(pkg-config --libs libavformat libavcodec libswscale libavutil)"
    # Seeds: the video tests' clip (Matroska, FFV1, PCM, SubRip) and its x4fast upscale (MP4, H.264).
    if [[ -x build/bin/make_test_clip && -x build/bin/resr ]]; then
      build/bin/make_test_clip "$out/corpus/clip.mkv" 16 8 3
      build/bin/resr upscale --backend cpu -n x4fast -i "$out/corpus/clip.mkv" -o "$out/corpus/clip.mp4" 2>/dev/null || true
    else
      echo "fuzz.sh: build first for the video seeds (build/bin/make_test_clip, build/bin/resr)" >&2
    fi
    ;;
  calib_table)
    sources=(tests/fuzz/fuzz_calib_table.cpp src/quant/calib_table.cpp src/quant/threshold_methods.cpp
      src/core/staged_file.cpp src/ir/fingerprint.cpp src/ir/graph.cpp)
    libs=(-lz)
    # Seeds: small v1 and v2 tables, and a (v3) table calibrated on a test image with the small fixture model, when
    # resr is built.
    h='# model 0123456789abcdef\n# method kl\n# samples 2  tile 16\n# date 2024-05-01T12:00:00Z\n'
    printf "# resr calibration table v1\n$h"'data 1 0 1\nx 0.5 -0.25 0.75\n' >"$out/corpus/v1.calib"
    printf "# resr calibration table v2\n$h"'data 1 0 1 3 0.5 1 0.25\nx 0.5 -0.25 0.75 0\n' >"$out/corpus/v2.calib"
    if ! ${RESR_BIN:-build/bin/resr} calibrate -m tests/data/fixtures/srvgg_x4_prelu.safetensors \
      -i tests/data/x4fast_37x29.in.png --num 2 --tile 16 -o "$out/corpus/t.calib" >/dev/null; then
      echo "fuzz.sh: no table seed (build resr or set RESR_BIN)" >&2
    fi
    ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
clang++ "${flags[@]}" "${sources[@]}" "${libs[@]}" -o "$out/fuzz_$target"
"$out/fuzz_$target" -rss_limit_mb=4096 -max_total_time="$seconds" -artifact_prefix="$out/" "${extra[@]}" \
  "$out/corpus" 2>&1 | tail -5
