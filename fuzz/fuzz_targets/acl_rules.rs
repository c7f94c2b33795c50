//! The ACL rule parser (`server::acl::rules`) on arbitrary rules: ACL SETUSER's path
//! (`User::with_rules`: selector arguments merged, all or nothing) and then the checks of a
//! few commands against the user. Input: rules separated by 0xff bytes; a byte 0xfe starts
//! the part that is used as a command's arguments (split at spaces) for the checks. Besides
//! "no panic": a user's description (ACL LIST / ACL SAVE) is stable, and when its patterns
//! and rules hold nothing the ACL file syntax treats specially (spaces, parentheses,
//! quotes, backslashes), loading the description as ACL LOAD would gives the same user
//! description back; an unrestricted user passes every check.
#![no_main]

use cinnabar::command::spec;
use cinnabar::server::acl::rules::{merge_selectors, User};
use libfuzzer_sys::fuzz_target;

fn plain(s: &[u8]) -> bool {
    !s.iter().any(|c| matches!(c, b'(' | b')' | b'"' | b'\'' | b'\\' | b' ' | b'\t' | b'\r' | b'\n' | 0))
}

fuzz_target!(|data: &[u8]| {
    let (rules_part, cmd_part) = match data.iter().position(|&b| b == 0xfe) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"get key:1"[..]),
    };
    let rules: Vec<&[u8]> = rules_part.split(|&b| b == 0xff).collect();
    let base = User::new(b"fuzz", rules_part.first().is_some_and(|b| b & 1 == 1));
    let Ok(user) = base.with_rules(&rules, false) else { return };
    let text = user.describe();
    assert_eq!(text, user.clone().describe(), "description not stable");
    // Rules whose text the ACL file syntax cannot carry back (a pattern or first argument
    // with a space, a parenthesis or quote inside a selector...) make a file Redis cannot
    // load either: the round trip is only checked without them.
    let all_plain = merge_selectors(&rules).unwrap_or_default().iter().all(|op| match op.first() {
        Some(b'(') if op.last() == Some(&b')') => {
            plain(&op[1..op.len() - 1].iter().map(|&c| if c == b' ' { b'x' } else { c }).collect::<Vec<u8>>())
        }
        _ => plain(op),
    });
    if all_plain && !text.is_empty() {
        // As ACL LOAD reads a line: words at single spaces, selectors merged, applied in
        // order to a new user.
        let words: Vec<&[u8]> = text.split(|&b| b == b' ').collect();
        let merged = merge_selectors(&words).expect("a description closes its selectors");
        let mut again = User::new(b"fuzz", false);
        for op in &merged {
            again.apply(op, false).unwrap_or_else(|e| {
                panic!("{:?} of {:?}: {e:?}", String::from_utf8_lossy(op), String::from_utf8_lossy(&text))
            });
        }
        assert_eq!(again.describe(), text, "reloaded description differs");
    }
    let args: Vec<&[u8]> = cmd_part.split(|&b| b == b' ').filter(|a| !a.is_empty()).collect();
    for def in [spec::lookup_argv(&args), spec::lookup(b"get"), spec::lookup(b"publish"), spec::lookup(b"psubscribe")]
        .into_iter()
        .flatten()
    {
        let argv: Vec<&[u8]> = std::iter::once(def.name.as_bytes()).chain(args.iter().skip(1).copied()).collect();
        let verdict = user.check(def, &argv);
        if user.unrestricted() {
            assert!(verdict.is_none());
        }
        if let Some((_, pos)) = verdict {
            assert!(pos < argv.len().max(1));
        }
        let _ = user.reads_all_keys(def, &argv);
    }
});
