#!/usr/bin/env bash
# The CUDA backend's check on the device machine (an H100/H200 lent through the `device` tool), in one call that
# ends within 5 minutes: a time budget (GPU_CHECK_BUDGET, default 285 s; 0 = none) cuts each step's limit to what
# is left, and the steps run in order of importance, so that a run cut short keeps what the issue asks first:
#   1. the CUDA tests in NHWC (FP32 <= 1e-3 max abs and FP16 >= 50 dB against the golden outputs; graph replay; the
#      pixel path; the fused conv graphs; INT8/FP8; the plan cache), after one wgmma of each kind alone (a fault in
#      the warpgroup cuts would end the tests' process: they are turned off if it fails);
#   2. the targets: resr (FP16 fused, fused where faster, the NCHW default; INT8 per tensor and per channel; FP8)
#      for x4plus at 510x408 and x4fast at 1920x1080 input, then PyTorch FP16 eager (cudnn.benchmark,
#      channels_last) and torch.compile on the same GPU; `resr upscale` of ../shared's 0001.png, decode to encode
#      (three runs, then --fp32 and the two outputs compared);
#   3. then as far as the budget goes: resr's own tensor-core conv (its tests, mma.sync and wgmma; its speed on
#      every conv and where it wins), the CUDA tests in NCHW and with every NHWC slice staged through dense copies,
#      dynamic shapes, the legacy paths, per-step device times, upscale with each conv path and plan cache state,
#      the fused graphs' first compile both ways, folder mode, a folder of three sizes, a 2.8 MP input,
#      compute-sanitizer's memcheck, and the Python module.
# GPU_CHECK_MORE=1 adds the configurations the first full run (H200, 2026-11-29; over 8 minutes then) dropped:
# INT8+FP8 per conv, FP8 without shared dense blocks, fp16 NCHW without CUDA graphs, FP32 and INT8 on the legacy
# NCHW path. GPU_CHECK_QUICK=1, for a first short call: resr's own tensor-core conv (never yet run on a GPU) with
# the fused graphs and PyTorch to compare; the fused graphs' first compile on the handle against on every core;
# x4plus's legacy NHWC path with and without its slices staged; per-step times of the fused graphs; and last,
# every CUDA test in NHWC with RESR_CUDA_FUSED=1. Not yet run on a device in this form.
# Results go to $OUT: summary.txt (its last line: the time taken and the steps the budget left out), and logs.tgz
# with the raw logs.
#
# Here first:  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build
#              bash scripts/pack_gpu_check.sh           # -> .gpu/ (binaries, their libraries, the models)
# Then:        device run, carry [".gpu"], command "bash bench/gpu_check.sh", timeout ~400 s
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
CHECK=gpu_check
DEFAULT_BUDGET=285
source bench/gpu_check_setup.sh
QUICK="${GPU_CHECK_QUICK:-0}"
MORE="${GPU_CHECK_MORE:-0}"
# The tests keep their plan cache (the fused plans and measured algorithms) in a directory of their own, which
# later test runs and the sanitizer reuse.
TEST_CACHE="${TMPDIR:-/tmp}/resr_gpu_check_test_cache"
rm -rf "$TEST_CACHE"
# The warpgroup (wgmma) form of resr's tensor-core conv, unless turned off already or its test fails (wgmma_probe,
# tensor_conv_tests).
WGMMA=1
[[ ${RESR_CUDA_TENSOR_WARPGROUP:-1} == 0 ]] && WGMMA=0
TARGETS=(x4plus:510x408 x4fast:1920x1080)

# Turns the warpgroup cuts off for every later step, saying why ($1).
warpgroup_off() {
  export RESR_CUDA_TENSOR_WARPGROUP=0
  WGMMA=0
  say "$1: RESR_CUDA_TENSOR_WARPGROUP=0 from here on"
}

test_lines() {  # each test of log $1 once (its own line, with its time), the figures it printed, and the count
  grep -E "^\[ cuda \]|^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED" "$1" | tee -a "$S"
}

