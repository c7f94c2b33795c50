"""Hostile input against cinnabar and redis-server side by side (issue 25's campaign): each
case sends what a broken or malicious client sends, on connections of its own, and checks
that both servers answer it alike (the bytes each one sends back before closing, or that it
keeps the connection open), that the server still answers another client at once
afterwards, and that its peak RSS stays within the case's bound. Peak RSS (VmHWM) per case
is printed for docs/BENCHMARKS.md ("Hostile input"; `pytest -s` shows it).

Cases: a header declaring a billion arguments; more than INT_MAX; a bulk length over
proto-max-bulk-len and a big one under it that never comes; nested RESP (arrays of arrays);
random bytes; unauthenticated clients (requirepass set) trying every command of the table,
over-long unauthenticated headers; slow readers of big replies (a client that asks for
100 MB of replies and reads none, under the default and a 32 MB normal output limit); and
thousands of idle connections at once."""
import random
import resource
import socket
import time

import pytest

from support import proc_status_kb

from harness import connect, start_pair, stop_pair
from resp import RawConnection, read_all


def vm_hwm_kb(pid):
    return proc_status_kb(pid, "VmHWM")


def vm_rss_kb(pid):
    return proc_status_kb(pid, "VmRSS")


def exchange(port, data, wait=0.5):
    """Send `data` on a fresh connection; everything the server sends back until it closes
    or `wait` seconds pass with nothing more, and whether it closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_all(s, wait)
    finally:
        s.close()


def answers(server, password=None):
    """Another client is served at once."""
    c = RawConnection(server.port, timeout=2)
    try:
        if password:
            assert c.command("AUTH", password) == b"+OK\r\n"
        return c.command("PING") == b"+PONG\r\n"
    finally:
        c.close()


def random_bytes(seed, n):
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n))


PROTOCOL_CASES = {
    "billion_args": b"*1000000000\r\n",
    "over_int_max_args": b"*3000000000\r\n",
    "negative_args": b"*-5\r\nPING\r\n",
    "bulk_over_limit": b"*1\r\n$2000000000\r\n",
    "big_bulk_never_sent": b"*2\r\n$3\r\nSET\r\n$400000000\r\nabc",
    "nested_arrays": b"*1\r\n" * 1000 + b"$4\r\nPING\r\n",
    "bulk_without_dollar": b"*2\r\n$3\r\nGET\r\n:12\r\n",
    "huge_inline": b"PING " + b"x" * (70 * 1024),
    "unbalanced_quotes": b'SET "a b\r\n',
    "many_empty_lines": b"\r\n" * 10000 + b"PING\r\n",
}


@pytest.fixture(scope="module")
def pair():
    p = start_pair({"enable-debug-command": "yes"})
    yield p
    stop_pair(p)


@pytest.mark.parametrize("name", sorted(PROTOCOL_CASES))
def test_protocol_abuse(pair, name):
    data = PROTOCOL_CASES[name]
    results = []
    for server in pair:
        results.append(exchange(server.port, data))
        assert answers(server), name
    assert results[1] == results[0], f"{name}: redis {results[0]!r}\ncinnabar {results[1]!r}"
    cinnabar = pair[1]
    print(f"\n{name}: peak RSS {vm_hwm_kb(cinnabar.proc.pid) // 1024} MB (cinnabar), "
          f"{vm_hwm_kb(pair[0].proc.pid) // 1024} MB (redis)")


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes(pair, seed):
    """Random bytes (4 KB a connection, twice per seed): the same replies, the server up."""
    data = random_bytes(seed, 4096)
    results = []
    for server in pair:
        results.append([exchange(server.port, data, wait=0.3) for _ in range(2)])
        assert answers(server)
    assert results[1] == results[0], f"seed {seed}: redis {results[0]!r}\ncinnabar {results[1]!r}"


def test_unauthenticated_clients_try_every_command():
    """requirepass set: every command of Redis's table that cinnabar has (COMMAND LIST of
    both; docs/COMPATIBILITY.md lists the others: ACL, CLUSTER, MODULE, replication),
    unauthenticated, gets what Redis gives (NOAUTH for all but the few allowed ones), with
    no key or state touched; too long unauthenticated headers are refused before they are
    read (Redis limits them to 10 arguments and 16 KB bulks)."""
    pair = start_pair({"requirepass": "s3cret"})
    try:
        listed = []
        for server in pair:
            c = RawConnection(server.port)
            assert c.command("AUTH", "s3cret") == b"+OK\r\n"
            listed.append(set(n.decode() for n in c.command("COMMAND", "LIST").split(b"\r\n")
                              if n and n[:1] not in b"*$"))
            c.close()
        names = sorted(listed[0] & listed[1])
        assert len(names) > 200
        skip = {"shutdown", "debug", "monitor", "sync", "psync", "quit", "reset", "subscribe", "psubscribe",
                "ssubscribe"}
        results = []
        for server in pair:
            c = RawConnection(server.port)
            out = []
            for name in names:
                if name in skip:
                    continue
                out.append((name, c.command(name, "x", "y")))
            out.append(("HELLO", c.command("HELLO", "3")))
            c.close()
            out.append(("header", exchange(server.port, b"*11\r\n")))
            out.append(("bulk", exchange(server.port, b"*1\r\n$20000\r\n")))
            out.append(("inline", exchange(server.port, b"x" * 20000 + b"\r\n")))
            results.append(out)
            assert answers(server, "s3cret")
            check = RawConnection(server.port)
            assert check.command("AUTH", "s3cret") == b"+OK\r\n"
            assert check.command("DBSIZE") == b":0\r\n"
            check.close()
        want, got = results
        assert got == want, [(w, g) for w, g in zip(want, got) if w != g][:5]
        assert sum(1 for _, r in want if isinstance(r, bytes) and r.startswith(b"-NOAUTH")) > 100, want
    finally:
        stop_pair(pair)


def slow_reader(server, size_mb):
    """A client asks for `size_mb` MB of replies (GETs of a 1 MB value) and reads none;
    meanwhile another client is served. Whether the slow one was closed (it reads its
    replies afterwards), and the server's peak RSS growth in MB."""
    c = connect(server, 2)
    c.command("SET", "big", "v" * (1 << 20))
    base = vm_rss_kb(server.proc.pid)
    # (The socket buffers hold a few MB at most: the rest waits in the server.)
    slow = RawConnection(server.port)
    try:
        for _ in range(size_mb):
            slow.send_command("GET", "big")
    except Exception:
        pass
    time.sleep(1.0)
    served = answers(server)
    peak = (vm_hwm_kb(server.proc.pid) - base) // 1024
    closed = False
    try:
        slow.sock.settimeout(5)
        total = 0
        while total < size_mb * ((1 << 20) + 12):
            chunk = slow.sock.recv(1 << 20)
            if not chunk:
                closed = True
                break
            total += len(chunk)
    except (ConnectionResetError, socket.timeout):
        closed = True
    slow.close()
    c.command("DEL", "big")
    c.close()
    return served, closed, peak


