//! Blocking operations against the real binary: exactly-once delivery under concurrency,
//! FIFO among waiters, timeouts, CLIENT UNBLOCK / KILL, disconnects.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use redis::Commands;

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap()
}

fn blocked_clients(c: &mut redis::Connection) -> i64 {
    common::info_field(c, "clients", "blocked_clients")
}

fn wait_blocked(c: &mut redis::Connection, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while blocked_clients(c) != n {
        assert!(Instant::now() < deadline, "expected {n} blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn many_producers_and_blocked_consumers_deliver_each_element_once() {
    let s = Server::start(&["--threads", "2"]);
    let port = s.port;
    let keys = ["jobs:a", "jobs:b", "jobs:c"];
    let per_producer = 2000;
    let producers = 4;
    let total = per_producer * producers;
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let consumers: Vec<_> = (0..6)
        .map(|_| {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut c = connect(port);
                loop {
                    let r: Option<(String, String)> =
                        redis::cmd("BLPOP").arg(&keys[..]).arg(0.5).query(&mut c).unwrap();
                    match r {
                        Some((_, v)) if v == "stop" => return,
                        Some((_, v)) => seen.lock().unwrap().push(v),
                        None => {}
                    }
                }
            })
        })
        .collect();
    let producer_threads: Vec<_> = (0..producers)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = connect(port);
                for i in 0..per_producer {
                    let key = keys[i % keys.len()];
                    let _: i64 = c.rpush(key, format!("{p}:{i}")).unwrap();
                }
            })
        })
        .collect();
    for t in producer_threads {
        t.join().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < total {
        if Instant::now() >= deadline {
            let mut c = connect(port);
            let lens: Vec<i64> = keys.iter().map(|k| c.llen(*k).unwrap()).collect();
            let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
            panic!("only {} of {total} delivered; list lengths {lens:?}; clients:\n{list}", seen.lock().unwrap().len());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = connect(port);
    for _ in 0..6 {
        let _: i64 = c.rpush("jobs:a", "stop").unwrap();
    }
    for t in consumers {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), total, "duplicates delivered");
    assert_eq!(unique.len(), total);
    for k in keys {
        let n: i64 = c.llen(k).unwrap();
        assert_eq!(n, 0);
    }
}

#[test]
fn waiters_are_served_in_fifo_order() {
    let s = Server::start(&[]);
    let port = s.port;
    let mut main = connect(port);
    let mut handles = Vec::new();
    for i in 0..5 {
        handles.push(std::thread::spawn(move || {
            let mut c = connect(port);
            let r: (String, String) = redis::cmd("BLPOP").arg("fifo").arg(0).query(&mut c).unwrap();
            (i, r.1)
        }));
        wait_blocked(&mut main, i + 1);
    }
    let _: i64 = redis::cmd("RPUSH").arg("fifo").arg(&["0", "1", "2", "3", "4"][..]).query(&mut main).unwrap();
    for h in handles {
        let (i, got) = h.join().unwrap();
        assert_eq!(got, i.to_string(), "waiter {i} got {got}");
    }
    assert_eq!(blocked_clients(&mut main), 0);
}

#[test]
fn pusher_sees_the_element_gone_when_its_reply_arrives() {
    let s = Server::start(&["--threads", "2"]);
    let port = s.port;
    let mut main = connect(port);
    for round in 0..50 {
        let waiter = std::thread::spawn(move || {
            let mut c = connect(port);
            let r: (String, String) = redis::cmd("BRPOP").arg("handoff").arg(0).query(&mut c).unwrap();
            r.1
        });
        wait_blocked(&mut main, 1);
        let n: i64 = main.lpush("handoff", round).unwrap();
        assert_eq!(n, 1);
        let len: i64 = main.llen("handoff").unwrap();
        assert_eq!(len, 0, "round {round}: element still visible after the push replied");
        assert_eq!(waiter.join().unwrap(), round.to_string());
    }
}

#[test]
fn timeouts_are_honoured() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let t = Instant::now();
    let r: Option<(String, String)> = redis::cmd("BLPOP").arg("none").arg(0.3).query(&mut c).unwrap();
    assert!(r.is_none());
    // Not a performance assertion: a 0.3 s timeout must not answer before 0.3 s.
    assert!(t.elapsed() >= Duration::from_millis(290), "answered after {:?}", t.elapsed());
    let r: Option<String> =
        redis::cmd("BLMOVE").arg("none").arg("d").arg("LEFT").arg("LEFT").arg(0.1).query(&mut c).unwrap();
    assert!(r.is_none());
}

