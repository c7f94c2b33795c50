"""RDB files, both ways with the oracle, and the commands around them (issue 23, part "rdb").

* Round trips: a dataset of every type and encoding saved by cinnabar loads into Redis 7.2
  (and redis-check-rdb accepts the file), saved by Redis loads into cinnabar, and survives
  cinnabar's own restart and DEBUG RELOAD: keys, values, encodings and TTLs compared.
* Damaged files (truncated, a flipped CRC byte, a bad type, a wrong signature or version)
  stop both servers at start-up with the same log lines.
* SAVE/BGSAVE/LASTSAVE replies, MISCONF after failed saves (twice in a row, and gone after a
  good save), BGSAVE inside MULTI, DEBUG RELOAD's replies: the same as the oracle's.
* Save points fire; SHUTDOWN SAVE / NOSAVE, SIGTERM with save points, a failing final save.
* A BGSAVE under a concurrent write load is a point-in-time image.
* LOADING answers and INFO's loading fields while a big file loads.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import support

ORACLE_72 = support.oracle_is_72()


def client(server, **kw):
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=20, **kw)


def new_dir(prefix="rdb-test-"):
    return tempfile.mkdtemp(prefix=prefix)


def wait_exit(server, timeout=10):
    try:
        return server.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def messages(path):
    """The messages of the log at `path`, without the pid, role, time and level marker, and
    with temp file names' pids as N."""
    with open(path, "rb") as f:
        text = f.read().decode(errors="replace")
    out = []
    for line in text.splitlines():
        m = re.match(r"^\d+:[A-Z] \d\d \w{3} \d{4} [\d:.]+ [.*#-] (.*)$", line)
        if m:
            out.append(re.sub(r"temp-\d+\.rdb", "temp-N.rdb", m.group(1)))
    return out


def log_messages(server):
    return messages(os.path.join(server.dir, "server.log"))


# ---------------------------------------------------------------- datasets

def populate(r):
    """Every type and encoding Redis 7.2 writes, TTLs, and three databases."""
    p = r.pipeline(transaction=False)
    p.set("int", 12345)
    p.set("negint", -7)
    p.set("bigint", 2**62)
    p.set("embstr", "hello world")
    p.set("raw", "r" * 100)
    p.set("lzf", "abc" * 500)
    p.set("binary", bytes(range(256)))
    p.set("ttl", "v", px=500_000)
    p.set("empty", "")
    p.pfadd("hll", *[f"e{i}" for i in range(50)])
    p.rpush("list:small", 1, "two", 3.5)
    p.rpush("list:big", *[f"item-{i}" * 3 for i in range(2000)])
    p.hset("hash:small", mapping={"a": 1, "b": "two"})
    p.hset("hash:big", mapping={f"f{i}": f"v{i}" for i in range(1000)})
    p.sadd("set:int", *range(100))
    p.sadd("set:small", "a", "b", "c")
    p.sadd("set:big", *[f"m{i}" for i in range(1000)])
    p.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3})
    p.zadd("zset:big", {f"m{i}": i / 7 for i in range(1000)})
    p.xadd("stream", {"f": "v"}, id="1-1")
    p.xadd("stream", {"f": "w", "g": "x"}, id="2-1")
    p.xgroup_create("stream", "grp", id="0")
    p.execute()
    r.xreadgroup("grp", "alice", {"stream": ">"}, count=1)
    r.expire("hash:big", 1000)
    r.select(2)
    r.set("in2", "x", ex=900)
    r.lpush("list2", "a")
    r.select(15)
    r.set("in15", 1)
    r.select(0)
    r.function_load("#!lua name=mylib\nredis.register_function('f', function() return 1 end)")