# resr's tensor-core conv alone (every cut, fp16 / int8 / fp8, against the host; 8-bit codes read and written, the
# hand-overs): the mma.sync cuts first, then one wgmma of each type and width alone (WarpgroupMma: the instruction
# apart from the conv), then every cut with the warpgroup ones: a fault in a kernel ends its process. If the
# warpgroup cuts fail, they are turned off from here on (RESR_CUDA_TENSOR_WARPGROUP=0).
tensor_conv_tests() {
  local pass name on filter seconds log rc
  for pass in "mma|0|*TensorConvOnGpu*:*TensorConvHandoverOnGpu*:*TensorConvPerChannelOnGpu*|150" \
    "warpgroup|1|*WarpgroupMma*:*TensorConvOnGpu*:*TensorConvHandoverOnGpu*:*TensorConvPerChannelOnGpu*|180"; do
    IFS='|' read -r name on filter seconds <<< "$pass"
    if [[ $name == warpgroup && $WGMMA == 0 ]]; then
      say "test_cuda (tensor-core conv alone, warpgroup cuts): not run, the warpgroup cuts are off"
      continue
    fi
    log="$WORK/test_tensor_conv_$name.txt"
    step_timeout "$seconds" env RESR_CUDA_TENSOR_WARPGROUP="$on" .gpu/bin/test_cuda --gtest_filter="$filter" > "$log" 2>&1
    rc=$?
    say "test_cuda (tensor-core conv alone, $name cuts) exit $rc"
    grep -E "^\[ cuda \] (tensor conv|one wgmma)|^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED|Failure" "$log" |
      head -200 >> "$S"
    grep -E "^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED|Failure" "$log" | head -20
    if [[ $name == warpgroup && $rc != 0 ]]; then warpgroup_off "warpgroup cuts failed their test (or did not run)"; fi
  done
}

# The model cases on resr's tensor-core conv (golden *_tensor*, QuantizedOnResrTensorCores, the verdicts), in a
# process of their own after its own tests: the other test groups leave them out, so that a fault in these never-run
# kernels ends no other test's process.
tensor_case_tests() {
  local log="$WORK/test_cuda_tensor.txt"
  step_timeout 120 env RESR_CUDA_LAYOUT=nhwc RESR_CACHE_DIR="$TEST_CACHE" .gpu/bin/test_cuda \
    --gtest_filter='*tensor*:*TensorCores*:*TensorConvVerdicts*:*DeviceProperties*' > "$log" 2>&1
  say "test_cuda (tensor-core cases) exit $?"
  test_lines "$log"
}

# One wgmma of each type and width alone (the instruction apart from the conv), before any test that runs the
# warpgroup cuts (the NHWC goldens, the per-channel INT8 cuts): a fault there would end their process, and with it
# the first results. If it fails, the warpgroup cuts are off from here on.
wgmma_probe() {
  local log="$WORK/test_wgmma_probe.txt" rc
  [[ $WGMMA == 1 ]] || return 0
  step_timeout 60 env RESR_CUDA_TENSOR_WARPGROUP=1 .gpu/bin/test_cuda --gtest_filter='*WarpgroupMma*' > "$log" 2>&1
  rc=$?
  say "test_cuda (one wgmma of each kind) exit $rc"
  test_lines "$log"
  if [[ $rc != 0 ]]; then warpgroup_off "wgmma failed its test (or did not run)"; fi
}

# The CUDA tests in layout $1, in four processes: a fault in one kernel (an illegal address) leaves the process's
# CUDA context unusable, and would fail every later test of the same process. Fused graphs are NHWC in both
# layouts: the second layout's fused and quant groups load them from the tests' plan cache; the plain group
# searches its algorithms again (other strides), and the cache group's tests use a cache of their own.
layout_tests() {
  local layout=$1 group name filter limit log
  local apart='*tensor*:*TensorCores*:*TensorConv*:*WarpgroupMma*'  # tensor_conv_tests, tensor_case_tests
  for group in "plain|-*fused*:*Int8*:*Fp8*:*PlanCache*:$apart|60" "fused|*fused*-$apart|60" \
    "quant|*Int8*:*Fp8*-$apart|60" "cache|*PlanCache*-$apart|30"; do
    IFS='|' read -r name filter limit <<< "$group"
    log="$WORK/test_cuda_${layout}_$name.txt"
    step_timeout "$limit" env RESR_CUDA_LAYOUT="$layout" RESR_CACHE_DIR="$TEST_CACHE" .gpu/bin/test_cuda \
      --gtest_filter="$filter" > "$log" 2>&1
    say "test_cuda ($layout, $name) exit $?"
    test_lines "$log"
  done
}

