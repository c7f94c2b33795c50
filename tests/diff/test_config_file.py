"""Start-up from a config file and CONFIG REWRITE, against the oracle.

- Redis 7.2's full redis.conf (tests/diff/data/redis-7.2.6.conf, shipped with its licence),
  with its commented-out example directives switched on as well: both servers refuse the
  same example lines with the same reason, start from the rest, and list the same CONFIG
  GET * afterwards. Their logs carry Redis's start-up lines in Redis's order.
- Broken files: the same FATAL CONFIG FILE ERROR block (or log line) and exit status.
- rename-command: a command renamed or removed, for clients, MULTI and scripts.
- CONFIG REWRITE of the same file after the same CONFIG SETs: the same file, once the
  paths and ports that must differ are normalised; the error without a config file.
- CONFIG RESETSTAT: the counters Redis zeroes are zeroed.
"""
import difflib
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import support
from harness import info_fields, start_pair, stop_pair
from resp import RawConnection, parse

HERE = os.path.dirname(os.path.abspath(__file__))
FULL_CONF = os.path.join(HERE, "data", "redis-7.2.6.conf")

# Commented-out examples left off: they would make the servers unreachable or unlike each
# other for reasons outside the config file (listeners, sockets, passwords, TLS the oracle
# is built without, cluster mode, syslog, supervision, files that do not exist here).
EXAMPLE_SKIP = {"bind", "unixsocket", "port", "tls-port", "tls-replication", "tls-cluster", "supervised",
                "aclfile", "requirepass", "cluster-enabled", "syslog-enabled", "daemonize", "logfile",
                "pidfile", "dir", "include", "rename-command", "user", "loadmodule", "always-show-logo",
                # Replication is not built: no NOREPLICAS refusal of writes yet.
                "min-replicas-to-write"}
# CONFIG GET * values that must differ, and why.
KNOWN_VALUE_DIFFS = {"port": "a free port each", "dir": "a temporary directory each",
                     "pidfile": "a file in that directory each"}
LOG_LINE = re.compile(r"^\d+:[CMSX] \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} [.*#-] ")
STARTUP_LINES = [
    r"oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
    r"Redis version=7\.2\.\d+, bits=64, commit=[0-9a-f]+, modified=\d, pid=\d+, just started",
    r"Configuration loaded",
    r"Server initialized",
    r"Ready to accept connections tcp",
]


def needs_72():
    if not support.oracle_is_72():
        pytest.fail("needs the Redis 7.2 oracle (7.0's parameters, defaults and texts differ): "
                    "build it with tests/oracle.sh", pytrace=False)


def config_map(c):
    kids = parse(c.command("CONFIG", "GET", "*")).children
    return {k.value.decode(): v.value for k, v in zip(kids[::2], kids[1::2])}


def start(kind, workdir, config_file, **config):
    """A server of `kind` on `config_file`; its pid file and work directory are `workdir`."""
    os.makedirs(workdir, exist_ok=True)
    config.setdefault("pidfile", os.path.join(workdir, "server.pid"))
    starter = support.start_redis if kind == "redis" else support.start_cinnabar
    return starter(workdir=workdir, config_file=config_file, **config)


def run_to_exit(binary, config_file, cwd):
    """Start `binary` on a file it must refuse: (exit status, its output, log prefixes and
    the process's own name removed)."""
    p = subprocess.run([binary, config_file], cwd=cwd, capture_output=True, timeout=20)
    lines = []
    for line in (p.stdout + p.stderr).decode(errors="replace").split("\n"):
        if "Memory overcommit" in line:  # the oracle's check of the host, not of the file
            continue
        lines.append(re.sub(r"pid=\d+", "pid=PID", LOG_LINE.sub("", line)).replace(binary, "SERVER"))
    return p.returncode, "\n".join(lines).strip()


def example_lines():
    """The commented-out example directives of redis.conf ("# name value") whose name is a
    parameter, minus EXAMPLE_SKIP."""
    oracle = support.start_redis()
    try:
        c = RawConnection(oracle.port)
        names = set(config_map(c))
        c.close()
    finally:
        oracle.stop()
    out = []
    for line in open(FULL_CONF):
        m = re.match(r"^# ?([a-z][a-z0-9-]*) (\S.*)$", line.rstrip("\n"))
        if m and m.group(1) in names and m.group(1) not in EXAMPLE_SKIP:
            out.append(f"{m.group(1)} {m.group(2)}")
    return out


