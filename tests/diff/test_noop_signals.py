"""Tracking invalidations and keyspace events of the writes of cases/watch_noop.txt (the
list is watch_noop_gen.C): Redis ties WATCH, client-side caching invalidation and the
events to the same signal, sent only for a key that changed (SMOVE to a set that already
holds the member signals the source alone). A RESP3 tracking client reads the write's keys
and the watched key, a `psubscribe __key*__:*` subscriber listens, another client writes;
the pushes and messages must be the same on both servers, case by case."""
import pytest

from casefile import split_args
from harness import subject_name
from resp import RawConnection
from test_notifications import drain_until_end
from test_tracking import keys_of, pushes_until_pong, show, tracker
from watch_noop_gen import C


def run(server, protocol):
    c = RawConnection(server.port)
    sub = RawConnection(server.port)
    t = tracker(server)
    if protocol == 3:
        assert sub.command("HELLO", "3")[:1] == b"%"
    out = []
    try:
        for title, setup, key, write in C:
            writes = [split_args(w) for w in (write if isinstance(write, list) else [write])]
            c.command("FLUSHALL")
            for line in setup:
                c.command(*split_args(line))
            pushes_until_pong(t)
            for k in {key.encode(), *(k for w in writes for k in keys_of(c, w))}:
                t.command("EXISTS", k)
            c.command("CONFIG", "SET", "notify-keyspace-events", "KEA")
            sub.command("PSUBSCRIBE", "__key*__:*")
            replies = [c.command(*w) for w in writes]
            events = drain_until_end(c, sub)
            sub.command("PUNSUBSCRIBE")
            out.append((title, replies, sorted(pushes_until_pong(t)), events))
        return out
    finally:
        for x in (c, sub, t):
            x.close()


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_noop_writes_signal_like_redis(pair, protocol):
    want, got = [run(s, protocol) for s in pair]
    bad = [f"{w[0]}:\n   redis {[show(x) for x in w[2]]} {[show(x) for x in w[3]]}\n"
           f"   {subject_name()} {[show(x) for x in g[2]]} {[show(x) for x in g[3]]}"
           for w, g in zip(want, got) if w != g]
    assert not bad, "signals differ:\n" + "\n".join(bad)
    # Not vacuous: some writes invalidated and notified, some did not.
    assert any(w[2] for w in want) and any(not w[2] for w in want)
    assert any(w[3] for w in want) and any(not w[3] for w in want)
