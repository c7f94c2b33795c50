"""ACL compared with redis-server 7.2, for what a case file cannot compare (cases/acl.txt has
the rest): ACL LOG entries (ages, client ports and clock fields masked, the client-info
line's user/cmd/db/flags kept), INFO's acl_access_denied_* counters, CLIENT LIST's user=,
subscribers closed when their channels are revoked, the aclfile (start-up, ACL LOAD / SAVE
and their errors, the file ACL SAVE writes), `user` lines in the config file and CONFIG
REWRITE of the users, requirepass as the default user's password, acl-pubsub-default and
acllog-max-len; RESP2 and RESP3, errors twice."""
import os
import tempfile

import pytest

import support
from harness import connect as conn, info_fields, same_on_both, same_on_pair, start_pair, stop_pair
from resp import parse


def tree(node):
    """A parsed reply as Python values: aggregates as lists (a map's keys and values
    alternating), integers as int, errors as ("err", text), other scalars as bytes."""
    if node.children or node.type in "*%~>|":
        return [tree(c) for c in node.children]
    if node.type == ":":
        return int(node.value)
    if node.type == "-":
        return ("err", node.value)
    return node.value


def flat_pairs(items):
    it = iter(items)
    return list(zip(it, it))


def log_entries(c, *args):
    """ACL LOG entries with the clock and the client's address masked: each a dict."""
    reply = tree(parse(c.command("ACL", "LOG", *args)))
    if not isinstance(reply, list):
        return reply
    out = []
    for e in reply:
        d = {}
        for k, v in flat_pairs(e):
            k = k.decode() if isinstance(k, bytes) else k
            if k == "age-seconds":
                d[k] = "age"
            elif k in ("timestamp-created", "timestamp-last-updated"):
                d[k] = "ts" if isinstance(v, int) and v > 0 else v
            elif k == "client-info":
                fields = dict(f.split("=", 1) for f in v.decode().split(" ") if "=" in f)
                d[k] = {f: fields.get(f) for f in ("name", "db", "flags", "cmd", "user", "resp", "multi", "sub")}
            else:
                d[k] = v
        if d.get("timestamp-created") == "ts":
            assert d["timestamp-last-updated"] == "ts"
        out.append(d)
    return out


def acl_counters(c):
    info = info_fields(c, "stats")
    return {k: v for k, v in info.items() if k.startswith("acl_access_denied")}


def log_run(server, proto):
    m, u = conn(server, proto), conn(server, proto)
    out = [m.command("ACL", "SETUSER", "w", "on", ">pw", "~q:*", "&jobs", "+@read", "+@list", "+multi", "+exec",
                     "+eval", "+client|setname")]
    out.append(log_entries(m))
    out.append(acl_counters(m))
    # Auth failures: unknown user, wrong password, disabled user; twice each.
    for args in (["AUTH", "nosuch", "x"], ["auth", "w", "bad"], ["AUTH", "w", "bad"], ["HELLO", "2", "AUTH", "w", "x"]):
        out.append(u.command(*args))
        out.append(u.command(*args))
    out.append(u.command("AUTH", "w", "pw"))
    out.append(u.command("CLIENT", "SETNAME", "worker"))
    for args in (["FLUSHALL"], ["FLUSHALL"], ["GET", "other"], ["GET", "other"], ["LPUSH", "q:1", "a"],
                 ["PUBLISH", "jobs", "x"], ["SUBSCRIBE", "news"], ["LLEN", "q:1"], ["SET", "q:1", "v"]):
        out.append(u.command(*args))
    out.append(u.command("MULTI"))
    out.append(u.command("GET", "nope"))
    out.append(u.command("EXEC"))
    out.append(u.command("EVAL", "return redis.call('get', 'x')", "0"))
    out.append(u.command("EVAL", "return redis.pcall('flushdb')", "0"))
    out.append(log_entries(m))
    out.append(log_entries(m, "2"))
    out.append(log_entries(m, "0"))
    out.append(log_entries(m, "-5"))
    out.append(acl_counters(m))
    # acllog-max-len applies on the next entry.
    out.append(m.command("CONFIG", "SET", "acllog-max-len", "3"))
    out.append(len(log_entries(m, "100")))
    out.append(u.command("GET", "another"))
    out.append(log_entries(m, "100"))
    out.append(m.command("ACL", "LOG", "RESET"))
    out.append(log_entries(m))
    out.append(u.command("GET", "another"))
    out.append(log_entries(m))
    # CLIENT LIST / CLIENT INFO show the user.
    for c in (m, u):
        info = c.command("CLIENT", "INFO").decode()
        out.append([f for f in info.split() if f.startswith("user=")])
    listing = m.command("CLIENT", "LIST").decode()
    out.append(sorted(f for line in listing.split("\n") for f in line.split() if f.startswith("user=")))
    out.append(m.command("CLIENT", "KILL", "USER", "w"))
    out.append(u.wait_closed(2.0))
    m.close()
    return out


