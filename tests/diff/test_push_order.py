"""Where other clients' pushes land around a client's own SUBSCRIBE, UNSUBSCRIBE and
CLIENT TRACKING, on both servers. Redis runs one command at a time, so a message published
once a subscription exists comes after the SUBSCRIBE confirmation, none follows the
UNSUBSCRIBE confirmation, and no invalidation precedes CLIENT TRACKING ON's +OK; cinnabar's
publishers run on other threads at the same moment and must keep that order. Two
connections publish to the channel and one writes a key non-stop while a RESP3 client
subscribes and unsubscribes 2000 times and turns BCAST tracking on and off 300 times: the
misplaced pushes must be none on either server."""
import socket
import threading

from harness import subject_name

PUBLISH = b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$1\r\nx\r\n" * 16
WRITE = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n" * 16
UNSUBSCRIBED = b"$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n"


def hammer(port, payload, replies, stop):
    """Send `payload` (which gets `replies` replies) over and over until `stop` is set."""
    c = socket.create_connection(("127.0.0.1", port))
    try:
        while not stop.is_set():
            c.sendall(payload)
            got = b""
            while got.count(b"\r\n") < replies:
                got += c.recv(65536)
    finally:
        c.close()


def read_until(s, buf, marker):
    while marker not in buf:
        chunk = s.recv(65536)
        assert chunk, "connection closed"
        buf += chunk
    return buf


def first_reply(s, command, marker, want, what, i, bad):
    """Send `command`, read up to `marker`; what came must start with `want`."""
    s.sendall(command)
    buf = read_until(s, b"", marker)
    if not buf.startswith(want):
        bad.append((what, i, buf[:80]))
    return buf


def misplaced(server):
    stop = threading.Event()
    hammers = [threading.Thread(target=hammer, args=(server.port, p, 16, stop)) for p in (PUBLISH, PUBLISH, WRITE)]
    for t in hammers:
        t.start()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(10)
    bad = []
    try:
        s.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
        read_until(s, b"", b"proto")
        for i in range(2000):
            first_reply(s, b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n", b"$9\r\nsubscribe", b">3\r\n$9\r\nsubscribe",
                        "subscribe", i, bad)
            s.sendall(b"*2\r\n$11\r\nUNSUBSCRIBE\r\n$2\r\nch\r\n")
            buf = read_until(s, b"", UNSUBSCRIBED)
            # The next reply must be PING's: no message after the confirmation.
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            rest = read_until(s, buf.split(UNSUBSCRIBED, 1)[1], b"PONG\r\n")
            if rest != b"+PONG\r\n":
                bad.append(("unsubscribe", i, rest[:80]))
        for i in range(300):
            buf = first_reply(s, b"*4\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n$5\r\nBCAST\r\n", b"+OK\r\n",
                              b"+OK\r\n", "tracking", i, bad)
            s.sendall(b"*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$3\r\noff\r\n*1\r\n$4\r\nPING\r\n")
            read_until(s, buf[5:], b"PONG\r\n")
    finally:
        stop.set()
        for t in hammers:
            t.join(10)
        s.close()
    return bad


def test_no_push_between_a_registration_and_its_reply_or_after_leaving(pair):
    want, got = [misplaced(s) for s in pair]
    assert want == [], f"the oracle misplaced pushes: {want[:3]}"
    assert got == [], f"{subject_name()}: {len(got)} misplaced pushes, first: {got[:3]}"
