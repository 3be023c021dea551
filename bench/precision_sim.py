#!/usr/bin/env python3
"""Simulated INT8 and FP8 (E4M3) quality of a model, against its FP32 output: a measurement to choose the
reduced precision for a device before building it.

Every convolution's input is rounded per tensor (scale from a resr calibration table: threshold / 127 for INT8,
threshold / 448 or largest |x| / 448 for FP8 E4M3) and its weights per output channel (max |w| / 127 or / 448),
then the convolution runs in fp32, as the fake-quantized model of the quantization literature. INT8 here is resr's symmetric scheme
(round half to even, clamp to +-127), so its figure can be checked against `resr eval` of an INT8 .resr.

    bench/precision_sim.py --model models/realesrgan-x4plus.param --calib x4plus.calib [--crop N] IMAGE.png ...

Prints, per image and as the mean, the PSNR of each precision against FP32 (RGB, 8-bit output rounding).
Needs Debian's python3-torch (RESR_SETUP_BENCH=1 bash scripts/setup.sh); PNG inputs (8-bit).
"""

import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncnn_torch  # noqa: E402


def read_table(path):
    """name -> (threshold, largest |x| seen)."""
    table = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, threshold, lo, hi = line.split()
            table[name] = (float(threshold), max(abs(float(lo)), abs(float(hi))))
    return table


def round_int8(x, scale):
    return torch.clamp(torch.round(x / scale), -127, 127) * scale  # torch.round: half to even


def round_e4m3(x, scale):
    """x / scale rounded to the nearest FP8 E4M3 value (saturating at +-448), times scale."""
    v = torch.clamp(x / scale, -448.0, 448.0)
    a = v.abs()
    # The spacing of E4M3 values around a: 2^(e - 3) for a in [2^e, 2^(e+1)), e >= -6; 2^-9 below 2^-6.
    e = torch.floor(torch.log2(torch.clamp(a, min=2.0 ** -6)))
    step = torch.pow(2.0, e - 3)
    return torch.round(v / step) * step * scale


def simulate(net, table, rounding, qmax, use_max):
    """Wraps every Conv of `net` so that its input and weights are rounded with `rounding`."""
    split_source = {}
    for idx, ins, outs in net.plan:
        if isinstance(net.layers[idx], ncnn_torch._Split):
            for o in outs:
                split_source[o] = ins[0]
    originals = []
    for idx, ins, _ in net.plan:
        layer = net.layers[idx]
        if not isinstance(layer, ncnn_torch._Conv):
            continue
        blob = ins[0]
        while blob not in table and blob in split_source:
            blob = split_source[blob]
        if blob not in table:
            sys.exit(f"{blob}: not in the calibration table (made for another model?)")
        in_scale = table[blob][1 if use_max else 0] / qmax
        w = layer.weight.data
        w_scale = w.abs().amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12) / qmax
        originals.append((layer, layer.forward, w.clone()))
        layer.weight.data = rounding(w, w_scale)
        forward = layer.forward

        def wrapped(x, forward=forward, in_scale=in_scale):
            return forward(rounding(x, in_scale))

        layer.forward = wrapped
    return originals


def restore(originals):
    for layer, forward, w in originals:
        layer.forward = forward
        layer.weight.data = w


def psnr(a, b):
    a8 = torch.round(torch.clamp(a, 0, 1) * 255)
    b8 = torch.round(torch.clamp(b, 0, 1) * 255)
    mse = torch.mean((a8 - b8) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--calib", required=True)
    ap.add_argument("--crop", type=int, default=0, help="the centre N x N of each image only (0: whole)")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    net = ncnn_torch.load(args.model)
    table = read_table(args.calib)
    # The table's threshold (its calibration method, percentile by default) for INT8 and FP8, and for FP8 also the
    # largest |x| seen (E4M3's range makes clipping less useful than for INT8).
    schemes = [("int8", round_int8, 127.0, False), ("fp8-e4m3", round_e4m3, 448.0, False),
               ("fp8-e4m3/max", round_e4m3, 448.0, True)]
    sums = {s[0]: 0.0 for s in schemes}
    for path in args.images:
        x = ncnn_torch.image_to_tensor(path)
        if args.crop > 0:
            top, left = max(0, (x.shape[2] - args.crop) // 2), max(0, (x.shape[3] - args.crop) // 2)
            x = x[:, :, top:top + args.crop, left:left + args.crop].contiguous()
        with torch.inference_mode():
            ref = net(x)
            line = f"{os.path.basename(path)} {x.shape[3]}x{x.shape[2]}:"
            for name, rounding, qmax, use_max in schemes:
                originals = simulate(net, table, rounding, qmax, use_max)
                y = net(x)
                restore(originals)
                p = psnr(y, ref)
                sums[name] += p
                line += f"  {name} {p:.2f} dB"
        print(line, flush=True)
    n = len(args.images)
    print("mean:" + "".join(f"  {s[0]} {sums[s[0]] / n:.2f} dB" for s in schemes))


if __name__ == "__main__":
    main()
