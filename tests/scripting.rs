//! Scripting behaviour that the differential suite cannot compare with Redis: where Redis
//! hangs or grows without bound, cinnabar has limits of its own.

mod common;

use std::time::{Duration, Instant};

use common::Server;

/// FUNCTION RESTORE (not only FUNCTION LOAD) runs library code under the 500 ms limit:
/// Redis runs restored code without one and hangs for good on a library that loops. The
/// timeout, right after a killed script, must leave nothing behind: every client is served
/// at once, and a later script still turns busy and can be killed.
#[test]
fn function_restore_of_a_looping_library_times_out_and_leaves_no_busy_state() {
    let s = Server::start(&["--busy-reply-threshold", "10"]);
    let mut c = s.client();
    // A payload as Redis 7.0 dumps it: RDB_OPCODE_FUNCTION2, the code, RDB version 10, CRC64.
    let payload: &[u8] = b"\xf54#!lua name=spin\nlocal a = 1\nwhile 1 do a = a + 1 end\n\x00\xdf\x02s\xc7'\"\xbd\xac";
    for _ in 0..2 {
        let spinner = {
            let mut a = s.client();
            std::thread::spawn(move || redis::cmd("EVAL").arg("while true do end").arg(0).query::<()>(&mut a))
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let killed: redis::RedisResult<String> = redis::cmd("SCRIPT").arg("KILL").query(&mut c);
            if killed.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "the script never became killable: {killed:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let err = spinner.join().unwrap().unwrap_err().to_string();
        assert!(err.contains("Script killed by user with SCRIPT KILL"), "{err}");

        let started = Instant::now();
        let restored: redis::RedisResult<String> = redis::cmd("FUNCTION").arg("RESTORE").arg(payload).query(&mut c);
        let err = restored.unwrap_err().to_string();
        assert!(err.contains("Error registering functions: ERR FUNCTION LOAD timeout"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));

        let mut other = s.client();
        let pong: String = redis::cmd("PING").query(&mut other).unwrap();
        assert_eq!(pong, "PONG");
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut other).unwrap();
        let nothing: redis::RedisResult<String> = redis::cmd("SCRIPT").arg("KILL").query(&mut other);
        assert!(nothing.unwrap_err().to_string().contains("No scripts in execution right now"));
    }
}

/// The Lua heap has a cap (1 GiB) where Redis has none. A script that runs into it fails
/// the way Redis reports Lua's own errors ("Error running script <sha or function>, not
/// enough memory"), twice in a row, in EVAL, EVALSHA and FCALL, and what it filled is
/// given back at once.
#[test]
fn lua_heap_cap_is_reported_as_redis_reports_lua_errors() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let body = "local s = string.rep('x', 2^29) return #(s .. s)";
    let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg(body).query(&mut c).unwrap();
    let expected = format!("Error running script {sha}, not enough memory");
    for _ in 0..2 {
        let err = redis::cmd("EVAL").arg(body).arg(0).query::<i64>(&mut c).unwrap_err().to_string();
        assert!(err.contains(&expected), "{err}");
    }
    let err = redis::cmd("EVALSHA").arg(&sha).arg(0).query::<i64>(&mut c).unwrap_err().to_string();
    assert!(err.contains(&expected), "{err}");
    let lua_heap = common::info_field(&mut c, "memory", "used_memory_lua");
    assert!(lua_heap < 1 << 20, "the Lua heap kept {lua_heap} bytes");
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(format!("#!lua name=big\nredis.register_function('big', function() {body} end)"))
        .query(&mut c)
        .unwrap();
    for _ in 0..2 {
        let err = redis::cmd("FCALL").arg("big").arg(0).query::<i64>(&mut c).unwrap_err().to_string();
        assert!(err.contains("Error running script big, not enough memory"), "{err}");
    }
    let functions_heap = common::info_field(&mut c, "memory", "used_memory_vm_functions");
    assert!(functions_heap < 1 << 20, "the functions' Lua heap kept {functions_heap} bytes");
    let n: i64 = redis::cmd("EVAL").arg("return #string.rep('x', 1000)").arg(0).query(&mut c).unwrap();
    assert_eq!(n, 1000);
}
