"""Randomized differential test for streams and consumer groups: seeded random sequences of XADD
(explicit increasing ids and `ms-*`, with MAXLEN/MINID, = and ~, LIMIT, NOMKSTREAM), XTRIM,
XDEL, XRANGE/XREVRANGE, XREAD, XREADGROUP (several groups and consumers, `>` and history,
NOACK), XACK, XCLAIM, XAUTOCLAIM, XPENDING, XGROUP CREATE/SETID/DESTROY/CREATECONSUMER/
DELCONSUMER, XSETID and XINFO (one in 20 sent through EVAL, so the script conversions of every
reply are covered too), sent to both servers and compared reply by reply (RESP2 and RESP3), with
small stream-node-max-entries / -bytes in some runs and CONFIG SET of them mid-run, so node
boundaries (and what `~` trimming removes) are exercised. At the end every stream is compared whole with XINFO STREAM
FULL, XINFO GROUPS and each group's PEL.

    DIFF_SEED=1234 pytest tests/diff/test_random_stream.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                                 # longer runs

Only explicit ids are used (a bare `*` id depends on the clock). Idle times, delivery times and
seen/active times are masked (harness `@mask`); everything that decides which entries a command
touches is kept clock-independent: min-idle-time and IDLE filters are either 0 or far larger
than a test run (5e8 ms), and deliveries made old on purpose use IDLE 1e9 or TIME 1000.
radix-tree-keys (one per node) and radix-tree-nodes (the rax's inner nodes) are compared.
"""
import pytest

from harness import compare
from random_runner import SEED, random_count, run_random, weighted
from resp import show

COUNT = random_count(1500)

KEYS = ["s0", "s1", "s2"]
GROUPS = ["g0", "g1", "g2"]
CONSUMERS = ["c0", "c1", "c2", "c3"]
FIELDS = ["f", "name", "n", "", "payload"]
VALUES = ["v", "1", "-7", "12345678901", "x" * 40, "", "1.5", "hello world"]
OLD = "500000000"          # a min-idle / IDLE filter no delivery of this run reaches
VERY_OLD = "1000000000"    # an IDLE that makes a delivery older than OLD

# (id of the run, server configuration): the defaults, and small nodes by entries and by bytes
CONFIGS = [
    ("default", {}),
    ("nodes-4", {"stream-node-max-entries": "4"}),
    ("bytes-96", {"stream-node-max-entries": "0", "stream-node-max-bytes": "96"}),
]

WRAP = "return redis.pcall(unpack(ARGV))"
FULL_MASK = "seen-time,active-time,2/4,1/3"


