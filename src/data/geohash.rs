//! Geohash: Redis's 52-bit interleaved encoding of (longitude, latitude), its neighbour
//! boxes, its distance formula and the scan of a sorted set for the points of a search
//! (geohash.c, geohash_helper.c and the search half of geo.c). The commands are `types::geo`.
//!
//! A geo set is a sorted set whose scores are 52-bit geohashes: the longitude over
//! [-180, 180] and the latitude over Redis's Mercator limits [-85.05112878, 85.05112878]
//! are each scaled to a 26-bit cell number, and the two are interleaved (latitude in the
//! even bits, longitude in the odd ones), so that the cells of one box at any coarser step
//! are one contiguous score range. A score of 2^52 or more still fits a double exactly.
//!
//! A search (GEOSEARCH BYRADIUS / BYBOX, GEORADIUS*) follows Redis step by step, because
//! which members a COUNT ANY search returns, and the order of ties, depend on it:
//! `Search::areas` picks a step from the radius and latitude (one step coarser when a
//! neighbour does not reach the bounding box), encodes the centre at that step, takes its 8
//! neighbours (wrapping around the antimeridian) and drops those outside the bounding box;
//! `Search::scan` then walks the centre box and the kept neighbours in Redis's order
//! (centre, N, S, E, W, NE, NW, SE, SW; a box equal to the one scanned just before is
//! skipped, except right after the centre: Redis's own quirk), each as the score range
//! [min, max) in (score, member) order, and keeps the points inside the shape with their
//! distance. Points borrow the members from the set (no allocation per candidate), and
//! only the matches' member bytes are read, after the scan (prefetched during it).
//! Sorting is glibc's stable qsort for a whole result and Redis's pqsort (a partial
//! Bentley-McIlroy quicksort, ties included) when COUNT cuts it, reproduced in `sort_points`.
//!
//! Numbers as Redis prints them: distances through `fixedpoint_d2string` (llrint of
//! d * 10^4: `fmt_distance`), coordinates through `ld2string`'s human mode ("%.17Lf" of the
//! double, trailing zeros removed: `fmt_coord`). Distances use glibc's sin/cos/asin/sqrt as
//! Redis does, with its earth radius.

use std::cmp::Ordering;

use super::zset::{MemberRef, ZSet};

/// 26 steps of 2 bits: the precision of a stored score.
pub const STEP_MAX: u8 = 26;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

#[inline]
fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

#[inline]
fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A cell: `step` bits of longitude and of latitude, interleaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Bits {
    pub bits: u64,
    pub step: u8,
}

