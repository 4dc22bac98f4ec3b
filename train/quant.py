"""Integer hyper-synthesis (the part of the decoder that chooses probability tables) and int8
simulation of the other transforms.

IntHyperSynthesis is the specification the C decoder implements bit for bit; every quantity in
it is an integer stored in the model file (docs/decisions/0002-neural-codec.md, "Bit-exact
scale indices"):

  input    a0[c] = clamp(rshift(z_hat[c] * in_mult[l][c], in_shift[l][c]), -127, 127)
  layer k  acc[o] = bias[o] + sum_{i,dy,dx} w[o][i][dy][dx] * a[i][y+dy-1][x+dx-1]  (zeros outside)
   (k=0,1) a'[o] = clamp(rshift(acc[o] * mult[o], shift[o]), 0, 255)   (ReLU, u8)
           then depth-to-space by 2 (channel 4c + 2i + j -> channel c at (2y+i, 2x+j)) and
           crop to the size the encoder had there: ceil(h_y / 2), then h_y
  last     idx[o] = clamp(floor((acc[o] + off[l][o]) * mult[o] / 2^shift[o]), 0, 63)

where rshift(v, s) = floor((v + 2^(s-1)) / 2^s) (round half up) and all products are exact in
int64 (|acc| < 2^31, mult < 2^31). The convolution with int8 weights and u8 / s8 activations
and int32 sums is what oneDNN's u8s8s32 / s8s8s32 convolutions compute exactly.
"""

import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import models


