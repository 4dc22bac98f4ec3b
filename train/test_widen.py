"""widen.py: the wide model starts as the narrow one. Run: /usr/bin/python3 -m pytest -q train"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import models  # noqa: E402
import widen  # noqa: E402

torch.set_num_threads(2)


def test_widened_model_codes_as_the_narrow_one():
    torch.manual_seed(3)
    small = models.Codec("nic-rt")
    with torch.no_grad():  # not the initial state: gains and GDN off their defaults
        for p in small.parameters():
            p.add_(0.01 * torch.randn_like(p))
    big = widen.widen(small, models.Codec("nic-hq"))
    x = torch.rand(1, 3, 45, 70)  # odd sizes: every crop path
    with torch.no_grad():
        for level in range(small.levels):
            lv = torch.tensor([level])
            a, b = small(x, lv, train=False), big(x, lv, train=False)
            M = small.M
            assert torch.equal(a["y_hat"], b["y_hat"][:, :M])
            # the new latent channels start as zeros under the narrowest tables: ~free
            assert not b["y_hat"][:, M:].any() and not b["z_hat"][:, small.Mz:].any()
            assert torch.all(b["u"][:, M:] == 0)
            assert b["y_bits"] < 1.01 * a["y_bits"] + 1.0
            assert torch.allclose(a["x_hat"], b["x_hat"], atol=1e-5)


def test_extra_levels_continue_the_gain_ladder():
    v = torch.tensor([[0.0, 1.0], [1.0, 3.0]])
    out = widen.extend_levels(v, 4)
    assert torch.equal(out, torch.tensor([[0.0, 1.0], [1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]))
    assert torch.equal(widen.extend_channels(v, 3)[:, 2], torch.tensor([0.5, 2.0]))
