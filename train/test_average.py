"""average.py: the mean of float tensors, integer buffers from the last checkpoint, and
checkpoints of another family or shape refused."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import average  # noqa: E402
import models  # noqa: E402


def save(path, family, step, w, n):
    torch.save({"model": {"w": w, "n": n}, "step": step, "family": family}, path)
    return str(path)


def test_mean_of_floats_last_integers(tmp_path):
    a = save(tmp_path / "a.pt", "nic-hq", 400, torch.tensor([1.0, 2.0]), torch.tensor([3]))
    b = save(tmp_path / "b.pt", "nic-hq", 800, torch.tensor([3.0, 6.0]), torch.tensor([5]))
    state, family, step = average.average([a, b])
    assert family == "nic-hq" and step == 800
    assert torch.equal(state["w"], torch.tensor([2.0, 4.0]))
    assert torch.equal(state["n"], torch.tensor([5]))


def test_other_family_or_shape_refused(tmp_path):
    a = save(tmp_path / "a.pt", "nic-hq", 1, torch.zeros(2), torch.tensor([0]))
    b = save(tmp_path / "b.pt", "nic-rt", 2, torch.zeros(2), torch.tensor([0]))
    c = save(tmp_path / "c.pt", "nic-hq", 3, torch.zeros(3), torch.tensor([0]))
    with pytest.raises(SystemExit, match="nic-rt checkpoint"):
        average.average([a, b])
    with pytest.raises(SystemExit, match="other tensors"):
        average.average([a, c])
    d = save(tmp_path / "d.pt", None, 4, torch.zeros(2), torch.tensor([0]))
    with pytest.raises(SystemExit, match="no known family"):
        average.average([d, a])


def test_bad_eval_levels_write_nothing(tmp_path):
    state = models.Codec("nic-rt").state_dict()
    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"s{i}.pt"))
        torch.save({"model": state, "step": i, "family": "nic-rt"}, paths[-1])
    out = tmp_path / "avg.pt"
    for bad in ("6", "-1", "0,x"):
        with pytest.raises(SystemExit, match="0..5"):
            average.main(["--out", str(out), "--eval", bad] + paths)
        assert not out.exists()
