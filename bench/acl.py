#!/usr/bin/env python3
"""What ACL checks cost on the hot path (issue 25): SET and GET through redis-benchmark
(50 clients, pipeline 16 and 1) against cinnabar as the default user, as a user allowed everything who
authenticates (AUTH), and as a user with 10 key patterns (nine that do not match the benchmark's keys, then `~key:*`, so every request
walks all ten), and optionally against a cinnabar built before ACLs (--base-bin) as the
default user. The figure that counts is the server's CPU time per request
(/proc/PID/stat), since redis-benchmark bounds the rate on 2 cores; rates are printed too.
Rounds alternate the configurations. Nothing is asserted: figures go to docs/BENCHMARKS.md.

    python3 bench/acl.py --rounds 3 [--base-bin /path/to/cinnabar-server-before-acl]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import support  # noqa: E402
from bench import Conn, cpu_seconds  # noqa: E402

PATTERNS = [f"~svc{i}:*" for i in range(9)] + ["~key:*"]


def run(port, pid, test, pipeline, requests, user):
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", str(requests),
           "-P", str(pipeline), "-r", "100000", "-t", test, "--csv"]
    if user:
        cmd += ["--user", user, "-a", "pw"]
    before, t0 = cpu_seconds(pid), time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu, wall = cpu_seconds(pid) - before, time.monotonic() - t0
    rows = [r.split(",") for r in out.strip().split("\n") if r and not r.startswith('"test"')]
    rps = float(rows[0][1].strip('"'))
    return rps, cpu / requests * 1e6, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", "--requests", type=int, default=1_000_000)
    ap.add_argument("-t", "--tests", default="set,get")
    ap.add_argument("-P", "--pipelines", default="16,1")
    ap.add_argument("--base-bin", help="a cinnabar-server built before ACLs, for the default-user baseline")
    ap.add_argument("--threads", default="1", help="cinnabar workers (default 1: the core redis-benchmark leaves)")
    args = ap.parse_args()
    configs = [("default user", None, None), ("user with every permission (AUTH)", None, "all"),
               ("10 key patterns", None, "svc")]
    if args.base_bin:
        configs.insert(0, ("before ACL (default)", args.base_bin, None))
    servers = {}
    try:
        for label, binary, user in configs:
            if binary:
                s = support.Server("cinnabar", binary, {"threads": args.threads})
            else:
                s = support.start_cinnabar(threads=args.threads)
            if user:
                c = Conn(s.port)
                rules = PATTERNS if user == "svc" else ["~*", "&*"]
                c.call("ACL", "SETUSER", user, "on", ">pw", "+@all", *rules)
                c.close()
            servers[label] = (s, user)
        results = {}
        for test in args.tests.split(","):
            for pipeline in [int(p) for p in args.pipelines.split(",")]:
                n = args.requests if pipeline > 1 else args.requests // 5
                for r in range(args.rounds):
                    order = configs if r % 2 == 0 else list(reversed(configs))
                    for label, _, _ in order:
                        s, user = servers[label]
                        results.setdefault((test, pipeline, label), []).append(
                            run(s.port, s.proc.pid, test, pipeline, n, user))
        print(f"| test | pipeline | configuration | rps (median) | server CPU µs/request (median) | each round |")
        print("|---|---|---|---|---|---|")
        for (test, pipeline, label), rows in results.items():
            rps = statistics.median(r[0] for r in rows)
            cpu = statistics.median(r[1] for r in rows)
            each = ", ".join(f"{r[1]:.3f}" for r in rows)
            print(f"| {test.upper()} | {pipeline} | {label} | {rps:,.0f} | {cpu:.3f} | {each} |")
    finally:
        for s, _ in servers.values():
            s.stop()


if __name__ == "__main__":
    main()
