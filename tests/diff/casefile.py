"""Parse differential case files (tests/diff/cases/*.txt).

See tests/diff/README.md for the format. In short: one command per line, tokens split like
redis-cli (sdssplitargs), '#' starts a comment line, and lines starting with '@' are directives.
"""
import os

HEX = "0123456789abcdefABCDEF"
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}


class CaseSyntaxError(Exception):
    pass


def split_args(line):
    """Split a line like redis-cli / sdssplitargs does; returns a list of bytes.

    Double quotes understand \\xHH, \\n \\r \\t \\b \\a and \\<any char>; single quotes only \\'.
    A closing quote must be followed by a space or the end of the line.
    Characters outside quotes are taken literally (encoded as UTF-8)."""
    args = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        done = False
        while not done:
            if inq:
                if i >= n:
                    raise CaseSyntaxError("unterminated double quote")
                c = line[i]
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and line[i + 2] in HEX and line[i + 3] in HEX:
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    cur += ESCAPES.get(line[i], line[i]).encode()
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise CaseSyntaxError("closing quote must be followed by a space")
                    done = True
                else:
                    cur += c.encode()
            elif insq:
                if i >= n:
                    raise CaseSyntaxError("unterminated single quote")
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur += b"'"
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise CaseSyntaxError("closing quote must be followed by a space")
                    done = True
                else:
                    cur += c.encode()
            else:
                if i >= n:
                    done = True
                    break
                c = line[i]
                if c.isspace():
                    done = True
                elif c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    cur += c.encode()
            if i < n:
                i += 1
        args.append(bytes(cur))


# Modifiers apply to the next command (or @raw); they may also be followed by the command on
# the same line: `@unordered KEYS *`. The number is how many arguments the modifier takes.
MODIFIERS = {"unordered": 0, "sortkeys": 0, "type-only": 0, "shape": 0, "noreply": 0, "approx": 1, "mask": 1}


# A line whose reply differs from the oracle's for a known reason, with the reason:
#   known-diff       Redis 7.2 (the target) replies differently from Redis 7.0 (the fallback
#                    oracle). Compared with the oracle like any line when the oracle is 7.2; its
#                    @expect bytes are the 7.2 reply, used only against the 7.0 fallback.
#   deliberate-diff  cinnabar differs from Redis 7.2.6 on purpose (a later security fix, a hang
#                    refused, a TLS build): the command goes to cinnabar only (in 7.2.6 it could
#                    hang or break the oracle) and its reply must be the @expect bytes.
DIFF_KINDS = ("known-diff", "deliberate-diff")


class KnownDiff:
    def __init__(self, kind, reason):
        self.kind = kind
        self.reason = reason

    @property
    def deliberate(self):
        return self.kind == "deliberate-diff"

    def __str__(self):
        return f"{self.kind}: {self.reason}"


class Step:
    """One thing to do: kind is 'cmd', 'raw', or a directive name."""

    def __init__(self, kind, lineno, text, args=None, mods=None, expect=None, known_diff=None,
                 nreplies=1):
        self.kind = kind
        self.lineno = lineno
        self.text = text
        self.args = args or []
        self.mods = mods or {}
        self.expect = expect or {}          # {2: bytes, 3: bytes}
        self.known_diff = known_diff        # KnownDiff or None
        self.nreplies = nreplies

    def __repr__(self):
        return f"Step({self.kind}, line {self.lineno}: {self.text})"


