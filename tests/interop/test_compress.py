"""CompressFrame / DecompressFrame round trips: lossless on every format, audio, screen."""
import math

import pytest

import aic_client as ac
from aic_client import pb

FORMATS = [("I420", pb.PIXEL_FORMAT_I420), ("NV12", pb.PIXEL_FORMAT_NV12),
           ("RGB24", pb.PIXEL_FORMAT_RGB24), ("RGBA", pb.PIXEL_FORMAT_RGBA)]
SIZES = [(64, 48), (33, 17), (1, 1), (320, 240), (7, 3)]


def roundtrip(stub, req, codec=pb.CODEC_ZSTD, what=""):
    resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
    ac.check_lossless_response(req, resp, codec=codec, what=what)
    back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                timeout=ac.RPC_TIMEOUT)
    ac.check_decompressed(req, back, codec=codec, what=what)
    assert back.decode_latency_ms >= 0 and math.isfinite(back.decode_latency_ms)
    return resp, back


@pytest.mark.parametrize("w,h", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("name,fmt", FORMATS, ids=[n for n, _ in FORMATS])
def test_lossless_roundtrip_zstd_default(stub, name, fmt, w, h):
    req = ac.video_request(fmt, w, h, seed=w * 1000 + h, frame_id=1000 + w,
                           timestamp_us=123456789 + h, session_id=f"rt-{name}")
    assert len(req.data) == ac.frame_size(fmt, w, h)
    roundtrip(stub, req, what=f"{name} {w}x{h}")


@pytest.mark.parametrize("name,fmt", FORMATS, ids=[n for n, _ in FORMATS])
def test_lossless_roundtrip_zlib_preference(stub, name, fmt):
    req = ac.video_request(fmt, 33, 17, seed=7, frame_id=2, timestamp_us=-5,
                           codec_preference=pb.CODEC_ZLIB)
    roundtrip(stub, req, codec=pb.CODEC_ZLIB, what=f"{name} 33x17 zlib")


def test_explicit_zstd_preference(stub):
    req = ac.video_request(pb.PIXEL_FORMAT_I420, 96, 64, seed=3,
                           codec_preference=pb.CODEC_ZSTD)
    roundtrip(stub, req, codec=pb.CODEC_ZSTD, what="I420 zstd preference")


def test_incompressible_noise_roundtrips(stub):
    """Uniform noise cannot shrink; a lossless codec still restores it exactly."""
    req = ac.video_request(pb.PIXEL_FORMAT_RGB24, 127, 31, kind="noise", seed=11)
    resp, _ = roundtrip(stub, req, what="RGB24 noise")
    assert resp.compression_ratio > 0.9


def test_large_frame_roundtrip(stub):
    """A 1280x720 RGBA frame (3.5 MiB raw): well under the default 32 MiB limit."""
    req = ac.video_request(pb.PIXEL_FORMAT_RGBA, 1280, 720, seed=5)
    roundtrip(stub, req, what="RGBA 1280x720")


def test_max_width_boundary_accepted(stub):
    """Exactly the default limits (7680 wide, 4320 tall) are accepted."""
    roundtrip(stub, ac.video_request(pb.PIXEL_FORMAT_RGB24, 7680, 2, seed=1), what="7680x2")
    roundtrip(stub, ac.video_request(pb.PIXEL_FORMAT_I420, 2, 4320, seed=2), what="2x4320")


def test_unsigned_and_extreme_echo_fields(stub):
    sid = "s" * 128  # the longest session id allowed
    req = ac.video_request(pb.PIXEL_FORMAT_NV12, 16, 16, seed=4, frame_id=2**64 - 1,
                           timestamp_us=-(2**63), session_id=sid)
    roundtrip(stub, req, what="extreme echo")


def test_screen_frame_roundtrip(stub):
    for fmt in (pb.PIXEL_FORMAT_RGBA, pb.PIXEL_FORMAT_I420):
        req = ac.video_request(fmt, 200, 120, kind="screen", seed=8,
                               frame_type=pb.FRAME_TYPE_SCREEN, frame_id=77)
        resp, back = roundtrip(stub, req, what=f"SCREEN {pb.PixelFormat.Name(fmt)}")
        assert back.frame_type == pb.FRAME_TYPE_SCREEN
        assert resp.compression_ratio < 0.5, (
            f"text-like screen content should compress well, ratio {resp.compression_ratio}")


def test_audio_s16le_stereo_roundtrip(stub):
    req = ac.audio_request(960, 2, 48000, seed=1, frame_id=9, timestamp_us=20000,
                           session_id="audio-1")
    assert len(req.data) == 3840
    roundtrip(stub, req, what="audio S16LE 48k stereo")


def test_audio_other_layouts_roundtrip(stub):
    cases = [
        ac.audio_request(480, 2, 48000, fmt=pb.AUDIO_FORMAT_F32LE, seed=2),
        ac.audio_request(160, 1, 8000, seed=3),
        ac.audio_request(1024, 8, 192000, seed=4),
        ac.audio_request(1, 1, 16000, seed=5),
    ]
    for req in cases:
        roundtrip(stub, req, what=(f"audio {pb.AudioFormat.Name(req.audio.format)} "
                                   f"{req.audio.sample_rate} Hz x{req.audio.channels}"))
    for req in cases[:2]:
        roundtrip(stub, pb.CompressFrameRequest(
            frame_type=req.frame_type, audio=req.audio, data=req.data,
            mode=pb.COMPRESSION_MODE_LOSSLESS, codec_preference=pb.CODEC_ZLIB),
            codec=pb.CODEC_ZLIB, what="audio zlib")


@pytest.mark.parametrize("kind", ["flat", "gradient"])
def test_compressible_content_shrinks(stub, kind):
    req = ac.video_request(pb.PIXEL_FORMAT_I420, 640, 480, kind=kind, seed=0)
    resp, _ = roundtrip(stub, req, what=f"{kind} I420 640x480")
    assert resp.compression_ratio < 1.0, f"{kind}: ratio {resp.compression_ratio} not < 1"
    if kind == "flat":
        assert resp.compression_ratio < 0.05, f"flat frame ratio {resp.compression_ratio}"


def test_natural_content_shrinks_with_both_codecs(stub):
    for codec in (pb.CODEC_ZSTD, pb.CODEC_ZLIB):
        req = ac.video_request(pb.PIXEL_FORMAT_RGB24, 320, 240, kind="gradient", seed=0,
                               codec_preference=codec)
        resp, _ = roundtrip(stub, req, codec=codec, what=pb.Codec.Name(codec))
        assert resp.compression_ratio < 1.0


def test_bitstream_is_self_describing(stub):
    """The bitstream alone restores the frame: no session, from a fresh channel."""
    req = ac.video_request(pb.PIXEL_FORMAT_I420, 33, 17, seed=21, session_id="self-desc")
    resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
    bs = resp.bitstream
    assert bs[:4] == b"AICF" and bs[4] == 1 and bs[5] == 32, f"header {bs[:8]!r}"
    assert bs[8] == pb.FRAME_TYPE_VIDEO and bs[9] == pb.PIXEL_FORMAT_I420
    assert int.from_bytes(bs[16:20], "little") == 33
    assert int.from_bytes(bs[20:24], "little") == 17
    assert int.from_bytes(bs[24:28], "little") == len(bs) - 32
    back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=bs), timeout=ac.RPC_TIMEOUT)
    ac.check_decompressed(req, back)


