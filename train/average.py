#!/usr/bin/python3
"""Averages the weights of checkpoints of one run (Polyak averaging over snapshots), and
optionally validates the result, as train.py does, at the levels given.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 \\
        train/average.py --out var/train/nic-hq-avg.pt --eval 0,4,7 \\
        var/train/widened2-lr2e5/nic-hq/step-{4000,4400,4800}.pt

Why: at a small learning rate late snapshots sit around one minimum, and a single one carries
the noise of the last few hundred steps (the validation moved by ~0.2 dB between snapshots
400 steps apart). Their mean sits nearer the centre. Only useful within one run at a low
learning rate; snapshots far apart along the path need not average into a good model.

The output is a checkpoint export.py takes with --ckpt (weights only, like train.py's
snapshots): {"model", "step" (the last input's), "family", "config": {"averaged": [...]}}.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import coding  # noqa: E402
import data  # noqa: E402
import models  # noqa: E402


def average(paths):
    """The mean of the float tensors of the checkpoints' "model" state; other tensors (integer
    buffers) from the last. Every checkpoint must be of the same family and shapes."""
    states, family, step = [], None, 0
    for p in paths:
        st = torch.load(p, map_location="cpu")
        fam = st.get("family")
        if fam not in models.FAMILIES:
            raise SystemExit(f"average: {p} names no known family ({fam!r})")
        if family is not None and fam != family:
            raise SystemExit(f"average: {p} is a {fam} checkpoint, the first is {family}")
        family, step = fam, st.get("step", 0)
        states.append(st["model"])
    first = states[0]
    for p, s in zip(paths, states):
        if s.keys() != first.keys() or any(s[k].shape != first[k].shape for k in first):
            raise SystemExit(f"average: {p} has other tensors than {paths[0]}")
    out = {}
    for k, v in states[-1].items():
        if v.is_floating_point():
            out[k] = torch.stack([s[k].double() for s in states]).mean(0).to(v.dtype)
        else:
            out[k] = v.clone()
    return out, family, step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpts", nargs="+", help="checkpoints of one run (train.py's step-N.pt)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--eval", help="validate at these levels (comma separated), e.g. 0,4,7")
    ap.add_argument("--val-set", default="512", choices=("512", "720p"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if len(args.ckpts) < 2:
        raise SystemExit("average: give at least two checkpoints")
    state, family, step = average(args.ckpts)
    model = models.Codec(family)
    model.load_state_dict(state)  # checks the names and shapes against the family
    bad_levels = f"average: --eval levels must lie in 0..{model.levels - 1}"
    try:
        levels = [int(v) for v in args.eval.split(",")] if args.eval else []
    except ValueError:
        raise SystemExit(bad_levels) from None
    if any(not 0 <= v < model.levels for v in levels):
        raise SystemExit(bad_levels)
    torch.save({"model": state, "step": step, "family": family,
                "config": {"averaged": [str(p) for p in args.ckpts]}}, args.out)
    print(f"average: {len(args.ckpts)} {family} checkpoints -> {args.out}", flush=True)
    if levels:
        images = [data.to_tensor(data.load_rgb(f))[None] for f in data.val_files(args.val_set)]
        with torch.no_grad():
            rows = coding.evaluate(model, images, levels)
        print(json.dumps({"averaged": len(args.ckpts), "val": rows}), flush=True)


if __name__ == "__main__":
    main()
