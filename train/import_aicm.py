#!/usr/bin/python3
"""Turns a shipped .aicm model back into a training checkpoint, so that training can go on from
the weights in git when the float checkpoint it was exported from is gone (var/ is not
committed, and a new machine starts without it).

    /usr/bin/python3 train/import_aicm.py models/nic-rt.aicm --out var/train/nic-rt-from-aicm.pt
    train.py --family nic-rt --qat --init var/train/nic-rt-from-aicm.pt ...

What comes back, layer by layer:
  - g_a / g_s / h_a: the weights the file holds (int8 times its scales, or f32) and the biases.
    A model trained with --qat quantizes its weights to exactly these integers again, so they are
    the weights it was trained to, not an approximation of them.
  - GDN-lite: beta, and gamma (int8 times its scales).
  - the gains of every level (exp of the trained logarithms, in f32).
  - h_s: the float layers the integer hyper-synthesis was derived from (quant.IntHyperSynthesis),
    solved back from its integer weights, biases, index offsets and requantization factors. Each
    bias comes back to within half an accumulator unit.
  - the factorized density of z: the file keeps only its integer tables, so a fresh density is
    fitted to them (cross-entropy against each table's probabilities, Adam).
Only the optimizer state and the float weights between the quantization steps are lost.

The checkpoint is train.py's (`model`, `family`, `step` 0, and `qat_scales`: the file's int8 input
scales, which export.py --all-int8 writes back and widen.py passes on) plus `source` (the file's
SHA-256) and `fit` (how close the refitted z density codes the file's tables).
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aicm  # noqa: E402
import coding  # noqa: E402
import entropy  # noqa: E402
import models  # noqa: E402
import quant  # noqa: E402


def _real(t):
    """A tensor of the file as float64: int8 times its scales, or the stored floats."""
    a = np.asarray(t["array"], dtype=np.float64)
    if t["quant"] == "none":
        return a
    s = np.asarray(t["scales"], dtype=np.float64)
    if t["quant"] == "channel":
        return a * s.reshape(-1, *([1] * (a.ndim - 1)))
    return a * float(s.reshape(-1)[0])


def _fraction(mult, shift):
    return np.asarray(mult, dtype=np.float64) / np.exp2(np.asarray(shift, dtype=np.float64))


def _consistent(values, what, rel=1e-4):
    """The one value that every entry of `values` approximates (the median), after checking they
    agree: the file was written from a single scale, so a spread means a misread layout."""
    v = np.asarray(values, dtype=np.float64).ravel()
    m = float(np.median(v))
    if not np.all(np.abs(v - m) <= rel * abs(m) + 1e-12):
        raise ValueError(f"import: {what} is not one value across the file "
                         f"({v.min():.6g} .. {v.max():.6g})")
    return m


def _set(param, value):
    value = torch.as_tensor(np.asarray(value), dtype=param.dtype)
    if value.shape != param.shape:
        raise ValueError(f"import: shape {tuple(value.shape)} where the model has "
                         f"{tuple(param.shape)}")
    param.data.copy_(value)


def _set_nonneg(nn_param, value):
    """NonNegative's parametrisation: p = sqrt(value + pedestal)."""
    v = torch.as_tensor(np.asarray(value), dtype=torch.float64)
    _set(nn_param.p, torch.sqrt(torch.clamp(v, min=0.0) + nn_param.PEDESTAL))


def hyper_scales(model, t):
    """The activation scales of the integer h_s (input, after layer 0, after layer 1), solved
    from its requantization factors."""
    ihg = np.exp(-model.log_hgain.detach().double().numpy())
    s_in0 = _consistent(ihg / _fraction(t["h_s.in.mult"]["array"], t["h_s.in.shift"]["array"]),
                        "the input scale of h_s")
    scales = [s_in0]
    for k in range(2):
        sw = np.asarray(t[f"h_s.{k}.weight"]["scales"], dtype=np.float64)
        f = _fraction(t[f"h_s.{k}.mult"]["array"], t[f"h_s.{k}.shift"]["array"])
        scales.append(_consistent(scales[-1] * sw / f, f"the input scale of h_s.{k + 1}"))
    return scales


