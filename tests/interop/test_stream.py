"""CompressStream: long streams in order, and a malformed frame ending a stream."""
import grpc
import numpy as np
import pytest

import aic_client as ac
from aic_client import pb

W, H = 160, 120
I420 = pb.PIXEL_FORMAT_I420


def moving_frames(n, seed=1234):
    """n I420 160x120 frames of a textured scene panning right, with per-frame sensor noise."""
    rng = np.random.default_rng(seed)
    base_y = np.frombuffer(ac.make_picture(I420, W + n, H, seed=seed), np.uint8)
    scene = base_y[:(W + n) * H].reshape(H, W + n)
    cw, ch = W // 2, H // 2
    u = np.frombuffer(ac.make_picture(I420, W, H, seed=seed + 1), np.uint8)[W * H:W * H + cw * ch]
    v = np.frombuffer(ac.make_picture(I420, W, H, seed=seed + 2), np.uint8)[W * H + cw * ch:]
    frames = []
    for i in range(n):
        y = scene[:, i:i + W].astype(np.int16) + rng.integers(-2, 3, size=(H, W))
        y = np.clip(y, 0, 255).astype(np.uint8)
        frames.append(y.tobytes() + np.roll(u, i).tobytes() + np.roll(v, -i).tobytes())
    assert all(len(f) == ac.frame_size(I420, W, H) for f in frames)
    return frames


def test_stream_1000_frames_in_order(daemon):
    n = 1000
    frames = moving_frames(n)
    reqs = [pb.CompressFrameRequest(frame_type=pb.FRAME_TYPE_VIDEO, pixel_format=I420, width=W,
                                    height=H, data=f, mode=pb.COMPRESSION_MODE_LOSSLESS,
                                    frame_id=10_000 + i, timestamp_us=i * 33_333)
            for i, f in enumerate(frames)]
    stub = daemon.stub()
    call = stub.CompressStream(iter(reqs), timeout=120 * ac.SLOW)
    responses = []
    for r in call:
        responses.append(r)
    assert call.code() == grpc.StatusCode.OK, f"stream ended with {call.code()} {call.details()}"
    assert len(responses) == n, f"{len(responses)} responses for {n} frames"
    for i, (req, resp) in enumerate(zip(reqs, responses)):
        assert resp.frame_id == req.frame_id, (
            f"response {i} has frame_id {resp.frame_id}, expected {req.frame_id} (out of order?)")
        ac.check_lossless_response(req, resp, what=f"stream frame {i}")
    # Every bitstream restores its own input (the stream's inter-frame state must not leak
    # into a lossless frame: each decodes on its own).
    for i, (req, resp) in enumerate(zip(reqs, responses)):
        back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                    timeout=ac.RPC_TIMEOUT)
        ac.check_decompressed(req, back, what=f"stream frame {i}")


def test_stream_mixed_formats_and_audio(daemon):
    """A stream may carry frames of different formats and sizes, and audio."""
    stub = daemon.stub()
    reqs = []
    for i in range(24):
        if i % 4 == 3:
            req = ac.audio_request(960, 2, 48000, seed=i, session_id="mixed")
        else:
            fmt = [pb.PIXEL_FORMAT_NV12, pb.PIXEL_FORMAT_RGB24, pb.PIXEL_FORMAT_RGBA][i % 4]
            req = ac.video_request(fmt, 33 + i, 17 + i, seed=i, session_id="mixed")
        req.frame_id = i
        reqs.append(req)
    got = list(stub.CompressStream(iter(reqs), timeout=60 * ac.SLOW))
    assert [r.frame_id for r in got] == list(range(24))
    for req, resp in zip(reqs, got):
        ac.check_lossless_response(req, resp, what=f"mixed frame {req.frame_id}")
        back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                    timeout=ac.RPC_TIMEOUT)
        ac.check_decompressed(req, back, what=f"mixed frame {req.frame_id}")