def mult_shift(real):
    """(mult, shift) with mult in [2^30, 2^31) and mult / 2^shift ~ real > 0."""
    real = np.asarray(real, dtype=np.float64)
    if not np.all(real > 0) or not np.all(np.isfinite(real)):
        raise ValueError("requantization factors must be finite and positive")
    e = np.floor(np.log2(real)).astype(np.int64)
    shift = 30 - e
    mult = np.round(real * np.exp2(shift.astype(np.float64))).astype(np.int64)
    over = mult >= (1 << 31)  # rounding up to 2^31
    mult = np.where(over, mult // 2, mult)
    shift = np.where(over, shift - 1, shift)
    if np.any(shift < 1) or np.any(shift > 62):
        raise ValueError(f"requantization factor out of range: {real}")
    return mult.astype(np.int64), shift.astype(np.int64)


def quantize_weight(w, qmax=127):
    """int8 per output channel (axis 0), symmetric in -qmax..qmax: (q int8 numpy, scales float32
    numpy)."""
    w = w.detach().double()
    amax = w.abs().reshape(w.shape[0], -1).amax(dim=1).clamp(min=1e-12)
    scale = (amax / float(qmax))
    q = torch.clamp(torch.round(w / scale.reshape(-1, *([1] * (w.dim() - 1)))), -qmax, qmax)
    return q.to(torch.int8).numpy(), scale.float().numpy()


# The int8 layers of g_a / g_s / h_a and the integer h_s carry 7-bit weights, so that oneDNN
# runs them exactly on AVX2 without VNNI and without splitting the input
# (src/lib/nn/conv_dnnl.c): with u8 inputs VPMADDUBSW's pair sums stay within int16 when
# |q| <= 64 (255 * 64 * 2 = 32640); with s8 inputs oneDNN halves the weights, which is exact
# when they are even (q = 2 * (-63..63)).
U8_WEIGHT_QMAX, S8_WEIGHT_QMAX = 64, 63


def layer_weight_qmax(unsigned):
    return U8_WEIGHT_QMAX if unsigned else S8_WEIGHT_QMAX


def quantize_layer_weight(w, unsigned):
    """quantize_weight for an int8 layer of g_a / g_s / h_a with a u8 (unsigned) or s8 input:
    (q int8 numpy, scales float32 numpy) with q * scale the same values training simulated."""
    q, scale = quantize_weight(w, layer_weight_qmax(unsigned))
    if unsigned:
        return q, scale
    return (2 * q.astype(np.int16)).astype(np.int8), (scale / 2).astype(np.float32)


def _rshift(v, s):
    """floor((v + 2^(s-1)) / 2^s) elementwise on int64 tensors; s broadcastable int64."""
    return torch.div(v + (torch.ones_like(s) << (s - 1)), torch.ones_like(s) << s,
                     rounding_mode="floor")


def _conv_int(a, w, bias):
    """Exact integer convolution: a int64 [1, I, h, w], w int64 [O, I, k, k]; float64 sums of
    products below 2^53 are exact."""
    k = w.shape[-1]
    acc = F.conv2d(a.double(), w.double(), padding=k // 2)
    acc = acc.round().to(torch.int64)
    if bias is not None:
        acc = acc + bias.reshape(1, -1, 1, 1)
    if acc.abs().max() >= 2 ** 31:
        raise OverflowError("int32 accumulator overflow in the hyper-synthesis")
    return acc


# The range of h_s's s8 input, as a multiple of the largest |z| the calibration crops gave. The
# 8 calibration crops of nic-rt v5 reached |z| 7.6, its validation images 14.1 (512) and 15.3
# (720p); clipped there, the integer h_s cost 3.6 % more bits than the float one at every level.
# Margins of 2 to 6 all gave the float h_s's bits within 0.5 % (11 crops of 512x512): the big z
# values mark the busy areas, where a clipped scale costs most.
H_S_INPUT_MARGIN = 3.0


class IntHyperSynthesis:
    """The integer h_s of a trained model, calibrated on a list of (z_hat, level, ysize)."""

    def __init__(self, model, calib):
        self.model = model
        self.L, self.Mz, self.M = model.levels, model.Mz, model.M
        hs = copy.deepcopy(model.h_s).double()
        ihg = torch.exp(-model.log_hgain.detach().double())  # [L, Mz]
        # activation ranges, float pass over the calibration latents
        amax = [0.0, 0.0, 0.0]
        with torch.no_grad():
            for z_hat, level, ysize in calib:
                z = torch.from_numpy(z_hat).double()[None] * ihg[level][None, :, None, None]
                s = models.down_sizes(ysize[0], ysize[1], 2)
                a1 = F.relu(hs[0](z, s[1]))
                a2 = F.relu(hs[1](a1, s[0]))
                amax = [max(amax[0], z.abs().max().item()), max(amax[1], a1.max().item()),
                        max(amax[2], a2.max().item())]
        s_in = [H_S_INPUT_MARGIN * max(amax[0], 1e-3) / 127.0, max(amax[1], 1e-3) / 255.0,
                max(amax[2], 1e-3) / 255.0]
        self.act_scale = s_in
        # input requantization per level and channel
        self.in_mult, self.in_shift = mult_shift((ihg / s_in[0]).numpy())
        # layers
        self.layers = []
        convs = [hs[0].conv, hs[1].conv, hs[2]]
        for k, c in enumerate(convs):
            # 7-bit weights like the other int8 layers (s8 input to layer 0, u8 after the ReLUs):
            # oneDNN runs them without splitting the input, half the work on AVX2 without VNNI.
            wq, sw = quantize_layer_weight(c.weight, unsigned=k > 0)
            # An output channel whose weights are all zero (a channel widen.py added, before
            # training) gets the layer's typical weight scale: its integers stay 0, and its bias
            # or index offset stays within int32 instead of being divided by a scale of 1e-14.
            zero = np.all(wq.reshape(len(wq), -1) == 0, axis=1)
            if zero.any() and not zero.all():
                sw = np.where(zero, np.median(sw[~zero]), sw).astype(sw.dtype)
            acc_scale = s_in[k] * sw.astype(np.float64)  # real value of one accumulator unit
            b = c.bias.detach().double().numpy()
            if k < 2:
                bias = np.round(b / acc_scale).astype(np.int64)
                mult, shift = mult_shift(acc_scale / s_in[k + 1])
                self.layers.append(dict(weight=wq, wscale=sw, bias=bias, mult=mult, shift=shift))
            else:
                # idx = floor(u + 1/2), u = (acc * acc_scale + b + log gain - log s_min) / step
                r = acc_scale / models.SCALE_STEP
                lg = model.log_gain.detach().double().numpy()  # [L, M]
                c0 = ((b[None] + lg - math.log(models.SCALE_MIN)) / models.SCALE_STEP + 0.5)
                off = np.round(c0 / r[None]).astype(np.int64)
                if np.abs(off).max() >= 2 ** 31:
                    raise OverflowError("index offset does not fit int32")
                mult, shift = mult_shift(r)
                self.layers.append(dict(weight=wq, wscale=sw, offset=off, mult=mult,
                                        shift=shift))

    def __call__(self, z_hat, level, ysize):
        """Table indices (uint8 [M, h_y, w_y]) from z_hat (int [Mz, h_z, w_z])."""
        z = torch.from_numpy(np.asarray(z_hat, dtype=np.int64))[None]
        im = torch.from_numpy(self.in_mult[level]).reshape(1, -1, 1, 1)
        ish = torch.from_numpy(self.in_shift[level]).reshape(1, -1, 1, 1)
        a = torch.clamp(_rshift(z * im, ish), -127, 127)
        s = models.down_sizes(ysize[0], ysize[1], 2)
        for k in range(2):
            p = self.layers[k]
            acc = _conv_int(a, torch.from_numpy(p["weight"].astype(np.int64)),
                            torch.from_numpy(p["bias"]))
            m = torch.from_numpy(p["mult"]).reshape(1, -1, 1, 1)
            sh = torch.from_numpy(p["shift"]).reshape(1, -1, 1, 1)
            a = torch.clamp(_rshift(acc * m, sh), 0, 255)
            a = F.pixel_shuffle(a, 2)[:, :, :s[1 - k][0], :s[1 - k][1]]
        p = self.layers[2]
        acc = _conv_int(a, torch.from_numpy(p["weight"].astype(np.int64)), None)
        off = torch.from_numpy(p["offset"][level]).reshape(1, -1, 1, 1)
        m = torch.from_numpy(p["mult"]).reshape(1, -1, 1, 1)
        sh = torch.from_numpy(p["shift"]).reshape(1, -1, 1, 1)
        v = torch.div((acc + off) * m, torch.ones_like(sh) << sh, rounding_mode="floor")
        return torch.clamp(v, 0, models.SCALE_COUNT - 1)[0].to(torch.uint8).numpy()

    def tensors(self, prefix="h_s"):
        """The architecture lines and the tensors (name -> value for write_aicm)."""
        t, lines = {}, []
        t[f"{prefix}.in.mult"] = self.in_mult.astype(np.int32)
        t[f"{prefix}.in.shift"] = self.in_shift.astype(np.int32)
        lines.append({"name": f"{prefix}.in", "type": "requant_in", "in": self.Mz, "out": self.Mz,
                      "mult": f"{prefix}.in.mult", "shift": f"{prefix}.in.shift"})
        convs = [self.model.h_s[0].conv, self.model.h_s[1].conv, self.model.h_s[2]]
        for k, p in enumerate(self.layers):
            c = convs[k]
            n = f"{prefix}.{k}"
            t[f"{n}.weight"] = (p["weight"], p["wscale"], 0)
            t[f"{n}.mult"] = p["mult"].astype(np.int32)
            t[f"{n}.shift"] = p["shift"].astype(np.int32)
            line = {"name": n, "type": "qconv2d" if k < 2 else "qconv2d_index",
                    "in": c.in_channels, "out": c.out_channels, "kernel": c.kernel_size[0],
                    "stride": 1, "act": "relu" if k < 2 else "none", "weight": f"{n}.weight"}
            if k < 2:
                t[f"{n}.bias"] = p["bias"].astype(np.int32)
                line["bias"] = f"{n}.bias"
            else:
                t[f"{n}.offset"] = p["offset"].astype(np.int32)
                line["offset"] = f"{n}.offset"
            line.update({"mult": f"{n}.mult", "shift": f"{n}.shift"})
            lines.append(line)
            if k < 2:
                lines.append({"name": f"{n}.up", "type": "depth_to_space",
                              "in": c.out_channels, "out": c.out_channels // 4, "stride": 2})
        return lines, t


# ---- int8 simulation of g_a / g_s / h_a ----------------------------------------------------

# The input range an int8 layer is quantized over: this percentile of |x| on the calibration
# crops, not the largest value seen. A few outliers set the maximum (g_s.4 of nic-rt v2: 18.7,
# while 99.99 % of its inputs are below 3.5), and a step 5x too coarse for everything else
# cost nic-rt 1.3 dB at its top level; the clamped outliers cost far less.
CALIB_PERCENTILE = 99.999
CALIB_SAMPLE_STRIDE = 13  # every 13th value is kept for the percentile (memory)


def int8_layers(model):
    """The layers of g_a / g_s / h_a that run in int8, name -> module (an Up's Conv2d, a
    Conv2d or a GDNLite), in execution order."""
    layers = {}
    for part in ("g_a", "g_s", "h_a"):
        for i, mod in enumerate(getattr(model, part)):
            layers[f"{part}.{i}"] = mod.conv if isinstance(mod, models.Up) else mod
    return layers


class FakeQuant:
    """Simulates int8 inference of chosen layers of g_a / g_s / h_a in float: weights int8 per
    output channel, the layer's input int8 per tensor (u8 when it is never negative) with a scale
    calibrated on training crops (CALIB_PERCENTILE), or given (from_scales, set_scales).
    `enable(names)` switches layers on; `disable()` restores."""

    @classmethod
    def from_scales(cls, model, scales):
        """Without a calibration: the input ranges are `scales` (see set_scales); the layers
        it does not name stay float."""
        fq = cls.__new__(cls)
        fq.model, fq.layers, fq.mag, fq.low = model, int8_layers(model), {}, {}
        fq.hooks, fq.saved = [], {}
        fq.set_scales(scales)
        return fq

    def scales(self):
        """The input ranges in use, {layer: (magnitude, minimum)}: what a checkpoint keeps so
        that the exporter writes the scales the weights trained with (train.py qat_scales)."""
        return {n: (float(self.mag[n]), float(self.low[n])) for n in self.layers if n in self.mag}

    def set_scales(self, scales):
        """Replaces the input ranges of the layers `scales` names; call it while disabled."""
        for n, (mag, low) in scales.items():
            self.mag[n], self.low[n] = float(mag), float(low)

    def __init__(self, model, calib_images, levels):
        self.model = model
        self.layers = int8_layers(model)  # name -> module (Conv2d or GDNLite)
        self.low = {n: 0.0 for n in self.layers}  # the input's minimum: is it ever negative?
        self._samples = {n: [] for n in self.layers}
        hooks = [m.register_forward_pre_hook(self._observe(n)) for n, m in self.layers.items()]
        with torch.no_grad():
            model.eval()
            for x in calib_images:
                for level in levels:
                    model(x, torch.tensor([level]), train=False)
        for h in hooks:
            h.remove()
        self.mag = {}  # the CALIB_PERCENTILE of |input|
        for n, v in self._samples.items():
            a = torch.cat(v).numpy() if v else np.zeros(1, np.float32)
            self.mag[n] = float(np.percentile(a, CALIB_PERCENTILE))
        del self._samples
        self.hooks, self.saved = [], {}

    def _observe(self, name):
        def f(mod, inp):
            x = inp[0]
            if isinstance(mod, models.GDNLite):
                x = x.abs()
            self.low[name] = min(self.low[name], x.min().item())
            self._samples[name].append(x.detach().abs().flatten()[::CALIB_SAMPLE_STRIDE].clone())
        return f

    def input_scale(self, name):
        if name == "g_a.0":
            return 1.0 / 255.0, True  # 8-bit pixels: exact
        m = self.mag[name]
        if self.low[name] >= 0:
            return max(m, 1e-6) / 255.0, True
        return max(m, 1e-6) / 127.0, False

    def _quant_input(self, name):
        s, unsigned = self.input_scale(name)
        lo, hi = (0, 255) if unsigned else (-127, 127)

        def f(mod, inp):
            x = inp[0]
            if isinstance(mod, models.GDNLite):
                return None  # handled in the patched forward
            return (torch.clamp(torch.round(x / s), lo, hi) * s,) + tuple(inp[1:])
        return f

    def enable(self, names):
        self.disable()
        for n in names:
            m = self.layers[n]
            if isinstance(m, nn.Conv2d):
                self.saved[n] = m.weight.data.clone()
                q, sw = quantize_layer_weight(m.weight, self.input_scale(n)[1])
                m.weight.data = torch.from_numpy(q.astype(np.float32)) * torch.from_numpy(
                    sw).reshape(-1, 1, 1, 1)
                self.hooks.append(m.register_forward_pre_hook(self._quant_input(n)))
            else:  # GDN-lite: gamma int8 per row, |x| quantized as an unsigned input
                s, _ = self.input_scale(n)
                gamma = m.gamma().detach()
                q, sg = quantize_layer_weight(gamma, True)
                gq = torch.from_numpy(q.astype(np.float32)) * torch.from_numpy(sg).reshape(-1, 1)
                beta = m.beta().detach()
                self.saved[n] = m.forward

                def fwd(x, m=m, gq=gq, beta=beta, s=s):
                    ax = torch.clamp(torch.round(x.abs() / s), 0, 255) * s
                    norm = F.conv2d(ax, gq[:, :, None, None], beta)
                    return x * norm if m.inverse else x / norm
                m.forward = fwd

    def disable(self):
        for h in self.hooks:
            h.remove()
        self.hooks = []
        for n, v in self.saved.items():
            m = self.layers[n]
            if isinstance(m, nn.Conv2d):
                m.weight.data = v
            else:
                m.forward = v
        self.saved = {}


def ste_weight(w, qmax):
    """w fake-quantized per output channel to -qmax..qmax (quantize_layer_weight's values) with
    a straight-through gradient, so that training sees the weights the exporter will write."""
    amax = w.detach().abs().reshape(w.shape[0], -1).amax(dim=1).clamp(min=1e-12)
    s = (amax / float(qmax)).reshape(-1, *([1] * (w.dim() - 1)))
    return models.ste_round(w / s) * s


class TrainFakeQuant(FakeQuant):
    """FakeQuant for quantization-aware training (train.py --qat): the same integers as the
    export simulation, but rounding passes gradients straight through, weights are quantized
    from their current values at every step, and the input scales come from the same
    calibration as the exporter's (recalibrate() repeats it as the weights move)."""

    def __init__(self, model, calib_images, levels):
        self.calib_images, self.levels_seen = calib_images, list(levels)
        super().__init__(model, calib_images, levels)
        self.names = []

    def set_scales(self, scales):
        """FakeQuant.set_scales, with the enabled layers switched on again at the new scales."""
        names = self.names
        self.disable()
        super().set_scales(scales)
        self.enable(names)

    def recalibrate(self):
        names, was_training = self.names, self.model.training
        self.disable()
        fresh = FakeQuant(self.model, self.calib_images, self.levels_seen)
        self.low, self.mag = fresh.low, fresh.mag
        self.enable(names)
        self.model.train(was_training)

    def enable(self, names):
        self.disable()
        self.names = list(names)
        for n in self.names:
            m = self.layers[n]
            s, unsigned = self.input_scale(n)
            lo, hi = (0, 255) if unsigned else (-127, 127)
            if isinstance(m, nn.Conv2d):
                def fwd(x, m=m, s=s, lo=lo, hi=hi, qmax=layer_weight_qmax(unsigned)):
                    xq = torch.clamp(models.ste_round(x / s), lo, hi) * s
                    return F.conv2d(xq, ste_weight(m.weight, qmax), m.bias, m.stride, m.padding)
            else:
                def fwd(x, m=m, s=s):
                    ax = torch.clamp(models.ste_round(x.abs() / s), 0, 255) * s
                    norm = F.conv2d(ax, ste_weight(m.gamma(), U8_WEIGHT_QMAX)[:, :, None, None],
                                    m.beta())
                    return x * norm if m.inverse else x / norm
            m.forward = fwd  # an instance attribute: nn.Module.__call__ runs it
            self.saved[n] = True

    def disable(self):
        for n in self.saved:
            del self.layers[n].forward  # back to the class's forward
        self.saved = {}
        self.names = []
