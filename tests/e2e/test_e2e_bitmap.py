"""Daily active users with bitmaps, as the seeds count them (../shared/USERS.md): one bitmap per
day, SETBIT at the user's id when the user shows up, BITCOUNT for the day's actives, BITOP AND
across the week for the users active every day and OR for those active on any day, GETBIT to
ask about one user, BITPOS for the lowest active id. Every figure is computed in Python from the
same random activity and compared exactly. Sync (pipelined and not) and asyncio, with redis-py's
defaults (RESP3) and protocol=2 and 3 given explicitly.
"""
import asyncio
import random

import pytest

from e2e_helpers import client

DAYS = [f"2026-12-0{d}" for d in range(1, 8)]
USERS = 20_000  # ids up to 20k: bitmaps of 2.5 kB, many 64-byte words


@pytest.fixture(params=[None, 2, 3], ids=["default", "resp2", "resp3"])
def protocol(request):
    """conftest's `protocol` (so its `r` client) with redis-py's own default (None) as well."""
    return request.param


def activity(seed):
    """{day: set of user ids active that day}: a core of daily users plus random visitors."""
    rng = random.Random(seed)
    core = set(rng.sample(range(USERS), 300))
    return {day: core | set(rng.sample(range(USERS), rng.randint(500, 3000))) for day in DAYS}


def key(day):
    return f"dau:{day}"


def expected(active):
    every = set.intersection(*active.values())
    anyday = set.union(*active.values())
    return every, anyday


def check_reports(r, active):
    every, anyday = expected(active)
    for day in DAYS:
        assert r.bitcount(key(day)) == len(active[day])
        assert r.bitpos(key(day), 1) == min(active[day])
        # the first 1000 ids (125 bytes) and the first 8000 bits
        assert r.bitcount(key(day), 0, 124) == sum(1 for u in active[day] if u < 1000)
        assert r.bitcount(key(day), 0, 7999, "BIT") == sum(1 for u in active[day] if u < 8000)
    assert r.bitop("AND", "dau:week:every", *map(key, DAYS)) == (max(max(a) for a in active.values()) // 8) + 1
    assert r.bitcount("dau:week:every") == len(every)
    assert r.bitop("OR", "dau:week:any", *map(key, DAYS)) == (max(anyday) // 8) + 1
    assert r.bitcount("dau:week:any") == len(anyday)
    # users active on the first day but not the last: first AND (NOT last)
    r.bitop("NOT", "dau:tmp:not-last", key(DAYS[-1]))
    r.bitop("AND", "dau:tmp:churned", key(DAYS[0]), "dau:tmp:not-last")
    churned = active[DAYS[0]] - active[DAYS[-1]]
    assert r.bitcount("dau:tmp:churned") == len(churned)
    assert r.bitpos("dau:tmp:churned", 1) == min(churned)
    rng = random.Random(1)
    for u in rng.sample(range(USERS), 200) + sorted(every)[:20]:
        assert r.getbit("dau:week:every", u) == (u in every)
        assert r.getbit("dau:week:any", u) == (u in anyday)
    # no one ever: the lowest id never seen
    assert r.bitpos("dau:week:any", 0) == min(set(range(USERS + 1)) - anyday)


def test_daily_active_users(r):
    active = activity(7)
    for day in DAYS:
        for u in sorted(active[day]):
            assert r.setbit(key(day), u, 1) == 0
        # a user seen twice the same day: already set
        u = next(iter(active[day]))
        assert r.setbit(key(day), u, 1) == 1
    check_reports(r, active)
    assert r.type(key(DAYS[0])) == "string"
    assert r.strlen(key(DAYS[0])) == max(active[DAYS[0]]) // 8 + 1
    # a day with no activity at all: the AND is empty, and so is the report of no day
    assert r.bitop("AND", "dau:none", key(DAYS[0]), "dau:2026-12-31") == r.strlen(key(DAYS[0]))
    assert r.bitcount("dau:none") == 0
    assert r.bitpos("dau:none", 1) == -1
    assert r.bitop("OR", "dau:none", "dau:2026-12-31") == 0
    assert r.exists("dau:none") == 0


def test_daily_active_users_pipelined(r):
    active = activity(11)
    with r.pipeline(transaction=False) as p:
        for day in DAYS:
            for u in active[day]:
                p.setbit(key(day), u, 1)
        replies = p.execute()
    assert replies.count(1) == 0 and len(replies) == sum(len(a) for a in active.values())
    check_reports(r, active)
    # a MULTI of the report
    every, anyday = expected(active)
    with r.pipeline(transaction=True) as p:
        p.bitop("AND", "dau:week:every", *map(key, DAYS))
        p.bitcount("dau:week:every")
        p.bitop("OR", "dau:week:any", *map(key, DAYS))
        p.bitcount("dau:week:any")
        got = p.execute()
    assert got[1::2] == [len(every), len(anyday)]


def test_daily_active_users_asyncio(port, protocol):
    active = activity(13)
    every, anyday = expected(active)

    async def main():
        c = client(port, protocol, asyncio=True)
        try:
            # one task per day, all at once
            async def record(day):
                for u in active[day]:
                    await c.setbit(key(day), u, 1)

            await asyncio.gather(*(record(day) for day in DAYS))
            counts = await asyncio.gather(*(c.bitcount(key(day)) for day in DAYS))
            await c.bitop("AND", "dau:week:every", *map(key, DAYS))
            await c.bitop("OR", "dau:week:any", *map(key, DAYS))
            return (counts, await c.bitcount("dau:week:every"), await c.bitcount("dau:week:any"),
                    await c.getbit("dau:week:every", min(every)), await c.bitpos("dau:week:every", 1))
        finally:
            await c.aclose()

    counts, n_every, n_any, bit, first = asyncio.run(main())
    assert counts == [len(active[day]) for day in DAYS]
    assert (n_every, n_any, bit, first) == (len(every), len(anyday), 1, min(every))


def test_feature_flags_and_errors(r):
    """A feature flag per user (the seeds' other bitmap use), and the errors an application
    sees through redis-py."""
    import redis

    assert r.setbit("flags:beta", 5, 1) == 0
    assert r.getbit("flags:beta", 5) == 1
    assert r.getbit("flags:beta", 6) == 0
    assert r.getbit("flags:beta", 10**6) == 0
    assert r.get("flags:beta") == "\x04"
    with pytest.raises(redis.ResponseError, match="bit offset is not an integer or out of range"):
        r.setbit("flags:beta", -1, 1)
    with pytest.raises(redis.ResponseError, match="bit is not an integer or out of range"):
        r.execute_command("SETBIT", "flags:beta", 1, 2)  # redis-py's setbit() sends any truthy value as 1
    with pytest.raises(redis.ResponseError, match="BITOP NOT must be called with a single source key"):
        r.bitop("NOT", "x", "flags:beta", "flags:beta")
    r.hset("flags:hash", "f", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.bitcount("flags:hash")