def test_empty_stream_ends_ok(stub):
    call = stub.CompressStream(iter([]), timeout=ac.RPC_TIMEOUT)
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


@pytest.mark.parametrize("bad", ["data_length", "frame_type_unspecified", "target_ratio"])
def test_bad_frame_ends_stream(stub, alive, bad):
    """Five good frames, then a malformed one: five answers, then INVALID_ARGUMENT."""
    frames = moving_frames(8, seed=99)
    reqs = [pb.CompressFrameRequest(frame_type=pb.FRAME_TYPE_VIDEO, pixel_format=I420, width=W,
                                    height=H, data=f, mode=pb.COMPRESSION_MODE_LOSSLESS,
                                    frame_id=i) for i, f in enumerate(frames)]
    if bad == "data_length":
        reqs[5].data = reqs[5].data[:-7]
    elif bad == "frame_type_unspecified":
        reqs[5].frame_type = pb.FRAME_TYPE_UNSPECIFIED
    else:
        reqs[5].target_ratio = 1.5
    # Frames go out one at a time, each after the previous answer, so the five answers
    # exist before the bad frame is even sent.
    rq = ac.RequestQueue()
    call = stub.CompressStream(iter(rq), timeout=60 * ac.SLOW)
    got = []
    for i in range(5):
        rq.put(reqs[i])
        got.append(next(call))
    rq.put(reqs[5])
    rq.put(reqs[6])
    rq.put(reqs[7])
    rq.close()
    with pytest.raises(grpc.RpcError) as ei:
        for r in call:
            got.append(r)
    e = ei.value
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, (
        f"bad frame ({bad}) ended the stream with {e.code().name} {e.details()!r}")
    assert e.details(), "INVALID_ARGUMENT without a message"
    assert [r.frame_id for r in got] == [0, 1, 2, 3, 4], (
        f"responses before the bad frame: {[r.frame_id for r in got]}")
    for req, resp in zip(reqs, got):
        back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                    timeout=ac.RPC_TIMEOUT)
        ac.check_decompressed(req, back, what=f"frame {req.frame_id} before the bad one")


def test_bad_frame_ends_stream_pipelined(stub, alive):
    """All frames sent at once (no waiting): the answers before the bad frame arrive, in
    order, then INVALID_ARGUMENT; nothing after it is answered."""
    frames = moving_frames(40, seed=5)
    reqs = [pb.CompressFrameRequest(frame_type=pb.FRAME_TYPE_VIDEO, pixel_format=I420, width=W,
                                    height=H, data=f, mode=pb.COMPRESSION_MODE_LOSSLESS,
                                    frame_id=i) for i, f in enumerate(frames)]
    reqs[20].width = 0
    got = []
    with pytest.raises(grpc.RpcError) as ei:
        for r in stub.CompressStream(iter(reqs), timeout=60 * ac.SLOW):
            got.append(r)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (
        f"{ei.value.code().name} {ei.value.details()!r}")
    assert [r.frame_id for r in got] == list(range(20)), (
        f"answered frame ids {[r.frame_id for r in got]}, expected 0..19")


def test_client_cancels_stream(daemon, alive):
    """A client that walks away mid-stream must not hurt the daemon."""
    stub = daemon.stub()
    frames = moving_frames(4, seed=6)
    rq = ac.RequestQueue()
    call = stub.CompressStream(iter(rq), timeout=60 * ac.SLOW)
    for i, f in enumerate(frames[:3]):
        rq.put(pb.CompressFrameRequest(frame_type=pb.FRAME_TYPE_VIDEO, pixel_format=I420,
                                       width=W, height=H, data=f,
                                       mode=pb.COMPRESSION_MODE_LOSSLESS, frame_id=i))
        assert next(call).frame_id == i
    call.cancel()
    rq.close()
    with pytest.raises(grpc.RpcError) as ei:
        next(call)
    assert ei.value.code() == grpc.StatusCode.CANCELLED
