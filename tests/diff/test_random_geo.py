"""Randomized differential test for the geo commands: seeded random GEOADDs of members around
random centres (near the poles, on both sides of the antimeridian, on the equator, in Sicily),
several members sometimes on the same point (ties), then random GEOSEARCH / GEOSEARCHSTORE /
GEORADIUS / GEORADIUSBYMEMBER (and the _RO forms) with random option combinations and units,
GEODIST, GEOPOS, GEOHASH, ZREM and DEL, compared reply by reply with redis-server (RESP2 and
RESP3). Each STORE form is followed by ZRANGE WITHSCORES and OBJECT ENCODING of its
destination. Small listpack thresholds exercise both sorted-set encodings. A few commands are
malformed on purpose (the first error found must be Redis's).

    DIFF_SEED=1234 pytest tests/diff/test_random_geo.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                              # longer runs
"""
import pytest

from random_runner import SEED, random_count, run_random, same_counters, same_state, weighted

COUNT = random_count(3000)

GKEYS = ["g0", "g1", "g2"]
DESTS = ["d0", "d1", "g2"]
MEMBERS = [f"m{i}" for i in range(40)] + ["", "a long member name over 16b"]
# (longitude, latitude) of the centres members gather around.
CENTRES = [(13.361389, 38.115556), (0, 0), (179.9995, 10), (-179.9995, 10), (180, -45), (-180, 60),
           (10, 85.05112878), (-20, -85.05112878), (100, 84.9), (-60, -80.5), (45, 66.5), (-120, 70)]
UNITS = ["m", "km", "ft", "mi", "M", "KM"]
CONFIG = {"zset-max-listpack-entries": "8", "zset-max-listpack-value": "16"}


def fmt(x):
    return repr(round(x, 8))


