//! Number parsing and formatting with Redis's exact rules.
//!
//! Why it is built this way: replies and stored values must be byte-identical
//! to Redis 7.2, and Redis's number syntax is defined by its C helpers:
//!
//! * [`parse_i64`] follows `string2ll`: pure Rust, strict (no '+', no leading
//!   zeros, no spaces, "-0" rejected, at most 20 bytes, overflow rejected).
//! * [`parse_f64`] follows `string2d`/`getDoubleFromObject`: the accepted
//!   syntax is "whatever C strtod accepts" (hex floats, "inf", "infinity",
//!   ".5", "1e5"), so we call libc strtod (in csrc/longdouble.c) on a
//!   NUL-terminated copy and add Redis's rejections (empty, leading space,
//!   trailing bytes, NaN, overflow, underflow to zero).
//! * [`fmt_f64`] is Redis 7.2's `d2string` used by `addReplyDouble` (RESP2 bulk
//!   and RESP3 double payload), ZSCORE, ZINCRBY, ZRANGE WITHSCORES ...:
//!   nan/inf/-inf/0/-0 spelled out; integral values with |v| <= 2^62 printed as
//!   integers; everything else via Grisu2 (the `fpconv_dtoa` algorithm Redis
//!   7.2 bundles), which is usually but NOT always the shortest round-trip
//!   string (4.35e-273 prints as "4.3499999999999996e-273"). Layout, for
//!   digits D (n of them) with value D*10^K and X = K+n-1: K >= 0 and
//!   |X| < n+7 -> integer (D then K zeros); K < 0 and (K > -7 or |X| < 4) ->
//!   plain decimal; otherwise "d.ddde+X" / "d.ddde-X" with X unpadded
//!   ("1e+20", "1.5e-7"; printf would say "1e-07"). It is reimplemented here
//!   (Loitsch's published algorithm, our own code, same cached-power
//!   selection, digit generation and rounding) so the digits match exactly,
//!   not just "round-trip"; verified on 614k values against redis 7.4.1.
//! * [`fmt_f64_g17`] is "%.17g" via libc: what Redis <= 7.0 (including the
//!   7.0.15 oracle installed on dev machines) prints for doubles. We report
//!   7.2, so replies use [`fmt_f64`]; the g17 form exists for tests against the
//!   7.0 oracle and for places that still use %.17g.
//! * [`incr_by_float`] / [`hincr_by_float`]: Redis adds in C `long double`
//!   (x87 80-bit), parses with strtold and prints "%.17Lf" with trailing zeros
//!   stripped; Rust has no long double, so that part lives in
//!   csrc/longdouble.c (built by build.rs with `cc`).
//! * [`fmt_i64`] uses itoa.

use std::os::raw::{c_char, c_int};

extern "C" {
    fn cinnabar_string2d(s: *const c_char, len: usize, out: *mut f64) -> c_int;
    fn cinnabar_ld_parse_add_format(
        a: *const c_char,
        alen: usize,
        b: *const c_char,
        blen: usize,
        out: *mut c_char,
        outcap: usize,
        outlen: *mut usize,
    ) -> c_int;
    fn cinnabar_ld_classify(s: *const c_char, len: usize) -> c_int;
    fn cinnabar_fmt_ld_human_f64(v: f64, out: *mut c_char, outcap: usize) -> usize;
    fn cinnabar_fmt_g17(v: f64, out: *mut c_char, outcap: usize) -> usize;
    fn cinnabar_fmt_g(v: f64, precision: c_int, out: *mut c_char, outcap: usize) -> usize;
}

/// Redis's MAX_LONG_DOUBLE_CHARS (5k): long double text never exceeds this.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

// ---------------------------------------------------------------- integers

/// C's `(long long)d` on x86-64: truncation toward zero; NaN and values out of range give
/// `i64::MIN` (the "integer indefinite" value). Lua numbers, timeouts and the script
/// libraries convert this way in Redis.
pub fn c_double_to_i64(d: f64) -> i64 {
    if (-9223372036854775808.0..9223372036854775808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// Redis `string2ll`: a strict signed 64-bit decimal. Rejects "", "+1",
/// " 1", "1 ", "01", "-0", "-", more than 20 bytes, and overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        if v > i64::MAX as u64 {
            return None;
        }
        Some(v as i64)
    }
}

/// Redis `string2ull` on a C string: `string2ll` when it accepts (negatives refused), else
/// glibc `strtoull` base 10, which also takes leading whitespace, a sign ("-n" wraps to
/// 2^64-n) and values above `i64::MAX`, but not overflow, nothing, or trailing bytes.
pub fn parse_u64_c(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Append the decimal form of `v` (Redis `ll2string`).
pub fn fmt_i64(v: i64, out: &mut Vec<u8>) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

// ----------------------------------------------------------------- doubles

/// Redis `string2d` (getDoubleFromObject for string values): strtod syntax
/// over the whole input; rejects empty, leading whitespace, trailing bytes,
/// NaN, overflow (+-HUGE_VAL) and underflow to zero. Accepts "inf", "+inf",
/// "-inf", "infinity", "1e5", ".5", "5.", "0x1p3" (hex floats), "-0".
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let mut out = 0f64;
    // SAFETY: the C function reads exactly `len` bytes from `s` and writes
    // one f64 to `out`.
    let ok = unsafe { cinnabar_string2d(s.as_ptr() as *const c_char, s.len(), &mut out) };
    if ok == 1 {
        Some(out)
    } else {
        None
    }
}

