#!/usr/bin/python3
"""Makes the model-format test fixtures (tests/data/fixtures/) with PyTorch itself.

Run with Debian's Python (python3-torch, python3-numpy, python3-onnx; see BENCH_PACKAGES in scripts/setup.sh):

    /usr/bin/python3 scripts/make_fixtures.py                    # tiny random models -> tests/data/fixtures/
    /usr/bin/python3 scripts/make_fixtures.py --real build/real_weights
        # the real x4plus / x4fast weights, read from models/*.param/.bin, written as .pth/.safetensors/.onnx
        # (big: not committed; tests/models/test_formats_real.cpp compares them with the ncnn files)

RRDBNet and SRVGGNetCompact are defined here the way BasicSR / Real-ESRGAN define them (same module names),
so the saved state dicts have exactly the keys of the released checkpoints. For each tiny model this writes
the weights as .pth (several wrappings: params_ema, params, top level, module. prefix; fp32 and fp16),
.safetensors (written by hand below) and .onnx (torch.onnx.export, fixed and dynamic sizes), plus one input
(input_<h>x<w>.npy, float32 CHW in [0, 1]) and PyTorch's output for it (<model>.out.npy, float32 CHW).
Everything is deterministic (fixed seeds). Files stay a few KB each.
"""
import argparse
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- architectures (mirroring basicsr/archs/rrdbnet_arch.py and realesrgan/archs/srvgg_arch.py) -------------


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat=64, num_grow_ch=32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, num_feat, num_grow_ch=32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        out = self.rdb1(x)
        out = self.rdb2(out)
        out = self.rdb3(out)
        return out * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        self.scale = scale
        if scale == 2:
            num_in_ch = num_in_ch * 4
        elif scale == 1:
            num_in_ch = num_in_ch * 16
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        if self.scale == 2:
            feat = F.pixel_unshuffle(x, 2)
        elif self.scale == 1:
            feat = F.pixel_unshuffle(x, 4)
        else:
            feat = x
        feat = self.conv_first(feat)
        body_feat = self.conv_body(self.body(feat))
        feat = feat + body_feat
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


# The original ESRGAN repository's layout of the same network, in which most community models are published:
# one flattened nn.Sequential "model" (conv, shortcut(RRDBs, conv), [upsample, conv, lrelu] x n, conv, lrelu,
# conv), and each dense-block conv in a Sequential of its own ("RDB1.conv1.0.weight").


class EsrganDenseBlock(nn.Module):
    def __init__(self, nf, gc):
        super().__init__()

        def conv(ic, oc, act):
            return nn.Sequential(nn.Conv2d(ic, oc, 3, 1, 1), *([nn.LeakyReLU(0.2, inplace=True)] if act else []))

        self.conv1 = conv(nf, gc, True)
        self.conv2 = conv(nf + gc, gc, True)
        self.conv3 = conv(nf + 2 * gc, gc, True)
        self.conv4 = conv(nf + 3 * gc, gc, True)
        self.conv5 = conv(nf + 4 * gc, nf, False)

    def forward(self, x):
        x1 = self.conv1(x)
        x2 = self.conv2(torch.cat((x, x1), 1))
        x3 = self.conv3(torch.cat((x, x1, x2), 1))
        x4 = self.conv4(torch.cat((x, x1, x2, x3), 1))
        return self.conv5(torch.cat((x, x1, x2, x3, x4), 1)) * 0.2 + x


class NamedRRDB(nn.Module):
    """Three dense blocks under the ESRGAN repository's names RDB1-RDB3, the residual scaled by 0.2."""

    def __init__(self, make_block):
        super().__init__()
        self.RDB1 = make_block()
        self.RDB2 = make_block()
        self.RDB3 = make_block()

    def forward(self, x):
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class ShortcutBlock(nn.Module):
    def __init__(self, sub):
        super().__init__()
        self.sub = sub

    def forward(self, x):
        return x + self.sub(x)


