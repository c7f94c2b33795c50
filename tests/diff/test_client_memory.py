"""CLIENT LIST / CLIENT INFO memory figures (qbuf, qbuf-free, argv-mem, multi-mem, obl, oll,
omem, tot-mem) for the same requests on both servers (issue 19, defect 9). Figures that
follow from the requests alone (the query buffer of the request running, the arguments,
a transaction's queue, small replies waiting) must be equal; allocation sizes must be close
(Redis's own differ by allocator): thresholds on them must mean the same."""
import socket
import time

from resp import RawConnection, encode_command

FIELDS = ("qbuf", "qbuf-free", "argv-mem", "multi-mem", "obl", "oll", "omem", "tot-mem")


def fields(line):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    return {k: int(f[k]) for k in FIELDS} | {"cmd": f["cmd"], "name": f["name"]}


def lines(reply):
    """The client lines of a CLIENT LIST / INFO reply (RESP2 bulk or RESP3 verbatim)."""
    text = reply.decode()
    body = text.split("\r\n", 1)[1]
    if body.startswith("txt:"):
        body = body[4:]
    return [fields(l) for l in body.split("\n") if l.startswith("id=")]


def raw(port, payload, wait=0.2, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.sendall(payload)
    time.sleep(wait)
    return s


def run(server, protocol):
    out = {}
    hello = encode_command(["HELLO", str(protocol)])
    c = RawConnection(server.port)
    c.command("HELLO", str(protocol))
    c.command("FLUSHALL")
    c.command("SET", "big", "x" * 4096)
    # Its own request: the query buffer holds it while it runs.
    out["info"] = lines(c.command("CLIENT", "INFO"))[0]
    out["list"] = [l for l in lines(c.command("CLIENT", "LIST")) if l["cmd"] == "client|list"][0]
    # Twice in a row: the same.
    out["info2"] = lines(c.command("CLIENT", "INFO"))[0]
    # A pipelined batch: the whole batch in the query buffer, the replies before it waiting.
    s = RawConnection(server.port)
    s.send_raw(hello + encode_command(["SET", "k", "v" * 100]) + encode_command(["CLIENT", "INFO"]))
    s.read_reply(), s.read_reply()
    out["batch"] = lines(s.read_reply())[0]
    s.close()
    # A transaction being queued, and a blocked client, seen from another client.
    name = lambda n: encode_command(["CLIENT", "SETNAME", n])  # noqa: E731
    m = raw(server.port, hello + name("multi") + encode_command(["MULTI"]) + encode_command(["SET", "k", "v" * 100]) + encode_command(["GET", "k"]))
    b = raw(server.port, hello + name("blocked") + encode_command(["BLPOP", "nolist", "0"]))
    # Replies waiting for a client that does not read: they fill the reply buffer, then
    # the reply list.
    p = raw(server.port, hello + name("backlog") + encode_command(["GET", "big"]) * 2000, wait=0.5, rcvbuf=4096)
    others = lines(c.command("CLIENT", "LIST"))
    for n in ("multi", "blocked", "backlog"):
        out[n] = [l for l in others if l["name"] == n][0]
    for x in (m, b, p):
        x.close()
    c.close()
    return out


def check(want, got):
    bad = []
    for case in want:
        w, g = want[case], got[case]
        exact = ["qbuf", "argv-mem", "multi-mem"]
        if case != "backlog":
            exact += ["oll", "omem"]
        for k in exact:
            if w[k] != g[k]:
                bad.append(f"{case}: {k} redis={w[k]} cinnabar={g[k]}")
        # Allocation sizes: Redis 7.0's jemalloc and 7.2's libc build differ by 25% here
        # already; Redis's cron shrinks an idle client's 16 KiB reply buffer within a
        # second, ours after 2 s idle (so one reply buffer apart).
        near = {"qbuf-free": (0.25, 0), "tot-mem": (0.10, 16 << 10)}
        # HELLO's reply waits too: the version strings differ in length.
        near["obl"] = (0, 8)
        if case == "backlog":
            # How much the kernel's socket buffers took first differs a little from run to
            # run, and Redis's reply list blocks are as big as the replies (4 KiB here).
            near |= {"obl": (0, 0), "omem": (0.5, 0), "tot-mem": (0.5, 0)}
        for k, (rel, slack) in near.items():
            if abs(w[k] - g[k]) > rel * max(w[k], g[k]) + slack:
                bad.append(f"{case}: {k} redis={w[k]} cinnabar={g[k]} (too far apart)")
    return bad


def test_client_memory_figures(pair):
    for protocol in (2, 3):
        want, got = (run(s, protocol) for s in pair)
        # The figures are real, not zeros.
        assert got["info"]["qbuf"] == 26 and got["info"]["argv-mem"] == 10, got["info"]
        assert got["backlog"]["omem"] > 0 and got["backlog"]["oll"] > 0, got["backlog"]
        bad = check(want, got)
        assert not bad, f"RESP{protocol}:\n" + "\n".join(bad) + f"\nredis: {want}\ncinnabar: {got}"


def idle_run(server):
    """A client idle for more than 2 s: Redis's cron gives its query buffer's room back and
    shrinks its reply buffer (issue 19, defect 13)."""
    s = RawConnection(server.port)
    s.command("CLIENT", "SETNAME", "idler")
    s.command("GET", "x")
    time.sleep(3.5)
    c = RawConnection(server.port)
    line = [l for l in lines(c.command("CLIENT", "LIST")) if l["name"] == "idler"][0]
    # It still works, with a new buffer for the request.
    pong = s.command("PING")
    s.close()
    c.close()
    return line, pong


def test_idle_client_gives_buffers_back(pair):
    (want, want_pong), (got, got_pong) = (idle_run(s) for s in pair)
    assert got_pong == want_pong == b"+PONG\r\n"
    assert got["qbuf"] == want["qbuf"] == 0 and got["qbuf-free"] == want["qbuf-free"] == 0, (want, got)
    # A few KiB at most on both (Redis 7.2: 1,832), where a busy client holds 30 KiB or more.
    assert want["tot-mem"] < 8192 and got["tot-mem"] < 8192, (want, got)
