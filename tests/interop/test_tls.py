"""TLS and mutual TLS on the gRPC port, with certificates made by openssl at test time."""
import grpc
import pytest

import aic_client as ac
from aic_client import pb

FAIL_TIMEOUT = 5.0 * ac.SLOW


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return ac.make_tls_material(tmp_path_factory.mktemp("tls"))


def creds(certs, client=None):
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=ac.read(certs["ca"]))
    cert, key = client
    return grpc.ssl_channel_credentials(root_certificates=ac.read(certs["ca"]),
                                        private_key=ac.read(key), certificate_chain=ac.read(cert))


def exercise(stub, what):
    h = stub.HealthCheck(pb.HealthCheckRequest(), timeout=ac.RPC_TIMEOUT)
    assert h.status == pb.HealthCheckResponse.STATUS_SERVING, what
    req = ac.video_request(pb.PIXEL_FORMAT_I420, 33, 17, seed=1, frame_id=5)
    resp = stub.CompressFrame(req, timeout=ac.RPC_TIMEOUT)
    ac.check_lossless_response(req, resp, what=what)
    back = stub.DecompressFrame(pb.DecompressFrameRequest(bitstream=resp.bitstream),
                                timeout=ac.RPC_TIMEOUT)
    ac.check_decompressed(req, back, what=what)
    reqs = [ac.video_request(pb.PIXEL_FORMAT_RGB24, 40, 30, seed=i, frame_id=i)
            for i in range(10)]
    got = list(stub.CompressStream(iter(reqs), timeout=ac.RPC_TIMEOUT))
    assert [r.frame_id for r in got] == list(range(10)), what


def expect_refused(stub, what):
    with pytest.raises(grpc.RpcError) as ei:
        stub.HealthCheck(pb.HealthCheckRequest(), timeout=FAIL_TIMEOUT)
    assert ei.value.code() != grpc.StatusCode.OK, what
    return ei.value


def test_tls_server(daemon_factory, certs):
    d = daemon_factory(args=["--tls-cert", str(certs["server"]), "--tls-key",
                             str(certs["server_key"])], channel_creds=creds(certs))
    exercise(d.stub(), "TLS client")
    # A client that speaks plaintext gets nothing from a TLS port.
    plain = grpc.insecure_channel(d.target)
    e = expect_refused(ac.pbg.AICCompressionServiceStub(plain),
                       "plaintext client against a TLS port")
    plain.close()
    assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                        grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), e.code()
    # A client that trusts another CA refuses the server's certificate.
    wrong = grpc.ssl_channel_credentials(root_certificates=ac.read(certs["rogue"]))
    expect_refused(d.stub(creds=wrong), "client trusting another CA")
    ac.assert_alive(d.stub(), "refused clients")


def test_tls_logs_tls_on(daemon_factory, certs):
    d = daemon_factory(args=["--tls-cert", str(certs["server"]), "--tls-key",
                             str(certs["server_key"])], channel_creds=creds(certs))
    listening = [o for o in ac.json_log_lines(d.stderr()) if o.get("tls") is True]
    assert listening, f"no log line with tls=true:\n{d.stderr()[-2000:]}"


def test_tls_via_environment(daemon_factory, certs):
    d = daemon_factory(env={"AIC_TLS_CERT": certs["server"], "AIC_TLS_KEY": certs["server_key"]},
                       channel_creds=creds(certs))
    exercise(d.stub(), "TLS from AIC_TLS_* variables")


def test_mtls(daemon_factory, certs):
    d = daemon_factory(args=["--tls-cert", str(certs["server"]), "--tls-key",
                             str(certs["server_key"]), "--tls-client-ca", str(certs["ca"])],
                       channel_creds=creds(certs, (certs["client"], certs["client_key"])))
    exercise(d.stub(), "mTLS client with a certificate")
    expect_refused(d.stub(creds=creds(certs)), "mTLS: client without a certificate")
    expect_refused(d.stub(creds=creds(certs, (certs["rogue"], certs["rogue_key"]))),
                   "mTLS: client certificate from another CA")
    plain = grpc.insecure_channel(d.target)
    expect_refused(ac.pbg.AICCompressionServiceStub(plain), "mTLS: plaintext client")
    plain.close()
    # The refused handshakes did not hurt the server: the good client still works.
    exercise(d.stub(), "mTLS client after refused ones")


@pytest.mark.parametrize("which", ["cert", "key", "client_ca"])
def test_unreadable_tls_files_exit_1(tmp_path, certs, which):
    files = {"cert": str(certs["server"]), "key": str(certs["server_key"])}
    args = ["--grpc-listen", f"127.0.0.1:{ac.free_port()}", "--http-listen",
            f"127.0.0.1:{ac.free_port()}", "--data-dir", str(tmp_path / "data")]
    if which == "client_ca":
        args += ["--tls-client-ca", str(tmp_path / "missing-ca.pem")]
    else:
        files[which] = str(tmp_path / f"missing-{which}.pem")
    args += ["--tls-cert", files["cert"], "--tls-key", files["key"]]
    p = ac.run_aicd(args, timeout=15)
    assert p.returncode == 1, (f"unreadable TLS {which}: exit {p.returncode}, expected 1\n"
                               f"stderr:\n{p.stderr[-2000:]}")
    assert not ac.sanitizer_errors(p.stderr), p.stderr
    assert any(o.get("level") == "error" for o in ac.json_log_lines(p.stderr)), (
        f"no error log line:\n{p.stderr[-2000:]}")


def test_key_not_matching_cert_exit_1(tmp_path, certs):
    args = ["--grpc-listen", f"127.0.0.1:{ac.free_port()}", "--http-listen", "off",
            "--data-dir", str(tmp_path / "data"),
            "--tls-cert", str(certs["server"]), "--tls-key", str(certs["client_key"])]
    p = ac.run_aicd(args, timeout=15)
    if p.returncode is None:
        pytest.fail("aicd started with a key that does not match its certificate (still "
                    f"running after 15 s; killed)\nstderr:\n{p.stderr[-2000:]}")
    assert p.returncode == 1, f"exit {p.returncode}\n{p.stderr[-2000:]}"
