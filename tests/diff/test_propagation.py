"""What gets persisted: the same command sequence to the oracle and to cinnabar, both with
`appendonly yes`, then the commands in their incr AOF files compared (docs/ARCHITECTURE.md,
"Propagation"). Absolute times are normalised: an integer that is a unix time in ms within an
hour of the run (PXAT, PEXPIREAT, XCLAIM's TIME, an XADD id's ms) becomes its offset from the
run's start, compared within a few seconds.

- `test_case`: each command family and every rewrite Redis makes (relative expiries made
  absolute, non-deterministic commands by their effects, blocking pops as their plain form,
  streams' ids and trims, scripts and functions by their effects, MULTI/EXEC), blocked
  clients served by a push, lazy and active expiry, SELECT, no-ops and errors (twice).
- `test_random_sequence`: seeded random writes, reads and expiries on a few keys.
- `test_concurrent_replay`: several clients on several worker threads write overlapping
  keys at once; the AOF, replayed into a fresh server, rebuilds the same dataset.
"""
import os
import random
import shlex
import threading
import time

import pytest

import support
from harness import connect, stop_pair, start_pair
from resp import RawConnection, parse

AOF_CONFIG = {"appendonly": "yes", "appendfsync": "always", "enable-debug-command": "yes"}
# Times more than this far from the run are kept as they are (EXAT 99999999999).
HORIZON_MS = 3_600_000
TOLERANCE_S = 5.0


def incr_aof_path(server):
    """The incr file the manifest names last (Redis's default name if there is none)."""
    d = os.path.join(server.dir, "appendonlydir")
    name = "appendonly.aof.1.incr.aof"
    try:
        with open(os.path.join(d, "appendonly.aof.manifest"), "rb") as f:
            for line in f.read().decode().splitlines():
                words = line.split()
                if "type" in words and words[words.index("type") + 1] == "i":
                    name = words[words.index("file") + 1]
    except OSError:
        pass
    return os.path.join(d, name)


def parse_aof(data):
    """The commands of an AOF file's RESP text (annotations `#...` skipped)."""
    cmds, i = [], 0
    while i < len(data):
        if data[i:i + 1] == b"#":
            i = data.index(b"\n", i) + 1
            continue
        assert data[i:i + 1] == b"*", data[i:i + 40]
        j = data.index(b"\r\n", i)
        n, i = int(data[i + 1:j]), j + 2
        cmd = []
        for _ in range(n):
            j = data.index(b"\r\n", i)
            size, i = int(data[i + 1:j]), j + 2
            cmd.append(data[i:i + size])
            i += size + 2
        cmds.append(cmd)
    return cmds


def normalise(arg, start_ms):
    """A unix time in ms near the run -> ("T", seconds from its start, is_stream_id). A
    stream id's sequence goes too: how many XADDs share a millisecond is timing."""
    head, sep, seq = arg.partition(b"-")
    if head.isdigit() and (not sep or seq.isdigit()):
        v = int(head)
        if abs(v - start_ms) < HORIZON_MS:
            return ("T", (v - start_ms) / 1000.0, bool(sep))
    return arg


def same_arg(a, b):
    if isinstance(a, tuple) and isinstance(b, tuple):
        return a[2] == b[2] and abs(a[1] - b[1]) < TOLERANCE_S
    return a == b


def aof_commands(server, start_ms, wait=2.0):
    """The incr file's commands, normalised (read again until it stops growing: cinnabar's
    writer may lag the reply with appendfsync always only in what it batches)."""
    path = incr_aof_path(server)
    deadline = time.time() + wait
    last = None
    while True:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        if data == last or time.time() > deadline:
            break
        last = data
        time.sleep(0.05)
    return [[normalise(a, start_ms) for a in cmd] for cmd in parse_aof(data)]


def show_cmds(cmds):
    return "\n".join(" ".join(repr(a) if isinstance(a, tuple) else a.decode(errors="replace") for a in c)
                     for c in cmds)


