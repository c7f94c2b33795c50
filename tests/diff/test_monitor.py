"""MONITOR lines compared with redis-server's, timestamps and client ports aside: the same
commands (plain, binary arguments, AUTH, HELLO and MIGRATE redaction, SELECT, MULTI/EXEC, a script and the
commands it calls, rejected commands) produce the same lines in the same order, RESP2 and
RESP3 monitors alike."""
import re

import pytest

from harness import start_pair, stop_pair, subject_name
from resp import RawConnection

COMMANDS = [
    ("SET", "k", "plain"),
    ("SET", "bin", b"a\x00b\"c\\d\n\r\t\x07\x08\xff"),
    ("GET", "k"),
    ("INCR", "n"),
    ("AUTH", "secret"),
    ("AUTH", "user", "secret"),
    ("HELLO", "2", "AUTH", "default", "pw"),
    # MIGRATE's credentials, as far as its parser got (no key here: +NOKEY, nothing sent).
    ("MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "COPY", "AUTH", "pw"),
    ("MIGRATE", "127.0.0.1", "1", "", "0", "100", "AUTH2", "u", "pw", "KEYS", "auth", "nokey"),
    ("MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "AUTH", "pw", "bogus", "AUTH", "x"),
    ("MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "AUTH"),
    ("NOSUCHCOMMAND", "x"),
    ("GET",),
    ("SELECT", "2"),
    ("SET", "in2", "v"),
    ("SELECT", "0"),
    ("MULTI",),
    ("INCR", "n"),
    ("LPUSH", "l", "a", "b"),
    ("EXEC",),
    ("EVAL", "redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])", "1", "sk", "sv"),
    ("CONFIG", "GET", "maxmemory"),
    ("DEBUG", "SLEEP", "0"),
    ("PING",),
]

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


def normalise(line, addr_map):
    m = LINE.match(line)
    assert m, f"not a monitor line: {line!r}"
    addr = m.group(4)
    if addr != b"lua":
        addr = addr_map.setdefault(addr, b"client%d" % len(addr_map))
    return b"[%s %s] %s" % (m.group(3), addr, m.group(5))


def read_lines(conn, n):
    out = []
    for _ in range(n):
        raw = conn.read_reply()
        out.append(raw.rstrip(b"\r\n"))
    return out


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_monitor_lines_match(protocol):
    servers = start_pair()
    try:
        results = []
        for s in servers:
            mon = RawConnection(s.port)
            if protocol == 3:
                assert mon.command("HELLO", "3")[:1] == b"%"
            assert mon.command("MONITOR") == b"+OK\r\n"
            c = RawConnection(s.port)
            for cmd in COMMANDS:
                c.command(*cmd)
            c.command("SET", "end", "marker")
            lines = []
            while not lines or b'"end"' not in lines[-1]:
                lines += read_lines(mon, 1)
                assert len(lines) < 200, "no end marker"
            addr_map = {}
            results.append([normalise(l, addr_map) for l in lines])
            mon.close()
            c.close()
        redis_lines, subject_lines = results
        assert subject_lines == redis_lines, (
            f"MONITOR differs ({subject_name()} vs redis):\n"
            + "\n".join(f"  redis: {a!r}\n  {subject_name()}: {b!r}" for a, b in zip(redis_lines, subject_lines) if a != b)
            + f"\n  lengths {len(redis_lines)} vs {len(subject_lines)}"
        )
    finally:
        stop_pair(servers)
