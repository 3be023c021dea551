#!/usr/bin/env python3
"""Run an ncnn .param/.bin model with PyTorch, as a plain graph interpreter.

Used as the PyTorch baseline for benchmarks and as an independent reference implementation.
Only the layer types the two Real-ESRGAN models use are supported:
Input, Split, Convolution (with fused ReLU/LeakyReLU), PReLU, Eltwise (prod/sum/max with
coefficients), BinaryOp (add/sub/mul/div), Interp (nearest, integer scale), PixelShuffle, Concat.
fp16 weights are widened to float32; input is NCHW float32 RGB in [0,1].

    import ncnn_torch
    net = ncnn_torch.load("models/realesrgan-x4fast.param")   # .bin next to it
    with torch.inference_mode():
        y = net(x)            # x: (N,3,H,W) float32

Command line: `python3 bench/ncnn_torch.py --check [--models DIR] [--golden DIR]` compares the
models against the golden .npy outputs and prints the max abs error.
"""

import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NCNN_MAGIC = 7767517
TAG_FP16 = 0x01306B47


# --------------------------------------------------------------------------------------------
# .param parsing


def _parse_value(text):
    """One ncnn param value: int or float (floats contain '.', 'e' or 'E')."""
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _parse_params(tokens):
    """k=v tokens -> dict id -> scalar or list. Array params are written -233NN=count,v1,v2..."""
    params = {}
    for tok in tokens:
        key, _, val = tok.partition("=")
        k = int(key)
        if k <= -23300:
            items = val.split(",")
            count = int(items[0])
            values = [_parse_value(v) for v in items[1:]]
            if len(values) != count:
                raise ValueError(f"array param {tok!r}: count {count} but {len(values)} values")
            params[-k - 23300] = values
        else:
            params[k] = _parse_value(val)
    return params


def parse_param(path):
    """Returns a list of (type, name, inputs, outputs, params)."""
    with open(path, "r") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    if int(lines[0]) != NCNN_MAGIC:
        raise ValueError(f"{path}: bad magic {lines[0]!r}")
    layer_count, _blob_count = (int(v) for v in lines[1].split())
    layers = []
    for ln in lines[2:2 + layer_count]:
        t = ln.split()
        ltype, name, n_in, n_out = t[0], t[1], int(t[2]), int(t[3])
        ins = t[4:4 + n_in]
        outs = t[4 + n_in:4 + n_in + n_out]
        params = _parse_params(t[4 + n_in + n_out:])
        layers.append((ltype, name, ins, outs, params))
    if len(layers) != layer_count:
        raise ValueError(f"{path}: {len(layers)} layers, header says {layer_count}")
    return layers


# --------------------------------------------------------------------------------------------
# .bin reading


class _BinReader:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("weight file too short")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def raw_f32(self, count):
        """Untagged float32 array (ncnn ModelBin type 1: biases, slopes)."""
        return np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)

    def tagged(self, count):
        """Tagged array (ncnn ModelBin type 0: conv weights). fp16 is widened to float32."""
        (tag,) = struct.unpack("<I", self._take(4))
        if tag == TAG_FP16:
            nbytes = 2 * count
            arr = np.frombuffer(self._take(nbytes), dtype="<f2").astype(np.float32)
            self._take((4 - nbytes % 4) % 4)  # alignment padding
            return arr
        if tag == 0:
            return self.raw_f32(count)
        raise ValueError(f"unsupported weight tag 0x{tag:08X} at offset {self.pos - 4}")


# --------------------------------------------------------------------------------------------
# layers (each forward takes the input tensors and returns a list of output tensors)


class _Input(nn.Module):
    pass


class _Split(nn.Module):
    def __init__(self, n_out):
        super().__init__()
        self.n_out = n_out

    def forward(self, x):
        # ncnn Split is a fan-out of references; tensors are never modified in place here.
        return [x] * self.n_out