def start_refusing_lines(kind, root, lines):
    """Start a server on redis.conf followed by `lines`, dropping each line it refuses
    (FATAL CONFIG FILE ERROR at that line) and starting again: (the server, {line: the
    reason given}). Only the example lines may be refused."""
    base = open(FULL_CONF).read().rstrip("\n").split("\n")
    lines = list(lines)
    refused = {}
    for attempt in range(len(lines) + 1):
        path = os.path.join(root, f"{kind}-{attempt}.conf")
        with open(path, "w") as f:
            f.write("\n".join(base + lines) + "\n")
        work = os.path.join(root, f"{kind}-{attempt}")
        try:
            return start(kind, work, path), refused
        except RuntimeError as e:
            m = re.search(r"at line (\d+)\n>>> '(.*)'\n(.*)\n", str(e))
            assert m, f"{kind} did not start and gave no FATAL CONFIG FILE ERROR: {e}"
            n = int(m.group(1)) - len(base) - 1
            assert 0 <= n < len(lines), f"{kind} refused redis.conf's own line {m.group(1)}: {m.group(2)}"
            refused[lines.pop(n)] = m.group(3)
    raise AssertionError("unreachable")


def test_full_redis_conf_with_its_examples_starts_both_alike(tmp_path):
    needs_72()
    lines = example_lines()
    assert len(lines) > 80  # the examples were found
    servers = []
    try:
        oracle, want_refused = start_refusing_lines("redis", str(tmp_path), lines)
        servers.append(oracle)
        subject, refused = start_refusing_lines("cinnabar", str(tmp_path), lines)
        servers.append(subject)
        assert refused == want_refused
        maps = []
        for s in servers:
            c = RawConnection(s.port)
            try:
                m = {k: v for k, v in config_map(c).items() if k not in KNOWN_VALUE_DIFFS}
                # min-replicas-to-write 3 among the examples: writes refused alike.
                m["(SET k v)"] = c.command("SET", "k", "v")
                maps.append(m)
            finally:
                c.close()
        diffs = {k: (maps[0].get(k), maps[1].get(k)) for k in set(maps[0]) | set(maps[1])
                 if maps[0].get(k) != maps[1].get(k)}
        assert not diffs, f"(redis, cinnabar): {diffs}"
        for s in servers:
            log = [LOG_LINE.sub("", l) for l in s.read_log().split("\n") if LOG_LINE.match(l)]
            at = 0
            for want in STARTUP_LINES:
                found = [i for i, l in enumerate(log) if re.fullmatch(want, l)]
                assert found and found[0] >= at, f"{s.kind}: {want!r} missing or out of order in {log}"
                at = found[0]
    finally:
        for s in servers:
            s.stop()


BAD_FILES = [
    "foo bar",
    "maxmemory 1xb",
    "maxmemory",
    "port 1 2",
    'hz "abc',
    "save 0 1",
    "appendonly maybe",
    "mod.x 1",
    "include /nonexistent/x.conf",
    "rename-command nosuch foo",
    "rename-command get set",
    "rename-command get",
    "rename-command get fetch\nrename-command get again",
    "rename-command get fetch\nrename-command set fetch",
    "include INCLUDED\nhz 11 12",
    "include INCLUDED_BAD",
    "bind 127.0.0.1\nmaxclients 0",
    "notify-keyspace-events Q",
    "client-output-buffer-limit master 0 0 0",
    "list-max-ziplist-entries 5\nlist-max-ziplist-value 6\nlua-replicate-commands yes\nnosuch",
]


@pytest.mark.parametrize("body", BAD_FILES)
def test_bad_config_file_fails_as_redis_does(tmp_path, body):
    """The same output (FATAL CONFIG FILE ERROR block with line, text and reason, or the log
    line about an include) and exit status 1, twice in a row."""
    needs_72()
    inc = tmp_path / "inc.conf"
    inc.write_text("# included\nmaxmemory-policy allkeys-lru\n")
    bad = tmp_path / "inc-bad.conf"
    bad.write_text("hz 5\nnosuch directive\n")
    path = tmp_path / "bad.conf"
    path.write_text(body.replace("INCLUDED_BAD", str(bad)).replace("INCLUDED", str(inc)) + "\n")
    for _ in range(2):
        want = run_to_exit(support.redis_binary(), str(path), str(tmp_path))
        got = run_to_exit(support.cinnabar_binary(), str(path), str(tmp_path))
        assert want[0] == 1 and got == want


