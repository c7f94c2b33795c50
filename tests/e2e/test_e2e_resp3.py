"""redis-py over RESP3 (protocol=3): HELLO 3 and the basic string, key and expiry commands."""
import asyncio

import redis
import redis.asyncio as aioredis


def test_resp3_basics(port):
    r = redis.Redis(port=port, protocol=3, decode_responses=True)
    try:
        assert r.ping() is True
        hello = r.execute_command("HELLO", "3")
        assert hello["proto"] == 3
        assert hello["server"] == "redis"
        assert hello["version"].startswith("7.")
        assert r.set("k", "v") is True
        assert r.get("k") == "v"
        assert r.get("missing") is None
        assert r.incr("n") == 1
        assert r.incrbyfloat("f", 1.5) == 1.5
        assert r.mset({"a": "1", "b": "2"}) is True
        assert r.mget(["a", "b", "missing"]) == ["1", "2", None]
        assert r.setex("t", 100, "x") is True
        assert 99 <= r.ttl("t") <= 100
        assert r.exists("a", "b", "missing") == 2
        assert sorted(r.keys("*")) == ["a", "b", "f", "k", "n", "t"]
        assert sorted(r.scan_iter(match="[ab]")) == ["a", "b"]
        assert r.type("k") == "string"
        assert r.dbsize() == 6
        assert r.delete("a", "b", "missing") == 2
        assert r.echo("hi") == "hi"
        r.client_setname("resp3-client")
        assert r.client_getname() == "resp3-client"
        assert any(c["name"] == "resp3-client" for c in r.client_list())
        info = r.info()
        assert info["redis_version"].startswith("7.")
        assert "used_memory" in info
        assert r.flushdb() is True
        assert r.dbsize() == 0
    finally:
        r.close()


def test_resp3_pipeline_and_errors(port):
    r = redis.Redis(port=port, protocol=3)
    try:
        r.set("s", "text")
        pipe = r.pipeline(transaction=False)
        for i in range(1000):
            pipe.set(f"k{i}", i)
            pipe.get(f"k{i}")
        pipe.incr("s")
        replies = pipe.execute(raise_on_error=False)
        assert replies[0:2000:2] == [True] * 1000
        assert replies[1:2000:2] == [str(i).encode() for i in range(1000)]
        assert isinstance(replies[2000], redis.ResponseError)
    finally:
        r.close()


def test_resp3_asyncio(port):
    async def main():
        r = aioredis.Redis(port=port, protocol=3, decode_responses=True)
        try:
            assert await r.ping() is True
            await r.set("x", "1", ex=50)
            assert await r.get("x") == "1"
            assert 45 <= await r.ttl("x") <= 50
            assert await asyncio.gather(*(r.incr("c") for _ in range(100)))
            assert await r.get("c") == "100"
        finally:
            await r.aclose()

    asyncio.run(main())