def load_transforms(model, f):
    """Everything but the z density from a read_aicm() dict into model (a models.Codec)."""
    t = f["tensors"]
    with torch.no_grad():
        for part in ("g_a", "g_s"):
            for i, m in enumerate(getattr(model, part)):
                name = f"{part}.{i}"
                if isinstance(m, models.GDNLite):
                    _set_nonneg(m.beta, _real(t[f"{name}.beta"]))
                    _set_nonneg(m.gamma, _real(t[f"{name}.gamma"]))
                else:
                    c = m.conv if isinstance(m, models.Up) else m
                    _set(c.weight, _real(t[f"{name}.weight"]))
                    _set(c.bias, _real(t[f"{name}.bias"]))
        for i, c in enumerate(model.h_a):
            _set(c.weight, _real(t[f"h_a.{i}.weight"]))
            _set(c.bias, _real(t[f"h_a.{i}.bias"]))
        _set(model.log_gain, np.log(_real(t["gain.y"])))
        _set(model.log_hgain, np.log(_real(t["gain.z"])))
        _set(model.log_igain, np.log(_real(t["gain.y_inv"])))

        s_in = hyper_scales(model, t)
        convs = [model.h_s[0].conv, model.h_s[1].conv, model.h_s[2]]
        for k, c in enumerate(convs):
            sw = np.asarray(t[f"h_s.{k}.weight"]["scales"], dtype=np.float64)
            _set(c.weight, _real(t[f"h_s.{k}.weight"]))
            unit = s_in[k] * sw  # the real value of one accumulator unit, per output channel
            if k < 2:
                _set(c.bias, np.asarray(t[f"h_s.{k}.bias"]["array"], np.float64) * unit)
                continue
            # quant.IntHyperSynthesis: off[l][o] = round(((b + log gain[l] - log s_min) / step
            # + 1/2) / r) with r = unit / step; solved for b, averaged over the levels.
            step = models.SCALE_STEP
            r = unit / step
            off = np.asarray(t["h_s.2.offset"]["array"], dtype=np.float64)  # [L, M]
            lg = model.log_gain.detach().double().numpy()
            b = ((off * r[None] - 0.5) * step - lg + math.log(models.SCALE_MIN)).mean(axis=0)
            _set(c.bias, b)
    return s_in


def file_tables(f, levels, channels):
    """The z tables of the file as entropy.TableSet."""
    t = f["tensors"]
    cdf = np.asarray(t["z.cdf"]["array"], dtype=np.int64)
    count = np.asarray(t["z.count"]["array"], dtype=np.int64)
    offset = np.asarray(t["z.offset"]["array"], dtype=np.int64)
    if len(count) != levels * channels:
        raise ValueError(f"import: {len(count)} z tables for {levels} levels x {channels}")
    tables, at = [], 0
    for n, o in zip(count, offset):
        tables.append((int(o), cdf[at:at + n + 1].tolist()))
        at += n + 1
    return entropy.TableSet(tables)


def _targets(tabs, levels, channels):
    """Per level: values [1, C, P] and probabilities [1, C, P] of every table's symbols (the
    escape left out; padding has probability 0)."""
    P = int(max(c - 1 for c in tabs.count))
    out = []
    for level in range(levels):
        v = np.zeros((channels, P))
        p = np.zeros((channels, P))
        for c in range(channels):
            o, cdf = tabs.tables[level * channels + c]
            f = np.diff(np.asarray(cdf, dtype=np.float64))[:-1] / entropy.TOTAL
            v[c, :len(f)] = o + np.arange(len(f))
            v[c, len(f):] = o
            p[c, :len(f)] = f
        out.append((torch.tensor(v[None], dtype=torch.float32),
                    torch.tensor(p[None], dtype=torch.float32)))
    return out


def cross_entropy_bits(tabs_model, tabs_file):
    """Bits per symbol of coding symbols drawn from the file's tables with tabs_model, and the
    file tables' own entropy (escapes left out), over all tables together."""
    ce = ent = 0.0
    for t, (o, cdf) in enumerate(tabs_file.tables):
        f = np.diff(np.asarray(cdf, dtype=np.float64))[:-1] / entropy.TOTAL
        vals = o + np.arange(len(f))
        bits = tabs_model.bits(vals, np.full(len(f), t))
        ce += float((f * bits).sum())
        ent += float((f * -np.log2(np.maximum(f, 1e-12))).sum())
    n = len(tabs_file.tables)
    return ce / n, ent / n


