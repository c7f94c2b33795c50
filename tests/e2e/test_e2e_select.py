"""Several logical databases through redis.Redis(db=N): isolation, DBSIZE, FLUSHDB, INFO keyspace."""
import pytest
import redis


def test_databases_are_isolated(port, protocol):
    clients = [redis.Redis(port=port, protocol=protocol, db=n, decode_responses=True) for n in range(16)]
    try:
        for n, c in enumerate(clients):
            c.set("shared-name", f"db{n}")
            for i in range(n):
                c.set(f"k{i}", i)
        for n, c in enumerate(clients):
            assert c.get("shared-name") == f"db{n}"
            assert c.dbsize() == n + 1
            assert c.exists(f"k{n}") == 0
        ks = clients[0].info("keyspace")
        for n in range(16):
            assert ks[f"db{n}"]["keys"] == n + 1
        # FLUSHDB empties only its own database
        assert clients[3].flushdb() is True
        assert clients[3].dbsize() == 0
        assert clients[4].dbsize() == 5
        assert "db3" not in clients[0].info("keyspace")
    finally:
        for c in clients:
            c.close()


def test_select_is_per_connection_and_expiry_per_db(port, protocol):
    a = redis.Redis(port=port, protocol=protocol, db=1, decode_responses=True)
    b = redis.Redis(port=port, protocol=protocol, db=2, decode_responses=True)
    try:
        a.setex("session", 100, "in-db1")
        b.set("session", "in-db2")
        assert 99 <= a.ttl("session") <= 100
        assert b.ttl("session") == -1
        assert a.keys("*") == ["session"]
        assert b.keys("*") == ["session"]
        a.delete("session")
        assert b.get("session") == "in-db2"
        assert redis.Redis(port=port, protocol=protocol, decode_responses=True).get("session") is None
    finally:
        a.close()
        b.close()


def test_select_out_of_range(port, protocol):
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        redis.Redis(port=port, protocol=protocol, db=16).ping()


def test_flushall_clears_every_db(port, protocol):
    clients = [redis.Redis(port=port, protocol=protocol, db=n) for n in (0, 5, 15)]
    for c in clients:
        c.set("x", 1)
    assert clients[0].flushall() is True
    assert [c.dbsize() for c in clients] == [0, 0, 0]
    for c in clients:
        c.close()


def test_move_and_swapdb(port, protocol):
    a = redis.Redis(port=port, protocol=protocol, db=0, decode_responses=True)
    b = redis.Redis(port=port, protocol=protocol, db=1, decode_responses=True)
    try:
        a.set("m", "v", ex=100)
        assert a.move("m", 1) is True
        assert a.exists("m") == 0
        assert b.get("m") == "v"
        assert 95 <= b.ttl("m") <= 100
        a.set("m", "other")
        assert b.move("m", 0) is False  # already exists in the target db
        assert a.swapdb(0, 1) is True
        assert a.get("m") == "v"
        assert b.get("m") == "other"
    finally:
        a.close()
        b.close()
