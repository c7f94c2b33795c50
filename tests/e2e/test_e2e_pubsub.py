"""Pub/Sub through redis-py, as ../shared/USERS.md uses it: a subscriber thread with a
handler per channel (pubsub.run_in_thread), pattern subscriptions, the listen() loop of the
seed documents, RESP3 push messages, and a slow subscriber that must not grow the server's
memory without bound (client-output-buffer-limit pubsub)."""
import json
import socket
import threading
import time

import redis

from e2e_helpers import wait_until


def test_subscriber_thread_with_handlers(port, protocol):
    r = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    got = {"orders": [], "users": [], "pattern": []}
    lock = threading.Lock()

    def on(name):
        def handler(message):
            with lock:
                got[name].append(json.loads(message["data"]))
        return handler

    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe(**{"orders": on("orders"), "users": on("users")})
    p.psubscribe(**{"events:*": on("pattern")})
    worker = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        wait_until(lambda: r.pubsub_numsub("orders")[0][1] == 1 and r.pubsub_numpat() == 1)
        for i in range(50):
            assert r.publish("orders", json.dumps({"id": i})) == 1
        assert r.publish("users", json.dumps({"name": "ann"})) == 1
        assert r.publish("events:login", json.dumps({"who": "bob"})) == 1
        assert r.publish("nobody", "x") == 0
        wait_until(lambda: len(got["orders"]) == 50 and got["users"] and got["pattern"])
        assert [m["id"] for m in got["orders"]] == list(range(50))  # per-publisher order
        assert got["users"] == [{"name": "ann"}]
        assert got["pattern"] == [{"who": "bob"}]
        assert sorted(r.pubsub_channels()) == ["orders", "users"]
    finally:
        worker.stop()
        worker.join(10)
        p.close()
    wait_until(lambda: r.pubsub_numsub("orders")[0][1] == 0)
    r.close()


def test_listen_loop_like_the_seed(port, protocol):
    r = redis.Redis(port=port, protocol=protocol)
    received = []
    ready = threading.Event()

    def subscriber():
        ps = r.pubsub()
        ps.subscribe("notifications")
        for message in ps.listen():
            if message["type"] == "subscribe":
                ready.set()
            elif message["type"] == "message":
                event = json.loads(message["data"])
                received.append(event)
                if event.get("last"):
                    break
        ps.close()

    t = threading.Thread(target=subscriber)
    t.start()
    assert ready.wait(10)
    for i in range(10):
        r.publish("notifications", json.dumps({"n": i}))
    r.publish("notifications", json.dumps({"last": True}))
    t.join(10)
    assert [e.get("n") for e in received[:-1]] == list(range(10))
    r.close()


def test_unsubscribe_and_counts(port):
    r = redis.Redis(port=port, decode_responses=True)
    p = r.pubsub()
    p.subscribe("a", "b")
    p.psubscribe("p*")
    msgs = [p.get_message(timeout=1) for _ in range(3)]
    assert [(m["type"], m["channel"], m["data"]) for m in msgs] == [
        ("subscribe", "a", 1), ("subscribe", "b", 2), ("psubscribe", "p*", 3)]
    assert r.publish("pa", "hello") == 1
    m = p.get_message(timeout=1)
    assert (m["type"], m["pattern"], m["channel"], m["data"]) == ("pmessage", "p*", "pa", "hello")
    p.unsubscribe("a")
    assert p.get_message(timeout=1)["data"] == 2
    assert r.pubsub_numsub("a", "b") == [("a", 0), ("b", 1)]
    p.close()
    wait_until(lambda: r.pubsub_numpat() == 0 and r.pubsub_channels() == [])
    r.close()


def test_slow_subscriber_is_disconnected_and_memory_bounded(own_server):
    """A subscriber that never reads: once its pending output passes the pubsub hard limit it
    is disconnected, the publisher keeps going, and the server's memory stays bounded."""
    port = own_server.port
    r = redis.Redis(port=port)
    r.config_set("client-output-buffer-limit", "pubsub 1mb 512kb 60")
    slow = socket.create_connection(("127.0.0.1", port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nfeed\r\n")
    time.sleep(0.2)
    payload = b"x" * 10_000
    start = time.time()
    delivered = []
    for i in range(3000):  # 30 MB offered
        delivered.append(r.publish("feed", payload))
    elapsed = time.time() - start
    assert delivered[0] == 1
    assert delivered[-1] == 0  # the slow subscriber is gone
    wait_until(lambda: r.pubsub_numsub("feed")[0][1] == 0)
    used = int(r.info("memory")["used_memory"])
    assert used < 64 * 1024 * 1024, used
    assert elapsed < 30
    assert r.ping()
    slow.close()
    r.close()


def test_redis_py_monitor(port):
    """redis-py's monitor(): an operator watching commands as they run."""
    r = redis.Redis(port=port, decode_responses=True)
    with r.monitor() as m:
        other = redis.Redis(port=port, decode_responses=True)
        other.set("watched", "value with spaces")
        other.eval("return redis.call('incr', KEYS[1])", 1, "counter")
        seen = []
        while len(seen) < 3:
            cmd = m.next_command()
            if cmd["command"].startswith(("SET", "EVAL", "INCR", "incr", "set", "eval")):
                seen.append(cmd)
        other.close()
    assert seen[0]["command"] == "SET watched value with spaces"
    assert seen[0]["db"] == 0 and seen[0]["client_address"] == "127.0.0.1"
    assert seen[1]["command"].startswith("EVAL ")
    assert seen[2]["command"] == "incr counter" and seen[2]["client_type"] == "lua"
    r.close()


def test_every_message_arrives_promptly_while_workers_sleep_and_wake(port):
    """A message published from another thread to a subscriber whose worker sleeps must
    wake it. Two publishers connect one after the other (on cinnabar's round-robin they
    land on different workers, so at least one is not on the subscriber's) and take turns
    alone, pausing 5 ms between messages so the subscriber's worker is asleep each time a
    message comes: every message must arrive, each within half a second."""
    sub = socket.create_connection(("127.0.0.1", port))
    sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$6\r\nwakeup\r\n")
    r = redis.Redis(port=port)
    wait_until(lambda: r.pubsub_numsub("wakeup")[0][1] == 1)
    publishers = [redis.Redis(port=port) for _ in range(2)]
    for p in publishers:
        p.ping()  # connected now, in this order
    sent = {}
    received = {}
    stop = threading.Event()

    def read():
        buf = b""
        sub.settimeout(0.1)
        while not stop.is_set():
            try:
                chunk = sub.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return
            buf += chunk
            now = time.monotonic()
            while True:
                i = buf.find(b"m:")
                j = buf.find(b"\r\n", i) if i >= 0 else -1
                if j < 0:
                    break
                received[buf[i + 2:j].decode()] = now
                buf = buf[j:]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for n, p in enumerate(publishers):
            for i in range(50):
                name = f"{n}-{i}"
                sent[name] = time.monotonic()
                assert p.publish("wakeup", f"m:{name}") == 1
                time.sleep(0.005)
        deadline = time.monotonic() + 5
        while len(received) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        reader.join(5)
        sub.close()
        for p in publishers:
            p.close()
    missing = sorted(k for k in sent if k not in received)
    assert not missing, f"{len(missing)} of {len(sent)} messages never arrived: {missing[:5]}"
    slowest = max(received[k] - sent[k] for k in sent)
    assert slowest < 0.5, f"a message took {slowest:.3f} s to arrive"

