#!/usr/bin/python3
"""The learned codec's part of `make bench` (docs/benchmarks.md, "Learned codec"): runs
bench_neural on the model files and the still peers (libjpeg-turbo through libaic's JPEG
backend, libwebp, libaom all-intra) on the same images, and writes

  bench/results/neural_rd.csv       one row per (image, codec, level), bench_codecs' columns
  bench/results/neural_bdrate.csv   BD-rate of every model against every peer and metric
  bench/results/neural_speed.csv    640x360 and 1280x720 frame path, per stage, 1 and 2 threads
  bench/results/neural_pipeline.csv the same frames through an encoding and a decoding thread
                                    (one core each, as a sender and a receiver): throughput
  bench/results/neural_speed_runs.csv, neural_pipeline_runs.csv   every run of --repeat N
                                    (the two above keep the median run)
  bench/results/neural_macs.csv     kMAC/pixel of each transform at 640x360
  bench/results/neural_run.json     what was run, on which models, and how loaded the machine was
  docs/benchmarks/neural_rd_<set>.png, docs/benchmarks/neural_speed.png

and rewrites the generated part of the "Learned codec" section of docs/benchmarks.md (between
the neural markers; the rest of the document is left alone).

Models: models/nic-rt.aicm and models/nic-hq.aicm, those present, unless --model is given
(any number of times; a model is labelled by its family, or by its file name when two share
one). Speed is measured on the synthetic pans scripts/prepare-data makes for bench_video.

usage: bench/neural.py [--build build-bench] [--model PATH]... [--sets 720p,512,frames]
                       [--images N]
                       [--quick] [--impl auto|dnnl|ref] [--threads 1,2] [--runs 20]
                       [--repeat 1]
                       [--parts rd,speed | --parts report] [--no-doc] [--add]
--add measures the --model files only and keeps every other row of the results (the other
models' and the peers'): to add or replace one model without re-measuring the rest.
Exit status 3 when there was nothing to measure with (no bench_neural in the build, or no model
file). Also run by `make bench` and `bench/run.py --only neural` (with its --build, --quick and
--no-doc; models from models/).
"""
import argparse
import csv
import datetime
import json
import math
import os
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import bdrate  # noqa: E402
import common  # noqa: E402
from common import read_csv  # noqa: E402

DATA = Path(os.environ.get("AIC_DATA", ROOT / "var" / "data"))
RESULTS = HERE / "results"
FIGURES = ROOT / "docs" / "benchmarks"
DOC = ROOT / "docs" / "benchmarks.md"
MODELS = ROOT / "models"
BEGIN, END = "<!-- neural:begin -->", "<!-- neural:end -->"
SKIPPED = 3  # main()'s value (and exit status) when there was nothing to measure with

PEERS = ["jpeg", "webp", "aom-still"]
PEER_LABEL = {"jpeg": "libjpeg-turbo", "webp": "libwebp", "aom-still": "AVIF (libaom)"}
SPEED_SIZES = [(640, 360), (1280, 720)]
GOAL_FPS = 30.0
# Issue 4's goals: BD-rate on PSNR-RGB unless said otherwise, at most this much.
GOALS = [
    ("nic-rt", "jpeg", "psnr_rgb", -0.35),
    ("nic-hq", "jpeg", "psnr_rgb", -0.50),
    ("nic-hq", "webp", "psnr_rgb", -0.15),
    ("nic-hq", "aom-still", "msssim_y", None),  # reported, no threshold
]
# The models' curves; the peers keep the colours of the main benchmark (plot.STYLE).
MODEL_STYLE = {
    "nic-rt": ("tab:purple", "*"),
    "nic-hq": ("tab:red", "P"),
}


def log(msg):
    print(f"bench/neural: {msg}", flush=True)


def run(cmd):
    return common.run(cmd, quiet=True, who="bench/neural")


def loadavg():
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


# --- inputs -----------------------------------------------------------------------------------


def model_info(path):
    """Header fields of an .aicm file (docs/model-format.md), read here so that the record says
    exactly which model was measured even when the library refuses it."""
    with open(path, "rb") as f:
        h = f.read(128)
    if len(h) < 128 or h[:4] != b"AICM":
        sys.exit(f"bench/neural: {path} is not an .aicm file")
    family = h[8:24].split(b"\0")[0].decode()
    model_id, levels, version = struct.unpack_from("<HHI", h, 24)
    return {"path": str(path), "family": family, "model_id": model_id, "levels": levels,
            "version": version, "sha256": h[96:128].hex(), "bytes": Path(path).stat().st_size}


