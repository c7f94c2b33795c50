"""Durable events from the seeds (../shared/USERS.md): producers XADD order events to a stream,
a consumer group of workers reads them with XREADGROUP BLOCK COUNT, processes them and XACKs;
nothing is left pending, every event is processed exactly once, and the stream is trimmed. Also
the tail -f reader (XREAD BLOCK $), and the recovery of a crashed worker's pending events with
XPENDING, XCLAIM and XAUTOCLAIM. Sync and asyncio.

Clients: redis-py 8's defaults (RESP3 on the wire, replies shaped as in RESP2 by its
legacy_responses: the seeds' `for stream, entries in messages` loop works as written), and
protocol=2 and protocol=3 given explicitly: with protocol=3 XREAD/XREADGROUP come back as a
map {stream: [entries]} (against real Redis too), which `stream_batches` reads either way.

The concurrency test (separate consumer processes, one killed mid-way) is in
test_e2e_streams_recovery.py."""
import asyncio
import threading
import time

import pytest

from e2e_helpers import client, run_threads

STREAM = "orders"
GROUP = "notification-service"


@pytest.fixture(params=[None, 2, 3], ids=["default", "resp2", "resp3"])
def protocol(request):
    """conftest's `protocol` (so its `r` client), with redis-py's own default (None) as well:
    XREAD/XREADGROUP replies are shaped differently in each."""
    return request.param


def stream_batches(reply):
    """(stream, entries) pairs of an XREAD / XREADGROUP reply as redis-py returns it: a list of
    [stream, entries] (RESP2 and redis-py's default), or {stream: [entries]} (protocol=3)."""
    if isinstance(reply, dict):
        return [(stream, value[0] if value and isinstance(value[0], list) else value)
                for stream, value in reply.items()]
    return [(stream, entries) for stream, entries in reply]


def order_event(producer, i):
    return {"type": "order.created", "order_id": f"p{producer}-{i}", "total": f"{10 + i % 90}.99"}


def check_all_done(r, ids, workers, consumed):
    """After the workers stopped: every event processed once, nothing pending, the group's
    counters at the end of the stream."""
    everything = [order_id for got in consumed for order_id in got]
    assert len(everything) == len(ids) and len(set(everything)) == len(ids)
    summary = r.xpending(STREAM, GROUP)
    assert summary == {"pending": 0, "min": None, "max": None, "consumers": []}
    assert r.xpending_range(STREAM, GROUP, "-", "+", 100) == []
    [info] = r.xinfo_groups(STREAM)
    assert info["name"] == GROUP
    assert info["consumers"] == workers
    assert info["pending"] == 0
    assert info["last-delivered-id"] == ids[-1]
    assert info["entries-read"] == len(ids)
    assert info["lag"] == 0
    consumers = r.xinfo_consumers(STREAM, GROUP)
    assert sorted(c["name"] for c in consumers) == [f"worker-{k}" for k in range(workers)]
    assert all(c["pending"] == 0 for c in consumers)
    # every worker got something, and a history read (id 0) of an acked-out consumer is empty
    assert all(consumed)
    assert stream_batches(r.xreadgroup(GROUP, "worker-0", {STREAM: "0"}, count=10)) == [(STREAM, [])]


def check_trim(r, ids):
    """The stream as an audit log after processing: length, ranges, then XTRIM MAXLEN / MINID."""
    n = len(ids)
    assert r.xlen(STREAM) == n
    assert r.type(STREAM) == "stream"
    first = r.xrange(STREAM, count=5)
    assert [e[0] for e in first] == ids[:5]
    assert [e[0] for e in r.xrevrange(STREAM, count=3)] == ids[-1:-4:-1]
    # an exclusive start continues a page: the cursor pattern of an admin page
    page2 = r.xrange(STREAM, min="(" + first[-1][0], count=5)
    assert [e[0] for e in page2] == ids[5:10]
    assert r.xinfo_stream(STREAM)["last-generated-id"] == ids[-1]
    # keep the last 100 events
    assert r.xtrim(STREAM, maxlen=100, approximate=False) == n - 100
    assert r.xlen(STREAM) == 100
    assert r.xrange(STREAM, count=1)[0][0] == ids[n - 100]
    # approximate trimming removes whole nodes only: never below the limit, never more than asked
    removed = r.xtrim(STREAM, maxlen=50, approximate=True)
    assert 0 <= removed <= 50 and r.xlen(STREAM) == 100 - removed
    # MINID: everything older than an id goes
    keep_from = ids[n - 20]
    r.xtrim(STREAM, minid=keep_from, approximate=False)
    assert [e[0] for e in r.xrange(STREAM)] == ids[n - 20:]
    info = r.xinfo_stream(STREAM)
    assert info["length"] == 20
    assert info["entries-added"] == n
    assert info["first-entry"][0] == keep_from
    # the group's lag is still known (nothing was deleted in its unread range)
    assert r.xinfo_groups(STREAM)[0]["lag"] == 0


