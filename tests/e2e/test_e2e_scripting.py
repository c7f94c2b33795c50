"""Lua scripting through redis-py, as ../shared/USERS.md uses it: the fixed-window rate
limiter as a registered script (EVALSHA with EVAL fallback after SCRIPT FLUSH), the lock
released by a compare-and-delete script, redis-py's Lock, functions, and scripts being
atomic against concurrent writers."""
import threading
import time
import uuid

import pytest
import redis

RATE_LIMIT_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local current = redis.call('INCR', key)
if current == 1 then
    redis.call('EXPIRE', key, window)
end
if current > limit then
    return 0
else
    return 1
end
"""

RELEASE_SCRIPT = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
else
    return 0
end
"""


def test_register_script_survives_script_flush(r):
    rate_limit = r.register_script(RATE_LIMIT_SCRIPT)
    key = f"ratelimit:u1:{int(time.time() // 60)}"
    results = [rate_limit(keys=[key], args=[3, 60]) for _ in range(5)]
    assert results == [1, 1, 1, 0, 0]
    assert 0 < r.ttl(key) <= 60
    # the cache is flushed (restart, failover...): redis-py gets NOSCRIPT and falls back to EVAL
    r.script_flush()
    assert r.script_exists(rate_limit.sha) == [False]
    key2 = key + ":b"
    assert rate_limit(keys=[key2], args=[1, 60]) == 1
    assert r.script_exists(rate_limit.sha) == [True]
    assert rate_limit(keys=[key2], args=[1, 60]) == 0


def test_lua_lock_release_only_by_owner(r):
    token = str(uuid.uuid4())
    assert r.set("lock:res", token, nx=True, ex=10)
    assert not r.set("lock:res", "other", nx=True, ex=10)
    release = r.register_script(RELEASE_SCRIPT)
    assert release(keys=["lock:res"], args=["not-the-owner"]) == 0
    assert r.get("lock:res") == token
    assert release(keys=["lock:res"], args=[token]) == 1
    assert r.get("lock:res") is None
    # the same through EVAL, as the USERS.md RedisLock class does it
    r.set("lock:res", token, nx=True, ex=10)
    assert r.eval(RELEASE_SCRIPT, 1, "lock:res", token) == 1


def test_redis_py_lock(port, protocol):
    c = redis.Redis(port=port, protocol=protocol)
    counter = {"n": 0}

    def worker():
        client = redis.Redis(port=port, protocol=protocol)
        for _ in range(20):
            with client.lock("resource", timeout=5, blocking_timeout=10):
                v = counter["n"]
                time.sleep(0.0005)
                counter["n"] = v + 1
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert counter["n"] == 80
    lock = c.lock("resource", timeout=1)
    assert lock.acquire(blocking=False)
    assert lock.extend(2)
    assert lock.locked()
    lock.release()
    assert not lock.locked()
    with pytest.raises(redis.exceptions.LockError):
        lock.release()
    c.close()


def test_scripts_are_atomic_against_writers(port):
    """A script reads two keys and writes their sum while other clients move value between
    them: the sum it sees is always the invariant."""
    c = redis.Redis(port=port)
    c.mset({"a": 500, "b": 500})
    check = c.register_script(
        "local a = tonumber(redis.call('get', KEYS[1])); local b = tonumber(redis.call('get', KEYS[2]));"
        "redis.call('rpush', KEYS[3], a + b); return a + b"
    )
    stop = threading.Event()

    def mover():
        m = redis.Redis(port=port)
        while not stop.is_set():
            p = m.pipeline(transaction=True)
            p.decr("a").incr("b")
            p.execute()
            p = m.pipeline(transaction=True)
            p.incr("a").decr("b")
            p.execute()
        m.close()

    threads = [threading.Thread(target=mover) for _ in range(3)]
    for t in threads:
        t.start()
    sums = [check(keys=["a", "b", "sums"]) for _ in range(300)]
    stop.set()
    for t in threads:
        t.join(30)
    assert set(sums) == {1000}
    assert c.llen("sums") == 300
    c.close()


def test_functions_and_fcall(r):
    code = """#!lua name=counters
local function incr_by(keys, args)
  return redis.call('INCRBY', keys[1], args[1])
end
local function peek(keys)
  return redis.call('GET', keys[1])
end
redis.register_function('incr_by', incr_by)
redis.register_function{function_name='peek', callback=peek, flags={'no-writes'}}
"""
    assert r.function_load(code) == "counters"
    assert r.fcall("incr_by", 1, "hits", 5) == 5
    assert r.fcall("incr_by", 1, "hits", 2) == 7
    assert r.fcall_ro("peek", 1, "hits") == "7"
    with pytest.raises(redis.ResponseError, match="write flag"):
        r.fcall_ro("incr_by", 1, "hits", 1)
    libs = r.function_list()
    assert len(libs) == 1
    with pytest.raises(redis.ResponseError, match="already exists"):
        r.function_load(code)
    assert r.function_load(code, replace=True) == "counters"
    assert r.function_delete("counters")
    with pytest.raises(redis.ResponseError, match="Function not found"):
        r.fcall("incr_by", 1, "hits", 1)


