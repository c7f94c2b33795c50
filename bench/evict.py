#!/usr/bin/env python3
"""A cache at its maxmemory: Zipf-distributed GET, SET on a miss, cinnabar and redis-server
side by side (issue 24's "beat Redis's approximation").

Both servers are started here (loopback, temporary directories, persistence off) with the same
maxmemory (--budget bytes above what the empty server uses) and policy, and stopped at the end.
Client processes (--procs) each draw keys from one Zipf distribution over --keys keys (rank r
with weight 1/r^s, ranks spread over the key names by a fixed random permutation), send GETs in
pipelined batches (--batch) and SET every missed key (--value bytes). A warm-up of --warmup
requests per process fills the cache past its limit; then --requests per process are measured:
the hit ratio (GET hits / GETs, from the replies), requests per second (GETs and SETs over the
wall time), the server's CPU time per 1000 requests (/proc/PID/stat), evicted_keys, and
used_memory against maxmemory at the end. Every process draws the same sequence on both servers
(same seeds). Nothing here asserts anything: figures go to docs/BENCHMARKS.md.

Python clients bound the request rate on a 2-core machine; compare the hit ratios and the CPU per
request rather than absolute rates (docs/BENCHMARKS.md).

    python3 bench/evict.py                                  # allkeys-lru and allkeys-lfu
    python3 bench/evict.py --policies allkeys-lru --keys 1000000 --budget 50000000
"""
import argparse
import bisect
import itertools
import multiprocessing
import os
import random
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import support  # noqa: E402
from bench import Conn, cpu_seconds  # noqa: E402


def zipf_cdf(n, s):
    acc, out = 0.0, []
    for r in range(1, n + 1):
        acc += 1.0 / r ** s
        out.append(acc)
    return out


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Reader:
    """Reads GET replies ($n / $-1) and +OK / -errors from a socket."""

    def __init__(self, sock):
        self.sock, self.buf = sock, bytearray()

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def get_reply(self):
        line = self.line()
        if line == b"$-1":
            return False
        if line[:1] == b"$":
            n = int(line[1:])
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            del self.buf[:n + 2]
            return True
        raise RuntimeError(f"unexpected reply {line!r}")


def client(port, seed, args, cdf, perm, counts, barrier):
    rng = random.Random(seed)
    total = cdf[-1]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rd = Reader(sock)
    value = b"v" * args.value
    names = [b"key:%d" % perm[i] for i in range(args.keys)]

    def run(n):
        gets = hits = sets = 0
        for _ in range(0, n, args.batch):
            keys = [names[bisect.bisect_left(cdf, rng.random() * total)] for _ in range(args.batch)]
            sock.sendall(b"".join(encode(b"GET", k) for k in keys))
            missed = [k for k in keys if not rd.get_reply()]
            gets += len(keys)
            hits += len(keys) - len(missed)
            if missed:
                sock.sendall(b"".join(encode(b"SET", k, value) for k in missed))
                for _ in missed:
                    line = rd.line()
                    if line != b"+OK":
                        raise RuntimeError(f"SET got {line!r}")
                sets += len(missed)
        return gets, hits, sets

    run(args.warmup)
    barrier.wait()
    gets, hits, sets = run(args.requests)
    counts.put((gets, hits, sets))
    sock.close()


def measure(server, policy, args, cdf, perm):
    c = Conn(server.port)
    c.call("FLUSHALL")
    c.call("CONFIG", "SET", "maxmemory", "0")
    c.call("CONFIG", "SET", "maxmemory-policy", policy)
    limit = int(c.info("memory")["used_memory"]) + args.budget
    c.call("CONFIG", "SET", "maxmemory", str(limit))
    ctx = multiprocessing.get_context("fork")
    counts = ctx.Queue()
    barrier = ctx.Barrier(args.procs + 1)
    procs = [ctx.Process(target=client, args=(server.port, 1000 + i, args, cdf, perm, counts, barrier))
             for i in range(args.procs)]
    for p in procs:
        p.start()
    barrier.wait()
    cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
    results = [counts.get() for _ in procs]
    wall, cpu = time.monotonic() - t0, cpu_seconds(server.proc.pid) - cpu0
    for p in procs:
        p.join()
    gets, hits, sets = (sum(x) for x in zip(*results))
    mem = c.info("memory")
    row = {
        "hit": hits / gets,
        "rps": (gets + sets) / wall,
        "cpu_ms_per_1k": 1000 * cpu / (gets + sets) * 1000,
        "evicted": int(c.info("stats")["evicted_keys"]),
        "keys": c.call("DBSIZE"),
        "over": int(mem["used_memory"]) - limit,
    }
    c.close()
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--policies", default="allkeys-lru,allkeys-lfu")
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--zipf", type=float, default=0.99, help="exponent s")
    p.add_argument("--budget", type=int, default=30_000_000, help="maxmemory above the empty server's used_memory")
    p.add_argument("--value", type=int, default=100)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--warmup", type=int, default=400_000, help="requests per process before measuring")
    p.add_argument("--requests", type=int, default=400_000, help="measured GETs per process")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--cinnabar-threads", default="1")
    args = p.parse_args()
    cdf = zipf_cdf(args.keys, args.zipf)
    perm = list(range(args.keys))
    random.Random(7).shuffle(perm)
    print(f"{args.keys} keys, zipf s={args.zipf}, maxmemory = empty + {args.budget} bytes, "
          f"{args.value}-byte values, {args.procs} client processes, batches of {args.batch} GETs")
    print(f"{'policy':<12} {'server':<9} {'hit ratio':>9} {'req/s':>9} {'cpu ms/1k req':>13} "
          f"{'evicted':>9} {'keys held':>9} {'used-max':>9}")
    servers = {}
    try:
        servers["redis"] = support.start_redis()
        servers["cinnabar"] = support.start_cinnabar(threads=args.cinnabar_threads)
        for policy, _round in itertools.product(args.policies.split(","), range(args.rounds)):
            for name in ("redis", "cinnabar"):
                r = measure(servers[name], policy, args, cdf, perm)
                print(f"{policy:<12} {name:<9} {r['hit']:>9.4f} {r['rps']:>9.0f} {r['cpu_ms_per_1k']:>13.2f} "
                      f"{r['evicted']:>9} {r['keys']:>9} {r['over']:>9}", flush=True)
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    main()
