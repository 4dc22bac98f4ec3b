"""pytest fixtures for the aicd interop suite.

Environment:
  AIC_BIN        the aicd binary (default: <repo>/build/aicd)
  AIC_PY_STUBS   folder of generated Python stubs (default: <repo>/build/py)
  AIC_SANITIZED  1 for ASan/UBSan builds: longer timeouts, stderr checked for reports
"""
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
_stubs = os.environ.get("AIC_PY_STUBS") or str(HERE.parent.parent / "build" / "py")
if _stubs not in sys.path:
    sys.path.insert(0, _stubs)

import aic_client as ac  # noqa: E402


def pytest_report_header(config):
    return [f"aicd: {ac.AIC_BIN} (sanitized: {ac.SANITIZED}); stubs: {ac.STUBS}"]


@pytest.fixture(scope="session")
def aicd_bin():
    if not os.access(ac.AIC_BIN, os.X_OK):
        pytest.fail(f"aicd binary not found or not executable: {ac.AIC_BIN} (set AIC_BIN)")
    return ac.AIC_BIN


@pytest.fixture(scope="session")
def daemon(aicd_bin, tmp_path_factory):
    """One aicd shared by the tests that do not stop or reconfigure it."""
    d = ac.Daemon(tmp_path_factory.mktemp("aicd-shared"), name="aicd-shared")
    d.start()
    yield d
    d.shutdown_and_check()


@pytest.fixture(scope="session")
def channel(daemon):
    return daemon.new_channel()


@pytest.fixture(scope="session")
def stub(channel):
    return ac.pbg.AICCompressionServiceStub(channel)


@pytest.fixture(scope="session")
def health_stub(channel):
    return ac.hpbg.HealthStub(channel)


@pytest.fixture
def alive(stub, daemon):
    """Yields, then checks the shared daemon is still up and serving."""
    yield
    assert daemon.alive(), (f"the shared daemon died (exit {daemon.proc.returncode})\n"
                            f"stderr:\n{daemon.stderr()[-4000:]}")
    ac.assert_alive(stub, "the test")


@pytest.fixture
def daemon_factory(aicd_bin, tmp_path):
    """Starts daemons private to one test; each is stopped and checked at teardown
    (unless the test already did) — SIGTERM, exit code 0, no sanitizer reports."""
    made = []

    def make(*, start=True, name=None, **kw):
        name = name or f"aicd-{len(made)}"
        d = ac.Daemon(tmp_path / name, name=name, **kw)
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    errors = []
    for d in made:
        if d.proc is None:
            continue
        if d.checked:  # the test checked it already; just make sure nothing is left running
            d.close_channels()
            d.kill()
            continue
        try:
            if d.proc.poll() is None:
                d.shutdown_and_check()
            else:
                d.checked = True
                d.close_channels()
                d.kill()
                d.check_sanitizers()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors))