def test_order_events_consumer_group(port, protocol, r):
    producers, per_producer, workers = 3, 200, 4
    total = producers * per_producer
    assert r.xgroup_create(STREAM, GROUP, id="0", mkstream=True) is True
    assert r.xlen(STREAM) == 0
    ids_by_producer = [[] for _ in range(producers)]
    consumed = [[] for _ in range(workers)]
    produced = threading.Event()

    def produce(p):
        c = client(port, protocol)
        try:
            for i in range(per_producer):
                ids_by_producer[p].append(c.xadd(STREAM, order_event(p, i)))
        finally:
            c.close()

    def work(k):
        c = client(port, protocol)
        try:
            while True:
                done = produced.is_set()  # read before the XREADGROUP: an empty read after it is final
                messages = c.xreadgroup(GROUP, f"worker-{k}", {STREAM: ">"}, count=10, block=200)
                got = 0
                for stream, entries in stream_batches(messages):
                    assert stream == STREAM
                    for msg_id, data in entries:
                        assert data["type"] == "order.created"
                        consumed[k].append(data["order_id"])
                        assert c.xack(STREAM, GROUP, msg_id) == 1
                        got += 1
                if not got and done:
                    return
        finally:
            c.close()

    errors = []
    workers_thread = threading.Thread(target=lambda: errors.extend(run_threads(work, workers, timeout=60)))
    workers_thread.start()
    errors += run_threads(produce, producers)
    produced.set()
    workers_thread.join(timeout=90)
    assert not workers_thread.is_alive()
    assert errors == []
    ids = sorted((i for got in ids_by_producer for i in got), key=lambda s: tuple(map(int, s.split("-"))))
    assert len(set(ids)) == total
    # each worker saw each producer's events in the order they were added
    for got in consumed:
        for p in range(producers):
            mine = [int(o.split("-")[1]) for o in got if o.startswith(f"p{p}-")]
            assert mine == sorted(mine)
    assert sorted(o for got in consumed for o in got) == sorted(f"p{p}-{i}" for p in range(producers)
                                                                  for i in range(per_producer))
    check_all_done(r, ids, workers, consumed)
    check_trim(r, ids)


def test_order_events_consumer_group_asyncio(port, protocol):
    producers, per_producer, workers = 3, 200, 4
    total = producers * per_producer

    async def main():
        admin = client(port, protocol, asyncio=True)
        assert await admin.xgroup_create(STREAM, GROUP, id="0", mkstream=True) is True
        consumed = [[] for _ in range(workers)]
        produced = asyncio.Event()

        async def produce(p):
            c = client(port, protocol, asyncio=True)
            try:
                ids = []
                for i in range(per_producer):
                    ids.append(await c.xadd(STREAM, order_event(p, i)))
                    if i % 50 == 0:
                        await asyncio.sleep(0)
                return ids
            finally:
                await c.aclose()

        async def work(k):
            c = client(port, protocol, asyncio=True)
            try:
                while True:
                    done = produced.is_set()
                    messages = await c.xreadgroup(GROUP, f"worker-{k}", {STREAM: ">"}, count=10, block=200)
                    batch = [(msg_id, data) for _, entries in stream_batches(messages) for msg_id, data in entries]
                    for _, data in batch:
                        consumed[k].append(data["order_id"])
                    if batch:
                        # one XACK for the whole batch
                        assert await c.xack(STREAM, GROUP, *[msg_id for msg_id, _ in batch]) == len(batch)
                    elif done:
                        return
            finally:
                await c.aclose()

        worker_tasks = [asyncio.create_task(work(k)) for k in range(workers)]
        ids_lists = await asyncio.gather(*(produce(p) for p in range(producers)))
        produced.set()
        await asyncio.wait_for(asyncio.gather(*worker_tasks), timeout=60)
        ids = sorted((i for got in ids_lists for i in got), key=lambda s: tuple(map(int, s.split("-"))))
        assert len(set(ids)) == total
        summary = await admin.xpending(STREAM, GROUP)
        assert summary["pending"] == 0 and summary["consumers"] == []
        [info] = await admin.xinfo_groups(STREAM)
        assert (info["pending"], info["entries-read"], info["lag"], info["last-delivered-id"]) == (0, total, 0, ids[-1])
        assert await admin.xlen(STREAM) == total
        assert await admin.xtrim(STREAM, maxlen=10, approximate=False) == total - 10
        assert [e[0] for e in await admin.xrange(STREAM)] == ids[-10:]
        await admin.aclose()
        return consumed

    consumed = asyncio.run(main())
    everything = [o for got in consumed for o in got]
    assert sorted(everything) == sorted(f"p{p}-{i}" for p in range(producers) for i in range(per_producer))


