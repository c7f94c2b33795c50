"""Task queues from the seeds, non-blocking parts: producers LPUSH/RPUSH JSON jobs (priority
jobs to the front), consumers RPOP and watch the backlog with LLEN/LRANGE; the reliable queue
moves each job to a processing list atomically (RPOPLPUSH / LMOVE), acks it with LREM, and
requeues or dead-letters failures. Several producer and consumer threads check that every job
is delivered exactly once. (The blocking workers, BRPOP/BRPOPLPUSH/BLMOVE, live with the
blocking tests.)"""
import json
import threading
import time
from datetime import datetime, timezone

import redis


def test_task_queue_fifo_and_backlog(r):
    for i in range(10):
        r.lpush("jobs:emails", json.dumps({"user_id": i, "template": "welcome"}))
    assert r.llen("jobs:emails") == 10
    # The backlog view an admin page shows: oldest jobs are at the right end.
    oldest = [json.loads(j)["user_id"] for j in r.lrange("jobs:emails", -3, -1)]
    assert oldest == [2, 1, 0]
    seen = []
    while (payload := r.rpop("jobs:emails")) is not None:
        seen.append(json.loads(payload)["user_id"])
    assert seen == list(range(10))
    assert r.llen("jobs:emails") == 0
    assert r.exists("jobs:emails") == 0
    assert r.rpop("jobs:emails") is None
    assert r.lrange("jobs:emails", 0, -1) == []


def test_batch_pop_and_priorities(r):
    r.rpush("q", *[f"job{i}" for i in range(5)])
    r.lpush("q", "urgent")               # high priority goes to the front
    assert r.lpop("q") == "urgent"
    assert r.lpop("q", 2) == ["job0", "job1"]
    assert r.rpop("q", 10) == ["job4", "job3", "job2"]
    assert r.lpop("q", 2) is None         # missing key with a count: nil array
    r.rpush("q", "a")
    assert r.lmpop(2, "empty", "q", direction="LEFT", count=5) == ["q", ["a"]]
    assert r.lmpop(1, "q", direction="RIGHT") is None


def test_many_producers_many_consumers_exactly_once(port, protocol):
    producers, consumers, per_producer = 4, 4, 500
    done = threading.Event()
    got = [[] for _ in range(consumers)]
    errors = []

    def produce(p):
        c = redis.Redis(port=port, protocol=protocol, decode_responses=True)
        try:
            pipe = c.pipeline(transaction=False)
            for i in range(per_producer):
                pipe.lpush("tasks", f"{p}:{i}")
                if i % 50 == 49:
                    pipe.execute()
            pipe.execute()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            c.close()

    def consume(k):
        c = redis.Redis(port=port, protocol=protocol, decode_responses=True)
        try:
            while True:
                batch = c.rpop("tasks", 7)
                if batch:
                    got[k].extend(batch)
                elif done.is_set() and c.llen("tasks") == 0:
                    return
                else:
                    time.sleep(0.001)
        except Exception as e:  # pragma: no cover
            errors.append(e)
        finally:
            c.close()

    cs = [threading.Thread(target=consume, args=(k,)) for k in range(consumers)]
    ps = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for t in cs + ps:
        t.start()
    for t in ps:
        t.join()
    done.set()
    for t in cs:
        t.join(timeout=60)
    assert not errors
    everything = [x for g in got for x in g]
    assert len(everything) == producers * per_producer
    assert len(set(everything)) == producers * per_producer
    # Each producer's jobs come out in the order it pushed them, even split across consumers.
    for g in got:
        for p in range(producers):
            mine = [int(x.split(":")[1]) for x in g if x.startswith(f"{p}:")]
            assert mine == sorted(mine)


class SimpleQueue:
    """The seeds' reliable queue with retry and dead letter, with the non-blocking dequeue."""

    def __init__(self, redis_client, name="tasks", use_lmove=False):
        self.r = redis_client
        self.queue = f"queue:{name}"
        self.processing = f"queue:{name}:processing"
        self.dead_letter = f"queue:{name}:dead"
        self.max_retries = 3
        self.use_lmove = use_lmove
        self.seq = 0

    def enqueue(self, task_type, payload, priority=0):
        self.seq += 1
        task = json.dumps({
            "id": f"{task_type}:{self.seq}",
            "type": task_type,
            "payload": payload,
            "retries": 0,
            "created_at": datetime.now(timezone.utc).isoformat(),
        })
        if priority > 0:
            self.r.lpush(self.queue, task)
        else:
            self.r.rpush(self.queue, task)

    def dequeue(self):
        if self.use_lmove:
            raw = self.r.lmove(self.queue, self.processing, "LEFT", "RIGHT")
        else:
            raw = self.r.rpoplpush(self.queue, self.processing)
        return None if raw is None else (raw, json.loads(raw))

    def complete(self, raw):
        return self.r.lrem(self.processing, 1, raw)

    def retry_or_dead_letter(self, raw, task, error):
        self.r.lrem(self.processing, 1, raw)
        task["retries"] += 1
        task["last_error"] = error
        if task["retries"] <= self.max_retries:
            self.r.rpush(self.queue, json.dumps(task))
        else:
            self.r.lpush(self.dead_letter, json.dumps(task))


