#!/usr/bin/env bash
# The CUDA backend's check on the device machine (an H100/H200 lent through the `device` tool), in one call:
# the CUDA tests (FP32 <= 1e-3 max abs and FP16 >= 50 dB against the golden outputs; graph replay; the pixel
# path; the fused conv graphs) in both activation layouts (RESR_CUDA_LAYOUT=nchw|nhwc) and with every NHWC slice
# staged through dense copies; then resr's CUDA backend (both layouts, and with each conv's epilogue fused into its
# cuDNN graph: RESR_CUDA_FUSED=1, or =auto: where faster) against PyTorch on the same GPU (fp16 eager with
# cudnn.benchmark + channels_last, and torch.compile), for x4plus at 510x408 and x4fast at 1920x1080 input, and
# resr's own tensor-core conv (RESR_CUDA_TENSOR_CONV=1 and =auto; its golden cases, and a memcheck of them);
# per-step device times; `resr upscale` of ../shared's 0001.png alone and in a folder (with an empty and a filled
# plan cache, FP16 and --fp32); and a folder of three sizes with and without shared dynamic-shape kernels.
# Results go to $OUT: summary.txt, and logs.tgz with the raw logs. Meant to finish in about 5 minutes; every step
# has a limit of its own (their sum is larger: a step that hangs costs its limit, and what finished before is in
# logs.tgz). The first full run (H200, 2026-11-29) took over 8 minutes: GPU_CHECK_MORE=1 keeps the configurations
# it then dropped (INT8+FP8 per conv, FP8 without shared dense blocks, fp16 NCHW without CUDA graphs, FP32 and
# INT8 on the legacy NCHW path). Not yet timed on a device in this form. GPU_CHECK_QUICK=1, for a first short
# call: resr's own tensor-core conv (never yet run on a GPU) with the fused graphs and PyTorch to compare; the
# fused graphs' first compile on the handle against on every core; x4plus's legacy NHWC path with and without its
# slices staged; per-step times of the fused graphs; and last, every CUDA test in NHWC with RESR_CUDA_FUSED=1.
#
# Here first:  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build
#              bash scripts/pack_gpu_check.sh           # -> .gpu/ (binaries, their libraries, the models)
# Then:        device run, carry [".gpu"], command "bash bench/gpu_check.sh", timeout ~420 s
set -uo pipefail
cd "$(dirname "$0")/.."
CHECK=gpu_check
source bench/gpu_check_setup.sh
# GPU_CHECK_QUICK=1: the shorter call the header describes.
QUICK="${GPU_CHECK_QUICK:-0}"

say "== tests"
# resr's tensor-core conv alone first (every cut, fp16 / int8 / fp8, against the host; 8-bit codes read and
# written, the hand-overs): the paths below build on it.
# The mma.sync cuts first, then one wgmma of each type and width alone (WarpgroupMma: the instruction apart from
# the conv), then every cut with the warpgroup (wgmma) ones: a fault in a kernel ends its process.
# If the warpgroup cuts fail, they are turned off for the rest of the script (RESR_CUDA_TENSOR_WARPGROUP=0).
for pass in "mma|0|*TensorConvOnGpu*:*TensorConvHandoverOnGpu*:*TensorConvPerChannelOnGpu*|150" \
  "warpgroup|1|*WarpgroupMma*:*TensorConvOnGpu*:*TensorConvHandoverOnGpu*:*TensorConvPerChannelOnGpu*|180"; do
  IFS='|' read -r name on filter seconds <<< "$pass"
  log="$WORK/test_tensor_conv_$name.txt"
  timeout "$seconds" env RESR_CUDA_TENSOR_WARPGROUP="$on" .gpu/bin/test_cuda --gtest_filter="$filter" > "$log" 2>&1
  rc=$?
  say "test_cuda (tensor-core conv alone, $name cuts) exit $rc"
  grep -E "^\[ cuda \] (tensor conv|one wgmma)|^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED|Failure" "$log" |
    head -200 >> "$S"
  grep -E "^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED|Failure" "$log" | head -20
  if [[ $name == warpgroup && $rc != 0 ]]; then
    export RESR_CUDA_TENSOR_WARPGROUP=0
    say "warpgroup cuts failed their test: RESR_CUDA_TENSOR_WARPGROUP=0 from here on"
  fi
