"""Client-side caching compared with redis-server's, for what a case file cannot express.

* Per command: a RESP3 tracking client reads (EXISTS, one key at a time) every key the next
  write names, the write runs on another connection, and the invalidation pushes the tracker
  receives must be the same on both servers, command by command, for every command family
  of test_notifications.py. Single-key reads only: the 7.0.15 oracle loses some keys of a
  multi-key read (see docs/COMPATIBILITY.md).
* REDIRECT to a RESP2 subscriber (messages on __redis__:invalidate) and to a RESP3 client,
  the broken redirection (tracking-redir-broken push, broken_redirect flag), CLIENT LIST's
  t/R/B flags and redir= field, INFO's tracking figures.
* Invalidation on lazy and active expiry, tracking-table-max-keys eviction (how many keys
  remain, which ones is random), BCAST messages of a pipeline (one per prefix, keys sorted).
"""
import time

import pytest

from harness import same_on_both, start_pair, stop_pair, subject_name
from resp import RawConnection, encode_command
import test_notifications

# The notification test's write families, without its read-only and MULTI ones.
FAMILIES = {k: v for k, v in test_notifications.FAMILIES.items() if k not in ("reads", "multi")}


def show(m):
    return m.replace(b"\r\n", b" ")


def pushes_until_pong(c):
    """PING, then every push that arrives before the PONG."""
    c.send_command("PING")
    got = []
    while True:
        r = c.read_reply()
        if r == b"+PONG\r\n":
            return got
        got.append(r)
        assert len(got) < 1000, "no PONG"


def info_fields(c, section, prefix):
    return [l for l in c.command("INFO", section).decode().split("\r\n") if l.startswith(prefix)]


def tracker(server, *options):
    """A RESP3 connection with CLIENT TRACKING on (and `options`)."""
    t = RawConnection(server.port)
    assert t.command("HELLO", "3")[:1] == b"%"
    assert t.command("CLIENT", "TRACKING", "on", *options) == b"+OK\r\n"
    return t


def keys_of(c, cmd):
    r = c.command("COMMAND", "GETKEYS", *cmd)
    if r.startswith(b"-"):
        return []
    lines = r.split(b"\r\n")
    return [lines[i] for i in range(2, len(lines), 2) if lines[i - 1].startswith(b"$")]


def family_run(server, commands, keys):
    c = RawConnection(server.port)
    c.command("FLUSHALL")
    t = tracker(server)
    try:
        pushes_until_pong(t)
        out = []
        for cmd, ks in zip(commands, keys):
            for k in ks:
                t.command("EXISTS", k)
            reply = c.command(*cmd)
            out.append((cmd, reply, pushes_until_pong(t)))
        return out
    finally:
        c.close()
        t.close()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_invalidations_per_command(pair, family):
    commands = FAMILIES[family]
    probe = RawConnection(pair[0].port)
    keys = [keys_of(probe, cmd) for cmd in commands]
    probe.close()
    want, got = [family_run(s, commands, keys) for s in pair]
    bad = [
        f"{' '.join(map(str, cmd))}: redis {[show(p) for p in w]!r}\n   {subject_name()} {[show(p) for p in g]!r}"
        for (cmd, _, w), (_, _, g) in zip(want, got)
        if w != g
    ]
    assert not bad, "invalidations differ:\n" + "\n".join(bad)
    # The comparison is not vacuous: writes did invalidate.
    assert sum(len(w) for _, _, w in want) > 0


def client_id(c):
    return int(c.command("CLIENT", "ID")[1:-2])


def hide_id(reply, tid):
    """The redirection target's id (it differs between the servers) as TID."""
    if isinstance(reply, bytes):
        return reply.replace(b":%d\r\n" % tid, b":TID\r\n")
    return reply.replace(f"redir={tid}", "redir=TID")


