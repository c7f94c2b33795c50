"""INFO memory's scripting fields against redis-server's: the same field names in the same
order, the same counts (cached scripts, functions, libraries) through SCRIPT LOAD, EVAL,
FUNCTION LOAD / DELETE / RESTORE and the flushes, and byte figures that hang together
(totals are sums, *_human matches, the script cache's size is 0 exactly when it is empty
and grows with it). The byte figures themselves differ: each server reports its own Lua
heaps."""
from harness import start_pair, stop_pair, subject_name
from resp import RawConnection

LIB = "#!lua name=infolib\nredis.register_function('f1', function() return 1 end)\nredis.register_function('f2', function() return 2 end)"
COUNTS = ("number_of_cached_scripts", "number_of_functions", "number_of_libraries")


def scripting_fields(c):
    fields = []
    for line in c.command("INFO", "memory").decode().split("\r\n"):
        name, _, value = line.partition(":")
        if any(w in name for w in ("lua", "vm", "script", "function", "librar")):
            fields.append((name, value))
    return fields


def human(n):
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n}B"


def check_consistent(fields):
    """The byte figures add up; returns what is compared across servers."""
    f = dict(fields)
    num = {k: int(v) for k, v in f.items() if not k.endswith("_human")}
    assert num["used_memory_lua"] == num["used_memory_vm_eval"] > 0
    assert num["used_memory_vm_total"] == num["used_memory_vm_eval"] + num["used_memory_vm_functions"]
    assert num["used_memory_scripts"] == num["used_memory_scripts_eval"] + num["used_memory_functions"]
    assert f["used_memory_lua_human"] == human(num["used_memory_vm_eval"])
    assert f["used_memory_vm_total_human"] == human(num["used_memory_vm_total"])
    assert f["used_memory_scripts_human"] == human(num["used_memory_scripts"])
    return num


def scenario(server):
    c = RawConnection(server.port)
    try:
        steps = [
            ("fresh", None),
            ("script load", ("SCRIPT", "LOAD", "return 1")),
            ("script load again", ("SCRIPT", "LOAD", "return 1")),
            ("eval", ("EVAL", "return 2", "0")),
            ("evalsha", ("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0")),
            ("function load", ("FUNCTION", "LOAD", LIB)),
            ("fcall", ("FCALL", "f2", "0")),
            ("function delete", ("FUNCTION", "DELETE", "infolib")),
            ("function load again", ("FUNCTION", "LOAD", LIB)),
            ("script flush", ("SCRIPT", "FLUSH")),
            ("function flush", ("FUNCTION", "FLUSH")),
        ]
        out = []
        previous = None
        for label, cmd in steps:
            reply = c.command(*cmd) if cmd else None
            fields = scripting_fields(c)
            num = check_consistent(fields)
            eval_bytes = num["used_memory_scripts_eval"]
            out.append((
                label,
                reply,
                [name for name, _ in fields],
                {k: num[k] for k in COUNTS},
                eval_bytes == 0,
                None if previous is None else eval_bytes > previous,
                num["used_memory_functions"] > 0,
            ))
            previous = eval_bytes
        return out
    finally:
        c.close()


def test_info_memory_scripting_fields_match():
    servers = start_pair()
    try:
        want, got = [scenario(s) for s in servers]
        for w, g in zip(want, got):
            assert g == w, f"redis: {w!r}\n{subject_name()}: {g!r}"
        assert len(got) == len(want)
    finally:
        stop_pair(servers)
