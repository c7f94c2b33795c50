"""Randomized differential test of the list commands: seeded random sequences of LPUSH RPUSH
LPUSHX RPUSHX LPOP RPOP (with counts) LLEN LINDEX LSET LINSERT LRANGE LTRIM LREM LPOS LMOVE
RPOPLPUSH LMPOP over a few list keys (plus a string key for WRONGTYPE), sent to both servers
and compared reply by reply, RESP2 and RESP3, under the default node size and under small
count- and size-limited nodes (list-max-listpack-size 3 and -1) so that chunk boundaries,
splits and encoding conversions are crossed all the time.

    DIFF_SEED=1234 pytest tests/diff/test_random_list.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                               # longer runs
"""
import os
import random
import time

import pytest

from harness import compare, start_pair, stop_pair, subject_name
from resp import RawConnection, encode_command, show

COUNT = int(os.environ.get("DIFF_RANDOM_COUNT", "3000"))
SEED = int(os.environ.get("DIFF_SEED", str(int(time.time() * 1000) % 1_000_000_000)))

KEYS = ["l0", "l1", "l2", "l3"]
WRONG = "str"
VALUES = ["a", "b", "c", "0", "1", "-1", "127", "128", "5000", "-70000", "9223372036854775807", "01",
          "", "x" * 70, "y" * 300, "hello world", "\x00\xff"]


class Generator:
    def __init__(self, rng):
        self.r = rng

    def key(self):
        return WRONG if self.r.random() < 0.03 else self.r.choice(KEYS)

    def val(self):
        r = self.r
        if r.random() < 0.85:
            return r.choice(VALUES)
        return str(r.randint(-300, 300))

    def vals(self, most=6):
        return [self.val() for _ in range(self.r.randint(1, most))]

    def index(self):
        r = self.r
        return str(r.choice([r.randint(-25, 25), r.randint(-3, 3), 0, -1,
                             9223372036854775807, -9223372036854775808]))

    def end(self):
        return self.r.choice(["LEFT", "RIGHT", "left", "right"])

    def count(self):
        return str(self.r.choice([0, 1, 2, 3, 5, 10, 100]))

    def command(self):
        r, k, v = self.r, self.key, self.val
        choices = [
            (12, lambda: ["LPUSH", k()] + self.vals()),
            (12, lambda: ["RPUSH", k()] + self.vals()),
            (2, lambda: ["LPUSHX", k()] + self.vals(3)),
            (2, lambda: ["RPUSHX", k()] + self.vals(3)),
            (4, lambda: ["LPOP", k()]),
            (4, lambda: ["RPOP", k()]),
            (2, lambda: ["LPOP", k(), self.count()]),
            (2, lambda: ["RPOP", k(), self.count()]),
            (3, lambda: ["LLEN", k()]),
            (4, lambda: ["LINDEX", k(), self.index()]),
            (3, lambda: ["LSET", k(), self.index(), v()]),
            (3, lambda: ["LINSERT", k(), r.choice(["BEFORE", "AFTER"]), v(), v()]),
            (6, lambda: ["LRANGE", k(), self.index(), self.index()]),
            (3, lambda: ["LRANGE", k(), "0", "-1"]),
            (1, lambda: ["LTRIM", k(), self.index(), self.index()]),
            (1, lambda: ["LTRIM", k(), str(r.randint(0, 3)), str(r.randint(-4, -1))]),
            (3, lambda: ["LREM", k(), str(r.choice([0, 1, -1, 2, -2, 5])), v()]),
            (3, lambda: ["LPOS", k(), v()]
             + r.choice([[], ["RANK", str(r.choice([1, 2, -1, -2, 3]))]])
             + r.choice([[], ["COUNT", str(r.choice([0, 1, 2]))]])
             + r.choice([[], ["MAXLEN", str(r.choice([0, 1, 5, 20]))]])),
            (3, lambda: ["LMOVE", k(), k(), self.end(), self.end()]),
            (2, lambda: ["RPOPLPUSH", k(), k()]),
            (3, lambda: ["LMPOP", str(n := r.randint(1, 3))] + [k() for _ in range(n)] + [self.end()]
             + r.choice([[], ["COUNT", str(r.choice([1, 2, 7]))]])),
            (1, lambda: ["DEL", k()]),
            (1, lambda: ["EXISTS", k()]),
            (1, lambda: ["TYPE", k()]),
        ]
        total = sum(w for w, _ in choices)
        x = r.uniform(0, total)
        for w, f in choices:
            x -= w
            if x <= 0:
                return f()
        return choices[0][1]()


@pytest.mark.parametrize("fill", ["-2", "3", "-1"])
@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_list_commands(protocol, fill):
    seed = SEED + protocol + int(fill) * 10
    print(f"random list test: DIFF_SEED={SEED} (RESP{protocol}, fill {fill} uses seed {seed}), {COUNT} commands")
    rng = random.Random(seed)
    gen = Generator(rng)
    servers = start_pair({"list-max-listpack-size": fill})
    conns = []
    try:
        conns = [RawConnection(s.port) for s in servers]
        if protocol == 3:
            for c in conns:
                assert c.command("HELLO", "3")[:1] == b"%"
        for c in conns:
            c.command("SET", WRONG, "not a list")
        history = []
        batch = 64
        for start in range(0, COUNT, batch):
            cmds = [gen.command() for _ in range(min(batch, COUNT - start))]
            for c in conns:
                c.send_raw(b"".join(encode_command(cmd) for cmd in cmds))
            try:
                replies = [[c.read_reply() for _ in cmds] for c in conns]
            except Exception as e:
                pytest.fail(f"random list test (DIFF_SEED={SEED}, RESP{protocol}, fill {fill}): reading replies "
                            f"#{start}..#{start + len(cmds) - 1} failed: {e}", pytrace=False)
            for i, cmd in enumerate(cmds):
                want, got = replies[0][i], replies[1][i]
                history.append(cmd)
                why = compare({}, want, got)
                if why:
                    recent = "\n".join("    " + " ".join(map(repr, h)) for h in history[-15:])
                    pytest.fail(
                        f"random list mismatch (DIFF_SEED={SEED}, RESP{protocol}, fill {fill}) at command "
                        f"#{start + i}: {' '.join(map(repr, cmd))}\n  {why}\n"
                        f"  redis:    {show(want)}\n  {subject_name() + ':':<9} {show(got)}\n"
                        f"  last commands:\n{recent}", pytrace=False)
        for k in KEYS + [WRONG]:
            a, b = (c.command("TYPE", k) for c in conns)
            assert a == b, f"final type differs for {k}: {show(a)} vs {show(b)} (DIFF_SEED={SEED})"
            if a == b"+list\r\n":
                a, b = (c.command("LRANGE", k, "0", "-1") for c in conns)
                assert a == b, f"final state differs for {k}: {show(a)} vs {show(b)} (DIFF_SEED={SEED})"
    finally:
        for c in conns:
            c.close()
        stop_pair(servers)
