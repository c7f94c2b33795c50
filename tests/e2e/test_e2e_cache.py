"""Caching patterns from the seeds: cache-aside with TTL, a decorator cache with key versioning,
and a cache stampede lock (SET NX EX with a token, the others wait, release via GET + DEL)."""
import functools
import hashlib
import json
import threading
import time
import uuid

from e2e_helpers import wait_until


class RedisCache:
    """The "production-ready caching layer" of the seeds, unchanged in spirit."""

    def __init__(self, redis_client, prefix="cache", default_ttl=300):
        self.r = redis_client
        self.prefix = prefix
        self.default_ttl = default_ttl

    def _key(self, name):
        return f"{self.prefix}:{name}"

    def get(self, key):
        data = self.r.get(self._key(key))
        if data is None:
            return None
        return json.loads(data)

    def set(self, key, value, ttl=None):
        self.r.setex(self._key(key), ttl or self.default_ttl, json.dumps(value, default=str))

    def delete(self, key):
        self.r.delete(self._key(key))

    def get_or_set(self, key, factory, ttl=None):
        value = self.get(key)
        if value is not None:
            return value
        value = factory()
        self.set(key, value, ttl)
        return value

    def invalidate_pattern(self, pattern):
        keys = list(self.r.scan_iter(match=self._key(pattern), count=100))
        if keys:
            return self.r.delete(*keys)
        return 0


def test_cache_aside_miss_set_hit(r):
    db_calls = []

    def load_user(user_id):
        db_calls.append(user_id)
        return {"id": user_id, "name": f"user{user_id}", "tags": ["a", "b"], "score": 1.5}

    def get_user(user_id):
        cached = r.get(f"user:{user_id}")
        if cached:
            return json.loads(cached)
        user = load_user(user_id)
        r.setex(f"user:{user_id}", 3600, json.dumps(user))
        return user

    assert r.get("user:42") is None
    first = get_user(42)
    second = get_user(42)
    assert first == second == {"id": 42, "name": "user42", "tags": ["a", "b"], "score": 1.5}
    assert db_calls == [42]
    assert 3590 <= r.ttl("user:42") <= 3600
    assert r.exists("user:42") == 1
    # explicit invalidation on update
    assert r.delete("user:42") == 1
    get_user(42)
    assert db_calls == [42, 42]


def test_cache_aside_value_expires_after_ttl(r):
    cache = RedisCache(r, prefix="app", default_ttl=600)
    calls = []

    def expensive():
        calls.append(1)
        return {"total": 123, "items": [1, 2, 3]}

    assert cache.get_or_set("report", expensive, ttl=1) == {"total": 123, "items": [1, 2, 3]}
    assert cache.get_or_set("report", expensive, ttl=1) == {"total": 123, "items": [1, 2, 3]}
    assert len(calls) == 1
    assert r.ttl("app:report") in (0, 1)
    assert 0 < r.pttl("app:report") <= 1000
    # after the TTL the entry is gone (lazy expiry on access) and is recomputed
    assert wait_until(lambda: r.get("app:report") is None, timeout=5)
    assert r.exists("app:report") == 0
    assert r.ttl("app:report") == -2
    cache.get_or_set("report", expensive, ttl=1)
    assert len(calls) == 2


def test_cache_millisecond_ttl_with_set_px(rb):
    rb.set("short", b"v", px=150)
    assert rb.get("short") == b"v"
    assert wait_until(lambda: rb.get("short") is None, timeout=5)
    assert rb.exists("short") == 0


def test_cache_class_delete_and_pattern_invalidation(r):
    cache = RedisCache(r, prefix="app", default_ttl=600)
    for i in range(50):
        cache.set(f"user:{i}:profile", {"i": i})
        cache.set(f"product:{i}", {"p": i})
    assert r.dbsize() == 100
    cache.delete("user:0:profile")
    assert cache.get("user:0:profile") is None
    assert cache.invalidate_pattern("user:*") == 49
    assert r.dbsize() == 50
    assert sorted(r.keys("app:user:*")) == []
    assert len(r.keys("app:product:*")) == 50
    assert cache.get("product:7") == {"p": 7}


