//! AOF command streams from arbitrary bytes: `persist::aof::next_command`, the reader the
//! loader runs over every base (.aof) and incr file. Each call either moves forward and
//! gives a non-empty command inside the input, or stops (a clean end, a torn tail at an
//! offset inside the input, a format error): the loader can neither loop nor read past
//! the file. A stream the reader accepts whole re-encodes (`put_command`) to commands the
//! reader gives back identically.
#![no_main]

use cinnabar::persist::aof::{next_command, put_command, Stop};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pos = 0;
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    loop {
        let before = pos;
        match next_command(data, &mut pos) {
            Ok(Some(argv)) => {
                assert!(pos > before && pos <= data.len(), "the reader did not move forward");
                assert!(!argv.is_empty(), "an empty command");
                commands.push(argv.iter().map(|a| a.to_vec()).collect());
            }
            Ok(None) => break,
            Err(Stop::Truncated(at)) => {
                assert!(at <= data.len(), "a torn tail past the end");
                return;
            }
            Err(_) => return,
        }
    }
    let mut again = Vec::new();
    for c in &commands {
        put_command(&mut again, c);
    }
    let mut pos = 0;
    for c in &commands {
        let got = next_command(&again, &mut pos).ok().flatten().expect("a re-encoded command reads back");
        assert_eq!(got.iter().map(|a| a.to_vec()).collect::<Vec<_>>(), *c);
    }
    assert_eq!(next_command(&again, &mut pos).ok(), Some(None));
});
