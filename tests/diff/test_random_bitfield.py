"""Randomized differential test for BITFIELD / BITFIELD_RO: seeded random calls of one to five
operations (GET, SET, INCRBY with OVERFLOW WRAP/SAT/FAIL changing mid-call) on random types
i1..i64 / u1..u63 at plain or `#N` offsets, values at and around each type's edges, now and
then an invalid word, type, offset or value; interleaved with GET of the raw bytes, STRLEN,
SETRANGE, SET of integers (an "int" string read as its digits) and DEL. Every reply is
compared (RESP2 and RESP3), then each key's bytes and encoding at the end, and the servers'
keyspace hits/misses and dirty counts (rdb_changes_since_last_save).

    DIFF_SEED=1234 pytest tests/diff/test_random_bitfield.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                                   # longer runs
"""
import pytest

from random_runner import SEED, random_count, run_random, same_counters, same_state, weighted

COUNT = random_count(4000)

KEYS = ["b0", "b1", "b2"]
BAD_TYPES = ["u64", "i65", "i0", "x8", "I8", "u", ""]
BAD_OFFSETS = ["-1", "#-1", "abc", "#", "", "+3", "4294967296", "#9223372036854775807"]


class Generator:
    def __init__(self, rng):
        self.r = rng

    def key(self):
        return self.r.choice(KEYS)

    def typ(self):
        r = self.r
        if r.random() < 0.02:
            return r.choice(BAD_TYPES), 8, True
        signed = r.random() < 0.5
        # Common widths more often, every width sometimes.
        bits = r.choice([1, 2, 3, 4, 5, 7, 8, 8, 12, 16, 16, 24, 31, 32, 33, 48, 63, 64] if r.random() < 0.7
                        else list(range(1, 65)))
        if not signed and bits == 64:
            bits = 63
        return f"{'i' if signed else 'u'}{bits}", bits, signed

    def offset(self, bits):
        r = self.r
        if r.random() < 0.02:
            return r.choice(BAD_OFFSETS)
        if r.random() < 0.4:
            return f"#{r.randint(0, 12)}"
        return str(r.randint(0, 200) if r.random() < 0.9 else r.randint(0, 4000))

    def value(self, bits, signed):
        r = self.r
        if r.random() < 0.01:
            return r.choice(["x", "1.5", "9223372036854775808", ""])
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        x = r.random()
        if x < 0.3:
            v = r.choice([lo, hi, lo - 1, hi + 1, 0, 1, -1, hi - lo, lo - hi])
        elif x < 0.4:
            v = r.choice([-(1 << 63), (1 << 63) - 1])
        elif x < 0.7:
            v = r.randint(-20, 20)
        else:
            v = r.randint(lo, hi)
        v = max(-(1 << 63), min((1 << 63) - 1, v))
        return str(v)

    def ops(self, read_only):
        r = self.r
        out = []
        for _ in range(r.randint(1, 5)):
            if r.random() < 0.15:
                out += ["OVERFLOW", r.choice(["WRAP", "SAT", "FAIL", "wrap", "sat", "fail"])]
                if r.random() < 0.01:
                    out[-1] = "SATURATE"
            t, bits, signed = self.typ()
            kind = "GET" if read_only and r.random() < 0.97 else r.choice(["GET", "SET", "INCRBY", "INCRBY"])
            if r.random() < 0.3:
                kind = kind.lower()
            out += [kind, t, self.offset(bits)]
            if kind.upper() != "GET":
                out.append(self.value(bits, signed))
            if r.random() < 0.005:
                out.append(r.choice(["FOO", "GET", "GET u8"]))
        return out

    def bitfield(self):
        return ["BITFIELD", self.key()] + self.ops(self.r.random() < 0.2)

    def bitfield_ro(self):
        return ["BITFIELD_RO", self.key()] + self.ops(True)

    def command(self):
        r, k = self.r, self.key()
        return weighted(r, [
            (50, self.bitfield),
            (8, self.bitfield_ro),
            (6, lambda: ["GET", k]),
            (2, lambda: ["STRLEN", k]),
            (2, lambda: ["SETRANGE", k, str(r.randint(0, 40)), r.choice(["\x00", "\xff\x01", "abc", "\x80"])]),
            (1, lambda: ["SET", k, str(r.choice([0, 7, -1, 12345, -987654321, 2 ** 62]))]),
            (1, lambda: ["APPEND", k, "z"]),
            (1, lambda: ["DEL", k]),
            (0.3, lambda: ["RPUSH", k, "x"]),
        ])


def final_state(conns):
    # Reads and writes were counted alike: hits/misses of the read lookups (GET-only calls),
    # and the dirty count (one per operation that stored something, none for FAIL-only calls).
    same_counters(conns)
    same_state(conns, KEYS, lambda k: (["GET", k], ["OBJECT", "ENCODING", k], ["TYPE", k]))


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_bitfield_commands(protocol):
    run_random("random bitfield test", protocol, SEED + protocol, Generator, COUNT,
               final_check=final_state, history_len=20)