def test_reliable_queue_ack_retry_dead_letter(r):
    for use_lmove in (False, True):
        r.flushdb()
        q = SimpleQueue(r, use_lmove=use_lmove)
        for i in range(6):
            q.enqueue("email", {"to": f"user{i}@example.com"})
        q.enqueue("email", {"to": "vip@example.com"}, priority=1)
        done, dead = [], []
        attempts = 0
        while (item := q.dequeue()) is not None:
            attempts += 1
            raw, task = item
            # the job is visible in the processing list while it runs
            assert raw in r.lrange(q.processing, 0, -1)
            if task["payload"]["to"] == "user3@example.com":
                q.retry_or_dead_letter(raw, task, "SMTP timeout")   # always fails
            else:
                assert q.complete(raw) == 1
                done.append(task["payload"]["to"])
        dead = [json.loads(x) for x in r.lrange(q.dead_letter, 0, -1)]
        assert len(done) == 6
        assert len(dead) == 1 and dead[0]["retries"] == 4 and dead[0]["last_error"] == "SMTP timeout"
        assert attempts == 6 + 4
        assert r.llen(q.processing) == 0 and r.exists(q.processing) == 0
        assert r.llen(q.queue) == 0
        # rpoplpush takes from the right (the priority job last), lmove LEFT from the front
        if use_lmove:
            assert done[0] == "vip@example.com"
        else:
            assert done[-1] == "vip@example.com"


def test_requeue_failed_after_worker_crash(r):
    """A worker died with jobs in its processing list: move them all back to the queue."""
    r.rpush("queue:jobs", *[f"job{i}" for i in range(5)])
    taken = [r.rpoplpush("queue:jobs", "queue:jobs:processing") for _ in range(3)]
    assert taken == ["job4", "job3", "job2"]
    assert r.lrange("queue:jobs:processing", 0, -1) == ["job2", "job3", "job4"]
    # the seeds' requeue loop
    while r.rpoplpush("queue:jobs:processing", "queue:jobs") is not None:
        pass
    assert r.lrange("queue:jobs", 0, -1) == ["job2", "job3", "job4", "job0", "job1"]
    assert r.exists("queue:jobs:processing") == 0
    # LMOVE with the same source and destination rotates (a round-robin of jobs)
    assert r.lmove("queue:jobs", "queue:jobs", "LEFT", "RIGHT") == "job2"
    assert r.lrange("queue:jobs", 0, -1) == ["job3", "job4", "job0", "job1", "job2"]
    assert r.lpos("queue:jobs", "job0") == 2
    assert r.lindex("queue:jobs", -1) == "job2"


def test_wrong_type_errors_are_clean(r):
    r.set("not-a-queue", "x")
    r.rpush("q", "a")
    for call in (lambda: r.lpush("not-a-queue", "j"), lambda: r.rpop("not-a-queue"),
                 lambda: r.llen("not-a-queue"), lambda: r.rpoplpush("q", "not-a-queue"),
                 lambda: r.lrange("not-a-queue", 0, -1)):
        try:
            call()
        except redis.ResponseError as e:
            assert str(e).startswith("WRONGTYPE")
        else:
            raise AssertionError("expected WRONGTYPE")
    # the failed move did not pop anything
    assert r.lrange("q", 0, -1) == ["a"]


def test_capped_activity_feed(r):
    """LPUSH + LTRIM keeps the N most recent events."""
    for i in range(1000):
        pipe = r.pipeline(transaction=False)
        pipe.lpush("feed", f"event{i}")
        pipe.ltrim("feed", 0, 99)
        pipe.execute()
    assert r.llen("feed") == 100
    assert r.lrange("feed", 0, 2) == ["event999", "event998", "event997"]
    assert r.lindex("feed", 99) == "event900"
