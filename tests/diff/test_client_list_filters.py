"""CLIENT LIST TYPE / ID and CLIENT KILL TYPE compared with redis-server, for what a case
file cannot compare (the lines hold ids and ports): which clients each form lists, in which
order, and the errors. A client with subscriptions is of type pubsub (not normal); the ids
of CLIENT LIST ID are listed in the order given, a repeated one twice, unknown ones (0 and
negative included) not at all."""
import pytest

from harness import connect as conn, same_on_both


def listed(reply, names):
    """The clients a CLIENT LIST reply shows, by their names in `names` (id -> name)."""
    assert reply[:1] in (b"$", b"="), reply
    text = reply.split(b"\r\n", 1)[1].decode()
    text = text[4:] if reply[:1] == b"=" else text  # RESP3 verbatim: "txt:" first
    ids = [int(l.split(" ", 1)[0][3:]) for l in text.split("\n") if l.startswith("id=")]
    return [names.get(i, "?") for i in ids]


def filters_run(server, proto):
    m, sub, psub, plain = (conn(server, proto) for _ in range(4))
    names = {int(c.command("CLIENT", "ID")[1:-2]): n for c, n in ((m, "m"), (sub, "sub"), (psub, "psub"), (plain, "plain"))}
    ids = {n: str(i) for i, n in names.items()}
    sub.command("SUBSCRIBE", "ch")
    psub.command("PSUBSCRIBE", "p*")
    out = []
    for args in (["TYPE", "normal"], ["TYPE", "pubsub"], ["TYPE", "PUBSUB"], ["TYPE", "master"], ["TYPE", "replica"],
                 ["TYPE", "slave"], ["ID", ids["plain"], ids["sub"], ids["m"]], ["ID", ids["plain"], ids["plain"]],
                 ["ID", "0"], ["ID", "-1"], ["ID", "99999", ids["psub"]], []):
        shown = [names.get(int(a), a) if a.lstrip("-").isdigit() else a for a in args]
        out.append((shown, listed(m.command("CLIENT", "LIST", *args), names)))
    for args in (["TYPE", "nosuch"], ["TYPE"], ["TYPE", "normal", "ID", "1"], ["ID"], ["ID", "abc"],
                 ["ID", ids["m"], "x"], ["ID", "1.5"], ["FOO", "bar"], ["TYPE", "normal", "x"]):
        for _ in range(2):
            out.append(m.command("CLIENT", "LIST", *args))
    # Unsubscribed from everything: normal again.
    psub.command("PUNSUBSCRIBE")
    out.append(listed(m.command("CLIENT", "LIST", "TYPE", "pubsub"), names))
    # CLIENT KILL TYPE picks the same clients.
    out.append(m.command("CLIENT", "KILL", "TYPE", "master"))
    out.append(m.command("CLIENT", "KILL", "TYPE", "pubsub"))
    out.append(sub.wait_closed(1.0))
    out.append(listed(m.command("CLIENT", "LIST"), names))
    out.append(m.command("CLIENT", "KILL", "TYPE", "nosuch"))
    for c in (m, sub, psub, plain):
        c.close()
    return out


def last_command_run(server, proto):
    """CLIENT LIST's cmd= of another client: its last command as Redis's processCommand
    records it, whether run, queued by MULTI or refused (NULL when unknown, the container
    when a subcommand is missing), twice in a row."""
    a, m = conn(server, proto), conn(server, proto)
    aid = int(a.command("CLIENT", "ID")[1:-2])

    def cmd_of():
        text = m.command("CLIENT", "LIST", "ID", str(aid)).decode()
        return next(f for f in text.split() if f.startswith("cmd="))

    out = []
    for args in (["GET"], ["NOSUCH"], ["CLIENT", "FOO"], ["SET", "k", "v"], ["MULTI"], ["GET", "k"],
                 ["NOSUCH"], ["INCR", "k"], ["EXEC"], ["GET", "k", "x"], ["CONFIG"], ["PING"],
                 ["CONFIG", "GET"], ["CONFIG", "GET"], ["CLIENT", "NOSUCH"], ["OBJECT", "ENCODING", "k"]):
        out.append((args, a.command(*args), cmd_of()))
    a.close()
    m.close()
    return out


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("scenario", [filters_run, last_command_run], ids=lambda f: f.__name__)
def test_client_list(pair, scenario, proto):
    same_on_both(pair, scenario, proto)
