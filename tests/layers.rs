//! The representation layer (`src/data/`) imports none of the layers above it
//! (docs/ARCHITECTURE.md, "Layers"): RDB, DUMP, AOF rewrite and replication must be able to
//! read and write every value without the command layer. A `crate::` path in a file under
//! src/data/ may only name `data` or `util`, and `super::` may not climb out of src/data/.

use std::path::{Path, PathBuf};

const ALLOWED: [&str; 2] = ["data", "util"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The crate-root modules a `crate::` path at the start of `rest` names: one identifier, or
/// the top-level identifiers of a `{...}` group.
fn roots(rest: &str) -> Vec<String> {
    let rest = rest.trim_start();
    if let Some(group) = rest.strip_prefix('{') {
        let (mut depth, mut names, mut cur, mut at_top_item) = (0, Vec::new(), String::new(), true);
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => at_top_item = true,
                c if depth == 0 && at_top_item && (c.is_alphanumeric() || c == '_') => cur.push(c),
                _ if depth == 0 && !cur.is_empty() => {
                    names.push(std::mem::take(&mut cur));
                    at_top_item = false;
                }
                _ => {}
            }
        }
        if !cur.is_empty() {
            names.push(cur);
        }
        names
    } else {
        vec![rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()]
    }
}

/// Violations of the rule in one file's text; `depth` is how many modules below `data` the
/// file's module is (data/x.rs: 1, data/zset/mod.rs: 1, data/zset/tree.rs: 2).
fn violations(text: &str, depth: usize) -> Vec<String> {
    // `crate :: x` is a path too: drop the whitespace around every `::`.
    let text = &text.split("::").map(str::trim).collect::<Vec<_>>().join("::");
    let mut bad = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        if at > 0 && text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `foocrate::`, not a path from the crate root
        }
        for root in roots(&text[at + "crate::".len()..]) {
            if !ALLOWED.contains(&root.as_str()) {
                bad.push(format!("crate::{root}"));
            }
        }
    }
    // An inline module (`mod tests { use super::*; }`) may climb one level more.
    let allowed_supers = depth + usize::from(text.contains("mod tests {"));
    let mut i = 0;
    while let Some(pos) = text[i..].find("super::") {
        let start = i + pos;
        let mut n = 0;
        let mut j = start;
        while text[j..].starts_with("super::") {
            n += 1;
            j += "super::".len();
        }
        if n > allowed_supers {
            bad.push("super::".repeat(n));
        }
        i = j;
    }
    bad
}

#[test]
fn data_imports_no_layer_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/data");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() >= 7, "src/data/ holds the representations: found {files:?}");
    let mut problems = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let comps = rel.components().count();
        let depth = if rel.file_name().is_some_and(|n| n == "mod.rs") { comps - 1 } else { comps };
        for v in violations(&std::fs::read_to_string(f).unwrap(), depth) {
            problems.push(format!("{}: {v}", rel.display()));
        }
    }
    assert!(problems.is_empty(), "src/data/ must not reach the layers above it: {problems:#?}");
}

#[test]
fn the_check_sees_every_form_of_path() {
    for forbidden in [
        "use crate::keyspace::key_hash;",
        "use crate::{util::glob, command::Error};",
        "let e = crate::resp::write::ReplyWriter::new();",
        "use crate::server;",
        "fn f() -> crate::types::hash::Hash { todo!() }",
        "use crate::net::log;",
        "use crate :: { types };",
    ] {
        assert!(!violations(forbidden, 1).is_empty(), "{forbidden}");
    }
    assert_eq!(violations("use super::super::command::Error;", 1), ["super::super::"]);
    for fine in [
        "use crate::util::number::parse_i64;",
        "use crate::data::bytes::CompactBytes;",
        "use crate::{data::dict::Dict, util::glob};",
        "use super::dict::{key_hash, Dict};",
        "use super::super::bytes::CompactBytes;",
    ] {
        let depth = if fine.contains("super::super") { 2 } else { 1 };
        assert!(violations(fine, depth).is_empty(), "{fine}");
    }
}
