"""Tests of the aic command line: round trips through PNG, Y4M and WAV, info, compare, and hostile
or mistaken inputs. The binary comes from $AIC_CLI (default build/aic under the repository).

Media files are written and read by the small pure-Python codecs below (zlib and struct only),
so the tests need neither PIL nor numpy and check the files byte for byte."""

import math
import os
import pty
import random
import re
import struct
import subprocess
import zlib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AIC = os.environ.get("AIC_CLI", "build/aic")
if not os.path.isabs(AIC):
    AIC = os.path.join(ROOT, AIC)

SANITIZER_MARKS = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "runtime error:", "LeakSanitizer")


def run(*args, check=None):
    """Runs aic. Never accepts a death by signal or a sanitizer report, whatever the exit code."""
    p = subprocess.run([AIC, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert p.returncode >= 0, f"aic {args} died by signal {-p.returncode}: {p.stderr}"
    for mark in SANITIZER_MARKS:
        assert mark not in p.stderr, p.stderr
    if check is not None:
        assert p.returncode == check, f"aic {args} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def ok(*args):
    p = run(*args, check=0)
    return p


def fails(*args, codes=(1, 2)):
    """A failure: the expected exit code and exactly one 'aic: ...' line on stderr."""
    p = run(*args)
    assert p.returncode in codes, f"aic {args} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
    lines = [l for l in p.stderr.splitlines() if not l.startswith("aic: warning:")]
    assert len(lines) == 1 and lines[0].startswith("aic: "), p.stderr
    return p


# --- PNG ---------------------------------------------------------------------------------------


def _chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, w, h, color_type, depth, pixels, plte=None, trns=None, interlace=False):
    """pixels: a list of rows, each a list of samples per pixel (tuples). Depth 8 or 16."""
    def row_bytes(row):
        out = bytearray()
        for px in row:
            for s in px:
                out += struct.pack(">H", s) if depth == 16 else bytes([s])
        return bytes(out)

    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            for y in range(y0, h, dy):
                sub = [pixels[y][x] for x in range(x0, w, dx)]
                if sub:
                    raw += b"\x00" + row_bytes(sub)
    else:
        for row in pixels:
            raw += b"\x00" + row_bytes(row)
    data = b"\x89PNG\r\n\x1a\n"
    data += _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        data += _chunk(b"PLTE", b"".join(bytes(c) for c in plte))
    if trns is not None:
        data += _chunk(b"tRNS", trns)
    data += _chunk(b"IDAT", zlib.compress(bytes(raw)))
    data += _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def read_png(path):
    """Reads an 8-bit RGB or RGBA non-interlaced PNG (what aic writes): (w, h, channels, bytes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, tag = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if tag == b"IHDR":
            w, h, depth, ctype, _, _, lace = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6) and lace == 0
    ch = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * ch
    out, prev = bytearray(), bytearray(stride)
    for y in range(h):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], prev[i - ch] if i >= ch else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, _paeth(a, b, c))[ft]) & 255
        out += line
        prev = line
    return w, h, ch, bytes(out)


def rand_pixels(w, h, ch, seed, maxv=255):
    rng = random.Random(seed)
    return [[tuple(rng.randint(0, maxv) for _ in range(ch)) for _ in range(w)] for _ in range(h)]


def flat(pixels):
    return bytes(s for row in pixels for px in row for s in px)


def smooth_pixels(w, h):
    """A picture lossy codecs can code well: gradients and a disc."""
    rows = []
    for y in range(h):
        row = []
        for x in range(w):
            d = math.hypot(x - w / 2, y - h / 2) < min(w, h) / 3
            row.append((min(255, x * 255 // w + (60 if d else 0)), y * 255 // h,
                        int(128 + 100 * math.sin(x / 7.0 + y / 11.0))))
        rows.append(row)
    return rows


# --- Y4M ---------------------------------------------------------------------------------------


def i420_size(w, h):
    return w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)


def write_y4m(path, w, h, frames, params="F25:1 Ip A1:1 C420jpeg", frame_params=""):
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} {params}".rstrip().encode() + b"\n")
        for fr in frames:
            f.write(b"FRAME" + (b" " + frame_params.encode() if frame_params else b"") + b"\n" + fr)


def read_y4m(path):
    data = open(path, "rb").read()
    nl = data.index(b"\n")
    header = data[:nl].decode().split(" ")
    assert header[0] == "YUV4MPEG2"
    p = {t[0]: t[1:] for t in header[1:]}
    w, h = int(p["W"]), int(p["H"])
    size, pos, frames = i420_size(w, h), nl + 1, []
    while pos < len(data):
        nl = data.index(b"\n", pos)
        assert data[pos:pos + 5] == b"FRAME"
        frames.append(data[nl + 1:nl + 1 + size])
        pos = nl + 1 + size
    return w, h, p.get("F"), frames


def rand_frames(w, h, n, seed):
    rng = random.Random(seed)
    return [bytes(rng.randrange(256) for _ in range(i420_size(w, h))) for _ in range(n)]


def smooth_frames(w, h, n):
    out = []
    for k in range(n):
        y = bytes((x * 3 + yy * 2 + k * 4) & 255 for yy in range(h) for x in range(w))
        c = bytes(128 for _ in range(((w + 1) // 2) * ((h + 1) // 2)))
        out.append(y + c + c)
    return out


# --- WAV ---------------------------------------------------------------------------------------

KS_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def write_wav(path, tag, channels, rate, data, extra_chunks=(), extensible=False, data_size=None):
    bits = 16 if tag == 1 else 32
    align = channels * bits // 8
    byte_rate = (rate * align) & 0xFFFFFFFF  # hostile rates overflow the field
    if extensible:
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, byte_rate, align, bits, 22, bits, 0)
        fmt += struct.pack("<H", tag) + KS_TAIL
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, byte_rate, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    for cid, payload in extra_chunks:
        body += cid + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")
    body += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def read_wav(path):
    data = open(path, "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    pos, fmt = 12, None
    while pos < len(data):
        cid, n = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + n]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            return fmt, body
        pos += 8 + n + (n & 1)
    raise AssertionError("no data chunk")


def s16_samples(n, channels, seed):
    rng = random.Random(seed)
    return struct.pack(f"<{n * channels}h", *(rng.randint(-32768, 32767) for _ in range(n * channels)))


def f32_samples(n, channels, seed):
    rng = random.Random(seed)
    return struct.pack(f"<{n * channels}f", *(rng.uniform(-1, 1) for _ in range(n * channels)))


def sine_s16(n, channels, rate, freq=440.0):
    return struct.pack(f"<{n * channels}h", *(int(12000 * math.sin(2 * math.pi * freq * (i // channels) / rate))
                                              for i in range(n * channels)))


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def binary_exists():
    if not os.path.exists(AIC):
        pytest.fail(f"aic binary not found at {AIC}: build it or set AIC_CLI")


def scores(out):
    vals = dict(re.findall(r"^(psnr|ssim|msssim)\s+(\S+)", out, re.M))
    assert {"psnr", "ssim", "msssim"} <= vals.keys(), out
    return vals


# --- help and usage ----------------------------------------------------------------------------


def test_help_documents_every_command():
    out = ok("--help").stdout
    for cmd in ("encode", "decode", "info", "compare", "bench", "version"):
        assert cmd in out
    for cmd in ("encode", "decode", "info", "compare", "bench"):
        assert "Usage: aic " + cmd in ok(cmd, "--help").stdout
    enc = ok("encode", "--help").stdout
    for opt in ("--codec", "--quality", "--min-ssim", "--bitrate", "--mode", "--keyint", "--format", "--size"):
        assert opt in enc
    assert re.match(r"aic \d+\.\d+\.\d+", ok("version").stdout)


def test_usage_errors_exit_2(tmp_path):
    png = tmp_path / "a.png"
    write_png(png, 4, 4, 2, 8, rand_pixels(4, 4, 3, 1))
    out = tmp_path / "a.aic"
    assert run().returncode == 2
    fails("frobnicate", codes=(2,))
    fails("encode", codes=(2,))
    fails("encode", png, codes=(2,))
    fails("encode", "--quality", "9", png, out, codes=(2,))
    fails("encode", "--quality", "0", png, out, codes=(2,))
    fails("encode", "--quality", "5x", png, out, codes=(2,))
    fails("encode", "--quality", "4", "--bitrate", "500", png, out, codes=(2,))
    fails("encode", "--min-ssim", "0.9", "--quality", "4", png, out, codes=(2,))
    fails("encode", "--min-ssim", "1.5", png, out, codes=(2,))
    fails("encode", "--mode", "lossless", "--quality", "4", png, out, codes=(2,))
    fails("encode", "--codec", "mp3", png, out, codes=(2,))
    fails("encode", "--mode", "turbo", png, out, codes=(2,))
    fails("encode", "--keyint", png, out, codes=(2,))
    fails("encode", "--bogus", png, out, codes=(2,))
    fails("encode", "--format", "i420", png, out, codes=(2,))
    fails("encode", png, tmp_path / "a.png2", codes=(2,))
    fails("decode", out, codes=(2,))
    fails("info", codes=(2,))
    fails("compare", png, codes=(2,))
    fails("compare", png, tmp_path / "b.y4m", codes=(2,))
    assert not out.exists()


def test_bench_is_a_stub():
    p = fails("bench", codes=(1,))
    assert "make bench" in p.stderr


# --- PNG round trips ---------------------------------------------------------------------------

PNG_CASES = {
    # name: (color_type, depth, channels in file, expected output channels)
    "rgb8": (2, 8, 3, 3),
    "rgba8": (6, 8, 4, 4),
    "gray8": (0, 8, 1, 3),
    "graya8": (4, 8, 2, 4),
    "rgb16": (2, 16, 3, 3),
    "rgba16": (6, 16, 4, 4),
}


def expected_rgb(pixels, file_ch, out_ch, depth):
    out = bytearray()
    for row in pixels:
        for px in row:
            px = [s // 257 for s in px] if depth == 16 else list(px)
            if file_ch in (1, 2):
                px = [px[0]] * 3 + px[1:]
            out += bytes(px)
    return bytes(out)


@pytest.mark.parametrize("case", sorted(PNG_CASES))
def test_png_lossless_round_trip_is_exact(tmp_path, case):
    ctype, depth, fch, och = PNG_CASES[case]
    w, h = 37, 23
    pixels = rand_pixels(w, h, fch, seed=hash(case) & 0xFFFF)
    if depth == 16:  # high byte == low byte: exact in 8 bits, whatever the scaling rounds to
        pixels = [[tuple(s * 257 for s in px) for px in row] for row in pixels]
    src, enc, dec = tmp_path / "in.png", tmp_path / "x.aic", tmp_path / "out.png"
    write_png(src, w, h, ctype, depth, pixels)
    p = ok("encode", "--mode", "lossless", src, enc)
    assert p.stderr == ""  # no progress bar or noise when stderr is not a terminal
    ok("decode", enc, dec)
    rw, rh, rch, data = read_png(dec)
    assert (rw, rh, rch) == (w, h, och)
    assert data == expected_rgb(pixels, fch, och, depth)


def test_png_palette_transparency_and_interlace(tmp_path):
    w, h = 19, 11
    plte = [(i * 3 % 256, i * 7 % 256, i * 11 % 256) for i in range(16)]
    idx = [[((x * 5 + y * 3) % 16,) for x in range(w)] for y in range(h)]
    src, enc, dec = tmp_path / "p.png", tmp_path / "p.aic", tmp_path / "q.png"
    write_png(src, w, h, 3, 8, idx, plte=plte)
    ok("encode", "--mode", "lossless", src, enc)
    ok("decode", enc, dec)
    assert read_png(dec)[3] == bytes(c for row in idx for (i,) in row for c in plte[i])
    # a tRNS chunk makes the palette picture RGBA
    alpha = bytes(range(0, 256, 16))
    write_png(src, w, h, 3, 8, idx, plte=plte, trns=alpha)
    ok("encode", "--mode", "lossless", src, enc)
    ok("decode", enc, dec)
    _, _, ch, data = read_png(dec)
    assert ch == 4 and data == bytes(c for row in idx for (i,) in row for c in (*plte[i], alpha[i]))
    # Adam7 interlacing is undone on input
    pixels = rand_pixels(w, h, 3, 7)
    write_png(src, w, h, 2, 8, pixels, interlace=True)
    ok("encode", "--mode", "lossless", src, enc)
    ok("decode", enc, dec)
    assert read_png(dec)[3] == flat(pixels)


def test_png_default_settings_round_trip(tmp_path):
    src, enc, dec = tmp_path / "a.png", tmp_path / "a.aic", tmp_path / "b.png"
    write_png(src, 40, 30, 2, 8, smooth_pixels(40, 30))
    ok("encode", src, enc)
    ok("decode", enc, dec)
    assert float(scores(ok("compare", src, dec).stdout)["ssim"]) > 0.8


# --- Y4M round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("params", ["F25:1 Ip A1:1 C420jpeg", "F30000:1001 C420", "C420paldv It",
                                    "F24:1 C420mpeg2 XYSCSS=420MPEG2", "F0:0"])
def test_y4m_lossless_round_trip_odd_sizes(tmp_path, params):
    w, h = 33, 17
    frames = rand_frames(w, h, 4, seed=len(params))
    src, enc, dec = tmp_path / "in.y4m", tmp_path / "v.aic", tmp_path / "out.y4m"
    write_y4m(src, w, h, frames, params, frame_params="Ib XFOO=1")
    ok("encode", "--mode", "lossless", "--keyint", "2", src, enc)
    ok("decode", enc, dec)
    rw, rh, rate, got = read_y4m(dec)
    assert (rw, rh) == (w, h)
    assert got == frames
    m = re.search(r"F(\d+:\d+)", params)
    expected_rate = m.group(1) if m and m.group(1) != "0:0" else "30:1"
    assert rate == expected_rate


def test_y4m_one_by_one_and_single_frame_to_png(tmp_path):
    frames = rand_frames(1, 1, 3, 3)
    src, enc, dec = tmp_path / "a.y4m", tmp_path / "a.aic", tmp_path / "b.y4m"
    write_y4m(src, 1, 1, frames)
    ok("encode", "--mode", "lossless", src, enc)
    ok("decode", enc, dec)
    assert read_y4m(dec)[3] == frames
    png = tmp_path / "f.png"
    p = fails("decode", enc, png, codes=(1,))
    assert "--frame" in p.stderr and not png.exists()
    ok("decode", "--frame", "2", enc, png)
    assert read_png(png)[:3] == (1, 1, 3)
    fails("decode", "--frame", "3", enc, png, codes=(1,))
    fails("decode", "--frame", "1", enc, dec, codes=(2,))


def test_y4m_c444_and_other_colour_spaces_rejected(tmp_path):
    src, enc = tmp_path / "a.y4m", tmp_path / "a.aic"
    write_y4m(src, 8, 8, [bytes(8 * 8 * 3)], "F25:1 C444")
    p = fails("encode", src, enc, codes=(1,))
    assert "444" in p.stderr and "4:2:0" in p.stderr
    write_y4m(src, 8, 8, [bytes(8 * 8 * 2)], "F25:1 C422")
    assert "C422" in fails("encode", src, enc, codes=(1,)).stderr
    write_y4m(src, 8, 8, [bytes(i420_size(8, 8))], "F25:1 C420p10")
    fails("encode", src, enc, codes=(1,))
    assert not enc.exists()


# --- WAV round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("tag,channels,rate,n,extensible", [
    (1, 1, 48000, 4801, False),
    (1, 2, 44100, 44100 // 3 + 7, False),
    (3, 2, 48000, 2000, False),
    (3, 1, 22050, 1234, True),
    (1, 2, 16000, 321, True),
    (1, 1, 11025, 999, False),  # 20 ms is not a whole number of samples here
])
def test_wav_lossless_round_trip_is_exact(tmp_path, tag, channels, rate, n, extensible):
    data = (s16_samples if tag == 1 else f32_samples)(n, channels, seed=n)
    src, enc, dec = tmp_path / "in.wav", tmp_path / "a.aic", tmp_path / "out.wav"
    # an odd-sized unknown chunk before the data checks skipping and the pad byte
    write_wav(src, tag, channels, rate, data, extra_chunks=[(b"LIST", b"INFOabc"), (b"junk", b"")],
              extensible=extensible)
    ok("encode", "--mode", "lossless", src, enc)
    ok("decode", enc, dec)
    fmt, got = read_wav(dec)
    bits = 16 if tag == 1 else 32
    assert (fmt[0], fmt[1], fmt[2], fmt[5]) == (tag, channels, rate, bits)
    assert got == data


def test_wav_streamed_size_means_to_end_of_file(tmp_path):
    data = s16_samples(1000, 2, 5)
    src, enc, dec = tmp_path / "in.wav", tmp_path / "a.aic", tmp_path / "out.wav"
    write_wav(src, 1, 2, 48000, data, data_size=0xFFFFFFFF)
    ok("encode", "--mode", "lossless", src, enc)
    ok("decode", enc, dec)
    assert read_wav(dec)[1] == data


def test_wav_unsupported_formats_rejected(tmp_path):
    src, enc = tmp_path / "in.wav", tmp_path / "a.aic"
    write_wav(src, 1, 1, 48000, b"")
    assert "no frames" in fails("encode", src, enc, codes=(1,)).stderr
    with open(src, "wb") as f:  # 24-bit PCM
        fmt = struct.pack("<HHIIHH", 1, 1, 48000, 48000 * 3, 3, 24)
        body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 6) + bytes(6)
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert "24-bit" in fails("encode", src, enc, codes=(1,)).stderr
    write_wav(src, 1, 3, 48000, bytes(6 * 10))
    assert "channels" in fails("encode", src, enc, codes=(1,)).stderr
    samples = bytearray(f32_samples(2000, 1, 1))
    samples[4 * 1500:4 * 1501] = struct.pack("<f", float("nan"))
    write_wav(src, 3, 1, 48000, bytes(samples))
    assert "sample frame 1500" in fails("encode", src, enc, codes=(1,)).stderr
    assert not enc.exists()


# --- raw frames (the first CLI's interface) ----------------------------------------------------


def test_raw_frame_writes_a_bare_bitstream(tmp_path):
    w, h = 24, 16
    raw = bytes((i * 7) % 251 for i in range(i420_size(w, h)))
    src, enc, dec = tmp_path / "f.raw", tmp_path / "f.aic", tmp_path / "g.raw"
    src.write_bytes(raw)
    ok("encode", "--format", "i420", "--size", f"{w}x{h}", "--codec", "zstd", src, enc)
    assert enc.read_bytes()[:4] == b"AICF"
    ok("decode", enc, dec)
    assert dec.read_bytes() == raw
    assert "bare" in ok("info", enc).stdout
    png = tmp_path / "g.png"
    ok("decode", enc, png)  # I420 -> RGB24 for PNG
    assert read_png(png)[:3] == (w, h, 3)
    src.write_bytes(raw[:-1])
    fails("encode", "--format", "i420", "--size", f"{w}x{h}", src, enc, codes=(1,))


# --- info --------------------------------------------------------------------------------------


def field(out, name):
    m = re.search(rf"^{re.escape(name)}:\s+(.*)$", out, re.M)
    assert m, f"no {name} in\n{out}"
    return m.group(1)


def test_info_picture_video_audio(tmp_path):
    png, y4m, wav = tmp_path / "a.png", tmp_path / "b.y4m", tmp_path / "c.wav"
    write_png(png, 37, 23, 6, 8, rand_pixels(37, 23, 4, 2))
    write_y4m(y4m, 33, 17, rand_frames(33, 17, 5, 3), "F25:1")
    write_wav(wav, 1, 2, 48000, s16_samples(48000, 2, 4))
    for src in (png, y4m, wav):
        ok("encode", "--mode", "lossless", "--codec", "zstd", src, tmp_path / (src.stem + ".aic"))

    out = ok("info", tmp_path / "a.aic").stdout
    assert field(out, "frames").startswith("1 ")
    assert field(out, "codecs") == "zstd x1"
    assert field(out, "picture").startswith("RGBA 37x23")
    assert "image" in field(out, "container")
    bpp = float(field(out, "bits/pixel"))
    size = os.path.getsize(tmp_path / "a.aic")
    assert int(field(out, "file size").split()[0]) == size
    assert 0 < bpp < 8 * size / (37 * 23)

    out = ok("info", "--frames", tmp_path / "b.aic").stdout
    assert field(out, "frames").startswith("5 ")
    assert field(out, "picture").startswith("I420 33x17")
    assert field(out, "frame rate").startswith("25/1")
    assert float(field(out, "bitrate").split()[0]) > 0
    assert len(re.findall(r"^frame \d+: zstd (key|inter) \d+ bytes", out, re.M)) == 5

    out = ok("info", "--frames", tmp_path / "c.aic").stdout
    assert field(out, "frames").startswith("50 ")
    assert field(out, "audio") == "S16LE 48000 Hz 2 ch"
    assert field(out, "duration").startswith("1.000 s")
    assert float(field(out, "bitrate").split()[0]) > 0
    assert "960 samples" in out


# --- compare -----------------------------------------------------------------------------------


def test_compare_identical_and_different(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    pixels = smooth_pixels(64, 48)
    write_png(a, 64, 48, 2, 8, pixels)
    write_png(b, 64, 48, 2, 8, pixels)
    s = scores(ok("compare", a, b).stdout)
    assert float(s["psnr"]) == 100.0 and float(s["ssim"]) == 1.0
    assert s["msssim"] == "n/a" or float(s["msssim"]) == 1.0
    noisy = [[tuple(min(255, c + (3 if (x + y) % 5 == 0 else 0)) for c in px) for x, px in enumerate(row)]
             for y, row in enumerate(pixels)]
    write_png(b, 64, 48, 2, 8, noisy)
    s = scores(ok("compare", a, b).stdout)
    assert 30 < float(s["psnr"]) < 100 and 0.8 < float(s["ssim"]) < 1.0
    write_png(b, 64, 47, 2, 8, pixels[:47])
    fails("compare", a, b, codes=(1,))


def test_compare_y4m_mean_over_frames(tmp_path):
    a, b = tmp_path / "a.y4m", tmp_path / "b.y4m"
    frames = rand_frames(33, 17, 3, 9)
    write_y4m(a, 33, 17, frames)
    write_y4m(b, 33, 17, frames, "F30:1 C420")
    out = ok("compare", a, b).stdout
    assert re.search(r"^frames 3$", out, re.M)
    s = scores(out)
    assert float(s["psnr"]) == 100.0 and float(s["ssim"]) == 1.0
    write_y4m(b, 33, 17, frames[:2])
    assert "frames" in fails("compare", a, b, codes=(1,)).stderr


# --- bad inputs --------------------------------------------------------------------------------


def make_inputs(tmp_path):
    png, y4m, wav = tmp_path / "a.png", tmp_path / "b.y4m", tmp_path / "c.wav"
    write_png(png, 37, 23, 2, 8, rand_pixels(37, 23, 3, 1))
    write_y4m(y4m, 33, 17, rand_frames(33, 17, 3, 2))
    write_wav(wav, 1, 2, 48000, s16_samples(3000, 2, 3))
    return png, y4m, wav


def truncations(path):
    data = path.read_bytes()
    return sorted({1, 7, 8, 20, 30, 44, len(data) // 2, len(data) - 1} - {0})


def test_truncated_media_inputs_fail_cleanly(tmp_path):
    for src in make_inputs(tmp_path):
        data = src.read_bytes()
        cut = tmp_path / ("cut" + src.suffix)
        out = tmp_path / "out.aic"
        for n in truncations(src):
            cut.write_bytes(data[:n])
            p = run("encode", "--mode", "lossless", cut, out)
            assert p.returncode == 1, (src.suffix, n, p.stdout, p.stderr)
            assert p.stderr.startswith("aic: ") and not out.exists(), (src.suffix, n, p.stderr)
        cut.write_bytes(b"")
        fails("encode", cut, out, codes=(1,))


def test_garbage_and_hostile_headers(tmp_path):
    out = tmp_path / "o.aic"
    f = tmp_path / "x.png"
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)))
    fails("encode", f, out, codes=(1,))
    f.write_bytes(b"not a png at all")
    assert "not a PNG" in fails("encode", f, out, codes=(1,)).stderr
    f = tmp_path / "x.y4m"
    f.write_bytes(b"YUV4MPEG2 W999999999 H2 F25:1\nFRAME\n")
    fails("encode", f, out, codes=(1,))
    f.write_bytes(b"YUV4MPEG2 " + b"X" * 5000 + b"\n")
    fails("encode", f, out, codes=(1,))
    f.write_bytes(b"YUV4MPEG2 W4 H4 F25:0\n")
    fails("encode", f, out, codes=(1,))
    f.write_bytes(b"YUV4MPEG2 W4 H4\nFRAMX\n" + bytes(24))
    fails("encode", f, out, codes=(1,))
    f.write_bytes(b"YUV4MPEG2 W4 H4 C\x1b[31mred\n")  # no terminal escapes echoed back
    p = fails("encode", f, out, codes=(1,))
    assert "\x1b" not in p.stderr and "C?[31mred" in p.stderr
    f = tmp_path / "x.wav"
    f.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt \x02\x00\x00\x00ab")
    fails("encode", f, out, codes=(1,))
    f.write_bytes(b"RIFF\x00\x00\x00\x00WAVELIST\xff\xff\xff\x7f")
    fails("encode", f, out, codes=(1,))
    write_wav(f, 1, 1, 48000, bytes(100), data_size=1 << 30)
    assert "truncated" in fails("encode", f, out, codes=(1,)).stderr
    write_wav(f, 1, 1, 4000000000, bytes(100))
    fails("encode", f, out, codes=(1,))
    write_wav(f, 1, 1, 100, bytes(100))  # a rate the engine refuses
    fails("encode", f, out, codes=(1,))
    assert not out.exists()


def test_wrong_extension_and_missing_files(tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_text("hello")
    fails("encode", txt, tmp_path / "o.aic", codes=(2,))
    p = fails("encode", tmp_path / "missing.png", tmp_path / "o.aic", codes=(1,))
    assert "missing.png" in p.stderr
    fails("decode", tmp_path / "missing.aic", tmp_path / "o.png", codes=(1,))
    fails("info", tmp_path / "missing.aic", codes=(1,))
    fails("compare", tmp_path / "missing.png", tmp_path / "m2.png", codes=(1,))
    png, _, _ = make_inputs(tmp_path)
    enc = tmp_path / "a.aic"
    ok("encode", "--mode", "lossless", png, enc)
    fails("decode", enc, tmp_path / "o.jpg", codes=(2,))
    fails("decode", enc, tmp_path / "o.wav", codes=(1,))  # pictures cannot become audio
    assert not (tmp_path / "o.wav").exists()
    fails("encode", png, tmp_path / "no-such-dir" / "o.aic", codes=(1,))


def corruptions(data):
    """(name, bytes) of damaged containers. The first frame's bitstream starts at 28."""
    yield "empty", b""
    yield "magic", b"XXXX" + data[4:]
    yield "short header", data[:10]
    yield "version", data[:4] + struct.pack("<I", 99) + data[8:]
    yield "media", data[:12] + struct.pack("<I", 77) + data[16:]
    yield "count too high", data[:8] + struct.pack("<I", 1000) + data[12:]
    yield "count zero", data[:8] + struct.pack("<I", 0) + data[12:]
    yield "huge length", data[:24] + struct.pack("<I", 0xFFFFFFF0) + data[28:]
    yield "zero length", data[:24] + struct.pack("<I", 0) + data[28:]
    yield "truncated", data[:len(data) // 2]
    yield "trailing", data + b"\x00"
    for off in (28, 28 + 6, 28 + 16, 28 + 24, 28 + 40, len(data) - 1):
        b = bytearray(data)
        b[off] ^= 0x55
        yield f"flip {off}", bytes(b)
    bare = data[28:28 + struct.unpack("<I", data[24:28])[0]]
    yield "bare truncated", bare[:-3]


def test_corrupt_aic_fails_cleanly(tmp_path):
    _, y4m, wav = make_inputs(tmp_path)
    for src, out_name in ((y4m, "o.y4m"), (wav, "o.wav")):
        enc = tmp_path / "good.aic"
        ok("encode", "--mode", "lossless", src, enc)
        data = enc.read_bytes()
        bad, out = tmp_path / "bad.aic", tmp_path / out_name
        for name, blob in corruptions(data):
            bad.write_bytes(blob)
            p = run("decode", bad, out)
            assert p.returncode == 1 and p.stderr.startswith("aic: "), (name, p.stderr)
            assert not out.exists(), name
            p = run("info", bad)
            assert p.returncode == 1 and p.stderr.startswith("aic: "), (name, p.stderr)


def test_progress_bar_only_on_a_terminal(tmp_path):
    _, y4m, _ = make_inputs(tmp_path)
    master, slave = pty.openpty()
    try:
        p = subprocess.run([AIC, "encode", "--mode", "lossless", str(y4m), str(tmp_path / "v.aic")],
                           stdout=subprocess.PIPE, stderr=slave, timeout=60)
        os.close(slave)
        slave = None
        chunks = []
        while True:
            try:
                b = os.read(master, 4096)
            except OSError:
                break
            if not b:
                break
            chunks.append(b)
        tty = b"".join(chunks).decode(errors="replace")
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert p.returncode == 0
    assert "encoding" in tty and "%" in tty


# --- lossy codecs (skipped until the engine has them) ------------------------------------------


def codec_or_skip(codec, src, enc, *extra):
    p = run("encode", "--codec", codec, "--quality", "6", *extra, src, enc)
    if p.returncode != 0 and "not available" in p.stderr:
        pytest.skip(f"{codec} is not available in this build")
    assert p.returncode == 0, p.stderr
    return p


@pytest.mark.parametrize("codec", ["jpeg", "vp8", "av1"])
def test_lossy_picture(tmp_path, codec):
    src, enc, dec = tmp_path / "a.png", tmp_path / "a.aic", tmp_path / "b.png"
    write_png(src, 64, 48, 2, 8, smooth_pixels(64, 48))
    codec_or_skip(codec, src, enc)
    assert field(ok("info", enc).stdout, "codecs") == f"{codec} x1"
    ok("decode", enc, dec)
    s = scores(ok("compare", src, dec).stdout)
    assert float(s["ssim"]) > 0.8, s


@pytest.mark.parametrize("codec", ["vp8", "av1"])
def test_lossy_video(tmp_path, codec):
    src, enc, dec = tmp_path / "a.y4m", tmp_path / "a.aic", tmp_path / "b.y4m"
    w, h = 64, 48
    write_y4m(src, w, h, smooth_frames(w, h, 6))
    codec_or_skip(codec, src, enc, "--keyint", "3")
    out = ok("info", "--frames", enc).stdout
    assert field(out, "codecs") == f"{codec} x6"
    ok("decode", enc, dec)
    s = scores(ok("compare", src, dec).stdout)
    assert float(s["ssim"]) > 0.8, s


def test_lossy_audio(tmp_path):
    src, enc, dec = tmp_path / "a.wav", tmp_path / "a.aic", tmp_path / "b.wav"
    n = 48000
    data = sine_s16(n, 2, 48000)
    write_wav(src, 1, 2, 48000, data)
    codec_or_skip("opus", src, enc)
    ok("decode", enc, dec)
    fmt, got = read_wav(dec)
    assert (fmt[1], fmt[2]) == (2, 48000) and len(got) == len(data)
    def energy(b):
        v = struct.unpack(f"<{len(b) // 2}h", b)
        return sum(x * x for x in v) / len(v)
    assert 0.25 < energy(got) / energy(data) < 4


# --- the learned codec ---------------------------------------------------------------------------

MODELS = os.path.join(ROOT, "models")
HAVE_MODEL = os.path.exists(os.path.join(MODELS, "nic-rt.aicm"))
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="no models/nic-rt.aicm")


def photo_pixels(w, h):
    """The test vectors' photo crop (100x60 RGB), mirrored to any size."""
    raw = open(os.path.join(ROOT, "tests", "data", "nn", "input_100x60.rgb"), "rb").read()
    out = []
    for y in range(h):
        sy = y % 120
        sy = 119 - sy if sy >= 60 else sy
        row = []
        for x in range(w):
            sx = x % 200
            sx = 199 - sx if sx >= 100 else sx
            row.append(tuple(raw[(sy * 100 + sx) * 3:(sy * 100 + sx) * 3 + 3]))
        out.append(row)
    return out


@needs_model
def test_neural_every_quality_any_size(tmp_path):
    sizes = {}
    for w, h in [(100, 60), (37, 23)]:
        src = tmp_path / f"p{w}.png"
        write_png(src, w, h, 2, 8, photo_pixels(w, h))
        for q in range(1, 9):
            enc, dec = tmp_path / f"p{w}-{q}.aic", tmp_path / f"p{w}-{q}.png"
            ok("encode", "--codec", "neural", "--quality", q, src, enc)
            assert field(ok("info", enc).stdout, "codecs") == "neural x1"
            ok("decode", enc, dec)
            got = read_png(dec)
            assert (got[0], got[1]) == (w, h), got[:2]
            s = scores(ok("compare", src, dec).stdout)
            assert float(s["psnr"]) > 18, (w, h, q, s)
            sizes[(w, q)] = os.path.getsize(enc)
        # more quality never costs fewer bytes
        assert all(sizes[(w, q)] <= sizes[(w, q + 1)] for q in range(1, 8)), sizes


@needs_model
def test_neural_i420_video(tmp_path):
    src, enc, dec = tmp_path / "a.y4m", tmp_path / "a.aic", tmp_path / "b.y4m"
    w, h = 66, 38
    write_y4m(src, w, h, smooth_frames(w, h, 3))
    ok("encode", "--codec", "neural", "--quality", "8", src, enc)
    assert field(ok("info", "--frames", enc).stdout, "codecs") == "neural x3"
    ok("decode", enc, dec)
    s = scores(ok("compare", src, dec).stdout)
    assert float(s["ssim"]) > 0.8, s


def test_neural_without_models_says_why(tmp_path):
    src, enc = tmp_path / "a.png", tmp_path / "a.aic"
    write_png(src, 16, 16, 2, 8, smooth_pixels(16, 16))
    p = subprocess.run([AIC, "encode", "--codec", "neural", "--quality", "4", str(src), str(enc)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, AIC_MODELS_DIR=str(tmp_path / "none")))
    assert p.returncode == 1, p.stderr
    assert "neural is not available" in p.stderr and "no model files" in p.stderr, p.stderr
