"""Random members against cinnabar alone (a random reply cannot be compared with the oracle
byte for byte): SRANDMEMBER, SPOP and HRANDFIELD return members of the collection, distinct
where Redis promises it, of the right count, and roughly uniformly (a chi-square check with a
generous bound and a fixed number of draws, so it does not flake), for every encoding.
"""
import os
import sys

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import support  # noqa: E402

# Chi-square bound: for k-1 degrees of freedom, mean k-1 and sd sqrt(2(k-1)); 6 sd above the
# mean is a false-alarm rate far below one in a million runs.
def chi_bound(k):
    return (k - 1) + 6 * (2 * (k - 1)) ** 0.5


def chi_square(counts, draws):
    expect = draws / len(counts)
    return sum((c - expect) ** 2 / expect for c in counts.values())


@pytest.fixture(scope="module")
def r():
    server = support.start_cinnabar()
    try:
        yield redis.Redis(port=server.port, decode_responses=True)
    finally:
        server.stop()


SETS = {
    "intset": [str(i) for i in range(-5, 25)],
    "listpack": [f"m{i}" for i in range(30)],
    "hashtable": [f"member:{i}" for i in range(300)],
}


@pytest.fixture(params=list(SETS))
def filled_set(r, request):
    r.flushall()
    members = SETS[request.param]
    r.sadd("s", *members)
    assert r.object("encoding", "s") == request.param
    return set(members)


def test_srandmember_counts_membership_and_distinctness(r, filled_set):
    n = len(filled_set)
    assert r.srandmember("s") in filled_set
    for count in (1, 2, n // 2, n - 1, n, n + 5):
        got = r.srandmember("s", count)
        assert len(got) == min(count, n)
        assert len(set(got)) == len(got), "positive count must return distinct members"
        assert set(got) <= filled_set
    got = r.srandmember("s", -3 * n)
    assert len(got) == 3 * n and set(got) <= filled_set
    assert r.scard("s") == n


def test_srandmember_is_uniform(r, filled_set):
    n = len(filled_set)
    draws = 200 * n
    counts = dict.fromkeys(filled_set, 0)
    done = 0
    while done < draws:
        batch = min(20000, draws - done)
        for m in r.srandmember("s", -batch):
            counts[m] += 1
        done += batch
    assert min(counts.values()) > 0
    assert chi_square(counts, draws) < chi_bound(n)
    # single draws too (a different code path)
    single = dict.fromkeys(filled_set, 0)
    pipe = r.pipeline(transaction=False)
    for _ in range(50 * n):
        pipe.srandmember("s")
    for m in pipe.execute():
        single[m] += 1
    assert chi_square(single, 50 * n) < chi_bound(n)


def test_spop_counts_and_uniformity(r, filled_set):
    n = len(filled_set)
    popped = r.spop("s", 3)
    assert len(popped) == 3 and len(set(popped)) == 3 and set(popped) <= filled_set
    left = set(r.smembers("s"))
    assert left == filled_set - set(popped)
    one = r.spop("s")
    assert one in left and not r.sismember("s", one)
    rest = r.spop("s", n)
    assert set(rest) == left - {one}
    assert r.exists("s") == 0
    # the first member popped from a fresh set is uniform over the members
    counts = dict.fromkeys(filled_set, 0)
    rounds = 40 * n if n <= 30 else 8 * n
    for _ in range(rounds):
        pipe = r.pipeline(transaction=False)
        pipe.delete("t")
        pipe.sadd("t", *filled_set)
        pipe.spop("t")
        counts[pipe.execute()[-1]] += 1
    assert chi_square(counts, rounds) < chi_bound(n)


def test_spop_most_of_a_table(r):
    r.flushall()
    members = {f"x{i}" for i in range(400)}
    r.sadd("t", *members)
    got = r.spop("t", 390)
    assert len(got) == 390 and len(set(got)) == 390 and set(got) <= members
    left = set(r.smembers("t"))
    assert left == members - set(got) and len(left) == 10


@pytest.mark.parametrize("size", [20, 600])
def test_hrandfield(r, size):
    r.flushall()
    mapping = {f"f{i}": f"v{i}" for i in range(size)}
    r.hset("h", mapping=mapping)
    assert r.object("encoding", "h") == ("listpack" if size <= 128 else "hashtable")
    assert r.hrandfield("h") in mapping
    for count in (1, 5, size - 1, size, size + 3):
        got = r.hrandfield("h", count)
        assert len(got) == min(count, size) and len(set(got)) == len(got) and set(got) <= mapping.keys()
        flat = r.hrandfield("h", count, withvalues=True)
        pairs = list(zip(flat[0::2], flat[1::2]))
        assert len(pairs) == min(count, size) and all(mapping[k] == v for k, v in pairs)
    flat = r.hrandfield("h", -2 * size, withvalues=True)
    assert len(flat) == 4 * size
    assert all(mapping[k] == v for k, v in zip(flat[0::2], flat[1::2]))
    counts = dict.fromkeys(mapping, 0)
    draws = 100 * size
    for k in r.hrandfield("h", -draws):
        counts[k] += 1
    assert chi_square(counts, draws) < chi_bound(size)


def test_positive_count_subsets_of_big_tables_are_uniform(r):
    """SRANDMEMBER / HRANDFIELD with a positive count far below the size draw distinct
    members one uniform draw at a time (Redis's case 4); every member is in about as many
    of the subsets. (Drawing without replacement only lowers the spread, so the
    with-replacement chi-square bound stays a safe one.)"""
    r.flushall()
    n = 600
    r.sadd("s", *[f"member:{i}" for i in range(n)])
    r.hset("h", mapping={f"f{i}": f"v{i}" for i in range(n)})
    assert r.object("encoding", "s") == "hashtable" and r.object("encoding", "h") == "hashtable"
    for key in ("s", "h"):
        members = set(r.smembers("s")) if key == "s" else set(r.hkeys("h"))
        counts = dict.fromkeys(members, 0)
        rounds = 60 * n // 7
        pipe = r.pipeline(transaction=False)
        for _ in range(rounds):
            pipe.srandmember("s", 7) if key == "s" else pipe.hrandfield("h", 7)
        for got in pipe.execute():
            assert len(got) == 7 and len(set(got)) == 7 and set(got) <= members
            for m in got:
                counts[m] += 1
        assert chi_square(counts, rounds * 7) < chi_bound(n), key
    flat = r.hrandfield("h", 9, withvalues=True)
    assert len(flat) == 18 and all(v == "v" + k[1:] for k, v in zip(flat[0::2], flat[1::2]))
