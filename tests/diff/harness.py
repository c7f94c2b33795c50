"""Run differential case files against a pair of servers: the oracle (real redis-server) and the
subject (cinnabar, or a second redis-server when DIFF_SELF_CHECK=1, to validate the harness).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import support  # noqa: E402  (tests/support.py)
from resp import (RawConnection, ConnectionClosed, ProtocolViolation, parse, show,  # noqa: E402
                  is_error, wait_closed_both)

SELF_CHECK = os.environ.get("DIFF_SELF_CHECK", "") not in ("", "0")
FAILFAST = os.environ.get("DIFF_FAILFAST", "") not in ("", "0")
# 7.2 (tests/oracle.sh's build) or the 7.0 fallback: decides what @known-diff lines compare with.
ORACLE_IS_72 = support.oracle_is_72()
MAX_REPORTED = 25


def subject_name():
    return "redis(self-check)" if SELF_CHECK else "cinnabar"


def start_pair(config=None):
    """Start the oracle and the subject with the same config; returns (oracle, subject)."""
    config = dict(config or {})
    oracle = support.start_redis(**config)
    try:
        subject = support.start_redis(**config) if SELF_CHECK else support.start_cinnabar(**config)
    except BaseException:
        oracle.stop()
        raise
    return oracle, subject


def run_pair(config, script, *args):
    """Start a pair with `config`, run `script(server, *args)` on the oracle then on the
    subject, stop them; (oracle's result, subject's)."""
    servers = start_pair(config)
    try:
        return tuple(script(s, *args) for s in servers)
    finally:
        stop_pair(servers)


def info_fields(c, section):
    """INFO `section` over a RawConnection, as a dict of its fields."""
    out = {}
    for line in c.command("INFO", section).decode().split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def start_pair_without_active_expiry(config=None):
    """`start_pair` with DEBUG SET-ACTIVE-EXPIRE 0 sent to both: only lazy expiry removes
    keys, so a test decides which command finds a key expired."""
    pair = start_pair({"enable-debug-command": "yes", **(config or {})})
    try:
        for s in pair:
            c = RawConnection(s.port)
            try:
                assert c.command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
            finally:
                c.close()
    except BaseException:
        stop_pair(pair)
        raise
    return pair


def connect(server, proto):
    """A raw connection to `server`, switched to RESP3 by HELLO 3 when `proto` is 3."""
    c = RawConnection(server.port)
    if proto == 3:
        assert c.command("HELLO", "3")[:1] == b"%"
    return c


def reply_within(c, wait, none):
    """The reply connection `c` has received within `wait` seconds, or `none` (a client still
    blocked or held by a pause)."""
    c.sock.settimeout(wait)
    c.timeout = wait
    try:
        return c.read_reply()
    except TimeoutError:
        return none
    finally:
        c.sock.settimeout(5.0)
        c.timeout = 5.0


def blocked_clients(c):
    """INFO's blocked_clients line, as a one-element list."""
    info = c.command("INFO", "clients").decode()
    return [l for l in info.split("\r\n") if l.startswith("blocked_clients:")]


def client_listed(c, cid):
    """flags= and cmd= of client `cid` in CLIENT LIST (None if not listed)."""
    for line in c.command("CLIENT", "LIST").decode().split("\n"):
        if f"id={cid} " in line:
            fields = dict(f.split("=", 1) for f in line.strip().split(" ") if "=" in f)
            return fields["flags"], fields["cmd"]
    return None


def stop_pair(pair):
    for s in pair:
        if s is not None:
            try:
                s.stop()
            except Exception:
                pass


def same_on_both(servers, run, *args):
    """Run a scenario on both servers; the results must be equal. The oracle's result."""
    want, got = [run(s, *args) for s in servers]
    assert got == want, f"redis: {want!r}\n{subject_name()}: {got!r}"
    return want


def same_on_pair(config, run, *args):
    """`same_on_both` on a pair started with `config` for it, stopped after."""
    pair = start_pair(config)
    try:
        return same_on_both(pair, run, *args)
    finally:
        stop_pair(pair)


def same_on_fresh_pair(scenario, config=None):
    """Start a pair, run scenario(connection) with one connection to each server, require
    equal results, stop the pair. The oracle's result."""
    def run(server):
        c = RawConnection(server.port)
        try:
            return scenario(c)
        finally:
            c.close()

    servers = start_pair(config)
    try:
        return same_on_both(servers, run)
    finally:
        stop_pair(servers)


# ---- comparison ---------------------------------------------------------------------------
def _sorted_children(node):
    return sorted(c.raw for c in node.children)


def _pairs(node):
    ch = node.children
    return sorted((ch[i].raw, ch[i + 1].raw) for i in range(0, len(ch) - 1, 2))