done
# In four processes per layout: a fault in one kernel (an illegal address) leaves the process's CUDA context
# unusable, and would fail every later test of the same process. The tests keep their plan cache (the fused
# plans and measured algorithms) in a directory of their own, which the sanitizer run at the end reuses.
TEST_CACHE="${TMPDIR:-/tmp}/resr_gpu_check_test_cache"
rm -rf "$TEST_CACHE"
if [[ $QUICK == 1 ]]; then  # the tensor-core cases only, NHWC
  log="$WORK/test_cuda_tensor.txt"
  timeout 120 env RESR_CUDA_LAYOUT=nhwc RESR_CACHE_DIR="$TEST_CACHE" .gpu/bin/test_cuda \
    --gtest_filter='*tensor*:*TensorCores*:*TensorConvVerdicts*:*DeviceProperties*' > "$log" 2>&1
  say "test_cuda (tensor-core cases) exit $?"
  grep -E "^\[ cuda \]|^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED" "$log" | tee -a "$S"
fi
[[ $QUICK == 1 ]] || for layout in nchw nhwc; do
  # name|filter|seconds. Fused graphs are NHWC in both layouts: the second layout's fused and quant groups load
  # them from the tests' plan cache; the plain group searches its algorithms again (other strides), and the cache
  # group's tests use a cache of their own.
  for group in "plain|-*fused*:*Int8*:*Fp8*:*PlanCache*:*TensorConv*OnGpu*:*WarpgroupMma*|60" "fused|*fused*|60" "quant|*Int8*:*Fp8*|60" \
    "cache|*PlanCache*|30"; do
    IFS='|' read -r name filter limit <<< "$group"
    [[ $layout == nhwc && ($name == fused || $name == quant) ]] && limit=40
    log="$WORK/test_cuda_${layout}_$name.txt"
    timeout "$limit" env RESR_CUDA_LAYOUT=$layout RESR_CACHE_DIR="$TEST_CACHE" .gpu/bin/test_cuda \
      --gtest_filter="$filter" > "$log" 2>&1
    say "test_cuda ($layout, $name) exit $?"
    # each test once (its own line, with its time), the figures it printed, and the count
    grep -E "^\[ cuda \]|^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED" "$log" | tee -a "$S"
  done
done
if [[ $QUICK != 1 ]]; then
# Every conv on an NHWC channel slice staged through dense copies (Plan::staged, the fallback for slices cuDNN
# refuses; the runs above stage only those): the golden cases, whose own RESR_CUDA_FUSED settings cover the
# legacy path, fused and auto. A cache of its own, so that auto times the staged legacy paths afresh.
log="$WORK/test_cuda_staged.txt"
timeout 60 env RESR_CUDA_LAYOUT=nhwc RESR_CUDA_STAGE_SLICES=1 RESR_CACHE_DIR="$WORK/staged_cache" \
  .gpu/bin/test_cuda --gtest_filter='*Golden*' > "$log" 2>&1
say "test_cuda (nhwc, every slice staged) exit $?"
grep -E "^\[ cuda \]|^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED" "$log" | tee -a "$S"
# Why fused graphs fail, if they do: cuDNN's warnings and errors in the fused tests, counted by reason.
if grep -qs "FAILED.*fused\|FAILED.*Int8\|FAILED.*Fp8" "$WORK"/test_cuda_nchw_*.txt; then
  timeout 90 env CUDNN_LOGLEVEL_DBG=2 CUDNN_LOGDEST_DBG=stderr .gpu/bin/test_cuda --gtest_filter='*fused*:*Int8*:*Fp8*' \
    2>&1 | grep -E "Reason|Error|Warning|FAILED|\[ cuda \]" | sort | uniq -c | sort -rn | head -60 > "$WORK/cudnn_fused_log.txt"
  say "fused tests failed: cuDNN's reasons in cudnn_fused_log.txt"; head -15 "$WORK/cudnn_fused_log.txt" | tee -a "$S"
fi
fi  # not QUICK