impl Bits {
    /// Redis's HASHISZERO: a neighbour dropped from a search.
    fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The 52-bit score of the cell's first point (geohashAlign52Bits).
    pub fn align52(&self) -> u64 {
        self.bits << (52 - 2 * self.step as u32)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

const LONG_RANGE: Range = Range { min: LONG_MIN, max: LONG_MAX };
const LAT_RANGE: Range = Range { min: LAT_MIN, max: LAT_MAX };

/// The rectangle a cell covers.
#[derive(Clone, Copy, Debug)]
pub struct Area {
    pub longitude: Range,
    pub latitude: Range,
}

/// Spread the 32 bits of `v` to the even bits of a u64.
#[inline]
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gather the even bits of `v` into a u32.
#[inline]
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Latitude cell in the even bits, longitude cell in the odd bits.
#[inline]
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// (latitude cell, longitude cell).
#[inline]
fn deinterleave(bits: u64) -> (u32, u32) {
    (squash(bits), squash(bits >> 1))
}

/// geohashEncode: None outside the ranges (the commands validate coordinates first).
pub fn encode(long_range: Range, lat_range: Range, longitude: f64, latitude: f64, step: u8) -> Option<Bits> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&longitude) || !(LAT_MIN..=LAT_MAX).contains(&latitude) {
        return None;
    }
    if latitude < lat_range.min || latitude > lat_range.max || longitude < long_range.min || longitude > long_range.max
    {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (latitude - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let long_offset = (longitude - long_range.min) / (long_range.max - long_range.min) * scale;
    // C's conversion to uint32_t: the top of a range gives 2^step, one past the last cell,
    // as in Redis.
    Some(Bits { bits: interleave(lat_offset as u32, long_offset as u32), step })
}

/// geohashEncodeWGS84 at full precision: the score of a point.
pub fn encode_score(longitude: f64, latitude: f64) -> Option<u64> {
    encode(LONG_RANGE, LAT_RANGE, longitude, latitude, STEP_MAX).map(|b| b.align52())
}

/// geohashDecode over the given ranges.
fn decode_in(long_range: Range, lat_range: Range, hash: Bits) -> Area {
    let (ilato, ilono) = deinterleave(hash.bits);
    let scale = (1u64 << hash.step) as f64;
    let lat_scale = lat_range.max - lat_range.min;
    let long_scale = long_range.max - long_range.min;
    // `ilato + 1` is 32-bit arithmetic in C: it wraps.
    Area {
        latitude: Range {
            min: lat_range.min + (ilato as f64 / scale) * lat_scale,
            max: lat_range.min + (ilato.wrapping_add(1) as f64 / scale) * lat_scale,
        },
        longitude: Range {
            min: long_range.min + (ilono as f64 / scale) * long_scale,
            max: long_range.min + (ilono.wrapping_add(1) as f64 / scale) * long_scale,
        },
    }
}

pub fn decode(hash: Bits) -> Area {
    decode_in(LONG_RANGE, LAT_RANGE, hash)
}

/// C's `(uint64_t)d` as gcc compiles it for x86-64: below 2^63 a signed truncation (a
/// negative score wraps), from 2^63 the truncation of d - 2^63 with the top bit flipped;
/// out of range either way gives the "integer indefinite" 2^63 before the flip. A sorted
/// set may hold any score, and GEOPOS/GEOHASH/GEODIST decode it this way.
pub fn score_bits(score: f64) -> u64 {
    const TWO63: f64 = 9223372036854775808.0;
    let trunc = |d: f64| crate::util::number::c_double_to_i64(d) as u64;
    if score >= TWO63 {
        trunc(score - TWO63) ^ (1 << 63)
    } else {
        trunc(score)
    }
}

/// decodeGeohash: the (longitude, latitude) of a score, the centre of its cell clamped
/// to the ranges.
pub fn decode_score(score: f64) -> (f64, f64) {
    let bits = score_bits(score);
    (cell_centre(squash(bits >> 1), LONG_RANGE), cell_centre(squash(bits), LAT_RANGE))
}

/// One axis of decodeGeohash at full precision: geohashDecode's cell bounds (same
/// operations, so the same bits), their middle, clamped to the range.
#[inline]
fn cell_centre(cell: u32, range: Range) -> f64 {
    let scale = (1u64 << STEP_MAX) as f64;
    let span = range.max - range.min;
    let min = range.min + (cell as f64 / scale) * span;
    let max = range.min + (cell.wrapping_add(1) as f64 / scale) * span;
    ((min + max) / 2.0).clamp(range.min, range.max)
}

/// The standard 11-character geohash of a score (GEOHASH): decoded, re-encoded over the
/// standard latitude range [-90, 90], 52 bits in 10 base-32 characters and a '0'.
pub fn standard_hash(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let bits = encode(LONG_RANGE, Range { min: -90.0, max: 90.0 }, lon, lat, STEP_MAX).map_or(0, |b| b.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

// ------------------------------------------------------------------ neighbours

/// One cell over in longitude (the odd bits), wrapping.
fn move_x(h: &mut Bits, d: i8) {
    move_along(h, d, 0xaaaa_aaaa_aaaa_aaaa);
}

/// One cell over in latitude (the even bits), wrapping.
fn move_y(h: &mut Bits, d: i8) {
    move_along(h, d, 0x5555_5555_5555_5555);
}

/// Add or subtract one in the interleaved bits `mask` selects, leaving the others alone: the
/// other bits are set to ones so the carry or borrow runs through them.
fn move_along(h: &mut Bits, d: i8, mask: u64) {
    let shift = 64 - 2 * h.step as u32;
    let mut moved = h.bits & mask;
    let kept = h.bits & !mask;
    let zz = !mask >> shift;
    if d > 0 {
        moved = moved.wrapping_add(zz + 1);
    } else {
        moved |= zz;
        moved = moved.wrapping_sub(zz + 1);
    }
    moved &= mask >> shift;
    h.bits = moved | kept;
}

/// The 8 neighbours of a cell, in the order Redis scans them after the centre.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Neighbors {
    pub north: Bits,
    pub south: Bits,
    pub east: Bits,
    pub west: Bits,
    pub north_east: Bits,
    pub north_west: Bits,
    pub south_east: Bits,
    pub south_west: Bits,
}

pub fn neighbors(h: Bits) -> Neighbors {
    let at = |dx: i8, dy: i8| {
        let mut b = h;
        if dx != 0 {
            move_x(&mut b, dx);
        }
        if dy != 0 {
            move_y(&mut b, dy);
        }
        b
    };
    Neighbors {
        north: at(0, 1),
        south: at(0, -1),
        east: at(1, 0),
        west: at(-1, 0),
        north_east: at(1, 1),
        north_west: at(-1, 1),
        south_east: at(1, -1),
        south_west: at(-1, -1),
    }
}

// ------------------------------------------------------------------ distances

/// geohashGetLatDistance: metres along a meridian.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// geohashGetDistance: the haversine distance in metres.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    haversine(lon1, lat1, lon2, lat2, |r| r.cos(), |r| r.cos())
}

/// geohashGetDistance with the cosines of the latitudes (in radians) given by `cos1` and
/// `cos2`, so that a search reuses its centre's (the same value: cos is deterministic).
#[inline]
fn haversine(
    lon1: f64,
    lat1: f64,
    lon2: f64,
    lat2: f64,
    cos1: impl FnOnce(f64) -> f64,
    cos2: impl FnOnce(f64) -> f64,
) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    // Same meridian: the cheaper formula, as Redis (the results differ in the last bits).
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + cos1(lat1r) * cos2(lat2r) * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

// ------------------------------------------------------------------ searches

/// What a search covers, in the unit the user gave (`conversion` metres per unit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search: centre, shape and unit.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    pub lon: f64,
    pub lat: f64,
    pub shape: Shape,
    /// Metres per unit.
    pub conversion: f64,
    /// cos of the centre's latitude, which every distance from the centre needs.
    cos_lat: f64,
}

/// A member found by a search, borrowed from the set.
#[derive(Clone, Copy)]
pub struct Point<'a> {
    pub lon: f64,
    pub lat: f64,
    /// Metres until `types::geo` converts it to the unit.
    pub dist: f64,
    pub score: f64,
    /// Read when replied or stored: fetched in the background meanwhile.
    pub member: MemberRef<'a>,
}

