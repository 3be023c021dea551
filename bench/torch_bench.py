#!/usr/bin/env python3
"""Time one inference of an ncnn model run by PyTorch on the CPU (the PyTorch baseline).

    torch_bench.py --model models/realesrgan-x4fast.param --size 128x128 --threads 2 --iters 3 [--json]

--model also accepts a bare name (x4fast), looked up as models/realesrgan-NAME.param in the repo
(or $RESR_MODELS). Random input (fixed seed) of batch 1, RGB, WxH; one warm-up run, then ITERS timed
runs under torch.inference_mode(). Prints best and median milliseconds, or with --json one line:
{"tool":"pytorch","version":...,"model":...,"size":[w,h],"threads":t,"iters":n,"best_ms":...,"median_ms":...,
 "minor_faults_per_run":...,"keep_heap":false}

Page faults: on some VMs first-touching memory is very expensive (several microseconds per 4 KiB page),
and by default glibc returns PyTorch's large freed tensors to the kernel, so every run faults its
whole working set in again. --keep-heap re-executes this script with
GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...:glibc.malloc.trim_threshold=... so freed memory stays in
the heap and is reused; this shows what PyTorch's kernels cost without the fault overhead.
"""

import argparse
import json
import resource
import os
import re
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncnn_torch  # noqa: E402


KEEP_HEAP_TUNABLES = ("glibc.malloc.mmap_threshold=4294967295:"
                      "glibc.malloc.trim_threshold=17179869184")


def resolve_model(arg):
    if os.path.exists(arg):
        return arg
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    models = os.environ.get("RESR_MODELS", os.path.join(root, "models"))
    cand = os.path.join(models, f"realesrgan-{arg}.param")
    if os.path.exists(cand):
        return cand
    sys.exit(f"torch_bench: model {arg!r} not found (tried {arg} and {cand})")


def model_name(path):
    stem = os.path.basename(path)
    if stem.endswith(".param"):
        stem = stem[:-len(".param")]
    if stem.startswith("realesrgan-"):
        stem = stem[len("realesrgan-"):]
    return stem


def main(argv):
    ap = argparse.ArgumentParser(description="PyTorch CPU baseline timing of an ncnn model")
    ap.add_argument("--model", required=True, help="PATH.param or a name like x4fast")
    ap.add_argument("--size", required=True, help="input WxH, e.g. 128x128")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object line")
    ap.add_argument("--keep-heap", action="store_true",
                    help="keep freed memory in glibc's heap (avoids page faults between runs)")
    args = ap.parse_args(argv)

    if args.keep_heap and KEEP_HEAP_TUNABLES not in os.environ.get("GLIBC_TUNABLES", ""):
        env = dict(os.environ)
        old = env.get("GLIBC_TUNABLES")
        env["GLIBC_TUNABLES"] = KEEP_HEAP_TUNABLES + (":" + old if old else "")
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + argv, env)

    m = re.fullmatch(r"(\d+)[xX](\d+)", args.size)
    if not m:
        ap.error("--size must be WxH")
    w, h = int(m.group(1)), int(m.group(2))
    if w <= 0 or h <= 0 or args.iters <= 0 or args.threads <= 0:
        ap.error("size, iters and threads must be positive")

    torch.set_num_threads(args.threads)
    param = resolve_model(args.model)
    net = ncnn_torch.load(param)
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.rand(1, 3, h, w, generator=gen, dtype=torch.float32)

    times = []
    with torch.inference_mode():
        y = net(x)  # warm-up
        expect = (1, 3, 4 * h, 4 * w)
        if tuple(y.shape) != expect:
            sys.exit(f"torch_bench: output shape {tuple(y.shape)}, expected {expect}")
        del y
        faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(args.iters):
            t0 = time.perf_counter()
            y = net(x)
            t1 = time.perf_counter()
            del y
            times.append((t1 - t0) * 1000.0)
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / args.iters

    best = min(times)
    median = statistics.median(times)
    if args.json:
        print(json.dumps({
            "tool": "pytorch",
            "version": torch.__version__,
            "model": model_name(param),
            "size": [w, h],
            "threads": args.threads,
            "iters": args.iters,
            "best_ms": round(best, 3),
            "median_ms": round(median, 3),
            "minor_faults_per_run": round(faults),
            "keep_heap": bool(args.keep_heap),
        }))
    else:
        print(f"pytorch {torch.__version__} {model_name(param)} {w}x{h} threads={args.threads} "
              f"iters={args.iters}{' keep-heap' if args.keep_heap else ''}: best {best:.1f} ms, "
              f"median {median:.1f} ms, {faults:.0f} page faults per run")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