def redirect_run(server, target_proto):
    w = RawConnection(server.port)
    target = RawConnection(server.port)
    t = RawConnection(server.port)
    try:
        w.command("FLUSHALL")
        tid = client_id(target)
        tracker_id = client_id(t)
        if target_proto == 3:
            target.command("HELLO", "3")
        else:
            target.command("SUBSCRIBE", "__redis__:invalidate")
        out = [t.command("CLIENT", "TRACKING", "on", "REDIRECT", tid)]
        out.append(hide_id(t.command("CLIENT", "GETREDIR"), tid))
        out.append(t.command("GET", "a"))
        out.append(t.command("GET", "b"))
        out.append(w.command("SET", "a", "1"))
        out.append(target.read_reply())
        out.append(w.command("FLUSHDB"))
        out.append(target.read_reply())
        line = w.command("CLIENT", "LIST", "ID", tracker_id).decode()
        out.append(hide_id(" ".join(f for f in line.split() if f.startswith(("flags=", "redir="))), tid))
        out.append(info_fields(w, "clients", "tracking_clients"))
        # The target goes away: the next invalidation finds the redirection broken.
        target.close()
        time.sleep(0.1)
        out.append(t.command("GET", "b"))
        out.append(w.command("SET", "b", "2"))
        out.append(hide_id(t.command("CLIENT", "TRACKINGINFO"), tid))
        line = w.command("CLIENT", "LIST", "ID", tracker_id).decode()
        out.append(hide_id(" ".join(f for f in line.split() if f.startswith(("flags=", "redir="))), tid))
        # A RESP3 tracker is told with a tracking-redir-broken push.
        t.command("HELLO", "3")
        out.append(w.command("SET", "b", "3"))
        out.append([hide_id(p, tid) for p in pushes_until_pong(t)])
        t.command("GET", "b")
        out.append(w.command("SET", "b", "4"))
        out.append([hide_id(p, tid) for p in pushes_until_pong(t)])
        return out
    finally:
        for c in (w, target, t):
            c.close()


@pytest.mark.parametrize("target_proto", [2, 3], ids=["resp2-subscriber", "resp3"])
def test_redirect(pair, target_proto):
    want = same_on_both(pair, redirect_run, target_proto)
    assert any(isinstance(x, list) and x for x in want)


def bcast_run(server):
    w = RawConnection(server.port)
    w.command("FLUSHALL")
    t = tracker(server, "BCAST", "PREFIX", "u:", "PREFIX", "v:")
    try:
        lines = [
            ("SET", "u:2", "1"), ("SET", "u:1", "1"), ("SET", "v:1", "1"), ("SET", "w", "1"),
            ("DEL", "u:2"), ("SET", "u:3", "x", "PX", "100000"),
        ]
        # One write, so both servers read the whole pipeline at once.
        w.send_raw(b"".join(encode_command(cmd) for cmd in lines))
        replies = [w.read_reply() for _ in lines]
        pushes = pushes_until_pong(t)
        figures = info_fields(w, "stats", "tracking_total")
        line = w.command("CLIENT", "LIST", "ID", client_id(t)).decode()
        flags = [f for f in line.split() if f.startswith(("flags=", "redir="))]
        return replies, pushes, figures, flags
    finally:
        w.close()
        t.close()


def test_bcast_pipeline(pair):
    want = same_on_both(pair, bcast_run)
    assert want[1], "no BCAST message"


def expiry_run(server):
    w = RawConnection(server.port)
    w.command("FLUSHALL")
    t = tracker(server)
    try:
        w.command("SET", "lazy", "1", "PX", "100")
        w.command("SET", "active", "1", "PX", "100")
        t.command("GET", "lazy")
        t.command("GET", "active")
        w.command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        time.sleep(0.25)
        lazy = [w.command("GET", "lazy"), pushes_until_pong(t)]
        w.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        deadline = time.time() + 5
        active = []
        while not active and time.time() < deadline:
            active = pushes_until_pong(t)
            time.sleep(0.05)
        return lazy, active
    finally:
        w.close()
        t.close()


