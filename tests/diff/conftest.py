import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))   # tests/ (support.py)


def pytest_sessionstart(session):
    import support
    support.announce_oracle(session)


def pytest_report_header(config):
    from harness import SELF_CHECK
    if SELF_CHECK:
        return "diff: DIFF_SELF_CHECK=1 - both sides are the real redis-server (validating the harness)"
    return "diff: oracle redis-server vs cinnabar (CINNABAR_BIN or target/release/cinnabar-server)"


@pytest.fixture(scope="module")
def pair():
    """The oracle redis-server and cinnabar, started once per test module."""
    from harness import start_pair, stop_pair
    servers = start_pair()
    yield servers
    stop_pair(servers)
