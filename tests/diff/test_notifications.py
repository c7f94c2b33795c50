"""Keyspace notifications compared with redis-server's: with notify-keyspace-events set
(all classes, then subsets), a `psubscribe __key*__:*` subscriber must receive the same
pmessages in the same order for the same commands, RESP2 and RESP3 subscribers alike.
Lazy expiry is compared exactly; active expiry (timing depends on the cron) as a set."""
import time

import pytest

from harness import ORACLE_IS_72, start_pair, start_pair_without_active_expiry, stop_pair, subject_name
from resp import RawConnection, encode_command


def _value(raw, pos, pushes):
    """One RESP value from `pos`: (its bytes, the next position). Inside an aggregate a push
    is not an element but an own event Redis 7.0 sent amid EXEC's array: it goes to `pushes`."""
    end = raw.index(b"\r\n", pos) + 2
    t = raw[pos:pos + 1]
    if t in b"$!=":
        n = int(raw[pos + 1:end - 2])
        return (raw[pos:end], end) if n < 0 else (raw[pos:end + n + 2], end + n + 2)
    if t not in b"*~%>":
        return raw[pos:end], end
    n = int(raw[pos + 1:end - 2])
    out, p = bytearray(raw[pos:end]), end
    for _ in range(max(n, 0) * (2 if t == b"%" else 1)):
        while t != b">" and raw[p:p + 1] == b">":
            push, p = _value(raw, p, pushes)
            pushes.append(push)
        v, p = _value(raw, p, pushes)
        out += v
    return bytes(out), p


def exec_as_72(stream):
    """A RESP3 client's bytes from Redis 7.0 (the fallback oracle) in Redis 7.2's order: the
    own events 7.0 sent amid EXEC's array follow the array, in the order they came (7.2 holds
    them until EXEC is done). Against the 7.2 oracle nothing changes."""
    if ORACLE_IS_72:
        return stream
    out, pos = bytearray(), 0
    while pos < len(stream):
        held = []
        value, pos = _value(stream, pos, held)
        out += value + b"".join(held)
    return bytes(out)


def own_as_72(got):
    """`self_run`'s reply and pushes of one command from Redis 7.0 in Redis 7.2's order: the
    reply first, then every own event in the order it came. Against 7.2 nothing changes."""
    if ORACLE_IS_72:
        return got
    return [x for x in got if x == b"<reply>"] + [x for x in got if x != b"<reply>"]

# Two commands of STREAM give Redis 7.2 events that Redis 7.0 (the fallback oracle) does not:
# XSETID x2 1-0 is below x2's max-deleted-entry-id, refused by 7.2 (no xsetid event; 7.0 took
# it, the second xsetid), and XREADGROUP ... c3 NOACK, which reads nothing, creates consumer
# c3 in 7.2 (one more xgroup-createconsumer; 7.0 creates a consumer only when it delivers).
# Against 7.0, cinnabar is held to the events turned into 7.2's by these two functions.
XSETID_REFUSED = ("XSETID", "x2", "1-0")
CREATES_NOTHING_READ = ("XREADGROUP", "GROUP", "g", "c3", "NOACK", "STREAMS", "g1", ">")


def stream_events_as_72(msgs):
    """`collect`'s messages for STREAM from Redis 7.0 as Redis 7.2 sends them: the second
    xsetid (each message of it: keyspace and keyevent) dropped, and after the second
    xgroup-createconsumer (c2's) one more (c3's). Against the 7.2 oracle nothing changes."""
    if ORACLE_IS_72:
        return msgs
    seen, out = set(), []
    for m in msgs:
        if b"xsetid" in m and m in seen:
            continue
        seen.add(m)
        out.append(m)
    made = [i for i, m in enumerate(out) if b"xgroup-createconsumer" in m]
    per = len({out[i] for i in made})        # messages per consumer created (K, E or both)
    if len(made) >= 2 * per > 0:
        at = made[2 * per - 1] + 1
        out[at:at] = [out[i] for i in made[:per]]
    return out


def own_stream_as_72(cmd, got):
    """`self_run`'s events of one STREAM command from Redis 7.0 as Redis 7.2 sends them (see
    stream_events_as_72); `got` of c2's XREADGROUP, the first to create a consumer, is kept
    in `own_stream_as_72.created` for c3's."""
    if ORACLE_IS_72:
        return got
    if cmd == ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "g1", ">"):
        own_stream_as_72.created = got[1:]
    if cmd == XSETID_REFUSED:
        return [x for x in got if x == b"<reply>"]
    if cmd == CREATES_NOTHING_READ:
        return got + own_stream_as_72.created
    return got


