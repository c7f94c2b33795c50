"""INFO against redis-server's: sections in Redis's order whatever order they were asked in;
and the memory section: the same field names in the same order, the scripting fields' counts
(cached scripts, functions, libraries) through SCRIPT LOAD, EVAL, FUNCTION LOAD / DELETE
and the flushes, lazyfree counts through FLUSHALL / FLUSHDB ASYNC, and byte figures that
hang together (totals are sums, *_human and *_perc match, the script cache's size is 0
exactly when it is empty and grows with it, overhead + dataset = used). The byte figures
themselves differ: each server reports its own heaps."""
import time

import support
from harness import ORACLE_IS_72, connect, same_on_fresh_pair, same_on_pair
from resp import RawConnection

LIB = "#!lua name=infolib\nredis.register_function('f1', function() return 1 end)\nredis.register_function('f2', function() return 2 end)"
COUNTS = ("number_of_cached_scripts", "number_of_functions", "number_of_libraries")


def info_fields(c, *sections):
    """(name, value) of every field line of INFO `sections`: no headers, no blank lines, and
    not the bulk string's length line."""
    lines = c.command("INFO", *sections).decode().split("\r\n")[1:]
    return [line.partition(":")[::2] for line in lines if line and not line.startswith("#")]


def scripting_fields(c):
    return [(n, v) for n, v in info_fields(c, "memory")
            if any(w in n for w in ("lua", "vm", "script", "function", "librar"))]


def human(n):
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n}B"


def check_consistent(fields):
    """The byte figures add up; returns what is compared across servers."""
    f = dict(fields)
    num = {k: int(v) for k, v in f.items() if not k.endswith("_human")}
    assert num["used_memory_lua"] == num["used_memory_vm_eval"] > 0
    assert num["used_memory_vm_total"] == num["used_memory_vm_eval"] + num["used_memory_vm_functions"]
    assert num["used_memory_scripts"] == num["used_memory_scripts_eval"] + num["used_memory_functions"]
    assert f["used_memory_lua_human"] == human(num["used_memory_vm_eval"])
    assert f["used_memory_vm_total_human"] == human(num["used_memory_vm_total"])
    assert f["used_memory_scripts_human"] == human(num["used_memory_scripts"])
    return num


def scripting_scenario(c):
    steps = [
        ("fresh", None),
        ("script load", ("SCRIPT", "LOAD", "return 1")),
        ("script load again", ("SCRIPT", "LOAD", "return 1")),
        ("eval", ("EVAL", "return 2", "0")),
        ("evalsha", ("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0")),
        ("function load", ("FUNCTION", "LOAD", LIB)),
        ("fcall", ("FCALL", "f2", "0")),
        ("function delete", ("FUNCTION", "DELETE", "infolib")),
        ("function load again", ("FUNCTION", "LOAD", LIB)),
        ("script flush", ("SCRIPT", "FLUSH")),
        ("function flush", ("FUNCTION", "FLUSH")),
    ]
    out = []
    previous = None
    for label, cmd in steps:
        reply = c.command(*cmd) if cmd else None
        fields = scripting_fields(c)
        num = check_consistent(fields)
        eval_bytes = num["used_memory_scripts_eval"]
        out.append((
            label,
            reply,
            [name for name, _ in fields],
            {k: num[k] for k in COUNTS},
            eval_bytes == 0,
            None if previous is None else eval_bytes > previous,
            num["used_memory_functions"] > 0,
        ))
        previous = eval_bytes
    return out


def test_info_memory_scripting_fields_match():
    same_on_fresh_pair(scripting_scenario)


def memory_scenario(c):
    """Field names in order, lazyfree counts through FLUSHALL ASYNC and FLUSHDB ASYNC, and
    how the figures relate (each server has its own sizes)."""
    names = [name for name, _ in info_fields(c, "memory")]
    counts = []
    for flush in (("FLUSHALL", "ASYNC"), ("FLUSHDB", "ASYNC"), ("FLUSHALL", "SYNC")):
        assert c.command("EVAL", "for i = 1, 5000 do redis.call('set', 'k' .. i, i) end", "0") == b"$-1\r\n"
        assert c.command(*flush) == b"+OK\r\n"
        for _ in range(200):
            f = dict(info_fields(c, "memory"))
            if f["lazyfree_pending_objects"] == "0":
                break
            time.sleep(0.01)
        counts.append((f["lazyfree_pending_objects"], f["lazyfreed_objects"]))
    f = dict(info_fields(c, "memory"))
    used, overhead, dataset = (int(f[k]) for k in ("used_memory", "used_memory_overhead", "used_memory_dataset"))
    startup = int(f["used_memory_startup"])
    assert overhead + dataset == used and startup <= overhead
    assert f["used_memory_dataset_perc"] == f"{dataset * 100 / max(used - startup, 1):.2f}%"
    assert f["used_memory_peak_perc"] == f"{used * 100 / int(f['used_memory_peak']):.2f}%"
    allocated, active, resident = (int(f[k]) for k in ("allocator_allocated", "allocator_active", "allocator_resident"))
    assert 0 < allocated <= active <= resident
    assert int(f["allocator_frag_bytes"]) == active - allocated
    assert int(f["allocator_rss_bytes"]) == resident - active
    assert int(f["total_system_memory"]) > 0
    return names, counts


