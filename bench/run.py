#!/usr/bin/python3
"""The driver behind `make bench`: runs bench_codecs and bench_video on var/data (made by
scripts/prepare-data), computes BD-rates, draws the plots and rewrites the results section of
docs/benchmarks.md. Raw results stay in bench/results/ (CSV), plots in docs/benchmarks/ (PNG).

Four parts:
  stills  RD of every lossy backend and the peers (WebP, libaom all-intra) at levels 1..8
  speed   encode and decode frames per second through the engine at 360p, 720p and 1080p
  goal    on each 720p sequence: VP8 at 2.5 Mbps, then the engine's quality-targeted mode with
          min_ssim = VP8's mean SSIM, and fixed-bitrate sweeps of each rate-controlled codec to
          compare at equal mean SSIM
  neural  the learned codec's models (models/*.aicm) against the still peers, and its speed
          per stage: bench/neural.py, which writes its own section of the document; skipped
          when bench_neural is not built or there is no model file

Timing runs (stills, speed) run one at a time; the goal runs, which report no timing that the
tables use, run two at a time (the machine has 2 cores).

usage: bench/run.py [--build build-bench] [--quick] [--started EPOCH]
                   [--only stills,speed,goal,neural | --only report] [--no-doc]
"""
import argparse
import concurrent.futures
import csv
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import bdrate  # noqa: E402
import neural  # noqa: E402
from common import read_csv, run  # noqa: E402
import plot  # noqa: E402

DATA = Path(os.environ.get("AIC_DATA", ROOT / "var" / "data"))
RESULTS = HERE / "results"
FIGURES = ROOT / "docs" / "benchmarks"  # media files live under docs/
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

STILL_CODECS = ["jpeg", "webp", "vp8", "av1", "aom-still", "neural"]
VIDEO_CODECS = ["vp8", "av1", "jpeg", "neural"]
RATE_CODECS = ["vp8", "av1"]  # the backends with rate control (bitrate_kbps)
GOAL_KBPS = 2500
MATCH_TOLERANCE = 0.0005
GOAL_FRACTION = 0.20
SPEED_LEVEL = 5


def log(msg):
    print(f"bench: {msg}", flush=True)


# --- the three parts --------------------------------------------------------------------------


def part_stills(build, quick):
    out = RESULTS / "rd.csv"
    out.unlink(missing_ok=True)
    stills = sorted((DATA / "val" / "720p").glob("*.png"))
    if quick:
        stills = [p for p in stills if p.stem.endswith("_full")][:6]
    sets = [("720p", stills)]
    if not quick:
        sets.append(("512", sorted((DATA / "val" / "512").glob("*.png"))))
    for name, files in sets:
        if not files:
            sys.exit(f"bench: no stills in {DATA}/val: run scripts/prepare-data")
        log(f"stills {name}: {len(files)} images x {','.join(STILL_CODECS)} x levels 1..8")
        run([build / "bench_codecs", "--out", out, "--set", name, "--codecs",
             ",".join(STILL_CODECS)] + files, quiet=True)


def part_speed(build, quick, codecs):
    out = RESULTS / "speed.csv"
    out.unlink(missing_ok=True)
    frames = 20 if quick else 60
    for w, h in ((640, 360), (1280, 720), (1920, 1080)):
        seq = DATA / "video" / f"speed_{w}x{h}.y4m"
        for codec in codecs:
            log(f"speed {codec} {w}x{h}")
            run([build / "bench_video", "--y4m", seq, "--out", out, "--label", "speed",
                 "--codec", codec, "--quality", str(SPEED_LEVEL), "--frames", str(frames)],
                quiet=True)


