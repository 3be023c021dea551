#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for bench/gpu_check.sh on the device machine, whose image has CUDA, cuDNN and
# PyTorch but not resr's build dependencies: the CUDA build's resr and test_cuda, the non-CUDA shared libraries
# they load (libpng, libjpeg, libwebp, protobuf, onnx_proto, the CUDA runtime; not cuDNN: the machine's own)
# and the two models. Run here after the README's build (build/ has the CUDA backend when nvcc and cuDNN are
# found; BUILD=DIR for another build folder):
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build
# then carry ".gpu" in the device call: bench/gpu_check.sh and bench/gpu_fused_default.sh look for it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
[[ -x $BUILD/bin/resr && -x $BUILD/bin/test_cuda ]] || { echo "pack_gpu_check: build $BUILD first" >&2; exit 2; }
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib .gpu/models .gpu/python
cp "$BUILD/bin/resr" "$BUILD/bin/test_cuda" .gpu/bin/
# The Python module, tried on the device when its Python is the one the module was built for.
cp "$BUILD"/python/resr.*.so .gpu/python/ 2>/dev/null || true
# Every resolved library except the C runtime, the GPU stack (the machine has its own) and libstdc++/libgcc.
# (nullglob: without a Python module, .gpu/python/* would stay a pattern, ldd would fail, and set -e would end
# the script before the models are copied.)
shopt -s nullglob
for bin in .gpu/bin/* .gpu/python/*; do
  ldd "$bin" | awk '$3 ~ /^\// {print $3}'
done | sort -u | grep -v -E '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcudnn[a-z_]*)[.-]' |
  while read -r lib; do cp -L "$lib" .gpu/lib/; done
cp models/realesrgan-x4fast.{param,bin} models/realesrgan-x4plus.{param,bin} .gpu/models/
# The contest's first image (510x408), for the decode-to-encode upscale timing, when ../shared is here.
if [[ -f ../shared/images/0001.png ]]; then cp ../shared/images/0001.png .gpu/; fi
# The device takes 64 MiB in all, the working tree (tracked and untracked files not ignored) and .gpu together:
# symbols are dropped (the CUDA code is data, and stays); if that is not enough, the Python module (which only
# the full check tries) goes.
strip --strip-unneeded .gpu/bin/* .gpu/python/* 2>/dev/null || true
shopt -u nullglob
tree_bytes="$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)"
if (($(du -sb .gpu | cut -f1) + tree_bytes > 63 * 1024 * 1024)); then
  rm -f .gpu/python/*
  echo "pack_gpu_check: over 63 MiB with the working tree, the Python module left out" >&2
fi
echo "pack_gpu_check: .gpu $(du -sh .gpu | cut -f1), the working tree $((tree_bytes / 1024 / 1024)) MiB"