GENERIC = [
    ("SET", "g1", "v"), ("SET", "g2", "v"),
    ("DEL", "g1", "nokey", "g2"),
    ("SET", "g1", "v"), ("UNLINK", "g1"),
    ("SET", "r1", "v"), ("RENAME", "r1", "r2"), ("RENAME", "r2", "r2"),
    ("SET", "r3", "x"), ("RENAME", "r2", "r3"),
    ("RENAMENX", "r3", "r4"), ("SET", "r5", "y"), ("RENAMENX", "r4", "r5"),
    ("EXPIRE", "r4", "100"), ("PEXPIRE", "r4", "100000"), ("EXPIREAT", "r4", "9999999999"),
    ("PEXPIREAT", "r4", "9999999999000"), ("EXPIRE", "r4", "100", "NX"), ("EXPIRE", "nokey", "10"),
    ("PERSIST", "r4"), ("PERSIST", "r4"),
    ("EXPIRE", "r4", "-1"),
    ("SET", "e1", "v"), ("PEXPIREAT", "e1", "1"),
    ("SET", "m1", "v"), ("MOVE", "m1", "1"), ("MOVE", "m1", "1"),
    ("SET", "c1", "v"), ("COPY", "c1", "c2"), ("COPY", "c1", "c2"), ("COPY", "c1", "c2", "REPLACE"),
    ("COPY", "c1", "c3", "DB", "2"),
    ("RENAME", "c1", "c2"),
    ("TOUCH", "c2"), ("EXISTS", "c2"), ("TYPE", "c2"),
    ("DEL", "c2", "r5"),
]

STRING = [
    ("SET", "s1", "v"), ("SET", "s1", "w", "EX", "100"), ("SET", "s1", "w", "PX", "100000", "GET"),
    ("SET", "s1", "x", "KEEPTTL"), ("SET", "s1", "y", "NX"), ("SET", "s2", "y", "XX"),
    ("SET", "s2", "y", "NX", "GET"),
    ("SETNX", "s3", "a"), ("SETNX", "s3", "b"),
    ("SETEX", "s4", "100", "v"), ("PSETEX", "s5", "100000", "v"),
    ("GETSET", "s4", "n"), ("GETDEL", "s4"), ("GETDEL", "s4"),
    ("GETEX", "s5", "EX", "200"), ("GETEX", "s5", "PERSIST"), ("GETEX", "s5"), ("GETEX", "s5", "PXAT", "1"),
    ("MSET", "m1", "a", "m2", "b"), ("MSETNX", "m3", "a", "m4", "b"), ("MSETNX", "m3", "a", "m5", "b"),
    ("APPEND", "a1", "x"), ("APPEND", "a1", "yz"),
    ("INCR", "i1"), ("DECR", "i1"), ("INCRBY", "i1", "5"), ("DECRBY", "i1", "2"),
    ("INCRBYFLOAT", "f1", "1.5"), ("INCR", "a1"),
    ("SETRANGE", "sr", "3", "abc"), ("SETRANGE", "sr", "0", ""), ("SETRANGE", "nosr", "0", ""),
    ("SETRANGE", "sr", "1", "Z"),
    ("GET", "s1"), ("STRLEN", "s1"), ("GETRANGE", "s1", "0", "1"), ("MGET", "s1", "s2"),
]

LIST = [
    ("LPUSH", "l1", "a", "b", "c"), ("RPUSH", "l1", "d"), ("LPUSHX", "l1", "e"), ("RPUSHX", "l1", "f"),
    ("LPUSHX", "nol", "x"), ("RPUSHX", "nol", "x"),
    ("LPOP", "l1"), ("RPOP", "l1"), ("LPOP", "l1", "2"), ("RPOP", "nol"),
    ("LINSERT", "l1", "BEFORE", "a", "z"), ("LINSERT", "l1", "AFTER", "nope", "z"),
    ("LSET", "l1", "0", "q"), ("LREM", "l1", "0", "q"), ("LREM", "l1", "0", "q"),
    ("RPUSH", "l2", "1", "2", "3", "4", "5"), ("LTRIM", "l2", "1", "3"), ("LTRIM", "l2", "0", "-1"),
    ("LTRIM", "l2", "5", "1"),
    ("RPUSH", "l3", "x", "y"), ("LMOVE", "l3", "l4", "LEFT", "RIGHT"), ("LMOVE", "l3", "l4", "RIGHT", "LEFT"),
    ("RPOPLPUSH", "l4", "l4"), ("RPOPLPUSH", "l4", "l5"),
    ("RPUSH", "l6", "a", "b"), ("LMPOP", "2", "nol", "l6", "LEFT", "COUNT", "5"),
    ("RPUSH", "l7", "a"), ("BLPOP", "l7", "0.01"), ("RPUSH", "l7", "a", "b"), ("BRPOP", "l7", "0.01"),
    ("BLMOVE", "l7", "l8", "LEFT", "LEFT", "0.01"), ("BLMPOP", "0.01", "1", "l8", "RIGHT"),
    ("RPUSH", "l9", "a", "b", "a"), ("LREM", "l9", "-1", "a"), ("LREM", "l9", "0", "a"), ("LREM", "l9", "0", "b"),
    ("LRANGE", "l1", "0", "-1"), ("LLEN", "l1"), ("LINDEX", "l1", "0"), ("LPOS", "l1", "z"),
    ("DEL", "l1", "l2", "l4", "l5"),
]

