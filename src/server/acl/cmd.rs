//! The ACL command (Redis 7.2's aclCommand): SETUSER GETUSER DELUSER LIST USERS WHOAMI
//! CAT GENPASS LOG DRYRUN LOAD SAVE HELP.

use std::sync::atomic::Ordering;

use super::rules::{self, User};
use crate::command::args::eq;
use crate::command::{err, CmdResult, Ctx, Error};

fn no_aclfile(ctx: &Ctx) -> Option<Error> {
    ctx.srv.config.read().str("aclfile").is_empty().then(|| {
        Error::msg("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
    })
}

pub fn setuser(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.args[2];
    if rules::has_spaces(name) {
        return Err(Error::msg("ERR Usernames can't contain spaces or null characters"));
    }
    let acl = &ctx.srv.acl;
    let all = acl.allchannels_default();
    let old = acl.get(name);
    let base = match &old {
        Some(u) => (**u).clone(),
        None => User::new(name, all),
    };
    let new = base.with_rules(&ctx.args[3..], all).map_err(|e| Error::msg(String::from_utf8_lossy(&e).into_owned()))?;
    let shrunk = old.as_deref().and_then(|o| o.channels_shrunk(&new));
    acl.put(new);
    if let Some(allowed) = shrunk {
        crate::server::pubsub::disconnect_revoked(ctx.srv, name, &allowed);
    }
    ctx.out.ok();
    Ok(())
}

pub fn deluser(ctx: &mut Ctx) -> CmdResult {
    let names = &ctx.args[2..];
    if names.iter().any(|n| *n == b"default") {
        return Err(Error::msg("ERR The 'default' user cannot be removed"));
    }
    let n = ctx.srv.acl.remove(names);
    // Their connections are closed (the one running this after its reply).
    let doomed: Vec<_> = ctx
        .srv
        .clients
        .lock()
        .values()
        .filter(|h| names.contains(&&crate::server::client::user_of(h)[..]))
        .cloned()
        .collect();
    for h in doomed {
        crate::server::client::kill_handle(ctx, &h);
    }
    ctx.out.int(n as i64);
    Ok(())
}

pub fn getuser(ctx: &mut Ctx) -> CmdResult {
    let Some(u) = ctx.srv.acl.get(ctx.args[2]) else {
        ctx.out.nil();
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = u.flag_names();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p);
    }
    let describe = |s: &rules::Selector, out: &mut crate::resp::write::ReplyWriter| {
        out.bulk(b"commands");
        out.bulk(&s.describe_commands());
        out.bulk(b"keys");
        out.bulk(&s.describe_keys());
        out.bulk(b"channels");
        out.bulk(&s.describe_channels());
    };
    describe(u.root(), out);
    out.bulk(b"selectors");
    out.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        out.map(3);
        describe(s, out);
    }
    Ok(())
}

pub fn list(ctx: &mut Ctx) -> CmdResult {
    let lines = ctx.srv.acl.lines();
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk(&l);
    }
    Ok(())
}

pub fn users(ctx: &mut Ctx) -> CmdResult {
    let users = ctx.srv.acl.users();
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk(&u.name);
    }
    Ok(())
}

pub fn whoami(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.client.user.name.clone();
    ctx.out.bulk(&name);
    Ok(())
}

pub fn load(ctx: &mut Ctx) -> CmdResult {
    if let Some(e) = no_aclfile(ctx) {
        return Err(e);
    }
    let path = ctx.srv.config.read().str("aclfile").to_string();
    let set = super::load_file(&path, ctx.srv.acl.allchannels_default()).map_err(|e| Error::msg(format!("ERR {e}")))?;
    replace_users(ctx.srv, set, Some(ctx.client));
    ctx.out.ok();
    Ok(())
}

/// Install a whole new set of users (ACL LOAD): every connection of a user other than
/// the default one is closed, as Redis frees the old users (the one running the command
/// after its reply).
pub fn replace_users(
    srv: &crate::server::Server,
    set: std::collections::BTreeMap<Vec<u8>, User>,
    mut me: Option<&mut crate::server::client::Client>,
) {
    srv.acl.replace_all(set);
    let doomed: Vec<_> =
        srv.clients.lock().values().filter(|h| crate::server::client::user_of(h) != b"default").cloned().collect();
    for h in doomed {
        match me.as_deref_mut() {
            Some(c) if c.id == h.id => c.close_after_reply = true,
            _ => h.kill(),
        }
    }
}