class _Conv(nn.Module):
    def __init__(self, p, rd):
        super().__init__()
        num_output = p[0]
        kw = p.get(1, 0)
        kh = p.get(11, kw)
        dw = p.get(2, 1)
        dh = p.get(12, dw)
        sw = p.get(3, 1)
        sh = p.get(13, sw)
        pl = p.get(4, 0)
        pr = p.get(15, pl)
        pt = p.get(14, pl)
        pb = p.get(16, pt)
        if min(pl, pr, pt, pb) < 0:
            raise ValueError("Convolution: SAME-style negative padding not supported")
        if p.get(8, 0) != 0:
            raise ValueError("Convolution: int8 not supported")
        wsize = p[6]
        cin = wsize // (num_output * kh * kw)
        if cin * num_output * kh * kw != wsize:
            raise ValueError("Convolution: weight_data_size mismatch")
        w = rd.tagged(wsize).reshape(num_output, cin, kh, kw)
        self.weight = nn.Parameter(torch.from_numpy(w.copy()), requires_grad=False)
        if p.get(5, 0):
            self.bias = nn.Parameter(torch.from_numpy(rd.raw_f32(num_output).copy()),
                                     requires_grad=False)
        else:
            self.bias = None
        self.stride = (sh, sw)
        self.dilation = (dh, dw)
        if pl == pr and pt == pb:
            self.pad = None
            self.conv_pad = (pt, pl)
        else:
            self.pad = (pl, pr, pt, pb)
            self.conv_pad = (0, 0)
        self.act = p.get(9, 0)
        act_p = p.get(10, [])
        if self.act == 0:
            pass
        elif self.act == 1:
            pass
        elif self.act == 2:
            self.slope = float(act_p[0]) if act_p else 0.0
        else:
            raise ValueError(f"Convolution: activation {self.act} not supported")

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.conv_pad, self.dilation)
        if self.act == 1:
            y = F.relu(y)
        elif self.act == 2:
            y = F.leaky_relu(y, self.slope)
        return [y]


class _PReLU(nn.Module):
    def __init__(self, p, rd):
        super().__init__()
        n = p.get(0, 0)
        self.weight = nn.Parameter(torch.from_numpy(rd.raw_f32(n).copy()), requires_grad=False)

    def forward(self, x):
        return [F.prelu(x, self.weight)]


