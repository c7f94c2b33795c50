"""Shared machinery of the randomized differential tests (tests/diff/test_random*.py).

Each test file keeps its own command generator, reply modifiers, setup and final-state check;
this module holds what they have in common: the seed, the weighted choice of the next command,
and the loop that sends the generated commands to both servers and compares the replies.

    DIFF_SEED=1234 pytest tests/diff/test_random*.py     # reproduce a run
    DIFF_RANDOM_COUNT=20000 ...                          # longer runs
"""
import os
import random
import time

import pytest

import harness
from harness import compare, start_pair, stop_pair, subject_name
from resp import RawConnection, encode_command, show

SEED = int(os.environ.get("DIFF_SEED", str(int(time.time() * 1000) % 1_000_000_000)))


def random_count(default=3000):
    """How many commands a random test sends: DIFF_RANDOM_COUNT, else the test's default."""
    return int(os.environ.get("DIFF_RANDOM_COUNT", str(default)))


def weighted(rng, choices):
    """Call and return one of the makers in choices, a list of (weight, maker), picked with
    probability proportional to its weight. It draws exactly one rng.uniform() before calling
    the maker, so a given seed always yields the same command sequence."""
    total = sum(w for w, _ in choices)
    x = rng.uniform(0, total)
    for w, make in choices:
        x -= w
        if x <= 0:
            return make()
    return choices[0][1]()


def _no_mods(cmd):
    return {}


def _show_cmd(cmd):
    return " ".join(map(repr, cmd))


def same_state(conns, keys, probes):
    """Assert that the two servers answer alike to every probe of every key (`probes(k)`
    gives the commands to send for key k), for final_check functions."""
    for k in keys:
        for probe in probes(k):
            a, b = (c.command(*probe) for c in conns)
            assert a == b, f"{' '.join(probe)}: {show(a)[:400]} vs {show(b)[:400]}"


COUNTERS = (("stats", ("keyspace_hits", "keyspace_misses")), ("persistence", ("rdb_changes_since_last_save",)))


def same_counters(conns):
    """Assert that the two servers counted the run's lookups (keyspace hits and misses) and
    changes (the dirty count) alike, for final_check functions."""
    for section, names in COUNTERS:
        a, b = ({k: v for k, _, v in (line.partition(":") for line in c.command("INFO", section).decode().split("\r\n"))
                 if k in names} for c in conns)
        assert a == b and len(a) == len(names), f"INFO {section}: {a} vs {b}"


def run_random(label, protocol, seed, make_gen, count, *, variant="", config=None, setup=(),
               mods_for=_no_mods, final_check=None, history_len=15, batch=64, needs_72=False):
    """Run one randomized differential test and fail it (with pytest.fail) on the first difference.

    label        names the test in messages ("random list test").
    protocol     2 or 3; with 3 both connections switch to RESP3 with HELLO 3.
    seed         the seed of this run; the generator is make_gen(random.Random(seed)) and its
                 command() method gives the next command (a list of strings).
    count        how many commands to send, pipelined to both servers in batches of `batch`.
    variant      more words for messages, after the protocol ("fill -2").
    config       server configuration for start_pair.
    setup        commands sent to both servers before the random ones (replies not compared).
    mods_for     cmd -> compare() modifiers for that command's reply ({} by default).
    final_check  called with the two connections [oracle, subject] at the end; it asserts that
                 the final states agree (an AssertionError fails the test with its message).
    history_len  how many of the last commands a mismatch message shows.
    needs_72     the commands answer differently in Redis 7.0 in ways a random sequence cannot
                 be held to (its state drifts from 7.2's after the first difference): against
                 the 7.0 fallback oracle the test fails at once, saying how to get 7.2.

    Every message names DIFF_SEED and the protocol, so a failure can be reproduced."""
    if needs_72 and not harness.ORACLE_IS_72 and not harness.SELF_CHECK:
        pytest.fail(f"{label} needs the Redis 7.2 oracle (the 7.0 fallback answers these commands "
                    "differently and a random sequence has no recorded 7.2 replies): build it with "
                    "tests/oracle.sh from ../shared/redis-7.2.6-src.tar.gz, as `make test` does", pytrace=False)
    where = ", ".join(x for x in (f"RESP{protocol}", variant) if x)
    context = f"DIFF_SEED={SEED}, {where}"
    print(f"{label}: DIFF_SEED={SEED} ({where} uses seed {seed}), {count} commands")
    gen = make_gen(random.Random(seed))
    servers = start_pair(config)
    conns = []
    try:
        conns = [RawConnection(s.port) for s in servers]
        if protocol == 3:
            for c in conns:
                hello = c.command("HELLO", "3")
                if hello[:1] != b"%":
                    pytest.fail(f"{label} ({context}): HELLO 3 answered {show(hello)}", pytrace=False)
        for cmd in setup:
            for c in conns:
                c.command(*cmd)
        history = []
        for start in range(0, count, batch):
            cmds = [gen.command() for _ in range(min(batch, count - start))]
            for c in conns:      # pipeline a batch on both servers, then compare reply by reply
                c.send_raw(b"".join(encode_command(cmd) for cmd in cmds))
            try:
                replies = [[c.read_reply() for _ in cmds] for c in conns]
            except Exception as e:
                pytest.fail(f"{label} ({context}): reading the replies to commands "
                            f"#{start}..#{start + len(cmds) - 1} failed: {e}\n  commands:\n    "
                            + "\n    ".join(_show_cmd(c) for c in cmds), pytrace=False)
            for i, cmd in enumerate(cmds):
                want, got = replies[0][i], replies[1][i]
                history.append(cmd)
                why = compare(mods_for(cmd), want, got)
                if why:
                    recent = "\n".join("    " + _show_cmd(h) for h in history[-history_len:])
                    pytest.fail(
                        f"{label}: mismatch ({context}) at command #{start + i}: {_show_cmd(cmd)}\n"
                        f"  {why}\n"
                        f"  redis:    {show(want)}\n  {subject_name() + ':':<9} {show(got)}\n"
                        f"  last commands:\n{recent}", pytrace=False)
        if final_check is not None:
            try:
                final_check(conns)
            except AssertionError as e:
                pytest.fail(f"{label}: final state check failed ({context}) after {count} commands: {e}",
                            pytrace=False)
    finally:
        for c in conns:
            c.close()
        stop_pair(servers)
