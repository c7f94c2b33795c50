#!/usr/bin/env python3
"""Writes oracle.txt: random XADD/XDEL/XTRIM sequences run against a Redis 7.2 server, with
what Redis answered and what XINFO STREAM and DUMP showed after them, for the replay test
in data::stream::tests (node boundaries, trim counts, radix-tree-keys/-nodes) and
persist::stream::tests (RDB type 21 byte for byte).

    redis-server --port 27411 --save "" --appendonly no &
    python3 oracle.py 27411 > oracle.txt
"""
import random
import socket
import sys


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply %r" % line)


VALUES = [b"alice", b"login", b"1700000000", b"0", b"127", b"128", b"-1", b"4095", b"4096", b"-4096",
          b"-4097", b"32767", b"32768", b"8388607", b"8388608", b"2147483648", b"-2147483649",
          b"9223372036854775807", b"-9223372036854775808", b"4611686018427387903", b"4611686018427387904",
          b"-4611686018427387904", b"-4611686018427387905", b"007", b"+1", b"-0", b"", b" 1", b"1.5"]
FIELD_SETS = [[b"name", b"action", b"ts"], [b"a"], [b"x", b"y"], [b"1", b"2"], [b"f" * 70], [b""],
              [b"name", b"action"], [b"-5", b"z" * 130]]


def value(rng):
    k = rng.random()
    if k < 0.6:
        return rng.choice(VALUES)
    if k < 0.85:
        return rng.choice(b"abcdefgh").to_bytes(1, "big") * rng.choice([1, 5, 62, 63, 64, 126, 127, 128, 200])
    if k < 0.99:
        return str(rng.randint(-10**6, 10**6)).encode()
    return b"v" * rng.choice([4094, 4095, 4096, 5000])


def hexs(b):
    """A string as the replay reads it: hex, "-" for empty, "<n>*<hex byte>" for a run."""
    if len(b) > 8 and b == b[:1] * len(b):
        return "%d*%s" % (len(b), b[:1].hex())
    return b.hex() if b else "-"


def idstr(i):
    return "%d-%d" % i


def scenario(r, rng, max_bytes, max_entries, ops, check_every, out):
    r("DEL", "s")
    r("CONFIG", "SET", "stream-node-max-bytes", max_bytes)
    r("CONFIG", "SET", "stream-node-max-entries", max_entries)
    out.append("config %d %d" % (max_bytes, max_entries))
    live = []  # ids, sorted
    ms, seq = rng.choice([(0, 1), (1, 0), (1700000000000, 0), (5, 2**63)])
    fields = rng.choice(FIELD_SETS)
    for n in range(ops):
        k = rng.random()
        if k < 0.7 or not live:
            j = rng.random()
            if j < 0.4 and seq < 2**64 - 100:
                seq += 1
            elif j < 0.55 and seq < 2**64 - 100:
                seq += rng.randint(2, 40)
            elif j < 0.75:
                ms, seq = ms + rng.randint(1, 20), 0
            elif j < 0.9:
                ms, seq = ms + rng.randint(1, 5000), rng.randint(0, 1000)
            elif j < 0.95 and seq < 2**62:
                seq += 2**62
            else:
                ms, seq = ms + 2**rng.randint(20, 50), rng.choice([0, rng.randint(0, 2**64 - 1000)])
            if rng.random() < 0.15:
                fields = rng.choice(FIELD_SETS)
            args = []
            for f in fields:
                args += [f, value(rng)]
            r("XADD", "s", idstr((ms, seq)), *args)
            live.append((ms, seq))
            out.append("add %s %s" % (idstr((ms, seq)), " ".join(hexs(a) for a in args)))
        elif k < 0.85:
            burst = rng.randint(10, 30) if rng.random() < 0.1 else 1
            at = rng.randrange(len(live))
            for _ in range(burst):
                if rng.random() < 0.1:
                    i = (ms, rng.randint(0, 2**64 - 1))
                elif at < len(live):
                    i = live[at]
                else:
                    break
                got = r("XDEL", "s", idstr(i))
                if got:
                    live.remove(i)
                out.append("del %s %d" % (idstr(i), got))
        else:
            approx = rng.random() < 0.6
            limit = rng.choice([0, 1, 5, 50, 1000]) if approx else 0
            if rng.random() < 0.5:
                arg = str(rng.choice([0, len(live), max(0, len(live) - 1), len(live) // 2,
                                      rng.randint(0, len(live) + 3)]))
                strategy = "maxlen"
            else:
                strategy = "minid"
                arg = idstr(rng.choice(live + [(0, 0), (ms, seq + 1 if seq < 2**64 - 1 else seq)]))
            cmd = ["XTRIM", "s", strategy, "~" if approx else "=", arg]
            if approx:
                cmd += ["LIMIT", limit]
            got = r(*cmd)
            out.append("trim %s %s %s %d %d" % (strategy, "~" if approx else "=", arg, limit, got))
            live = [tuple(map(int, e[0].split(b"-"))) for e in r("XRANGE", "s", "-", "+")]
        if n % check_every == 0 or n == ops - 1:
            info = r("XINFO", "STREAM", "s")
            d = dict(zip(info[0::2], info[1::2]))
            out.append("check %d %d %d %s %s %s %d" % (
                d[b"length"], d[b"radix-tree-keys"], d[b"radix-tree-nodes"], d[b"last-generated-id"].decode(),
                d[b"recorded-first-entry-id"].decode(), d[b"max-deleted-entry-id"].decode(), d[b"entries-added"]))
    dump = r("DUMP", "s")
    out.append("dump %s" % dump[:-10].hex())


def main():
    r = Conn(int(sys.argv[1]))
    rng = random.Random(21)
    out = []
    configs = [(4096, 100), (0, 0), (1, 0), (50, 0), (300, 3), (100000, 300), (1000, 1), (200, 10),
               (4096, 5), (0, 2), (600, 0), (4096, 100)]
    for max_bytes, max_entries in configs:
        for _ in range(2):
            scenario(r, rng, max_bytes, max_entries, 150, 2, out)
    # Counts past 127 and 4095 in one node.
    scenario(r, rng, 0, 0, 4400, 400, out)
    r("CONFIG", "SET", "stream-node-max-bytes", 4096)
    r("CONFIG", "SET", "stream-node-max-entries", 100)
    print("\n".join(out))


main()
