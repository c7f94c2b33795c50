"""The monitoring commands as operators and their tools call them through redis-py:
MEMORY USAGE / STATS / DOCTOR / PURGE / MALLOC-STATS, ROLE, LOLWUT, and DEBUG OBJECT
(parsed by redis-py into a dict) on a server started with enable-debug-command."""
import redis

import conftest


def test_memory_commands(r):
    r.set("session:1", "x" * 100)
    r.hset("user:1", mapping={f"field{i}": "v" * 20 for i in range(300)})
    small = r.memory_usage("session:1")
    big = r.memory_usage("user:1", samples=0)
    assert 100 <= small < 1000
    assert 300 * 20 < big < 300 * 400
    assert r.memory_usage("missing") is None
    stats = r.memory_stats()
    assert stats["keys.count"] == 2
    assert stats["total.allocated"] >= stats["startup.allocated"] > 0
    assert "db.0" in stats and "overhead.hashtable.main" in stats["db.0"]
    assert 0 < float(stats["dataset.percentage"]) <= 100
    assert r.memory_purge() is True
    # redis-py refuses memory_doctor() on purpose: tools send the command itself.
    assert "Sam" in r.execute_command("MEMORY", "DOCTOR")
    assert isinstance(r.execute_command("MEMORY", "MALLOC-STATS"), str)


def test_role_and_lolwut(r):
    role = r.role()
    assert role[0] == "master" and role[1] == 0 and role[2] == []
    version = r.info("server")["redis_version"]
    assert r.lolwut() == f"Redis ver. {version}\n"
    art = r.lolwut(5, 40, 4, 6)
    assert art.endswith(f"Georg Nees - schotter, plotter on paper, 1968. Redis ver. {version}\n")
    assert all(len(line) == 40 for line in art.split("\n")[:-3])


def test_debug_object_through_redis_py(protocol):
    server = conftest._start(**{"enable-debug-command": "yes"})
    try:
        r = redis.Redis(port=server.port, protocol=protocol, decode_responses=True)
        r.set("counter", 12345)
        r.rpush("queue", *range(10))
        obj = r.debug_object("counter")
        if protocol == 3:
            # redis-py parses the line only under RESP2; RESP3 hands it over as it is.
            assert obj.startswith("Value at:") and " encoding:int serializedlength:3 " in obj
        else:
            assert obj["encoding"] == "int" and obj["refcount"] == 1 and obj["serializedlength"] == 3
            assert obj["lru_seconds_idle"] >= 0
            assert r.debug_object("queue")["encoding"] == "listpack"
        try:
            r.debug_object("missing")
            raise AssertionError("DEBUG OBJECT of a missing key must fail")
        except redis.ResponseError as e:
            assert str(e) == "no such key"
        r.close()
    finally:
        server.stop()
