"""Graceful shutdown: SIGTERM/SIGINT exit 0, in-flight streams finish, new calls are refused."""
import json
import signal
import threading
import time

import grpc
import pytest

import aic_client as ac
from aic_client import pb


def frame(i, w=160, h=120):
    return ac.video_request(pb.PIXEL_FORMAT_I420, w, h, seed=500 + i, frame_id=i,
                            timestamp_us=i * 33_333, session_id="shutdown-stream")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_signal_exits_0_quickly(daemon_factory, sig):
    d = daemon_factory()
    ac.assert_alive(d.stub(), "start")
    d.close_channels()
    t0 = time.monotonic()
    d.send_signal(sig)
    rc = d.wait(timeout=10 * ac.SLOW)
    took = time.monotonic() - t0
    assert rc is not None, f"still running 10 s after {sig.name} with no calls in flight"
    d.checked = True
    d.check_sanitizers()
    assert rc == 0, f"exit {rc} after {sig.name}\nstderr:\n{d.stderr()[-3000:]}"
    assert took < 2.0 * ac.SLOW, f"idle {sig.name} took {took:.2f}s (expected < 2 s)"
    # Logs up to the end are JSON lines.
    for line in d.stderr().splitlines():
        if line.strip() and not (ac.SANITIZED and not line.startswith("{")):
            obj = json.loads(line)
            assert "level" in obj and "msg" in obj, line
    # Nothing listens any more.
    assert not ac.port_accepts(d.grpc_port), "gRPC port still accepts after exit"
    assert not ac.port_accepts(d.http_port), "HTTP port still accepts after exit"


def test_sigterm_with_idle_open_connection_exits_quickly(daemon_factory):
    """An open but idle client connection must not hold the daemon for the grace period."""
    d = daemon_factory(args=["--shutdown-grace-ms", "10000"])
    stub = d.stub()
    ac.assert_alive(stub, "start")
    t0 = time.monotonic()
    d.send_signal(signal.SIGTERM)
    rc = d.wait(timeout=15 * ac.SLOW)
    took = time.monotonic() - t0
    d.checked = True
    d.check_sanitizers()
    assert rc == 0, f"exit {rc}\nstderr:\n{d.stderr()[-3000:]}"
    assert took < 2.0 * ac.SLOW, (f"{took:.2f}s to exit with an idle connection open "
                                  "(waited out the grace period?)")


def test_stream_in_flight_finishes_after_sigterm(daemon_factory):
    grace_ms = 10000
    d = daemon_factory(args=["--shutdown-grace-ms", str(grace_ms)])
    stub = d.stub()
    rq = ac.RequestQueue()
    call = stub.CompressStream(iter(rq), timeout=60 * ac.SLOW)
    reqs = [frame(i) for i in range(10)]
    got = []
    for i in range(5):
        rq.put(reqs[i])
        got.append(next(call))
    t_term = time.monotonic()
    d.send_signal(signal.SIGTERM)
    time.sleep(0.5 * ac.SLOW)  # let the daemon act on the signal
    assert d.alive(), (f"the daemon exited ({d.proc.returncode}) with a stream in flight, "
                       f"0.5 s after SIGTERM\nstderr:\n{d.stderr()[-3000:]}")

    # While shutting down: new connections/calls are refused...
    fresh = d.new_channel(track=False)
    with pytest.raises(grpc.RpcError) as ei:
        pbstub = ac.pbg.AICCompressionServiceStub(fresh)
        pbstub.HealthCheck(pb.HealthCheckRequest(), timeout=3 * ac.SLOW)
    fresh.close()
    assert ei.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), (
        f"a new call during shutdown: {ei.value.code().name} {ei.value.details()!r}")
    # ...and HTTP /health, if it still answers, no longer says SERVING.
    try:
        status, _, body = ac.http_get(d.http_port, "/health", timeout=2)
        doc = json.loads(body)
        assert doc.get("status") != "SERVING", (
            f"HTTP /health during shutdown: {status} {doc}")
    except OSError:
        pass  # the HTTP listener is already closed: fine

    # The stream in flight keeps working to its end.
    for i in range(5, 10):
        rq.put(reqs[i])
    rq.close()
    try:
        for r in call:
            got.append(r)
    except grpc.RpcError as e:
        raise AssertionError(
            f"the in-flight stream was cut after {len(got)} responses by SIGTERM: "
            f"{e.code().name} {e.details()!r}") from e
    assert call.code() == grpc.StatusCode.OK
    assert [r.frame_id for r in got] == list(range(10)), [r.frame_id for r in got]
    for req, resp in zip(reqs, got):
        ac.check_lossless_response(req, resp, what=f"frame {req.frame_id} around SIGTERM")

    rc = d.wait(timeout=grace_ms / 1000 + 5 * ac.SLOW)
    took = time.monotonic() - t_term
    assert rc is not None, f"still running {took:.1f}s after SIGTERM (grace {grace_ms} ms)"
    d.checked = True
    d.check_sanitizers()
    assert rc == 0, f"exit {rc}\nstderr:\n{d.stderr()[-3000:]}"
    assert took < grace_ms / 1000 + 1.0 * ac.SLOW, f"exit {took:.1f}s after SIGTERM"
    # After the exit, new connections fail.
    late = d.new_channel(track=False)
    with pytest.raises(grpc.RpcError) as ei:
        ac.pbg.AICCompressionServiceStub(late).HealthCheck(pb.HealthCheckRequest(), timeout=2)
    late.close()
    assert ei.value.code() == grpc.StatusCode.UNAVAILABLE, ei.value.code()
    assert not ac.port_accepts(d.grpc_port)