class EsrganRRDBNet(nn.Module):
    def __init__(self, nf, nb, gc, n_upsample):
        super().__init__()
        layers = [nn.Conv2d(3, nf, 3, 1, 1),
                  ShortcutBlock(nn.Sequential(*[NamedRRDB(lambda: EsrganDenseBlock(nf, gc)) for _ in range(nb)],
                                              nn.Conv2d(nf, nf, 3, 1, 1)))]
        for _ in range(n_upsample):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(nf, nf, 3, 1, 1),
                       nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Conv2d(nf, nf, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(nf, 3, 3, 1, 1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


# The ESRGAN repository's later layout of the same network (also mmsr's and BSRGAN's): conv_first,
# RRDB_trunk.N.RDBk.convj, trunk_conv, upconv1/upconv2 (sf 2: upconv1 only), HRconv, conv_last.


class TrunkRRDBNet(nn.Module):
    def __init__(self, nf, nb, gc, sf):
        super().__init__()
        self.sf = sf
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        # BasicSR's dense block has the same parameter names (conv1-conv5) as the RRDB_trunk layout's
        self.RRDB_trunk = nn.Sequential(*[NamedRRDB(lambda: ResidualDenseBlock(nf, gc)) for _ in range(nb)])
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upconv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        if sf == 4:
            self.upconv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.HRconv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        fea = self.conv_first(x)
        fea = fea + self.trunk_conv(self.RRDB_trunk(fea))
        fea = self.lrelu(self.upconv1(F.interpolate(fea, scale_factor=2, mode="nearest")))
        if self.sf == 4:
            fea = self.lrelu(self.upconv2(F.interpolate(fea, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.HRconv(fea)))


class SRVGGNetCompact(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"):
        super().__init__()
        self.upscale = upscale
        self.body = nn.ModuleList()
        self.body.append(nn.Conv2d(num_in_ch, num_feat, 3, 1, 1))
        self.body.append(self._act(act_type, num_feat))
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(self._act(act_type, num_feat))
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    @staticmethod
    def _act(act_type, num_feat):
        if act_type == "relu":
            return nn.ReLU(inplace=True)
        if act_type == "prelu":
            return nn.PReLU(num_parameters=num_feat)
        return nn.LeakyReLU(negative_slope=0.1, inplace=True)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        base = F.interpolate(x, scale_factor=self.upscale, mode="nearest")
        return out + base


# --- writers ------------------------------------------------------------------------------------------------


def save_safetensors(path, state, dtype="F32", metadata=None):
    """The safetensors layout by hand: u64 header length, JSON header, raw little-endian data."""
    np_type = {"F32": "<f4", "F16": "<f2"}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for key in sorted(state):
        t = state[key].detach().cpu()
        if dtype == "BF16":
            raw = (t.float().contiguous().numpy().view(np.uint32) >> 16).astype("<u2").tobytes()
            # round-to-zero bf16: the fixture output is computed with exactly these values
        else:
            raw = t.float().contiguous().numpy().astype(np_type[dtype]).tobytes()
        header[key] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def rezip_deflated(path):
    """Rewrites a torch.save zip with every entry deflated (exercises the zlib path of the reader)."""
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)


def round_weights(model, dtype):
    """Rounds the model's weights to what the file stores, so PyTorch's output matches what a reader sees."""
    with torch.no_grad():
        for p in model.parameters():
            if dtype == "F16":
                p.copy_(p.half().float())
            elif dtype == "BF16":
                bits = p.detach().contiguous().view(torch.int32) & ~0xFFFF
                p.copy_(bits.view(torch.float32))


def export_onnx(model, x, path, dynamic, opset=11):
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {2: "height", 3: "width"}, "output": {2: "out_height", 3: "out_width"}}
    torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"], opset_version=opset, **kwargs)


def save_npy(path, array):
    np.save(path, np.ascontiguousarray(array.astype(np.float32)))


# --- tiny fixtures ------------------------------------------------------------------------------------------


def random_model(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            elif p.dim() == 1:  # PReLU slopes
                p.copy_(torch.rand(p.shape, generator=g) * 0.3)
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / fan_in) ** 0.5)
    return model.eval()


def make_tiny(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    h, w = 8, 12  # divisible by 4: scale-1 RRDBNet pixel-unshuffles by 4
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1))
    save_npy(os.path.join(out_dir, f"input_{h}x{w}.npy"), x[0].numpy())
    manifest = []

    def emit(stem, model, dtype, pth_wrap, st_dtype, onnx_kinds, extra_pth=()):
        round_weights(model, dtype if dtype != "F32" else st_dtype)
        state = model.state_dict()
        with torch.no_grad():
            y = model(x)
        save_npy(os.path.join(out_dir, f"{stem}.out.npy"), y[0].numpy())
        files = []

        def save_pth(name, wrap, half, legacy=False):
            sd = {k: (v.half() if half else v) for k, v in state.items()}
            if wrap == "params_ema":
                obj = {"params_ema": sd}
            elif wrap == "params":
                obj = {"params": sd}
            elif wrap == "module":
                obj = {"module." + k: v for k, v in sd.items()}
            elif wrap == "lightning":  # a LightningModule holding the network as self.model
                obj = {"epoch": 3, "state_dict": {"model." + k: v for k, v in sd.items()}}
            else:
                obj = sd
            # legacy: the pre-1.6 format (pickles then raw storages) many ESRGAN-era models are published in
            torch.save(obj, os.path.join(out_dir, name), _use_new_zipfile_serialization=not legacy)
            files.append(name)

        if pth_wrap:
            save_pth(f"{stem}.pth", pth_wrap, dtype == "F16")
        for suffix, wrap, half, form in extra_pth:
            save_pth(f"{stem}.{suffix}.pth", wrap, half, legacy=form == "legacy")
            if form == "deflate":
                rezip_deflated(os.path.join(out_dir, f"{stem}.{suffix}.pth"))
        if st_dtype:
            save_safetensors(os.path.join(out_dir, f"{stem}.safetensors"), state, st_dtype)
            files.append(f"{stem}.safetensors")
        for kind in onnx_kinds:
            name = f"{stem}.onnx" if kind == "fixed" else f"{stem}.{kind}.onnx"
            if kind == "fp16":
                export_onnx(model, x, os.path.join(out_dir, name), dynamic=False)
                to_fp16_initializers(os.path.join(out_dir, name))
            else:
                export_onnx(model, x, os.path.join(out_dir, name), dynamic=(kind == "dynamic"))
            files.append(name)
        manifest.append({"stem": stem, "files": files})

    for scale, dtype, wrap, st, onnx_kinds in [
        (4, "F32", "params_ema", "F32", ["fixed", "dynamic"]),
        (2, "F16", "params", "F16", ["fixed"]),
        (1, "F32", "module", "BF16", ["fixed"]),
    ]:
        m = random_model(RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4), seed=10 + scale)
        emit(f"rrdb_x{scale}", m, dtype, wrap, st, onnx_kinds)
    # The ESRGAN layout as community models ship it: a bare state dict; x4 also as safetensors.
    for n_upsample in (0, 1, 2, 3):
        scale = 2 ** n_upsample
        m = random_model(EsrganRRDBNet(nf=8, nb=2, gc=4, n_upsample=n_upsample), seed=40 + scale)
        emit(f"esrgan_x{scale}", m, "F32", "top", "F32" if scale == 4 else None, [],
             [("legacy", "top", False, "legacy")] if scale == 4 else ())
    # The RRDB_trunk layout (BSRGAN), x4 and x2, bare state dicts; x4 also in a Lightning checkpoint.
    for sf in (2, 4):
        m = random_model(TrunkRRDBNet(nf=8, nb=2, gc=4, sf=sf), seed=60 + sf)
        emit(f"trunk_x{sf}", m, "F32", "top", None, [], [("lightning", "lightning", False, None)] if sf == 4 else ())
    for scale, act, onnx_kinds, extra in [
        (4, "prelu", ["fixed", "dynamic", "fp16"],
         [("params", "params", False, None), ("top", "", False, None), ("module", "module", False, None),
          ("deflate", "params_ema", False, "deflate"), ("fp16", "params_ema", True, None),
          ("legacy", "params_ema", False, "legacy"), ("legacy_fp16", "params_ema", True, "legacy")]),
        (2, "relu", ["fixed"], []),
        (1, "leakyrelu", ["fixed"], []),
    ]:
        m = random_model(SRVGGNetCompact(num_feat=8, num_conv=2, upscale=scale, act_type=act), seed=20 + scale)
        if act == "prelu":
            # The fp16 variants need the fp32 model's weights to be exact in fp16 for one shared output.
            round_weights(m, "F16")
        emit(f"srvgg_x{scale}_{act}", m, "F32", "params_ema", "F32", onnx_kinds, extra)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(out_dir, n)) for n in os.listdir(out_dir))
    print(f"fixtures: {len(os.listdir(out_dir))} files, {total} bytes in {out_dir}")