def find_models(paths):
    if paths:
        models = [Path(p).resolve() for p in paths]
    else:
        models = [MODELS / f"{f}.aicm" for f in ("nic-rt", "nic-hq")]
        models = [m for m in models if m.exists()]
    infos = [model_info(m) for m in models]
    families = [i["family"] for i in infos]
    for i in infos:  # the label curves and tables use
        i["name"] = i["family"] if families.count(i["family"]) == 1 else Path(i["path"]).stem
    return infos


def still_sets(names, quick, limit):
    sets = []
    for name in names:
        files = sorted((DATA / "val" / name).glob("*.png"))
        if quick and name == "720p":
            files = [p for p in files if p.stem.endswith("_full")][:6]
        if limit:
            files = files[:limit]
        if not files:
            sys.exit(f"bench/neural: no stills in {DATA}/val/{name}: run scripts/prepare-data")
        sets.append((name, files))
    return sets


# --- the parts --------------------------------------------------------------------------------


def drop_rows(path, column, values, sets=None):
    """Rewrites the CSV at path without the rows whose `column` is in values (and, given
    sets, whose "set" is in sets)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    k = rows[0].index(column)
    ks = rows[0].index("set") if sets is not None else None
    keep = [r for r in rows[1:] if r[k] not in values or (ks is not None and r[ks] not in sets)]
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([rows[0]] + keep)


def part_rd(build, models, sets, args):
    """Returns the row groups it measured ("<model> <set>", "peers <set>"), for the record."""
    out = RESULTS / "neural_rd.csv"
    if args.add:
        drop_rows(out, "codec", {m["name"] for m in models}, {name for name, _ in sets})
    else:
        out.unlink(missing_ok=True)
    kept = {(r["set"], r["codec"]) for r in read_csv(out)} if out.exists() else set()
    measured = []
    for name, files in sets:
        for m in models:
            measured.append(f"{m['name']} {name}")
            log(f"rd {name}: {m['name']} on {len(files)} images x {m['levels']} levels")
            t = time.time()
            run([build / "bench_neural", "rd", "--model", m["path"], "--name", m["name"],
                 "--out", out, "--set", name, "--impl", args.impl, "--threads", "1"] + files)
            log(f"rd {name}: {m['name']} took {time.time() - t:.0f} s")
        if all((name, p) in kept for p in PEERS):
            log(f"rd {name}: peers kept from the earlier run")
            continue
        log(f"rd {name}: peers {','.join(PEERS)} on the same images")
        run([build / "bench_codecs", "--out", out, "--set", name, "--codecs", ",".join(PEERS)]
            + files)
        measured.append(f"peers {name}")
    return measured


SPEED_KEY = ("model", "family", "width", "height", "threads", "level")


def median_runs(rows, key, by):
    """Of repeated runs (rows with the same key), the run whose `by` is the median (the lower
    middle for an even count): one whole run, so its columns stay consistent with each other."""
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k, "") for k in key), []).append(r)
    out = []
    for g in groups.values():
        g = sorted(g, key=lambda r: float(r[by]))
        out.append(g[(len(g) - 1) // 2])
    return out


def append_rows(path, rows, drop=("repeat",)):
    """Appends dict rows to a CSV (writing its header when new), without the `drop` columns."""
    if not rows:
        return
    cols = [c for c in rows[0] if c not in drop]
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if new:
            w.writerow(cols)
        w.writerows([[r[c] for c in cols] for r in rows])


def repeated(cmd, files, out, repeat):
    """Runs a bench_neural command on files `repeat` times into a scratch CSV; its rows, each
    with the run's index in "repeat"."""
    rows = []
    tmp = out.with_suffix(".tmp.csv")
    for k in range(repeat):
        tmp.unlink(missing_ok=True)
        run(cmd + ["--out", tmp] + files)
        for r in read_csv(tmp):
            r["repeat"] = str(k)
            rows.append(r)
    tmp.unlink(missing_ok=True)
    return rows


