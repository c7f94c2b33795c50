"""Time moves on within a pipelined batch after a slow command, as in Redis, which takes a
fresh time for every command it runs. cinnabar's commands of one batch share one reading
of the clock (BatchClock), read again after any command that took a millisecond or more:
a key that expires while a script spins is gone for the command or script after it in the
same batch, on both servers. A pipeline of scripts is one job on cinnabar's scripts
thread, so this covers the time inside that job too. Active expiry is off on both
servers (DEBUG SET-ACTIVE-EXPIRE 0): between the scripts it would delete the key anyway.
"""
import pytest

from harness import start_pair_without_active_expiry, stop_pair
from resp import RawConnection, encode_command

# About 0.2-0.5 s of Lua on this machine: far longer than the 30 ms TTL below.
SPIN = "local n = 0 for i = 1, 30000000 do n = n + 1 end return n"
GET_IN_SCRIPT = "return redis.call('GET', KEYS[1])"


@pytest.fixture(scope="module")
def pair():
    servers = start_pair_without_active_expiry()
    try:
        yield servers
    finally:
        stop_pair(servers)


def run(port, batch):
    c = RawConnection(port, timeout=30)
    try:
        assert c.command("SET", "k", "v", "PX", "30") == b"+OK\r\n"
        c.send_raw(b"".join(encode_command(cmd) for cmd in batch))
        return [c.read_reply() for _ in batch]
    finally:
        c.close()


def check(pair, batch):
    oracle, subject = pair
    want = run(oracle.port, batch)
    got = run(subject.port, batch)
    assert want[-1] == b"$-1\r\n", want
    assert got == want


def test_script_after_a_slow_script_in_one_batch_sees_the_key_expired(pair):
    check(pair, [("EVAL", SPIN, "0"), ("EVAL", GET_IN_SCRIPT, "1", "k")])


def test_command_after_a_slow_script_in_one_batch_sees_the_key_expired(pair):
    check(pair, [("EVAL", SPIN, "0"), ("GET", "k")])


def test_script_after_slow_scripts_and_commands_in_one_batch(pair):
    check(pair, [("PING",), ("EVAL", SPIN, "0"), ("INCR", "n"), ("EVAL", GET_IN_SCRIPT, "1", "k")])