class CaseFile:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.config = {}
        self.protocols = [2, 3]
        self.steps = []
        self._parse()

    def _err(self, lineno, msg):
        return CaseSyntaxError(f"{self.name}:{lineno}: {msg}")

    def _parse(self):
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        mods, expect, known = {}, {}, None
        seen_command = False
        for lineno, raw_line in enumerate(lines, 1):
            line = raw_line.strip()
            if not line or line.startswith("#"):
                continue
            rest = None
            if line.startswith("@"):
                name, _, tail = line[1:].partition(" ")
                tail = tail.strip()
                if name in MODIFIERS:
                    try:
                        toks = split_args(tail)
                    except CaseSyntaxError as e:
                        raise self._err(lineno, str(e))
                    k = MODIFIERS[name]
                    if len(toks) < k:
                        raise self._err(lineno, f"@{name} needs {k} argument(s)")
                    mods[name] = toks[0].decode() if k else True
                    if len(toks) > k:
                        rest = toks[k:]
                    else:
                        continue
                elif name in DIFF_KINDS:
                    if not tail:
                        raise self._err(lineno, f"@{name} needs a reason")
                    if known is not None:
                        raise self._err(lineno, "one @known-diff or @deliberate-diff per command")
                    known = KnownDiff(name, tail)
                    continue
                elif name in ("expect", "expect2", "expect3"):
                    try:
                        toks = split_args(tail)
                    except CaseSyntaxError as e:
                        raise self._err(lineno, str(e))
                    if len(toks) != 1:
                        raise self._err(lineno, f"@{name} takes exactly one (quoted) argument")
                    val = toks[0]
                    if not val.endswith(b"\r\n"):
                        val += b"\r\n"
                    protos = {"expect": (2, 3), "expect2": (2,), "expect3": (3,)}[name]
                    for p in protos:
                        expect[p] = val
                    continue
                elif name == "config":
                    if seen_command:
                        raise self._err(lineno, "@config must come before the first command (use @restart)")
                    toks = tail.split(None, 1)
                    if len(toks) != 2:
                        raise self._err(lineno, "@config NAME VALUE")
                    self.config[toks[0]] = toks[1]
                    continue
                elif name == "protocols":
                    try:
                        self.protocols = [int(x) for x in tail.split()]
                    except ValueError:
                        raise self._err(lineno, "@protocols 2 3")
                    if not self.protocols or any(p not in (2, 3) for p in self.protocols):
                        raise self._err(lineno, "@protocols takes 2 and/or 3")
                    continue
                elif name in ("raw", "rawn", "rawrep"):
                    try:
                        toks = split_args(tail)
                    except CaseSyntaxError as e:
                        raise self._err(lineno, str(e))
                    nrep = 1
                    if name == "rawrep":
                        # @rawrep PREFIX UNIT COUNT SUFFIX: PREFIX + UNIT*COUNT + SUFFIX, one reply
                        if len(toks) != 4 or not toks[2].isdigit():
                            raise self._err(lineno, "@rawrep PREFIX UNIT COUNT SUFFIX")
                        toks = [toks[0] + toks[1] * int(toks[2]) + toks[3]]
                    if name == "rawn":
                        if len(toks) != 2:
                            raise self._err(lineno, "@rawn N BYTES")
                        nrep = int(toks[0])
                        toks = toks[1:]
                    if len(toks) != 1:
                        raise self._err(lineno, f"@{name} takes one quoted byte string")
                    if known is not None and known.deliberate:
                        raise self._err(lineno, "@deliberate-diff goes before a command, not @raw")
                    self.steps.append(Step("raw", lineno, line, [toks[0]], mods, expect, known, nrep))
                    mods, expect, known = {}, {}, None
                    seen_command = True
                    continue
                elif name == "send":
                    # @send CMD ARGS...: send on the current connection without reading the
                    # reply (a blocking command); a later @recv reads and compares it.
                    if mods or expect or known:
                        raise self._err(lineno, "modifiers go before @recv, not @send")
                    try:
                        toks = split_args(tail)
                    except CaseSyntaxError as e:
                        raise self._err(lineno, str(e))
                    if not toks:
                        raise self._err(lineno, "@send needs a command")
                    self.steps.append(Step("send", lineno, line, toks))
                    seen_command = True
                    continue
                elif name == "recv":
                    # @recv: read one pending reply on the current connection and compare it
                    # (modifiers and @known-diff apply as to a command).
                    if known is not None and known.deliberate:
                        raise self._err(lineno, "@deliberate-diff goes before a command, not @recv")
                    self.steps.append(Step("recv", lineno, line, [], mods, expect, known))
                    mods, expect, known = {}, {}, None
                    seen_command = True
                    continue
                elif name in ("resp2", "resp3", "reset-proto", "close", "sleep", "conn", "restart"):
                    if mods or expect or known:
                        raise self._err(lineno, f"modifiers must be followed by a command, not @{name}")
                    args = tail.split()
                    if name == "sleep" and (len(args) != 1 or not args[0].isdigit()):
                        raise self._err(lineno, "@sleep MS")
                    if name == "conn" and len(args) != 1:
                        raise self._err(lineno, "@conn NAME")
                    if name == "restart" and len(args) % 2:
                        raise self._err(lineno, "@restart [NAME VALUE]...")
                    self.steps.append(Step(name, lineno, line, args))
                    seen_command = True
                    continue
                else:
                    raise self._err(lineno, f"unknown directive @{name}")
            if rest is None:
                try:
                    rest = split_args(line)
                except CaseSyntaxError as e:
                    raise self._err(lineno, str(e))
            if known is not None and not expect:
                pass  # known-diff without @expect: reply not compared
            if expect and known is None:
                raise self._err(lineno, "@expect is only allowed after @known-diff or @deliberate-diff")
            if known is not None and known.deliberate and (mods or sorted(expect) != self.protocols):
                raise self._err(lineno, "@deliberate-diff needs the @expect reply of each protocol, no modifier")
            self.steps.append(Step("cmd", lineno, line, rest, mods, expect, known))
            mods, expect, known = {}, {}, None
            seen_command = True
        if mods or expect or known:
            raise self._err(len(lines), "dangling modifiers at end of file")


def case_files(directory):
    return sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".txt"))