# Every conv on an NHWC channel slice staged through dense copies (Plan::staged, the fallback for slices cuDNN
# refuses; the runs above stage only those): the golden cases, whose own RESR_CUDA_FUSED settings cover the legacy
# path, fused and auto. A cache of its own, so that auto times the staged legacy paths afresh. Then, if fused
# graphs failed a test, cuDNN's warnings and errors in the fused tests, counted by reason.
staged_tests() {
  local log="$WORK/test_cuda_staged.txt"
  step_timeout 60 env RESR_CUDA_LAYOUT=nhwc RESR_CUDA_STAGE_SLICES=1 RESR_CACHE_DIR="$WORK/staged_cache" \
    .gpu/bin/test_cuda --gtest_filter='*Golden*' > "$log" 2>&1
  say "test_cuda (nhwc, every slice staged) exit $?"
  test_lines "$log"
  if grep -qs "FAILED.*fused\|FAILED.*Int8\|FAILED.*Fp8" "$WORK"/test_cuda_n*_*.txt; then
    step_timeout 90 env CUDNN_LOGLEVEL_DBG=2 CUDNN_LOGDEST_DBG=stderr .gpu/bin/test_cuda \
      --gtest_filter='*fused*:*Int8*:*Fp8*' 2>&1 | grep -E "Reason|Error|Warning|FAILED|\[ cuda \]" | sort | uniq -c |
      sort -rn | head -60 > "$WORK/cudnn_fused_log.txt"
    say "fused tests failed: cuDNN's reasons in cudnn_fused_log.txt"
    head -15 "$WORK/cudnn_fused_log.txt" | tee -a "$S"
  fi
}

# The models the benchmarks run: FP16, and INT8 (symmetric) and FP8 (E4M3, fused graphs only) calibrated on
# 0001.png tiles. "int8": one input scale per conv; "int8c": per-channel input scales (resr convert's default,
# better quality). Quick mode makes no FP8.
convert_models() {
  local m
  for m in x4fast x4plus; do
    step_timeout 60 $RESR convert -n $m --to resr --precision fp16 -o "$WORK/$m.fp16.resr" > /dev/null 2>&1
  done
  mkdir -p "$WORK/calib" && cp "$WORK/in.png" "$WORK/calib/"
  for m in x4fast x4plus; do
    step_timeout 120 $RESR calibrate -n $m -i "$WORK/calib" --num 16 --tile 64 -o "$WORK/$m.calib" \
      > "$WORK/calib_$m.log" 2>&1 &&
      step_timeout 60 $RESR convert -n $m --precision int8 --input-scales tensor --calib "$WORK/$m.calib" \
        -o "$WORK/$m.int8.resr" >> "$WORK/calib_$m.log" 2>&1 &&
      step_timeout 60 $RESR convert -n $m --precision int8 --calib "$WORK/$m.calib" -o "$WORK/$m.int8c.resr" \
        >> "$WORK/calib_$m.log" 2>&1 &&
      { [[ $QUICK == 1 ]] ||
        step_timeout 60 $RESR convert -n $m --precision fp8 --calib "$WORK/$m.calib" -o "$WORK/$m.fp8.resr" \
          >> "$WORK/calib_$m.log" 2>&1; }
    say "int8 and fp8 $m: calibrate + convert exit $?"
  done
}

# resr's configurations ($@: precision:layout:graphs:fused) on the two target sizes. fused=1: each conv and its
# epilogue as one cuDNN graph (compiled on the first run of a size: "first run" in the line); fused=auto: each
# conv on whichever of its fused graph and its legacy path (conv, then the epilogue kernel) was faster when timed.
target_benches() {
  local c run
  for c in "${TARGETS[@]}"; do
    for run in "$@"; do bench_resr "${c%%:*}" "$run" "${c#*:}"; done
  done
}

