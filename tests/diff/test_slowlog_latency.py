"""SLOWLOG, LATENCY and INFO latencystats against redis-server, RESP2 and RESP3.

The same commands go to both servers and every reply is compared with only the clock
taken out: slow log entries' timestamps and durations, client ports (each address is
replaced by the order it first appeared in), latency samples' times and milliseconds,
the digits of LATENCY GRAPH / DOCTOR texts, and the bucket figures of LATENCY HISTOGRAM
and INFO latencystats, whose format and sanity are checked instead.
"""
import re
import time

import pytest

from harness import run_pair, start_pair, stop_pair
from resp import RawConnection, parse

PROTOCOLS = pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])


def assert_same_items(want, got):
    """The oracle's and cinnabar's results, item by item (the first difference named)."""
    for w, g in zip(want, got):
        assert g == w, f"oracle {w!r}, cinnabar {g!r}"
    assert len(want) == len(got)


def connect(server, protocol):
    c = RawConnection(server.port)
    if protocol == 3:
        assert c.command("HELLO", "3")[:1] == b"%"
    return c


def tree(node):
    """A parsed reply as plain values: (type, value) for scalars, (type, [children])."""
    if node.children or node.type in "*%~>":
        return (node.type, [tree(c) for c in node.children])
    return (node.type, node.value)


def entries(raw, addrs, base=0):
    """A SLOWLOG GET reply with time, duration and client port masked, ids counted from
    `base` (what the harness sent before the test differs between the servers)."""
    node = parse(raw)
    if node.type == "-":
        return ("error", node.value)
    out = []
    for e in node.children:
        ident, ts, dur, args, addr, name = e.children
        assert ts.type == ":" and int(ts.value) > 1_600_000_000
        assert dur.type == ":" and int(dur.value) >= 0
        a = addr.value
        if a:
            assert re.fullmatch(rb"127\.0\.0\.1:\d+", a), a
            a = addrs.setdefault(a, b"client%d" % len(addrs))
        out.append((e.type, int(ident.value) - base, [x.value for x in args.children], a, name.value))
    return (node.type, out)


