"""import_aicm.py against the shipped nic-rt model and its test vectors: the imported model,
with the file's input scales, must compute the latents, table indices and picture the exporter
wrote into tests/data/nn when it made that file, and its float h_s and refitted z density must
agree with the file's integer ones."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aicm  # noqa: E402
import coding  # noqa: E402
import data  # noqa: E402
import import_aicm  # noqa: E402

torch.set_num_threads(2)
ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "nic-rt.aicm"
VECTORS = ROOT / "tests" / "data" / "nn"


@pytest.fixture(scope="module")
def imported():
    return import_aicm.import_aicm(MODEL, fit_steps=400)


@pytest.fixture(scope="module")
def model_file():
    return aicm.read_aicm(str(MODEL))


def vector(level):
    d = VECTORS / "nic-rt" / f"q{level}"
    meta = dict(line.split("=", 1) for line in (d / "vector.txt").read_text().split())
    shape = lambda s: tuple(int(v) for v in meta[s].split("x"))  # noqa: E731
    return meta, {
        "y_hat": np.fromfile(d / meta["y_hat"], "<i2").reshape(shape("y_shape")),
        "z_hat": np.fromfile(d / meta["z_hat"], "<i2").reshape(shape("z_shape")),
        "index": np.fromfile(d / meta["index"], "u1").reshape(shape("y_shape")),
        "recon": np.fromfile(d / meta["recon"], "u1"),
    }


def test_vectors_are_of_this_model(imported):
    _, info = imported
    for level in (0, 5):
        meta, _ = vector(level)
        assert meta["model_sha256"] == info["source"]


@pytest.mark.parametrize("level", [0, 5])
def test_imported_model_computes_the_exported_latents(imported, model_file, level):
    model, _ = imported
    meta, v = vector(level)
    w, h = int(meta["width"]), int(meta["height"])
    rgb = np.fromfile(VECTORS / "input_100x60.rgb", "u1").reshape(h, w, 3)
    x = data.to_tensor(rgb)[None]
    fq, names = import_aicm.file_fake_quant(model, model_file)
    assert len(names) == len(fq.layers)  # nic-rt is all int8
    ihs = import_aicm.int_hyper_from_file(model, model_file)
    fq.enable(names)
    try:
        y_hat, z_hat, idx, x_hat, _ = coding.encode_latents(model, x, level, ihs)
    finally:
        fq.disable()
    # the same weights and scales; only float32-vs-float64 input scales can move a rounding
    assert np.mean(y_hat == v["y_hat"]) > 0.999
    assert np.array_equal(z_hat, v["z_hat"])
    assert np.mean(idx == v["index"]) > 0.999
    rec = (torch.round(torch.clamp(x_hat[0], 0, 1) * 255).to(torch.uint8)
           .permute(1, 2, 0).contiguous().numpy().ravel())
    assert np.mean(np.abs(rec.astype(int) - v["recon"].astype(int)) <= 1) > 0.999


@pytest.mark.parametrize("level", [0, 5])
def test_float_hyper_synthesis_picks_the_integer_tables(imported, model_file, level):
    model, _ = imported
    _, v = vector(level)
    ihs = import_aicm.int_hyper_from_file(model, model_file)
    z_hat = v["z_hat"].astype(np.int64)
    ysize = v["y_hat"].shape[1:]
    b = coding.float_table_indices(model, z_hat, level, ysize)
    a = ihs(z_hat, level, ysize).astype(np.int64)
    # The integer path rounds its input and activations, so an index on a rounding edge moves
    # by one. Its input step is H_S_INPUT_MARGIN (3) times the calibrated one, so that unseen
    # images' large z are not clipped; nic-rt v6's file gives 96.8 % (level 0) and 89.1 %
    # (level 5) equal here.
    assert np.mean(b == a) > 0.85
    assert np.abs(b - a).max() <= 1


def test_refitted_z_density_codes_like_the_file(imported):
    _, info = imported
    fit = info["fit"]
    assert fit["z_bits_per_symbol_refit"] <= 1.02 * fit["z_bits_per_symbol_file"] + 0.01


def test_weights_requantize_to_the_files_integers(imported, model_file):
    """A --qat model quantizes its weights per channel again at every step: the imported float
    weights must give back the file's int8 values exactly."""
    model, _ = imported
    import quant
    t = model_file["tensors"]
    for name, conv in (("g_a.2", model.g_a[2]), ("g_s.0", model.g_s[0].conv),
                       ("h_a.0", model.h_a[0])):
        q = t[f"{name}.weight"]["array"]
        unsigned = name == "h_a.0"
        back, _ = quant.quantize_layer_weight(conv.weight, unsigned)
        assert np.array_equal(back, q), name


def test_file_scales_are_the_files_in_scales(imported, model_file):
    t = model_file["tensors"]
    scales = imported[1]["qat_scales"]
    assert scales is not None and "g_s.6" in scales
    for n, (mag, low) in scales.items():
        want = float(t[f"{n}.in_scale"]["array"][0])
        assert abs(mag / (255.0 if low >= 0 else 127.0) / want - 1) < 1e-6


def _relabelled(model_file, family, levels):
    """The shipped file's bytes under another family / level count (a valid file)."""
    tensors = {n: t["array"] if t["quant"] == "none" else (t["array"], t["scales"],
                                                           t["zero_point"])
               for n, t in model_file["tensors"].items()}
    return aicm.build_aicm(family, 1, 1, levels, model_file["architecture"], tensors)


def test_a_file_that_does_not_fit_is_refused(tmp_path, model_file):
    cases = [("nic-rt", 5, "has 5 levels"), ("nic-zz", 6, "'nic-zz' model"),
             ("nic-hq", 8, "shape")]
    for family, levels, message in cases:
        path = tmp_path / f"{family}-{levels}.aicm"
        path.write_bytes(_relabelled(model_file, family, levels))
        with pytest.raises(SystemExit, match=message):
            import_aicm.import_aicm(path, fit_steps=1)
