"""MEMORY, DEBUG and LOLWUT replies whose figures, addresses or pictures differ from
redis-server's by nature, compared with the oracle on everything else (cases/memory.txt,
cases/debug.txt and cases/role_lolwut.txt have the byte-for-byte parts):

* MEMORY STATS: the same field names in the same order (db.N maps for the databases with
  keys), the same reply types, RESP2 and RESP3; figures that hang together.
* MEMORY USAGE: close to what a key really costs (the allocator's growth when it is
  written), for every type and encoding; SAMPLES on big collections.
* MEMORY DOCTOR / MALLOC-STATS: Redis's texts; jemalloc's report (the oracle is built on
  libc, whose answer is "Stats not supported").
* DEBUG OBJECT: Redis's line for every type and encoding, serializedlength equal to the
  oracle's; DEBUG HELP lists a subset of Redis's entries, in its order, word for word;
  DEBUG LOG and CHANGE-REPL-ID's effects.
* LOLWUT 5 and 6: random pictures, so their shape: lines, widths, characters, captions.
"""
import re
import time

import pytest

from harness import start_pair, stop_pair, connect
from resp import parse

DEBUG_ON = {"enable-debug-command": "yes"}


def pairs(node):
    kids = node.children
    return [(kids[i].value.decode(), kids[i + 1]) for i in range(0, len(kids), 2)]


def shape(node):
    """Field names and reply types, recursively into the db.N maps."""
    return [(k, v.type, shape(v) if v.children else None) for k, v in pairs(node)]


def populate(c):
    c.command("SET", "s", "hello")
    c.command("RPUSH", "l", "a", "b")
    c.command("SELECT", "3")
    c.command("SET", "x", "y")
    c.command("EXPIRE", "x", "100")
    c.command("SELECT", "0")


@pytest.mark.parametrize("proto", [2, 3])
def test_memory_stats_fields(proto):
    pair = start_pair()
    try:
        conns = [connect(s, proto) for s in pair]
        empty = [shape(parse(c.command("MEMORY", "STATS"))) for c in conns]
        assert empty[0] == empty[1]
        assert not any(k.startswith("db.") for k, _, _ in empty[1])
        for c in conns:
            populate(c)
        full = [shape(parse(c.command("MEMORY", "STATS"))) for c in conns]
        assert full[0] == full[1]
        assert [k for k, _, _ in full[1] if k.startswith("db.")] == ["db.0", "db.3"]
        # Figures that hang together on our side.
        stats = {k: v for k, v in pairs(parse(conns[1].command("MEMORY", "STATS")))}
        num = {k: float(v.value) for k, v in stats.items() if not v.children}
        assert num["keys.count"] == 3
        assert num["total.allocated"] == num["allocator.allocated"]
        assert num["peak.allocated"] >= num["total.allocated"] > num["startup.allocated"] > 0
        assert num["overhead.total"] + num["dataset.bytes"] == num["total.allocated"]
        assert 0 < num["dataset.percentage"] <= 100 and 0 < num["peak.percentage"] <= 100
        assert num["keys.bytes-per-key"] == (num["total.allocated"] - num["startup.allocated"]) // 3
        assert num["allocator-fragmentation.bytes"] == num["allocator.active"] - num["allocator.allocated"]
        main = {k: int(v.value) for k, v in pairs(stats["db.0"])}
        assert main["overhead.hashtable.main"] > 0 and main["overhead.hashtable.expires"] == 0
        # The same in MULTI.
        conns[1].command("MULTI")
        conns[1].command("MEMORY", "STATS")
        reply = parse(conns[1].command("EXEC"))
        assert [k for k, _, _ in shape(reply.children[0])] == [k for k, _, _ in full[1]]
    finally:
        stop_pair(pair)


def used(c):
    info = c.command("INFO", "memory").decode()
    return int(re.search(r"used_memory:(\d+)", info).group(1))


