"""Randomized differential test for bitmaps: seeded random sequences of SETBIT, GETBIT,
BITCOUNT, BITPOS and BITOP mixed with the string commands that share their bytes (SETRANGE,
APPEND, SET of text and of integers, GET, STRLEN, GETRANGE, OBJECT ENCODING, DEL) over a few
keys, sent to both servers and compared reply by reply (RESP2 and RESP3).

    DIFF_SEED=1234 pytest tests/diff/test_random_bitmap.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                                 # longer runs

Offsets and ranges are drawn around the 8-, 32- and 64-byte word boundaries the scanning loops
step by (and past the end of the strings), byte patterns are all zeros, all ones, sparse,
dense and random, so that BITPOS finds its bit in the first, a middle or the last word or not
at all. At the end every key is compared whole (GET, OBJECT ENCODING).
"""
import pytest

from random_runner import SEED, random_count, run_random, same_counters, same_state, weighted

COUNT = random_count(4000)

KEYS = ["b0", "b1", "b2", "b3"]
OTHER = ["int", "missing", "h"]  # an "int" string, a key never written, a hash (WRONGTYPE)
# Byte lengths / positions near the loops' steps (8-byte words, 32-byte blocks, 64 bytes).
EDGES = [0, 1, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 65, 95, 96, 127, 128, 129, 200, 255, 256, 257]


class Generator:
    def __init__(self, rng):
        self.r = rng

    def k(self):
        r = self.r
        return r.choice(KEYS) if r.random() < 0.9 else r.choice(OTHER)

    def byte_pos(self):
        r = self.r
        return r.choice(EDGES) + r.choice([0, 0, -1, 1, r.randint(-3, 3)]) if r.random() < 0.7 else r.randint(0, 300)

    def bit_offset(self):
        r = self.r
        return max(0, self.byte_pos()) * 8 + r.randint(0, 7)

    def pattern(self, n):
        r = self.r
        kind = r.randint(0, 4)
        if kind == 0:
            return b"\x00" * n
        if kind == 1:
            return b"\xff" * n
        if kind == 2:
            return bytes((1 << r.randint(0, 7)) if r.random() < 0.05 else 0 for _ in range(n))
        if kind == 3:
            return bytes(0xff ^ (1 << r.randint(0, 7)) if r.random() < 0.05 else 0xff for _ in range(n))
        return bytes(r.randint(0, 255) for _ in range(n))

    def index(self, bits):
        """A start or end: small, negative, near the string's edges, or far out."""
        r = self.r
        scale = 8 if bits else 1
        x = r.random()
        if x < 0.5:
            return str(r.choice([1, -1]) * r.randint(0, 40 * scale))
        if x < 0.85:
            return str(r.choice([1, -1]) * (r.choice(EDGES) * scale + r.randint(-2, 2)))
        return str(r.choice([1000000, -1000000, 2**62, -(2**62)]))

    def unit(self):
        r = self.r
        x = r.random()
        if x < 0.4:
            return [], False
        if x < 0.7:
            return [r.choice(["BIT", "bit"])], True
        if x < 0.97:
            return [r.choice(["BYTE", "byte"])], False
        return ["BOTH"], False

    def bitcount(self):
        r = self.r
        if r.random() < 0.25:
            return ["BITCOUNT", self.k()]
        unit, bits = self.unit()
        if r.random() < 0.03:
            return ["BITCOUNT", self.k(), self.index(bits)]  # a start without an end
        return ["BITCOUNT", self.k(), self.index(bits), self.index(bits)] + unit

    def bitpos(self):
        r = self.r
        bit = r.choice(["0", "1"]) if r.random() < 0.97 else r.choice(["2", "-1", "x"])
        x = r.random()
        if x < 0.25:
            return ["BITPOS", self.k(), bit]
        unit, bits = self.unit()
        if x < 0.45:
            return ["BITPOS", self.k(), bit, self.index(False)]
        if not unit:
            return ["BITPOS", self.k(), bit, self.index(False), self.index(False)]
        return ["BITPOS", self.k(), bit, self.index(bits), self.index(bits)] + unit

    def bitop(self):
        r = self.r
        op = r.choice(["AND", "OR", "XOR", "NOT", "and", "xor"])
        n = 1 if op == "NOT" and r.random() < 0.95 else r.randint(1, 3)
        return ["BITOP", op, self.k()] + [self.k() for _ in range(n)]

    def junk(self):
        """A bitmap command with 0 to 6 arguments drawn from numbers, words and keys, in any
        order: the argument checks' order and texts."""
        r = self.r
        pool = ["0", "1", "2", "-1", "-8", "x", "", "BIT", "byte", "BYTE", "AND", "not", "OR", "xor",
                "1.5", "01", "#1", "9223372036854775808", "4294967296", "8388607", "7"] + KEYS + OTHER
        name = r.choice(["SETBIT", "GETBIT", "BITCOUNT", "BITPOS", "BITOP"])
        return [name] + [r.choice(pool) for _ in range(r.randint(0, 6))]

    def command(self):
        r, k = self.r, self.k
        choices = [
            (16, lambda: ["SETBIT", k(), str(self.bit_offset()), r.choice(["0", "1", "1"])]),
            (8, lambda: ["GETBIT", k(), str(self.bit_offset())]),
            (10, self.bitcount),
            (12, self.bitpos),
            (8, self.bitop),
            (4, lambda: ["SETRANGE", k(), str(max(0, self.byte_pos())), self.pattern(r.randint(1, 70))]),
            (2, lambda: ["APPEND", k(), self.pattern(r.randint(1, 40))]),
            (2, lambda: ["SET", r.choice(KEYS), self.pattern(r.choice(EDGES[1:]))]),
            (2, lambda: ["SET", r.choice(KEYS + ["int"]), str(r.choice([0, 7, 255, -1, 123456789, -(2**63)]))]),
            (3, lambda: ["GET", k()]),
            (2, lambda: ["STRLEN", k()]),
            (1, lambda: ["GETRANGE", k(), self.index(False), self.index(False)]),
            (2, lambda: ["OBJECT", "ENCODING", k()]),
            (1, lambda: ["DEL", r.choice(KEYS)]),
            (1, lambda: ["HSET", "h", "f", "v"]),
            (1, lambda: ["SETBIT", k(), r.choice(["-1", "x", "4294967296"]), "1"]),
            (1, lambda: ["SETBIT", k(), "3", r.choice(["2", "-1", "x", ""])]),
            (3, self.junk),
        ]
        return weighted(r, choices)


def final_state(conns):
    same_counters(conns)
    same_state(conns, KEYS + OTHER, lambda k: (["GET", k], ["OBJECT", "ENCODING", k]))


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_bitmap_commands(protocol):
    run_random("random bitmap test", protocol, SEED + protocol, Generator, COUNT,
               final_check=final_state, history_len=20)
