"""CONFIG GET * lists the parameters Redis 7.2 lists, and every listed parameter can be set
back to the value CONFIG GET gives, with the oracle's reply: what tools that copy a
configuration do (CONFIG GET *, then CONFIG SET of each parameter but Redis's immutable
ones). A parameter of our own in that list, immutable, broke them (`threads`).

With Debian's 7.0 oracle, its list differs from 7.2's by the names below: those are checked
against 7.2's behaviour (listed or not; mutable) instead of the oracle's reply.
"""
import os

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