BUILDERS = {
    "int": lambda i: [("SET", f"k{i}", str(10_000 + i))],
    "embstr": lambda i: [("SET", f"k{i}", "v" * 20)],
    "raw": lambda i: [("SET", f"k{i}", "v" * 200)],
    "listpack list": lambda i: [("RPUSH", f"k{i}", *[f"e{j}" for j in range(50)])],
    "quicklist": lambda i: [("RPUSH", f"k{i}", *[f"element-{j:06}" for j in range(2000)])],
    "listpack hash": lambda i: [("HSET", f"k{i}", *[x for j in range(50) for x in (f"f{j}", f"v{j}")])],
    "hashtable hash": lambda i: [("HSET", f"k{i}", *[x for j in range(500) for x in (f"field{j}", "v" * 30)])],
    "intset": lambda i: [("SADD", f"k{i}", *[str(j) for j in range(200)])],
    "hashtable set": lambda i: [("SADD", f"k{i}", *[f"member-{j}" for j in range(500)])],
    "skiplist zset": lambda i: [("ZADD", f"k{i}", *[x for j in range(500) for x in (str(j), f"member-{j}")])],
    "stream": lambda i: [("EVAL", "for j=1,200 do redis.call('xadd',KEYS[1],'*','field',string.rep('v',20)) end",
                          "1", f"k{i}")],
}


# Keys per kind: enough that the allocator's per-thread caches (filled a slab at a time)
# are noise beside them.
COUNTS = {"int": 5000, "embstr": 5000, "raw": 3000, "listpack list": 2000, "listpack hash": 2000, "intset": 5000,
          "stream": 300}


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_memory_usage_close_to_allocation(kind):
    """Many keys of one kind: the sum of their MEMORY USAGE against the allocator's growth
    (within 35%: the keyspace table's bucket arrays, which no key's figure includes, and
    allocator slack), and against the oracle's figure (within a factor of 3: the layouts
    differ)."""
    pair = start_pair()
    n = COUNTS.get(kind, 40)
    try:
        oracle, ours = (connect(s, 2) for s in pair)
        before = used(ours)
        for i in range(n):
            for cmd in BUILDERS[kind](i):
                for c in (oracle, ours):
                    c.command(*cmd)
        grown = used(ours) - before
        total = [sum(int(parse(c.command("MEMORY", "USAGE", f"k{i}", "SAMPLES", "0")).value) for i in range(n))
                 for c in (oracle, ours)]
        assert 0.65 * grown <= total[1] <= 1.35 * grown, (kind, total[1], grown)
        assert total[0] / 3 <= total[1] <= total[0] * 3, (kind, total)
        # Default sampling (5 elements) stays near the full count for uniform elements.
        sampled = sum(int(parse(ours.command("MEMORY", "USAGE", f"k{i}")).value) for i in range(n))
        assert 0.8 * total[1] <= sampled <= 1.2 * total[1], (kind, sampled, total[1])
    finally:
        stop_pair(pair)


def test_memory_usage_samples_scale():
    """A hash whose first sampled fields are small and the rest big: SAMPLES 0 counts them
    all, a small SAMPLES estimates from the ones it sees."""
    pair = start_pair()
    try:
        _, ours = (connect(s, 2) for s in pair)
        ours.command("HSET", "h", *[x for j in range(1000) for x in (f"f{j}", "v" * 100)])
        full = int(parse(ours.command("MEMORY", "USAGE", "h", "SAMPLES", "0")).value)
        default = int(parse(ours.command("MEMORY", "USAGE", "h")).value)
        assert full > 1000 * 100
        assert 0.8 * full <= default <= 1.2 * full
    finally:
        stop_pair(pair)