class _Eltwise(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.op = p.get(0, 1)
        self.coeffs = [float(c) for c in p.get(1, [])]
        if self.op not in (0, 1, 2):
            raise ValueError(f"Eltwise: op {self.op} not supported")

    def forward(self, *xs):
        if self.op == 0:
            y = xs[0]
            for x in xs[1:]:
                y = y * x
        elif self.op == 2:
            y = xs[0]
            for x in xs[1:]:
                y = torch.maximum(y, x)
        else:
            c = self.coeffs or [1.0] * len(xs)
            y = xs[0] if c[0] == 1.0 else xs[0] * c[0]
            for x, ci in zip(xs[1:], c[1:]):
                y = y + x if ci == 1.0 else torch.add(y, x, alpha=ci)
        return [y]


class _BinaryOp(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.op = p.get(0, 0)
        self.with_scalar = p.get(1, 0)
        self.b = float(p.get(2, 0.0))
        if self.op not in (0, 1, 2, 3):
            raise ValueError(f"BinaryOp: op {self.op} not supported")

    def forward(self, a, b=None):
        if self.with_scalar:
            b = self.b
        if self.op == 0:
            y = a + b
        elif self.op == 1:
            y = a - b
        elif self.op == 2:
            y = a * b
        else:
            y = a / b
        return [y]


class _Interp(nn.Module):
    def __init__(self, p):
        super().__init__()
        if p.get(0, 0) != 1:
            raise ValueError("Interp: only nearest (0=1) supported")
        self.sh = float(p.get(1, 1.0))
        self.sw = float(p.get(2, 1.0))
        self.out_h = p.get(3, 0)
        self.out_w = p.get(4, 0)

    def forward(self, x):
        h, w = x.shape[-2:]
        oh = self.out_h or int(h * self.sh)
        ow = self.out_w or int(w * self.sw)
        if oh % h == 0 and ow % w == 0:
            # integer factor: plain replication (matches ncnn's floor(dst * in/out) index)
            return [x.repeat_interleave(oh // h, dim=2).repeat_interleave(ow // w, dim=3)]
        return [F.interpolate(x, size=(oh, ow), mode="nearest")]


class _PixelShuffle(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.r = p.get(0, 1)
        if p.get(1, 0) != 0:
            raise ValueError("PixelShuffle: only mode 0 (PyTorch ordering) supported")

    def forward(self, x):
        return [F.pixel_shuffle(x, self.r)]


class _Concat(nn.Module):
    def __init__(self, p):
        super().__init__()
        axis = p.get(0, 0)
        if axis < 0:
            axis += 3
        self.dim = axis + 1  # ncnn axes are CHW; tensors here carry a batch dim

    def forward(self, *xs):
        return [torch.cat(xs, dim=self.dim)]


# --------------------------------------------------------------------------------------------
# the network


class NcnnNet(nn.Module):
    def __init__(self, param_path, bin_path=None):
        super().__init__()
        if bin_path is None:
            bin_path = os.path.splitext(param_path)[0] + ".bin"
        graph = parse_param(param_path)
        rd = _BinReader(bin_path)
        mods = []
        self.plan = []  # (module index, inputs, outputs)
        self.input_blobs = []
        counts = {}
        for ltype, name, ins, outs, p in graph:
            if ltype == "Input":
                self.input_blobs.extend(outs)
                continue
            if ltype == "Split":
                m = _Split(len(outs))
            elif ltype == "Convolution":
                m = _Conv(p, rd)
            elif ltype == "PReLU":
                m = _PReLU(p, rd)
            elif ltype == "Eltwise":
                m = _Eltwise(p)
            elif ltype == "BinaryOp":
                m = _BinaryOp(p)
            elif ltype == "Interp":
                m = _Interp(p)
            elif ltype == "PixelShuffle":
                m = _PixelShuffle(p)
            elif ltype == "Concat":
                m = _Concat(p)
            else:
                raise ValueError(f"{param_path}: layer type {ltype} ({name}) not supported")
            self.plan.append((len(mods), ins, outs))
            mods.append(m)
            for b in ins:
                counts[b] = counts.get(b, 0) + 1
        if rd.pos != len(rd.data):
            raise ValueError(f"{bin_path}: {len(rd.data) - rd.pos} bytes left over")
        self.layers = nn.ModuleList(mods)
        produced = set(self.input_blobs)
        for _, _, outs in self.plan:
            produced.update(outs)
        # outputs = blobs nobody consumes
        self.output_blobs = [b for _, _, outs in self.plan for b in outs if b not in counts]
        self.use_counts = counts
        if len(self.input_blobs) != 1 or len(self.output_blobs) != 1:
            raise ValueError(f"expected one input and one output, got {self.input_blobs} -> "
                             f"{self.output_blobs}")

    def forward(self, x):
        blobs = {self.input_blobs[0]: x}
        left = dict(self.use_counts)
        for idx, ins, outs in self.plan:
            args = [blobs[b] for b in ins]
            for b in ins:  # drop references as soon as the last consumer has run
                left[b] -= 1
                if left[b] == 0:
                    del blobs[b]
            ys = self.layers[idx](*args)
            for b, y in zip(outs, ys):
                blobs[b] = y
        return blobs[self.output_blobs[0]]


def load(param_path, bin_path=None):
    net = NcnnNet(param_path, bin_path)
    net.eval()
    return net


# --------------------------------------------------------------------------------------------
# tiny PNG reader (8-bit gray/RGB/RGBA, non-interlaced), so no PIL is needed


def read_png(path):
    """Returns uint8 array (H, W, C)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos = 8
    idat = []
    width = height = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            width, height, depth, color, _comp, _filt, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or interlace != 0 or color not in (0, 2, 4, 6):
                raise ValueError(f"{path}: unsupported PNG (depth {depth}, color {color}, "
                                 f"interlace {interlace})")
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    bpp = channels
    stride = width * bpp
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride,
                             offset=y * (stride + 1) + 1).astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 1:
            cur = line.copy()
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
        elif ftype == 2:
            cur = (line + prev) & 255
        elif ftype == 3:
            cur = line.copy()
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:
            cur = line.copy()
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                cur[i] = (cur[i] + pred) & 255
        else:
            raise ValueError(f"{path}: bad filter type {ftype}")
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)


def image_to_tensor(path):
    """PNG -> (1,3,H,W) float32 RGB in [0,1]."""
    img = read_png(path)
    if img.shape[2] in (1, 2):
        img = np.repeat(img[:, :, :1], 3, axis=2)
    img = img[:, :, :3].astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


# --------------------------------------------------------------------------------------------


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def check_golden(models_dir, golden_dir):
    cases = [("x4fast", "x4fast_37x29"), ("x4plus", "x4plus_23x19")]
    ok = True
    for model, stem in cases:
        param = os.path.join(models_dir, f"realesrgan-{model}.param")
        net = load(param)
        x = image_to_tensor(os.path.join(golden_dir, stem + ".in.png"))
        with torch.inference_mode():
            y = net(x)[0].numpy()
        ref = np.load(os.path.join(golden_dir, stem + ".out.npy"))
        if y.shape != ref.shape:
            print(f"{model} {stem}: shape {y.shape} != golden {ref.shape}")
            ok = False
            continue
        err = float(np.abs(y - ref).max())
        mean = float(np.abs(y - ref).mean())
        good = err < 1e-3
        ok = ok and good
        print(f"{model} {stem}: out {tuple(y.shape)} max abs err {err:.3e} "
              f"mean abs err {mean:.3e} {'OK' if good else 'FAIL'}")
    return ok


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare against the golden outputs")
    ap.add_argument("--models", default=os.environ.get("RESR_MODELS",
                                                       os.path.join(_repo_root(), "models")))
    ap.add_argument("--golden", default=os.path.join(os.path.dirname(_repo_root()),
                                                     "shared", "golden"))
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.check:
        ap.print_help()
        return 0
    return 0 if check_golden(args.models, args.golden) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
