#!/usr/bin/env bash
# The evidence for making the fused NHWC path the CUDA backend's default, in one short device call (about 5
# minutes; the fused path took 28.2 ms for x4plus at 510x408 on an H200 where the default took 147.6 ms, but its
# first plan compiled for 11.1 s and the whole GPU test suite had not passed with it):
#   1. every CUDA test in NHWC with RESR_CUDA_FUSED=1;
#   2. the first plan's compile, one graph at a time on the handle against every core, outputs compared;
#   3. the default, fused=1 and fused=auto (and the legacy NHWC path, plain and with its slices staged), same run;
#   4. per-step device times of the fused graphs;
#   5. `resr upscale` of 0001.png, decode to encode, default against fused with a filled plan cache (the < 150 ms
#      target), the outputs compared;
#   6. PyTorch fp16 eager, the same run.
# Results in $OUT (summary.txt, logs.tgz), as bench/gpu_check.sh.
#
# Here first:  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build
#              bash scripts/pack_gpu_check.sh
# Then:        device run, carry [".gpu"], command "bash bench/gpu_fused_default.sh", timeout ~420 s
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
CHECK=gpu_fused_default
DEFAULT_BUDGET=330  # each step's limit cut to what is left (gpu_check_setup.sh), so the call ends in time
source bench/gpu_check_setup.sh

say "== 1. tests"
fused_test_suite 150

say "== 2. the first plan's compile"
first_plan_compile_pair

say "== 3. speed, same run (resr: whole run with host copies, then device time of the steps)"
for m in x4fast x4plus; do
  $RESR convert -n $m --to resr --precision fp16 -o "$WORK/$m.fp16.resr" > /dev/null 2>&1
done
for c in x4plus:510x408 x4fast:1920x1080; do
  for run in fp16:nchw:1:0 fp16:nhwc:1:1 fp16:nhwc:1:auto fp16:nhwc:1:0; do bench_resr "${c%%:*}" "$run" "${c#*:}"; done
  staged_legacy_bench "${c%%:*}" "${c#*:}"
done

say "== 4. per-step times"
fused_step_times

say "== 5. upscale 0001.png with x4plus, decode to encode: the default, then fused (plan cache filled by a first run)"
for fused in 0 1; do
  rm -rf "$RESR_CACHE_DIR"
  for run in first second third; do
    profiled_upscale "upscale, fused=$fused, $run run" "$WORK/upscale_default_f${fused}_$run.log" \
      "RESR_CUDA_FUSED=$fused" -n x4plus -o "$WORK/out_default_f$fused.png"
  done
done
[[ -f $WORK/out_default_f0.png && -f $WORK/out_default_f1.png ]] &&
  say "fused output against the default's: $(step_timeout 60 $RESR eval "$WORK/out_default_f1.png" --ref "$WORK/out_default_f0.png" 2>&1 | tail -1)"

say "== 6. PyTorch fp16 eager (cudnn.benchmark, channels_last), the same run"
for c in x4plus:510x408 x4fast:1920x1080; do
  line="$(step_timeout 120 "$PY" bench/torch_gpu_bench.py --model ".gpu/models/realesrgan-${c%%:*}.param" --size "${c#*:}" \
    --dtype fp16 --mode eager 2>>"$WORK/torch.log" | tail -1)"
  say "torch eager fp16 ${c%%:*} ${c#*:}: $line"
done
budget_report