def dataset(r):
    """{(db, key): (type, value, encoding, ttl seconds rounded)} of every database, and the
    function libraries' code."""
    out = {}
    for db in range(16):
        r.execute_command("SELECT", db)
        for key in r.scan_iter(count=1000):
            t = r.type(key).decode()
            if t == "string":
                v = r.get(key)
            elif t == "list":
                v = r.lrange(key, 0, -1)
            elif t == "hash":
                v = sorted(r.hgetall(key).items())
            elif t == "set":
                v = sorted(r.smembers(key))
            elif t == "zset":
                v = r.zrange(key, 0, -1, withscores=True)
            elif t == "stream":
                v = (r.xrange(key), r.execute_command("XINFO", "STREAM", key, "FULL"))
            else:
                v = None
            enc = r.object("encoding", key)
            ttl = r.ttl(key)
            out[(db, key)] = (t, v, enc, -1 if ttl < 0 else round(ttl, -2))
    r.execute_command("SELECT", 0)
    libs = sorted(lib.get(b"library_code", lib.get("library_code"))
                  for lib in r.execute_command("FUNCTION", "LIST", "WITHCODE"))
    return out, libs


def start_in(kind, workdir, **config):
    return (support.start_cinnabar if kind == "cinnabar" else support.start_redis)(workdir=workdir, **config)


def save_and_move(server):
    """SAVE, then the dump in a new directory of its own (the server keeps running)."""
    assert client(server).save()
    d = new_dir()
    shutil.copy(os.path.join(server.dir, "dump.rdb"), os.path.join(d, "dump.rdb"))
    return d


