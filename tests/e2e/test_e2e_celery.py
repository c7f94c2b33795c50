"""Celery 5 against the real binary: Redis as the broker (kombu's Redis transport: LPUSH /
BRPOP on the queue, the unacked hash and sorted set, pub/sub for broadcasts) and as the result
backend (SET with expiry, pub/sub to wake the waiting caller, the chord counter). A worker
process (`celery worker --pool=solo`) runs the tasks of tests/e2e/celery_app.py."""
import os
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def celery_worker(port):
    try:
        import celery  # noqa: F401
    except ImportError:
        pytest.fail("celery is missing: pip install 'celery>=5' (make deps installs it)")
    url = f"redis://127.0.0.1:{port}/0"
    os.environ["CELERY_E2E_URL"] = url
    sys.path.insert(0, HERE)
    import celery_app

    celery_app.app.conf.update(broker_url=url, result_backend=url)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")])))
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO", "-n", "e2e@localhost"],
        cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield celery_app
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            out, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, _ = worker.communicate()
        celery_app.app.close()
        sys.path.remove(HERE)
        del os.environ["CELERY_E2E_URL"]
    assert worker.returncode == 0, out.decode(errors="replace")[-3000:]


def test_celery_tasks_results_and_canvas(celery_worker):
    from celery import chord, group

    app = celery_worker  # the celery_app module: its tasks, and .app the Celery application
    assert app.add.delay(2, 3).get(timeout=60) == 5
    # many at once, results in order
    results = [app.add.delay(i, i) for i in range(20)]
    assert [r.get(timeout=60) for r in results] == [2 * i for i in range(20)]
    assert all(r.successful() for r in results)
    # a group, and a chord whose callback runs once every header task is done
    assert group(app.add.s(i, 1) for i in range(5))().get(timeout=60) == [1, 2, 3, 4, 5]
    assert chord(app.add.s(i, i) for i in range(5))(app.total.s()).get(timeout=60) == 20
    # a failing task: the exception comes back to the caller
    bad = app.fail.delay()
    with pytest.raises(ValueError, match="boom"):
        bad.get(timeout=60)
    assert bad.state == "FAILURE"
    # a task that retries twice then succeeds
    assert app.flaky.delay("e2e:flaky:tries").get(timeout=60) == 3
    # results are kept in the backend with an expiry
    client = app.app.backend.client
    key = f"celery-task-meta-{results[0].id}"
    assert client.exists(key) == 1
    assert 0 < client.ttl(key) <= 600