say "== speed (best ms over 10 runs after warm-up; resr: whole run with host copies, then device time of the steps)"
$RESR convert -n x4fast --to resr --precision fp16 -o "$WORK/x4fast.fp16.resr" > /dev/null 2>&1
$RESR convert -n x4plus --to resr --precision fp16 -o "$WORK/x4plus.fp16.resr" > /dev/null 2>&1
# INT8 (symmetric), FP8 (E4M3, fused graphs only) and both mixed ("mix"), calibrated on 0001.png tiles, against
# FP16, same run. "int8": one input scale per conv; "int8c": per-channel input scales (resr convert's default,
# better quality; what quantizing per channel as the tensor-core kernel loads costs is to be measured here).
mkdir -p "$WORK/calib" && cp "$WORK/in.png" "$WORK/calib/"
for m in x4fast x4plus; do
  timeout 120 $RESR calibrate -n $m -i "$WORK/calib" --num 16 --tile 64 -o "$WORK/$m.calib" > "$WORK/calib_$m.log" 2>&1 &&
    $RESR convert -n $m --precision int8 --input-scales tensor --calib "$WORK/$m.calib" -o "$WORK/$m.int8.resr" \
      >> "$WORK/calib_$m.log" 2>&1 &&
    $RESR convert -n $m --precision int8 --calib "$WORK/$m.calib" -o "$WORK/$m.int8c.resr" >> "$WORK/calib_$m.log" 2>&1 &&
    { [[ $QUICK == 1 ]] ||  # quick mode runs no FP8
      $RESR convert -n $m --precision fp8 --calib "$WORK/$m.calib" -o "$WORK/$m.fp8.resr" >> "$WORK/calib_$m.log" 2>&1; }
  say "int8 and fp8 $m: calibrate + convert exit $?"
done
# The targets first (fp16 fused and default, INT8 fused, PyTorch eager and compiled), then the other
# configurations, so that a run cut short by its time limit still has them. fused=1: each conv and its epilogue
# as one cuDNN graph (compiled on the first run of a size: "first run" in the line); fused=auto: each conv on
# whichever of its fused graph and its legacy path (conv, then the epilogue kernel) was faster when timed.
runs=(fp16:nhwc:1:1 fp16:nhwc:1:auto fp16:nchw:1:0 int8:nhwc:1:1 int8c:nhwc:1:1 fp8:nhwc:1:1)
[[ $QUICK == 1 ]] && runs=(fp16:nhwc:1:1 int8:nhwc:1:1 int8c:nhwc:1:1)
# The warpgroup (wgmma) form, unless its test failed above (RESR_CUDA_TENSOR_WARPGROUP=0): every conv on it.
WGMMA=1
[[ ${RESR_CUDA_TENSOR_WARPGROUP:-1} == 0 ]] && WGMMA=0
for c in x4plus:510x408 x4fast:1920x1080; do
  m="${c%%:*}" size="${c#*:}"
  for run in "${runs[@]}"; do
    bench_resr "$m" "$run" "$size"
  done
  # resr's own tensor-core conv (tensor_conv.h): on every conv it can run, and where it beat the conv's path
  # (fused graph or legacy) when timed, with the verdicts ("planned ..." on stderr, in the log).
  # Quick mode leaves out the mma.sync form on every conv (auto's verdicts time it per conv) and FP8.
  [[ $QUICK == 1 ]] || TENSOR=1 TAG=_tensor bench_resr "$m" fp16:nhwc:1:0 "$size"
  [[ $WGMMA == 1 ]] && TENSOR=warpgroup TAG=_tensor_warpgroup bench_resr "$m" fp16:nhwc:1:0 "$size"
  TENSOR=auto TAG=_tensor_auto bench_resr "$m" fp16:nhwc:1:1 "$size"
  # ... and against the legacy path alone: a default without the fused graphs' first-run compile
  TENSOR=auto TAG=_tensor_auto bench_resr "$m" fp16:nhwc:1:0 "$size"
  # ... and its 8-bit products for the INT8 and FP8 models (fp16 activations, the input quantized as it is loaded
  # or, between two such convs, handed over as codes)
  [[ $QUICK == 1 ]] || TENSOR=1 TAG=_tensor bench_resr "$m" int8:nhwc:1:0 "$size"
  [[ $WGMMA == 1 ]] && TENSOR=warpgroup TAG=_tensor_warpgroup bench_resr "$m" int8:nhwc:1:0 "$size"
  [[ $WGMMA == 1 ]] && TENSOR=warpgroup TAG=_tensor_warpgroup bench_resr "$m" int8c:nhwc:1:0 "$size"
  # ... without the hand-overs of 8-bit codes between consecutive convs (x4fast's body), for their gain
  [[ $WGMMA == 1 && $m == x4fast ]] &&
    RESR_CUDA_TENSOR_HANDOVER=0 TENSOR=warpgroup TAG=_tensor_warpgroup_nohandover bench_resr "$m" int8:nhwc:1:0 "$size"
  # ... without the shared copies of dense blocks' codes (x4plus: each conv quantizing its input as it loads)
  [[ $WGMMA == 1 && $m == x4plus ]] &&
    RESR_CUDA_TENSOR_BLOCKS=0 TENSOR=warpgroup TAG=_tensor_warpgroup_noblocks bench_resr "$m" int8:nhwc:1:0 "$size"
  TENSOR=auto TAG=_tensor_auto bench_resr "$m" int8:nhwc:1:1 "$size"
  [[ $QUICK == 1 ]] || TENSOR=auto TAG=_tensor_auto bench_resr "$m" int8c:nhwc:1:1 "$size"
  [[ $QUICK == 1 ]] || TENSOR=1 TAG=_tensor bench_resr "$m" fp8:nhwc:1:1 "$size"
  say "tensor auto verdicts $m (against fused graphs): $(planned "$WORK/bench_${m}_fp16_nhwc_g1_f1_tensor_auto.txt")"
  say "tensor auto verdicts $m (against the legacy path): $(planned "$WORK/bench_${m}_fp16_nhwc_g1_f0_tensor_auto.txt")"
