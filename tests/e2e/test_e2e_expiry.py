"""Expiry management: EXPIRE EXPIREAT TTL PTTL PERSIST SETEX PSETEX (and the SET / GETEX
options), with keys that actually vanish."""
import datetime
import time

import pytest
import redis

from e2e_helpers import wait_until


def test_ttl_of_missing_and_persistent_keys(r):
    assert r.ttl("nope") == -2
    assert r.pttl("nope") == -2
    r.set("plain", "v")
    assert r.ttl("plain") == -1
    assert r.pttl("plain") == -1
    assert r.expire("nope", 10) is False
    assert r.persist("nope") is False
    assert r.persist("plain") is False


def test_expire_ttl_pttl_persist(r):
    r.set("k", "v")
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 98000 < r.pttl("k") <= 100000
    assert r.pexpire("k", 50000) is True
    assert 49 <= r.ttl("k") <= 50
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.get("k") == "v"
    # timedelta arguments, as applications pass them
    assert r.expire("k", datetime.timedelta(minutes=5)) is True
    assert 295 <= r.ttl("k") <= 300
    assert r.pexpire("k", datetime.timedelta(seconds=7)) is True
    assert 6 <= r.ttl("k") <= 7


def test_expire_options_nx_xx_gt_lt(r):
    r.set("k", "v")
    assert r.expire("k", 100, xx=True) is False  # no TTL yet
    assert r.expire("k", 100, nx=True) is True
    assert r.expire("k", 200, nx=True) is False
    assert r.expire("k", 50, gt=True) is False
    assert r.expire("k", 200, gt=True) is True
    assert r.expire("k", 300, lt=True) is False
    assert r.expire("k", 150, lt=True) is True
    assert 145 <= r.ttl("k") <= 150
    with pytest.raises(redis.ResponseError):
        r.expire("k", 10, nx=True, xx=True)


def test_expireat_and_pexpireat(r):
    r.set("a", "1")
    r.set("b", "2")
    now = int(time.time())
    assert r.expireat("a", now + 100) is True
    assert 98 <= r.ttl("a") <= 100
    assert r.pexpireat("b", (now + 200) * 1000) is True
    assert 198 <= r.ttl("b") <= 200
    # datetime arguments
    when = datetime.datetime.now() + datetime.timedelta(seconds=60)
    assert r.expireat("a", when) is True
    assert 58 <= r.ttl("a") <= 60
    # EXPIRETIME / PEXPIRETIME (Redis 7)
    assert r.expiretime("b") == now + 200
    assert r.pexpiretime("b") == (now + 200) * 1000
    assert r.expiretime("nope") == -2
    r.set("c", "3")
    assert r.expiretime("c") == -1


def test_expire_in_the_past_deletes(r):
    r.set("gone", "v")
    assert r.expireat("gone", int(time.time()) - 10) is True
    assert r.exists("gone") == 0
    r.set("gone2", "v")
    assert r.expire("gone2", -1) is True
    assert r.get("gone2") is None
    r.set("gone3", "v")
    assert r.pexpire("gone3", 0) is True
    assert r.exists("gone3") == 0


def test_setex_psetex(r):
    assert r.setex("s", 100, "v") is True
    assert 99 <= r.ttl("s") <= 100
    assert r.psetex("p", 100000, "v") is True
    assert 99000 < r.pttl("p") <= 100000
    assert r.setex("s2", datetime.timedelta(seconds=30), "v") is True
    assert 29 <= r.ttl("s2") <= 30
    with pytest.raises(redis.ResponseError, match="invalid expire time"):
        r.setex("bad", 0, "v")
    with pytest.raises(redis.ResponseError, match="invalid expire time"):
        r.psetex("bad", -5, "v")
    assert r.exists("bad") == 0
    # overwriting with a plain SET removes the TTL
    r.set("s", "w")
    assert r.ttl("s") == -1


def test_set_exat_pxat_and_getex(r):
    now = int(time.time())
    assert r.set("k", "v", exat=now + 100) is True
    assert 98 <= r.ttl("k") <= 100
    assert r.set("k2", "v", pxat=(now + 100) * 1000) is True
    assert 98 <= r.ttl("k2") <= 100
    assert r.getex("k", ex=500) == "v"
    assert 495 <= r.ttl("k") <= 500
    assert r.getex("k", persist=True) == "v"
    assert r.ttl("k") == -1
    assert r.getex("k", px=2000) == "v"
    assert 1 <= r.ttl("k") <= 2
    assert r.getex("missing", ex=10) is None
    assert r.getdel("k2") == "v"
    assert r.exists("k2") == 0


def test_keys_vanish_after_ttl(r):
    r.setex("s1", 1, "a")
    r.psetex("p1", 300, "b")
    r.set("e1", "c")
    r.expire("e1", 1)
    r.set("pe1", "d")
    r.pexpire("pe1", 200)
    r.set("at1", "e")
    r.pexpireat("at1", int(time.time() * 1000) + 400)
    r.set("stay", "f")
    r.set("persisted", "g", ex=1)
    assert r.persist("persisted") is True
    assert r.dbsize() == 7
    gone = ["s1", "p1", "e1", "pe1", "at1"]
    assert wait_until(lambda: r.exists(*gone) == 0, timeout=5)
    for key in gone:
        assert r.get(key) is None
        assert r.ttl(key) == -2
    assert wait_until(lambda: r.dbsize() == 2, timeout=5)
    assert sorted(r.keys("*")) == ["persisted", "stay"]
    assert r.get("persisted") == "g"


def test_ttl_survives_value_changes_that_keep_it(r):
    r.set("counter", 1, ex=100)
    r.incr("counter")
    r.incrby("counter", 5)
    r.append("counter", "0")
    assert r.get("counter") == "70"
    assert 95 <= r.ttl("counter") <= 100
    r.setrange("counter", 0, "8")
    assert r.get("counter") == "80"
    assert 95 <= r.ttl("counter") <= 100
    r.rename("counter", "counter2")
    assert 95 <= r.ttl("counter2") <= 100
    assert r.ttl("counter") == -2


def test_info_keyspace_counts_expires(r):
    r.set("a", 1)
    r.set("b", 2, ex=100)
    r.set("c", 3, px=100000)
    ks = r.info("keyspace")
    assert ks["db0"]["keys"] == 3
    assert ks["db0"]["expires"] == 2


def test_info_expiry_estimates(r):
    """avg_ttl estimates the remaining TTL of the keys with one, from what active expiry
    looks at (Redis's running average); expired_stale_perc and expire_cycle_cpu_milliseconds
    come from the same cycles, and CONFIG RESETSTAT starts them over."""
    def avg_ttl():
        return r.info("keyspace")["db0"]["avg_ttl"]

    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.set(f"ttl:{i}", i, ex=1000)
    pipe.execute()
    assert wait_until(lambda: 900_000 <= avg_ttl() <= 1_000_000, timeout=10), avg_ttl()
    for i in range(2000):
        pipe.set(f"short:{i}", i, px=50)
    pipe.execute()
    assert wait_until(lambda: r.dbsize() == 2000, timeout=10)
    stats = r.info("stats")
    assert 0 <= float(stats["expired_stale_perc"]) <= 100
    assert stats["expire_cycle_cpu_milliseconds"] >= 0
    r.config_resetstat()
    stats = r.info("stats")
    assert float(stats["expired_stale_perc"]) < 1 and stats["expire_cycle_cpu_milliseconds"] < 5
    r.flushall()
    r.set("ttl:again", 1, ex=10)
    assert wait_until(lambda: 0 < avg_ttl() <= 10_000, timeout=10), avg_ttl()
