"""Memory a connection or the dataset no longer needs goes back to the system (issue 19,
defect 13): the server's VmRSS (/proc/PID/status) returns near where it was after a 300 MB
value is written and deleted, after 20 clients drop out in the middle of a 100 MB bulk, and
after FLUSHALL; loading the same data again after FLUSHALL does not grow it. The bounds are
generous (tens of MB over a baseline, where the memory at stake is hundreds): they tell a
server that gives memory back from one that keeps it."""
import socket
import time

import redis

import support

MB = 1 << 20


def rss(server):
    return support.proc_status_kb(server.proc.pid, "VmRSS") * 1024


def settles_below(server, bound, seconds=5.0):
    """RSS once it is below `bound`, or the last figure after `seconds`."""
    deadline = time.time() + seconds
    while True:
        now = rss(server)
        if now <= bound or time.time() > deadline:
            return now
        time.sleep(0.1)


def fill(client, n=200_000):
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"key:{i}", "v" * 100)
        if i % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()


def test_rss_returns_after_big_request_disconnects_and_flushall(own_server):
    server = own_server
    r = redis.Redis(port=server.port, socket_timeout=60)
    r.ping()
    base = rss(server)

    # A 300 MB value through one connection that stays open: its query buffer, the value,
    # then the reply buffer of a GET.
    big = b"x" * (300 * MB)
    r.set("big", big)
    assert r.strlen("big") == len(big)
    del big
    r.delete("big")
    after = settles_below(server, base + 64 * MB)
    assert after <= base + 64 * MB, f"RSS {after / MB:.0f} MB after a 300 MB value came and went (baseline {base / MB:.0f} MB)"

    # 20 clients announce a 100 MB bulk, send 20 MB of it and go.
    head = b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$%d\r\n" % (100 * MB)
    part = b"y" * (20 * MB)
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(head + part)
        s.close()
    r.ping()
    after = settles_below(server, base + 64 * MB)
    assert after <= base + 64 * MB, f"RSS {after / MB:.0f} MB after 20 clients dropped out of 100 MB bulks (baseline {base / MB:.0f} MB)"

    # FLUSHALL gives the dataset's memory back, and the same data again takes no more.
    fill(r)
    loaded = rss(server)
    r.flushall()
    after = settles_below(server, base + 64 * MB)
    assert after <= base + 64 * MB, f"RSS {after / MB:.0f} MB after FLUSHALL of {(loaded - base) / MB:.0f} MB (baseline {base / MB:.0f} MB)"
    fill(r)
    again = rss(server)
    assert again <= loaded + 16 * MB, f"RSS {again / MB:.0f} MB loading the same data again after FLUSHALL, {loaded / MB:.0f} MB the first time"
    r.close()