def part_goal(build, quick, codecs):
    out = RESULTS / "video.csv"
    fout = RESULTS / "goal_frames.csv"
    for p in (out, fout):
        p.unlink(missing_ok=True)
    seqs = sorted((DATA / "video").glob("*_720p.y4m"))
    frames = 30 if quick else 90
    rates = [500, 1000, 2500] if quick else [250, 500, 1000, 2500, 5000]
    if quick:  # one real video and one synthetic pan
        seqs = [next(s for s in seqs if s.name.startswith(k)) for k in ("tree", "pan")
                if any(s.name.startswith(k) for s in seqs)]
    rate_codecs = [c for c in RATE_CODECS if c in codecs]

    def bv(seq, label, *args, per_frame=False):
        cmd = [build / "bench_video", "--y4m", seq, "--out", out, "--label", label,
               "--frames", str(frames), "--fps", "30"] + [str(a) for a in args]
        if per_frame:
            cmd += ["--frames-out", fout]
        return run(cmd, quiet=True)

    def match_mean(seq, target):
        """The goal compares at the same MEAN SSIM, while min_ssim is a floor on every frame (the
        engine's mean lands above it). Search the floor, in distortion (1 - SSIM) multiples of
        VP8's mean distortion, whose run gives a mean SSIM at least VP8's; the analysis keeps
        the cheapest such run."""
        d = 1.0 - target
        lo, hi = 1.0, 4.0
        for it in range(4 if quick else 6):
            m = math.sqrt(lo * hi)
            label = f"match-{it}"
            bv(seq, label, "--codec", "auto", "--min-ssim", f"{1.0 - d * m:.6f}")
            row = [r for r in read_csv(out) if r["seq"] == seq.stem and r["label"] == label]
            if row and float(row[-1]["mean_ssim"]) >= target - MATCH_TOLERANCE:
                lo = m
            else:
                hi = m

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        jobs = []
        for seq in seqs:
            log(f"goal {seq.stem}: vp8 at {GOAL_KBPS} kbps")
            bv(seq, "vp8-2500", "--codec", "vp8", "--bitrate", GOAL_KBPS, per_frame=True)
            row = [r for r in read_csv(out) if r["seq"] == seq.stem and r["label"] == "vp8-2500"]
            target = float(row[-1]["mean_ssim"])
            log(f"goal {seq.stem}: engine at min_ssim {target:.4f}, sweeps")
            jobs.append(pool.submit(bv, seq, "engine", "--codec", "auto", "--min-ssim",
                                    f"{target:.6f}", per_frame=True))
            jobs.append(pool.submit(match_mean, seq, target))
            for codec in rate_codecs:
                for kbps in rates:
                    jobs.append(pool.submit(bv, seq, f"sweep-{kbps}", "--codec", codec,
                                            "--bitrate", kbps))
            if not quick:
                for codec in codecs:
                    jobs.append(pool.submit(bv, seq, "engine-fixed", "--codec", codec,
                                            "--min-ssim", f"{target:.6f}"))
        for j in jobs:
            j.result()


# --- analysis ---------------------------------------------------------------------------------


def rate_at_ssim(points, target):
    """kbps at which a fixed-bitrate sweep reaches mean SSIM `target`: log-rate interpolated
    linearly in SSIM dB between the two sweep points around it. (None, '<' or '>') when the
    target lies outside the sweep."""
    pts = sorted((bdrate.ssim_db(s), math.log(k)) for k, s in points)
    t = bdrate.ssim_db(target)
    if not pts:
        return None, "?"
    if t < pts[0][0]:
        return None, "<"
    if t > pts[-1][0]:
        return None, ">"
    for (q0, r0), (q1, r1) in zip(pts, pts[1:]):
        if q0 <= t <= q1:
            f = 0 if q1 == q0 else (t - q0) / (q1 - q0)
            return math.exp(r0 + f * (r1 - r0)), ""
    return math.exp(pts[-1][1]), ""


def goal_analysis(rows):
    by_seq = defaultdict(list)
    for r in rows:
        by_seq[r["seq"]].append(r)
    out = []
    for seq, rs in sorted(by_seq.items()):
        vp8 = next((r for r in rs if r["label"] == "vp8-2500"), None)
        eng = next((r for r in rs if r["label"] == "engine"), None)
        if not vp8 or not eng:
            continue
        sweeps = defaultdict(list)
        for r in rs:
            if r["label"].startswith("sweep-"):
                sweeps[r["codec_pref"]].append((float(r["kbps"]), float(r["mean_ssim"])))
        eq = {c: rate_at_ssim(p, float(eng["mean_ssim"])) for c, p in sweeps.items()}
        at_vp8 = {c: rate_at_ssim(p, float(vp8["mean_ssim"])) for c, p in sweeps.items()}
        fixed = {r["codec_pref"]: r for r in rs if r["label"] == "engine-fixed"}
        ok = [r for r in rs if r["label"].startswith("match-") and
              float(r["mean_ssim"]) >= float(vp8["mean_ssim"]) - MATCH_TOLERANCE]
        matched = min(ok, key=lambda r: float(r["kbps"])) if ok else None
        out.append({"seq": seq, "vp8": vp8, "engine": eng, "eq": eq, "at_vp8": at_vp8,
                    "fixed": fixed, "matched": matched})
    return out


