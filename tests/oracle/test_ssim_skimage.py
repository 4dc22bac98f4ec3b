"""aic_ssim_plane against an independent implementation: scikit-image's structural_similarity.

aic_ssim_plane documents that it matches structural_similarity(gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=255) on planes of at least 11x11; this holds
it to that within 1e-4 (in practice they agree to ~1e-12) on generated planes and on the real
photographs that Debian's scikit-image and matplotlib packages ship, distorted by a real JPEG
codec, blur and noise. Both of the library's kernels are run: the fast one (what the CPU
supports) and the portable reference (aic_ssim_tool -r).

The C side is tests/oracle/ssim_tool.c, built by CMake as aic_ssim_tool; set AIC_SSIM_TOOL to
its path (default: build/aic_ssim_tool under the repository). Run with the system Python, which
has python3-skimage:  AIC_SSIM_TOOL=$PWD/build/aic_ssim_tool /usr/bin/python3 -m pytest tests/oracle
"""

import io
import os
import pathlib
import subprocess
import zlib

import numpy as np
import pytest
from skimage.metrics import structural_similarity

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOL = pathlib.Path(os.environ.get("AIC_SSIM_TOOL", ROOT / "build" / "aic_ssim_tool"))
TOLERANCE = 1e-4

# Real photographs already on the system: scikit-image's and matplotlib's sample data.
SKIMAGE_DATA = pathlib.Path("/usr/lib/python3/dist-packages/skimage/data")
REAL_IMAGES = [SKIMAGE_DATA / name for name in (
    "camera.png", "astronaut.png", "coffee.png", "chelsea.png", "moon.png", "coins.png",
    "brick.png", "grass.png", "gravel.png", "page.png", "text.png", "hubble_deep_field.jpg",
)] + [pathlib.Path("/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg")]

# Largest |aic - skimage| per kernel, reported by test_zz_report (run pytest with -s to see it).
MAX_ERROR = {"fast": 0.0, "reference": 0.0}


def skimage_ssim(a, b):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255)


def run_tool(a, b, tmp_path, reference):
    assert a.dtype == np.uint8 and a.shape == b.shape
    if not TOOL.exists():
        pytest.fail(f"{TOOL} not found: build the aic_ssim_tool target or set AIC_SSIM_TOOL")
    fa, fb = tmp_path / "a.gray", tmp_path / "b.gray"
    fa.write_bytes(np.ascontiguousarray(a).tobytes())
    fb.write_bytes(np.ascontiguousarray(b).tobytes())
    h, w = a.shape
    args = [str(TOOL)] + (["-r"] if reference else []) + [str(w), str(h), str(fa), str(fb)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    values = dict(line.split() for line in out.splitlines())
    return float(values["ssim"]), float(values["msssim"])


def check(a, b, tmp_path):
    want = skimage_ssim(a, b)
    results = {}
    for kernel in ("fast", "reference"):
        ssim, msssim = run_tool(a, b, tmp_path, kernel == "reference")
        error = abs(ssim - want)
        MAX_ERROR[kernel] = max(MAX_ERROR[kernel], error)
        assert error <= TOLERANCE, f"{kernel}: aic {ssim!r} vs skimage {want!r}"
        assert 0.0 <= msssim <= 1.0
        results[kernel] = (ssim, msssim)
    # The kernels agree far more closely than either does with skimage.
    assert abs(results["fast"][0] - results["reference"][0]) <= 1e-9
    assert abs(results["fast"][1] - results["reference"][1]) <= 1e-9


# ---- generated planes ----

def clip8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def gradient(h, w, rng, noise=0.0):
    y, x = np.mgrid[0:h, 0:w]
    return clip8(200.0 * x / w + 50.0 * y / h + rng.normal(0, noise, (h, w)))


def box_blur(p):
    q = np.pad(p.astype(np.float64), 1, mode="edge")
    h, w = p.shape
    return sum(q[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0


def blocky(p, block=8):
    """Each block flattened to its mean, as a coarse JPEG leaves it."""
    h, w = p.shape
    out = p.astype(np.float64)
    for y in range(0, h, block):
        for x in range(0, w, block):
            out[y:y + block, x:x + block] = out[y:y + block, x:x + block].mean()
    return out


def make_pair(kind, h, w, rng):
    if kind == "noise":
        return rng.integers(0, 256, (h, w), np.uint8), rng.integers(0, 256, (h, w), np.uint8)
    if kind == "noisy_copy":
        a = rng.integers(0, 256, (h, w), np.uint8)
        return a, clip8(a + rng.normal(0, 12, (h, w)))
    if kind == "gradient":
        a = gradient(h, w, rng, 8)
        return a, clip8(a + rng.normal(0, 20, (h, w)))
    if kind == "blur_noise":
        a = gradient(h, w, rng, 30)
        return a, clip8(box_blur(a) + rng.normal(0, 4, (h, w)))
    if kind == "blocky":
        a = gradient(h, w, rng, 25)
        return a, clip8(blocky(a) + rng.normal(0, 2, (h, w)))
    if kind == "bright_flat":
        a = rng.integers(249, 252, (h, w)).astype(np.uint8)
        return a, clip8(a + rng.integers(-1, 2, (h, w)))
    raise ValueError(kind)


KINDS = ["noise", "noisy_copy", "gradient", "blur_noise", "blocky", "bright_flat"]
SIZES = [(11, 11), (11, 12), (23, 37), (37, 23), (61, 97), (256, 256), (257, 300), (480, 640)]


@pytest.mark.parametrize("h,w", SIZES, ids=[f"{w}x{h}" for h, w in SIZES])
@pytest.mark.parametrize("kind", KINDS)
def test_generated(kind, h, w, tmp_path):
    rng = np.random.default_rng(zlib.crc32(f"{kind} {w}x{h}".encode()))
    a, b = make_pair(kind, h, w, rng)
    check(a, b, tmp_path)


def test_identical(tmp_path):
    a = gradient(40, 50, np.random.default_rng(1), 20)
    ssim, msssim = run_tool(a, a, tmp_path, False)
    assert ssim == 1.0 and msssim == 1.0
    assert skimage_ssim(a, a) == pytest.approx(1.0, abs=1e-12)


# ---- real photographs ----

def load_gray(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8)


def jpeg(p, quality):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(p).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8)


DISTORTIONS = ["jpeg10", "jpeg50", "blur_noise"]


@pytest.mark.parametrize("distortion", DISTORTIONS)
@pytest.mark.parametrize("path", REAL_IMAGES, ids=[p.name for p in REAL_IMAGES])
def test_real_image(path, distortion, tmp_path):
    if not path.exists():
        pytest.skip(f"{path} is not installed")
    pytest.importorskip("PIL")
    a = load_gray(path)
    rng = np.random.default_rng(7)
    if distortion == "jpeg10":
        b = jpeg(a, 10)
    elif distortion == "jpeg50":
        b = jpeg(a, 50)
    else:
        b = clip8(box_blur(a) + rng.normal(0, 3, a.shape))
    check(a, b, tmp_path)


def test_zz_report():
    """Not a check: prints the largest differences seen (pytest -s shows them)."""
    print(f"\nmax |aic_ssim_plane - skimage|: fast {MAX_ERROR['fast']:.3g}, "
          f"reference {MAX_ERROR['reference']:.3g}")