# resr's own tensor-core conv (tensor_conv.h) on the target sizes: on every conv it can run, and where it beat the
# conv's path (fused graph or legacy) when timed, with the verdicts ("planned ..." on stderr, in the log). Quick
# mode leaves out the mma.sync form on every conv (auto's verdicts time it per conv) and FP8.
tensor_benches() {
  local c m size
  for c in "${TARGETS[@]}"; do
    m="${c%%:*}" size="${c#*:}"
    [[ $QUICK == 1 ]] || TENSOR=1 TAG=_tensor bench_resr "$m" fp16:nhwc:1:0 "$size"
    [[ $WGMMA == 1 ]] && TENSOR=warpgroup TAG=_tensor_warpgroup bench_resr "$m" fp16:nhwc:1:0 "$size"
    TENSOR=auto TAG=_tensor_auto bench_resr "$m" fp16:nhwc:1:1 "$size"
    # ... and against the legacy path alone: a default without the fused graphs' first-run compile
    TENSOR=auto TAG=_tensor_auto bench_resr "$m" fp16:nhwc:1:0 "$size"
    # ... and its 8-bit products for the INT8 and FP8 models (fp16 activations, the input quantized as it is
    # loaded or, between two such convs, handed over as codes)
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
}

# PyTorch fp16 on the same GPU in the same run, eager (cudnn.benchmark, channels_last) and compiled (modes $@).
torch_baselines() {
  local c m size mode line
  for mode in "$@"; do
    for c in "${TARGETS[@]}"; do
      m="${c%%:*}" size="${c#*:}"
      line="$(step_timeout 150 "$PY" bench/torch_gpu_bench.py --model ".gpu/models/realesrgan-$m.param" \
        --size "$size" --dtype fp16 --mode "$mode" 2>>"$WORK/torch.log" | tail -1)"
      say "torch $mode fp16 $m $size: $line"
    done
  done
}

# The < 150 ms target: `resr upscale` of 0001.png with x4plus as a user runs it (FP16 on the GPU), three times
# (the first fills the plan cache), then with --fp32, and the two outputs compared.
upscale_target() {
  local i t rc
  for i in 1 2 3; do
    t="$( { time step_timeout 60 $RESR upscale -n x4plus --backend cuda --profile -i "$WORK/in.png" -o "$WORK/out.png" \
      > "$WORK/upscale.log" 2>&1; } 2>&1)"
    rc=$?
    say "upscale run $i: exit $rc, $t; stages ms: $(stage_times "$WORK/upscale.log"); $(tail -1 "$WORK/upscale.log") $(planned "$WORK/upscale.log")"
  done
  t="$( { time step_timeout 60 $RESR upscale -n x4plus --backend cuda --fp32 -i "$WORK/in.png" -o "$WORK/out32.png" \
    > "$WORK/upscale32.log" 2>&1; } 2>&1)"
  say "upscale --fp32: exit $?, $t, $(tail -c 200 "$WORK/upscale32.log" | tr '\n' ' ')"
  [[ -f $WORK/out.png && -f $WORK/out32.png ]] &&
    say "FP16 against --fp32 output: $(step_timeout 60 $RESR eval "$WORK/out.png" --ref "$WORK/out32.png" 2>&1 | tail -1)"
}

# The legacy paths on model sizes $@: fp16 NHWC (conv + epilogue kernel; channel slices staged through dense
# copies), with GPU_CHECK_MORE=1 NCHW without CUDA graphs, FP32 and INT8; and with every slice staged.
legacy_benches() {
  local legacy=(fp16:nhwc:1:0) c run
  [[ $MORE == 1 ]] && legacy+=(fp16:nchw:0:0 fp32:nchw:1:0 int8:nchw:1:0)
  for c in "$@"; do
    for run in "${legacy[@]}"; do bench_resr "${c%%:*}" "$run" "${c#*:}"; done
    staged_legacy_bench "${c%%:*}" "${c#*:}"
  done
}

# Per-step device times of resr's tensor-core convs (RESR_CUDA_TENSOR_CONV=$@), x4plus fp16 at 510x408.
tensor_step_times() {
  local mode
  for mode in "$@"; do
    say "== per-step device times, fp16 x4plus 510x408, resr's tensor-core convs (RESR_CUDA_TENSOR_CONV=$mode)"
    step_timeout 120 env RESR_CUDA_TENSOR_CONV="$mode" $RESR bench -m "$WORK/x4plus.fp16.resr" --backend cuda \
      --size 510x408 --iters 3 --layers > "$WORK/layers_x4plus_fp16_tensor_$mode.txt" 2>&1
    head -30 "$WORK/layers_x4plus_fp16_tensor_$mode.txt" | tee -a "$S"
  done
}