def _shape_equal(a, b):
    if a.type != b.type or len(a.children) != len(b.children):
        return False
    if (a.value is None) != (b.value is None) and a.type in "$*":
        return False
    if a.type == "%":
        ka = sorted(a.children[i].raw for i in range(0, len(a.children), 2))
        kb = sorted(b.children[i].raw for i in range(0, len(b.children), 2))
        if ka != kb:
            return False
        da = {a.children[i].raw: a.children[i + 1] for i in range(0, len(a.children), 2)}
        db = {b.children[i].raw: b.children[i + 1] for i in range(0, len(b.children), 2)}
        return all(_shape_equal(da[k], db[k]) for k in da)
    return all(_shape_equal(x, y) for x, y in zip(a.children, b.children))


def _approx_equal(a, b, tol):
    if a.type != b.type or len(a.children) != len(b.children):
        return False
    if a.type in ":," and a.value is not None and b.value is not None:
        try:
            return abs(float(a.value) - float(b.value)) <= tol
        except ValueError:
            return a.raw == b.raw
    if a.children:
        return all(_approx_equal(x, y, tol) for x, y in zip(a.children, b.children))
    return a.raw == b.raw


def _masked(node, names, cols):
    """The reply as nested tuples with its clock-dependent integers replaced by a marker: the
    value after a key in `names` (a map, or a flat key/value array in RESP2) and, in an array of
    scalars of length L, the element at index N for each (N, L) in `cols`. Only integers are
    masked, and only their value: a masked place still has to hold an integer on both sides, and
    the same sign (XINFO CONSUMERS' inactive is -1 for a consumer that never read, a time otherwise)."""
    ch = node.children
    if not ch:
        return (node.type, node.value)
    hidden = set()
    if node.type in "%*|":
        for i in range(0, len(ch) - 1, 2):
            if ch[i].type in "+$" and ch[i].value in names:
                hidden.add(i + 1)
    if node.type == "*" and all(not c.children for c in ch):
        hidden.update(n for n, length in cols if length == len(ch))
    return (node.type, tuple(("masked", c.value.startswith(b"-")) if i in hidden and c.type == ":"
                             else _masked(c, names, cols)
                             for i, c in enumerate(ch)))


def _mask_spec(spec):
    """`idle,seen-time,2/4`: field names, and N/L for element N of an L-element array."""
    names, cols = set(), set()
    for item in spec.split(","):
        if "/" in item and item.replace("/", "").isdigit():
            n, length = item.split("/")
            cols.add((int(n), int(length)))
        else:
            names.add(item.encode())
    return names, cols


def compare(mods, want, got):
    """None if the replies match under the modifiers, else a short reason."""
    if want == got:
        return None
    try:
        a, b = parse(want), parse(got)
    except (ProtocolViolation, ValueError) as e:
        return f"unparsable reply: {e}"
    if "type-only" in mods:
        if a.type == b.type or (is_error(want) and is_error(got)):
            return None
        return "reply types differ"
    if "shape" in mods:
        return None if _shape_equal(a, b) else "reply shapes differ"
    if "mask" in mods:
        names, cols = _mask_spec(mods["mask"])
        return None if _masked(a, names, cols) == _masked(b, names, cols) else "differ outside the masked fields"
    if "approx" in mods:
        return None if _approx_equal(a, b, float(mods["approx"])) else f"differs by more than {mods['approx']}"
    if "unordered" in mods and a.type == b.type and a.type in "*~%>":
        if a.type == "%":
            if _pairs(a) == _pairs(b):
                return None
        elif _sorted_children(a) == _sorted_children(b):
            return None
        return "differ even as multisets"
    if "sortkeys" in mods and a.type == b.type and a.type in "*%":
        if len(a.children) == len(b.children) and _pairs(a) == _pairs(b):
            return None
        return "differ even with key/value pairs sorted"
    return "replies differ"


# ---- connections to both sides --------------------------------------------------------------
class Side:
    def __init__(self, label, server):
        self.label = label
        self.server = server
        self.conns = {}

    def conn(self, name):
        c = self.conns.get(name)
        if c is None or c.closed:
            c = RawConnection(self.server.port)
            self.conns[name] = c
        return c

    def close_all(self):
        for c in self.conns.values():
            c.close()
        self.conns.clear()


class Mismatch:
    def __init__(self, where, command, mode, want, got, why):
        self.where, self.command, self.mode = where, command, mode
        self.want, self.got, self.why = want, got, why

    def __str__(self):
        return (f"{self.where}: {self.command}\n"
                f"    compare: {self.mode} -> {self.why}\n"
                f"    redis:    {show(self.want)}\n"
                f"    {subject_name() + ':':<9} {show(self.got)}")