@pytest.mark.parametrize("proto", [2, 3])
def test_memory_doctor_and_malloc_stats(proto):
    pair = start_pair()
    try:
        oracle, ours = (connect(s, proto) for s in pair)
        assert oracle.command("MEMORY", "DOCTOR") == ours.command("MEMORY", "DOCTOR")
        # Past 5 MB the detector speaks: a fine instance, or Redis's list of issues.
        for c in (oracle, ours):
            c.command("EVAL", "for i=1,20000 do redis.call('set','key'..i,string.rep('x',300)) end", "0")
        texts = []
        for c in (oracle, ours):
            node = parse(c.command("MEMORY", "DOCTOR"))
            assert node.type == ("=" if proto == 3 else "$")
            texts.append(node.value.decode().removeprefix("txt:"))
        for t in texts:
            assert (t == "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
                    or (t.startswith("Sam, I detected a few issues in this Redis instance memory implants:\n\n * ")
                        and t.endswith("\n\nI'm here to keep you safe, Sam. I want to help you.\n"))), t
        node = parse(ours.command("MEMORY", "MALLOC-STATS"))
        assert node.type == ("=" if proto == 3 else "$")
        text = node.value.decode().removeprefix("txt:")
        assert text.startswith("___ Begin jemalloc statistics ___\n") and "--- End jemalloc statistics ---" in text
    finally:
        stop_pair(pair)


def mask_object(line):
    return re.sub(rb"at:0x[0-9a-f]+|lru:\d+|lru_seconds_idle:\d+", b"#", line)


def test_debug_object_every_type():
    pair = start_pair({**DEBUG_ON, "list-max-listpack-size": "4"})
    try:
        oracle, ours = (connect(s, 2) for s in pair)
        setup = [
            ("SET", "int", "12345"), ("SET", "shared", "5"), ("SET", "embstr", "hello"),
            ("SET", "raw", "r" * 60), ("APPEND", "appended", "x"),
            ("RPUSH", "lp", "a", "b", "c"), ("RPUSH", "ql", *[str(i) for i in range(11)]),
            ("HSET", "hlp", "f", "v"), ("HSET", "hht", *[x for j in range(200) for x in (f"f{j}", "v")]),
            ("SADD", "is", "1", "2"), ("SADD", "slp", "a"), ("SADD", "sht", *[f"m{j}" for j in range(200)]),
            ("ZADD", "zlp", "1", "a"), ("ZADD", "zsl", *[x for j in range(200) for x in (str(j), f"m{j}")]),
            ("XADD", "st", "1-1", "a", "1"), ("PFADD", "hll", "a", "b"),
        ]
        for cmd in setup:
            for c in (oracle, ours):
                c.command(*cmd)
        for key in [cmd[1] for cmd in setup]:
            a, b = (c.command("DEBUG", "OBJECT", key) for c in (oracle, ours))
            assert re.match(rb"\+Value at:0x[0-9a-f]+ refcount:\d+ encoding:\w+ serializedlength:\d+ lru:\d+ lru_seconds_idle:\d+", b), b
            assert mask_object(a) == mask_object(b), (key, a, b)
            # The 24-bit LRU clock and the idle time.
            lru = int(re.search(rb" lru:(\d+)", b).group(1))
            assert lru == int(time.time()) % (1 << 24) or abs(lru - int(time.time()) % (1 << 24)) <= 2
        # A quicklist keeps the fill it was made with (ql_listpack_max); a list loaded
        # from a DUMP takes the fill in force then.
        for c in (oracle, ours):
            c.command("CONFIG", "SET", "list-max-listpack-size", "-2")
            c.command("RESTORE", "ql2", "0", c.command("DUMP", "ql")[c.command("DUMP", "ql").index(b"\r\n") + 2:-2])
        for key in ("ql", "ql2"):
            a, b = (c.command("DEBUG", "OBJECT", key) for c in (oracle, ours))
            assert mask_object(a) == mask_object(b), (key, a, b)
        for c in (oracle, ours):
            c.command("MULTI")
            c.command("DEBUG", "OBJECT", "embstr")
            c.command("DEBUG", "OBJECT", "nokey")
        a, b = (c.command("EXEC") for c in (oracle, ours))
        assert mask_object(a) == mask_object(b)
    finally:
        stop_pair(pair)