def cached(client, ttl=60, version_key="cache:version"):
    """Decorator cache in the style of the seeds: key = prefix:version:function:hash(args)."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            version = client.get(version_key) or "1"
            digest = hashlib.md5(json.dumps([args, kwargs], sort_keys=True).encode()).hexdigest()
            key = f"cache:v{version}:{func.__name__}:{digest}"
            hit = client.get(key)
            if hit is not None:
                return json.loads(hit)
            result = func(*args, **kwargs)
            client.set(key, json.dumps(result), ex=ttl)
            return result

        return wrapper

    return decorator


def test_decorator_cache_with_key_versioning(r):
    calls = []

    @cached(r, ttl=60)
    def product_catalog(category, limit=10):
        calls.append((category, limit))
        return [f"{category}-{i}" for i in range(limit)]

    assert product_catalog("books", limit=3) == ["books-0", "books-1", "books-2"]
    assert product_catalog("books", limit=3) == ["books-0", "books-1", "books-2"]
    assert product_catalog("games", limit=2) == ["games-0", "games-1"]
    assert calls == [("books", 3), ("games", 2)]
    assert len(r.keys("cache:v1:product_catalog:*")) == 2

    # bump the version: every old entry is bypassed at once, without deleting anything
    assert r.incr("cache:version") == 1  # no version key yet: treated as "1" above
    assert r.incr("cache:version") == 2
    assert product_catalog("books", limit=3) == ["books-0", "books-1", "books-2"]
    assert calls[-1] == ("books", 3) and len(calls) == 3
    assert len(r.keys("cache:v2:*")) == 1
    # the old generation is still there until its TTL; clean it explicitly
    old = r.keys("cache:v1:*")
    assert len(old) == 2
    assert r.delete(*old) == 2
    assert r.keys("cache:v1:*") == []
    for key in r.keys("cache:v2:*"):
        assert 55 <= r.ttl(key) <= 60


def test_cache_string_versioned_prefix(r):
    cache_version = "v2"
    r.set("v1:user:1", "old")
    r.setex(f"{cache_version}:user:1", 3600, json.dumps({"id": 1}))
    assert json.loads(r.get(f"{cache_version}:user:1")) == {"id": 1}
    assert r.get("v1:user:1") == "old"
    assert r.ttl("v1:user:1") == -1


def _acquire(r, key, ttl):
    token = str(uuid.uuid4())
    if r.set(key, token, nx=True, ex=ttl):
        return token
    return None


def _release(r, key, token):
    """Release by GET + DEL: only the owner deletes (the non-Lua form of the pattern)."""
    if r.get(key) == token:
        return r.delete(key)
    return 0


def test_stampede_lock_one_recomputes_others_wait(port, protocol):
    import redis

    workers = 16
    computations = []
    results = [None] * workers
    errors = []
    barrier = threading.Barrier(workers)
    pool = redis.ConnectionPool(port=port, protocol=protocol, decode_responses=True, max_connections=workers + 4)

    def worker(i):
        client = redis.Redis(connection_pool=pool)
        try:
            barrier.wait(timeout=10)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                value = client.get("stampede:value")
                if value is not None:
                    results[i] = value
                    return
                token = _acquire(client, "stampede:lock", ttl=10)
                if token is not None:
                    try:
                        # double-check after taking the lock: someone may have just filled it
                        value = client.get("stampede:value")
                        if value is None:
                            computations.append(i)
                            time.sleep(0.2)  # the expensive recomputation
                            value = "computed"
                            client.setex("stampede:value", 60, value)
                        results[i] = value
                        return
                    finally:
                        assert _release(client, "stampede:lock", token) == 1
                time.sleep(0.02)  # someone else is recomputing: poll
            errors.append(f"worker {i} timed out")
        except Exception as e:  # reported below, a thread cannot fail the test itself
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    pool.disconnect()
    assert errors == []
    assert len(computations) == 1
    assert results == ["computed"] * workers
    check = redis.Redis(port=port, protocol=protocol, decode_responses=True)
    assert check.exists("stampede:lock") == 0
    assert 55 <= check.ttl("stampede:value") <= 60
    check.close()


def test_lock_semantics_nx_token_and_expiry(r):
    token = _acquire(r, "lock:report", ttl=1)
    assert token is not None
    assert _acquire(r, "lock:report", ttl=1) is None  # held
    assert r.ttl("lock:report") in (0, 1)
    # a stranger's token does not release it
    assert _release(r, "lock:report", "not-my-token") == 0
    assert r.get("lock:report") == token
    # a crashed holder never releases: the lock expires by itself
    assert wait_until(lambda: r.exists("lock:report") == 0, timeout=5)
    token2 = _acquire(r, "lock:report", ttl=10)
    assert token2 is not None and token2 != token
    assert _release(r, "lock:report", token) == 0  # the old owner cannot free the new lock
    assert _release(r, "lock:report", token2) == 1
    assert r.exists("lock:report") == 0


def test_lock_set_px_and_xx_and_get_option(r):
    assert r.set("lock:px", "a", nx=True, px=5000) is True
    assert r.set("lock:px", "b", nx=True, px=5000) is None
    assert 4000 < r.pttl("lock:px") <= 5000
    # XX only overwrites existing keys; SET without KEEPTTL clears the TTL
    assert r.set("lock:missing", "x", xx=True) is None
    assert r.exists("lock:missing") == 0
    assert r.set("lock:px", "c", xx=True) is True
    assert r.ttl("lock:px") == -1
    assert r.set("lock:px", "d", xx=True, ex=100, get=True) == "c"
    assert r.get("lock:px") == "d"
    assert 95 <= r.ttl("lock:px") <= 100
    assert r.set("lock:px", "e", keepttl=True) is True
    assert 95 <= r.ttl("lock:px") <= 100