done
# PyTorch fp16, eager and compiled, on the same GPU in the same run (compiling is slow: after resr's runs).
torch_baselines() {
  for c in x4plus:510x408 x4fast:1920x1080; do
    local m="${c%%:*}" size="${c#*:}" line
    for mode in eager compile; do
      line="$(timeout 150 "$PY" bench/torch_gpu_bench.py --model ".gpu/models/realesrgan-$m.param" --size "$size" \
        --dtype fp16 --mode "$mode" 2>>"$WORK/torch.log" | tail -1)"
      say "torch $mode fp16 $m $size: $line"
    done
  done
}
# Quick mode times the upscale of 0001.png first (below), then PyTorch.
[[ $QUICK == 1 ]] || torch_baselines
# INT8 and FP8 per conv, as measured ("mix"), after the targets: the search is CPU work (x4plus took 26 s on this
# project's 2-core machine, 42 s with the device's 16), measured on few small tiles (the speed is the point).
[[ ${GPU_CHECK_MORE:-0} == 1 ]] && for c in x4plus:510x408 x4fast:1920x1080; do
  m="${c%%:*}"
  timeout 120 $RESR convert -n $m --precision int8+fp8 --calib "$WORK/$m.calib" --images "$WORK/calib" \
    --search-tiles 2 --search-tile 24 -o "$WORK/$m.mix.resr" > "$WORK/mix_$m.log" 2>&1
  say "int8+fp8 $m: convert exit $?, $(grep -h "chose FP8" "$WORK/mix_$m.log")"
  bench_resr "$m" mix:nhwc:1:1 "${c#*:}"
done
# x4plus FP8 with each conv rounding its own input, for the gain of the shared dense-block copies (passes/code_blocks.h).
[[ ${GPU_CHECK_MORE:-0} == 1 ]] && RESR_CUDA_FP8_BLOCKS=0 TAG=_noblocks bench_resr x4plus fp8:nhwc:1:1 510x408
# Dynamic-shape fused graphs (kernels shared across input sizes): their speed against the fixed-size ones above.
[[ $QUICK == 1 ]] || RESR_CUDA_DYNAMIC_SHAPES=1 TAG=_dynamic bench_resr x4plus fp16:nhwc:1:1 510x408
# The legacy paths: fp16 NHWC (conv + epilogue kernel; channel slices staged through dense copies), and with
# GPU_CHECK_MORE=1 NCHW without CUDA graphs, FP32 and INT8.
legacy=(fp16:nhwc:1:0)
[[ ${GPU_CHECK_MORE:-0} == 1 ]] && legacy+=(fp16:nchw:0:0 fp32:nchw:1:0 int8:nchw:1:0)
legacy_sizes=(x4plus:510x408 x4fast:1920x1080)
[[ $QUICK == 1 ]] && legacy=(fp16:nhwc:1:0) legacy_sizes=(x4plus:510x408)
for c in "${legacy_sizes[@]}"; do
  for run in "${legacy[@]}"; do bench_resr "${c%%:*}" "$run" "${c#*:}"; done
  staged_legacy_bench "${c%%:*}" "${c#*:}"
done

