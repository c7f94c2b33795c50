"""Helpers for the cross-server persistence tests (issue 23): the same dataset built on
cinnabar and on the oracle, saved by one, loaded by the other, compared with DEBUG DIGEST.

    import persist_support as ps
    a = ps.start("redis")                          # DEBUG allowed; waits until loaded
    ps.build(a, ps.dataset_commands(seed=7))       # every type and encoding, three dbs, TTLs
    want = (ps.digest(a), ps.describe(a))          # describe: type, encoding, TTL per key
    ps.client(a).save()
    b = ps.restart(a, "cinnabar")                  # same directory: loads a's dump.rdb
    assert (ps.digest(b), ps.describe(b)) == want
    b.stop()                                       # removes the directory

Servers are tests/support.py's: a free loopback port, `save ""` and `appendonly no` unless
the config says otherwise, in a new temporary directory or in `workdir` (which `stop`
removes). `restart` ends a server's process but keeps its directory for the next one.
A test stops every server it starts.
"""
import random
import time

import redis

import support

KINDS = ("cinnabar", "redis")


def start(kind, workdir=None, wait=True, **config):
    """Start `kind` ("cinnabar" or "redis") with `config` as --name value options (DEBUG
    allowed unless `enable-debug-command` is given), in `workdir` or a new directory; with
    `wait`, return once it has loaded its data (PING answers PONG, not LOADING)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    config.setdefault("enable-debug-command", "yes")
    starter = support.start_cinnabar if kind == "cinnabar" else support.start_redis
    server = starter(workdir=workdir, **config)
    if wait:
        try:
            wait_loaded(server, password=config.get("requirepass"))
        except BaseException:
            server.stop()
            raise
    return server


def restart(server, kind=None, wait=True, **config):
    """End `server`'s process (SIGTERM: a server with save points or an AOF saves as it
    exits) and start `kind` (the same kind by default) with `config` in its directory, which
    is kept with every file in it. The old `server` object must not be used after."""
    server._end_process()
    return start(kind or server.kind, workdir=server.dir, wait=wait, **config)


def client(server, db=0, password=None):
    """A redis-py client of `server` (bytes replies, RESP2)."""
    return redis.Redis(host="127.0.0.1", port=server.port, db=db, password=password, socket_timeout=60)


def wait_loaded(server, timeout=60.0, password=None):
    """Wait until `server` answers PING with PONG (a server loading an RDB or AOF answers
    -LOADING); fail with the tail of its log if it exits or the time runs out."""
    deadline = time.time() + timeout
    c = client(server, password=password)
    try:
        while True:
            if not server.alive():
                raise RuntimeError(f"{server.kind} exited with {server.proc.returncode} while loading:\n"
                                   f"{server.read_log()}")
            try:
                if c.ping():
                    return
            except redis.exceptions.AuthenticationError:
                raise
            except (redis.exceptions.BusyLoadingError, redis.exceptions.ConnectionError):
                pass
            if time.time() > deadline:
                raise RuntimeError(f"{server.kind} still loading after {timeout} s:\n{server.read_log()}")
            time.sleep(0.02)
    finally:
        c.close()


def digest(server, password=None):
    """DEBUG DIGEST of the whole dataset: 40 hex digits ("0" * 40 when empty)."""
    c = client(server, password=password)
    try:
        return c.execute_command("DEBUG", "DIGEST").decode()
    finally:
        c.close()


def describe(server, dbs=range(16), password=None):
    """{(db, key): (type, encoding, has_ttl, digest-value)} of every key of `dbs`, to find
    which key differs when the digests do, and to check encodings survive a round trip (a
    string is "raw" in memory only: one of up to 44 bytes loads as "embstr", as in Redis)."""
    out = {}
    for db in dbs:
        c = client(server, db, password)
        try:
            keys = sorted(c.keys("*"))
            if not keys:
                continue
            values = c.execute_command("DEBUG", "DIGEST-VALUE", *keys)
            for k, v in zip(keys, values):
                out[(db, k)] = (c.type(k), c.object("ENCODING", k), c.pttl(k) >= 0, v)
        finally:
            c.close()
    return out


def build(server, commands, chunk=500):
    """Send `commands` (lists of arguments) to `server` pipelined, in order, and raise on the
    first error reply."""
    c = client(server)
    try:
        for i in range(0, len(commands), chunk):
            p = c.pipeline(transaction=False)
            for cmd in commands[i:i + chunk]:
                p.execute_command(*cmd)
            p.execute(raise_on_error=True)
    finally:
        c.close()


# The thresholds the dataset is built against: Redis 7.2's defaults. A test that configures
# smaller ones gets more of the large encodings, never fewer.
SMALL = 8            # elements of a value that stays in its small encoding
LARGE = 300          # past every *-max-listpack-entries (128)
LONG = "v" * 80      # past every *-max-listpack-value (64)

FUNCTION_LIB = "#!lua name=persistlib\nredis.register_function('persistfn', function(keys, args) return 1 end)"


def dataset_commands(seed=0, dbs=(0, 1, 9), functions=False):
    """The commands that build a dataset with every type and encoding Redis 7.2 saves, in
    each of `dbs` (SELECT included; the last SELECT is back to 0), deterministic from `seed`:

    strings int / embstr / raw / empty / binary / long and compressible (LZF); HyperLogLogs
    sparse and dense; lists listpack and quicklist (several nodes); sets intset, listpack,
    hashtable (by count and by member length); hashes listpack and hashtable (both ways);
    sorted sets listpack and skiplist with scores 1.5, 0.1, -0, inf, -inf, 1e300, 1e17,
    integers; streams with several nodes, deleted entries, an empty one, consumer groups
    with pending entries and consumers; keys with TTLs (far away); with `functions`, one
    function library (FUNCTION LOAD, once)."""
    rng = random.Random(seed)
    word = lambda n: "".join(rng.choice("abcdefghij") for _ in range(n))  # noqa: E731
    out = []
    for db in dbs:
        p = f"{db}:"  # another name per db, and one key name shared by all: same key, other db
        out.append(["SELECT", str(db)])
        out += [
            ["SET", p + "str:int", str(rng.randint(-10**12, 10**12))],
            ["SET", p + "str:min", "-9223372036854775808"],
            ["SET", p + "str:embstr", word(rng.randint(1, 40))],
            ["SET", p + "str:raw", word(rng.randint(45, 300))],
            ["SET", p + "str:lzf", "abc" * rng.randint(100, 400)],
            ["SET", p + "str:empty", ""],
            ["SET", p + "str:bin", bytes(rng.randrange(256) for _ in range(20))],
            ["SET", p + "str:intlike", "007"],
            ["SET", "shared", f"db {db}"],
            ["SET", p + "str:ttl", word(10), "EX", str(rng.randint(10**5, 10**6))],
            ["PFADD", p + "hll:sparse"] + [word(6) for _ in range(SMALL)],
            ["PFADD", p + "hll:dense"] + [f"e{i}" for i in range(3000)],
            ["RPUSH", p + "list:lp"] + [rng.choice([word(5), str(rng.randint(-99, 99))]) for _ in range(SMALL)],
            ["RPUSH", p + "list:ql"] + [rng.choice([word(30), str(rng.randint(-10**6, 10**6))]) for _ in range(LARGE * 2)],
            ["LPUSH", p + "list:ql", LONG],
            ["SADD", p + "set:intset"] + [str(rng.randint(-10**6, 10**6)) for _ in range(SMALL)],
            ["SADD", p + "set:lp"] + [word(8) for _ in range(SMALL)],
            ["SADD", p + "set:ht"] + [word(10) for _ in range(LARGE)],
            ["SADD", p + "set:htlong", LONG, "x"],
            # Past set-max-intset-entries (512): integers in a hashtable.
            ["SADD", p + "set:htints"] + [str(i) for i in range(600)],
            ["HSET", p + "hash:lp"] + [x for i in range(SMALL) for x in (f"f{i}", rng.choice([word(5), str(i)]))],
            ["HSET", p + "hash:ht"] + [x for i in range(LARGE) for x in (f"f{i}", word(6))],
            ["HSET", p + "hash:htlong", "f", LONG],
            ["ZADD", p + "zset:lp", "1.5", "a", "0.1", "b", "-0", "c", "inf", "d", "-inf", "e", "1e300", "f", "1e17", "g",
             str(rng.randint(-100, 100)), "h"],
            ["ZADD", p + "zset:sl", "1.5", "a", "0.1", "b", "-0", "c", "inf", "d", "-inf", "e", "1e300", "f"]
            + [x for i in range(LARGE) for x in (repr(rng.uniform(-1e6, 1e6)) if i % 3 else str(i), f"m{i}")],
            ["ZADD", p + "zset:sllong", "1", LONG],
        ]
        ids, ms = [], 1000
        for i in range(250):
            ms += rng.randint(0, 3)
            ids.append(f"{ms}-{i}")
            out.append(["XADD", p + "stream", ids[-1], "f", word(4), "n", str(i)])
        out += [
            ["XDEL", p + "stream", ids[0], ids[-1], ids[100]],
            ["XGROUP", "CREATE", p + "stream", "g1", "0"],
            ["XGROUP", "CREATE", p + "stream", "g2", "$"],
            ["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", p + "stream", ">"],
            ["XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", p + "stream", ">"],
            ["XACK", p + "stream", "g1", ids[3]],
            ["XADD", p + "stream:empty", "1-1", "f", "v"],
            ["XDEL", p + "stream:empty", "1-1"],
            ["XGROUP", "CREATE", p + "stream:empty", "g", "0"],
            ["EXPIRE", p + "hash:lp", str(rng.randint(10**5, 10**6))],
            ["PEXPIREAT", p + "zset:sl", "99999999999999"],
        ]
    out.append(["SELECT", "0"])
    if functions:
        out.append(["FUNCTION", "LOAD", "REPLACE", FUNCTION_LIB])
    return out