def test_info_memory_fields_match():
    same_on_fresh_pair(memory_scenario)


def section_headers(c):
    out = []
    for args in [(), ("all",), ("everything",), ("default",), ("keyspace", "commandstats", "server"),
                 ("latencystats", "errorstats", "clients"), ("KEYSPACE", "Memory"), ("nosuchsection",)]:
        text = c.command("INFO", *args).decode()
        out.append((args, [l for l in text.split("\r\n") if l.startswith("#")]))
    return out


def test_info_sections_come_in_redis_order():
    same_on_fresh_pair(section_headers)


# Fields cinnabar adds to Redis 7.2's: its own, and two of later Redis versions (COMPATIBILITY.md).
EXTRA_FIELDS = {"cinnabar_version", "cinnabar_threads",
                "client_query_buffer_limit_disconnections", "client_output_buffer_limit_disconnections"}
# Redis 7.2's fields that the 7.0 fallback oracle lacks: left out only when it is the oracle.
FIELDS_72 = {"listener0", "listener1", "total_blocking_keys", "total_blocking_keys_on_nokey",
             "eventloop_cycles", "eventloop_duration_sum", "eventloop_duration_cmd_sum",
             "instantaneous_eventloop_cycles_per_sec", "instantaneous_eventloop_duration_usec",
             "acl_access_denied_auth", "acl_access_denied_cmd", "acl_access_denied_key",
             "acl_access_denied_channel"}
# One line per command or error: Redis lists them in its dicts' order, so compared as sets.
PER_ITEM = ("cmdstat_", "errorstat_", "latency_percentiles_usec_")


def section_fields(c):
    """Every section of INFO everything with its field names in order (the per-command and
    per-error lines sorted), after a few commands, a miss and an error."""
    for cmd, reply in [(("SET", "k", "v"), b"+OK\r\n"), (("GET", "nokey"), b"$-1\r\n"),
                       (("LPUSH", "k", "x"), None), (("CONFIG", "GET", "port"), None)]:
        got = c.command(*cmd)
        assert reply is None or got == reply
    skip = EXTRA_FIELDS if ORACLE_IS_72 else EXTRA_FIELDS | FIELDS_72
    out, names = [], None
    for line in c.command("INFO", "everything").decode().split("\r\n")[1:]:
        if line.startswith("# "):
            names = []
            out.append((line[2:], names))
        elif line and line.partition(":")[0] not in skip:
            names.append(line.partition(":")[0])
    return [(title, [n for n in names if not n.startswith(PER_ITEM)] + sorted(n for n in names if n.startswith(PER_ITEM)))
            for title, names in out]


def test_info_sections_have_redis_fields_in_order():
    """Each section has Redis 7.2's fields, by name and in order (values differ: each server
    has its own figures)."""
    same_on_fresh_pair(section_fields)


def commandstats_of_refused(c):
    """A command only ever refused (wrong arity) or failing is listed too: calls=0 and
    usec_per_call=0.00 for the refused one (twice: the counts go on)."""
    out = []
    for _ in range(2):
        assert c.command("GET")[:1] == b"-"
        assert c.command("HSET", "h", "f")[:1] == b"-"
        assert c.command("SET", "s", "v") == b"+OK\r\n"
        assert c.command("LPUSH", "s", "x")[:1] == b"-"
        lines = c.command("INFO", "commandstats").decode().split("\r\n")
        rows = {line.partition(":")[0]: line.partition(":")[2] for line in lines}
        out.append([rows.get(name) for name in ("cmdstat_get", "cmdstat_hset")])
        lpush = dict(f.split("=") for f in rows["cmdstat_lpush"].split(","))
        out.append((lpush["calls"], lpush["rejected_calls"], lpush["failed_calls"]))
    return out


def test_info_commandstats_lists_refused_commands():
    same_on_fresh_pair(commandstats_of_refused)


def errorstats_of_unsafe_codes(c):
    """A script's raw error whose code holds '#', ':' and LF (7.2 replies it raw; a CRLF
    would break the reply itself, on both servers): the reply, and its errorstats line with
    those characters made '_' (getSafeInfoString), so INFO's lines stay whole. Twice: the
    count goes on."""
    out = []
    for _ in range(2):
        out.append(c.command("EVAL", "error({err='-a#b:c\\nd x'})", "0").split(b" script:")[0])
        lines = c.command("INFO", "errorstats").decode().split("\r\n")
        out.append([line for line in lines if line.startswith("errorstat_-a")])
    return out


