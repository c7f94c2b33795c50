"""Tests of the harness itself: the RESP reader, the case-file tokenizer, the comparison modes,
and that a real difference between two servers is reported (not silently accepted)."""
import os
import socket
import tempfile
import threading

import pytest

import harness
from casefile import CaseFile, CaseSyntaxError, split_args
from harness import CaseRunner, compare
from resp import RawConnection, parse


# ---- RESP reader ------------------------------------------------------------------------------
REPLIES = [
    b"+OK\r\n", b"-ERR x\r\n", b":-12\r\n", b"$-1\r\n", b"$0\r\n\r\n", b"$4\r\na\r\nb\r\n",
    b"*-1\r\n", b"*0\r\n", b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n", b"_\r\n", b",3.14\r\n", b",inf\r\n",
    b"#t\r\n", b"!3\r\nERR\r\n", b"=7\r\ntxt:abc\r\n", b"(12345678901234567890\r\n",
    b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n_\r\n", b"~2\r\n+x\r\n+y\r\n", b">2\r\n+message\r\n+hi\r\n",
    b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n", b"*1\r\n%1\r\n~1\r\n+k\r\n|1\r\n+a\r\n+b\r\n:7\r\n",
]


def _feed(chunks):
    """A RawConnection whose server writes the given chunks one by one."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        s, _ = srv.accept()
        for c in chunks:
            s.sendall(c)
            threading.Event().wait(0.002)
        s.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return RawConnection(port, timeout=2)


def test_reader_splits_replies_exactly():
    stream = b"".join(REPLIES)
    # deliver byte by byte in small chunks to exercise partial reads
    conn = _feed([stream[i:i + 3] for i in range(0, len(stream), 3)])
    for want in REPLIES:
        assert conn.read_reply() == want
        parse(want)
    assert conn.wait_closed(1.0)


def test_reader_rejects_garbage():
    conn = _feed([b"?what\r\n"])
    with pytest.raises(Exception):
        conn.read_reply()


# ---- tokenizer ----------------------------------------------------------------------------------
@pytest.mark.parametrize("line,want", [
    ('SET a b', [b"SET", b"a", b"b"]),
    ('SET "a b" \'c d\'', [b"SET", b"a b", b"c d"]),
    (r'"\x00\xff\n\r\t\\\"q"', [b"\x00\xff\n\r\t\\\"q"]),
    (r"'it\'s' '\x41'", [b"it's", b"\\x41"]),
    ('  spaced   out  ', [b"spaced", b"out"]),
    ('""', [b""]),
    ('h\xe9', ["h\xe9".encode()]),
])
def test_split_args(line, want):
    assert split_args(line) == want


@pytest.mark.parametrize("line", ['"abc', "'abc", '"a"b', "'a'b"])
def test_split_args_errors(line):
    with pytest.raises(CaseSyntaxError):
        split_args(line)


# ---- comparison modes ---------------------------------------------------------------------------
def test_compare_modes():
    assert compare({}, b"+OK\r\n", b"+OK\r\n") is None
    assert compare({}, b"+OK\r\n", b"$2\r\nOK\r\n")
    u = {"unordered": True}
    assert compare(u, b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"*2\r\n$1\r\nb\r\n$1\r\na\r\n") is None
    assert compare(u, b"*2\r\n$1\r\na\r\n$1\r\na\r\n", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n")
    assert compare(u, b"*1\r\n$1\r\na\r\n", b"~1\r\n$1\r\na\r\n")
    s = {"sortkeys": True}
    assert compare(s, b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n", b"*4\r\n$1\r\nb\r\n:2\r\n$1\r\na\r\n:1\r\n") is None
    assert compare(s, b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n", b"%2\r\n$1\r\nb\r\n:2\r\n$1\r\na\r\n:2\r\n")
    t = {"type-only": True}
    assert compare(t, b":1\r\n", b":2\r\n") is None
    assert compare(t, b":1\r\n", b"$1\r\n1\r\n")
    a = {"approx": "1"}
    assert compare(a, b":100\r\n", b":99\r\n") is None
    assert compare(a, b":100\r\n", b":98\r\n")
    assert compare(a, b"*2\r\n:5\r\n$1\r\nx\r\n", b"*2\r\n:6\r\n$1\r\nx\r\n") is None
    sh = {"shape": True}
    assert compare(sh, b"%1\r\n+id\r\n:4\r\n", b"%1\r\n+id\r\n:5\r\n") is None
    assert compare(sh, b"%1\r\n+id\r\n:4\r\n", b"%1\r\n+xx\r\n:4\r\n")
    m = {"mask": "idle,2/4"}
    # a consumer (RESP2 flat pairs, RESP3 map): idle masked, pending exact
    assert compare(m, b"*4\r\n$4\r\nidle\r\n:5\r\n$7\r\npending\r\n:1\r\n",
                   b"*4\r\n$4\r\nidle\r\n:9\r\n$7\r\npending\r\n:1\r\n") is None
    assert compare(m, b"*4\r\n$4\r\nidle\r\n:5\r\n$7\r\npending\r\n:1\r\n",
                   b"*4\r\n$4\r\nidle\r\n:5\r\n$7\r\npending\r\n:2\r\n")
    assert compare(m, b"%1\r\n+idle\r\n:5\r\n", b"%1\r\n+idle\r\n:7\r\n") is None
    assert compare(m, b"%1\r\n+idle\r\n:5\r\n", b"%1\r\n+idle\r\n$1\r\n5\r\n")
    assert compare(m, b"%1\r\n+idle\r\n:-1\r\n", b"%1\r\n+idle\r\n:7\r\n")   # never vs a time
    # an XPENDING entry [id, consumer, idle, count]: column 2 of 4 masked, the count exact
    pel = b"*1\r\n*4\r\n$3\r\n1-1\r\n$1\r\nc\r\n:%d\r\n:%d\r\n"
    assert compare(m, pel % (10, 1), pel % (12, 1)) is None
    assert compare(m, pel % (10, 1), pel % (10, 2))


# ---- a real difference is reported ----------------------------------------------------------------
def _case(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    f.write(text)
    f.close()
    try:
        return CaseFile(f.name)
    finally:
        os.unlink(f.name)


def test_runner_reports_differences(monkeypatch):
    """The subject gets a different config (databases 4): every line touching db 5 must differ,
    and a raw framing error that both handle alike must not."""
    real_start = harness.support.start_redis

    def start_pair(config=None):
        a = real_start(**(config or {}))
        b = real_start(**dict(config or {}, databases=4))
        return a, b

    monkeypatch.setattr(harness, "start_pair", start_pair)
    cf = _case('SET k v\nSELECT 5\nGET k\nSELECT 0\n@raw "*1\\r\\nx\\r\\n"\nPING\n'
               '@known-diff pretend 7.2 says hi\n@expect "+hi"\nPING\n')
    for proto in (2, 3):
        runner = CaseRunner(cf, proto)
        mism = runner.run()
        lines = sorted({int(m.where.split(":")[1].split()[0]) for m in mism})
        # Line 9 against 7.2: "+hi" is not 7.2's reply to PING, so the @expect itself is wrong.
        expect_lines = [2, 3] if harness.SELF_CHECK and not harness.ORACLE_IS_72 else [2, 3, 9]
        assert lines == expect_lines, "\n".join(map(str, mism))
        assert "DB index is out of range" in harness.show(mism[0].got)


def test_case_file_syntax_errors():
    with pytest.raises(CaseSyntaxError):
        _case("@nosuchdirective\n")
    with pytest.raises(CaseSyntaxError):
        _case('@expect "+OK"\nPING\n')          # @expect without @known-diff
    with pytest.raises(CaseSyntaxError):
        _case("@unordered\n")                    # dangling modifier
    with pytest.raises(CaseSyntaxError):
        _case("PING\n@config a b\n")             # @config after a command
    with pytest.raises(CaseSyntaxError):
        _case('@known-diff a\n@deliberate-diff b\nPING\n')  # one reason per line
    cf = _case('@unordered KEYS *\n@approx 2 TTL k\n@known-diff r\n@expect2 "+a"\n@expect3 "+b"\nPING\n')
    assert cf.steps[0].mods == {"unordered": True} and cf.steps[0].args == [b"KEYS", b"*"]
    assert cf.steps[1].mods == {"approx": "2"}
    assert cf.steps[2].expect == {2: b"+a\r\n", 3: b"+b\r\n"}


class FakeConn:
    def __init__(self, reply):
        self.reply, self.sent = reply, []

    def send_command(self, *args):
        self.sent.append(args)

    def read_reply(self):
        return self.reply


@pytest.mark.parametrize("oracle_is_72", [True, False])
def test_known_and_deliberate_diffs(monkeypatch, oracle_is_72):
    """@known-diff's @expect holds only against the 7.0 fallback (against 7.2 the oracle's reply
    does, and the @expect must be it); a @deliberate-diff command goes to the subject alone,
    whose reply must be its @expect, whatever the oracle."""
    monkeypatch.setattr(harness, "SELF_CHECK", False)
    monkeypatch.setattr(harness, "ORACLE_IS_72", oracle_is_72)
    cf = _case('@known-diff 7.2 says PONG\n@expect "+PONG"\nPING\n'
               '@known-diff 7.2 says PONG\n@expect "+PONG"\nPING\n'
               '@deliberate-diff we say hi\n@expect "+hi"\nPING\n'
               '@deliberate-diff we say hi\n@expect "+hi"\nPING\n')
    runner = CaseRunner(cf, 2)
    runner.sides = (None, None)
    runner._check_alive = lambda step: True
    ok, other = b"+PONG\r\n", b"+other\r\n"
    runner._judge(cf.steps[0], other, ok)      # 7.0 said other, cinnabar 7.2's PONG
    runner._judge(cf.steps[1], ok, other)      # cinnabar wrong whatever the oracle
    right, wrong = FakeConn(b"+hi\r\n"), FakeConn(ok)
    runner._deliberate(cf.steps[2], right)
    runner._deliberate(cf.steps[3], wrong)
    assert right.sent == [(b"PING",)] and wrong.sent == [(b"PING",)]
    failed = [m.where.split(":")[1].split()[0] for m in runner.mismatches]
    # Against 7.2, line 3 twice: its @expect is not the oracle's "+other", nor is cinnabar's reply.
    assert failed == (["3", "3", "6", "12"] if oracle_is_72 else ["6", "12"])


@pytest.mark.parametrize("oracle_is_72", [True, False])
def test_known_diff_expect_under_modifiers(monkeypatch, oracle_is_72):
    """A @known-diff's @expect is compared under the line's clock modifiers (a reply with a
    clock field can have one), under no other (@unordered: the recorded order holds), and a
    7.0 fallback that blocks where 7.2 answers (a timeout) is not a mismatch nor counted
    towards giving up on the file."""
    monkeypatch.setattr(harness, "SELF_CHECK", False)
    monkeypatch.setattr(harness, "ORACLE_IS_72", oracle_is_72)
    cf = _case('@known-diff 7.2 adds inactive\n@expect "%2\\r\\n+idle\\r\\n:5\\r\\n+inactive\\r\\n:5"\n'
               '@mask idle,inactive XINFO CONSUMERS s g\n'
               '@known-diff 7.2 adds inactive\n@expect "%2\\r\\n+idle\\r\\n:5\\r\\n+inactive\\r\\n:5"\n'
               '@mask idle,inactive XINFO CONSUMERS s g\n'
               '@known-diff 7.2 refuses at once\n@expect "-ERR timeout is out of range"\nXREAD BLOCK 1 STREAMS s 0\n'
               '@known-diff 7.2 keeps the order\n@expect "*2\\r\\n+a\\r\\n+b"\n@unordered SMEMBERS s\n')
    ab, ba = b"*2\r\n+a\r\n+b\r\n", b"*2\r\n+b\r\n+a\r\n"
    runner = CaseRunner(cf, 3)
    c72 = b"%2\r\n+idle\r\n:9\r\n+inactive\r\n:12\r\n"       # 7.2's shape, other times
    never = b"%2\r\n+idle\r\n:9\r\n+inactive\r\n:-1\r\n"     # -1 (never) is not a time
    err = b"-ERR timeout is out of range\r\n"
    if oracle_is_72:
        runner._judge(cf.steps[0], c72, c72)
        runner._judge(cf.steps[1], never, never)     # the @expect is not 7.2's reply: reported
        runner._judge(cf.steps[2], err, err)
        runner._judge(cf.steps[3], ba, ab)           # 7.2's order is not the @expect's
        assert [m.where.split(":")[1].split()[0] for m in runner.mismatches] == ["6", "12"]
        return
    c70 = b"%1\r\n+idle\r\n:9\r\n"
    runner._judge(cf.steps[0], c70, c72)
    runner._judge(cf.steps[1], c70, never)
    runner.timeouts = 1
    runner._judge(cf.steps[2], "<timeout: no complete reply within 5.0s; partial: b''>", err)
    runner._judge(cf.steps[3], ab, ba)               # cinnabar's order is not the @expect's
    assert [m.where.split(":")[1].split()[0] for m in runner.mismatches] == ["6", "12"]
    assert runner.timeouts == 0


def test_deliberate_diff_syntax():
    with pytest.raises(CaseSyntaxError):
        _case('@deliberate-diff r\n@expect2 "+a"\nPING\n')        # RESP3 reply missing
    with pytest.raises(CaseSyntaxError):
        _case('@deliberate-diff r\n@expect "+a"\n@shape PING\n')  # no modifier
    with pytest.raises(CaseSyntaxError):
        _case('@deliberate-diff r\n@expect "+a"\n@recv\n')
    cf = _case('@protocols 2\n@deliberate-diff r\n@expect2 "+a"\nPING\n')
    assert cf.steps[0].known_diff.deliberate and cf.steps[0].expect == {2: b"+a\r\n"}