impl Search {
    pub fn new(lon: f64, lat: f64, shape: Shape, conversion: f64) -> Search {
        Search { lon, lat, shape, conversion, cos_lat: deg_rad(lat).cos() }
    }

    /// geohashBoundingBox: [min_lon, min_lat, max_lon, max_lat].
    fn bounding_box(&self) -> [f64; 4] {
        let (h, w) = match self.shape {
            Shape::Radius(r) => (r, r),
            Shape::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let (height, width) = (self.conversion * h, self.conversion * w);
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat - lat_delta).cos());
        // Parallels shrink towards the pole: the widest one is on the equator's side.
        let long_delta = if self.lat < 0.0 { long_delta_bottom } else { long_delta_top };
        [self.lon - long_delta, self.lat - lat_delta, self.lon + long_delta, self.lat + lat_delta]
    }

    /// geohashCalculateAreasByShapeWGS84: the centre cell and its neighbours, in scan
    /// order; a neighbour outside the bounding box is `None`.
    pub fn areas(&self) -> [Option<Bits>; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius_meters = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt(),
        } * self.conversion;
        let mut steps = estimate_steps(radius_meters, self.lat);
        let at = |steps: u8| {
            let hash =
                encode(LONG_RANGE, LAT_RANGE, self.lon, self.lat, steps).unwrap_or(Bits { bits: 0, step: steps });
            (hash, neighbors(hash), decode(hash))
        };
        let (mut hash, mut nb, mut area) = at(steps);
        // A neighbour that does not reach the bounding box's edge: one step coarser.
        let decrease = decode(nb.north).latitude.max < max_lat
            || decode(nb.south).latitude.min > min_lat
            || decode(nb.east).longitude.max < max_lon
            || decode(nb.west).longitude.min > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            (hash, nb, area) = at(steps);
        }
        if steps >= 2 {
            let zero = Bits::default();
            if area.latitude.min < min_lat {
                (nb.south, nb.south_west, nb.south_east) = (zero, zero, zero);
            }
            if area.latitude.max > max_lat {
                (nb.north, nb.north_east, nb.north_west) = (zero, zero, zero);
            }
            if area.longitude.min < min_lon {
                (nb.west, nb.south_west, nb.north_west) = (zero, zero, zero);
            }
            if area.longitude.max > max_lon {
                (nb.east, nb.south_east, nb.north_east) = (zero, zero, zero);
            }
        }
        let keep = |b: Bits| if b.is_zero() { None } else { Some(b) };
        [
            keep(hash),
            keep(nb.north),
            keep(nb.south),
            keep(nb.east),
            keep(nb.west),
            keep(nb.north_east),
            keep(nb.north_west),
            keep(nb.south_east),
            keep(nb.south_west),
        ]
    }

    /// geoWithinShape: the point of `score` and its distance in metres, if inside.
    #[inline]
    pub fn within(&self, score: f64) -> Option<(f64, f64, f64)> {
        match self.shape {
            Shape::Radius(r) => {
                let radius = r * self.conversion;
                let bits = score_bits(score);
                let lat = cell_centre(squash(bits), LAT_RANGE);
                // A great circle is never shorter than its meridian component: a point that
                // far in latitude alone is out, without the trigonometry (nor its longitude
                // decoded). The margin leaves the points near the edge to the exact test.
                if lat_distance(self.lat, lat) > radius * (1.0 + 1e-9) + 1e-6 {
                    return None;
                }
                let lon = cell_centre(squash(bits >> 1), LONG_RANGE);
                let d = haversine(self.lon, self.lat, lon, lat, |_| self.cos_lat, |r| r.cos());
                (d <= radius).then_some((lon, lat, d))
            }
            Shape::Box { width, height } => {
                let (lon, lat) = decode_score(score);
                // Latitude first: it is cheaper.
                if lat_distance(lat, self.lat) > height * self.conversion / 2.0 {
                    return None;
                }
                let cos = deg_rad(lat).cos();
                if haversine(lon, lat, self.lon, lat, |_| cos, |_| cos) > width * self.conversion / 2.0 {
                    return None;
                }
                Some((lon, lat, haversine(self.lon, self.lat, lon, lat, |_| self.cos_lat, |_| cos)))
            }
        }
    }

    /// membersOfAllNeighbors: append to `out` the members of `z` inside the shape, box by
    /// box. `limit` (COUNT with ANY; 0: none) stops the scan once `out` holds that many.
    pub fn scan<'z>(&self, z: &'z ZSet, limit: usize, out: &mut Vec<Point<'z>>) {
        let boxes = self.areas();
        // The boxes' leaves are far apart in the tree: their misses overlap when all are
        // asked for before the first is read.
        for b in boxes.iter().flatten() {
            z.prefetch_from_score(b.align52() as f64);
        }
        let mut last: Option<usize> = None;
        for (i, b) in boxes.iter().enumerate() {
            let Some(b) = *b else { continue };
            // Huge radii give equal neighbours: skip a repeat of the box scanned last,
            // which Redis cannot notice when that box is the centre (index 0).
            if let Some(l) = last.filter(|&l| l > 0) {
                if boxes[l] == Some(b) {
                    continue;
                }
            }
            if limit > 0 && out.len() >= limit {
                break;
            }
            self.scan_box(z, b, limit, out);
            last = Some(i);
        }
    }

    /// geoGetPointsInRange over the box's scores [min, max).
    fn scan_box<'z>(&self, z: &'z ZSet, b: Bits, limit: usize, out: &mut Vec<Point<'z>>) {
        let min = b.align52() as f64;
        let max = Bits { bits: b.bits + 1, step: b.step }.align52() as f64;
        z.scan_from_score(min, |score, member| {
            if score >= max {
                return false;
            }
            if let Some((lon, lat, dist)) = self.within(score) {
                member.prefetch();
                out.push(Point { lon, lat, dist, score, member });
            }
            !(limit > 0 && out.len() >= limit)
        });
    }
}