# Redis 7.2.6's result (7.0 replaced the LF with a space, so the 7.0 fallback oracle cannot
# show it: cinnabar alone is then held to these bytes).
UNSAFE_CODES_72 = [b"--a#b:c\nd x", ["errorstat_-a_b_c_d:count=1"], b"--a#b:c\nd x", ["errorstat_-a_b_c_d:count=2"]]


def test_info_errorstats_codes_are_safe():
    if ORACLE_IS_72:
        assert same_on_fresh_pair(errorstats_of_unsafe_codes) == UNSAFE_CODES_72
        return
    server = support.start_cinnabar()
    c = RawConnection(server.port)
    try:
        assert errorstats_of_unsafe_codes(c) == UNSAFE_CODES_72
    finally:
        c.close()
        server.stop()


# (command words before the key, arguments after it)
KEY_PROBES = [
    (["TYPE"], []), (["TTL"], []), (["PTTL"], []), (["EXPIRETIME"], []), (["PEXPIRETIME"], []),
    (["OBJECT", "ENCODING"], []), (["OBJECT", "FREQ"], []), (["OBJECT", "IDLETIME"], []),
    (["OBJECT", "REFCOUNT"], []), (["EXISTS"], []), (["GET"], []), (["STRLEN"], []), (["GETBIT"], ["1"]),
    (["BITCOUNT"], []), (["BITFIELD_RO"], ["GET", "u8", "0"]), (["PFCOUNT"], []),
]


def keyspace_scenario(c):
    """keyspace_hits / keyspace_misses after each probe of a present and a missing key: which
    lookups count (TYPE, TTL and OBJECT do, though they do not touch the key's access time)."""
    c.command("SET", "present", "1")
    stats = []
    for words, rest in KEY_PROBES:
        for key in ("present", "missing"):
            c.command(*words, key, *rest)
            f = dict(info_fields(c, "stats"))
            stats.append((" ".join(words), key, f["keyspace_hits"], f["keyspace_misses"]))
    return stats


def test_info_keyspace_hits_and_misses_match():
    same_on_fresh_pair(keyspace_scenario)


# total_commands_processed after each sequence (from a CONFIG RESETSTAT, which counts): what
# Redis's call() counts, as commandstats' calls do. Refused commands (unknown, wrong arity)
# do not count; commands queued by MULTI count when EXEC runs them, not at all after DISCARD
# or an aborted EXEC; the commands a script runs count on their own; a blocking command that
# times out counts once. Twice each, and under RESP3 too.
TOTAL_SEQUENCES = [
    [["NOSUCH"], ["GET"], ["CLIENT", "NOSUCH"], ["PING"]],
    [["MULTI"], ["GET", "a"], ["SET", "b", "1"], ["DISCARD"]],
    [["MULTI"], ["GET", "a"], ["GET"], ["EXEC"]],
    [["MULTI"], ["GET", "a"], ["INCR", "n"], ["EXEC"]],
    [["EVAL", "redis.call('get','a'); redis.call('set','b','1'); return 1", "0"]],
    [["EVAL", "return redis.pcall('nosuch')", "0"]],
    [["MULTI"], ["EVAL", "return redis.call('get','a')", "0"], ["EXEC"]],
    [["BLPOP", "nolist", "0.05"], ["SET", "a", "1", "EX", "-5"]],
]


def totals_scenario(c):
    out = []
    for _ in range(2):
        for seq in TOTAL_SEQUENCES:
            c.command("CONFIG", "RESETSTAT")
            for cmd in seq:
                c.command(*cmd)
            out.append((seq, dict(info_fields(c, "stats"))["total_commands_processed"]))
    return out


def test_info_total_commands_processed_matches():
    for protocol in (2, 3):
        same_on_fresh_pair(lambda c: (c.command("HELLO", str(protocol)), totals_scenario(c))[1])


def connections_run(server):
    """maxclients 2: a third connection gets Redis's error and is closed; INFO counts it in
    rejected_connections and not in total_connections_received (twice; the counts as gained
    since the two clients connected: the test's start-up connections differ)."""
    out = []
    a = connect(server, 2)
    b = connect(server, 3)

    def counts():
        f = dict(info_fields(a, "stats"))
        return int(f["total_connections_received"]), int(f["rejected_connections"])

    base = counts()
    for _ in range(2):
        c = RawConnection(server.port)
        out.append(c.command("PING"))
        c.close()
        now = counts()
        out.append((now[0] - base[0], now[1] - base[1]))
    out.append(b.command("PING"))
    a.close()
    b.close()
    return out


def test_info_connection_counts_match():
    result = same_on_pair({"maxclients": "2"}, connections_run)
    assert result[0] == b"-ERR max number of clients reached\r\n", result
