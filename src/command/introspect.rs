//! The COMMAND command: COMMAND, COUNT, LIST, INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, HELP.
//!
//! Pure functions of the static table (`spec::COMMANDS`) and the set of commands the runtime
//! implements: only implemented commands (and implemented subcommands) are shown, looked up
//! or counted. Replies are written in Redis's exact shapes for RESP2 and RESP3, including its
//! quirks (flags/categories/tips/key specs are sets, a command without subcommands reports an
//! empty *set*, DOCS history is a set).
//!
//! Errors: the entry point writes nothing and returns `Err(text)` ("ERR ...", without the
//! leading '-'); the caller writes it with `ReplyWriter::error`.

use super::spec::{self, acl, arg, doc, key, Begin, CommandDef, Find, KeySpec};
use crate::resp::write::{Agg, ReplyWriter};

/// Whether the runtime implements a command (or subcommand).
pub type Implemented<'a> = &'a dyn Fn(&CommandDef) -> bool;

/// The command a name sent by a client invokes (any case), by the runtime table: a
/// command renamed by rename-command answers to its new name only.
pub type Resolve<'a> = &'a dyn Fn(&[u8]) -> Option<&'static CommandDef>;

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Print this help.",
];

/// COMMAND [subcommand ...]. `args[0]` is "command" (any case).
/// On error nothing is written and the error text ("ERR ...") is returned.
pub fn command(
    args: &[&[u8]],
    implemented: Implemented,
    resolve: Resolve,
    out: &mut ReplyWriter,
) -> Result<(), String> {
    let Some(sub) = args.get(1) else {
        all_info(implemented, out);
        return Ok(());
    };
    let Some(def) = spec::lookup(b"command").and_then(|c| c.subcommand(sub)) else {
        return Err(format!("ERR unknown subcommand '{}'. Try COMMAND HELP.", truncated(sub, 128)));
    };
    let argc = args.len() as i64;
    let arity = def.arity as i64;
    if (arity > 0 && argc != arity) || argc < -arity {
        return Err(format!("ERR wrong number of arguments for '{}' command", def.name));
    }
    match def.short_name() {
        "count" => {
            out.int(spec::COMMANDS.iter().filter(|c| implemented(c)).count() as i64);
            Ok(())
        }
        "list" => list(&args[2..], implemented, out),
        "info" => {
            if args.len() == 2 {
                all_info(implemented, out);
            } else {
                out.array(args.len() - 2);
                for name in &args[2..] {
                    match find_full(name, implemented, resolve) {
                        Some(c) => info_entry(c, implemented, out),
                        None => out.nil(),
                    }
                }
            }
            Ok(())
        }
        "docs" => {
            docs(&args[2..], implemented, resolve, out);
            Ok(())
        }
        "getkeys" => getkeys(&args[2..], false, implemented, resolve, out),
        "getkeysandflags" => getkeys(&args[2..], true, implemented, resolve, out),
        "help" => {
            out.array(HELP.len());
            for line in HELP {
                out.simple(line);
            }
            Ok(())
        }
        _ => Err(format!("ERR unknown subcommand '{}'. Try COMMAND HELP.", truncated(sub, 128))),
    }
}

fn truncated(s: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&s[..s.len().min(max)]).into_owned()
}

/// A command or subcommand by full name ("get", "config|get") as COMMAND INFO / DOCS take
/// it: the command through the runtime table (its name after rename-command), the
/// subcommand among its own, if implemented (Redis's lookupCommandBySds).
fn find_full(name: &[u8], implemented: Implemented, resolve: Resolve) -> Option<&'static CommandDef> {
    let def = match name.iter().position(|&b| b == b'|') {
        None => resolve(name)?,
        Some(i) => {
            let sub = &name[i + 1..];
            if sub.contains(&b'|') {
                return None;
            }
            resolve(&name[..i])?.subcommand(sub)?
        }
    };
    implemented(def).then_some(def)
}

fn all_info(implemented: Implemented, out: &mut ReplyWriter) {
    let n = spec::COMMANDS.iter().filter(|c| implemented(c)).count();
    out.array(n);
    for c in spec::COMMANDS.iter().filter(|c| implemented(c)) {
        info_entry(c, implemented, out);
    }
}

// ---------------------------------------------------------------------------------------------
// COMMAND INFO

fn info_entry(c: &CommandDef, implemented: Implemented, out: &mut ReplyWriter) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    let flags: Vec<&str> = spec::flags::NAMES.iter().filter(|(b, _)| c.flags & b != 0).map(|(_, n)| *n).collect();
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.int(c.first_key as i64);
    out.int(c.last_key as i64);
    out.int(c.key_step as i64);
    let cats: Vec<&str> = acl::NAMES.iter().filter(|(b, _)| c.acl & b != 0).map(|(_, n)| *n).collect();
    out.set(cats.len());
    for cat in cats {
        out.simple(&format!("@{cat}"));
    }
    out.set(c.tips.len());
    for t in c.tips {
        out.bulk(t.as_bytes());
    }
    out.set(c.key_specs.len());
    for ks in c.key_specs {
        key_spec(ks, out);
    }
    if c.subcommands.is_empty() {
        out.set(0);
    } else {
        let subs: Vec<&CommandDef> = c.subcommands.iter().filter(|s| implemented(s)).collect();
        out.array(subs.len());
        for s in subs {
            info_entry(s, implemented, out);
        }
    }
}

fn key_flags(flags: u32, out: &mut ReplyWriter) {
    let names: Vec<&str> = key::NAMES.iter().filter(|(b, _)| flags & b != 0).map(|(_, n)| *n).collect();
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
}

