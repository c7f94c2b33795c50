"""The Unix socket compared with redis-server: what CLIENT INFO / CLIENT LIST show of a client
connected through it (addr and laddr are the socket's path with port 0, flag U, the same
fields), CONFIG GET unixsocket / unixsocketperm, INFO's listener lines, and the mode of the socket file with and
without unixsocketperm. Each server gets a socket path of its own; it is written as PATH
before comparing."""
import os
import shutil
import socket
import stat
import tempfile

import pytest

import harness
import support
from harness import stop_pair
from resp import RawConnection


class UnixConnection(RawConnection):
    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self.buf = bytearray()
        self.closed = False


def fields(line):
    """A CLIENT INFO / LIST line as (name, value) pairs, the values that change from run to run
    (id, fd, age, memory) left out."""
    varying = {"id", "fd", "age", "idle", "qbuf", "qbuf-free", "argv-mem", "rbs", "rbp", "tot-mem", "omem"}
    # The 7.0 fallback oracle has no lib-name / lib-ver (7.2's CLIENT SETINFO).
    only_72 = set() if harness.ORACLE_IS_72 else {"lib-name", "lib-ver"}
    pairs = (f.split("=", 1) for f in line.strip().split(" "))
    return [(k, "" if k in varying else v) for k, v in pairs if k not in only_72]


def text(reply):
    body = reply.split(b"\r\n", 1)[1].rsplit(b"\r\n", 1)[0].decode()
    return body[4:] if reply[:1] == b"=" else body  # RESP3 verbatim: "txt:" first


@pytest.mark.parametrize("perm", ["0", "755", "700"])
@pytest.mark.parametrize("proto", [2, 3])
def test_unix_client_and_socket_file(perm, proto):
    dirs = [tempfile.mkdtemp(prefix="cnb-sock-") for _ in range(2)]
    paths = [os.path.join(d, "s.sock") for d in dirs]
    # One socket path for each server.
    starts = (support.start_redis, support.start_redis if harness.SELF_CHECK else support.start_cinnabar)
    pair = []
    try:
        for start, path in zip(starts, paths):
            pair.append(start(unixsocket=path, unixsocketperm=perm))
        results = []
        for server, path in zip(pair, paths):
            c = UnixConnection(path)
            if proto == 3:
                assert c.command("HELLO", "3")[:1] == b"%"
            out = [os.stat(path).st_mode, stat.S_IMODE(os.stat(path).st_mode)]
            for _ in range(2):
                out.append(fields(text(c.command("CLIENT", "INFO")).replace(path, "PATH")))
                listing = text(c.command("CLIENT", "LIST", "TYPE", "normal")).replace(path, "PATH")
                out.append([fields(line) for line in listing.split("\n") if line])
            out.append(c.command("CONFIG", "GET", "unixsocket").replace(path.encode(), b"PATH"))
            out.append(c.command("CONFIG", "GET", "unixsocketperm"))
            # INFO's listeners: tcp first, then the socket (getListensInfoString).
            listeners = text(c.command("INFO", "server")).replace(path, "PATH").replace(str(server.port), "PORT")
            # (Redis 7.0 has none: compared against the 7.2 oracle only.)
            if harness.ORACLE_IS_72:
                out.append([line for line in listeners.split("\r\n") if line.startswith("listener")])
            for _ in range(2):
                out.append(c.command("CONFIG", "SET", "unixsocketperm", "777"))
            c.close()
            results.append(out)
        assert results[1] == results[0]
    finally:
        stop_pair(pair)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