/// Redis 7.2 `d2string`: the text of a double in replies (RESP2 bulk and
/// RESP3 `,` payload). See the module docs for the layout rules.
pub fn fmt_f64(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_f64(v, &mut out);
    // Only ASCII bytes are ever written.
    String::from_utf8(out).unwrap_or_default()
}

/// Append Redis 7.2's `d2string(v)` to `out`.
pub fn write_f64(v: f64, out: &mut Vec<u8>) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
    } else if v.is_infinite() {
        out.extend_from_slice(if v < 0.0 { b"-inf" } else { b"inf" });
    } else if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
    } else if let Some(i) = double_as_exact_i64(v) {
        fmt_i64(i, out);
    } else {
        grisu::dtoa(v, out);
    }
}

/// Append Redis 7.2's `fpconv_dtoa(v)` (the shortest-digits text without d2string's
/// integer rule: 1e17 is "1e+17"), which DEBUG DIGEST hashes a sorted set's scores as.
pub fn write_fpconv_dtoa(v: f64, out: &mut Vec<u8>) {
    grisu::dtoa(v, out);
}

/// Redis `double2ll`: integral doubles within [-2^62, 2^62] print as integers.
fn double_as_exact_i64(v: f64) -> Option<i64> {
    const LIM: f64 = 4611686018427387904.0; // (double)(LLONG_MAX/2) == 2^62
    if !(-LIM..=LIM).contains(&v) {
        return None;
    }
    let i = v as i64;
    if i as f64 == v {
        Some(i)
    } else {
        None
    }
}

/// "%.17g" exactly as C printf prints it: Redis <= 7.0 addReplyDouble
/// (what the 7.0.15 oracle prints), e.g. 0.1 -> "0.10000000000000001",
/// 1e20 -> "1e+20", inf -> "inf" (7.0 special-cases inf the same way).
pub fn fmt_f64_g17(v: f64) -> String {
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    let mut buf = [0u8; 64];
    // SAFETY: the C function writes at most `outcap` bytes into `buf`.
    let n = unsafe { cinnabar_fmt_g17(v, buf.as_mut_ptr() as *mut c_char, buf.len()) };
    let n = n.min(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// C's "%.<precision>g" (Lua 5.1 prints numbers with "%.14g": 1e+20, inf, -nan, 0.1).
pub fn fmt_g(v: f64, precision: i32) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the C function writes at most `outcap` bytes into `buf`.
    let n = unsafe { cinnabar_fmt_g(v, precision.clamp(0, 40), buf.as_mut_ptr() as *mut c_char, buf.len()) };
    let n = n.min(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

// ------------------------------------------------------------ long doubles

/// Why an INCRBYFLOAT failed. Use [`FloatIncrError::message`] for the exact
/// Redis error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatIncrError {
    /// The stored value or the increment does not parse as a long double
    /// ("ERR value is not a valid float"; Redis does not say which).
    NotFloat,
    /// The sum is NaN or infinite.
    NanOrInf,
}

impl FloatIncrError {
    /// The Redis error reply text, with the "ERR " prefix.
    pub fn message(self) -> &'static str {
        match self {
            FloatIncrError::NotFloat => "ERR value is not a valid float",
            FloatIncrError::NanOrInf => "ERR increment would produce NaN or Infinity",
        }
    }
}

/// Why an HINCRBYFLOAT failed, in Redis's order of checks. Use
/// [`HashFloatIncrError::message`] for the exact Redis error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFloatIncrError {
    /// The increment does not parse ("ERR value is not a valid float").
    IncrNotFloat,
    /// The increment is +-inf ("ERR value is NaN or Infinity").
    IncrNotFinite,
    /// The stored field value does not parse ("ERR hash value is not a float").
    ValueNotFloat,
    /// The sum is NaN or infinite ("ERR increment would produce NaN or Infinity").
    NanOrInf,
}

impl HashFloatIncrError {
    /// The Redis error reply text, with the "ERR " prefix.
    pub fn message(self) -> &'static str {
        match self {
            HashFloatIncrError::IncrNotFloat => "ERR value is not a valid float",
            HashFloatIncrError::IncrNotFinite => "ERR value is NaN or Infinity",
            HashFloatIncrError::ValueNotFloat => "ERR hash value is not a float",
            HashFloatIncrError::NanOrInf => "ERR increment would produce NaN or Infinity",
        }
    }
}

