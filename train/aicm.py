#!/usr/bin/env python3
"""Writer and reader of .aicm model files, the format libaic's learned codec loads
(docs/model-format.md has the layout byte by byte; src/lib/nn/model_file.c is the loader).

The exporter calls write_aicm(); read_aicm() reads a file back for round-trip tests and for the
`info` command. Both apply the loader's rules, so that an exporter mistake fails here, with a
Python traceback, rather than as a refused model on a server.

    python3 train/aicm.py info FILE       # header, layers and tensors of FILE
    python3 train/aicm.py example OUT     # a small valid model (test fixtures, fuzzer seeds)

Needs numpy only; torch tensors are accepted where arrays are, when torch is installed.
"""

import hashlib
import math
import re
import struct
import sys

import numpy as np

FORMAT_VERSION = 1
HEADER_SIZE = 128
ENTRY_SIZE = 128
DIGEST_OFFSET = 96
DATA_ALIGN = 64
MAX_FILE_SIZE = 64 << 20
MAX_ARCH_SIZE = 1 << 20
MAX_TENSORS = 4096
MAX_LAYERS = 1024
MAX_LEVELS = 64
MAX_NAME = 63
MAX_TOKEN = 31
MAX_FAMILY = 15
MAX_RANK = 4
MAX_LAYER_TENSORS = 8

# magic, version, header size, family, model id, levels, model version, payload size,
# architecture size, table offset, tensor count, reserved: the 96 bytes the digest follows.
HEADER = struct.Struct("<4sHH16sHHIQIII44s")
# name, dtype, rank, quantization, axis, dims[4], zero point, data offset, data size,
# scale offset, scale count, reserved.
ENTRY = struct.Struct("<64sBBBB4IiQQQI12s")
assert HEADER.size == DIGEST_OFFSET and ENTRY.size == ENTRY_SIZE

DTYPES = {1: "f32", 2: "i8", 3: "u8", 4: "i16", 5: "i32", 6: "u16"}
NUMPY = {"f32": "<f4", "i8": "i1", "u8": "u1", "i16": "<i2", "i32": "<i4", "u16": "<u2"}
CODE = {name: code for code, name in DTYPES.items()}
QUANT = {0: "none", 1: "tensor", 2: "channel"}
ZERO_POINT_RANGE = {"i8": (-128, 127), "u8": (0, 255), "i16": (-32768, 32767),
                    "u16": (0, 65535), "i32": (-2**31, 2**31 - 1)}

NAME_RE = re.compile(r"[A-Za-z0-9_./-]{1,%d}\Z" % MAX_NAME)
TOKEN_RE = re.compile(r"[a-z0-9_]{1,%d}\Z" % MAX_TOKEN)
KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,%d}\Z" % (MAX_TOKEN - 1))
FAMILY_RE = re.compile(r"[a-z0-9-]{1,%d}\Z" % MAX_FAMILY)
NUMBER_RE = re.compile(r"(0|[1-9][0-9]{0,9})\Z")
NUMBERS = {"in": (1, 65536), "out": (1, 65536), "kernel": (1, 31), "stride": (1, 16)}
FIXED_KEYS = ("name", "type", "in", "out", "kernel", "stride", "act")


class AicmError(ValueError):
    """A model that the loader would refuse, with the reason."""


def _align(n, a):
    return (n + a - 1) // a * a


def _as_numpy(x):
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


# ---- architecture text ----

def format_layer(layer):
    """One architecture line from a dict: name, type, in, out, optional kernel, stride and act,
    and any further key as a tensor role -> tensor name."""
    order = [k for k in FIXED_KEYS if k in layer] + [k for k in layer if k not in FIXED_KEYS]
    return "layer " + " ".join(f"{k}={layer[k]}" for k in order) + "\n"


