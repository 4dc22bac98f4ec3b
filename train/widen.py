#!/usr/bin/env python3
"""Starts a wider model from a trained narrower one (Net2Net-style widening, Chen et al. 2016):
every trained weight of the small model is embedded in the large one so that, at the first
step, the large model reconstructs exactly what the small one did, and training goes on from
there instead of from random weights. On this 2-core machine nic-hq trains ~9x slower per
image than nic-rt, and from random weights it spent its first hours far below nic-rt.

How a layer is embedded (both models as train/models.py builds them):
- a convolution's trained weights go to the top-left of the wider weight; a 3x3 kernel goes to
  the centre of a 5x5 one (same padding rule k // 2, so the same taps at any stride);
- the trained outputs ignore the new hidden channels (those weights are zero), and the new
  hidden channels keep the large model's random initialisation, so they compute something
  and receive gradients; what reads them starts at zero, so the picture does not change;
- the new latent channels (y and z) start near zero, so they round to 0; the new y channels
  get the table's smallest scale and the new z channels the density of the trained channel
  most sure of 0, so zeros cost almost no bits (a random start costs ~2 bits per symbol,
  which at once tripled the rate and pulled the trained layers towards cheaper latents); the
  layers that read them start with small random weights, so that the gradient reaches them
  through the straight-through rounding once a channel is worth its bits;
- depth-to-space layers keep channel 4c + 2i + j for the trained c, which is the same index
  in both, so the first 4 x C outputs of a wider Up layer are the narrow one's;
- GDN-lite: the trained beta / gamma on the trained channels, no coupling between trained and
  new channels, the default (beta 1, gamma 0.1 I) on the new ones;
- gains and factorized densities of the trained levels are copied; a level the small model
  does not have extends the last two levels' per-channel step in log gain; new latent
  channels take the mean over the trained channels of their level.

    python3 train/widen.py --from var/train/nic-rt-qat/last.pt --family nic-hq \\
        --out var/train/nic-hq-widened.pt
    python3 train/train.py --family nic-hq --init var/train/nic-hq-widened.pt ...

A checkpoint trained with --qat is read as a float model: quantization-aware training leaves
the float weights in the state dict, and the wide model trains in float.
"""

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import models  # noqa: E402


# New latent channels (y and z) start as near-zero values, so they round to 0 and cost almost
# nothing; what reads them gets small random weights, so that the gradient reaches them
# through the straight-through rounding once a channel is worth its bits.
NEW_LATENT_SCALE = 1e-3
NEW_READER_SCALE = 0.05


def embed_conv(big, small):
    """big, small: nn.Conv2d. Trained outputs read only the trained inputs."""
    wb, ws = big.weight.data, small.weight.data
    o, i, k = ws.shape[0], ws.shape[1], ws.shape[2]
    if k > wb.shape[2] or o > wb.shape[0] or i > wb.shape[1]:
        raise ValueError(f"cannot embed {tuple(ws.shape)} in {tuple(wb.shape)}")
    off = (wb.shape[2] - k) // 2
    wb[:o] = 0.0
    wb[:o, :i, off:off + k, off:off + k] = ws
    big.bias.data[:o] = small.bias.data


def set_nonneg(param, value):
    param.p.data = torch.sqrt(torch.clamp(value + param.PEDESTAL, min=param.PEDESTAL))


def embed_gdn(big, small):
    c, cb = small.beta.p.shape[0], big.beta.p.shape[0]
    beta = torch.ones(cb)
    beta[:c] = small.beta()
    gamma = torch.zeros(cb, cb)
    gamma[:c, :c] = small.gamma()
    gamma[c:, c:] = 0.1 * torch.eye(cb - c)
    set_nonneg(big.beta, beta)
    set_nonneg(big.gamma, gamma)


def extend_levels(trained, levels):
    """[L, C] per-level values -> [levels, C]: beyond L, the last step in log gain repeated."""
    L = trained.shape[0]
    out = torch.empty(levels, trained.shape[1])
    out[:min(L, levels)] = trained[:levels]
    step = trained[L - 1] - trained[L - 2] if L > 1 else torch.zeros(trained.shape[1])
    for lv in range(L, levels):
        out[lv] = trained[L - 1] + (lv - L + 1) * step
    return out


