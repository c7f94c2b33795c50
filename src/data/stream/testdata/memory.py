#!/usr/bin/env python3
"""Memory of one stream of N small events (`XADD s * name alice action login ts 1700000000`,
pipelined), in cinnabar and in redis-server side by side: RSS growth over the empty server
(VmRSS of /proc/PID/status) and INFO's used_memory, per entry.

    python3 src/data/stream/testdata/memory.py target/release/cinnabar-server \\
        /root/.cache/cinnabar/redis-7.2.6/src/redis-server /usr/bin/redis-server
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("N", 1_000_000))
BATCH = 1000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def command(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def call(sock, f, *args):
    sock.sendall(command(*args))
    line = f.readline()
    if line[:1] == b"$":
        return f.read(int(line[1:]) + 2)[:-2]
    return line


def info_field(sock, f, name):
    for line in call(sock, f, b"INFO", b"memory").split(b"\r\n"):
        if line.startswith(name + b":"):
            return int(line.split(b":")[1])
    return None


def measure(binary):
    port = free_port()
    d = tempfile.mkdtemp()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.1)
        f = sock.makefile("rb")
        version = [l for l in call(sock, f, b"INFO", b"server").split(b"\r\n") if l.startswith(b"redis_version")]
        base_rss, base_used = rss(proc.pid), info_field(sock, f, b"used_memory")
        batch = command(b"XADD", b"s", b"*", b"name", b"alice", b"action", b"login", b"ts", b"1700000000") * BATCH
        for _ in range(N // BATCH):
            sock.sendall(batch)
            for _ in range(BATCH):
                f.readline()
                f.readline()
        assert call(sock, f, b"XLEN", b"s").strip() == b":%d" % N
        time.sleep(0.5)
        grown, used = rss(proc.pid) - base_rss, info_field(sock, f, b"used_memory")
        used = None if used is None or base_used is None else used - base_used
        name = os.path.basename(binary) + " " + version[0].decode().split(":")[1]
        print(f"{name:<32} RSS +{grown / 2**20:7.1f} MiB  {grown / N:5.1f} B/entry   used_memory "
              f"+{(used or 0) / 2**20:7.1f} MiB  {(used or 0) / N:5.1f} B/entry")
    finally:
        proc.terminate()
        proc.wait()


for b in sys.argv[1:]:
    measure(b)