def parse_architecture(text, tensor_names=None):
    """The layers of an architecture text as dicts (numbers as int, roles under "tensors"), with
    the loader's checks; tensor references are checked when tensor_names is given."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as e:
            raise AicmError(f"architecture text: byte at offset {e.start} is not printable ASCII")
    for i, ch in enumerate(text):
        if ch != "\n" and not " " <= ch <= "~":
            raise AicmError(f"architecture text: byte 0x{ord(ch):02x} at offset {i} is not "
                            "printable ASCII")
    if not text:
        raise AicmError("architecture text is empty")
    if not text.endswith("\n"):
        raise AicmError("architecture text does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) > MAX_LAYERS:
        raise AicmError(f"architecture text has {len(lines)} lines, over the limit of "
                        f"{MAX_LAYERS} layers")
    layers, names = [], {}
    for number, line in enumerate(lines, 1):
        where = f"architecture line {number}"
        if not line:
            raise AicmError(f"{where} is empty")
        tokens = line.split(" ")
        if "" in tokens:
            raise AicmError(f"{where}: stray space")
        if tokens[0] != "layer":
            raise AicmError(f"{where}: record '{tokens[0][:32]}' is not 'layer'")
        layer = {"kernel": 1, "stride": 1, "act": "none", "tensors": {}}
        seen = set()
        for tok in tokens[1:]:
            key, eq, value = tok.partition("=")
            if not eq or not KEY_RE.match(key) or not NAME_RE.match(value):
                raise AicmError(f"{where}: '{tok[:96]}' is not key=value")
            if key in seen:
                raise AicmError(f"{where}: key '{key}' given twice")
            seen.add(key)
            if key in NUMBERS:
                lo, hi = NUMBERS[key]
                if not NUMBER_RE.match(value) or not lo <= int(value) <= hi:
                    raise AicmError(f"{where}: {key}={value} is not a number in {lo}..{hi}")
                layer[key] = int(value)
            elif key in ("type", "act"):
                if not TOKEN_RE.match(value):
                    raise AicmError(f"{where}: {key}={value} is not a lowercase identifier")
                layer[key] = value
            elif key == "name":
                layer[key] = value
            else:
                if len(layer["tensors"]) == MAX_LAYER_TENSORS:
                    raise AicmError(f"{where}: more than {MAX_LAYER_TENSORS} tensors in one layer")
                if tensor_names is not None and value not in tensor_names:
                    raise AicmError(f"{where}: tensor '{value}' (role '{key}') is not in the "
                                    "tensor table")
                layer["tensors"][key] = value
        for key in ("name", "type", "in", "out"):
            if key not in seen:
                raise AicmError(f"{where}: no {key}=")
        if layer["name"] in names:
            raise AicmError(f"architecture lines {names[layer['name']]} and {number} both name a "
                            f"layer '{layer['name']}'")
        names[layer["name"]] = number
        layers.append(layer)
    return layers


# ---- writing ----

def _tensor_entry(name, value):
    """(array, dtype, quant, axis, scales as float32 array or None, zero point) of a tensor."""
    if not NAME_RE.match(name):
        raise AicmError(f"tensor name {name!r}: 1..{MAX_NAME} characters of A-Z a-z 0-9 _ . / -")
    scales, zero_point, axis = None, 0, 0
    if isinstance(value, tuple):
        if len(value) not in (3, 4):
            raise AicmError(f"tensor '{name}': give (array, scales, zero_point[, axis])")
        array, scales, zero_point = value[:3]
        axis = value[3] if len(value) == 4 else 0
    else:
        array = value
    array = _as_numpy(array)
    dtype = _dtype_name(array)
    if dtype is None:
        raise AicmError(f"tensor '{name}': dtype {array.dtype} is not one of "
                        f"{', '.join(NUMPY)} (convert it first, e.g. astype(np.float32))")
    if not 1 <= array.ndim <= MAX_RANK or 0 in array.shape:
        raise AicmError(f"tensor '{name}': shape {array.shape} must have rank 1..{MAX_RANK} and "
                        "no empty dimension")
    if scales is None:
        if zero_point not in (0, None):
            raise AicmError(f"tensor '{name}': a zero point without scales")
        return array, dtype, 0, 0, None, 0
    if dtype == "f32":
        raise AicmError(f"tensor '{name}': an f32 tensor cannot be quantized")
    scales_arr = _as_numpy(scales).astype(np.float32)
    if scales_arr.ndim == 0:
        quant, axis_out = 1, 0
        if axis != 0:
            raise AicmError(f"tensor '{name}': a single scale takes no axis")
        scales_arr = scales_arr.reshape(1)
    else:
        quant, axis_out = 2, int(axis)
        if not 0 <= axis_out < array.ndim or scales_arr.shape != (array.shape[axis_out],):
            raise AicmError(f"tensor '{name}': per-channel scales of shape {scales_arr.shape} for "
                            f"axis {axis} of shape {array.shape}")
    if not np.all(np.isfinite(scales_arr)) or not np.all(scales_arr > 0):
        raise AicmError(f"tensor '{name}': scales must be finite and positive")
    lo, hi = ZERO_POINT_RANGE[dtype]
    zero_point = int(zero_point or 0)
    if not lo <= zero_point <= hi:
        raise AicmError(f"tensor '{name}': zero point {zero_point} outside [{lo}, {hi}]")
    return array, dtype, quant, axis_out, scales_arr, zero_point


def build_aicm(family, model_id, version, levels, architecture, tensors):
    """The bytes of a model file; see write_aicm."""
    if not isinstance(family, str) or not FAMILY_RE.match(family):
        raise AicmError(f"family {family!r}: 1..{MAX_FAMILY} characters of a-z 0-9 -")
    if not 1 <= model_id <= 0xFFFF:
        raise AicmError(f"model id {model_id} outside 1..65535 (0 means no model)")
    if not 0 <= version <= 0xFFFFFFFF:
        raise AicmError(f"model version {version} is not a u32")
    if not 1 <= levels <= MAX_LEVELS:
        raise AicmError(f"{levels} quality levels, outside 1..{MAX_LEVELS}")
    if not 1 <= len(tensors) <= MAX_TENSORS:
        raise AicmError(f"{len(tensors)} tensors, outside 1..{MAX_TENSORS}")
    if not isinstance(architecture, str):
        architecture = "".join(format_layer(layer) for layer in architecture)
    parse_architecture(architecture, set(tensors))
    arch = architecture.encode("ascii")
    if len(arch) > MAX_ARCH_SIZE:
        raise AicmError(f"architecture text of {len(arch)} bytes, over {MAX_ARCH_SIZE}")

    table_offset = _align(len(arch), DATA_ALIGN)
    offset = table_offset + ENTRY_SIZE * len(tensors)
    entries, blobs = [], []
    for name, value in tensors.items():
        array, dtype, quant, axis, scales, zero_point = _tensor_entry(name, value)
        data = np.ascontiguousarray(array, dtype=NUMPY[dtype])
        data_offset = _align(offset, DATA_ALIGN)
        raw = data.tobytes()
        offset = data_offset + len(raw)
        blobs.append((data_offset, raw))
        scale_offset, scale_count = 0, 0
        if scales is not None:
            scale_offset = _align(offset, 4)
            scale_count = len(scales)
            blobs.append((scale_offset, scales.astype("<f4").tobytes()))
            offset = scale_offset + 4 * scale_count
        dims = list(array.shape) + [0] * (MAX_RANK - array.ndim)
        entries.append(ENTRY.pack(name.encode("ascii"), CODE[dtype], array.ndim,
                                  quant, axis, *dims, zero_point, data_offset, len(raw),
                                  scale_offset, scale_count, bytes(12)))
    payload = bytearray(offset)
    payload[:len(arch)] = arch
    payload[table_offset:table_offset + ENTRY_SIZE * len(entries)] = b"".join(entries)
    for at, raw in blobs:
        payload[at:at + len(raw)] = raw
    if HEADER_SIZE + len(payload) > MAX_FILE_SIZE:
        raise AicmError(f"model file of {HEADER_SIZE + len(payload)} bytes, over the "
                        f"{MAX_FILE_SIZE}-byte limit")
    header = HEADER.pack(b"AICM", FORMAT_VERSION, HEADER_SIZE, family.encode("ascii"), model_id,
                         levels, version, len(payload), len(arch), table_offset, len(entries),
                         bytes(44))
    digest = hashlib.sha256(header + bytes(payload)).digest()
    return header + digest + bytes(payload)


def _dtype_name(array):
    """The file's name for the array's dtype, whatever its byte order, or None."""
    for name, np_dtype in NUMPY.items():
        if np.dtype(np_dtype).str[1:] == array.dtype.str[1:]:
            return name
    return None


def write_aicm(path, family, model_id, version, levels, architecture, tensors):
    """Writes a model file and returns its bytes.

    family: "nic-rt" or "nic-hq" (1..15 of a-z 0-9 -); model_id: 1..65535; version: u32;
    levels: quality levels, 1..64. architecture: the text, or a list of dicts for format_layer.
    tensors: name -> array, or name -> (array, scales, zero_point[, axis]) where scales is None
    (not quantized), a scalar (per tensor) or one scale per index of axis (per channel, axis 0
    unless given). Arrays are numpy or torch, of float32, int8, uint8, int16, int32 or uint16."""
    data = build_aicm(family, model_id, version, levels, architecture, tensors)
    with open(path, "wb") as f:
        f.write(data)
    return data


# ---- reading ----

def read_aicm(source):
    """A model file (path or bytes) as a dict, checked as the C loader checks it: family,
    model_id, version, levels, sha256 (hex), architecture (text), layers, and tensors: name ->
    dict(array, dtype, quant, axis, scales, zero_point), in file order."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        b = bytes(source)
    else:
        with open(source, "rb") as f:
            b = f.read(MAX_FILE_SIZE + 1)
    if len(b) > MAX_FILE_SIZE:
        raise AicmError(f"over the {MAX_FILE_SIZE}-byte limit")
    if len(b) < 4 or b[:4] != b"AICM":
        raise AicmError("not an AICM model file")
    if len(b) < 8:
        raise AicmError("truncated header")
    version_, hsize = struct.unpack_from("<HH", b, 4)
    if version_ > FORMAT_VERSION:
        raise AicmError(f"model format version {version_} is newer than this reader")
    if version_ == 0 or hsize != HEADER_SIZE or len(b) < HEADER_SIZE:
        raise AicmError("bad version, header size or truncated header")
    (_, _, _, family, model_id, levels, version, psize, arch_size, table_offset, count,
     reserved) = HEADER.unpack_from(b)
    if psize != len(b) - HEADER_SIZE:
        raise AicmError(f"the header declares a payload of {psize} bytes but "
                        f"{len(b) - HEADER_SIZE} follow it")
    digest = hashlib.sha256(b[:DIGEST_OFFSET] + b[HEADER_SIZE:]).digest()
    if digest != b[DIGEST_OFFSET:HEADER_SIZE]:
        raise AicmError("SHA-256 mismatch (corrupted file)")
    family = _padded(family, FAMILY_RE, "model family")
    if model_id == 0 or not 1 <= levels <= MAX_LEVELS or any(reserved):
        raise AicmError("bad model id, level count or reserved header bytes")
    if not 1 <= arch_size <= min(MAX_ARCH_SIZE, psize) or not 1 <= count <= MAX_TENSORS:
        raise AicmError("bad architecture size or tensor count")
    if table_offset % 8 or table_offset + count * ENTRY_SIZE > psize:
        raise AicmError("tensor table outside the payload")
    payload = b[HEADER_SIZE:]
    regions = [(0, arch_size, "the architecture text"),
               (table_offset, table_offset + count * ENTRY_SIZE, "the tensor table")]
    tensors = {}
    for i in range(count):
        (name, dtype, rank, quant, axis, d0, d1, d2, d3, zero_point, data_offset, data_size,
         scale_offset, scale_count, reserved) = ENTRY.unpack_from(payload, table_offset + i * 128)
        name = _padded(name, NAME_RE, f"tensor #{i}: name")
        if name in tensors:
            raise AicmError(f"tensor name '{name}' appears twice")
        if dtype not in DTYPES or not 1 <= rank <= MAX_RANK or any(reserved):
            raise AicmError(f"tensor '{name}': bad dtype, rank or reserved bytes")
        dims = (d0, d1, d2, d3)
        if 0 in dims[:rank] or any(dims[rank:]):
            raise AicmError(f"tensor '{name}': bad dimensions {dims}")
        dt = np.dtype(NUMPY[DTYPES[dtype]])
        if data_size != math.prod(dims[:rank]) * dt.itemsize:
            raise AicmError(f"tensor '{name}': data size {data_size} does not match its dims")
        if data_offset % DATA_ALIGN or data_offset + data_size > psize:
            raise AicmError(f"tensor '{name}': data [{data_offset}, {data_offset + data_size}) "
                            f"misaligned or outside payload of {psize} bytes")
        regions.append((data_offset, data_offset + data_size, f"tensor '{name}' data"))
        array = np.frombuffer(payload, dt, math.prod(dims[:rank]), data_offset)
        array = array.reshape(dims[:rank])
        scales = None
        if quant == 0:
            if axis or scale_count or scale_offset or zero_point:
                raise AicmError(f"tensor '{name}': not quantized, yet has quantization fields")
        else:
            want = 1 if quant == 1 else (dims[axis] if axis < rank else -1)
            if (quant not in QUANT or DTYPES[dtype] == "f32" or scale_count != want
                    or (quant == 1 and axis) or scale_offset % 4
                    or scale_offset + 4 * scale_count > psize):
                raise AicmError(f"tensor '{name}': bad quantization fields")
            lo, hi = ZERO_POINT_RANGE[DTYPES[dtype]]
            scales = np.frombuffer(payload, "<f4", scale_count, scale_offset)
            if not (lo <= zero_point <= hi and np.all(np.isfinite(scales)) and np.all(scales > 0)):
                raise AicmError(f"tensor '{name}': bad scales or zero point")
            regions.append((scale_offset, scale_offset + 4 * scale_count,
                            f"tensor '{name}' scales"))
        tensors[name] = {"array": array, "dtype": DTYPES[dtype], "quant": QUANT[quant],
                         "axis": axis, "scales": scales, "zero_point": zero_point}
    regions.sort()
    reach = regions[0]
    for r in regions[1:]:
        if r[0] < reach[1]:
            raise AicmError(f"{r[2]} [{r[0]}, {r[1]}) overlaps {reach[2]} [{reach[0]}, {reach[1]})")
        if r[1] > reach[1]:
            reach = r
    arch = payload[:arch_size]
    layers = parse_architecture(arch, set(tensors))
    return {"family": family, "model_id": model_id, "version": version, "levels": levels,
            "sha256": b[DIGEST_OFFSET:HEADER_SIZE].hex(), "architecture": arch.decode("ascii"),
            "layers": layers, "tensors": tensors}


