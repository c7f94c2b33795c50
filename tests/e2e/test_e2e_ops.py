"""Operations and connection commands through redis-py: CLIENT SETNAME/LIST, INFO, DBSIZE,
FLUSHDB, SCAN/KEYS with patterns, plus the everyday string commands."""
import pytest
import redis


def test_connection_commands(r):
    assert r.ping() is True
    assert r.echo("hello") == "hello"
    seconds, micros = r.time()
    assert seconds > 1_600_000_000 and 0 <= micros < 1_000_000
    r.client_setname("web-worker-1")
    assert r.client_getname() == "web-worker-1"
    my_id = r.client_id()
    assert isinstance(my_id, int) and my_id > 0
    entries = r.client_list()
    mine = [e for e in entries if e["name"] == "web-worker-1"]
    assert len(mine) == 1
    assert int(mine[0]["id"]) == my_id
    assert mine[0]["db"] == "0"
    assert mine[0]["addr"].startswith("127.0.0.1:")
    assert "cmd" in mine[0]
    info = r.client_info()
    assert info["name"] == "web-worker-1"


def test_client_list_sees_other_connections(port, protocol):
    a = redis.Redis(port=port, protocol=protocol, decode_responses=True, client_name="api-server")
    b = redis.Redis(port=port, protocol=protocol, decode_responses=True, db=3, client_name="worker")
    try:
        a.ping()
        b.ping()
        entries = {e["name"]: e for e in a.client_list()}
        assert "api-server" in entries and "worker" in entries
        assert entries["worker"]["db"] == "3"
        with pytest.raises(redis.ResponseError):
            a.client_setname("has space")
    finally:
        a.close()
        b.close()


def test_info_sections(r):
    r.set("a", "1")
    info = r.info()
    for field in ("redis_version", "redis_mode", "tcp_port", "uptime_in_seconds",
                  "connected_clients", "used_memory", "used_memory_human",
                  "total_commands_processed", "keyspace_hits", "keyspace_misses", "db0"):
        assert field in info, field
    assert info["redis_version"].startswith("7.")
    assert info["redis_mode"] == "standalone"
    assert isinstance(info["used_memory"], int) and info["used_memory"] > 0
    assert info["db0"]["keys"] == 1
    memory = r.info("memory")
    assert "used_memory" in memory and "maxmemory" in memory
    assert "redis_version" not in memory
    stats = r.info("stats")
    assert "total_connections_received" in stats
    before = stats["keyspace_hits"], stats["keyspace_misses"]
    r.get("a")
    r.get("missing")
    stats = r.info("stats")
    assert (stats["keyspace_hits"], stats["keyspace_misses"]) == (before[0] + 1, before[1] + 1)
    server = r.info("server")
    assert server["tcp_port"] == r.connection_pool.connection_kwargs["port"]
    assert "connected_clients" in r.info("clients")
    everything = r.info("all")
    assert "redis_version" in everything and "used_memory" in everything

def test_info_memory_peak(r):
    """used_memory_peak keeps the high-water mark after the data is gone, with
    used_memory_peak_perc (used / peak, "%.2f%%"), and CONFIG RESETSTAT starts it over."""
    def memory():
        m = r.info("memory")
        assert m["used_memory_peak"] >= m["used_memory"]
        assert m["used_memory_peak_perc"] == f"{m['used_memory'] * 100 / m['used_memory_peak']:.2f}%"
        return m

    pipe = r.pipeline(transaction=False)
    for i in range(50000):
        pipe.set(f"peak:{i}", "x" * 100)
    pipe.execute()
    full = memory()
    r.flushall(asynchronous=False)
    after = memory()
    assert after["used_memory"] < full["used_memory"] - 5_000_000
    assert after["used_memory_peak"] >= full["used_memory"]
    assert float(after["used_memory_peak_perc"].rstrip("%")) < 50
    assert r.config_resetstat()
    reset = memory()
    assert reset["used_memory_peak"] < full["used_memory"] - 5_000_000