def test_expiry_invalidates():
    servers = start_pair({"enable-debug-command": "yes"})
    try:
        want = same_on_both(servers, expiry_run)
        assert want[0][1] and want[1]
    finally:
        stop_pair(servers)


def limit_run(server):
    w = RawConnection(server.port)
    w.command("FLUSHALL")
    t = tracker(server)
    try:
        for i in range(10):
            t.command("GET", f"k{i}")
        w.command("CONFIG", "SET", "tracking-table-max-keys", "4")
        w.command("PING")
        figures = info_fields(w, "stats", "tracking_total")
        evicted = pushes_until_pong(t)
        w.command("CONFIG", "SET", "tracking-table-max-keys", "0")
        return figures, len(evicted), all(p.startswith(b">2\r\n$10\r\ninvalidate\r\n*1\r\n") for p in evicted)
    finally:
        w.close()
        t.close()


def test_table_limit(pair):
    want = same_on_both(pair, limit_run)
    assert want[1] == 6


def churn(server, seconds):
    """Tracking clients of every mode come and go (some with a REDIRECT target that goes
    away) while writers modify the keys they read and the table limit changes: the server
    must answer everyone throughout, and count no tracking client once they are all gone."""
    import random
    import threading

    stop = time.time() + seconds
    errors = []

    def tracker(i):
        rnd = random.Random(i)
        try:
            while time.time() < stop:
                c = RawConnection(server.port)
                c.command("HELLO", "3")
                mode = rnd.choice([[], ["BCAST"], ["BCAST", "PREFIX", "k1"], ["NOLOOP"], ["OPTIN"], ["OPTOUT"]])
                assert c.command("CLIENT", "TRACKING", "on", *mode) == b"+OK\r\n"
                for _ in range(rnd.randint(10, 100)):
                    k = f"k{rnd.randint(0, 30)}"
                    c.send_command(*rnd.choice([("GET", k), ("SET", k, "v"), ("MGET", k, "k1"), ("EXPIRE", k, "1"),
                                                ("CLIENT", "CACHING", "yes"), ("FLUSHDB",)]))
                    pushes_until_pong(c)
                c.close()
        except Exception as e:  # reported below
            errors.append(repr(e))

    def redirector(i):
        rnd = random.Random(100 + i)
        try:
            while time.time() < stop:
                target = RawConnection(server.port)
                tid = client_id(target)
                target.command("SUBSCRIBE", "__redis__:invalidate")
                c = RawConnection(server.port)
                assert c.command("CLIENT", "TRACKING", "on", "REDIRECT", tid) == b"+OK\r\n"
                for n in range(40):
                    if n == 20 and rnd.random() < 0.5:
                        target.close()
                    c.command("GET", f"k{rnd.randint(0, 30)}")
                c.close()
                target.close()
        except Exception as e:
            errors.append(repr(e))

    def writer(i):
        rnd = random.Random(200 + i)
        c = RawConnection(server.port)
        try:
            while time.time() < stop:
                c.command("SET", f"k{rnd.randint(0, 30)}", "x")
                if rnd.random() < 0.01:
                    c.command("CONFIG", "SET", "tracking-table-max-keys", str(rnd.choice([0, 5, 100])))
        except Exception as e:
            errors.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=f, args=(i,)) for f, n in ((tracker, 4), (redirector, 2), (writer, 2)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    c = RawConnection(server.port)
    c.command("CONFIG", "SET", "tracking-table-max-keys", "1000000")
    wait = time.time() + 5
    while info_fields(c, "clients", "tracking_clients") != ["tracking_clients:0"] and time.time() < wait:
        time.sleep(0.05)
    result = (errors[:3], sum(t.is_alive() for t in threads), c.command("PING"), info_fields(c, "clients", "tracking_clients"))
    c.close()
    return result


def test_churn_under_concurrency(pair):
    want = same_on_both(pair, churn, 3)
    assert want == ([], 0, b"+PONG\r\n", ["tracking_clients:0"])
