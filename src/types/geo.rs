//! GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH(STORE), GEORADIUS(BYMEMBER)(_RO): geo sets are
//! sorted sets scored by `data::geohash` (Redis's geo.c). TYPE says zset and every sorted
//! set command works on them.
//!
//! GEOADD is ZADD with the scores computed (Redis rewrites the command into a ZADD): the
//! same encodings, conversions and "zadd" event. The search commands share one parser,
//! `search_generic`, which follows georadiusGeneric's order exactly, because the first
//! error found wins: the source key is looked up first (WRONGTYPE before anything else),
//! GEORADIUS's centre and radius come next, GEORADIUSBYMEMBER's member only if the key
//! exists, then the options left to right (FROMMEMBER resolving its member as it is read),
//! then the combination checks. The search itself (boxes, candidates, distances, sort) is
//! `data::geohash::Search`; the STORE forms write their result through
//! `types::zset::store_result` as Redis's zsetConvertToListpackIfNeeded would encode it.

use smallvec::SmallVec;

use crate::command::args::{eq, float, int};
use crate::command::{err, CmdResult, Ctx, Error};
use crate::data::bytes::CompactBytes;
use crate::data::geohash::{self, Point, Search, Shape};
use crate::data::zset::tree::cmp_key;
use crate::data::zset::ZSet;
use crate::resp::write::ReplyWriter;
use crate::types::read;
use crate::types::zset::{add_scored, store_result, AddFlags};
use crate::util::number::c_double_to_i64;

/// An option word as Redis's strcasecmp reads it: a C string, ending at the first NUL.
fn word(a: &[u8]) -> &[u8] {
    a.iter().position(|&b| b == 0).map_or(a, |end| &a[..end])
}

/// extractUnitOrReply: metres per unit.
fn unit(a: &[u8]) -> Result<f64, Error> {
    let a = word(a);
    if eq(a, "m") {
        Ok(1.0)
    } else if eq(a, "km") {
        Ok(1000.0)
    } else if eq(a, "ft") {
        Ok(0.3048)
    } else if eq(a, "mi") {
        Ok(1609.34)
    } else {
        Err(Error::msg("ERR unsupported unit provided. please use M, KM, FT, MI"))
    }
}

/// extractLongLatOrReply.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let (lon, lat) = (float(lon)?, float(lat)?);
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon) || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(Error::msg(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok((lon, lat))
}

/// A number argument of a search shape ("need numeric radius" ...).
fn measure(a: &[u8], what: &'static str) -> Result<f64, Error> {
    crate::util::number::parse_f64(a).ok_or(Error::msg(what))
}

/// extractDistanceOrReply: (radius, metres per unit).
fn radius_arg(r: &[u8], u: &[u8]) -> Result<(Shape, f64), Error> {
    let r = measure(r, "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(Error::msg("ERR radius cannot be negative"));
    }
    Ok((Shape::Radius(r), unit(u)?))
}

/// extractBoxOrReply: (box, metres per unit).
fn box_arg(w: &[u8], h: &[u8], u: &[u8]) -> Result<(Shape, f64), Error> {
    let width = measure(w, "ERR need numeric width")?;
    let height = measure(h, "ERR need numeric height")?;
    if width < 0.0 || height < 0.0 {
        return Err(Error::msg("ERR height or width cannot be negative"));
    }
    Ok((Shape::Box { width, height }, unit(u)?))
}

/// longLatFromMember.
fn member_position(z: &ZSet, member: &[u8]) -> Result<(f64, f64), Error> {
    match z.score(member) {
        Some(s) => Ok(geohash::decode_score(s)),
        None => Err(Error::msg("ERR could not decode requested zset member")),
    }
}

/// A reply element whose text `write` appends: a bulk string, or under RESP3 when
/// `double` a double (`,`), without a temporary buffer (the header goes in front after).
fn reply_text(out: &mut ReplyWriter, double: bool, write: impl FnOnce(&mut Vec<u8>)) {
    let start = out.buf.len();
    write(&mut out.buf);
    let n = out.buf.len() - start;
    let mut head = [0u8; 24];
    let h = if double && out.resp3 {
        head[0] = b',';
        1
    } else {
        head[0] = b'$';
        let mut b = itoa::Buffer::new();
        let digits = b.format(n).as_bytes();
        head[1..1 + digits.len()].copy_from_slice(digits);
        head[1 + digits.len()..3 + digits.len()].copy_from_slice(b"\r\n");
        3 + digits.len()
    };
    out.buf.extend_from_slice(&head[..h]);
    out.buf[start..].rotate_right(h);
    out.buf.extend_from_slice(b"\r\n");
}

/// addReplyDoubleDistance: always a bulk string.
fn reply_distance(out: &mut ReplyWriter, d: f64) {
    reply_text(out, false, |b| geohash::fmt_distance(d, b));
}

/// A [longitude, latitude] pair (addReplyHumanLongDouble: a double under RESP3).
fn reply_position(out: &mut ReplyWriter, lon: f64, lat: f64) {
    out.array(2);
    reply_text(out, true, |b| geohash::fmt_coord(lon, b));
    reply_text(out, true, |b| geohash::fmt_coord(lat, b));
}

/// GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
pub fn geoadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut f = AddFlags::default();
    let mut first = 2;
    while first < args.len() {
        let a = word(args[first]);
        if eq(a, "nx") {
            f.nx = true;
        } else if eq(a, "xx") {
            f.xx = true;
        } else if eq(a, "ch") {
            f.ch = true;
        } else {
            break;
        }
        first += 1;
    }
    let triples = &args[first..];
    if !triples.len().is_multiple_of(3) || (f.nx && f.xx) {
        return Err(err::SYNTAX);
    }
    let mut scores: SmallVec<[f64; 8]> = SmallVec::with_capacity(triples.len() / 3);
    for t in triples.chunks_exact(3) {
        let (lon, lat) = lon_lat(t[0], t[1])?;
        scores.push(geohash::encode_score(lon, lat).ok_or(err::SYNTAX)? as f64);
    }
    // The ZADD Redis rewrites it into has no pairs: ZADD's syntax error.
    if scores.is_empty() {
        return Err(err::SYNTAX);
    }
    // Replayed as that ZADD: lower-case, the options as given, the scores as integers.
    ctx.ks.propagate_as(|| {
        let mut argv = crate::persist::propagate::argv(&[b"zadd"]);
        argv.extend(args[1..first].iter().map(|a| a.to_vec()));
        for (j, score) in scores.iter().enumerate() {
            argv.push(crate::persist::propagate::int_arg(*score as i64));
            argv.push(triples[3 * j + 2].to_vec());
        }
        argv
    });
    add_scored(ctx, f, &scores, |j| triples[3 * j + 2])
}

