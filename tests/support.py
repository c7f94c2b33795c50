"""Start and stop the servers the Python tests talk to.

Every test server listens on 127.0.0.1 on a port picked here, runs in its own temporary
directory, and is stopped by the fixture that started it.

The oracle is Redis 7.2.6, built by tests/oracle.sh (`make test` runs it) into a cache outside
the repository: CINNABAR_ORACLE names its redis-server (the Makefile exports it; set but empty
means "no 7.2 build, fall back"), else the cache path is looked at. Without a 7.2 build the
oracle is the redis-server on PATH (Debian's 7.0.15): `@known-diff` lines then use their
`@expect` replies, and `oracle_line()` says so. A missing oracle fails the test and says how to
get one (never a skip). redis-check-rdb and redis-check-aof come from the same build.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cinnabar_binary():
    path = os.environ.get("CINNABAR_BIN") or os.path.join(ROOT, "target", "release", "cinnabar-server")
    if not os.path.exists(path):
        raise RuntimeError(
            f"cinnabar binary not found at {path}: build it with `cargo build --release` "
            "(or run `make test`, which builds it), or point CINNABAR_BIN at it")
    return path


ORACLE_VERSION = (7, 2, 6)


def _cached_oracle():
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "cinnabar", "redis-7.2.6", "src", "redis-server")


_oracle = None


def _find_oracle():
    """(path of redis-server, its version tuple), found once per process."""
    global _oracle
    if _oracle is None:
        named = os.environ.get("CINNABAR_ORACLE")
        if named:
            if not os.access(named, os.X_OK):
                raise RuntimeError(f"CINNABAR_ORACLE={named} is not an executable redis-server: "
                                   "build it with `tests/oracle.sh`, or unset CINNABAR_ORACLE")
            path = named
        else:
            cached = _cached_oracle()
            path = cached if named is None and os.access(cached, os.X_OK) else shutil.which("redis-server")
        if path is None:
            raise RuntimeError(
                "no oracle redis-server: run `make test` (it builds Redis 7.2.6 from "
                "../shared/redis-7.2.6-src.tar.gz, or installs Debian's redis-server), or "
                "`apt-get install -y redis-server redis-tools`")
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
        version = out.split(" v=", 1)[1].split()[0] if " v=" in out else "0.0.0"
        _oracle = (path, tuple(int(x) for x in version.split(".")[:3]))
    return _oracle


def redis_binary():
    return _find_oracle()[0]


def oracle_version():
    """The oracle's version as a tuple, (7, 2, 6) or the fallback's (7, 0, 15)."""
    return _find_oracle()[1]


def oracle_is_72():
    """Whether the oracle is Redis 7.2 (the target), not the 7.0 fallback."""
    return oracle_version()[:2] == ORACLE_VERSION[:2]


_announced = False


def announce_oracle(session):
    """pytest_sessionstart of tests/diff and tests/e2e: `oracle_line()`, once per run however
    many conftests call it. Through the terminal reporter: `pytest -q` shows no report header."""
    global _announced
    if _announced:
        return
    _announced = True
    try:
        line = oracle_line()
    except RuntimeError as e:
        line = f"oracle: none ({e}): every test that needs it fails"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line, file=sys.stderr)


def redis_tool(name):
    """redis-check-rdb or redis-check-aof of the oracle's own build."""
    path = os.path.join(os.path.dirname(redis_binary()), name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{name} not found beside the oracle {redis_binary()}")
    return path


def oracle_line():
    """One line naming the oracle, and saying so when it is the 7.0 fallback."""
    path, version = _find_oracle()
    v = ".".join(map(str, version))
    if oracle_is_72():
        return f"oracle: Redis {v} ({path})"
    return (f"oracle: FALLBACK to Redis {v} ({path}), not {'.'.join(map(str, ORACLE_VERSION))}: "
            "@known-diff lines use their @expect replies (build 7.2.6 with tests/oracle.sh)")


def listener_is(pid, port):
    """Whether the socket listening on 127.0.0.1:`port` is process `pid`'s (from
    /proc/net/tcp and the process's descriptors); None while nothing listens there."""
    local = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return None
    inode = next((f[9] for f in (line.split() for line in lines)
                  if len(f) > 9 and f[1] == local and f[3] == "0A"), None)
    if inode is None:
        return None
    socket_link = f"socket:[{inode}]"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == socket_link:
                return True
        except OSError:
            continue
    return False


def terminate(proc, timeout=10):
    """SIGTERM a process we started and wait for it; SIGKILL if it lingers past `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Server:
    """A server process on a free loopback port, in its own temporary directory."""

    def __init__(self, kind, binary, config, workdir=None, config_file=None):
        """`workdir`: run in this directory (a test's, holding a file to load) instead of a
        new temporary one; it is removed by `stop` all the same. `config_file`: loaded
        first (the options below come after it and win)."""
        self.kind = kind
        self.dir = workdir or tempfile.mkdtemp(prefix=f"{kind}-test-")
        # Another process may take the picked port between the pick and the server's bind
        # (and then answer the PING below): the listener must be this process's, else the
        # server is started again on another port.
        for attempt in range(5):
            self.port = free_port()
            args = [binary] + ([config_file] if config_file else [])
            args += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
            # No persistence unless the test's config asks for some.
            for name, value in {"save": "", "appendonly": "no", **config}.items():
                args += [f"--{name}", str(value)]
            self.log = open(os.path.join(self.dir, "server.log"), "ab")
            self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
            if self._wait_ready(last=attempt == 4):
                return
            self._end_process()

    def _wait_ready(self, last, timeout=10.0):
        """True once this process listens on the port and answers; False when the port turned
        out to be another process's (unless `last`: then it raises)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                log = self.read_log()
                if not last and "listening socket" in log:
                    return False
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}: {log}")
            ours = listener_is(self.proc.pid, self.port)
            if ours is False:
                if last:
                    self.stop()
                    raise RuntimeError(f"port {self.port} is another process's, 5 tries")
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if ours and s.recv(64).startswith((b"+PONG", b"-")):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.kind} did not start listening on port {self.port}")

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def _end_process(self):
        terminate(self.proc)
        self.log.close()

    def stop(self):
        self._end_process()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_cinnabar(workdir=None, config_file=None, **config):
    """cinnabar with `config` as --name value options; CINNABAR_THREADS, when set and not
    given, is its --threads (`make test` runs some suites again with one worker)."""
    threads = os.environ.get("CINNABAR_THREADS")
    if threads:
        config.setdefault("threads", threads)
    return Server("cinnabar", cinnabar_binary(), config, workdir, config_file)


def start_redis(workdir=None, config_file=None, **config):
    return Server("redis", redis_binary(), config, workdir, config_file)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_tls_ca(d, name):
    """A self-signed CA `name`.crt / `name`.key in directory `d` (openssl CLI, P-256 key)."""
    _openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}", cwd=d)


def make_tls_cert(d, name, ca, usage, rsa=False):
    """`name`.crt / `name`.key in `d`, signed by the CA `ca` made there: serverAuth (for
    localhost and 127.0.0.1) or clientAuth; a P-256 key, or RSA 2048 with `rsa`."""
    key = ["-newkey", "rsa:2048"] if rsa else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    _openssl("req", "-new", "-nodes", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={name}", cwd=d)
    ext = f"extendedKeyUsage={usage}\n"
    if usage == "serverAuth":
        ext += "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)


def proc_status_kb(pid, field):
    """A memory figure of /proc/PID/status in KB (VmRSS, or VmHWM: the peak RSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field}")