@pytest.mark.parametrize("limit", ["0 0 0", "32mb 16mb 60"])
def test_slow_reader_of_big_replies(limit):
    pair = start_pair({"client-output-buffer-limit": f"normal {limit}"})
    try:
        out = [slow_reader(server, 100) for server in pair]
    finally:
        stop_pair(pair)
    print(f"\nslow reader, normal limit {limit}: redis {out[0]}, cinnabar {out[1]} (served, closed, peak MB)")
    (r_served, r_closed, _), (c_served, c_closed, c_peak) = out
    assert r_served and c_served
    assert c_closed == r_closed, out
    if limit != "0 0 0":
        # Closed at the limit: the backlog never grows far past it.
        assert c_closed and c_peak < 100, out


def test_idle_connections():
    """Thousands of idle connections (10,000 if the file limit allows, as Redis's default
    maxclients): all accepted, the server answers the next client at once, memory per idle
    connection printed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 10_000
    # The servers inherit the limit: each needs maxclients + 32 descriptors, as this
    # process needs one per connection.
    if soft < want + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want + 200), hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    n = min(want, soft - 200)
    assert n >= 200, f"the file limit ({soft}) allows too few connections for the case"
    pair = start_pair({"maxclients": str(n + 10)})
    try:
        report = []
        for server in pair:
            base = vm_rss_kb(server.proc.pid)
            socks = []
            for _ in range(n):
                socks.append(socket.create_connection(("127.0.0.1", server.port)))
            c = connect(server, 2)
            deadline = time.time() + 20
            while True:
                clients = int(dict(line.split(":", 1) for line in c.command("INFO", "clients").decode().split("\r\n")
                                   if ":" in line)["connected_clients"])
                if clients >= n + 1 or time.time() > deadline:
                    break
                time.sleep(0.1)
            assert clients == n + 1, (clients, n)
            assert answers(server)
            grown = vm_rss_kb(server.proc.pid) - base
            report.append((clients, grown * 1024 // n))
            c.close()
            for s in socks:
                s.close()
        print(f"\n{n} idle connections: redis {report[0][1]} B/connection, cinnabar {report[1][1]} B/connection")
        # Within Redis's order of magnitude per idle connection.
        assert report[1][1] < max(4 * report[0][1], 64 * 1024), report
    finally:
        stop_pair(pair)
