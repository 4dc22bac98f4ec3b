#!/usr/bin/python3
"""Bjontegaard delta rate between rate-distortion curves, as the project computes it
(shared notes, learned-codecs.md): fit log(rate) as a cubic polynomial of quality for each
codec, integrate both fits over the quality range the two curves share, average the difference,
BD-rate = exp(avg) - 1. Negative: the test codec needs that much less rate for the same
quality. SSIM-family metrics are used in dB, -10 log10(1 - SSIM), where they are close to
linear in log-rate. At least 4 points per curve.

Curves are the per-level averages over all images of a set (mean bpp against mean metric, the
way CompressAI reports its curves), so one hard image weighs as much as its bits say.

usage: bench/bdrate.py bench/results/rd.csv [--set 720p] [--anchor jpeg]
"""
import argparse
import csv
import math
from collections import defaultdict

import numpy as np

# (csv column, label, transform to the fitted quality axis)
METRICS = [
    ("psnr_rgb", "PSNR-RGB", lambda v: v),
    ("psnr_y", "PSNR-Y", lambda v: v),
    ("ssim_y", "SSIM", lambda v: ssim_db(v)),
    ("msssim_y", "MS-SSIM", lambda v: ssim_db(v)),
]


def ssim_db(s):
    """-10 log10(1 - s); 1 - s is floored at 1e-10 so a perfect score stays finite."""
    return -10.0 * math.log10(max(1.0 - s, 1e-10))


def bd_rate(rate_a, q_a, rate_b, q_b):
    """BD-rate of curve b against anchor a (fraction: -0.2 is 20 % fewer bits). NaN when a
    curve has fewer than 4 distinct points or the quality ranges do not overlap."""
    a = sorted(zip(q_a, rate_a))
    b = sorted(zip(q_b, rate_b))
    if len({q for q, _ in a}) < 4 or len({q for q, _ in b}) < 4:
        return float("nan")
    qa, ra = np.array([q for q, _ in a]), np.log([r for _, r in a])
    qb, rb = np.array([q for q, _ in b]), np.log([r for _, r in b])
    lo, hi = max(qa.min(), qb.min()), min(qa.max(), qb.max())
    if not hi > lo:
        return float("nan")
    pa, pb = np.polyfit(qa, ra, 3), np.polyfit(qb, rb, 3)
    ia, ib = np.polyint(pa), np.polyint(pb)
    avg = ((np.polyval(ib, hi) - np.polyval(ib, lo)) - (np.polyval(ia, hi) - np.polyval(ia, lo))) / (
        hi - lo
    )
    return math.exp(avg) - 1.0


def load_curves(path, set_name=None):
    """{set: {codec: [(level, mean bpp, {metric: mean value}, n images)]}} from bench_codecs'
    CSV. Only levels every image of the set was coded at are kept, so a level that fell back
    on one image cannot bias the mean."""
    rows = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    images = defaultdict(set)
    with open(path) as f:
        for r in csv.DictReader(f):
            if set_name and r["set"] != set_name:
                continue
            rows[r["set"]][r["codec"]][int(r["level"])].append(r)
            images[r["set"]].add(r["image"])
    curves = {}
    for s, codecs in rows.items():
        curves[s] = {}
        for codec, levels in codecs.items():
            pts = []
            for level in sorted(levels):
                rs = levels[level]
                if len({r["image"] for r in rs}) != len(images[s]):
                    continue
                means = {}
                for col, _, _ in METRICS + [("enc_ms", "", None), ("dec_ms", "", None)]:
                    vals = [float(r[col]) for r in rs if r[col] not in ("", "nan")]
                    means[col] = sum(vals) / len(vals) if vals else float("nan")
                bpp = sum(float(r["bpp"]) for r in rs) / len(rs)
                pts.append((level, bpp, means, len(rs)))
            if pts:
                curves[s][codec] = pts
    return curves


def curve_bd(curves, anchor, test, metric):
    col, _, fn = next(m for m in METRICS if m[0] == metric)
    a, b = curves[anchor], curves[test]
    qa = [fn(p[2][col]) for p in a]
    qb = [fn(p[2][col]) for p in b]
    if any(math.isnan(v) for v in qa + qb):
        return float("nan")
    return bd_rate([p[1] for p in a], qa, [p[1] for p in b], qb)


def bd_matrix(curves):
    """[(anchor, test, metric, bd)] for every ordered pair of codecs and every metric."""
    out = []
    for anchor in curves:
        for test in curves:
            if test == anchor:
                continue
            for col, _, _ in METRICS:
                out.append((anchor, test, col, curve_bd(curves, anchor, test, col)))
    return out


def main():
    ap = argparse.ArgumentParser(description="BD-rates from bench_codecs' CSV")
    ap.add_argument("csv")
    ap.add_argument("--set", default=None)
    ap.add_argument("--anchor", default="jpeg")
    args = ap.parse_args()
    for s, curves in load_curves(args.csv, args.set).items():
        if args.anchor not in curves:
            print(f"{s}: no {args.anchor} curve")
            continue
        print(f"set {s}: BD-rate against {args.anchor} (negative = fewer bits)")
        print("codec".ljust(12) + "".join(label.rjust(10) for _, label, _ in METRICS))
        for codec in curves:
            cells = "".join(
                f"{100 * curve_bd(curves, args.anchor, codec, col):9.1f}%" for col, _, _ in METRICS
            )
            print(codec.ljust(12) + cells)


if __name__ == "__main__":
    main()