def part_speed(build, models, args):
    """Returns the families it measured, for the record. With --repeat N each measurement runs
    N times, one after the other: the results keep the median run (by total time; by
    throughput for the pipeline) and neural_*_runs.csv keeps every run, for the spread."""
    out = RESULTS / "neural_speed.csv"
    macs = RESULTS / "neural_macs.csv"
    pipe = RESULTS / "neural_pipeline.csv"
    out_runs = RESULTS / "neural_speed_runs.csv"
    pipe_runs = RESULTS / "neural_pipeline_runs.csv"
    for p in (out, macs, pipe, out_runs, pipe_runs):
        if args.add:
            drop_rows(p, "family", {m["family"] for m in models})
        else:
            p.unlink(missing_ok=True)
    seqs = [DATA / "video" / f"speed_{w}x{h}.y4m" for w, h in SPEED_SIZES]
    missing = [s for s in seqs if not s.exists()]
    if missing:
        sys.exit(f"bench/neural: {missing[0]} missing: run scripts/prepare-data")
    runs = 5 if args.quick else args.runs
    repeat = max(1, args.repeat)
    for m in models:
        run([build / "bench_neural", "macs", "--model", m["path"], "--size", "640x360",
             "--out", macs])
        log(f"speed {m['name']}: {', '.join(s.stem for s in seqs)}, threads {args.threads}, "
            f"median of {runs} after 3 warm-up frames, {repeat} run(s)")
        rows = repeated([build / "bench_neural", "speed", "--model", m["path"], "--impl",
                         args.impl, "--threads", args.threads, "--runs", runs, "--warmup", 3],
                        seqs, out, repeat)
        append_rows(out_runs, rows, drop=())
        append_rows(out, median_runs(rows, SPEED_KEY, "total_ms"))
        log(f"pipeline {m['name']}: encoder and decoder threads, median of {2 * runs} frames, "
            f"{repeat} run(s)")
        rows = repeated([build / "bench_neural", "pipeline", "--model", m["path"], "--impl",
                         args.impl, "--runs", 2 * runs, "--warmup", 3], seqs, pipe, repeat)
        append_rows(pipe_runs, rows, drop=())
        # the median throughput: sorting by -fps would pick the same run for an odd count
        append_rows(pipe, median_runs(rows, SPEED_KEY[:4], "fps"))
    return [m["family"] for m in models]


def spread(runs, row, key, col):
    """' (N runs: lo-hi)' of column col over the repeated runs of row's key; '' for one run."""
    vals = [float(r[col]) for r in runs if all(r.get(k) == row.get(k) for k in key)]
    if len(vals) < 2:
        return ""
    return f"; {len(vals)} runs: {min(vals):.1f}-{max(vals):.1f} fps"


def provenance(prior, measured, command):
    """A part's record of which command made which rows: {row group: command}. An --add run
    replaces the entries of the groups it measured and keeps the others (prior), so the record
    names only commands whose rows are still in the results. A record written as one string
    (before this form) is kept whole under "earlier rows"."""
    out = {"earlier rows": prior} if isinstance(prior, str) else dict(prior or {})
    for group in measured:
        out.pop(group, None)  # re-measured: moves to the end, with the new command
        out[group] = command
    return out


def provenance_text(record):
    """"groups: command; ..." with the groups one command made listed together."""
    if isinstance(record, str):
        return record
    by_command = {}
    for group, command in record.items():
        by_command.setdefault(command, []).append(group)
    return "; ".join(f"{', '.join(groups)}: {command}" for command, groups in by_command.items())


# --- analysis ---------------------------------------------------------------------------------


def metric_fn(metric):
    return next(fn for col, _, fn in bdrate.METRICS if col == metric)


def metric_label(metric):
    return next(label for col, label, _ in bdrate.METRICS if col == metric)


def quality_range(curve, metric):
    fn = metric_fn(metric)
    vals = [fn(p[2][metric]) for p in curve]
    return (min(vals), max(vals)) if vals else (math.nan, math.nan)


def anchors(codec, names):
    """What a model's BD-rate is measured against: the peers, then the other models."""
    return PEERS + [n for n in names if n != codec]


def bd_rows(curves_all, names):
    """[{set, codec, anchor, metric, bd, lo, hi, codec range, anchor range}]: every model
    against every peer and every other model, with the quality range the two curves share
    (BD-rate integrates over it only, so a narrow overlap deserves a look)."""
    rows = []
    for s, curves in curves_all.items():
        for codec in names:
            if codec not in curves:
                continue
            for anchor in anchors(codec, names):
                if anchor not in curves:
                    continue
                for metric, _, _ in bdrate.METRICS:
                    c_lo, c_hi = quality_range(curves[codec], metric)
                    a_lo, a_hi = quality_range(curves[anchor], metric)
                    bd = bdrate.curve_bd(curves, anchor, codec, metric)
                    rows.append({"set": s, "codec": codec, "anchor": anchor, "metric": metric,
                                 "bd": bd, "lo": max(c_lo, a_lo), "hi": min(c_hi, a_hi),
                                 "codec_lo": c_lo, "codec_hi": c_hi, "anchor_lo": a_lo,
                                 "anchor_hi": a_hi})
    return rows


def write_bd(rows):
    with open(RESULTS / "neural_bdrate.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["set", "codec", "anchor", "metric", "bd_rate", "overlap_lo", "overlap_hi",
                    "codec_lo", "codec_hi", "anchor_lo", "anchor_hi"])
        for r in rows:
            w.writerow([r["set"], r["codec"], r["anchor"], r["metric"], f"{r['bd']:.4f}"] +
                       [f"{r[k]:.3f}" for k in ("lo", "hi", "codec_lo", "codec_hi", "anchor_lo",
                                                "anchor_hi")])


