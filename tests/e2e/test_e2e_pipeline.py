"""Big pipelines: 10k commands in one pipeline, replies in order, errors in place; a million
commands written before any reply is read."""
import redis
import redis.backoff
import redis.retry


def test_pipeline_10k_sets_then_10k_gets(r):
    n = 10_000
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"key:{i}", f"value:{i}")
    assert pipe.execute() == [True] * n
    assert r.dbsize() == n
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.get(f"key:{i}")
    assert pipe.execute() == [f"value:{i}" for i in range(n)]


def test_pipeline_mixed_commands_keep_order(r):
    n = 10_000
    pipe = r.pipeline(transaction=False)
    expected = []
    for i in range(n // 4):
        pipe.incr("counter")
        expected.append(i + 1)
        pipe.set(f"m:{i}", i, ex=1000)
        expected.append(True)
        pipe.get(f"m:{i}")
        expected.append(str(i))
        pipe.exists(f"m:{i}", f"nope:{i}")
        expected.append(1)
    assert pipe.execute() == expected
    assert r.get("counter") == str(n // 4)


def test_pipeline_with_error_in_the_middle(r):
    r.set("text", "abc")
    pipe = r.pipeline(transaction=False)
    pipe.set("a", 1)
    pipe.incr("text")  # ERR value is not an integer or out of range
    pipe.incr("a")
    pipe.get("a")
    replies = pipe.execute(raise_on_error=False)
    assert replies[0] is True
    assert isinstance(replies[1], redis.ResponseError)
    assert "not an integer" in str(replies[1])
    assert replies[2:] == [2, "2"]


def test_pipeline_large_values(rb):
    big = bytes(range(256)) * 4096  # 1 MiB, every byte value
    pipe = rb.pipeline(transaction=False)
    for i in range(8):
        pipe.set(f"big:{i}", big)
    for i in range(8):
        pipe.get(f"big:{i}")
    pipe.strlen("big:0")
    replies = pipe.execute()
    assert replies[:8] == [True] * 8
    assert all(v == big for v in replies[8:16])
    assert replies[16] == len(big)


def test_binary_keys_and_values(rb):
    key = b"\x00bin\r\nkey\xff"
    value = b"\r\n\x00*3\r\n$3\r\n"
    rb.set(key, value)
    assert rb.get(key) == value
    assert rb.keys(b"\x00bin*") == [key]
    assert rb.mget([key, b"missing"]) == [value, None]
    rb.set(b"", b"empty key")
    assert rb.get(b"") == b"empty key"
    rb.set("emptyvalue", b"")
    assert rb.get("emptyvalue") == b""


def test_pipeline_across_dbs_of_one_client(port, protocol):
    c = redis.Redis(port=port, protocol=protocol, db=7, decode_responses=True)
    pipe = c.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"k{i}", i)
    pipe.dbsize()
    replies = pipe.execute()
    assert replies[-1] == 1000
    assert redis.Redis(port=port, protocol=protocol, db=0).dbsize() == 0
    c.close()


def test_pipeline_of_a_million_sets_is_not_deadlocked(port):
    """redis-py's pipeline writes every command before it reads a reply. Past a few MB of
    replies the server's socket is full, and the client still writes: the server must keep
    reading it (and queue the replies, as Redis does under client-output-buffer-limit
    normal 0 0 0), or both wait for each other forever (issue 19, defect 12). About 10 s,
    most of it redis-py packing and parsing."""
    # No retry: a stalled pipeline fails once, after the timeout, instead of being sent again.
    no_retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
    client = redis.Redis(port=port, socket_timeout=30, retry=no_retry)
    n = 1_000_000
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"k{i}", "v")
    replies = pipe.execute()
    assert len(replies) == n and all(replies)
    assert client.dbsize() == n
    client.close()


def _kernel_buffer_max(name):
    with open(f"/proc/sys/net/ipv4/{name}") as f:
        return int(f.read().split()[2])


def test_raw_pings_written_before_reading(port):
    """Many PINGs written on a raw socket before any reply is read: more than the kernel's
    socket buffers on both sides can hold (the server's receive buffer, its send buffer and
    our small receive buffer), so a server that stops reading while its replies wait would
    leave our send blocked. Every PONG arrives, in order."""
    import socket
    per = len(b"PING\r\n")
    room = _kernel_buffer_max("tcp_rmem") + 2 * _kernel_buffer_max("tcp_wmem")
    n = max(1_000_000, room * 3 // (2 * per))
    chunk = 10_000
    n -= n % chunk
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    try:
        block = b"PING\r\n" * chunk
        for _ in range(n // chunk):
            s.sendall(block)
        want = b"+PONG\r\n" * chunk
        buf = bytearray()
        got = 0
        while got < n:
            buf += s.recv(1 << 20)
            while len(buf) >= len(want):
                assert buf[: len(want)] == want
                del buf[: len(want)]
                got += chunk
        assert not buf
    finally:
        s.close()
