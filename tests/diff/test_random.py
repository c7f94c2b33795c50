"""Randomized differential test: seeded random sequences of string and key commands over a
small key space, sent to both servers and compared reply by reply (RESP2 and RESP3).

    DIFF_SEED=1234 pytest tests/diff/test_random.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                          # longer runs
"""
import pytest

from random_runner import SEED, random_count, run_random, weighted
from resp import show

COUNT = random_count(3000)

KEYS = [f"k{i}" for i in range(10)]
VALUES = ["0", "1", "-1", "7", "42", "100", "9223372036854775806", "-9223372036854775807",
          "1.5", "-0.5", "3e2", "", "a", "abc", "hello world", "x" * 50, "\x00\xff", " 1", "01",
          "12345678901234567890"]


class Generator:
    def __init__(self, rng):
        self.r = rng

    def key(self):
        return self.r.choice(KEYS)

    def val(self):
        r = self.r
        if r.random() < 0.7:
            return r.choice(VALUES)
        return str(r.randint(-1000, 1000))

    def small_int(self):
        return str(self.r.choice([0, 1, -1, 2, 3, 5, 10, -5, 100, 9223372036854775807, -9223372036854775808]))

    def ttl(self):
        # Large TTLs only: expiry must not race between the two servers.
        return str(self.r.choice([1000, 5000, 100000, 99999]))

    def command(self):
        r, k, v = self.r, self.key, self.val
        choices = [
            (10, lambda: ["SET", k(), v()]),
            (3, lambda: ["SET", k(), v(), r.choice(["NX", "XX"])]),
            (3, lambda: ["SET", k(), v(), "GET"]),
            (2, lambda: ["SET", k(), v(), "EX", self.ttl()]),
            (1, lambda: ["SET", k(), v(), "KEEPTTL"]),
            (1, lambda: ["SET", k(), v(), "PX", str(int(self.ttl()) * 1000), r.choice(["NX", "XX", "GET"])]),
            (8, lambda: ["GET", k()]),
            (2, lambda: ["GETDEL", k()]),
            (2, lambda: ["GETSET", k(), v()]),
            (2, lambda: ["GETEX", k()] + r.choice([[], ["PERSIST"], ["EX", self.ttl()]])),
            (4, lambda: ["APPEND", k(), v()]),
            (3, lambda: ["STRLEN", k()]),
            (4, lambda: ["INCR", k()]),
            (3, lambda: ["DECR", k()]),
            (3, lambda: ["INCRBY", k(), self.small_int()]),
            (2, lambda: ["DECRBY", k(), self.small_int()]),
            (2, lambda: ["INCRBYFLOAT", k(), r.choice(["1.5", "-0.25", "10", "0.1", "3e2", "abc"])]),
            (3, lambda: ["SETRANGE", k(), str(r.randint(0, 20)), v()]),
            (4, lambda: ["GETRANGE", k(), str(r.randint(-12, 12)), str(r.randint(-12, 12))]),
            (2, lambda: ["SUBSTR", k(), str(r.randint(-5, 5)), str(r.randint(-5, 20))]),
            (3, lambda: ["MGET"] + [k() for _ in range(r.randint(1, 4))]),
            (2, lambda: ["MSET"] + [x for _ in range(r.randint(1, 3)) for x in (k(), v())]),
            (2, lambda: ["MSETNX"] + [x for _ in range(r.randint(1, 3)) for x in (k(), v())]),
            (2, lambda: ["SETNX", k(), v()]),
            (1, lambda: ["SETEX", k(), self.ttl(), v()]),
            (1, lambda: ["PSETEX", k(), str(int(self.ttl()) * 1000), v()]),
            (1, lambda: ["LCS", k(), k()] + r.choice([[], ["LEN"], ["IDX"], ["IDX", "WITHMATCHLEN", "MINMATCHLEN", "2"]])),
            (4, lambda: ["DEL"] + [k() for _ in range(r.randint(1, 3))]),
            (1, lambda: ["UNLINK", k()]),
            (4, lambda: ["EXISTS"] + [k() for _ in range(r.randint(1, 3))]),
            (2, lambda: ["TYPE", k()]),
            (2, lambda: ["RENAME", k(), k()]),
            (2, lambda: ["RENAMENX", k(), k()]),
            (2, lambda: ["COPY", k(), k()] + r.choice([[], ["REPLACE"]])),
            (1, lambda: ["TOUCH", k(), k()]),
            # GT/LT only against absolute times: comparing two relative TTLs of the same size
            # would race with the clock differently on the two servers.
            (3, lambda: ["EXPIRE", k(), self.ttl()] + r.choice([[], ["NX"], ["XX"]])),
            (1, lambda: ["PEXPIRE", k(), str(int(self.ttl()) * 1000)] + r.choice([[], ["NX"], ["XX"]])),
            (2, lambda: ["EXPIREAT", k(), str(r.choice([9999999999, 9999999000, 9000000000]))]
             + r.choice([[], ["NX"], ["XX"], ["GT"], ["LT"]])),
            (1, lambda: ["PEXPIREAT", k(), str(r.choice([9999999999123, 9500000000500]))]
             + r.choice([[], ["GT"], ["LT"]])),
            (2, lambda: ["PERSIST", k()]),
            (3, lambda: ["TTL", k()]),
            (1, lambda: ["PTTL", k()]),
            (1, lambda: ["EXPIRETIME", k()]),
            (1, lambda: ["OBJECT", "ENCODING", k()]),
            (2, lambda: ["KEYS", r.choice(["*", "k1*", "k[1-4]", "k?", "x*"])]),
            (1, lambda: ["DBSIZE"]),
            (1, lambda: ["MOVE", k(), r.choice(["1", "2"])]),
            (1, lambda: ["SELECT", r.choice(["0", "0", "0", "1"])]),
            (1, lambda: ["COPY", k(), k(), "DB", r.choice(["0", "1"])] + r.choice([[], ["REPLACE"]])),
            (1, lambda: ["SWAPDB", "0", "1"]),
        ]
        return weighted(r, choices)


def mods_for(cmd):
    name = cmd[0]
    if name == "TTL":
        return {"approx": "1"}
    if name in ("PTTL",):
        return {"approx": "1000"}
    if name == "EXPIRETIME":
        return {"approx": "1"}
    if name == "KEYS":
        return {"unordered": True}
    return {}


def final_state(conns):
    """Every key in every database the commands reach must be equal."""
    for db in ("0", "1", "2"):
        for c in conns:
            c.command("SELECT", db)
        for k in KEYS:
            a, b = (c.command("GET", k) for c in conns)
            assert a == b, f"{k} in db {db}: {show(a)} vs {show(b)}"


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_commands(protocol):
    run_random("random differential test", protocol, SEED + protocol, Generator, COUNT,
               mods_for=mods_for, final_check=final_state)