def test_other_modes_return_a_decodable_frame(stub):
    """Modes other than LOSSLESS in this build: the call succeeds with a codec the service
    reports, and the bitstream restores a frame of the same shape."""
    health = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    for mode in (pb.COMPRESSION_MODE_UNSPECIFIED, pb.COMPRESSION_MODE_ADAPTIVE,
                 pb.COMPRESSION_MODE_QUALITY, pb.COMPRESSION_MODE_BALANCED,
                 pb.COMPRESSION_MODE_AGGRESSIVE):
        req = ac.video_request(pb.PIXEL_FORMAT_I420, 64, 48, seed=mode, mode=mode,
                               min_ssim=0.9, target_ratio=0.5, latency_budget_ms=500,
                               network=pb.NetworkConditions(bandwidth_kbps=3000, rtt_ms=40))
        name = pb.CompressionMode.Name(mode)
        resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
        assert resp.codec in health.codecs, f"{name}: codec {pb.Codec.Name(resp.codec)}"
        assert resp.compressed_size == len(resp.bitstream)
        assert resp.original_size == len(req.data)
        assert resp.ssim >= 0.9, f"{name}: ssim {resp.ssim} below the floor 0.9"
        back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                    timeout=ac.RPC_TIMEOUT)
        assert (back.width, back.height, back.pixel_format) == (64, 48, pb.PIXEL_FORMAT_I420)
        assert len(back.data) == len(req.data)
        if resp.psnr_db == 100.0:
            assert back.data == req.data, f"{name}: PSNR 100 reported but data differs"


