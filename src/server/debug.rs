//! DEBUG (debug.c): the subcommands Redis's tooling and users' test suites call, gated by
//! `enable-debug-command`.

use crate::command::args::{eq, float};
use crate::command::{CmdResult, Ctx, Error};
use crate::data::dict::{Entry, NO_EXPIRE};
use crate::keyspace::{key_hash, Access};
use crate::persist::digest;
use crate::server::conn::help_reply;
use crate::util::sha1::hex;

pub fn debug(ctx: &mut Ctx) -> CmdResult {
    let setting = ctx.srv.config.read().str("enable-debug-command").to_string();
    let h = &ctx.client.handle;
    let local = h.unix || h.addr.starts_with("127.") || h.addr.starts_with("[::1]");
    if !(setting == "yes" || (setting == "local" && local)) {
        return Err(Error::msg("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."));
    }
    let sub = ctx.args[1];
    if eq(sub, "sleep") && ctx.args.len() == 3 {
        let secs = float(ctx.args[2])?;
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
    // Persistence (issue 23): RELOAD (server::save), DIGEST and DIGEST-VALUE
    // (persist::digest) go here.
    } else if eq(sub, "reload") {
        crate::server::save::debug_reload(ctx)
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
    } else if eq(sub, "help") {
        help_reply(
            ctx,
            "DEBUG",
            &[
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
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