fn key_spec(ks: &KeySpec, out: &mut ReplyWriter) {
    out.map(if ks.notes.is_some() { 4 } else { 3 });
    if let Some(notes) = ks.notes {
        out.bulk(b"notes");
        out.bulk(notes.as_bytes());
    }
    out.bulk(b"flags");
    key_flags(ks.flags, out);

    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match ks.begin {
        Begin::Index(i) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(i as i64);
        }
        Begin::Keyword { keyword, startfrom } => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.int(startfrom as i64);
        }
        Begin::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }

    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match ks.find {
        Find::Range { lastkey, keystep, limit } => {
            out.bulk(b"range");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"lastkey");
            out.int(lastkey as i64);
            out.bulk(b"keystep");
            out.int(keystep as i64);
            out.bulk(b"limit");
            out.int(limit as i64);
        }
        Find::Keynum { keynumidx, firstkey, keystep } => {
            out.bulk(b"keynum");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"keynumidx");
            out.int(keynumidx as i64);
            out.bulk(b"firstkey");
            out.int(firstkey as i64);
            out.bulk(b"keystep");
            out.int(keystep as i64);
        }
        Find::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p]

enum Filter<'a> {
    None,
    Module,
    AclCat(u64),
    Pattern(&'a [u8]),
}

fn list(args: &[&[u8]], implemented: Implemented, out: &mut ReplyWriter) -> Result<(), String> {
    let mut filter = Filter::None;
    let mut i = 0;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if !(args[i].eq_ignore_ascii_case(b"filterby") && more == 2) {
            return Err("ERR syntax error".into());
        }
        let (kind, value) = (args[i + 1], args[i + 2]);
        filter = if kind.eq_ignore_ascii_case(b"module") {
            Filter::Module
        } else if kind.eq_ignore_ascii_case(b"aclcat") {
            Filter::AclCat(acl::by_name(value))
        } else if kind.eq_ignore_ascii_case(b"pattern") {
            Filter::Pattern(value)
        } else {
            return Err("ERR syntax error".into());
        };
        i += 3;
    }
    let keep = |c: &CommandDef| match filter {
        Filter::None => true,
        Filter::Module => false, // no modules
        Filter::AclCat(bit) => bit != 0 && c.acl & bit != 0,
        Filter::Pattern(p) => crate::util::glob::glob_match(p, c.name.as_bytes(), true),
    };
    let d = out.begin_deferred(Agg::Array);
    let mut n = 0;
    for c in spec::COMMANDS.iter().filter(|c| implemented(c)) {
        if keep(c) {
            out.bulk(c.name.as_bytes());
            n += 1;
        }
        for s in c.subcommands.iter().filter(|s| implemented(s)) {
            if keep(s) {
                out.bulk(s.name.as_bytes());
                n += 1;
            }
        }
    }
    out.end_deferred(d, n);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// COMMAND DOCS

fn docs(names: &[&[u8]], implemented: Implemented, resolve: Resolve, out: &mut ReplyWriter) {
    if names.is_empty() {
        let all: Vec<&CommandDef> = spec::COMMANDS.iter().filter(|c| implemented(c)).collect();
        out.map(all.len());
        for c in all {
            out.bulk(c.name.as_bytes());
            doc_entry(c, implemented, out);
        }
        return;
    }
    let d = out.begin_deferred(Agg::Map);
    let mut n = 0;
    for name in names {
        if let Some(c) = find_full(name, implemented, resolve) {
            out.bulk(c.name.as_bytes());
            doc_entry(c, implemented, out);
            n += 1;
        }
    }
    out.end_deferred(d, n);
}

fn doc_entry(c: &CommandDef, implemented: Implemented, out: &mut ReplyWriter) {
    let d = &c.doc;
    let n = 1
        + d.summary.is_some() as usize
        + d.since.is_some() as usize
        + d.complexity.is_some() as usize
        + (d.doc_flags != 0) as usize
        + d.deprecated_since.is_some() as usize
        + d.replaced_by.is_some() as usize
        + !d.history.is_empty() as usize
        + !d.args.is_empty() as usize
        + !c.subcommands.is_empty() as usize;
    out.map(n);
    if let Some(s) = d.summary {
        out.bulk(b"summary");
        out.bulk(s.as_bytes());
    }
    if let Some(s) = d.since {
        out.bulk(b"since");
        out.bulk(s.as_bytes());
    }
    out.bulk(b"group");
    out.bulk(d.group.as_bytes());
    if let Some(s) = d.complexity {
        out.bulk(b"complexity");
        out.bulk(s.as_bytes());
    }
    if d.doc_flags != 0 {
        out.bulk(b"doc_flags");
        let names: Vec<&str> = doc::NAMES.iter().filter(|(b, _)| d.doc_flags & b != 0).map(|(_, n)| *n).collect();
        out.set(names.len());
        for f in names {
            out.simple(f);
        }
    }
    if let Some(s) = d.deprecated_since {
        out.bulk(b"deprecated_since");
        out.bulk(s.as_bytes());
    }
    if let Some(s) = d.replaced_by {
        out.bulk(b"replaced_by");
        out.bulk(s.as_bytes());
    }
    if !d.history.is_empty() {
        out.bulk(b"history");
        out.set(d.history.len());
        for (version, change) in d.history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(change.as_bytes());
        }
    }
    if !d.args.is_empty() {
        out.bulk(b"arguments");
        args_reply(d.args, out);
    }
    if !c.subcommands.is_empty() {
        out.bulk(b"subcommands");
        let subs: Vec<&CommandDef> = c.subcommands.iter().filter(|s| implemented(s)).collect();
        out.map(subs.len());
        for s in subs {
            out.bulk(s.name.as_bytes());
            doc_entry(s, implemented, out);
        }
    }
}

