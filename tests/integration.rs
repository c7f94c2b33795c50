//! Integration tests: the real binary, driven over TCP by an independent client (redis-rs)
//! and by raw sockets for protocol-level behaviour.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{exchange, info_field, Server};
use redis::Commands;

#[test]
fn set_get_incr_and_types() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let _: () = c.set("k", "v").unwrap();
    let v: String = c.get("k").unwrap();
    assert_eq!(v, "v");
    let n: i64 = c.incr("n", 5).unwrap();
    assert_eq!(n, 5);
    let r: redis::RedisResult<i64> = c.incr("k", 1);
    assert!(r.unwrap_err().to_string().contains("not an integer"));
    let t: String = redis::cmd("TYPE").arg("k").query(&mut c).unwrap();
    assert_eq!(t, "string");
}

#[test]
fn pipeline_of_ten_thousand_commands_answers_in_order() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let mut p = redis::pipe();
    for i in 0..10_000 {
        p.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
        p.cmd("GET").arg(format!("key:{i}"));
    }
    let got: Vec<i64> = p.query(&mut c).unwrap();
    assert_eq!(got, (0..10_000).collect::<Vec<i64>>());
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 10_000);
}

#[test]
fn concurrent_increments_are_exact() {
    let s = Server::start(&["--threads", "2"]);
    let port = s.port;
    let threads: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c =
                    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
                for _ in 0..500 {
                    let _: i64 = c.incr("counter", 1).unwrap();
                    let _: () = redis::cmd("MSET").arg("a").arg(1).arg("b").arg(1).query(&mut c).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.client();
    let n: i64 = c.get("counter").unwrap();
    assert_eq!(n, 16 * 500);
}

#[test]
fn protocol_error_replies_and_closes() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let (got, closed) = exchange(&mut raw, b"PING\r\n*1\r\n$x\r\n", usize::MAX);
    assert_eq!(got, b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
    assert!(closed);
    let mut raw = s.raw();
    let (got, closed) = exchange(&mut raw, b"*1\r\nfoo\r\n", usize::MAX);
    assert_eq!(got, b"-ERR Protocol error: expected '$', got 'f'\r\n");
    assert!(closed);
    let mut raw = s.raw();
    let (got, closed) = exchange(&mut raw, b"set a \"b\r\n", usize::MAX);
    assert_eq!(got, b"-ERR Protocol error: unbalanced quotes in request\r\n");
    assert!(closed);
    // The server is still serving others.
    let mut c = s.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn inline_commands_and_split_reads() {
    let s = Server::start(&[]);
    let mut raw = s.raw();
    let (got, _) = exchange(&mut raw, b"SET greeting \"hello world\"\r\nGET greeting\r\n", 24);
    assert_eq!(got, b"+OK\r\n$11\r\nhello world\r\n");
    // A command delivered one byte at a time.
    let cmd = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$3\r\nabc\r\n";
    for b in &cmd[..cmd.len() - 1] {
        raw.write_all(&[*b]).unwrap();
        raw.flush().unwrap();
    }
    let (got, _) = exchange(&mut raw, &cmd[cmd.len() - 1..], 5);
    assert_eq!(got, b"+OK\r\n");
}

#[test]
fn big_argument_is_received_whole() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let big = vec![b'x'; 20 * 1024 * 1024];
    let _: () = c.set("big", &big[..]).unwrap();
    let n: i64 = c.strlen("big").unwrap();
    assert_eq!(n, big.len() as i64);
    let back: Vec<u8> = c.get("big").unwrap();
    assert_eq!(back, big);
}

#[test]
fn active_expiry_reclaims_untouched_keys() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let mut p = redis::pipe();
    for i in 0..100_000 {
        p.cmd("SET").arg(format!("ttl:{i}")).arg("v").arg("PX").arg(500).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{n} keys still present 10 s after they expired");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn unknown_config_directive_fails_naming_the_line() {
    let dir = std::env::temp_dir().join(format!("cinnabar-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.conf");
    std::fs::write(&path, "port 7000\nfoo bar\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cinnabar-server")).arg(&path).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains("at line 2"), "{err}");
    assert!(err.contains(">>> 'foo bar'"), "{err}");
    assert!(err.contains("Bad directive or wrong number of arguments"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn maxclients_rejects_with_redis_error() {
    let s = Server::start(&["--maxclients", "2"]);
    let _a = s.client();
    let _b = s.client();
    let mut raw = s.raw();
    let (got, _) = exchange(&mut raw, b"PING\r\n", usize::MAX);
    assert_eq!(got, b"-ERR max number of clients reached\r\n");
}

#[test]
fn idle_timeout_closes_connection() {
    let s = Server::start(&["--timeout", "1"]);
    let mut raw = s.raw();
    let (got, _) = exchange(&mut raw, b"PING\r\n", 7);
    assert_eq!(got, b"+PONG\r\n");
    std::thread::sleep(Duration::from_millis(2500));
    let (got, closed) = exchange(&mut raw, b"", usize::MAX);
    assert!(closed && got.is_empty());
}

#[test]
fn client_kill_closes_the_other_connection() {
    let s = Server::start(&[]);
    let mut victim = s.client();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut victim).unwrap();
    let mut c = s.client();
    let n: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query(&mut c).unwrap();
    assert_eq!(n, 1);
    std::thread::sleep(Duration::from_millis(100));
    let r: redis::RedisResult<String> = redis::cmd("PING").query(&mut victim);
    assert!(r.is_err());
}

#[test]
fn debug_sleep_holds_the_whole_keyspace() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let port = s.port;
    let sleeper = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
        let _: () = redis::cmd("DEBUG").arg("SLEEP").arg("2").query(&mut c).unwrap();
    });
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let mut c = s.client();
    let _: () = c.set("x", 1).unwrap();
    // The SET waited for the sleep (a correctness check of exclusivity, not a timing assertion
    // of performance: it must not complete before the sleeper releases the keyspace).
    assert!(t.elapsed() >= Duration::from_millis(1000));
    sleeper.join().unwrap();
}