/// geohashEstimateStepsByRadius.
pub fn estimate_steps(range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut range = range_meters;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    // Make sure the range is included in most of the base cases.
    step -= 2;
    // Wider cells towards the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

// ------------------------------------------------------------------ ordering

/// Redis's sort_gp_asc: by distance only; ties keep the order the sort leaves them in.
#[inline]
fn by_dist(a: &Point, b: &Point) -> Ordering {
    if a.dist > b.dist {
        Ordering::Greater
    } else if a.dist == b.dist {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

/// Sort the points by distance (descending when `desc`) as Redis does: a whole result with
/// glibc's qsort (a merge sort: stable), a result cut to its first `keep` with pqsort.
pub fn sort_points(points: &mut [Point], keep: usize, desc: bool) {
    let cmp = |a: &Point, b: &Point| if desc { by_dist(b, a) } else { by_dist(a, b) };
    if keep >= points.len() {
        points.sort_by(cmp);
    } else if keep > 0 {
        pqsort(points, &cmp, keep - 1);
    }
}

/// Redis's pqsort (NetBSD's qsort.c, Bentley & McIlroy's "Engineering a sort function",
/// that recurses only into partitions reaching the ranks [0, last]): reproduced swap for
/// swap because equal distances end up in its order.
fn pqsort<T: Copy>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering, last: usize) {
    let mut a = 0usize;
    let mut n = v.len();
    let lt0 = |o: Ordering| o == Ordering::Less;
    let gt0 = |o: Ordering| o == Ordering::Greater;
    let med3 = |v: &[T], a: usize, b: usize, c: usize| -> usize {
        if lt0(cmp(&v[a], &v[b])) {
            if lt0(cmp(&v[b], &v[c])) {
                b
            } else if lt0(cmp(&v[a], &v[c])) {
                c
            } else {
                a
            }
        } else if gt0(cmp(&v[b], &v[c])) {
            b
        } else if lt0(cmp(&v[a], &v[c])) {
            a
        } else {
            c
        }
    };
    let vecswap = |v: &mut [T], a: usize, b: usize, n: usize| {
        for i in 0..n {
            v.swap(a + i, b + i);
        }
    };
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && gt0(cmp(&v[pl - 1], &v[pl])) {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d);
                pm = med3(v, pm - d, pm, pm + d);
                pn = med3(v, pn - 2 * d, pn - d, pn);
            }
            pm = med3(v, pl, pm, pn);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let r = cmp(&v[pb], &v[a]);
                if gt0(r) {
                    break;
                }
                if r == Ordering::Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(&v[pc], &v[a]);
                if lt0(r) {
                    break;
                }
                if r == Ordering::Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        // A partition starting past `last` holds no rank we return: not sorted.
        let r = pb - pa;
        if r > 1 && a <= last {
            pqsort_from(v, cmp, a, r, last);
        }
        let r = pd - pc;
        if r > 1 && pn - r <= last {
            a = pn - r;
            n = r;
            continue;
        }
        return;
    }
}