# --- the document -----------------------------------------------------------------------------


def sh(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              shell=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = sh("free -g | awk '/^Mem:/{print $2}'")
    libs = ", ".join(
        f"{name} {sh(f'pkg-config --modversion {pc}') or 'absent'}"
        for name, pc in (("libvpx", "vpx"), ("libaom", "aom"), ("libjpeg-turbo", "libturbojpeg"),
                         ("libwebp", "libwebp"))
    )
    commit = sh(f"git -C {ROOT} rev-parse --short HEAD")
    dirty = sh(f"git -C {ROOT} status --porcelain --untracked-files=no -- src include")
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "mem": f"{mem} GiB" if mem else "?",
        "os": sh(". /etc/os-release && echo $PRETTY_NAME") or platform.platform(),
        "cc": sh("cc --version | head -1"),
        "libs": libs,
        "commit": commit + (" with uncommitted changes in src/ or include/" if dirty else ""),
    }


def f1(v, nd=1):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def pct(v):
    return "n/a" if v is None or math.isnan(v) else f"{100 * v:+.1f} %"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def stills_section(curves_all):
    md = []
    for set_name, curves in curves_all.items():
        n = max(p[3] for pts in curves.values() for p in pts)
        size = "1280x720" if set_name == "720p" else f"{set_name}x{set_name}"
        md.append(f"### Stills {set_name} ({n} images, {size})\n")
        md.append(f"![RD curves {set_name}](benchmarks/rd_{set_name}.png)\n")
        for anchor in ("jpeg", "webp"):
            if anchor not in curves:
                continue
            rows = []
            for codec in curves:
                if codec == anchor:
                    continue
                rows.append([codec] + [pct(bdrate.curve_bd(curves, anchor, codec, col))
                                       for col, _, _ in bdrate.METRICS])
            md.append(f"BD-rate against {anchor} (negative: fewer bits for the same quality):\n")
            md.append(table(["codec"] + [label for _, label, _ in bdrate.METRICS], rows) + "\n")
        if set_name == "720p" or len(curves_all) == 1:
            rows = []
            for codec, pts in curves.items():
                for level, bpp, m, _ in pts:
                    rows.append([codec, level, f"{bpp:.3f}", f1(m["psnr_rgb"], 2),
                                 f1(m["psnr_y"], 2), f1(m["ssim_y"], 4), f1(m["msssim_y"], 4),
                                 f1(m["enc_ms"]), f1(m["dec_ms"])])
            md.append("Means per level (encode time from RGB in, decode time to RGB out, one "
                      "thread):\n")
            md.append(table(["codec", "level", "bpp", "PSNR-RGB", "PSNR-Y", "SSIM", "MS-SSIM",
                             "enc ms", "dec ms"], rows) + "\n")
    return "\n".join(md)


def speed_section(rows):
    if not rows:
        return "No speed results.\n"
    out = []
    for r in rows:
        ok = r["codec_mix"] == f"{r['codec_pref']}:{r['frames']}"
        out.append([r["codec_pref"], f"{r['width']}x{r['height']}", r["frames"],
                    f1(float(r["enc_fps_codec"])), f1(float(r["enc_fps_engine"])),
                    f1(float(r["dec_fps"])), f1(float(r["kbps"]), 0),
                    f1(float(r["mean_ssim"]), 4) + ("" if ok else f" ({r['codec_mix']})")])
    return (f"Engine session, fixed quality level {SPEED_LEVEL}, default speed (7), one thread, "
            "synthetic pan. *codec* counts the backend's encode call alone; *engine* the whole "
            "aic_engine_compress call (conversion-free I420 in, plus its own decode and SSIM "
            "of the result); decode is aic_engine_decompress in a receiver session.\n\n" +
            table(["codec", "size", "frames", "encode fps (codec)", "encode fps (engine)",
                   "decode fps", "kbit/s", "mean SSIM"], out) + "\n")