class Generator:
    """Commands over KEYS. With groups=False only the commands of the entries themselves (XADD,
    XTRIM, XDEL, XLEN, XRANGE, XREVRANGE, XSETID): longer streams, more trimming."""

    def __init__(self, rng, groups=True):
        self.r = rng
        self.groups = groups
        self.top = {k: 1 for k in KEYS}     # a guess of each stream's top ms (ids go up from it)
        self.added = {k: [] for k in KEYS}  # ids XADD was asked for (ms-* as ms-0): likely entries

    # ---- ids
    def new_id(self, k):
        r = self.r
        x = r.random()
        if x < 0.05:        # below the top: refused
            return f"{max(0, self.top[k] - r.randint(0, 3))}-{r.randint(0, 2)}"
        self.top[k] += r.choice([0, 1, 1, 1, 2, 5])
        if x < 0.4:
            ident, guess = f"{self.top[k]}-*", f"{self.top[k]}-0"
        elif x < 0.45:
            ident = guess = str(self.top[k])
        else:
            ident = guess = f"{self.top[k]}-{r.randint(0, 3)}"
        self.added[k] = self.added[k][-30:] + [guess]
        return ident

    def some_id(self, k):
        """An id near the stream's entries: existing or not, sometimes incomplete."""
        r = self.r
        if self.added[k] and r.random() < 0.6:
            return r.choice(self.added[k])
        ms = r.randint(0, self.top[k] + 1)
        if r.random() < 0.15:
            return str(ms)
        return f"{ms}-{r.randint(0, 3)}"

    def bound(self, k, low):
        r = self.r
        x = r.random()
        if x < 0.15:
            return "-" if low else "+"
        if x < 0.2:
            return "+" if low else "-"
        ident = self.some_id(k)
        return "(" + ident if r.random() < 0.25 else ident

    def fields(self):
        r = self.r
        out = []
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            out += [r.choice(FIELDS), r.choice(VALUES)]
        return out

    def trim(self, k):
        r = self.r
        strategy = r.choice(["MAXLEN", "MAXLEN", "MINID"])
        op = r.choice(["", "=", "~", "~"])
        arg = str(r.randint(0, 20)) if strategy == "MAXLEN" else self.some_id(k)
        out = [strategy] + ([op] if op else []) + [arg]
        if op == "~" and r.random() < 0.4:
            out += ["LIMIT", str(r.choice([0, 1, 2, 5, 100]))]
        return out

    def k(self):
        return self.r.choice(KEYS)

    def g(self):
        return self.r.choice(GROUPS)

    def c(self):
        return self.r.choice(CONSUMERS)

    def count(self):
        return ["COUNT", str(self.r.choice([1, 2, 3, 5, 10]))] if self.r.random() < 0.6 else []

    def ids(self, k, lo=1, hi=4):
        return [self.some_id(k) for _ in range(self.r.randint(lo, hi))]

    # ---- commands
    def xadd(self):
        r, k = self.r, self.k()
        opts = []
        if r.random() < 0.05:
            opts.append("NOMKSTREAM")
        if r.random() < 0.2:
            opts += self.trim(k)
        return ["XADD", k] + opts + [self.new_id(k)] + self.fields()

    def xreadgroup(self):
        r = self.r
        opts = ["GROUP", self.g(), self.c()] + self.count()
        if r.random() < 0.15:
            opts.append("NOACK")
        keys = [self.k()] if r.random() < 0.8 else r.sample(KEYS, 2)
        ids = [">" if r.random() < 0.7 else r.choice(["0", self.some_id(k)]) for k in keys]
        return ["XREADGROUP"] + opts + ["STREAMS"] + keys + ids

    def xclaim(self):
        r, k = self.r, self.k()
        opts = []
        if r.random() < 0.2:
            opts += r.choice([["IDLE", VERY_OLD], ["IDLE", "0"], ["TIME", "1000"]])
        if r.random() < 0.2:
            opts += ["RETRYCOUNT", str(r.randint(0, 5))]
        if r.random() < 0.15:
            opts.append("FORCE")
        if r.random() < 0.4:
            opts.append("JUSTID")
        if r.random() < 0.1:
            opts += ["LASTID", self.some_id(k)]
        return ["XCLAIM", k, self.g(), self.c(), r.choice(["0", "0", OLD])] + self.ids(k) + opts

    def xautoclaim(self):
        r, k = self.r, self.k()
        out = ["XAUTOCLAIM", k, self.g(), self.c(), r.choice(["0", "0", OLD]),
               r.choice(["0", "-", self.some_id(k), "(" + self.some_id(k)])]
        if r.random() < 0.6:
            out += ["COUNT", str(r.choice([1, 2, 3, 10, 100]))]
        if r.random() < 0.3:
            out.append("JUSTID")
        return out

    def xpending(self):
        r, k = self.r, self.k()
        if r.random() < 0.35:
            return ["XPENDING", k, self.g()]
        out = ["XPENDING", k, self.g()]
        if r.random() < 0.25:
            out += ["IDLE", r.choice(["0", OLD])]
        out += [self.bound(k, True), self.bound(k, False), str(r.choice([1, 3, 10, 100]))]
        if r.random() < 0.4:
            out.append(self.c())
        return out

    def xgroup(self):
        r, k = self.r, self.k()
        x = r.random()
        if x < 0.45:
            out = ["XGROUP", "CREATE", k, self.g(), r.choice(["$", "0", self.some_id(k)])]
            if r.random() < 0.5:
                out.append("MKSTREAM")
            if r.random() < 0.2:
                out += ["ENTRIESREAD", str(r.randint(-1, 10))]
            return out
        if x < 0.7:
            out = ["XGROUP", "SETID", k, self.g(), r.choice(["$", "0", self.some_id(k)])]
            if r.random() < 0.3:
                out += ["ENTRIESREAD", str(r.randint(-1, 10))]
            return out
        if x < 0.82:
            return ["XGROUP", "CREATECONSUMER", k, self.g(), self.c()]
        if x < 0.95:
            return ["XGROUP", "DELCONSUMER", k, self.g(), self.c()]
        return ["XGROUP", "DESTROY", k, self.g()]

    def xsetid(self):
        r, k = self.r, self.k()
        ident = f"{self.top[k] + r.randint(-1, 2)}-{r.randint(0, 3)}"
        out = ["XSETID", k, ident]
        if r.random() < 0.4:
            out += ["ENTRIESADDED", str(r.randint(0, 60))]
        if r.random() < 0.3:
            out += ["MAXDELETEDID", self.some_id(k)]
        if r.random() > 0.2:   # mostly a refused id or counter: the ids keep going up
            self.top[k] += 1
        return out

    def command(self):
        cmd = self.plain_command()
        if self.r.random() < 0.05:   # the same from a script: Redis's conversions of each reply
            return ["EVAL", WRAP, "0"] + cmd
        return cmd

    def plain_command(self):
        r, k = self.r, self.k
        plain = [
            (22, self.xadd),
            (3, lambda: (lambda kk: ["XTRIM", kk] + self.trim(kk))(k())),
            (4, lambda: (lambda kk: ["XDEL", kk] + self.ids(kk, 1, 3))(k())),
            (2, lambda: ["XLEN", k()]),
            (5, lambda: (lambda kk: ["XRANGE", kk, self.bound(kk, True), self.bound(kk, False)] + self.count())(k())),
            (3, lambda: (lambda kk: ["XREVRANGE", kk, self.bound(kk, False), self.bound(kk, True)] + self.count())(k())),
            (1, self.xsetid),
            (0.15, lambda: ["DEL", k()]),
            (0.3, lambda: ["XADD", "str", "1-1", "f", "v"]),
            # node limits changed mid-run: only nodes made afterwards follow them
            (0.3, lambda: ["CONFIG", "SET", r.choice(["stream-node-max-entries", "stream-node-max-bytes"]),
                           r.choice(["0", "1", "2", "5", "100", "64", "4096"])]),
        ]
        if not self.groups:
            return weighted(r, plain)
        return weighted(r, plain + [
            (3, lambda: (lambda ks: ["XREAD"] + self.count() + ["STREAMS"] + ks
                         + [r.choice(["0", "$", self.some_id(kk)]) for kk in ks])(r.sample(KEYS, r.randint(1, 2)))),
            (14, self.xreadgroup),
            (7, lambda: (lambda kk: ["XACK", kk, self.g()] + self.ids(kk))(k())),
            (5, self.xclaim),
            (5, self.xautoclaim),
            (6, self.xpending),
            (6, self.xgroup),
            (3, lambda: ["XINFO", "GROUPS", k()]),
            (2, lambda: ["XINFO", "CONSUMERS", k(), self.g()]),
            (2, lambda: ["XINFO", "STREAM", k()]),
            (1, lambda: ["XINFO", "STREAM", k(), "FULL"] + r.choice([[], ["COUNT", "3"], ["COUNT", "0"]])),
        ])


