"""TLS (issue 25): cinnabar's tls-port, driven by the clients users run over it (redis-py with
ssl=True in RESP3 and RESP2, Debian's redis-cli --tls) and by raw `ssl` sockets.

Certificates are made here with the openssl CLI (support.make_tls_*), once for the module: a CA, a server
certificate and a second one (for the reload), a client certificate, and a second CA with
a client certificate of its own (the wrong CA). Not compared reply by reply with
redis-server: the oracle `make test` builds has no TLS (`make oracle-tls` builds one, for
bench.py --tls). What is asserted is what Redis 7.2.6 built with TLS was seen to do: the same
INFO listener lines and tcp_port, CLIENT LIST without a TLS field, its start-up and CONFIG
SET errors, a refused client certificate ending the connection.

Cases: TLS only (port 0) and both ports side by side; redis-py RESP3 and RESP2 (commands,
a 4 MB value, a pipeline written whole before its replies are read); redis-cli --tls;
tls-auth-clients yes / optional / no with no certificate, a good one and one of the wrong
CA; the certificate and the CA reloaded by CONFIG SET (a bad file refused, the old context
kept); CONFIG SET tls-port at run time; a server that does not start on a bad certificate,
a key of another certificate, an encrypted key; a client that sends nothing on the TLS port
(dropped at the handshake deadline) and one that speaks plain RESP there, neither of which
holds up the others."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest
import redis

import support

class Certs:
    def __init__(self, d):
        self.dir = d

    def __getattr__(self, name):
        # certs.server_crt -> <dir>/server.crt
        stem, ext = name.rsplit("_", 1)
        return os.path.join(self.dir, f"{stem}.{ext}")


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="cnb-tls-")
    try:
        support.make_tls_ca(d, "ca")
        support.make_tls_ca(d, "otherca")
        support.make_tls_cert(d, "server", "ca", "serverAuth")
        support.make_tls_cert(d, "server2", "ca", "serverAuth", rsa=True)
        support.make_tls_cert(d, "client", "ca", "clientAuth")
        support.make_tls_cert(d, "stranger", "otherca", "clientAuth")
        # A key encrypted with a passphrase (tls-key-file-pass).
        subprocess.run(["openssl", "pkey", "-in", "server.key", "-out", "encrypted.key", "-aes256",
                        "-passout", "pass:secret"], cwd=d, check=True, capture_output=True)
        yield Certs(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def tls_context(certs, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=certs.ca_crt)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def tls_connect(port, certs, cert=None, key=None, timeout=3.0):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return tls_context(certs, cert, key).wrap_socket(raw, server_hostname="localhost")


def tls_ping(port, certs, cert=None, key=None):
    """PING over a new TLS connection: the reply, or None when the server refused the client
    (during the handshake or, TLSv1.3, at the first read: the client's certificate is
    verified after the client's side of the handshake is done)."""
    try:
        with tls_connect(port, certs, cert, key) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(64)
            return reply or None
    except (ssl.SSLError, ConnectionError, OSError):
        return None


def client(port, certs, protocol=3, cert=None, key=None):
    return redis.Redis(port=port, ssl=True, ssl_ca_certs=certs.ca_crt, ssl_certfile=cert, ssl_keyfile=key,
                       protocol=protocol, socket_timeout=10)


class TlsServer:
    """cinnabar with a TLS port (and a plain one unless `plain` is False), in its own
    directory; ready once its TLS port answers a PING."""

    def __init__(self, certs, plain=True, tls=True, **config):
        self.dir = tempfile.mkdtemp(prefix="cnb-tls-srv-")
        self.port = support.free_port() if plain else 0
        self.tls_port = support.free_port() if tls else 0
        base = {"port": self.port, "tls-port": self.tls_port, "bind": "127.0.0.1", "dir": self.dir,
                "save": "", "appendonly": "no", "tls-cert-file": certs.server_crt,
                "tls-key-file": certs.server_key, "tls-ca-cert-file": certs.ca_crt, "tls-auth-clients": "no"}
        base.update(config)
        args = [support.cinnabar_binary()]
        for k, v in base.items():
            args += [f"--{k}", str(v)]
        self.log_path = os.path.join(self.dir, "server.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.certs = certs

    def wait_ready(self):
        port, deadline = (self.tls_port or self.port), time.time() + 10
        while time.time() < deadline:
            assert self.proc.poll() is None, f"exited with {self.proc.returncode}: {self.log()}"
            if support.listener_is(self.proc.pid, port):
                return self
            time.sleep(0.02)
        raise RuntimeError(f"not listening on {port}: {self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        support.terminate(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def start(certs):
    started = []

    def go(**config):
        s = TlsServer(certs, **config)
        started.append(s)
        return s.wait_ready()

    yield go
    for s in started:
        s.stop()


def info(c, section):
    return c.info(section)


@pytest.mark.parametrize("protocol", [3, 2])
def test_tls_only_server_with_redis_py(start, certs, protocol):
    srv = start(plain=False)
    c = client(srv.tls_port, certs, protocol)
    assert c.ping() is True
    assert c.set("k", "v") is True and c.get("k") == b"v"
    assert c.hset("h", mapping={"a": 1, "b": 2}) == 2
    assert c.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert c.rpush("l", *range(100)) == 100 and c.lrange("l", 0, 2) == [b"0", b"1", b"2"]
    big = os.urandom(4 << 20)
    assert c.set("big", big) is True and c.get("big") == big
    # A pipeline written whole before any reply is read (replies held while the client
    # writes: the encrypted ones wait in rustls for the socket).
    p = c.pipeline(transaction=False)
    for i in range(20000):
        p.set(f"key:{i}", "x" * 100)
    assert all(p.execute())
    assert c.dbsize() == 20004
    server = info(c, "server")
    assert server["tcp_port"] == srv.tls_port
    listeners = [k for k in server if k.startswith("listener")]
    assert listeners == ["listener2"]
    assert server["listener2"] == {"name": "tls", "bind": "127.0.0.1", "port": srv.tls_port}
    other = client(srv.tls_port, certs, protocol)
    assert other.ping()
    assert info(c, "clients")["connected_clients"] == 2
    c.close()
    other.close()
    assert "Ready to accept connections tls" in srv.log()
    assert "Ready to accept connections tcp" not in srv.log()


def test_both_ports_side_by_side(start, certs):
    srv = start()
    tls, plain = client(srv.tls_port, certs), redis.Redis(port=srv.port)
    assert tls.set("shared", "from-tls") and plain.get("shared") == b"from-tls"
    assert plain.set("shared", "from-plain") and tls.get("shared") == b"from-plain"
    server = info(plain, "server")
    assert server["tcp_port"] == srv.port
    assert server["listener0"]["port"] == srv.port and server["listener2"]["port"] == srv.tls_port
    # CLIENT LIST: a TLS client looks like a plain one (Redis 7.2 has no TLS field).
    clients = {int(e["laddr"].rsplit(":", 1)[1]): e for e in plain.client_list()}
    assert set(clients) == {srv.port, srv.tls_port}
    assert clients[srv.port].keys() == clients[srv.tls_port].keys()
    assert clients[srv.tls_port]["flags"] == "N"
    assert info(tls, "clients")["connected_clients"] == 2


def test_redis_cli_tls(start, certs):
    srv = start(**{"tls-auth-clients": "yes"})
    cli = ["redis-cli", "-p", str(srv.tls_port), "--tls", "--cacert", certs.ca_crt,
           "--cert", certs.client_crt, "--key", certs.client_key]
    run = lambda *a: subprocess.run(cli + list(a), capture_output=True, text=True, timeout=10).stdout.strip()
    assert run("SET", "cli", "hello") == "OK"
    assert run("GET", "cli") == "hello"
    assert run("INCR", "n") == "1"
    assert run("CONFIG", "GET", "tls-auth-clients") == "tls-auth-clients\nyes"


def test_client_certificates_required(start, certs):
    srv = start(**{"tls-auth-clients": "yes"})
    assert tls_ping(srv.tls_port, certs) is None
    assert tls_ping(srv.tls_port, certs, certs.client_crt, certs.client_key) == b"+PONG\r\n"
    assert tls_ping(srv.tls_port, certs, certs.stranger_crt, certs.stranger_key) is None
    ok = client(srv.tls_port, certs, cert=certs.client_crt, key=certs.client_key)
    assert ok.ping()
    assert "Error accepting a client connection" in srv.log()
    # Refused clients never counted.
    assert info(ok, "clients")["connected_clients"] == 1


def test_client_certificates_optional(start, certs):
    srv = start(**{"tls-auth-clients": "optional"})
    assert tls_ping(srv.tls_port, certs) == b"+PONG\r\n"
    assert tls_ping(srv.tls_port, certs, certs.client_crt, certs.client_key) == b"+PONG\r\n"
    assert tls_ping(srv.tls_port, certs, certs.stranger_crt, certs.stranger_key) is None


def test_client_certificates_not_asked_for(start, certs):
    # tls-auth-clients no: no certificate asked for, none verified (the CA may be absent).
    srv = start(**{"tls-auth-clients": "no", "tls-ca-cert-file": ""})
    assert tls_ping(srv.tls_port, certs) == b"+PONG\r\n"
    assert tls_ping(srv.tls_port, certs, certs.stranger_crt, certs.stranger_key) == b"+PONG\r\n"


def peer_cert(port, certs):
    with tls_connect(port, certs) as s:
        return s.getpeercert(binary_form=True)


def der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def test_certificates_reloaded_by_config_set(start, certs):
    srv = start(**{"tls-auth-clients": "optional"})
    c = client(srv.tls_port, certs)
    assert peer_cert(srv.tls_port, certs) == der(certs.server_crt)
    assert c.config_set("tls-cert-file", certs.server2_crt, "tls-key-file", certs.server2_key) is True
    # New connections get the new certificate; the open one goes on.
    assert peer_cert(srv.tls_port, certs) == der(certs.server2_crt)
    assert c.ping()
    # A file that cannot be loaded: Redis's error, the context in force kept.
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("tls-cert-file", os.path.join(certs.dir, "missing.crt"))
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-cert-file') - "
                            "Unable to update TLS configuration. Check server logs.")
    assert c.config_get("tls-cert-file") == {"tls-cert-file": certs.server2_crt}
    assert peer_cert(srv.tls_port, certs) == der(certs.server2_crt)
    assert "Failed to load certificate: " in srv.log()
    # A key of another certificate.
    with pytest.raises(redis.ResponseError):
        c.config_set("tls-key-file", certs.server_key)
    assert "Failed to load private key: " in srv.log()
    # The CA: clients of the other CA are verified from now on, ours no longer.
    assert tls_ping(srv.tls_port, certs, certs.stranger_crt, certs.stranger_key) is None
    assert c.config_set("tls-ca-cert-file", certs.otherca_crt) is True
    assert tls_ping(srv.tls_port, certs, certs.stranger_crt, certs.stranger_key) == b"+PONG\r\n"
    assert tls_ping(srv.tls_port, certs, certs.client_crt, certs.client_key) is None
    # The same path again reloads the file (Redis's VOLATILE_CONFIG): its new content counts.
    shutil.copy(certs.server_crt, os.path.join(certs.dir, "live.crt"))
    shutil.copy(certs.server_key, os.path.join(certs.dir, "live.key"))
    live_crt, live_key = os.path.join(certs.dir, "live.crt"), os.path.join(certs.dir, "live.key")
    assert c.config_set("tls-cert-file", live_crt, "tls-key-file", live_key) is True
    assert peer_cert(srv.tls_port, certs) == der(certs.server_crt)
    shutil.copy(certs.server2_crt, live_crt)
    shutil.copy(certs.server2_key, live_key)
    assert c.config_set("tls-cert-file", live_crt, "tls-key-file", live_key) is True
    assert peer_cert(srv.tls_port, certs) == der(certs.server2_crt)


def test_config_set_tls_port(start, certs):
    srv = start(tls=False)
    plain = redis.Redis(port=srv.port)
    port = support.free_port()
    assert plain.config_set("tls-port", port) is True
    assert tls_ping(port, certs) == b"+PONG\r\n"
    assert info(plain, "server")["listener2"]["port"] == port
    assert plain.config_set("tls-port", 0) is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # Without certificates TLS cannot be turned on: Redis's error.
    bare = start(tls=False, **{"tls-cert-file": "", "tls-key-file": ""})
    c = redis.Redis(port=bare.port)
    with pytest.raises(redis.ResponseError) as e:
        c.config_set("tls-port", support.free_port())
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'tls-port') - "
                            "Unable to update TLS configuration. Check server logs.")
    assert c.config_get("tls-port") == {"tls-port": "0"}
    assert "No tls-cert-file configured!" in bare.log()


