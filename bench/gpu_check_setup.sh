# shellcheck shell=bash
# What bench/gpu_check.sh and bench/gpu_fused_default.sh share, sourced by both on the device machine (CHECK: the
# sourcing script's name, for messages): the working folders ($OUT gets summary.txt and logs.tgz only: the device
# tool returns a limited number of files, and the first run's many logs crowded out the summary; the logs and
# scratch files live in a work folder, archived after every line of the summary, so that a run cut short by its
# time limit still returns everything it logged), say, the time budget (step_timeout), the libraries and models
# carried in .gpu, the plan cache, the device's description, the input image, and the helpers the steps use
# (planned, stage_times, bench_resr).
# Sourced from the repository root, with CHECK set.
: "${CHECK:?set CHECK to the sourcing script name before sourcing gpu_check_setup.sh}"
RESULTS="$(mkdir -p "${OUT:-/tmp/gpu_check}" && cd "${OUT:-/tmp/gpu_check}" && pwd)"
WORK="${GPU_CHECK_WORK:-/tmp/gpu_check_work}"
rm -rf "$WORK"
mkdir -p "$WORK"
S="$RESULTS/summary.txt"
: > "$S"
SECONDS=0
pack_logs() {  # written beside, then renamed: a run killed mid-write keeps the previous archive
  find "$WORK" -maxdepth 1 -type f \( -name '*.txt' -o -name '*.log' -o -name '*.json' \) -printf '%f\0' |
    tar czf "$RESULTS/.logs.tgz.tmp" -C "$WORK" --null -T - 2>/dev/null && mv -f "$RESULTS/.logs.tgz.tmp" "$RESULTS/logs.tgz"
}
say() {  # seconds since the start: where the time limit goes
  echo "[${SECONDS}s] $*" | tee -a "$S"
  pack_logs
}
# The time budget: each step's limit is cut to what is left of BUDGET seconds from the start (GPU_CHECK_BUDGET, or
# the sourcing script's DEFAULT_BUDGET; 0: none), and a step with under 5 s left is not started but listed in
# skipped.txt. The scripts run their steps in order of importance, so a run cut short loses the least.
BUDGET="${GPU_CHECK_BUDGET:-${DEFAULT_BUDGET:-0}}"
step_timeout() {  # SECONDS COMMAND...: `timeout SECONDS COMMAND...` within the budget; 124 when not started
  local limit=$1 left
  shift
  if ((BUDGET > 0)); then
    left=$((BUDGET - SECONDS))
    if ((left < 5)); then
      echo "$*" | cut -c1-200 >> "$WORK/skipped.txt"
      echo "$CHECK: not started, the ${BUDGET} s budget is spent" >&2
      return 124
    fi
    ((limit > left)) && limit=$left
  fi
  timeout "$limit" "$@"
}
budget_report() {  # the steps the budget left out, then the last summary line: the time taken and their count
  local n=0
  [[ -f $WORK/skipped.txt ]] && n=$(wc -l < "$WORK/skipped.txt")
  if ((n > 0)); then
    echo "not started for want of time:" | tee -a "$S"
    head -40 "$WORK/skipped.txt" | tee -a "$S"
    ((n > 40)) && echo "... and $((n - 40)) more" | tee -a "$S"
  fi
  say "$CHECK: ${SECONDS} s in all (budget ${BUDGET} s, 0 = none); steps not started for want of time: $n"
}

[[ -x .gpu/bin/resr ]] || { say "$CHECK: .gpu/ missing (run scripts/pack_gpu_check.sh here and carry .gpu)"; exit 2; }
PY="${PYTHON:-python3}"
# cuDNN and the CUDA runtime from the machine's PyTorch wheels, then the carried libraries.
cudalibs="$("$PY" - <<'PYEOF' 2>/dev/null
import glob, os
import nvidia
roots = [os.path.join(p, "*", "lib") for p in nvidia.__path__]
print(":".join(sorted({d for r in roots for d in glob.glob(r)})))
PYEOF
)"
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${cudalibs}:${LD_LIBRARY_PATH:-}"
export RESR_MODELS="$PWD/.gpu/models" RESR_TEST_DATA="$PWD/tests/data"
# The plan cache (compiled fused plans, measured algorithms) in a place of its own, emptied where a run must
# start cold.
export RESR_CACHE_DIR="${TMPDIR:-/tmp}/resr_gpu_check_cache"
rm -rf "$RESR_CACHE_DIR"
# Each new input size's planning time and the plan cache's hits and misses, on stderr ("cuda: planned ...").
export RESR_VERBOSE=plans
planned() { grep -h "cuda: planned" "$@" 2>/dev/null | tr '\n' ' '; }
RESR=.gpu/bin/resr

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$WORK/nvidia-smi.txt" 2>&1 ||
  echo "no nvidia-smi" >> "$WORK/nvidia-smi.txt"
