"""The built-in Prometheus endpoint (beyond Redis, so cinnabar alone; its values are checked
against the server's own INFO): `metrics-port` opens GET /metrics in the text format 0.0.4,
parsed here with prometheus_client's parser, under redis_exporter's metric names, with a
latency histogram per command. Off by default and hidden from CONFIG GET *.
"""
import socket
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import support
from harness import info_fields
from resp import RawConnection, parse


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value} and {family name: type}."""
    values, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            values[(s.name, frozenset(s.labels.items()))] = s.value
    return values, types



@pytest.fixture
def server():
    port = support.free_port()
    s = support.start_cinnabar(**{"metrics-port": port})
    s.metrics_port = port
    yield s
    s.stop()


def test_metrics_match_info(server):
    c = RawConnection(server.port)
    try:
        for i in range(50):
            assert c.command("SET", f"k{i}", "v") == b"+OK\r\n"
        c.command("SET", "ttl", "v", "EX", "100")
        c.command("SELECT", "3")
        c.command("SET", "other", "v")
        c.command("SELECT", "0")
        for _ in range(7):
            c.command("GET", "k1")
        for _ in range(3):
            c.command("GET", "missing")
        c.command("INCR", "k1")  # an error reply: failed call, errorstats
        c.command("CONFIG", "GET", "maxmemory")
        status, ctype, text = scrape(server.metrics_port)
        fields = info_fields(c, "everything")
        values, types = samples(text)
    finally:
        c.close()
    assert status == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8"
    v = lambda name, **labels: values[(name, frozenset(labels.items()))]  # noqa: E731
    assert v("redis_up") == 1
    assert types["redis_commands_processed"] == "counter" and types["redis_db_keys"] == "gauge"
    # The same sources as INFO: fields INFO itself does not move.
    for metric, field in [("redis_connected_clients", "connected_clients"), ("redis_blocked_clients", "blocked_clients"),
                          ("redis_memory_max_bytes", "maxmemory"), ("redis_aof_enabled", "aof_enabled"),
                          ("redis_connected_slaves", "connected_slaves"),
                          ("redis_rdb_changes_since_last_save", "rdb_changes_since_last_save"),
                          ("redis_rdb_last_save_timestamp_seconds", "rdb_last_save_time"),
                          ("redis_keyspace_hits_total", "keyspace_hits"), ("redis_keyspace_misses_total", "keyspace_misses"),
                          ("redis_expired_keys_total", "expired_keys"), ("redis_evicted_keys_total", "evicted_keys"),
                          ("redis_connections_received_total", "total_connections_received")]:
        assert v(metric) == float(fields[field]), metric
    # The INFO after the scrape does not count itself (as in Redis, a command counts once it
    # has run).
    assert v("redis_commands_processed_total") == float(fields["total_commands_processed"])
    assert v("redis_keyspace_hits_total") == 7 and v("redis_keyspace_misses_total") == 3
    assert 0 < v("redis_memory_used_bytes") and 0 < v("redis_uptime_in_seconds") + 1
    assert v("redis_db_keys", db="db0") == 51 and v("redis_db_keys_expiring", db="db0") == 1
    assert v("redis_db_keys", db="db3") == 1 and v("redis_db_keys", db="db1") == 0
    # Per command, as INFO commandstats.
    for cmd in ("set", "get", "incr", "select", "config|get"):
        row = dict(kv.split("=") for kv in fields[f"cmdstat_{cmd}"].split(","))
        assert v("redis_commands_total", cmd=cmd) == int(row["calls"]), cmd
        assert v("redis_commands_duration_seconds_total", cmd=cmd) == pytest.approx(int(row["usec"]) / 1e6), cmd
        assert v("redis_commands_failed_calls_total", cmd=cmd) == int(row["failed_calls"]), cmd
        assert v("redis_commands_rejected_calls_total", cmd=cmd) == int(row["rejected_calls"]), cmd
    assert v("redis_errors_total", err="ERR") == int(fields["errorstat_ERR"].split("=")[1])
    # The histogram: cumulative power-of-two microsecond buckets, +Inf and _count = calls.
    assert types["redis_commands_latencies_usec"] == "histogram"
    buckets = sorted((float(dict(k)["le"]), val) for (name, k), val in values.items()
                     if name == "redis_commands_latencies_usec_bucket" and dict(k)["cmd"] == "set")
    assert [b for b, _ in buckets][:3] == [1.0, 2.0, 4.0] and buckets[-1][0] == float("inf")
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    assert buckets[-1][1] == v("redis_commands_latencies_usec_count", cmd="set") == 52
    assert v("redis_commands_latencies_usec_sum", cmd="set") == pytest.approx(v("redis_commands_duration_seconds_total", cmd="set") * 1e6)
    info_labels = next(dict(k) for (name, k) in values if name == "redis_instance_info")
    assert info_labels["redis_version"] == fields["redis_version"] and info_labels["role"] == "master"


def test_metrics_after_resetstat_and_other_paths(server):
    c = RawConnection(server.port)
    try:
        c.command("SET", "a", "1")
        assert c.command("CONFIG", "RESETSTAT") == b"+OK\r\n"
        values, _ = samples(scrape(server.metrics_port)[2])
        assert ("redis_commands_total", frozenset({("cmd", "set")})) not in values
        assert values[("redis_keyspace_hits_total", frozenset())] == 0
        assert values[("redis_db_keys", frozenset({("db", "db0")}))] == 1
    finally:
        c.close()
    for path in ("/", "/metricsx"):
        with pytest.raises(urllib.error.HTTPError) as e:
            scrape(server.metrics_port, path)
        assert e.value.code == 404
    req = urllib.request.Request(f"http://127.0.0.1:{server.metrics_port}/metrics", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 405
    # A client that sends nothing does not keep others out for long, nor a burst of scrapes.
    idle = socket.create_connection(("127.0.0.1", server.metrics_port))
    try:
        for _ in range(20):
            assert scrape(server.metrics_port)[0] == 200
    finally:
        idle.close()
    assert server.alive()


def test_metrics_off_by_default_and_hidden():
    s = support.start_cinnabar()
    try:
        c = RawConnection(s.port)
        try:
            kids = parse(c.command("CONFIG", "GET", "*")).children
            names = {k.value for k in kids[::2]}
            assert b"metrics-port" not in names and b"metrics-bind" not in names
            assert c.command("CONFIG", "GET", "metrics-port") == b"*2\r\n$12\r\nmetrics-port\r\n$1\r\n0\r\n"
            assert c.command("CONFIG", "GET", "metrics-bind") == b"*2\r\n$12\r\nmetrics-bind\r\n$9\r\n127.0.0.1\r\n"
            for _ in range(2):
                assert c.command("CONFIG", "SET", "metrics-port", "9999") == (
                    b"-ERR CONFIG SET failed (possibly related to argument 'metrics-port') - can't set immutable config\r\n")
        finally:
            c.close()
    finally:
        s.stop()


def test_metrics_port_in_use_stops_the_start_up(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        p = subprocess.run([support.cinnabar_binary(), "--port", str(support.free_port()), "--bind", "127.0.0.1",
                            "--dir", str(tmp_path), "--save", "", "--metrics-port", str(busy.getsockname()[1])],
                           capture_output=True, timeout=20)
        assert p.returncode == 1
        assert b"Could not create the metrics listening socket" in p.stdout + p.stderr
    finally:
        busy.close()