RENAMES = 'rename-command get fetch\nrename-command flushall ""\nrename-command fetch g2\nrename-command config CFG\n'
RENAME_SCRIPT = [
    ("SET", "k", "v"), ("GET", "k"), ("FETCH", "k"), ("g2", "k"), ("G2", "k"), ("FLUSHALL",), ("CONFIG", "GET", "hz"),
    ("cfg", "get", "hz"), ("CFG", "NOSUCH"), ("MULTI",), ("g2", "k"), ("get", "k"), ("EXEC",), ("MULTI",), ("g2", "k"),
    ("EXEC",), ("EVAL", "return redis.call('g2', 'k')", "0"), ("EVAL", "return redis.pcall('get', 'k')", "0"),
    ("COMMAND", "INFO", "flushall", "set"), ("DEL", "k"), ("g2", "k"),
    # COMMAND INFO / DOCS / GETKEYS look a name up as a client sends it (the new name),
    # and answer with the command's own.
    ("COMMAND", "INFO", "g2", "get", "fetch"), ("COMMAND", "INFO", "cfg|get", "config|get"),
    ("COMMAND", "DOCS", "g2", "get", "cfg|set"), ("COMMAND", "GETKEYS", "g2", "k"),
    ("COMMAND", "GETKEYS", "get", "k"), ("COMMAND", "GETKEYSANDFLAGS", "G2", "k"),
    ("COMMAND", "GETKEYS", "cfg", "get", "hz"),
]


def test_rename_command_renames_and_removes(tmp_path):
    """Renamed commands answer to their new name only, removed ones to none, from clients,
    in MULTI and in scripts; COMMAND INFO / DOCS / GETKEYS find them by their new names and
    show their own (RESP2, RESP3)."""
    needs_72()
    path = tmp_path / "renames.conf"
    path.write_text(RENAMES)
    servers = []
    try:
        for kind in ("redis", "cinnabar"):
            servers.append(start(kind, str(tmp_path / kind), str(path)))
        for proto in (2, 3):
            replies = []
            for s in servers:
                c = RawConnection(s.port)
                try:
                    if proto == 3:
                        assert c.command("HELLO", "3")[:1] == b"%"
                    replies.append([c.command(*cmd) for cmd in RENAME_SCRIPT])
                finally:
                    c.close()
            for cmd, want, got in zip(RENAME_SCRIPT, *replies):
                assert got == want, (proto, cmd)
    finally:
        for s in servers:
            s.stop()


REWRITE_CONF = """# A config file with comments, blank lines and directives of every kind.

# network
timeout 0
tcp-keepalive 300

save 900 1
save 300 10
slave-read-only no
hash-max-ziplist-entries 100
hz 10
maxmemory 10mb
maxmemory-policy allkeys-lru
notify-keyspace-events Ex
client-output-buffer-limit pubsub 32mb 8mb 60
include INCLUDED
rename-command flushall ""
rename-command keys ""
# Generated by CONFIG REWRITE
loglevel notice
"""
REWRITE_SETS = [
    ("maxmemory", "20mb"), ("timeout", "30"), ("hz", "10"), ("replica-read-only", "yes"),
    ("notify-keyspace-events", "KEA"), ("save", "3600 1 60 5"), ("maxmemory-clients", "10%"),
    ("client-output-buffer-limit", "normal 1mb 512kb 10"), ("lfu-log-factor", "12"), ("appendfsync", "always"),
    ("slowlog-max-len", "64"), ("oom-score-adj-values", "0 100 900"), ("latency-tracking-info-percentiles", "50 99"),
    ("loglevel", "warning"), ("list-max-ziplist-size", "-3"), ("tcp-keepalive", "300"), ("masterauth", "sekret"),
    ("proc-title-template", "{title} {port}"), ("shutdown-on-sigterm", "save now"),
]


def normalise(text, server):
    """The file with the server's own directory and port replaced, and the lines after the
    signature sorted: Redis appends them in the order of its hash table of parameters,
    which is seeded at random in each process."""
    text = text.replace(server.dir, "DIR").replace(f"port {server.port}", "port PORT")
    head, sig, tail = text.partition("# Generated by CONFIG REWRITE\n")
    return head + sig + "\n".join(sorted(tail.split("\n")))