def same_cmds(want, got):
    return len(want) == len(got) and all(
        len(w) == len(g) and all(same_arg(x, y) for x, y in zip(w, g)) for w, g in zip(want, got))


def run_steps(server, steps, proto=2):
    """Run `steps` on `server`: "cmd args" on connection 0 (its reply read), "@N cmd args"
    sent on connection N without waiting (a blocking command), "@recv N" reads it,
    "@sleep S" waits, a function is called with connection 0. Returns the replies."""
    conns = {}

    def conn(n):
        if n not in conns:
            conns[n] = connect(server, proto)
        return conns[n]

    replies = []
    try:
        for step in steps:
            if callable(step):
                # A step that needs a reply of the server it runs on (DUMP's payload).
                replies.append(step(conn(0)))
                continue
            words = shlex.split(step)
            if words[0] == "@sleep":
                time.sleep(float(words[1]))
            elif words[0] == "@recv":
                replies.append(conn(int(words[1])).read_reply())
            elif words[0].startswith("@"):
                conn(int(words[0][1:])).send_command(*words[1:])
                # Let it block before the next step writes.
                time.sleep(0.05)
            else:
                replies.append(conn(0).command(*words))
    finally:
        for c in conns.values():
            c.close()
    return replies


def compare_runs(steps, config=None, mask=lambda cmds: cmds, proto=2):
    """Run `steps` on the oracle and on cinnabar; their AOF commands (through `mask`) must be
    the same. The (replies, AOF commands) of each, oracle first."""
    pair = start_pair({**AOF_CONFIG, **(config or {})})
    try:
        results = []
        for server in pair:
            start = int(time.time() * 1000)
            replies = run_steps(server, steps, proto)
            results.append((replies, aof_commands(server, start)))
    finally:
        stop_pair(pair)
    (want_replies, want), (got_replies, got) = results
    want, got = mask(want), mask(got)
    assert same_cmds(want, got), (
        f"AOF commands differ\n--- redis:\n{show_cmds(want)}\n--- cinnabar:\n{show_cmds(got)}\n"
        f"--- replies redis: {want_replies}\n--- replies cinnabar: {got_replies}")
    return results


NO_ACTIVE_EXPIRE = "debug set-active-expire 0"

