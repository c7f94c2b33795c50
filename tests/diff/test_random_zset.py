"""Randomized differential test for sorted sets: seeded random sequences of every non-blocking
sorted-set command over a few keys, sent to both servers and compared reply by reply (RESP2 and
RESP3), with small listpack thresholds so both encodings and the conversions are exercised.
At the end every key is compared whole (ZRANGE WITHSCORES, OBJECT ENCODING) and iterated to
completion with ZSCAN (compared as sets).

    DIFF_SEED=1234 pytest tests/diff/test_random_zset.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                               # longer runs

Scores are integers, halves, quarters and infinities, which Redis 7.0 (the oracle) and 7.2
print alike. ZADD sends at most 4 pairs (below the threshold of 8): with more, 7.2 picks the
encoding from the pair count where 7.0 does not (see zset_encoding.txt).
"""
import pytest

from harness import start_pair, stop_pair
from random_runner import SEED, random_count, run_random, same_state, weighted
from resp import RawConnection, parse

COUNT = random_count(4000)

ZKEYS = ["z0", "z1", "z2", "z3"]
LEXKEYS = ["l0", "l1"]
MEMBERS = [f"m{i}" for i in range(24)] + ["", "a long member name over 16b", "\x00\xff", "M"]
SCORES = ["0", "1", "-1", "2", "3", "5", "7", "10", "100", "-3", "1.5", "-2.5", "0.25", "0.75",
          "inf", "-inf", "+inf", "42", "1e2", "-100"]
CONFIG = {"zset-max-listpack-entries": "8", "zset-max-listpack-value": "16"}


class Generator:
    def __init__(self, rng):
        self.r = rng

    def zk(self):
        return self.r.choice(ZKEYS)

    def lk(self):
        return self.r.choice(LEXKEYS)

    def m(self):
        return self.r.choice(MEMBERS)

    def s(self):
        return self.r.choice(SCORES)

    def idx(self):
        return str(self.r.randint(-12, 12))

    def score_bound(self):
        r = self.r
        b = r.choice(["-inf", "+inf", "0", "1", "2", "5", "10", "-1", "1.5", "100", "3"])
        return ("(" + b) if r.random() < 0.3 else b

    def lex_bound(self):
        r = self.r
        x = r.random()
        if x < 0.15:
            return "-"
        if x < 0.3:
            return "+"
        return r.choice(["[", "("]) + r.choice(["m1", "m10", "m2", "m5", "m", "", "n", "m19"])

    def limit(self):
        r = self.r
        if r.random() < 0.6:
            return []
        return ["LIMIT", str(r.choice([0, 1, 2, 5, -1])), str(r.choice([0, 1, 3, 10, -1]))]

    def ws(self):
        return ["WITHSCORES"] if self.r.random() < 0.5 else []

    def keys(self, lo=1, hi=3):
        n = self.r.randint(lo, hi)
        return [str(n)] + [self.zk() for _ in range(n)]

    def weights_aggr(self, n):
        r = self.r
        out = []
        if r.random() < 0.3:
            out += ["WEIGHTS"] + [r.choice(["1", "2", "0.5", "-1", "0"]) for _ in range(n)]
        if r.random() < 0.3:
            out += ["AGGREGATE", r.choice(["SUM", "MIN", "MAX"])]
        return out

    def zadd(self):
        r = self.r
        flags = []
        if r.random() < 0.3:
            flags.append(r.choice(["NX", "XX"]))
        if r.random() < 0.2 and "NX" not in flags:
            flags.append(r.choice(["GT", "LT"]))
        if r.random() < 0.3:
            flags.append("CH")
        if r.random() < 0.15:
            flags.append("INCR")
            pairs = 1
        else:
            pairs = r.randint(1, 4)
        if r.random() < 0.03:
            flags = r.choice([["NX", "XX"], ["GT", "LT"], ["NX", "GT"]])
        body = []
        for _ in range(pairs):
            body += [self.s(), self.m()]
        return ["ZADD", self.zk()] + flags + body

    def command(self):
        r, zk, lk, m, s = self.r, self.zk, self.lk, self.m, self.s
        choices = [
            (14, self.zadd),
            (4, lambda: ["ZADD", lk()] + [x for _ in range(r.randint(1, 3)) for x in ("0", m())]),
            (4, lambda: ["ZINCRBY", zk(), r.choice(["1", "-1", "2.5", "0.5", "inf", "-inf"]), m()]),
            (4, lambda: ["ZREM", r.choice(ZKEYS + LEXKEYS)] + [m() for _ in range(r.randint(1, 3))]),
            (2, lambda: ["ZCARD", r.choice(ZKEYS + LEXKEYS)]),
            (3, lambda: ["ZSCORE", zk(), m()]),
            (2, lambda: ["ZMSCORE", zk()] + [m() for _ in range(r.randint(1, 3))]),
            (3, lambda: [r.choice(["ZRANK", "ZREVRANK"]), zk(), m()]),
            (5, lambda: ["ZRANGE", zk(), self.idx(), self.idx()] + r.choice([[], ["REV"]]) + self.ws()),
            (2, lambda: ["ZREVRANGE", zk(), self.idx(), self.idx()] + self.ws()),
            (4, lambda: ["ZRANGE", zk(), self.score_bound(), self.score_bound(), "BYSCORE"]
             + r.choice([[], ["REV"]]) + self.limit() + self.ws()),
            (3, lambda: ["ZRANGEBYSCORE", zk(), self.score_bound(), self.score_bound()] + self.ws() + self.limit()),
            (3, lambda: ["ZREVRANGEBYSCORE", zk(), self.score_bound(), self.score_bound()] + self.ws() + self.limit()),
            (3, lambda: ["ZRANGEBYLEX", lk(), self.lex_bound(), self.lex_bound()] + self.limit()),
            (2, lambda: ["ZREVRANGEBYLEX", lk(), self.lex_bound(), self.lex_bound()] + self.limit()),
            (2, lambda: ["ZRANGE", lk(), self.lex_bound(), self.lex_bound(), "BYLEX"] + r.choice([[], ["REV"]]) + self.limit()),
            (3, lambda: ["ZCOUNT", zk(), self.score_bound(), self.score_bound()]),
            (2, lambda: ["ZLEXCOUNT", lk(), self.lex_bound(), self.lex_bound()]),
            (3, lambda: [r.choice(["ZPOPMIN", "ZPOPMAX"]), zk()] + r.choice([[], ["1"], ["2"], ["0"], ["5"]])),
            (2, lambda: ["ZMPOP"] + self.keys() + [r.choice(["MIN", "MAX"])] + r.choice([[], ["COUNT", "2"], ["COUNT", "10"]])),
            (2, lambda: ["ZREMRANGEBYRANK", zk(), self.idx(), self.idx()]),
            (2, lambda: ["ZREMRANGEBYSCORE", zk(), self.score_bound(), self.score_bound()]),
            (2, lambda: ["ZREMRANGEBYLEX", lk(), self.lex_bound(), self.lex_bound()]),
            (3, lambda: (lambda k: [r.choice(["ZUNION", "ZINTER"])] + k + self.weights_aggr(int(k[0])) + self.ws())(self.keys())),
            (2, lambda: ["ZDIFF"] + self.keys() + self.ws()),
            (2, lambda: (lambda k: [r.choice(["ZUNIONSTORE", "ZINTERSTORE"]), zk()] + k + self.weights_aggr(int(k[0])))(self.keys())),
            (1, lambda: ["ZDIFFSTORE", zk()] + self.keys()),
            (1, lambda: ["ZINTERCARD"] + self.keys() + r.choice([[], ["LIMIT", "1"], ["LIMIT", "0"]])),
            (2, lambda: ["ZRANGESTORE", zk(), zk(), self.idx(), self.idx()] + r.choice([[], ["REV"]])),
            (2, lambda: ["ZRANGESTORE", zk(), zk(), self.score_bound(), self.score_bound(), "BYSCORE"] + self.limit()),
            (2, lambda: ["OBJECT", "ENCODING", r.choice(ZKEYS + LEXKEYS)]),
            (1, lambda: ["DEL", r.choice(ZKEYS + LEXKEYS)]),
            (1, lambda: ["EXISTS", zk()]),
            (1, lambda: ["SET", "str", "v"]),
            (1, lambda: [r.choice(["ZADD", "ZINCRBY"]), "str", "1", m()]),
            (1, lambda: ["ZUNION", "2", zk(), "str"]),
        ]
        return weighted(r, choices)