def test_config_rewrite_writes_the_file_redis_writes(tmp_path):
    """The same config file, the same CONFIG SETs, CONFIG REWRITE twice: byte for byte the
    file Redis writes (comments and unknown lines kept, lines changed in place, new ones
    after the signature, lines at their default dropped as Redis drops them, include and
    rename-command kept). Then each server starts again from its own file."""
    needs_72()
    inc = tmp_path / "inc.conf"
    inc.write_text("lfu-decay-time 2\n")
    servers, texts = [], []
    try:
        for kind in ("redis", "cinnabar"):
            work = tmp_path / kind
            path = tmp_path / f"{kind}.conf"
            path.write_text(REWRITE_CONF.replace("INCLUDED", str(inc)))
            s = start(kind, str(work), str(path))
            servers.append(s)
            c = RawConnection(s.port)
            try:
                for name, value in REWRITE_SETS:
                    assert c.command("CONFIG", "SET", name, value) == b"+OK\r\n", (kind, name)
                for _ in range(2):
                    assert c.command("CONFIG", "REWRITE") == b"+OK\r\n"
            finally:
                c.close()
            texts.append(normalise(path.read_text(), s))
        assert texts[1] == texts[0], "\n".join(difflib.unified_diff(texts[0].split("\n"), texts[1].split("\n"), "redis", "cinnabar", lineterm=""))
        for s in servers:
            s.stop()
        servers = []
        for kind in ("redis", "cinnabar"):
            work = tmp_path / kind  # the dir line of the file names it
            servers.append(start(kind, str(work), str(tmp_path / f"{kind}.conf")))
        maps = []
        for s in servers:
            c = RawConnection(s.port)
            try:
                maps.append({k: v for k, v in config_map(c).items() if k not in KNOWN_VALUE_DIFFS})
            finally:
                c.close()
        assert maps[0] == maps[1]
    finally:
        for s in servers:
            s.stop()


def test_config_rewrite_with_requirepass(tmp_path):
    """requirepass set at run time: the same rewritten file (the default user's line carries
    the password's SHA-256), and both start again from it asking for that password."""
    needs_72()
    texts, servers = [], []
    try:
        for kind in ("redis", "cinnabar"):
            path = tmp_path / f"{kind}.conf"
            path.write_text("hz 10\nuser default on nopass sanitize-payload ~* &* +@all\n")
            s = start(kind, str(tmp_path / kind), str(path))
            servers.append(s)
            c = RawConnection(s.port)
            try:
                assert c.command("CONFIG", "SET", "requirepass", "s3cret") == b"+OK\r\n"
                assert c.command("CONFIG", "REWRITE") == b"+OK\r\n"
            finally:
                c.close()
            texts.append(normalise(path.read_text(), s))
        assert texts[1] == texts[0]
        assert "#" + __import__("hashlib").sha256(b"s3cret").hexdigest() in texts[0]
        for s in servers:
            s.stop()
        servers = []
        for kind in ("redis", "cinnabar"):
            servers.append(start(kind, str(tmp_path / kind), str(tmp_path / f"{kind}.conf")))
        replies = []
        for s in servers:
            c = RawConnection(s.port)
            try:
                replies.append([c.command("GET", "x"), c.command("AUTH", "wrong"), c.command("AUTH", "s3cret"),
                                c.command("GET", "x")])
            finally:
                c.close()
        assert replies[1] == replies[0] and replies[0][-1] == b"$-1\r\n"
    finally:
        for s in servers:
            s.stop()


def test_config_rewrite_without_a_config_file():
    pair = start_pair()
    try:
        for proto in (2, 3):
            for s in pair:
                c = RawConnection(s.port)
                try:
                    if proto == 3:
                        assert c.command("HELLO", "3")[:1] == b"%"
                    for _ in range(2):
                        assert c.command("CONFIG", "REWRITE") == b"-ERR The server is running without a config file\r\n"
                finally:
                    c.close()
    finally:
        stop_pair(pair)


