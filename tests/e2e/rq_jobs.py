"""Job functions for test_e2e_rq.py (rq imports them by module path in the work horse), and the
worker class the tests run."""
from rq import Worker as _RqWorker


def add(a, b):
    return a + b


def fail():
    raise ValueError("boom")


class Worker(_RqWorker):
    """rq's worker with its pub/sub thread polling every 0.2 s instead of every 60 s. With
    redis-py 8.2, stopping that thread at the end of a burst run sometimes waits out a whole
    poll (the thread sits in get_message(timeout) for a subscription confirmation nobody
    reads any more), against real Redis as against cinnabar: 60 s per worker in a test."""

    def subscribe(self):
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=0.2, daemon=True, exception_handler=self._pubsub_exception_handler)