say "device: $(tail -1 "$WORK/nvidia-smi.txt")"
say "cuDNN (the machine's, from PyTorch): $("$PY" -c 'import torch; print(torch.__version__, torch.backends.cudnn.version())' 2>&1 | tail -1)"
if ! ldd "$RESR" > "$WORK/ldd.txt" 2>&1 || grep -q "not found" "$WORK/ldd.txt"; then
  say "$CHECK: resr cannot load its libraries here:"; grep "not found" "$WORK/ldd.txt" | tee -a "$S"
fi

if [[ -f .gpu/0001.png ]]; then cp .gpu/0001.png "$WORK/in.png"; else "$PY" -c "import numpy as np, PIL.Image as I; I.fromarray((np.random.default_rng(0).random((408,510,3))*255).astype('uint8')).save('$WORK/in.png')" 2>>"$WORK/torch.log"; fi
TIMEFORMAT='%R s wall'
# --profile: where the time of the one image goes (decode, preprocess, inference, postprocess, encode, total ms).
stage_times() {  # the --profile line of in.png in log $1, labelled, or "none"
  local line
  line="$(grep -E '^in\.png ' "$1" | awk '{printf "decode %s preproc %s inference %s postproc %s encode %s total %s", $2, $3, $4, $5, $6, $7}')"
  echo "${line:-none}"
}
# `resr upscale --backend cuda --profile` of in.png with the rest of its arguments in "$@" (model, output), under
# `timeout 90` (within the budget), after `env` with the VAR=value assignments of $3 (space-separated; may be empty), its output in
# log $2; then one summary line: label $1, exit status, wall time, stage times and planning lines.
profiled_upscale() {  # label log "VAR=value ..." upscale-args...
  local label=$1 log=$2 envs=$3 t rc
  shift 3
  # shellcheck disable=SC2086  # $envs: the assignments, one word each
  t="$( { time step_timeout 90 env $envs $RESR upscale --backend cuda --profile -i "$WORK/in.png" "$@" > "$log" 2>&1; } 2>&1)"
  rc=$?
  say "$label: exit $rc, $t; stages ms: $(stage_times "$log"); $(planned "$log" | cut -c1-600)"
}
# One resr bench of model $1 (x4plus, x4fast) at size $3, configuration $2 = precision:layout:graphs:fused; TENSOR
# and TAG from the environment (resr's tensor-core conv, a label).
bench_resr() {  # precision:layout:graphs:fused
  IFS=: read -r prec layout graphs fused <<< "$2"
  local m="$1" size="$3" model=".gpu/models/realesrgan-$1.param"
  [[ $prec != fp32 ]] && model="$WORK/$m.$prec.resr"
  local log="$WORK/bench_${m}_${prec}_${layout}_g${graphs}_f$fused${TAG:-}.txt"
  local keep=()  # the .param models are FP32: kept so with --fp32 (upscaling runs them in FP16 on the GPU)
  [[ $prec == fp32 ]] && keep=(--fp32)
  step_timeout 100 env RESR_CUDA_GRAPHS="$graphs" RESR_CUDA_LAYOUT="$layout" RESR_CUDA_FUSED="$fused" \
    RESR_CUDA_TENSOR_CONV="${TENSOR:-0}" $RESR bench -m "$model" \
    --backend cuda --size "$size" --iters 10 ${keep[@]+"${keep[@]}"} > "$log" 2>&1
  say "resr cuda $prec $m $size $layout graphs=$graphs fused=$fused${TAG:-}: $(tail -2 "$log" | tr '\n' ' ')"
}

