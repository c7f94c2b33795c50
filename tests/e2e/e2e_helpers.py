"""Small helpers shared by the end-to-end tests (bounded waits, never timing assertions)."""
import time


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Poll predicate() until it returns a truthy value or timeout seconds pass; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
