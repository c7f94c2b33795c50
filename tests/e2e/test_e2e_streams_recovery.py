"""A worker of a consumer group dies mid-way and its events are not lost (issue 21's
concurrency test).

Several consumer processes of one group, each with its own connection, read the order events
with XREADGROUP BLOCK COUNT while a producer process adds them. Each consumer records an event
as processed (an append to its own file, flushed) and then XACKs it, and runs XAUTOCLAIM with a
small min-idle before each read, as a worker that recovers its crashed peers' events does. One
of them, the victim, processes a few batches, then reads one more batch and is SIGKILLed before
processing it: its connection drops with those events pending under its name. The survivors
must claim them, and in the end every event is processed exactly once: the processed records
of all consumers together hold every event once, nothing is pending and every XACK acked.

MIN_IDLE_MS is small but well above the time a live survivor holds an event (read, record,
ack: well under a millisecond): a survivor would only claim another live survivor's event if
that one stalled between its read and its ack for that long."""
import multiprocessing
import os
import signal
import time

from e2e_helpers import client


STREAM = "orders"
GROUP = "fulfilment"
TOTAL = 3000
PREFILL = 300
MIN_IDLE_MS = 500
VICTIM_BATCHES = 3  # batches the victim processes before it reads the one it dies with
BATCH = 10
SURVIVORS = 3
DONE_KEY = "test:producer-and-victim-done"


def _entries(reply):
    """The (id, fields) pairs of an XREADGROUP reply on one stream, RESP2 or RESP3 shape."""
    if isinstance(reply, dict):
        return [e for value in reply.values() for e in (value[0] if value and isinstance(value[0], list) else value)]
    return [e for _, entries in reply for e in entries]


def _event(i):
    return {"type": "order.created", "order_id": str(i), "total": f"{i % 100}.50"}


def produce(port, protocol, start, stop):
    c = client(port, protocol)
    pipe = c.pipeline(transaction=False)
    for i in range(start, stop):
        pipe.xadd(STREAM, _event(i))
        if i % 50 == 49:
            pipe.execute()
            time.sleep(0.002)  # leave the consumers room to interleave with the producer
    pipe.execute()
    c.close()


def consume(port, protocol, name, results_path, victim, started, stalled, stall_path):
    """One consumer process. Writes a line per processed event to results_path (before its
    XACK; "ACK0 id" lines for an XACK that acked nothing), and the victim writes the ids of the
    batch it dies with to stall_path."""
    c = client(port, protocol)
    out = open(results_path, "a")
    batches = 0
    cursor = "0-0"

    def process(entries):
        for msg_id, data in entries:
            out.write(f"{msg_id} {data['order_id']}\n")
        out.flush()
        if entries:
            acked = c.xack(STREAM, GROUP, *[msg_id for msg_id, _ in entries])
            if acked != len(entries):
                for msg_id, _ in entries:
                    out.write(f"ACKCOUNT {acked} of {len(entries)} at {msg_id}\n")
                out.flush()

    while True:
        finished = c.exists(DONE_KEY)
        claimed = []
        if not victim:
            cursor, claimed, _deleted = c.xautoclaim(STREAM, GROUP, name, MIN_IDLE_MS, start_id=cursor, count=BATCH)
            process(claimed)
        entries = _entries(c.xreadgroup(GROUP, name, {STREAM: ">"}, count=BATCH, block=100))
        if victim and batches == VICTIM_BATCHES and entries:
            with open(stall_path, "w") as f:
                f.write("".join(f"{msg_id}\n" for msg_id, _ in entries))
            stalled.set()
            time.sleep(3600)  # killed here, the batch unprocessed and unacked
        process(entries)
        if entries:
            batches += 1
            if victim and batches == 1:
                started.set()
        if finished and not entries and not claimed and cursor == "0-0" and c.xpending(STREAM, GROUP)["pending"] == 0:
            break
    out.close()
    c.close()