# INFO stats fields that are not counters CONFIG RESETSTAT concerns (gauges, rates, or
# about machinery outside this test), so their values after it are not compared.
RESETSTAT_IGNORE = {"instantaneous_ops_per_sec", "instantaneous_input_kbps", "instantaneous_output_kbps",
                    "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps", "pubsub_channels",
                    "pubsub_patterns", "pubsubshard_channels", "tracking_total_keys", "tracking_total_items",
                    "tracking_total_prefixes", "total_active_defrag_time", "current_active_defrag_time",
                    "current_eviction_exceeded_time", "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds",
                    "io_threaded_reads_processed", "io_threaded_writes_processed", "client_query_buffer_limit_disconnections",
                    "client_output_buffer_limit_disconnections", "reply_buffer_shrinks", "reply_buffer_expands",
                    "eventloop_cycles", "eventloop_duration_sum", "eventloop_duration_cmd_sum",
                    "instantaneous_eventloop_cycles_per_sec", "instantaneous_eventloop_duration_usec",
                    "acl_access_denied_auth", "acl_access_denied_cmd", "acl_access_denied_key",
                    "acl_access_denied_channel", "unexpected_error_replies", "dump_payload_sanitizations",
                    "latest_fork_usec", "total_forks", "migrate_cached_sockets", "slave_expires_tracked_keys",
                    "active_defrag_running", "evicted_clients", "evicted_scripts", "total_eviction_exceeded_time",
                    "sync_full", "sync_partial_ok", "sync_partial_err", "active_defrag_hits", "active_defrag_misses",
                    "active_defrag_key_hits", "active_defrag_key_misses", "total_blocking_keys",
                    "total_blocking_keys_on_nokey", "total_net_repl_input_bytes", "total_net_repl_output_bytes"}


def test_config_resetstat_zeroes_what_redis_zeroes():
    """After traffic (hits, misses, errors, expiries, connections), CONFIG RESETSTAT: the
    same INFO stats counters at zero on both (the bytes and connection counts count the
    INFO that reads them, so they are compared as zero or not), commandstats holding only
    what ran after it, errorstats empty, twice in a row."""
    import time
    pair = start_pair()
    try:
        results = []
        for s in pair:
            extra = RawConnection(s.port)
            extra.close()
            c = RawConnection(s.port)
            try:
                c.command("SET", "a", "1")
                c.command("GET", "a")
                c.command("GET", "missing")
                c.command("INCR", "nosuchcmd-x", "y")
                c.command("NOSUCHCMD")
                c.command("SET", "e", "1", "PX", "1")
                time.sleep(0.05)
                c.command("GET", "e")
                got = []
                for _ in range(2):
                    assert c.command("CONFIG", "RESETSTAT") == b"+OK\r\n"
                    stats = info_fields(c, "stats")
                    got.append((
                        {k: v == "0" for k, v in stats.items() if k not in RESETSTAT_IGNORE},
                        sorted(info_fields(c, "commandstats")),
                        info_fields(c, "errorstats"),
                    ))
                results.append(got)
            finally:
                c.close()
        assert results[1] == results[0]
    finally:
        stop_pair(pair)


MULTI_ARG = """client-output-buffer-limit "normal 1mb 512kb 10"
client-output-buffer-limit "pubsub 4mb 2mb 30"
save "900 1 300 10"
latency-tracking-info-percentiles "50 99.9"
oom-score-adj-values "0 200 800"
"""


def test_multi_argument_directives_given_as_one_quoted_argument(tmp_path):
    """Redis splits a multi-argument directive's single quoted argument (loadServerConfig:
    `client-output-buffer-limit "normal 0 0 0"`), in the file and on the command line; the
    values then read back alike."""
    needs_72()
    path = tmp_path / "multi.conf"
    path.write_text(MULTI_ARG)
    names = ("client-output-buffer-limit", "save", "latency-tracking-info-percentiles", "oom-score-adj-values")
    servers = []
    try:
        for kind in ("redis", "cinnabar"):
            servers.append(start(kind, str(tmp_path / kind), str(path), **{"shutdown-on-sigterm": "nosave now"}))
        got = []
        for s in servers:
            m = config_map(RawConnection(s.port))
            got.append({n: m[n] for n in names + ("shutdown-on-sigterm",)})
        assert got[1] == got[0], got
        assert got[0]["client-output-buffer-limit"].startswith(b"normal 1048576 524288 10 "), got
    finally:
        for s in servers:
            s.stop()
