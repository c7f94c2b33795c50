//! The config file as start-up reads it (`server::config::load_text`, the text main.rs
//! builds from the file and the command line), then CONFIG SET and CONFIG REWRITE on what
//! loaded. The input: the config text up to the first 0xff byte, then CONFIG SET records
//! separated by 0xff (byte 0 picks the parameter in `DEFS`, the rest is the value).
//!
//! Lines that would touch the process or the file system (`dir`, which changes the working
//! directory, `include`, which reads a file, `logfile`, which creates one) are blanked
//! before loading (line numbers kept).
//!
//! Checks besides "no panic":
//! - a refused text names a line of the text, quoted as it is there (trimmed);
//! - CONFIG SET of a value leaves the configuration as it was when refused (CONFIG SET
//!   works on a copy, the target too) and, when taken, CONFIG GET's value of every mutable
//!   parameter set back with CONFIG SET is taken and changes nothing CONFIG GET shows;
//! - CONFIG REWRITE's text (over the loaded text, as over the file) loads, with the same
//!   CONFIG GET values, rename-command lines and module lines; rewriting it again settles
//!   within a few rounds (as Redis's does) on a text with the same values.
//!
//! Redis writes some values it cannot read back, and cinnabar does as Redis does
//! (`excused`): memory sizes above LLONG_MAX (printed with %lld, negative), save changes
//! over INT_MAX (kept as a C int, negative), bind and replicaof values written unquoted
//! (an address with a space, a quote or an empty one), and bind addresses with spaces in
//! them, which CONFIG SET splits into more; a line break in such a value writes lines of
//! its own, so the rewrite is not checked then. The checks allow exactly these, and two
//! differences between a loaded value and CONFIG SET's: repl-backlog-size under 16kb,
//! raised by CONFIG SET only, and TLS settings CONFIG SET refuses once a file turned TLS
//! on.
#![no_main]

use cinnabar::resp::parse::split_args;
use cinnabar::server::config::{find_def, load_text, rewrite_text, Config, Kind, DEFS};
use libfuzzer_sys::fuzz_target;