@pytest.mark.parametrize("case", ["missing_cert", "wrong_key", "encrypted_key", "no_ca"])
def test_server_does_not_start_on_a_bad_certificate(certs, case):
    config = {
        "missing_cert": {"tls-cert-file": os.path.join(certs.dir, "missing.crt")},
        "wrong_key": {"tls-key-file": certs.server2_key},
        "encrypted_key": {"tls-key-file": os.path.join(certs.dir, "encrypted.key"), "tls-key-file-pass": "secret"},
        "no_ca": {"tls-auth-clients": "yes", "tls-ca-cert-file": ""},
    }[case]
    srv = TlsServer(certs, **config)
    try:
        assert srv.proc.wait(timeout=10) == 1
        log = srv.log()
        expected = {
            "missing_cert": "Failed to load certificate: ",
            "wrong_key": "Failed to load private key: ",
            "encrypted_key": "encrypted private keys are not supported (tls-key-file-pass)",
            "no_ca": "Either tls-ca-cert-file or tls-ca-cert-dir must be specified",
        }[case]
        assert expected in log
        assert "Failed to configure TLS. Check logs for more info." in log
    finally:
        srv.stop()


def test_silent_and_plain_clients_on_the_tls_port(start, certs):
    # timeout 1: the handshake deadline (a client in its handshake counts as idle, as Redis's
    # client timeout covers it).
    srv = start(timeout=1)
    silent = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    plain = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    plain.sendall(b"*1\r\n$4\r\nPING\r\n")
    half = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    half.sendall(b"\x16\x03\x01\x02\x00")  # a ClientHello's record header, then nothing
    try:
        # The others are served meanwhile.
        c = client(srv.tls_port, certs)
        for _ in range(3):
            assert c.ping()
        assert redis.Redis(port=srv.port).ping()
        # Plain RESP on the TLS port: refused at once (an alert at most, never a reply).
        start_t = time.time()
        got = b""
        while chunk := plain.recv(1024):
            got += chunk
        assert time.time() - start_t < 2 and b"PONG" not in got
        # The silent ones are dropped at the deadline.
        for s in (silent, half):
            assert s.recv(1024) == b""
        assert time.time() - start_t < 4
        assert c.ping()
        assert info(c, "clients")["connected_clients"] == 1
        assert "TLS handshake timed out" in srv.log()
    finally:
        for s in (silent, plain, half):
            s.close()