class CaseRunner:
    """Executes the steps of one case file under one protocol on a fresh pair of servers."""

    def __init__(self, casefile, protocol):
        self.cf = casefile
        self.protocol = protocol
        self.mismatches = []
        self.notes = []
        self.pair = None
        self.sides = None
        self.current = "main"
        self.conn_proto = {}         # connection name -> protocol in use
        self.timeouts = 0

    # -- lifecycle
    def _start(self, config):
        self._stop()
        self.pair = start_pair(config)
        self.sides = (Side("redis", self.pair[0]), Side(subject_name(), self.pair[1]))
        self.conn_proto = {}

    def _stop(self):
        if self.sides:
            for s in self.sides:
                s.close_all()
        if self.pair:
            stop_pair(self.pair)
        self.pair = self.sides = None

    def run(self):
        try:
            self._start(self.cf.config)
            for step in self.cf.steps:
                if not self._step(step):
                    break
                if FAILFAST and self.mismatches:
                    break
                if self.timeouts >= 3:
                    self.mismatches.append(Mismatch(self.where(step), step.text, "timeouts", "", "",
                                                    "3 replies timed out: rest of the file skipped"))
                    break
        finally:
            self._stop()
        return self.mismatches

    def where(self, step):
        return f"{self.cf.name}:{step.lineno} [RESP{self.protocol}]"

    def _fail(self, step, mode, want, got, why, text=None):
        self.mismatches.append(Mismatch(self.where(step), text or step.text, mode, want, got, why))

    # -- connections
    def _conns(self, step):
        """The current connection on both sides, opened (and switched to RESP3) if needed."""
        name = self.current
        fresh = any(name not in s.conns or s.conns[name].closed for s in self.sides)
        conns = [s.conn(name) for s in self.sides]
        if fresh:
            self.conn_proto[name] = 2
            if self.protocol == 3:
                self._hello(step, conns, 3)
        return conns

    def _hello(self, step, conns, proto):
        for c in conns:
            c.send_command("HELLO", str(proto))
        replies = [self._read(c) for c in conns]
        want_type = b"%" if proto == 3 else b"*"
        for side, r in zip(self.sides, replies):
            if not isinstance(r, bytes) or r[:1] != want_type:
                self._fail(step, "setup", replies[0], replies[1],
                           f"{side.label} did not accept HELLO {proto}", text=f"HELLO {proto}")
        self.conn_proto[self.current] = proto

    def _read(self, conn):
        try:
            return conn.read_reply()
        except ConnectionClosed as e:
            return f"<connection closed: {e}>"
        except TimeoutError as e:
            conn.close()
            self.timeouts += 1
            return f"<timeout: {e}>"
        except ProtocolViolation as e:
            conn.close()
            return f"<invalid RESP: {e}>"

    def _check_alive(self, step):
        for side in self.sides:
            if not side.server.alive():
                self.mismatches.append(Mismatch(self.where(step), step.text, "liveness", "",
                                                f"<{side.label} process died>",
                                                f"server exited; log:\n{side.server.read_log()}"))
                return False
        return True

    # -- steps
    def _step(self, step):
        k = step.kind
        if k == "sleep":
            time.sleep(int(step.args[0]) / 1000.0)
            return True
        if k == "conn":
            self.current = step.args[0]
            return True
        if k == "close":
            for s in self.sides:
                c = s.conns.pop(self.current, None)
                if c:
                    c.close()
            return True
        if k == "restart":
            cfg = dict(self.cf.config)
            cfg.update(dict(zip(step.args[::2], step.args[1::2])))
            self._start(cfg)
            self.current = "main"
            return True
        if k in ("resp2", "resp3", "reset-proto"):
            conns = self._conns(step)
            self._hello(step, conns, self.protocol if k == "reset-proto" else int(k[-1]))
            return True
        if k == "cmd":
            return self._command(step)
        if k == "send":
            for c in self._conns(step):
                try:
                    c.send_command(*step.args)
                except ConnectionClosed:
                    pass
            return self._check_alive(step)
        if k == "recv":
            want, got = (self._read(c) for c in self._conns(step))
            self._judge(step, want, got)
            return self._check_alive(step)
        if k == "raw":
            return self._raw(step)
        raise AssertionError(k)

    def _mode(self, step):
        m = [f"{k}={v}" if v is not True else k for k, v in step.mods.items()]
        return ",".join(m) or "exact"

    def _judge(self, step, want, got, text=None):
        """Compare one pair of replies, honouring @known-diff / @expect (a @deliberate-diff
        command never gets here: `_deliberate`). An @expect is compared under the line's clock
        modifiers (@mask, @approx), so a reply with clock fields can still have one; under no
        other (a recorded 7.2 reply holds its order even on an @unordered line)."""
        kd = step.known_diff
        exp = step.expect.get(self.protocol) if kd is not None else None
        clock = {k: v for k, v in step.mods.items() if k in ("mask", "approx")}
        if kd is not None and exp is not None and not ORACLE_IS_72 and not SELF_CHECK:
            # The 7.0 fallback's reply is not used: it may even be a timeout where 7.0 blocks
            # and 7.2 refuses at once, and that is no reason to give up on the file.
            if isinstance(want, str) and want.startswith("<timeout"):
                self.timeouts -= 1
            why = compare(clock, exp, got) if isinstance(got, bytes) else "connection problem"
            if why:
                self._fail(step, f"{kd}: expected reply, {self._mode(step)}", exp, got,
                           f"differs from the @expect reply: {why}", text)
            return
        if not isinstance(want, bytes) or not isinstance(got, bytes):
            if want != got:
                self._fail(step, self._mode(step), want, got, "connection problem", text)
            return
        if kd is not None and ORACLE_IS_72:
            # The oracle is 7.2 itself: the line is compared like any other. Its @expect is what
            # the 7.0 fallback is held to, so it must be 7.2's real reply.
            if exp is not None and compare(clock, want, exp):
                self._fail(step, f"{kd}: @expect vs the 7.2 oracle", want, exp,
                           "the @expect bytes (shown as the subject's) are not Redis 7.2's reply", text)
            kd = None
        if kd is not None and not SELF_CHECK:
            # No reply given: compare only under the modifiers (e.g. @shape), if any.
            if step.mods:
                why = compare(step.mods, want, got)
                if why:
                    self._fail(step, f"{kd}: {self._mode(step)}", want, got, why, text)
            return
        if kd is not None and SELF_CHECK:
            if exp is not None and not compare(clock, want, exp):
                self.notes.append(f"{self.where(step)}: @known-diff is stale, 7.0 already replies {show(exp)}")
        why = compare(step.mods, want, got)
        if why:
            self._fail(step, self._mode(step), want, got, why, text)

    def _command(self, step):
        try:
            conns = self._conns(step)
        except OSError as e:
            self._fail(step, "connect", "", f"<{e}>", "cannot connect")
            return self._check_alive(step)
        if step.known_diff is not None and step.known_diff.deliberate:
            return self._deliberate(step, conns[1])
        for c in conns:
            try:
                c.send_command(*step.args)
            except ConnectionClosed:
                pass
        if "noreply" in step.mods:
            wait_closed_both(conns, 0.05)
            extra = [c.pending() for c in conns]
            if any(extra):
                self._fail(step, "noreply", extra[0] or "<nothing>", extra[1] or "<nothing>",
                           "a reply arrived where none was expected")
                for c in conns:
                    c.buf.clear()
            return self._check_alive(step)
        want, got = (self._read(c) for c in conns)
        self._judge(step, want, got)
        return self._check_alive(step)

    def _deliberate(self, step, conn):
        """A @deliberate-diff command: to the subject only (it could hang or break Redis
        7.2.6), whose reply must be the @expect bytes; skipped in self-check mode."""
        if SELF_CHECK:
            return True
        try:
            conn.send_command(*step.args)
        except ConnectionClosed:
            pass
        got = self._read(conn)
        exp = step.expect[self.protocol]
        if got != exp:
            self._fail(step, f"{step.known_diff}: expected reply", exp, got, "differs from the @expect reply")
        return self._check_alive(step)

    def _raw(self, step):
        try:
            conns = self._conns(step)
        except OSError as e:
            self._fail(step, "connect", "", f"<{e}>", "cannot connect")
            return self._check_alive(step)
        for c in conns:
            try:
                c.send_raw(step.args[0])
            except ConnectionClosed:
                pass
        for i in range(step.nreplies):
            want, got = (self._read(c) for c in conns)
            self._judge(step, want, got, text=f"{step.text} (reply {i + 1})" if step.nreplies > 1 else None)
        closed = wait_closed_both(conns, 0.1)
        if closed[0] != closed[1]:
            st = ["closed" if x else "open" for x in closed]
            self._fail(step, "connection state", f"<{st[0]}>", f"<{st[1]}>",
                       "connection state after the raw bytes differs")
        extra = [c.pending() for c in conns]
        if extra[0] != extra[1]:
            self._fail(step, "trailing bytes", extra[0], extra[1], "unexpected extra reply bytes")
        for c in conns:
            c.buf.clear()
        if any(closed):
            for s in self.sides:
                c = s.conns.pop(self.current, None)
                if c:
                    c.close()
        return self._check_alive(step)


def format_failures(casefile, protocol, mismatches):
    head = f"{len(mismatches)} mismatch(es) in {casefile.name} [RESP{protocol}] (oracle: redis-server {'.'.join(map(str, support.oracle_version()))}, subject: {subject_name()})"
    body = "\n\n".join(str(m) for m in mismatches[:MAX_REPORTED])
    more = f"\n\n... and {len(mismatches) - MAX_REPORTED} more" if len(mismatches) > MAX_REPORTED else ""
    return f"{head}\n\n{body}{more}"
