"""The Unix socket (`unixsocket`, `unixsocketperm`): redis-py over `unix_socket_path` with its
defaults (HELLO, CLIENT SETINFO) running a pipeline, a transaction, a subscription and a
blocking pop woken by a TCP client; redis-cli -s; the socket file's mode, a stale file at the
path, and the file removed at SHUTDOWN.
"""
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time

import pytest
import redis

import support
from e2e_helpers import stop_checked


@pytest.fixture
def sock_dir():
    # Short: a Unix socket's path must fit in 107 bytes.
    path = tempfile.mkdtemp(prefix="cnb-sock-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unix_server(sock_dir, start_server):
    path = os.path.join(sock_dir, "s.sock")
    # A stale file at the path is replaced, as Redis does before it binds.
    with open(path, "w") as f:
        f.write("stale")
    srv = start_server(unixsocket=path, unixsocketperm="700")
    srv.sock = path
    yield srv
    stop_checked(srv)


@pytest.fixture
def u(unix_server, protocol):
    client = redis.Redis(unix_socket_path=unix_server.sock, protocol=protocol, decode_responses=True,
                         socket_timeout=30)
    yield client
    client.close()


def test_socket_file_and_config(unix_server):
    st = os.stat(unix_server.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o700
    r = redis.Redis(port=unix_server.port, decode_responses=True)
    assert r.config_get("unixsocket*") == {"unixsocket": unix_server.sock, "unixsocketperm": "700"}
    for name, value in (("unixsocket", "/tmp/other.sock"), ("unixsocketperm", "777")):
        for _ in range(2):
            with pytest.raises(redis.ResponseError) as e:
                r.config_set(name, value)
            assert str(e.value) == (f"CONFIG SET failed (possibly related to argument '{name}') - "
                                    "can't set immutable config")
    r.close()


def test_client_info_of_a_unix_client(u, unix_server):
    info = u.client_info()
    assert info["addr"] == f"{unix_server.sock}:0"
    assert info["laddr"] == f"{unix_server.sock}:0"
    assert info["flags"] == "U"
    # redis-py's CLIENT SETINFO went through.
    assert info["lib-name"].startswith("redis-py")
    tcp = redis.Redis(port=unix_server.port, decode_responses=True)
    listed = {int(c["id"]): c for c in tcp.client_list()}
    assert listed[int(info["id"])]["addr"] == f"{unix_server.sock}:0"
    assert listed[tcp.client_id()]["flags"] == "N"
    tcp.close()


def test_pipeline_and_transaction(u):
    with u.pipeline(transaction=False) as p:
        for i in range(100):
            p.set(f"k{i}", i)
        for i in range(100):
            p.get(f"k{i}")
        replies = p.execute()
    assert replies == [True] * 100 + [str(i) for i in range(100)]
    with u.pipeline(transaction=True) as p:
        p.incr("n").incr("n").lpush("l", "a", "b").lrange("l", 0, -1)
        assert p.execute() == [1, 2, 2, ["b", "a"]]
    # EXECABORT after a queued error, twice.
    for _ in range(2):
        with u.pipeline(transaction=True) as p:
            p.set("x", 1)
            p.execute_command("GET")
            with pytest.raises(redis.ResponseError):
                p.execute()
    assert u.get("x") is None


def test_subscriber_gets_messages_from_a_tcp_publisher(u, unix_server):
    ps = u.pubsub()
    ps.subscribe("news")
    assert ps.get_message(timeout=5)["type"] == "subscribe"
    tcp = redis.Redis(port=unix_server.port)
    assert tcp.publish("news", "hello") == 1
    msg = ps.get_message(timeout=5)
    assert (msg["type"], msg["channel"], msg["data"]) == ("message", "news", "hello")
    ps.close()
    tcp.close()


def test_blpop_woken_by_a_tcp_client(u, unix_server):
    got = {}

    def pop():
        got["v"] = u.blpop(["q"], timeout=10)

    t = threading.Thread(target=pop)
    t.start()
    tcp = redis.Redis(port=unix_server.port, decode_responses=True)
    deadline = time.time() + 5
    while time.time() < deadline and "cmd=blpop" not in tcp.execute_command("CLIENT", "LIST"):
        time.sleep(0.01)
    tcp.rpush("q", "job")
    t.join(10)
    assert list(got["v"]) == ["q", "job"]
    tcp.close()


def test_redis_cli_over_the_socket(unix_server):
    def cli(*args):
        return subprocess.run(["redis-cli", "-s", unix_server.sock, *args], capture_output=True, text=True,
                              timeout=10).stdout.strip()

    assert cli("PING") == "PONG"
    assert cli("SET", "greeting", "hi") == "OK"
    assert cli("GET", "greeting") == "hi"
    assert f"addr={unix_server.sock}:0 laddr={unix_server.sock}:0" in cli("CLIENT", "LIST")


def test_socket_file_removed_at_shutdown(sock_dir, start_server):
    path = os.path.join(sock_dir, "gone.sock")
    srv = start_server(unixsocket=path)
    try:
        # No unixsocketperm: the umask's mode.
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        # (redis-py takes the connection closing for the answer.)
        redis.Redis(unix_socket_path=path).shutdown(nosave=True)
        srv.proc.wait(10)
        assert not os.path.exists(path)
        assert "Removing the unix socket file." in srv.read_log()
    finally:
        srv.stop()


def tcp_listeners_of(pid):
    """The TCP sockets process `pid` listens on (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    found.append(fields[1])
    return found


def test_port_0_listens_on_the_unix_socket_only(sock_dir):
    # Started here: the fixtures' servers are reached over TCP.
    path = os.path.join(sock_dir, "only.sock")
    target = os.environ.get("E2E_TARGET", "cinnabar").strip().lower()
    binary = support.redis_binary() if target == "redis" else support.cinnabar_binary()
    proc = subprocess.Popen([binary, "--port", "0", "--unixsocket", path, "--save", "", "--dir", sock_dir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.02)
        r = redis.Redis(unix_socket_path=path, decode_responses=True)
        assert r.ping() is True
        assert r.config_get("port") == {"port": "0"}
        assert tcp_listeners_of(proc.pid) == []
        r.close()
    finally:
        proc.terminate()
        proc.wait(10)
