"""Copying keys between servers with DUMP and RESTORE through redis-py, as migration scripts
and tools do (SCAN, then DUMP + PTTL of each key, RESTORE ... REPLACE on the other side): an
application's data (sessions, leaderboards, queues, tags, counters, unique visitors, an event
stream) goes from the target to a real redis-server started here and back, and every key
reads the same on both sides afterwards, with its TTL and its encoding. Pipelined copies,
RESTORE's errors as redis-py raises them, IDLETIME, the asyncio client; RESP3 (redis-py's
default) and protocol=2.
"""
import asyncio

import pytest
import redis
import redis.asyncio as aioredis

import support
from e2e_helpers import client


@pytest.fixture(scope="module")
def oracle():
    srv = support.start_redis()
    yield srv
    srv.stop()


@pytest.fixture
def other(oracle, protocol):
    c = redis.Redis(port=oracle.port, protocol=protocol, socket_timeout=30)
    c.flushall()
    yield c
    c.close()


def populate(r):
    """An application's keys, in every encoding a small and a large value take."""
    for i in range(40):
        r.hset(f"session:{i}", mapping={"user": f"u{i}", "cart": i * 3, "theme": "dark"})
        r.expire(f"session:{i}", 3600 + i)
    r.hset("profile:big", mapping={f"field:{i}": "v" * (i % 90) for i in range(300)})
    r.zadd("leaderboard", {f"player:{i}": i * 1.5 for i in range(500)})
    r.zadd("top3", {"ann": 3.25, "bob": -1, "cy": 1e20})
    r.rpush("queue:jobs", *[f"job:{i}:" + "x" * (i % 50) for i in range(3000)])
    r.rpush("queue:small", "a", "1", "-2", "70000")
    r.sadd("tags:ints", *range(100))
    r.sadd("tags:words", "red", "green", "blue")
    r.sadd("tags:many", *[f"t{i}" for i in range(1000)])
    r.set("counter", 41)
    r.incr("counter")
    r.set("greeting", "hello " * 20, ex=7200)
    r.pfadd("visitors", *[f"user:{i}" for i in range(2000)])
    for i in range(300):
        r.xadd("events", {"kind": "click", "n": i}, id=f"{1700000000000 + i}-0")
    r.xgroup_create("events", "workers", id="0")


def copy_all(src, dst):
    """SCAN + DUMP + PTTL, then RESTORE REPLACE: each key's value and TTL."""
    n = 0
    for key in src.scan_iter(count=100):
        payload, ttl = src.dump(key), src.pttl(key)
        assert dst.restore(key, max(ttl, 0), payload, replace=True)
        n += 1
    return n


def contents(c, key):
    t = c.type(key)
    t = t.decode() if isinstance(t, bytes) else t
    if t == "string":
        return c.get(key)
    if t == "list":
        return c.lrange(key, 0, -1)
    if t == "hash":
        return sorted(c.hgetall(key).items())
    if t == "set":
        return sorted(c.smembers(key))
    if t == "zset":
        return c.zrange(key, 0, -1, withscores=True)
    if t == "stream":
        return c.xrange(key), [g["name"] for g in c.xinfo_groups(key)]
    raise AssertionError(f"unexpected type {t!r} of {key!r}")


def assert_same(a, b):
    keys = sorted(a.scan_iter(count=100))
    assert keys == sorted(b.scan_iter(count=100))
    assert len(keys) == 52
    for key in keys:
        assert contents(a, key) == contents(b, key), key
        assert a.object("encoding", key) == b.object("encoding", key), key
        ta, tb = a.pttl(key), b.pttl(key)
        assert (ta < 0) == (tb < 0) and abs(ta - tb) < 5000, (key, ta, tb)


def test_copy_keyspace_both_ways(port, protocol, other):
    r = redis.Redis(port=port, protocol=protocol, socket_timeout=30)
    populate(r)
    assert copy_all(r, other) == 52
    assert_same(r, other)
    # and back: from Redis's payloads into an empty target
    r.flushall()
    assert copy_all(other, r) == 52
    assert_same(other, r)
    # a PFCOUNT of the copied HyperLogLog counts the same
    assert r.pfcount("visitors") == other.pfcount("visitors")
    r.close()


def test_pipelined_copy(r, oracle, protocol):
    populate(r)
    keys = sorted(r.scan_iter(count=100))
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.dump(k)
    payloads = pipe.execute()
    dst = client(oracle.port, protocol)
    dst.flushall()
    pipe = dst.pipeline(transaction=True)
    for k, p in zip(keys, payloads):
        pipe.restore(k, 0, p)
    assert pipe.execute() == ["OK"] * len(keys)
    assert dst.zrange("leaderboard", 0, 2, withscores=True) == r.zrange("leaderboard", 0, 2, withscores=True)
    assert dst.llen("queue:jobs") == 3000
    dst.close()


def test_restore_errors_and_options(r):
    rb = redis.Redis(port=r.connection_pool.connection_kwargs["port"], socket_timeout=30)
    r.set("k", "v")
    payload = rb.dump("k")
    with pytest.raises(redis.ResponseError, match="^BUSYKEY Target key name already exists"):
        rb.restore("k", 0, payload)
    with pytest.raises(redis.ResponseError, match="^DUMP payload version or checksum are wrong"):
        rb.restore("k2", 0, payload[:-1] + bytes([payload[-1] ^ 1]))
    with pytest.raises(redis.ResponseError, match="^Invalid TTL value, must be >= 0"):
        rb.restore("k2", -5, payload)
    assert rb.restore("k", 0, payload, replace=True, idletime=500)
    assert 499 <= r.object("idletime", "k") <= 502
    assert rb.restore("k3", 0, payload, absttl=True)
    assert r.ttl("k3") == -1
    assert rb.dump("missing") is None
    rb.close()


def test_asyncio_copy(port, oracle, protocol):
    async def run():
        src = aioredis.Redis(port=port, protocol=protocol, socket_timeout=30)
        dst = aioredis.Redis(port=oracle.port, protocol=protocol, socket_timeout=30)
        await dst.flushall()
        await src.rpush("q", *[str(i) for i in range(1000)])
        await src.hset("h", mapping={"a": "1", "b": "2"})
        for key in (b"q", b"h"):
            await dst.restore(key, 0, await src.dump(key))
        got = (await dst.lrange("q", 0, -1), await dst.hgetall("h"))
        back = await src.dump("h") == await dst.dump("h")
        await src.aclose()
        await dst.aclose()
        return got, back

    (items, h), same_bytes = asyncio.run(run())
    assert items == [str(i).encode() for i in range(1000)]
    assert h == {b"a": b"1", b"b": b"2"}
    assert same_bytes
