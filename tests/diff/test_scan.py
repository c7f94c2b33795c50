"""SCAN must return every key present for the whole iteration: iterate to completion on both
servers (with MATCH / COUNT / TYPE variants) and compare the sets of keys returned."""
import pytest

from harness import start_pair, stop_pair, subject_name
from resp import RawConnection, parse, show


@pytest.fixture(scope="module")
def pair():
    servers = start_pair()
    conns = [RawConnection(s.port) for s in servers]
    keys = [f"key:{i}" for i in range(600)] + [f"other:{i}" for i in range(150)] + ["", "\x00bin", "k*y"]
    for c in conns:
        for start in range(0, len(keys), 100):
            chunk = keys[start:start + 100]
            args = ["MSET"]
            for k in chunk:
                args += [k, "v"]
            assert c.command(*args) == b"+OK\r\n"
    yield servers, conns, set(k.encode() for k in keys)
    for c in conns:
        c.close()
    stop_pair(servers)


def full_scan(conn, *opts, limit=100000):
    seen, cursor, calls = [], b"0", 0
    while True:
        raw = conn.command("SCAN", cursor, *opts)
        node = parse(raw)
        assert node.type == "*" and len(node.children) == 2, f"bad SCAN reply {show(raw)}"
        cursor = node.children[0].value
        assert node.children[1].type == "*", f"bad SCAN key list {show(raw)}"
        seen += [c.value for c in node.children[1].children]
        calls += 1
        assert calls < limit, "SCAN did not terminate"
        if cursor == b"0":
            return seen, calls


@pytest.mark.parametrize("opts", [
    (), ("COUNT", "1"), ("COUNT", "7"), ("COUNT", "1000"),
    ("MATCH", "key:1*"), ("MATCH", "other:*", "COUNT", "3"), ("MATCH", "nomatch*"),
    ("MATCH", "k\\*y"), ("TYPE", "string"), ("TYPE", "list"), ("TYPE", "string", "MATCH", "*:5?"),
], ids=lambda o: "-".join(o) or "plain")
def test_scan_complete(pair, opts):
    _, conns, keys = pair
    results = [full_scan(c, *opts) for c in conns]
    sets = [set(r[0]) for r in results]
    assert sets[0] == sets[1], (f"SCAN {' '.join(opts)}: key sets differ\n"
                                f"  only in redis: {sorted(sets[0] - sets[1])[:20]}\n"
                                f"  only in {subject_name()}: {sorted(sets[1] - sets[0])[:20]}")
    if not opts or opts[0] == "COUNT":
        assert sets[1] == keys, "SCAN missed keys"
    # Without changes during the scan, no key may be returned twice by either server.
    for (seen, _), label in zip(results, ("redis", subject_name())):
        assert len(seen) == len(set(seen)), f"{label} returned duplicates"


def test_scan_with_concurrent_writes(pair):
    """Keys present for the whole scan must all be returned, even when other keys are added
    (forcing the table to grow) and deleted during the iteration."""
    _, conns, keys = pair
    for c in conns:
        seen, cursor, step = set(), b"0", 0
        while True:
            node = parse(c.command("SCAN", cursor, "COUNT", "20"))
            cursor = node.children[0].value
            seen |= {x.value for x in node.children[1].children}
            c.command("MSET", *[x for i in range(50) for x in (f"tmp:{step}:{i}", "v")])
            step += 1
            if cursor == b"0":
                break
        for i in range(step):
            c.command("DEL", *[f"tmp:{i}:{j}" for j in range(50)])
        missing = keys - seen
        assert not missing, f"SCAN with concurrent growth missed {len(missing)} keys, e.g. {sorted(missing)[:5]}"