SET = [
    ("SADD", "s1", "a", "b", "c"), ("SADD", "s1", "a"), ("SREM", "s1", "a", "zz"), ("SREM", "s1", "zz"),
    ("SPOP", "s1"), ("SPOP", "nos"), ("SADD", "s2", "1", "2", "3", "4"), ("SPOP", "s2", "2"), ("SPOP", "s2", "10"),
    ("SADD", "s3", "x", "y"), ("SMOVE", "s3", "s4", "x"), ("SMOVE", "s3", "s4", "nope"), ("SMOVE", "s3", "s4", "y"),
    ("SMOVE", "s4", "s4", "x"),
    # The member is already in the destination: only the source changes (and is emptied).
    ("SADD", "s5", "p", "q"), ("SADD", "s6", "p", "q"), ("SMOVE", "s5", "s6", "p"), ("SMOVE", "s5", "s6", "q"),
    ("SADD", "a", "1", "2", "3"), ("SADD", "b", "2", "3", "4"),
    ("SINTERSTORE", "d1", "a", "b"), ("SUNIONSTORE", "d2", "a", "b"), ("SDIFFSTORE", "d3", "a", "b"),
    ("SINTERSTORE", "d1", "a", "nos"), ("SDIFFSTORE", "d9", "nos", "a"), ("SUNIONSTORE", "d2", "nos"),
    ("SREM", "s1", "b", "c"), ("SREM", "s1", "x"),
    ("SMEMBERS", "a"), ("SCARD", "a"), ("SISMEMBER", "a", "1"), ("SINTER", "a", "b"),
    ("DEL", "a", "b", "s4", "d3"),
]

HASH = [
    ("HSET", "h1", "a", "1", "b", "2"), ("HSET", "h1", "a", "1"), ("HMSET", "h1", "c", "3"),
    ("HSETNX", "h1", "c", "4"), ("HSETNX", "h1", "d", "4"),
    ("HDEL", "h1", "a", "zz"), ("HDEL", "h1", "zz"),
    ("HINCRBY", "h1", "n", "5"), ("HINCRBYFLOAT", "h1", "f", "1.5"),
    ("HDEL", "h1", "b", "c", "d", "n", "f"),
    ("HGET", "h1", "a"), ("HGETALL", "h1"), ("HLEN", "h1"),
    ("HSET", "h2", "x", "y"), ("DEL", "h2"),
]

ZSET = [
    ("ZADD", "z1", "1", "a", "2", "b", "3", "c"), ("ZADD", "z1", "1", "a"), ("ZADD", "z1", "5", "a"),
    ("ZADD", "z1", "INCR", "1", "a"), ("ZADD", "z1", "NX", "1", "a"), ("ZADD", "z1", "XX", "1", "zz"),
    ("ZINCRBY", "z1", "2", "b"), ("ZINCRBY", "z1", "2", "new"),
    ("ZREM", "z1", "new", "zz"), ("ZREM", "z1", "zz"),
    ("ZADD", "z2", "1", "a", "2", "b", "3", "c", "4", "d"),
    ("ZPOPMIN", "z2"), ("ZPOPMAX", "z2"), ("ZPOPMIN", "z2", "5"), ("ZPOPMIN", "noz"),
    ("ZADD", "z3", "1", "a", "2", "b", "3", "c", "4", "d"),
    ("ZREMRANGEBYSCORE", "z3", "1", "1"), ("ZREMRANGEBYRANK", "z3", "0", "0"),
    ("ZREMRANGEBYLEX", "z3", "-", "+"), ("ZREMRANGEBYSCORE", "z3", "1", "1"),
    ("ZADD", "za", "1", "a", "2", "b"), ("ZADD", "zb", "3", "b", "4", "c"),
    ("ZINTERSTORE", "zd1", "2", "za", "zb"), ("ZUNIONSTORE", "zd2", "2", "za", "zb"),
    ("ZDIFFSTORE", "zd3", "2", "za", "zb"), ("ZINTERSTORE", "zd1", "2", "za", "noz"),
    ("ZRANGESTORE", "zd4", "za", "0", "-1"), ("ZRANGESTORE", "zd4", "noz", "0", "-1"),
    ("ZMPOP", "2", "noz", "zb", "MIN", "COUNT", "5"),
    ("ZADD", "zc", "1", "a", "2", "b"), ("BZPOPMIN", "zc", "0.01"), ("BZPOPMAX", "zc", "0.01"),
    ("ZADD", "zc", "1", "a"), ("BZMPOP", "0.01", "1", "zc", "MAX"),
    ("ZRANGE", "za", "0", "-1"), ("ZSCORE", "za", "a"), ("ZCARD", "za"),
    ("DEL", "za", "zd2", "zd3"),
]