# (command, how its reply is compared): "exact", or "slowlog" (entries, clock masked).
SLOWLOG_SCRIPT = [
    (("SLOWLOG", "RESET"), "exact"),
    (("SLOWLOG", "GET", "1"), "base"),
    (("SET", "foo", "bar"), "exact"),
    (("CLIENT", "SETNAME", "myname"), "exact"),
    (("GET", "foo"), "exact"),
    (("SET", "big", "x" * 200), "exact"),
    (("SET", "edge", "y" * 128), "exact"),
    (("RPUSH", "l", *[str(i) for i in range(40)]), "exact"),
    (("RPUSH", "l", *[str(i) for i in range(31)]), "exact"),
    (("RPUSH", "l", *[str(i) for i in range(30)]), "exact"),
    (("MULTI",), "exact"),
    (("SET", "a", "1"), "exact"),
    (("INCR", "a"), "exact"),
    (("EXEC",), "exact"),
    (("EVAL", "redis.call('set','k','v'); return redis.call('get','k')", "0"), "exact"),
    (("EVAL", "return redis.pcall('incr','foo')", "0"), "exact"),
    # Credentials are logged as "(redacted)": AUTH (not when a syntax error comes first),
    # HELLO AUTH, ACL SETUSER's arguments (even beyond 32), CONFIG SET of sensitive values.
    (("AUTH", "nosuch", "pw"), "exact"),
    (("AUTH", "onlypw"), "exact"),
    (("AUTH", "a", "b", "c"), "exact"),
    (("HELLO", "2", "AUTH", "u", "p"), "exact"),
    (("ACL", "SETUSER", "slowu", "on", ">secret"), "exact"),
    (("ACL", "SETUSER", "slowu", *[f">p{i}" for i in range(40)]), "exact"),
    (("CONFIG", "SET", "maxmemory", "0", "requirepass", ""), "exact"),
    (("CONFIG", "SET", "masteruser", "m", "masterauth", "x"), "exact"),
    (("SLOWLOG", "GET"), "slowlog"),
    (("SLOWLOG", "GET", "-1"), "slowlog"),
    (("SLOWLOG", "GET", "3"), "slowlog"),
    (("SLOWLOG", "GET", "0"), "slowlog"),
    (("SLOWLOG", "LEN"), "exact"),
    # Errors, twice each.
    (("SLOWLOG", "GET", "-2"), "exact"),
    (("SLOWLOG", "GET", "-2"), "exact"),
    (("SLOWLOG", "GET", "abc"), "exact"),
    (("SLOWLOG", "GET", "abc"), "exact"),
    (("SLOWLOG", "GET", "99999999999999999999"), "exact"),
    (("SLOWLOG", "GET", "1.5"), "exact"),
    (("SLOWLOG", "GET", "1", "2"), "exact"),
    (("SLOWLOG", "get", "1", "2"), "exact"),
    (("SLOWLOG", "LEN", "x"), "exact"),
    (("SLOWLOG", "RESET", "x"), "exact"),
    (("SLOWLOG", "FOO"), "exact"),
    (("SLOWLOG", "FOO"), "exact"),
    (("SLOWLOG",), "exact"),
    (("SLOWLOG", "HELP"), "exact"),
    (("SLOWLOG", "help", "extra"), "exact"),
    (("SLOWLOG", "LEN"), "exact"),
    # Ids go on after a reset.
    (("SLOWLOG", "RESET"), "exact"),
    (("SLOWLOG", "GET"), "slowlog"),
    # The length limit applies when an entry is added, not on CONFIG SET.
    (("CONFIG", "SET", "slowlog-log-slower-than", "-1"), "exact"),
    (("PING",), "exact"),
    (("CONFIG", "SET", "slowlog-max-len", "1"), "exact"),
    (("SLOWLOG", "LEN"), "exact"),
    (("CONFIG", "SET", "slowlog-log-slower-than", "0"), "exact"),
    (("SLOWLOG", "GET", "-1"), "slowlog"),
    (("CONFIG", "SET", "slowlog-max-len", "3"), "exact"),
    (("ECHO", "a"), "exact"),
    (("ECHO", "b"), "exact"),
    (("SLOWLOG", "GET", "-1"), "slowlog"),
    (("CONFIG", "SET", "slowlog-max-len", "0"), "exact"),
    (("SLOWLOG", "LEN"), "exact"),
    (("CONFIG", "SET", "slowlog-max-len", "128"), "exact"),
    # A high threshold: nothing fast is logged.
    (("CONFIG", "SET", "slowlog-log-slower-than", "1000000"), "exact"),
    (("SET", "x", "y"), "exact"),
    (("SLOWLOG", "LEN"), "exact"),
    (("CONFIG", "SET", "slowlog-log-slower-than", "-2"), "exact"),
    (("CONFIG", "SET", "slowlog-max-len", "-1"), "exact"),
]


def run_script(server, protocol, script):
    c = connect(server, protocol)
    addrs = {}
    out = []
    base = 0
    try:
        for cmd, how in script:
            raw = c.command(*cmd)
            if how == "base":
                base = entries(raw, addrs)[1][0][1]
                raw = entries(raw, addrs, base)
            out.append(entries(raw, addrs, base) if how == "slowlog" else raw)
    finally:
        c.close()
    return out


@PROTOCOLS
def test_slowlog(protocol):
    want, got = run_pair({"slowlog-log-slower-than": "0"}, run_script, protocol, SLOWLOG_SCRIPT)
    for (cmd, _), w, g in zip(SLOWLOG_SCRIPT, want, got):
        assert g == w, f"{cmd}: oracle {w!r}, cinnabar {g!r}"