# Upscale of 0001.png with each conv path ($@: tensor:fused, the RESR_CUDA_TENSOR_CONV and RESR_CUDA_FUSED
# values), with an empty plan cache, then a filled one (the fused graphs' plans and, for auto, the tensor-core
# verdicts).
upscale_modes() {
  local mode tensor fused cache
  say "== upscale 0001.png (510x408) with x4plus, FP16, decode to encode, for each conv path (plan cache empty, then filled)"
  for mode in "$@"; do
    IFS=: read -r tensor fused <<< "$mode"
    rm -rf "$RESR_CACHE_DIR"
    for cache in empty filled; do
      profiled_upscale "upscale, tensor-core convs=$tensor, fused=$fused, plan cache $cache" \
        "$WORK/upscale_tensor_${tensor}_f${fused}_$cache.log" \
        "RESR_CUDA_LAYOUT=nhwc RESR_CUDA_FUSED=$fused RESR_CUDA_TENSOR_CONV=$tensor" -n x4plus -o "$WORK/out_tensor.png"
    done
  done
}

# Several files in one process (folder mode): per-image stage times without process start and cuDNN set-up; with
# more encoding threads (PNG encoding is single-threaded per image); with the fp16 model without and with fused
# conv graphs (all, or where faster), and one image with it.
folder_checks() {
  local i fused cache t rc
  mkdir -p "$WORK/folder_in" "$WORK/folder_out"
  for i in 1 2 3 4 5 6; do cp "$WORK/in.png" "$WORK/folder_in/img$i.png"; done
  step_timeout 120 $RESR upscale -n x4plus --backend cuda -i "$WORK/folder_in" -o "$WORK/folder_out" \
    --report "$WORK/folder_report.json" > "$WORK/folder.log" 2>&1
  say "folder of 6 x 0001.png: exit $?, $(tail -3 "$WORK/folder.log" | tr '\n' ' ')"
  rm -rf "$WORK/folder_out" && mkdir -p "$WORK/folder_out"
  step_timeout 120 $RESR upscale -n x4plus --backend cuda -j 2:1:4 -i "$WORK/folder_in" -o "$WORK/folder_out" \
    --report "$WORK/folder_report_j4.json" > "$WORK/folder_j4.log" 2>&1
  say "folder of 6, -j 2:1:4: exit $?, $(tail -3 "$WORK/folder_j4.log" | tr '\n' ' ')"
  for fused in 0 1 auto; do
    rm -rf "$WORK/folder_out" && mkdir -p "$WORK/folder_out"
    step_timeout 120 env RESR_CUDA_FUSED=$fused $RESR upscale -m "$WORK/x4plus.fp16.resr" --backend cuda \
      -i "$WORK/folder_in" -o "$WORK/folder_out" --report "$WORK/folder_report_fp16_f$fused.json" \
      > "$WORK/folder_fp16_f$fused.log" 2>&1
    say "folder of 6, fp16 fused=$fused: exit $?, $(tail -3 "$WORK/folder_fp16_f$fused.log" | tr '\n' ' ')"
    for cache in empty filled; do
      [[ $cache == empty ]] && rm -rf "$RESR_CACHE_DIR"
      t="$( { time step_timeout 60 env RESR_CUDA_FUSED=$fused $RESR upscale -m "$WORK/x4plus.fp16.resr" --backend cuda \
        --profile -i "$WORK/in.png" -o "$WORK/out.png" > "$WORK/upscale_fp16.log" 2>&1; } 2>&1)"
      rc=$?
      say "upscale one image, fp16 fused=$fused, plan cache $cache: exit $rc, $t; stages ms: $(stage_times "$WORK/upscale_fp16.log"); $(planned "$WORK/upscale_fp16.log") $(grep -h '^resr:' "$WORK/upscale_fp16.log" | head -2 | tr '\n' ' ')"
    done
  done
}

