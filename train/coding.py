"""Integer probability tables of a model and rate-distortion evaluation with them.

The size reported for an image is what libaic's rANS coder writes (train/entropy.py mirrors it):
for every latent symbol -log2(freq / 65536) of its integer table, escapes with their bypass bits,
plus 8 bytes of final state per stream (two streams: z, then y). tests in train/test_coding.py
check the estimate against the Python rANS coder byte for byte.
"""

import math

import numpy as np
import torch

import entropy
import models

_GAUSS = None


def gaussian_tableset():
    """The 64 Gaussian tables of y (same for both families), built once."""
    global _GAUSS
    if _GAUSS is None:
        _GAUSS = entropy.TableSet(entropy.gaussian_tables(
            models.SCALE_COUNT, models.SCALE_MIN, models.SCALE_MAX, models.GAUSS_TAIL))
    return _GAUSS


def z_tableset(model, tail=models.Z_TAIL):
    """The factorized tables of z: table l * Mz + c is channel c at level l."""
    dens = model.z_density
    tables = []
    for level in range(model.levels):
        r = 64
        while True:
            cum = dens.cumulative_grid(level, -r, r).numpy()  # [C, 2r + 2]
            if (cum[:, 0].max() <= tail / 4 and (1 - cum[:, -1]).max() <= tail / 4) or r >= 4096:
                break
            r *= 2
        for c in range(dens.channels):
            tables.append(entropy.factorized_table(cum[c], -r, tail))
    return entropy.TableSet(tables)


def stream_bytes(bits):
    """Bytes of one rANS stream carrying `bits` bits of information (see test_coding.py)."""
    return math.ceil(bits / 8) + entropy.STREAM_OVERHEAD_BYTES


@torch.no_grad()
def float_table_indices(model, z_hat, level, ysize):
    """The float h_s's table index of every y symbol (int64 numpy [M, h, w]) for z_hat (int
    [Mz, hz, wz]) at `level`, rounded half up as the integer h_s rounds: what
    quant.IntHyperSynthesis approximates."""
    hg = torch.exp(model.log_hgain[[level]])[:, :, None, None]
    ls = model.hyper_synthesis(torch.from_numpy(np.asarray(z_hat)).float()[None] / hg, ysize)
    u = model.scale_index_float(ls, torch.tensor([level]))
    return torch.clamp(torch.floor(u + 0.5), 0, models.SCALE_COUNT - 1)[0].to(torch.int64).numpy()


@torch.no_grad()
def encode_latents(model, x, level, index_fn=None):
    """Rounded latents of one image x [1, 3, H, W] at `level`: y_hat [M, h, w] and z_hat
    [Mz, hz, wz] as int64 numpy, the table index of every y symbol (uint8, [M, h, w]) and the
    reconstruction x_hat [1, 3, H, W] from y_hat (float synthesis), and the float model's own
    estimate of the bits (continuous likelihoods at the rounded latents and table scales).
    index_fn(z_hat, level, ysize) gives the indices (the integer hyper-synthesis); by default the
    float one, rounded."""
    lv = torch.tensor([level])
    H, W = x.shape[2:]
    sizes = models.down_sizes(H, W, 4)
    y = model.analysis(x)
    gain = torch.exp(model.log_gain[lv])[:, :, None, None]
    igain = torch.exp(model.log_igain[lv])[:, :, None, None]
    hgain = torch.exp(model.log_hgain[lv])[:, :, None, None]
    y_hat = torch.round(y * gain)
    z_hat = torch.round(model.hyper_analysis(y) * hgain)
    if index_fn is None:
        log_scale = model.hyper_synthesis(z_hat / hgain, sizes[4])
        u = model.scale_index_float(log_scale, lv)
        idx = torch.clamp(torch.round(u), 0, models.SCALE_COUNT - 1)[0].to(torch.uint8).numpy()
    else:
        idx = index_fn(z_hat[0].to(torch.int64).numpy(), level, sizes[4])
    x_hat = model.synthesis(y_hat * igain, sizes)
    scale = torch.exp(math.log(models.SCALE_MIN)
                      + models.SCALE_STEP * torch.from_numpy(idx.astype(np.float32)))[None]
    est = (-torch.log2(models.gaussian_likelihood(y_hat, scale)).sum()
           - torch.log2(model.z_density.likelihood(z_hat, lv)).sum()).item()
    return (y_hat[0].to(torch.int64).numpy(), z_hat[0].to(torch.int64).numpy(), idx, x_hat, est)


def latent_bytes(model, ztab, y_hat, z_hat, idx, level):
    gtab = gaussian_tableset()
    zt = (level * model.Mz + np.arange(model.Mz))[:, None, None] + np.zeros_like(z_hat)
    z_bits = ztab.bits(z_hat, zt).sum()
    y_bits = gtab.bits(y_hat, idx.astype(np.int64)).sum()
    return stream_bytes(z_bits), stream_bytes(y_bits)


def psnr(x, x_hat):
    """PSNR in dB of 8-bit RGB: x_hat is rounded and clipped as a decoder outputs it."""
    a = torch.round(x * 255.0)
    b = torch.round(torch.clamp(x_hat, 0.0, 1.0) * 255.0)
    mse = torch.mean((a - b) ** 2).item()
    return 99.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


@torch.no_grad()
def evaluate(model, images, levels=None, index_fn=None, ztab=None):
    """Mean bpp (exact integer-table size of both streams) and PSNR over images (a list of
    [1, 3, H, W] tensors) for each level; also the float model's own estimate (the -log2 of its
    continuous likelihoods at the rounded latents) to show the gap. Returns a list of dicts."""
    model.eval()
    if ztab is None:
        ztab = z_tableset(model)
    levels = range(model.levels) if levels is None else levels
    rows = []
    for level in levels:
        bpp, est, ps = [], [], []
        for x in images:
            y_hat, z_hat, idx, x_hat, bits = encode_latents(model, x, level, index_fn)
            zb, yb = latent_bytes(model, ztab, y_hat, z_hat, idx, level)
            npx = x.shape[2] * x.shape[3]
            bpp.append(8.0 * (zb + yb) / npx)
            est.append(bits / npx)
            ps.append(psnr(x, x_hat))
        rows.append({"level": level, "lambda": model.lambdas[level], "bpp": float(np.mean(bpp)),
                     "bpp_float": float(np.mean(est)), "psnr": float(np.mean(ps))})
    return rows
