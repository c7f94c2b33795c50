"""Randomized differential test for DEBUG DIGEST and DEBUG DIGEST-VALUE: seeded random write
sequences over every type (strings, HyperLogLogs, lists, sets, hashes, sorted sets, streams
with groups), in three databases, with TTLs, RENAME/COPY/MOVE/SWAPDB, sent to both servers and
compared reply by reply; DEBUG DIGEST and DEBUG DIGEST-VALUE of random keys are among the
commands, so every state the run goes through is fingerprinted on both sides. Thresholds are
small, so values cross between their encodings (the digest must not depend on them). At the
end the digest of the whole dataset and of every key of every database are compared.

Only deterministic commands: no SPOP/SRANDMEMBER, stream ids given (`ms-*` at most), TTLs far
away (a digest counts a key with a TTL, and a key that expired before its reaper ran).

    DIFF_SEED=1234 pytest tests/diff/test_random_digest.py
    DIFF_RANDOM_COUNT=20000 ...
"""
import pytest

from random_runner import SEED, random_count, run_random, weighted

COUNT = random_count(3000)

DBS = ["0", "1", "2"]
TYPES = {
    "str": [f"s{i}" for i in range(4)],
    "list": [f"l{i}" for i in range(4)],
    "set": [f"t{i}" for i in range(4)],
    "hash": [f"h{i}" for i in range(4)],
    "zset": [f"z{i}" for i in range(4)],
    "stream": [f"x{i}" for i in range(3)],
    "hll": ["p0", "p1"],
}
ALL_KEYS = [k for keys in TYPES.values() for k in keys]
VALUES = ["0", "1", "-1", "42", "9223372036854775807", "-9223372036854775808", "007", "1.5", "abc", "",
          "x" * 30, "y" * 50, "\x00\xff\r\n"]
SCORES = ["0", "-0", "1", "-1", "1.5", "0.1", "-2.25", "1e300", "-1e-300", "inf", "-inf", "123456789012345678",
          "3.141592653589793", "1e17", "5e-324"]
CONFIG = {
    "enable-debug-command": "yes",
    "list-max-listpack-size": "4",
    "set-max-intset-entries": "6",
    "set-max-listpack-entries": "6",
    "hash-max-listpack-entries": "6",
    "zset-max-listpack-entries": "6",
    "stream-node-max-entries": "3",
}


