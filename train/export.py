#!/usr/bin/python3
"""Exports a trained nic-rt / nic-hq checkpoint to an .aicm model file (docs/model-format.md),
with its integer probability tables and integer hyper-synthesis, and optionally the test
vectors for the C-vs-PyTorch tests.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \\
        /usr/bin/python3 train/export.py --family nic-rt --out models/nic-rt.aicm \\
        --vectors tests/data/nn

Steps: build the z tables (per level and channel) and the 64 Gaussian tables of y; calibrate
and build the integer h_s (quant.IntHyperSynthesis) on training crops; measure every layer of
g_a / g_s / h_a in int8 (weights per output channel, input per tensor) at the highest level on
the first --layer-images validation images and keep f32 where one layer alone loses more than
--max-loss-db (PSNR lost plus the rate increase counted at 3.5 dB per doubling); report bpp /
PSNR per level for float, integer-h_s and the exported precision; write the file and read it
back. The architecture text is described in docs/decisions/0002-neural-codec.md.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aicm  # noqa: E402
import coding  # noqa: E402
import data  # noqa: E402
import entropy  # noqa: E402
import models  # noqa: E402
import quant  # noqa: E402

VECTOR_SIZE = (100, 60)  # width, height: odd sizes at every stage (7 x 4 latents, 2 x 1 z)


def load(family, ckpt):
    model = models.Codec(family)
    st = torch.load(ckpt, map_location="cpu")
    if st.get("family", family) != family:
        raise SystemExit(f"export: {ckpt} is a {st['family']} checkpoint, not {family}")
    model.load_state_dict(st["model"])
    model.eval()
    return model, st.get("step", 0), st.get("qat_scales")


# dB per doubling of the rate of learned codecs at 0.2-1 bpp (CompressAI's hyperprior: 31.0 dB at
# 0.32 bpp, 34.5 at 0.67): turns a rate change into the PSNR change worth the same.
DB_PER_RATE_DOUBLING = 3.5


def equivalent_loss_db(d_psnr, bpp, bpp_new):
    """The PSNR a layer's int8 version loses, its rate increase counted at the RD slope."""
    return -d_psnr + DB_PER_RATE_DOUBLING * np.log2(bpp_new / bpp)


def table_rows(rows):
    return "\n".join(f"  q{r['level']} lambda {r['lambda']:<7} bpp {r['bpp']:.4f} "
                     f"(float estimate {r['bpp_float']:.4f}) PSNR {r['psnr']:.3f} dB"
                     for r in rows)