#[test]
fn requirepass_gates_commands() {
    let s = Server::start(&["--requirepass", "secret"]);
    let mut raw = s.raw();
    let (got, _) = exchange(&mut raw, b"GET k\r\n", 10);
    assert_eq!(got, b"-NOAUTH Authentication required.\r\n");
    let (got, _) = exchange(&mut raw, b"AUTH wrong\r\n", 10);
    assert_eq!(got, b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    let (got, _) = exchange(&mut raw, b"AUTH secret\r\nGET k\r\n", 10);
    assert_eq!(got, b"+OK\r\n$-1\r\n");
}

#[test]
fn server_survives_garbage() {
    let mut s = Server::start(&[]);
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..200 {
        let mut raw = s.raw();
        raw.set_read_timeout(Some(Duration::from_millis(50))).ok();
        let mut junk = Vec::new();
        for _ in 0..256 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let b = match seed % 8 {
                0 => b'*',
                1 => b'$',
                2 => b'\r',
                3 => b'\n',
                4 => b'0' + (seed >> 8) as u8 % 10,
                5 => b'-',
                _ => (seed >> 16) as u8,
            };
            junk.push(b);
        }
        let _ = raw.write_all(&junk);
        let _ = exchange(&mut raw, b"", usize::MAX);
    }
    assert!(s.alive());
    let mut c = s.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

/// Clients closed for their query or output buffer limits are counted in INFO stats
/// (client_query_buffer_limit_disconnections / client_output_buffer_limit_disconnections,
/// the fields later Redis versions report).
#[test]
fn buffer_limit_disconnections_are_counted() {
    let s = Server::start(&[]);
    let mut c = s.client();
    assert_eq!(info_field(&mut c, "stats", "client_query_buffer_limit_disconnections"), 0);
    assert_eq!(info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"), 0);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("client-query-buffer-limit").arg("1mb").query(&mut c).unwrap();
    let mut raw = s.raw();
    let mut big = b"*2\r\n$3\r\nSET\r\n$3000000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 1_500_000));
    let (_, closed) = exchange(&mut raw, &big, usize::MAX);
    assert!(closed, "the query buffer limit closes the connection");
    assert_eq!(info_field(&mut c, "stats", "client_query_buffer_limit_disconnections"), 1);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("client-query-buffer-limit").arg("1gb").query(&mut c).unwrap();
    let _: () = c.set("big", "y".repeat(3 << 20)).unwrap();
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("client-output-buffer-limit").arg("normal 1mb 0 0").query(&mut c).unwrap();
    let mut raw = s.raw();
    let (got, closed) = exchange(&mut raw, b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", usize::MAX);
    assert!(closed && got.len() < 3 << 20, "the output buffer limit closes the connection without the reply");
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("client-output-buffer-limit").arg("normal 0 0 0").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"), 1);
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    assert_eq!(info_field(&mut c, "stats", "client_output_buffer_limit_disconnections"), 0);
}

/// INFO clients shows the biggest pending input (a big request still arriving) and output
/// (a subscriber that does not read), and 0 for idle clients.
#[test]
fn recent_max_buffers_show_pending_bytes() {
    let s = Server::start(&[]);
    let mut c = s.client();
    assert_eq!(info_field(&mut c, "clients", "client_recent_max_input_buffer"), 0);
    assert_eq!(info_field(&mut c, "clients", "client_recent_max_output_buffer"), 0);
    let mut upload = s.raw();
    let mut partial = b"*2\r\n$4\r\nECHO\r\n$1000000\r\n".to_vec();
    partial.extend(std::iter::repeat_n(b'x', 300_000));
    upload.write_all(&partial).unwrap();
    let slow = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    slow.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", s.port).parse().unwrap();
    slow.connect(&addr.into()).unwrap();
    let mut slow: std::net::TcpStream = slow.into();
    slow.write_all(b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let payload = "y".repeat(100_000);
    for _ in 0..150 {
        let _: i64 = c.publish("ch", &payload).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while info_field(&mut c, "clients", "client_recent_max_input_buffer") < 300_000
        || info_field(&mut c, "clients", "client_recent_max_output_buffer") < 1_000_000
    {
        assert!(Instant::now() < deadline, "pending input/output not reported");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_idle_worker_stops_polling() {
    // After a batch a worker polls its sockets for a few microseconds before it sleeps
    // (net::spin); once the clients are quiet it must sleep, not keep a core busy.
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    for i in 0..2000 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = s.cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = s.cpu_ticks() - before;
    // A worker that kept polling would use about one core: ~100 ticks a second.
    assert!(used < 20, "{used} ticks of CPU in one idle second");
    let v: i64 = c.get("k1999").unwrap();
    assert_eq!(v, 1999);
}
