"""HealthCheck RPC, grpc.health.v1, and the HTTP /health and /metrics endpoints."""
import json
import math
import time

import grpc
import pytest

import aic_client as ac
from aic_client import hpb, pb

SERVICE = "auralink.aic.v1.AICCompressionService"


def test_healthcheck_rpc(stub):
    r1 = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    assert r1.status == pb.HealthCheckResponse.STATUS_SERVING, f"status {r1.status}"
    assert r1.version, "empty version"
    assert ac.version_regex().match(r1.version), f"version {r1.version!r} is not semver"
    assert r1.uptime_seconds >= 0 and math.isfinite(r1.uptime_seconds)
    assert pb.CODEC_ZSTD in r1.codecs and pb.CODEC_ZLIB in r1.codecs, (
        f"codecs {[pb.Codec.Name(c) for c in r1.codecs]}")
    assert len(set(r1.codecs)) == len(r1.codecs), "a codec listed twice"
    assert pb.CODEC_UNSPECIFIED not in r1.codecs
    # the models the daemon loaded are checked in test_neural.py
    assert r1.neural_available == (len(r1.models) > 0), f"models {r1.models}"
    time.sleep(1.1)
    r2 = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    assert r2.uptime_seconds > r1.uptime_seconds, (
        f"uptime did not grow: {r1.uptime_seconds} then {r2.uptime_seconds} 1.1 s later")
    assert r2.uptime_seconds - r1.uptime_seconds < 30 * ac.SLOW


def test_version_flag_matches(stub):
    r = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    p = ac.run_aicd(["--version"])
    assert p.returncode == 0, f"--version exited {p.returncode}: {p.stderr}"
    assert r.version in p.stdout + p.stderr, (
        f"--version prints {p.stdout!r}, HealthCheck says {r.version!r}")


@pytest.mark.parametrize("service", ["", SERVICE])
def test_standard_health_serving(health_stub, service):
    r = health_stub.Check(hpb.HealthCheckRequest(service=service), timeout=ac.RPC_TIMEOUT)
    assert r.status == hpb.HealthCheckResponse.SERVING, f"service {service!r}: {r.status}"


def test_standard_health_unknown_service(health_stub):
    with pytest.raises(grpc.RpcError) as ei:
        health_stub.Check(hpb.HealthCheckRequest(service="no.such.Service"),
                          timeout=ac.RPC_TIMEOUT)
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND, (
        f"{ei.value.code().name} {ei.value.details()!r}")


def test_http_health(daemon, stub):
    status, headers, body = ac.http_get(daemon.http_port, "/health")
    assert status == 200, f"/health: HTTP {status} {body[:200]!r}"
    doc = json.loads(body)
    assert doc.get("status") == "SERVING", f"/health: {doc}"
    assert isinstance(doc.get("version"), str) and doc["version"], f"/health: {doc}"
    assert isinstance(doc.get("uptime_seconds"), (int, float)) and doc["uptime_seconds"] >= 0
    r = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    assert doc["version"] == r.version, f"HTTP version {doc['version']} != gRPC {r.version}"


def _metrics(daemon):
    status, headers, body = ac.http_get(daemon.http_port, "/metrics")
    assert status == 200, f"/metrics: HTTP {status}"
    ctype = headers.get("Content-Type", "")
    assert ctype.startswith("text/plain"), f"/metrics Content-Type {ctype!r}"
    return body.decode("utf-8")


def test_http_metrics_count_calls(daemon, stub):
    key = 'aic_grpc_requests_total{method="CompressFrame"}'
    before = _metrics(daemon)
    n0 = ac.metric_value(before, key) or 0.0
    b0 = ac.metric_sum(before, "aic_bytes_in_total")
    assert b0 is not None, f"aic_bytes_in_total missing from /metrics:\n{before[:3000]}"
    req = ac.video_request(pb.PIXEL_FORMAT_RGB24, 64, 48, seed=1)
    stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
    # The server may count the call when its status is sent, just after the client has the
    # answer: a scrape shortly after must show it (allow up to 2 s).
    deadline = time.monotonic() + 2.0 * ac.SLOW
    while True:
        after = _metrics(daemon)
        n1 = ac.metric_value(after, key)
        assert n1 is not None, f"{key} missing from /metrics after a call:\n{after[:3000]}"
        if n1 >= n0 + 1 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert n1 >= n0 + 1, f"{key}: {n0} before, {n1} 2 s after one CompressFrame"
    b1 = ac.metric_sum(after, "aic_bytes_in_total")
    assert b1 >= b0 + len(req.data), (
        f"aic_bytes_in_total grew by {b1 - b0} for a {len(req.data)}-byte frame")


def test_http_metrics_format(daemon):
    text = _metrics(daemon)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(" ", 1)
        assert len(parts) == 2, f"malformed sample line {line!r}"
        float(parts[1])  # every sample value is a number (NaN/+Inf parse too)


def test_http_unknown_path(daemon):
    status, _, _ = ac.http_get(daemon.http_port, "/no-such-page")
    assert status == 404, f"/no-such-page: HTTP {status}"


def test_logs_are_json_lines(daemon):
    """Every stderr line so far is one JSON object with level and msg."""
    text = daemon.stderr()
    lines = [l for l in text.splitlines() if l.strip()]
    assert lines, "the daemon logged nothing (expected at least a 'listening' line)"
    for line in lines:
        if ac.SANITIZED and not line.startswith("{"):
            continue
        obj = json.loads(line)
        assert isinstance(obj, dict) and "level" in obj and "msg" in obj, f"log line {line!r}"
        assert obj["level"] in ("error", "warn", "info", "debug"), f"log line {line!r}"
