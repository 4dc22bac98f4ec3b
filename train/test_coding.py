"""Tests of the Python side of the learned codec: tables, rANS, size estimate, integer
hyper-synthesis, export. Run: /usr/bin/python3 -m pytest -q train (about 30 s).

The C side is checked against the same code through the test vectors (tests/data/nn/)."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aicm  # noqa: E402
import coding  # noqa: E402
import entropy  # noqa: E402
import models  # noqa: E402
import quant  # noqa: E402

torch.set_num_threads(2)


def valid(cdf):
    return cdf[0] == 0 and cdf[-1] == 65536 and all(b > a for a, b in zip(cdf, cdf[1:]))


def test_cdf_from_pmf_floor_and_total():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 300, 3000):
        pmf = rng.uniform(size=n) ** 12  # many tiny masses: the floor matters
        cdf = entropy.cdf_from_pmf(pmf.tolist(), 1e-9)
        assert len(cdf) == n + 2 and valid(cdf)
    cdf = entropy.cdf_from_pmf([0.0, 1.0, 0.0], 0.0)
    assert valid(cdf) and cdf[2] - cdf[1] == 65536 - 3


def test_cdf_from_pmf_matches_proportions():
    cdf = entropy.cdf_from_pmf([0.5, 0.25, 0.25], 0.0)
    assert np.diff(cdf).tolist() == [32767, 16384, 16384, 1]


def test_gaussian_tables_shape():
    tabs = entropy.gaussian_tables(8, 0.11, 256.0, 1e-6)
    assert len(tabs) == 8
    for off, cdf in tabs:
        assert valid(cdf) and off == -(len(cdf) - 3) // 2


@pytest.mark.parametrize("seed", [1, 2])
def test_rans_roundtrip_and_estimate(seed):
    rng = np.random.default_rng(seed)
    tabs = entropy.gaussian_tables(16, 0.11, 64.0, 1e-6)
    ts = entropy.TableSet(tabs)
    idx = rng.integers(0, 16, 3001)
    scales = np.array([entropy.gaussian_scale(i, 16, 0.11, 64.0) for i in range(16)])
    vals = np.round(rng.normal(0, scales[idx])).astype(np.int64)
    vals[::101] = rng.integers(-70000, 70000, len(vals[::101]))  # escapes, some > 2^16 away
    vals[3] = -2 ** 31
    vals[4] = 2 ** 31 - 1
    data = entropy.rans_encode_indexed(tabs, idx, vals)
    assert np.array_equal(entropy.rans_decode_indexed(tabs, idx, data), vals)
    est = coding.stream_bytes(ts.bits(vals, idx).sum())
    assert abs(est - len(data)) <= 3

    ztabs = [entropy.factorized_table(np.linspace(0, 1, 12) ** p, -5, 1e-6)
             for p in (0.5, 1.0, 2.0)]
    z = rng.integers(-8, 9, (3, 50))
    data = entropy.rans_encode_factorized(ztabs, z)
    assert np.array_equal(entropy.rans_decode_factorized(ztabs, data, 3, 50), z)
    zt = np.repeat(np.arange(3)[:, None], 50, axis=1)
    assert abs(coding.stream_bytes(entropy.TableSet(ztabs).bits(z, zt).sum()) - len(data)) <= 3


def test_empty_stream_is_eight_bytes():
    tabs = entropy.gaussian_tables(1, 1.0, 1.0, 1e-6)
    assert len(entropy.rans_encode_indexed(tabs, [], [])) == 8


def test_mult_shift():
    for r in (1e-7, 0.003, 0.5, 1.0, 3.7, 1000.0):
        m, s = quant.mult_shift(np.array([r]))
        assert (1 << 30) <= m[0] < (1 << 31) and abs(m[0] / 2.0 ** s[0] / r - 1) < 1e-9


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    m = models.Codec("nic-rt")
    m.eval()
    return m


def test_shapes_and_crop(small_model):
    x = torch.rand(2, 3, 60, 100)
    out = small_model(x, torch.tensor([0, 5]))
    assert out["x_hat"].shape == x.shape
    assert out["y_hat"].shape == (2, 96, 4, 7) and out["z_hat"].shape == (2, 32, 1, 2)


def test_integer_hyper_synthesis(small_model):
    x = torch.rand(1, 3, 60, 100)
    calib = []
    for level in range(small_model.levels):
        _, z, _, _, _ = coding.encode_latents(small_model, x, level)
        calib.append((z, level, (4, 7)))
    ihs = quant.IntHyperSynthesis(small_model, calib)
    for z, level, ysize in calib:
        a = ihs(z, level, ysize)
        assert a.dtype == np.uint8 and a.shape == (96, 4, 7) and a.max() < 64
        assert np.array_equal(a, ihs(z.copy(), level, ysize))  # deterministic
        f = coding.encode_latents(small_model, x, level)[2]
        assert np.mean(np.abs(a.astype(int) - f.astype(int)) <= 1) > 0.95


def test_integer_hyper_synthesis_beyond_calibration(small_model):
    """z values twice as large as any of the calibration's (unseen images reach that) are not
    clipped at h_s's input: clipping them cost nic-rt v5 3.6 % of its bits. And the weights
    are 7-bit, as oneDNN runs them without splitting the input: even for the s8 input of
    layer 0, |w| <= 64 for the u8 inputs of layers 1 and 2."""
    rng = np.random.default_rng(3)
    calib = [(rng.integers(-4, 5, size=(32, 1, 2)), level, (4, 7))
             for level in range(small_model.levels)]
    ihs = quant.IntHyperSynthesis(small_model, calib)
    w = [p["weight"].astype(int) for p in ihs.layers]
    assert np.all(w[0] % 2 == 0) and np.abs(w[0]).max() <= 126
    assert np.abs(w[1]).max() <= 64 and np.abs(w[2]).max() <= 64
    with torch.no_grad():
        for z, level, ysize in calib:
            z2 = 2 * z
            a0 = quant._rshift(torch.from_numpy(z2 * ihs.in_mult[level].reshape(-1, 1, 1)),
                               torch.from_numpy(ihs.in_shift[level].reshape(-1, 1, 1)))
            assert a0.abs().max() < 127  # where the s8 input saturates
            a = ihs(z2, level, ysize)
            f = coding.float_table_indices(small_model, z2, level, ysize)
            assert np.mean(np.abs(a.astype(int) - f.astype(int)) <= 1) > 0.95


def test_integer_hyper_synthesis_with_zero_channels():
    """Output channels of h_s.2 with all-zero weights (widen.py's new y channels before
    training) pick the table their bias alone gives, without an int32 overflow."""
    torch.manual_seed(1)
    m = models.Codec("nic-rt")
    m.eval()
    with torch.no_grad():
        m.h_s[2].weight[:8] = 0.0
        m.h_s[2].bias[:8] = math.log(models.SCALE_MIN)
    x = torch.rand(1, 3, 60, 100)
    calib = [(coding.encode_latents(m, x, level)[1], level, (4, 7)) for level in (0, 5)]
    ihs = quant.IntHyperSynthesis(m, calib)
    for z, level, ysize in calib:
        a = ihs(z, level, ysize)
        f = coding.encode_latents(m, x, level)[2]
        assert np.array_equal(a[:8], f[:8])


def test_export_roundtrip(tmp_path, small_model):
    import export  # noqa: PLC0415
    ckpt = tmp_path / "last.pt"
    torch.save({"model": small_model.state_dict(), "step": 0, "family": "nic-rt"}, ckpt)
    out = tmp_path / "m.aicm"
    export.main(["--family", "nic-rt", "--ckpt", str(ckpt), "--out", str(out),
                 "--val-images", "1", "--calib", "1", "--vectors", str(tmp_path / "vec")])
    m = aicm.read_aicm(str(out))
    assert m["family"] == "nic-rt" and m["levels"] == 6
    t = m["tensors"]
    count, cdf = t["y.count"]["array"], t["y.cdf"]["array"]
    assert len(count) == models.SCALE_COUNT and len(cdf) == int(count.sum()) + len(count)
    start = 0
    for c in count:  # every packed table is valid
        assert valid(cdf[start:start + c + 1].tolist())
        start += c + 1
    vec = tmp_path / "vec" / "nic-rt" / "q0"
    meta = dict(line.split("=", 1) for line in (vec / "vector.txt").read_text().splitlines())
    assert meta["model_sha256"] == m["sha256"]
    total = sum(p.stat().st_size for p in (tmp_path / "vec").rglob("*") if p.is_file())
    assert total < 100_000


C_DUMP = r"""
#include <stdio.h>
#include <stdlib.h>
#include "entropy/latent_coder.h"
int main(void) {
  aic_cdf_table_t t[64];
  if (aic_gaussian_tables_build(64, 0.11, 256.0, 1e-6, t)) return 1;
  for (int i = 0; i < 64; i++) {
    printf("%d", t[i].offset);
    for (uint32_t k = 0; k <= t[i].count; k++) printf(" %u", t[i].cdf[k]);
    printf("\n");
  }
  static int32_t sym[4096];
  static uint8_t idx[4096];
  size_t n = 0;
  int a, b;
  FILE *f = fopen("sym.txt", "r");
  while (n < 4096 && fscanf(f, "%d %d", &a, &b) == 2) { idx[n] = (uint8_t)a; sym[n++] = b; }
  fclose(f);
  aic_buf_t out = {0};
  if (aic_entropy_encode_indexed(t, 64, idx, sym, n, &out)) return 2;
  for (size_t i = 0; i < out.size; i++) printf("%02x", out.data[i]);
  printf("\n");
  return 0;
}
"""


def test_matches_c_entropy_coder(tmp_path):
    """The Python tables and stream against src/lib/entropy, when it and a compiler are there."""
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    root = Path(__file__).resolve().parent.parent
    srcs = sorted((root / "src/lib/entropy").glob("*.c")) + [root / "src/lib/core/buf.c"]
    if not shutil.which("cc") or not all(p.exists() for p in srcs):
        pytest.skip("no C compiler or no src/lib/entropy")
    (tmp_path / "dump.c").write_text(C_DUMP)
    exe = tmp_path / "dump"
    subprocess.run(["cc", "-O1", "-std=c11", f"-I{root / 'src/lib'}", f"-I{root / 'include'}",
                    str(tmp_path / "dump.c"), *map(str, srcs), "-lm", "-o", str(exe)], check=True)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 64, 3000)
    scales = np.array([entropy.gaussian_scale(i, 64, 0.11, 256.0) for i in range(64)])
    vals = np.round(rng.normal(0, scales[idx] * 1.2)).astype(np.int64)
    vals[::53] = rng.integers(-99999, 99999, len(vals[::53]))
    (tmp_path / "sym.txt").write_text("".join(f"{a} {b}\n" for a, b in zip(idx, vals)))
    out = subprocess.run([str(exe)], cwd=tmp_path, capture_output=True, text=True, check=True)
    lines = out.stdout.split("\n")
    c_tables = [(int(v.split()[0]), [int(u) for u in v.split()[1:]]) for v in lines[:64]]
    assert c_tables == entropy.gaussian_tables(64, 0.11, 256.0, 1e-6)
    assert bytes.fromhex(lines[64]) == entropy.rans_encode_indexed(c_tables, idx, vals)


def test_train_fake_quant_scales_round_trip(small_model):
    """scales() / set_scales(): a fresh TrainFakeQuant given another's scales computes what it
    computes, after the weights (and so a fresh calibration) moved."""
    torch.manual_seed(2)
    calib = [torch.rand(1, 3, 48, 64)]
    x = torch.rand(1, 3, 48, 64)
    a = quant.TrainFakeQuant(small_model, calib, [0])
    a.enable(list(a.layers))
    kept = a.scales()
    small_model.eval()
    with torch.no_grad():
        want = small_model(x, torch.tensor([0]), train=False)["x_hat"]
    a.disable()
    saved = small_model.g_a[0].weight.data.clone()
    try:
        small_model.g_a[0].weight.data *= 1.5  # a fresh calibration now differs
        b = quant.TrainFakeQuant(small_model, calib, [0])
        assert b.scales() != kept
        small_model.g_a[0].weight.data.copy_(saved)
        b.enable(list(b.layers))
        b.set_scales(kept)
        assert b.scales() == kept and b.names == list(b.layers)
        with torch.no_grad():
            got = small_model(x, torch.tensor([0]), train=False)["x_hat"]
        b.disable()
    finally:
        small_model.g_a[0].weight.data.copy_(saved)
    assert torch.equal(got, want)


def test_export_writes_the_checkpoints_scales(tmp_path, small_model):
    import export  # noqa: PLC0415
    calib = [torch.rand(1, 3, 48, 64)]
    fq = quant.TrainFakeQuant(small_model, calib, [0])
    scales = {n: (2.0 + i, -1.0 if n.startswith("g_s") else 0.0)
              for i, n in enumerate(fq.layers)}
    ckpt = tmp_path / "last.pt"
    torch.save({"model": small_model.state_dict(), "step": 9, "family": "nic-rt",
                "qat_scales": scales}, ckpt)
    out = tmp_path / "m.aicm"
    export.main(["--family", "nic-rt", "--ckpt", str(ckpt), "--out", str(out), "--all-int8",
                 "--val-images", "1", "--calib", "1"])
    t = aicm.read_aicm(str(out))["tensors"]
    for n, (mag, low) in scales.items():
        if n == "g_a.0":
            continue  # pixels: always 1 / 255
        want = mag / (255.0 if low >= 0 else 127.0)
        assert abs(float(t[f"{n}.in_scale"]["array"][0]) / want - 1) < 1e-6, n


def test_negative_freeze_scales_is_refused(capsys):
    import train  # noqa: PLC0415
    with pytest.raises(SystemExit) as e:
        train.main(["--family", "nic-rt", "--qat", "--freeze-scales", "-1"])
    assert e.value.code == 2
    assert "--freeze-scales -1" in capsys.readouterr().err
