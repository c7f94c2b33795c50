//! The server log, in Redis's line format: "pid:role dd Mon yyyy hh:mm:ss.mmm marker message",
//! the marker giving the level (". - * #" for debug, verbose, notice, warning). A line is
//! written when `loglevel` lets its level through, to standard error, which start-up points
//! at `logfile` when one is set (`crate::main_with_args`), so a line is one write whatever
//! thread logs it.
//!
//! Lines about a received signal have the form Redis's signal handler writes
//! ("pid:signal-handler (unix seconds) message"): Redis cannot format a date inside a
//! handler, and tools that read its logs expect those lines as they are.

use crate::server::Server;

/// Redis's log levels, as `log_at` takes them.
pub const DEBUG: usize = 0;
pub const VERBOSE: usize = 1;
pub const NOTICE: usize = 2;
pub const WARNING: usize = 3;

/// A line at notice level (suppressed when `loglevel` is warning or nothing).
pub fn log(srv: &Server, msg: &str) {
    log_at(srv, NOTICE, msg);
}

/// Whether `loglevel` lets a line at `level` through.
fn enabled(srv: &Server, level: usize) -> bool {
    level_enabled(srv.config.read().str("loglevel"), level)
}

fn level_enabled(loglevel: &str, level: usize) -> bool {
    let threshold = match loglevel {
        "debug" => DEBUG,
        "verbose" => VERBOSE,
        "notice" => NOTICE,
        "warning" => WARNING,
        _ => WARNING + 1,
    };
    level >= threshold && level <= WARNING
}

/// A line at Redis's level `level` (0 debug, 1 verbose, 2 notice, 3 warning), written
/// when `loglevel` lets it through, with that level's marker (". - * #").
pub fn log_at(srv: &Server, level: usize, msg: &str) {
    if !enabled(srv, level) {
        return;
    }
    write_line('M', level, msg);
}

/// A line written before the server exists (start-up, config errors): Redis marks those
/// with the role `C`, as its pid is not yet the server's. `loglevel` None: unconditional.
pub fn log_startup(loglevel: Option<&str>, level: usize, msg: &str) {
    if loglevel.is_none_or(|l| level_enabled(l, level)) {
        write_line('C', level, msg);
    }
}

fn write_line(role: char, level: usize, msg: &str) {
    let marker = [".", "-", "*", "#"][level];
    let now = crate::keyspace::now_ms();
    let (secs, ms) = (now / 1000, now % 1000);
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let (y, mo, d) = civil_from_days(secs / 86400);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS[((mo - 1) as usize).min(11)];
    // One write per line (stderr is unbuffered: eprintln! writes each piece on its own),
    // so lines of several threads never interleave.
    let line =
        format!("{}:{role} {d:02} {month} {y} {h:02}:{m:02}:{s:02}.{ms:03} {marker} {msg}\n", std::process::id());
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
}

/// A warning about a received signal, in the form of Redis's serverLogFromHandler.
pub fn log_signal(srv: &Server, msg: &str) {
    if !enabled(srv, WARNING) {
        return;
    }
    eprintln!("{}:signal-handler ({}) {msg}", std::process::id(), crate::keyspace::now_ms() / 1000);
}

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_415), (2025, 11, 23));
        assert_eq!(super::civil_from_days(11_016), (2000, 2, 29));
    }
}
