"""Stopping the server: SIGTERM and SIGINT during a pipelined load, SHUTDOWN from redis-py,
the SHUTDOWN errors that leave the server running, and `daemonize yes` with a pid file.

Each test starts a server of its own (`start_server`). Against Redis (E2E_TARGET=redis) the same
tests validate the expectations; the pipelined-load ones then check only what Redis promises
(exit status, log lines, pid file), since Redis exits without writing the replies it owes.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

import support  # tests/support.py (on the path through conftest.py)


def wait_for_log(server, line, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if line in server.read_log():
            return
        time.sleep(0.02)
    raise AssertionError(f"{line!r} not in the log: {server.read_log()}")


def shutdown_lines(log):
    """The shutdown's lines of `log`, in order, without the pid/time prefix."""
    wanted = ("scheduling shutdown", "User requested shutdown", "Saving the final", "Removing the pid file",
              "ready to exit")
    return [line.split(" ", 2)[2] if "signal-handler" in line else line.split(" ", 5)[5]
            for line in log.splitlines() if any(w in line for w in wanted)]


def whole_replies(data):
    """The number of replies in `data`, which must hold only whole +OK replies."""
    n = len(data) // 5
    assert data == b"+OK\r\n" * n, f"a partial or unexpected reply at the end: {data[-20:]!r}"
    return n


class PipelinedLoad:
    """A client writing a long pipeline of SETs while another thread reads the replies until
    the server closes the connection."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.data = bytearray()
        self.done = threading.Event()
        self.writer = threading.Thread(target=self._write, daemon=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.writer.start()
        self.reader.start()

    def _write(self):
        chunk = b"".join(b"*3\r\n$3\r\nSET\r\n$6\r\nk%05d\r\n$5\r\nvalue\r\n" % (i % 100000) for i in range(2000))
        try:
            while not self.done.is_set():
                self.sock.sendall(chunk)
        except OSError:
            pass

    def _read(self):
        try:
            while True:
                got = self.sock.recv(65536)
                if not got:
                    break
                self.data += got
        except OSError:
            pass
        self.done.set()

    def replies(self):
        return len(self.data) // 5

    def finish(self):
        assert self.done.wait(5), "the server did not close the connection"
        self.writer.join(5)
        self.sock.close()
        return bytes(self.data)


@pytest.mark.parametrize("sig,name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_signal_during_pipelined_load(start_server, target, sig, name):
    server = start_server(pidfile="server.pid")
    pidfile = os.path.join(server.dir, "server.pid")
    assert open(pidfile).read() == f"{server.proc.pid}\n"
    load = PipelinedLoad(server.port)
    deadline = time.time() + 10
    while load.replies() < 20000 and time.time() < deadline:
        time.sleep(0.01)
    assert load.replies() >= 20000
    sent = time.monotonic()
    server.proc.send_signal(sig)
    assert server.proc.wait(timeout=5) == 0
    assert time.monotonic() - sent < 1.0
    data = load.finish()
    if target == "cinnabar":
        assert whole_replies(data) >= 20000
    assert not os.path.exists(pidfile)
    assert shutdown_lines(server.read_log()) == [
        f"Received {name} scheduling shutdown...",
        "* User requested shutdown...",
        "* Removing the pid file.",
        "# Redis is now ready to exit, bye bye...",
    ]


def test_shutdown_nosave_from_redis_py(start_server):
    server = start_server(pidfile="server.pid")
    r = redis.Redis(port=server.port)
    other = redis.Redis(port=server.port, protocol=3)
    assert other.ping()
    # redis-py's shutdown() returns None when the connection closes, as it should.
    assert r.shutdown(nosave=True) is None
    assert server.proc.wait(timeout=5) == 0
    with pytest.raises(redis.ConnectionError):
        other.ping()
    assert not os.path.exists(os.path.join(server.dir, "server.pid"))
    assert shutdown_lines(server.read_log()) == [
        "* User requested shutdown...",
        "* Removing the pid file.",
        "# Redis is now ready to exit, bye bye...",
    ]


def test_shutdown_save_without_save_points(start_server, target):
    """SHUTDOWN SAVE saves even with no save points configured (Redis writes dump.rdb; this
    server has no RDB writer yet and says so in its log, then stops all the same)."""
    server = start_server()
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.sendall(b"PING\r\nSHUTDOWN SAVE\r\nPING\r\n")
    data = b""
    while True:
        got = raw.recv(4096)
        if not got:
            break
        data += got
    # Nothing after SHUTDOWN runs. The reply before it is written whole here; Redis exits
    # with it still in its buffer.
    assert data == (b"+PONG\r\n" if target == "cinnabar" else b"")
    assert server.proc.wait(timeout=5) == 0
    assert shutdown_lines(server.read_log()) == [
        "* User requested shutdown...",
        "* Saving the final RDB snapshot before exiting.",
        "# Redis is now ready to exit, bye bye...",
    ]


def test_shutdown_errors_leave_the_server_running(start_server, protocol):
    server = start_server()
    r = redis.Redis(port=server.port, protocol=protocol)
    for _ in range(2):
        with pytest.raises(redis.ResponseError, match="^No shutdown in progress.$"):
            r.shutdown(abort=True)
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            r.execute_command("SHUTDOWN", "FOO")
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            r.execute_command("SHUTDOWN", "NOSAVE", "SAVE")
    assert r.ping()
    assert server.alive()


def running(pid):
    """Whether process `pid` runs (a daemon is not our child: once it exits it may stay a
    zombie until whatever adopted it reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_daemonize_with_pidfile(target):
    if target == "redis":
        binary = support.redis_binary()
    else:
        binary = support.cinnabar_binary()
    port = support.free_port()
    workdir = tempfile.mkdtemp(prefix="daemonize-test-")
    pidfile = os.path.join(workdir, "server.pid")
    logfile = os.path.join(workdir, "server.log")
    starter = subprocess.run(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "",
         "--daemonize", "yes", "--pidfile", pidfile, "--logfile", logfile],
        cwd=workdir, timeout=10)
    assert starter.returncode == 0
    pid = None
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                pid = int(open(pidfile).read())
                if redis.Redis(port=port).ping():
                    break
            except (OSError, ValueError, redis.ConnectionError):
                pass
            time.sleep(0.02)
        assert pid is not None and support.listener_is(pid, port)
        assert redis.Redis(port=port).ping()
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5
        while time.time() < deadline and running(pid):
            time.sleep(0.01)
        assert not running(pid)
        assert not os.path.exists(pidfile)
        log = open(logfile).read()
        assert "Received SIGTERM scheduling shutdown..." in log
        assert "Redis is now ready to exit, bye bye..." in log
    finally:
        if pid is not None and running(pid):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)


def test_second_sigint_exits_at_once(start_server):
    """A SIGTERM's shutdown waits for a busy script's client (Redis: until the script ends;
    here at most the grace period); a SIGINT meanwhile exits at once with status 1."""
    server = start_server(**{"busy-reply-threshold": 100})
    busy = socket.create_connection(("127.0.0.1", server.port))
    busy.sendall(b'*3\r\n$4\r\nEVAL\r\n$17\r\nwhile true do end\r\n$1\r\n0\r\n')
    time.sleep(0.2)
    server.proc.send_signal(signal.SIGTERM)
    wait_for_log(server, "Received SIGTERM scheduling shutdown...")
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=5) == 1
    assert "You insist... exiting now." in server.read_log()
    busy.close()