fn args_reply(args: &[spec::Arg], out: &mut ReplyWriter) {
    out.array(args.len());
    for a in args {
        let n = 2
            + a.display_text.is_some() as usize
            + (a.key_spec_index >= 0) as usize
            + a.token.is_some() as usize
            + a.summary.is_some() as usize
            + a.since.is_some() as usize
            + a.deprecated_since.is_some() as usize
            + (a.flags != 0) as usize
            + !a.args.is_empty() as usize;
        out.map(n);
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.kind.name().as_bytes());
        if let Some(s) = a.display_text {
            out.bulk(b"display_text");
            out.bulk(s.as_bytes());
        }
        if a.key_spec_index >= 0 {
            out.bulk(b"key_spec_index");
            out.int(a.key_spec_index as i64);
        }
        for (field, value) in
            [("token", a.token), ("summary", a.summary), ("since", a.since), ("deprecated_since", a.deprecated_since)]
        {
            if let Some(v) = value {
                out.bulk(field.as_bytes());
                out.bulk(v.as_bytes());
            }
        }
        if a.flags != 0 {
            out.bulk(b"flags");
            let names: Vec<&str> = arg::NAMES.iter().filter(|(b, _)| a.flags & b != 0).map(|(_, n)| *n).collect();
            out.set(names.len());
            for f in names {
                out.simple(f);
            }
        }
        if !a.args.is_empty() {
            out.bulk(b"arguments");
            args_reply(a.args, out);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// COMMAND GETKEYS / GETKEYSANDFLAGS <full-command>

fn getkeys(
    cmd: &[&[u8]],
    with_flags: bool,
    implemented: Implemented,
    resolve: Resolve,
    out: &mut ReplyWriter,
) -> Result<(), String> {
    // (Redis's lookupCommand: the container through the runtime table, then its subcommand.)
    let base = cmd.first().and_then(|name| resolve(name));
    let def = match base {
        Some(b) if !b.subcommands.is_empty() && cmd.len() >= 2 => b.subcommand(cmd[1]),
        other => other,
    }
    .filter(|d| implemented(d))
    .ok_or("ERR Invalid command specified")?;
    if !def.has_keys() {
        return Err("ERR The command has no key arguments".into());
    }
    let (argc, arity) = (cmd.len() as i64, def.arity as i64);
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let keys = spec::keys_with_flags(def, cmd);
    if keys.is_empty() && !def.has(spec::flags::NO_MANDATORY_KEYS) {
        return Err("ERR Invalid arguments specified for command".into());
    }
    out.array(keys.len());
    for (pos, flags) in keys {
        let name = cmd.get(pos).copied().unwrap_or_default();
        if with_flags {
            out.array(2);
            out.bulk(name);
            key_flags(flags, out);
        } else {
            out.bulk(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(resp3: bool, args: &[&str], implemented: Implemented) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut w = ReplyWriter::new(resp3);
        if let Err(e) = command(&args, implemented, &|name| spec::lookup(name), &mut w) {
            w.error(&e);
        }
        w.buf
    }

    fn all(_: &CommandDef) -> bool {
        true
    }

    fn show(b: &[u8]) -> String {
        String::from_utf8_lossy(b).replace("\r\n", "\\r\\n")
    }

    /// Captured from redis-server 7.2.6 (the oracle): (protocol, args, reply).
    const FIXTURES: &[(u8, &[&str], &[u8])] = &[
        (2, &["COMMAND", "INFO", "get"], b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"),
        (3, &["COMMAND", "INFO", "get"], b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n"),
        (2, &["COMMAND", "INFO", "set"], b"*1\r\n*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n*1\r\n*8\r\n$5\r\nnotes\r\n$48\r\nRW and ACCESS due to the optional `GET` argument\r\n$5\r\nflags\r\n*4\r\n+RW\r\n+access\r\n+update\r\n+variable_flags\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"),
        (3, &["COMMAND", "INFO", "set"], b"*1\r\n*10\r\n$3\r\nset\r\n:-3\r\n~2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@string\r\n+@slow\r\n~0\r\n~1\r\n%4\r\n$5\r\nnotes\r\n$48\r\nRW and ACCESS due to the optional `GET` argument\r\n$5\r\nflags\r\n~4\r\n+RW\r\n+access\r\n+update\r\n+variable_flags\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n"),
        (2, &["COMMAND", "INFO", "eval"], b"*1\r\n*10\r\n$4\r\neval\r\n:-3\r\n*5\r\n+noscript\r\n+stale\r\n+skip_monitor\r\n+no_mandatory_keys\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@slow\r\n+@scripting\r\n*0\r\n*1\r\n*8\r\n$5\r\nnotes\r\n$78\r\nWe cannot tell how the keys will be used so we assume the worst, RW and UPDATE\r\n$5\r\nflags\r\n*3\r\n+RW\r\n+access\r\n+update\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$6\r\nkeynum\r\n$4\r\nspec\r\n*6\r\n$9\r\nkeynumidx\r\n:0\r\n$8\r\nfirstkey\r\n:1\r\n$7\r\nkeystep\r\n:1\r\n*0\r\n"),
        (3, &["COMMAND", "INFO", "eval"], b"*1\r\n*10\r\n$4\r\neval\r\n:-3\r\n~5\r\n+noscript\r\n+stale\r\n+skip_monitor\r\n+no_mandatory_keys\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@slow\r\n+@scripting\r\n~0\r\n~1\r\n%4\r\n$5\r\nnotes\r\n$78\r\nWe cannot tell how the keys will be used so we assume the worst, RW and UPDATE\r\n$5\r\nflags\r\n~3\r\n+RW\r\n+access\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$6\r\nkeynum\r\n$4\r\nspec\r\n%3\r\n$9\r\nkeynumidx\r\n:0\r\n$8\r\nfirstkey\r\n:1\r\n$7\r\nkeystep\r\n:1\r\n~0\r\n"),
        (2, &["COMMAND", "INFO", "zunionstore"], b"*1\r\n*10\r\n$11\r\nzunionstore\r\n:-4\r\n*3\r\n+write\r\n+denyoom\r\n+movablekeys\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@sortedset\r\n+@slow\r\n*0\r\n*2\r\n*6\r\n$5\r\nflags\r\n*2\r\n+OW\r\n+update\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$6\r\nkeynum\r\n$4\r\nspec\r\n*6\r\n$9\r\nkeynumidx\r\n:0\r\n$8\r\nfirstkey\r\n:1\r\n$7\r\nkeystep\r\n:1\r\n*0\r\n"),
        (3, &["COMMAND", "INFO", "zunionstore"], b"*1\r\n*10\r\n$11\r\nzunionstore\r\n:-4\r\n~3\r\n+write\r\n+denyoom\r\n+movablekeys\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@sortedset\r\n+@slow\r\n~0\r\n~2\r\n%3\r\n$5\r\nflags\r\n~2\r\n+OW\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$6\r\nkeynum\r\n$4\r\nspec\r\n%3\r\n$9\r\nkeynumidx\r\n:0\r\n$8\r\nfirstkey\r\n:1\r\n$7\r\nkeystep\r\n:1\r\n~0\r\n"),
        (2, &["COMMAND", "INFO", "config|get"], b"*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n"),
        (3, &["COMMAND", "INFO", "config|get"], b"*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n~4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n~3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n~0\r\n~0\r\n~0\r\n"),
        (2, &["COMMAND", "INFO", "nosuch", "xread"], b"*2\r\n$-1\r\n*10\r\n$5\r\nxread\r\n:-4\r\n*3\r\n+readonly\r\n+blocking\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n*4\r\n+@read\r\n+@stream\r\n+@slow\r\n+@blocking\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$7\r\nkeyword\r\n$4\r\nspec\r\n*4\r\n$7\r\nkeyword\r\n$7\r\nSTREAMS\r\n$9\r\nstartfrom\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:2\r\n*0\r\n"),
        (3, &["COMMAND", "INFO", "nosuch", "xread"], b"*2\r\n_\r\n*10\r\n$5\r\nxread\r\n:-4\r\n~3\r\n+readonly\r\n+blocking\r\n+movablekeys\r\n:0\r\n:0\r\n:0\r\n~4\r\n+@read\r\n+@stream\r\n+@slow\r\n+@blocking\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$7\r\nkeyword\r\n$4\r\nspec\r\n%2\r\n$7\r\nkeyword\r\n$7\r\nSTREAMS\r\n$9\r\nstartfrom\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:2\r\n~0\r\n"),
        (2, &["COMMAND", "DOCS", "get"], b"*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$34\r\nReturns the string value of a key.\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*8\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"),
        (3, &["COMMAND", "DOCS", "get"], b"%1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n$34\r\nReturns the string value of a key.\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n%4\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"),
        (2, &["COMMAND", "DOCS", "set"], b"*2\r\n$3\r\nset\r\n*12\r\n$7\r\nsummary\r\n$90\r\nSets the string value of a key, ignoring its type. The key is created if it doesn't exist.\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$7\r\nhistory\r\n*4\r\n*2\r\n$6\r\n2.6.12\r\n$44\r\nAdded the `EX`, `PX`, `NX` and `XX` options.\r\n*2\r\n$5\r\n6.0.0\r\n$27\r\nAdded the `KEEPTTL` option.\r\n*2\r\n$5\r\n6.2.0\r\n$42\r\nAdded the `GET`, `EXAT` and `PXAT` option.\r\n*2\r\n$5\r\n7.0.0\r\n$55\r\nAllowed the `NX` and `GET` options to be used together.\r\n$9\r\narguments\r\n*5\r\n*8\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n*6\r\n$4\r\nname\r\n$5\r\nvalue\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$5\r\nvalue\r\n*10\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n$5\r\nflags\r\n*1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n*8\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nnx\r\n$5\r\ntoken\r\n$2\r\nNX\r\n*8\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nxx\r\n$5\r\ntoken\r\n$2\r\nXX\r\n*12\r\n$4\r\nname\r\n$3\r\nget\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nget\r\n$5\r\ntoken\r\n$3\r\nGET\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n$5\r\nflags\r\n*1\r\n+optional\r\n*8\r\n$4\r\nname\r\n$10\r\nexpiration\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n*1\r\n+optional\r\n$9\r\narguments\r\n*5\r\n*10\r\n$4\r\nname\r\n$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$7\r\nseconds\r\n$5\r\ntoken\r\n$2\r\nEX\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n*10\r\n$4\r\nname\r\n$12\r\nmilliseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$12\r\nmilliseconds\r\n$5\r\ntoken\r\n$2\r\nPX\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n*10\r\n$4\r\nname\r\n$17\r\nunix-time-seconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$12\r\ndisplay_text\r\n$17\r\nunix-time-seconds\r\n$5\r\ntoken\r\n$4\r\nEXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n*10\r\n$4\r\nname\r\n$22\r\nunix-time-milliseconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$12\r\ndisplay_text\r\n$22\r\nunix-time-milliseconds\r\n$5\r\ntoken\r\n$4\r\nPXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n*10\r\n$4\r\nname\r\n$7\r\nkeepttl\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$7\r\nkeepttl\r\n$5\r\ntoken\r\n$7\r\nKEEPTTL\r\n$5\r\nsince\r\n$5\r\n6.0.0\r\n"),
        (3, &["COMMAND", "DOCS", "set"], b"%1\r\n$3\r\nset\r\n%6\r\n$7\r\nsummary\r\n$90\r\nSets the string value of a key, ignoring its type. The key is created if it doesn't exist.\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$7\r\nhistory\r\n~4\r\n*2\r\n$6\r\n2.6.12\r\n$44\r\nAdded the `EX`, `PX`, `NX` and `XX` options.\r\n*2\r\n$5\r\n6.0.0\r\n$27\r\nAdded the `KEEPTTL` option.\r\n*2\r\n$5\r\n6.2.0\r\n$42\r\nAdded the `GET`, `EXAT` and `PXAT` option.\r\n*2\r\n$5\r\n7.0.0\r\n$55\r\nAllowed the `NX` and `GET` options to be used together.\r\n$9\r\narguments\r\n*5\r\n%4\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%3\r\n$4\r\nname\r\n$5\r\nvalue\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$5\r\nvalue\r\n%5\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n%4\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nnx\r\n$5\r\ntoken\r\n$2\r\nNX\r\n%4\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nxx\r\n$5\r\ntoken\r\n$2\r\nXX\r\n%6\r\n$4\r\nname\r\n$3\r\nget\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nget\r\n$5\r\ntoken\r\n$3\r\nGET\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%4\r\n$4\r\nname\r\n$10\r\nexpiration\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*5\r\n%5\r\n$4\r\nname\r\n$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$7\r\nseconds\r\n$5\r\ntoken\r\n$2\r\nEX\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n%5\r\n$4\r\nname\r\n$12\r\nmilliseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$12\r\nmilliseconds\r\n$5\r\ntoken\r\n$2\r\nPX\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n%5\r\n$4\r\nname\r\n$17\r\nunix-time-seconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$12\r\ndisplay_text\r\n$17\r\nunix-time-seconds\r\n$5\r\ntoken\r\n$4\r\nEXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n%5\r\n$4\r\nname\r\n$22\r\nunix-time-milliseconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$12\r\ndisplay_text\r\n$22\r\nunix-time-milliseconds\r\n$5\r\ntoken\r\n$4\r\nPXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n%5\r\n$4\r\nname\r\n$7\r\nkeepttl\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$7\r\nkeepttl\r\n$5\r\ntoken\r\n$7\r\nKEEPTTL\r\n$5\r\nsince\r\n$5\r\n6.0.0\r\n"),
        (2, &["COMMAND", "DOCS", "eval"], b"*2\r\n$4\r\neval\r\n*10\r\n$7\r\nsummary\r\n$34\r\nExecutes a server-side Lua script.\r\n$5\r\nsince\r\n$5\r\n2.6.0\r\n$5\r\ngroup\r\n$9\r\nscripting\r\n$10\r\ncomplexity\r\n$39\r\nDepends on the script that is executed.\r\n$9\r\narguments\r\n*4\r\n*6\r\n$4\r\nname\r\n$6\r\nscript\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$6\r\nscript\r\n*6\r\n$4\r\nname\r\n$7\r\nnumkeys\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$7\r\nnumkeys\r\n*10\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n$5\r\nflags\r\n*2\r\n+optional\r\n+multiple\r\n*8\r\n$4\r\nname\r\n$3\r\narg\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$3\r\narg\r\n$5\r\nflags\r\n*2\r\n+optional\r\n+multiple\r\n"),
        (3, &["COMMAND", "DOCS", "eval"], b"%1\r\n$4\r\neval\r\n%5\r\n$7\r\nsummary\r\n$34\r\nExecutes a server-side Lua script.\r\n$5\r\nsince\r\n$5\r\n2.6.0\r\n$5\r\ngroup\r\n$9\r\nscripting\r\n$10\r\ncomplexity\r\n$39\r\nDepends on the script that is executed.\r\n$9\r\narguments\r\n*4\r\n%3\r\n$4\r\nname\r\n$6\r\nscript\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$6\r\nscript\r\n%3\r\n$4\r\nname\r\n$7\r\nnumkeys\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$7\r\nnumkeys\r\n%5\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n$5\r\nflags\r\n~2\r\n+optional\r\n+multiple\r\n%4\r\n$4\r\nname\r\n$3\r\narg\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$3\r\narg\r\n$5\r\nflags\r\n~2\r\n+optional\r\n+multiple\r\n"),
        (2, &["COMMAND", "DOCS", "zunionstore"], b"*2\r\n$11\r\nzunionstore\r\n*10\r\n$7\r\nsummary\r\n$50\r\nStores the union of multiple sorted sets in a key.\r\n$5\r\nsince\r\n$5\r\n2.0.0\r\n$5\r\ngroup\r\n$10\r\nsorted-set\r\n$10\r\ncomplexity\r\n$140\r\nO(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.\r\n$9\r\narguments\r\n*5\r\n*8\r\n$4\r\nname\r\n$11\r\ndestination\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$11\r\ndestination\r\n$14\r\nkey_spec_index\r\n:0\r\n*6\r\n$4\r\nname\r\n$7\r\nnumkeys\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$7\r\nnumkeys\r\n*10\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:1\r\n$5\r\nflags\r\n*1\r\n+multiple\r\n*10\r\n$4\r\nname\r\n$6\r\nweight\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$6\r\nweight\r\n$5\r\ntoken\r\n$7\r\nWEIGHTS\r\n$5\r\nflags\r\n*2\r\n+optional\r\n+multiple\r\n*10\r\n$4\r\nname\r\n$9\r\naggregate\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\ntoken\r\n$9\r\nAGGREGATE\r\n$5\r\nflags\r\n*1\r\n+optional\r\n$9\r\narguments\r\n*3\r\n*8\r\n$4\r\nname\r\n$3\r\nsum\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nsum\r\n$5\r\ntoken\r\n$3\r\nSUM\r\n*8\r\n$4\r\nname\r\n$3\r\nmin\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nmin\r\n$5\r\ntoken\r\n$3\r\nMIN\r\n*8\r\n$4\r\nname\r\n$3\r\nmax\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nmax\r\n$5\r\ntoken\r\n$3\r\nMAX\r\n"),
        (3, &["COMMAND", "DOCS", "zunionstore"], b"%1\r\n$11\r\nzunionstore\r\n%5\r\n$7\r\nsummary\r\n$50\r\nStores the union of multiple sorted sets in a key.\r\n$5\r\nsince\r\n$5\r\n2.0.0\r\n$5\r\ngroup\r\n$10\r\nsorted-set\r\n$10\r\ncomplexity\r\n$140\r\nO(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.\r\n$9\r\narguments\r\n*5\r\n%4\r\n$4\r\nname\r\n$11\r\ndestination\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$11\r\ndestination\r\n$14\r\nkey_spec_index\r\n:0\r\n%3\r\n$4\r\nname\r\n$7\r\nnumkeys\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$7\r\nnumkeys\r\n%5\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:1\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n%5\r\n$4\r\nname\r\n$6\r\nweight\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$6\r\nweight\r\n$5\r\ntoken\r\n$7\r\nWEIGHTS\r\n$5\r\nflags\r\n~2\r\n+optional\r\n+multiple\r\n%5\r\n$4\r\nname\r\n$9\r\naggregate\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\ntoken\r\n$9\r\nAGGREGATE\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*3\r\n%4\r\n$4\r\nname\r\n$3\r\nsum\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nsum\r\n$5\r\ntoken\r\n$3\r\nSUM\r\n%4\r\n$4\r\nname\r\n$3\r\nmin\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nmin\r\n$5\r\ntoken\r\n$3\r\nMIN\r\n%4\r\n$4\r\nname\r\n$3\r\nmax\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nmax\r\n$5\r\ntoken\r\n$3\r\nMAX\r\n"),
        (2, &["COMMAND", "DOCS", "config|get"], b"*2\r\n$10\r\nconfig|get\r\n*12\r\n$7\r\nsummary\r\n$57\r\nReturns the effective values of configuration parameters.\r\n$5\r\nsince\r\n$5\r\n2.0.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$10\r\ncomplexity\r\n$62\r\nO(N) when N is the number of configuration parameters provided\r\n$7\r\nhistory\r\n*1\r\n*2\r\n$5\r\n7.0.0\r\n$65\r\nAdded the ability to pass multiple pattern parameters in one call\r\n$9\r\narguments\r\n*1\r\n*8\r\n$4\r\nname\r\n$9\r\nparameter\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$9\r\nparameter\r\n$5\r\nflags\r\n*1\r\n+multiple\r\n"),
        (3, &["COMMAND", "DOCS", "config|get"], b"%1\r\n$10\r\nconfig|get\r\n%6\r\n$7\r\nsummary\r\n$57\r\nReturns the effective values of configuration parameters.\r\n$5\r\nsince\r\n$5\r\n2.0.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$10\r\ncomplexity\r\n$62\r\nO(N) when N is the number of configuration parameters provided\r\n$7\r\nhistory\r\n~1\r\n*2\r\n$5\r\n7.0.0\r\n$65\r\nAdded the ability to pass multiple pattern parameters in one call\r\n$9\r\narguments\r\n*1\r\n%4\r\n$4\r\nname\r\n$9\r\nparameter\r\n$4\r\ntype\r\n$6\r\nstring\r\n$12\r\ndisplay_text\r\n$9\r\nparameter\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n"),
        (2, &["COMMAND", "DOCS", "georadius"], b"*2\r\n$9\r\ngeoradius\r\n*18\r\n$7\r\nsummary\r\n$105\r\nQueries a geospatial index for members within a distance from a coordinate, optionally stores the result.\r\n$5\r\nsince\r\n$5\r\n3.2.0\r\n$5\r\ngroup\r\n$3\r\ngeo\r\n$10\r\ncomplexity\r\n$168\r\nO(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.\r\n$9\r\ndoc_flags\r\n*1\r\n+deprecated\r\n$16\r\ndeprecated_since\r\n$5\r\n6.2.0\r\n$11\r\nreplaced_by\r\n$61\r\n`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument\r\n$7\r\nhistory\r\n*2\r\n*2\r\n$5\r\n6.2.0\r\n$35\r\nAdded the `ANY` option for `COUNT`.\r\n*2\r\n$5\r\n7.0.0\r\n$39\r\nAdded support for uppercase unit names.\r\n$9\r\narguments\r\n*11\r\n*8\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n*6\r\n$4\r\nname\r\n$9\r\nlongitude\r\n$4\r\ntype\r\n$6\r\ndouble\r\n$12\r\ndisplay_text\r\n$9\r\nlongitude\r\n*6\r\n$4\r\nname\r\n$8\r\nlatitude\r\n$4\r\ntype\r\n$6\r\ndouble\r\n$12\r\ndisplay_text\r\n$8\r\nlatitude\r\n*6\r\n$4\r\nname\r\n$6\r\nradius\r\n$4\r\ntype\r\n$6\r\ndouble\r\n$12\r\ndisplay_text\r\n$6\r\nradius\r\n*6\r\n$4\r\nname\r\n$4\r\nunit\r\n$4\r\ntype\r\n$5\r\noneof\r\n$9\r\narguments\r\n*4\r\n*8\r\n$4\r\nname\r\n$1\r\nm\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$1\r\nm\r\n$5\r\ntoken\r\n$1\r\nM\r\n*8\r\n$4\r\nname\r\n$2\r\nkm\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nkm\r\n$5\r\ntoken\r\n$2\r\nKM\r\n*8\r\n$4\r\nname\r\n$2\r\nft\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nft\r\n$5\r\ntoken\r\n$2\r\nFT\r\n*8\r\n$4\r\nname\r\n$2\r\nmi\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nmi\r\n$5\r\ntoken\r\n$2\r\nMI\r\n*10\r\n$4\r\nname\r\n$9\r\nwithcoord\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$9\r\nwithcoord\r\n$5\r\ntoken\r\n$9\r\nWITHCOORD\r\n$5\r\nflags\r\n*1\r\n+optional\r\n*10\r\n$4\r\nname\r\n$8\r\nwithdist\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$8\r\nwithdist\r\n$5\r\ntoken\r\n$8\r\nWITHDIST\r\n$5\r\nflags\r\n*1\r\n+optional\r\n*10\r\n$4\r\nname\r\n$8\r\nwithhash\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$8\r\nwithhash\r\n$5\r\ntoken\r\n$8\r\nWITHHASH\r\n$5\r\nflags\r\n*1\r\n+optional\r\n*8\r\n$4\r\nname\r\n$11\r\ncount-block\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\nflags\r\n*1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n*8\r\n$4\r\nname\r\n$5\r\ncount\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$5\r\ncount\r\n$5\r\ntoken\r\n$5\r\nCOUNT\r\n*12\r\n$4\r\nname\r\n$3\r\nany\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nany\r\n$5\r\ntoken\r\n$3\r\nANY\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n$5\r\nflags\r\n*1\r\n+optional\r\n*8\r\n$4\r\nname\r\n$5\r\norder\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n*1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n*8\r\n$4\r\nname\r\n$3\r\nasc\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nasc\r\n$5\r\ntoken\r\n$3\r\nASC\r\n*8\r\n$4\r\nname\r\n$4\r\ndesc\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$4\r\ndesc\r\n$5\r\ntoken\r\n$4\r\nDESC\r\n*8\r\n$4\r\nname\r\n$5\r\nstore\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n*1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n*10\r\n$4\r\nname\r\n$8\r\nstorekey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:1\r\n$5\r\ntoken\r\n$5\r\nSTORE\r\n*10\r\n$4\r\nname\r\n$12\r\nstoredistkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:2\r\n$5\r\ntoken\r\n$9\r\nSTOREDIST\r\n"),
        (3, &["COMMAND", "DOCS", "georadius"], b"%1\r\n$9\r\ngeoradius\r\n%9\r\n$7\r\nsummary\r\n$105\r\nQueries a geospatial index for members within a distance from a coordinate, optionally stores the result.\r\n$5\r\nsince\r\n$5\r\n3.2.0\r\n$5\r\ngroup\r\n$3\r\ngeo\r\n$10\r\ncomplexity\r\n$168\r\nO(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.\r\n$9\r\ndoc_flags\r\n~1\r\n+deprecated\r\n$16\r\ndeprecated_since\r\n$5\r\n6.2.0\r\n$11\r\nreplaced_by\r\n$61\r\n`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument\r\n$7\r\nhistory\r\n~2\r\n*2\r\n$5\r\n6.2.0\r\n$35\r\nAdded the `ANY` option for `COUNT`.\r\n*2\r\n$5\r\n7.0.0\r\n$39\r\nAdded support for uppercase unit names.\r\n$9\r\narguments\r\n*11\r\n%4\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%3\r\n$4\r\nname\r\n$9\r\nlongitude\r\n$4\r\ntype\r\n$6\r\ndouble\r\n$12\r\ndisplay_text\r\n$9\r\nlongitude\r\n%3\r\n$4\r\nname\r\n$8\r\nlatitude\r\n$4\r\ntype\r\n$6\r\ndouble\r\n$12\r\ndisplay_text\r\n$8\r\nlatitude\r\n%3\r\n$4\r\nname\r\n$6\r\nradius\r\n$4\r\ntype\r\n$6\r\ndouble\r\n$12\r\ndisplay_text\r\n$6\r\nradius\r\n%3\r\n$4\r\nname\r\n$4\r\nunit\r\n$4\r\ntype\r\n$5\r\noneof\r\n$9\r\narguments\r\n*4\r\n%4\r\n$4\r\nname\r\n$1\r\nm\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$1\r\nm\r\n$5\r\ntoken\r\n$1\r\nM\r\n%4\r\n$4\r\nname\r\n$2\r\nkm\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nkm\r\n$5\r\ntoken\r\n$2\r\nKM\r\n%4\r\n$4\r\nname\r\n$2\r\nft\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nft\r\n$5\r\ntoken\r\n$2\r\nFT\r\n%4\r\n$4\r\nname\r\n$2\r\nmi\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$2\r\nmi\r\n$5\r\ntoken\r\n$2\r\nMI\r\n%5\r\n$4\r\nname\r\n$9\r\nwithcoord\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$9\r\nwithcoord\r\n$5\r\ntoken\r\n$9\r\nWITHCOORD\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%5\r\n$4\r\nname\r\n$8\r\nwithdist\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$8\r\nwithdist\r\n$5\r\ntoken\r\n$8\r\nWITHDIST\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%5\r\n$4\r\nname\r\n$8\r\nwithhash\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$8\r\nwithhash\r\n$5\r\ntoken\r\n$8\r\nWITHHASH\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%4\r\n$4\r\nname\r\n$11\r\ncount-block\r\n$4\r\ntype\r\n$5\r\nblock\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n%4\r\n$4\r\nname\r\n$5\r\ncount\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$12\r\ndisplay_text\r\n$5\r\ncount\r\n$5\r\ntoken\r\n$5\r\nCOUNT\r\n%6\r\n$4\r\nname\r\n$3\r\nany\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nany\r\n$5\r\ntoken\r\n$3\r\nANY\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%4\r\n$4\r\nname\r\n$5\r\norder\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n%4\r\n$4\r\nname\r\n$3\r\nasc\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$3\r\nasc\r\n$5\r\ntoken\r\n$3\r\nASC\r\n%4\r\n$4\r\nname\r\n$4\r\ndesc\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$12\r\ndisplay_text\r\n$4\r\ndesc\r\n$5\r\ntoken\r\n$4\r\nDESC\r\n%4\r\n$4\r\nname\r\n$5\r\nstore\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n%5\r\n$4\r\nname\r\n$8\r\nstorekey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:1\r\n$5\r\ntoken\r\n$5\r\nSTORE\r\n%5\r\n$4\r\nname\r\n$12\r\nstoredistkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$12\r\ndisplay_text\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:2\r\n$5\r\ntoken\r\n$9\r\nSTOREDIST\r\n"),
        (2, &["COMMAND", "GETKEYSANDFLAGS", "zunionstore", "d", "2", "a", "b"], b"*3\r\n*2\r\n$1\r\nd\r\n*2\r\n+OW\r\n+update\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n*2\r\n+RO\r\n+access\r\n"),
        (3, &["COMMAND", "GETKEYSANDFLAGS", "zunionstore", "d", "2", "a", "b"], b"*3\r\n*2\r\n$1\r\nd\r\n~2\r\n+OW\r\n+update\r\n*2\r\n$1\r\na\r\n~2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n~2\r\n+RO\r\n+access\r\n"),
        (2, &["COMMAND", "GETKEYSANDFLAGS", "zunionstore", "d", "2abc", "a", "b"], b"*3\r\n*2\r\n$1\r\na\r\n*0\r\n*2\r\n$1\r\nb\r\n*0\r\n*2\r\n$1\r\nd\r\n*0\r\n"),
        (3, &["COMMAND", "GETKEYSANDFLAGS", "zunionstore", "d", "2abc", "a", "b"], b"*3\r\n*2\r\n$1\r\na\r\n~0\r\n*2\r\n$1\r\nb\r\n~0\r\n*2\r\n$1\r\nd\r\n~0\r\n"),
        (2, &["COMMAND", "GETKEYSANDFLAGS", "sort", "k", "by", "x", "store", "d"], b"*2\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nd\r\n*2\r\n+OW\r\n+update\r\n"),
        (3, &["COMMAND", "GETKEYSANDFLAGS", "sort", "k", "by", "x", "store", "d"], b"*2\r\n*2\r\n$1\r\nk\r\n~2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nd\r\n~2\r\n+OW\r\n+update\r\n"),
        (2, &["COMMAND", "GETKEYS", "eval", "s", "0"], b"*0\r\n"),
        (3, &["COMMAND", "GETKEYS", "eval", "s", "0"], b"*0\r\n"),
    ];

    #[test]
    fn replies_match_real_redis() {
        for (proto, args, want) in FIXTURES {
            let got = run(*proto == 3, args, &all);
            assert_eq!(show(&got), show(want), "RESP{proto} {args:?}");
        }
    }

    #[test]
    fn help_and_errors() {
        let help = run(false, &["command", "help"], &all);
        assert!(help.starts_with(b"*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"));
        assert!(help.ends_with(b"+HELP\r\n+    Print this help.\r\n"));
        let cases: &[(&[&str], &str)] = &[
            (&["command", "foo"], "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n"),
            (&["command", "count", "x"], "-ERR wrong number of arguments for 'command|count' command\r\n"),
            (&["command", "getkeys"], "-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
            (&["command", "list", "filterby", "pattern"], "-ERR syntax error\r\n"),
            (&["command", "list", "filterby", "x", "y"], "-ERR syntax error\r\n"),
            (&["command", "getkeys", "nosuch"], "-ERR Invalid command specified\r\n"),
            (&["command", "getkeys", "nosuch", "x"], "-ERR Invalid command specified\r\n"),
            (&["command", "getkeys", "config", "nosuch"], "-ERR Invalid command specified\r\n"),
            (&["command", "getkeys", "config", "get", "x"], "-ERR The command has no key arguments\r\n"),
            (&["command", "getkeys", "get", "a", "b"], "-ERR Invalid number of arguments specified for command\r\n"),
            (&["command", "getkeys", "lmpop", "0", "a"], "-ERR Invalid number of arguments specified for command\r\n"),
            (&["command", "getkeys", "zunionstore", "d", "0", "a"], "-ERR Invalid arguments specified for command\r\n"),
            (
                &["command", "getkeys", "xread", "count", "1", "streams"],
                "-ERR Invalid arguments specified for command\r\n",
            ),
            (&["command", "getkeys", "eval", "s", "0"], "*0\r\n"),
            (&["command", "getkeys", "mset", "a", "1", "b"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ];
        for (args, want) in cases {
            assert_eq!(show(&run(false, args, &all)), show(want.as_bytes()), "{args:?}");
        }
    }

    #[test]
    fn only_implemented_commands_are_visible() {
        let imp =
            |c: &CommandDef| matches!(c.name, "get" | "set" | "config" | "config|get" | "command" | "command|info");
        assert_eq!(run(false, &["command", "count"], &imp), b":4\r\n");
        assert_eq!(
            show(&run(false, &["command", "list"], &imp)),
            show(b"*6\r\n$7\r\ncommand\r\n$12\r\ncommand|info\r\n$6\r\nconfig\r\n$10\r\nconfig|get\r\n$3\r\nget\r\n$3\r\nset\r\n")
        );
        assert_eq!(
            show(&run(false, &["command", "list", "filterby", "pattern", "CONF*"], &imp)),
            show(b"*2\r\n$6\r\nconfig\r\n$10\r\nconfig|get\r\n")
        );
        assert_eq!(
            show(&run(true, &["command", "list", "filterby", "aclcat", "string"], &imp)),
            show(b"*2\r\n$3\r\nget\r\n$3\r\nset\r\n")
        );
        assert_eq!(run(false, &["command", "list", "filterby", "aclcat", "nosuch"], &imp), b"*0\r\n");
        assert_eq!(run(false, &["command", "list", "filterby", "module", "x"], &imp), b"*0\r\n");
        // Unknown or unimplemented names: nil in INFO, skipped in DOCS.
        assert_eq!(run(false, &["command", "info", "hget", "config|set"], &imp), b"*2\r\n$-1\r\n$-1\r\n");
        assert_eq!(run(true, &["command", "info", "hget"], &imp), b"*1\r\n_\r\n");
        assert_eq!(run(true, &["command", "docs", "hget", "nosuch"], &imp), b"%0\r\n");
        assert_eq!(run(false, &["command", "getkeys", "hget", "h", "f"], &imp), b"-ERR Invalid command specified\r\n");
        // The container lists only its implemented subcommands.
        let info = run(false, &["command", "info", "config"], &imp);
        assert!(show(&info).contains("*1\\r\\n*10\\r\\n$10\\r\\nconfig|get\\r\\n:-3\\r\\n"));
        assert!(!show(&info).contains("config|set"));
        let all_info = run(true, &["command"], &imp);
        assert!(all_info.starts_with(b"*4\r\n*10\r\n$7\r\ncommand\r\n"));
        let docs = run(true, &["command", "docs"], &imp);
        assert!(docs.starts_with(b"%4\r\n$7\r\ncommand\r\n"));
    }

    #[test]
    fn hand_written_72_commands() {
        let info = show(&run(
            false,
            &["command", "info", "waitaof", "client|setinfo", "client|no-touch", "cluster|myshardid"],
            &all,
        ));
        assert!(!info.contains("$-1"), "{info}");
        assert!(info.contains("$7\\r\\nwaitaof\\r\\n:4\\r\\n"));
        assert!(info.contains("$14\\r\\nclient|setinfo\\r\\n:4\\r\\n"));
        assert!(info.contains("$15\\r\\nclient|no-touch\\r\\n:3\\r\\n"));
        let zrank = show(&run(false, &["command", "info", "zrank"], &all));
        assert!(zrank.contains("$5\\r\\nzrank\\r\\n:-3\\r\\n"));
        let docs = show(&run(false, &["command", "docs", "zrank"], &all));
        assert!(docs.contains("WITHSCORE"));
    }
}
