#!/usr/bin/env python3
"""Benchmark cinnabar against redis-server, side by side on this machine.

Both servers are started here on free loopback ports (each in its own temporary directory, with
persistence off) and stopped at the end. Benchmarks are never tests: nothing here asserts a speed.

Throughput mode (default): redis-benchmark with 50 clients at pipeline 1 and 16 for SET GET INCR
MSET, one run per (command, pipeline, server) and round (--rounds, median shown), alternating servers. Around each run the server's
CPU time (utime + stime of the whole process, all threads, from /proc/PID/stat) is read, which
gives CPU microseconds per request. Printed: command, pipeline, rps redis, rps cinnabar, ratio
(cinnabar / redis), CPU us/request for both, and how busy the load generator was during each
server's runs (client %: its CPU time over the run's wall time; near 100 the client bounds the
rate).

Memory mode (--memory): loads the same N keys (default 1M) with 16-byte values into both servers
through a pipelined loader, checks DBSIZE is exactly N on both, and prints RSS (VmRSS from
/proc/PID/status), used_memory from INFO, and bytes per key (growth over the empty server / N).
--stream-memory does the same with N entries (--entries, default 1M) of three small fields
(type, order_id, total) XADDed with `*` ids to one stream, checked by XLEN.

Streams rows (-t xadd,xrange,xread,xreadgroup): XADD of an order event to one growing stream;
XRANGE ... COUNT 10 and XREAD COUNT 10 from a random id of a prefilled 100k-entry stream; and
xreadgroup, a loop of XREADGROUP COUNT 1 and XACK of the id read, from 8 Python clients
(requests = reads + acks). A test's setup (prefills) runs before the server's CPU time is read.

Note: on a 2-core machine redis-benchmark competes with the server for CPU; compare ratios and
CPU per request rather than absolute numbers. cinnabar gets the cores redis-benchmark leaves
(--threads = cores - benchmark threads, here 1, as redis-server's one thread); with one worker
per core (--cinnabar-threads 0) three busy threads share two cores and every worker sleeps and
is woken far more often (see docs/BENCHMARKS.md). Where redis-benchmark is at ~100% of its
core the rate is the client's; --bench-procs 2 runs two redis-benchmark processes per run
(they then take CPU from the server's core too: docs/BENCHMARKS.md, "Where redis-benchmark
is the limit").

    python3 bench/bench.py                      # throughput, -n 200000 per run
    python3 bench/bench.py -n 1000000 -P 1,16,64 -t set,get
    python3 bench/bench.py --memory             # 1M keys, 16-byte values
    python3 bench/bench.py -t xadd,xrange,xread,xreadgroup   # the streams rows
    python3 bench/bench.py -t setbit                         # SETBIT over 1000 day bitmaps
    python3 bench/bench.py -n 20000 -t bitcount,bitop        # 1 MB scans: CPU per request
    python3 bench/bench.py -t bitfield          # BITFIELD INCRBY of packed u8 counters
    python3 bench/bench.py --stream-memory      # 1M stream entries of 3 small fields
    python3 bench/bench.py --all                # both
    python3 bench/bench.py -t set,lpush --appendfsync always   # with an AOF, fsync per write
    python3 bench/bench.py --tls -t set,get     # over TLS (redis-benchmark --tls)

TLS mode (--tls): both servers get a tls-port beside their plain one, with a certificate made
here by the openssl CLI (no client certificates: tls-auth-clients no), and redis-benchmark
connects to it with --tls --cacert. The redis-server is then Redis 7.2.6 built with
BUILD_TLS=yes (`make oracle-tls`), unless --redis-bin says otherwise.
"""
import argparse
import csv
import io
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import support  # noqa: E402  (tests/support.py: free ports, start/stop of both servers)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    # the command name (field 2) may contain spaces: split after its closing parenthesis
    fields = data[data.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK


def children_cpu_seconds():
    """utime + stime of this process's waited-for children (redis-benchmark, the MULTI
    clients), in seconds."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def client_busy(cpu_before, wall_before):
    """How busy the load generator was since (children_cpu_seconds(), time.monotonic()) were
    read, in % of one core: a client near 100% of its core bounds the rate, whatever the
    server could do."""
    return 100 * (children_cpu_seconds() - cpu_before) / (time.monotonic() - wall_before)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Conn:
    """A minimal RESP2 client for INFO / DBSIZE / loading, so the bench needs no client library."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.buf = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return int(rest) if kind == b":" else rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self.read_reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.sock.sendall(self.encode(*args))
        return self.read_reply()

    def info(self, section=None):
        text = self.call("INFO", *( [section] if section else [])).decode()
        fields = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields[k] = v
        return fields

    def load_keys(self, count, value_size, batch=10_000):
        """SET key:%010d <value_size bytes> for every index, pipelined; every reply must be +OK."""
        value = (b"v" * value_size)[:value_size]
        ok = b"+OK\r\n"
        for start in range(0, count, batch):
            end = min(count, start + batch)
            self.sock.sendall(b"".join(self.encode(b"SET", b"key:%010d" % i, value) for i in range(start, end)))
            want = (end - start) * len(ok)
            while len(self.buf) < want:
                self._fill()
            got, self.buf = self.buf[:want], self.buf[want:]
            if got != ok * (end - start):
                raise RuntimeError(f"loader got an unexpected reply near key {start}: {got[:200]!r}")

    def load_stream(self, key, count, explicit_ids=False, batch=10_000):
        """XADD `count` order events (stream_event) to `key`, pipelined: with ids <i>-0 for i
        from 1 when explicit_ids (so that any id a run draws in 0..count-1 is followed by
        entries), else with `*`. Every reply must be an id."""
        for start in range(0, count, batch):
            end = min(count, start + batch)
            self.sock.sendall(b"".join(
                self.encode(b"XADD", key, b"%d-0" % (i + 1) if explicit_ids else b"*", *stream_event(i))
                for i in range(start, end)))
            for i in range(start, end):
                reply = self.read_reply()  # raises on an error reply
                if not isinstance(reply, bytes):
                    raise RuntimeError(f"XADD {key!r} entry {i}: unexpected reply {reply!r}")


def start_servers(args):
    servers = {}
    # --appendfsync: both servers write an AOF (in their temporary directories) with it.
    aof = {"appendonly": "yes", "appendfsync": args.appendfsync} if args.appendfsync else {}
    tls = {}
    if args.tls:
        # A TLS port beside the plain one (which the setups and readiness checks use).
        tls = {"tls-cert-file": os.path.join(args.tls, "server.crt"),
               "tls-key-file": os.path.join(args.tls, "server.key"), "tls-auth-clients": "no"}
    try:
        for name in ("redis", "cinnabar"):
            config = dict(aof, **tls)
            if tls:
                config["tls-port"] = support.free_port()
            if name == "redis":
                srv = support.Server("redis", args.redis_bin, config)
            else:
                if args.cinnabar_bin:
                    os.environ["CINNABAR_BIN"] = args.cinnabar_bin
                srv = support.start_cinnabar(threads=args.cinnabar_threads, **config)
            srv.bench_port = config.get("tls-port", srv.port)
            servers[name] = srv
    except Exception:
        for s in servers.values():
            s.stop()
        raise
    return servers


# Tests redis-benchmark has no -t name for: a setup run once per server, then one command
# line redis-benchmark sends (with __rand_int__ over the keyspace).
LIMITER = ("local c = redis.call('INCR', KEYS[1]) if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end "
           "if c > tonumber(ARGV[1]) then return 0 else return 1 end")
ZSET_MEMBERS = 1000


def setup_zset(conn, args):
    conn.call("DEL", "bench:z")
    for start in range(0, ZSET_MEMBERS, 500):
        args = []
        for i in range(start, start + 500):
            args += [str(i), "m:%012d" % i]
        conn.call("ZADD", "bench:z", *args)


def setup_list(conn, args):
    """The list redis-benchmark's LRANGE tests read ("mylist", 600 elements of its default
    3-byte payload), filled here so that only LRANGE is measured (`-t lrange_*` runs an
    LPUSH pass first, inside the measured run)."""
    conn.call("DEL", "mylist")
    for _ in range(0, 600, 100):
        conn.call("LPUSH", "mylist", *(["xxx"] * 100))


def setup_pops(key, add):
    """A fresh `key` with as many members as the run pops (`add`: SADD or ZADD), so that
    every SPOP / ZPOPMIN pops something (redis-benchmark's own tests pop from what SADD /
    ZADD left: at most -r random members, gone early in the run)."""
    def setup(conn, args):
        conn.call("DEL", key)
        for start in range(0, args.requests, 1000):
            members = range(start, min(args.requests, start + 1000))
            if add == "SADD":
                conn.call("SADD", key, *(f"element:{i}" for i in members))
            else:
                conn.call("ZADD", key, *(x for i in members for x in (str(i), f"element:{i}")))
    return setup


# The bitfield row: packed counters, BITFIELD INCRBY u8 #3 of one of this many keys (random:
# redis-benchmark's __rand_int__ is zero-padded to 12 digits, which no bit offset accepts).
BITFIELD_KEYS = 10_000


def setup_limiter(conn, args):
    return conn.call("SCRIPT", "LOAD", LIMITER).decode()


def stream_event(i):
    """The fields of the streams rows' entries: an order event of three small fields, as in
    the seeds (and the --stream-memory load)."""
    return [b"type", b"order.created", b"order_id", b"%d" % i, b"total", b"%d.99" % (i % 100)]


# The stream the XRANGE / XREAD rows read: entries <i>-0 for i in 1..STREAM_ENTRIES, so that
# __rand_int__ (12 digits, a valid id) starts anywhere in it.
READ_STREAM = "bench:xs"
STREAM_ENTRIES = 100_000


def setup_read_stream(conn, args):
    if conn.call("XLEN", READ_STREAM) != STREAM_ENTRIES:
        conn.call("DEL", READ_STREAM)
        conn.load_stream(READ_STREAM, STREAM_ENTRIES, explicit_ids=True)


def setup_xadd(conn, args):
    conn.call("DEL", "bench:xadd")


# The geo set GEOSEARCH reads: GEO_MEMBERS stores spread uniformly over the degree square
# [13, 14) x [38, 39) (~9,700 km^2, ~10 per km^2), so that a 1 km radius around a random
# point of it ("13.<12 random digits>") finds about 30 of them.
GEO_KEY = "bench:geo"
GEO_MEMBERS = 100_000


def setup_geo(conn, args):
    if conn.call("ZCARD", GEO_KEY) == GEO_MEMBERS:
        return
    import random

    conn.call("DEL", GEO_KEY)
    rng = random.Random(22)
    for start in range(0, GEO_MEMBERS, 500):
        triples = []
        for i in range(start, start + 500):
            triples += ["%.6f" % (13 + rng.random()), "%.6f" % (38 + rng.random()), "store:%d" % i]
        conn.call("GEOADD", GEO_KEY, *triples)


# The HyperLogLog rows: PFADD of a random element to one key (dense after its first few
# thousand elements, as a day of page views is), and PFCOUNT of three / PFMERGE of two dense
# HLLs of HLL_ELEMENTS elements each (neither caches: every request merges 16384 registers
# per key).
HLL_KEYS = ["bench:hll:{1}", "bench:hll:{2}", "bench:hll:{3}"]
HLL_ELEMENTS = 50_000


def setup_hll(conn, args):
    conn.call("DEL", "bench:hll", "bench:hll:week", *HLL_KEYS)
    for n, key in enumerate(HLL_KEYS):
        for start in range(0, HLL_ELEMENTS, 1000):
            conn.call("PFADD", key, *(f"visitor:{n}:{i}" for i in range(start, start + 1000)))


class Subscribers:
    """N raw connections SUBSCRIBEd to bench:ch, each drained by a thread (for publishN)."""

    def __init__(self, port, n):
        import threading

        self.socks = []
        self.received = 0
        self.stop = False
        self.threads = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(Conn.encode("SUBSCRIBE", "bench:ch"))
            self.socks.append(s)
            t = threading.Thread(target=self._drain, args=(s,), daemon=True)
            t.start()
            self.threads.append(t)
        c = Conn(port)
        try:
            for _ in range(200):  # wait until every subscription is registered
                if c.call("PUBSUB", "NUMSUB", "bench:ch")[1] == n:
                    break
                time.sleep(0.01)
        finally:
            c.close()

    def _drain(self, s):
        while not self.stop:
            try:
                data = s.recv(1 << 20)
            except OSError:
                return
            if not data:
                return
            self.received += data.count(b"message")

    def close(self):
        self.stop = True
        for s in self.socks:
            s.close()


# Bitmaps: two 1 MB bitmaps of random bytes (the same on both servers: a fixed seed) for the
# scanning rows, BITCOUNT of one and BITOP AND of both into a third key.
BITMAP_BYTES = 1 << 20


def setup_bitmaps(conn, args):
    import random

    rng = random.Random(22)
    for k in ("bench:bm1", "bench:bm2"):
        conn.call("SET", k, rng.randbytes(BITMAP_BYTES))
    conn.call("DEL", "bench:bmand")


SETBIT_KEYS = 1000


def setup_setbit(conn, args):
    conn.call("DEL", *(f"bench:bits:{i:012d}" for i in range(SETBIT_KEYS)))


CUSTOM = {
    # name: (setup(conn, args) -> context, command(context) -> argv, -r override)
    "zrange": (setup_zset, lambda _: ["ZRANGE", "bench:z", "0", "9", "WITHSCORES"], None),
    "zrank": (setup_zset, lambda _: ["ZRANK", "bench:z", "m:__rand_int__"], ZSET_MEMBERS),
    "lrange_100": (setup_list, lambda _: ["LRANGE", "mylist", "0", "99"], None),
    "lrange_300": (setup_list, lambda _: ["LRANGE", "mylist", "0", "299"], None),
    "lrange_600": (setup_list, lambda _: ["LRANGE", "mylist", "0", "599"], None),
    "spop": (setup_pops("myset", "SADD"), lambda _: ["SPOP", "myset"], None),
    "zpopmin": (setup_pops("myzset", "ZADD"), lambda _: ["ZPOPMIN", "myzset"], None),
    "evalsha": (setup_limiter, lambda sha: ["EVALSHA", sha, "1", "rl:__rand_int__", "100", "60"], None),
    # PUBLISH to a channel with 0, 1 or 50 subscribers (16-byte payload); see Subscribers
    "publish0": (lambda conn, args: None, lambda _: ["PUBLISH", "bench:ch", "0123456789abcdef"], None),
    "publish1": (lambda conn, args: None, lambda _: ["PUBLISH", "bench:ch", "0123456789abcdef"], None),
    "publish50": (lambda conn, args: None, lambda _: ["PUBLISH", "bench:ch", "0123456789abcdef"], None),
    # streams: XADD of an order event to one growing stream (auto ids); XRANGE / XREAD of 10
    # entries from a random id of a 100k-entry stream (setup_read_stream)
    "xadd": (setup_xadd, lambda _: ["XADD", "bench:xadd", "*", "type", "order.created", "order_id", "__rand_int__",
                                    "total", "9.99"], None),
    "xrange": (setup_read_stream, lambda _: ["XRANGE", READ_STREAM, "__rand_int__", "+", "COUNT", "10"],
               STREAM_ENTRIES),
    # bitmaps: SETBIT at one user id of a day's bitmap, over 1000 days (1 KB each): the first
    # SETBIT of a key creates it, the others find the bit set (a user seen again that day;
    # redis-benchmark's __rand_int__ has leading zeros, which an offset may not have)
    "setbit": (setup_setbit, lambda _: ["SETBIT", "bench:bits:__rand_int__", "8191", "1"], SETBIT_KEYS),
    "bitcount": (setup_bitmaps, lambda _: ["BITCOUNT", "bench:bm1"], None),
    "bitop": (setup_bitmaps, lambda _: ["BITOP", "AND", "bench:bmand", "bench:bm1", "bench:bm2"], None),
    "xread": (setup_read_stream, lambda _: ["XREAD", "COUNT", "10", "STREAMS", READ_STREAM, "__rand_int__"],
              STREAM_ENTRIES),
    # packed counters: INCRBY of the fourth u8 field of one of 10k keys
    "bitfield": (None, lambda _: ["BITFIELD", "bf:__rand_int__", "INCRBY", "u8", "#3", "1"], BITFIELD_KEYS),
    # GEOSEARCH BYRADIUS 1 km around a random point of the 100k-member set (setup_geo)
    "geosearch": (setup_geo, lambda _: ["GEOSEARCH", GEO_KEY, "FROMLONLAT", "13.__rand_int__", "38.__rand_int__",
                                        "BYRADIUS", "1", "km"], 10**12),
    # HyperLogLog (setup_hll)
    "pfadd": (setup_hll, lambda _: ["PFADD", "bench:hll", "visitor:__rand_int__"], None),
    "pfcount": (setup_hll, lambda _: ["PFCOUNT", *HLL_KEYS], None),
    "pfmerge": (setup_hll, lambda _: ["PFMERGE", "bench:hll:week", *HLL_KEYS[:2]], None),
}

_UNPREPARED = object()


def prepare(port, test, args):
    """Run a test's setup (outside the measured CPU time); its result is the context that
    redis_benchmark() takes."""
    custom = CUSTOM.get(test) or DRIVEN.get(test)
    if not custom or custom[0] is None:
        return None
    conn = Conn(port)
    try:
        return custom[0](conn, args)
    finally:
        conn.close()


def redis_benchmark(port, test, pipeline, args, context=_UNPREPARED):
    """One measured run: (rps, p50 latency ms, client %). `context` is prepare()'s result;
    without it the setup runs here."""
    if context is _UNPREPARED:
        context = prepare(port, test, args)
    if test in DRIVEN:
        return DRIVEN[test][1](port, pipeline, args)
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(args.clients),
           "-n", str(args.requests), "-P", str(pipeline), "--csv"]
    if args.tls:
        cmd += ["--tls", "--cacert", os.path.join(args.tls, "ca.crt")]
    custom = CUSTOM.get(test)
    if custom:
        _, command, keyspace = custom
        cmd += ["-r", str(keyspace or args.keyspace or 1)]
        cmd += command(context)
    else:
        cmd += ["-t", test]
    if args.keyspace and not custom:
        cmd += ["-r", str(args.keyspace)]
    if args.data_size:
        cmd += ["-d", str(args.data_size)]
    if args.bench_threads and args.bench_threads > 1:
        cmd += ["--threads", str(args.bench_threads)]
    subs = Subscribers(port, int(test[len("publish"):])) if test.startswith("publish") else None
    # --bench-procs: that many redis-benchmark processes side by side, the clients and the
    # requests shared out among them.
    procs_n = max(1, args.bench_procs)
    shares = [(args.clients // procs_n + (i < args.clients % procs_n),
               args.requests // procs_n + (i < args.requests % procs_n)) for i in range(procs_n)]
    procs = []
    try:
        client_before, wall_before = children_cpu_seconds(), time.monotonic()
        for clients, requests in shares:
            argv = list(cmd)
            argv[argv.index("-c") + 1] = str(clients)
            argv[argv.index("-n") + 1] = str(requests)
            procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [p.communicate(timeout=args.timeout) for p in procs]
        client = client_busy(client_before, wall_before)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if subs:
            subs.close()
    results = []
    for p, (stdout, stderr) in zip(procs, outputs):
        rows = [row for row in csv.reader(io.StringIO(stdout)) if row and row[0] != "test"]
        if p.returncode != 0 or not rows:
            raise RuntimeError(f"redis-benchmark failed ({p.returncode}): {stderr.strip()[-300:]}")
        if len(rows) != 1:
            # A test with a preparation pass (none of ours should have one: its requests would
            # count in the CPU time) or several tests: refuse rather than report the wrong row.
            raise RuntimeError(f"redis-benchmark printed {len(rows)} results: {[r[0] for r in rows]}")
        results.append((float(rows[0][1]), float(rows[0][4])))
    # Several processes: all the requests over the longest process's run (each process's
    # own duration is its requests over its rate).
    longest = max(requests / rps for (_, requests), (rps, _) in zip(shares, results))
    rps = args.requests / longest
    return rps, statistics.median(p50 for _, p50 in results), client  # rps, p50 latency ms, client %


def _multi_worker(port, transactions, pipeline, queue):
    conn = Conn(port)
    txn = b"".join([Conn.encode("MULTI"), Conn.encode("INCR", "t:a"), Conn.encode("INCR", "t:b"),
                    Conn.encode("SET", "t:c", "x"), Conn.encode("GET", "t:c"), Conn.encode("DECR", "t:a"),
                    Conn.encode("EXEC")])
    batch = txn * pipeline
    replies_per_txn = 7
    sent = 0
    while sent < transactions:
        n = min(pipeline, transactions - sent)
        conn.sock.sendall(batch if n == pipeline else txn * n)
        for _ in range(n * replies_per_txn):
            conn.read_reply()
        sent += n
    conn.close()
    queue.put(sent)


def multi_transactions(args):
    return max(1, args.requests // 10 // 8) * 8


def multi_exec(port, pipeline, args):
    """MULTI + 5 commands + EXEC, from 8 client processes (redis-benchmark cannot send a
    transaction). Returns (transactions/s, 0, client %): Python clients bound the rate, so compare ratios."""
    import multiprocessing as mp

    procs_n = 8
    per = multi_transactions(args) // procs_n
    q = mp.Queue()
    procs = [mp.Process(target=_multi_worker, args=(port, per, pipeline, q)) for _ in range(procs_n)]
    client_before, t0 = children_cpu_seconds(), time.monotonic()
    for p in procs:
        p.start()
    done = sum(q.get(timeout=args.timeout) for _ in procs)
    for p in procs:
        p.join(args.timeout)
    return done / (time.monotonic() - t0), 0.0, client_busy(client_before, t0)


# The XREADGROUP + XACK loop: GROUP_PROCS Python clients, consumers of one group, each
# repeating: `pipeline` XREADGROUP ... COUNT 1 STREAMS s > (pipelined), then an XACK of each id
# read (pipelined). A request is one of those commands; the stream holds exactly the entries
# the run reads (setup_group_stream, unmeasured).
GROUP_STREAM, GROUP_NAME, GROUP_PROCS = "bench:xg", "bench:workers", 8


def group_entries(args):
    """Entries one XREADGROUP run reads: -n / 10 (each read and each ack is a request), shared
    out evenly among the clients."""
    return max(1, args.requests // 10 // GROUP_PROCS) * GROUP_PROCS


def setup_group_stream(conn, args):
    conn.call("DEL", GROUP_STREAM)
    conn.load_stream(GROUP_STREAM, group_entries(args))
    conn.call("XGROUP", "CREATE", GROUP_STREAM, GROUP_NAME, "0")


def _xreadgroup_worker(port, consumer, entries, pipeline, queue):
    conn = Conn(port)
    read = Conn.encode("XREADGROUP", "GROUP", GROUP_NAME, consumer, "COUNT", "1", "STREAMS", GROUP_STREAM, ">")
    done = 0
    while done < entries:
        n = min(pipeline, entries - done)
        conn.sock.sendall(read * n)
        ids = []
        for _ in range(n):
            reply = conn.read_reply()  # [[stream, [[id, fields]]]], or nil once the stream is read out
            if not reply:
                raise RuntimeError(f"XREADGROUP found nothing new after {done} entries")
            ids.append(reply[0][1][0][0])
        conn.sock.sendall(b"".join(Conn.encode("XACK", GROUP_STREAM, GROUP_NAME, i) for i in ids))
        for i in ids:
            acked = conn.read_reply()
            if acked != 1:
                raise RuntimeError(f"XACK of {i!r} acked {acked}")
        done += n
    conn.close()
    queue.put(done)


def xreadgroup_ack(port, pipeline, args):
    """Returns (requests/s, 0, client %): requests = XREADGROUPs + XACKs. Python clients bound the
    rate (like multi), so compare the ratio and the CPU per request."""
    import multiprocessing as mp

    per = group_entries(args) // GROUP_PROCS
    q = mp.Queue()
    procs = [mp.Process(target=_xreadgroup_worker, args=(port, f"c{k}", per, pipeline, q)) for k in range(GROUP_PROCS)]
    client_before, t0 = children_cpu_seconds(), time.monotonic()
    for p in procs:
        p.start()
    try:
        done = sum(q.get(timeout=args.timeout) for _ in procs)
    finally:
        for p in procs:
            p.join(args.timeout)
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError("an XREADGROUP client failed")
    return 2 * done / (time.monotonic() - t0), 0.0, client_busy(client_before, t0)


# Tests whose load comes from Python processes (redis-benchmark cannot send them): name ->
# (setup or None, run(port, pipeline, args) -> (rps, p50, client %), requests measured(args)).
DRIVEN = {
    "multi": (None, multi_exec, multi_transactions),
    "xreadgroup": (setup_group_stream, xreadgroup_ack, lambda args: 2 * group_entries(args)),
}


def throughput(servers, args):
    tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    pipelines = [int(p) for p in args.pipelines.split(",")]
    results = []
    print(f"redis-benchmark: {args.clients} clients, -n {args.requests}, keyspace {args.keyspace or 'single key'}, "
          f"benchmark threads {args.bench_threads or 1}, benchmark processes {max(1, args.bench_procs)}, machine cores {os.cpu_count()}, "
          f"cinnabar threads {args.cinnabar_threads or 'one per core'}, "
          f"rounds {args.rounds} (median)", flush=True)
    for test in tests:
        for pipeline in pipelines:
            row = {"test": test.upper(), "pipeline": pipeline}
            runs = {"redis": [], "cinnabar": []}
            run_args = calibrate(servers["redis"], test, pipeline, args)
            row["requests"] = run_args.requests
            for rnd in range(args.rounds):
                # Alternate which server goes first, so drifts of the machine hit both.
                order = ("redis", "cinnabar") if rnd % 2 == 0 else ("cinnabar", "redis")
                for name in order:
                    srv = servers[name]
                    if not srv.alive():
                        row[name + "_err"] = "server died"
                        continue
                    try:
                        context = prepare(srv.port, test, run_args)  # not measured
                        before = cpu_seconds(srv.proc.pid)
                        rps, p50, client = redis_benchmark(srv.bench_port, test, pipeline, run_args, context)
                    except Exception as e:  # one failing command must not hide the others
                        row[name + "_err"] = str(e)
                        continue
                    used = cpu_seconds(srv.proc.pid) - before
                    requests = DRIVEN[test][2](run_args) if test in DRIVEN else run_args.requests
                    runs[name].append((rps, used * 1e6 / requests, p50, client))
            for name, got in runs.items():
                if len(got) < args.rounds:
                    row[name] = None
                    continue
                # Median of the rounds, each figure on its own.
                row[name] = statistics.median(r[0] for r in got)
                row[name + "_cpu_us"] = statistics.median(r[1] for r in got)
                row[name + "_p50"] = statistics.median(r[2] for r in got)
                row[name + "_client"] = statistics.median(r[3] for r in got)
            results.append(row)
            print_progress(row)
    print()
    print_table(results)
    return results


def calibrate(redis, test, pipeline, args):
    """The arguments of the measured runs of (test, pipeline): at least -n requests, and as
    many as redis-server serves in --min-seconds when that is more, so that a fast run is
    long enough for the CPU clock (whole ticks of 1/CLK_TCK s) and the machine's noise. One
    unmeasured run against redis-server gives the rate (and warms both the machine and it)."""
    run_args = argparse.Namespace(**vars(args))
    if test in DRIVEN or args.min_seconds <= 0 or not redis.alive():
        return run_args
    try:
        rps, _, _ = redis_benchmark(redis.bench_port, test, pipeline, args)
    except Exception:  # the measured runs will report it
        return run_args
    run_args.requests = max(args.requests, int(rps * args.min_seconds) // 1000 * 1000)
    return run_args


def print_progress(row):
    parts = []
    for name in ("redis", "cinnabar"):
        if row.get(name) is None:
            parts.append(f"{name}: ERROR {row.get(name + '_err', '')[:120]}")
        else:
            parts.append(f"{name}: {row[name]:,.0f} rps")
    print(f"  {row['test']:<10} P={row['pipeline']:<3} n={row['requests']:<8} " + "  ".join(parts), flush=True)


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def print_table(results):
    header = f"{'command':<10} {'pipeline':>8} {'rps redis':>12} {'rps cinnabar':>13} {'ratio':>6} " \
             f"{'cpu us/req redis':>17} {'cpu us/req cinnabar':>20} {'client % redis':>15} {'client % cinnabar':>18}"
    print(header)
    print("-" * len(header))
    for row in results:
        ratio = row["cinnabar"] / row["redis"] if row.get("redis") and row.get("cinnabar") else None
        print(f"{row['test']:<10} {row['pipeline']:>8} {fmt(row.get('redis'), ',.0f'):>12} "
              f"{fmt(row.get('cinnabar'), ',.0f'):>13} {fmt(ratio, '.2f'):>6} "
              f"{fmt(row.get('redis_cpu_us'), '.2f'):>17} {fmt(row.get('cinnabar_cpu_us'), '.2f'):>20} "
              f"{fmt(row.get('redis_client'), '.0f'):>15} {fmt(row.get('cinnabar_client'), '.0f'):>18}")
    print("ratio = cinnabar rps / redis rps; cpu = server utime+stime (all threads) / requests; "
          "client % = the load generator's utime+stime / wall time of the run (100 = one core; "
          "redis-benchmark runs one thread unless --bench-threads)")


def used_memory(conn):
    """used_memory from INFO memory, or None if the server does not report it."""
    try:
        value = conn.info("memory").get("used_memory")
    except RuntimeError:
        return None
    return None if value is None else int(value)


class KeysLoad:
    """--memory: N string keys key:%010d with value_size-byte values."""

    unit, plural = "key", "keys"

    def __init__(self, args):
        self.count, self.value_size = args.keys, args.value_size

    def describe(self):
        return f"{self.count:,} keys (key:%010d) with {self.value_size}-byte values"

    def load(self, conn):
        conn.load_keys(self.count, self.value_size)

    def loaded(self, conn):
        """How many were loaded, checked from the server's side."""
        ends = conn.call("EXISTS", b"key:%010d" % 0, b"key:%010d" % (self.count - 1), b"key:%010d" % self.count)
        if ends != 2:
            raise RuntimeError(f"EXISTS of the first, last and one-past-last key gave {ends}, expected 2")
        return conn.call("DBSIZE")


class StreamLoad:
    """--stream-memory: N entries of three small fields (stream_event) in one stream, XADD *."""

    unit, plural = "entry", "entries"
    key = "bench:events"

    def __init__(self, args):
        self.count = args.entries

    def describe(self):
        return f"{self.count:,} entries of 3 small fields (type, order_id, total) into one stream, XADD *"

    def load(self, conn):
        conn.load_stream(self.key, self.count)

    def loaded(self, conn):
        if conn.call("DBSIZE") != 1:
            raise RuntimeError("DBSIZE is not 1 after loading one stream")
        return conn.call("XLEN", self.key)


def memory(servers, args, workload):
    print(f"memory: loading {workload.describe()} into each server", flush=True)
    unit, plural = workload.unit, workload.plural
    rows = []
    for name in ("redis", "cinnabar"):
        srv = servers[name]
        conn = Conn(srv.port)
        try:
            try:
                conn.call("FLUSHALL")  # after throughput mode; a fresh server is empty anyway
            except RuntimeError as e:
                print(f"  {name}: FLUSHALL failed ({e}); DBSIZE is {conn.call('DBSIZE')} before loading")
            time.sleep(0.2)
            base_rss = rss_bytes(srv.proc.pid)
            base_used = used_memory(conn)
            started = time.monotonic()
            workload.load(conn)
            elapsed = time.monotonic() - started
            count = workload.loaded(conn)
            time.sleep(0.5)  # let background work (e.g. incremental rehashing) settle
            rss = rss_bytes(srv.proc.pid)
            used = used_memory(conn)
        except Exception as e:
            print(f"  {name}: ERROR {e}")
            rows.append({"name": name, "error": str(e)})
            continue
        finally:
            conn.close()
        if count != workload.count:
            print(f"  {name}: {count} {plural} loaded, expected {workload.count}")
        print(f"  {name}: loaded in {elapsed:.1f}s, {count:,} {plural}", flush=True)
        rows.append({"name": name, "count": count, "rss": rss, "used": used,
                     "rss_per": (rss - base_rss) / workload.count,
                     "used_per": None if used is None or base_used is None else (used - base_used) / workload.count})
    print()
    header = f"{'server':<9} {plural:>10} {'RSS MiB':>9} {'used_memory MiB':>16} {'RSS B/' + unit:>12} " \
             f"{'used B/' + unit:>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        if "error" in row:
            print(f"{row['name']:<9} error: {row['error'][:100]}")
            continue
        used_mib = None if row["used"] is None else row["used"] / 2**20
        print(f"{row['name']:<9} {row['count']:>10,} {row['rss'] / 2**20:>9.1f} {fmt(used_mib, '.1f'):>16} "
              f"{row['rss_per']:>12.1f} {fmt(row['used_per'], '.1f'):>13}")
    print(f"B/{unit} = growth over the empty server (after FLUSHALL) / {plural} loaded")
    same = {row.get("count") for row in rows}
    if len(same) != 1 or None in same:
        print(f"WARNING: the servers do not hold the same number of {plural}")
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--requests", type=int, default=int(os.environ.get("BENCH_N", 200_000)),
                   help="requests per redis-benchmark run (default 200000, env BENCH_N)")
    p.add_argument("-c", "--clients", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=float(os.environ.get("BENCH_MIN_SECONDS", 1.0)),
                   help="make each run send as many requests as redis-server serves in this many seconds "
                        "when that is more than -n (measured by one unmeasured run; default 1, 0 = exactly -n)")
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 1)),
                   help="runs per (test, pipeline, server), alternating which server goes first; the "
                        "table shows the median of each figure (default 1, env BENCH_ROUNDS)")
    p.add_argument("-P", "--pipelines", default="1,16", help="comma-separated pipeline depths (default 1,16)")
    p.add_argument("-t", "--tests", default="set,get,incr,mset",
                   help="tests (default set,get,incr,mset): any redis-benchmark -t name (lpush rpush lpop rpop "
                        "lrange_100 lrange_300 lrange_600 hset sadd spop zadd zpopmin ...), plus zrange, zrank, "
                        "evalsha (the fixed-window limiter script), multi (MULTI, 5 commands, EXEC; "
                        "transactions from 8 Python clients, -n/10 of them), publish0, publish1 and "
                        "publish50 (PUBLISH with that many subscribers; fan-out = rps x subscribers), "
                        "xadd, xrange and xread (10 entries from a random id of a 100k-entry stream), "
                        "xreadgroup (XREADGROUP COUNT 1 + XACK loop of 8 Python clients over -n/10 entries), "
                        "bitfield (BITFIELD INCRBY u8 #3 of a random one of 10k keys), "
                        "geosearch (BYRADIUS 1 km around a random point of a 100k-member geo set: ~30 found), "
                        "pfadd (a random element to one HLL), pfcount (3 dense HLLs), pfmerge (2 dense HLLs into a third)")
    p.add_argument("-r", "--keyspace", type=int, default=100_000, help="random keyspace size, 0 = one key")
    p.add_argument("-d", "--data-size", type=int, default=0, help="value size for SET/MSET (redis-benchmark default 3)")
    p.add_argument("--bench-threads", type=int, default=int(os.environ.get("BENCH_THREADS", 1)),
                   help="redis-benchmark --threads (default 1). redis-benchmark 7.0's threaded mode rounds "
                        "its run time up to steps of about 250 ms, and bench.py's LRANGE runs with it failed once here "
                        "with 'wrong number of arguments' from both servers; "
                        "use --bench-procs for more than one core of load")
    p.add_argument("--bench-procs", type=int, default=int(os.environ.get("BENCH_PROCS", 1)),
                   help="redis-benchmark processes run side by side per measured run, the clients and "
                        "requests shared out (default 1); rps = all requests / the longest process's run")
    p.add_argument("--cinnabar-threads", type=int, default=os.environ.get("CINNABAR_THREADS"),
                   help="cinnabar-server --threads N (default: the cores redis-benchmark leaves, machine cores "
                        "minus the larger of --bench-threads and --bench-procs, at least 1; 0 = cinnabar's own default, one worker per core)")
    p.add_argument("--cinnabar-bin", default=None, help="path of cinnabar-server (default target/release)")
    p.add_argument("--redis-bin", default=os.environ.get("BENCH_REDIS") or shutil.which("redis-server"),
                   help="the redis-server to measure against (default: redis-server on PATH, Debian's "
                        "packaged build with jemalloc, as users run it; env BENCH_REDIS). Not the tests' "
                        "oracle: that one is built with MALLOC=libc, which is fine for replies, not for figures")
    p.add_argument("--appendfsync", choices=["always", "everysec", "no"], default=None,
                   help="run both servers with appendonly yes and this appendfsync (default: persistence off); "
                        "the AOF rows of docs/BENCHMARKS.md: -t set,lpush --appendfsync everysec / always")
    p.add_argument("--tls", action="store_true",
                   help="redis-benchmark over TLS to a tls-port of each server (certificates made here); the "
                        "redis-server defaults to the TLS build of `make oracle-tls`")
    p.add_argument("--timeout", type=int, default=600, help="seconds allowed for one redis-benchmark run")
    p.add_argument("--memory", action="store_true", help="memory mode instead of throughput")
    p.add_argument("--stream-memory", action="store_true",
                   help="memory of one stream instead of throughput: --entries order events of 3 small fields")
    p.add_argument("--all", action="store_true", help="throughput, then memory (keys, then one stream)")
    p.add_argument("--keys", type=int, default=1_000_000, help="keys for memory mode (default 1M)")
    p.add_argument("--value-size", type=int, default=16, help="value bytes for memory mode (default 16)")
    p.add_argument("--entries", type=int, default=1_000_000, help="stream entries for --stream-memory (default 1M)")
    args = p.parse_args()
    if args.cinnabar_threads is None:
        # The load generator runs on this machine: the server gets the cores it leaves, as one
        # would configure a server sharing its host (redis-server uses one thread either way).
        args.cinnabar_threads = max(1, (os.cpu_count() or 1) - max(1, args.bench_threads or 1, args.bench_procs))
    args.cinnabar_threads = int(args.cinnabar_threads)
    tls_dir = None
    if args.tls:
        if not os.environ.get("BENCH_REDIS") and "--redis-bin" not in sys.argv:
            cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            args.redis_bin = os.path.join(cache, "cinnabar", "redis-7.2.6-tls", "src", "redis-server")
            if not os.access(args.redis_bin, os.X_OK):
                sys.exit(f"no {args.redis_bin}: build Redis with TLS first (`make oracle-tls`), or pass --redis-bin")
        if any(t.strip() in DRIVEN or t.strip().startswith("publish") for t in args.tests.split(",")):
            sys.exit("--tls: the tests with Python clients (multi, xreadgroup, publish*) have no TLS mode")
        tls_dir = tempfile.mkdtemp(prefix="bench-tls-")
        support.make_tls_ca(tls_dir, "ca")
        support.make_tls_cert(tls_dir, "server", "ca", "serverAuth")
        args.tls = tls_dir
    if not args.redis_bin:
        sys.exit("redis-server not found: apt-get install -y redis-server (or pass --redis-bin)")
    version = subprocess.run([args.redis_bin, "--version"], capture_output=True, text=True).stdout.split()
    print(f"redis-server: {args.redis_bin} ({' '.join(w for w in version if w.startswith(('v=', 'malloc=')))})")

    servers = start_servers(args)
    try:
        for name, srv in servers.items():
            tls = f", TLS port {srv.bench_port}" if args.tls else ""
            print(f"{name}: pid {srv.proc.pid}, port {srv.port}{tls}")
        if not (args.memory or args.stream_memory) or args.all:
            throughput(servers, args)
        if args.memory or args.all:
            if args.all:
                print()
            memory(servers, args, KeysLoad(args))
        if args.stream_memory or args.all:
            if args.all or args.memory:
                print()
            memory(servers, args, StreamLoad(args))
    finally:
        for srv in servers.values():
            srv.stop()
        if tls_dir:
            shutil.rmtree(tls_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
