"""Print what the oracle (real redis-server) replies to each line of a case file.

    python3 tests/diff/show.py tests/diff/cases/strings.txt [--resp3]

Use it while writing cases: read the oracle's replies and check they test what you meant.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import support  # noqa: E402
from casefile import CaseFile  # noqa: E402
from resp import RawConnection, ConnectionClosed, show, wait_closed_both  # noqa: E402


def main():
    path = sys.argv[1]
    proto = 3 if "--resp3" in sys.argv else 2
    cf = CaseFile(path)
    server = support.start_redis(**cf.config)
    conns = {}
    cur = "main"

    def conn():
        c = conns.get(cur)
        if c is None or c.closed:
            c = conns[cur] = RawConnection(server.port)
            if proto == 3:
                c.command("HELLO", "3")
        return c

    try:
        for st in cf.steps:
            if st.kind == "conn":
                cur = st.args[0]
            elif st.kind == "sleep":
                import time
                time.sleep(int(st.args[0]) / 1000)
            elif st.kind == "close":
                c = conns.pop(cur, None)
                c and c.close()
            elif st.kind == "restart":
                server.stop()
                cfg = dict(cf.config)
                cfg.update(dict(zip(st.args[::2], st.args[1::2])))
                server = support.start_redis(**cfg)
                conns.clear()
                cur = "main"
            elif st.kind in ("resp2", "resp3", "reset-proto"):
                p = str(proto) if st.kind == "reset-proto" else st.kind[-1]
                print(f"{st.lineno:4} {st.text}\n       -> {show(conn().command('HELLO', p))[:60]}")
            elif st.kind == "cmd":
                c = conn()
                c.send_command(*st.args)
                if "noreply" in st.mods:
                    print(f"{st.lineno:4} {st.text}\n       -> (no reply expected)")
                    continue
                try:
                    r = c.read_reply()
                except ConnectionClosed as e:
                    r = f"<closed {e}>"
                print(f"{st.lineno:4} {st.text}\n       -> {show(r)}")
            elif st.kind == "raw":
                c = conn()
                c.send_raw(st.args[0])
                rs = []
                for _ in range(st.nreplies):
                    try:
                        rs.append(show(c.read_reply()))
                    except ConnectionClosed as e:
                        rs.append(f"<closed {e}>")
                closed = wait_closed_both([c], 0.1)[0]
                print(f"{st.lineno:4} {st.text}\n       -> {' | '.join(rs)}  [{'closed' if closed else 'open'}]")
                if closed:
                    conns.pop(cur, None)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