STREAM = [
    ("XADD", "x1", "1-1", "a", "1"), ("XADD", "x1", "*", "b", "2"), ("XADD", "x1", "1-1", "c", "3"),
    ("XADD", "x1", "MAXLEN", "1", "*", "d", "4"), ("XADD", "x1", "MAXLEN", "5", "*", "e", "5"),
    ("XADD", "x1", "MINID", "0", "*", "f", "6"), ("XADD", "nox", "NOMKSTREAM", "*", "a", "1"),
    ("XADD", "x1", "MAXLEN", "~", "0", "LIMIT", "5", "*", "g", "7"),
    ("XADD", "x2", "1-1", "a", "1"), ("XADD", "x2", "2-1", "a", "1"), ("XADD", "x2", "3-1", "a", "1"),
    ("XDEL", "x2", "1-1", "9-9"), ("XDEL", "x2", "1-1"), ("XDEL", "nox", "1-1"),
    ("XTRIM", "x2", "MAXLEN", "5"), ("XTRIM", "x2", "MAXLEN", "1"), ("XTRIM", "x2", "MINID", "4"),
    ("XTRIM", "x2", "MINID", "4"), ("XTRIM", "nox", "MAXLEN", "0"),
    ("XSETID", "x2", "5-0"), ("XSETID", "x2", "1-0"), ("XSETID", "nox", "1-0"),
    ("XLEN", "x1"), ("XRANGE", "x1", "-", "+"), ("XREVRANGE", "x2", "+", "-"),
    ("EXPIRE", "x2", "100"), ("RENAME", "x2", "x3"), ("COPY", "x3", "x4"), ("DEL", "x1", "x3", "x4"),
    # consumer groups: xgroup-* events, consumers created by reads and claims
    ("XGROUP", "CREATE", "g1", "g", "$", "MKSTREAM"), ("XGROUP", "CREATE", "g1", "g", "$"),
    ("XGROUP", "CREATE", "nog", "g", "$"), ("XADD", "g1", "1-1", "a", "1"), ("XADD", "g1", "2-1", "a", "1"),
    ("XGROUP", "CREATECONSUMER", "g1", "g", "c1"), ("XGROUP", "CREATECONSUMER", "g1", "g", "c1"),
    ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "g1", ">"), ("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "g1", "0"),
    ("XREADGROUP", "GROUP", "g", "c3", "NOACK", "STREAMS", "g1", ">"), ("XACK", "g1", "g", "1-1", "9-9"),
    ("XCLAIM", "g1", "g", "c4", "0", "2-1"), ("XCLAIM", "g1", "g", "c4", "0", "2-1"),
    ("XAUTOCLAIM", "g1", "g", "c5", "0", "0"), ("XAUTOCLAIM", "g1", "g", "c5", "0", "0"),
    ("XGROUP", "SETID", "g1", "g", "0"), ("XGROUP", "SETID", "g1", "g", "$", "ENTRIESREAD", "2"),
    ("XGROUP", "DELCONSUMER", "g1", "g", "c2"), ("XGROUP", "DELCONSUMER", "g1", "g", "c2"),
    ("XGROUP", "DESTROY", "g1", "g"), ("XGROUP", "DESTROY", "g1", "g"),
    ("XPENDING", "g1", "g"), ("XINFO", "STREAM", "g1"), ("XREAD", "STREAMS", "g1", "0"), ("DEL", "g1"),
]

