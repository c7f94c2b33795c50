"""The append-only file against Redis 7.2's: the multi-part directory (manifest, base,
incr files) in the same form, each server loading the other's directory (and
redis-check-aof accepting ours), a torn tail cut or refused per aof-load-truncated with
Redis's log lines, CONFIG SET appendonly at run time, BGREWRITEAOF and a restart on what it
wrote, the INFO fields. Each test starts its own servers in temporary directories and stops
them."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from resp import RawConnection
from support import redis_tool, start_cinnabar, start_redis

AOF = dict(appendonly="yes")


def client(server):
    return redis.Redis(port=server.port, decode_responses=False)


def restart(server, start, **config):
    """Stop `server` (SIGTERM: the AOF flushed) and start a server of `start`'s kind on its
    directory."""
    server._end_process()
    return start(workdir=server.dir, **config)


def aofdir(server):
    return os.path.join(server.dir, "appendonlydir")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def log_lines(server, pattern):
    """The log lines matching `pattern`, without their pid/time prefix."""
    text = read(os.path.join(server.dir, "server.log")).decode(errors="replace")
    return [re.sub(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [*#.-] ", "", line)
            for line in text.splitlines() if re.search(pattern, line)]


def wait_rewrite(c):
    deadline = time.time() + 10
    while time.time() < deadline:
        info = c.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return info
        time.sleep(0.02)
    raise AssertionError("the rewrite did not end")


def fill(c):
    """A dataset with every type, expiries and two databases."""
    c.set("s", "hello")
    c.set("n", 42)
    c.set("big", "x" * 100)
    c.pexpire("s", 100000)
    c.rpush("l", *[f"e{i}" for i in range(150)], 7)
    c.sadd("ints", *range(70))
    c.sadd("st", "a", "b", "c")
    c.zadd("z", {f"m{i}": i / 3 for i in range(70)})
    c.hset("h", mapping={f"f{i}": f"v{i}" for i in range(70)})
    c.xadd("x", {"f": "v"}, id="1-1")
    c.xadd("x", {"f": "w", "g": "z"}, id="2-1")
    c.xgroup_create("x", "g", id="0")
    c.xreadgroup("g", "c1", {"x": ">"}, count=1)
    c.xgroup_createconsumer("x", "g", "idle")
    c.xadd("empty", {"a": "b"}, id="5-5")
    c.xdel("empty", "5-5")
    c.pfadd("hll", "a", "b", "c")
    c.execute_command("SELECT", 3)
    c.set("db3", "three")
    c.execute_command("SELECT", 0)


def dataset(c):
    """Every key of databases 0-3 with its type, value (ordered) and whether it has a TTL."""
    out = {}
    for db in range(4):
        c.execute_command("SELECT", db)
        for key in sorted(c.scan_iter(count=1000)):
            t = c.type(key)
            if t == b"string":
                v = c.get(key)
            elif t == b"list":
                v = c.lrange(key, 0, -1)
            elif t == b"set":
                v = sorted(c.smembers(key))
            elif t == b"zset":
                v = c.zrange(key, 0, -1, withscores=True)
            elif t == b"hash":
                v = sorted(c.hgetall(key).items())
            elif t == b"stream":
                info = c.xinfo_stream(key)
                groups = c.xinfo_groups(key)
                v = (c.xrange(key), [info[k] for k in ("length", "last-generated-id", "max-deleted-entry-id",
                                                        "entries-added")],
                     groups, [[(x["name"], x["pending"]) for x in c.xinfo_consumers(key, g["name"])] for g in groups])
            out[(db, key)] = (t, v, c.pttl(key) > 0)
    c.execute_command("SELECT", 0)
    return out


def test_fresh_directory_as_redis_creates_it():
    """appendonly yes on an empty directory: the same files, the same manifest, a base that
    is an RDB preamble with the same aux fields, and redis-check-aof accepts ours."""
    servers = [start_redis(**AOF), start_cinnabar(**AOF)]
    try:
        listings = [sorted(os.listdir(aofdir(s))) for s in servers]
        assert listings[0] == listings[1] == [
            "appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof", "appendonly.aof.manifest"]
        manifests = [read(os.path.join(aofdir(s), "appendonly.aof.manifest")) for s in servers]
        assert manifests[0] == manifests[1]
        aux = [re.findall(rb"(?s)\xfa.([a-z-]+)", read(os.path.join(aofdir(s), "appendonly.aof.1.base.rdb")))
               for s in servers]
        assert aux[0] == aux[1] == [b"redis-ver", b"redis-bits", b"ctime", b"used-mem", b"aof-base"]
        for pattern in ("Creating AOF base file", "Creating AOF incr file"):
            assert log_lines(servers[0], pattern) == log_lines(servers[1], pattern)
        infos = [client(s).info("persistence") for s in servers]
        for field in ("aof_enabled", "aof_rewrite_in_progress", "aof_rewrites", "aof_last_write_status",
                      "aof_current_size", "aof_base_size", "aof_buffer_length", "aof_pending_rewrite"):
            assert infos[0][field] == infos[1][field], field
        servers[1]._end_process()
        check = subprocess.run([redis_tool("redis-check-aof"), os.path.join(aofdir(servers[1]), "appendonly.aof.manifest")],
                               capture_output=True, text=True)
        assert check.returncode == 0 and "All AOF files and manifest are valid" in check.stdout, check.stdout
    finally:
        for s in servers:
            s.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_directory_loads_into_cinnabar(preamble):
    """Redis writes its AOF (its incr file; with aof-use-rdb-preamble no also a rewritten
    base of commands, then more writes); cinnabar started on that directory has the same
    dataset, and logs Redis's load lines."""
    r = start_redis(**AOF, **{"aof-use-rdb-preamble": preamble, "aof-timestamp-enabled": "yes"})
    cb = None
    try:
        rc = client(r)
        fill(rc)
        if preamble == "no":
            rc.bgrewriteaof()
            wait_rewrite(rc)
            rc.rpush("l", "after")
            rc.incr("n")
        multi = rc.pipeline(transaction=True)
        multi.set("in-multi", 1).lpush("l", "first")
        multi.execute()
        r._end_process()
        cb = start_cinnabar(workdir=tempfile.mkdtemp(prefix="cinnabar-test-"), **AOF)
        cb._end_process()
        shutil.rmtree(aofdir(cb))
        shutil.copytree(aofdir(r), aofdir(cb))
        cb = start_cinnabar(workdir=cb.dir, **AOF)
        # (Compared with Redis loading the same files: a replayed XCLAIM ... LASTID leaves
        # a group's entries-read unknown in Redis too.)
        r = start_redis(workdir=r.dir, **AOF)
        assert dataset(client(cb)) == dataset(client(r))
        assert log_lines(cb, "DB loaded from append only file")
        assert client(cb).info("persistence")["aof_base_size"] == os.path.getsize(
            os.path.join(aofdir(r), [f for f in os.listdir(aofdir(r)) if ".base." in f][0]))
    finally:
        r.stop()
        if cb:
            cb.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_cinnabar_directory_loads_into_redis(preamble):
    """cinnabar's AOF (turned on at run time, then rewritten): redis-check-aof accepts it,
    Redis 7.2 loads it with the same dataset, and cinnabar reloads it the same."""
    cb = start_cinnabar(**{"aof-use-rdb-preamble": preamble})
    r = None
    try:
        c = client(cb)
        fill(c)
        assert c.config_set("appendonly", "yes")
        wait_rewrite(c)
        c.bgrewriteaof()
        info = wait_rewrite(c)
        assert info["aof_enabled"] == 1 and info["aof_rewrites"] == 2 and info["aof_last_bgrewrite_status"] == "ok"
        want = dataset(c)
        cb._end_process()
        manifest = os.path.join(aofdir(cb), "appendonly.aof.manifest")
        assert read(manifest) == (b"file appendonly.aof.2.base.%s seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
                                  % (b"rdb" if preamble == "yes" else b"aof"))
        check = subprocess.run([redis_tool("redis-check-aof"), manifest], capture_output=True, text=True)
        assert check.returncode == 0 and "All AOF files and manifest are valid" in check.stdout, check.stdout
        r = start_redis(workdir=tempfile.mkdtemp(prefix="redis-test-"), **AOF)
        r._end_process()
        shutil.rmtree(aofdir(r))
        shutil.copytree(aofdir(cb), aofdir(r))
        r = start_redis(workdir=r.dir, **AOF)
        assert dataset(client(r)) == want
        cb = start_cinnabar(workdir=cb.dir, **AOF)
        assert dataset(client(cb)) == want
    finally:
        cb.stop()
        if r:
            r.stop()