/// INCRBYFLOAT: `current` is the stored string (None: missing key, i.e. 0).
/// Adds in long double and returns the new value exactly as Redis stores and
/// replies it ("%.17Lf" with trailing zeros and '.' stripped, "-0" -> "0").
pub fn incr_by_float(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, FloatIncrError> {
    ld_add(current, incr).map_err(|e| match e {
        LdAddError::BadCurrent | LdAddError::BadIncr => FloatIncrError::NotFloat,
        LdAddError::NanOrInf => FloatIncrError::NanOrInf,
    })
}

/// HINCRBYFLOAT: same arithmetic as [`incr_by_float`] but Redis's order of
/// checks and error texts: the increment is validated first (unparsable,
/// then +-inf), then the stored field value (None: missing field, i.e. 0).
pub fn hincr_by_float(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, HashFloatIncrError> {
    match ld_classify(incr) {
        LdClass::Invalid => return Err(HashFloatIncrError::IncrNotFloat),
        LdClass::Infinite => return Err(HashFloatIncrError::IncrNotFinite),
        LdClass::Finite => {}
    }
    ld_add(current, incr).map_err(|e| match e {
        LdAddError::BadCurrent => HashFloatIncrError::ValueNotFloat,
        LdAddError::BadIncr => HashFloatIncrError::IncrNotFloat,
        LdAddError::NanOrInf => HashFloatIncrError::NanOrInf,
    })
}

/// Does `s` parse as a long double under Redis `string2ld` rules?
pub fn is_valid_long_double(s: &[u8]) -> bool {
    !matches!(ld_classify(s), LdClass::Invalid)
}

enum LdClass {
    Invalid,
    Finite,
    Infinite,
}

fn ld_classify(s: &[u8]) -> LdClass {
    // SAFETY: reads exactly `len` bytes.
    match unsafe { cinnabar_ld_classify(s.as_ptr() as *const c_char, s.len()) } {
        1 => LdClass::Finite,
        2 => LdClass::Infinite,
        _ => LdClass::Invalid,
    }
}

enum LdAddError {
    BadCurrent,
    BadIncr,
    NanOrInf,
}

fn ld_add(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, LdAddError> {
    let mut out = [0u8; MAX_LONG_DOUBLE_CHARS];
    let mut outlen = 0usize;
    let (ap, alen) = match current {
        Some(a) => (a.as_ptr() as *const c_char, a.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: reads alen/blen bytes from the inputs (a may be NULL meaning
    // "missing"), writes at most out.len() bytes and one usize.
    let rc = unsafe {
        cinnabar_ld_parse_add_format(
            ap,
            alen,
            incr.as_ptr() as *const c_char,
            incr.len(),
            out.as_mut_ptr() as *mut c_char,
            out.len(),
            &mut outlen,
        )
    };
    match rc {
        0 => Ok(out[..outlen.min(MAX_LONG_DOUBLE_CHARS)].to_vec()),
        1 => Err(LdAddError::BadCurrent),
        2 => Err(LdAddError::BadIncr),
        // 3, and 4 ("does not fit", unreachable with a 5k buffer).
        _ => Err(LdAddError::NanOrInf),
    }
}

/// Redis `ld2string(LD_STR_HUMAN)` of a double widened to long double, i.e.
/// what `addReplyHumanLongDouble` prints ("%.17Lf", trailing zeros and '.'
/// removed, "-0" -> "0", "inf"/"-inf"/"nan").
pub fn fmt_ld_human(v: f64) -> Vec<u8> {
    let mut out = [0u8; MAX_LONG_DOUBLE_CHARS];
    // SAFETY: writes at most out.len() bytes.
    let n = unsafe { cinnabar_fmt_ld_human_f64(v, out.as_mut_ptr() as *mut c_char, out.len()) };
    out[..n.min(MAX_LONG_DOUBLE_CHARS)].to_vec()
}

// ------------------------------------------------------------------ grisu2

/// Grisu2 shortest(-ish) digit generation and Redis 7.2's fpconv layout.
mod grisu {
    #[derive(Clone, Copy)]
    struct Fp {
        f: u64,
        e: i32,
    }

    const HIDDEN: u64 = 1 << 52;
    const FRAC_MASK: u64 = HIDDEN - 1;

    /// Normalized 64-bit significands of 10^k for k = -348, -340, ..., 340
    /// (rounded to nearest), with their binary exponents. Generated with
    /// exact rational arithmetic.
    static POW10: [(u64, i32); 87] = [
        (0xfa8fd5a0081c0288, -1220), // 1e-348
        (0xbaaee17fa23ebf76, -1193), // 1e-340
        (0x8b16fb203055ac76, -1166), // 1e-332
        (0xcf42894a5dce35ea, -1140), // 1e-324
        (0x9a6bb0aa55653b2d, -1113), // 1e-316
        (0xe61acf033d1a45df, -1087), // 1e-308
        (0xab70fe17c79ac6ca, -1060), // 1e-300
        (0xff77b1fcbebcdc4f, -1034), // 1e-292
        (0xbe5691ef416bd60c, -1007), // 1e-284
        (0x8dd01fad907ffc3c, -980),  // 1e-276
        (0xd3515c2831559a83, -954),  // 1e-268
        (0x9d71ac8fada6c9b5, -927),  // 1e-260
        (0xea9c227723ee8bcb, -901),  // 1e-252
        (0xaecc49914078536d, -874),  // 1e-244
        (0x823c12795db6ce57, -847),  // 1e-236
        (0xc21094364dfb5637, -821),  // 1e-228
        (0x9096ea6f3848984f, -794),  // 1e-220
        (0xd77485cb25823ac7, -768),  // 1e-212
        (0xa086cfcd97bf97f4, -741),  // 1e-204
        (0xef340a98172aace5, -715),  // 1e-196
        (0xb23867fb2a35b28e, -688),  // 1e-188
        (0x84c8d4dfd2c63f3b, -661),  // 1e-180
        (0xc5dd44271ad3cdba, -635),  // 1e-172
        (0x936b9fcebb25c996, -608),  // 1e-164
        (0xdbac6c247d62a584, -582),  // 1e-156
        (0xa3ab66580d5fdaf6, -555),  // 1e-148
        (0xf3e2f893dec3f126, -529),  // 1e-140
        (0xb5b5ada8aaff80b8, -502),  // 1e-132
        (0x87625f056c7c4a8b, -475),  // 1e-124
        (0xc9bcff6034c13053, -449),  // 1e-116
        (0x964e858c91ba2655, -422),  // 1e-108
        (0xdff9772470297ebd, -396),  // 1e-100
        (0xa6dfbd9fb8e5b88f, -369),  // 1e-92
        (0xf8a95fcf88747d94, -343),  // 1e-84
        (0xb94470938fa89bcf, -316),  // 1e-76
        (0x8a08f0f8bf0f156b, -289),  // 1e-68
        (0xcdb02555653131b6, -263),  // 1e-60
        (0x993fe2c6d07b7fac, -236),  // 1e-52
        (0xe45c10c42a2b3b06, -210),  // 1e-44
        (0xaa242499697392d3, -183),  // 1e-36
        (0xfd87b5f28300ca0e, -157),  // 1e-28
        (0xbce5086492111aeb, -130),  // 1e-20
        (0x8cbccc096f5088cc, -103),  // 1e-12
        (0xd1b71758e219652c, -77),   // 1e-4
        (0x9c40000000000000, -50),   // 1e4
        (0xe8d4a51000000000, -24),   // 1e12
        (0xad78ebc5ac620000, 3),     // 1e20
        (0x813f3978f8940984, 30),    // 1e28
        (0xc097ce7bc90715b3, 56),    // 1e36
        (0x8f7e32ce7bea5c70, 83),    // 1e44
        (0xd5d238a4abe98068, 109),   // 1e52
        (0x9f4f2726179a2245, 136),   // 1e60
        (0xed63a231d4c4fb27, 162),   // 1e68
        (0xb0de65388cc8ada8, 189),   // 1e76
        (0x83c7088e1aab65db, 216),   // 1e84
        (0xc45d1df942711d9a, 242),   // 1e92
        (0x924d692ca61be758, 269),   // 1e100
        (0xda01ee641a708dea, 295),   // 1e108
        (0xa26da3999aef774a, 322),   // 1e116
        (0xf209787bb47d6b85, 348),   // 1e124
        (0xb454e4a179dd1877, 375),   // 1e132
        (0x865b86925b9bc5c2, 402),   // 1e140
        (0xc83553c5c8965d3d, 428),   // 1e148
        (0x952ab45cfa97a0b3, 455),   // 1e156
        (0xde469fbd99a05fe3, 481),   // 1e164
        (0xa59bc234db398c25, 508),   // 1e172
        (0xf6c69a72a3989f5c, 534),   // 1e180
        (0xb7dcbf5354e9bece, 561),   // 1e188
        (0x88fcf317f22241e2, 588),   // 1e196
        (0xcc20ce9bd35c78a5, 614),   // 1e204
        (0x98165af37b2153df, 641),   // 1e212
        (0xe2a0b5dc971f303a, 667),   // 1e220
        (0xa8d9d1535ce3b396, 694),   // 1e228
        (0xfb9b7cd9a4a7443c, 720),   // 1e236
        (0xbb764c4ca7a44410, 747),   // 1e244
        (0x8bab8eefb6409c1a, 774),   // 1e252
        (0xd01fef10a657842c, 800),   // 1e260
        (0x9b10a4e5e9913129, 827),   // 1e268
        (0xe7109bfba19c0c9d, 853),   // 1e276
        (0xac2820d9623bf429, 880),   // 1e284
        (0x80444b5e7aa7cf85, 907),   // 1e292
        (0xbf21e44003acdd2d, 933),   // 1e300
        (0x8e679c2f5e44ff8f, 960),   // 1e308
        (0xd433179d9c8cb841, 986),   // 1e316
        (0x9e19db92b4e31ba9, 1013),  // 1e324
        (0xeb96bf6ebadf77d9, 1039),  // 1e332
        (0xaf87023b9bf0ee6b, 1066),  // 1e340
    ];

    fn mul(a: Fp, b: Fp) -> Fp {
        // High 64 bits of the 128-bit product, rounded at bit 63.
        let p = (a.f as u128) * (b.f as u128) + (1u128 << 63);
        Fp { f: (p >> 64) as u64, e: a.e + b.e + 64 }
    }

    /// Pick the cached power of ten that brings `e` into [-60, -32]; the
    /// starting guess and search direction matter for the exact digits.
    fn cached_pow10(e: i32) -> (Fp, i32) {
        let approx = ((-(e + 87)) as f64 * 0.30102999566398114) as i32;
        let mut idx = (approx + 348) / 8;
        for _ in 0..200 {
            let i = idx.clamp(0, 86) as usize;
            let (f, pe) = POW10[i];
            let cur = e + pe + 64;
            if cur < -60 && i < 86 {
                idx = i as i32 + 1;
            } else if cur > -32 && i > 0 {
                idx = i as i32 - 1;
            } else {
                return (Fp { f, e: pe }, -348 + (i as i32) * 8);
            }
        }
        let (f, pe) = POW10[idx.clamp(0, 86) as usize];
        (Fp { f, e: pe }, -348 + idx.clamp(0, 86) * 8)
    }

    fn round_digit(digits: &mut [u8], n: usize, delta: u64, mut rem: u64, kappa: u64, frac: u64) {
        if n == 0 || n > digits.len() {
            return;
        }
        while rem < frac
            && delta.wrapping_sub(rem) >= kappa
            && (rem.wrapping_add(kappa) < frac || frac.wrapping_sub(rem) > rem.wrapping_add(kappa).wrapping_sub(frac))
        {
            digits[n - 1] = digits[n - 1].wrapping_sub(1);
            rem = rem.wrapping_add(kappa);
        }
    }

    fn push(digits: &mut [u8; 32], idx: &mut usize, d: u64) {
        if *idx < digits.len() {
            digits[*idx] = b'0' + (d as u8);
            *idx += 1;
        }
    }

    fn generate(w: Fp, upper: Fp, lower: Fp, digits: &mut [u8; 32], k: &mut i32) -> usize {
        let wfrac = upper.f.wrapping_sub(w.f);
        let mut delta = upper.f.wrapping_sub(lower.f);
        let shift = (-upper.e).clamp(0, 63) as u32;
        let one = 1u64 << shift;
        let mut part1 = upper.f >> shift;
        let mut part2 = upper.f & (one - 1);
        let mut idx = 0usize;
        let mut kappa: i32 = 10;
        let mut div: u64 = 1_000_000_000;
        while kappa > 0 {
            let digit = part1 / div;
            if digit != 0 || idx != 0 {
                push(digits, &mut idx, digit);
            }
            part1 -= digit * div;
            kappa -= 1;
            let tmp = (part1 << shift).wrapping_add(part2);
            if tmp <= delta {
                *k += kappa;
                round_digit(digits, idx, delta, tmp, div << shift, wfrac);
                return idx;
            }
            div /= 10;
        }
        let mut unit: u64 = 10;
        loop {
            part2 = part2.wrapping_mul(10);
            delta = delta.wrapping_mul(10);
            kappa -= 1;
            let digit = part2 >> shift;
            if digit != 0 || idx != 0 {
                push(digits, &mut idx, digit);
            }
            part2 &= one - 1;
            if part2 < delta || idx >= digits.len() || kappa < -40 {
                *k += kappa;
                round_digit(digits, idx, delta, part2, one, wfrac.wrapping_mul(unit));
                return idx;
            }
            unit = unit.wrapping_mul(10);
        }
    }

    /// Digits and decimal exponent K (value = digits * 10^K) of |d|, d finite
    /// and non-zero.
    fn grisu2(d: f64, digits: &mut [u8; 32], k: &mut i32) -> usize {
        let bits = d.to_bits();
        let mut w = Fp { f: bits & FRAC_MASK, e: ((bits >> 52) & 0x7ff) as i32 };
        if w.e != 0 {
            w.f += HIDDEN;
            w.e -= 1075;
        } else {
            w.e = -1074;
        }
        // Boundaries m+ and m-, both with m+'s normalized exponent.
        let mut upper = Fp { f: (w.f << 1) + 1, e: w.e - 1 };
        while upper.f & (HIDDEN << 1) == 0 {
            upper.f <<= 1;
            upper.e -= 1;
        }
        upper.f <<= 10;
        upper.e -= 10;
        let l_shift = if w.f == HIDDEN { 2 } else { 1 };
        let mut lower = Fp { f: (w.f << l_shift) - 1, e: w.e - l_shift };
        lower.f <<= (lower.e - upper.e).clamp(0, 63) as u32;
        lower.e = upper.e;
        // Normalize w.
        while w.f & HIDDEN == 0 {
            w.f <<= 1;
            w.e -= 1;
        }
        w.f <<= 11;
        w.e -= 11;

        let (cp, kk) = cached_pow10(upper.e);
        let w = mul(w, cp);
        let mut upper = mul(upper, cp);
        let mut lower = mul(lower, cp);
        lower.f = lower.f.wrapping_add(1);
        upper.f = upper.f.wrapping_sub(1);
        *k = -kk;
        generate(w, upper, lower, digits, k)
    }

    /// Append fpconv_dtoa's text for a finite non-zero `d`.
    pub(super) fn dtoa(d: f64, out: &mut Vec<u8>) {
        let neg = d.is_sign_negative();
        if neg {
            out.push(b'-');
        }
        if d == 0.0 || !d.is_finite() {
            // fpconv's filter_special, after the sign: "-0", "-inf".
            out.extend_from_slice(if d == 0.0 {
                b"0"
            } else if d.is_nan() {
                b"nan"
            } else {
                b"inf"
            });
            return;
        }
        let mut digits = [0u8; 32];
        let mut k = 0i32;
        let nd = grisu2(d, &mut digits, &mut k);
        if nd == 0 {
            out.push(b'0');
            return;
        }
        let digits = &digits[..nd];
        let nd = nd as i32;
        let exp = (k + nd - 1).abs();

        if k >= 0 && exp < nd + 7 {
            // Plain integer: digits then k zeros.
            out.extend_from_slice(digits);
            out.resize(out.len() + k as usize, b'0');
            return;
        }
        if k < 0 && (k > -7 || exp < 4) {
            let offset = nd + k; // nd - |k|
            if offset <= 0 {
                out.extend_from_slice(b"0.");
                out.resize(out.len() + (-offset) as usize, b'0');
                out.extend_from_slice(digits);
            } else {
                let (a, b) = digits.split_at(offset as usize);
                out.extend_from_slice(a);
                out.push(b'.');
                out.extend_from_slice(b);
            }
            return;
        }
        // Scientific: d[.ddd]e(+|-)X with no exponent padding.
        let nd = nd.min(18 - neg as i32).max(1);
        let used = &digits[..nd as usize];
        out.push(used[0]);
        if nd > 1 {
            out.push(b'.');
            out.extend_from_slice(&used[1..]);
        }
        out.push(b'e');
        out.push(if k + nd - 1 < 0 { b'-' } else { b'+' });
        let mut b = itoa::Buffer::new();
        out.extend_from_slice(b.format(exp).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_INT: Option<i64> = None;

    /// `INCRBY missing-key <s>` on redis-server 7.0.15 and 7.4.1.
    #[test]
    fn parse_i64_oracle_table() {
        let cases: &[(&[u8], Option<i64>)] = &[
            (b"0", Some(0)),
            (b"1", Some(1)),
            (b"-1", Some(-1)),
            (b"123456789", Some(123456789)),
            (b"-123456789", Some(-123456789)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", NOT_INT),
            (b"-9223372036854775809", NOT_INT),
            (b"18446744073709551616", NOT_INT),
            (b"99999999999999999999", NOT_INT),
            (b"-99999999999999999999", NOT_INT),
            (b"00000000000000000001", NOT_INT),
            (b"+1", NOT_INT),
            (b" 1", NOT_INT),
            (b"1 ", NOT_INT),
            (b"01", NOT_INT),
            (b"-0", NOT_INT),
            (b"00", NOT_INT),
            (b"0000", NOT_INT),
            (b"-01", NOT_INT),
            (b"-", NOT_INT),
            (b"", NOT_INT),
            (b"1e3", NOT_INT),
            (b"0x10", NOT_INT),
            (b"12a", NOT_INT),
            (b"1.0", NOT_INT),
            (b"\x001", NOT_INT),
            (b"1\x00", NOT_INT),
        ];
        for &(s, want) in cases {
            assert_eq!(parse_i64(s), want, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn fmt_i64_works() {
        let mut v = Vec::new();
        fmt_i64(i64::MIN, &mut v);
        v.push(b' ');
        fmt_i64(0, &mut v);
        assert_eq!(v, b"-9223372036854775808 0");
    }

    /// `ZADD z <s> m` then `ZSCORE z m` (skiplist encoding): the error, or
    /// the score as printed by 7.0.15 ("%.17g") and by 7.4.1 (7.2 format).
    #[test]
    fn parse_f64_oracle_table() {
        type Row = (&'static [u8], Option<(&'static str, &'static str)>);
        let cases: &[Row] = &[
            (b"0", Some(("0", "0"))),
            (b"-0", Some(("-0", "-0"))),
            (b"1", Some(("1", "1"))),
            (b"1.5", Some(("1.5", "1.5"))),
            (b".5", Some(("0.5", "0.5"))),
            (b"5.", Some(("5", "5"))),
            (b"-.5", Some(("-0.5", "-0.5"))),
            (b"+1.5", Some(("1.5", "1.5"))),
            (b"1e5", Some(("100000", "100000"))),
            (b"1E5", Some(("100000", "100000"))),
            (b"1e+5", Some(("100000", "100000"))),
            (b"1e-5", Some(("1.0000000000000001e-05", "0.00001"))),
            (b"inf", Some(("inf", "inf"))),
            (b"-inf", Some(("-inf", "-inf"))),
            (b"+inf", Some(("inf", "inf"))),
            (b"Inf", Some(("inf", "inf"))),
            (b"INF", Some(("inf", "inf"))),
            (b"infinity", Some(("inf", "inf"))),
            (b"-Infinity", Some(("-inf", "-inf"))),
            (b"0x10", Some(("16", "16"))),
            (b"0x1p3", Some(("8", "8"))),
            (b"0X1P-2", Some(("0.25", "0.25"))),
            (b"4e-320", Some(("3.999955468730732e-320", "4e-320"))),
            (b"2.2250738585072014e-308", Some(("2.2250738585072014e-308", "2.2250738585072014e-308"))),
            (b"1.7976931348623157e308", Some(("1.7976931348623157e+308", "1.7976931348623157e+308"))),
            (b"0.1", Some(("0.10000000000000001", "0.1"))),
            (b"0.3", Some(("0.29999999999999999", "0.3"))),
            (b"3.14159", Some(("3.1415899999999999", "3.14159"))),
            (b"100", Some(("100", "100"))),
            (b"1e20", Some(("1e+20", "1e+20"))),
            (b"1e21", Some(("1e+21", "1e+21"))),
            (b"1e17", Some(("1e+17", "100000000000000000"))),
            (b"123456789012345678", Some(("1.2345678901234568e+17", "123456789012345680"))),
            (b"-2.5e-7", Some(("-2.4999999999999999e-07", "-2.5e-7"))),
            (b"0.00001", Some(("1.0000000000000001e-05", "0.00001"))),
            (b"0.0001", Some(("0.0001", "0.0001"))),
            (b"1.0000000000000002", Some(("1.0000000000000002", "1.0000000000000002"))),
            (b"4.9406564584124654e-324", Some(("4.9406564584124654e-324", "5e-324"))),
            (b"0.1e1", Some(("1", "1"))),
            (b"00012", Some(("12", "12"))),
            (b"1e0001", Some(("10", "10"))),
            (b"nan", None),
            (b"NaN", None),
            (b"-nan", None),
            (b"", None),
            (b" 1", None),
            (b"1 ", None),
            (b"\t1", None),
            (b"1\x00", None),
            (b"0x", None),
            (b"1e", None),
            (b"1e+", None),
            (b"e5", None),
            (b".", None),
            (b"-", None),
            (b"+", None),
            (b"1e400", None),
            (b"-1e400", None),
            (b"1e-400", None),
            (b"1.7976931348623159e308", None),
            (b"1_000", None),
            (b"1,5", None),
        ];
        for &(s, want) in cases {
            let got = parse_f64(s);
            match want {
                None => assert!(got.is_none(), "{:?} should be rejected", String::from_utf8_lossy(s)),
                Some((g17, v72)) => {
                    let v = got.unwrap_or_else(|| panic!("{:?} rejected", String::from_utf8_lossy(s)));
                    assert_eq!(fmt_f64_g17(v), g17, "g17 of {:?}", String::from_utf8_lossy(s));
                    assert_eq!(fmt_f64(v), v72, "7.2 format of {:?}", String::from_utf8_lossy(s));
                }
            }
        }
        // Long inputs go through the heap copy.
        let mut long = b"1.".to_vec();
        long.resize(long.len() + 300, b'0');
        long.push(b'5');
        assert_eq!(parse_f64(&long), Some(1.0));
        long.push(b'x');
        assert_eq!(parse_f64(&long), None);
    }

    /// 7.2-format values checked against redis-server 7.4.1 (same d2string /
    /// fpconv as 7.2). Includes Grisu2's non-shortest outputs.
    #[test]
    fn fmt_f64_oracle_table() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (3.0, "3"),
            (-0.5, "-0.5"),
            (4611686018427387904.0, "4611686018427387904"), // 2^62: still integer path
            (-4611686018427387904.0, "-4611686018427387904"),
            (4611686018427388928.0, "4611686018427389000"), // above 2^62: fpconv
            (-4611686018427388928.0, "-4611686018427389000"),
            (9223372036854775808.0, "9223372036854776000"),
            (9007199254740994.0, "9007199254740994"),
            (1e19, "1e+19"),
            (1.5e19, "1.5e+19"),
            (12345678901234567000.0, "12345678901234567000"),
            (1e21, "1e+21"),
            (1e22, "1e+22"),
            (1.5e-7, "1.5e-7"),
            (1e-7, "1e-7"),
            (1e-6, "0.000001"),
            (1e-5, "0.00001"),
            (0.000012345, "1.2345e-5"),
            (1.2345678901234567e-5, "1.2345678901234568e-5"),
            (123456789.123, "123456789.123"),
            (1234.5678901234567, "1234.5678901234567"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1.5e300, "1.5e+300"),
            (-1.5e-300, "-1.5e-300"),
            (4.35e-273, "4.3499999999999996e-273"), // Grisu2: not shortest
            (-4.35e-273, "-4.3499999999999996e-273"),
            (4.35e-240, "4.3500000000000003e-240"),
            (9.99e-24, "9.989999999999999e-24"),
        ];
        for &(v, want) in cases {
            assert_eq!(fmt_f64(v), want, "{:e}", v);
        }
    }

    #[test]
    fn g17_basics() {
        assert_eq!(fmt_f64_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_f64_g17(-0.0), "-0");
        assert_eq!(fmt_f64_g17(1e20), "1e+20");
        assert_eq!(fmt_f64_g17(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_f64_g17(3.0), "3");
    }

    use crate::util::test_rng::Rng;

    fn doubles() -> Vec<f64> {
        let mut r = Rng(0x2545F4914F6CDD1D);
        let mut v = Vec::new();
        while v.len() < 100_000 {
            let x = f64::from_bits(r.next());
            if x.is_finite() {
                v.push(x);
            }
        }
        for _ in 0..100_000 {
            let m = (r.next() % 10_000_000_000) as f64;
            let e = ((r.next() % 60) as i32) - 30;
            let s = if r.next() & 1 == 1 { -1.0 } else { 1.0 };
            v.push(s * m * 10f64.powi(e));
        }
        v
    }

    fn fnv(h: &mut u64, bytes: &[u8]) {
        for &b in bytes {
            *h ^= b as u64;
            *h = h.wrapping_mul(0x100000001b3);
        }
    }

    /// 200,000 doubles (random bit patterns and random decimals). The
    /// expected FNV-1a hashes of "text\n" for every value are those of the
    /// ZSCOREs (skiplist encoding) replied by redis-server 7.4.1 (7.2 format)
    /// and 7.0.15 ("%.17g"). A separate 414k-value run also matched exactly.
    #[test]
    fn oracle_differential_hash() {
        let vals = doubles();
        let (mut h72, mut h70) = (0xcbf29ce484222325u64, 0xcbf29ce484222325u64);
        let (mut n72, mut n70) = (0usize, 0usize);
        for &v in &vals {
            let a = fmt_f64(v);
            fnv(&mut h72, a.as_bytes());
            fnv(&mut h72, b"\n");
            n72 += a.len() + 1;
            let b = fmt_f64_g17(v);
            fnv(&mut h70, b.as_bytes());
            fnv(&mut h70, b"\n");
            n70 += b.len() + 1;
            // Every 7.2 string must parse back to the same double.
            assert_eq!(parse_f64(a.as_bytes()).map(f64::to_bits), Some(v.to_bits()), "{a}");
        }
        assert_eq!((n72, h72), (4046500, 0xa1bcfb93142817d6));
        assert_eq!((n70, h70), (4459157, 0x17dc1f73fb59974f));
    }

    /// `SET k a; INCRBYFLOAT k b` and `HSET h f a; HINCRBYFLOAT h f b`
    /// on redis-server 7.0.15 and 7.4.1 (identical). None = missing key.
    #[test]
    fn incr_by_float_oracle_table() {
        use FloatIncrError::{NanOrInf, NotFloat};
        use HashFloatIncrError::*;
        type R = Result<&'static str, (FloatIncrError, HashFloatIncrError)>;
        type Row = (Option<&'static [u8]>, &'static [u8], R);
        let cases: &[Row] = &[
            (Some(b"10.5"), b"0.1", Ok("10.6")),
            (None, b"0.1", Ok("0.1")),
            (Some(b"10"), b"5.0e3", Ok("5010")),
            (Some(b"5010"), b"3.0e3", Ok("8010")),
            (Some(b"1"), b"-1", Ok("0")),
            (Some(b"-1"), b"0.5", Ok("-0.5")),
            (Some(b"0"), b"-0", Ok("0")),
            (Some(b"-0"), b"0", Ok("0")),
            (None, b"-0", Ok("0")),
            (Some(b"0.1"), b"0.2", Ok("0.3")),
            (Some(b"3.0"), b"0.1", Ok("3.1")),
            (Some(b"1.1"), b"2.2", Ok("3.3")),
            (Some(b"17179869184"), b"1.5", Ok("17179869185.5")),
            (Some(b"5.0e3"), b"0", Ok("5000")),
            (Some(b"0x10"), b"0x1p-2", Ok("16.25")),
            (Some(b"1e-20"), b"0", Ok("0")),
            (Some(b"123456789012345678901234567890"), b"1", Ok("123456789012345678899921813504")),
            (Some(b"-1.5"), b"1.5", Ok("0")),
            (Some(b"1e18"), b"0.5", Ok("1000000000000000000.5")),
            (Some(b"9223372036854775807"), b"1", Ok("9223372036854775808")),
            (Some(b"0.1"), b"-0.1", Ok("0")),
            (Some(b"1e-300"), b"1e-300", Ok("0")),
            (Some(b"12345.6789"), b"0.0001", Ok("12345.67899999999999938")),
            (Some(b"1e50"), b"1", Ok("100000000000000000003583830118858923890798487404544")),
            (Some(b"1"), b"1e-17", Ok("1.00000000000000001")),
            (Some(b"1"), b"1e-16", Ok("1.0000000000000001")),
            (Some(b"0"), b"1e-17", Ok("0.00000000000000001")),
            (Some(b"0"), b"1e-18", Ok("0")),
            (Some(b"1"), b"inf", Err((NanOrInf, IncrNotFinite))),
            (None, b"inf", Err((NanOrInf, IncrNotFinite))),
            (Some(b"inf"), b"1", Err((NanOrInf, HashFloatIncrError::NanOrInf))),
            (Some(b"abc"), b"1", Err((NotFloat, ValueNotFloat))),
            (Some(b""), b"1", Err((NotFloat, ValueNotFloat))),
            (Some(b" 1"), b"1", Err((NotFloat, ValueNotFloat))),
            (Some(b"1\x00x"), b"1", Err((NotFloat, ValueNotFloat))),
            (Some(b"1"), b"abc", Err((NotFloat, IncrNotFloat))),
            (Some(b"1"), b"", Err((NotFloat, IncrNotFloat))),
            (Some(b"1"), b" 1", Err((NotFloat, IncrNotFloat))),
            (Some(b"1"), b"1 ", Err((NotFloat, IncrNotFloat))),
            (Some(b"1"), b"nan", Err((NotFloat, IncrNotFloat))),
            (Some(b"1"), b"1e5000", Err((NotFloat, IncrNotFloat))),
            (Some(b"1"), b"1e-5000", Err((NotFloat, IncrNotFloat))),
            (Some(b"1"), b"2\x00y", Err((NotFloat, IncrNotFloat))),
        ];
        for &(a, b, ref want) in cases {
            let ctx = format!("{:?} + {:?}", a.map(String::from_utf8_lossy), String::from_utf8_lossy(b));
            let s = incr_by_float(a, b);
            let h = hincr_by_float(a, b);
            match want {
                Ok(v) => {
                    assert_eq!(s.as_deref(), Ok(v.as_bytes()), "{ctx}");
                    assert_eq!(h.as_deref(), Ok(v.as_bytes()), "{ctx}");
                }
                Err((es, eh)) => {
                    assert_eq!(s, Err(*es), "{ctx}");
                    assert_eq!(h, Err(*eh), "{ctx}");
                }
            }
        }
        // Long results: 1e308 + 1e308 is finite in long double.
        let big = incr_by_float(Some(b"1e308"), b"1e308").unwrap_or_default();
        assert_eq!(big.len(), 309);
        assert!(big.starts_with(b"19999999999999999999337175931169129132112019969483"));
        let huge = incr_by_float(Some(b"1e4000"), b"1e4000").unwrap_or_default();
        assert_eq!(huge.len(), 4001);
        assert!(incr_by_float(Some(b"1"), b"1e4932").is_ok());
        // Inputs of 5120 bytes or more are rejected outright.
        let mut long = b"1.".to_vec();
        long.resize(5119, b'0');
        assert!(incr_by_float(None, &long).is_ok());
        long.push(b'0');
        assert_eq!(incr_by_float(None, &long), Err(FloatIncrError::NotFloat));
    }

    #[test]
    fn error_texts() {
        assert_eq!(FloatIncrError::NotFloat.message(), "ERR value is not a valid float");
        assert_eq!(FloatIncrError::NanOrInf.message(), "ERR increment would produce NaN or Infinity");
        assert_eq!(HashFloatIncrError::IncrNotFloat.message(), "ERR value is not a valid float");
        assert_eq!(HashFloatIncrError::IncrNotFinite.message(), "ERR value is NaN or Infinity");
        assert_eq!(HashFloatIncrError::ValueNotFloat.message(), "ERR hash value is not a float");
        assert_eq!(HashFloatIncrError::NanOrInf.message(), "ERR increment would produce NaN or Infinity");
    }

    #[test]
    fn ld_human() {
        assert_eq!(fmt_ld_human(1.5), b"1.5");
        assert_eq!(fmt_ld_human(0.1), b"0.10000000000000001");
        assert_eq!(fmt_ld_human(-0.0), b"0");
        assert_eq!(fmt_ld_human(3.0), b"3");
        assert_eq!(fmt_ld_human(f64::INFINITY), b"inf");
        assert_eq!(fmt_ld_human(f64::NEG_INFINITY), b"-inf");
        assert!(is_valid_long_double(b"1e4932"));
        assert!(!is_valid_long_double(b"1e4933"));
        assert!(!is_valid_long_double(b"nan"));
    }
}
