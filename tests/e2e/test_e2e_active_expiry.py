"""Active expiry: keys with a TTL leave the keyspace even if nobody touches them again."""
import time

import redis

from e2e_helpers import wait_until


def test_100k_keys_with_1s_ttl_are_actively_expired(own_server):
    r = redis.Redis(port=own_server.port, protocol=2, socket_timeout=30)  # protocol-independent
    n, batch = 100_000, 10_000
    r.set("keeper", "stays")
    started = time.monotonic()
    for start in range(0, n, batch):
        pipe = r.pipeline(transaction=False)
        for i in range(start, start + batch):
            pipe.set(f"tmp:{i}", "x" * 16, ex=1)
        assert pipe.execute() == [True] * batch
    loaded_at = time.monotonic()
    if loaded_at - started < 0.8:  # nothing can have expired yet
        assert r.dbsize() == n + 1
        assert r.info("keyspace")["db0"]["expires"] == n
    else:
        assert 1 < r.dbsize() <= n + 1
    # only DBSIZE (which never expires keys itself) is sent from here on
    emptied = wait_until(lambda: r.dbsize() == 1, timeout=10, interval=0.25)
    remaining = r.dbsize()
    assert emptied, f"{remaining - 1} of {n} expired keys still present {time.monotonic() - loaded_at:.1f}s after loading"
    assert r.get("keeper") == b"stays"
    ks = r.info("keyspace")["db0"]
    assert ks["keys"] == 1 and ks["expires"] == 0
    stats = r.info("stats")
    assert stats["expired_keys"] >= n
    r.close()


def test_active_expiry_in_several_dbs(port, protocol):
    clients = [redis.Redis(port=port, protocol=protocol, db=n) for n in (0, 4, 9)]
    for c in clients:
        pipe = c.pipeline(transaction=False)
        for i in range(2000):
            pipe.psetex(f"t:{i}", 300, "v")
        pipe.execute()
        c.set("keep", 1)
    assert wait_until(lambda: all(c.dbsize() == 1 for c in clients), timeout=10, interval=0.2)
    for c in clients:
        c.close()
