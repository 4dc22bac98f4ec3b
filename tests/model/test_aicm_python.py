"""The .aicm writer of the exporter (train/aicm.py) against the C loader (src/lib/nn/model_file.c).

Files written in Python must load in C with the same header, layers, tensors, scales and data
bytes; damaged ones must be refused by both. The C side is the `test_model_file` unit test run
with a path: it loads that file and prints a summary. The binary comes from
$AIC_TEST_MODEL_FILE (default build/test_model_file under the repository)."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "train"))
import aicm  # noqa: E402

TOOL = os.environ.get("AIC_TEST_MODEL_FILE", "build/test_model_file")
if not os.path.isabs(TOOL):
    TOOL = os.path.join(ROOT, TOOL)
SANITIZER_MARKS = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
                   "LeakSanitizer")


@pytest.fixture(scope="session")
def c_loader():
    if not os.access(TOOL, os.X_OK):
        pytest.fail(f"{TOOL} is missing: build the test_model_file target or set "
                    "AIC_TEST_MODEL_FILE")
    return TOOL


def c_load(tool, path):
    """(exit code, stdout) of the C loader on path; never a crash or a sanitizer report."""
    p = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode >= 0, f"died by signal {-p.returncode}: {p.stderr}"
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, p.stderr
    return p.returncode, p.stdout


def parse_summary(out):
    lines = out.splitlines()
    head = dict(kv.split("=", 1) for kv in lines[0].split()[1:])
    layers, tensors = [], {}
    for line in lines[1:]:
        kind, name, *rest = line.split(" ")
        fields = dict(kv.split("=", 1) for kv in rest)
        if kind == "layer":
            layers.append((name, fields))
        else:
            tensors[name] = fields
    return head, layers, tensors


def check_same(tool, path):
    """The C loader sees in `path` exactly what read_aicm sees."""
    rc, out = c_load(tool, path)
    assert rc == 0, out
    head, layers, tensors = parse_summary(out)
    m = aicm.read_aicm(path)
    assert head["family"] == m["family"]
    assert int(head["id"]) == m["model_id"]
    assert int(head["version"]) == m["version"]
    assert int(head["levels"]) == m["levels"]
    assert head["sha256"] == m["sha256"]
    assert int(head["layers"]) == len(m["layers"]) == len(layers)
    assert int(head["tensors"]) == len(m["tensors"])
    for (name, fields), layer in zip(layers, m["layers"]):
        assert name == layer["name"]
        for key in ("type", "act"):
            assert fields.pop(key) == layer[key]
        for key in ("in", "out", "kernel", "stride"):
            assert int(fields.pop(key)) == layer[key]
        assert fields == layer["tensors"]
    assert list(tensors) == list(m["tensors"])  # file order
    for name, t in m["tensors"].items():
        c = tensors[name]
        assert c["dtype"] == t["dtype"]
        assert c["dims"] == "x".join(map(str, t["array"].shape))
        assert c["quant"] == t["quant"]
        assert int(c["axis"]) == t["axis"]
        assert int(c["zero_point"]) == t["zero_point"]
        scales = [np.float32(s) for s in c["scales"].split(",")] if c["scales"] else []
        want = [] if t["scales"] is None else list(t["scales"])
        assert scales == want
        raw = np.ascontiguousarray(t["array"], aicm.NUMPY[t["dtype"]]).tobytes()
        assert c["data_sha256"] == hashlib.sha256(raw).hexdigest()
    return m


def test_example_round_trip_and_loads_in_c(c_loader, tmp_path):
    args = aicm.example_model()
    path = tmp_path / "example.aicm"
    aicm.write_aicm(path, **args)
    m = check_same(c_loader, path)
    assert (m["family"], m["model_id"], m["version"], m["levels"]) == ("nic-rt", 1, 3, 4)
    for name, value in args["tensors"].items():
        array, scales, zero_point = value[:3] if isinstance(value, tuple) else (value, None, 0)
        t = m["tensors"][name]
        assert t["array"].dtype.str[1:] == np.asarray(array).dtype.str[1:]
        np.testing.assert_array_equal(t["array"], array)
        if scales is None:
            assert t["scales"] is None and t["quant"] == "none"
        else:
            np.testing.assert_array_equal(t["scales"], np.atleast_1d(np.float32(scales)))
            assert t["zero_point"] == zero_point
    assert m["tensors"]["g_s.0.weight"]["quant"] == "channel"
    assert m["tensors"]["g_s.0.weight"]["axis"] == 1
    assert m["tensors"]["g_a.1.gamma"]["quant"] == "tensor"
    assert [layer["name"] for layer in m["layers"]] == ["g_a.0", "g_a.1", "g_s.0", "eb"]
    assert m["layers"][1]["tensors"] == {"beta": "g_a.1.beta", "gamma": "g_a.1.gamma"}


@pytest.mark.parametrize("axis", [0, 1, 2, 3])
def test_per_channel_on_every_axis(c_loader, tmp_path, axis):
    rng = np.random.default_rng(axis)
    w = rng.integers(-128, 128, (2, 3, 4, 5), dtype=np.int8)
    scales = rng.uniform(0.01, 1, w.shape[axis]).astype(np.float32)
    path = tmp_path / "m.aicm"
    aicm.write_aicm(path, "nic-hq", 65535, 2**32 - 1, 64,
                    [{"name": "c", "type": "conv2d", "in": 3, "out": 2, "kernel": 4, "w": "w"}],
                    {"w": (w, scales, -7, axis)})
    m = check_same(c_loader, path)
    assert m["tensors"]["w"]["axis"] == axis


def test_many_tensors_names_and_alignment(c_loader, tmp_path):
    """Every allowed name character, the longest name, odd sizes between 64-byte aligned data,
    and tensors no layer uses."""
    rng = np.random.default_rng(7)
    tensors = {}
    for i in range(150):
        dtype = [np.float32, np.int8, np.uint8, np.int16, np.int32, np.uint16][i % 6]
        shape = tuple(int(d) for d in rng.integers(1, 6, 1 + i % 4))
        tensors[f"blk/{i}.w-x_Y"] = (rng.standard_normal(shape) * 100).astype(dtype)
    tensors["n" * 63] = np.arange(1, dtype=np.uint16)
    tensors["big"] = rng.standard_normal((64, 3, 3, 3)).astype(np.float32)
    arch = "".join(f"layer name=l{i} type=t in={i + 1} out=65536 kernel=31 stride=16 "
                   f"act=a_1 w=blk/{i}.w-x_Y\n" for i in range(100))
    path = tmp_path / "many.aicm"
    aicm.write_aicm(path, "x", 2, 0, 1, arch, tensors)
    m = check_same(c_loader, path)
    assert len(m["tensors"]) == 152 and len(m["layers"]) == 100


def test_big_endian_arrays_are_stored_little_endian(c_loader, tmp_path):
    a = np.arange(12, dtype=">i2").reshape(3, 4)
    path = tmp_path / "be.aicm"
    aicm.write_aicm(path, "nic-rt", 1, 1, 1, "layer name=a type=t in=1 out=1 w=a\n", {"a": a})
    m = check_same(c_loader, path)
    np.testing.assert_array_equal(m["tensors"]["a"]["array"], a)


def test_damaged_python_files_are_refused_by_both(c_loader, tmp_path):
    data = aicm.build_aicm(**aicm.example_model())
    path = tmp_path / "bad.aicm"
    cases = {
        "truncated": (data[:-1], "truncated: the header declares a payload"),
        "trailing": (data + b"\0", "1 bytes of trailing data"),
        "header only": (data[:128], "truncated"),
        "flipped payload": (data[:500] + bytes([data[500] ^ 4]) + data[501:], "SHA-256 mismatch"),
        "flipped header": (data[:28] + bytes([data[28] ^ 1]) + data[29:], "SHA-256 mismatch"),
        "newer": (data[:4] + b"\x02\x00" + data[6:], "model format version 2 is newer"),
        "magic": (b"AICX" + data[4:], "not an AICM model file"),
    }
    for label, (blob, reason) in cases.items():
        path.write_bytes(blob)
        rc, out = c_load(c_loader, path)
        assert rc == 1 and reason in out, (label, out)
        with pytest.raises(aicm.AicmError):
            aicm.read_aicm(path)


def test_every_truncation_refused_by_c(c_loader, tmp_path):
    data = aicm.build_aicm(**aicm.example_model())
    # Every header length, then a stride through the payload (the unit test does every length).
    for n in list(range(0, 130)) + list(range(130, len(data), 97)):
        path = tmp_path / "t.aicm"
        path.write_bytes(data[:n])
        rc, out = c_load(c_loader, path)
        assert rc == 1 and out.startswith("refused -3 "), (n, out)


def tensors_ok():
    return {"w": (np.ones((2, 2), np.int8), np.float32(0.5), 0)}


ARCH_OK = "layer name=a type=t in=1 out=1 w=w\n"


@pytest.mark.parametrize("kwargs, reason", [
    ({"family": "NIC"}, "family"),
    ({"family": "a" * 16}, "family"),
    ({"model_id": 0}, "model id 0"),
    ({"levels": 0}, "quality levels"),
    ({"levels": 65}, "quality levels"),
    ({"architecture": "layer name=a type=t in=1 out=1 w=missing\n"}, "not in the tensor table"),
    ({"architecture": "layer name=a type=t in=1\n"}, "no out="),
    ({"architecture": "layer name=a type=t in=1 out=1 w=w"}, "newline"),
    ({"architecture": "layer name=a type=t in=01 out=1 w=w\n"}, "not a number"),
    ({"tensors": {"w": np.zeros(3, np.float64)}}, "float64"),
    ({"tensors": {"w": np.zeros(3, bool)}}, "bool"),
    ({"tensors": {"w": (np.zeros(3, np.float32), 0.5, 0)}}, "f32 tensor cannot be quantized"),
    ({"tensors": {"w": (np.zeros(3, np.uint8), 0.5, 256)}}, "zero point 256"),
    ({"tensors": {"w": (np.zeros(3, np.int8), float("nan"), 0)}}, "finite and positive"),
    ({"tensors": {"w": (np.zeros(3, np.int8), 0.0, 0)}}, "finite and positive"),
    ({"tensors": {"w": (np.zeros((3, 2), np.int8), [1.0, 1.0], 0)}}, "per-channel scales"),
    ({"tensors": {"w": (np.zeros((3, 2), np.int8), [1.0, 1.0], 0, 2)}}, "per-channel scales"),
    ({"tensors": {"w": np.zeros(3, np.int8), "w x": np.zeros(3, np.int8)}}, "tensor name"),
    ({"tensors": {"w": np.zeros(3, np.int8), "n" * 64: np.zeros(3, np.int8)}}, "tensor name"),
    ({"tensors": {"w": np.zeros((0, 3), np.int8)}}, "no empty dimension"),
    ({"tensors": {"w": np.zeros((1,) * 5, np.int8)}}, "rank 1..4"),
    ({"tensors": {"w": np.float32(1)}}, "rank 1..4"),
    ({"tensors": {}}, "0 tensors"),
])
def test_writer_refuses_what_the_loader_would(kwargs, reason):
    args = {"family": "nic-rt", "model_id": 1, "version": 1, "levels": 1,
            "architecture": ARCH_OK, "tensors": tensors_ok()}
    args.update(kwargs)
    with pytest.raises(aicm.AicmError) as e:
        aicm.build_aicm(**args)
    assert reason in str(e.value)


def test_cli_info(tmp_path):
    path = tmp_path / "m.aicm"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "train", "aicm.py"), "example",
                        str(path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([sys.executable, os.path.join(ROOT, "train", "aicm.py"), "info",
                        str(path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("family nic-rt id 1 version 3 levels 4\n")
    assert "tensor g_s.0.weight i16 8x3x5x5 quant channel axis 1 (3 scales, zero point 0)" \
        in p.stdout
    path.write_bytes(path.read_bytes()[:-3])
    p = subprocess.run([sys.executable, os.path.join(ROOT, "train", "aicm.py"), "info",
                        str(path)], capture_output=True, text=True)
    assert p.returncode == 1 and "payload" in p.stderr


def test_torch_tensors_are_accepted(c_loader, tmp_path):
    torch = pytest.importorskip("torch")
    w = torch.arange(24, dtype=torch.int8).reshape(2, 3, 4)
    path = tmp_path / "t.aicm"
    aicm.write_aicm(path, "nic-rt", 1, 1, 1, ARCH_OK,
                    {"w": (w, torch.tensor([0.5, 0.25]), 0)})
    m = check_same(c_loader, path)
    np.testing.assert_array_equal(m["tensors"]["w"]["array"], w.numpy())
