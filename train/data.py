"""Training and validation images for the learned codecs.

The only training data is what scripts/prepare-data builds from the Debian wallpaper packages
(docs/benchmarks.md, "Data"): var/data/train/256/*.png, 3024 crops of 256x256 from the 63
training pictures, and var/data/val/{512,720p}/*.png from the 11 validation pictures (split by
picture, so no picture is on both sides). When the training crops are missing this runs
scripts/prepare-data first (~1.5 min, downloads ~260 MB of .deb files).
"""

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("AIC_DATA", ROOT / "var" / "data"))


def ensure_data():
    """Runs scripts/prepare-data when the training crops or the validation stills are missing."""
    train = DATA / "train" / "256"
    val = DATA / "val" / "512"
    if any(train.glob("*.png")) and any(val.glob("*.png")):
        return
    print("data: var/data/train is missing: running scripts/prepare-data", flush=True)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "prepare-data")], check=True)


def load_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def to_tensor(rgb):
    """HWC uint8 -> CHW float32 in [0, 1]."""
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1).float() / 255.0


class TrainCrops:
    """Random patch x patch crops of the 256x256 training crops, flipped left-right at random, or
    with rotate=True put through one of the 8 flips and quarter turns at random (the wallpapers
    have few vertical edges and bands; the codec must code any orientation alike). Images are decoded on demand (a 256x256 PNG takes ~1 ms, a training step hundreds) or kept
    in memory with cache=True (3024 x 192 KiB = 570 MiB)."""

    def __init__(self, patch=128, seed=0, cache=False, rotate=False):
        ensure_data()
        self.files = sorted((DATA / "train" / "256").glob("*.png"))
        if not self.files:
            raise SystemExit(f"data: no training crops in {DATA / 'train' / '256'}")
        self.patch = patch
        self.rng = random.Random(seed)
        self.cache = {} if cache else None
        self.rotate = rotate

    def __len__(self):
        return len(self.files)

    def image(self, i):
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        rgb = load_rgb(self.files[i])
        if self.cache is not None:
            self.cache[i] = rgb
        return rgb

    def batch(self, n):
        """n random patches as a float tensor [n, 3, patch, patch]."""
        out = []
        for _ in range(n):
            rgb = self.image(self.rng.randrange(len(self.files)))
            h, w = rgb.shape[:2]
            p = min(self.patch, h, w)
            y, x = self.rng.randint(0, h - p), self.rng.randint(0, w - p)
            crop = rgb[y:y + p, x:x + p]
            if self.rotate:
                t = self.rng.randrange(8)
                crop = np.rot90(crop[:, ::-1] if t & 4 else crop, t & 3)
            elif self.rng.random() < 0.5:
                crop = crop[:, ::-1]
            out.append(to_tensor(crop))
        return torch.stack(out)

    def state(self):
        return self.rng.getstate()

    def set_state(self, state):
        self.rng.setstate(state)


def val_files(which="512"):
    """Validation stills: "512" (11 crops of 512x512, for the periodic check while training) or
    "720p" (22 stills of 1280x720, for the final figures)."""
    ensure_data()
    files = sorted((DATA / "val" / which).glob("*.png"))
    if not files:
        raise SystemExit(f"data: no validation images in {DATA / 'val' / which}")
    return files


def calibration_files(n=8, seed=1):
    """A few training crops to calibrate activation ranges at export (never validation)."""
    ensure_data()
    files = sorted((DATA / "train" / "256").glob("*.png"))
    return random.Random(seed).sample(files, min(n, len(files)))
