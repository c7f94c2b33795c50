"""Randomized differential test for DUMP and RESTORE: seeded random sequences build values of
every type on both servers (small encoding thresholds, so listpacks, intsets, quicklists,
hashtables and skiplists all occur and convert), with RESTOREs of hand-built payloads under
random options (REPLACE, ABSTTL, IDLETIME, FREQ, TTLs past and future, damaged payloads) and
in-server round trips (EVAL: RESTORE of the DUMP of another key), compared reply by reply
(RESP2 and RESP3). At the end every key is DUMPed on both servers: the payloads are equal
byte for byte except where the representation cannot make them so (hashtable hashes and sets:
Redis's dict order; quicklists, whose node boundaries may differ after LINSERT/LSET/LREM);
then each server's payload is RESTOREd into the other and the copies are read and compared
with the originals (contents, encoding, DUMP of the copy), and so are the counters.

    DIFF_SEED=1234 pytest tests/diff/test_random_dump.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                               # longer runs
"""
import struct

import pytest

from random_runner import SEED, random_count, run_random, same_counters, weighted
from resp import parse, show

COUNT = random_count(3000)

KEYS = [f"k{i}" for i in range(10)]
CONFIG = {
    "list-max-listpack-size": "4",
    "hash-max-listpack-entries": "6",
    "hash-max-listpack-value": "16",
    "set-max-intset-entries": "6",
    "set-max-listpack-entries": "6",
    "set-max-listpack-value": "16",
    "zset-max-listpack-entries": "6",
    "zset-max-listpack-value": "16",
}
SHORT = ["a", "b", "c", "x", "", "7", "-3", "42", "300", "70000", "5000000000", "-9223372036854775808",
         "12345678901234567890", "0.5", "hello world"]
LONG = ["y" * 20, "z" * 100, "w" * 400]
SCORES = ["0", "1", "-1", "2.5", "0.1", "1e20", "-inf", "inf", "3", "-0", "123456789012", "0.3333"]


