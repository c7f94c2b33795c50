"""A raw RESP client for differential tests: no redis-py, no decoding.

`RawConnection.command(*args)` sends one multibulk request and returns the raw bytes of exactly
one complete reply (RESP2 or RESP3, any nesting), so two servers can be compared byte for byte.
`send_raw(bytes)` writes arbitrary bytes (protocol errors, inline commands) and `is_closed()`
tells whether the server has closed the connection.

`parse(raw)` turns raw reply bytes into a `Node` tree (type byte, payload, children, raw bytes)
for the comparisons that cannot be byte-exact (unordered sets, map key order, shape only).
"""
import select
import socket
import time

AGGREGATES = b"*%~>|"   # | (attribute) is followed by the reply it annotates
LINE_TYPES = b"+-:_,#("
BLOB_TYPES = b"$!="


class ConnectionClosed(Exception):
    pass


class ProtocolViolation(Exception):
    """The server sent bytes that are not a valid RESP reply."""


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_all(sock, timeout=3.0):
    """Everything the server sends on `sock` until it closes the connection (or resets it),
    or until `timeout` passes with nothing more: (bytes, closed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


class RawConnection:
    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.closed = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    # ---- writing -------------------------------------------------------------------------
    def send_command(self, *args):
        self.send_raw(encode_command(args))

    def send_raw(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise ConnectionClosed(f"send failed: {e}") from e

    # ---- reading -------------------------------------------------------------------------
    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"no complete reply within {self.timeout}s; partial: {bytes(self.buf)!r}")
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            raise ConnectionClosed(f"connection closed by server; partial reply: {bytes(self.buf)!r}")
        self.buf += chunk

    def _reply_end(self, pos):
        """Index just past the complete reply starting at pos, or None if incomplete."""
        buf = self.buf
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            return None
        t = buf[pos]
        line = bytes(buf[pos + 1:nl])
        after = nl + 2
        if t in LINE_TYPES:
            if t == ord("_") and line:
                raise ProtocolViolation(f"null with payload {line!r}")
            return after
        if t in BLOB_TYPES:
            n = _int(line, buf)
            if n == -1 and t == ord("$"):
                return after
            if n < 0:
                raise ProtocolViolation(f"bad blob length {line!r}")
            end = after + n + 2
            if len(buf) < end:
                return None
            if buf[end - 2:end] != b"\r\n":
                raise ProtocolViolation(f"blob not terminated by CRLF: {bytes(buf[pos:end])!r}")
            return end
        if t in AGGREGATES:
            n = _int(line, buf)
            if n == -1 and t == ord("*"):
                return after
            if n < 0:
                raise ProtocolViolation(f"bad aggregate length {line!r}")
            count = n * 2 if t in b"%|" else n
            p = after
            for _ in range(count):
                p = self._reply_end(p)
                if p is None:
                    return None
            if t == ord("|"):          # the attribute annotates the next reply
                return self._reply_end(p)
            return p
        raise ProtocolViolation(f"unknown reply type byte {bytes([t])!r} in {bytes(buf[pos:pos + 80])!r}")

    def read_reply(self):
        """Return the raw bytes of exactly one complete reply."""
        while True:
            if self.buf:
                end = self._reply_end(0)
                if end is not None:
                    reply = bytes(self.buf[:end])
                    del self.buf[:end]
                    return reply
            self._fill()

    def command(self, *args):
        self.send_command(*args)
        return self.read_reply()

    def pending(self):
        return bytes(self.buf)

    def read_until(self, suffix):
        """Everything received up to and including a chunk of bytes ending with `suffix`, as
        raw bytes (pushes inside aggregates and all)."""
        while not self.buf.endswith(suffix):
            self._fill()
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def wait_closed(self, timeout=0.1):
        """True if the server closes the connection within timeout (extra data is kept)."""
        if self.closed:
            return True
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return True
            self.buf += chunk


def wait_closed_both(conns, timeout=0.1):
    """Poll several connections together; return a list of closed flags."""
    deadline = time.monotonic() + timeout
    state = [c.closed for c in conns]
    while not all(state):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        socks = [c.sock for c, s in zip(conns, state) if not s]
        r, _, _ = select.select(socks, [], [], left)
        for i, c in enumerate(conns):
            if not state[i] and c.sock in r:
                try:
                    chunk = c.sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    c.buf += chunk
                else:
                    c.closed = True
                    state[i] = True
    return state


def _int(line, buf):
    try:
        return int(line)
    except ValueError:
        raise ProtocolViolation(f"bad length {line!r} in {bytes(buf[:80])!r}")


# ---- parsed form ------------------------------------------------------------------------
class Node:
    __slots__ = ("type", "value", "children", "raw", "attribute")

    def __init__(self, type_, value, children, raw, attribute=None):
        self.type = type_          # one-character str: '+', '$', '*', '%', ...
        self.value = value         # bytes payload for scalars (None for nulls/aggregates)
        self.children = children   # list of Node for aggregates
        self.raw = raw
        self.attribute = attribute

    def __repr__(self):
        return f"Node({self.type!r}, {self.raw!r})"


def parse(raw):
    node, end = _parse(raw, 0)
    if end != len(raw):
        raise ProtocolViolation(f"trailing bytes after reply: {raw[end:]!r}")
    return node


def _parse(raw, pos):
    nl = raw.index(b"\r\n", pos)
    t = chr(raw[pos])
    line = raw[pos + 1:nl]
    after = nl + 2
    if t in "+-:_,#(":
        return Node(t, line if t != "_" else None, [], raw[pos:after]), after
    if t in "$!=":
        n = int(line)
        if n == -1:
            return Node(t, None, [], raw[pos:after]), after
        end = after + n + 2
        return Node(t, raw[after:after + n], [], raw[pos:end]), end
    if t in "*%~>|":
        n = int(line)
        if n == -1:
            return Node(t, None, [], raw[pos:after]), after
        count = n * 2 if t in "%|" else n
        children = []
        p = after
        for _ in range(count):
            c, p = _parse(raw, p)
            children.append(c)
        if t == "|":
            inner, p2 = _parse(raw, p)
            inner.attribute = Node(t, None, children, raw[pos:p])
            inner.raw = raw[pos:p2]
            return inner, p2
        return Node(t, None, children, raw[pos:p]), p
    raise ProtocolViolation(f"unknown type {t!r}")


def is_error(raw):
    return raw[:1] in (b"-", b"!")


def show(raw, limit=2000):
    """Escaped, readable form of raw reply bytes for failure messages."""
    if raw is None:
        return "<no reply>"
    if isinstance(raw, str):
        return raw
    s = repr(bytes(raw))[2:-1]
    if len(s) > limit:
        s = s[:limit] + f"... ({len(raw)} bytes)"
    return s