# Per-step device times of resr's tensor-core convs: the mma.sync form (RESR_CUDA_TENSOR_CONV=1), then the
# warpgroup form (=warpgroup) unless it failed its test; quick mode takes only the second, or else the first.
tensor_modes=(1 warpgroup)
[[ $QUICK == 1 ]] && tensor_modes=(warpgroup)
[[ $WGMMA == 0 ]] && tensor_modes=(1)
for mode in "${tensor_modes[@]}"; do
  say "== per-step device times, fp16 x4plus 510x408, resr's tensor-core convs (RESR_CUDA_TENSOR_CONV=$mode)"
  timeout 120 env RESR_CUDA_TENSOR_CONV=$mode $RESR bench -m "$WORK/x4plus.fp16.resr" --backend cuda --size 510x408 \
    --iters 3 --layers > "$WORK/layers_x4plus_fp16_tensor_$mode.txt" 2>&1
  head -30 "$WORK/layers_x4plus_fp16_tensor_$mode.txt" | tee -a "$S"
done
if [[ $QUICK != 1 ]]; then
  say "== per-step device times, fp16 x4plus 510x408 (eager launches, CUDA events)"
  timeout 120 $RESR bench -m "$WORK/x4plus.fp16.resr" --backend cuda --size 510x408 --iters 3 --layers \
    > "$WORK/layers_x4plus_fp16.txt" 2>&1
  head -30 "$WORK/layers_x4plus_fp16.txt" | tee -a "$S"
fi
fused_step_times

say "== upscale 0001.png (510x408) with x4plus (FP16 on the GPU unless --fp32), decode to encode (run 1 with an empty plan cache, 2-3 from it)"
rm -rf "$RESR_CACHE_DIR"
# resr's tensor-core convs (tensor:fused): where faster than the legacy path alone (no first-run compile), on
# every conv by wgmma, and (full mode) where faster than cuDNN's fused graphs; an empty plan cache, then a filled
# one (the fused graphs' plans and, for auto, the tensor-core verdicts).
upscale_modes=(auto:0)
[[ $WGMMA == 1 ]] && upscale_modes+=(warpgroup:0)
[[ $QUICK == 1 ]] || upscale_modes+=(auto:1 1:1)
for mode in "${upscale_modes[@]}"; do
  IFS=: read -r tensor fused <<< "$mode"
  rm -rf "$RESR_CACHE_DIR"
  for cache in empty filled; do
    profiled_upscale "upscale, tensor-core convs=$tensor, fused=$fused, plan cache $cache" \
      "$WORK/upscale_tensor_${tensor}_f${fused}_$cache.log" \
      "RESR_CUDA_LAYOUT=nhwc RESR_CUDA_FUSED=$fused RESR_CUDA_TENSOR_CONV=$tensor" -n x4plus -o "$WORK/out_tensor.png"
  done
done
first_plan_compile_pair
if [[ $QUICK == 1 ]]; then
  torch_baselines
  SAN="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
  if [[ -n $SAN ]]; then
    timeout 90 env RESR_CUDA_LAYOUT=nhwc RESR_CACHE_DIR="$TEST_CACHE" "$SAN" --tool memcheck --error-exitcode 9 \
      .gpu/bin/test_cuda --gtest_filter='*fp16_tensor:*fp16_tensor_warpgroup' > "$WORK/memcheck_tensor.txt" 2>&1
    say "compute-sanitizer memcheck (tensor-core cases): exit $? ($(grep -c "Invalid\|Error" "$WORK/memcheck_tensor.txt") error lines)"
  fi
  fused_test_suite 150  # last: the evidence the fused default waits for
  say "gpu_check (quick): done"
  exit 0
fi
for i in 1 2 3; do
  t="$( { time timeout 60 $RESR upscale -n x4plus --backend cuda --profile -i "$WORK/in.png" -o "$WORK/out.png" > "$WORK/upscale.log" 2>&1; } 2>&1)"
  rc=$?
  say "upscale run $i: exit $rc, $t; stages ms: $(stage_times "$WORK/upscale.log"); $(tail -1 "$WORK/upscale.log") $(planned "$WORK/upscale.log")"
