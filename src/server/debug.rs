//! DEBUG (debug.c): the subcommands Redis's tooling and users' test suites call, gated by
//! `enable-debug-command`.
//!
//! What exists is what Redis 7.2 answers byte for byte (DEBUG HELP lists exactly these);
//! the rest of Redis's DEBUG (crashes, leaks, cluster links, HTSTATS...) answers its
//! unknown-subcommand error, as do the subcommands 7.2 itself no longer has (JMAP,
//! STRINGMATCH-LEN). Two are accepted for compatibility but change nothing here, because
//! the thing they tune does not exist in this server: REPLYBUFFER (our reply buffers are
//! not resized by a cron) and the LISTPACK / QUICKLIST dumps (one summary line to standard
//! output instead of Redis's byte-level listing; their replies are Redis's).

use crate::command::args::{eq, int};
use crate::command::{CmdResult, Ctx, Error};
use crate::data::dict::{Entry, NO_EXPIRE};
use crate::data::value::Value;
use crate::keyspace::{key_hash, Access};
use crate::persist::digest;
use crate::server::conn::help_reply;
use crate::util::sha1::hex;

/// `enable-debug-command` (no / yes / local: a Unix socket or loopback client), checked by
/// admission (`command::dispatch`) as Redis's processCommand checks protected commands.
pub fn allowed(srv: &crate::server::Server, client: &crate::server::client::Client) -> CmdResult {
    let cfg = srv.config.read();
    let setting = cfg.str("enable-debug-command");
    let h = &client.handle;
    let local = h.unix || h.addr.starts_with("127.") || h.addr.starts_with("[::1]");
    if !(setting == "yes" || (setting == "local" && local)) {
        return Err(Error::msg("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."));
    }
    Ok(())
}