class Generator:
    def __init__(self, rng):
        self.r = rng
        self.ms = 1  # stream ids grow, so most XADDs add (an id below a stream's top is refused)

    def key(self, kind=None):
        return self.r.choice(TYPES[kind] if kind else ALL_KEYS)

    def val(self):
        r = self.r
        return r.choice(VALUES) if r.random() < 0.6 else str(r.randint(-300, 300))

    def member(self):
        r = self.r
        return str(r.randint(-10, 40)) if r.random() < 0.5 else r.choice(["a", "b", "c", "", "long" * 20]) + str(r.randint(0, 9))

    def score(self):
        r = self.r
        return r.choice(SCORES) if r.random() < 0.5 else repr(r.uniform(-1000, 1000))

    def many(self, make, lo=1, hi=5):
        return [make() for _ in range(self.r.randint(lo, hi))]

    def ttl(self):
        r = self.r
        return r.choice([["EX", "100000"], ["PX", "99999999"], ["EXAT", "99999999999"], []])

    def xadd(self):
        r = self.r
        self.ms += r.randint(0, 2)
        trim = r.choice([[], [], ["MAXLEN", str(r.randint(0, 6))], ["MINID", f"{self.ms - r.randint(0, 20)}-0"]])
        fields = [x for _ in range(r.randint(1, 3)) for x in (r.choice(["f", "g", "n"]), self.val())]
        return ["XADD", self.key("stream")] + trim + [f"{self.ms}-*"] + fields

    def digest_values(self):
        return ["DEBUG", "DIGEST-VALUE"] + self.many(self.key, 0, 6)

    def command(self):
        r, k, v, m = self.r, self.key, self.val, self.member
        choices = [
            (6, lambda: ["SET", k("str"), v()] + self.ttl()),
            (2, lambda: ["APPEND", k("str"), v()]),
            (2, lambda: ["INCRBY", k("str"), str(r.randint(-5, 5))]),
            (1, lambda: ["SETRANGE", k("str"), str(r.randint(0, 40)), v()]),
            (3, lambda: ["PFADD", k("hll")] + self.many(m, 1, 8)),
            (6, lambda: [r.choice(["RPUSH", "LPUSH"]), k("list")] + self.many(v)),
            (2, lambda: [r.choice(["LPOP", "RPOP"]), k("list")] + r.choice([[], ["2"]])),
            (1, lambda: ["LSET", k("list"), str(r.randint(-4, 4)), v()]),
            (1, lambda: ["LINSERT", k("list"), r.choice(["BEFORE", "AFTER"]), v(), v()]),
            (1, lambda: ["LREM", k("list"), str(r.randint(-2, 2)), v()]),
            (1, lambda: ["LTRIM", k("list"), str(r.randint(0, 3)), str(r.randint(-3, 10))]),
            (6, lambda: ["SADD", k("set")] + self.many(m, 1, 6)),
            (3, lambda: ["SADD", k("set")] + self.many(lambda: str(r.randint(-50, 50)), 1, 4)),
            (2, lambda: ["SREM", k("set")] + self.many(m)),
            (1, lambda: ["SMOVE", k("set"), k("set"), m()]),
            (1, lambda: [r.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), k("set"), k("set"), k("set")]),
            (6, lambda: ["HSET", k("hash")] + [x for _ in range(r.randint(1, 4)) for x in (m(), v())]),
            (2, lambda: ["HDEL", k("hash")] + self.many(m)),
            (1, lambda: ["HINCRBY", k("hash"), m(), str(r.randint(-3, 3))]),
            (1, lambda: ["HINCRBYFLOAT", k("hash"), m(), r.choice(["0.1", "1.5", "-3"])]),
            (6, lambda: ["ZADD", k("zset")] + [x for _ in range(r.randint(1, 4)) for x in (self.score(), m())]),
            (2, lambda: ["ZINCRBY", k("zset"), r.choice(["0.1", "1", "-2.5"]), m()]),
            (2, lambda: ["ZREM", k("zset")] + self.many(m)),
            (1, lambda: [r.choice(["ZPOPMIN", "ZPOPMAX"]), k("zset")]),
            (1, lambda: [r.choice(["ZUNIONSTORE", "ZINTERSTORE"]), k("zset"), "2", k("zset"), k("zset")]),
            (6, self.xadd),
            (1, lambda: ["XDEL", k("stream"), f"{r.randint(1, self.ms)}-{r.randint(0, 2)}"]),
            (1, lambda: ["XTRIM", k("stream"), "MAXLEN", str(r.randint(0, 5))]),
            (2, lambda: ["XGROUP", "CREATE", k("stream"), r.choice(["g1", "g2"]), "0", "MKSTREAM"]),
            (1, lambda: ["XREADGROUP", "GROUP", r.choice(["g1", "g2"]), "c1", "COUNT", "2", "STREAMS", k("stream"), ">"]),
            (1, lambda: ["XACK", k("stream"), r.choice(["g1", "g2"]), f"{r.randint(1, self.ms)}-0"]),
            (2, lambda: ["EXPIRE", k(), str(r.randint(1000, 100000))]),
            (1, lambda: ["PEXPIREAT", k(), "99999999999999"]),
            (1, lambda: ["PERSIST", k()]),
            (2, lambda: ["DEL", k()]),
            (1, lambda: ["RENAME", k(), k()]),
            (1, lambda: ["COPY", k(), k(), "DB", r.choice(DBS)] + r.choice([[], ["REPLACE"]])),
            (1, lambda: ["MOVE", k(), r.choice(DBS)]),
            (2, lambda: ["SELECT", r.choice(DBS)]),
            (0.3, lambda: ["SWAPDB", r.choice(DBS), r.choice(DBS)]),
            (0.1, lambda: ["FLUSHDB"]),
            (3, lambda: ["DEBUG", "DIGEST"]),
            (4, self.digest_values),
        ]
        return weighted(r, choices)


def final_state(conns):
    for c in conns:
        c.command("SELECT", "0")
    a, b = (c.command("DEBUG", "DIGEST") for c in conns)
    assert a == b, f"DEBUG DIGEST: {a!r} vs {b!r}"
    for db in DBS:
        replies = []
        for c in conns:
            c.command("SELECT", db)
            replies.append(c.command("DEBUG", "DIGEST-VALUE", *ALL_KEYS))
        assert replies[0] == replies[1], f"DEBUG DIGEST-VALUE of every key in db {db}: {replies[0]!r} vs {replies[1]!r}"


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_digest(protocol):
    run_random("random digest test", protocol, SEED + protocol, Generator, COUNT, config=CONFIG,
               final_check=final_state,
               history_len=20, needs_72=True)