def goal_section(goal):
    if not goal:
        return "No goal results.\n"
    rows, fr = [], []
    for g in goal:
        v, e = g["vp8"], g["engine"]
        f = float(e["kbps"]) / GOAL_KBPS
        fr.append(f)
        rows.append([g["seq"], v["frames"], f1(float(v["kbps"]), 0), f1(float(v["mean_ssim"]), 4),
                     f1(float(v["min_ssim_got"]), 4), f1(float(e["kbps"]), 0),
                     f"**{100 * f:.0f} %**" + (" met" if f <= GOAL_FRACTION else " missed"),
                     f1(float(e["mean_ssim"]), 4), f1(float(e["min_ssim_got"]), 4),
                     e["below_floor"], e["codec_mix"].replace(";", " "),
                     int(e["attempts"]) - int(e["frames"])])
    mean_f = sum(fr) / len(fr)
    md = [f"Each 720p sequence at 30 fps: VP8 with `bitrate_kbps={GOAL_KBPS}`, then the engine "
          "(`codec_preference=AUTO`, `min_ssim` = VP8's mean SSIM on that sequence). SSIM is "
          "measured on what the receiver decodes. Goal: the engine at <= "
          f"{100 * GOAL_FRACTION:.0f} % of {GOAL_KBPS} kbit/s.\n",
          table(["sequence", "frames", "VP8 kbit/s", "VP8 mean SSIM", "VP8 min SSIM",
                 "engine kbit/s", "of 2.5 Mbit/s", "engine mean SSIM", "engine min SSIM",
                 "frames below floor", "codecs", "extra encodes"], rows) + "\n",
          f"Mean over sequences: the engine used **{100 * mean_f:.0f} %** of 2.5 Mbit/s "
          f"(goal {100 * GOAL_FRACTION:.0f} %: " +
          ("met" if mean_f <= GOAL_FRACTION else "missed") + f"; {sum(x <= GOAL_FRACTION for x in fr)}"
          f" of {len(fr)} sequences within it).\n"]
    rows, fm = [], []
    for g in goal:
        v, m = g["vp8"], g.get("matched")
        if not m:
            rows.append([g["seq"], f1(float(v["mean_ssim"]), 4), "no run reached it", "", "", ""])
            continue
        f = float(m["kbps"]) / GOAL_KBPS
        fm.append(f)
        rows.append([g["seq"], f1(float(v["mean_ssim"]), 4), f1(float(m["min_ssim"]), 4),
                     f1(float(m["mean_ssim"]), 4), f1(float(m["kbps"]), 0),
                     f"**{100 * f:.0f} %**" + (" met" if f <= GOAL_FRACTION else " missed")])
    if fm:
        mean_m = sum(fm) / len(fm)
        md.append("**At the same mean SSIM** (what the goal asks): `min_ssim` is a floor on "
                  "every frame, so the engine's mean lands above it. The bench searches the "
                  "floor (6 runs per sequence, bisecting the floor's distortion between 1x and "
                  "4x VP8's mean distortion) and keeps the cheapest run whose mean SSIM is at "
                  f"least VP8's (tolerance {MATCH_TOLERANCE}):\n")
        md.append(table(["sequence", "VP8 mean SSIM", "engine floor", "engine mean SSIM",
                         "engine kbit/s", "of 2.5 Mbit/s"], rows) + "\n")
        md.append(f"Mean over sequences at equal mean SSIM: **{100 * mean_m:.0f} %** of 2.5 "
                  f"Mbit/s (goal {100 * GOAL_FRACTION:.0f} %: " +
                  ("met" if mean_m <= GOAL_FRACTION else "missed") +
                  f"; {sum(x <= GOAL_FRACTION for x in fm)} of {len(fm)} sequences within "
                  "it).\n")
    # Equal mean SSIM: the engine's per-frame floor lifts its mean above the floor, so the fair
    # comparison is against what each fixed-bitrate codec needs for the engine's own mean.
    codecs = sorted({c for g in goal for c in g["eq"]})
    if codecs:
        rows = []
        for g in goal:
            e = float(g["engine"]["kbps"])
            cells = [g["seq"], f1(float(g["engine"]["mean_ssim"]), 4), f1(e, 0)]
            for c in codecs:
                k, where = g["eq"].get(c, (None, "?"))
                if k is None:
                    cells.append({"<": "below sweep", ">": "above sweep"}.get(where, "n/a"))
                else:
                    cells.append(f"{k:.0f} (engine {100 * e / k:.0f} %)")
            rows.append(cells)
        md.append("At equal mean SSIM: the bitrate each rate-controlled codec needs for the "
                  "engine's mean SSIM (interpolated in its bitrate sweep, log-rate linear in "
                  "SSIM dB), and the engine's rate as a share of it:\n")
        md.append(table(["sequence", "engine mean SSIM", "engine kbit/s"] +
                        [f"{c} CBR kbit/s" for c in codecs], rows) + "\n")
        rows = []
        for g in goal:
            cells = [g["seq"], f1(float(g["vp8"]["mean_ssim"]), 4)]
            for c in codecs:
                k, where = g["at_vp8"].get(c, (None, "?"))
                if k is None:
                    cells.append({"<": "below sweep", ">": "above sweep"}.get(where, "n/a"))
                else:
                    cells.append(f"{k:.0f} ({100 * k / GOAL_KBPS:.0f} %)")
            rows.append(cells)
        md.append("What the goal asks of a codec alone: the bitrate each rate-controlled codec "
                  "needs for VP8-at-2.5-Mbit/s's mean SSIM, and its share of 2500 kbit/s:\n")
        md.append(table(["sequence", "VP8 mean SSIM"] + [f"{c} CBR kbit/s" for c in codecs],
                        rows) + "\n")
    if any(g["fixed"] for g in goal):
        names = sorted({c for g in goal for c in g["fixed"]})
        rows = []
        for g in goal:
            cells = [g["seq"]]
            for c in names:
                r = g["fixed"].get(c)
                cells.append("n/a" if not r else
                             f"{float(r['kbps']):.0f} / {float(r['mean_ssim']):.4f} / "
                             f"{r['below_floor']}")
            rows.append(cells)
        md.append("The engine's quality-targeted mode held to one codec (same `min_ssim`): "
                  "kbit/s / mean SSIM / frames below the floor:\n")
        md.append(table(["sequence"] + names, rows) + "\n")
    md.append("![engine goal](benchmarks/engine_goal.png)\n")
    return "\n".join(md)


