"""CONFIG GET * lists the parameters Redis 7.2 lists, and every listed parameter can be set
back to the value CONFIG GET gives, with the oracle's reply: what tools that copy a
configuration do (CONFIG GET *, then CONFIG SET of each parameter but Redis's immutable
ones). A parameter of our own in that list, immutable, broke them (`threads`).

With Debian's 7.0 oracle, its list differs from 7.2's by the names below: those are checked
against 7.2's behaviour (listed or not; mutable) instead of the oracle's reply.
"""
import os

import pytest

import support
from harness import start_pair, stop_pair
from resp import RawConnection, parse

# Listed by Redis 7.2's CONFIG GET * and not by 7.0's (all settable at run time).
NEW_IN_72 = {"cluster-announce-human-nodename", "locale-collate",
             "set-max-listpack-entries", "set-max-listpack-value"}
# Listed by 7.0, hidden in 7.2 (CONFIG GET of its exact name still answers).
HIDDEN_IN_72 = {"aof-disable-auto-gc"}


def config_map(c):
    # RESP2 array or RESP3 map: names and values alternate among the children.
    kids = parse(c.command("CONFIG", "GET", "*")).children
    return {k.value.decode(): v.value for k, v in zip(kids[::2], kids[1::2])}


def version(c):
    info = c.command("INFO", "server").decode()
    line = next(l for l in info.split("\r\n") if l.startswith("redis_version:"))
    return tuple(int(x) for x in line.split(":")[1].split(".")[:2])


def round_trip(server, names):
    """CONFIG SET each of `names` to its own value, one at a time: each raw reply, then
    whether CONFIG GET * reads the same afterwards and the server still answers."""
    c = RawConnection(server.port)
    try:
        before = config_map(c)
        replies = {n: c.command("CONFIG", "SET", n, before[n]) for n in names if n in before}
        after = config_map(c)
        return replies, after == before, c.command("PING")
    finally:
        c.close()


def test_config_get_star_lists_what_redis_72_lists_and_each_round_trips():
    pair = start_pair()
    try:
        oracle, subject = pair
        co, cs = RawConnection(oracle.port), RawConnection(subject.port)
        try:
            oracle_names = set(config_map(co))
            names = set(config_map(cs))
            oracle_is_70 = version(co) < (7, 2)
        finally:
            co.close()
            cs.close()
        want_names = (oracle_names | NEW_IN_72) - HIDDEN_IN_72 if oracle_is_70 else oracle_names
        assert names == want_names, f"only cinnabar: {sorted(names - want_names)}, only redis: {sorted(want_names - names)}"

        want, want_same, want_pong = round_trip(oracle, sorted(oracle_names))
        got, same, pong = round_trip(subject, sorted(names))
        assert (same, pong) == (want_same, want_pong) == (True, b"+PONG\r\n")
        for name in sorted(names):
            expected = b"+OK\r\n" if name in NEW_IN_72 and oracle_is_70 else want[name]
            assert got[name] == expected, f"CONFIG SET {name}: redis {expected!r}, cinnabar {got[name]!r}"
        # Redis 7.2's immutable ones are refused, the rest accepted: the list tools skip.
        refused = {n for n, r in got.items() if r != b"+OK\r\n"}
        assert "io-threads" in refused and "threads" not in names
    finally:
        stop_pair(pair)


def config_get(c, name):
    return parse(c.command("CONFIG", "GET", name)).children[1].value


def test_worker_count_is_io_threads(monkeypatch):
    """io-threads sets the worker count (`threads`, our first name for it, still does, and is
    hidden from CONFIG GET *); CONFIG GET reports them as configured (io-threads 1 by default,
    as in Redis) and INFO the count in use; both are immutable, refused with Redis's error
    for io-threads, twice in a row."""
    from support import start_cinnabar
    monkeypatch.delenv("CINNABAR_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    for config, workers in (({"io-threads": "3"}, 3), ({"threads": "2"}, 2),
                            ({"threads": "2", "io-threads": "4"}, 2), ({"io-threads": "1"}, cores), ({}, cores)):
        s = start_cinnabar(**config)
        try:
            c = RawConnection(s.port)
            assert f"cinnabar_threads:{workers}\r\n" in c.command("INFO", "server").decode(), config
            for name, default in (("io-threads", "1"), ("threads", "0")):
                assert config_get(c, name) == config.get(name, default).encode(), config
            for name in ("io-threads", "threads", "IO-THREADS"):
                for _ in range(2):
                    assert c.command("CONFIG", "SET", name, "5") == (
                        "-ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config\r\n"
                        % name).encode()
            assert c.command("PING") == b"+PONG\r\n"
            c.close()
        finally:
            s.stop()


def needs_72():
    if not support.oracle_is_72():
        pytest.fail("needs the Redis 7.2 oracle (7.0's parameters, defaults and texts differ): "
                    "build it with tests/oracle.sh", pytrace=False)


# CONFIG GET * values that differ between two servers started alike, and why.
KNOWN_VALUE_DIFFS = {
    "port": "each server listens on a free port of its own",
    "dir": "each server runs in a temporary directory of its own",
}


def without_known_diffs(m):
    return {k: v for k, v in m.items() if k not in KNOWN_VALUE_DIFFS}


