"""The seeds' cache at its budget: "maxmemory ..., maxmemory-policy allkeys-lru". A stream of
one-off pages fills the cache past its limit while a few hot pages are read all the time
(cache-aside: read, and set on a miss): memory stays at the limit, the one-off pages are
evicted, the hot ones stay, and the monitoring figures (evicted_keys, OBJECT IDLETIME) say so.
"""
import json
import time

PAYLOAD = {"title": "x" * 120, "tags": ["a", "b", "c"]}


def used_memory(r):
    return int(r.info("memory")["used_memory"])


def get_or_set(r, key):
    """Cache-aside: True on a hit; a miss stores the page again."""
    if r.get(key) is not None:
        return True
    r.set(key, json.dumps(PAYLOAD))
    return False


def test_lru_cache_keeps_hot_pages_under_its_budget(r):
    limit = used_memory(r) + 3_000_000
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory", limit)
    try:
        hot = [f"page:hot:{i}" for i in range(200)]
        for key in hot:
            get_or_set(r, key)
        # The LRU clock counts seconds: the one-off pages written from now on are older
        # than the hot pages' next reads.
        time.sleep(1.1)
        hot_hits, hot_reads, peak = 0, 0, 0
        for batch in range(12):
            pipe = r.pipeline(transaction=False)
            for i in range(2000):
                pipe.set(f"page:once:{batch}:{i}", json.dumps(PAYLOAD))
            pipe.execute()
            results = [get_or_set(r, key) for key in hot]
            if batch >= 2:
                hot_hits += sum(results)
                hot_reads += len(results)
            peak = max(peak, used_memory(r))
            time.sleep(0.4)
        stats = r.info("stats")
        assert stats["evicted_keys"] > 10000
        assert hot_hits >= 0.95 * hot_reads, (hot_hits, hot_reads)
        # Memory at the limit, give or take a batch of writes in flight.
        assert peak <= limit + 300_000, (peak, limit)
        assert r.dbsize() < 24000
        assert r.object("idletime", hot[0]) <= 1
    finally:
        r.config_set("maxmemory", 0)
        r.config_set("maxmemory-policy", "noeviction")
