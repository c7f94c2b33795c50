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


def test_start_in_a_given_dir_keeps_it(tmp_path):
    """A server started in the caller's directory leaves it (and what it wrote) behind."""
    s = ps.start("cinnabar", dir=str(tmp_path))
    try:
        assert s.dir == str(tmp_path)
        assert ps.digest(s) == "0" * 40
    finally:
        s.stop()
    assert os.path.isfile(tmp_path / "server.log")
