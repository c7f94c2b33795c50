"""Job functions for test_e2e_rq.py (rq imports them by module path in the work horse)."""


def add(a, b):
    return a + b


def fail():
    raise ValueError("boom")
