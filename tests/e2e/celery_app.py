"""The Celery application of test_e2e_celery.py: a Redis broker and result backend at
$CELERY_E2E_URL (the test's server), tasks the worker process imports by this module's name."""
import os

from celery import Celery

URL = os.environ.get("CELERY_E2E_URL", "redis://127.0.0.1:6379/0")

app = Celery("celery_app", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    # the default visibility timeout is an hour; a test run is short
    broker_transport_options={"visibility_timeout": 60},
    result_expires=600,
)


@app.task
def add(a, b):
    return a + b


@app.task
def total(values):
    return sum(values)


@app.task
def fail():
    raise ValueError("boom")


@app.task(bind=True, max_retries=3)
def flaky(self, key):
    """Fails twice, then succeeds: each try counts itself in `key` (a plain INCR on the same
    server through the backend's client)."""
    tries = self.backend.client.incr(key)
    if tries < 3:
        raise self.retry(countdown=0)
    return tries