#[test]
fn client_unblock_and_kill_release_waiters_without_losing_elements() {
    let s = Server::start(&[]);
    let port = s.port;
    let mut main = connect(port);
    // UNBLOCK ... TIMEOUT: the waiter gets the timeout reply.
    let t = std::thread::spawn(move || {
        let mut c = connect(port);
        let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
        let r: redis::RedisResult<Option<(String, String)>> = redis::cmd("BLPOP").arg("u").arg(0).query(&mut c);
        (id, r)
    });
    wait_blocked(&mut main, 1);
    let ids: String = redis::cmd("CLIENT").arg("LIST").query(&mut main).unwrap();
    let blocked_id: i64 = ids
        .lines()
        .find(|l| l.contains("cmd=blpop"))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .and_then(|v| v.parse().ok())
        .expect("blocked client listed");
    let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(blocked_id).query(&mut main).unwrap();
    assert_eq!(n, 1);
    let (id, r) = t.join().unwrap();
    assert_eq!(id, blocked_id);
    assert!(r.unwrap().is_none());
    // UNBLOCK ... ERROR
    let t = std::thread::spawn(move || {
        let mut c = connect(port);
        let r: redis::RedisResult<Option<(String, String)>> = redis::cmd("BLPOP").arg("u").arg(0).query(&mut c);
        r
    });
    wait_blocked(&mut main, 1);
    let ids: String = redis::cmd("CLIENT").arg("LIST").query(&mut main).unwrap();
    let blocked_id: i64 = ids
        .lines()
        .find(|l| l.contains("flags=b"))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .and_then(|v| v.parse().ok())
        .unwrap();
    let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(blocked_id).arg("ERROR").query(&mut main).unwrap();
    assert_eq!(n, 1);
    let err = t.join().unwrap().unwrap_err();
    assert!(err.to_string().contains("UNBLOCKED"), "{err}");
    // KILL: the waiter goes away; a later push stays in the list.
    let t = std::thread::spawn(move || {
        let mut c = connect(port);
        let r: redis::RedisResult<Option<(String, String)>> = redis::cmd("BLPOP").arg("k").arg(0).query(&mut c);
        r.is_err()
    });
    wait_blocked(&mut main, 1);
    let n: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal").arg("SKIPME").arg("yes").query(&mut main).unwrap();
    assert!(n >= 1);
    assert!(t.join().unwrap());
    wait_blocked(&mut main, 0);
    let _: i64 = main.rpush("k", "kept").unwrap();
    let len: i64 = main.llen("k").unwrap();
    assert_eq!(len, 1);
}

#[test]
fn disconnected_waiter_loses_nothing() {
    let s = Server::start(&[]);
    let mut main = s.client();
    {
        let mut raw = s.raw();
        use std::io::Write;
        raw.write_all(b"BLPOP gone 0\r\n").unwrap();
        wait_blocked(&mut main, 1);
    } // socket closed here
    wait_blocked(&mut main, 0);
    let _: i64 = main.rpush("gone", "x").unwrap();
    let v: Vec<String> = main.lrange("gone", 0, -1).unwrap();
    assert_eq!(v, vec!["x".to_string()]);
}

/// Redis 7.2 rounds a blocking timeout up to whole milliseconds (ceill): a timeout under
/// one millisecond waits one, where 7.0 truncated it to 0 and blocked forever (the 7.0
/// fallback oracle cannot show this in a case file: it would never answer).
#[test]
fn sub_millisecond_timeouts_wait_one_millisecond() {
    let s = Server::start(&[]);
    let mut c = connect(s.port);
    for timeout in ["0.0001", "0.0009", "1e-300"] {
        let start = Instant::now();
        let r: Option<(String, String)> = redis::cmd("BLPOP").arg("q").arg(timeout).query(&mut c).unwrap();
        assert_eq!(r, None, "BLPOP q {timeout}");
        assert!(start.elapsed() < Duration::from_secs(2), "BLPOP q {timeout} took {:?}", start.elapsed());
    }
}