# --- plots ------------------------------------------------------------------------------------


def plot_rd(curves_all, names):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plot  # the peers' styles

    out = []
    for set_name, curves in curves_all.items():
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=80)
        panels = [("psnr_rgb", "PSNR-RGB (dB)"), ("ssim_y", "SSIM (dB)"),
                  ("msssim_y", "MS-SSIM (dB)")]
        for ax, (col, label) in zip(axes, panels):
            fn = metric_fn(col)
            for codec in [c for c in PEERS + names if c in curves]:
                pts = curves[codec]
                ys = [fn(p[2][col]) for p in pts]
                if any(math.isnan(y) for y in ys):
                    continue
                color, marker = MODEL_STYLE.get(codec) or plot.style(codec)
                lw = 2.0 if codec in names else 1.0
                ax.plot([p[1] for p in pts], ys, marker=marker, ms=5, lw=lw, color=color,
                        label=PEER_LABEL.get(codec, codec))
            ax.set_xlabel("bits per pixel")
            ax.set_ylabel(label)
            ax.set_xscale("log")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        n = max(p[3] for pts in curves.values() for p in pts)
        fig.suptitle(f"learned codec, stills {set_name}: mean over {n} images (model levels; "
                     "peers at levels 1..8)", fontsize=10)
        fig.tight_layout()
        path = FIGURES / f"neural_rd_{set_name}.png"
        fig.savefig(path)
        plt.close(fig)
        out.append(path)
    return out


STAGES = [  # (column, label, colour): the frame path in order
    ("conv_in_ms", "I420->RGB", "tab:gray"),
    ("analysis_ms", "analysis g_a", "tab:blue"),
    ("enc_hyper_ms", "hyper (enc)", "tab:cyan"),
    ("enc_entropy_ms", "entropy (enc)", "tab:green"),
    ("enc_other_ms", "encode other", "lightgray"),
    ("dec_entropy_ms", "entropy (dec)", "tab:olive"),
    ("dec_hyper_ms", "hyper (dec)", "tab:purple"),
    ("synthesis_ms", "synthesis g_s", "tab:red"),
    ("dec_other_ms", "decode other", "silver"),
    ("conv_out_ms", "RGB->I420", "dimgray"),
]


def stage_values(r):
    v = {k: float(r[k]) for k, _, _ in STAGES if k in r}
    v["enc_other_ms"] = max(0.0, float(r["encode_ms"]) - float(r["analysis_ms"]) -
                            float(r["enc_hyper_ms"]) - float(r["enc_entropy_ms"]))
    v["dec_other_ms"] = max(0.0, float(r["decode_ms"]) - float(r["dec_entropy_ms"]) -
                            float(r["dec_hyper_ms"]) - float(r["synthesis_ms"]))
    return v


def plot_speed(rows):
    if not rows:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.9), dpi=80)
    labels = []
    for i, r in enumerate(rows):
        v = stage_values(r)
        left = 0.0
        for k, label, color in STAGES:
            ax.barh(i, v[k], left=left, color=color, label=label if i == 0 else None)
            left += v[k]
        ax.text(left + 1, i, f"{float(r['total_ms']):.0f} ms, {float(r['fps']):.1f} fps",
                va="center", fontsize=8)
        labels.append(f"{r['family']} {r['width']}x{r['height']} {r['threads']}T")
    ax.axvline(1000.0 / GOAL_FPS, color="black", ls=":", lw=1)
    ax.text(1000.0 / GOAL_FPS, -0.8, " 30 fps", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.3 * max(float(r["total_ms"]) for r in rows))
    ax.set_xlabel("ms per frame: encode + decode, median (machine shared, see text)")
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, ncol=5, loc="upper center")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / (0.45 * len(rows) + 1.9)))
    path = FIGURES / "neural_speed.png"
    fig.savefig(path)
    plt.close(fig)
    return [path]


# --- the document -----------------------------------------------------------------------------


def pct(v):
    return "n/a" if v is None or math.isnan(v) else f"{100 * v:+.1f} %"


def f1(v, nd=1):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def bd_cell(r):
    if r is None:
        return "n/a"
    if math.isnan(r["bd"]):
        if not r["hi"] > r["lo"]:
            return (f"n/a: no overlap ({r['codec_lo']:.1f}..{r['codec_hi']:.1f} vs "
                    f"{r['anchor_lo']:.1f}..{r['anchor_hi']:.1f})")
        return "n/a"
    if r["hi"] - r["lo"] < 1.0:  # a cubic fit compared over a sliver says little
        return f"{pct(r['bd'])} (over {r['hi'] - r['lo']:.2f} dB only)"
    return pct(r["bd"])


