"""maxmemory-clients (client eviction) and CLIENT NO-EVICT against redis-server, RESP2 and
RESP3: a client whose query buffer holds a big argument still arriving is closed when the
evictable clients' memory reaches the limit (an absolute value or a percentage of maxmemory,
never under 128 KB), counted in INFO's evicted_clients and logged; a client that set CLIENT
NO-EVICT on is not, and neither are the small ones. Each case twice in a row, since what one
eviction leaves behind is what breaks the next."""
import os
import time

import pytest

from harness import connect, same_on_pair
from resp import ConnectionClosed

PROTOCOLS = pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])

# A SET whose 2 MB value is announced, of which 600 KB arrive before the client stalls.
HEADER = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2000000\r\n"
SENT = 600_000


def info_int(c, section, name):
    for line in c.command("INFO", section).decode().split("\r\n"):
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"no {name} in INFO {section}")


def stalled_big_client(server, proto, no_evict):
    big = connect(server, proto)
    if no_evict:
        assert big.command("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
    try:
        big.send_raw(HEADER + b"x" * SENT)
    except ConnectionClosed:
        # Closed while the bytes were still going out (Redis evicts after its first read).
        big.closed = True
    return big


def closed_within(conn, seconds):
    """Whether the server closed `conn` within `seconds` (it sends nothing meanwhile)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if conn.wait_closed(0.05):
            return True
    return False


def eviction_run(server, proto, setting):
    # The observer is NO-EVICT itself: it would be the only client left to evict below.
    c = connect(server, proto)
    out = [c.command("CLIENT", "NO-EVICT", "on")]
    for name, value in setting:
        out.append(c.command("CONFIG", "SET", name, value))
    for round_ in range(2):
        before = info_int(c, "stats", "evicted_clients")
        # Evicted: the big client.
        big = stalled_big_client(server, proto, False)
        out.append(("evicted", closed_within(big, 3.0)))
        out.append(info_int(c, "stats", "evicted_clients") - before)
        out.append(c.command("PING"))
        big.close()
        # CLIENT NO-EVICT on: kept, and its command completes. Its memory still counts
        # (as in Redis): a small evictable bystander goes instead.
        bystander = connect(server, proto)
        assert bystander.command("PING") == b"+PONG\r\n"
        kept = stalled_big_client(server, proto, True)
        out.append(("kept", closed_within(kept, 1.0)))
        out.append(("bystander evicted", closed_within(bystander, 3.0)))
        kept.send_raw(b"y" * (2_000_000 - SENT) + b"\r\n")
        out.append(kept.read_reply())
        out.append(info_int(c, "stats", "evicted_clients") - before)
        kept.close()
        bystander.close()
    with open(os.path.join(server.dir, "server.log"), "rb") as f:
        log = f.read().decode(errors="replace")
    out.append(log.count("Evicting client: id="))
    out.append(log.count("Over client maxmemory after evicting all evictable clients") > 0)
    out.append(c.command("CONFIG", "RESETSTAT"))
    out.append(info_int(c, "stats", "evicted_clients"))
    c.close()
    return out


@PROTOCOLS
@pytest.mark.parametrize(
    "setting",
    [
        [("maxmemory-clients", "300kb")],
        # 3% of 10 MB: 300 KB.
        [("maxmemory", "10mb"), ("maxmemory-clients", "3%")],
        # Under the 128 KB floor: 128 KB.
        [("maxmemory-clients", "1000")],
    ],
    ids=["bytes", "percent", "floor"],
)
def test_client_eviction(proto, setting):
    result = same_on_pair(None, eviction_run, proto, setting)
    n = len(setting) + 1
    assert result[n : n + 2] == [("evicted", True), 1], result
    assert result[n + 3 : n + 7] == [("kept", False), ("bystander evicted", True), b"+OK\r\n", 2], result
    assert result[-4:] == [4, True, b"+OK\r\n", 0], result


def no_limit_run(server):
    """maxmemory-clients 0 (the default), and a percentage without maxmemory: no limit."""
    c = connect(server, 2)
    out = []
    for setting in (("maxmemory-clients", "0"), ("maxmemory-clients", "1%")):
        out.append(c.command("CONFIG", "SET", *setting))
        big = stalled_big_client(server, 2, False)
        out.append(closed_within(big, 1.0))
        big.close()
    out.append(info_int(c, "stats", "evicted_clients"))
    c.close()
    return out


def test_no_limit():
    assert same_on_pair(None, no_limit_run) == [b"+OK\r\n", False, b"+OK\r\n", False, 0]