def _padded(field, pattern, what):
    text, _, rest = field.partition(b"\0")
    if len(text) == len(field) or any(rest):
        raise AicmError(f"{what} is not NUL-padded")
    text = text.decode("latin-1")
    if not pattern.match(text):
        raise AicmError(f"{what} {text!r} has characters that are not allowed")
    return text


# ---- the example model and the command line ----

def example_model():
    """A small model with every dtype and quantization mode: the arguments of write_aicm."""
    rng = np.random.default_rng(20240601)
    tensors = {
        "g_a.0.weight": (rng.integers(-127, 128, (8, 3, 5, 5), dtype=np.int8),
                         rng.uniform(0.001, 0.05, 8).astype(np.float32), 0),
        "g_a.0.bias": rng.normal(0, 0.1, 8).astype(np.float32),
        "g_a.1.beta": rng.uniform(0.5, 1.5, 8).astype(np.float32),
        "g_a.1.gamma": (rng.integers(0, 256, (8, 8), dtype=np.uint8), np.float32(0.004), 128),
        "g_s.0.weight": (rng.integers(-3000, 3000, (8, 3, 5, 5), dtype=np.int16),
                         rng.uniform(1e-5, 1e-4, 3).astype(np.float32), 0, 1),
        "g_s.0.bias": rng.normal(0, 0.1, 3).astype(np.float32),
        "eb.cdf": np.sort(rng.integers(0, 65536, (8, 16), dtype=np.uint16), axis=1),
        "eb.offset": rng.integers(-8, 0, 8, dtype=np.int32),
        "eb.length": rng.integers(4, 17, 8, dtype=np.int32),
    }
    layers = [
        {"name": "g_a.0", "type": "conv2d", "in": 3, "out": 8, "kernel": 5, "stride": 2,
         "weight": "g_a.0.weight", "bias": "g_a.0.bias"},
        {"name": "g_a.1", "type": "gdn", "in": 8, "out": 8, "beta": "g_a.1.beta",
         "gamma": "g_a.1.gamma"},
        {"name": "g_s.0", "type": "deconv2d", "in": 8, "out": 3, "kernel": 5, "stride": 2,
         "act": "none", "weight": "g_s.0.weight", "bias": "g_s.0.bias"},
        {"name": "eb", "type": "entropy_bottleneck", "in": 8, "out": 8, "cdf": "eb.cdf",
         "offset": "eb.offset", "length": "eb.length"},
    ]
    return {"family": "nic-rt", "model_id": 1, "version": 3, "levels": 4,
            "architecture": layers, "tensors": tensors}


