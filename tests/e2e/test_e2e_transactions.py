"""Transactions through redis-py: the optimistic money transfer of ../shared/USERS.md
(WATCH GET MULTI DECRBY INCRBY EXEC, retried on WatchError) run by 6 threads, atomicity of
MULTI/EXEC against concurrent readers, transactional pipelines, and asyncio."""
import asyncio
import threading

import pytest
import redis
import redis.asyncio as aioredis

ACCOUNTS = [f"account:{i}" for i in range(8)]
START = 1000


def transfer(client, src, dst, amount):
    """The USERS.md pattern, verbatim in spirit: watch both, check, queue, execute, retry."""
    retries = 0
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(src, dst)
                balance = int(pipe.get(src) or 0)
                if balance < amount:
                    pipe.unwatch()
                    return False, retries
                pipe.multi()
                pipe.decrby(src, amount)
                pipe.incrby(dst, amount)
                pipe.execute()
                return True, retries
            except redis.WatchError:
                retries += 1
                continue


def test_money_transfer_six_threads_conserves_total(port, protocol):
    setup = redis.Redis(port=port, protocol=protocol)
    setup.mset({a: START for a in ACCOUNTS})
    done = []
    retries = []
    errors = []

    def worker(seed):
        import random

        rnd = random.Random(seed)
        client = redis.Redis(port=port, protocol=protocol, socket_timeout=30)
        ok = 0
        tries = 0
        try:
            for _ in range(300):
                src, dst = rnd.sample(ACCOUNTS, 2)
                moved, r = transfer(client, src, dst, rnd.randint(1, 150))
                ok += moved
                tries += r
        except Exception as e:  # surfaced below
            errors.append(e)
        finally:
            client.close()
        done.append(ok)
        retries.append(tries)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(done) == 6
    balances = [int(v) for v in setup.mget(ACCOUNTS)]
    assert sum(balances) == START * len(ACCOUNTS)
    assert all(b >= 0 for b in balances), balances
    assert sum(done) > 0
    setup.close()


def test_exec_is_atomic_for_readers(port):
    """A writer moves 1 between two keys in MULTI/EXEC; readers (MGET, and MULTI GET GET)
    must never see a state between the two commands."""
    w = redis.Redis(port=port)
    w.mset({"left": 0, "right": 0})
    stop = threading.Event()
    torn = []

    def writer():
        c = redis.Redis(port=port)
        while not stop.is_set():
            p = c.pipeline(transaction=True)
            p.incr("left")
            p.decr("right")
            p.execute()
        c.close()

    def reader(use_multi):
        c = redis.Redis(port=port)
        while not stop.is_set():
            if use_multi:
                p = c.pipeline(transaction=True)
                p.get("left")
                p.get("right")
                a, b = p.execute()
            else:
                a, b = c.mget("left", "right")
            if int(a) + int(b) != 0:
                torn.append((a, b))
        c.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    threads += [threading.Thread(target=reader, args=(m,)) for m in (True, False, True)]
    for t in threads:
        t.start()
    stop.wait(3)
    stop.set()
    for t in threads:
        t.join(30)
    assert not torn, torn[:5]
    assert int(w.get("left")) + int(w.get("right")) == 0
    assert int(w.get("left")) > 0
    w.close()


def test_transactional_pipeline_results_and_errors(r):
    p = r.pipeline(transaction=True)
    p.set("k", "v").incr("n").incr("n").get("k").lpush("k", "x").get("n")
    res = p.execute(raise_on_error=False)
    assert res[:4] == [True, 1, 2, "v"]
    assert isinstance(res[4], redis.ResponseError) and str(res[4]).startswith("WRONGTYPE")
    assert res[5] == "2"
    # a queue-time error aborts the whole transaction
    p = r.pipeline(transaction=True)
    p.set("k2", "v").execute_command("NOSUCHCMD")
    with pytest.raises(redis.ResponseError):
        p.execute()
    assert r.get("k2") is None


def test_watch_aborts_when_another_client_writes(port, protocol):
    a = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    b = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    a.set("stock", 5)
    with a.pipeline() as pipe:
        pipe.watch("stock")
        left = int(pipe.get("stock"))
        b.decr("stock")  # someone else buys first
        pipe.multi()
        pipe.set("stock", left - 1)
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert a.get("stock") == "4"
    # redis-py's transaction() helper retries until it goes through
    def buy(pipe):
        n = int(pipe.get("stock"))
        pipe.multi()
        pipe.set("stock", n - 1)

    a.transaction(buy, "stock")
    assert a.get("stock") == "3"
    a.close()
    b.close()


def test_watched_key_expiring_aborts(r):
    r.set("lease", "x", px=100)
    with r.pipeline() as pipe:
        pipe.watch("lease")
        import time

        time.sleep(0.25)
        pipe.multi()
        pipe.set("lease", "y")
        with pytest.raises(redis.WatchError):
            pipe.execute()


def test_client_list_shows_transaction_state(port):
    a = redis.Redis(port=port, decode_responses=True)
    b = redis.Redis(port=port, decode_responses=True)
    a.client_setname("txn")

    def me():
        return [c for c in b.client_list() if c["name"] == "txn"][0]

    a.execute_command("MULTI")
    a.execute_command("SET", "x", 1)
    a.execute_command("SET", "y", 1)
    assert (me()["multi"], me()["flags"]) == ("2", "x")
    assert a.execute_command("EXEC") == ["OK", "OK"]
    assert (me()["multi"], me()["flags"]) == ("-1", "N")
    # a watched key modified: flagged 'd', and the doomed transaction queues nothing
    a.execute_command("WATCH", "w")
    b.set("w", 1)
    assert me()["flags"] == "d"
    a.execute_command("MULTI")
    a.execute_command("SET", "x", 2)  # QUEUED (redis-py maps it to False for SET)
    assert (me()["multi"], me()["flags"]) == ("0", "xd")
    assert a.execute_command("EXEC") is None
    assert (me()["multi"], me()["flags"]) == ("-1", "N")
    assert a.get("x") == "1"
    a.close()
    b.close()


def test_blocking_command_in_transaction_does_not_block(r):
    p = r.pipeline(transaction=True)
    p.blpop(["nothing"], timeout=0)
    p.lpush("q", "job")
    p.brpop(["q"], timeout=0)
    assert p.execute() == [None, 1, ["q", "job"] if r.get_connection_kwargs().get("protocol") == 3 else ("q", "job")]


def test_asyncio_transfer(port, protocol):
    async def main():
        c = aioredis.Redis(port=port, protocol=protocol)
        await c.mset({"a": 100, "b": 0})

        async def move(n):
            for _ in range(n):
                async with c.pipeline() as pipe:
                    while True:
                        try:
                            await pipe.watch("a", "b")
                            a = int(await pipe.get("a"))
                            pipe.multi()
                            pipe.set("a", a - 1)
                            pipe.incr("b")
                            await pipe.execute()
                            break
                        except redis.WatchError:
                            continue

        await asyncio.gather(*(move(10) for _ in range(5)))
        assert int(await c.get("a")) == 50
        assert int(await c.get("b")) == 50
        await c.aclose()

    asyncio.run(main())