def build_file(model, fq, int8_layers, ihs, ztab, gtab):
    """Architecture lines and tensors, in execution order: g_a, gains, h_a, the z tables, the
    integer h_s, the Gaussian tables, the inverse gains, g_s."""
    M, Mz = model.M, model.Mz
    lines, t = [], {}

    def add(parts):
        lines.extend(parts[0])
        t.update(parts[1])

    for i, m in enumerate(model.g_a):
        name = f"g_a.{i}"
        add(_gdn(name, m, fq, int8_layers) if isinstance(m, models.GDNLite)
            else _conv(name, m, fq, int8_layers))
    t["gain.y"] = torch.exp(model.log_gain).detach().float().numpy()
    t["gain.z"] = torch.exp(model.log_hgain).detach().float().numpy()
    t["gain.y_inv"] = torch.exp(model.log_igain).detach().float().numpy()
    t["meta.lambdas"] = np.array(model.lambdas, dtype=np.float32)
    lines.append({"name": "gain", "type": "gain", "in": M, "out": M, "y": "gain.y",
                  "z": "gain.z", "lambdas": "meta.lambdas"})
    lines.append({"name": "h_a.abs", "type": "abs", "in": M, "out": M})
    for i, c in enumerate(model.h_a):
        add(_conv(f"h_a.{i}", c, fq, int8_layers, act="relu" if i < 2 else "none"))
    zc, zn, zo = ztab.pack()
    t.update({"z.cdf": zc, "z.count": zn, "z.offset": zo})
    lines.append({"name": "z", "type": "entropy_factorized", "in": Mz, "out": Mz,
                  "cdf": "z.cdf", "count": "z.count", "offset": "z.offset"})
    add(ihs.tensors())
    yc, yn, yo = gtab.pack()
    scales = [entropy.gaussian_scale(i, models.SCALE_COUNT, models.SCALE_MIN, models.SCALE_MAX)
              for i in range(models.SCALE_COUNT)]
    t.update({"y.cdf": yc, "y.count": yn, "y.offset": yo,
              "y.scale": np.array(scales, dtype=np.float32)})
    lines.append({"name": "y", "type": "entropy_gaussian", "in": M, "out": M, "cdf": "y.cdf",
                  "count": "y.count", "offset": "y.offset", "scale": "y.scale"})
    lines.append({"name": "igain", "type": "gain", "in": M, "out": M, "y": "gain.y_inv"})
    for i, m in enumerate(model.g_s):
        name = f"g_s.{i}"
        if isinstance(m, models.GDNLite):
            add(_gdn(name, m, fq, int8_layers))
        else:
            add(_conv(name, m.conv, fq, int8_layers))
            lines.append({"name": f"{name}.up", "type": "depth_to_space",
                          "in": m.conv.out_channels, "out": m.conv.out_channels // 4,
                          "stride": 2})
    return lines, t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", choices=sorted(models.FAMILIES), required=True)
    ap.add_argument("--ckpt", help="default var/train/<family>/last.pt")
    ap.add_argument("--out", help="the .aicm to write (default var/export/<family>.aicm)")
    ap.add_argument("--model-id", type=int)
    ap.add_argument("--version", type=int, default=1)
    ap.add_argument("--val-set", default="512", choices=("512", "720p"))
    ap.add_argument("--val-images", type=int, default=11)
    ap.add_argument("--calib", type=int, default=8, help="training crops for calibration")
    ap.add_argument("--layer-images", type=int, default=4,
                    help="validation images for the per-layer int8 tests")
    ap.add_argument("--max-loss-db", type=float, default=0.1)
    ap.add_argument("--all-f32", action="store_true", help="no int8 in g_a / g_s / h_a")
    ap.add_argument("--all-int8", action="store_true",
                    help="every layer of g_a / g_s / h_a in int8 without the per-layer test (a "
                    "model trained with train.py --qat)")
    ap.add_argument("--vectors", help="write test vectors under DIR/<family>/")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--report", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    ckpt = args.ckpt or str(data.ROOT / "var" / "train" / args.family / "last.pt")
    out = Path(args.out or data.ROOT / "var" / "export" / f"{args.family}.aicm")
    out.parent.mkdir(parents=True, exist_ok=True)
    model, step, qat_scales = load(args.family, ckpt)
    L = model.levels
    print(f"export: {args.family} from {ckpt} (step {step})", flush=True)

    with torch.no_grad():
        ztab = coding.z_tableset(model)
        gtab = coding.gaussian_tableset()
        print(f"export: tables: z {len(ztab)} ({int(ztab.count.sum())} symbols), "
              f"y {len(gtab)} ({int(gtab.count.sum())} symbols)", flush=True)
        calib = [data.to_tensor(data.load_rgb(f))[None]
                 for f in data.calibration_files(args.calib)]
        zcal = []
        for x in calib:
            for level in range(L):
                _, z_hat, _, _, _ = coding.encode_latents(model, x, level)
                zcal.append((z_hat, level, models.down_sizes(x.shape[2], x.shape[3], 4)[4]))
        ihs = quant.IntHyperSynthesis(model, zcal)
        # agreement of integer and float indices on the calibration latents
        agree, total = 0, 0
        for z_hat, level, ysize in zcal:
            a = ihs(z_hat, level, ysize)
            b = coding.float_table_indices(model, z_hat, level, ysize)
            agree += int((a == b).sum())
            total += a.size
        print(f"export: integer h_s picks the float model's table for {100 * agree / total:.2f}% "
              f"of y symbols (calibration crops)", flush=True)

        val = [data.to_tensor(data.load_rgb(f))[None]
               for f in data.val_files(args.val_set)[:args.val_images]]
        report = {"family": args.family, "checkpoint": ckpt, "step": step}
        rows_f = coding.evaluate(model, val, ztab=ztab)
        rows_i = coding.evaluate(model, val, index_fn=ihs, ztab=ztab)
        print("export: float model, float h_s (rounded index):\n" + table_rows(rows_f))
        print("export: float g_a / g_s, integer h_s:\n" + table_rows(rows_i), flush=True)
        report["float"], report["int_hs"] = rows_f, rows_i

        fq = quant.FakeQuant(model, calib, range(L))
        if qat_scales is not None and args.all_int8:
            # the scales the last training steps used (train.py --freeze-scales), not a fresh
            # calibration the weights never saw
            drift = max(abs(qat_scales[n][0] / max(fq.mag[n], 1e-12) - 1) for n in qat_scales)
            fq.set_scales(qat_scales)
            print(f"export: int8 input scales from the checkpoint (a fresh calibration differs "
                  f"by up to {100 * drift:.2f} %)", flush=True)
        top, few = [L - 1], val[:args.layer_images]
        base = coding.evaluate(model, few, top, ihs, ztab)[0]
        int8_layers, per_layer = [], {}
        if args.all_int8:
            int8_layers = list(fq.layers)
        elif not args.all_f32:
            for name in fq.layers:
                fq.enable([name])
                r = coding.evaluate(model, few, top, ihs, ztab)[0]
                fq.disable()
                d_psnr, d_bpp = r["psnr"] - base["psnr"], r["bpp"] - base["bpp"]
                loss = equivalent_loss_db(d_psnr, base["bpp"], r["bpp"])
                per_layer[name] = {"d_psnr": round(d_psnr, 4), "d_bpp": round(d_bpp, 5),
                                   "loss_db": round(loss, 4)}
                keep = loss <= args.max_loss_db
                if keep:
                    int8_layers.append(name)
                print(f"export: {name:<8} int8 at q{L - 1}: {d_psnr:+.3f} dB, {d_bpp:+.4f} bpp, "
                      f"loss {loss:.3f} dB -> {'int8' if keep else 'f32'}", flush=True)
        report["per_layer_int8"] = per_layer
        report["int8_layers"] = int8_layers
        fq.enable(int8_layers)
        rows_q = coding.evaluate(model, val, index_fn=ihs, ztab=ztab)
        print("export: as exported (int8 layers simulated, integer h_s):\n" + table_rows(rows_q),
              flush=True)
        report["exported"] = rows_q

        # ---- the file ----
        lines, tensors = build_file(model, fq, set(int8_layers), ihs, ztab, gtab)
        model_id = args.model_id or model.cfg["model_id"]
        aicm.write_aicm(str(out), family=args.family, model_id=model_id, version=args.version,
                        levels=L, architecture=lines, tensors=tensors)
        back = aicm.read_aicm(str(out))
        report["file"] = {"path": str(out), "bytes": out.stat().st_size, "sha256": back["sha256"],
                          "tensors": len(back["tensors"]), "layers": len(back["layers"])}
        print(f"export: wrote {out}: {out.stat().st_size} bytes, {len(back['layers'])} layers, "
              f"{len(back['tensors'])} tensors, sha256 {back['sha256'][:16]}...", flush=True)

        if args.vectors:
            report["vectors"] = write_vectors(Path(args.vectors), model, ihs, ztab, gtab,
                                              back["sha256"], val_files=data.val_files("512"))
    fq.disable()
    report["seconds"] = round(time.time() - t0, 1)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1) + "\n")
    print(f"export: done in {report['seconds']} s")


