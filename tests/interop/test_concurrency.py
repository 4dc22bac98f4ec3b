"""Many clients at once: every round trip exact, no cross-talk between calls."""
import threading

import grpc

import aic_client as ac
from aic_client import pb

FORMATS = [pb.PIXEL_FORMAT_I420, pb.PIXEL_FORMAT_NV12, pb.PIXEL_FORMAT_RGB24,
           pb.PIXEL_FORMAT_RGBA]


def _worker(daemon, tid, rounds, shared_channel, errors, done):
    try:
        ch = shared_channel or daemon.new_channel(track=False)
        stub = ac.pbg.AICCompressionServiceStub(ch)
        for i in range(rounds):
            fmt = FORMATS[(tid + i) % 4]
            w, h = 40 + tid * 3 + i % 5, 30 + tid + i % 7
            codec = pb.CODEC_ZLIB if i % 3 == 0 else pb.CODEC_ZSTD
            req = ac.video_request(fmt, w, h, seed=tid * 1000 + i,
                                   session_id=f"conc-{tid}" if i % 2 else "",
                                   frame_id=tid * 1000 + i, timestamp_us=i,
                                   codec_preference=codec)
            what = f"thread {tid} round {i}"
            resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
            ac.check_lossless_response(req, resp, codec=codec, what=what)
            back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                        timeout=ac.RPC_TIMEOUT)
            ac.check_decompressed(req, back, codec=codec, what=what)
        done.append(tid)
        if shared_channel is None:
            ch.close()
    except (AssertionError, grpc.RpcError) as e:
        if isinstance(e, grpc.RpcError):
            e = AssertionError(f"thread {tid}: {e.code().name} {e.details()!r}")
        errors.append(e)
    except Exception as e:  # noqa: BLE001 - report anything from a worker
        errors.append(e)


def _run(daemon, threads, rounds, shared):
    errors, done = [], []
    ch = daemon.new_channel() if shared else None
    ts = [threading.Thread(target=_worker, args=(daemon, t, rounds, ch, errors, done))
          for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120 * ac.SLOW)
    assert not any(t.is_alive() for t in ts), "a client thread hung"
    assert not errors, f"{len(errors)} of {threads} threads failed; first: {errors[0]}"
    assert sorted(done) == list(range(threads))


def test_8_threads_own_channels(daemon, alive):
    _run(daemon, 8, 50, shared=False)


def test_8_threads_shared_channel(daemon, alive):
    _run(daemon, 8, 25, shared=True)


def test_concurrent_streams(daemon, alive):
    """Four streams at once, each its own session; answers stay on their stream."""
    errors = []

    def one(sid):
        try:
            stub = daemon.stub()
            reqs = [ac.video_request(pb.PIXEL_FORMAT_I420, 64, 48, seed=sid * 100 + i,
                                     frame_id=sid * 100 + i) for i in range(60)]
            got = list(stub.CompressStream(iter(reqs), timeout=60 * ac.SLOW))
            assert [r.frame_id for r in got] == [r.frame_id for r in reqs], f"stream {sid}"
            for req, resp in zip(reqs[::10], got[::10]):
                back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                            timeout=ac.RPC_TIMEOUT)
                ac.check_decompressed(req, back, what=f"stream {sid} frame {req.frame_id}")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=one, args=(s,)) for s in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120 * ac.SLOW)
    assert not errors, f"{errors[0]!r}"
