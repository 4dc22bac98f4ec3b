"""Helpers for the aicd interop tests: stubs import, daemon launcher, frame builders, TLS.

Everything here talks to a real aicd process over real sockets: the daemon is started with
free ports on 127.0.0.1, a private data folder and a clean AIC_* environment, and is stopped
with SIGTERM at the end (its exit code and, for sanitizer builds, its stderr are checked).
"""
import json
import math
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

STUBS = os.environ.get("AIC_PY_STUBS") or str(REPO / "build" / "py")
if STUBS not in sys.path:
    sys.path.insert(0, STUBS)

import grpc  # noqa: E402

try:
    from auralink.aic.v1 import aic_compression_pb2 as pb  # noqa: E402
    from auralink.aic.v1 import aic_compression_pb2_grpc as pbg  # noqa: E402
    import grpc_health_v1_pb2 as hpb  # noqa: E402,F401 (re-exported)
    import grpc_health_v1_pb2_grpc as hpbg  # noqa: E402,F401 (re-exported)
except ImportError as e:  # pragma: no cover - environment problem, say how to fix it
    raise ImportError(
        f"cannot import the generated Python stubs from {STUBS!r} ({e}); generate them with "
        "`scripts/gen-python-stubs build/py` or point AIC_PY_STUBS at them") from e

AIC_BIN = os.environ.get("AIC_BIN") or str(REPO / "build" / "aicd")
SANITIZED = os.environ.get("AIC_SANITIZED", "") not in ("", "0")
# Every wait in the suite is multiplied by this: ASan/UBSan builds are ~3x slower.
SLOW = 3.0 if SANITIZED else 1.0
RPC_TIMEOUT = 15.0 * SLOW

SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")

PIXEL_FORMATS = {
    "I420": pb.PIXEL_FORMAT_I420,
    "NV12": pb.PIXEL_FORMAT_NV12,
    "RGB24": pb.PIXEL_FORMAT_RGB24,
    "RGBA": pb.PIXEL_FORMAT_RGBA,
}


# --------------------------------------------------------------------------------------------
# Ports and processes


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port, host="127.0.0.1", timeout=0.5):
    """True if a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def clean_env(extra=None):
    """The test runner's environment without any AIC_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIC_")}
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def sanitizer_errors(text):
    """The sanitizer reports found in a daemon's stderr, as lines."""
    return [line for line in text.splitlines() if any(p in line for p in SANITIZER_PATTERNS)]


def run_aicd(args, env=None, timeout=10.0, cwd=None):
    """Runs aicd to completion (for --help, usage errors, startup failures). If it is still
    running after `timeout` seconds it is killed and returncode is None."""
    try:
        return subprocess.run([AIC_BIN, *args], env=clean_env(env), cwd=cwd,
                              capture_output=True, text=True, timeout=timeout * SLOW)
    except subprocess.TimeoutExpired as e:
        def s(x):
            return x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
        return subprocess.CompletedProcess(e.cmd, None, s(e.stdout), s(e.stderr))