def rate_at(curve, metric, target):
    """(bpp, '') at which a peer's curve reaches `target` (log-rate linear in quality between
    its two points around it), or (None, why) outside the curve."""
    fn = metric_fn(metric)
    pts = sorted((fn(p[2][metric]), math.log(p[1]), p[0]) for p in curve)
    if target < pts[0][0]:
        return None, "below"
    if target > pts[-1][0]:
        return None, "above"
    for (q0, r0, _), (q1, r1, _) in zip(pts, pts[1:]):
        if q0 <= target <= q1:
            f = 0.0 if q1 == q0 else (target - q0) / (q1 - q0)
            return math.exp(r0 + f * (r1 - r0)), ""
    return math.exp(pts[-1][1]), ""


def equal_quality_table(curves, codec, metric="psnr_rgb"):
    """Each level of a model against each peer at the same quality: the peer's rate there, or
    where the model's point lies below the peer's whole curve, the peer's lowest level (which
    then has more quality; with fewer bits too, it dominates the model's point outright)."""
    fn = metric_fn(metric)
    rows = []
    for level, bpp, m, _ in curves[codec]:
        q = fn(m[metric])
        cells = [level, f"{bpp:.3f}", f"{q:.2f}"]
        for anchor in PEERS:
            if anchor not in curves:
                cells.append("n/a")
                continue
            r, where = rate_at(curves[anchor], metric, q)
            if r is not None:
                cells.append(f"{r:.3f} (model {100 * (bpp / r - 1):+.0f} %)")
            elif where == "below":
                low = min(curves[anchor], key=lambda p: p[1])
                beats = "dominates" if low[1] <= bpp else "more bits"
                cells.append(f"below its range: level {low[0]} gives {fn(low[2][metric]):.2f} "
                             f"at {low[1]:.3f} ({beats})")
            else:
                cells.append("above its range")
        rows.append(cells)
    return table(["level", "bpp", metric_label(metric)] +
                 [f"{PEER_LABEL[a]} bpp at that quality" for a in PEERS], rows) + "\n"


def goals_section(bd, speed, models, sets, pipeline=(), speed_runs=(), pipeline_runs=()):
    names = {m["family"]: m["name"] for m in models}
    rows = []
    rt = [r for r in speed if r["family"] == "nic-rt" and r["width"] == "640"]
    for r in rt:
        fps = float(r["fps"])
        status = "met" if fps >= GOAL_FPS else "missed"
        rows.append([f"nic-rt 640x360 encode + decode, {r['threads']} thread(s)",
                     f">= {GOAL_FPS:.0f} fps" if r["threads"] == "2" else "(for the record)",
                     f"{fps:.1f} fps ({float(r['total_ms']):.1f} ms"
                     f"{spread(speed_runs, r, SPEED_KEY, 'fps')})",
                     status if r["threads"] == "2" else ""])
    for r in pipeline:
        if r["family"] != "nic-rt" or r["width"] != "640":
            continue
        fps = float(r["fps"])
        rows.append(["nic-rt 640x360 encoder and decoder threads (one core each), throughput",
                     f">= {GOAL_FPS:.0f} fps", f"{fps:.1f} fps (latency "
                     f"{float(r['latency_ms']):.1f} ms"
                     f"{spread(pipeline_runs, r, SPEED_KEY[:4], 'fps')})",
                     "met" if fps >= GOAL_FPS else "missed"])
    if not rt:
        rows.append(["nic-rt 640x360 encode + decode, 2 threads", f">= {GOAL_FPS:.0f} fps",
                     "not measured (no nic-rt model)", "n/a"])
    set_names = [s for s, _ in sets] or sorted({r["set"] for r in bd})
    for family, anchor, metric, limit in GOALS:
        for s in set_names:
            name = names.get(family)
            r = next((x for x in bd if x["set"] == s and x["codec"] == name and
                      x["anchor"] == anchor and x["metric"] == metric), None)
            goal = (f"{family} BD-rate {metric_label(metric)} vs {PEER_LABEL[anchor]}, "
                    f"stills {s}")
            target = f"<= {100 * limit:.0f} %" if limit is not None else "(reported)"
            if name is None:
                rows.append([goal, target, f"not measured (no {family} model)", "n/a"])
                continue
            if r is None:
                rows.append([goal, target, "not measured on this set", "n/a"])
                continue
            status = ""
            if r and not math.isnan(r["bd"]) and limit is not None:
                status = "met" if r["bd"] <= limit else "missed"
            elif limit is not None:
                status = "not measurable"
            rows.append([goal, target, bd_cell(r), status])
    return table(["goal", "target", "measured", "status"], rows) + "\n"