def test_config_get_star_values_are_redis_defaults():
    """Both servers started with nothing but their port, bind and dir (save at its default
    too): every name and every value of CONFIG GET * alike, in RESP2 and RESP3."""
    needs_72()
    pair = start_pair({"save": "3600 1 300 100 60 10000"})
    try:
        for proto in (2, 3):
            maps = []
            for s in pair:
                c = RawConnection(s.port)
                try:
                    if proto == 3:
                        assert c.command("HELLO", "3")[:1] == b"%"
                    maps.append(config_map(c))
                finally:
                    c.close()
            want, got = (without_known_diffs(m) for m in maps)
            diffs = {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
            assert not diffs, f"RESP{proto} (redis, cinnabar): {diffs}"
            assert set(maps[0]) == set(maps[1])
    finally:
        stop_pair(pair)


# Values that are wrong for some type of parameter (and right for others): numbers out of
# every range, units, percents, several words, signs, hex, blanks.
PROBE_VALUES = ["abc", "-1", "", "99999999999999999999", "1.5", "yes", "YES", "100%", "101%", "0", "1kb",
                "-5%", "1 2", "a b c", "0x10", "+5", "18446744073709551615", "9223372036854775808", "local",
                "  ", "-2147483649", "2147483648", "4294967296", "!x", "{title}", "C"]
# Parameters whose accepted values change how the server runs under the test: its
# listener, its password, its files, TLS (the oracle is built without it), clients evicted.
PROBE_SKIP = {"port", "bind", "dir", "requirepass", "appendonly", "tls-port", "tls-cluster", "tls-replication",
              "maxmemory-clients", "maxclients"}


def probe_replies(server, names, proto):
    """CONFIG SET of each probe value, twice in a row, to each parameter: the raw replies and
    the value CONFIG GET reads afterwards; the parameter is set back after each value."""
    c = RawConnection(server.port)
    out = {}
    try:
        if proto == 3:
            assert c.command("HELLO", "3")[:1] == b"%"
        for name in names:
            orig = config_get(c, name)
            for v in PROBE_VALUES:
                replies = [c.command("CONFIG", "SET", name, v) for _ in range(2)]
                now = config_get(c, name)
                out[(name, v)] = (replies, now)
                if now != orig:
                    assert c.command("CONFIG", "SET", name, orig) == b"+OK\r\n", (name, v)
        return out
    finally:
        c.close()


def test_config_set_values_of_every_type_as_redis_validates_them():
    """Every settable parameter of CONFIG GET *, each probe value: the same +OK or the same
    error text (reason and parameter named), the same value stored, RESP2 and RESP3."""
    needs_72()
    pair = start_pair()
    try:
        c = RawConnection(pair[0].port)
        try:
            names = sorted(n for n in config_map(c) if n not in PROBE_SKIP)
        finally:
            c.close()
        for proto in (2, 3):
            want = probe_replies(pair[0], names, proto)
            got = probe_replies(pair[1], names, proto)
            bad = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
            assert not bad, f"RESP{proto}: {len(bad)} differ (redis, cinnabar): {dict(list(bad.items())[:10])}"
    finally:
        stop_pair(pair)


def test_config_set_of_several_parameters_is_all_or_nothing():
    """CONFIG SET with several pairs: every value checked before any is set, one bad value
    leaves every parameter as it was, with Redis's error naming the failing one (as typed
    when an alias); duplicates (an alias and its name count as two) refused; a failure
    while applying (a port already in use, an address that cannot be bound) rolls the
    ones set before it back. Same replies and same CONFIG GET * afterwards, twice in a row."""
    import socket
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    cases = [
        ["maxmemory", "10mb", "hz", "abc"],
        ["hz", "5", "hz", "6"],
        ["hz", "5", "HZ", "6"],
        ["slave-read-only", "no", "replica-read-only", "yes"],
        ["replica-read-only", "no", "slave-read-only", "yes"],
        ["foo", "1", "hz", "5"],
        ["hz", "5", "foo", "1"],
        ["hz", "5", "io-threads", "2"],
        ["hz", "5", "maxmemory"],
        ["hz", "7", "port", str(busy.getsockname()[1])],
        ["maxmemory", "1mb", "save", "x", "hz", "abc"],
        ["hz", "9", "dir", "/nonexistent"],
        ["hz", "11", "client-output-buffer-limit", "normal 1 2"],
        ["timeout", "12", "bind", "192.0.2.1"],
        ["maxmemory-policy", "allkeys-lru", "maxmemory-samples", "0"],
        ["hz", "13", "dbfilename", "x.rdb"],
        ["save", "", "appendfsync", "bad"],
        ["list-max-ziplist-size", "5", "list-max-listpack-size", "6"],
        ["maxmemory", "2mb", "maxmemory-policy", "allkeys-lfu", "timeout", "30", "notify-keyspace-events", "Ex"],
        ["maxmemory", "0", "maxmemory-policy", "noeviction", "timeout", "0", "notify-keyspace-events", ""],
    ]
    pair = start_pair()
    try:
        for proto in (2, 3):
            conns = []
            for s in pair:
                c = RawConnection(s.port)
                if proto == 3:
                    assert c.command("HELLO", "3")[:1] == b"%"
                conns.append(c)
            try:
                for case in cases:
                    for attempt in range(2):
                        replies = [c.command("CONFIG", "SET", *case) for c in conns]
                        states = [without_known_diffs(config_map(c)) for c in conns]
                        assert replies[0] == replies[1], (proto, case, attempt, replies)
                        changed = {k for k in states[0] if states[0][k] != states[1].get(k)}
                        assert not changed, (proto, case, {k: (states[0][k], states[1].get(k)) for k in changed})
            finally:
                for c in conns:
                    c.close()
    finally:
        busy.close()
        stop_pair(pair)
