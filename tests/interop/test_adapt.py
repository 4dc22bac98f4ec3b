"""GetHints and AnalyzeNetwork: good paths graded better than bad ones, sane hints."""
import pytest

import aic_client as ac
from aic_client import pb

GOOD = pb.NetworkConditions(bandwidth_kbps=10000, rtt_ms=20, loss_fraction=0.0, jitter_ms=2)
BAD = pb.NetworkConditions(bandwidth_kbps=300, rtt_ms=400, loss_fraction=0.1, jitter_ms=80)
MODES = set(pb.CompressionMode.values())


def analyze(stub, net, sid=""):
    return stub.AnalyzeNetwork(pb.NetworkAnalysisRequest(session_id=sid, network=net),
                               timeout=ac.RPC_TIMEOUT)


def hints(stub, net, sid="", w=1280, h=720, fps=30.0, frame_type=pb.FRAME_TYPE_VIDEO):
    return stub.GetHints(pb.HintsRequest(session_id=sid, frame_type=frame_type, network=net,
                                         width=w, height=h, frame_rate=fps),
                         timeout=ac.RPC_TIMEOUT)


def test_analyze_good_vs_bad(stub):
    g, b = analyze(stub, GOOD, "net-good"), analyze(stub, BAD, "net-bad")
    for name, r in (("good", g), ("bad", b)):
        assert r.quality != pb.NETWORK_QUALITY_UNSPECIFIED, f"{name}: quality unspecified"
        assert r.reason, f"{name}: empty reason"
        assert r.recommended_mode in MODES and r.recommended_mode != 0, (
            f"{name}: mode {r.recommended_mode}")
        assert r.recommended_bitrate_kbps > 0, f"{name}: bitrate 0"
    assert b.quality > g.quality, (
        f"bad path graded {pb.NetworkQuality.Name(b.quality)}, good path "
        f"{pb.NetworkQuality.Name(g.quality)}")
    assert b.recommended_bitrate_kbps < g.recommended_bitrate_kbps, (
        f"bitrate bad {b.recommended_bitrate_kbps} >= good {g.recommended_bitrate_kbps}")
    assert g.recommended_bitrate_kbps <= 10000, "recommends more than the available bandwidth"
    assert b.recommended_bitrate_kbps <= 300, "recommends more than the available bandwidth"


def test_hints_good_vs_bad(stub):
    g, b = hints(stub, GOOD, "hint-good"), hints(stub, BAD, "hint-bad")
    for name, r in (("good", g), ("bad", b)):
        assert r.reason, f"{name}: empty reason"
        assert r.width > 0 and r.height > 0 and r.frame_rate > 0, (
            f"{name}: {r.width}x{r.height}@{r.frame_rate}")
        assert r.width <= 1280 and r.height <= 720 and r.frame_rate <= 30, (
            f"{name}: hint {r.width}x{r.height}@{r.frame_rate} above the 1280x720@30 source")
        assert r.target_bitrate_kbps > 0, f"{name}: bitrate 0"
        assert r.keyframe_interval > 0, f"{name}: keyframe_interval 0"
        assert r.network_quality != pb.NETWORK_QUALITY_UNSPECIFIED
        assert r.codec != pb.CODEC_UNSPECIFIED, f"{name}: no codec"
        assert r.mode in MODES and r.mode != 0, f"{name}: mode {r.mode}"
    assert b.use_fec, "bad path (10 % loss): use_fec should be on"
    assert b.target_bitrate_kbps < g.target_bitrate_kbps, (
        f"bitrate bad {b.target_bitrate_kbps} >= good {g.target_bitrate_kbps}")
    assert b.network_quality > g.network_quality
    assert b.height <= g.height and b.width <= g.width, "bad path hinted a larger picture"
    assert b.keyframe_interval <= g.keyframe_interval, "bad path: keyframes should come sooner"


def test_hints_codec_is_built_in(stub):
    health = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    for ft in (pb.FRAME_TYPE_VIDEO, pb.FRAME_TYPE_SCREEN, pb.FRAME_TYPE_AUDIO):
        r = hints(stub, GOOD, frame_type=ft)
        assert r.codec in health.codecs, (
            f"{pb.FrameType.Name(ft)}: hinted {pb.Codec.Name(r.codec)}, not in "
            f"{[pb.Codec.Name(c) for c in health.codecs]}")


# The documented grading (docs/adapt.md): the worst measure decides.
DOC_CASES = [
    (GOOD, pb.NETWORK_QUALITY_EXCELLENT, "ok", 8500),
    (BAD, pb.NETWORK_QUALITY_POOR, None, 162),
    (pb.NetworkConditions(bandwidth_kbps=10000, rtt_ms=20, loss_fraction=0.03, jitter_ms=2),
     pb.NETWORK_QUALITY_FAIR, "loss_high", None),
    (pb.NetworkConditions(bandwidth_kbps=10000, rtt_ms=450, jitter_ms=2),
     pb.NETWORK_QUALITY_CRITICAL, "rtt_high", None),
    (pb.NetworkConditions(bandwidth_kbps=10000, rtt_ms=20, jitter_ms=30),
     pb.NETWORK_QUALITY_FAIR, "jitter_high", None),
    (pb.NetworkConditions(bandwidth_kbps=1000, rtt_ms=20, jitter_ms=2),
     pb.NETWORK_QUALITY_FAIR, "bandwidth_low", 700),
    (pb.NetworkConditions(), None, "no_measurements", None),
]


@pytest.mark.parametrize("net,quality,reason,bitrate", DOC_CASES,
                         ids=["good", "bad", "loss3pct", "rtt450", "jitter30", "bw1000", "zeros"])
def test_analyze_documented_grades(stub, net, quality, reason, bitrate):
    r = analyze(stub, net)
    got = f"{pb.NetworkQuality.Name(r.quality)} reason={r.reason!r} bitrate={r.recommended_bitrate_kbps}"
    if quality is not None:
        assert r.quality == quality, f"expected {pb.NetworkQuality.Name(quality)}, got {got}"
    if reason is not None:
        assert r.reason == reason, f"expected reason {reason!r}, got {got}"
    if bitrate is not None:
        assert abs(r.recommended_bitrate_kbps - bitrate) <= 1, f"expected ~{bitrate}, got {got}"


def test_hints_resolution_ladder(stub):
    """Even dimensions, source aspect ratio kept, never above the source."""
    for net in (GOOD, BAD, pb.NetworkConditions(bandwidth_kbps=1500, rtt_ms=30)):
        for (w, h) in ((1280, 720), (640, 480), (1920, 1080)):
            r = hints(stub, net, w=w, h=h)
            assert r.width % 2 == 0 and r.height % 2 == 0, f"odd hint {r.width}x{r.height}"
            assert r.width <= w and r.height <= h, f"hint {r.width}x{r.height} > source {w}x{h}"
            assert abs(r.width / r.height - w / h) < 0.02, (
                f"hint {r.width}x{r.height} loses the {w}x{h} aspect ratio")


def test_hints_unknown_source_and_audio(stub):
    r = hints(stub, GOOD, w=0, h=0, fps=0)
    assert r.target_bitrate_kbps > 0
    a = hints(stub, BAD, frame_type=pb.FRAME_TYPE_AUDIO, w=0, h=0, fps=0)
    assert 0 < a.target_bitrate_kbps <= 128, f"audio bitrate {a.target_bitrate_kbps}"
    a = hints(stub, GOOD, frame_type=pb.FRAME_TYPE_AUDIO, w=0, h=0, fps=0)
    assert 0 < a.target_bitrate_kbps <= 128, f"audio bitrate {a.target_bitrate_kbps}"
