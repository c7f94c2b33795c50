"""A real job-queue library against the real binary: python-rq 3 enqueues jobs, a burst worker
runs them (rq's own transactions, pipelines and Lua), results come back and the failing job
lands in the failed-job registry.

Since rq 1.12 a job's results are not a field of the job's hash but entries of a stream,
`rq:results:<job id>` (XADD ... MAXLEN 10 per execution; XREVRANGE / XLEN to read them, and
XREAD BLOCK for `latest_result(timeout=...)`), so this is also a test of streams through a
library that was not written for us.

Clients: redis-py 8's defaults (RESP3 on the wire, replies shaped as in RESP2 by its
legacy_responses), and protocol=2 and protocol=3 given explicitly (RESP3's own shapes)."""
import os
import subprocess
import sys

import pytest
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


@pytest.fixture(params=[None, 2, 3], ids=["default", "resp2", "resp3"])
def client_protocol(request):
    return request.param


def _rq():
    try:
        import rq
        from rq import Queue
        from rq.registry import FailedJobRegistry, FinishedJobRegistry
        from rq.results import Result
    except ImportError:
        pytest.fail("python-rq is missing: pip install -U rq (make deps installs it)")
    if int(rq.__version__.split(".")[0]) < 3:
        pytest.fail(f"python-rq {rq.__version__} is installed; these tests are for rq 3 (pip install -U rq)")
    from rq_jobs import Worker  # rq's, with a short pub/sub poll (see there)

    return Queue, Worker, FailedJobRegistry, FinishedJobRegistry, Result


def test_rq_burst_worker(port, client_protocol):
    Queue, Worker, FailedJobRegistry, FinishedJobRegistry, Result = _rq()
    import rq_jobs

    r = redis.Redis(port=port, protocol=client_protocol, socket_timeout=30)
    q = Queue("default", connection=r)
    ok = [q.enqueue(rq_jobs.add, i, i) for i in range(10)]
    bad = q.enqueue(rq_jobs.fail)
    assert len(q) == 11
    assert ok[0].latest_result() is None
    worker = Worker([q], connection=r)
    worker.work(burst=True)
    assert [j.return_value() for j in ok] == [2 * i for i in range(10)]
    for j in ok:
        assert j.get_status(refresh=True) == "finished"
        result = j.latest_result()
        assert result.type == Result.Type.SUCCESSFUL
        assert result.worker_name == worker.name
        # one execution, one stream entry, and its id is the Result's id
        assert r.xlen(f"rq:results:{j.id}") == 1
        assert [e[0].decode() for e in r.xrange(f"rq:results:{j.id}")] == [result.id]
        assert r.type(f"rq:results:{j.id}") == b"stream"
    assert bad.get_status(refresh=True) == "failed"
    failure = bad.latest_result()
    assert failure.type == Result.Type.FAILED
    assert "ValueError: boom" in failure.exc_string
    assert bad.return_value() is None
    assert FailedJobRegistry(queue=q).get_job_ids() == [bad.id]
    assert len(FinishedJobRegistry(queue=q)) == 10
    assert len(q) == 0
    # a failed job can be requeued and fails again into the registry: a second entry in its
    # results stream, newest first from XREVRANGE
    FailedJobRegistry(queue=q).requeue(bad.id)
    assert len(q) == 1
    Worker([q], connection=r).work(burst=True)
    assert FailedJobRegistry(queue=q).get_job_ids() == [bad.id]
    results = bad.results()
    assert [res.type for res in results] == [Result.Type.FAILED, Result.Type.FAILED]
    assert results[0].id > results[1].id
    assert r.xlen(f"rq:results:{bad.id}") == 2
    assert bad.latest_result().id == results[0].id
    # the results stream expires with the job's result_ttl (500 s by default)
    assert 0 < r.ttl(f"rq:results:{ok[0].id}") <= 500
    r.close()


@pytest.mark.parametrize("client_protocol", [None, 2], ids=["default", "resp2"])
def test_rq_wait_for_result(port, client_protocol):
    """latest_result(timeout=...) waits in XREAD BLOCK on the results stream while an `rq
    worker --burst` process runs the job. rq 3.0 reads XREAD's reply as a list of [key,
    entries] (`response[0][1]`): with protocol=3's map the same call raises KeyError against
    real Redis too, so that one is not run here."""
    Queue, _, _, _, Result = _rq()
    import rq_jobs

    r = redis.Redis(port=port, protocol=client_protocol, socket_timeout=30)
    q = Queue("waits", connection=r)
    job = q.enqueue(rq_jobs.add, 20, 22)
    assert job.latest_result(timeout=1) is None  # nothing ran: the XREAD BLOCK times out
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")])))
    worker = subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--burst", "--worker-class",
                               "rq_jobs.Worker", "--url", f"redis://127.0.0.1:{port}", "waits"], cwd=HERE, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        result = job.latest_result(timeout=25)
        out, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, out.decode(errors="replace")[-2000:]
    assert result is not None and result.type == Result.Type.SUCCESSFUL, out.decode(errors="replace")[-2000:]
    assert result.return_value == 42
    assert job.return_value(refresh=True) == 42
    assert job.get_status(refresh=True) == "finished"
    r.close()