pub fn debug(ctx: &mut Ctx) -> CmdResult {
    let sub = ctx.args[1];
    let argc = ctx.args.len();
    if eq(sub, "sleep") && argc == 3 {
        // strtod: what does not parse is 0 seconds.
        let secs = std::str::from_utf8(ctx.args[2]).ok().and_then(|s| s.trim().parse::<f64>().ok()).unwrap_or(0.0);
        if secs > 0.0 {
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
        }
        ctx.out.ok();
        Ok(())
    } else if eq(sub, "set-active-expire") && ctx.args.len() == 3 {
        // Redis takes atoi() of the argument: anything but a non-zero number turns it off.
        let on = std::str::from_utf8(ctx.args[2]).ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0) != 0;
        ctx.srv.active_expire.store(on, std::sync::atomic::Ordering::Relaxed);
        ctx.out.ok();
        Ok(())
    } else if eq(sub, "digest") && ctx.args.len() == 2 {
        let d = digest::dataset_digest(ctx.ks);
        ctx.out.simple(&hex(&d));
        Ok(())
    } else if eq(sub, "digest-value") {
        // Found as the table holds it: a key past its expiry time but not yet reaped counts,
        // as in Redis (dbFind, no lookupKey).
        ctx.out.array(ctx.args.len() - 2);
        for key in &ctx.args[2..] {
            let d = match raw_entry(ctx.ks, key) {
                Some(e) => digest::value_digest(&e.value, e.expire_at_ms != NO_EXPIRE),
                None => Default::default(),
            };
            ctx.out.simple(&hex(&d));
        }
        Ok(())
    } else if eq(sub, "reload") {
        crate::server::save::debug_reload(ctx)
    } else if eq(sub, "object") && argc == 3 {
        object(ctx)
    } else if eq(sub, "protocol") && argc == 3 {
        protocol(ctx)
    } else if eq(sub, "error") && argc == 3 {
        // The argument is the whole error line, code included.
        Err(Error::msg(String::from_utf8_lossy(ctx.args[2]).into_owned()))
    } else if eq(sub, "log") && argc == 3 {
        let msg = format!("DEBUG LOG: {}", String::from_utf8_lossy(ctx.args[2]));
        crate::server::log::log_at(ctx.srv, crate::server::log::WARNING, &msg);
        ctx.out.ok();
        Ok(())
    } else if eq(sub, "change-repl-id") && argc == 2 {
        crate::server::log::log(ctx.srv, "Changing replication IDs after receiving DEBUG change-repl-id");
        crate::server::info::change_repl_id();
        ctx.out.ok();
        Ok(())
    } else if eq(sub, "quicklist-packed-threshold") && argc == 3 {
        let ok = std::str::from_utf8(ctx.args[2])
            .ok()
            .and_then(crate::server::config::memtoull)
            .is_some_and(crate::data::list::set_plain_threshold);
        if !ok {
            return Err(Error::msg("ERR argument must be a memory value bigger than 1 and smaller than 4gb"));
        }
        ctx.out.ok();
        Ok(())
    } else if eq(sub, "listpack") && argc == 3 {
        structure_dump(ctx, "listpack")
    } else if eq(sub, "quicklist") && (argc == 3 || argc == 4) {
        structure_dump(ctx, "quicklist")
    } else if eq(sub, "replybuffer") && argc == 4 {
        if eq(ctx.args[2], "peak-reset-time") {
            if !eq(ctx.args[3], "never") && !eq(ctx.args[3], "reset") {
                int(ctx.args[3])?;
            }
        } else if !eq(ctx.args[2], "resizing") {
            return Err(ctx.subcommand_syntax_error());
        }
        ctx.out.ok();
        Ok(())
    } else if eq(sub, "help") {
        help_reply(
            ctx,
            "DEBUG",
            &[
                "CHANGE-REPL-ID",
                "    Change the replication IDs of the instance.",
                "    Dangerous: should be used only for testing the replication subsystem.",
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "ERROR <string>",
                "    Return a Redis protocol error with <string> as message. Useful for clients",
                "    unit tests to simulate Redis errors.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "OBJECT <key>",
                "    Show low level info about `key` and associated value.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "RELOAD [option ...]",
                "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
                "    * MERGE: conflicting keys will be loaded from RDB.",
                "    * NOFLUSH: the existing database will not be removed before load, but",
                "      conflicting keys will generate an exception and kill the server.",
                "    * NOSAVE: the database will be loaded from an existing RDB file.",
                "    Examples:",
                "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
                "      the database.",
                "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
                "      existing RDB file.",
                "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
                "      file to the database.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "QUICKLIST-PACKED-THRESHOLD <size>",
                "    Sets the threshold for elements to be inserted as plain vs packed nodes",
                "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "LISTPACK <key>",
                "    Show low level info about the listpack encoding of <key>.",
                "QUICKLIST <key> [<0|1>]",
                "    Show low level info about the quicklist encoding of <key>.",
                "    The optional argument (0 by default) sets the level of detail",
                "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
                "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
                "    In case NEVER is provided the last observed peak will never be reset",
                "    In case RESET is provided the peak reset time will be restored to the default value",
                "REPLYBUFFER RESIZING <0|1>",
                "    Enable or disable the reply buffer resize cron job",
            ],
        );
        Ok(())
    } else {
        Err(ctx.subcommand_syntax_error())
    }
}

/// `key`'s entry in the selected db as the table holds it, expired or not (DEBUG holds the
/// keyspace exclusively).
fn raw_entry<'a>(ks: &'a mut Access, key: &[u8]) -> Option<&'a Entry> {
    let (db, h) = (ks.db, key_hash(key));
    let shard = ks.keyspace().shard_of(h);
    ks.shard_at(db, shard).dict.get(h, key)
}