def test_unavailable_codec_preference_falls_back(stub):
    """A preferred codec this build lacks is reported as a fallback, not an error."""
    health = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    missing = [c for c in (pb.CODEC_AV1, pb.CODEC_VP8, pb.CODEC_JPEG) if c not in health.codecs]
    if not missing:
        pytest.skip("every lossy video codec is built in")
    for codec in missing:
        req = ac.video_request(pb.PIXEL_FORMAT_I420, 64, 48, seed=1,
                               mode=pb.COMPRESSION_MODE_BALANCED, codec_preference=codec)
        resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
        name = pb.Codec.Name(codec)
        assert resp.codec != codec and resp.codec in health.codecs, (
            f"{name} preferred: got {pb.Codec.Name(resp.codec)}")
        assert resp.fallback_reason == pb.FALLBACK_REASON_CODEC_UNAVAILABLE, (
            f"{name} preferred: fallback {pb.FallbackReason.Name(resp.fallback_reason)}")
        assert resp.fallback_detail, f"{name} preferred: empty fallback_detail"
    if not health.neural_available:
        req = ac.video_request(pb.PIXEL_FORMAT_RGB24, 64, 48, seed=2,
                               mode=pb.COMPRESSION_MODE_BALANCED,
                               codec_preference=pb.CODEC_NEURAL)
        resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
        assert resp.codec != pb.CODEC_NEURAL
        assert resp.fallback_reason in (pb.FALLBACK_REASON_MODEL_UNAVAILABLE,
                                        pb.FALLBACK_REASON_CODEC_UNAVAILABLE), (
            f"NEURAL preferred: fallback {pb.FallbackReason.Name(resp.fallback_reason)}")
        assert resp.model_id == "" and resp.model_version == 0


def test_named_session_many_frames(stub):
    """Frames attached to one named session keep round tripping."""
    for i in range(20):
        req = ac.video_request(pb.PIXEL_FORMAT_NV12, 48, 32, seed=100 + i,
                               session_id="named-session", frame_id=i, timestamp_us=i * 33333)
        roundtrip(stub, req, what=f"session frame {i}")


def test_session_table_limit(daemon_factory):
    """--max-sessions 2: a third named session is RESOURCE_EXHAUSTED; known sessions and
    frames without a session keep working."""
    import grpc
    d = daemon_factory(args=["--max-sessions", "2"])
    stub = d.stub()
    for sid in ("alpha", "beta"):
        stub.CompressFrame(ac.video_request(pb.PIXEL_FORMAT_I420, 16, 16, session_id=sid),
                           timeout=ac.RPC_TIMEOUT)
    ac.expect_rpc_error(stub.CompressFrame,
                        ac.video_request(pb.PIXEL_FORMAT_I420, 16, 16, session_id="gamma"),
                        grpc.StatusCode.RESOURCE_EXHAUSTED, what="third session of 2")
    roundtrip(stub, ac.video_request(pb.PIXEL_FORMAT_I420, 16, 16, seed=3, session_id="alpha"),
              what="known session after the table filled")
    roundtrip(stub, ac.video_request(pb.PIXEL_FORMAT_I420, 16, 16, seed=4),
              what="no session after the table filled")
