"""Packed counters with BITFIELD, the way applications use redis-py's builder
(`r.bitfield(key).incrby(...).get(...).execute()`) and `bitfield_ro`: per-hour page-view
counters packed as u16 fields of one key (`#hour` offsets), capped counters (OVERFLOW SAT),
quotas that refuse the increment past their limit (OVERFLOW FAIL gives None), signed
balances, and the same counters incremented from several threads and from asyncio tasks,
ending exact. Clients: redis-py 8's default (RESP3), protocol=2 and protocol=3."""
import asyncio
import random

import pytest

from e2e_helpers import client, run_threads


@pytest.fixture(params=[None, 2, 3], ids=["default", "resp2", "resp3"])
def protocol(request):
    """conftest's `protocol` (so its `r` client), with redis-py's own default (None) as well."""
    return request.param


def test_hourly_counters_packed_in_one_key(r, rb):
    key = "views:page:42:2026-12-07"
    rng = random.Random(5)
    model = [0] * 24
    for _ in range(500):
        hour = rng.randrange(24)
        n = rng.randint(1, 9)
        model[hour] += n
        assert r.bitfield(key).incrby("u16", f"#{hour}", n).execute() == [model[hour]]
    # One call, one reply per operation, in order.
    op = r.bitfield(key)
    for hour in range(24):
        op.get("u16", f"#{hour}")
    assert op.execute() == model
    assert r.bitfield_ro(key, "u16", "#0", items=[("u16", f"#{h}") for h in range(1, 24)]) == model
    assert r.strlen(key) == 48
    # The string holds the counters as big-endian u16s.
    assert rb.get(key) == b"".join(v.to_bytes(2, "big") for v in model)
    assert r.object("encoding", key) == "raw"
    # Hours never incremented read as zero; reading past the end creates nothing.
    assert r.bitfield_ro("views:none", "u16", "#5") == [0]
    assert r.exists("views:none") == 0


def test_overflow_modes_sat_and_fail(r):
    key = "limits:user:7"
    # A capped u8 score saturates; a u4 quota refuses past 15 (None), leaving the value.
    replies = (r.bitfield(key, default_overflow="SAT").incrby("u8", 0, 200).incrby("u8", 0, 200)
               .overflow("FAIL").incrby("u4", 8, 10).incrby("u4", 8, 10).get("u4", 8)
               .overflow("WRAP").incrby("u4", 12, 17).execute())
    assert replies == [200, 255, 10, None, 10, 1]
    # SET returns the old value; signed fields go negative and saturate at their minimum.
    assert r.bitfield(key).set("i8", "#2", -100).overflow("SAT").incrby("i8", "#2", -100).get("i8", "#2").execute() \
        == [0, -128, -128]
    # A whole call with an error changes nothing.
    with pytest.raises(Exception, match="Invalid bitfield type"):
        r.bitfield(key).incrby("u8", 0, 1).get("u64", 0).execute()
    assert r.bitfield_ro(key, "u8", 0) == [255]
    with pytest.raises(Exception, match="BITFIELD_RO only supports the GET subcommand"):
        r.execute_command("BITFIELD_RO", key, "INCRBY", "u8", "0", "1")
    r.rpush("alist", "x")
    with pytest.raises(Exception, match="WRONGTYPE"):
        r.bitfield("alist").incrby("u8", 0, 1).execute()


def test_quota_in_a_transaction_and_a_script(r):
    key = "quota:api:team-a"
    pipe = r.pipeline(transaction=True)
    for _ in range(20):
        pipe.bitfield(key, default_overflow="FAIL").incrby("u4", "#0", 1).execute()
    out = pipe.execute()
    assert [x[0] for x in out] == list(range(1, 16)) + [None] * 5
    script = r.register_script(
        "local v = redis.call('bitfield', KEYS[1], 'overflow', 'fail', 'incrby', 'u4', '#0', ARGV[1])[1]\n"
        "if v == false then return -1 end return v")
    assert script(keys=[key], args=[1]) == -1
    assert script(keys=["quota:api:team-b"], args=[3]) == 3
    assert r.execute_command("EVAL", "return redis.call('bitfield_ro', KEYS[1], 'get', 'u4', '#0')", 1, key) == [15]


def test_concurrent_increments_exact(port, protocol):
    key = "counters:shared"
    threads_n, per_thread, fields = 6, 200, 8

    def worker(t):
        c = client(port, protocol)
        try:
            for i in range(per_thread):
                c.bitfield(key).incrby("u32", f"#{(t + i) % fields}", 1).execute()
        finally:
            c.close()

    assert run_threads(worker, threads_n) == []
    c = client(port, protocol)
    try:
        got = c.bitfield_ro(key, "u32", "#0", items=[("u32", f"#{f}") for f in range(1, fields)])
        assert sum(got) == threads_n * per_thread
        assert got == [threads_n * per_thread // fields] * fields
    finally:
        c.close()


def test_asyncio_packed_counters(port, protocol):
    key = "counters:async"

    async def main():
        admin = client(port, protocol, asyncio=True)

        async def bump(task):
            c = client(port, protocol, asyncio=True)
            try:
                for i in range(100):
                    await c.bitfield(key).incrby("i16", f"#{i % 4}", 1 if task % 2 else -1).execute()
            finally:
                await c.aclose()

        await asyncio.gather(*(bump(t) for t in range(6)))
        got = await admin.bitfield_ro(key, "i16", "#0", items=[("i16", "#1"), ("i16", "#2"), ("i16", "#3")])
        sat = await admin.bitfield(key, default_overflow="SAT").incrby("i16", "#0", 40000).get("i16", "#0").execute()
        await admin.aclose()
        return got, sat

    got, sat = asyncio.run(main())
    assert got == [0, 0, 0, 0]
    assert sat == [32767, 32767]