def pubsub_revoke_run(server, proto):
    """ACL SETUSER that takes channels away closes the user's subscribers whose
    subscriptions it no longer allows; one that keeps them (or adds) closes none."""
    m = conn(server, proto)
    out = [m.command("ACL", "SETUSER", "s", "on", "nopass", "+@all", "&news.*", "&alerts")]
    subs = {}
    for name, kind, ch in (("a", "SUBSCRIBE", "news.1"), ("b", "PSUBSCRIBE", "news.*"), ("c", "SUBSCRIBE", "alerts")):
        c = conn(server, proto)
        out.append(c.command("AUTH", "s", "x"))
        out.append(c.command(kind, ch))
        subs[name] = c
    plain = conn(server, proto)
    out.append(plain.command("AUTH", "s", "x"))
    out.append(m.command("ACL", "SETUSER", "s", "&more"))
    out.append({n: c.wait_closed(0.3) for n, c in subs.items()})
    out.append(m.command("ACL", "SETUSER", "s", "resetchannels", "&news.*"))
    out.append({n: c.wait_closed(1.0) for n, c in subs.items()})
    out.append(plain.command("PING"))
    m.close()
    return out


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("scenario", [log_run, pubsub_revoke_run], ids=lambda f: f.__name__)
def test_acl_scenarios(pair, scenario, proto):
    same_on_both(pair, scenario, proto)


def _text(reply, server):
    """A reply with the server's directory replaced by a marker."""
    return reply.replace(server.dir.encode(), b"<dir>")


def aclfile_run(server):
    path = os.path.join(server.dir, "users.acl")
    m = conn(server, 2)
    out = [m.command("ACL", "LIST")]
    # ACL SAVE writes every user; LOAD reads them back.
    out.append(m.command("ACL", "SETUSER", "alice", "on", ">pw", "~a:*", "(~s:* +get)", "+@read"))
    out.append(m.command("ACL", "SAVE"))
    with open(path, "rb") as f:
        out.append(f.read())
    out.append(m.command("ACL", "SETUSER", "bob", "on"))
    out.append(m.command("ACL", "LOAD"))
    out.append(m.command("ACL", "USERS"))
    # A client of a user other than default is closed by LOAD.
    a = conn(server, 2)
    out.append(a.command("AUTH", "alice", "pw"))
    with open(path, "ab") as f:
        f.write(b"user carol on nopass +ping\n")
    out.append(m.command("ACL", "LOAD"))
    out.append(a.wait_closed(2.0))
    out.append(m.command("ACL", "USERS"))
    # Bad files: nothing changes; errors twice.
    for text in (b"user dave on +nosuch\nuser erin bogus\n", b"notuser x\n", b"user dave (~a +get\n",
                 b"user x on\nuser x off\n", b"user default off\nuser y on #abc\n"):
        with open(path, "wb") as f:
            f.write(text)
        out.append(_text(m.command("ACL", "LOAD"), server))
        out.append(_text(m.command("ACL", "LOAD"), server))
    out.append(m.command("ACL", "USERS"))
    # A file without the default user gives a fresh default (nopass, everything).
    with open(path, "wb") as f:
        f.write(b"user only on nopass ~* +@all\n")
    out.append(m.command("ACL", "LOAD"))
    out.append(m.command("ACL", "LIST"))
    os.remove(path)
    out.append(_text(m.command("ACL", "LOAD"), server))
    m.close()
    return out


def test_aclfile(tmp_path):
    """ACL LOAD / SAVE with an aclfile (each server its own), and start-up from one."""
    pair = []
    try:
        for start in (support.start_redis, support.start_cinnabar if not os.environ.get("DIFF_SELF_CHECK") else support.start_redis):
            d = tempfile.mkdtemp(prefix="acl-")
            with open(os.path.join(d, "users.acl"), "w") as f:
                f.write("user default on nopass ~* &* +@all\nuser boot on >b ~* +get\n")
            pair.append(start(workdir=d, aclfile=os.path.join(d, "users.acl")))
        same_on_both(pair, aclfile_run)
    finally:
        stop_pair(pair)


