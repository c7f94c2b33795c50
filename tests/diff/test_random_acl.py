"""Seeded random ACL sequences against redis-server 7.2: ACL SETUSER of random rules (valid
and not, selectors, every rule kind, spread over a few users), ACL GETUSER / LIST / USERS,
ACL DRYRUN of random commands on random keys and channels (which exercises the same check as
admission), DELUSER and ACL CAT; RESP2 and RESP3. Final check: ACL LIST equal.

    DIFF_SEED=1234 python3 -m pytest -q tests/diff/test_random_acl.py
"""
import pytest

from random_runner import SEED, random_count, run_random, weighted

COUNT = random_count(2500)
USERS = ["u1", "u2", "u3"]
KEYS = ["a", "a:1", "b:2", "cache:x", "ro:1", "wo:1", "k", "kk", "x*y"]
CHANNELS = ["news", "news.1", "alerts", "n*"]
COMMANDS = ["get", "set", "del", "hget", "hset", "lpush", "lrange", "mget", "mset", "publish",
            "subscribe", "psubscribe", "select", "config", "flushall", "keys", "client", "eval",
            "sort", "object", "debug", "ping", "info", "incr", "copy", "rename"]
CATEGORIES = ["read", "write", "keyspace", "string", "hash", "list", "pubsub", "admin", "dangerous",
              "fast", "slow", "connection", "scripting", "all", "nosuch"]


class Generator:
    def __init__(self, rng):
        self.r = rng

    def rule(self):
        r = self.r
        return weighted(r, [
            (4, lambda: r.choice(["on", "off", "nopass", "resetpass", "reset", "allkeys", "resetkeys",
                                  "allchannels", "resetchannels", "allcommands", "nocommands",
                                  "clearselectors", "skip-sanitize-payload", "sanitize-payload"])),
            (3, lambda: ">" + r.choice(["pw", "pw2", "x"])),
            (1, lambda: "<" + r.choice(["pw", "pw2", "nope"])),
            (6, lambda: r.choice(["~", "%R~", "%W~", "%RW~", "%WR~"]) + r.choice(KEYS + ["*", "a*", "cache:*", "?:1"])),
            (3, lambda: "&" + r.choice(CHANNELS + ["*"])),
            (6, lambda: r.choice("+-") + r.choice(COMMANDS)),
            (2, lambda: "+" + r.choice(["config|get", "config|set", "client|list", "object|encoding", "select|0",
                                        "select|1", "debug|object", "config|nosuch", "get|x"])),
            (2, lambda: "-" + r.choice(["config|get", "client|list", "select|0"])),
            (5, lambda: r.choice("+-") + "@" + r.choice(CATEGORIES)),
            (2, lambda: "(" + " ".join(self.selector_rule() for _ in range(r.randint(0, 3))) + ")"),
            (1, lambda: r.choice(["bogus", "%X~a", "#abc", "~a b", "(~a", "+@", "+"])),
        ])

    def selector_rule(self):
        r = self.r
        return r.choice(["~" + r.choice(KEYS), "%R~*", "&" + r.choice(CHANNELS), "+" + r.choice(COMMANDS),
                         "-" + r.choice(COMMANDS), "+@" + r.choice(CATEGORIES[:-1]), "allkeys", "resetchannels"])

    def command_args(self):
        r = self.r
        name = r.choice(COMMANDS)
        k = lambda: r.choice(KEYS)  # noqa: E731
        shapes = {
            "get": [k()], "set": [k(), "v"], "del": [k(), k()], "hget": [k(), "f"], "hset": [k(), "f", "v"],
            "lpush": [k(), "x"], "lrange": [k(), "0", "-1"], "mget": [k(), k(), k()], "mset": [k(), "1", k(), "2"],
            "publish": [r.choice(CHANNELS), "m"], "subscribe": [r.choice(CHANNELS), r.choice(CHANNELS)],
            "psubscribe": [r.choice(CHANNELS)], "select": [r.choice(["0", "1"])],
            "config": ["get", "maxmemory"] if r.random() < 0.5 else ["set", "maxmemory", "0"],
            "flushall": [], "keys": ["*"], "client": ["list"], "eval": ["return 1", "1", k()],
            "sort": [k(), "BY", "w_*"] if r.random() < 0.5 else [k()], "object": ["encoding", k()],
            "debug": ["object", k()], "ping": [], "info": [], "incr": [k()], "copy": [k(), k()],
            "rename": [k(), k()],
        }
        return [name] + shapes[name]

    def command(self):
        r = self.r
        u = lambda: r.choice(USERS)  # noqa: E731
        return weighted(r, [
            (30, lambda: ["ACL", "SETUSER", u()] + [self.rule() for _ in range(r.randint(0, 4))]),
            (10, lambda: ["ACL", "GETUSER", r.choice(USERS + ["default", "nosuch"])]),
            (4, lambda: ["ACL", "LIST"]),
            (2, lambda: ["ACL", "USERS"]),
            (25, lambda: ["ACL", "DRYRUN", u()] + self.command_args()),
            (2, lambda: ["ACL", "DELUSER", u()]),
            (2, lambda: ["ACL", "CAT", r.choice(CATEGORIES)]),
        ])


def final_state(conns):
    a, b = (c.command("ACL", "LIST") for c in conns)
    assert a == b, f"ACL LIST: {a!r} vs {b!r}"


def mods_for(cmd):
    # ACL CAT's order is Redis's dict's.
    return {"unordered": True} if cmd[:2] == ["ACL", "CAT"] else {}


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_random_acl(protocol):
    run_random("random acl test", protocol, SEED + protocol, Generator, COUNT, final_check=final_state,
               mods_for=mods_for, history_len=12, needs_72=True)
