"""Fixed-window rate limiter: INCR + EXPIRE in a non-transactional pipeline, counting exactly,
sequentially and under concurrency."""
import threading

import redis


def allow(client, key, limit, window):
    pipe = client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, window)
    count, _ = pipe.execute()
    return count <= limit


def test_fixed_window_counts_exactly(r):
    key = "ratelimit:user:1:window"
    decisions = [allow(r, key, limit=10, window=60) for _ in range(25)]
    assert decisions == [True] * 10 + [False] * 15
    assert r.get(key) == "25"
    assert 55 <= r.ttl(key) <= 60
    # another user has an independent window
    assert allow(r, "ratelimit:user:2:window", limit=10, window=60) is True
    assert r.get("ratelimit:user:2:window") == "1"


def test_fixed_window_expire_nx_variant(r):
    # the variant that sets the TTL only when the window opens (EXPIRE ... NX, Redis 7)
    key = "ratelimit:nx"
    pipe = r.pipeline(transaction=False)
    for _ in range(5):
        pipe.incr(key)
        pipe.expire(key, 30, nx=True)
    replies = pipe.execute()
    assert replies[0::2] == [1, 2, 3, 4, 5]
    assert replies[1::2] == [True, False, False, False, False]
    assert 25 <= r.ttl(key) <= 30


def test_fixed_window_window_resets_after_expiry(r):
    key = "ratelimit:short"
    assert [allow(r, key, limit=2, window=1) for _ in range(3)] == [True, True, False]
    from e2e_helpers import wait_until

    assert wait_until(lambda: r.exists(key) == 0, timeout=5)
    assert allow(r, key, limit=2, window=1) is True
    assert r.get(key) == "1"


def test_fixed_window_concurrent_exact(port, protocol):
    threads_n, per_thread, limit = 10, 40, 150
    allowed = []
    lock = threading.Lock()
    errors = []
    pool = redis.ConnectionPool(port=port, protocol=protocol, max_connections=threads_n + 2)
    barrier = threading.Barrier(threads_n)

    def worker():
        client = redis.Redis(connection_pool=pool)
        ok = 0
        try:
            barrier.wait(timeout=10)
            for _ in range(per_thread):
                if allow(client, "ratelimit:shared", limit=limit, window=120):
                    ok += 1
        except Exception as e:
            errors.append(repr(e))
        with lock:
            allowed.append(ok)

    ts = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    assert errors == []
    assert sum(allowed) == limit
    check = redis.Redis(port=port, protocol=protocol)
    assert int(check.get("ratelimit:shared")) == threads_n * per_thread
    assert 110 <= check.ttl("ratelimit:shared") <= 120
    check.close()
    pool.disconnect()
