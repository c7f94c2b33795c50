"""COMMAND DOCS against redis-server's for every command cinnabar has: each command's and
each subcommand's fields (summary, since, group, complexity, doc_flags, deprecated_since,
replaced_by, history, arguments) byte for byte, in Redis's field order, RESP2 and RESP3;
and COMMAND DOCS with no name lists exactly our commands (Redis's docs of the commands we
lack are not ours to give).

Two things are not compared byte for byte: the order of a container's subcommands, which
is its dict's order in Redis and changes with each process's hash seed (so the entries are
compared as a map), and subcommands cinnabar does not have (SCRIPT DEBUG...), which it does
not document: those are listed and must be a fixed, known set."""
import pytest

from harness import start_pair, stop_pair, connect
from resp import parse


def doc_entries(node):
    """(name, fields) pairs of a map reply (a flat array under RESP2)."""
    kids = node.children
    return [(kids[i].value.decode(), kids[i + 1]) for i in range(0, len(kids), 2)]


def normalize(doc):
    """A command's doc map as a list of (field, raw bytes), its subcommands as a dict of
    normalized docs."""
    fields = []
    for key, value in doc_entries(doc):
        if key == "subcommands":
            fields.append((key, {name: normalize(d) for name, d in doc_entries(value)}))
        else:
            fields.append((key, value.raw))
    return fields


# Subcommands Redis documents that cinnabar does not have yet.
UNDOCUMENTED = {"script|debug"}


def names(c):
    """The command and subcommand names the server lists (COMMAND LIST)."""
    return sorted(n.value.decode() for n in parse(c.command("COMMAND", "LIST")).children)


@pytest.mark.parametrize("proto", [2, 3])
def test_command_docs_every_command(proto):
    pair = start_pair()
    try:
        oracle, ours = (connect(s, proto) for s in pair)
        mine = names(ours)
        theirs = set(names(oracle))
        assert mine and set(mine) <= theirs, set(mine) - theirs
        diffs, missing = [], set()
        for name in mine:
            a = normalize(doc_entries(parse(oracle.command("COMMAND", "DOCS", name)))[0][1])
            b = normalize(doc_entries(parse(ours.command("COMMAND", "DOCS", name)))[0][1])
            subs_a = dict(a).get("subcommands", {})
            subs_b = dict(b).get("subcommands", {})
            missing |= set(subs_a) - set(subs_b)
            for sub in set(subs_a) - set(subs_b):
                del subs_a[sub]
            if a != b:
                diffs.append(f"{name}:\n  redis:    {a!r:.600}\n  cinnabar: {b!r:.600}")
        assert not diffs, f"{len(diffs)} commands differ:\n" + "\n".join(diffs[:20])
        assert missing == UNDOCUMENTED
        # Several names at once, unknown ones skipped, in the order asked.
        # (Not a container: the subcommands of its doc map come in Redis's hash order.)
        args = ["get", "no-such-command", mine[-1]]
        assert oracle.command("COMMAND", "DOCS", *args) == ours.command("COMMAND", "DOCS", *args)
        # Every command at once: the same entries (the order is the table's hash order).
        # (a RESP3 map's children alternate keys and values too)
        listed = parse(ours.command("COMMAND", "DOCS")).children[0::2]
        assert sorted(n.value.decode() for n in listed) == [n for n in mine if "|" not in n]
    finally:
        stop_pair(pair)
