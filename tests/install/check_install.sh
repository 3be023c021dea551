#!/usr/bin/env bash
# ctest install_tree: `cmake --install` of the build into a scratch prefix gives a resr that runs from there (its
# libraries found), loads the installed video plugin, a Python module that imports from there, and a C++ library
# (headers, libresr.so, resr.pc) that a program outside the tree builds and runs against.
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
# The C++ library: a program outside the tree, built with the installed headers and libresr.so through resr.pc.
cat >"$prefix/use_resr.cpp" <<'CPP'
#include <resr/resr.h>

#include <cstdio>

int main(int argc, char** argv) {
  resr::UpscalerOptions o;
  o.model = "x4fast";
  o.model_dir = argv[1];
  o.backend = "cpu";
  resr::Result<resr::Upscaler> up = resr::Upscaler::create(o);
  if (!up.ok()) return std::fprintf(stderr, "%s\n", up.status().message().c_str()), 1;
  resr::StageTimes t;
  const resr::Status st = up->upscale_file(argv[2], argv[3], &t);
  if (!st.ok()) return std::fprintf(stderr, "%s\n", st.message().c_str()), 1;
  return argc == 4 && t.inference_ms > 0 ? 0 : 1;
}
CPP
export PKG_CONFIG_PATH="$prefix/$(cd "$prefix" && ls -d lib*/pkgconfig lib/*/pkgconfig 2>/dev/null | head -1)"
# shellcheck disable=SC2046  # pkg-config's flags are words
${CXX:-c++} "$prefix/use_resr.cpp" $(pkg-config --cflags --libs resr) -o "$prefix/use_resr"
"$prefix/use_resr" "$source/models" "$source/tests/data/x4fast_37x29.in.png" "$prefix/lib_out.png"
cmp -s "$prefix/out.png" "$prefix/lib_out.png" || { echo "the library's output differs from the CLI's"; exit 1; }
echo "installed into a scratch prefix: resr, the video plugin, the Python module and the C++ library work from there"