def texts(raw):
    """A verbatim / bulk text reply with its digits masked."""
    node = parse(raw)
    assert node.type in "$=", raw
    return node.type, re.sub(rb"\d+", b"N", node.value)


LATENCY_EMPTY = [
    ("LATENCY", "LATEST"),
    ("LATENCY", "HISTORY", "command"),
    ("LATENCY", "HISTORY", "nosuch"),
    ("LATENCY", "RESET"),
    ("LATENCY", "RESET", "command", "foo"),
    ("LATENCY", "GRAPH", "command"),
    ("LATENCY", "GRAPH", "command"),
    ("LATENCY", "GRAPH", "foo bar"),
    ("LATENCY", "DOCTOR"),
    ("LATENCY", "HELP"),
    ("LATENCY", "help", "x"),
    ("LATENCY", "HISTORY"),
    ("LATENCY", "HISTORY"),
    ("LATENCY", "GRAPH"),
    ("LATENCY", "LATEST", "x"),
    ("LATENCY", "DOCTOR", "x"),
    ("LATENCY", "NOSUCH"),
    ("LATENCY", "NOSUCH"),
    ("LATENCY",),
    ("LATENCY", "HISTOGRAM", "nosuch", "zadd"),
    ("CONFIG", "SET", "latency-monitor-threshold", "1000"),
    ("LATENCY", "DOCTOR"),
    ("CONFIG", "SET", "latency-monitor-threshold", "-1"),
    ("CONFIG", "SET", "latency-monitor-threshold", "abc"),
]


@PROTOCOLS
def test_latency_empty_and_errors(protocol):
    servers = start_pair()
    try:
        results = []
        for s in servers:
            c = connect(s, protocol)
            results.append([c.command(*cmd) for cmd in LATENCY_EMPTY])
            c.close()
    finally:
        stop_pair(servers)
    for cmd, w, g in zip(LATENCY_EMPTY, *results):
        assert g == w, f"{cmd}: oracle {w!r}, cinnabar {g!r}"