/// GEODIST key member1 member2 [M | KM | FT | MI]
pub fn geodist(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let to_meter = match args.len() {
        5 => unit(args[4])?,
        n if n > 5 => return Err(err::SYNTAX),
        _ => 1.0,
    };
    let d = read::<ZSet>(ctx.ks, args[1])?.and_then(|z| {
        let (a, b) = (z.score(args[2])?, z.score(args[3])?);
        let ((lon1, lat1), (lon2, lat2)) = (geohash::decode_score(a), geohash::decode_score(b));
        Some(geohash::distance(lon1, lat1, lon2, lat2) / to_meter)
    });
    match d {
        Some(d) => reply_distance(ctx.out, d),
        None => ctx.out.nil(),
    }
    Ok(())
}

/// GEOHASH key [member ...]
pub fn geohash(ctx: &mut Ctx) -> CmdResult {
    per_member(ctx, |out, s| match s {
        Some(s) => out.bulk(&geohash::standard_hash(s)),
        None => out.nil(),
    })
}

/// GEOPOS key [member ...]
pub fn geopos(ctx: &mut Ctx) -> CmdResult {
    per_member(ctx, |out, s| match s {
        Some(s) => {
            let (lon, lat) = geohash::decode_score(s);
            reply_position(out, lon, lat);
        }
        None => out.nil_array(),
    })
}

/// One reply element per member argument (args[2..]) of the geo set at args[1], from its
/// score (None for a missing member or key).
fn per_member(ctx: &mut Ctx, mut reply: impl FnMut(&mut ReplyWriter, Option<f64>)) -> CmdResult {
    let args = ctx.args;
    let z = read::<ZSet>(ctx.ks, args[1])?.map(|z| &*z);
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        reply(ctx.out, z.and_then(|z| z.score(m)));
    }
    Ok(())
}

// ------------------------------------------------------------------ searches

/// Which command a search is (georadiusGeneric's flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS[_RO] key longitude latitude radius unit ...
    Radius,
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    ByMember,
    /// GEOSEARCH key FROM... BY... ...
    Search,
    /// GEOSEARCHSTORE destination source FROM... BY... ...
    SearchStore,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Redis's georadiusGeneric. `read_only`: the _RO forms, which refuse STORE/STOREDIST.
