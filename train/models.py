#!/usr/bin/env python3
"""The learned image codecs nic-rt and nic-hq (docs/decisions/0002-neural-codec.md).

Both families share one structure, a scale hyperprior (Balle et al. 2018) with gain vectors
(Cui et al. 2021) for the quality levels, and differ in size:

    y  = g_a(x)                      analysis: 4 stride-2 convs, GDN-lite between them
    yg = y * gain[l]                 per level and channel; y_hat = round(yg) is coded
    z  = h_a(|y|); zg = z * hgain[l] hyper-analysis; z_hat = round(zg) is coded under
                                     per-level factorized densities (integer tables)
    v  = h_s(z_hat / hgain[l])       hyper-synthesis: natural log of the scale of y
    idx = round((v + log gain[l] - log s_min) / step)   in 0..63: the Gaussian table of y_hat
    x_hat = g_s(y_hat * igain[l])    synthesis: conv3x3 + depth-to-space, IGDN-lite between

Decoders run h_s in integer arithmetic (export.py defines it), so both sides pick the same
table for every symbol. Training: additive uniform noise for the rates, straight-through
rounding for what the synthesis transforms see ("mixed" quantization, Minnen & Singh 2020).

    python3 train/models.py     # parameters and kMAC/pixel of both families at 640x360
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Lambdas of the RD loss lambda * 255^2 * MSE + bpp (the published MSE ladder).
LAMBDAS = [0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800]

FAMILIES = {
    # real time: 640x360 encode + decode at 30 fps on 2 cores in int8. Channels grow as the
    # resolution falls (a pyramid), since a channel at 1/4 resolution costs 16x one at 1/16.
    "nic-rt": dict(Na=(48, 64, 64), M=96, Ns=(64, 48, 24), Nh=64, Mz=32, ka=(5, 3, 3, 3), ks=3,
                   kh=3, lambdas=LAMBDAS[:6], model_id=1, batch=16),
    # stills and screen content: Balle 2018's sizes (N=128, M=192), 5x5 analysis
    "nic-hq": dict(Na=(128, 128, 128), M=192, Ns=(128, 128, 128), Nh=128, Mz=128,
                   ka=(5, 5, 5, 5), ks=3, kh=5, lambdas=LAMBDAS, model_id=2, batch=8),
}

# The Gaussian scale table: 64 log-spaced scales (CompressAI's range), tables to tail 1e-6.
SCALE_MIN, SCALE_MAX, SCALE_COUNT = 0.11, 256.0, 64
SCALE_STEP = math.log(SCALE_MAX / SCALE_MIN) / (SCALE_COUNT - 1)
GAUSS_TAIL = 1e-6
Z_TAIL = 1e-6  # factorized tables of z: mass left to the escape
LIKELIHOOD_BOUND = 1e-9


# ---- small ops -------------------------------------------------------------------------------

class _Bound(torch.autograd.Function):
    """clamp(x, lo, hi) whose gradient still flows when it pushes x back inside (CompressAI's
    LowerBound, on both sides), so a unit stuck at a bound can recover."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        ok = ((x >= ctx.lo) | (g < 0)) & ((x <= ctx.hi) | (g > 0))
        return g * ok.to(g.dtype), None, None


def bound(x, lo, hi):
    return _Bound.apply(x, lo, hi)


def ste_round(x):
    return x + (torch.round(x) - x).detach()


class NonNegative(nn.Module):
    """A parameter kept >= minimum through the square reparametrisation GDN uses."""

    PEDESTAL = 2.0 ** -36

    def __init__(self, init, minimum=0.0):
        super().__init__()
        self.bound = math.sqrt(minimum + self.PEDESTAL)
        self.p = nn.Parameter(torch.sqrt(torch.clamp(init + self.PEDESTAL, min=self.PEDESTAL)))

    def forward(self):
        return bound(self.p, self.bound, float("inf")) ** 2 - self.PEDESTAL