TORN = b"*3\r\n$3\r\nset\r\n$1\r\nz\r\n$2\r\nab"


def torn_directory(server):
    """Put a torn command at the end of the server's (stopped) incr file."""
    with open(os.path.join(aofdir(server), "appendonly.aof.1.incr.aof"), "ab") as f:
        f.write(TORN)


def same_files():
    """A Redis and a cinnabar, stopped, with the directory Redis wrote after SET kept 1
    (each server then starts on the same files)."""
    r = start_redis(**AOF)
    client(r).set("kept", "1")
    r._end_process()
    cb = start_cinnabar(**AOF)
    cb._end_process()
    shutil.rmtree(aofdir(cb))
    shutil.copytree(aofdir(r), aofdir(cb))
    return [r, cb]


@pytest.mark.parametrize("truncated", ["yes", "no"])
def test_torn_tail(truncated):
    """A command cut short at the end of the last incr file: with aof-load-truncated yes it
    is cut off (the file truncated where the last whole command ends) and logged as Redis
    logs it, twice in a row; with no, start-up fails with Redis's message."""
    servers = same_files()
    starts = [start_redis, start_cinnabar]
    try:
        sizes = [os.path.getsize(os.path.join(aofdir(s), "appendonly.aof.1.incr.aof")) for s in servers]
        for _ in range(2):
            for i, s in enumerate(servers):
                torn_directory(s)
                if truncated == "yes":
                    servers[i] = starts[i](workdir=s.dir, **AOF, **{"aof-load-truncated": "yes"})
                    assert client(servers[i]).get("kept") == b"1"
                    assert client(servers[i]).exists("z") == 0
                    servers[i]._end_process()
                    assert os.path.getsize(os.path.join(aofdir(s), "appendonly.aof.1.incr.aof")) == sizes[i]
                else:
                    with pytest.raises(RuntimeError, match="exited with 1"):
                        starts[i](workdir=s.dir, **AOF, **{"aof-load-truncated": "no"})
                    with open(os.path.join(aofdir(s), "appendonly.aof.1.incr.aof"), "r+b") as f:
                        f.truncate(sizes[i])
        pattern = r"short read|Truncating|loaded anyway|Unexpected end of file"
        # (As sets: a start that fails can be retried by support.Server when its port was
        # taken meanwhile, logging its lines twice.)
        assert set(log_lines(servers[0], pattern)) == set(log_lines(servers[1], pattern))
        assert len(set(log_lines(servers[1], pattern))) == (3 if truncated == "yes" else 1)
        assert len(log_lines(servers[1], pattern)) >= (6 if truncated == "yes" else 2)
    finally:
        for s in servers:
            s.stop()