fn search_generic(ctx: &mut Ctx, form: Form, read_only: bool) -> CmdResult {
    let args = ctx.args;
    let src = args[if form == Form::SearchStore { 2 } else { 1 }];
    let z = read::<ZSet>(ctx.ks, src)?.map(|z| &*z);
    let mut center = None;
    let mut shape = None;
    let mut store: Option<&[u8]> = None;
    let base = match form {
        Form::Radius => {
            center = Some(lon_lat(args[2], args[3])?);
            shape = Some(radius_arg(args[4], args[5])?);
            6
        }
        Form::ByMember => {
            // Without the key Redis only parses the options, for the reply's shape.
            if let Some(z) = z {
                center = Some(member_position(z, args[2])?);
                shape = Some(radius_arg(args[3], args[4])?);
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            store = Some(args[1]);
            3
        }
    };
    let geosearch = matches!(form, Form::Search | Form::SearchStore);
    let (mut withdist, mut withhash, mut withcoord, mut any, mut storedist) = (false, false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let opts = &args[base.min(args.len())..];
    let mut i = 0;
    while i < opts.len() {
        let a = word(opts[i]);
        let left = opts.len() - i - 1;
        if eq(a, "withdist") {
            withdist = true;
        } else if eq(a, "withhash") {
            withhash = true;
        } else if eq(a, "withcoord") {
            withcoord = true;
        } else if eq(a, "any") {
            any = true;
        } else if eq(a, "asc") {
            sort = Sort::Asc;
        } else if eq(a, "desc") {
            sort = Sort::Desc;
        } else if eq(a, "count") && left >= 1 {
            count = int(opts[i + 1])?;
            if count <= 0 {
                return Err(Error::msg("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (eq(a, "store") || eq(a, "storedist")) && left >= 1 && !read_only && !geosearch {
            store = Some(opts[i + 1]);
            storedist = eq(a, "storedist");
            i += 1;
        } else if eq(a, "storedist") && form == Form::SearchStore {
            storedist = true;
        } else if eq(a, "frommember") && left >= 1 && geosearch && !fromloc {
            if let Some(z) = z {
                center = Some(member_position(z, opts[i + 1])?);
            }
            frommember = true;
            i += 1;
        } else if eq(a, "fromlonlat") && left >= 2 && geosearch && !frommember {
            center = Some(lon_lat(opts[i + 1], opts[i + 2])?);
            fromloc = true;
            i += 2;
        } else if eq(a, "byradius") && left >= 2 && geosearch && !bybox {
            shape = Some(radius_arg(opts[i + 1], opts[i + 2])?);
            byradius = true;
            i += 2;
        } else if eq(a, "bybox") && left >= 3 && geosearch && !byradius {
            shape = Some(box_arg(opts[i + 1], opts[i + 2], opts[i + 3])?);
            bybox = true;
            i += 3;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        return Err(Error::msg(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if form == Form::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" }
        )));
    }
    // The command's name as the client typed it.
    let typed = || String::from_utf8_lossy(args[0]);
    if geosearch && !(frommember || fromloc) {
        return Err(Error::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            typed()
        )));
    }
    if geosearch && !(byradius || bybox) {
        return Err(Error::msg(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {}", typed())));
    }
    if any && count == 0 {
        return Err(Error::msg("ERR the ANY argument requires COUNT argument"));
    }
    let (Some(z), Some((lon, lat)), Some((shape, conversion))) = (z, center, shape) else {
        match store {
            Some(dst) => return store_result(ctx, dst, Vec::new(), "", 0),
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    // COUNT alone means the nearest ones.
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let search = Search::new(lon, lat, shape, conversion);
    // Room for a typical result at once (a 1 km search in a city finds tens).
    let mut points: Vec<Point> = Vec::with_capacity(32);
    search.scan(z, if any { count as usize } else { 0 }, &mut points);
    let returned = if count == 0 { points.len() } else { points.len().min(count as usize) };
    if sort != Sort::None {
        geohash::sort_points(&mut points, returned, sort == Sort::Desc);
    }
    let points = &points[..returned];
    let Some(dst) = store else {
        reply_points(ctx.out, points, conversion, withdist, withhash, withcoord);
        return Ok(());
    };
    let mut items: Vec<(f64, CompactBytes)> = points
        .iter()
        .map(|p| (if storedist { p.dist / conversion } else { p.score }, CompactBytes::new(p.member.get())))
        .collect();
    items.sort_unstable_by(|a, b| cmp_key(a.0, &a.1, b.0, &b.1));
    let event = if geosearch { "geosearchstore" } else { "georadiusstore" };
    store_result(ctx, dst, items, event, returned as u64)
}

fn reply_points(out: &mut ReplyWriter, points: &[Point], conversion: f64, dist: bool, hash: bool, coord: bool) {
    let options = dist as usize + hash as usize + coord as usize;
    out.array(points.len());
    for p in points {
        if options > 0 {
            out.array(options + 1);
        }
        out.bulk(p.member.get());
        if dist {
            reply_distance(out, p.dist / conversion);
        }
        if hash {
            out.int(c_double_to_i64(p.score));
        }
        if coord {
            reply_position(out, p.lon, p.lat);
        }
    }
}

pub fn georadius(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Form::Radius, false)
}

pub fn georadius_ro(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Form::Radius, true)
}

pub fn georadiusbymember(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Form::ByMember, false)
}

pub fn georadiusbymember_ro(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Form::ByMember, true)
}

pub fn geosearch(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Form::Search, true)
}

pub fn geosearchstore(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Form::SearchStore, false)
}
