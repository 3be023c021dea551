#!/usr/bin/env bash
# Compare resr's CPU backend with PyTorch (bench/torch_bench.py) on the same models and input sizes.
#
#   bench/compare_torch.sh                               # x4fast:128x128 x4plus:64x64
#   bench/compare_torch.sh x4fast:256x256 x4plus:128x128 # MODEL:WxH cases
#
# Environment:
#   RESR_BIN     resr binary (default: build/bin/resr in the repo root)
#   ITERS        timed iterations for both tools (default 3)
#   THREADS      threads for PyTorch (default 2); resr uses its own default and a warning is printed
#                when the "threads" it reports differs
#   PYTHON       python with torch (default /usr/bin/python3 when it exists, else python3)
#   TORCH_ARGS   extra arguments for torch_bench.py, e.g. --keep-heap
#
# Models are read from models/realesrgan-NAME.param in the repo root. Prints one table row per case:
# model, size, resr best ms, pytorch best ms, ratio (pytorch/resr; >1 means resr is faster).
# Exits non-zero if either tool fails on any case.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RESR_BIN="${RESR_BIN:-$ROOT/build/bin/resr}"
ITERS="${ITERS:-3}"
THREADS="${THREADS:-2}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
read -r -a TORCH_EXTRA <<< "${TORCH_ARGS:-}"

cases=("$@")
if [[ ${#cases[@]} -eq 0 ]]; then
  cases=(x4fast:128x128 x4plus:64x64)
fi

if [[ ! -x "$RESR_BIN" ]]; then
  echo "compare_torch: resr binary not found or not executable: $RESR_BIN (set RESR_BIN)" >&2
  exit 2
fi

# json_field FIELD: read the last line of stdin that parses as a JSON object, print FIELD.
json_field() {
  "$PYTHON" -c '
import json, sys
field = sys.argv[1]
obj = None
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            pass
if obj is None or field not in obj:
    sys.exit("no JSON object with field %r in the output" % field)
print(obj[field])
' "$1"
}

rows=()
status=0
for c in "${cases[@]}"; do
  model="${c%%:*}"
  size="${c#*:}"
  if [[ "$model" == "$c" || ! "$size" =~ ^[0-9]+x[0-9]+$ ]]; then
    echo "compare_torch: bad case '$c' (want MODEL:WxH, e.g. x4fast:128x128)" >&2
    exit 2
  fi
  param="$ROOT/models/realesrgan-$model.param"
  if [[ ! -f "$param" ]]; then
    echo "compare_torch: model file not found: $param" >&2
    exit 2
  fi

  echo "== $model $size: resr" >&2
  if ! resr_out="$("$RESR_BIN" bench -n "$model" --size "$size" --backend cpu --iters "$ITERS" \
                   --json)"; then
    echo "compare_torch: resr bench failed for $model $size" >&2
    status=1
    continue
  fi
  if ! resr_ms="$(printf '%s\n' "$resr_out" | json_field best_ms)"; then
    echo "compare_torch: could not parse resr output: $resr_out" >&2
    status=1
    continue
  fi
  resr_threads="$(printf '%s\n' "$resr_out" | json_field threads 2>/dev/null || echo '?')"
  if [[ "$resr_threads" != "$THREADS" ]]; then
    echo "compare_torch: warning: resr reports threads=$resr_threads, pytorch runs with $THREADS" >&2
  fi

  echo "== $model $size: pytorch" >&2
  if ! torch_out="$("$PYTHON" "$ROOT/bench/torch_bench.py" --model "$param" --size "$size" \
                    --threads "$THREADS" --iters "$ITERS" --json "${TORCH_EXTRA[@]}")"; then
    echo "compare_torch: torch_bench.py failed for $model $size" >&2
    status=1
    continue
  fi
  if ! torch_ms="$(printf '%s\n' "$torch_out" | json_field best_ms)"; then
    echo "compare_torch: could not parse torch_bench output: $torch_out" >&2
    status=1
    continue
  fi

  rows+=("$model $size $resr_ms $torch_ms")
done

"$PYTHON" -c '
import sys
rows = [r.split() for r in sys.argv[1:]]
print("%-8s %-10s %14s %16s %8s" % ("model", "size", "resr best ms", "pytorch best ms", "ratio"))
for model, size, r, t in rows:
    r, t = float(r), float(t)
    ratio = "%.2fx" % (t / r) if r > 0 else "n/a"
    print("%-8s %-10s %14.1f %16.1f %8s" % (model, size, r, t, ratio))
' "${rows[@]}"

exit "$status"