done
t="$( { time timeout 60 $RESR upscale -n x4plus --backend cuda --fp32 -i "$WORK/in.png" -o "$WORK/out32.png" > "$WORK/upscale32.log" 2>&1; } 2>&1)"
say "upscale --fp32: exit $?, $t, $(tail -c 200 "$WORK/upscale32.log" | tr '\n' ' ')"
[[ -f $WORK/out.png && -f $WORK/out32.png ]] && say "FP16 against --fp32 output: $(timeout 60 $RESR eval "$WORK/out.png" --ref "$WORK/out32.png" 2>&1 | tail -1)"
# Several files in one process (folder mode): per-image stage times without process start and cuDNN set-up.
mkdir -p "$WORK/folder_in" "$WORK/folder_out"
for i in 1 2 3 4 5 6; do cp "$WORK/in.png" "$WORK/folder_in/img$i.png"; done
timeout 120 $RESR upscale -n x4plus --backend cuda -i "$WORK/folder_in" -o "$WORK/folder_out" --report "$WORK/folder_report.json" \
  > "$WORK/folder.log" 2>&1
say "folder of 6 x 0001.png: exit $?, $(tail -3 "$WORK/folder.log" | tr '\n' ' ')"
# The same folder with more encoding threads (PNG encoding is single-threaded per image).
rm -rf "$WORK/folder_out" && mkdir -p "$WORK/folder_out"
timeout 120 $RESR upscale -n x4plus --backend cuda -j 2:1:4 -i "$WORK/folder_in" -o "$WORK/folder_out" \
  --report "$WORK/folder_report_j4.json" > "$WORK/folder_j4.log" 2>&1
say "folder of 6, -j 2:1:4: exit $?, $(tail -3 "$WORK/folder_j4.log" | tr '\n' ' ')"
# The same folder with the fp16 model, without and with fused conv graphs (all, or where faster), and one image
# with it.
for fused in 0 1 auto; do
  rm -rf "$WORK/folder_out" && mkdir -p "$WORK/folder_out"
  timeout 120 env RESR_CUDA_FUSED=$fused $RESR upscale -m "$WORK/x4plus.fp16.resr" --backend cuda -i "$WORK/folder_in" \
    -o "$WORK/folder_out" --report "$WORK/folder_report_fp16_f$fused.json" > "$WORK/folder_fp16_f$fused.log" 2>&1
  say "folder of 6, fp16 fused=$fused: exit $?, $(tail -3 "$WORK/folder_fp16_f$fused.log" | tr '\n' ' ')"
  for cache in empty filled; do
    [[ $cache == empty ]] && rm -rf "$RESR_CACHE_DIR"
    t="$( { time timeout 60 env RESR_CUDA_FUSED=$fused $RESR upscale -m "$WORK/x4plus.fp16.resr" --backend cuda \
      --profile -i "$WORK/in.png" -o "$WORK/out.png" > "$WORK/upscale_fp16.log" 2>&1; } 2>&1)"
    rc=$?
    say "upscale one image, fp16 fused=$fused, plan cache $cache: exit $rc, $t; stages ms: $(stage_times "$WORK/upscale_fp16.log"); $(planned "$WORK/upscale_fp16.log") $(grep -h '^resr:' "$WORK/upscale_fp16.log" | head -2 | tr '\n' ' ')"
  done
done
# A folder of three sizes (crops of 0001.png), fused fp16, empty plan cache: every new size compiles its graphs,
# unless dynamic shapes share the kernels of the first.
mkdir -p "$WORK/sizes_in"
"$PY" -c "import PIL.Image as I; im=I.open('$WORK/in.png'); [im.crop((0,0,w,h)).save('$WORK/sizes_in/c%d.png'%w) for w,h in ((510,408),(400,300),(256,200))]" 2>>"$WORK/torch.log" ||
  for wh in 510x408 400x300 256x200; do  # no PIL: resr's own resize (x4fast on the CPU, then Lanczos) makes the sizes
    $RESR upscale -m .gpu/models -n x4fast --backend cpu -i "$WORK/in.png" -o "$WORK/sizes_in/c${wh%x*}.png" \
      --width "${wh%x*}" --height "${wh#*x}" >>"$WORK/torch.log" 2>&1
  done
for dyn in 0 1; do
  rm -rf "$RESR_CACHE_DIR" "$WORK/folder_out" && mkdir -p "$WORK/folder_out"
  t="$( { time env RESR_CUDA_FUSED=1 RESR_CUDA_DYNAMIC_SHAPES=$dyn timeout 120 $RESR upscale -m "$WORK/x4plus.fp16.resr" \
    --backend cuda -v -i "$WORK/sizes_in" -o "$WORK/folder_out" > "$WORK/sizes_d$dyn.log" 2>&1; } 2>&1)"
  say "folder of 3 sizes, fp16 fused, dynamic shapes=$dyn, empty plan cache: $t, $(tail -3 "$WORK/sizes_d$dyn.log" | tr '\n' ' ') $(planned "$WORK/sizes_d$dyn.log")"