def _conv(name, conv, fq, int8_layers, act="none"):
    t = {}
    q = name in int8_layers
    if q:
        s, unsigned = fq.input_scale(name)
        w, sw = quant.quantize_layer_weight(conv.weight, unsigned)
        t[f"{name}.weight"] = (w, sw, 0)
        t[f"{name}.in_scale"] = np.array([s], dtype=np.float32)
    else:
        t[f"{name}.weight"] = conv.weight.detach().float().numpy()
    t[f"{name}.bias"] = conv.bias.detach().float().numpy()
    line = {"name": name, "type": "conv2d", "in": conv.in_channels, "out": conv.out_channels,
            "kernel": conv.kernel_size[0], "stride": conv.stride[0], "act": act,
            "weight": f"{name}.weight", "bias": f"{name}.bias"}
    if q:
        line["in_scale"] = f"{name}.in_scale"
    return [line], t


def _gdn(name, gdn, fq, int8_layers):
    t = {}
    ch = gdn.beta.p.shape[0]
    t[f"{name}.beta"] = gdn.beta().detach().float().numpy()
    gamma = gdn.gamma().detach()
    q = name in int8_layers
    if q:
        w, sg = quant.quantize_layer_weight(gamma, True)
        t[f"{name}.gamma"] = (w, sg, 0)
        s, _ = fq.input_scale(name)
        t[f"{name}.in_scale"] = np.array([s], dtype=np.float32)
    else:
        t[f"{name}.gamma"] = gamma.float().numpy()
    line = {"name": name, "type": "igdn_lite" if gdn.inverse else "gdn_lite", "in": ch,
            "out": ch, "beta": f"{name}.beta", "gamma": f"{name}.gamma"}
    if q:
        line["in_scale"] = f"{name}.in_scale"
    return [line], t


