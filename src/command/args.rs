//! Argument parsing shared by every handler: integers, floats, flags, and the option
//! families several commands take (EX/PX/EXAT/PXAT/KEEPTTL/PERSIST, NX/XX/GT/LT).
//! One place, so every command parses and rejects them with the same Redis texts.

use super::{err, Error};
use crate::util::number::{parse_f64, parse_i64};

pub fn eq(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

pub fn int(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or(err::NOT_INT)
}

pub fn float(arg: &[u8]) -> Result<f64, Error> {
    parse_f64(arg).ok_or(err::NOT_FLOAT)
}

/// A database index argument (SELECT, MOVE, COPY DB, SWAPDB).
pub fn db_index(arg: &[u8], databases: usize, invalid: Error) -> Result<usize, Error> {
    let n = parse_i64(arg).ok_or(invalid)?;
    if n < 0 || n >= databases as i64 {
        return Err(err::DB_INDEX);
    }
    Ok(n as usize)
}

/// The time options shared by SET, GETEX (and SETEX/PSETEX through them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// EX: seconds from now.
    Ex,
    /// PX: milliseconds from now.
    Px,
    /// EXAT: unix seconds.
    ExAt,
    /// PXAT: unix milliseconds.
    PxAt,
}

/// Expiry options as SET / GETEX spell them; values are validated later, after the
/// whole option list parsed, as Redis does (syntax errors win over bad numbers).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExpiryOpts<'a> {
    pub time: Option<(TimeUnit, &'a [u8])>,
    pub keepttl: bool,
    pub persist: bool,
}