done
# A 2.8 MP input: x4plus's values at 4x pass cuDNN's 2^31 elements above about 2.1 MP input pixels, so the
# automatic tiles must split it whatever the free memory (max_run_pixels); a failure here names the limit.
if "$PY" -c "import PIL.Image as I; I.open('$WORK/in.png').resize((2040, 1356)).save('$WORK/big.png')" 2>>"$WORK/torch.log"; then
  t="$( { time timeout 90 $RESR upscale -m "$WORK/x4plus.fp16.resr" --backend cuda -i "$WORK/big.png" -o "$WORK/big_x4.jpg" \
    --report "$WORK/big_report.json" > "$WORK/big.log" 2>&1; } 2>&1)"
  say "upscale 2040x1356 x4plus fp16 (tiles under cuDNN's limit): $t, $(tail -2 "$WORK/big.log" | tr '\n' ' ') $(grep -o '"tiles": [0-9]*' "$WORK/big_report.json" 2>/dev/null | head -1)"
fi
# The large scratch files, for the disk (the work folder is not returned).
rm -rf "$WORK/folder_in" "$WORK/folder_out" "$WORK/sizes_in"
rm -f "$WORK/out.png" "$WORK/out32.png" "$WORK/in.png" "$WORK/big.png" "$WORK/big_x4.jpg" "$WORK"/*.resr

# Out-of-bounds and race checks of the own kernels on the smallest case (compute-sanitizer ships with CUDA).
# x4fast has no channel slices: the staged copies (Plan::staged) are not memchecked here.
SAN="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
if [[ -n $SAN ]]; then
  for layout in nhwc; do  # the strided layout; one run keeps the script short
    # The tests' plan cache: no algorithm search or graph compile under the sanitizer, only the runs.
    timeout 90 env RESR_CUDA_LAYOUT=$layout RESR_CACHE_DIR="$TEST_CACHE" "$SAN" --tool memcheck --error-exitcode 9 \
      .gpu/bin/test_cuda --gtest_filter='*x4fast_37x29_fp16:*GraphReplay*:*fp16_tensor:*QuantizedOnResrTensorCores*' \
      > "$WORK/memcheck_$layout.txt" 2>&1
    say "compute-sanitizer memcheck ($layout): exit $? ($(grep -c "Invalid\|Error" "$WORK/memcheck_$layout.txt") error lines)"
  done
else
  say "compute-sanitizer: not found"
fi

# The Python module on the GPU, where the device's Python is the one it was built for (Debian's CPython 3.11 with
# NumPy): the CUDA backend against the CPU on 0001.png, from Python.
if compgen -G ".gpu/python/resr.*.so" >/dev/null && [[ -f .gpu/0001.png ]]; then
  # The first Python that imports the module (the PyTorch one may be another version than Debian's).
  MODPY="$PY"
  for candidate in "$PY" /usr/bin/python3; do
    if PYTHONPATH=.gpu/python timeout 30 "$candidate" -c "import numpy, resr" >/dev/null 2>&1; then
      MODPY="$candidate"
      break
    fi
  done
  py_out="$(PYTHONPATH=.gpu/python timeout 90 "$MODPY" - 2>&1 <<'PYEOF' | tail -2 | tr '\n' ' '
import time
import numpy as np
import resr
pixels = resr.read_image(".gpu/0001.png")
cpu = resr.Upscaler(model_dir=".gpu/models", model="x4fast", backend="cpu").upscale(pixels)
gpu = resr.Upscaler(model_dir=".gpu/models", model="x4fast", backend="cuda")
gpu.upscale(pixels)
t0 = time.perf_counter()
out = gpu.upscale(pixels)
ms = (time.perf_counter() - t0) * 1000
print(f"{gpu.backend}: second upscale {ms:.1f} ms, stages {gpu.last_times}, max diff vs cpu "
      f"{np.abs(out.astype(np.int32) - cpu).max()}")
PYEOF
)"
  say "python module, x4fast on 0001.png, cuda vs cpu: $py_out"
else
  say "python module: not packed"
fi