def crc64(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


def seal(body, version=11):
    p = body + struct.pack("<H", version)
    return p + struct.pack("<Q", crc64(p))


def rdb_len(n):
    return bytes([n]) if n < 64 else bytes([0x40 | (n >> 8), n & 0xFF])


def rdb_str(s):
    return rdb_len(len(s)) + s


def lp_entry(x):
    """One listpack entry as Redis writes it: a canonical integer of up to 16 bits as an
    integer, anything else as a short string (enough for the payloads below)."""
    try:
        n = int(x)
        canonical = str(n).encode() == x and -32768 <= n <= 32767
    except ValueError:
        canonical = False
    if not canonical:
        return bytes([0x80 | len(x)]) + x + bytes([1 + len(x)])
    if 0 <= n <= 127:
        return bytes([n, 1])
    if -4096 <= n <= 4095:
        return bytes([0xC0 | ((n >> 8) & 0x1F), n & 0xFF, 2])
    return b"\xf1" + struct.pack("<h", n) + b"\x03"


def listpack(items):
    body = b"".join(lp_entry(x) for x in items)
    return struct.pack("<IH", 7 + len(body), len(items)) + body + b"\xff"


PAYLOADS = [
    seal(b"\x00" + rdb_str(b"hello")),
    seal(b"\x00\xc0\x2a"),
    seal(b"\x12\x01\x02" + rdb_str(listpack([b"a", b"b", b"c"]))),
    seal(b"\x0b" + rdb_str(struct.pack("<IIhhh", 2, 3, -5, 1, 9))),
    seal(b"\x10" + rdb_str(listpack([b"f", b"v", b"g", b"12"]))),
    seal(b"\x11" + rdb_str(listpack([b"o", b"-300", b"m", b"1.5", b"n", b"2"]))),
    seal(b"\x14" + rdb_str(listpack([b"p", b"q", b"r", b"s", b"t", b"u", b"v"]))),
    seal(b"\x02\x02" + rdb_str(b"1") + rdb_str(b"one")),
    seal(b"\x05\x02" + rdb_str(b"b") + struct.pack("<d", 2.0) + rdb_str(b"a") + struct.pack("<d", -1.0)),
    seal(b"\x02\x00"),                                   # empty: Bad data format
    seal(b"\x00" + rdb_str(b"hello"))[:-1] + b"\x00",    # CRC64 wrong
    seal(b"\x00" + rdb_str(b"hello"), 12),               # version too new
]


class Generator:
    def __init__(self, rng):
        self.r = rng

    def k(self):
        return self.r.choice(KEYS)

    def v(self):
        return self.r.choice(LONG) if self.r.random() < 0.1 else self.r.choice(SHORT)

    def vs(self, n=4):
        return [self.v() for _ in range(self.r.randint(1, n))]

    def restore(self):
        r = self.r
        cmd = [r.choice(["RESTORE", "RESTORE", "RESTORE-ASKING"]), self.k()]
        x = r.random()
        if x < 0.6:
            cmd.append("0")
        elif x < 0.7:
            # A TTL already past: nothing is created (REPLACE deletes the old key).
            return cmd + ["1", r.choice(PAYLOADS), "ABSTTL"] + (["REPLACE"] if r.random() < 0.7 else [])
        elif x < 0.85:
            cmd.append(str(r.randint(100000, 10000000)))
        elif x < 0.95:
            return cmd + [str(4102444800000 + r.randint(0, 1000)), r.choice(PAYLOADS), "ABSTTL"]
        else:
            cmd.append(r.choice(["-1", "x"]))
        cmd.append(r.choice(PAYLOADS))
        for _ in range(r.randint(0, 2)):
            cmd += r.choice([["REPLACE"], ["REPLACE"], ["IDLETIME", str(r.randint(0, 100000))],
                             ["FREQ", str(r.randint(0, 300))], ["ABSTTL"], ["NOPE"]])
        return cmd

    def round_trip(self):
        # In-server round trip: the copy replaces another key (or fails on a missing source).
        return ["EVAL", "local p = redis.call('dump', KEYS[1]) if not p then return 'none' end "
                "return redis.call('restore', KEYS[2], 0, p, 'REPLACE')", "2", self.k(), self.k()]

    def command(self):
        r, k = self.r, self.k()
        return weighted(r, [
            (6, lambda: ["RPUSH", k] + self.vs()),
            (4, lambda: ["LPUSH", k] + self.vs()),
            (1, lambda: ["LINSERT", k, r.choice(["BEFORE", "AFTER"]), self.v(), self.v()]),
            (1, lambda: ["LSET", k, str(r.randint(-5, 5)), self.v()]),
            (1, lambda: ["LREM", k, str(r.randint(-2, 2)), self.v()]),
            (1, lambda: ["LTRIM", k, str(r.randint(0, 3)), str(r.randint(-3, 20))]),
            (2, lambda: ["LPOP", k]),
            (6, lambda: ["HSET", k] + [x for _ in range(r.randint(1, 4)) for x in (self.v(), self.v())]),
            (2, lambda: ["HDEL", k] + self.vs(2)),
            (6, lambda: ["SADD", k] + self.vs()),
            (2, lambda: ["SREM", k] + self.vs(2)),
            (6, lambda: ["ZADD", k] + [x for _ in range(r.randint(1, 3)) for x in (r.choice(SCORES), self.v())]),
            (2, lambda: ["ZINCRBY", k, r.choice(["1", "0.5", "-2"]), self.v()]),
            (2, lambda: ["ZREM", k] + self.vs(2)),
            (3, lambda: ["SET", k, self.v()]),
            (1, lambda: ["APPEND", k, self.v()]),
            (1, lambda: ["SETRANGE", k, str(r.randint(0, 50)), self.v()]),
            (1, lambda: ["INCRBY", k, str(r.randint(-100, 100))]),
            (1, lambda: ["PFADD", k] + self.vs()),
            (2, lambda: ["XADD", k, f"{r.randint(1, 50)}-{r.randint(0, 3)}", "f", self.v()]),
            (1, lambda: ["XDEL", k, f"{r.randint(1, 50)}-{r.randint(0, 3)}"]),
            (1, lambda: ["XGROUP", "CREATE", k, r.choice(["g1", "g2"]), r.choice(["0", "$", "10-0"])]),
            (1, lambda: ["XTRIM", k, "MAXLEN", str(r.randint(0, 5))]),
            (8, self.restore),
            (4, self.round_trip),
            (3, lambda: ["DUMP", k] if r.random() < 0.2 else ["EVAL", "local p = redis.call('dump', KEYS[1]) "
                                                                    "return p and #p or -1", "1", k]),
            (2, lambda: ["OBJECT", "ENCODING", k]),
            (1, lambda: ["DEL", k]),
            (1, lambda: ["PTTL", k]),
        ])


def mods_for(cmd):
    # DUMP payloads are compared in the final check, where the encoding says whether their
    # order is the value's; here (and their lengths, from scripts) only the reply type. PTTL
    # of a relative TTL moves with the clock.
    if cmd[0] == "DUMP" or (cmd[0] == "EVAL" and "#p" in cmd[1]):
        return {"type-only": True}
    if cmd[0] == "PTTL":
        return {"approx": 1000}
    return {}


def reads(k, t):
    return {
        b"string": [["GET", k]],
        b"list": [["LRANGE", k, "0", "-1"]],
        b"hash": [["HGETALL", k]],
        b"set": [["SMEMBERS", k]],
        b"zset": [["ZRANGE", k, "0", "-1", "WITHSCORES"]],
        b"stream": [["XRANGE", k, "-", "+"], ["XINFO", "GROUPS", k], ["XINFO", "STREAM", k]],
    }[t]


def canonical(reply, t):
    """A hash's pairs and a set's members sorted (their order is the encoding's); any other
    reply as its bytes."""
    if t not in (b"hash", b"set"):
        return reply
    children = [c.value for c in parse(reply).children]
    if t == b"hash":
        return sorted(zip(children[0::2], children[1::2]))
    return sorted(children)


def final_check(conns):
    same_counters(conns)
    for k in KEYS:
        types = [c.command("TYPE", k) for c in conns]
        assert types[0] == types[1], f"TYPE {k}: {types}"
        t = parse(types[0]).value
        if t == b"none":
            continue
        encs = [c.command("OBJECT", "ENCODING", k) for c in conns]
        assert encs[0] == encs[1], f"OBJECT ENCODING {k}: {encs}"
        dumps = [parse(c.command("DUMP", k)).value for c in conns]
        if b"hashtable" not in encs[0] and b"quicklist" not in encs[0]:
            assert dumps[0] == dumps[1], f"DUMP {k} ({show(encs[0])}): {dumps[0]!r} vs {dumps[1]!r}"
        # Each server's payload into the other: the copies read like the originals.
        copy = "copy:" + k
        for c, payload in ((conns[1], dumps[0]), (conns[0], dumps[1])):
            assert c.command("RESTORE", copy, "0", payload, "REPLACE") == b"+OK\r\n", f"RESTORE {copy}"
        for probe in reads(k, t):
            origs = [canonical(c.command(*probe), t) for c in conns]
            assert origs[0] == origs[1], f"{' '.join(probe)}: {origs[0]!r} vs {origs[1]!r}"
            for c in conns:
                got = canonical(c.command(*[copy if x == k else x for x in probe]), t)
                assert got == origs[0], f"{' '.join(probe)} of the copy: {got!r} vs {origs[0]!r}"
        copy_encs = [c.command("OBJECT", "ENCODING", copy) for c in conns]
        assert copy_encs[0] == copy_encs[1], f"OBJECT ENCODING {copy}: {copy_encs}"
        if b"hashtable" not in encs[0] and b"quicklist" not in encs[0]:
            copy_dumps = [c.command("DUMP", copy) for c in conns]
            assert copy_dumps[0] == copy_dumps[1], f"DUMP {copy}: {copy_dumps}"
    same_counters(conns)


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_dump_restore(protocol):
    run_random("random dump test", protocol, SEED + protocol, Generator, COUNT, config=CONFIG,
               mods_for=mods_for, final_check=final_check, history_len=20, needs_72=True)