def fit_density(model, tabs, steps=1500, lr=0.02):
    """Fits model.z_density to the file's tables: minimises the cross-entropy of each table's
    probabilities under the density, all levels and channels at once."""
    dens = model.z_density
    targets = _targets(tabs, model.levels, model.Mz)
    opt = torch.optim.Adam(dens.parameters(), lr=lr)
    for i in range(steps):
        if i == int(0.8 * steps):
            for g in opt.param_groups:
                g["lr"] = lr / 10
        loss = 0.0
        for level, (v, p) in enumerate(targets):
            lik = dens.likelihood(v, torch.tensor([level]))
            loss = loss - (p * torch.log2(lik)).sum() / (model.Mz * model.levels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


def import_aicm(path, fit_steps=1500):
    """(model, info): a models.Codec holding the file's weights, and figures about the import."""
    f = aicm.read_aicm(str(path))
    if f["family"] not in models.FAMILIES:
        raise SystemExit(f"import: {path} is a '{f['family']}' model; train.py knows "
                         f"{', '.join(sorted(models.FAMILIES))}")
    model = models.Codec(f["family"])
    if f["levels"] != model.levels:
        raise SystemExit(f"import: {path} has {f['levels']} levels, {f['family']} has "
                         f"{model.levels}")
    torch.manual_seed(0)
    try:
        s_in = load_transforms(model, f)
        tabs = file_tables(f, model.levels, model.Mz)
        scales = file_scales(model, f)
    except KeyError as e:
        raise SystemExit(f"import: {path} has no tensor {e}: not a {f['family']} model as "
                         f"train/models.py builds it") from None
    except ValueError as e:
        raise SystemExit(f"import: {path}: {e}") from None
    fit_density(model, tabs, steps=fit_steps)
    ce, ent = cross_entropy_bits(coding.z_tableset(model), tabs)
    model.eval()
    info = {"source": f["sha256"], "family": f["family"], "version": f["version"],
            "hyper_scales": s_in,
            "qat_scales": scales if len(scales) == len(quant.int8_layers(model)) else None,
            "fit": {"z_bits_per_symbol_refit": ce, "z_bits_per_symbol_file": ent}}
    return model, info


def int_hyper_from_file(model, f):
    """The own integer h_s of a file (a read_aicm() dict) as a quant.IntHyperSynthesis (its
    tensors as they are), to compare the imported float h_s with."""
    t = f["tensors"]
    ihs = quant.IntHyperSynthesis.__new__(quant.IntHyperSynthesis)
    ihs.model, ihs.L, ihs.Mz, ihs.M = model, model.levels, model.Mz, model.M
    ihs.in_mult = np.asarray(t["h_s.in.mult"]["array"], np.int64)
    ihs.in_shift = np.asarray(t["h_s.in.shift"]["array"], np.int64)
    ihs.layers = []
    for k in range(3):
        p = {"weight": np.asarray(t[f"h_s.{k}.weight"]["array"]),
             "wscale": np.asarray(t[f"h_s.{k}.weight"]["scales"]),
             "mult": np.asarray(t[f"h_s.{k}.mult"]["array"], np.int64),
             "shift": np.asarray(t[f"h_s.{k}.shift"]["array"], np.int64)}
        key = "bias" if k < 2 else "offset"
        p[key] = np.asarray(t[f"h_s.{k}.{key}"]["array"], np.int64)
        ihs.layers.append(p)
    return ihs


def file_scales(model, f):
    """The int8 input scales of a file (a read_aicm() dict) as train.py's qat_scales: {layer:
    (magnitude, minimum)} for each layer of g_a / g_s / h_a with an in_scale tensor."""
    t, scales = f["tensors"], {}
    for name, mod in quant.int8_layers(model).items():
        if f"{name}.in_scale" not in t:
            continue  # an f32 layer
        s = float(t[f"{name}.in_scale"]["array"][0])
        # the C builder's rule: pixels, |y|, ReLU outputs and a GDN's |x| are u8
        unsigned = (isinstance(mod, models.GDNLite) or name == "g_a.0"
                    or name.startswith("h_a."))
        scales[name] = (s * (255.0 if unsigned else 127.0), 0.0 if unsigned else -1.0)
    return scales


def file_fake_quant(model, f):
    """A quant.FakeQuant whose input scales are those of a file (a read_aicm() dict), so that
    the imported model computes what the exported one did; (fq, names of its int8 layers)."""
    scales = file_scales(model, f)
    return quant.FakeQuant.from_scales(model, scales), list(scales)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="the .aicm file")
    ap.add_argument("--out", required=True, help="the checkpoint to write (train.py --init)")
    ap.add_argument("--fit-steps", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, info = import_aicm(args.model, args.fit_steps)
    fit = info["fit"]
    print(f"import: {info['family']} version {info['version']} ({info['source'][:16]}...): "
          f"h_s activation scales {', '.join(f'{s:.4g}' for s in info['hyper_scales'])}; "
          f"z density refitted: {fit['z_bits_per_symbol_refit']:.4f} bits/symbol under its "
          f"tables against {fit['z_bits_per_symbol_file']:.4f} under the file's", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "family": info["family"], "step": 0,
                "source": info["source"], "fit": fit, "qat_scales": info["qat_scales"]}, out)
    print(f"import: wrote {out}")


if __name__ == "__main__":
    main()