# A folder of three sizes (crops of 0001.png), fused fp16, empty plan cache: every new size compiles its graphs,
# unless dynamic shapes share the kernels of the first. Then a 2.8 MP input: x4plus's values at 4x pass cuDNN's
# 2^31 elements above about 2.1 MP input pixels, so the automatic tiles must split it whatever the free memory
# (max_run_pixels); a failure here names the limit.
size_checks() {
  local wh dyn t
  mkdir -p "$WORK/sizes_in"
  "$PY" -c "import PIL.Image as I; im=I.open('$WORK/in.png'); [im.crop((0,0,w,h)).save('$WORK/sizes_in/c%d.png'%w) for w,h in ((510,408),(400,300),(256,200))]" 2>>"$WORK/torch.log" ||
    for wh in 510x408 400x300 256x200; do  # no PIL: resr's own resize (x4fast on the CPU, then Lanczos) makes the sizes
      step_timeout 60 $RESR upscale -m .gpu/models -n x4fast --backend cpu -i "$WORK/in.png" \
        -o "$WORK/sizes_in/c${wh%x*}.png" --width "${wh%x*}" --height "${wh#*x}" >>"$WORK/torch.log" 2>&1
    done
  for dyn in 0 1; do
    rm -rf "$RESR_CACHE_DIR" "$WORK/folder_out" && mkdir -p "$WORK/folder_out"
    t="$( { time step_timeout 120 env RESR_CUDA_FUSED=1 RESR_CUDA_DYNAMIC_SHAPES=$dyn $RESR upscale \
      -m "$WORK/x4plus.fp16.resr" --backend cuda -v -i "$WORK/sizes_in" -o "$WORK/folder_out" > "$WORK/sizes_d$dyn.log" 2>&1; } 2>&1)"
    say "folder of 3 sizes, fp16 fused, dynamic shapes=$dyn, empty plan cache: $t, $(tail -3 "$WORK/sizes_d$dyn.log" | tr '\n' ' ') $(planned "$WORK/sizes_d$dyn.log")"
  done
  if "$PY" -c "import PIL.Image as I; I.open('$WORK/in.png').resize((2040, 1356)).save('$WORK/big.png')" 2>>"$WORK/torch.log"; then
    t="$( { time step_timeout 90 $RESR upscale -m "$WORK/x4plus.fp16.resr" --backend cuda -i "$WORK/big.png" \
      -o "$WORK/big_x4.jpg" --report "$WORK/big_report.json" > "$WORK/big.log" 2>&1; } 2>&1)"
    say "upscale 2040x1356 x4plus fp16 (tiles under cuDNN's limit): $t, $(tail -2 "$WORK/big.log" | tr '\n' ' ') $(grep -o '"tiles": [0-9]*' "$WORK/big_report.json" 2>/dev/null | head -1)"
  fi
}

# Out-of-bounds and race checks of the own kernels (compute-sanitizer ships with CUDA), from the tests' plan cache
# (no algorithm search or graph compile under the sanitizer, only the runs), on the test filter $1, log $2.
memcheck() {
  local san
  san="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
  [[ -n $san ]] || { say "compute-sanitizer: not found"; return; }
  step_timeout 90 env RESR_CUDA_LAYOUT=nhwc RESR_CACHE_DIR="$TEST_CACHE" "$san" --tool memcheck --error-exitcode 9 \
    .gpu/bin/test_cuda --gtest_filter="$1" > "$WORK/$2" 2>&1
  say "compute-sanitizer memcheck ($1): exit $? ($(grep -c "Invalid\|Error" "$WORK/$2") error lines)"
}

# The Python module on the GPU, where the device's Python is the one it was built for (Debian's CPython 3.11 with
# NumPy): the CUDA backend against the CPU on 0001.png, from Python.
python_check() {
  local modpy candidate py_out
  if ! compgen -G ".gpu/python/resr.*.so" >/dev/null || [[ ! -f .gpu/0001.png ]]; then
    say "python module: not packed"
    return
  fi
  modpy="$PY"  # the first Python that imports the module (the PyTorch one may be another version than Debian's)
  for candidate in "$PY" /usr/bin/python3; do
    if PYTHONPATH=.gpu/python step_timeout 30 "$candidate" -c "import numpy, resr" >/dev/null 2>&1; then
      modpy="$candidate"
      break
    fi
  done
  py_out="$(PYTHONPATH=.gpu/python step_timeout 90 "$modpy" - 2>&1 <<'PYEOF' | tail -2 | tr '\n' ' '
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
}

