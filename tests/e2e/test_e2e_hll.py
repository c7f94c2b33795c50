"""Unique visitors with HyperLogLog through redis-py, as the seeds' applications count them:
PFADD per page view (one key per day and one per page and day), PFCOUNT of one day and of
several days at once, PFMERGE into a weekly key. The same page views go to the target and to a
real redis-server started here, and every count, encoding and the weekly key's raw bytes must
be equal (Redis's exact representation: an HLL copied between them counts the same). Sync and
asyncio clients, redis-py's default protocol (RESP3) and protocol=2.
"""
import asyncio
import random

import pytest
import redis
import redis.asyncio as aioredis

import support
from e2e_helpers import client

DAYS = [f"2026-12-{d:02d}" for d in range(1, 8)]
PAGES = ["/", "/pricing", "/docs", "/blog"]


@pytest.fixture(scope="module")
def oracle():
    srv = support.start_redis()
    yield srv
    srv.stop()


def page_views(day_index, n):
    """Deterministic (visitor, page) views of one day: a pool of returning visitors plus new
    ones, so days overlap and the weekly count is less than the sum of the days."""
    rng = random.Random(1000 + day_index)
    return [(f"user:{rng.randrange(3000) if rng.random() < 0.6 else 10000 * day_index + rng.randrange(4000)}",
             rng.choice(PAGES)) for _ in range(n)]


def commands_for(views_by_day):
    cmds = []
    for day, views in zip(DAYS, views_by_day):
        for visitor, page in views:
            cmds.append(("PFADD", f"visitors:{day}", visitor))
            cmds.append(("PFADD", f"visitors:{page}:{day}", visitor))
    return cmds


def reports():
    """The questions a dashboard asks, in order."""
    out = [("PFCOUNT", f"visitors:{d}") for d in DAYS]
    out += [("PFCOUNT", *[f"visitors:{d}" for d in DAYS[:3]]), ("PFCOUNT", f"visitors:/docs:{DAYS[0]}")]
    out += [("PFMERGE", "visitors:week", *[f"visitors:{d}" for d in DAYS]), ("PFCOUNT", "visitors:week")]
    out += [("PFMERGE", "visitors:docs:week", *[f"visitors:/docs:{d}" for d in DAYS]),
            ("PFCOUNT", "visitors:docs:week"), ("PFDEBUG", "ENCODING", "visitors:docs:week"),
            ("PFDEBUG", "ENCODING", "visitors:week"), ("PFCOUNT", "visitors:week", "visitors:docs:week")]
    return out


def run_sync(c, cmds):
    adds = []
    for i in range(0, len(cmds), 500):
        p = c.pipeline(transaction=False)
        for cmd in cmds[i:i + 500]:
            p.execute_command(*cmd)
        adds += p.execute()
    return adds, [c.execute_command(*q) for q in reports()]


def raw_bytes(port, key):
    c = redis.Redis(port=port, protocol=2)
    try:
        return c.get(key)
    finally:
        c.close()


@pytest.mark.parametrize("proto", [None, 2], ids=["default", "resp2"])
def test_unique_visitors_sync(port, oracle, proto):
    views = [page_views(i, 2500) for i in range(len(DAYS))]
    cmds = commands_for(views)
    ours = client(port, proto)
    theirs = client(oracle.port, proto)
    try:
        theirs.flushall()
        got, want = run_sync(ours, cmds), run_sync(theirs, cmds)
        assert got[0] == want[0], "PFADD replies differ"
        assert got[1] == want[1], f"reports differ: {got[1]} vs {want[1]}"
        # The estimates are close to the exact counts (standard error 0.81%).
        exact_week = len({v for day in views for v, _ in day})
        week = got[1][DAYS.__len__() + 3]
        assert abs(week - exact_week) <= 0.03 * exact_week, (week, exact_week)
        for d, day in zip(DAYS, views):
            exact = len({v for v, _ in day})
            assert abs(ours.pfcount(f"visitors:{d}") - exact) <= 0.03 * exact
        assert raw_bytes(port, "visitors:week") == raw_bytes(oracle.port, "visitors:week")
        assert raw_bytes(port, "visitors:docs:week") == raw_bytes(oracle.port, "visitors:docs:week")
        # The weekly report copied from real Redis (GET/SET) counts the same here.
        ours.set("copied", raw_bytes(oracle.port, "visitors:docs:week"))
        assert ours.pfcount("copied") == theirs.pfcount("visitors:docs:week")
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("proto", [None, 2], ids=["default", "resp2"])
def test_unique_visitors_asyncio(port, oracle, proto):
    views = [page_views(50 + i, 400) for i in range(len(DAYS))]
    # Each day's commands touch only that day's keys: tasks run concurrently, days apart.
    per_day = [[c for c in commands_for(views) if c[1].endswith(d)] for d in DAYS]

    async def run(p):
        c = client(p, proto, asyncio=True)
        try:
            # Concurrent page views, one task per day (the order inside a day is kept).
            async def day(i):
                n = 0
                for cmd in per_day[i]:
                    n += await c.execute_command(*cmd)
                return n
            added = await asyncio.gather(*(day(i) for i in range(len(DAYS))))
            out = [await c.execute_command(*q) for q in reports()]
            async with c.pipeline(transaction=True) as tx:
                tx.pfadd("visitors:today", "a", "b", "c")
                tx.pfcount("visitors:today")
                tx.pfmerge("visitors:week", "visitors:today")
                tx.pfcount("visitors:week")
                out += await tx.execute()
            return added, out
        finally:
            await c.aclose()

    async def main():
        theirs = aioredis.Redis(port=oracle.port)
        await theirs.flushall()
        await theirs.aclose()
        return await run(port), await run(oracle.port)

    got, want = asyncio.run(main())
    assert got[1] == want[1], f"reports differ: {got[1]} vs {want[1]}"
    assert got[0] == want[0]
    assert raw_bytes(port, "visitors:week") == raw_bytes(oracle.port, "visitors:week")