def to_fp16_initializers(path):
    """Stores the ONNX file's float initializers as float16 (the Cast back to float32 is inserted per use)."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    model = onnx.load(path)
    graph = model.graph
    new_inits, casts = [], []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and len(init.dims) > 0:
            arr = numpy_helper.to_array(init).astype(np.float16)
            new_inits.append(numpy_helper.from_array(arr, init.name + "_fp16"))
            casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], to=TensorProto.FLOAT))
        else:
            new_inits.append(init)
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.save(model, path)


# --- real weights from the ncnn files -----------------------------------------------------------------------


def read_ncnn_weights(param_path, bin_path):
    """Yields ('conv', weight[oc,ic,k,k], bias[oc]) and ('prelu', slopes) in file order."""
    data = open(bin_path, "rb").read()
    pos = 0
    out = []
    for line in open(param_path).read().splitlines()[2:]:
        tok = line.split()
        if not tok:
            continue
        kind = tok[0]
        nb, nt = int(tok[2]), int(tok[3])
        params = dict(p.split("=", 1) for p in tok[4 + nb + nt:])
        if kind == "Convolution":
            oc, k, size = int(params["0"]), int(params["1"]), int(params["6"])
            tag = struct.unpack_from("<I", data, pos)[0]
            pos += 4
            if tag == 0x01306B47:
                w = np.frombuffer(data, np.float16, size, pos).astype(np.float32)
                pos += (size * 2 + 3) // 4 * 4
            else:
                w = np.frombuffer(data, np.float32, size, pos).copy()
                pos += size * 4
            bias = np.frombuffer(data, np.float32, oc, pos).copy()
            pos += oc * 4
            out.append(("conv", w.reshape(oc, size // (oc * k * k), k, k), bias))
        elif kind == "PReLU":
            n = int(params.get("0", "1"))
            out.append(("prelu", np.frombuffer(data, np.float32, n, pos).copy()))
            pos += n * 4
    assert pos == len(data), (pos, len(data))
    return out


def load_from_ncnn(model, layers):
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    prelus = [m for m in model.modules() if isinstance(m, nn.PReLU)]
    ncnn_convs = [l for l in layers if l[0] == "conv"]
    ncnn_prelus = [l for l in layers if l[0] == "prelu"]
    assert len(convs) == len(ncnn_convs) and len(prelus) == len(ncnn_prelus)
    with torch.no_grad():
        for m, (_, w, b) in zip(convs, ncnn_convs):
            m.weight.copy_(torch.from_numpy(w))
            m.bias.copy_(torch.from_numpy(b))
        for m, (_, s) in zip(prelus, ncnn_prelus):
            m.weight.copy_(torch.from_numpy(s))
    return model.eval()


def make_real(out_dir, models_dir):
    os.makedirs(out_dir, exist_ok=True)
    specs = [
        ("realesrgan-x4plus", lambda: RRDBNet(num_feat=64, num_block=23, num_grow_ch=32, scale=4)),
        ("realesrgan-x4fast", lambda: SRVGGNetCompact(num_feat=64, num_conv=32, upscale=4, act_type="prelu")),
    ]
    for name, make in specs:
        param = os.path.join(models_dir, name + ".param")
        if not os.path.exists(param):
            print(f"real: {param} missing (run scripts/setup.sh)", file=sys.stderr)
            continue
        model = load_from_ncnn(make(), read_ncnn_weights(param, os.path.join(models_dir, name + ".bin")))
        state = model.state_dict()
        torch.save({"params_ema": state}, os.path.join(out_dir, name + ".pth"))
        save_safetensors(os.path.join(out_dir, name + ".safetensors"), state)
        x = torch.rand(1, 3, 16, 16)
        export_onnx(model, x, os.path.join(out_dir, name + ".onnx"), dynamic=True)
        print(f"real: wrote {name}.pth/.safetensors/.onnx to {out_dir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "fixtures"))
    ap.add_argument("--real", metavar="DIR", help="write the real x4plus/x4fast weights to DIR instead")
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    if args.real:
        make_real(args.real, args.models)
    else:
        make_tiny(args.out)


if __name__ == "__main__":
    main()
