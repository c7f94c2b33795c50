"""Randomized differential test of the stream commands' argument parsing (types::stream):
XADD, XTRIM, XRANGE, XREVRANGE, XDEL, XSETID and XLEN with words drawn from their options,
ids (valid, exclusive, incomplete, past the maximum) and junk, in any order and number, on
streams, a string and a missing key. Every reply, errors included, must be the oracle's
(which error wins when several apply is the point), and no argument list may break the
connection. Well-formed sequences are test_random_stream.py's.

No bare "*" id: its reply is the clock. Approximate trimming depends on Redis's node
boundaries (data::stream).

    DIFF_SEED=1234 pytest tests/diff/test_random_stream_args.py
    DIFF_RANDOM_COUNT=20000 ...
"""
import pytest

from random_runner import SEED, random_count, run_random, weighted

COUNT = random_count(3000)

KEYS = ["s", "s", "s2", "str", "none"]
WORDS = ["MAXLEN", "MINID", "LIMIT", "NOMKSTREAM", "COUNT", "ENTRIESADDED", "MAXDELETEDID", "maxlen", "limit",
         "~", "=", "*", "(", "-", "+", "", "foo", "f", "v",
         "0", "1", "2", "3", "9", "100", "-1", "9223372036854775808",
         "0-0", "1-1", "7-0", "10-5", "5-*", "0-*", "(1", "(0-0", "(1-0", " 5", "1-x", "1--1",
         "18446744073709551615-18446744073709551615", "18446744073709551615-*", "18446744073709551616"]
IDS = ["5-*", "1-1", "2", "7-0", "10-5", "0-*", "0-0"]


class Generator:
    def __init__(self, rng):
        self.r = rng
        self.n = 0

    def words(self, hi=8):
        return [self.r.choice(WORDS) for _ in range(self.r.randint(0, hi))]

    def xadd(self):
        r = self.r
        self.n += 1
        opts = self.words(4)
        if "*" in opts:
            opts = [w for w in opts if w != "*"]
        ids = IDS + [f"{self.n}-1", str(self.n), f"{self.n}-*"]
        return opts + [r.choice(ids)] + ["f", "v"] * r.choice([0, 1, 1, 2]) + r.choice([[], [], ["odd"]])

    def command(self):
        r = self.r
        k = lambda: r.choice(KEYS)  # noqa: E731
        choices = [
            (8, lambda: ["XADD", k()] + self.xadd()),
            (3, lambda: ["XADD", k()] + [w for w in self.words() if w != "*"]),
            (4, lambda: ["XTRIM", k()] + self.words()),
            (4, lambda: ["XRANGE", k()] + self.words(5)),
            (3, lambda: ["XREVRANGE", k()] + self.words(5)),
            (3, lambda: ["XDEL", k()] + self.words(4)),
            (3, lambda: ["XSETID", k()] + self.words(5)),
            (1, lambda: ["XLEN", k()] + self.words(1)),
        ]
        return weighted(r, choices)


def final_state(conns):
    for k in ["s", "s2", "none"]:
        a, b = (c.command("XRANGE", k, "-", "+") for c in conns)
        assert a == b, f"{k}: {a!r} vs {b!r}"


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_stream_arguments(protocol):
    run_random("random stream argument test", protocol, SEED + protocol, Generator, COUNT,
               setup=[["SET", "str", "x"]], final_check=final_state, needs_72=True)
