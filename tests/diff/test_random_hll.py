"""Randomized differential test for HyperLogLog: seeded random sequences of PFADD, PFCOUNT (one
and several keys), PFMERGE, GET (the raw HLL bytes), PFDEBUG ENCODING/DECODE/TODENSE, DEL and
COPY over a few keys, compared reply by reply with the oracle (RESP2 and RESP3).

The variants grow the HLLs at different speeds (elements per PFADD, size of the element pool)
so that runs cross the sparse -> dense boundary at different points, and one runs with a small
hll-sparse-max-bytes so that promotion by length, and PFMERGE's register-by-register sparse
writes that end in a promotion, happen often. Every GET compares the exact bytes, so the
sparse opcode sequences Redis leaves (splits, merges of equal neighbours) must be the same.

    DIFF_SEED=1234 pytest tests/diff/test_random_hll.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                              # longer runs
"""
import pytest

from random_runner import SEED, random_count, run_random, same_counters, same_state, weighted

COUNT = random_count(2500)
KEYS = ["h0", "h1", "h2", "h3"]

# (name, config, largest PFADD, element pool size)
VARIANTS = [
    ("small", None, 4, 300),
    ("crossing", None, 40, 20000),
    ("sparse-max-120", {"hll-sparse-max-bytes": "120"}, 12, 5000),
    ("sparse-max-0", {"hll-sparse-max-bytes": "0"}, 3, 2000),
]


class Generator:
    def __init__(self, rng, most, pool):
        self.r, self.most, self.pool = rng, most, pool

    def k(self):
        # A key that is never written: missing inputs count as empty HLLs.
        return self.r.choice(KEYS + ["missing"]) if self.r.random() < 0.15 else self.r.choice(KEYS)

    def ele(self):
        r = self.r
        x = r.random()
        if x < 0.05:
            return ""
        if x < 0.1:
            return "x" * r.randint(1, 40)
        return f"e{r.randrange(self.pool)}"

    def command(self):
        r = self.r
        return weighted(r, [
            (30, lambda: ["PFADD", r.choice(KEYS)] + [self.ele() for _ in range(r.randint(0, self.most))]),
            (12, lambda: ["PFCOUNT", self.k()]),
            (8, lambda: ["PFCOUNT"] + [self.k() for _ in range(r.randint(2, 4))]),
            (6, lambda: ["PFMERGE", r.choice(KEYS)] + [self.k() for _ in range(r.randint(0, 3))]),
            (14, lambda: ["GET", self.k()]),
            (4, lambda: ["PFDEBUG", "ENCODING", self.k()]),
            (4, lambda: ["PFDEBUG", "DECODE", self.k()]),
            (1, lambda: ["PFDEBUG", "TODENSE", self.k()]),
            (1, lambda: ["DEL", r.choice(KEYS)]),
            (1, lambda: ["COPY", self.k(), r.choice(KEYS), "REPLACE"]),
        ])


def final_state(conns):
    same_counters(conns)
    same_state(conns, KEYS, lambda k: (["GET", k], ["PFCOUNT", k], ["OBJECT", "ENCODING", k]))


@pytest.mark.parametrize("variant", VARIANTS, ids=[v[0] for v in VARIANTS])
@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_hll(protocol, variant):
    name, config, most, pool = variant
    run_random("random hll test", protocol, SEED + protocol + 7 * VARIANTS.index(variant),
               lambda rng: Generator(rng, most, pool), COUNT, variant=name, config=config,
               final_check=final_state, history_len=12)
