#!/usr/bin/env python3
"""BGSAVE under a write load, and loading the file back, cinnabar and redis-server side by side.

For each server (started here on free loopback ports in temporary directories, stopped at the
end): N keys (default 1M) of V-byte values are loaded; then W writer processes SET random
existing keys (pipelines of 32) while a prober process sends GET one at a time and times every
reply; BGSAVE starts once the load runs. Printed per server:

* save s: wall time from BGSAVE to rdb_bgsave_in_progress:0;
* dataset MB: the server's memory (PSS) before the save, over the empty server's;
* peak over MB / %: the largest PSS during the save (the server's, plus its fork child's for
  redis-server: PSS counts each page shared by both once) over the PSS before it;
* stall ms: the prober's longest wait for a reply during the save (before: the same over as
  long a time before BGSAVE, under the same load);
* writes/s during the save;
* load s: the server restarted on the file ("DB loaded from disk: X seconds" in its log).

Benchmarks are never tests: nothing here asserts anything.

    python3 bench/snapshot.py                 # 1M keys of 100 bytes, 2 writers
    python3 bench/snapshot.py -n 200000 --writers 1
"""
import argparse
import multiprocessing as mp
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import support  # noqa: E402
from bench import Conn  # noqa: E402


def pss_bytes(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def total_pss(pid):
    return pss_bytes(pid) + sum(pss_bytes(c) for c in children(pid))


def writer_main(port, n, stop, counter):
    counter.value = 0
    s = socket.create_connection(("127.0.0.1", port))
    rng = random.Random(os.getpid())
    value = b"w" * 100
    while not stop.is_set():
        batch = b"".join(Conn.encode(b"SET", b"key:%010d" % rng.randrange(n), value) for _ in range(32))
        s.sendall(batch)
        got = 0
        while got < 5 * 32:
            got += len(s.recv(65536))
        with counter.get_lock():
            counter.value += 32
    s.close()


def prober_main(port, n, stop, window_start, window_end, results):
    """GETs one at a time; the longest wait inside [window_start, window_end) and before it."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rng = random.Random(7)
    worst_in, worst_before = 0.0, 0.0
    while not stop.is_set():
        req = Conn.encode(b"GET", b"key:%010d" % rng.randrange(n))
        t0 = time.monotonic()
        s.sendall(req)
        buf = b""
        while not buf.endswith(b"\r\n") or (buf.startswith(b"$") and buf.count(b"\r\n") < 2):
            buf += s.recv(65536)
        dt = time.monotonic() - t0
        ws, we = window_start.value, window_end.value
        if ws and t0 >= ws and (not we or t0 < we):
            worst_in = max(worst_in, dt)
        elif not ws:
            worst_before = max(worst_before, dt)
    results.put((worst_before, worst_in))
    s.close()


def load_time(server_kind, workdir):
    start = support.start_cinnabar if server_kind == "cinnabar" else support.start_redis
    s = start(workdir=workdir)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            with open(os.path.join(s.dir, "server.log"), "rb") as f:
                m = re.search(rb"DB loaded from disk: ([\d.]+) seconds", f.read())
            if m:
                return float(m.group(1))
            time.sleep(0.1)
        return float("nan")
    finally:
        s.stop()


def run(kind, args):
    start = support.start_cinnabar if kind == "cinnabar" else support.start_redis
    config = {"threads": args.cinnabar_threads} if kind == "cinnabar" and args.cinnabar_threads else {}
    s = start(**config)
    try:
        empty = total_pss(s.proc.pid)
        c = Conn(s.port)
        c.load_keys(args.keys, args.value_size)
        assert c.call("DBSIZE") == args.keys
        dataset = total_pss(s.proc.pid) - empty
        stop = mp.Event()
        ws, we = mp.Value("d", 0.0), mp.Value("d", 0.0)
        results = mp.Queue()
        counter = mp.Value("q", 0)
        writers = [mp.Process(target=writer_main, args=(s.port, args.keys, stop, counter))
                   for _ in range(args.writers)]
        prober = mp.Process(target=prober_main, args=(s.port, args.keys, stop, ws, we, results))
        for p in writers + [prober]:
            p.start()
        time.sleep(args.warmup)
        before = total_pss(s.proc.pid)
        w0 = counter.value
        t0 = time.monotonic()
        ws.value = t0
        assert c.call("BGSAVE") == "Background saving started"
        peak = before
        while True:
            peak = max(peak, total_pss(s.proc.pid))
            if c.info("persistence")["rdb_bgsave_in_progress"] == "0":
                break
            time.sleep(0.02)
        t1 = time.monotonic()
        we.value = t1
        writes = counter.value - w0
        time.sleep(0.2)
        stop.set()
        for p in writers + [prober]:
            p.join()
        stall_before, stall_in = results.get()
        status = c.info("persistence")["rdb_last_bgsave_status"]
        c.close()
        d = tempfile.mkdtemp(prefix=f"snapload-{kind}-")
        shutil.copy(os.path.join(s.dir, "dump.rdb"), os.path.join(d, "dump.rdb"))
        size = os.path.getsize(os.path.join(d, "dump.rdb"))
    finally:
        s.stop()
    loaded = load_time(kind, d)
    return {
        "save_s": t1 - t0, "dataset_mb": dataset / 2**20, "peak_over_mb": (peak - before) / 2**20,
        "peak_over_pct": 100.0 * (peak - before) / max(dataset, 1), "stall_before_ms": stall_before * 1000,
        "stall_ms": stall_in * 1000, "writes_per_s": writes / max(t1 - t0, 1e-9), "status": status,
        "file_mb": size / 2**20, "load_s": loaded,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--keys", type=int, default=1_000_000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--cinnabar-threads", type=int, default=1)
    args = ap.parse_args()
    print(support.oracle_line())
    cols = ["server", "save s", "dataset MB", "peak over MB", "peak over %", "stall before ms", "stall ms",
            "writes/s", "file MB", "load s", "status"]
    print(" | ".join(cols))
    for kind in ("redis", "cinnabar"):
        r = run(kind, args)
        print(f"{kind} | {r['save_s']:.2f} | {r['dataset_mb']:.0f} | {r['peak_over_mb']:.1f} | "
              f"{r['peak_over_pct']:.1f} | {r['stall_before_ms']:.1f} | {r['stall_ms']:.1f} | "
              f"{r['writes_per_s']:.0f} | {r['file_mb']:.0f} | {r['load_s']:.3f} | {r['status']}", flush=True)


if __name__ == "__main__":
    main()
