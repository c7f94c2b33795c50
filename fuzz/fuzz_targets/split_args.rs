//! `split_args` (inline commands, sdssplitargs) on arbitrary bytes: it must terminate,
//! produce no more bytes than it was given, and re-splitting its output, re-quoted with
//! "\xHH" escapes, must give the same arguments back.
#![no_main]

use cinnabar::resp::parse::split_args;
use libfuzzer_sys::fuzz_target;

fn requote(args: &[Vec<u8>]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        line.push(b'"');
        for &b in a {
            line.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
        line.push(b'"');
    }
    line
}

fuzz_target!(|data: &[u8]| {
    let Some(args) = split_args(data) else { return };
    let total: usize = args.iter().map(|a| a.len()).sum();
    assert!(total <= data.len(), "output {total} bytes from {} input bytes", data.len());
    assert!(args.len() <= data.len(), "{} args from {} bytes", args.len(), data.len());
    let again = split_args(&requote(&args)).expect("re-quoted line must split");
    assert_eq!(again, args, "re-quoted arguments differ");
});