@pytest.mark.parametrize("text,line", [
    ("user a on +nosuch\n", "Error in applying operation '+nosuch': Unknown command or category name in ACL"),
    ("user a on\nuser a off\n", "WARNING: Duplicate user 'a' found on line 2"),
    ("bogus\n", "should start with user keyword followed by the username"),
])
def test_bad_aclfile_at_startup(text, line):
    """A broken aclfile stops start-up with Redis's log line (and status)."""
    results = []
    for start in (support.start_redis, support.start_cinnabar):
        d = tempfile.mkdtemp(prefix="acl-")
        with open(os.path.join(d, "users.acl"), "w") as f:
            f.write(text)
        try:
            s = start(workdir=d, aclfile=os.path.join(d, "users.acl"))
            s.stop()
            results.append("started")
        except RuntimeError as e:
            msg = str(e)
            assert "Aborting Redis startup because of ACL errors" in msg and line in msg, msg
            results.append(msg.split("exited with ")[1].split(":")[0])
    assert results[0] == results[1], results


def config_users_run(server):
    m = conn(server, 2)
    out = [m.command("AUTH", "default", "dpw"), m.command("ACL", "LIST")]
    out.append(m.command("CONFIG", "REWRITE"))
    with open(os.path.join(server.dir, "users.conf")) as f:
        out.append([l for l in f.read().split("\n") if l.startswith("user ")])
    out.append(m.command("ACL", "SETUSER", "new", "on", "+ping"))
    out.append(m.command("ACL", "DELUSER", "a"))
    out.append(m.command("CONFIG", "REWRITE"))
    with open(os.path.join(server.dir, "users.conf")) as f:
        out.append([l for l in f.read().split("\n") if l.startswith("user ")])
    out.append(m.command("ACL", "SAVE"))
    m.close()
    return out


def test_config_file_users():
    """`user` lines in the config file (a repeated default resets it, requirepass before
    them is overridden), and CONFIG REWRITE writing every user."""
    pair = []
    try:
        for start in (support.start_redis, support.start_cinnabar):
            d = tempfile.mkdtemp(prefix="aclconf-")
            path = os.path.join(d, "users.conf")
            with open(path, "w") as f:
                f.write("requirepass old\nuser a on >apw ~a:* +@read (~s:* +set)\nuser default on >dpw ~* &* +@all\n"
                        "user b off\n")
            pair.append(start(workdir=d, config_file=path))
        same_on_both(pair, config_users_run)
    finally:
        stop_pair(pair)


def requirepass_run(server, proto):
    m = conn(server, proto)
    out = [m.command("CONFIG", "SET", "requirepass", "s3")]
    out.append(m.command("ACL", "GETUSER", "default"))
    out.append(m.command("ACL", "LIST"))
    c = conn(server, 2)
    out.append(c.command("PING"))
    out.append(c.command("AUTH", "s3"))
    out.append(c.command("AUTH", "default", "s3"))
    # Another password through ACL: requirepass's stays until it is removed.
    out.append(m.command("ACL", "SETUSER", "default", ">other"))
    out.append(conn(server, 2).command("AUTH", "other"))
    out.append(m.command("CONFIG", "GET", "requirepass"))
    out.append(m.command("CONFIG", "SET", "requirepass", ""))
    out.append(m.command("ACL", "GETUSER", "default"))
    out.append(conn(server, 2).command("PING"))
    out.append(m.command("AUTH", "x"))
    out.append(m.command("AUTH", "x"))
    # The default user switched off: new connections must authenticate, and cannot.
    out.append(m.command("ACL", "SETUSER", "default", "off"))
    n = conn(server, 2)
    out.append(n.command("PING"))
    out.append(n.command("AUTH", "default", "x"))
    out.append(m.command("PING"))
    out.append(m.command("ACL", "SETUSER", "default", "on"))
    out.append(conn(server, 2).command("PING"))
    # acl-pubsub-default: new users and selectors get every channel.
    out.append(m.command("CONFIG", "SET", "acl-pubsub-default", "allchannels"))
    out.append(m.command("ACL", "SETUSER", "p", "(+get)"))
    out.append(m.command("ACL", "GETUSER", "p"))
    out.append(m.command("ACL", "SETUSER", "p", "reset"))
    out.append(m.command("ACL", "GETUSER", "p"))
    m.close()
    return out


@pytest.mark.parametrize("proto", [2, 3])
def test_requirepass_and_defaults(proto):
    same_on_pair({}, requirepass_run, proto)


def genpass_run(server, proto):
    """ACL GENPASS: the reply's type and length (hex digits for the bits asked, 256 by
    default), lower-case hex, different each time."""
    c = conn(server, proto)
    out = []
    for args in ([], ["1"], ["4"], ["5"], ["255"], ["4096"]):
        raw = c.command("ACL", "GENPASS", *args)
        node = parse(raw)
        assert all(ch in b"0123456789abcdef" for ch in node.value), raw
        out.append((node.type, len(node.value)))
    assert c.command("ACL", "GENPASS") != c.command("ACL", "GENPASS")
    c.close()
    return out


@pytest.mark.parametrize("proto", [2, 3])
def test_genpass(pair, proto):
    same_on_both(pair, genpass_run, proto)