class Generator:
    def __init__(self, rng):
        self.r = rng
        self.pending = []

    def key(self):
        return self.r.choice(GKEYS)

    def member(self):
        # Mostly the first few, so that searches FROMMEMBER usually find theirs.
        return self.r.choice(MEMBERS[:10] if self.r.random() < 0.8 else MEMBERS)

    def point(self):
        r = self.r
        lon, lat = r.choice(CENTRES)
        spread = r.choice([0, 0.00001, 0.001, 0.05, 1, 5])
        lon = max(-180.0, min(180.0, lon + r.uniform(-spread, spread)))
        lat = max(-85.05112878, min(85.05112878, lat + r.uniform(-spread, spread)))
        return fmt(lon), fmt(lat)

    def bad_point(self):
        return self.r.choice([("180.5", "0"), ("0", "85.1"), ("-181", "10"), ("x", "1"), ("1", "nan"), ("0", "-86")])

    def distance(self):
        r = self.r
        return [r.choice(["0", "1", "50", "100", "1000", "5000", "20000", "150", "0.5", "1e5", "300"]),
                r.choice(UNITS)]

    def geoadd(self):
        r = self.r
        flags = [f for f in ("NX", "XX", "CH") if r.random() < 0.15]
        r.shuffle(flags)
        args = ["GEOADD", self.key()] + flags
        same = self.point() if r.random() < 0.3 else None
        for _ in range(r.randint(1, 4)):
            lon, lat = same or self.point()
            if r.random() < 0.03:
                lon, lat = self.bad_point()
            args += [lon, lat, self.member()]
        return args

    def options(self, store_ok, search):
        """The common trailing options, shuffled; may add STORE/STOREDIST for GEORADIUS."""
        r = self.r
        opts = []
        stored = False
        if r.random() < 0.4:
            opts.append([r.choice(["ASC", "DESC", "asc", "desc"])])
        if r.random() < 0.4:
            c = ["COUNT", str(r.choice([1, 2, 3, 5, 10, 50]))]
            if r.random() < 0.4:
                c.append("ANY")
            opts.append(c)
        if store_ok and r.random() < 0.3:
            stored = True
            opts.append([r.choice(["STORE", "STOREDIST"]), r.choice(DESTS)] if not search else ["STOREDIST"])
        if not (stored or (store_ok and search)) or r.random() < 0.05:
            for w in ("WITHDIST", "WITHCOORD", "WITHHASH"):
                if r.random() < 0.4:
                    opts.append([w])
        r.shuffle(opts)
        return [w for o in opts for w in o], stored

    def shape(self):
        r = self.r
        if r.random() < 0.5:
            return ["BYRADIUS"] + self.distance()
        d1, d2 = self.distance(), self.distance()
        return ["BYBOX", d1[0], d2[0], d1[1]]

    def origin(self, key):
        r = self.r
        if r.random() < 0.4:
            return ["FROMMEMBER", self.member()]
        return ["FROMLONLAT", *self.point()]

    def geosearch(self, store):
        r = self.r
        src = self.key()
        head = ["GEOSEARCHSTORE", r.choice(DESTS), src] if store else ["GEOSEARCH", src]
        opts, stored = self.options(store, True)
        parts = [self.origin(src), self.shape(), opts]
        if r.random() < 0.1:
            parts.pop(r.randrange(2))
        r.shuffle(parts)
        cmd = head + [w for p in parts for w in p]
        if store:
            self.after_store(cmd[1])
        return cmd

    def georadius(self, bymember):
        r = self.r
        ro = r.random() < 0.3
        name = ("GEORADIUSBYMEMBER" if bymember else "GEORADIUS") + ("_RO" if ro else "")
        centre = [self.member()] if bymember else list(self.point())
        opts, stored = self.options(not ro or r.random() < 0.1, False)
        cmd = [name, self.key()] + centre + self.distance() + opts
        if stored:
            i = max(i for i, w in enumerate(cmd) if w in ("STORE", "STOREDIST"))
            if i + 1 < len(cmd):
                self.after_store(cmd[i + 1])
        return cmd

    def after_store(self, dst):
        self.pending += [["ZRANGE", dst, "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", dst]]

    def command(self):
        if self.pending:
            return self.pending.pop(0)
        r = self.r
        return weighted(r, [
            (20, self.geoadd),
            (18, lambda: self.geosearch(False)),
            (8, lambda: self.geosearch(True)),
            (8, lambda: self.georadius(False)),
            (8, lambda: self.georadius(True)),
            (5, lambda: ["GEODIST", self.key(), self.member(), self.member()]
             + ([r.choice(UNITS + ["yd"])] if r.random() < 0.7 else [])),
            (5, lambda: ["GEOPOS", self.key()] + [self.member() for _ in range(r.randint(1, 4))]),
            (5, lambda: ["GEOHASH", self.key()] + [self.member() for _ in range(r.randint(1, 4))]),
            (3, lambda: ["ZREM", self.key(), self.member(), self.member()]),
            (1, lambda: ["DEL", self.key()]),
            (1, lambda: ["ZCARD", self.key()]),
        ])


def final_state(conns):
    same_counters(conns)
    same_state(conns, GKEYS + DESTS, lambda k: (["ZRANGE", k, "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", k]))


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_geo_commands(protocol):
    run_random("random geo test", protocol, SEED + protocol, Generator, COUNT,
               config=CONFIG, final_check=final_state, history_len=20, needs_72=True)


class Dense(Generator):
    """Many members on a few points and in one small area: COUNT cuts through ties (Redis's
    pqsort order) and ANY stops inside a box."""

    def point(self):
        r = self.r
        lon, lat = r.choice(CENTRES[:4])
        if r.random() < 0.5:
            return fmt(lon), fmt(lat)
        return fmt(max(-180.0, min(180.0, lon + r.choice([-1, 1]) * 0.0001 * r.randint(0, 5)))), fmt(lat)


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_geo_ties(protocol):
    run_random("random geo ties test", protocol, SEED + 10 + protocol, Dense, COUNT // 2,
               config=CONFIG, final_check=final_state, history_len=20, needs_72=True)