if [[ $QUICK == 1 ]]; then
  say "== tests (quick: resr's tensor-core conv, then its cases in the models)"
  wgmma_probe
  tensor_conv_tests
  tensor_case_tests
  say "== speed (best ms over 10 runs after warm-up; resr: whole run with host copies, then device time of the steps)"
  convert_models
  target_benches fp16:nhwc:1:1 int8:nhwc:1:1 int8c:nhwc:1:1
  tensor_benches
  legacy_benches x4plus:510x408
  if [[ $WGMMA == 1 ]]; then tensor_step_times warpgroup; else tensor_step_times 1; fi
  fused_step_times
  modes=(auto:0)
  [[ $WGMMA == 1 ]] && modes+=(warpgroup:0)
  upscale_modes "${modes[@]}"
  first_plan_compile_pair
  torch_baselines eager compile
  memcheck '*fp16_tensor:*fp16_tensor_warpgroup' memcheck_tensor.txt
  fused_test_suite 150  # last: the evidence the fused default waits for
  budget_report
  exit 0
fi

say "== 1. tests, NHWC"
wgmma_probe
layout_tests nhwc
say "== 2. the targets (best ms over 10 runs after warm-up; resr: whole run with host copies, then device time of the steps)"
convert_models
target_benches fp16:nhwc:1:1 fp16:nhwc:1:auto fp16:nchw:1:0 int8:nhwc:1:1 int8c:nhwc:1:1 fp8:nhwc:1:1
torch_baselines eager compile
say "== upscale 0001.png (510x408) with x4plus (FP16 on the GPU unless --fp32), decode to encode (run 1 with an empty plan cache, 2-3 from it)"
rm -rf "$RESR_CACHE_DIR"
upscale_target
say "== 3. as far as the budget goes"
tensor_conv_tests
tensor_case_tests
tensor_benches
layout_tests nchw
staged_tests
# INT8 and FP8 per conv, as measured ("mix"): the search is CPU work (x4plus took 26 s on this project's 2-core
# machine, 42 s with the device's 16), measured on few small tiles (the speed is the point); x4plus FP8 with each
# conv rounding its own input, for the gain of the shared dense-block copies (passes/code_blocks.h).
if [[ $MORE == 1 ]]; then
  for c in "${TARGETS[@]}"; do
    m="${c%%:*}"
    step_timeout 120 $RESR convert -n "$m" --precision int8+fp8 --calib "$WORK/$m.calib" --images "$WORK/calib" \
      --search-tiles 2 --search-tile 24 -o "$WORK/$m.mix.resr" > "$WORK/mix_$m.log" 2>&1
    say "int8+fp8 $m: convert exit $?, $(grep -h "chose FP8" "$WORK/mix_$m.log")"
    bench_resr "$m" mix:nhwc:1:1 "${c#*:}"
  done
  RESR_CUDA_FP8_BLOCKS=0 TAG=_noblocks bench_resr x4plus fp8:nhwc:1:1 510x408
fi
# Dynamic-shape fused graphs (kernels shared across input sizes): their speed against the fixed-size ones above.
RESR_CUDA_DYNAMIC_SHAPES=1 TAG=_dynamic bench_resr x4plus fp16:nhwc:1:1 510x408
legacy_benches "${TARGETS[@]}"
if [[ $WGMMA == 1 ]]; then tensor_step_times 1 warpgroup; else tensor_step_times 1; fi
say "== per-step device times, fp16 x4plus 510x408 (eager launches, CUDA events)"
step_timeout 120 $RESR bench -m "$WORK/x4plus.fp16.resr" --backend cuda --size 510x408 --iters 3 --layers \
  > "$WORK/layers_x4plus_fp16.txt" 2>&1
head -30 "$WORK/layers_x4plus_fp16.txt" | tee -a "$S"
fused_step_times
modes=(auto:0)
[[ $WGMMA == 1 ]] && modes+=(warpgroup:0)
upscale_modes "${modes[@]}" auto:1 1:1
first_plan_compile_pair
folder_checks
size_checks
# The large scratch files, for the disk (the work folder is not returned).
rm -rf "$WORK/folder_in" "$WORK/folder_out" "$WORK/sizes_in"
rm -f "$WORK/out.png" "$WORK/out32.png" "$WORK/in.png" "$WORK/big.png" "$WORK/big_x4.jpg" "$WORK"/*.resr
# x4fast has no channel slices: the staged copies (Plan::staged) are not memchecked here.
memcheck '*x4fast_37x29_fp16:*GraphReplay*:*fp16_tensor:*QuantizedOnResrTensorCores*' memcheck_nhwc.txt
python_check
budget_report
