"""Sorted sets the way applications use them (../shared/USERS.md): a game leaderboard (ZADD,
ZINCRBY, top N with ZREVRANGE WITHSCORES, ZREVRANK, ZSCORE, the neighbours of a player) and the
sliding-window rate limiter (ZREMRANGEBYSCORE + ZADD + ZCARD + EXPIRE in a pipeline), run
sequentially and from several threads."""
import random
import threading
import time
import uuid

import redis


def test_leaderboard_top_rank_and_neighbours(r):
    key = "leaderboard:weekly"
    rng = random.Random(7)
    players = {f"player:{i}": 0 for i in range(200)}
    r.zadd(key, {p: 0 for p in players})
    for _ in range(2000):
        p = rng.choice(list(players))
        pts = rng.randint(1, 50)
        players[p] += pts
        assert r.zincrby(key, pts, p) == float(players[p])
    assert r.zcard(key) == 200
    # Redis's order is (score, member) ascending; the leaderboard reads it reversed
    expected = sorted(players.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    top10 = r.zrevrange(key, 0, 9, withscores=True)
    assert [(m, s) for m, s in top10] == [(m, float(s)) for m, s in expected[:10]]
    for m, s in top10:
        assert isinstance(s, float)
    # rank of every player agrees with the order, and the score with our model
    for rank, (m, s) in enumerate(expected[:50]):
        assert r.zrevrank(key, m) == rank
        assert r.zscore(key, m) == float(s)
    # neighbours of a player: two above and two below
    me = expected[100][0]
    rank = r.zrevrank(key, me)
    around = r.zrevrange(key, max(rank - 2, 0), rank + 2, withscores=True)
    assert [m for m, _ in around] == [m for m, _ in expected[rank - 2:rank + 3]]
    assert around[2][0] == me
    # ascending view, score window, counts
    low = r.zrange(key, 0, 2, withscores=True)
    assert [m for m, _ in low] == [m for m, _ in expected[::-1][:3]]
    hi_score = expected[0][1]
    assert r.zcount(key, hi_score, "+inf") == sum(1 for _, v in players.items() if v >= hi_score)
    assert r.zrevrangebyscore(key, "+inf", hi_score)[0] == expected[0][0]
    # a player leaves
    assert r.zrem(key, me) == 1
    assert r.zrevrank(key, me) is None
    assert r.zscore(key, me) is None
    assert r.object("encoding", key) == "skiplist"


def test_leaderboard_concurrent_increments_exact(port, protocol):
    key = "leaderboard:live"
    threads_n, per_thread = 8, 300
    pool = redis.ConnectionPool(port=port, protocol=protocol, max_connections=threads_n + 2, decode_responses=True)
    errors = []

    def worker(t):
        client = redis.Redis(connection_pool=pool)
        try:
            for i in range(per_thread):
                client.zincrby(key, 1, f"p{i % 10}")
                client.zincrby(key, 0.5, "shared")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    client = redis.Redis(connection_pool=pool)
    assert client.zscore(key, "shared") == threads_n * per_thread * 0.5
    for i in range(10):
        assert client.zscore(key, f"p{i}") == threads_n * per_thread / 10
    assert client.zrevrank(key, "shared") == 0
    pool.disconnect()


def sliding_window_allow(client, key, limit, window_ms, now_ms):
    """The classic sliding-window limiter: drop old entries, add this request, count, refresh
    the TTL, all in one pipeline; allowed if the count (this request included) fits."""
    pipe = client.pipeline(transaction=False)
    pipe.zremrangebyscore(key, 0, now_ms - window_ms)
    pipe.zadd(key, {f"{now_ms}-{uuid.uuid4().hex[:8]}": now_ms})
    pipe.zcard(key)
    pipe.expire(key, window_ms // 1000 + 1)
    _, added, count, _ = pipe.execute()
    assert added == 1
    return count <= limit


def test_sliding_window_rate_limiter(r):
    key = "rl:user:42"
    t0 = 1_700_000_000_000
    # 10 per second: the first 10 in the window pass, the rest are refused
    decisions = [sliding_window_allow(r, key, 10, 1000, t0 + i) for i in range(15)]
    assert decisions == [True] * 10 + [False] * 5
    assert r.zcard(key) == 15
    assert 1 <= r.ttl(key) <= 2
    # 1.5 s later every old entry has slid out of the window
    assert sliding_window_allow(r, key, 10, 1000, t0 + 1500) is True
    assert r.zcard(key) == 1
    assert r.zrange(key, 0, -1, withscores=True)[0][1] == float(t0 + 1500)
    # with a transaction too (MULTI/EXEC pipelines are how many libraries do it)
    other = "rl:user:43"
    for i in range(3):
        sliding_window_allow(r, other, 2, 1000, t0 + i)
    assert r.zcount(other, t0, t0 + 1000) == 3


def test_sliding_window_expires_idle_users(r):
    key = "rl:idle"
    now = int(time.time() * 1000)
    assert sliding_window_allow(r, key, 5, 1000, now)
    r.expire(key, 1)
    from e2e_helpers import wait_until

    assert wait_until(lambda: r.exists(key) == 0, timeout=5)


def test_sliding_window_concurrent_counts(port, protocol):
    key = "rl:shared"
    threads_n, per_thread, limit = 6, 50, 100
    pool = redis.ConnectionPool(port=port, protocol=protocol, max_connections=threads_n + 2)
    allowed = []
    lock = threading.Lock()
    now = 1_800_000_000_000

    def worker(t):
        client = redis.Redis(connection_pool=pool)
        ok = 0
        for i in range(per_thread):
            if sliding_window_allow(client, key, limit, 60_000, now + t * per_thread + i):
                ok += 1
        with lock:
            allowed.append(ok)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    client = redis.Redis(connection_pool=pool)
    # every request was recorded; exactly `limit` of them saw a count within the limit
    assert client.zcard(key) == threads_n * per_thread
    assert sum(allowed) == limit
    pool.disconnect()


def pairs(reply):
    """(member, score) pairs from any of redis-py's pop reply shapes (they differ between
    RESP2 and RESP3 and between commands)."""
    flat = []
    for x in reply:
        flat += list(x) if isinstance(x, (list, tuple)) else [x]
    return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]


def test_popping_a_priority_queue(r):
    # delayed-job pattern: members scored by due time, ZPOPMIN / ZRANGEBYSCORE to take due ones
    r.zadd("jobs", {"job:c": 30, "job:a": 10, "job:b": 20, "job:d": 40})
    assert r.zrangebyscore("jobs", "-inf", 25) == ["job:a", "job:b"]
    assert pairs(r.zpopmin("jobs")) == [("job:a", 10.0)]
    assert pairs(r.zpopmin("jobs", 2)) == [("job:b", 20.0), ("job:c", 30.0)]
    key, popped = r.zmpop(1, ["jobs"], max=True)
    assert key == "jobs" and pairs(popped) == [("job:d", 40.0)]
    assert r.exists("jobs") == 0
    assert r.zpopmax("jobs") == []
    assert r.zmpop(1, ["jobs"], min=True) is None