@pytest.mark.parametrize("source,target", [("cinnabar", "redis"), ("redis", "cinnabar"), ("cinnabar", "cinnabar")])
def test_round_trip(source, target):
    src = start_in(source, None)
    dst = None
    try:
        r = client(src)
        populate(r)
        before = dataset(r)
        d = save_and_move(src)
        check = subprocess.run([support.redis_tool("redis-check-rdb"), os.path.join(d, "dump.rdb")],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and "RDB looks OK" in check.stdout, check.stdout + check.stderr
        dst = start_in(target, d)
        after = dataset(client(dst))
        assert after == before
        assert f"Done loading RDB, keys loaded: {len(before[0])}, keys expired: 0." in log_messages(dst)
    finally:
        src.stop()
        if dst:
            dst.stop()


def test_debug_reload_keeps_everything():
    s = support.start_cinnabar(**{"enable-debug-command": "yes"})
    try:
        r = client(s)
        populate(r)
        before = dataset(r)
        assert r.execute_command("DEBUG", "RELOAD")
        assert dataset(r) == before
        assert r.execute_command("DEBUG", "RELOAD", "NOSAVE")
        assert dataset(r) == before
        assert "DB reloaded by DEBUG RELOAD" in log_messages(s)
    finally:
        s.stop()


def test_expired_keys_are_dropped_on_load():
    s = support.start_cinnabar()
    try:
        r = client(s)
        r.set("gone", 1, px=300)
        r.set("kept", 1)
        d = save_and_move(s)
        time.sleep(0.4)
        t = support.start_cinnabar(workdir=d)
        try:
            assert client(t).keys() == [b"kept"]
            info = client(t).info("persistence")
            assert (info["rdb_last_load_keys_loaded"], info["rdb_last_load_keys_expired"]) == (1, 1)
            assert "Done loading RDB, keys loaded: 1, keys expired: 1." in log_messages(t)
        finally:
            t.stop()
    finally:
        s.stop()


# ---------------------------------------------------------------- damaged files

def damaged_files():
    """A good small file (saved by the oracle) and damaged copies of it."""
    s = support.start_redis()
    try:
        r = client(s)
        r.set("a", 1)
        r.set("b", "hello", px=900_000)
        r.select(2)
        r.set("c", "x")
        r.save()
        with open(os.path.join(s.dir, "dump.rdb"), "rb") as f:
            good = f.read()
    finally:
        s.stop()
    at = good.index(b"\x01b\x05hello")
    files = {
        "truncated": good[:len(good) - 20],
        "crc": good[:-3] + bytes([good[-3] ^ 1]) + good[-2:],
        "type": good[:at - 1] + b"\x77" + good[at:],
        "length": good[:at + 2] + b"\x45" + good[at + 3:],
        "signature": b"XXX" + good[3:],
        "version": good[:5] + b"0099" + good[9:],
    }
    return files


@pytest.mark.parametrize("rdbchecksum", ["yes", "no"])
def test_damaged_files_are_refused_like_redis(rdbchecksum):
    for name, data in damaged_files().items():
        outcomes = []
        for kind in ("redis", "cinnabar"):
            d = new_dir()
            with open(os.path.join(d, "dump.rdb"), "wb") as f:
                f.write(data)
            binary = support.redis_binary() if kind == "redis" else support.cinnabar_binary()
            port = support.free_port()
            with open(os.path.join(d, "server.log"), "wb") as log:
                p = subprocess.run([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                                    "--rdbchecksum", rdbchecksum], stdout=log, stderr=subprocess.STDOUT,
                                   cwd=d, timeout=10) if name != "crc" or rdbchecksum == "yes" else None
            if p is None:
                shutil.rmtree(d, ignore_errors=True)
                continue
            lines = messages(os.path.join(d, "server.log"))
            keep = ("Loading RDB", "Short read", "Internal error", "Wrong", "Can't handle", "Fatal error",
                    "Done loading")
            outcomes.append((p.returncode, [line for line in lines if line.startswith(keep)]))
            shutil.rmtree(d, ignore_errors=True)
        if outcomes:
            assert outcomes[0] == outcomes[1], name
            assert outcomes[0][0] == 1, name


def test_good_file_with_bad_crc_loads_when_rdbchecksum_is_no():
    data = damaged_files()["crc"]
    d = new_dir()
    with open(os.path.join(d, "dump.rdb"), "wb") as f:
        f.write(data)
    s = support.start_cinnabar(workdir=d, rdbchecksum="no")
    try:
        assert client(s).dbsize() == 2
    finally:
        s.stop()


# ---------------------------------------------------------------- commands

class Raw:
    """One connection speaking RESP2 (or RESP3 after HELLO 3), replies as raw bytes (as the
    oracle gives them)."""

    def __init__(self, server, protocol=2):
        self.s = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        self.buf = b""
        if protocol == 3:
            self("HELLO", "3")

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        if line[:1] in (b"$", b"=", b"!"):
            n = int(line[1:])
            if n < 0:
                return line
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return line + b"\r\n" + data
        if line[:1] in (b"*", b"~", b">"):
            n = int(line[1:])
            return [line] + [self._reply() for _ in range(max(n, 0))]
        if line[:1] in (b"%", b"|"):
            n = int(line[1:])
            return [line] + [self._reply() for _ in range(2 * n)]
        return line

    def __call__(self, *args):
        parts = [str(a).encode() if not isinstance(a, bytes) else a for a in args]
        self.s.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        return self._reply()

    def close(self):
        self.s.close()


def normalise(reply):
    """Replies that differ only by time (LASTSAVE) made comparable."""
    if isinstance(reply, bytes) and reply.startswith(b":") and len(reply) > 9:
        return b":<time>"
    return reply


def both(script, protocol=2, **config):
    """Run `script(conn, server)` against the oracle and cinnabar over RESP`protocol`;
    their replies."""
    results = []
    for start in (support.start_redis, support.start_cinnabar):
        s = start(**config)
        try:
            c = Raw(s, protocol)
            results.append([normalise(x) for x in script(c, s)])
            c.close()
        finally:
            s.stop()
    return results


@pytest.mark.parametrize("protocol", [2, 3])
def test_save_bgsave_lastsave_replies(protocol):
    def script(c, s):
        out = [c("SET", "k", "v"), c("SAVE"), c("LASTSAVE"), c("BGSAVE"), c("BGSAVE", "FOO"),
               c("BGSAVE", "SCHEDULE", "X")]
        time.sleep(0.5)
        out += [c("MULTI"), c("BGSAVE"), c("BGSAVE", "SCHEDULE"), c("EXEC")]
        time.sleep(1.5)
        info = c("INFO", "persistence")
        out.append(re.findall(rb"rdb_(?:saves|bgsave_in_progress|last_bgsave_status|changes_since_last_save):\S+",
                              info.split(b"\r\n", 1)[1]))
        out += [c("MULTI"), c("SAVE"), c("DISCARD")]
        return out
    redis_side, ours = both(script, protocol)
    assert ours == redis_side


@pytest.mark.parametrize("protocol", [2, 3])
def test_misconf_after_failed_saves_and_gone_after_a_good_one(protocol):
    def script(c, s):
        gone = os.path.join(s.dir, "gone")
        os.mkdir(gone)
        out = [c("CONFIG", "SET", "dir", gone), c("SET", "a", "1")]
        os.rmdir(gone)
        out.append(c("BGSAVE"))
        time.sleep(0.5)
        for _ in range(2):
            out += [c("SET", "a", "2"), c("PING"), c("GET", "a"), c("INCR", "n")]
        out += [c("MULTI"), c("SET", "a", "3"), c("EXEC")]
        out.append(c("BGSAVE"))
        time.sleep(0.5)
        out += [c("SET", "a", "2"), c("SAVE"), c("SET", "a", "2")]
        info = c("INFO", "persistence")
        out.append(re.findall(rb"rdb_(?:saves|last_bgsave_status):\S+", info.split(b"\r\n", 1)[1]))
        out += [c("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"), c("SET", "a", "4"),
                c("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"), c("SET", "a", "5"),
                c("CONFIG", "SET", "save", ""), c("SET", "a", "6"), c("CONFIG", "SET", "save", "3600 1"),
                c("SET", "a", "7")]
        out += [c("CONFIG", "SET", "dir", s.dir), c("SET", "a", "8"), c("SAVE"), c("SET", "a", "9"), c("PING")]
        info = c("INFO", "persistence")
        out.append(re.findall(rb"rdb_(?:saves|last_bgsave_status|changes_since_last_save):\S+",
                              info.split(b"\r\n", 1)[1]))
        return out
    redis_side, ours = both(script, protocol, save="3600 1", **{"enable-protected-configs": "yes"})
    assert ours == redis_side
    assert any(isinstance(x, bytes) and x.startswith(b"-MISCONF") for x in ours)


@pytest.mark.parametrize("protocol", [2, 3])
def test_debug_reload_replies(protocol):
    def script(c, s):
        out = [c("SET", "a", "1"),
               c("FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f', function() return 1 end)"),
               c("DEBUG", "RELOAD"), c("FCALL", "f", "0"), c("DEBUG", "RELOAD", "NOFLUSH"), c("DEBUG", "RELOAD", "FOO"),
               c("DEBUG", "RELOAD", "NOFLUSH", "MERGE"), c("DBSIZE"), c("DEBUG", "RELOAD", "NOSAVE"), c("GET", "a")]
        os.remove(os.path.join(s.dir, "dump.rdb"))
        out += [c("DEBUG", "RELOAD", "NOSAVE")]
        return out
    redis_side, ours = both(script, protocol, **{"enable-debug-command": "yes"})
    assert ours == redis_side


def test_flushall_saves_with_save_points():
    def script(c, s):
        out = [c("SET", "a", "1"), c("SET", "b", "1"), c("FLUSHALL")]
        info = c("INFO", "persistence")
        out.append(re.findall(rb"rdb_(?:saves|changes_since_last_save):\S+", info.split(b"\r\n", 1)[1]))
        out.append(os.path.exists(os.path.join(s.dir, "dump.rdb")))
        out += [c("CONFIG", "SET", "save", ""), c("SET", "a", "1"), c("FLUSHALL")]
        info = c("INFO", "persistence")
        out.append(re.findall(rb"rdb_changes_since_last_save:\S+", info))
        return out
    redis_side, ours = both(script, save="3600 1")
    assert ours == redis_side


# ---------------------------------------------------------------- save points and shutdown

def test_save_points_fire():
    s = support.start_cinnabar(save="1 2")
    try:
        r = client(s)
        r.set("a", 1)
        time.sleep(2.2)
        assert not os.path.exists(os.path.join(s.dir, "dump.rdb"))  # one change: not due
        r.set("b", 1)
        deadline = time.time() + 5
        while time.time() < deadline and r.info("persistence")["rdb_changes_since_last_save"] != 0:
            time.sleep(0.05)
        info = r.info("persistence")
        assert info["rdb_changes_since_last_save"] == 0
        assert info["rdb_last_bgsave_status"] == "ok"
        assert "2 changes in 1 seconds. Saving..." in log_messages(s)
        assert "Background saving terminated with success" in log_messages(s)
        assert os.path.exists(os.path.join(s.dir, "dump.rdb"))
    finally:
        s.stop()


def restart_and_keys(d):
    t = support.start_cinnabar(workdir=d)
    try:
        return sorted(client(t).keys())
    finally:
        t.stop()


def keep_dir(s):
    """Take the server's directory over (its stop() removes it otherwise)."""
    d = new_dir()
    os.rmdir(d)
    shutil.copytree(s.dir, d)
    return d


def test_shutdown_save_nosave_and_sigterm():
    # SIGTERM with save points: a final save.
    s = support.start_cinnabar(save="3600 1")
    client(s).set("a", 1)
    s.proc.send_signal(signal.SIGTERM)
    assert wait_exit(s) == 0
    assert "Saving the final RDB snapshot before exiting." in log_messages(s)
    assert "DB saved on disk" in log_messages(s)
    d = keep_dir(s)
    s.stop()
    assert restart_and_keys(d) == [b"a"]
    # SHUTDOWN NOSAVE with save points: nothing saved.
    s = support.start_cinnabar(save="3600 1")
    client(s).set("b", 1)
    assert client(s).shutdown(nosave=True) is None
    assert wait_exit(s) == 0
    assert not os.path.exists(os.path.join(s.dir, "dump.rdb"))
    s.stop()
    # SHUTDOWN SAVE without save points: saved.
    s = support.start_cinnabar()
    client(s).set("c", 1)
    assert client(s).shutdown(save=True) is None
    assert wait_exit(s) == 0
    d = keep_dir(s)
    s.stop()
    assert restart_and_keys(d) == [b"c"]


def test_failing_final_save_stops_the_shutdown_like_redis():
    def script(c, s):
        gone = os.path.join(s.dir, "gone")
        os.mkdir(gone)
        out = [c("CONFIG", "SET", "dir", gone), c("SET", "a", "1")]
        os.rmdir(gone)
        out += [c("SHUTDOWN"), c("SHUTDOWN"), c("PING"), c("GET", "a")]
        lines = [line for line in log_messages(s) if "overcommit" not in line
                 and ("save" in line.lower() or "shut" in line.lower())]
        out.append(lines)
        return out
    redis_side, ours = both(script, save="3600 1", **{"enable-protected-configs": "yes"})
    assert ours == redis_side


# ---------------------------------------------------------------- snapshots under writes

def test_bgsave_is_point_in_time_under_writes():
    """Every key holds 0 when BGSAVE starts; writers then increment every key, delete some
    and add others while the (slowed) save runs: the file must hold the state at the start.
    The writes come every way a key is reached: plain commands, MULTI/EXEC, a script with
    its keys declared, one naming keys it did not declare, and RENAME over an old key."""
    n = 20_000
    s = support.start_cinnabar(**{"rdb-key-save-delay": 50})
    try:
        r = client(s)
        for i in range(0, n, 1000):
            r.mset({f"k{j}": 0 for j in range(i, i + 1000)})
        r.sadd("set", *range(100))
        assert r.bgsave()
        stop = threading.Event()
        errors = []

        def writer(w):
            c = client(s)
            rounds = 0
            try:
                while not stop.is_set():
                    p = c.pipeline(transaction=False)
                    for j in range(w, n, 4):
                        p.incr(f"k{j}")
                    p.delete(f"k{w}")
                    p.set(f"new{w}-{rounds}", 1)
                    p.sadd("set", 1000 + rounds)
                    p.execute()
                    j = (w + 4 * rounds) % n
                    p = c.pipeline(transaction=True)
                    p.incr(f"k{j}")
                    p.set(f"tmp{w}", rounds)
                    p.rename(f"tmp{w}", f"k{(j + 1) % n}")
                    p.execute()
                    c.eval("return redis.call('incr', KEYS[1])", 1, f"k{(j + 2) % n}")
                    c.eval("return redis.call('incr', 'k' .. ARGV[1])", 0, (j + 3) % n)
                    rounds += 1
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + 60
        while r.info("persistence")["rdb_bgsave_in_progress"] == 1 and time.time() < deadline:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join()
        assert not errors
        assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        assert int(r.get("k5")) > 0  # the writers did run during the save
        d = keep_dir(s)
    finally:
        s.stop()
    check = subprocess.run([support.redis_tool("redis-check-rdb"), os.path.join(d, "dump.rdb")],
                           capture_output=True, text=True, timeout=60)
    assert "RDB looks OK" in check.stdout, check.stdout
    t = support.start_redis(workdir=d)
    try:
        r = client(t)
        assert r.dbsize() == n + 1
        values = r.mget([f"k{j}" for j in range(n)])
        assert set(values) == {b"0"}
        assert r.scard("set") == 100
    finally:
        t.stop()


# ---------------------------------------------------------------- loading

def test_loading_answers_and_info():
    r_src = support.start_redis(**{"enable-debug-command": "yes"})
    try:
        r = client(r_src)
        r.execute_command("DEBUG", "POPULATE", 3_000_000, "key", 10)
        d = save_and_move(r_src)
    finally:
        r_src.stop()
    port = support.free_port()
    with open(os.path.join(d, "server.log"), "wb") as log:
        p = subprocess.Popen([support.cinnabar_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                              "--save", ""], stdout=log, stderr=subprocess.STDOUT, cwd=d)
    try:
        seen_loading, info_loading = None, None
        deadline = time.time() + 30
        # Wait for the listener with plain connects: redis-py retries a refused connection
        # itself, with a backoff of up to seconds, which can outlast the whole load.
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.002)
        while time.time() < deadline:
            try:
                # No retries: redis-py takes LOADING for a connection error (BusyLoadingError
                # is one) and would retry it with a backoff that can outlast the load.
                c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, retry=Retry(NoBackoff(), 0))
                try:
                    c.get("key:1")
                    break
                except redis.exceptions.BusyLoadingError as e:
                    seen_loading = str(e)
                    # The load may end between the GET and the INFO: keep a sample taken
                    # while it ran.
                    info = c.info("persistence")
                    if info["loading"] == 1:
                        info_loading = info
            except redis.exceptions.ConnectionError:
                time.sleep(0.005)
        assert seen_loading == "Redis is loading the dataset in memory"
        assert info_loading is not None and info_loading["loading"] == 1
        for field in ("loading_start_time", "loading_total_bytes", "loading_loaded_bytes", "loading_loaded_perc",
                      "loading_eta_seconds"):
            assert field in info_loading
        assert info_loading["loading_total_bytes"] == os.path.getsize(os.path.join(d, "dump.rdb"))
        c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        assert c.dbsize() == 3_000_000
        assert c.info("persistence")["loading"] == 0
    finally:
        p.terminate()
        p.wait(timeout=10)
        shutil.rmtree(d, ignore_errors=True)
