"""A real job-queue library against the real binary: python-rq enqueues jobs, a burst worker
runs them (rq's own transactions, pipelines and Lua), results come back and the failing job
lands in the failed-job registry. rq 1.11 is pinned: rq >= 1.12 also needs streams (XADD) for
results, which cinnabar does not have yet (see docs/COMPATIBILITY.md)."""
import os
import sys

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def test_rq_burst_worker(port):
    try:
        from rq import Queue, Worker
        from rq.registry import FailedJobRegistry, FinishedJobRegistry
    except ImportError:
        pytest.fail("python-rq is missing: pip install 'rq==1.11.1' (make test installs it)")
    import rq_jobs

    r = redis.Redis(port=port)
    q = Queue("default", connection=r)
    ok = [q.enqueue(rq_jobs.add, i, i) for i in range(10)]
    bad = q.enqueue(rq_jobs.fail)
    assert len(q) == 11
    worker = Worker([q], connection=r)
    worker.work(burst=True)
    assert [j.result for j in ok] == [2 * i for i in range(10)]
    assert bad.get_status(refresh=True) == "failed"
    assert FailedJobRegistry(queue=q).get_job_ids() == [bad.id]
    assert len(FinishedJobRegistry(queue=q)) == 10
    assert len(q) == 0
    # a failed job can be requeued and fails again into the registry
    FailedJobRegistry(queue=q).requeue(bad.id)
    assert len(q) == 1
    Worker([q], connection=r).work(burst=True)
    assert FailedJobRegistry(queue=q).get_job_ids() == [bad.id]
    r.close()