/// DEBUG OBJECT: Redis's one status line about a key's value. The address is the entry's;
/// the LRU clock is Redis's 24-bit one (seconds); a quicklist adds its node figures.
fn object(ctx: &mut Ctx) -> CmdResult {
    let shares = crate::types::generic::shares_integers(ctx.srv);
    let (compress, depth) = {
        let cfg = ctx.srv.config.read();
        (cfg.bool("rdbcompression"), cfg.int("list-compress-depth"))
    };
    let clock = ctx.ks.lru_clock;
    let lfu = crate::types::generic::lfu_policy(ctx);
    let now_secs = ctx.ks.now_ms / 1000;
    let Some(e) = ctx.ks.get_untouched(ctx.args[2]) else {
        return Err(crate::command::err::NO_SUCH_KEY);
    };
    // Redis's lru field: under LFU its raw 24 bits (minutes and counter, as ours), else its
    // seconds clock at the last access (ours counts 10 ms ticks: keyspace::LRU_TICKS_PER_SEC).
    let idle = crate::keyspace::idle_seconds(clock, e.lru()) as i64;
    let lru = if lfu { e.lru() & 0xFF_FFFF } else { ((now_secs - idle) & 0xFF_FFFF) as u32 };
    let mut serialized = Vec::new();
    crate::persist::value::save(&mut serialized, &e.value, compress);
    let mut line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        e as *const Entry,
        crate::types::generic::refcount(shares, &e.value),
        e.value.encoding_name(),
        serialized.len() - 1, // without the type byte, as rdbSavedObjectLen
        lru,
        idle
    );
    if let Value::List(l) = &e.value {
        if l.encoding_name() == "quicklist" {
            let (nodes, bytes, fill) = l.quicklist_figures();
            let avg = l.len() as f64 / nodes.max(1) as f64;
            line.push_str(&format!(
                " ql_nodes:{nodes} ql_avg_node:{avg:.2} ql_listpack_max:{fill} ql_compressed:{} ql_uncompressed_size:{bytes}",
                (depth != 0) as i32
            ));
        }
    }
    ctx.out.simple(&line);
    Ok(())
}

/// DEBUG LISTPACK / QUICKLIST: the key must be in that encoding; a summary goes to
/// standard output (see the module comment) and the reply is Redis's.
fn structure_dump(ctx: &mut Ctx, encoding: &str) -> CmdResult {
    let Some(e) = ctx.ks.get_untouched(ctx.args[2]) else {
        return Err(crate::command::err::NO_SUCH_KEY);
    };
    if e.value.encoding_name() != encoding {
        return Err(Error::msg(format!("ERR Not a {encoding} encoded object.")));
    }
    println!(
        "{{{encoding} {} type:{} bytes:{}}}",
        String::from_utf8_lossy(ctx.args[2]),
        e.value.type_name(),
        e.value.heap_size(0)
    );
    let title = if encoding == "listpack" { "Listpack" } else { "Quicklist" };
    ctx.out.simple(&format!("{title} structure printed on stdout"));
    Ok(())
}

/// DEBUG PROTOCOL: one test reply of each RESP type, as Redis writes it under the
/// connection's protocol (a push exists only in RESP3, after the reply it follows).
fn protocol(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.args[2]).to_ascii_lowercase();
    let out = &mut *ctx.out;
    match name.as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's test value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => out.big_number(b"1234567999999999999999999999999999999"),
        "null" => out.nil(),
        "array" | "set" | "map" => {
            match name.as_str() {
                "array" => out.array(3),
                "set" => out.set(3),
                _ => out.map(3),
            }
            for i in 0..3 {
                out.int(i);
                if name == "map" {
                    out.bool(i == 1);
                }
            }
        }
        "attrib" => {
            if out.resp3 {
                out.buf.extend_from_slice(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !out.resp3 {
                return Err(Error::msg("ERR RESP2 is not supported by this command"));
            }
            out.bulk(b"Some real reply following the push reply");
            let start = out.len();
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.pushed_from(start);
        }
        "verbatim" => out.verbatim("txt", b"This is a verbatim\nstring"),
        "true" => out.bool(true),
        "false" => out.bool(false),
        _ => return Err(Error::msg(
            "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        )),
    }
    Ok(())
}