def test_torn_transaction_is_dropped_whole():
    """A MULTI without its EXEC at the end: the whole transaction goes (Redis's "Revert
    incomplete MULTI/EXEC transaction")."""
    servers = same_files()
    starts = [start_redis, start_cinnabar]
    try:
        for i, s in enumerate(servers):
            with open(os.path.join(aofdir(s), "appendonly.aof.1.incr.aof"), "ab") as f:
                f.write(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n")
            servers[i] = starts[i](workdir=s.dir, **AOF)
            assert client(servers[i]).get("kept") == b"1" and client(servers[i]).exists("a") == 0
        pattern = r"Revert incomplete|loaded anyway"
        assert log_lines(servers[0], pattern) == log_lines(servers[1], pattern)
    finally:
        for s in servers:
            s.stop()


def bgrewrite_run(server):
    c = client(server)
    raw = RawConnection(server.port)
    out = []
    fill(c)
    out.append(raw.command("BGREWRITEAOF"))
    out.append(raw.command("BGREWRITEAOF"))
    wait_rewrite(c)
    info = c.info("persistence")
    out.append({k: info[k] for k in ("aof_enabled", "aof_rewrites", "aof_last_bgrewrite_status",
                                     "aof_rewrite_in_progress", "aof_rewrite_scheduled")})
    out.append(sorted(os.listdir(aofdir(server))))
    out.append(read(os.path.join(aofdir(server), "appendonly.aof.manifest")))
    return out


def test_bgrewriteaof_then_restart():
    """BGREWRITEAOF: the same replies (started, then already in progress while it runs, as
    Redis slowed by rdb-key-save-delay), the same files and manifest after it, and a
    restart finds the dataset."""
    servers = [start_redis(**AOF, **{"rdb-key-save-delay": 20000}), start_cinnabar(**AOF)]
    starts = [start_redis, start_cinnabar]
    try:
        want, got = [bgrewrite_run(s) for s in servers]
        assert got == want
        assert want[0] == b"+Background append only file rewriting started\r\n"
        assert want[1] == b"-ERR Background append only file rewriting already in progress\r\n"
        before = dataset(client(servers[1]))
        servers[1] = restart(servers[1], starts[1], **AOF)
        assert dataset(client(servers[1])) == before
    finally:
        for s in servers:
            s.stop()


def test_config_set_appendonly_at_run_time():
    """CONFIG SET appendonly yes starts the AOF with a rewrite (the files appear, INFO says
    it is on); no stops it; yes again goes on from the files already there."""
    servers = [start_redis(), start_cinnabar()]
    try:
        runs = []
        for s in servers:
            c = client(s)
            c.set("a", "1")
            out = [c.config_set("appendonly", "yes")]
            wait_rewrite(c)
            out.append(c.info("persistence")["aof_enabled"])
            out.append(sorted(os.listdir(aofdir(s))))
            out.append(c.config_set("appendonly", "no"))
            out.append(c.info("persistence")["aof_enabled"])
            out.append(c.config_set("appendonly", "yes"))
            wait_rewrite(c)
            out.append(sorted(os.listdir(aofdir(s))))
            out.append(read(os.path.join(aofdir(s), "appendonly.aof.manifest")))
            out.append(c.info("persistence")["aof_rewrites"])
            runs.append(out)
        assert runs[1] == runs[0]
    finally:
        for s in servers:
            s.stop()


def test_old_single_file_aof_is_upgraded():
    """An AOF of Redis before 7 (one appendonly.aof in dir) moves into the directory as the
    base of a new manifest, as Redis 7.2 does."""
    servers = []
    try:
        for start in (start_redis, start_cinnabar):
            d = tempfile.mkdtemp(prefix="aof-upgrade-")
            with open(os.path.join(d, "appendonly.aof"), "wb") as f:
                f.write(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$3\r\nold\r\n$1\r\n1\r\n")
            servers.append(start(workdir=d, **AOF))
            assert client(servers[-1]).get("old") == b"1"
        manifests = [read(os.path.join(aofdir(s), "appendonly.aof.manifest")) for s in servers]
        assert manifests[0] == manifests[1] == b"file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        pattern = "migrated an old-style AOF"
        assert log_lines(servers[0], pattern) == log_lines(servers[1], pattern) != []
    finally:
        for s in servers:
            s.stop()


def test_bad_manifest_refused():
    """A manifest Redis cannot read stops start-up with Redis's line, for each error."""
    for text, line in [(b"file a seq 1\n", "Invalid AOF manifest file format"),
                       (b"file a seq 2 type i\nfile b seq 1 type i\n", "Found a non-monotonic sequence number")]:
        logs = []
        for start in (start_redis, start_cinnabar):
            d = tempfile.mkdtemp(prefix="aof-bad-")
            os.mkdir(os.path.join(d, "appendonlydir"))
            with open(os.path.join(d, "appendonlydir", "appendonly.aof.manifest"), "wb") as f:
                f.write(text)
            with pytest.raises(RuntimeError, match="exited with 1"):
                start(workdir=d, **AOF)
            logs.append(read(os.path.join(d, "server.log")).decode())
            shutil.rmtree(d)
        assert all(line in log for log in logs), logs


def write_load(server, seconds, clients=8, pipeline=1):
    """`clients` threads RPUSH 0, 1, 2... to a list each until the server dies or
    `seconds` pass; per list, the values acknowledged with the time of each acknowledgement,
    and the last value sent. Odd clients push through a script: their writes are appended
    by the scripts thread, the others' by the workers (two ways to the disk under
    appendfsync always). With `pipeline` > 1 each client sends that many RPUSHes at a
    time, acknowledged together (rounds big enough for the writer thread's fsync)."""
    import threading
    acked = [[] for _ in range(clients)]
    sent = [-1] * clients
    stop = time.time() + seconds

    def run(i):
        c = redis.Redis(port=server.port, socket_timeout=5)
        n = 0
        try:
            while time.time() < stop:
                if pipeline > 1:
                    sent[i] = n + pipeline - 1
                    p = c.pipeline(transaction=False)
                    for v in range(n, n + pipeline):
                        p.rpush(f"list{i}", v)
                    p.execute()
                    at = time.time()
                    acked[i].extend((v, at) for v in range(n, n + pipeline))
                    n += pipeline
                    continue
                sent[i] = n
                if i % 2:
                    c.eval("return redis.call('rpush', KEYS[1], ARGV[1])", 1, f"list{i}", n)
                else:
                    c.rpush(f"list{i}", n)
                acked[i].append((n, time.time()))
                n += 1
        except (redis.ConnectionError, redis.TimeoutError):
            pass

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    return threads, acked, sent


@pytest.mark.parametrize("fsync,pipeline", [("always", 1), ("always", 50), ("everysec", 1)])
def test_kill_9_during_a_write_load(fsync, pipeline):
    """kill -9 while clients write: after the restart each list is a prefix of what its
    client sent; with appendfsync always it holds every acknowledged write, with everysec
    every write acknowledged more than about a second before the kill."""
    server = start_cinnabar(**AOF, appendfsync=fsync)
    try:
        threads, acked, sent = write_load(server, seconds=30, pipeline=pipeline)
        time.sleep(2.5)
        killed_at = time.time()
        server.proc.kill()
        server.proc.wait()
        for t in threads:
            t.join()
        server.log.close()
        server = start_cinnabar(workdir=server.dir, **AOF, appendfsync=fsync)
        c = client(server)
        for i, history in enumerate(acked):
            got = [int(v) for v in c.lrange(f"list{i}", 0, -1)]
            assert got == list(range(len(got))), f"list{i} is not a prefix of what was sent"
            assert len(got) <= sent[i] + 1
            if fsync == "always":
                need = len(history)
            else:
                need = sum(1 for _, at in history if at < killed_at - 1.5)
            assert len(got) >= need, f"list{i}: {len(got)} survived, {need} needed ({len(history)} acknowledged)"
            assert history, "the load wrote nothing"
    finally:
        server.stop()


def limited(binary, tmp):
    """A wrapper that runs `binary` with files limited to 64 KB (writes past it fail with
    EFBIG, SIGXFSZ ignored): a disk that fills up, for one process."""
    path = os.path.join(tmp, os.path.basename(binary) + "-fsize")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\ntrap '' XFSZ\nulimit -f 128\nexec {binary} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def write_error_run(server):
    c = client(server)
    raw = RawConnection(server.port)
    out = []
    value = "v" * 1000
    error = None
    for i in range(200):
        try:
            c.set(f"k{i}", value)
        except redis.ResponseError as e:
            error = str(e)
            break
        time.sleep(0.002)
    out.append(error)
    out.append(c.info("persistence")["aof_last_write_status"])
    out.append(raw.command("PING"))
    out.append(raw.command("SET", "x", "1"))
    out.append(raw.command("SET", "x", "1"))
    out.append(raw.command("GET", "k0")[:8])
    # Room again (the incr file emptied, under the limit): the next retry, within a
    # second, succeeds.
    os.truncate(os.path.join(aofdir(server), "appendonly.aof.1.incr.aof"), 0)
    deadline = time.time() + 5
    while c.info("persistence")["aof_last_write_status"] != "ok" and time.time() < deadline:
        time.sleep(0.05)
    out.append(raw.command("SET", "x", "2"))
    out.append(c.info("persistence")["aof_last_write_status"])
    return out


def test_write_error_is_reported_and_refuses_writes():
    """The disk fills up under appendfsync everysec: the short write is cut off, INFO says
    aof_last_write_status:err, writes and PING get Redis's MISCONF error (twice), reads go
    on; with room again the AOF recovers ("AOF write error looks solved"), as in Redis."""
    import support
    tmp = tempfile.mkdtemp(prefix="aof-fsize-")
    servers = []
    try:
        for kind, binary in (("redis", support.redis_binary()), ("cinnabar", support.cinnabar_binary())):
            servers.append(support.Server(kind, limited(binary, tmp), dict(AOF)))
        want, got = [write_error_run(s) for s in servers]
        assert got == want
        assert want[0].startswith("MISCONF Errors writing to the AOF file: ")
        for pattern in ("Short write while writing", "looks solved"):
            assert [bool(log_lines(s, pattern)) for s in servers] == [True, True], pattern
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def background_run(server):
    c = client(server)
    raw = RawConnection(server.port)
    for i in range(20):
        c.set(f"k{i}", i)
    out = [raw.command("BGSAVE"), raw.command("BGREWRITEAOF")]
    out.append(c.info("persistence")["aof_rewrite_scheduled"])
    deadline = time.time() + 10
    while c.info("persistence")["aof_rewrites"] == 0 and time.time() < deadline:
        time.sleep(0.02)
    out.append(c.info("persistence")["aof_rewrites"])
    wait_rewrite(c)
    while c.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
        time.sleep(0.02)
    out += [raw.command("BGREWRITEAOF"), raw.command("BGSAVE"), raw.command("BGSAVE", "SCHEDULE")]
    wait_rewrite(c)
    return out


def test_bgsave_and_bgrewriteaof_wait_for_each_other():
    """BGREWRITEAOF during a BGSAVE is scheduled and runs after it; BGSAVE during a rewrite
    is refused, or scheduled with SCHEDULE: Redis's replies (both slowed by
    rdb-key-save-delay)."""
    servers = [start_redis(**AOF, **{"rdb-key-save-delay": 20000}), start_cinnabar(**AOF, **{"rdb-key-save-delay": 20000})]
    try:
        want, got = [background_run(s) for s in servers]
        assert got == want
        assert want[1] == b"+Background append only file rewriting scheduled\r\n" and want[3] == 1
        assert want[5].startswith(b"-ERR Another child process is active (AOF?)")
    finally:
        for s in servers:
            s.stop()