def test_info_instantaneous_rates(port, protocol):
    """instantaneous_ops_per_sec and instantaneous_input/output_kbps follow the load (Redis
    samples every 100 ms and averages the last 16 samples), fall to 0 once the load stops,
    and total_reads/writes_processed count the socket reads and writes."""
    import threading
    import time

    stop = threading.Event()
    done = []

    def load():
        c = redis.Redis(port=port, protocol=protocol)
        n = 0
        started = time.monotonic()
        while not stop.is_set():
            c.incr("rate:counter")
            n += 1
        done.append(n / (time.monotonic() - started))
        c.close()

    r = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    r.config_resetstat()
    t = threading.Thread(target=load)
    t.start()
    time.sleep(2.0)
    busy = r.info("stats")
    stop.set()
    t.join()
    rate = done[0]
    assert rate / 3 < busy["instantaneous_ops_per_sec"] < rate * 3, (busy["instantaneous_ops_per_sec"], rate)
    assert busy["instantaneous_input_kbps"] > 0 and busy["instantaneous_output_kbps"] > 0
    assert busy["total_reads_processed"] >= busy["total_commands_processed"] - 2
    assert busy["total_writes_processed"] >= busy["total_commands_processed"] - 2
    time.sleep(2.0)
    idle = r.info("stats")
    assert idle["instantaneous_ops_per_sec"] == 0
    assert idle["instantaneous_input_kbps"] == 0 and idle["instantaneous_output_kbps"] == 0
    r.config_resetstat()
    assert r.info("stats")["total_reads_processed"] <= 3
    r.close()


def test_dbsize_flushdb_keys_scan(r):
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.set(f"user:{i}", i)
        pipe.set(f"session:{i}", i, ex=1000)
    pipe.set("user:special[1]", "x")
    pipe.set("user:?", "q")
    pipe.execute()
    assert r.dbsize() == 602
    assert len(r.keys("user:*")) == 302
    assert sorted(r.keys("user:1?")) == [f"user:{i}" for i in range(10, 20)]
    assert sorted(r.keys("user:2[0-4]")) == ["user:20", "user:21", "user:22", "user:23", "user:24"]
    assert r.keys("user:special\\[1\\]") == ["user:special[1]"]
    assert r.keys("user:\\?") == ["user:?"]
    assert r.keys("nomatch*") == []
    scanned = list(r.scan_iter(match="session:*", count=50))
    assert len(scanned) == len(set(scanned)) == 300
    assert set(scanned) == {f"session:{i}" for i in range(300)}
    assert set(r.scan_iter(match="user:1?")) == {f"user:{i}" for i in range(10, 20)}
    assert len(set(r.scan_iter())) == 602
    # a manual cursor walk terminates with cursor 0
    cursor, seen = 0, set()
    for _ in range(10_000):
        cursor, batch = r.scan(cursor=cursor, match="user:*", count=100)
        seen.update(batch)
        if cursor == 0:
            break
    assert cursor == 0 and len(seen) == 302
    assert set(r.scan_iter(_type="string", match="user:2?")) == {f"user:{i}" for i in range(20, 30)}
    assert r.flushdb() is True
    assert r.dbsize() == 0
    assert r.keys("*") == []
    assert list(r.scan_iter()) == []


def test_string_commands(r):
    assert r.set("s", "hello") is True
    assert r.append("s", " world") == 11
    assert r.strlen("s") == 11
    assert r.getrange("s", 0, 4) == "hello"
    assert r.getrange("s", -5, -1) == "world"
    assert r.setrange("s", 6, "redis") == 11
    assert r.get("s") == "hello redis"
    assert r.getset("s", "new") == "hello redis"
    assert r.mset({"a": 1, "b": 2}) is True
    assert r.msetnx({"b": 3, "c": 4}) is False
    assert r.get("c") is None
    assert r.msetnx({"c": 4, "d": 5}) is True
    assert r.mget("a", "b", "c", "d", "nope") == ["1", "2", "4", "5", None]
    assert r.setnx("a", 9) is False
    assert r.setnx("e", 9) is True
    assert r.incr("n") == 1
    assert r.incrby("n", 10) == 11
    assert r.decr("n") == 10
    assert r.decrby("n", 20) == -10
    assert r.incrbyfloat("fl", 2.5) == 2.5
    assert r.incrbyfloat("fl", -0.25) == 2.25
    assert r.get("fl") == "2.25"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("s")
    r.set("big", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="overflow"):
        r.incr("big")
    assert r.type("s") == "string"
    assert r.type("nothing") == "none"
    assert r.exists("a", "a", "nothing") == 2
    assert r.delete("a", "b", "nothing") == 2
    assert r.unlink("c", "d") == 2
    assert r.touch("e", "nothing") == 1
    assert r.rename("e", "e2") is True
    assert r.renamenx("e2", "s") is False
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.rename("nothing", "x")
    assert r.randomkey() in set(r.keys("*"))
    assert r.copy("s", "s-copy") is True
    assert r.get("s-copy") == "new"
    assert r.lcs("s", "s-copy") == "new"
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCHCOMMAND", "x")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.execute_command("GET")


def test_unicode_values(r):
    r.set("greeting", "ciao pycon 🇮🇹 — ünïcödé")
    assert r.get("greeting") == "ciao pycon 🇮🇹 — ünïcödé"
    assert r.strlen("greeting") == len("ciao pycon 🇮🇹 — ünïcödé".encode())
    r.set("clé:日本", "値")
    assert r.keys("clé:*") == ["clé:日本"]