pub fn save(ctx: &mut Ctx) -> CmdResult {
    if let Some(e) = no_aclfile(ctx) {
        return Err(e);
    }
    let path = ctx.srv.config.read().str("aclfile").to_string();
    if let Err(e) = super::save_file(&ctx.srv.acl, &path) {
        crate::server::log::log_at(
            ctx.srv,
            crate::server::log::WARNING,
            &format!("Writing ACL file for ACL SAVE: {e}"),
        );
        return Err(Error::msg(
            "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
        ));
    }
    ctx.out.ok();
    Ok(())
}

pub fn cat(ctx: &mut Ctx) -> CmdResult {
    match ctx.args.len() {
        2 => {
            ctx.out.array(crate::command::spec::acl::NAMES.len());
            for (_, n) in crate::command::spec::acl::NAMES {
                ctx.out.bulk(n.as_bytes());
            }
        }
        3 => {
            let cat = crate::command::spec::acl::by_name(ctx.args[2]);
            if cat == 0 {
                let name = String::from_utf8_lossy(ctx.args[2]);
                let name: String = name.chars().take(128).collect();
                return Err(Error::msg(format!("ERR Unknown category '{name}'")));
            }
            let names = rules::category_commands(cat);
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(n.as_bytes());
            }
        }
        _ => return Err(ctx.subcommand_syntax_error()),
    }
    Ok(())
}

pub fn genpass(ctx: &mut Ctx) -> CmdResult {
    const MAX_BITS: i64 = 4096;
    let bits = match ctx.args.len() {
        2 => 256,
        3 => crate::util::number::parse_i64(ctx.args[2]).ok_or(err::NOT_INT)?,
        _ => return Err(ctx.subcommand_syntax_error()),
    };
    if bits <= 0 || bits > MAX_BITS {
        return Err(Error::msg(format!(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to {MAX_BITS}"
        )));
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut bytes[..]);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex: Vec<u8> =
        bytes.iter().flat_map(|b| [HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]).take(chars).collect();
    ctx.out.bulk(&hex);
    Ok(())
}

pub fn log(ctx: &mut Ctx) -> CmdResult {
    let count = match ctx.args.len() {
        2 => 10,
        3 if eq(ctx.args[2], "reset") => {
            ctx.srv.acl.reset_log();
            ctx.out.ok();
            return Ok(());
        }
        3 => crate::util::number::parse_i64(ctx.args[2]).ok_or(err::NOT_INT)?.max(0),
        _ => return Err(ctx.subcommand_syntax_error()),
    };
    ctx.srv.acl.write_log(count as usize, ctx.out);
    Ok(())
}

pub fn dryrun(ctx: &mut Ctx) -> CmdResult {
    let Some(u) = ctx.srv.acl.get(ctx.args[2]) else {
        return Err(Error::msg(format!("ERR User '{}' not found", String::from_utf8_lossy(ctx.args[2]))));
    };
    let args = &ctx.args[3..];
    let Some(cmd) = crate::command::dispatch::lookup(ctx.srv, args) else {
        return Err(Error::msg(format!("ERR Command '{}' not found", String::from_utf8_lossy(args[0]))));
    };
    let (argc, arity) = (args.len() as i64, cmd.def.arity as i64);
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err(Error::msg(format!("ERR wrong number of arguments for '{}' command", cmd.def.name)));
    }
    match u.check(cmd.def, args) {
        None => ctx.out.ok(),
        Some((reason, pos)) => {
            let object = args.get(pos).copied().unwrap_or_default();
            let msg = super::denial_message(reason, &u.name, cmd.def, object, true);
            ctx.out.bulk(msg.as_bytes());
        }
    }
    Ok(())
}

pub fn help(ctx: &mut Ctx) -> CmdResult {
    crate::server::conn::help_reply(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}

/// acllog-max-len and acl-pubsub-default, read by the ACL code without the config lock.
pub fn apply_config(srv: &crate::server::Server) {
    let cfg = srv.config.read();
    srv.acl.log_max_len.store(cfg.int("acllog-max-len").max(0) as u64, Ordering::Relaxed);
    srv.acl.pubsub_all.store(cfg.str("acl-pubsub-default") == "allchannels", Ordering::Relaxed);
}