def json_log_lines(text):
    """The stderr lines that are JSON objects, parsed."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def http_get(port, path, timeout=5.0):
    """GET http://127.0.0.1:port/path -> (status, headers, body bytes); HTTP errors too."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout * SLOW) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Daemon:
    """One aicd process on free 127.0.0.1 ports with its own data folder.

    `args` are extra flags; `env` extra environment variables. Unless `listen_flags` is False,
    --grpc-listen and --http-listen are given on the command line with the chosen ports (tests
    of the config precedence pass False and set the addresses themselves, then give the
    ports they expect to be used as grpc_port/http_port).
    """

    def __init__(self, workdir, *, args=(), env=None, grpc_port=None, http_port=None,
                 listen_flags=True, channel_creds=None, name="aicd"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.grpc_port = grpc_port or free_port()
        self.http_port = http_port if http_port is not None else free_port()
        self.extra_args = list(args)
        self.extra_env = dict(env or {})
        self.listen_flags = listen_flags
        self.channel_creds = channel_creds  # grpc.ChannelCredentials when TLS is on
        self.proc = None
        self.returncode = None
        self.stderr_path = self.workdir / f"{name}.stderr.log"
        self.stdout_path = self.workdir / f"{name}.stdout.log"
        self.channels = []
        self.checked = False

    @property
    def target(self):
        return f"127.0.0.1:{self.grpc_port}"

    def argv(self):
        argv = [AIC_BIN]
        if self.listen_flags:
            argv += ["--grpc-listen", self.target, "--http-listen", f"127.0.0.1:{self.http_port}"]
        if not any(a == "--data-dir" or a.startswith("--data-dir=") for a in self.extra_args):
            argv += ["--data-dir", str(self.workdir / "data")]
        return argv + self.extra_args

    def start(self, wait=True, timeout=None):
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, env=clean_env(self.extra_env),
                                     cwd=str(self.workdir))
        if wait:
            self.wait_ready(timeout)
        return self

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stdout(self):
        try:
            return self.stdout_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=None):
        """Until a gRPC channel is READY and HTTP /health answers (unless HTTP is off)."""
        timeout = (timeout or 15.0) * SLOW
        deadline = time.monotonic() + timeout
        ch = self.new_channel(track=False)
        ready = grpc.channel_ready_future(ch)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"{self.name} exited with code {self.proc.returncode} before it was "
                        f"ready; argv={self.argv()}\nstderr:\n{self.stderr()[-4000:]}")
                try:
                    ready.result(timeout=0.25)
                    break
                except grpc.FutureTimeoutError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name}: gRPC port {self.target} not ready within "
                                         f"{timeout:.0f}s\nstderr:\n{self.stderr()[-4000:]}")
        finally:
            ready.cancel()
            ch.close()
        if self.http_port:
            while True:
                try:
                    status, _, _ = http_get(self.http_port, "/health", timeout=1.0)
                    if status == 200:
                        break
                except OSError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{self.name}: HTTP /health on port {self.http_port} "
                                         f"never answered 200\nstderr:\n{self.stderr()[-4000:]}")
                time.sleep(0.05)

    def new_channel(self, options=None, creds=None, track=True):
        creds = creds or self.channel_creds
        opts = list(options or [])
        if creds is not None:
            ch = grpc.secure_channel(self.target, creds, options=opts)
        else:
            ch = grpc.insecure_channel(self.target, options=opts)
        if track:
            self.channels.append(ch)
        return ch

    def stub(self, **kw):
        return pbg.AICCompressionServiceStub(self.new_channel(**kw))

    def close_channels(self):
        for ch in self.channels:
            ch.close()
        self.channels = []

    def send_signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Waits for exit; returns the exit code, or None if it is still running."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_files()
        return self.returncode

    def _close_files(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f and not f.closed:
                f.close()

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Sends `sig` and waits; SIGKILLs it if it does not exit. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            timeout = (timeout or 20.0) * SLOW
            if self.wait(timeout) is None:
                self.proc.kill()
                self.proc.wait()
                self._close_files()
                raise AssertionError(
                    f"{self.name} did not exit within {timeout:.0f}s of {sig.name}; killed it\n"
                    f"stderr:\n{self.stderr()[-4000:]}")
        self.returncode = self.proc.returncode
        self._close_files()
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()

    def check_sanitizers(self):
        errs = sanitizer_errors(self.stderr())
        assert not errs, (f"{self.name}: sanitizer reports in stderr:\n" + "\n".join(errs[:20]) +
                          f"\n--- stderr tail ---\n{self.stderr()[-6000:]}")

    def shutdown_and_check(self, expect_rc=0):
        """Teardown: close channels, SIGTERM, assert the exit code and a clean stderr."""
        if self.checked:
            return
        self.checked = True
        self.close_channels()
        try:
            rc = self.stop()
        finally:
            self.kill()
        self.check_sanitizers()
        assert rc == expect_rc, (f"{self.name} exited with {rc} after SIGTERM, expected "
                                 f"{expect_rc}\nstderr:\n{self.stderr()[-4000:]}")


# --------------------------------------------------------------------------------------------
# gRPC helpers


def expect_rpc_error(call, request, code, timeout=None, what=""):
    """Calls `call(request)`, asserts it fails with `code` and a non-empty message."""
    try:
        resp = call(request, timeout=timeout or RPC_TIMEOUT)
    except grpc.RpcError as e:
        assert e.code() == code, (f"{what}: expected {code.name}, got {e.code().name}: "
                                  f"{e.details()!r}")
        assert e.details(), f"{what}: {code.name} without an error message"
        return e
    raise AssertionError(f"{what}: expected {code.name}, the call succeeded: "
                         f"{str(resp)[:500]}")


def assert_alive(stub, what=""):
    """The daemon still answers after whatever the test did."""
    try:
        r = stub.HealthCheck(pb.HealthCheckRequest(), timeout=RPC_TIMEOUT)
    except grpc.RpcError as e:
        raise AssertionError(f"daemon no longer answers HealthCheck after {what}: "
                             f"{e.code().name} {e.details()!r}") from e
    assert r.status == pb.HealthCheckResponse.STATUS_SERVING, f"after {what}: {r}"


def metric_sum(text, name):
    """The sum of every sample of metric `name`, whatever its labels (None if absent)."""
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        rest = line[len(name):]
        if rest[:1] not in ("{", " ", "\t"):
            continue
        total += float(line.rsplit(None, 1)[1])
        seen = True
    return total if seen else None


def metric_value(text, name_with_labels):
    """The value of one Prometheus sample line `name{labels} value` (None if absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(name_with_labels):
            rest = line[len(name_with_labels):]
            if not rest or rest[0] not in " \t":
                continue
            return float(rest.split()[0])
    return None


class RequestQueue:
    """The request side of a stream, fed by the test: iterate it to get the requests put in,
    until close(). Lets a test decide exactly when each frame goes out."""

    _END = object()

    def __init__(self):
        self.q = queue.Queue()
        self.sent = 0

    def put(self, req):
        self.q.put(req)

    def close(self):
        self.q.put(self._END)

    def __iter__(self):
        while True:
            item = self.q.get()
            if item is self._END:
                return
            self.sent += 1
            yield item


# --------------------------------------------------------------------------------------------
# Frames


def frame_size(fmt, w, h):
    """Bytes of a raw picture (chroma planes of I420/NV12 are ceil(w/2) x ceil(h/2))."""
    if fmt in (pb.PIXEL_FORMAT_I420, pb.PIXEL_FORMAT_NV12):
        return w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
    if fmt == pb.PIXEL_FORMAT_RGB24:
        return w * h * 3
    if fmt == pb.PIXEL_FORMAT_RGBA:
        return w * h * 4
    raise ValueError(fmt)


def _plane(w, h, rng, phase=0.0, noise=6.0, scale=1.0):
    """A natural-looking 8-bit plane: diagonal gradient + soft waves + a little noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    v = (x * 160.0 / max(w, 1) + y * 80.0 / max(h, 1)
         + 20.0 * np.sin((x + phase) / 7.0) * np.cos((y - phase) / 9.0))
    v = v * scale + rng.normal(0.0, noise, size=(h, w))
    return np.clip(v + 8.0, 0, 255).astype(np.uint8)


def make_picture(fmt, w, h, seed=0, kind="natural", phase=0.0):
    """Raw picture bytes. kind: natural (gradient+texture+noise), gradient (smooth, no noise),
    flat (one value per plane), noise (uniform random: incompressible), screen (text-like)."""
    rng = np.random.default_rng(seed)
    cw, chh = (w + 1) // 2, (h + 1) // 2
    if kind == "noise":
        return rng.integers(0, 256, size=frame_size(fmt, w, h), dtype=np.uint8).tobytes()

    def plane(pw, ph, salt):
        if kind == "flat":
            return np.full((ph, pw), 90 + 30 * salt, dtype=np.uint8)
        if kind == "gradient":
            y, x = np.mgrid[0:ph, 0:pw]
            return ((x * 255 // max(pw - 1, 1) + y * 3 // max(ph, 1) + 10 * salt) % 256
                    ).astype(np.uint8)
        if kind == "screen":
            p = np.full((ph, pw), 235 - 40 * salt, dtype=np.uint8)
            # Dark "glyph" bars on a light background, in rows of text, plus a title bar.
            glyphs = rng.integers(0, 2, size=(max(ph // 8, 1), max(pw // 4, 1)))
            for r in range(ph):
                if r % 8 < 2:
                    continue
                row = np.repeat(glyphs[r // 8 % glyphs.shape[0]], 4)[:pw]
                p[r, :row.size][row == 1] = 20 + 10 * salt
            p[: max(ph // 10, 1), :] = 60 + 20 * salt
            return p
        return _plane(pw, ph, rng, phase=phase + 13 * salt, noise=6.0 if salt == 0 else 3.0,
                      scale=1.0 if salt == 0 else 0.5)

    if fmt == pb.PIXEL_FORMAT_I420:
        data = plane(w, h, 0).tobytes() + plane(cw, chh, 1).tobytes() + plane(cw, chh, 2).tobytes()
    elif fmt == pb.PIXEL_FORMAT_NV12:
        uv = np.stack([plane(cw, chh, 1), plane(cw, chh, 2)], axis=-1)
        data = plane(w, h, 0).tobytes() + uv.tobytes()
    elif fmt in (pb.PIXEL_FORMAT_RGB24, pb.PIXEL_FORMAT_RGBA):
        chans = [plane(w, h, 0), plane(w, h, 1), plane(w, h, 2)]
        if fmt == pb.PIXEL_FORMAT_RGBA:
            chans.append(np.full((h, w), 255, dtype=np.uint8) if kind != "natural"
                         else plane(w, h, 3))
        data = np.stack(chans, axis=-1).tobytes()
    else:
        raise ValueError(fmt)
    assert len(data) == frame_size(fmt, w, h)
    return data


def make_audio_s16(samples_per_channel=960, channels=2, rate=48000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(samples_per_channel) / rate
    chans = []
    for c in range(channels):
        s = 9000 * np.sin(2 * math.pi * (440 + 110 * c) * t) + rng.normal(0, 300, t.size)
        chans.append(np.clip(s, -32768, 32767).astype("<i2"))
    return np.stack(chans, axis=-1).tobytes()


def make_audio_f32(samples_per_channel=480, channels=2, rate=48000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(samples_per_channel) / rate
    chans = [(0.4 * np.sin(2 * math.pi * (330 + 50 * c) * t) + rng.normal(0, 0.01, t.size))
             .astype("<f4") for c in range(channels)]
    return np.stack(chans, axis=-1).tobytes()


def video_request(fmt, w, h, seed=0, kind="natural", frame_type=None, **kw):
    """A CompressFrameRequest for a picture; LOSSLESS unless `mode` is given."""
    kw.setdefault("mode", pb.COMPRESSION_MODE_LOSSLESS)
    data = kw.pop("data", None)
    if data is None:
        data = make_picture(fmt, w, h, seed=seed, kind=kind)
    ft = pb.FRAME_TYPE_VIDEO if frame_type is None else frame_type
    return pb.CompressFrameRequest(frame_type=ft,
                                   pixel_format=fmt, width=w, height=h, data=data, **kw)


def audio_request(samples=960, channels=2, rate=48000, fmt=None, seed=0, **kw):
    fmt = fmt or pb.AUDIO_FORMAT_S16LE
    kw.setdefault("mode", pb.COMPRESSION_MODE_LOSSLESS)
    data = kw.pop("data", None)
    if data is None:
        data = (make_audio_s16(samples, channels, rate, seed) if fmt == pb.AUDIO_FORMAT_S16LE
                else make_audio_f32(samples, channels, rate, seed))
    return pb.CompressFrameRequest(
        frame_type=pb.FRAME_TYPE_AUDIO,
        audio=pb.AudioParams(format=fmt, sample_rate=rate, channels=channels),
        data=data, **kw)


def check_lossless_response(req, resp, codec=pb.CODEC_ZSTD, what=""):
    """The figures a lossless compression of `req` must report."""
    tag = what or f"{pb.FrameType.Name(req.frame_type)} {req.width}x{req.height}"
    assert resp.codec == codec, (f"{tag}: codec {pb.Codec.Name(resp.codec)}, expected "
                                 f"{pb.Codec.Name(codec)}")
    assert resp.compressed_size == len(resp.bitstream), (
        f"{tag}: compressed_size {resp.compressed_size} != len(bitstream) {len(resp.bitstream)}")
    assert resp.original_size == len(req.data), (
        f"{tag}: original_size {resp.original_size} != len(data) {len(req.data)}")
    assert resp.compression_ratio == pytest_approx(resp.compressed_size / resp.original_size), (
        f"{tag}: compression_ratio {resp.compression_ratio} != "
        f"{resp.compressed_size}/{resp.original_size}")
    assert resp.psnr_db == 100.0, f"{tag}: psnr_db {resp.psnr_db}, expected 100 (exact)"
    assert resp.ssim == 1.0, f"{tag}: ssim {resp.ssim}, expected 1 (exact)"
    assert resp.fallback_reason == pb.FALLBACK_REASON_NONE, (
        f"{tag}: fallback {pb.FallbackReason.Name(resp.fallback_reason)} "
        f"({resp.fallback_detail!r})")
    assert resp.frame_id == req.frame_id, f"{tag}: frame_id {resp.frame_id} != {req.frame_id}"
    assert resp.timestamp_us == req.timestamp_us, (
        f"{tag}: timestamp_us {resp.timestamp_us} != {req.timestamp_us}")
    assert resp.session_id == req.session_id, (
        f"{tag}: session_id {resp.session_id!r} != {req.session_id!r}")
    assert resp.model_id == "" and resp.model_version == 0, f"{tag}: model on a classical codec"
    assert resp.keyframe, f"{tag}: a lossless frame must be a keyframe"
    assert resp.encode_latency_ms >= 0.0 and math.isfinite(resp.encode_latency_ms), (
        f"{tag}: encode_latency_ms {resp.encode_latency_ms}")
    bs = resp.bitstream
    assert bs[:4] == b"AICF", f"{tag}: bitstream does not start with the AICF magic: {bs[:8]!r}"
    assert bs[6] == resp.codec, f"{tag}: header codec id {bs[6]} != response codec {resp.codec}"


def pytest_approx(x):
    import pytest
    return pytest.approx(x, rel=1e-9, abs=1e-12)


def check_decompressed(req, back, codec=pb.CODEC_ZSTD, what=""):
    """DecompressFrame of a lossless bitstream gives the request back exactly."""
    tag = what or f"{pb.FrameType.Name(req.frame_type)} {req.width}x{req.height}"
    assert back.frame_type == req.frame_type, (
        f"{tag}: frame_type {pb.FrameType.Name(back.frame_type)}")
    if req.frame_type == pb.FRAME_TYPE_AUDIO:
        assert back.audio.format == req.audio.format, f"{tag}: audio format {back.audio.format}"
        assert back.audio.sample_rate == req.audio.sample_rate, (
            f"{tag}: sample_rate {back.audio.sample_rate}")
        assert back.audio.channels == req.audio.channels, f"{tag}: channels {back.audio.channels}"
    else:
        assert back.pixel_format == req.pixel_format, (
            f"{tag}: pixel_format {pb.PixelFormat.Name(back.pixel_format)}")
        assert (back.width, back.height) == (req.width, req.height), (
            f"{tag}: size {back.width}x{back.height}")
    assert back.codec == codec, f"{tag}: decompress codec {pb.Codec.Name(back.codec)}"
    assert len(back.data) == len(req.data), (
        f"{tag}: restored {len(back.data)} bytes, expected {len(req.data)}")
    if back.data != req.data:
        a = np.frombuffer(back.data, np.uint8)
        b = np.frombuffer(req.data, np.uint8)
        diff = np.flatnonzero(a != b)
        raise AssertionError(f"{tag}: restored data differs in {diff.size} bytes, first at "
                             f"offset {diff[0]} ({a[diff[0]]} != {b[diff[0]]})")


# --------------------------------------------------------------------------------------------
# Bitstream header (docs/bitstream.md), to craft hostile but well-formed inputs


def crc_fix(bitstream):
    """Recomputes the CRC-32 at bytes 28..31 over header bytes 0..27 + payload."""
    import zlib
    b = bytearray(bitstream)
    crc = zlib.crc32(bytes(b[:28]) + bytes(b[32:])) & 0xFFFFFFFF
    b[28:32] = crc.to_bytes(4, "little")
    return bytes(b)


def set_u32(bitstream, offset, value):
    b = bytearray(bitstream)
    b[offset:offset + 4] = int(value).to_bytes(4, "little")
    return bytes(b)


# --------------------------------------------------------------------------------------------
# TLS material made with the openssl CLI


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr}")


def make_ca(d, name):
    d = Path(d)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/CN=AIC interop test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def make_leaf(d, name, ca, ca_key, ext_lines, cn):
    d = Path(d)
    (d / f"{name}.ext").write_text("\n".join(ext_lines) + "\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
             cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca), "-CAkey", str(ca_key),
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
             "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def make_tls_material(d):
    """CA, server cert for 127.0.0.1/localhost, client cert; plus a second, foreign CA and a
    client cert it signed. Returns a dict of paths."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    ca, ca_key = make_ca(d, "ca")
    server, server_key = make_leaf(d, "server", ca, ca_key, [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ], "localhost")
    client, client_key = make_leaf(d, "client", ca, ca_key, [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=clientAuth",
    ], "aic-test-client")
    other_ca, other_ca_key = make_ca(d, "otherca")
    rogue, rogue_key = make_leaf(d, "rogue", other_ca, other_ca_key, [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=clientAuth",
    ], "rogue-client")
    return dict(ca=ca, server=server, server_key=server_key, client=client,
                client_key=client_key, rogue=rogue, rogue_key=rogue_key)


def read(p):
    return Path(p).read_bytes()


def version_regex():
    return re.compile(r"^\d+\.\d+\.\d+")
