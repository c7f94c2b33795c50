use super::*;

#[test]
fn commands_as_redis_writes_them() {
    let mut buf = Vec::new();
    put_command(&mut buf, &[b"set" as &[u8], b"a", b""]);
    put_select(&mut buf, 12);
    assert_eq!(buf, b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$0\r\n\r\n*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n");
}

#[test]
fn manifest_round_trip() {
    let text = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
    let m = Manifest::parse(text).unwrap();
    assert_eq!(m.base_seq, 1);
    assert_eq!(m.incr_seq, 1);
    assert_eq!(m.render(), text);
    let mut m2 = Manifest::default();
    assert_eq!(m2.next_base("appendonly.aof", true), "appendonly.aof.1.base.rdb");
    assert_eq!(m2.next_incr("appendonly.aof"), "appendonly.aof.1.incr.aof");
    assert_eq!(m2, m);
    // A quoted name, a history file, comments, unknown keys.
    let text = b"# c\nfile \"a b.1.base.aof\" seq 1 type b\nfile x.2.base.rdb seq 2 type h x y\nfile x.3.incr.aof seq 3 type i\n";
    let m = Manifest::parse(text).unwrap();
    assert_eq!(m.base.as_ref().unwrap().name, "a b.1.base.aof");
    assert_eq!(m.history.len(), 1);
    assert!(m.render().starts_with(b"file \"a b.1.base.aof\" seq 1 type b\n"));
}

#[test]
fn manifest_errors() {
    for (text, err) in [
        (&b""[..], "Found an empty AOF manifest"),
        (b"file a seq 1\n", "Invalid AOF manifest file format"),
        (b"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"),
        (b"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"),
        (b"file a seq 1 type z\n", "Unknown AOF file type"),
        (b"file \"a seq 1 type b\n", "Invalid AOF manifest file format"),
    ] {
        assert_eq!(Manifest::parse(text), Err(err), "{}", String::from_utf8_lossy(text));
    }
    let long = vec![b'x'; 2000];
    assert_eq!(Manifest::parse(&long), Err("The AOF manifest file contains too long line"));
}

#[test]
fn commands_read_back() {
    let mut buf = b"#TS:123\r\n".to_vec();
    put_command(&mut buf, &[b"set" as &[u8], b"k", b"v\r\nw"]);
    let full = buf.len();
    put_command(&mut buf, &[b"del" as &[u8], b"k"]);
    let mut pos = 0;
    let first = next_command(&buf, &mut pos).unwrap().unwrap();
    assert_eq!(first.to_vec(), vec![&b"set"[..], b"k", b"v\r\nw"]);
    assert_eq!(pos, full);
    // Every cut inside the second command is a torn tail at its start.
    for cut in full + 1..buf.len() {
        let mut p = full;
        assert_eq!(next_command(&buf[..cut], &mut p), Err(Stop::Truncated(full)), "cut {cut}");
    }
    let mut p = 0;
    assert_eq!(next_command(b"+OK\r\n", &mut p), Err(Stop::BadFormat));
    let mut p = 0;
    assert_eq!(next_command(b"*1\r\n:3\r\n", &mut p), Err(Stop::BadFormat));
    let mut p = 0;
    assert_eq!(next_command(b"*1\r\n$-5\r\n", &mut p), Err(Stop::BadFormat));
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cinnabar-aof-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn server(fsync: &str) -> Server {
    let mut cfg = crate::server::config::Config::new();
    cfg.load("appendfsync", &[fsync.to_string()]).unwrap();
    Server::new(cfg, 1, String::new())
}

fn op(db: usize, argv: &[&str]) -> Op {
    Op { db, argv: argv.iter().map(|a| a.as_bytes().to_vec()).collect() }
}

#[test]
fn sink_writes_units_as_redis() {
    let dir = temp_dir("sink");
    let srv = server("everysec");
    let layout = Layout { dir: dir.clone(), filename: "appendonly.aof".into() };
    let mut m = Manifest::default();
    open_files(&srv, &layout, &mut m, true).unwrap();
    assert!(srv.aof.enabled());
    assert_eq!(srv.sinks.deliver(&[op(0, &["set", "a", "b"])], false), 0);
    srv.sinks.deliver(&[op(3, &["set", "c", "d"])], false);
    srv.sinks.deliver(&[op(3, &["set", "e", "f"])], false);
    srv.sinks.deliver(&[op(0, &["SET", "x", "1"]), op(0, &["INCR", "x"])], true);
    srv.aof.uninstall(&srv);
    let manifest = std::fs::read(dir.join("appendonly.aof.manifest")).unwrap();
    assert_eq!(manifest, b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n");
    let base = std::fs::read(dir.join("appendonly.aof.1.base.rdb")).unwrap();
    assert!(base.starts_with(b"REDIS0011\xfa\x09redis-ver\x057.2.6"));
    let incr = std::fs::read(dir.join("appendonly.aof.1.incr.aof")).unwrap();
    // What Redis 7.2 writes for the same sequence (its MULTI and EXEC carry no database).
    let mut want = Vec::new();
    for cmd in [
        &["SELECT", "0"][..],
        &["set", "a", "b"],
        &["SELECT", "3"],
        &["set", "c", "d"],
        &["set", "e", "f"],
        &["MULTI"],
        &["SELECT", "0"],
        &["SET", "x", "1"],
        &["INCR", "x"],
        &["EXEC"],
    ] {
        put_command(&mut want, cmd);
    }
    assert_eq!(String::from_utf8_lossy(&incr), String::from_utf8_lossy(&want));
    assert_eq!(srv.aof.status.current_size.load(Ordering::Relaxed), want.len() as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn always_tickets_wait_for_the_fsync_and_timestamps() {
    let dir = temp_dir("always");
    let srv = server("always");
    srv.config.write().load("aof-timestamp-enabled", &["yes".into()]).unwrap();
    let layout = Layout { dir: dir.clone(), filename: "appendonly.aof".into() };
    open_files(&srv, &layout, &mut Manifest::default(), true).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut last = 0;
    for i in 0..50 {
        let t = srv.sinks.deliver(&[op(1, &["set", "k", &i.to_string()])], false);
        assert!(t > last);
        last = t;
    }
    rt.block_on(srv.aof.wait_durable(last));
    // Durable means on disk: the file has every unit now.
    let incr = std::fs::read(dir.join("appendonly.aof.1.incr.aof")).unwrap();
    assert!(incr.starts_with(b"#TS:"));
    let mut pos = 0;
    let mut n = 0;
    while let Ok(Some(_)) = next_command(&incr, &mut pos) {
        n += 1;
    }
    assert_eq!(n, 51);
    srv.aof.uninstall(&srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Damaged AOF bytes never panic the command reader, and it always moves forward: random
/// byte changes, insertions and cuts in a stream of commands, annotations, MULTI/EXEC.
/// Each read ends in a command, the end, a torn tail or a format error, as the loader
/// expects.
#[test]
fn damaged_commands_never_panic() {
    let mut good = Vec::new();
    put_timestamp(&mut good, 1_700_000_000);
    put_select(&mut good, 3);
    put_command(&mut good, &[b"MULTI" as &[u8]]);
    for i in 0..20 {
        put_command(&mut good, &[b"SET" as &[u8], format!("key:{i}").as_bytes(), &vec![b'v'; i * 7]]);
    }
    put_command(&mut good, &[b"EXEC" as &[u8]]);
    let (mut whole, mut stopped) = (0, 0);
    crate::persist::damaged_copies(&good, 20_000, 5, |round, bad| {
        let mut pos = 0;
        loop {
            let before = pos;
            match next_command(bad, &mut pos) {
                Ok(Some(argv)) => {
                    assert!(pos > before && pos <= bad.len() && !argv.is_empty(), "round {round}");
                }
                Ok(None) => {
                    whole += 1;
                    break;
                }
                Err(_) => {
                    stopped += 1;
                    break;
                }
            }
        }
    });
    assert!(whole > 0 && stopped > 0, "whole {whole}, stopped {stopped}");
}