def test_debug_help_is_redis_text_for_what_we_have():
    pair = start_pair(DEBUG_ON)
    try:
        oracle, ours = (connect(s, 2) for s in pair)

        def entries(c):
            lines = [n.value.decode() for n in parse(c.command("DEBUG", "HELP")).children]
            out, cur = [], None
            for line in lines[1:]:
                if line.startswith(" "):
                    cur.append(line)
                else:
                    cur = [line]
                    out.append(cur)
            return lines[0], out

        (head_a, a), (head_b, b) = entries(oracle), entries(ours)
        assert head_a == head_b
        # Each of ours word for word, in Redis's order.
        positions = [a.index(e) for e in b]
        assert positions == sorted(positions)
        names = {e[0].split()[0] for e in b}
        assert {"OBJECT", "PROTOCOL", "SLEEP", "DIGEST", "RELOAD", "LISTPACK", "QUICKLIST", "HELP"} <= names
    finally:
        stop_pair(pair)


def test_debug_log_and_change_repl_id():
    pair = start_pair(DEBUG_ON)
    try:
        for server in pair:
            c = connect(server, 2)
            before = re.search(rb"master_replid:(\w+)", c.command("INFO", "replication")).group(1)
            assert c.command("DEBUG", "CHANGE-REPL-ID") == b"+OK\r\n"
            after = re.search(rb"master_replid:(\w+)", c.command("INFO", "replication")).group(1)
            assert before != after and len(after) == 40
            assert c.command("DEBUG", "LOG", "a test line") == b"+OK\r\n"
            deadline = time.time() + 5
            while "DEBUG LOG: a test line" not in server.read_log() and time.time() < deadline:
                time.sleep(0.05)
            log = server.read_log()
            assert re.search(r"\d+:M \d\d \w\w\w \d{4} [\d:.]+ # DEBUG LOG: a test line", log), server.kind
            assert re.search(r"\* Changing replication IDs after receiving DEBUG change-repl-id", log)
    finally:
        stop_pair(pair)


def lolwut_text(c, *args):
    node = parse(c.command("LOLWUT", *args))
    return node.value.decode().removeprefix("txt:")


@pytest.mark.parametrize("proto", [2, 3])
def test_lolwut_pictures_shape(proto):
    pair = start_pair()
    try:
        oracle, ours = (connect(s, proto) for s in pair)
        version = re.search(rb"redis_version:([\d.]+)", ours.command("INFO", "server")).group(1).decode()
        assert lolwut_text(ours) == f"Redis ver. {version}\n"
        for args in [("VERSION", "5"), ("VERSION", "5", "30", "3", "5"), ("VERSION", "5", "1000", "200", "200"),
                     ("VERSION", "5", "9", "1", "40")]:
            texts = [lolwut_text(c, *args) for c in (oracle, ours)]
            for t in texts:
                assert t.endswith("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.2.6\n".replace("7.2.6", version))
            shapes = [[len(line) for line in t.split("\n")[:-2]] for t in texts]
            assert shapes[0] == shapes[1], args
            body = texts[1].rsplit("\nGeorg", 1)[0]
            assert all(0x2800 <= ord(ch) <= 0x28FF for ch in body.replace("\n", ""))
        cell = r"\x1b\[0;(30;40|90;100|37;47|97;107)m \x1b\[0m"
        for args in [("VERSION", "6"), ("VERSION", "6", "33", "7"), ("VERSION", "6", "2", "40")]:
            texts = [lolwut_text(c, *args) for c in (oracle, ours)]
            for t in texts:
                lines = t.split("\n")
                assert lines[-3] == "Dedicated to the 8 bit game developers of past and present."
                assert lines[-2] == f"Original 8 bit image from Plaguemon by hikikomori. Redis ver. {version}"
                assert all(re.fullmatch(f"({cell})+", line) for line in lines[:-3])
            rows = [[len(re.findall(cell, line)) for line in t.split("\n")[:-3]] for t in texts]
            assert rows[0] == rows[1], args
    finally:
        stop_pair(pair)