def test_script_errors_reach_the_client(r):
    r.set("s", "text")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.eval("return redis.call('incr', KEYS[1])", 1, "s")
    with pytest.raises(redis.ResponseError, match="nonexistent global"):
        r.eval("return undefined_thing", 0)
    assert r.eval("return redis.pcall('incr', KEYS[1])['err']", 1, "s").startswith("ERR value")
    # the server is fine afterwards
    assert r.ping()


def test_hostile_scripts_do_not_take_the_server_down(r):
    """Unbounded recursion, C-stack recursion, deeply nested JSON and msgpack: each script
    fails with an error, and the server keeps serving. (Runaway allocation is bounded by a
    1 GiB limit on the Lua state in cinnabar; Redis has none, so it is not compared here.)"""
    hostile = [
        "local function f(n) return f(n + 1) + 1 end return f(1)",
        "local function f(n) return string.gsub('x', 'x', function() return f(n + 1) end) end return f(1)",
        "return cjson.encode(cjson.decode(string.rep('[', 100000)))",
        "return cmsgpack.unpack(string.rep('\\x91', 100000))",
    ]
    for body in hostile:
        with pytest.raises(redis.ResponseError):
            r.eval(body, 0)
        assert r.ping()
    assert r.eval("return 1 + 1", 0) == 2


def test_script_garbage_is_collected(r):
    """What scripts allocate is freed: the rate limiter run 20,000 times leaves a small Lua
    heap, and what one large script left behind is worked off within 10,000 small calls,
    as in Redis (which steps its collector every 50 calls)."""
    def heap_kb():
        return r.eval("return collectgarbage('count')", 0)

    sha = r.script_load(RATE_LIMIT_SCRIPT)
    pipe = r.pipeline(transaction=False)
    for i in range(20000):
        pipe.evalsha(sha, 1, f"gc:{i % 1000}", 100, 60)
    assert set(pipe.execute()) <= {0, 1}
    assert heap_kb() < 512

    assert r.eval("local t = {} for i = 1, 200000 do t[i] = 'x' .. i end return #t", 0) == 200000
    assert heap_kb() > 8000
    for i in range(10000):
        pipe.evalsha(sha, 1, f"gc:{i % 1000}", 100, 60)
    pipe.execute()
    assert heap_kb() < 1024


def test_small_scripts_keep_the_lua_heap_near_its_size_after_script_flush(r):
    """10,000 small EVALs leave the Lua heap (INFO's used_memory_lua) near its size right
    after SCRIPT FLUSH, as in Redis (31 KB -> 32 KB): the collector alone let cinnabar's
    grow from 46 KB to about 100 KB."""
    r.script_flush()
    start = r.info("memory")["used_memory_lua"]
    pipe = r.pipeline(transaction=False)
    for _ in range(10000):
        pipe.eval('return redis.call("incr",KEYS[1])', 1, "heap:x")
    assert pipe.execute()[-1] == 10000
    after = r.info("memory")["used_memory_lua"]
    assert after <= start * 1.5, (start, after)


def test_short_script_turning_long_on_one_worker_is_still_busy_and_killable(target):
    """An EVALSHA seen to be short runs on its connection's worker. With one worker every
    client shares it: when the script turns endless, the other client must still get BUSY
    and be able to SCRIPT KILL it (cinnabar stops it there before BUSY is due and starts it
    again on the scripts thread)."""
    import support

    config = {"busy-reply-threshold": 100}
    if target == "cinnabar":
        srv = support.start_cinnabar(threads=1, **config)
    else:
        srv = support.start_redis(**config)
    try:
        r = redis.Redis(port=srv.port, socket_timeout=10)
        a = redis.Redis(port=srv.port, socket_timeout=10)
        sha = r.script_load("if ARGV[1] == 'spin' then while true do end end return ARGV[1]")
        for _ in range(3):
            assert r.evalsha(sha, 0, "short") == b"short"
            assert a.evalsha(sha, 0, "short") == b"short"
        outcome = {}

        def spin():
            try:
                outcome["reply"] = a.evalsha(sha, 0, "spin")
            except redis.ResponseError as e:
                outcome["error"] = str(e)

        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.4)
        started = time.monotonic()
        with pytest.raises(redis.ResponseError, match="^BUSY"):
            r.get("k")
        assert time.monotonic() - started < 1
        assert r.script_kill() is True
        t.join(10)
        assert not t.is_alive()
        assert outcome.get("error", "").startswith("Script killed by user with SCRIPT KILL")
        assert r.evalsha(sha, 0, "again") == b"again"
        assert a.evalsha(sha, 0, "again") == b"again"
    finally:
        srv.stop()
