"""CONFIG SET port and CONFIG SET bind take effect at once on both servers: the server
listens on the new address and no longer on the old one, open connections stay, and a
port or address that cannot be bound is refused with Redis's error while the server keeps
listening where it was."""
import socket

from harness import start_pair, stop_pair
from resp import RawConnection
from support import free_port


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def listen_run(server, busy_port):
    c = RawConnection(server.port)
    out = []
    new = free_port()
    out.append(c.command("CONFIG", "SET", "port", new))
    out.append(RawConnection(new).command("PING"))
    out.append(refused(server.port))
    out.append(c.command("PING"))  # the open connection stays
    # A port that is taken: refused, still listening on the current one.
    out.append(c.command("CONFIG", "SET", "port", busy_port))
    out.append(RawConnection(new).command("PING"))
    out.append(c.command("CONFIG", "GET", "port").replace(str(new).encode(), b"NEW"))
    # An address this machine does not have: refused, nothing changes.
    out.append(c.command("CONFIG", "SET", "bind", "10.255.255.1"))
    out.append(RawConnection(new).command("PING"))
    out.append(c.command("CONFIG", "SET", "bind", "127.0.0.1 -::1"))
    out.append(RawConnection(new).command("PING"))
    out.append(c.command("CONFIG", "GET", "bind"))
    c.close()
    return out


def test_config_set_port_and_bind():
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("0.0.0.0", 0))
    busy.listen(1)
    servers = start_pair()
    try:
        want, got = [listen_run(s, busy.getsockname()[1]) for s in servers]
        assert got == want, f"redis: {want!r}\ncinnabar: {got!r}"
        assert want[0] == b"+OK\r\n" and want[2] is True and want[4].startswith(b"-ERR CONFIG SET failed")
    finally:
        stop_pair(servers)
        busy.close()