def test_killed_consumer_events_processed_exactly_once(port, protocol, tmp_path):
    ctx = multiprocessing.get_context("fork")
    admin = client(port, protocol)
    assert admin.xgroup_create(STREAM, GROUP, id="0", mkstream=True) is True
    produce(port, protocol, 0, PREFILL)
    started, stalled = ctx.Event(), ctx.Event()
    stall_path = tmp_path / "victim-stalled"
    paths = {name: tmp_path / f"{name}.processed" for name in ["victim"] + [f"survivor-{k}" for k in range(SURVIVORS)]}
    victim = ctx.Process(target=consume, args=(port, protocol, "victim", paths["victim"], True, started, stalled,
                                              stall_path))
    victim.start()
    procs = [victim]
    try:
        assert started.wait(30), "the victim read nothing"
        survivors = [ctx.Process(target=consume, args=(port, protocol, f"survivor-{k}", paths[f"survivor-{k}"], False,
                                                       ctx.Event(), ctx.Event(), None))
                     for k in range(SURVIVORS)]
        producer = ctx.Process(target=produce, args=(port, protocol, PREFILL, TOTAL))
        procs += survivors + [producer]
        for p in survivors + [producer]:
            p.start()
        assert stalled.wait(30), "the victim did not reach its last batch"
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        assert victim.exitcode == -signal.SIGKILL
        # the killed consumer's connection is gone, its events still pending under its name
        stalled_ids = stall_path.read_text().split()
        assert 0 < len(stalled_ids) <= BATCH
        producer.join(60)
        assert producer.exitcode == 0
        admin.set(DONE_KEY, 1)
        for p in survivors:
            p.join(90)
        assert [p.exitcode for p in survivors] == [0] * SURVIVORS
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)

    records = {name: path.read_text().splitlines() if path.exists() else [] for name, path in paths.items()}
    bad_acks = [line for lines in records.values() for line in lines if line.startswith("ACKCOUNT")]
    assert bad_acks == []
    processed = {name: [line.split() for line in lines] for name, lines in records.items()}
    everything = [order_id for lines in processed.values() for _, order_id in lines]
    assert len(everything) == len(set(everything)), "an event was processed twice"
    assert sorted(map(int, everything)) == list(range(TOTAL)), "an event was lost"
    # the victim processed its first batches only; its last batch went to the survivors
    victim_ids = {msg_id for msg_id, _ in processed["victim"]}
    assert VICTIM_BATCHES <= len(victim_ids) <= VICTIM_BATCHES * BATCH
    survivor_ids = {msg_id for name, lines in processed.items() if name != "victim" for msg_id, _ in lines}
    assert set(stalled_ids) <= survivor_ids
    assert not set(stalled_ids) & victim_ids
    # nothing pending, the group at the end of the stream, the victim's PEL empty
    assert admin.xpending(STREAM, GROUP)["pending"] == 0
    [info] = admin.xinfo_groups(STREAM)
    assert (info["pending"], info["entries-read"], info["lag"]) == (0, TOTAL, 0)
    assert info["last-delivered-id"] == admin.xrevrange(STREAM, count=1)[0][0]
    consumers = {c["name"]: c["pending"] for c in admin.xinfo_consumers(STREAM, GROUP)}
    assert consumers == {"victim": 0, **{f"survivor-{k}": 0 for k in range(SURVIVORS)}}
    assert admin.xlen(STREAM) == TOTAL
    admin.close()


def _block_forever(port, protocol, stream, group, name):
    c = client(port, protocol)
    c.xreadgroup(group, name, {stream: ">"}, count=10, block=0)


def test_consumer_killed_while_blocked_gets_nothing(port, protocol):
    """A worker killed while it waits in XREADGROUP BLOCK 0: its waiter goes with its connection,
    so the next event goes to a live worker, and nothing is left pending under the dead one's
    name (an event delivered to a closed connection would be pending there until claimed)."""
    ctx = multiprocessing.get_context("fork")
    admin = client(port, protocol)
    admin.xgroup_create("quiet", GROUP, id="$", mkstream=True)

    def wait_blocked(n):
        """Wait up to 20 s for exactly n blocked clients."""
        deadline = time.monotonic() + 20
        while admin.info("clients")["blocked_clients"] != n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert admin.info("clients")["blocked_clients"] == n

    victim = ctx.Process(target=_block_forever, args=(port, protocol, "quiet", GROUP, "victim"))
    victim.start()
    try:
        wait_blocked(1)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        assert victim.exitcode == -signal.SIGKILL
        wait_blocked(0)
    finally:
        if victim.is_alive():
            victim.kill()
            victim.join(5)
    reader = ctx.Process(target=_block_forever, args=(port, protocol, "quiet", GROUP, "live"))
    reader.start()
    try:
        wait_blocked(1)
        event_id = admin.xadd("quiet", _event(1))
        reader.join(20)
        assert reader.exitcode == 0
    finally:
        if reader.is_alive():
            reader.kill()
            reader.join(5)
    summary = admin.xpending("quiet", GROUP)
    assert (summary["pending"], summary["min"], summary["consumers"]) == (1, event_id, [{"name": "live", "pending": 1}])
    consumers = {c["name"]: c["pending"] for c in admin.xinfo_consumers("quiet", GROUP)}
    assert consumers == {"victim": 0, "live": 1}
    # the live worker's history holds the event, with its fields
    assert _entries(admin.xreadgroup(GROUP, "live", {"quiet": "0"}, count=10)) == [(event_id, _event(1))]
    admin.close()
