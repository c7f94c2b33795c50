//! Connection and small server commands: PING ECHO QUIT RESET SELECT AUTH HELLO TIME
//! LASTSAVE COMMAND DEBUG (SHUTDOWN is `server::shutdown`).

use crate::command::args::{db_index, eq};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::server::client::{set_name, ReplyMode};

/// The reply of every HELP subcommand: a status line per text line, headed like Redis's.
pub fn help_reply(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Print this help.");
}

pub fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.args.len() <= 2 && super::pubsub::subscribed_ping(ctx) {
        return Ok(());
    }
    match ctx.args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(ctx.args[1]),
        _ => return Err(Error::msg("ERR wrong number of arguments for 'ping' command")),
    }
    Ok(())
}

pub fn echo(ctx: &mut Ctx) -> CmdResult {
    ctx.out.bulk(ctx.args[1]);
    Ok(())
}

pub fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

/// What a client leaves when it goes away or sends RESET: its transaction and watched keys,
/// its subscriptions, MONITOR, tracking. (A blocked client's waiter is gone already: the
/// connection cancels it when it stops waiting.)
pub fn teardown(srv: &crate::server::Server, client: &mut crate::server::client::Client) {
    crate::command::multi::reset(srv, client);
    super::pubsub::unsubscribe_all(srv, client);
    super::pubsub::unmonitor(srv, client);
    super::tracking::disable(srv, &client.handle);
}

pub fn reset(ctx: &mut Ctx) -> CmdResult {
    teardown(ctx.srv, ctx.client);
    let c = &mut *ctx.client;
    c.db = 0;
    c.resp3 = false;
    ctx.out.resp3 = false;
    c.reply_mode = ReplyMode::On;
    c.no_evict = false;
    c.no_touch = false;
    ctx.srv.acl.start(c);
    c.handle.info.lock().name.clear();
    ctx.out.simple("RESET");
    Ok(())
}

pub fn select(ctx: &mut Ctx) -> CmdResult {
    let db = db_index(ctx.args[1], ctx.srv.databases(), err::NOT_INT)?;
    ctx.client.db = db;
    ctx.out.ok();
    Ok(())
}

/// Authenticate as `user` (Redis's ACLAuthenticateUser): the client runs as that user
/// from now, or WRONGPASS (and an ACL LOG entry) if the pair does not match.
fn log_in(ctx: &mut Ctx, user: &[u8], pass: &[u8]) -> Result<(), Error> {
    match ctx.srv.acl.authenticate(ctx.client, user, pass, ctx.args[0]) {
        Some(u) => {
            ctx.srv.acl.login(ctx.client, u);
            Ok(())
        }
        None => Err(Error::msg("WRONGPASS invalid username-password pair or user is disabled.")),
    }
}

pub fn auth(ctx: &mut Ctx) -> CmdResult {
    let (user, pass): (&[u8], &[u8]) = match ctx.args.len() {
        2 => (b"default", ctx.args[1]),
        3 => (ctx.args[1], ctx.args[2]),
        _ => return Err(err::SYNTAX),
    };
    if ctx.args.len() == 2 && ctx.srv.acl.default_user().nopass {
        return Err(Error::msg(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    log_in(ctx, user, pass)?;
    ctx.out.ok();
    Ok(())
}

pub fn hello(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut ver = None;
    if args.len() >= 2 {
        let v = crate::util::number::parse_i64(args[1])
            .ok_or_else(|| Error::msg("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(Error::msg("NOPROTO unsupported protocol version"));
        }
        ver = Some(v);
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if eq(args[i], "auth") && more >= 2 {
            auth = Some((args[i + 1], args[i + 2]));
            i += 3;
        } else if eq(args[i], "setname") && more >= 1 {
            name = Some(args[i + 1]);
            i += 2;
        } else {
            return Err(Error::msg(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(args[i]))));
        }
    }
    if let Some((user, pass)) = auth {
        log_in(ctx, user, pass)?;
    }
    if !ctx.client.authenticated {
        return Err(Error::msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        set_name(ctx.client, n)?;
    }
    if let Some(v) = ver {
        ctx.client.resp3 = v == 3;
        ctx.out.resp3 = v == 3;
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if ctx.client.resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

pub fn time(ctx: &mut Ctx) -> CmdResult {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(d.as_secs() as i64);
    ctx.out.bulk_int(d.subsec_micros() as i64);
    Ok(())
}

pub fn command(ctx: &mut Ctx) -> CmdResult {
    let table = &ctx.srv.commands;
    crate::command::introspect::command(
        ctx.args,
        &|def| table.implements(def),
        &|name| table.get(name).map(|c| c.def),
        ctx.out,
    )
    .map_err(Error::msg)
}