class GDNLite(nn.Module):
    """Simplified GDN (Johnston et al. 2019): y_i = x_i / (beta_i + sum_j gamma_ij |x_j|), no
    square and no square root; inverse: y_i = x_i * (beta_i + sum_j gamma_ij |x_j|), which is
    multiply-only and so runs exactly in integer arithmetic in a decoder."""

    def __init__(self, ch, inverse=False):
        super().__init__()
        self.inverse = inverse
        self.beta = NonNegative(torch.ones(ch), minimum=1e-6)
        self.gamma = NonNegative(0.1 * torch.eye(ch))

    def forward(self, x):
        norm = F.conv2d(x.abs(), self.gamma()[:, :, None, None], self.beta())
        return x * norm if self.inverse else x / norm


def conv(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class Up(nn.Module):
    """conv k x k to 4 * cout channels, depth-to-space by 2 (PyTorch's PixelShuffle: output
    channel c at (2y+i, 2x+j) is input channel 4c + 2i + j), crop to the size asked for."""

    def __init__(self, cin, cout, k=3):
        super().__init__()
        self.conv = conv(cin, 4 * cout, k)

    def forward(self, x, size):
        x = F.pixel_shuffle(self.conv(x), 2)
        return x[:, :, :size[0], :size[1]]


def down_sizes(h, w, n):
    """Sizes after each of n stride-2 convs with padding k // 2: ceil(h / 2) each time."""
    sizes = [(h, w)]
    for _ in range(n):
        h, w = (h + 1) // 2, (w + 1) // 2
        sizes.append((h, w))
    return sizes


# ---- entropy models --------------------------------------------------------------------------

class FactorizedDensity(nn.Module):
    """Balle's univariate non-parametric density (the "entropy bottleneck"), one per channel and
    per quality level: cumulative(x) = sigmoid(f(x)) with f a monotone 1-3-3-3-1 network."""

    def __init__(self, channels, levels, filters=(3, 3, 3), init_scale=10.0):
        super().__init__()
        self.channels, self.levels = channels, levels
        dims = (1,) + tuple(filters) + (1,)
        scale = init_scale ** (1.0 / (len(dims) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(dims) - 1):
            init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(
                torch.full((levels, channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(
                torch.rand(levels, channels, dims[i + 1], 1) - 0.5))
            if i < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(levels, channels, dims[i + 1], 1)))

    def logits_cumulative(self, x, level):
        """x: [B, C, P]; level: [B] long. Returns logits of P(X <= x), [B, C, P]."""
        logits = x.unsqueeze(2)  # [B, C, 1, P]
        for i, (m, b) in enumerate(zip(self.matrices, self.biases)):
            logits = torch.matmul(F.softplus(m[level]), logits) + b[level]
            if i < len(self.factors):
                logits = logits + torch.tanh(self.factors[i][level]) * torch.tanh(logits)
        return logits.squeeze(2)

    def likelihood(self, x, level):
        shape = x.shape
        v = x.reshape(shape[0], shape[1], -1)
        lower = self.logits_cumulative(v - 0.5, level)
        upper = self.logits_cumulative(v + 0.5, level)
        sign = -torch.sign(lower + upper).detach()
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return bound(lik, LIKELIHOOD_BOUND, 1.0).reshape(shape)

    @torch.no_grad()
    def cumulative_grid(self, level, lo, hi):
        """P(X < v - 1/2) for v = lo .. hi + 1 of every channel at one level, float64: the input
        of the integer tables. [C, hi - lo + 2]."""
        v = torch.arange(lo, hi + 2, dtype=torch.float64) - 0.5
        x = v.expand(1, self.channels, -1)
        lv = torch.tensor([level])
        logits = x.unsqueeze(2)
        for i, (m, b) in enumerate(zip(self.matrices, self.biases)):
            logits = torch.matmul(F.softplus(m[lv].double()), logits) + b[lv].double()
            if i < len(self.factors):
                logits = logits + torch.tanh(self.factors[i][lv].double()) * torch.tanh(logits)
        return torch.sigmoid(logits.squeeze(2))[0]


def gaussian_likelihood(y, scale):
    """P(y - 1/2 < Y < y + 1/2) for Y ~ N(0, scale^2), computed on the lower tail for accuracy."""
    v = torch.abs(y)
    upper = torch.special.ndtr((0.5 - v) / scale)
    lower = torch.special.ndtr((-0.5 - v) / scale)
    return bound(upper - lower, LIKELIHOOD_BOUND, 1.0)


# ---- the codec -------------------------------------------------------------------------------

class Codec(nn.Module):
    def __init__(self, family):
        super().__init__()
        cfg = FAMILIES[family]
        self.family, self.cfg = family, cfg
        Na, M, Nh, Mz, Ns, ka, ks = (cfg[k] for k in ("Na", "M", "Nh", "Mz", "Ns", "ka", "ks"))
        self.M, self.Mz = M, Mz
        self.lambdas = list(cfg["lambdas"])
        L = len(self.lambdas)
        self.levels = L
        self.g_a = nn.ModuleList([
            conv(3, Na[0], ka[0], 2), GDNLite(Na[0]),
            conv(Na[0], Na[1], ka[1], 2), GDNLite(Na[1]),
            conv(Na[1], Na[2], ka[2], 2), GDNLite(Na[2]),
            conv(Na[2], M, ka[3], 2)])
        self.g_s = nn.ModuleList([
            Up(M, Ns[0], ks), GDNLite(Ns[0], inverse=True),
            Up(Ns[0], Ns[1], ks), GDNLite(Ns[1], inverse=True),
            Up(Ns[1], Ns[2], ks), GDNLite(Ns[2], inverse=True),
            Up(Ns[2], 3, ks)])
        kh = cfg["kh"]
        self.h_a = nn.ModuleList([conv(M, Nh, 3, 1), conv(Nh, Nh, kh, 2), conv(Nh, Mz, kh, 2)])
        self.h_s = nn.ModuleList([Up(Mz, Nh, 3), Up(Nh, Nh, 3), conv(Nh, M, 3, 1)])
        # start every latent at scale 2 so that early rates are sane, the image at mid grey
        nn.init.constant_(self.h_s[2].bias, math.log(2.0))
        nn.init.constant_(self.g_s[-1].conv.bias, 0.5)
        # gains: level l starts at sqrt(lambda_l / lambda_max) (quantizer step ~ lambda^-1/2)
        g0 = torch.tensor([0.5 * math.log(lam / max(self.lambdas)) for lam in self.lambdas])
        self.log_gain = nn.Parameter(g0[:, None].repeat(1, M))
        self.log_igain = nn.Parameter(-g0[:, None].repeat(1, M))
        self.log_hgain = nn.Parameter(0.5 * g0[:, None].repeat(1, Mz))
        self.z_density = FactorizedDensity(Mz, L)

    # -- transforms, in execution order --

    def analysis(self, x):
        for layer in self.g_a:
            x = layer(x)
        return x

    def synthesis(self, y, sizes):
        """sizes: the encoder's sizes, full resolution first (down_sizes of the image)."""
        x = y
        up = 3
        for layer in self.g_s:
            if isinstance(layer, Up):
                x = layer(x, sizes[up])
                up -= 1
            else:
                x = layer(x)
        return x

    def hyper_analysis(self, y):
        x = torch.abs(y)
        x = F.relu(self.h_a[0](x))
        x = F.relu(self.h_a[1](x))
        return self.h_a[2](x)

    def hyper_synthesis(self, z, ysize):
        s = down_sizes(ysize[0], ysize[1], 2)
        x = F.relu(self.h_s[0](z, s[1]))
        x = F.relu(self.h_s[1](x, s[0]))
        return self.h_s[2](x)  # natural log of the scale of (ungained) y

    def scale_index_float(self, log_scale, level):
        """The table index as a real number (before rounding): [B, M, h, w]."""
        lg = self.log_gain[level][:, :, None, None]
        return (log_scale + lg - math.log(SCALE_MIN)) / SCALE_STEP

    # -- training / evaluation pass --

    def forward(self, x, level, train=True):
        """x: [B, 3, H, W] in [0, 1]; level: [B] long. Returns dict with x_hat, the rate terms
        (bits per image, differentiable) and the latents. train=False rounds everything and
        uses the table scales, so its bits match the integer tables closely."""
        B, _, H, W = x.shape
        sizes = down_sizes(H, W, 4)
        y = self.analysis(x)
        gain = torch.exp(self.log_gain[level])[:, :, None, None]
        igain = torch.exp(self.log_igain[level])[:, :, None, None]
        hgain = torch.exp(self.log_hgain[level])[:, :, None, None]
        yg = y * gain
        zg = self.hyper_analysis(y) * hgain
        if train:
            z_rate = zg + torch.empty_like(zg).uniform_(-0.5, 0.5)
            z_hat = ste_round(zg)
        else:
            z_rate = z_hat = torch.round(zg)
        z_lik = self.z_density.likelihood(z_rate, level)
        log_scale = self.hyper_synthesis(z_hat / hgain, sizes[4])
        u = bound(self.scale_index_float(log_scale, level), 0.0, SCALE_COUNT - 1.0)
        if train:
            scale = torch.exp(math.log(SCALE_MIN) + SCALE_STEP * u)
            y_rate = yg + torch.empty_like(yg).uniform_(-0.5, 0.5)
            y_hat = ste_round(yg)
        else:
            idx = torch.round(u)
            scale = torch.exp(math.log(SCALE_MIN) + SCALE_STEP * idx)
            y_rate = y_hat = torch.round(yg)
        y_lik = gaussian_likelihood(y_rate, scale)
        x_hat = self.synthesis(y_hat * igain, sizes)
        y_bits = -torch.log2(y_lik).sum(dim=(1, 2, 3))
        z_bits = -torch.log2(z_lik).sum(dim=(1, 2, 3))
        return {"x_hat": x_hat, "y_bits": y_bits, "z_bits": z_bits, "y": y, "y_hat": y_hat,
                "z_hat": z_hat, "u": u}


# ---- counting --------------------------------------------------------------------------------

def count_macs(model, h=360, w=640):
    """Multiply-accumulates per image pixel of each part at h x w: convs (weights x output
    positions) and GDN-lite (C^2 per position; the sums of |x| weighted by gamma)."""
    parts = {}

    def hook(name):
        def f(mod, inp, out):
            if isinstance(mod, nn.Conv2d):
                k = mod.kernel_size[0] * mod.kernel_size[1]
                n = out.shape[2] * out.shape[3] * out.shape[1] * mod.in_channels * k
            else:  # GDNLite
                n = out.shape[2] * out.shape[3] * out.shape[1] ** 2
            parts[name] = parts.get(name, 0) + n
        return f

    handles = []
    for part in ("g_a", "g_s", "h_a", "h_s"):
        for mod in getattr(model, part).modules():
            if isinstance(mod, (nn.Conv2d, GDNLite)):
                handles.append(mod.register_forward_hook(hook(part)))
    with torch.no_grad():
        model.eval()
        model(torch.rand(1, 3, h, w), torch.tensor([0]), train=False)
    for hd in handles:
        hd.remove()
    return {k: v / (h * w) for k, v in parts.items()}


def count_params(model):
    parts = {}
    for name, p in model.named_parameters():
        parts[name.split(".")[0]] = parts.get(name.split(".")[0], 0) + p.numel()
    return parts


def main():
    torch.set_num_threads(2)
    for family in FAMILIES:
        m = Codec(family)
        macs = count_macs(m)
        params = count_params(m)
        enc = macs["g_a"] + macs["h_a"] + macs["h_s"]
        dec = macs["g_s"] + macs["h_s"]
        print(f"{family}: {FAMILIES[family]}")
        print("  kMAC/pixel at 640x360: " + ", ".join(f"{k} {v / 1e3:.2f}" for k, v in
                                                      macs.items()))
        print(f"  encoder (g_a + h_a + h_s) {enc / 1e3:.1f}, decoder (h_s + g_s) "
              f"{dec / 1e3:.1f}, both {(enc + dec) / 1e3:.1f} kMAC/pixel")
        print("  parameters: " + ", ".join(f"{k} {v}" for k, v in params.items())
              + f"; total {sum(params.values())}")


if __name__ == "__main__":
    main()
