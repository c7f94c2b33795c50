"""Many concurrent connections: exact totals under contention, with threads and with asyncio."""
import asyncio
import threading

import redis
import redis.asyncio as aioredis

from e2e_helpers import run_threads


def test_50_threads_x_200_incr_exact(port, protocol):
    threads_n, per_thread = 50, 200
    pool = redis.BlockingConnectionPool(port=port, protocol=protocol, max_connections=threads_n, timeout=30)
    barrier = threading.Barrier(threads_n)

    def worker(i):
        client = redis.Redis(connection_pool=pool)
        barrier.wait(timeout=20)
        for _ in range(per_thread):
            client.incr("hits")
            client.incrby(f"per-thread:{i}", 1)

    assert run_threads(worker, threads_n, timeout=90) == []
    check = redis.Redis(port=port, protocol=protocol)
    assert int(check.get("hits")) == threads_n * per_thread
    assert [int(v) for v in check.mget([f"per-thread:{i}" for i in range(threads_n)])] == [per_thread] * threads_n
    check.close()
    pool.disconnect()


def test_many_connections_at_once(port, protocol):
    n = 200
    clients = [redis.Redis(port=port, protocol=protocol, decode_responses=True, single_connection_client=True) for _ in range(n)]
    try:
        for i, c in enumerate(clients):
            c.client_setname(f"conn-{i}")
            c.set(f"conn:{i}", i)
        names = {entry["name"] for entry in clients[0].client_list()}
        assert {f"conn-{i}" for i in range(n)} <= names
        assert clients[0].info("clients")["connected_clients"] >= n
        # every connection still answers, in reverse order of opening
        for i in reversed(range(n)):
            assert clients[i].get(f"conn:{i}") == str(i)
            assert clients[i].incr("total") <= n
        assert clients[0].get("total") == str(n)
    finally:
        for c in clients:
            c.close()


def test_incrbyfloat_and_decr_concurrent(port, protocol):
    threads_n, per_thread = 8, 250

    def worker(_):
        client = redis.Redis(port=port, protocol=protocol, single_connection_client=True)
        try:
            for _ in range(per_thread):
                client.incrbyfloat("f", 0.5)
                client.decr("d")
        finally:
            client.close()

    assert run_threads(worker, threads_n, timeout=60) == []
    check = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    assert float(check.get("f")) == threads_n * per_thread * 0.5
    assert check.get("d") == str(-threads_n * per_thread)
    check.close()


def test_asyncio_50_tasks_x_200_incr_exact(port, protocol):
    tasks_n, per_task = 50, 200

    async def main():
        client = aioredis.Redis(port=port, protocol=protocol, max_connections=tasks_n)
        try:
            async def worker(i):
                for _ in range(per_task):
                    await client.incr("ahits")
                await client.set(f"done:{i}", 1, ex=60)

            await asyncio.gather(*(worker(i) for i in range(tasks_n)))
            total = int(await client.get("ahits"))
            done = await client.keys("done:*")
            clients = await client.client_list()
            return total, len(done), len(clients)
        finally:
            await client.aclose()

    total, done, connections = asyncio.run(main())
    assert total == tasks_n * per_task
    assert done == tasks_n
    assert connections >= 2  # the pool really opened several connections


def test_asyncio_cache_aside_and_pipeline(port, protocol):
    async def main():
        r = aioredis.from_url(f"redis://127.0.0.1:{port}/0?protocol={protocol}", decode_responses=True)
        try:
            assert await r.ping() is True
            assert await r.get("user:1") is None
            await r.setex("user:1", 60, '{"id": 1}')
            assert await r.get("user:1") == '{"id": 1}'
            assert 55 <= await r.ttl("user:1") <= 60
            async with r.pipeline(transaction=False) as pipe:
                for i in range(5000):
                    pipe.set(f"a:{i}", i)
                    pipe.incr("acount")
                replies = await pipe.execute()
            assert replies[0::2] == [True] * 5000
            assert replies[1::2] == list(range(1, 5001))
            keys = [k async for k in r.scan_iter(match="a:*", count=500)]
            assert len(set(keys)) == 5000
            assert await r.dbsize() == 5002
        finally:
            await r.aclose()

    asyncio.run(main())


MOVE_ONE = "local v = redis.call('LPOP', KEYS[1]) if v then redis.call('RPUSH', KEYS[2], v) end return v"


def test_hot_key_pipelines_with_scripts_transactions_and_blocking_pops(port, protocol):
    """One hot list under every kind of access at once: pipelined RPUSH batches (which keep
    their hold on the key's shard between commands), pipelined LPOP batches, scripts and
    MULTI/EXEC moving elements, and BLPOP consumers. Everything finishes (no deadlock) and
    every element ends up in exactly one place."""
    producers, batches, per_batch = 4, 100, 50
    done = threading.Event()
    pool = redis.BlockingConnectionPool(port=port, protocol=protocol, max_connections=16, timeout=30)

    def producer(i):
        # Each batch also runs a script and a BLPOP on the key right after pushes to it, so
        # the kept hold must be let go before them.
        c = redis.Redis(connection_pool=pool)
        for b in range(batches):
            pipe = c.pipeline(transaction=False)
            for j in range(per_batch):
                pipe.rpush("q", f"p{i}:{b}:{j}")
                if j % 10 == 0:
                    pipe.incr("pushed")   # another shard in the middle of the batch
                if j == per_batch // 2:
                    pipe.eval(MOVE_ONE, 2, "q", "by-script")
            pipe.blpop("q", timeout=0.05)
            got = pipe.execute()[-1]
            if got:
                c.rpush("by-blpop", got[1])

    def drain(kind):
        c = redis.Redis(connection_pool=pool)
        while True:
            finished = done.is_set()
            if kind == "script":
                moved = c.eval(MOVE_ONE, 2, "q", "by-script")
            elif kind == "multi":
                pipe = c.pipeline(transaction=True)
                pipe.lmove("q", "by-multi", "LEFT", "RIGHT")
                moved = pipe.execute()[0]
            elif kind == "blpop":
                got = c.blpop("q", timeout=0.1)
                moved = got[1] if got else None
                if moved is not None:
                    c.rpush("by-blpop", moved)
            else:
                pipe = c.pipeline(transaction=False)
                for _ in range(8):
                    pipe.lpop("q", 5)
                moved = [m for batch in pipe.execute() if batch for m in batch]
                if moved:
                    c.rpush("by-lpop", *moved)
            if finished and not moved:
                return

    kinds = ["script", "script", "multi", "multi", "blpop", "blpop", "lpop", "lpop"]
    drain_errors = []
    drainers = threading.Thread(
        target=lambda: drain_errors.extend(run_threads(lambda i: drain(kinds[i]), len(kinds), timeout=120)))
    drainers.start()
    errors = run_threads(producer, producers, timeout=120)
    done.set()
    drainers.join(timeout=150)
    assert not drainers.is_alive(), "a consumer is stuck"
    assert errors == [] and drain_errors == [], (errors, drain_errors)
    check = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    assert int(check.get("pushed")) == producers * batches * (per_batch // 10)
    seen = []
    for key in ("q", "by-script", "by-multi", "by-blpop", "by-lpop"):
        seen += check.lrange(key, 0, -1)
    want = [f"p{i}:{b}:{j}" for i in range(producers) for b in range(batches) for j in range(per_batch)]
    assert sorted(seen) == sorted(want)
    for key in ("by-script", "by-multi", "by-blpop", "by-lpop"):
        assert check.llen(key) > 0, f"{key} moved nothing"
    check.close()
    pool.disconnect()
