"""Start and stop the servers the Python tests talk to.

Every test server listens on 127.0.0.1 on a port picked here, runs in its own temporary
directory, and is stopped by the fixture that started it. The oracle is Debian's real
redis-server: if it is missing the test fails and says how to install it (never a skip).
"""
import os
import shutil
import socket
import subprocess
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


def redis_binary():
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(
            "the oracle redis-server is not installed: run `apt-get install -y redis-server redis-tools` "
            "(or `make test`, which installs it)")
    return path


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


class Server:
    """A server process on a free loopback port, in its own temporary directory."""

    def __init__(self, kind, binary, config):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"{kind}-test-")
        # Another process may take the picked port between the pick and the server's bind
        # (and then answer the PING below): the listener must be this process's, else the
        # server is started again on another port.
        for attempt in range(5):
            self.port = free_port()
            args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                    "--save", "", "--appendonly", "no"]
            for name, value in config.items():
                args += [f"--{name}", str(value)]
            self.log = open(os.path.join(self.dir, "server.log"), "wb")
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
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def stop(self):
        self._end_process()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_cinnabar(**config):
    """cinnabar with `config` as --name value options; CINNABAR_THREADS, when set and not
    given, is its --threads (`make test` runs some suites again with one worker)."""
    threads = os.environ.get("CINNABAR_THREADS")
    if threads:
        config.setdefault("threads", threads)
    return Server("cinnabar", cinnabar_binary(), config)


def start_redis(**config):
    return Server("redis", redis_binary(), config)