def latency_events(server, protocol):
    c = connect(server, protocol)
    try:
        out = []
        assert c.command("CONFIG", "SET", "latency-monitor-threshold", "100") == b"+OK\r\n"
        assert c.command("DEBUG", "SLEEP", "0.2") == b"+OK\r\n"
        latest = parse(c.command("LATENCY", "LATEST"))
        out.append(("latest", latest.type, len(latest.children)))
        for e in latest.children:
            name, t, last, worst = e.children
            assert 200 <= int(last.value) < 1000 and int(worst.value) == int(last.value)
            assert int(t.value) > 1_600_000_000
            out.append((e.type, name.value))
        hist = parse(c.command("LATENCY", "HISTORY", "command"))
        out.append(("history", hist.type, [(p.type, len(p.children)) for p in hist.children]))
        out.append(texts(c.command("LATENCY", "GRAPH", "command")))
        out.append(texts(c.command("LATENCY", "DOCTOR")))
        # A slow log threshold above the monitor's: the doctor advises lowering it; off:
        # advises enabling it.
        c.command("CONFIG", "SET", "slowlog-log-slower-than", "500000")
        out.append(texts(c.command("LATENCY", "DOCTOR")))
        c.command("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        out.append(texts(c.command("LATENCY", "DOCTOR")))
        out.append(c.command("LATENCY", "RESET", "command", "command", "nosuch"))
        out.append(c.command("LATENCY", "LATEST"))
        out.append(texts(c.command("LATENCY", "DOCTOR")))
        out.append(c.command("LATENCY", "RESET"))
        # Under the threshold: nothing kept.
        c.command("DEBUG", "SLEEP", "0")
        out.append(c.command("LATENCY", "LATEST"))
        # Two samples in different seconds, the second twice the first: the graph's
        # columns (a low `_`, a full `#` column) and labels, and the doctor's figures.
        c.command("DEBUG", "SLEEP", "0.15")
        time.sleep(1.1)
        c.command("DEBUG", "SLEEP", "0.3")
        hist = parse(c.command("LATENCY", "HISTORY", "command"))
        out.append(("history", [(p.type, len(p.children)) for p in hist.children]))
        out.append(texts(c.command("LATENCY", "GRAPH", "command")))
        out.append(texts(c.command("LATENCY", "DOCTOR")))
        return out
    finally:
        c.close()


@PROTOCOLS
def test_latency_command_event(protocol):
    want, got = run_pair({"enable-debug-command": "yes"}, latency_events, protocol)
    assert_same_items(want, got)


HIST_KEYS = {(((1024 << m) + ((1024 << m) >> 7 if (1024 << m) >= 256 else 1) - 1) // 1000) for m in range(20)}


def histogram_shape(raw):
    """LATENCY HISTOGRAM as {name: calls} plus the reply's aggregate types; bucket keys
    checked to be Redis's, counts increasing up to the calls."""
    node = parse(raw)
    kids = node.children
    shape = {}
    for name, body in zip(kids[::2], kids[1::2]):
        k, calls, hk, buckets = body.children
        assert (k.value, hk.value) == (b"calls", b"histogram_usec")
        pairs = [(int(a.value), int(b.value)) for a, b in zip(buckets.children[::2], buckets.children[1::2])]
        assert pairs and pairs[-1][1] == int(calls.value), pairs
        assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(pairs, pairs[1:])), pairs
        assert all(p[0] in HIST_KEYS for p in pairs), pairs
        shape[name.value] = (body.type, buckets.type, int(calls.value))
    return node.type, shape


PERCENTILE = r"\d+\.\d{3}"


def latencystats(raw):
    text = parse(raw).value.decode().removeprefix("txt:")
    lines = [l for l in text.split("\r\n") if l]
    assert lines[0] == "# Latencystats", lines
    out = {}
    for l in lines[1:]:
        m = re.fullmatch(r"latency_percentiles_usec_([a-z_|\-]+):(.*)", l)
        assert m, l
        labels = [kv.split("=")[0] for kv in m.group(2).split(",")] if m.group(2) else []
        for kv in m.group(2).split(",") if m.group(2) else []:
            assert re.fullmatch(PERCENTILE, kv.split("=")[1]), l
        if m.group(1) != "ping":
            out[m.group(1)] = labels
    return out


def histograms(server, protocol):
    c = connect(server, protocol)
    try:
        out = []
        for _ in range(3):
            c.command("SET", "k", "v")
        c.command("GET", "k")
        c.command("MULTI")
        c.command("SET", "k", "w")
        c.command("INCR", "n")
        c.command("EXEC")
        c.command("EVAL", "redis.call('set','k','x'); return redis.call('incr','n')", "0")
        out.append(histogram_shape(c.command("LATENCY", "HISTOGRAM", "set", "SET", "incr", "get", "nosuch", "zadd")))
        out.append(histogram_shape(c.command("LATENCY", "HISTOGRAM", "config", "slowlog")))
        c.command("CONFIG", "GET", "maxmemory")
        out.append(histogram_shape(c.command("LATENCY", "HISTOGRAM", "config", "config|get")))
        # (Without PING: the harness's readiness probes may differ.)
        every = histogram_shape(c.command("LATENCY", "HISTOGRAM"))[1]
        out.append(sorted((k, v) for k, v in every.items() if k != b"ping"))
        out.append(latencystats(c.command("INFO", "latencystats")))
        # A sleep of 20 ms: its percentiles say about 20000 µs.
        c.command("DEBUG", "SLEEP", "0.02")
        info = parse(c.command("INFO", "latencystats")).value.decode()
        m = re.search(r"latency_percentiles_usec_debug:p50=([\d.]+),p99=([\d.]+),p99\.9=([\d.]+)", info)
        assert m, info
        assert all(19000 < float(v) < 200000 for v in m.groups()), info
        c.command("CONFIG", "SET", "latency-tracking-info-percentiles", "0 1.5 99.99 100 33.333333333")
        out.append(latencystats(c.command("INFO", "latencystats")))
        c.command("CONFIG", "SET", "latency-tracking-info-percentiles", "")
        out.append(latencystats(c.command("INFO", "latencystats")))
        c.command("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")
        # Tracking off: no section lines, no new calls counted, the old ones kept.
        c.command("CONFIG", "SET", "latency-tracking", "no")
        c.command("SET", "k", "v")
        out.append(c.command("INFO", "latencystats"))
        out.append(histogram_shape(c.command("LATENCY", "HISTOGRAM", "set")))
        c.command("CONFIG", "SET", "latency-tracking", "yes")
        # RESETSTAT forgets them (and is itself the first call counted after).
        c.command("CONFIG", "RESETSTAT")
        out.append(histogram_shape(c.command("LATENCY", "HISTOGRAM")))
        out.append(latencystats(c.command("INFO", "latencystats")))
        # LATENCY RESET leaves the histograms alone.
        c.command("LATENCY", "RESET")
        out.append(histogram_shape(c.command("LATENCY", "HISTOGRAM", "config")))
        # EXEC's time covers its commands': a 50 ms sleep inside puts it past 33 ms.
        c.command("MULTI")
        c.command("DEBUG", "SLEEP", "0.05")
        c.command("EXEC")
        node = parse(c.command("LATENCY", "HISTOGRAM", "exec", "debug"))
        keys = {n.value: [int(k.value) for k in b.children[3].children[::2]]
                for n, b in zip(node.children[::2], node.children[1::2])}
        out.append(sorted((name, len(k), k[-1] > 33818) for name, k in keys.items()))
        return out
    finally:
        c.close()


@PROTOCOLS
def test_latency_histogram_and_latencystats(protocol):
    want, got = run_pair({"enable-debug-command": "yes"}, histograms, protocol)
    assert_same_items(want, got)


def blocked_entries(server, protocol):
    a, b = connect(server, protocol), connect(server, protocol)
    addrs = {}
    try:
        a.command("CLIENT", "SETNAME", "waiter")
        a.command("SLOWLOG", "RESET")
        base = entries(a.command("SLOWLOG", "GET", "1"), addrs)[1][0][1]
        # Served by a push: logged after the push, as Redis logs it once unblocked.
        a.send_command("BLPOP", "q", "0")
        time.sleep(0.2)
        b.command("RPUSH", "q", "x")
        assert a.read_reply().startswith((b"*2", b"*2"))
        # Timed out, and unblocked by CLIENT UNBLOCK.
        assert a.command("BLPOP", "q2", "0.1") in (b"*-1\r\n", b"_\r\n")
        cid = a.command("CLIENT", "ID")
        a.send_command("BRPOP", "q3", "0")
        time.sleep(0.2)
        b.command("CLIENT", "UNBLOCK", cid[1:-2].decode())
        a.read_reply()
        # Blocking commands inside MULTI do not block: logged as they run.
        a.command("MULTI")
        a.command("BLPOP", "q4", "0")
        a.command("EXEC")
        kind, got = entries(b.command("SLOWLOG", "GET", "-1"), addrs, base)
        # (Client ids differ between the servers.)
        the_id = cid[1:-2]
        return kind, [(t, i, [b"ID" if x == the_id else x for x in args], ad, n) for t, i, args, ad, n in got]
    finally:
        a.close()
        b.close()


@PROTOCOLS
def test_slowlog_blocked_commands(protocol):
    want, got = run_pair({"slowlog-log-slower-than": "0"}, blocked_entries, protocol)
    assert got == want, f"oracle {want!r}\ncinnabar {got!r}"


def eviction_events(server, protocol):
    """The eviction-del and eviction-cycle events: a 300,000-member set, the only key with a
    TTL, evicted under volatile-ttl (its free takes milliseconds on both servers), once by
    the eviction CONFIG SET maxmemory starts and once by a write's own eviction; the events
    LATENCY LATEST then holds (names; times masked)."""
    c = connect(server, protocol)
    try:
        out = []
        for round_ in range(2):
            for start in range(0, 300_000, 10_000):
                c.command("SADD", "big", *(f"member:{i}" for i in range(start, start + 10_000)))
            c.command("EXPIRE", "big", "1000")
            c.command("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
            c.command("CONFIG", "SET", "latency-monitor-threshold", "1")
            if round_ == 0:
                out.append(c.command("CONFIG", "SET", "maxmemory", "1"))
                time.sleep(0.5)
            else:
                c.command("CONFIG", "SET", "maxmemory-eviction-tenacity", "100")
                out.append(c.command("CONFIG", "SET", "maxmemory", "1", "maxmemory-eviction-tenacity", "100"))
            out.append(c.command("SET", "k", "v"))
            out.append(c.command("EXISTS", "big"))
            # Eviction's own events. Left out: `command` samples at a 1 ms threshold come
            # from the machine's scheduling on either server; Redis's eviction-lazyfree
            # (its wait for lazy frees, none pending here) is recorded when its
            # millisecond clock ticks between the wait's two readings.
            # (How many events RESET drops is left out, as the `command` samples.)
            out.append(events_seen(c, (b"eviction-cycle", b"eviction-del")))
        return out
    finally:
        c.close()


def events_seen(c, wanted):
    """LATENCY LATEST's event names among `wanted`, sorted; then LATENCY RESET, and
    maxmemory and the threshold back to 0."""
    latest = parse(c.command("LATENCY", "LATEST"))
    names = sorted(n for n in (e.children[0].value for e in latest.children) if n in wanted)
    c.command("LATENCY", "RESET")
    c.command("CONFIG", "SET", "maxmemory", "0", "latency-monitor-threshold", "0")
    return names


@PROTOCOLS
def test_latency_eviction_events(protocol):
    want, got = run_pair({}, eviction_events, protocol)
    assert got == want
    assert want[3] == [b"eviction-cycle", b"eviction-del"], want


def lazyfree_wait(server, protocol):
    """Redis's eviction-lazyfree: with nothing left to evict (volatile-lru, no key with a TTL)
    while a big value is freed on the lazyfree thread (UNLINK of a 1,000,000-member set,
    sent in one write with the SET behind it), a write's eviction waits for the free
    (tenacity 100: no time limit), then refuses it with OOM since memory is still over
    maxmemory 1; the wait is the event. Twice."""
    c = connect(server, protocol)
    try:
        out = []
        c.command("CONFIG", "SET", "maxmemory-policy", "volatile-lru", "maxmemory-eviction-tenacity", "100")
        for round_ in range(2):
            for start in range(0, 1_000_000, 20_000):
                c.command("SADD", "big", *(f"member:{i}" for i in range(start, start + 20_000)))
            c.command("CONFIG", "SET", "latency-monitor-threshold", "1", "maxmemory", "1")
            c.send_command("UNLINK", "big")
            c.send_command("SET", "k", "v")
            out.append(c.read_reply())
            out.append(c.read_reply())
            # (How many events RESET drops is left out: `command` samples at a 1 ms
            # threshold come from the machine's scheduling.)
            out.append(events_seen(c, (b"eviction-cycle", b"eviction-del", b"eviction-lazyfree")))
        return out
    finally:
        c.close()


@PROTOCOLS
def test_latency_eviction_lazyfree(protocol):
    want, got = run_pair({}, lazyfree_wait, protocol)
    assert got == want, f"oracle {want!r}\ncinnabar {got!r}"
    assert want[2] == [b"eviction-cycle", b"eviction-lazyfree"], want