def data_summary():
    man = DATA / "manifest.json"
    if not man.exists():
        return ""
    m = json.loads(man.read_text())
    imgs = m["images"]
    val = [i for i in imgs if i["split"] == "val"]
    return (f"Data: {len(imgs)} pictures from {', '.join(sorted(m['packages']))} "
            f"({len(val)} validation: {', '.join(i['name'] for i in val)}); "
            f"videos: {', '.join(sorted(m['videos']))}.")


def record_run(args, times, total):
    """bench/results/run.json: when and how the results in bench/results/ were made. A run of
    some parts updates their entries only, so re-plotting (--only report) keeps the record of
    the run that measured."""
    path = RESULTS / "run.json"
    rec = json.loads(path.read_text()) if path.exists() else {}
    if not times:
        return rec
    rec.setdefault("parts", {})
    for k, v in times.items():
        rec["parts"][k] = {"seconds": round(v), "quick": args.quick}
    rec["date"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    if set(times) >= {"stills", "speed", "goal"}:
        rec["command"] = "make bench" + (" QUICK=1" if args.quick else "")
        rec["total_seconds"] = round(total)
        rec["total_includes_setup"] = args.started is not None
    else:
        rec["command"] = f"bench/run.py --only {','.join(times)}" + (" --quick" if args.quick
                                                                    else "")
    rec["machine"] = machine()
    path.write_text(json.dumps(rec, indent=1) + "\n")
    return rec


def write_doc(sections, rec):
    info = rec.get("machine") or machine()
    parts = ", ".join(f"{k} {v['seconds']} s" + (" (quick)" if v["quick"] else "")
                      for k, v in rec.get("parts", {}).items())
    total = ""
    if "total_seconds" in rec:
        total = f"{rec['total_seconds'] / 60:.1f} min in all" + (
            " (deps, build and data included)" if rec.get("total_includes_setup") else "") + "; "
    head = [
        f"Last run: `{rec.get('command', '?')}` on {rec.get('date', '?')}; {total}{parts}.",
        "",
        f"Machine: {info['nproc']} cores, {info['cpu']}, {info['mem']}, {info['os']}; "
        f"{info['cc']}; {info['libs']}. libaic at {info['commit']}.",
        "",
        data_summary(),
        "",
    ]
    block = "\n".join([BEGIN, *head, *sections, END])
    text = DOC.read_text() if DOC.exists() else ""
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + ("\n\n" if text else "# Benchmarks\n\n") + "## Results\n\n" + block
    DOC.write_text(text.rstrip() + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-bench")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--started", type=float, default=None, help="epoch the make run began")
    ap.add_argument("--only", default="stills,speed,goal,neural",
                    help="parts to run; 'report' runs none and only rewrites the report")
    ap.add_argument("--no-doc", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    build = (ROOT / args.build).resolve()
    RESULTS.mkdir(exist_ok=True)
    only = set(args.only.split(","))
    learned = dict(build=args.build, quick=args.quick, no_doc=args.no_doc,
                   command=f"bench/run.py --only {args.only}" + (" --quick" if args.quick else ""))
    if only >= {"stills", "speed", "goal", "neural"}:
        learned["command"] = "make bench" + (" QUICK=1" if args.quick else "")
    if only == {"neural"}:  # needs neither bench_video nor the classical results
        neural.main(["--parts", "rd,speed"], **learned)
        return
    have = run([build / "bench_video", "--list-codecs"], quiet=True).split()
    video_codecs = [c for c in VIDEO_CODECS if c in have]
    missing = [c for c in VIDEO_CODECS if c not in have]
    if missing:
        log(f"not in this build: {', '.join(missing)}")
    times = {}
    for name, fn in (("stills", lambda: part_stills(build, args.quick)),
                     ("speed", lambda: part_speed(build, args.quick, video_codecs)),
                     ("goal", lambda: part_goal(build, args.quick, video_codecs)),
                     ("neural", lambda: neural.main(["--parts", "rd,speed"], **learned))):
        if name in only:
            t = time.time()
            if fn() == neural.SKIPPED:
                continue
            times[name] = time.time() - t
            log(f"{name} done in {times[name]:.0f} s")
    if "report" in only:
        neural.main(["--parts", "report"], no_doc=args.no_doc)

    curves = bdrate.load_curves(RESULTS / "rd.csv") if (RESULTS / "rd.csv").exists() else {}
    with open(RESULTS / "bdrate.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["set", "anchor", "codec", "metric", "bd_rate"])
        for s, c in curves.items():
            for anchor, test, metric, bd in bdrate.bd_matrix(c):
                w.writerow([s, anchor, test, metric, f"{bd:.4f}"])
    FIGURES.mkdir(parents=True, exist_ok=True)
    for p in plot.plot_rd(RESULTS, FIGURES) + plot.plot_engine(RESULTS, FIGURES):
        log(f"wrote {p.relative_to(ROOT)}")
    goal = goal_analysis(read_csv(RESULTS / "video.csv"))

    total = time.time() - (args.started or t0)
    rec = record_run(args, times, total)
    sections = ["### The engine goal: quality-targeted vs. VP8 at 2.5 Mbit/s\n",
                goal_section(goal), "### Speed\n", speed_section(read_csv(RESULTS / "speed.csv")),
                stills_section(curves)]
    if not args.no_doc:
        write_doc(sections, rec)
        log(f"wrote {DOC.relative_to(ROOT)}")
    for g in goal:
        e = float(g["engine"]["kbps"])
        log(f"goal {g['seq']}: vp8 {float(g['vp8']['kbps']):.0f} kbps SSIM "
            f"{float(g['vp8']['mean_ssim']):.4f}; engine {e:.0f} kbps = "
            f"{100 * e / GOAL_KBPS:.0f} % of {GOAL_KBPS}")
    log(f"done in {total / 60:.1f} min" + (" (deps, build and data included)" if args.started
                                            else ""))


if __name__ == "__main__":
    main()
