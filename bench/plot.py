#!/usr/bin/python3
"""Plots for docs/benchmarks.md, small enough to commit: RD curves per still set (bpp against
PSNR-RGB, SSIM dB and MS-SSIM dB) and the engine goal (each sequence's rate against mean SSIM
for the fixed-bitrate sweeps, VP8 at 2.5 Mbps and the quality-targeted engine).

usage: bench/plot.py [RESULTS [FIGURES]]   (reads rd.csv and video.csv in RESULTS, default
bench/results; writes the PNGs into FIGURES, default docs/benchmarks: the project keeps media
files under docs/)
"""
import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after the backend is chosen)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bdrate import load_curves, ssim_db  # noqa: E402

STYLE = {
    "jpeg": ("tab:gray", "o"),
    "webp": ("tab:green", "s"),
    "vp8": ("tab:blue", "^"),
    "av1": ("tab:red", "D"),
    "aom-still": ("tab:orange", "v"),
    "neural": ("tab:purple", "*"),
}


def style(codec):
    return STYLE.get(codec, ("black", "x"))


def plot_rd(results, figures):
    out = []
    for set_name, curves in load_curves(results / "rd.csv").items():
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=80)
        panels = [
            ("psnr_rgb", "PSNR-RGB (dB)", lambda v: v),
            ("ssim_y", "SSIM (dB)", ssim_db),
            ("msssim_y", "MS-SSIM (dB)", ssim_db),
        ]
        for ax, (col, label, fn) in zip(axes, panels):
            for codec, pts in curves.items():
                ys = [fn(p[2][col]) for p in pts]
                if any(math.isnan(y) for y in ys):
                    continue
                color, marker = style(codec)
                ax.plot([p[1] for p in pts], ys, marker=marker, ms=4, color=color, label=codec)
            ax.set_xlabel("bits per pixel")
            ax.set_ylabel(label)
            ax.set_xscale("log")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        n = max(p[3] for pts in curves.values() for p in pts)
        fig.suptitle(f"stills {set_name}: mean over {n} images, levels 1..8", fontsize=10)
        fig.tight_layout()
        path = figures / f"rd_{set_name}.png"
        fig.savefig(path)
        plt.close(fig)
        out.append(path)
    return out


def plot_engine(results, figures):
    runs = defaultdict(list)
    path = results / "video.csv"
    if not path.exists():
        return []
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["label"].startswith(("sweep", "vp8-2500", "engine")):
                runs[r["seq"]].append(r)
    if not runs:
        return []
    seqs = sorted(runs)
    cols = min(3, len(seqs))
    rows = math.ceil(len(seqs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), dpi=80, squeeze=False)
    for ax, seq in zip(axes.flat, seqs):
        sweeps = defaultdict(list)
        for r in runs[seq]:
            if r["label"].startswith("sweep"):
                sweeps[r["codec_pref"]].append((float(r["kbps"]), float(r["mean_ssim"])))
        for codec, pts in sorted(sweeps.items()):
            pts.sort()
            color, marker = style(codec)
            ax.plot([p[0] for p in pts], [ssim_db(p[1]) for p in pts], marker=marker, ms=4,
                    color=color, label=f"{codec} CBR")
        for r in runs[seq]:
            if r["label"] == "vp8-2500":
                ax.plot(float(r["kbps"]), ssim_db(float(r["mean_ssim"])), "o", ms=9, mfc="none",
                        color="tab:blue", label="vp8 2.5 Mbps")
            if r["label"] == "engine":
                ax.plot(float(r["kbps"]), ssim_db(float(r["mean_ssim"])), "*", ms=12,
                        color="black", label="engine (min_ssim)")
        ax.axvline(500, color="gray", ls=":", lw=1)  # 20 % of 2.5 Mbps: the goal
        ax.set_xscale("log")
        ax.set_title(seq, fontsize=9)
        ax.set_xlabel("kbit/s")
        ax.set_ylabel("mean SSIM (dB)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(seqs):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    path = figures / "engine_goal.png"
    fig.savefig(path)
    plt.close(fig)
    return [path]


def main():
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
    figures = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/benchmarks")
    figures.mkdir(parents=True, exist_ok=True)
    for p in plot_rd(results, figures) + plot_engine(results, figures):
        print(f"plot: wrote {p}")


if __name__ == "__main__":
    main()
