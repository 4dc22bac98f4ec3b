"""Command line, exit codes on startup failures, and configuration precedence."""
import re
import socket
import time

import pytest

import aic_client as ac
from aic_client import pb


def test_help_exits_0():
    p = ac.run_aicd(["--help"])
    assert p.returncode == 0, f"--help exited {p.returncode}: {p.stderr}"
    out = p.stdout + p.stderr
    for word in ("--grpc-listen", "AIC_GRPC_LISTEN", "--http-listen", "AIC_HTTP_LISTEN",
                 "--tls-cert", "--tls-client-ca", "--max-message-bytes", "--shutdown-grace-ms",
                 "--config"):
        assert word in out, f"--help does not mention {word}:\n{out}"


@pytest.mark.parametrize("args", [
    ["--no-such-flag"],
    ["--grpc-listen"],                       # missing value
    ["--threads", "many"],
    ["--threads", "-3"],
    ["--log-level", "loud"],
    ["--max-message-bytes", "12abc"],
    ["--max-message-bytes=-1"],
    ["--shutdown-grace-ms", "soon"],
    ["stray-positional-argument"],
], ids=["unknown", "missing-value", "threads-word", "threads-negative", "log-level",
        "max-message-trailing", "max-message-negative", "grace-word", "positional"])
def test_usage_errors_exit_2(tmp_path, args):
    # The flag under test comes last (so "--grpc-listen" alone is missing its value).
    p = ac.run_aicd(["--grpc-listen", f"127.0.0.1:{ac.free_port()}", "--http-listen", "off",
                     "--data-dir", str(tmp_path / "d")] + args, timeout=10)
    assert p.returncode == 2, (f"aicd {' '.join(args)}: exit {p.returncode}, expected 2 "
                               f"(usage error)\nstderr:\n{p.stderr[-2000:]}")
    assert p.stderr.strip(), "a usage error should say what is wrong on stderr"
    assert not ac.sanitizer_errors(p.stderr), p.stderr


def test_bad_listen_address_fails(tmp_path):
    p = ac.run_aicd(["--grpc-listen", "not-an-address", "--http-listen", "off",
                     "--data-dir", str(tmp_path / "d")], timeout=10)
    assert p.returncode in (1, 2), (f"--grpc-listen not-an-address: exit {p.returncode}\n"
                                    f"{p.stderr[-2000:]}")


def test_grpc_port_in_use_exits_1(daemon_factory, tmp_path):
    first = daemon_factory(name="first")
    t0 = time.monotonic()
    p = ac.run_aicd(["--grpc-listen", first.target, "--http-listen",
                     f"127.0.0.1:{ac.free_port()}", "--data-dir", str(tmp_path / "second")],
                    timeout=10)
    took = time.monotonic() - t0
    assert p.returncode == 1, (
        f"a second aicd on the taken gRPC port {first.target} exited {p.returncode} "
        f"(None = still running after 10 s), expected 1\nstderr:\n{p.stderr[-2000:]}")
    assert took < 5 * ac.SLOW, f"took {took:.1f}s to give up"
    errors = [o for o in ac.json_log_lines(p.stderr) if o.get("level") == "error"]
    assert errors, f"no JSON log line with level error:\n{p.stderr[-2000:]}"
    assert all("msg" in o for o in errors)
    assert not ac.sanitizer_errors(p.stderr), p.stderr
    ac.assert_alive(first.stub(), "a second daemon tried its port")