def test_tail_reader_xread_block(port, protocol, r):
    """A dashboard follows the stream with XREAD BLOCK from `$`, then from the last id it saw;
    the seeds' producer adds events from another connection."""
    r.xadd(STREAM, order_event(0, 0))  # history the tail reader does not want
    got = []

    def follow():
        c = client(port, protocol)
        try:
            last = "$"
            while len(got) < 5:
                reply = c.xread({STREAM: last}, count=10, block=10_000)
                assert reply, "XREAD BLOCK timed out"
                for _, entries in stream_batches(reply):
                    for msg_id, data in entries:
                        got.append((msg_id, data["order_id"]))
                        last = msg_id
        finally:
            c.close()

    reader = threading.Thread(target=follow)
    reader.start()
    # the reader is blocked before the first event arrives (else `$` would skip it)
    deadline = time.monotonic() + 10
    while r.info("clients")["blocked_clients"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.info("clients")["blocked_clients"] == 1
    ids = []
    for i in range(1, 6):
        ids.append(r.xadd(STREAM, order_event(0, i)))
        time.sleep(0.005)
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert got == [(msg_id, f"p0-{i}") for i, msg_id in zip(range(1, 6), ids)]
    # XREAD BLOCK with nothing new times out with a nil reply
    assert r.xread({STREAM: "$"}, block=50) in ([], {}, None)


def test_crashed_worker_events_are_claimed(r):
    """worker-1 reads events and dies without acking them; an operator's script looks at
    XPENDING, claims old events for worker-2 with XCLAIM, the rest with XAUTOCLAIM (which also
    reports events deleted meanwhile), and moves an event delivered too often to a dead-letter
    stream."""
    r.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
    ids = [r.xadd(STREAM, order_event(1, i)) for i in range(6)]
    batch = stream_batches(r.xreadgroup(GROUP, "worker-1", {STREAM: ">"}, count=6))
    assert [msg_id for msg_id, _ in batch[0][1]] == ids
    assert r.xpending(STREAM, GROUP) == {"pending": 6, "min": ids[0], "max": ids[-1],
                                          "consumers": [{"name": "worker-1", "pending": 6}]}
    time.sleep(0.3)
    pending = r.xpending_range(STREAM, GROUP, "-", "+", 10, consumername="worker-1", idle=300)
    assert [p["message_id"] for p in pending] == ids
    assert all(p["consumer"] == "worker-1" and p["times_delivered"] == 1 and p["time_since_delivered"] >= 300
               for p in pending)
    assert r.xpending_range(STREAM, GROUP, "-", "+", 10, consumername="worker-2") == []
    # XCLAIM the two oldest (full entries), then one with JUSTID (no delivery counted)
    claimed = r.xclaim(STREAM, GROUP, "worker-2", 20, ids[:2])
    assert [(msg_id, data["order_id"]) for msg_id, data in claimed] == [(ids[0], "p1-0"), (ids[1], "p1-1")]
    assert r.xclaim(STREAM, GROUP, "worker-2", 0, [ids[2]], justid=True) == [ids[2]]
    # an event deleted while pending: XAUTOCLAIM drops it from the PEL and names it
    # (min-idle 200 ms: not the events XCLAIM just gave worker-2)
    assert r.xdel(STREAM, ids[3]) == 1
    cursor, entries, deleted = r.xautoclaim(STREAM, GROUP, "worker-2", 200, start_id="0-0", count=10)
    assert cursor == "0-0"
    assert [msg_id for msg_id, _ in entries] == [ids[4], ids[5]]
    assert deleted == [ids[3]]
    # (redis-py returns only the ids of a JUSTID reply; JUSTID counts no delivery)
    assert r.xautoclaim(STREAM, GROUP, "worker-2", 0, start_id="0-0", justid=True) == ids[:3] + ids[4:]
    summary = r.xpending(STREAM, GROUP)
    assert summary["pending"] == 5 and summary["consumers"] == [{"name": "worker-2", "pending": 5}]
    counts = {p["message_id"]: p["times_delivered"] for p in r.xpending_range(STREAM, GROUP, "-", "+", 10)}
    assert counts == {ids[0]: 2, ids[1]: 2, ids[2]: 1, ids[4]: 2, ids[5]: 2}
    # dead letter: whatever was delivered twice goes to orders:dead and is acked here
    for msg_id, n in counts.items():
        if n >= 2:
            [(_, data)] = r.xrange(STREAM, msg_id, msg_id)
            r.xadd("orders:dead", {**data, "original_id": msg_id})
            assert r.xack(STREAM, GROUP, msg_id) == 1
    assert r.xack(STREAM, GROUP, ids[0]) == 0  # acked once only
    assert [d["original_id"] for _, d in r.xrange("orders:dead")] == [ids[0], ids[1], ids[4], ids[5]]
    assert r.xpending(STREAM, GROUP)["pending"] == 1
    assert r.xack(STREAM, GROUP, ids[2]) == 1
    assert r.xpending(STREAM, GROUP)["pending"] == 0
    # worker-1 is gone for good
    assert r.xgroup_delconsumer(STREAM, GROUP, "worker-1") == 0
    assert [c["name"] for c in r.xinfo_consumers(STREAM, GROUP)] == ["worker-2"]
