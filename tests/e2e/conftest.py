"""Fixtures for the end-to-end tests: redis-py (sync and asyncio) against a real server process.

The target is cinnabar by default. Set E2E_TARGET=redis to run the very same tests against
the oracle redis-server (tests/support.py: Redis 7.2.6, or Debian's 7.0 as a fallback), which is
how the tests themselves are validated:

    E2E_TARGET=redis python3 -m pytest -q tests/e2e

One server is started per test session (per target) and every database is flushed before each
test. If the server dies during a test it is restarted for the next one, and the test that
killed it fails with the tail of the server log, so one crash does not hide every other result.
CINNABAR_THREADS, when set, is passed to cinnabar as --threads (tests/support.py).
"""
import os
import sys

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import support  # noqa: E402  (tests/support.py)
from e2e_helpers import client as e2e_client, stop_checked  # noqa: E402

TARGET = os.environ.get("E2E_TARGET", "cinnabar").strip().lower()
if TARGET not in ("cinnabar", "redis"):
    raise RuntimeError(f"E2E_TARGET must be 'cinnabar' or 'redis', not {TARGET!r}")


def _start(**config):
    if TARGET == "redis":
        return support.start_redis(**config)
    return support.start_cinnabar(**config)


def pytest_sessionstart(session):
    support.announce_oracle(session)


def pytest_report_header(config):
    return f"e2e target: {TARGET}"


class _ServerHolder:
    def __init__(self):
        self.server = None

    def get(self):
        if self.server is None or not self.server.alive():
            if self.server is not None:
                self.server.stop()
            self.server = _start()
        return self.server

    def stop(self):
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="session")
def _holder():
    holder = _ServerHolder()
    yield holder
    holder.stop()


def _flush_everything(port):
    """FLUSHALL; False if the server does not have it (yet)."""
    client = redis.Redis(port=port, protocol=2, socket_timeout=30)
    try:
        client.flushall()
        return True
    except redis.ResponseError:
        return False
    finally:
        client.close()


@pytest.fixture
def server(_holder):
    """The running server, with every database empty. Fails the test if the server dies in it."""
    srv = _holder.get()
    if not _flush_everything(srv.port):
        # keep the other tests meaningful on a server without FLUSHALL: a fresh one is empty
        _holder.stop()
        srv = _holder.get()
    yield srv
    if not srv.alive():
        log = srv.read_log()
        pytest.fail(f"{srv.kind} died during the test (exit {srv.proc.returncode}); log tail:\n{log}")


@pytest.fixture
def port(server):
    return server.port


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    """Every test that talks through redis-py runs twice: RESP2, and RESP3 (HELLO 3), which is
    redis-py 8's default protocol."""
    return request.param


@pytest.fixture
def r(port, protocol):
    """A sync client with decode_responses=True (how most applications use redis-py)."""
    client = e2e_client(port, protocol)
    yield client
    client.close()


@pytest.fixture
def rb(port, protocol):
    """A sync client returning bytes (redis-py's default)."""
    client = redis.Redis(port=port, protocol=protocol, socket_timeout=30)
    yield client
    client.close()


@pytest.fixture
def start_server():
    """How to start a server of the target with a configuration of its own (`--name value`
    options, e.g. unixsocket); the caller stops it."""
    return _start


@pytest.fixture
def own_server():
    """A fresh server for tests that need one to themselves (e.g. timing of active expiry)."""
    srv = _start()
    yield srv
    stop_checked(srv)


@pytest.fixture
def target():
    """"cinnabar" or "redis": the server the tests run against."""
    return TARGET


@pytest.fixture
def start_server():
    """Start servers of the target with `--name value` options for one test (which may stop
    them itself, e.g. by SHUTDOWN); whatever is left is stopped after it."""
    started = []

    def start(**config):
        srv = _start(**config)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def pytest_collection_modifyitems(config, items):
    # redis-py marks SETEX/PSETEX as deprecated, but applications call them every day and so do we.
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.path).startswith(here + os.sep):
            item.add_marker(pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning"))
