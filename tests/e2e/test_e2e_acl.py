"""ACL users per service through redis-py, as the production checklist asks ("ACLs to limit
what each service can do"): an admin creates a queue worker that may use the queues but not
FLUSHALL or other dangerous commands, and a cache client limited to `cache:*`; each service
connects with its username and password (redis-py 8: HELLO 3 AUTH with RESP3, AUTH with
RESP2, then CLIENT SETINFO), works, and gets NoPermissionError where it must. Sync and
asyncio clients, pipelines and transactions, ACL LOG / DRYRUN / WHOAMI / GETUSER / DELUSER
through redis-py's own methods."""
import asyncio

import pytest
import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError


def make_users(admin):
    assert admin.acl_setuser(
        "worker", enabled=True, passwords=["+worker-pw"], keys=["queue:*", "job:*"],
        categories=["+@all", "-@dangerous"], reset=True)
    assert admin.acl_setuser(
        "cache", enabled=True, passwords=["+cache-pw"], keys=["cache:*"],
        categories=["+@read", "+@write", "+@connection"], commands=["-keys", "-flushdb", "+acl|whoami"], reset=True)


@pytest.fixture
def admin(own_server, protocol):
    client = redis.Redis(port=own_server.port, protocol=protocol, decode_responses=True)
    make_users(client)
    yield client
    client.close()


def service(admin, protocol, name, password):
    port = admin.connection_pool.connection_kwargs["port"]
    # No retries: a refused or closed connection is the outcome under test.
    return redis.Redis(port=port, protocol=protocol, decode_responses=True, username=name, password=password,
                       retry=Retry(NoBackoff(), 0))


def test_queue_worker_cannot_flushall(admin, protocol):
    w = service(admin, protocol, "worker", "worker-pw")
    try:
        assert w.acl_whoami() == "worker"
        w.lpush("queue:emails", "job-1", "job-2")
        assert list(w.brpop(["queue:emails"], timeout=1)) == ["queue:emails", "job-1"]
        w.hset("job:1", mapping={"state": "done", "tries": "1"})
        assert w.hgetall("job:1") == {"state": "done", "tries": "1"}
        for forbidden in (w.flushall, w.flushdb, lambda: w.config_set("maxmemory", "1")):
            with pytest.raises(NoPermissionError, match="has no permissions to run"):
                forbidden()
            with pytest.raises(NoPermissionError):
                forbidden()
        with pytest.raises(NoPermissionError, match="No permissions to access a key"):
            w.get("session:abc")
        # The data is still there: nothing was flushed.
        assert admin.llen("queue:emails") == 1
        # A pipeline and a transaction: the refused command fails alone / the whole EXEC.
        p = w.pipeline(transaction=False)
        p.lpush("queue:emails", "job-3").get("other").llen("queue:emails")
        res = p.execute(raise_on_error=False)
        assert res[0] == 2 and isinstance(res[1], NoPermissionError) and res[2] == 2
        with pytest.raises(ResponseError):
            with w.pipeline() as t:
                t.lpush("queue:emails", "job-4").flushall().execute()
        assert admin.llen("queue:emails") == 2
    finally:
        w.close()


def test_cache_client_limited_to_its_prefix(admin, protocol):
    c = service(admin, protocol, "cache", "cache-pw")
    try:
        assert c.set("cache:user:1", "alice", ex=60)
        assert c.get("cache:user:1") == "alice"
        assert c.ttl("cache:user:1") > 0
        assert c.mget("cache:user:1", "cache:missing") == ["alice", None]
        with pytest.raises(NoPermissionError):
            c.set("session:1", "x")
        with pytest.raises(NoPermissionError):
            c.mget("cache:user:1", "queue:emails")
        with pytest.raises(NoPermissionError):
            c.keys("*")
        # Scripts run as the caller: a key outside the prefix is refused inside them too.
        with pytest.raises(NoPermissionError):
            c.eval("return redis.call('get', KEYS[1])", 1, "session:1")
    finally:
        c.close()
    assert admin.exists("session:1") == 0
    # The refusals are in ACL LOG, newest first, with Redis's fields.
    log = admin.acl_log(count=10)
    assert log and log[0]["username"] == "cache" and log[0]["reason"] in ("command", "key")
    assert {e["object"] for e in log} >= {"session:1", "keys"}
    assert admin.acl_dryrun("cache", "get", "cache:x") == "OK"
    assert "no permissions" in admin.acl_dryrun("cache", "get", "other")


def test_wrong_password_and_deleted_user(admin, protocol):
    bad = service(admin, protocol, "worker", "nope")
    with pytest.raises(AuthenticationError):
        bad.ping()
    with pytest.raises(AuthenticationError):
        bad.ping()
    bad.close()
    w = service(admin, protocol, "worker", "worker-pw")
    assert w.ping()
    assert admin.acl_deluser("worker") == 1
    with pytest.raises(redis.ConnectionError):
        w.execute_command("PING")
    w.close()
    # The connection cannot come back as a deleted user.
    with pytest.raises(AuthenticationError):
        service(admin, protocol, "worker", "worker-pw").ping()
    users = admin.acl_users()
    assert "worker" not in users and "cache" in users
    getuser = admin.acl_getuser("cache")
    assert "on" in getuser["flags"] and getuser["keys"] in (["~cache:*"], "~cache:*")


def test_asyncio_service(admin, protocol):
    port = admin.connection_pool.connection_kwargs["port"]

    async def run():
        c = aioredis.Redis(port=port, protocol=protocol, decode_responses=True, username="cache", password="cache-pw")
        try:
            await c.set("cache:a", "1")
            assert await c.incr("cache:a") == 2
            with pytest.raises(NoPermissionError):
                await c.set("x", "1")
            assert await c.acl_whoami() == "cache"
        finally:
            await c.aclose()

    asyncio.run(run())
