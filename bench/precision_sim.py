#!/usr/bin/env python3
"""Simulated INT8 and FP8 (E4M3) quality of a model, against its FP32 output: a measurement to choose the
reduced precision for a device before building it.

Every convolution's input is rounded per tensor (scale from a resr calibration table: threshold / 127 for INT8,
threshold / 448 or largest |x| / 448 for FP8 E4M3) and its weights per output channel (max |w| / 127 or / 448),
then the convolution runs in fp32, as the fake-quantized model of the quantization literature. INT8 here is
resr's symmetric scheme (round half to even, clamp to +-127), and as in resr the convs of one dense block share
one input scale (the largest of theirs), so its figure can be checked against `resr eval` of an INT8 .resr.

    bench/precision_sim.py --model models/realesrgan-x4plus.param --calib x4plus.calib [--crop N] \
        [--per-channel data/quant/calib] IMAGE.png ...

--per-channel DIR adds INT8 with per-channel input scales (resr convert's default since 2026-11-30; there the
maxima come from the calibration table, docs/quantization.md).
Each conv's input channel c is divided by s_c = max|x_c| / threshold (at least 1/64; max|x_c| over 22 seeded
tiles of 64 from DIR's PNGs) and the weights reading it multiplied by s_c, so every channel fills the INT8 range.

Prints, per image and as the mean, the PSNR of each precision against FP32 (RGB, 8-bit output rounding).
Needs Debian's python3-torch (RESR_SETUP_BENCH=1 bash scripts/setup.sh); PNG inputs (8-bit).
"""

import argparse
import glob
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncnn_torch  # noqa: E402


def read_table(path):
    """name -> (threshold, largest |x| seen[, largest |x| of each channel]): v1 lines have 4 fields, v2 lines
    `name threshold min max n m_0 .. m_{n-1}` (the per-channel maxima, a third item when n > 0)."""
    table = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.split()
            name, threshold, lo, hi = fields[:4]
            entry = (float(threshold), max(abs(float(lo)), abs(float(hi))))
            if len(fields) > 4:
                n = int(fields[4])
                if len(fields) != 5 + n:
                    sys.exit(f"{path}: tensor {name}: {n} channel maxima announced, {len(fields) - 5} given")
                if n:
                    entry += ([float(m) for m in fields[5:]],)
            table[name] = entry
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


def conv_inputs(net, table):
    """(module index, table name of its input, concat root of its input) of every Conv: a split's outputs are its
    input; a concat's root is its first input's (as resr's ir::Graph::concat_root)."""
    source, root = {}, {}
    for idx, ins, outs in net.plan:
        layer = net.layers[idx]
        for o in outs:
            if isinstance(layer, ncnn_torch._Split):
                source[o] = ins[0]
            if isinstance(layer, (ncnn_torch._Split, ncnn_torch._Concat)):
                root[o] = ins[0]

    def follow(blob, links, stop):
        while not stop(blob) and blob in links:
            blob = links[blob]
        return blob

    convs = []
    for idx, ins, _ in net.plan:
        if isinstance(net.layers[idx], ncnn_torch._Conv):
            name = follow(ins[0], source, lambda b: b in table)
            if name not in table:
                sys.exit(f"{name}: not in the calibration table (made for another model?)")
            convs.append((idx, name, follow(ins[0], root, lambda b: False)))
    return convs


def simulate(net, table, rounding, qmax, use_max, channel_max=None):
    """Wraps every Conv of `net` so that its input and weights are rounded with `rounding`, the convs of one concat
    root (a dense block) with one input scale: the largest of their thresholds (or largest |x|). With channel_max
    (module index -> max |x| per input channel), each input channel is scaled to fill the range first (the module
    docstring)."""
    convs = conv_inputs(net, table)
    shared = {}  # concat root -> the largest threshold (or largest |x|) of the convs reading it
    for _, name, root in convs:
        shared[root] = max(shared.get(root, 0.0), table[name][1 if use_max else 0])
    originals = []
    for idx, name, root in convs:
        layer = net.layers[idx]
        limit = shared[root]
        in_scale = limit / qmax
        w = layer.weight.data
        originals.append((layer, layer.forward, w.clone()))
        s = None
        if channel_max is not None:
            s = (channel_max[idx] / limit).clamp(min=1.0 / 64)
            w = w * s[None, :, None, None]
        w_scale = w.abs().amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12) / qmax
        layer.weight.data = rounding(w, w_scale)
        forward = layer.forward

        def wrapped(x, forward=forward, in_scale=in_scale, s=s):
            return forward(rounding(x if s is None else x / s[None, :, None, None], in_scale))

        layer.forward = wrapped
    return originals


def channel_maxima(net, table, folder, tiles=22, tile=64):
    """Module index -> max |x| per input channel of every Conv, over `tiles` seeded tiles of the folder's PNGs."""
    maxima, originals = {}, []
    for idx, _, _ in conv_inputs(net, table):
        layer = net.layers[idx]
        originals.append((layer, layer.forward))

        def observed(x, forward=layer.forward, idx=idx):
            m = x.abs().amax(dim=(0, 2, 3))
            maxima[idx] = torch.maximum(maxima[idx], m) if idx in maxima else m
            return forward(x)

        layer.forward = observed
    paths = sorted(glob.glob(os.path.join(folder, "*.png")))
    if not paths:
        sys.exit(f"{folder}: no PNG images")
    g = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for k in range(tiles):
            x = ncnn_torch.image_to_tensor(paths[k % len(paths)])
            top = int(torch.randint(0, max(1, x.shape[2] - tile), (1,), generator=g))
            left = int(torch.randint(0, max(1, x.shape[3] - tile), (1,), generator=g))
            net(x[:, :, top:top + tile, left:left + tile].contiguous())
    for layer, forward in originals:
        layer.forward = forward
    return maxima


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
    ap.add_argument("--per-channel", metavar="DIR", help="also INT8 with per-channel input scales, measured on DIR")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    net = ncnn_torch.load(args.model)
    table = read_table(args.calib)
    # The table's threshold (its calibration method, percentile by default) for INT8 and FP8, and for FP8 also the
    # largest |x| seen (E4M3's range makes clipping less useful than for INT8).
    schemes = [("int8", round_int8, 127.0, False, None), ("fp8-e4m3", round_e4m3, 448.0, False, None),
               ("fp8-e4m3/max", round_e4m3, 448.0, True, None)]
    if args.per_channel:
        schemes.append(("int8/per-channel", round_int8, 127.0, False, channel_maxima(net, table, args.per_channel)))
    sums = {s[0]: 0.0 for s in schemes}
    for path in args.images:
        x = ncnn_torch.image_to_tensor(path)
        if args.crop > 0:
            top, left = max(0, (x.shape[2] - args.crop) // 2), max(0, (x.shape[3] - args.crop) // 2)
            x = x[:, :, top:top + args.crop, left:left + args.crop].contiguous()
        with torch.inference_mode():
            ref = net(x)
            line = f"{os.path.basename(path)} {x.shape[3]}x{x.shape[2]}:"
            for name, rounding, qmax, use_max, maxima in schemes:
                originals = simulate(net, table, rounding, qmax, use_max, maxima)
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