# HyperLogLog: pfadd only when a register changes (PFADD with no elements creates the key),
# PFMERGE's event is pfadd too, PFCOUNT's cache write and PFDEBUG's conversions have none;
# keymiss for the read lookups of several-key PFCOUNT and PFMERGE's sources only.
HLL = [
    ("PFADD", "h1", "a", "b"), ("PFADD", "h1", "a"), ("PFADD", "h2"), ("PFADD", "h2"),
    ("PFCOUNT", "h1"), ("PFCOUNT", "h1"), ("PFCOUNT", "h1", "h2", "nokey"), ("PFCOUNT", "nokey"),
    ("PFMERGE", "h3", "h1", "nokey"), ("PFMERGE", "h3"), ("PFMERGE", "h1", "h2"),
    ("PFDEBUG", "TODENSE", "h1"), ("PFDEBUG", "GETREG", "h3"), ("PFDEBUG", "ENCODING", "h2"),
    ("PFADD", "h1", "c"), ("PFADD", "h1", "c"), ("PFMERGE", "h4", "h1", "h3"),
    ("SET", "str", "x"), ("PFADD", "str", "a"), ("PFCOUNT", "str"), ("PFMERGE", "h5", "str"),
    ("EVAL", "return redis.call('PFADD', KEYS[1], 'z')", "1", "h6"),
    ("PFADD", "h7", "q"), ("PFMERGE", "h8", "h7"), ("PFCOUNT", "h8"),
    ("DEL", "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "str"),
]

MULTI = [
    ("MULTI",), ("SET", "t1", "a"), ("LPUSH", "t2", "x"), ("DEL", "t1"), ("EXEC",),
    ("EVAL", "redis.call('set', KEYS[1], 'v'); redis.call('expire', KEYS[1], 100); return redis.call('del', KEYS[1])", "1", "sk"),
    ("SELECT", "3"), ("SET", "k3", "v"), ("DEL", "k3"), ("SELECT", "0"),
    ("SET", "sort1", "x"), ("RPUSH", "srt", "3", "1", "2"), ("SORT", "srt", "STORE", "sorted"),
    ("MULTI",), ("PFADD", "h7", "q"), ("PFMERGE", "h8", "h7"), ("PFCOUNT", "h8"), ("EXEC",),
    ("SORT", "nolist", "STORE", "sorted"),
    ("FLUSHDB",),
]

READS = [
    ("GET", "nokey"), ("MGET", "a", "nokey"), ("EXISTS", "nokey"), ("TYPE", "nokey"), ("TTL", "nokey"),
    ("PTTL", "nokey"), ("STRLEN", "nokey"), ("GETRANGE", "nokey", "0", "1"), ("LRANGE", "nokey", "0", "1"),
    ("LLEN", "nokey"), ("LINDEX", "nokey", "0"), ("SMEMBERS", "nokey"), ("SCARD", "nokey"),
    ("SISMEMBER", "nokey", "a"), ("HGET", "nokey", "f"), ("HGETALL", "nokey"), ("HLEN", "nokey"),
    ("ZRANGE", "nokey", "0", "-1"), ("ZSCORE", "nokey", "a"), ("ZCARD", "nokey"), ("OBJECT", "ENCODING", "nokey"),
    ("GETDEL", "nokey"), ("GETEX", "nokey"), ("SUNION", "nokey", "nokey2"),
    ("ZUNION", "1", "nokey"), ("SORT", "nokey"), ("LPOS", "nokey", "a"), ("SRANDMEMBER", "nokey"),
    ("HRANDFIELD", "nokey"), ("ZRANDMEMBER", "nokey"), ("SET", "a", "v"), ("GET", "a"),
    ("SET", "s", "v", "GET"), ("SET", "s", "v", "GET"), ("COPY", "nokey", "x"), ("TOUCH", "nokey"),
    ("LCS", "nokey", "a"), ("HEXISTS", "nokey", "f"), ("HSTRLEN", "nokey", "f"), ("ZRANK", "nokey", "a"),
    ("SINTERCARD", "1", "nokey"), ("SMISMEMBER", "nokey", "a"), ("ZMSCORE", "nokey", "a"),
]
# Bitmaps: setbit only for a bit that changes or a string that grows (a new key is also
# "new"); BITOP's destination gets "set", or "del" when every source is missing or empty;
# reads of missing keys are key misses.
BITMAP = [
    ("SETBIT", "b1", "7", "1"), ("SETBIT", "b1", "7", "1"), ("SETBIT", "b1", "7", "0"), ("SETBIT", "b1", "100", "0"),
    ("SETBIT", "b1", "3", "0"), ("SET", "b2", "12"), ("SETBIT", "b2", "0", "0"), ("SETBIT", "b2", "0", "1"),
    ("SETBIT", "b1", "-1", "1"), ("SETBIT", "b1", "1", "2"), ("HSET", "bh", "f", "v"), ("SETBIT", "bh", "1", "1"),
    ("GETBIT", "b1", "7"), ("GETBIT", "nokey", "1"), ("BITCOUNT", "b1"), ("BITCOUNT", "nokey"),
    ("BITPOS", "b1", "1"), ("BITPOS", "nokey", "1"),
    ("BITOP", "AND", "bd", "b1", "b2"), ("BITOP", "OR", "bd", "b1", "nokey"), ("BITOP", "NOT", "bd", "b2"),
    ("BITOP", "XOR", "bd", "nokey", "nokey2"), ("BITOP", "XOR", "bd", "nokey", "nokey2"),
    ("BITOP", "AND", "bd", "b1", "bh"), ("BITOP", "NOT", "bd", "b1", "b2"),
    ("SET", "be", ""), ("BITOP", "OR", "b2", "be"), ("EXPIRE", "b1", "100"), ("BITOP", "OR", "b1", "b1"),
]

# One "setbit" per call that changed something; none for GETs, calls whose every write failed
# (OVERFLOW FAIL) even when they create the key ("new") or grow it, or writes of the value
# already there (unless the call grew the string).
BITFIELD = [
    ("BITFIELD", "b1", "SET", "u8", "0", "1", "INCRBY", "u8", "0", "1", "GET", "u8", "0"),
    ("BITFIELD", "b1", "GET", "u8", "0"), ("BITFIELD_RO", "b1", "GET", "i4", "#1"),
    ("BITFIELD", "b2", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300"),
    ("BITFIELD", "b2", "OVERFLOW", "FAIL", "SET", "i8", "#9", "300"),
    ("BITFIELD", "b2", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", "INCRBY", "u8", "0", "3"),
    ("BITFIELD", "b3", "GET", "u8", "0"), ("BITFIELD_RO", "b3", "GET", "u8", "0"),
    ("BITFIELD", "b1", "GET", "x8", "0"), ("BITFIELD", "b1", "SET", "u8", "0", "x"),
    ("BITFIELD_RO", "b1", "SET", "u8", "0", "1"), ("RPUSH", "bl", "a"), ("BITFIELD", "bl", "SET", "u8", "0", "1"),
    ("SET", "b4", "12"), ("BITFIELD", "b4", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "255"),
    ("SETRANGE", "b4", "3", "x"), ("BITFIELD", "b4", "SET", "i64", "#1", "-1"),
    ("BITFIELD", "b4", "SET", "i64", "#1", "-1", "INCRBY", "u8", "0", "0"),
    ("BITFIELD", "b4", "SET", "u8", "#20", "0"), ("BITFIELD", "b5", "SET", "u8", "0", "0"),
    ("DEL", "b1", "b2", "b4", "b5"),
]


# DUMP/RESTORE: "restore" for a key created, with or without REPLACE or a TTL; "del" only for
# a key REPLACE deleted under a TTL already past; a DUMP of a missing key is a keymiss; errors
# and BUSYKEY send nothing.
HELLO_PAYLOAD = b"\x00\x05hello\x0b\x00\x0a\xadb\x05\x98\xab\xc9\x83"
DUMP = [
    ("RESTORE", "d1", "0", HELLO_PAYLOAD), ("RESTORE", "d1", "0", HELLO_PAYLOAD),
    ("RESTORE", "d1", "0", HELLO_PAYLOAD, "REPLACE"), ("RESTORE", "d2", "100000", HELLO_PAYLOAD),
    ("RESTORE", "d3", "4102444800000", HELLO_PAYLOAD, "ABSTTL", "IDLETIME", "5"),
    ("RESTORE", "d4", "1", HELLO_PAYLOAD, "ABSTTL"), ("RESTORE", "d1", "1", HELLO_PAYLOAD, "ABSTTL", "REPLACE"),
    ("RESTORE", "d5", "0", b"bad payload"), ("RESTORE", "d5", "0", HELLO_PAYLOAD, "FREQ", "300"),
    ("RESTORE-ASKING", "d6", "0", HELLO_PAYLOAD), ("DUMP", "d6"), ("DUMP", "nosuch"),
    ("RPUSH", "d7", "a"), ("RESTORE", "d7", "0", HELLO_PAYLOAD, "REPLACE"), ("DEL", "d2", "d3", "d6", "d7"),
]


GEO = [
    ("GEOADD", "geo1", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"),
    ("GEOADD", "geo1", "13.361389", "38.115556", "Palermo"), ("GEOADD", "geo1", "XX", "CH", "13.5", "38.1", "Palermo"),
    ("GEOADD", "geo1", "NX", "1", "1", "Palermo"), ("GEOADD", "geo1", "200", "0", "bad"),
    ("GEOADD", "geo1", "XX", "1", "1", "nosuch"),
    ("GEOSEARCHSTORE", "geo2", "geo1", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"),
    ("GEOSEARCHSTORE", "geo2", "geo1", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST"),
    ("GEOSEARCHSTORE", "geo2", "geo1", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"),
    ("GEOSEARCHSTORE", "geo2", "geo1", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"),
    ("GEOSEARCHSTORE", "geo2", "nogeo", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "m"),
    ("GEORADIUS", "geo1", "15", "37", "200", "km", "STORE", "geo3"),
    ("GEORADIUS", "geo1", "15", "37", "200", "km", "STOREDIST", "geo3"),
    ("GEORADIUSBYMEMBER", "geo1", "Catania", "1", "m", "STORE", "geo4"),
    ("GEORADIUS", "nogeo", "15", "37", "200", "km", "STORE", "geo3"),
    ("GEORADIUSBYMEMBER", "nogeo", "x", "1", "m", "STORE", "geo4"),
    ("GEOSEARCH", "geo1", "FROMMEMBER", "Catania", "BYRADIUS", "1", "km"), ("GEOPOS", "geo1", "Catania"),
    ("GEODIST", "geo1", "Palermo", "Catania"), ("GEOHASH", "geo1", "Palermo"),
    ("GEORADIUS_RO", "geo1", "15", "37", "200", "km"), ("DEL", "geo1"),
]

FAMILIES = {
    "reads": READS,
    "generic": GENERIC,
    "string": STRING,
    "list": LIST,
    "set": SET,
    "hash": HASH,
    "zset": ZSET,
    "stream": STREAM,
    "bitmap": BITMAP,
    "bitfield": BITFIELD,
    "geo": GEO,
    "hll": HLL,
    "dump": DUMP,
    "multi": MULTI,
}

FLAG_SETS = ["KEA", "KA", "Elg$", "Kx", "En", "AKEn", "Kszh", "KEAm", "Et"]

END = b"zz-end-marker"


def drain_until_end(c, sub):
    """Publish the end marker, read every message before it, and switch notifications off."""
    c.command("PUBLISH", b"__keyspace@0__:" + END, "end")
    msgs = []
    while True:
        m = sub.read_reply()
        if END in m:
            break
        msgs.append(m)
        assert len(msgs) < 2000, "no end marker"
    c.command("CONFIG", "SET", "notify-keyspace-events", "")
    return msgs


def collect(server, protocol, flags, commands):
    sub = RawConnection(server.port)
    c = RawConnection(server.port)
    try:
        c.command("FLUSHALL")
        assert c.command("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
        if protocol == 3:
            assert sub.command("HELLO", "3")[:1] == b"%"
        sub.command("PSUBSCRIBE", "__key*__:*")
        replies = []
        for cmd in commands:
            replies.append(c.command(*cmd))
        return drain_until_end(c, sub), replies
    finally:
        sub.close()
        c.close()


def show(m):
    return m.replace(b"\r\n", b" ")


def diff_text(want, got):
    lines = []
    for i in range(max(len(want), len(got))):
        a = want[i] if i < len(want) else b"-"
        b = got[i] if i < len(got) else b"-"
        mark = "  " if a == b else "!!"
        lines.append(f"{mark} redis: {show(a)!r}\n   {subject_name()}: {show(b)!r}")
    return "\n".join(lines)


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("flags", FLAG_SETS)
@pytest.mark.parametrize("family", list(FAMILIES))
def test_notifications_match(pair, family, flags, protocol):
    (want, wr), (got, gr) = [collect(s, protocol, flags, FAMILIES[family]) for s in pair]
    if family == "stream":
        want = stream_events_as_72(want)
    assert got == want, f"notifications differ for {family} with {flags!r}:\n" + diff_text(want, got)


def test_config_get_canonical(pair):
    for s in pair:
        c = RawConnection(s.port)
        for raw, shown in [("KEA", b"AKE"), ("Elg$", b"g$lE"), ("Kx", b"xK"), ("En", b"nE"), ("", b"")]:
            assert c.command("CONFIG", "SET", "notify-keyspace-events", raw) == b"+OK\r\n"
            r = c.command("CONFIG", "GET", "notify-keyspace-events")
            assert shown in r, (raw, r)
        c.close()


PAD = "for i=1,5000 do redis.call('set', 'pad'..i, 'v', 'EX', 100000) end"


def lazy_run(s, protocol):
    sub = RawConnection(s.port)
    c = RawConnection(s.port)
    try:
        c.command("FLUSHALL")
        # Active expiry samples keys with a TTL: among 5000 long-lived ones (and hz 1) it is
        # unlikely to reach the four short-lived keys before the commands below do.
        c.command("EVAL", PAD, "0")
        c.command("CONFIG", "SET", "notify-keyspace-events", "KEA")
        if protocol == 3:
            sub.command("HELLO", "3")
        sub.command("PSUBSCRIBE", "__key*__:*")
        c.command("SET", "k", "v", "PX", "50")
        c.command("SET", "k2", "v", "PX", "50")
        c.command("RPUSH", "k3", "v")
        c.command("PEXPIRE", "k3", "50")
        c.command("SET", "k4", "v", "PX", "50")
        time.sleep(0.15)
        c.command("GET", "k")
        c.command("SET", "k2", "new")
        c.command("RPUSH", "k3", "w")
        c.command("EXISTS", "k4")
        return drain_until_end(c, sub)
    finally:
        sub.close()
        c.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_lazy_expiry(protocol):
    servers = start_pair({"hz": "1"})
    try:
        # Retried: the cron may still win a race for one key now and then.
        for attempt in range(3):
            want, got = [lazy_run(s, protocol) for s in servers]
            if got == want:
                break
        assert got == want, "lazy expiry notifications differ:\n" + diff_text(want, got)
        assert any(b"expired" in m for m in want)
    finally:
        stop_pair(servers)


def test_active_expiry(pair):
    results = []
    for s in pair:
        sub = RawConnection(s.port)
        c = RawConnection(s.port)
        c.command("FLUSHALL")
        c.command("CONFIG", "SET", "notify-keyspace-events", "Ex")
        sub.command("PSUBSCRIBE", "__key*__:*")
        for i in range(20):
            c.command("SET", f"a{i}", "v", "PX", "30")
        c.command("SELECT", "1")
        c.command("SET", "b", "v", "PX", "30")
        msgs = set()
        deadline = time.time() + 5
        while len(msgs) < 21 and time.time() < deadline:
            msgs.add(sub.read_reply())
        c.command("CONFIG", "SET", "notify-keyspace-events", "")
        results.append(msgs)
        sub.close()
        c.close()
    want, got = results
    assert len(want) == 21
    assert got == want, f"active expiry: missing {want - got!r}, extra {got - want!r}"


@pytest.mark.parametrize("flags", ["KEA", "AKEn"])
def test_blocked_clients_served(pair, flags):
    """A client blocked on a key is served after the write that fills it: the pusher's
    event, then the blocked pop's events (and the del of the emptied key)."""
    results = []
    for s in pair:
        sub = RawConnection(s.port)
        c = RawConnection(s.port)
        b = RawConnection(s.port)
        try:
            c.command("FLUSHALL")
            c.command("CONFIG", "SET", "notify-keyspace-events", flags)
            sub.command("PSUBSCRIBE", "__key*__:*")
            for block, fill in [
                (("BLPOP", "bl", "5"), ("RPUSH", "bl", "a")),
                (("BLMOVE", "bl2", "dst", "LEFT", "RIGHT", "5"), ("LPUSH", "bl2", "a", "b")),
                (("BZPOPMIN", "bz", "5"), ("ZADD", "bz", "1", "a")),
                (("BLMPOP", "5", "1", "bl3", "RIGHT", "COUNT", "2"), ("RPUSH", "bl3", "a", "b", "c")),
            ]:
                b.send_command(*block)
                while c.command("CLIENT", "LIST", "TYPE", "normal").count(b"flags=b") == 0:
                    time.sleep(0.01)
                c.command(*fill)
                b.read_reply()
            results.append(drain_until_end(c, sub))
        finally:
            for x in (sub, c, b):
                x.close()
    want, got = results
    assert got == want, "served blocked clients' notifications differ:\n" + diff_text(want, got)


def self_run(server, commands):
    """A RESP3 client subscribed to its own keyspace events runs `commands`: everything it
    receives per command (events and reply, in order) up to a PING's PONG."""
    c = RawConnection(server.port)
    try:
        c.command("FLUSHALL")
        c.command("CONFIG", "SET", "notify-keyspace-events", "KEA")
        c.command("HELLO", "3")
        c.command("PSUBSCRIBE", "__key*@0__:*")
        out = []
        for cmd in commands:
            c.send_raw(encode_command(cmd) + encode_command(("PING",)))
            stream, pos, got = c.read_until(b"+PONG\r\n")[:-7], 0, []
            while pos < len(stream):
                # (Redis 7.0 put some events amid the reply's array: they come after it.)
                held = []
                r, pos = _value(stream, pos, held)
                # Where the reply sits is compared here, not what it is (SPOP is random).
                got += [r if r.startswith(b">") else b"<reply>", *held]
            out.append((cmd, got))
        c.command("CONFIG", "SET", "notify-keyspace-events", "")
        return out
    finally:
        c.close()


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "multi"])
def test_own_events_where_redis_puts_them(pair, family):
    """Events of a RESP3 client's own commands sit in its reply stream where Redis 7.2 puts
    them: after the command's reply (7.0 put some before it)."""
    want, got = [self_run(s, FAMILIES[family]) for s in pair]
    want = [(c, own_as_72(w)) for c, w in want]
    if family == "stream":
        want = [(c, own_stream_as_72(c, w)) for c, w in want]
    bad = [f"{' '.join(map(str, c))}:\n   redis {[show(x) for x in w]!r}\n   {subject_name()} {[show(x) for x in g]!r}"
           for (c, w), (_, g) in zip(want, got) if w != g]
    assert not bad, "own events misplaced:\n" + "\n".join(bad)


# In a list of transactions for `exec_stream`: wait 50 ms (short TTLs run out).
PAUSE = object()


def exec_stream(server, transactions, flags="KEA"):
    """A RESP3 client subscribed to its own keyspace events runs each transaction (commands
    between MULTI and EXEC, sent in one write) and a PING: the bytes it receives, whole."""
    c = RawConnection(server.port)
    try:
        c.command("FLUSHALL")
        c.command("CONFIG", "SET", "notify-keyspace-events", flags)
        c.command("HELLO", "3")
        c.command("PSUBSCRIBE", "__key*@0__:*")
        out = []
        for txn in transactions:
            if txn is PAUSE:
                time.sleep(0.05)
                continue
            c.send_raw(b"".join(encode_command(cmd) for cmd in [("MULTI",), *txn, ("EXEC",), ("PING",)]))
            out.append((txn, c.read_until(b"+PONG\r\n")))
        c.command("CONFIG", "SET", "notify-keyspace-events", "")
        return out
    finally:
        c.close()


EXEC_TXNS = [
    [("SET", "t1", "a"), ("LPUSH", "t2", "x", "y"), ("DEL", "t1")],
    [("HSET", "h", "f", "v"), ("HINCRBY", "h", "n", "1"), ("EXPIRE", "h", "100"), ("PERSIST", "h"),
     ("SADD", "s", "a"), ("SREM", "s", "a"), ("ZADD", "z", "1", "m"), ("ZINCRBY", "z", "2", "m")],
    # A command failing at run time inside EXEC, a script, moves and renames.
    [("INCR", "t2"), ("EVAL", "redis.call('set', KEYS[1], 'v'); return redis.call('del', KEYS[1])", "1", "sk"),
     ("LMOVE", "t2", "t3", "LEFT", "RIGHT"), ("RENAME", "h", "h2"), ("GETDEL", "h2")],
    # Reads only, then an error at queue time (EXECABORT: nothing runs, no event).
    [("GET", "t3"), ("LLEN", "t2")],
    [("SET", "q", "1"), ("NOSUCHCOMMAND",), ("DEL", "t2")],
    [("SET", "e", "v", "PX", "1"), ("PEXPIREAT", "t3", "1"), ("FLUSHDB",)],
]


# A key that expires between two transactions is expired lazily by the second one ("expired"
# then the command's own events); "new" events with the n flag.
EXEC_EXPIRY_TXNS = [
    [("SET", "x1", "v", "PX", "20"), ("SET", "x2", "v", "PX", "20"), ("RPUSH", "x3", "a")],
    PAUSE,
    [("GET", "x1"), ("SET", "x2", "w"), ("RENAME", "x3", "x4"), ("COPY", "x4", "x5"), ("MOVE", "x5", "1")],
]


def test_own_events_inside_exec(pair):
    """Events of a RESP3 client's own commands run by EXEC: the same bytes as redis-server,
    pushes after EXEC's whole array (Redis 7.0 put them between its elements)."""
    want, got = [exec_stream(s, EXEC_TXNS) for s in pair]
    want = [(txn, exec_as_72(w)) for txn, w in want]
    bad = [f"{txn}:\n   redis {w!r}\n   {subject_name()} {g!r}" for (txn, w), (_, g) in zip(want, got) if w != g]
    assert not bad, "own events inside EXEC differ:\n" + "\n".join(bad)


def test_own_events_inside_exec_expired_and_new():
    """The same with lazily expired keys (active expiry off on both) and "new" events."""
    servers = start_pair_without_active_expiry()
    try:
        want, got = [exec_stream(s, EXEC_EXPIRY_TXNS, "KEAn") for s in servers]
        want = [(txn, exec_as_72(w)) for txn, w in want]
    finally:
        stop_pair(servers)
    bad = [f"{txn}:\n   redis {w!r}\n   {subject_name()} {g!r}" for (txn, w), (_, g) in zip(want, got) if w != g]
    assert not bad, "own events inside EXEC differ:\n" + "\n".join(bad)
