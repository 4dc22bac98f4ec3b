"""The learned codec through the service: HealthCheck lists the models the daemon loaded,
CompressFrame with CODEC_NEURAL returns the model id and version, DecompressFrame restores the
frame, and a daemon without (or with damaged) models falls back with MODEL_UNAVAILABLE."""
from pathlib import Path

import pytest

import aic_client as ac
from aic_client import pb

MODELS = Path(__file__).resolve().parents[2] / "models"
FAMILIES = sorted(p.stem for p in MODELS.glob("*.aicm"))
FORMATS = [("RGB24", pb.PIXEL_FORMAT_RGB24), ("I420", pb.PIXEL_FORMAT_I420),
           ("NV12", pb.PIXEL_FORMAT_NV12), ("RGBA", pb.PIXEL_FORMAT_RGBA)]

needs_model = pytest.mark.skipif(not FAMILIES, reason=f"no .aicm model in {MODELS}")


def neural_request(fmt=pb.PIXEL_FORMAT_RGB24, w=96, h=64, quality=5, **kw):
    return ac.video_request(fmt, w, h, seed=w + h, mode=pb.COMPRESSION_MODE_BALANCED,
                            codec_preference=pb.CODEC_NEURAL, quality=quality, **kw)


def test_health_lists_the_shipped_models(stub):
    r = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    assert sorted(m.family for m in r.models) == FAMILIES, f"models {r.models}"
    assert r.neural_available == bool(FAMILIES)
    assert (pb.CODEC_NEURAL in r.codecs) == bool(FAMILIES)
    for m in r.models:
        assert m.id.startswith(m.family + "-") and len(m.id) == len(m.family) + 13, m.id
        assert m.version >= 1


@needs_model
@pytest.mark.parametrize("quality", range(1, 9))
def test_every_quality_level(stub, alive, quality):
    req = neural_request(quality=quality)
    resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT * ac.SLOW)
    assert resp.codec == pb.CODEC_NEURAL, f"{pb.Codec.Name(resp.codec)}: {resp.fallback_detail}"
    assert resp.fallback_reason == pb.FALLBACK_REASON_NONE, resp.fallback_detail
    assert resp.model_id.startswith("nic-"), resp.model_id
    assert resp.model_version >= 1
    assert resp.compressed_size == len(resp.bitstream) < len(req.data)
    assert resp.psnr_db > 15 and 0 < resp.ssim <= 1
    back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                timeout=ac.RPC_TIMEOUT * ac.SLOW)
    assert back.codec == pb.CODEC_NEURAL
    assert back.model_id == resp.model_id and back.model_version == resp.model_version
    assert (back.width, back.height, back.pixel_format) == (96, 64, req.pixel_format)
    assert len(back.data) == len(req.data)


@needs_model
@pytest.mark.parametrize("name,fmt", FORMATS, ids=[n for n, _ in FORMATS])
def test_formats_and_odd_sizes(stub, alive, name, fmt):
    for w, h in [(33, 17), (1, 1), (130, 70)]:
        req = neural_request(fmt, w, h, quality=6)
        resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT * ac.SLOW)
        assert resp.codec == pb.CODEC_NEURAL, f"{name} {w}x{h}: {resp.fallback_detail}"
        back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                    timeout=ac.RPC_TIMEOUT * ac.SLOW)
        assert (back.width, back.height, back.pixel_format) == (w, h, fmt)
        assert len(back.data) == ac.frame_size(fmt, w, h)


def check_unavailable(d, expect_in_log):
    s = d.stub()
    r = s.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    assert r.neural_available is False and len(r.models) == 0
    assert pb.CODEC_NEURAL not in r.codecs
    resp = s.CompressFrame(neural_request(), timeout=ac.RPC_TIMEOUT)
    assert resp.codec != pb.CODEC_NEURAL
    assert resp.fallback_reason == pb.FALLBACK_REASON_MODEL_UNAVAILABLE, (
        pb.FallbackReason.Name(resp.fallback_reason))
    assert resp.model_id == "" and resp.model_version == 0
    if expect_in_log:
        assert expect_in_log in d.stderr() + d.stdout(), "the reason is not logged"


def test_without_models_falls_back(daemon_factory, tmp_path):
    d = daemon_factory(args=["--models-dir", str(tmp_path / "none")])
    check_unavailable(d, "no model files")


@needs_model
def test_damaged_model_falls_back(daemon_factory, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for fam in FAMILIES:
        blob = bytearray((MODELS / f"{fam}.aicm").read_bytes())
        blob[len(blob) // 2] ^= 0x40
        (damaged / f"{fam}.aicm").write_bytes(bytes(blob))
    d = daemon_factory(args=["--models-dir", str(damaged)])
    check_unavailable(d, "SHA-256 mismatch")


@needs_model
def test_truncated_model_falls_back(daemon_factory, tmp_path):
    cut = tmp_path / "cut"
    cut.mkdir()
    for fam in FAMILIES:
        blob = (MODELS / f"{fam}.aicm").read_bytes()
        (cut / f"{fam}.aicm").write_bytes(blob[: len(blob) - 100])
    d = daemon_factory(args=["--models-dir", str(cut)])
    check_unavailable(d, "truncated")