def extend_channels(v, channels):
    """[L, C] -> [L, channels]: new channels take their level's mean."""
    out = v.mean(dim=1, keepdim=True).repeat(1, channels)
    out[:, :v.shape[1]] = v
    return out


def embed_layer(b, s, trained_in, reads_latent):
    """One layer of a transform; returns the trained channels it outputs. New inputs are new
    hidden channels (nonzero: nothing reads them yet) or, for the first layer of g_s and h_s,
    new latent channels (zero after rounding: read with small weights)."""
    if isinstance(s, models.GDNLite):
        embed_gdn(b, s)
        return trained_in
    up = isinstance(s, models.Up)
    sc, bc = (s.conv, b.conv) if up else (s, b)
    w = bc.weight.data
    fresh = w[:, trained_in:].clone()
    embed_conv(bc, sc)
    w[:, trained_in:] = NEW_READER_SCALE * fresh if reads_latent else 0.0
    return sc.weight.shape[0] // (4 if up else 1)


def widen(small, big):
    with torch.no_grad():
        for part, trained_in in (("g_a", 3), ("g_s", small.M), ("h_a", small.M),
                                 ("h_s", small.Mz)):
            for i, (s, b) in enumerate(zip(getattr(small, part), getattr(big, part))):
                trained_in = embed_layer(b, s, trained_in, i == 0 and part in ("g_s", "h_s"))
        # new y and z channels: near zero
        for conv, trained in ((big.g_a[-1], small.M), (big.h_a[-1], small.Mz)):
            conv.weight.data[trained:] *= NEW_LATENT_SCALE
            conv.bias.data[trained:] = 0.0
        L = big.levels
        big.log_gain.data = extend_channels(extend_levels(small.log_gain.data, L), big.M)
        big.log_igain.data = extend_channels(extend_levels(small.log_igain.data, L), big.M)
        big.log_hgain.data = extend_channels(extend_levels(small.log_hgain.data, L), big.Mz)
        # the new y channels' scale: the table's smallest at every level (zeros cost ~0 bits)
        h = big.h_s[-1]
        h.weight.data[small.M:] = 0.0
        h.bias.data[small.M:] = math.log(models.SCALE_MIN) - float(big.log_gain.data.max())
        # the new z channels' density: the trained channel most sure of 0, per level
        sd, bd = small.z_density, big.z_density
        zero = torch.zeros(1, small.Mz, 1)
        for lv in range(L):
            src = min(lv, small.levels - 1)
            p0 = sd.likelihood(zero, torch.tensor([src]))[0, :, 0]
            best = int(torch.argmax(p0))
            for group in ("matrices", "biases", "factors"):
                for ps, pb in zip(getattr(sd, group), getattr(bd, group)):
                    pb.data[lv, :small.Mz] = ps.data[src]
                    pb.data[lv, small.Mz:] = ps.data[src, best]
    return big


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="src", required=True, help="checkpoint of the narrow model")
    ap.add_argument("--from-family", default="nic-rt")
    ap.add_argument("--family", default="nic-hq")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    small = models.Codec(args.from_family)
    st = torch.load(args.src)
    state = {k: v for k, v in st["model"].items() if k in small.state_dict()}
    small.load_state_dict(state)
    big = widen(small, models.Codec(args.family))
    out = {"model": big.state_dict(), "widened_from": str(args.src)}
    if st.get("qat_scales"):
        # The int8 input scales the narrow model was trained with (train.py --freeze-scales):
        # the trained channels keep their grid, and the new ones, which nothing reads yet, do
        # not widen it. export.py --all-int8 writes them.
        out["qat_scales"] = st["qat_scales"]
    torch.save(out, args.out)
    print(f"widen: {args.from_family} {args.src} -> {args.family} {args.out}")


if __name__ == "__main__":
    main()