def models_section(models, macs):
    rows = []
    for m in models:
        parts = {r["part"]: float(r["kmac_pixel"]) for r in macs
                 if r["model"] == Path(m["path"]).stem and r["family"] == m["family"]}
        rows.append([m["name"], f"`{os.path.relpath(m['path'], ROOT)}`", m["sha256"][:12],
                     m["model_id"], m["version"], m["levels"]] +
                    [f1(parts.get(k), 2) for k in ("g_a", "h_a", "h_s", "g_s", "encoder",
                                                   "decoder", "both")])
    return table(["model", "file", "SHA-256", "id", "version", "levels", "g_a", "h_a", "h_s",
                  "g_s", "encoder", "decoder", "enc + dec"], rows) + "\n"


def speed_section(speed):
    if not speed:
        return "No speed results.\n"
    rows = []
    for r in speed:
        rows.append([r["family"], f"{r['width']}x{r['height']}", r["threads"],
                     f"{r['impl']} ({r['isa']})", int(r["level"]) + 1,
                     f"{float(r['bytes']) * 8 * 30 / 1000:.0f}",
                     f1(float(r["conv_in_ms"]), 1), f1(float(r["analysis_ms"]), 1),
                     f1(float(r["enc_hyper_ms"]), 1), f1(float(r["enc_entropy_ms"]), 1),
                     f1(float(r["encode_ms"]), 1), f1(float(r["dec_entropy_ms"]), 1),
                     f1(float(r["dec_hyper_ms"]), 1), f1(float(r["synthesis_ms"]), 1),
                     f1(float(r["decode_ms"]), 1), f1(float(r["conv_out_ms"]), 1),
                     f"**{float(r['total_ms']):.1f}**", f"**{float(r['fps']):.1f}**",
                     f1(float(r["cpu_ms"]), 1), f1(float(r["cold_ms"]), 0)])
    return table(["model", "size", "threads", "impl", "level", "kbit/s at 30 fps", "I420->RGB",
                  "analysis", "hyper (enc)", "entropy (enc)", "encode", "entropy (dec)",
                  "hyper (dec)", "synthesis", "decode", "RGB->I420", "total ms", "fps",
                  "CPU ms", "first frame ms"], rows) + "\n"


def pipeline_section(rows_in):
    if not rows_in:
        return "No pipeline results.\n"
    rows = [[r["family"], f"{r['width']}x{r['height']}", f"{r['impl']} ({r['isa']})",
             int(r["level"]) + 1, r["runs"], f"**{float(r['fps']):.1f}**",
             f1(float(r["latency_ms"]), 1), f1(float(r["encode_ms"]), 1),
             f1(float(r["decode_ms"]), 1), f1(float(r["cpu_ms"]), 1)] for r in rows_in]
    return table(["model", "size", "impl", "level", "frames", "fps", "latency ms",
                  "encode ms", "decode ms", "CPU ms per frame"], rows) + "\n"


def rd_section(curves_all, bd, names):
    md = []
    for s, curves in curves_all.items():
        n = max(p[3] for pts in curves.values() for p in pts)
        size = {"720p": "1280x720", "512": "512x512",
                "frames": "1280x720 frames of the real camera sequences"}.get(s, s)
        md.append(f"#### Stills {s} ({n} images, {size})\n")
        md.append(f"![learned codec RD {s}](benchmarks/neural_rd_{s}.png)\n")
        for codec in names:
            if codec not in curves:
                continue
            rows = []
            for anchor in [a for a in anchors(codec, names) if a in curves or a in PEERS]:
                cells = [PEER_LABEL.get(anchor, anchor)]
                for metric, _, _ in bdrate.METRICS:
                    r = next((x for x in bd if x["set"] == s and x["codec"] == codec and
                              x["anchor"] == anchor and x["metric"] == metric), None)
                    cells.append(bd_cell(r))
                    if metric == "psnr_rgb":
                        shared = (f"{r['lo']:.1f}..{r['hi']:.1f}" if r and r["hi"] > r["lo"]
                                  else "none")
                rows.append(cells + [shared])
            md.append(f"BD-rate of {codec} against each peer and the other models (negative: "
                      "fewer bits for the same quality; the last column is the PSNR-RGB range, in dB, both curves "
                      "cover and the BD-rate is averaged over):\n")
            md.append(table(["anchor"] + [label for _, label, _ in bdrate.METRICS] +
                            ["shared PSNR-RGB"], rows) + "\n")
            md.append(f"{codec} at each level against the peers at the same PSNR-RGB (the "
                      "peer's rate interpolated, log-rate linear in dB, between its two levels "
                      "around it; no fit, so it holds where the BD-rate's overlap is thin):\n")
            md.append(equal_quality_table(curves, codec))
        rows = []
        for codec in names:
            for level, bpp, m, _ in curves.get(codec, []):
                rows.append([codec, level, f"{bpp:.3f}", f1(m["psnr_rgb"], 2),
                             f1(m["psnr_y"], 2), f1(m["ssim_y"], 4), f1(m["msssim_y"], 4),
                             f1(m["enc_ms"]), f1(m["dec_ms"])])
        md.append("Means per level (level: the model's level + 1; encode and decode time of one "
                  "still, one thread, RGB to RGB; the peers' means are in neural_rd.csv, and "
                  "on the whole sets they are the Stills tables above):\n")
        md.append(table(["codec", "level", "bpp", "PSNR-RGB", "PSNR-Y", "SSIM", "MS-SSIM",
                         "enc ms", "dec ms"], rows) + "\n")
    return "\n".join(md)


