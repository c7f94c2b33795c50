"""DEBUG DIGEST over tests/persist_support.py's dataset (every type and encoding, three
databases, TTLs, streams with groups): built with the same commands on both servers, the
digest of the dataset and of every key must be the oracle's. It checks the dataset too: every
encoding it promises is there on both servers, so the persistence round-trip tests that use
it cover them all.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import persist_support as ps  # noqa: E402
import support  # noqa: E402

ENCODINGS = {
    (b"string", b"int"), (b"string", b"embstr"), (b"string", b"raw"),
    (b"list", b"listpack"), (b"list", b"quicklist"),
    (b"set", b"intset"), (b"set", b"listpack"), (b"set", b"hashtable"),
    (b"hash", b"listpack"), (b"hash", b"hashtable"),
    (b"zset", b"listpack"), (b"zset", b"skiplist"),
    (b"stream", b"stream"),
}


@pytest.mark.parametrize("seed", [1, 2])
def test_dataset_digest_matches_the_oracle(seed):
    if not support.oracle_is_72():
        pytest.fail("needs the Redis 7.2 oracle (7.0 hashes scores with %.17g and has no listpack sets): "
                    "build it with tests/oracle.sh", pytrace=False)
    commands = ps.dataset_commands(seed, functions=True)
    servers = []
    try:
        for kind in ("redis", "cinnabar"):
            servers.append(ps.start(kind))
            ps.build(servers[-1], commands)
        oracle, subject = servers
        want = ps.describe(oracle)
        got = ps.describe(subject)
        assert got == want, {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
        assert {(t, e) for t, e, _, _ in want.values()} == ENCODINGS
        assert {db for db, _ in want} == {0, 1, 9}
        assert any(ttl for _, _, ttl, _ in want.values())
        for s in servers:
            c = ps.client(s)
            assert [c.execute_command("PFDEBUG", "ENCODING", f"0:hll:{e}") for e in ("sparse", "dense")] == [b"sparse", b"dense"]
            c.close()
        digest = ps.digest(oracle)
        assert digest != "0" * 40
        assert ps.digest(subject) == digest
    finally:
        for s in servers:
            s.stop()


def test_restart_keeps_the_directory():
    """A restarted server runs in the same directory and loads what the first one saved."""
    a = ps.start("redis")
    ps.build(a, ps.dataset_commands(5, dbs=(0, 2)))
    want = (ps.digest(a), ps.describe(a))
    ps.client(a).save()
    b = ps.restart(a)
    try:
        assert b.dir == a.dir and os.path.isfile(os.path.join(b.dir, "dump.rdb"))
        # A string is "raw" only in memory: one of up to 44 bytes loads as "embstr" (here the
        # sparse HLLs, which PFADD made raw).
        digest, keys = want
        for k, (t, enc, ttl, d) in keys.items():
            if k[1].endswith(b"hll:sparse"):
                assert (t, enc) == (b"string", b"raw")
                keys[k] = (t, b"embstr", ttl, d)
        assert (ps.digest(b), ps.describe(b)) == (digest, keys)
    finally:
        b.stop()
    assert not os.path.exists(b.dir)
