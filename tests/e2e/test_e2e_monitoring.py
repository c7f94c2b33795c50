"""The operator's view through redis-py: the slow log, the latency monitor and the
per-command latency percentiles, as a monitoring script reads them."""
import redis


def text(v):
    # (redis-py leaves SLOWLOG GET's fields as bytes even with decode_responses.)
    return v.decode() if isinstance(v, bytes) else v


def test_slowlog_through_redis_py(start_server, protocol):
    srv = start_server(**{"slowlog-log-slower-than": "0", "slowlog-max-len": "5"})
    try:
        r = redis.Redis(port=srv.port, protocol=protocol, decode_responses=True)
        r.slowlog_reset()
        r.client_setname("worker-7")
        r.set("k", "v" * 300)
        r.rpush("l", *range(50))
        entries = r.slowlog_get(2)
        assert [text(e["command"])[:5] for e in entries] == ["RPUSH", "SET k"]
        rpush, set_ = entries
        assert text(rpush["command"]).endswith("... (21 more arguments)")
        assert text(set_["command"]).endswith("... (172 more bytes)")
        assert rpush["id"] == set_["id"] + 1
        assert text(rpush["client_name"]) == "worker-7"
        assert text(rpush["client_address"]).startswith("127.0.0.1:")
        assert rpush["duration"] >= 0 and rpush["start_time"] > 1_600_000_000
        assert r.slowlog_len() == 5  # slowlog-max-len
        assert len(r.slowlog_get(-1)) == 5
        r.config_set("slowlog-log-slower-than", "-1")
        before = r.slowlog_len()
        r.set("k", "v")
        assert r.slowlog_len() == before
        r.close()
    finally:
        srv.stop()


def test_latency_monitor_and_percentiles(start_server, protocol):
    srv = start_server(**{"enable-debug-command": "yes", "latency-monitor-threshold": "50"})
    try:
        r = redis.Redis(port=srv.port, protocol=protocol, decode_responses=True)
        assert r.latency_latest() == []
        r.execute_command("DEBUG", "SLEEP", "0.1")
        latest = r.latency_latest()
        assert len(latest) == 1 and latest[0][0] == "command"
        assert 100 <= int(latest[0][2]) < 1000
        history = r.latency_history("command")
        assert len(history) == 1 and int(history[0][1]) >= 100
        doctor = r.execute_command("LATENCY", "DOCTOR")
        assert "1. command: 1 latency spikes" in str(doctor)
        for _ in range(100):
            r.get("x")
        stats = r.info("latencystats")
        get = stats["latency_percentiles_usec_get"]
        assert set(get) == {"p50", "p99", "p99.9"}
        assert 0 < get["p50"] <= get["p99"] <= get["p99.9"] < 100_000
        assert stats["latency_percentiles_usec_debug"]["p50"] > 99_000
        assert r.latency_reset() == 1
        assert r.latency_latest() == []
        r.close()
    finally:
        srv.stop()