/// pqsort's recursion on the sub-slice [a, a + n).
fn pqsort_from<T: Copy>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering, a: usize, n: usize, last: usize) {
    pqsort(&mut v[a..a + n], cmp, last - a);
}

// ------------------------------------------------------------------ number formatting

/// fixedpoint_d2string(d, 4): llrint(d * 10^4) with 4 decimals ("0.0000" for zero).
pub fn fmt_distance(d: f64, out: &mut Vec<u8>) {
    let v = (d * 10000.0).round_ties_even();
    let v = crate::util::number::c_double_to_i64(v);
    if v < 0 {
        out.push(b'-');
    }
    let u = v.unsigned_abs();
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(u / 10000).as_bytes());
    let frac = u % 10000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 1000) as u8,
        b'0' + (frac / 100 % 10) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

/// ld2string's human mode of a double: "%.17Lf" (exact: a double is exact as a long
/// double, and both printf and Rust round the exact decimal value half to even), trailing
/// zeros and point removed, "-0" as "0".
pub fn fmt_coord(v: f64, out: &mut Vec<u8>) {
    use std::io::Write;
    let start = out.len();
    if !v.is_finite() {
        // Never a decoded coordinate; the long double code has its own spelling.
        out.extend_from_slice(&crate::util::number::fmt_ld_human(v));
        return;
    }
    let _ = write!(out, "{v:.17}");
    while out.last() == Some(&b'0') {
        out.pop();
    }
    if out.last() == Some(&b'.') {
        out.pop();
    }
    if &out[start..] == b"-0" {
        out.truncate(start);
        out.push(b'0');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for &(a, b) in &[(0u32, 0u32), (1, 0), (0, 1), (0x3ff_ffff, 0x155_5555), (u32::MAX, 7)] {
            assert_eq!(deinterleave(interleave(a, b)), (a, b));
        }
        assert_eq!(interleave(1, 0), 1);
        assert_eq!(interleave(0, 1), 2);
    }

    #[test]
    fn known_scores_and_positions() {
        // GEOADD k 13.361389 38.115556 Palermo on Redis 7.2: score 3479099956230698.
        assert_eq!(encode_score(13.361389, 38.115556), Some(3479099956230698));
        let (lon, lat) = decode_score(3479099956230698.0);
        let mut s = Vec::new();
        fmt_coord(lon, &mut s);
        s.push(b' ');
        fmt_coord(lat, &mut s);
        assert_eq!(s, b"13.36138933897018433 38.11555639549629859");
        assert_eq!(&standard_hash(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(encode_score(180.1, 0.0), None);
        assert_eq!(encode_score(0.0, 85.06), None);
    }

    #[test]
    fn encode_decode_round_trip_stays_in_the_cell() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..10_000 {
            let lon = -180.0 + 360.0 * next();
            let lat = LAT_MIN + (LAT_MAX - LAT_MIN) * next();
            let score = encode_score(lon, lat).unwrap();
            assert!(score < 1 << 52);
            let (dlon, dlat) = decode_score(score as f64);
            assert!((dlon - lon).abs() < 360.0 / (1u64 << 26) as f64);
            assert!((dlat - lat).abs() < 171.0 / (1u64 << 26) as f64);
            assert_eq!(encode_score(dlon, dlat), Some(score));
        }
    }

    #[test]
    fn scores_decode_as_c_casts_them() {
        assert_eq!(score_bits(-1.0), u64::MAX);
        assert_eq!(score_bits(-0.5), 0);
        assert_eq!(score_bits(f64::INFINITY), 0);
        assert_eq!(score_bits(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(score_bits(9223372036854775808.0), 1 << 63);
        assert_eq!(score_bits(18446744073709551616.0), 0);
    }

    #[test]
    fn neighbours_wrap_and_are_adjacent() {
        let h = encode(LONG_RANGE, LAT_RANGE, 0.0, 0.0, 4).unwrap();
        let n = neighbors(h);
        let c = decode(h);
        assert_eq!(decode(n.north).latitude.min, c.latitude.max);
        assert_eq!(decode(n.south).latitude.max, c.latitude.min);
        assert_eq!(decode(n.east).longitude.min, c.longitude.max);
        assert_eq!(decode(n.west).longitude.max, c.longitude.min);
        // Across the antimeridian: the eastern neighbour of the last cell is the first.
        let h = encode(LONG_RANGE, LAT_RANGE, 179.9, 10.0, 5).unwrap();
        assert_eq!(decode(neighbors(h).east).longitude.min, -180.0);
        let w = encode(LONG_RANGE, LAT_RANGE, -179.9, 10.0, 5).unwrap();
        assert_eq!(neighbors(h).east, w);
    }

    #[test]
    fn distances() {
        // GEODIST Palermo Catania on Redis 7.2: 166274.1516 m.
        let (a, b) = (decode_score(3479099956230698.0), decode_score(3479447370796909.0));
        let mut s = Vec::new();
        fmt_distance(distance(a.0, a.1, b.0, b.1), &mut s);
        assert_eq!(s, b"166274.1516");
        s.clear();
        fmt_distance(0.0, &mut s);
        assert_eq!(s, b"0.0000");
        s.clear();
        fmt_distance(0.00004, &mut s);
        assert_eq!(s, b"0.0000");
        s.clear();
        fmt_distance(12.00005, &mut s);
        assert_eq!(s, b"12.0000");
        assert_eq!(distance(10.0, 20.0, 10.0, 21.0), lat_distance(20.0, 21.0));
    }

    #[test]
    fn coordinates_print_as_the_long_double_code() {
        let mut seed = 42u64;
        for i in 0..20_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = match i % 3 {
                0 => (seed >> 11) as f64 / (1u64 << 53) as f64 * 360.0 - 180.0,
                1 => ((seed >> 40) as f64) / 1024.0 - 4096.0,
                _ => f64::from_bits(seed) % 1000.0,
            };
            if !v.is_finite() {
                continue;
            }
            let mut s = Vec::new();
            fmt_coord(v, &mut s);
            assert_eq!(s, crate::util::number::fmt_ld_human(v), "{v:e}");
        }
        let mut s = Vec::new();
        fmt_coord(-0.0, &mut s);
        assert_eq!(s, b"0");
    }

    /// `Search::within` (latitude pre-check, the centre's cosine reused) decides and measures
    /// exactly as geoWithinShape's plain formulas do.
    #[test]
    fn within_agrees_with_the_plain_formulas() {
        let mut seed = 99u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for i in 0..200_000 {
            let (lon, lat) = (next() * 360.0 - 180.0, next() * 170.0 - 85.0);
            let spread = [0.001, 0.1, 5.0, 90.0][i % 4];
            let plon = (lon + (next() - 0.5) * spread).clamp(LONG_MIN, LONG_MAX);
            let plat = (lat + (next() - 0.5) * spread).clamp(LAT_MIN, LAT_MAX);
            let score = encode_score(plon, plat).unwrap() as f64;
            let (dlon, dlat) = decode_score(score);
            let d = distance(lon, lat, dlon, dlat);
            // Radii right at the point's distance, either side, and ordinary ones.
            let r = match i % 3 {
                0 => d,
                1 => d * (1.0 - 1e-15),
                _ => next() * spread * 100_000.0,
            };
            let s = Search::new(lon, lat, Shape::Radius(r), 1.0);
            let want = (d <= r).then_some((dlon, dlat, d));
            assert_eq!(s.within(score), want, "radius {r} around ({lon}, {lat}), point ({dlon}, {dlat})");
            let (w, h) = (next() * spread * 200_000.0, next() * spread * 200_000.0);
            let s = Search::new(lon, lat, Shape::Box { width: w, height: h }, 1.0);
            let inside = lat_distance(dlat, lat) <= h / 2.0 && distance(dlon, dlat, lon, dlat) <= w / 2.0;
            assert_eq!(s.within(score), inside.then_some((dlon, dlat, d)));
        }
    }

    #[test]
    fn steps() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1e9, 0.0), 1);
        assert!(estimate_steps(1000.0, 70.0) < estimate_steps(1000.0, 0.0));
        assert!(estimate_steps(1000.0, 81.0) < estimate_steps(1000.0, 70.0));
    }

    #[test]
    fn pqsort_sorts_the_requested_prefix() {
        let mut seed = 7u64;
        for n in 1..200usize {
            let mut v: Vec<(u32, usize)> = (0..n)
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((seed >> 60) as u32, i)
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_by_key(|x| x.0);
            let keep = 1 + (seed as usize >> 3) % n;
            pqsort(&mut v, &|a: &(u32, usize), b: &(u32, usize)| a.0.cmp(&b.0), keep - 1);
            let got: Vec<u32> = v[..keep].iter().map(|x| x.0).collect();
            let want: Vec<u32> = sorted[..keep].iter().map(|x| x.0).collect();
            assert_eq!(got, want, "n={n} keep={keep}");
            let mut ids: Vec<usize> = v.iter().map(|x| x.1).collect();
            ids.sort();
            assert_eq!(ids, (0..n).collect::<Vec<_>>());
        }
    }
}
