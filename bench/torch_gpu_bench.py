#!/usr/bin/env python3
"""PyTorch on the GPU, the baseline of bench/gpu_check.sh: an ncnn model (bench/ncnn_torch.py) in fp16 or fp32,
eager (cudnn.benchmark, channels_last) or torch.compile, timed with CUDA events.

    torch_gpu_bench.py --model models/realesrgan-x4plus.param --size 510x408 --dtype fp16 --mode eager --json

Prints one line; with --json one JSON object:
{"tool":"pytorch-gpu","version":...,"device":...,"model":...,"size":[w,h],"dtype":...,"mode":...,
 "iters":n,"best_ms":...,"median_ms":...}
"""

import argparse
import json
import os
import re
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncnn_torch  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser(description="PyTorch GPU baseline timing of an ncnn model")
    ap.add_argument("--model", required=True, help="PATH.param")
    ap.add_argument("--size", required=True, help="input WxH")
    ap.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16")
    ap.add_argument("--mode", choices=["eager", "compile"], default="eager")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    m = re.fullmatch(r"(\d+)[xX](\d+)", args.size)
    if not m:
        ap.error("--size must be WxH")
    w, h = int(m.group(1)), int(m.group(2))
    if not torch.cuda.is_available():
        sys.exit("torch_gpu_bench: no CUDA device")

    torch.backends.cudnn.benchmark = True
    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    net = ncnn_torch.load(args.model).cuda().to(dtype).to(memory_format=torch.channels_last).eval()
    if args.mode == "compile":
        net = torch.compile(net)
    x = torch.rand(1, 3, h, w, device="cuda", dtype=dtype).to(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        for _ in range(3):  # warm-up (and compilation, cudnn.benchmark's search)
            net(x)
        torch.cuda.synchronize()
        for _ in range(args.iters):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            net(x)
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
    res = {"tool": "pytorch-gpu", "version": torch.__version__, "device": torch.cuda.get_device_name(0),
           "model": os.path.basename(args.model), "size": [w, h], "dtype": args.dtype, "mode": args.mode,
           "iters": args.iters, "best_ms": round(min(times), 3), "median_ms": round(statistics.median(times), 3)}
    print(json.dumps(res) if args.json else
          f"pytorch {args.mode} {args.dtype} {res['model']} {w}x{h}: best {res['best_ms']} ms, "
          f"median {res['median_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