def mods_for(cmd):
    if cmd[0] == "EVAL" and cmd[1] == WRAP:
        cmd = cmd[3:]
    name = cmd[0].upper()
    sub = cmd[1].upper() if len(cmd) > 1 else ""
    if name == "XPENDING" and len(cmd) > 3:
        return {"mask": "2/4"}
    if name == "XINFO" and sub == "CONSUMERS":
        return {"mask": "idle,inactive"}
    if name == "XINFO" and sub == "STREAM":
        return {"mask": FULL_MASK}
    return {}


def _same(conns, probes):
    for probe, mods in probes:
        a, b = (c.command(*probe) for c in conns)
        why = compare(mods, a, b)
        assert why is None, f"{' '.join(probe)}: {why}\n  redis:   {show(a)}\n  subject: {show(b)}"


def final_entries(conns):
    _same(conns, [(p, {}) for k in KEYS for p in (["XRANGE", k, "-", "+"], ["XLEN", k], ["TYPE", k])])


def final_state(conns):
    final_entries(conns)
    probes = []
    for k in KEYS:
        probes += [(["XINFO", "STREAM", k, "FULL", "COUNT", "0"], {"mask": FULL_MASK}), (["XINFO", "GROUPS", k], {})]
        for g in GROUPS:
            probes += [(["XPENDING", k, g, "-", "+", "1000"], {"mask": "2/4"}),
                       (["XINFO", "CONSUMERS", k, g], {"mask": "idle,inactive"})]
    _same(conns, probes)


SETUP = [["SET", "str", "v"]] + [["XGROUP", "CREATE", k, g, "0", "MKSTREAM"] for k in KEYS for g in GROUPS[:2]]


@pytest.mark.parametrize("variant,config", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_stream_commands(protocol, variant, config):
    offset = protocol * 10 + [c[0] for c in CONFIGS].index(variant)
    run_random("random stream test", protocol, SEED + offset, Generator, COUNT, variant=variant,
               config=config, setup=SETUP, mods_for=mods_for, final_check=final_state, history_len=25, needs_72=True)


@pytest.mark.parametrize("variant,config", CONFIGS, ids=[c[0] for c in CONFIGS])
@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_stream_entries(protocol, variant, config):
    """Entries only (no group, no XINFO): longer streams, so more node boundaries and `~` trims."""
    offset = 100 + protocol * 10 + [c[0] for c in CONFIGS].index(variant)
    run_random("random stream entries test", protocol, SEED + offset, lambda rng: Generator(rng, groups=False),
               COUNT // 2, variant=variant, config=config, setup=[["SET", "str", "v"]], mods_for=mods_for,
               final_check=final_entries, history_len=25, needs_72=True)
