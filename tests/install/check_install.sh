#!/usr/bin/env bash
# ctest install_tree: `cmake --install` of the build into a scratch prefix gives a resr that runs from there (its
# libraries found), loads the installed video plugin, and a Python module that imports from there.
#   check_install.sh BUILD_DIR SOURCE_DIR PYTHON_DIR [MAKE_TEST_CLIP]
set -euo pipefail
build=$1 source=$2 pydir=$3 make_clip=${4:-}
prefix=$(mktemp -d /tmp/resr_install_XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
resr="$prefix/bin/resr"
[[ -x $resr ]] || { echo "no $resr"; exit 1; }
"$resr" upscale --backend cpu -m "$source/models" -n x4fast -i "$source/tests/data/x4fast_37x29.in.png" \
  -o "$prefix/out.png"
[[ -f $prefix/out.png ]] || { echo "the installed resr wrote nothing"; exit 1; }
if [[ -n $make_clip ]]; then
  "$make_clip" "$prefix/clip.mkv"
  "$resr" upscale -v --backend cpu -m "$source/models" -n x4fast -i "$prefix/clip.mkv" -o "$prefix/big.mkv" \
    2>"$prefix/video.log"
  plugin=$(sed -n 's/^video plugin //p' "$prefix/video.log")
  [[ $plugin == "$prefix"/*/resr/libresr_video.so ]] || { echo "loaded the plugin from '$plugin', not $prefix"; exit 1; }
fi
PYTHONPATH="$prefix/$pydir" RESR_MODELS="$source/models" /usr/bin/python3 -c "
import resr, sys
assert resr.__file__.startswith('$prefix'), resr.__file__
assert resr.Upscaler(model='x4fast', backend='cpu').upscale(resr.read_image('$prefix/out.png')).shape == (464, 592, 3)
"
echo "installed into a scratch prefix: resr, the video plugin and the Python module work from there"
