"""Randomized differential test for hashes and sets: seeded random sequences of hash and
set commands over a small key space (so commands meet WRONGTYPE, missing keys, overwrites
and conversions past the listpack thresholds), sent to both servers and compared reply by
reply in RESP2 and RESP3.

Orders that depend on the encoding (hash tables; string sets, which are listpacks in Redis
7.2 but hash tables in the 7.0 oracle) are compared as multisets; random replies by shape.
SPOP is left out (it would make the two keyspaces diverge); tests/diff/test_random_members.py
checks it.

    DIFF_SEED=1234 pytest tests/diff/test_random_hashset.py
    DIFF_RANDOM_COUNT=20000 ...
"""
import pytest

from random_runner import SEED, random_count, run_random, weighted
from resp import parse

COUNT = random_count(3000)

KEYS = [f"k{i}" for i in range(8)]
FIELDS = [f"f{i}" for i in range(12)] + ["", "x" * 70]
VALUES = ["0", "1", "-1", "42", "127", "128", "-129", "70000", "9223372036854775807", "-9223372036854775808",
          "01", "-0", " 1", "1.5", "abc", "", "x" * 30, "y" * 65, "\x00\xff"]


class Generator:
    def __init__(self, rng):
        self.r = rng

    def key(self):
        return self.r.choice(KEYS)

    def keys(self, lo=1, hi=4):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def field(self):
        r = self.r
        return r.choice(FIELDS) if r.random() < 0.8 else f"g{r.randint(0, 300)}"

    def val(self):
        r = self.r
        return r.choice(VALUES) if r.random() < 0.7 else str(r.randint(-500, 500))

    def member(self):
        r = self.r
        x = r.random()
        if x < 0.5:
            return str(r.randint(-20, 200))
        if x < 0.8:
            return r.choice(VALUES)
        return f"m{r.randint(0, 150)}"

    def pairs(self, n):
        return [x for _ in range(n) for x in (self.field(), self.val())]

    def command(self):
        r, k, f, v, m = self.r, self.key, self.field, self.val, self.member
        many = lambda lo, hi: [m() for _ in range(r.randint(lo, hi))]  # noqa: E731
        choices = [
            (10, lambda: ["HSET", k()] + self.pairs(r.choice([1, 1, 2, 3, 40]))),
            (2, lambda: ["HMSET", k()] + self.pairs(r.randint(1, 3))),
            (1, lambda: ["HSET", k(), f()]),
            (3, lambda: ["HSETNX", k(), f(), v()]),
            (6, lambda: ["HGET", k(), f()]),
            (2, lambda: ["HMGET", k()] + [f() for _ in range(r.randint(1, 4))]),
            (3, lambda: ["HDEL", k()] + [f() for _ in range(r.randint(1, 5))]),
            (2, lambda: ["HEXISTS", k(), f()]),
            (2, lambda: ["HSTRLEN", k(), f()]),
            (3, lambda: ["HLEN", k()]),
            (2, lambda: ["HGETALL", k()]),
            (1, lambda: ["HKEYS", k()]),
            (1, lambda: ["HVALS", k()]),
            (4, lambda: ["HINCRBY", k(), f(), r.choice(["1", "-1", "100", "x", "9223372036854775807", "-5"])]),
            (3, lambda: ["HINCRBYFLOAT", k(), f(), r.choice(["1.5", "-0.25", "10", "3e2", "abc", "inf"])]),
            (2, lambda: ["HRANDFIELD", k(), str(r.choice([0, 1, 3, 1000, -2, -5]))]
             + r.choice([[], ["WITHVALUES"]])),
            (10, lambda: ["SADD", k()] + many(1, r.choice([3, 3, 3, 140]))),
            (4, lambda: ["SREM", k()] + many(1, 6)),
            (4, lambda: ["SISMEMBER", k(), m()]),
            (2, lambda: ["SMISMEMBER", k()] + many(1, 4)),
            (3, lambda: ["SCARD", k()]),
            (2, lambda: ["SMEMBERS", k()]),
            (3, lambda: ["SMOVE", k(), k(), m()]),
            (2, lambda: ["SINTER"] + self.keys()),
            (2, lambda: ["SUNION"] + self.keys()),
            (2, lambda: ["SDIFF"] + self.keys()),
            (2, lambda: ["SINTERSTORE", k()] + self.keys()),
            (2, lambda: ["SUNIONSTORE", k()] + self.keys()),
            (2, lambda: ["SDIFFSTORE", k()] + self.keys()),
            (2, lambda: ["SINTERCARD", "2", k(), k()] + r.choice([[], ["LIMIT", str(r.randint(0, 5))]])),
            (2, lambda: ["SRANDMEMBER", k(), str(r.choice([0, 1, 1000, -3]))]),
            (2, lambda: ["DEL", k()]),
            (1, lambda: ["SET", k(), v()]),
            (2, lambda: ["TYPE", k()]),
            (1, lambda: ["EXISTS", k()]),
            (1, lambda: ["RENAME", k(), k()]),
            (1, lambda: ["COPY", k(), k(), "REPLACE"]),
        ]
        return weighted(r, choices)


UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS"}


def mods_for(cmd):
    name = cmd[0]
    if name in UNORDERED:
        return {"unordered": True}
    if name == "HGETALL":
        return {"sortkeys": True}
    if name in ("HRANDFIELD", "SRANDMEMBER"):
        return {"shape": True}
    return {}


def _snapshot(conn, key):
    t = conn.command("TYPE", key)
    if t == b"+hash\r\n":
        node = parse(conn.command("HGETALL", key))
        ch = [c.raw for c in node.children]
        return t, sorted(zip(ch[0::2], ch[1::2]))
    if t == b"+set\r\n":
        return t, sorted(c.raw for c in parse(conn.command("SMEMBERS", key)).children)
    return t, conn.command("GET", key) if t == b"+string\r\n" else None


def final_state(conns):
    for k in KEYS:
        a, b = (_snapshot(c, k) for c in conns)
        assert a == b, f"{k}: {a} vs {b}"


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_hash_set_commands(protocol):
    run_random("random hash/set differential test", protocol, SEED + protocol, Generator, COUNT,
               mods_for=mods_for, final_check=final_state)
