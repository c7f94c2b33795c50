"""Small helpers shared by the end-to-end tests (bounded waits, never timing assertions)."""
import threading
import time

import redis
import redis.asyncio as aioredis


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Poll predicate() until it returns a truthy value or timeout seconds pass; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def run_threads(worker, n, timeout=60.0):
    """Run worker(i) for i in range(n), each in its own thread, all at once; wait for them
    (at most timeout seconds each) and return the repr of every exception the workers raised,
    so a test can `assert run_threads(...) == []`."""
    errors = []

    def run(i):
        try:
            worker(i)
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors


def stop_checked(srv):
    """Stop a server a test started, failing the test if it had died during it."""
    import pytest
    alive = srv.alive()
    log = srv.read_log()
    srv.stop()
    if not alive:
        pytest.fail(f"{srv.kind} died during the test; log tail:\n{log}")


def client(port, protocol, asyncio=False):
    """A redis-py client as the e2e tests use it: decoded replies, protocol 2, 3 or None
    (redis-py's default), a 30 s socket timeout; the asyncio one with `asyncio`."""
    cls = aioredis.Redis if asyncio else redis.Redis
    return cls(port=port, protocol=protocol, decode_responses=True, socket_timeout=30)