def full_zscan(conn, key):
    pairs, cursor, calls = set(), b"0", 0
    while True:
        node = parse(conn.command("ZSCAN", key, cursor, "COUNT", "3"))
        cursor = node.children[0].value
        items = [c.value for c in node.children[1].children]
        pairs.update(zip(items[0::2], items[1::2]))
        calls += 1
        assert calls < 10000, "ZSCAN did not terminate"
        if cursor == b"0":
            return pairs


def final_state(conns):
    same_state(conns, ZKEYS + LEXKEYS, lambda k: (["ZRANGE", k, "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", k]))
    for k in ZKEYS + LEXKEYS:
        a, b = (full_zscan(c, k) for c in conns)
        assert a == b, f"ZSCAN of {k}: only from redis {sorted(a - b)}, only from the subject {sorted(b - a)}"


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_zset_commands(protocol):
    run_random("random zset test", protocol, SEED + protocol, Generator, COUNT,
               config=CONFIG, final_check=final_state, history_len=20)


def test_zscan_large_set_complete_under_growth():
    """ZSCAN's guarantee on the large encoding: members present for the whole iteration are
    returned even while the set grows and shrinks between calls."""
    servers = start_pair()
    try:
        subject = RawConnection(servers[1].port)
        stable = [f"stable:{i}" for i in range(2000)]
        for i in range(0, len(stable), 500):
            args = ["ZADD", "big"]
            for j, mbr in enumerate(stable[i:i + 500]):
                args += [str(i + j), mbr]
            subject.command(*args)
        seen, cursor, step = set(), b"0", 0
        while True:
            node = parse(subject.command("ZSCAN", "big", cursor, "COUNT", "20"))
            cursor = node.children[0].value
            items = [c.value for c in node.children[1].children]
            seen.update(items[0::2])
            step += 1
            if step < 40:
                subject.command("ZADD", "big", *[x for j in range(100) for x in (str(j), f"tmp:{step}:{j}")])
            elif step == 40:
                for s in range(1, 40):
                    subject.command("ZREM", "big", *[f"tmp:{s}:{j}" for j in range(100)])
            if cursor == b"0":
                break
        missing = [m for m in stable if m.encode() not in seen]
        assert not missing, f"ZSCAN missed {len(missing)} stable members, e.g. {missing[:5]}"
        subject.close()
    finally:
        stop_pair(servers)