def info(path, out=sys.stdout):
    m = read_aicm(path)
    print(f"family {m['family']} id {m['model_id']} version {m['version']} levels {m['levels']}",
          file=out)
    print(f"sha256 {m['sha256']}", file=out)
    for layer in m["layers"]:
        roles = " ".join(f"{k}={v}" for k, v in layer["tensors"].items())
        print(f"layer {layer['name']} {layer['type']} {layer['in']}->{layer['out']} "
              f"k{layer['kernel']} s{layer['stride']} act={layer['act']} {roles}".rstrip(),
              file=out)
    for name, t in m["tensors"].items():
        shape = "x".join(map(str, t["array"].shape))
        quant = t["quant"]
        if quant == "channel":
            quant += f" axis {t['axis']}"
        if quant != "none":
            quant += f" ({len(t['scales'])} scales, zero point {t['zero_point']})"
        print(f"tensor {name} {t['dtype']} {shape} quant {quant}", file=out)


def main(argv):
    usage = "usage: aicm.py info FILE | aicm.py example OUT"
    if len(argv) != 3 or argv[1] not in ("info", "example"):
        print(usage, file=sys.stderr)
        return 2
    try:
        if argv[1] == "info":
            info(argv[2])
        else:
            write_aicm(argv[2], **example_model())
    except (AicmError, OSError) as e:
        print(f"aicm.py: {argv[2]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
