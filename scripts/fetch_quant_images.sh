#!/usr/bin/env bash
# Natural test images for INT8 calibration and precision quality measurements, from the Debian package
# python3-skimage (scikit-image's sample data; fetched with `apt-get download`, not installed, sha256 checked).
#   data/quant/calib/  images the calibration sees
#   data/quant/eval/   images it never sees (quality is measured there), plus ../shared/images/000[12].png if present
# Usage: scripts/fetch_quant_images.sh   (idempotent; data/ is git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
DEB=python3-skimage_0.19.3-8_all.deb
DEB_SHA256=728d88c3e3440f1f3712de0805dc834d29248ff07e1eec8c0f3da07606f752f9
SRC=usr/lib/python3/dist-packages/skimage/data
CALIB=(astronaut.png brick.png chelsea.png color.png grass.png gravel.png hubble_deep_field.jpg ihc.png
  motorcycle_left.png camera.png moon.png)
EVAL=(coffee.png rocket.jpg retina.jpg)

if [[ -f data/quant/.done ]]; then
  echo "fetch_quant_images: data/quant is in place"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq "python3-skimage=0.19.3-8" >/dev/null 2>&1) || {
  apt-get update -qq && (cd "$tmp" && apt-get download -qq "python3-skimage=0.19.3-8")
}
echo "$DEB_SHA256  $tmp/$DEB" | sha256sum --quiet -c - || { echo "fetch_quant_images: $DEB checksum mismatch" >&2; exit 1; }
dpkg-deb -x "$tmp/$DEB" "$tmp/x"
mkdir -p data/quant/calib data/quant/eval
for f in "${CALIB[@]}"; do install -m 644 "$tmp/x/$SRC/$f" data/quant/calib/; done
for f in "${EVAL[@]}"; do install -m 644 "$tmp/x/$SRC/$f" data/quant/eval/; done
for f in ../shared/images/0001.png ../shared/images/0002.png; do
  [[ -f $f ]] && install -m 644 "$f" data/quant/eval/
done
touch data/quant/.done
echo "fetch_quant_images: $(ls data/quant/calib | wc -l) calibration and $(ls data/quant/eval | wc -l) evaluation images in data/quant"