def test_grpc_port_taken_by_other_program_exits_1(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = ac.run_aicd(["--grpc-listen", f"127.0.0.1:{port}", "--http-listen", "off",
                         "--data-dir", str(tmp_path / "d")], timeout=10)
    assert p.returncode == 1, f"exit {p.returncode}\n{p.stderr[-2000:]}"


def test_http_port_in_use_exits_1(daemon_factory, tmp_path):
    first = daemon_factory(name="first")
    p = ac.run_aicd(["--grpc-listen", f"127.0.0.1:{ac.free_port()}", "--http-listen",
                     f"127.0.0.1:{first.http_port}", "--data-dir", str(tmp_path / "second")],
                    timeout=10)
    assert p.returncode == 1, (f"HTTP port taken: exit {p.returncode}, expected 1\n"
                               f"{p.stderr[-2000:]}")


def test_http_off(daemon_factory):
    g = ac.free_port()
    d = daemon_factory(http_port=0, grpc_port=g, listen_flags=False,
                       args=["--grpc-listen", f"127.0.0.1:{g}", "--http-listen", "off"])
    ac.assert_alive(d.stub(), "start with HTTP off")


def _config(tmp_path, grpc_port, http_port, extra=""):
    f = tmp_path / "aicd.conf"
    f.write_text(f"# interop test config\n\n  grpc_listen = 127.0.0.1:{grpc_port}   # gRPC\n"
                 f"http_listen = \"127.0.0.1:{http_port}\"\nlog_level = debug\n{extra}")
    return f


def test_config_file_honoured(daemon_factory, tmp_path):
    g, h = ac.free_port(), ac.free_port()
    conf = _config(tmp_path, g, h)
    d = daemon_factory(listen_flags=False, grpc_port=g, http_port=h,
                       args=["--config", str(conf)])
    ac.assert_alive(d.stub(), "config file")
    status, _, _ = ac.http_get(h, "/health")
    assert status == 200


def test_config_file_via_env(daemon_factory, tmp_path):
    g, h = ac.free_port(), ac.free_port()
    conf = _config(tmp_path, g, h)
    d = daemon_factory(listen_flags=False, grpc_port=g, http_port=h,
                       env={"AIC_CONFIG": conf})
    ac.assert_alive(d.stub(), "config file from AIC_CONFIG")


def test_env_overrides_file(daemon_factory, tmp_path):
    g_file, h_file, g_env = ac.free_port(), ac.free_port(), ac.free_port()
    conf = _config(tmp_path, g_file, h_file)
    d = daemon_factory(listen_flags=False, grpc_port=g_env, http_port=h_file,
                       args=["--config", str(conf)],
                       env={"AIC_GRPC_LISTEN": f"127.0.0.1:{g_env}"})
    ac.assert_alive(d.stub(), "AIC_GRPC_LISTEN over the file")
    assert not ac.port_accepts(g_file), f"the file's gRPC port {g_file} is listened on too"


def test_flag_overrides_env_and_file(daemon_factory, tmp_path):
    g_file, h_file, g_env, g_flag = (ac.free_port() for _ in range(4))
    conf = _config(tmp_path, g_file, h_file)
    d = daemon_factory(listen_flags=False, grpc_port=g_flag, http_port=h_file,
                       args=["--config", str(conf), "--grpc-listen", f"127.0.0.1:{g_flag}"],
                       env={"AIC_GRPC_LISTEN": f"127.0.0.1:{g_env}"})
    ac.assert_alive(d.stub(), "--grpc-listen over AIC_GRPC_LISTEN")
    assert not ac.port_accepts(g_env), f"the environment's gRPC port {g_env} is listened on"
    assert not ac.port_accepts(g_file), f"the file's gRPC port {g_file} is listened on"


def test_flag_equals_form(daemon_factory):
    g, h = ac.free_port(), ac.free_port()
    d = daemon_factory(listen_flags=False, grpc_port=g, http_port=h,
                       args=[f"--grpc-listen=127.0.0.1:{g}", f"--http-listen=127.0.0.1:{h}"])
    ac.assert_alive(d.stub(), "--key=value flags")


def test_env_limits_apply(daemon_factory):
    """AIC_MAX_WIDTH from the environment is enforced."""
    d = daemon_factory(env={"AIC_MAX_WIDTH": "100", "AIC_MAX_HEIGHT": "50"})
    stub = d.stub()
    ok = ac.video_request(pb.PIXEL_FORMAT_RGB24, 100, 50, seed=1)
    stub.CompressFrame(ok, timeout=ac.RPC_TIMEOUT)
    import grpc
    ac.expect_rpc_error(stub.CompressFrame, ac.video_request(pb.PIXEL_FORMAT_RGB24, 101, 50),
                        grpc.StatusCode.INVALID_ARGUMENT, what="width 101 over AIC_MAX_WIDTH")
    ac.expect_rpc_error(stub.CompressFrame, ac.video_request(pb.PIXEL_FORMAT_RGB24, 100, 51),
                        grpc.StatusCode.INVALID_ARGUMENT, what="height 51 over AIC_MAX_HEIGHT")


@pytest.mark.parametrize("body,what", [
    ("no_such_key = 1\n", "unknown key"),
    ("this line has no equals sign\n", "malformed line"),
])
def test_bad_config_file_exits_1(tmp_path, body, what):
    conf = tmp_path / "bad.conf"
    port = ac.free_port()
    conf.write_text(f"# comment\ngrpc_listen = 127.0.0.1:{port}\nhttp_listen = off\n{body}")
    p = ac.run_aicd(["--config", str(conf), "--data-dir", str(tmp_path / "d")], timeout=10)
    assert p.returncode == 1, f"config with {what}: exit {p.returncode}\n{p.stderr[-2000:]}"
    text = p.stderr.replace(str(port), "")
    assert "bad.conf" in text and re.search(r"(?<![0-9.])4(?![0-9.])", text), (
        f"config with {what}: the error does not name the file and line 4:\n{p.stderr}")


def test_missing_config_file_exits_1(tmp_path):
    p = ac.run_aicd(["--config", str(tmp_path / "nope.conf"), "--http-listen", "off"],
                    timeout=10)
    assert p.returncode in (1, 2), f"missing config file: exit {p.returncode}\n{p.stderr}"