impl<'a> ExpiryOpts<'a> {
    /// Try to take `args[*i]` (and its value) as an expiry option. The same option may be
    /// repeated (the last value wins); mixing different ones is a syntax error.
    /// Returns false when `args[*i]` is not an expiry option at all or does not fit.
    pub fn take(&mut self, args: &[&'a [u8]], i: &mut usize, for_set: bool) -> bool {
        let a = args[*i];
        let unit = if eq(a, "ex") {
            TimeUnit::Ex
        } else if eq(a, "px") {
            TimeUnit::Px
        } else if eq(a, "exat") {
            TimeUnit::ExAt
        } else if eq(a, "pxat") {
            TimeUnit::PxAt
        } else if for_set && eq(a, "keepttl") {
            if self.time.is_some() || self.persist {
                return false;
            }
            self.keepttl = true;
            return true;
        } else if !for_set && eq(a, "persist") {
            if self.time.is_some() || self.keepttl {
                return false;
            }
            self.persist = true;
            return true;
        } else {
            return false;
        };
        if self.keepttl || self.persist || self.time.is_some_and(|(u, _)| u != unit) || *i + 1 >= args.len() {
            return false;
        }
        self.time = Some((unit, args[*i + 1]));
        *i += 1;
        true
    }
}

/// Resolve a time option to absolute unix milliseconds, with Redis's checks and texts
/// ("invalid expire time in '<cmd>' command" for values <= 0 or that overflow).
pub fn expire_at_ms(unit: TimeUnit, raw: &[u8], now_ms: i64, cmd: &str) -> Result<i64, Error> {
    let v = int(raw)?;
    let invalid = || Error::msg(format!("ERR invalid expire time in '{cmd}' command"));
    let seconds = matches!(unit, TimeUnit::Ex | TimeUnit::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { v * 1000 } else { v };
    let abs = match unit {
        TimeUnit::Ex | TimeUnit::Px => ms.wrapping_add(now_ms),
        TimeUnit::ExAt | TimeUnit::PxAt => ms,
    };
    if abs <= 0 {
        return Err(invalid());
    }
    Ok(abs)
}

/// NX / XX / GT / LT of the EXPIRE family.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExpireCond {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

pub fn parse_expire_cond(args: &[&[u8]]) -> Result<ExpireCond, Error> {
    let mut c = ExpireCond::default();
    for a in args {
        if eq(a, "nx") {
            c.nx = true;
        } else if eq(a, "xx") {
            c.xx = true;
        } else if eq(a, "gt") {
            c.gt = true;
        } else if eq(a, "lt") {
            c.lt = true;
        } else {
            return Err(Error::msg(format!("ERR Unsupported option {}", String::from_utf8_lossy(a))));
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(Error::msg("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if c.gt && c.lt {
        return Err(Error::msg("ERR GT and LT options at the same time are not compatible"));
    }
    Ok(c)
}

/// SCAN / HSCAN / SSCAN / ZSCAN options after the cursor: MATCH pattern, COUNT n, and
/// (SCAN only, `allow_type`) TYPE name. A lone "*" pattern means no pattern.
pub struct ScanOpts<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub type_name: Option<&'a [u8]>,
}

pub fn parse_scan_opts<'a>(args: &[&'a [u8]], allow_type: bool) -> Result<ScanOpts<'a>, Error> {
    let mut o = ScanOpts { pattern: None, count: 10, type_name: None };
    let mut i = 0;
    while i < args.len() {
        let more = args.len() - i - 1;
        if eq(args[i], "count") && more >= 1 {
            let c = int(args[i + 1])?;
            if c < 1 {
                return Err(err::SYNTAX);
            }
            o.count = c.min(i64::from(u32::MAX)) as usize;
            i += 2;
        } else if eq(args[i], "match") && more >= 1 {
            o.pattern = if args[i + 1] == b"*" { None } else { Some(args[i + 1]) };
            i += 2;
        } else if allow_type && eq(args[i], "type") && more >= 1 {
            o.type_name = Some(args[i + 1]);
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    Ok(o)
}

/// The optional ASYNC | SYNC of FLUSHALL, FLUSHDB, SCRIPT FLUSH and FUNCTION FLUSH: whether
/// to free lazily (no argument: lazyfree-lazy-user-flush). None if the arguments are
/// anything else; each command answers that with its own error.
pub fn flush_mode(srv: &crate::server::Server, args: &[&[u8]]) -> Option<bool> {
    match args {
        [] => Some(srv.config.read().bool("lazyfree-lazy-user-flush")),
        [m] if eq(m, "async") => Some(true),
        [m] if eq(m, "sync") => Some(false),
        _ => None,
    }
}

/// A count Redis reads with getRangeLongFromObjectOrReply(1, LONG_MAX, msg): `msg` for
/// anything but an integer of at least 1.
fn at_least_one(arg: &[u8], msg: &'static str) -> Result<i64, Error> {
    match parse_i64(arg) {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(Error::msg(msg)),
    }
}

/// The arguments of LMPOP/BLMPOP and ZMPOP/BZMPOP.
#[derive(Debug)]
pub struct Mpop<'a, S> {
    pub keys: &'a [&'a [u8]],
    /// LEFT | RIGHT, or MIN | MAX.
    pub side: S,
    /// COUNT, 1 when absent.
    pub count: usize,
}

/// `numkeys key [key ...] <side> [COUNT count]` from `args[numkeys_at]` on, in the order
/// and with the texts of Redis's lmpopGenericCommand and zmpopGenericCommand (the same
/// parse): numkeys, then the side word at numkeys_at + numkeys + 1 (a syntax error if that
/// is past the end, or if `side` does not know the word), then COUNT at most once.
pub fn parse_mpop<'a, S>(
    args: &'a [&'a [u8]],
    numkeys_at: usize,
    side: impl Fn(&[u8]) -> Option<S>,
) -> Result<Mpop<'a, S>, Error> {
    let numkeys = at_least_one(args.get(numkeys_at).copied().unwrap_or(b""), "ERR numkeys should be greater than 0")?;
    let first = numkeys_at + 1;
    let side_at = match usize::try_from(numkeys).ok().and_then(|n| first.checked_add(n)) {
        Some(w) if w < args.len() => w,
        _ => return Err(err::SYNTAX),
    };
    let side = side(args[side_at]).ok_or(err::SYNTAX)?;
    let mut count = None;
    let mut j = side_at + 1;
    while j < args.len() {
        if count.is_none() && eq(args[j], "count") && j + 1 < args.len() {
            count = Some(at_least_one(args[j + 1], "ERR count should be greater than 0")?);
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    Ok(Mpop { keys: &args[first..side_at], side, count })
}