CASES = {
    "strings": ["set a 1", "set b 2 nx", "set b 3 nx", "set b 4 xx get", "mset c 1 d 2", "msetnx c 1 e 2",
                "append a x", "setrange a 1 yy", "incr n", "incrby n 5", "decr n", "decrby n 2",
                "getset a z", "getdel a", "getdel a", "setnx f 1", "setnx f 2", "strlen f", "get f"],
    "relative_expiries": ["set a 1 ex 100", "set b 1 px 100000 get", "set c 1 exat 99999999999",
                          "set d 1 pxat 99999999999999", "set e 1 keepttl", "set e2 1 nx ex 100",
                          "setex f 100 v", "psetex g 100000 v", "setex f -1 v", "setex f -1 v"],
    "expire_family": ["set k v", "expire k 100", "pexpire k 100000", "expireat k 99999999999",
                      "pexpireat k 99999999999999", "expire k 100 nx", "expire k 100 nx", "expire k 200 gt",
                      "expire k 50 lt", "persist k", "persist k", "expire missing 100", "expire missing 100",
                      "expire k -1", "expire k 100"],
    "getex": ["set k v", "getex k", "getex k ex 100", "getex k px 100000", "getex k exat 99999999999",
              "getex k pxat 99999999999999", "getex k persist", "getex k persist", "getex k pxat 1",
              "getex k ex 100", "getex nope ex 100"],
    "past_absolute": [NO_ACTIVE_EXPIRE, "set k v pxat 1", "set k2 v", "expireat k2 1", "set k3 v",
                      "pexpireat k3 1", "get k"],
    "floats": ["incrbyfloat f 1.5", "incrbyfloat f 1e2", "set t 1 ex 100", "incrbyfloat t 0.5",
               "hincrbyfloat h x 2.5", "hincrbyfloat h x 0", "incrbyfloat s abc", "incrbyfloat s abc"],
    "spop_whole": ["sadd s a", "spop s", "spop s", "sadd t 1 2 3", "spop t 0", "spop t 3", "spop t 3",
                   "sadd u x", "srandmember u", "srandmember u 5"],
    "lists": ["rpush l a b c d", "lpush l z", "lpop l", "rpop l 2", "lpop l 0", "lset l 0 q", "linsert l before q p",
              "lrem l 0 p", "ltrim l 0 0", "lmove l m left right", "rpoplpush m m", "lmpop 2 l m left count 5",
              "rpushx nope a", "lpop nope"],
    "blocking_served_at_once": ["rpush l a b c", "blpop l 0", "brpop l 0", "rpush l x y", "blmove l l2 left right 0",
                                "brpoplpush l l2 0", "blmpop 0 1 l2 left count 5", "zadd z 1 a 2 b 3 c",
                                "bzpopmin z 0", "bzpopmax z 0", "zadd z 1 a 2 b", "bzmpop 0 1 z min count 5",
                                "blpop nope 0.01"],
    "blocking_served_later": ["@1 blpop w 0", "@2 brpop w 0", "rpush w 1 2 3", "@recv 1", "@recv 2",
                              "@1 blmove w2 dst left left 0", "lpush w2 v", "@recv 1",
                              "@1 brpoplpush w3 dst 0", "lpush w3 v", "@recv 1",
                              "@1 bzpopmin wz 0", "zadd wz 1 m", "@recv 1",
                              "@1 bzmpop 0 1 wz2 max count 3", "zadd wz2 1 a 2 b", "@recv 1",
                              "@1 blmpop 0 1 wl right count 2", "rpush wl a b c", "@recv 1",
                              "@1 blpop q1 0", "multi", "rpush q1 a", "rpush q1 b", "exec", "@recv 1",
                              "@1 blpop q2 0", "eval \"redis.call('rpush','q2','x') redis.call('set','y','1')\" 0",
                              "@recv 1"],
    "sets_hashes_zsets": ["sadd s a b", "sadd s a", "srem s a", "srem s zz", "smove s t b", "sinterstore u s t",
                          "sunionstore u s t", "hset h a 1 b 2", "hsetnx h a 9", "hdel h a", "hincrby h b 3",
                          "zadd z 1 a 2 b", "zincrby z 5 a", "zadd z xx 1 nope", "zrem z b", "zpopmin z",
                          "zunionstore zz 1 z", "zremrangebyscore zz 0 100", "zrangestore zd z 0 -1"],
    "streams": ["xadd s * f v", "xadd s 5-* f v", "xadd s maxlen ~ 1 * f v", "xadd s maxlen 1 * f v",
                "xadd s minid ~ 0 * f v", "xadd s nomkstream * f v", "xadd nope nomkstream * f v",
                "xtrim s maxlen ~ 0", "xtrim s maxlen 0", "xadd s 99999999999999-1 a 1", "xdel s 1-1",
                "xsetid s 99999999999999-5", "xsetid s 1-1"],
    "stream_trim_exact": ["config set stream-node-max-entries 4"]
                         + [f"xadd s {i}-1 f v" for i in range(1, 12)]
                         + ["xadd s maxlen ~ 5 20-1 f v", "xtrim s maxlen ~ 2", "xtrim s minid ~ 11-1",
                            "xtrim s minid ~ 19-1 limit 1", "xtrim s maxlen = 1"],
    "stream_groups": ["xadd s 1-1 a 1", "xadd s 2-1 a 2", "xadd s 3-1 a 3", "xgroup create s g 0",
                      "xreadgroup group g c1 count 2 streams s >", "xreadgroup group g c1 streams s 0",
                      "xclaim s g c2 0 1-1 2-1", "xclaim s g c2 0 1-1 justid", "xdel s 2-1",
                      "xautoclaim s g c3 0 0-0", "xreadgroup group g c4 noack streams s >",
                      "xreadgroup group g c4 noack streams s >", "xack s g 1-1", "xack s g 1-1",
                      "xgroup createconsumer s g c9", "xgroup delconsumer s g c9", "xgroup setid s g $",
                      "xgroup create s g2 $ entriesread 1", "xgroup destroy s g2"],
    "stream_blocked_group": ["xgroup create s g $ mkstream", "@1 xreadgroup group g c block 0 streams s >",
                             "xadd s 5-1 f v", "@recv 1"],
    "transactions": ["multi", "set a 1", "exec", "multi", "set a 2", "incr n", "exec", "multi", "get a", "exec",
                     "multi", "set a 3", "select 2", "set b 1", "select 0", "exec",
                     "multi", "incr a", "set c 1", "exec", "multi", "set d 1", "discard",
                     "watch a", "set a 4", "multi", "set a 5", "exec"],
    "scripts": ["eval \"redis.call('set','k','v')\" 0", "eval \"redis.call('set','k','v') redis.call('incr','n')\" 0",
                "eval \"return redis.call('get','k')\" 0",
                "eval \"redis.call('select','3') redis.call('set','a','b') redis.call('select','0') "
                "redis.call('set','c','d')\" 0",
                "eval \"redis.call('spop','s') return redis.call('incrbyfloat','f','1.5')\" 0",
                "eval \"redis.call('set','e','1','ex','100')\" 0",
                "eval \"return redis.pcall('incr','k')\" 0", "eval \"error('x')\" 0",
                "multi", "eval \"redis.call('set','m','1')\" 0", "set m2 1", "exec",
                "sadd s a b c d", "eval \"redis.set_repl(redis.REPL_NONE) redis.call('set','a','1') "
                "redis.call('spop','s',2) redis.call('incrbyfloat','f','1.5') redis.set_repl(redis.REPL_ALL) "
                "redis.call('set','b','1')\" 0",
                "eval \"redis.set_repl(redis.REPL_REPLICA) redis.call('set','c','1') "
                "redis.set_repl(redis.REPL_AOF) redis.call('set','d','1')\" 0",
                "eval \"redis.set_repl(redis.REPL_NONE) redis.call('set','e','1')\" 0"],
    "functions": ["function load \"#!lua name=lib\nredis.register_function('f', function(keys, args) "
                  "return redis.call('incr', keys[1]) end)\"", "fcall f 1 fk", "fcall f 1 fk",
                  "function load \"#!lua name=lib\nredis.register_function('f', function() return 1 end)\"",
                  "function delete lib", "function delete lib", "function flush", "script flush",
                  "script load \"return 1\""],
    "keyspace": ["set a 1", "rename a b", "rename nope x", "renamenx b c", "copy c d", "copy c e db 2",
                 "move d 1", "move d 1", "del c e", "del c", "unlink b", "touch d", "sadd x 1", "sort x store y",
                 "object freq nope", "flushdb", "set z 1", "select 1", "set z 2", "swapdb 0 1", "swapdb 1 1",
                 "select 0", "flushall", "flushall async", "flushdb sync"],
    "hll_bitmaps": ["pfadd h a b", "pfcount h", "pfcount h", "pfadd h c", "pfcount h", "pfadd h a",
                    "pfmerge h2 h", "setbit b 7 1", "setbit b 7 1", "bitop or b2 b", "bitfield bf set u8 0 255",
                    "bitfield bf get u8 0", "geoadd g 13.36 38.11 palermo", "geosearchstore g2 g frommember palermo "
                    "byradius 10 km"],
    "lazy_expiry": [NO_ACTIVE_EXPIRE, "set a 1 px 1", "set b 1 px 1", "set c 1 px 1", "set d 1 px 1",
                    "set e 1 px 1", "@sleep 0.1", "get a", "set b 2", "incr c", "multi", "set x 1", "get d",
                    "set y 1", "exec", "eval \"redis.call('get','e') redis.call('set','z','1')\" 0"],
    # (One key: active expiry visits keys in its table order.)
    "active_expiry": ["set a 1 px 50", "@sleep 1.5", "set c 1", "set b 1 px 50", "@sleep 1.5", "set b 2"],
    "expiry_lazyfree": [NO_ACTIVE_EXPIRE, "config set lazyfree-lazy-expire yes", "set a 1 px 1", "set k v",
                        "@sleep 0.1", "get a", "expire k -1"],
    "scan_randomkey_expiry": [NO_ACTIVE_EXPIRE, "set a 1 px 1", "@sleep 0.1", "scan 0", "set b 1 px 1",
                              "@sleep 0.1", "randomkey"],
    # One evictable key, so the order is the oracle's whatever its sampling.
    "eviction": ["set a 1", "set p x", "set v y ex 100", "config set maxmemory-policy volatile-ttl",
                 "config set maxmemory 1", "get p", "config set maxmemory 0", "set b 1",
                 "config set maxmemory-policy allkeys-lru", "del b", "del p", "config set maxmemory 1", "get a",
                 "get a", "config set maxmemory 0", "set c 1"],
    "eviction_lazyfree": ["config set lazyfree-lazy-eviction yes", "set a 1", "config set maxmemory-policy allkeys-lfu",
                          "config set maxmemory 1", "get a", "config set maxmemory 0", "set c 1"],
    "select": ["set a 1", "select 5", "set a 2", "select 5", "set b 1", "select 0", "set c 1",
               "select 15", "select 16", "select 15", "del a"],
    "errors_and_noops": ["set a 1", "incr a2 x", "lpush a x", "lpush a x", "hset a f v", "del nope", "del nope",
                         "srem nope x", "srem nope x", "zadd z nx xx 1 a", "expire nope 10", "persist a",
                         "getdel nope", "linsert nope before a b", "xadd s nomkstream * f v", "incr a",
                         "set a 1 ex 0", "set a 1 ex 0", "get a", "publish ch m"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name):
    compare_runs(CASES[name], mask=srem_shapes)


@pytest.mark.parametrize("name", ["blocking_served_later", "scripts", "stream_blocked_group", "transactions"])
def test_case_resp3(name):
    """The protocol changes replies, not what is propagated: the same AOF from RESP3
    clients (blocked ones too)."""
    compare_runs(CASES[name], mask=srem_shapes, proto=3)


def srem_shapes(cmds):
    """The members SPOP drew at random masked (its SREMs: upper-case, the cases' own srem
    commands are lower-case)."""
    return [c if c[0] != b"SREM" else c[:2] + [b"<member>"] * (len(c) - 2) for c in cmds]


def test_wrap_threshold():
    """A unit of one op goes bare, of more in MULTI/EXEC (the oracle says so too)."""
    (_, want), _ = compare_runs(["multi", "set a 1", "exec", "multi", "set a 1", "set b 1", "exec"])
    names = [c[0].upper() for c in want]
    assert names == [b"SELECT", b"SET", b"MULTI", b"SET", b"SET", b"EXEC"]


def test_spop_propagates_what_it_popped():
    """SPOP draws at random: the commands' shapes match the oracle's (SREM of one, SREMs of a
    count, DEL of the whole set; in MULTI/EXEC inside a script), and on each server the
    members its SREMs remove are the ones it replied."""
    steps = ["sadd s a b c d e f g h", "spop s", "spop s 2", "spop s 0", "spop s 100",
             "sadd s a b c d e", "eval \"return redis.call('spop', KEYS[1], 2)\" 1 s"]

    for replies, cmds in compare_runs(steps, mask=srem_shapes):
        replied = []
        for i in (1, 2, 6):  # the pops that leave members behind
            node = parse(replies[i])
            replied += [node.value] if node.value is not None else [n.value for n in node.children]
        removed = [m for c in cmds if c[0].upper() == b"SREM" for m in c[2:]]
        assert sorted(removed) == sorted(replied) and len(replied) == 5, (removed, replied)


def restore_steps(c):
    """RESTORE of a payload DUMP made on this server: relative, none, absolute and past TTLs."""
    payload = parse(c.command("DUMP", "src")).value
    return [c.command(*args) for args in (
        ("RESTORE", "r1", "100000", payload), ("RESTORE", "r2", "0", payload),
        ("RESTORE", "r3", "99999999999999", payload, "ABSTTL"), ("RESTORE", "r1", "5000", payload, "REPLACE"),
        ("RESTORE", "r1", "1", payload, "REPLACE", "ABSTTL"), ("RESTORE", "r2", "1", payload, "ABSTTL"),
        ("RESTORE", "r4", "1", payload, "ABSTTL"), ("RESTORE", "r2", "0", payload))]


def test_restore():
    """A relative TTL goes as an absolute one with ABSTTL; a TTL in the past deletes what
    REPLACE replaced (DEL), or does nothing; errors propagate nothing."""
    compare_runs(["rpush src a b c", restore_steps])


def test_migrate():
    """MIGRATE goes as DEL of the keys the target took (nothing with COPY)."""
    target = support.start_redis()
    try:
        port = str(target.port)
        compare_runs(["set a 1", "set b 2", "set c 3", f"migrate 127.0.0.1 {port} a 0 5000 replace",
                      f"migrate 127.0.0.1 {port} b 0 5000 copy replace",
                      f"migrate 127.0.0.1 {port} \"\" 0 5000 replace keys b c nope",
                      f"migrate 127.0.0.1 {port} nope 0 5000"])
    finally:
        target.stop()


def random_steps(rng, count):
    """`count` random steps; a key given a 1 ms TTL is waited for, so that both servers
    find it expired (active expiry is off)."""
    keys = ["k1", "k2", "k3"]
    steps = []
    for _ in range(count):
        k, k2 = rng.choice(keys), rng.choice(keys)
        steps.append(rng.choice([
            f"set {k} {rng.randint(0, 9)}", f"set {k} {rng.randint(0, 9)} ex 100", f"set {k} v px 1\x00@sleep 0.01",
            f"set {k} {rng.randint(0, 9)} nx", f"incr {k}", f"incrbyfloat {k} 1.5", f"append {k} x",
            f"del {k}", f"get {k}", f"expire {k} 100", f"pexpire {k} 1\x00@sleep 0.01", f"persist {k}", f"getex {k} ex 50",
            f"lpush {k} a b", f"rpop {k}", f"lmove {k} {k2} left right", f"sadd {k} a b c", f"spop {k}",
            f"spop {k} 2", f"hset {k} f 1", f"hincrbyfloat {k} f 0.5", f"zadd {k} 1 a 2 b", f"zpopmin {k}",
            f"xadd {k} * f v", f"rename {k} {k2}", f"copy {k} {k2} replace", "@sleep 0.01",
            f"multi\x00set {k} 1\x00incr {k2}\x00exec",
            f"eval \"redis.call('set', KEYS[1], 'x') return redis.pcall('incr', KEYS[2])\" 2 {k} {k2}",
        ]))
    return [s for step in steps for s in step.split("\x00")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequence(seed):
    seed = int(os.environ.get("DIFF_SEED", seed))
    steps = [NO_ACTIVE_EXPIRE] + random_steps(random.Random(seed), 150)
    try:
        compare_runs(steps, mask=srem_shapes)
    except AssertionError as e:
        raise AssertionError(f"DIFF_SEED={seed}\n{e}") from None


def dataset(port):
    """Every key of every database with its type, value and whether it has a TTL."""
    c = RawConnection(port)
    out = {}
    try:
        for db in range(16):
            c.command("SELECT", str(db))
            for key in [n.value for n in parse(c.command("KEYS", "*")).children]:
                t = parse(c.command("TYPE", key)).value
                read = {
                    b"string": ("GET", key), b"list": ("LRANGE", key, "0", "-1"),
                    b"set": ("SMEMBERS", key), b"hash": ("HGETALL", key),
                    b"zset": ("ZRANGE", key, "0", "-1", "WITHSCORES"), b"stream": ("XRANGE", key, "-", "+"),
                }[t]
                value = c.command(*read)
                if t in (b"set", b"hash"):
                    value = sorted(n.value for n in parse(value).children)
                ttl = int(parse(c.command("PTTL", key)).value) > 0
                out[(db, key)] = (t, value, ttl)
    finally:
        c.close()
    return out


def digest_of(port):
    c = RawConnection(port)
    try:
        return c.command("DEBUG", "DIGEST")
    finally:
        c.close()


def replay(port, cmds):
    c = RawConnection(port)
    try:
        for cmd in cmds:
            reply = c.command(*cmd)
            assert not reply.startswith(b"-"), (cmd, reply)
    finally:
        c.close()


def test_concurrent_replay():
    """Clients on several worker threads write overlapping keys at once (plain writes,
    transactions, scripts, pops served to blocked clients): the AOF, replayed into a fresh
    cinnabar and into real Redis, rebuilds the same dataset (contents and DEBUG DIGEST)."""
    server = support.start_cinnabar(**AOF_CONFIG, threads=4)
    fresh = support.start_cinnabar(threads=1, **{"enable-debug-command": "yes"})
    oracle = support.start_redis(**{"enable-debug-command": "yes"})
    try:
        def writer(seed):
            rng = random.Random(seed)
            c = RawConnection(server.port)
            try:
                for _ in range(300):
                    k, k2 = f"k{rng.randint(0, 7)}", f"k{rng.randint(0, 7)}"
                    cmd = rng.choice([
                        ["incr", f"n{k}"], ["lpush", f"l{k}", str(seed)], ["rpoplpush", f"l{k}", f"l{k2}"],
                        ["sadd", f"s{k}", str(rng.randint(0, 20))], ["spop", f"s{k}"],
                        ["hincrbyfloat", f"h{k}", "f", "1.5"], ["set", f"t{k}", str(seed), "ex", "1000"],
                        ["del", f"t{k}"], ["zincrby", f"z{k}", "1", str(seed)], ["xadd", f"x{k}", "*", "f", "v"],
                        ["eval", "redis.call('incr', KEYS[1]) return redis.call('lpush', KEYS[2], ARGV[1])",
                         "2", f"n{k}", f"l{k2}", str(seed)],
                        ["blpop", f"l{k}", "0.01"],
                    ])
                    c.command(*cmd)
                    if rng.random() < 0.1:
                        c.command("MULTI")
                        c.command("incr", f"n{k}")
                        c.command("lmove", f"l{k}", f"l{k2}", "left", "right")
                        c.command("EXEC")
            finally:
                c.close()

        threads = [threading.Thread(target=writer, args=(s,)) for s in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        want = dataset(server.port)
        assert want, "the writers wrote nothing"
        digest = digest_of(server.port)
        cmds = [[a for a in c] for c in parse_aof(open(incr_aof_path(server), "rb").read())]
        for other in (fresh, oracle):
            replay(other.port, cmds)
            assert dataset(other.port) == want, other.kind
            assert digest_of(other.port) == digest, other.kind
    finally:
        for s in (server, fresh, oracle):
            s.stop()