def _save(path, arr, dtype):
    a = np.asarray(arr)
    info = np.iinfo(dtype) if np.issubdtype(np.dtype(dtype), np.integer) else None
    if info is not None and (a.min() < info.min or a.max() > info.max):
        raise ValueError(f"{path.name}: values outside {np.dtype(dtype).name}")
    path.write_bytes(a.astype(np.dtype(dtype).newbyteorder("<")).tobytes())
    return path.name


def write_vectors(root, model, ihs, ztab, gtab, sha, val_files):
    """The C-vs-PyTorch test vectors (tests/data/nn/README.md has the layout): one 100x60 crop,
    and for the lowest and the highest level the latents, table indices, both rANS streams and
    the reconstruction of the model as exported."""
    root.mkdir(parents=True, exist_ok=True)
    w, h = VECTOR_SIZE
    rgb = data.load_rgb(val_files[0])
    y0, x0 = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
    crop = np.ascontiguousarray(rgb[y0:y0 + h, x0:x0 + w])
    inp = root / "input_100x60.rgb"
    if not inp.exists() or inp.read_bytes() != crop.tobytes():
        inp.write_bytes(crop.tobytes())
    x = data.to_tensor(crop)[None]
    fam = root / model.family
    fam.mkdir(exist_ok=True)
    summary = []
    ztables, ytables = ztab.tables, gtab.tables
    for level in sorted({0, model.levels - 1}):
        d = fam / f"q{level}"
        d.mkdir(exist_ok=True)
        y_hat, z_hat, idx, x_hat, _ = coding.encode_latents(model, x, level, ihs)
        zs = entropy.rans_encode_factorized(
            ztables[level * model.Mz:(level + 1) * model.Mz], z_hat.reshape(model.Mz, -1))
        ys = entropy.rans_encode_indexed(ytables, idx, y_hat)
        assert np.array_equal(entropy.rans_decode_indexed(ytables, idx, ys), y_hat.ravel())
        rec = (torch.round(torch.clamp(x_hat[0], 0, 1) * 255).to(torch.uint8)
               .permute(1, 2, 0).contiguous().numpy())
        files = {
            "y_hat": _save(d / "y_hat.i16", y_hat, np.int16),
            "z_hat": _save(d / "z_hat.i16", z_hat, np.int16),
            "index": _save(d / "index.u8", idx, np.uint8),
            "recon": _save(d / "recon.rgb", rec, np.uint8),
        }
        (d / "z.rans").write_bytes(zs)
        (d / "y.rans").write_bytes(ys)
        meta = {
            "family": model.family, "model_sha256": sha, "level": level,
            "input": "../../input_100x60.rgb", "width": w, "height": h,
            "y_shape": "x".join(map(str, y_hat.shape)), "z_shape": "x".join(map(str, z_hat.shape)),
            "z_tables": f"{level * model.Mz}..{(level + 1) * model.Mz - 1}",
            "z_bytes": len(zs), "y_bytes": len(ys),
            "psnr": f"{coding.psnr(x, x_hat):.3f}",
        }
        meta.update({k: v for k, v in files.items()})
        meta.update({"z_stream": "z.rans", "y_stream": "y.rans"})
        (d / "vector.txt").write_text("".join(f"{k}={v}\n" for k, v in meta.items()))
        summary.append(meta)
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(f"export: test vectors in {fam} ({total} bytes under {root})", flush=True)
    return summary


if __name__ == "__main__":
    main()