fn trim(line: &str) -> &str {
    line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

fn first_word(line: &str) -> Option<String> {
    let words = split_args(trim(line).as_bytes())?;
    words.first().map(|w| String::from_utf8_lossy(w).to_ascii_lowercase())
}

/// The text with `dir`, `include` and `logfile` lines blanked.
fn harmless(text: &str) -> String {
    text.split('\n')
        .map(|line| match first_word(line).as_deref() {
            Some("dir" | "include" | "logfile") => "",
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A value written unquoted that does not read back as the same words.
fn unquoted_differs(v: &str) -> bool {
    let words: Vec<Vec<u8>> = v.split(' ').map(|w| w.as_bytes().to_vec()).collect();
    split_args(v.as_bytes()) != Some(words)
}

/// Redis writes this parameter's value in a form it cannot read back (see the top).
fn excused(cfg: &Config, name: &str) -> bool {
    if name == "user" {
        // Redis writes a user's rules unquoted: a quote or backslash in a pattern reads back
        // as quoting (its rewritten file fails to load too).
        return users_need_quoting(cfg);
    }
    let Some(d) = find_def(name) else { return false };
    match d.kind {
        Kind::Memory { .. } | Kind::UMemory { .. } => cfg.int(d.name) < 0,
        Kind::ClientOutputBufferLimit => {
            let w: Vec<&str> = cfg.str(d.name).split(' ').collect();
            w.chunks(4).any(|c| c.len() == 4 && c[1..3].iter().any(|n| n.parse::<u64>().unwrap_or(0) > i64::MAX as u64))
        }
        Kind::Save => cfg.str(d.name).split(' ').skip(1).step_by(2).any(|c| c.starts_with('-')),
        Kind::Bind | Kind::ReplicaOf => {
            let v = cfg.str(d.name);
            !v.is_empty() && unquoted_differs(v)
        }
        _ => false,
    }
}

/// The `user` lines CONFIG REWRITE writes for the users the file's lines define (as the
/// server describes them once it has applied them).
fn user_lines(cfg: &Config) -> Vec<Vec<u8>> {
    let Ok(users) = cinnabar::server::acl::users_from_lines(&cfg.users, false) else { return Vec::new() };
    users.values().map(|u| [&b"user "[..], &u.name, b" ", &u.describe()].concat()).collect()
}

fn users_need_quoting(cfg: &Config) -> bool {
    user_lines(cfg).iter().any(|l| l.iter().any(|c| matches!(c, b'"' | b'\'' | b'\\')))
}

fn renders(cfg: &Config) -> Vec<(&'static str, String)> {
    DEFS.iter().filter(|d| d.kind != Kind::Dir).map(|d| (d.name, cfg.render(d.name))).collect()
}

/// A load error names a line of `text` and quotes it trimmed.
fn check_error_names_line(text: &str, err: &str) {
    let head = format!("\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n", cinnabar::REDIS_VERSION);
    let Some(rest) = err.strip_prefix(&head) else { panic!("an error of an unknown form: {err:?}") };
    let Some(rest) = rest.strip_prefix("Reading the configuration file, at line ") else {
        // Errors about no particular line: the default user's password (no file is opened).
        assert!(rest.starts_with("Error in user declaration 'default'"), "an error naming no line: {err:?}");
        return;
    };
    let n: usize = rest[..rest.find('\n').expect("a line number")].parse().expect("a line number");
    let line = text.split('\n').nth(n.checked_sub(1).expect("line 0")).expect("a line past the end");
    assert!(
        rest.starts_with(&format!("{n}\n>>> '{}'\n", trim(line))),
        "the error does not quote line {n}: {err:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xff);
    let text = harmless(&String::from_utf8_lossy(parts.next().unwrap_or_default()));
    let mut cfg = Config::new();
    if let Err(e) = load_text(&mut cfg, &text) {
        check_error_names_line(&text, &e);
        return;
    }

    // CONFIG SET, one parameter at a time, on a copy.
    for rec in parts {
        let Some((&pick, value)) = rec.split_first() else { continue };
        let d = &DEFS[pick as usize % DEFS.len()];
        if d.kind == Kind::Dir || !d.mutable() {
            continue;
        }
        let mut trial = cfg.clone();
        if trial.set_value(d, &String::from_utf8_lossy(value)).is_ok() {
            cfg = trial;
        }
    }

    // CONFIG GET's values set back with CONFIG SET.
    let before = renders(&cfg);
    let mut back = cfg.clone();
    for d in DEFS.iter().filter(|d| d.kind != Kind::Dir && d.mutable()) {
        let v = cfg.render(d.name);
        if let Err(e) = back.set_value(d, &v) {
            assert!(
                (d.kind == Kind::Bind && v.split(' ').count() > 16)
                    || (d.kind == Kind::Save && excused(&cfg, d.name))
                    || e.starts_with("Unable to update TLS configuration"),
                "CONFIG SET {} of its CONFIG GET value {v:?}: {e}",
                d.name
            );
        }
    }
    for ((name, a), (_, b)) in before.iter().zip(renders(&back)) {
        // repl-backlog-size: a file's value is kept, CONFIG SET's is raised to 16kb (Redis's
        // resizeReplicationBacklog, which start-up does not run).
        let raised = *name == "repl-backlog-size" && cfg.int(name) < 16384 && b == "16384";
        assert!(*a == b || raised, "CONFIG SET {name} {a:?} shows {b:?}");
    }

    // CONFIG REWRITE over the loaded text, then start-up from the new text. A line break
    // in a value written unquoted makes lines of its own there (Redis's too): the rest of
    // the file is then anyone's guess, and not checked.
    if ["bind", "replicaof"].iter().any(|n| cfg.str(n).contains('\n')) {
        return;
    }
    let new = rewrite_text(&cfg, &text, &user_lines(&cfg));
    let mut again = Config::new();
    if let Err(e) = load_text(&mut again, &harmless(&new)) {
        let line = e.split(">>> '").nth(1).and_then(|r| r.split("'\n").next()).unwrap_or_default();
        // The directive, also of a line whose quotes an unquoted value left unbalanced.
        let name = first_word(line)
            .or_else(|| line.split_whitespace().next().map(|w| w.to_ascii_lowercase()))
            .unwrap_or_default();
        assert!(excused(&cfg, &name), "the rewritten file does not load: {e}\n--- rewritten:\n{new}");
        return;
    }
    let mut same = true;
    for ((name, a), (_, b)) in before.iter().zip(renders(&again)) {
        if *a != b {
            assert!(excused(&cfg, name), "{name} {a:?} reads back as {b:?} from the rewritten file:\n{new}");
            same = false;
        }
    }
    assert_eq!(again.renames, cfg.renames, "rename-command lines after the rewrite");
    // (With an aclfile the users live there: CONFIG REWRITE drops the lines, as Redis's.)
    if cfg.str("aclfile").is_empty() && !users_need_quoting(&cfg) {
        assert_eq!(user_lines(&again), user_lines(&cfg), "users after the rewrite");
    }
    assert_eq!(again.module_configs, cfg.module_configs, "module lines after the rewrite");
    if same {
        // Rewriting again converges: one trailing empty line is added (Redis reads the
        // empty string after the last newline as a line too), and each client class of
        // client-output-buffer-limit takes the next old line of the option, forced or not,
        // as in Redis, so a class written alone moves one line per rewrite.
        let mut text = new.clone();
        let mut rounds = 0;
        loop {
            let next = rewrite_text(&again, &text, &user_lines(&again));
            if next == text {
                break;
            }
            rounds += 1;
            assert!(rounds <= 4, "CONFIG REWRITE does not settle:\n--- first:\n{new}--- now:\n{next}");
            text = next;
        }
        let mut settled = Config::new();
        load_text(&mut settled, &harmless(&text)).expect("the settled text loads");
        assert!(renders(&settled) == before, "the settled text loads other values:\n{text}");
    }
});