# Steps for the fused default (bench/gpu_fused_default.sh; gpu_check.sh runs them too).
# The first plan's fused graphs (x4plus, empty plan cache) compiled on the cuDNN handle, one at a time, against
# compiled for the device's properties on every core (the default where cuDNN >= 9.8): the planning line says how;
# the two outputs compared.
first_plan_compile_pair() {
  local par
  for par in 0 1; do
    rm -rf "$RESR_CACHE_DIR"
    profiled_upscale "upscale, fused=1, plan cache empty, parallel compile=$par" "$WORK/upscale_fused_compile_p$par.log" \
      "RESR_CUDA_LAYOUT=nhwc RESR_CUDA_FUSED=1 RESR_CUDA_PARALLEL_COMPILE=$par" -n x4plus -o "$WORK/out_fused_p$par.png"
  done
  [[ -f $WORK/out_fused_p0.png && -f $WORK/out_fused_p1.png ]] &&
    say "parallel compile's output against one at a time's: $(step_timeout 60 $RESR eval "$WORK/out_fused_p1.png" --ref "$WORK/out_fused_p0.png" 2>&1 | tail -1)"
  rm -rf "$RESR_CACHE_DIR"
}
# Model $1 at size $2 on the legacy NHWC path with every conv that reads or writes a channel slice of a dense block
# on dense copies instead (RESR_CUDA_STAGE_SLICES=1): whether cuDNN's legacy NHWC kernels are slow on the slices of
# the zero-copy concatenation (NHWC legacy took 177 ms on x4plus where PyTorch eager, with copies, took 60), for a
# default that compiles nothing.
staged_legacy_bench() {
  RESR_CUDA_STAGE_SLICES=1 TAG=_staged bench_resr "$1" fp16:nhwc:1:0 "$2"
}
# Per-step device times of the fused graphs (needs $WORK/x4plus.fp16.resr and $WORK/x4fast.fp16.resr).
fused_step_times() {
  say "== per-step device times with fused conv graphs (RESR_CUDA_FUSED=1), fp16 x4plus 510x408"
  step_timeout 120 env RESR_CUDA_FUSED=1 $RESR bench -m "$WORK/x4plus.fp16.resr" --backend cuda --size 510x408 --iters 3 \
    --layers > "$WORK/layers_x4plus_fp16_fused.txt" 2>&1
  head -30 "$WORK/layers_x4plus_fp16_fused.txt" | tee -a "$S"
  say "== the same for x4fast at 1920x1080 (its target: 1.9x eager and 0.87x compiled so far)"
  step_timeout 120 env RESR_CUDA_FUSED=1 $RESR bench -m "$WORK/x4fast.fp16.resr" --backend cuda --size 1920x1080 --iters 3 \
    --layers > "$WORK/layers_x4fast_fp16_fused.txt" 2>&1
  head -30 "$WORK/layers_x4fast_fp16_fused.txt" | tee -a "$S"
}
# For the fused default (off until the whole suite has passed with it): every CUDA test but those of resr's
# tensor-core conv (its own and its model cases: never yet run, a fault there would end this process), NHWC with RESR_CUDA_FUSED=1 in the environment (tests that set their own paths keep them, and put it back
# after: test::ScopedEnv), with a cache of its own, within $1 seconds.
fused_test_suite() {
  local log="$WORK/test_cuda_nhwc_fused_all.txt" rc
  step_timeout "$1" env RESR_CUDA_LAYOUT=nhwc RESR_CUDA_FUSED=1 RESR_CACHE_DIR="$WORK/fused_all_cache" .gpu/bin/test_cuda \
    --gtest_filter='-*tensor*:*TensorCores*:*TensorConv*:*WarpgroupMma*' \
    > "$log" 2>&1
  rc=$?
  say "test_cuda, every test, NHWC, RESR_CUDA_FUSED=1: exit $rc"
  [[ $rc == 0 ]] || tail -5 "$log" | tee -a "$S"  # where a fault or the time limit ended it
  grep -E "^\[  (FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$|PASSED|tests ran|^\[ cuda \]" "$log" | tee -a "$S"
}
