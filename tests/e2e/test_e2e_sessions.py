"""Sessions in hashes (../shared/USERS.md: per-user hash, atomic increments, sliding TTL) and
exact counting with HINCRBY from many threads."""
import threading
import time
import uuid

import redis

from e2e_helpers import run_threads

SESSION_TTL = 30


def _session_key(sid):
    return f"session:{sid}"


def create_session(r, user_id):
    sid = uuid.uuid4().hex
    key = _session_key(sid)
    pipe = r.pipeline(transaction=False)  # MULTI/EXEC is not in cinnabar yet
    pipe.hset(key, mapping={"user_id": user_id, "created": int(time.time()), "csrf": uuid.uuid4().hex,
                            "theme": "dark", "hits": 0})
    pipe.expire(key, SESSION_TTL)
    pipe.execute()
    return sid


def touch_session(r, sid):
    """Load a session and slide its TTL, as a web framework does on every request."""
    key = _session_key(sid)
    pipe = r.pipeline(transaction=False)  # MULTI/EXEC is not in cinnabar yet
    pipe.hgetall(key)
    pipe.hincrby(key, "hits", 1)
    pipe.expire(key, SESSION_TTL)
    data, hits, renewed = pipe.execute()
    return (data or None), hits, renewed


def test_session_lifecycle_with_sliding_ttl(r):
    sid = create_session(r, "42")
    key = _session_key(sid)
    assert r.exists(key) == 1
    assert r.type(key) in (b"hash", "hash")
    ttl = r.ttl(key)
    assert 0 < ttl <= SESSION_TTL
    r.expire(key, 5)                          # time passes: TTL has dropped
    data, hits, renewed = touch_session(r, sid)
    assert renewed and hits == 1
    assert r.ttl(key) > 5                     # the TTL slid back up
    as_str = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
              for k, v in data.items()}
    assert as_str["user_id"] == "42" and as_str["theme"] == "dark"
    r.hset(key, "theme", "light")
    r.hdel(key, "csrf")
    got = r.hmget(key, ["theme", "csrf", "user_id"])
    assert [x.decode() if isinstance(x, bytes) else x for x in got[::2]] == ["light", "42"] and got[1] is None
    assert r.ttl(key) > 5, "HSET/HDEL keep the TTL"
    # logout
    assert r.delete(key) == 1
    data, _, renewed = touch_session(r, sid)
    # HINCRBY recreates the hash with only the counter; EXPIRE then applies: a touched
    # dead session must be treated as absent by the caller.
    assert not data
    r.delete(key)


def test_session_expires_when_not_touched(r):
    sid = create_session(r, "7")
    key = _session_key(sid)
    r.pexpire(key, 150)
    deadline = time.time() + 5
    while r.exists(key) and time.time() < deadline:
        time.sleep(0.05)
    assert r.exists(key) == 0
    assert r.hgetall(key) in ({}, None)
    assert r.hget(key, "user_id") is None


def test_many_sessions_hash_commands(r):
    sids = [create_session(r, str(i)) for i in range(200)]
    pipe = r.pipeline(transaction=False)
    for sid in sids:
        pipe.hlen(_session_key(sid))
        pipe.hexists(_session_key(sid), "csrf")
        pipe.hstrlen(_session_key(sid), "theme")
    out = pipe.execute()
    assert out == [5, True, 4] * 200
    assert r.object("encoding", _session_key(sids[0])) in (b"listpack", "listpack")


def test_8_threads_hincrby_one_field_exact(port, protocol):
    threads_n, per_thread = 8, 2000
    barrier = threading.Barrier(threads_n)

    def worker(_):
        client = redis.Redis(port=port, protocol=protocol)
        try:
            barrier.wait(timeout=20)
            pipe = client.pipeline(transaction=False)
            for i in range(per_thread):
                pipe.hincrby("counters", "page:home", 1)
                if i % 100 == 99:
                    pipe.execute()
            pipe.execute()
            for _ in range(50):               # and some unpipelined, interleaving with the others
                client.hincrby("counters", "page:home", 1)
                client.hincrbyfloat("counters", "seconds", 0.5)
        finally:
            client.close()

    assert run_threads(worker, threads_n, timeout=120) == []
    check = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    assert int(check.hget("counters", "page:home")) == threads_n * (per_thread + 50)
    assert float(check.hget("counters", "seconds")) == threads_n * 50 * 0.5
    check.close()