def test_stream_past_grace_is_cancelled(daemon_factory):
    """A stream that does not finish within the grace period is cancelled; exit is still 0,
    shortly after the grace period."""
    grace_ms = 1500
    d = daemon_factory(args=["--shutdown-grace-ms", str(grace_ms)])
    stub = d.stub()
    rq = ac.RequestQueue()
    call = stub.CompressStream(iter(rq), timeout=60 * ac.SLOW)
    rq.put(frame(0))
    assert next(call).frame_id == 0
    t0 = time.monotonic()
    d.send_signal(signal.SIGTERM)
    rc = d.wait(timeout=grace_ms / 1000 + 10 * ac.SLOW)
    took = time.monotonic() - t0
    rq.close()
    d.checked = True
    d.check_sanitizers()
    assert rc is not None, f"still running {took:.1f}s after SIGTERM with grace {grace_ms} ms"
    assert rc == 0, f"exit {rc}\nstderr:\n{d.stderr()[-3000:]}"
    assert took >= grace_ms / 1000 * 0.8, (
        f"exited {took:.2f}s after SIGTERM: the stream did not get its {grace_ms} ms grace")
    assert took < grace_ms / 1000 + 3.0 * ac.SLOW, f"exited {took:.2f}s after SIGTERM"
    with pytest.raises(grpc.RpcError) as ei:
        for _ in call:
            pass
    assert ei.value.code() != grpc.StatusCode.OK


def test_unary_calls_during_shutdown_race(daemon_factory):
    """Clients hammering the daemon while it is told to stop: every call either succeeds
    exactly or fails with a clean status; the daemon exits 0 without sanitizer reports."""
    d = daemon_factory(args=["--shutdown-grace-ms", "3000"])
    stop = threading.Event()
    bad = []

    def client(tid):
        ch = d.new_channel(track=False)
        stub = ac.pbg.AICCompressionServiceStub(ch)
        i = 0
        while not stop.is_set():
            req = ac.video_request(pb.PIXEL_FORMAT_RGB24, 64, 48, seed=tid * 10000 + i % 50)
            try:
                resp = stub.CompressFrame(req, timeout=5 * ac.SLOW)
                if resp.original_size != len(req.data):
                    bad.append(f"thread {tid}: wrong original_size")
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                                    grpc.StatusCode.DEADLINE_EXCEEDED):
                    bad.append(f"thread {tid}: {e.code().name} {e.details()!r}")
                if e.code() == grpc.StatusCode.UNAVAILABLE:
                    break
            i += 1
        ch.close()

    ts = [threading.Thread(target=client, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.7 * ac.SLOW)
    d.send_signal(signal.SIGTERM)
    rc = d.wait(timeout=15 * ac.SLOW)
    stop.set()
    for t in ts:
        t.join(timeout=30 * ac.SLOW)
    d.checked = True
    d.check_sanitizers()
    assert rc == 0, f"exit {rc} (None: still running)\nstderr:\n{d.stderr()[-3000:]}"
    assert not bad, bad[:5]