def write_doc(rec, curves_all, bd, speed, macs, pipeline=()):
    models = rec.get("models", [])
    names = [m["name"] for m in models]
    sets = [(s, None) for s in rec.get("sets", {})]
    parts = ", ".join(f"{k} {v} s" for k, v in rec.get("seconds", {}).items())
    loads = "; ".join(f"{k}: {' / '.join(f'{x:.2f}' for x in v['before'])} before, "
                      f"{' / '.join(f'{x:.2f}' for x in v['after'])} after"
                      for k, v in rec.get("load", {}).items())
    # Other work on the machine stretches wall-clock times (and oneDNN's second thread waits
    # for a core): say so whenever something was running when a part began.
    busy = any(v["before"] and v["before"][0] > 0.5 for v in rec.get("load", {}).values())
    load_note = ((f"**Shared machine**: load average (1 / 5 / 15 min) {loads}. Other jobs were "
                  "running, so wall-clock times are inflated by them; the CPU ms column much "
                  "less.") if busy else f"Quiet machine: load average (1 / 5 / 15 min) {loads}.")
    info = rec.get("machine", {})
    runs = rec.get("runs") or {"all": f"`{rec.get('command', '?')}` on {rec.get('date', '?')}"}
    head = [
        "Last run: " + "; ".join(f"{k}: {provenance_text(v)}" for k, v in runs.items())
        + f" (took {parts}).",
        "",
        f"Machine: {info.get('nproc', '?')} cores, {info.get('cpu', '?')}; libaic at "
        f"{info.get('commit', '?')}. {load_note}",
        "",
        "Stills: " + "; ".join(f"{s}: {n} images" for s, n in rec.get("sets", {}).items()) +
        f". Implementation: `--impl {rec.get('impl', '?')}`.",
        "",
        "### Goals (issue 4)\n",
        goals_section(bd, speed, models, sets, pipeline,
                      read_csv(RESULTS / "neural_speed_runs.csv"),
                      read_csv(RESULTS / "neural_pipeline_runs.csv")),
        "### Models: kMAC per pixel at 640x360\n",
        "Computed by `bench_neural macs` from the model's layer shapes (convolutions: weights x "
        "output positions, GDN-lite C^2 per position; what `train/models.py`'s `count_macs` "
        "counts). The encoder runs h_s too, to choose y's tables.\n",
        models_section(models, macs),
        "### Speed: the frame path per stage (ms, median)\n",
        "One runner per thread count; a frame is `aic_nic_encode_i420` and "
        "`aic_nic_decode_i420` (what the neural backend runs for I420 input): I420 -> RGB, "
        "encode, decode, RGB -> I420, the conversions on the runner's threads. Stages from "
        "`aic_nic_last_timing`; encode and decode are the calls without the conversions. Median "
        "of each column separately over the measured frames (so the stages need not add up "
        "exactly). With `--repeat N`, the run with the median total of N runs made one after "
        "the other (the goals table gives the range). "
        "*CPU ms*: process CPU time of the whole path (with 2 threads it includes oneDNN's "
        "waiting threads). *first frame*: the runner's first frame, which builds its "
        "convolution plans. Level: the model's highest (most symbols to code).\n",
        speed_section(speed),
        "![learned codec speed](benchmarks/neural_speed.png)\n",
        "### Speed: sender and receiver on a core each\n",
        "`bench_neural pipeline`: one thread encodes (`aic_nic_encode_i420`) while another decodes "
        "the frame before (`aic_nic_decode_i420`), each with a one-thread runner, two frames in "
        "flight at most: what a sender and a receiver of a call do on their own cores. *fps*: "
        "frames through both stages per second after the warm-up; *latency*: encode start to "
        "decode end of a frame (median); *encode*, *decode*: each stage's own time (median).\n",
        pipeline_section(pipeline),
        "### Rate-distortion\n",
        rd_section(curves_all, bd, names),
    ]
    block = "\n".join([BEGIN, *head, END])
    text = DOC.read_text()
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n## Learned codec\n\n" + block
    DOC.write_text(text.rstrip() + "\n")


# --- main -------------------------------------------------------------------------------------


def machine():
    import run as bench_run  # the main driver's description of the machine

    return bench_run.machine()


def main(argv=None, build=None, quick=None, no_doc=None, command=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build-bench")
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("--sets", default="720p,512,frames")
    ap.add_argument("--images", type=int, default=0, help="first N images of each set")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--impl", default="auto", choices=["auto", "dnnl", "ref"])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each speed measurement N times; report the median run")
    ap.add_argument("--parts", default="rd,speed", help="rd,speed; 'report' only rewrites")
    ap.add_argument("--no-doc", action="store_true")
    ap.add_argument("--add", action="store_true",
                    help="measure the --model files only, keep the other rows of the results")
    args = ap.parse_args(argv)
    if build is not None:
        args.build = build
    if quick:
        args.quick = True
    if no_doc:
        args.no_doc = True
    build = (ROOT / args.build).resolve()
    RESULTS.mkdir(exist_ok=True)
    FIGURES.mkdir(parents=True, exist_ok=True)
    parts = set(args.parts.split(","))
    rec_path = RESULTS / "neural_run.json"
    rec = json.loads(rec_path.read_text()) if rec_path.exists() else {}

    if parts & {"rd", "speed"}:
        if not (build / "bench_neural").exists():
            log(f"{build}/bench_neural is not built: skipped (cmake --build {args.build} "
                "--target bench_neural)")
            return SKIPPED
        models = find_models(args.model)
        if not models:
            log(f"no model files in {MODELS} (nic-rt.aicm, nic-hq.aicm): skipped")
            return SKIPPED
        # QUICK (a smoke run): 6 of the 720p stills only, as bench/run.py's stills part does.
        set_names = ["720p"] if args.quick and args.sets == "720p,512" else args.sets.split(",")
        sets = still_sets(set_names, args.quick, args.images)
        # A run of one part keeps the record of the other when it measured the same models;
        # --add keeps the record of the models it does not measure.
        same = [m["sha256"] for m in rec.get("models", [])] == [m["sha256"] for m in models]
        added = {m["family"] for m in models}
        all_models = ([m for m in rec.get("models", []) if m["family"] not in added] + models
                      if args.add else models)
        prev_runs = dict(rec.get("runs", {}))
        keep = same or args.add
        rec = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
               "command": command or "bench/neural.py " + " ".join(argv if argv is not None
                                                                   else sys.argv[1:]),
               "models": all_models, "impl": args.impl,
               "seconds": dict(rec.get("seconds", {})) if keep else {},
               "load": dict(rec.get("load", {})) if keep else {},
               "runs": dict(prev_runs) if keep else {},
               "sets": ({s: len(f) for s, f in sets} if "rd" in parts and not args.add
                        else rec.get("sets", {})),
               "machine": machine()}
        for name, fn in (("rd", lambda: part_rd(build, models, sets, args)),
                         ("speed", lambda: part_speed(build, models, args))):
            if name not in parts:
                continue
            t, before = time.time(), loadavg()
            measured = fn()
            rec["seconds"][name] = round(time.time() - t)
            rec["load"][name] = {"before": before, "after": loadavg()}
            rec["runs"][name] = provenance(prev_runs.get(name) if args.add else None, measured,
                                           f"`{rec['command']}` on {rec['date']}")
            log(f"{name} done in {rec['seconds'][name]} s, load {before} -> {loadavg()}")
        rec_path.write_text(json.dumps(rec, indent=1) + "\n")
    elif not rec:
        log("no learned-codec results to report")
        return 0

    models = rec.get("models", [])
    names = [m["name"] for m in models]
    rd_path = RESULTS / "neural_rd.csv"
    curves = bdrate.load_curves(rd_path) if rd_path.exists() else {}
    bd = bd_rows(curves, names)
    write_bd(bd)
    speed = read_csv(RESULTS / "neural_speed.csv")
    for p in plot_rd(curves, names) + plot_speed(speed):
        log(f"wrote {p.relative_to(ROOT)}")
    for r in bd:
        if r["metric"] == "psnr_rgb":
            log(f"{r['set']}: {r['codec']} vs {r['anchor']} BD-rate PSNR-RGB {bd_cell(r)}")
    for r in speed:
        log(f"speed {r['family']} {r['width']}x{r['height']} {r['threads']}T: "
            f"{float(r['total_ms']):.1f} ms = {float(r['fps']):.1f} fps")
    if not args.no_doc and rec:
        write_doc(rec, curves, bd, speed, read_csv(RESULTS / "neural_macs.csv"),
                  read_csv(RESULTS / "neural_pipeline.csv"))
        log(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
