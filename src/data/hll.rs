//! HyperLogLog: Redis's exact representation (hyperloglog.c), stored as a string value so
//! GET/SET/DUMP move it between servers byte for byte.
//!
//! Layout: a 16-byte header, "HYLL", the encoding (0 dense, 1 sparse), three unused bytes and
//! the cached cardinality (8 bytes little-endian; bit 7 of the last byte set means "stale"),
//! then the 16384 registers:
//! - dense: 6 bits each, packed little-endian (register i at bit 6*i), 12288 bytes;
//! - sparse: run-length opcodes, ZERO `00xxxxxx` (1..64 zero registers), XZERO `01xxxxxx
//!   yyyyyyyy` (1..16384 zero registers) and VAL `1vvvvvxx` (1..4 registers of value 1..32).
//!
//! An element hashes (MurmurHash64A, seed 0xadc83b19) to a register (the low 14 bits) and a
//! run length (1 + trailing zeros of the other 50 bits). A sparse value becomes dense when an
//! update would grow it past `hll-sparse-max-bytes` or needs a value above 32.
//!
//! Redis's sparse editing is reproduced step by step (the split into up to five opcodes, the
//! merge of equal neighbouring VALs within five opcodes of the change): the bytes it leaves are
//! not a canonical encoding, and GET must return exactly them. Where Redis reads the byte after
//! the string (an XZERO cut in half: sds's terminator) we read 0, so hand-made values give its
//! answers without reading out of bounds.
//!
//! Counting merges registers into a byte per register and takes a histogram of the values
//! (Ertl's estimator, Redis's hllCount). Dense registers are unpacked 16 at a time with SSSE3
//! (runtime detected; a portable path otherwise), which is what makes PFCOUNT of several keys
//! and PFMERGE cheap.

use super::bytes::CompactBytes;

pub const HDR: usize = 16;
pub const REGISTERS: usize = 1 << 14;
const P_MASK: u64 = REGISTERS as u64 - 1;
const Q: u32 = 50;
/// Header plus 16384 six-bit registers.
pub const DENSE_SIZE: usize = HDR + REGISTERS * 6 / 8;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
// 1 / (2 ln 2), Redis's HLL_ALPHA_INF (0.721347520444481703680) as the nearest double.
const ALPHA_INF: f64 = 0.7213475204444817;
const SEED: u64 = 0xadc83b19;

/// What the bytes of a string are not, for the two errors Redis gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Too short, wrong magic or encoding, a dense value of the wrong length (WRONGTYPE).
    NotHll,
    /// Sparse opcodes that do not cover exactly the registers (INVALIDOBJ).
    Corrupt,
}

/// Registers one byte each: what PFCOUNT of several keys and PFMERGE build.
pub type Raw = [u8; REGISTERS];

/// A new, empty HLL as PFADD/PFMERGE create it (createHLLObject): sparse, one XZERO.
pub fn new_empty() -> [u8; HDR + 2] {
    let mut v = [0u8; HDR + 2];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    v[HDR] = 0x40 | ((REGISTERS - 1) >> 8) as u8;
    v[HDR + 1] = ((REGISTERS - 1) & 0xff) as u8;
    v
}

/// Redis's isHLLObjectOrReply checks on the string's bytes.
pub fn check(b: &[u8]) -> Result<(), Invalid> {
    if b.len() < HDR || &b[..4] != b"HYLL" || b[4] > SPARSE || (b[4] == DENSE && b.len() != DENSE_SIZE) {
        return Err(Invalid::NotHll);
    }
    Ok(())
}

pub fn is_dense(b: &[u8]) -> bool {
    b[4] == DENSE
}

/// The cached cardinality, if it is not marked stale.
pub fn cached(b: &[u8]) -> Option<u64> {
    (b[15] & 0x80 == 0).then(|| u64::from_le_bytes(b[8..16].try_into().unwrap()))
}

pub fn set_cached(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

/// MurmurHash64A as Redis has it (little-endian loads).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and its run length (hllPatLen).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & P_MASK) as usize;
    let rest = (hash >> 14) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---- dense registers

#[inline]
fn dense_get(r: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (byte, fb) = (bit / 8, bit & 7);
    let b0 = r[byte] as u16;
    let b1 = r.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

#[inline]
fn dense_put(r: &mut [u8], i: usize, val: u8) {
    let bit = i * 6;
    let (byte, fb) = (bit / 8, bit & 7);
    let v = (val as u16 & 63) << fb;
    let mask = !(63u16 << fb);
    r[byte] = ((r[byte] as u16 & mask) | v) as u8;
    if let Some(b1) = r.get_mut(byte + 1) {
        *b1 = ((*b1 as u16 & (mask >> 8)) | (v >> 8)) as u8;
    }
}

/// hllDenseSet: raise register `i` to `count`; whether it changed.
fn dense_set(r: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(r, i) {
        dense_put(r, i, count);
        true
    } else {
        false
    }
}

/// acc[i] = max(acc[i], register i) over a dense register area (12288 bytes).
pub fn dense_max_into(regs: &[u8], acc: &mut Raw) {
    debug_assert_eq!(regs.len(), REGISTERS * 6 / 8);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("ssse3") {
            // SAFETY: the feature was detected just above.
            unsafe { simd::max_into_ssse3(regs, acc) };
            return;
        }
    }
    max_into_portable(regs, acc, 0);
}

/// The portable unpack-and-max from 3-byte group `from` on (4 registers per group).
fn max_into_portable(regs: &[u8], acc: &mut Raw, from: usize) {
    for (g, out) in regs.chunks_exact(3).zip(acc.chunks_exact_mut(4)).skip(from) {
        let v = g[0] as u32 | (g[1] as u32) << 8 | (g[2] as u32) << 16;
        for (k, o) in out.iter_mut().enumerate() {
            *o = (*o).max(((v >> (6 * k)) & 63) as u8);
        }
    }
}

/// Pack byte registers (each <= 63) into a dense register area.
pub fn dense_pack(src: &Raw, regs: &mut [u8]) {
    debug_assert_eq!(regs.len(), REGISTERS * 6 / 8);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("ssse3") {
            // SAFETY: the feature was detected just above.
            unsafe { simd::pack_ssse3(src, regs) };
            return;
        }
    }
    pack_portable(src, regs, 0);
}

fn pack_portable(src: &Raw, regs: &mut [u8], from: usize) {
    for (out, r) in regs.chunks_exact_mut(3).zip(src.chunks_exact(4)).skip(from) {
        let v =
            (r[0] & 63) as u32 | ((r[1] & 63) as u32) << 6 | ((r[2] & 63) as u32) << 12 | ((r[3] & 63) as u32) << 18;
        out.copy_from_slice(&v.to_le_bytes()[..3]);
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{max_into_portable, pack_portable, Raw};
    use std::arch::x86_64::*;

    /// 12 bytes -> 16 registers per step: each 32-bit lane takes 3 bytes (pshufb), then the
    /// four 6-bit fields move to the lane's four bytes with shifts and masks. The last step
    /// would load past the area: the portable code does its 4 groups.
    #[target_feature(enable = "ssse3")]
    pub unsafe fn max_into_ssse3(regs: &[u8], acc: &mut Raw) {
        let spread = _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
        let (m0, m1, m2, m3) =
            (_mm_set1_epi32(0x3f), _mm_set1_epi32(0x3f00), _mm_set1_epi32(0x3f0000), _mm_set1_epi32(0x3f000000));
        let steps = regs.len() / 12 - 1;
        for k in 0..steps {
            let v = _mm_shuffle_epi8(_mm_loadu_si128(regs.as_ptr().add(12 * k) as *const __m128i), spread);
            let r = _mm_or_si128(
                _mm_or_si128(_mm_and_si128(v, m0), _mm_and_si128(_mm_slli_epi32(v, 2), m1)),
                _mm_or_si128(_mm_and_si128(_mm_slli_epi32(v, 4), m2), _mm_and_si128(_mm_slli_epi32(v, 6), m3)),
            );
            let dst = acc.as_mut_ptr().add(16 * k) as *mut __m128i;
            _mm_storeu_si128(dst, _mm_max_epu8(_mm_loadu_si128(dst), r));
        }
        max_into_portable(regs, acc, steps * 4);
    }

    /// The inverse: each lane's four bytes become 24 bits, pshufb gathers 12 bytes, and the
    /// 16-byte store's last 4 bytes are overwritten by the next step (the last step portable).
    #[target_feature(enable = "ssse3")]
    pub unsafe fn pack_ssse3(src: &Raw, regs: &mut [u8]) {
        let gather = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
        let (m0, m1, m2, m3) =
            (_mm_set1_epi32(0x3f), _mm_set1_epi32(0xfc0), _mm_set1_epi32(0x3f000), _mm_set1_epi32(0xfc0000));
        let steps = regs.len() / 12 - 1;
        for k in 0..steps {
            let v = _mm_loadu_si128(src.as_ptr().add(16 * k) as *const __m128i);
            let p = _mm_or_si128(
                _mm_or_si128(_mm_and_si128(v, m0), _mm_and_si128(_mm_srli_epi32(v, 2), m1)),
                _mm_or_si128(_mm_and_si128(_mm_srli_epi32(v, 4), m2), _mm_and_si128(_mm_srli_epi32(v, 6), m3)),
            );
            _mm_storeu_si128(regs.as_mut_ptr().add(12 * k) as *mut __m128i, _mm_shuffle_epi8(p, gather));
        }
        pack_portable(src, regs, steps * 4);
    }
}

// ---- sparse opcodes

#[derive(Clone, Copy)]
enum Op {
    /// A run of zero registers; `len` bytes of opcode.
    Zero {
        run: usize,
        len: usize,
    },
    Val {
        val: u8,
        run: usize,
    },
}

/// The opcode at `p` (< b.len()); an XZERO cut by the end reads a 0 second byte, as Redis
/// reads sds's terminator.
#[inline]
fn op_at(b: &[u8], p: usize) -> Op {
    let o = b[p];
    if o & 0x80 != 0 {
        Op::Val { val: ((o >> 2) & 31) + 1, run: (o & 3) as usize + 1 }
    } else if o & 0x40 == 0 {
        Op::Zero { run: (o & 0x3f) as usize + 1, len: 1 }
    } else {
        let y = b.get(p + 1).copied().unwrap_or(0) as usize;
        Op::Zero { run: (((o & 0x3f) as usize) << 8 | y) + 1, len: 2 }
    }
}

#[inline]
fn val_op(val: u8, run: usize) -> u8 {
    0x80 | (val - 1) << 2 | (run - 1) as u8
}

/// The opcodes one sparse split writes (at most XZERO VAL XZERO).
type Seq = smallvec::SmallVec<[u8; 5]>;

/// Append a ZERO or XZERO of `run` registers.
fn push_zero(seq: &mut Seq, run: usize) {
    if run > ZERO_MAX_LEN {
        let l = run - 1;
        seq.push(0x40 | (l >> 8) as u8);
        seq.push((l & 0xff) as u8);
    } else {
        seq.push((run - 1) as u8);
    }
}

/// Walk the sparse opcodes, stopping (as hllMerge and hllSparseToDense do) at a VAL that
/// would run past the last register; `f` gets (first register, value, run) of each VAL.
/// Ok if the opcodes covered exactly the registers.
fn sparse_walk(b: &[u8], mut f: impl FnMut(usize, u8, usize)) -> Result<(), Invalid> {
    let (mut p, mut idx) = (HDR, 0usize);
    while p < b.len() {
        match op_at(b, p) {
            Op::Zero { run, len } => {
                idx += run;
                p += len;
                if idx > REGISTERS {
                    // Redis walks on, but no VAL can be taken any more: the outcome is known.
                    return Err(Invalid::Corrupt);
                }
            }
            Op::Val { val, run } => {
                if idx + run > REGISTERS {
                    break;
                }
                f(idx, val, run);
                idx += run;
                p += 1;
            }
        }
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Invalid::Corrupt)
    }
}

/// acc[i] = max(acc[i], register i) of a valid HLL (hllMerge).
pub fn max_into(b: &[u8], acc: &mut Raw) -> Result<(), Invalid> {
    if is_dense(b) {
        dense_max_into(&b[HDR..], acc);
        return Ok(());
    }
    sparse_walk(b, |first, val, run| {
        for a in &mut acc[first..first + run] {
            *a = (*a).max(val);
        }
    })
}

/// The dense form of a sparse value (hllSparseToDense): header copied (cache included).
fn sparse_to_dense(b: &[u8]) -> Result<Vec<u8>, Invalid> {
    let mut raw = [0u8; REGISTERS];
    sparse_walk(b, |first, val, run| raw[first..first + run].fill(val))?;
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&b[..HDR]);
    d[4] = DENSE;
    dense_pack(&raw, &mut d[HDR..]);
    Ok(d)
}

/// The result of one sparse update.
enum Set {
    Unchanged,
    Changed,
    /// Needs the dense encoding (a value above 32, or longer than the limit).
    Promote,
}

/// Opcode boundaries (offset, first register) a sparse scan has passed, in order. PFMERGE
/// sets registers in ascending order, and an update leaves every opcode before the one that
/// precedes the change alone, so its next scan resumes there instead of at the header.
type Path = Vec<(usize, usize)>;

/// hllSparseSet up to (not including) promotion: raise register `index` to `count` in the
/// sparse value `v`, editing the opcodes exactly as Redis does. `path`, if given, is where
/// the scan starts (empty: the first opcode) and is left ending at the previous opcode.
fn sparse_set(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
    path: Option<&mut Path>,
) -> Result<Set, Invalid> {
    if count > VAL_MAX_VALUE {
        return Ok(Set::Promote);
    }
    // Step 1: the opcode covering `index`, and the one before it.
    let end = v.len();
    let mut path = path;
    // Resume at the path's last opcode (the one before it is its `prev`); the path then holds
    // the opcodes before the scan position, and after the scan ends at the covering one's prev.
    let (mut p, mut first, mut prev) = match path.as_deref_mut() {
        Some(pa) if !pa.is_empty() => {
            let (off, f) = pa.pop().unwrap_or((HDR, 0));
            (off, f, pa.last().copied())
        }
        _ => (HDR, 0, None),
    };
    let mut span = 0;
    while p < end {
        let (s, len) = match op_at(v, p) {
            Op::Zero { run, len } => (run, len),
            Op::Val { run, .. } => (run, 1),
        };
        span = s;
        if index < first + span {
            break;
        }
        if let Some(pa) = path.as_deref_mut() {
            pa.push((p, first));
        }
        prev = Some((p, first));
        p += len;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Invalid::Corrupt);
    }
    let prev = prev.map_or(HDR, |x| x.0);
    let op = op_at(v, p);
    let last = first + span - 1;
    // Step 2: trivial in-place cases.
    match op {
        Op::Val { val, run } => {
            if val >= count {
                return Ok(Set::Unchanged);
            }
            if run == 1 {
                v[p] = val_op(count, 1);
                merge_vals(v, prev);
                return Ok(Set::Changed);
            }
        }
        Op::Zero { run: 1, len: 1 } => {
            v[p] = val_op(count, 1);
            merge_vals(v, prev);
            return Ok(Set::Changed);
        }
        Op::Zero { .. } => {}
    }
    // Step 3: split the opcode into up to five bytes.
    let mut seq = Seq::new();
    let oldlen = match op {
        Op::Zero { len, .. } => {
            if index != first {
                push_zero(&mut seq, index - first);
            }
            seq.push(val_op(count, 1));
            if index != last {
                push_zero(&mut seq, last - index);
            }
            len
        }
        Op::Val { val, .. } => {
            if index != first {
                seq.push(val_op(val, index - first));
            }
            seq.push(val_op(count, 1));
            if index != last {
                seq.push(val_op(val, last - index));
            }
            1
        }
    };
    let new_len = end + seq.len() - oldlen;
    if seq.len() > oldlen && new_len > max_bytes {
        return Ok(Set::Promote);
    }
    // An XZERO cut by the end counts as two bytes (Redis's length arithmetic): the new
    // string keeps one byte less of the sequence.
    let old_end = (p + oldlen).min(end);
    v.splice(p..old_end, seq);
    v.truncate(new_len);
    merge_vals(v, prev);
    Ok(Set::Changed)
}

/// Step 4 of hllSparseSet: merge equal adjacent VALs, scanning five opcodes from `p`.
fn merge_vals(v: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        let o = v[p];
        if o & 0xc0 == 0x40 {
            p += 2;
            continue;
        } else if o & 0xc0 == 0 {
            p += 1;
            continue;
        }
        if p + 1 < v.len() && v[p + 1] & 0x80 != 0 {
            let (a, b) = (v[p], v[p + 1]);
            if (a >> 2) & 31 == (b >> 2) & 31 {
                let run = (a & 3) as usize + (b & 3) as usize + 2;
                if run <= VAL_MAX_LEN {
                    v[p + 1] = val_op(((a >> 2) & 31) + 1, run);
                    v.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
}

/// Set one register of a sparse Vec, promoting it to dense when needed (hllSparseSet).
fn set_in_vec(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Invalid> {
    if is_dense(v) {
        return Ok(dense_set(&mut v[HDR..], index, count));
    }
    match sparse_set(v, index, count, max_bytes, None)? {
        Set::Unchanged => Ok(false),
        Set::Changed => {
            invalidate(v);
            Ok(true)
        }
        Set::Promote => {
            *v = sparse_to_dense(v)?;
            dense_set(&mut v[HDR..], index, count);
            Ok(true)
        }
    }
}

/// PFADD's loop: add each element; how many changed a register, or the error that stopped
/// it (the elements before it stay added, as in Redis).
pub fn add<'a>(
    bytes: &mut CompactBytes,
    elements: impl IntoIterator<Item = &'a [u8]>,
    max_bytes: usize,
) -> Result<u64, Invalid> {
    let mut elements = elements.into_iter().peekable();
    if elements.peek().is_none() {
        return Ok(0);
    }
    if is_dense(bytes) {
        let r = &mut bytes.as_mut_slice()[HDR..];
        return Ok(elements
            .filter(|e| {
                let (i, c) = pat_len(e);
                dense_set(r, i, c)
            })
            .count() as u64);
    }
    bytes.with_vec(|v| {
        let mut n = 0;
        for e in elements {
            let (i, c) = pat_len(e);
            n += set_in_vec(v, i, c, max_bytes)? as u64;
        }
        Ok(n)
    })
}

/// PFDEBUG TODENSE / GETREG: make the value dense; whether it was sparse.
pub fn to_dense(bytes: &mut CompactBytes) -> Result<bool, Invalid> {
    if is_dense(bytes) {
        return Ok(false);
    }
    let dense = sparse_to_dense(bytes)?;
    bytes.with_vec(|v| *v = dense);
    Ok(true)
}

/// PFMERGE's write of the merged registers `max` (which include the destination's own) into
/// the destination: the dense encoding if `dense` (an input was dense), else Redis's register
/// by register sparse updates, promoting when they outgrow `max_bytes`.
pub fn store_merged(bytes: &mut CompactBytes, max: &Raw, dense: bool, max_bytes: usize) -> Result<(), Invalid> {
    if dense {
        to_dense(bytes)?;
    }
    if is_dense(bytes) {
        dense_pack(max, &mut bytes.as_mut_slice()[HDR..]);
        invalidate(bytes.as_mut_slice());
        return Ok(());
    }
    bytes.with_vec(|v| {
        let mut path = Path::with_capacity(64);
        for (i, &m) in max.iter().enumerate() {
            if m == 0 {
                continue;
            }
            // Redis ignores a failed update here; it cannot fail on inputs that merged.
            match sparse_set(v, i, m, max_bytes, Some(&mut path)) {
                Ok(Set::Changed | Set::Unchanged) => {}
                Err(_) => path.clear(),
                Ok(Set::Promote) => {
                    if let Ok(d) = sparse_to_dense(v) {
                        *v = d;
                        // Every register from here on becomes its maximum, the ones before
                        // it already are: the whole area is `max`.
                        dense_pack(max, &mut v[HDR..]);
                    }
                    break;
                }
            }
        }
        invalidate(v);
    });
    Ok(())
}

// ---- counting

/// Histogram of register values.
type Histo = [u32; 64];

fn raw_histo(regs: &Raw) -> Histo {
    // Four interleaved tables: consecutive increments of one counter would wait on each other.
    let mut h = [[0u32; 64]; 4];
    for w in regs.chunks_exact(8) {
        if u64::from_le_bytes(w.try_into().unwrap()) == 0 {
            h[0][0] += 8;
            continue;
        }
        for (k, &b) in w.iter().enumerate() {
            h[k & 3][(b & 63) as usize] += 1;
        }
    }
    let mut out = h[0];
    for t in &h[1..] {
        for (o, x) in out.iter_mut().zip(t) {
            *o += x;
        }
    }
    out
}

/// The sparse histogram (hllSparseRegHisto): unlike merging, a VAL past the end is counted,
/// and any total other than 16384 registers is corrupt.
fn sparse_histo(b: &[u8]) -> Result<Histo, Invalid> {
    let mut h = [0u32; 64];
    let (mut p, mut idx) = (HDR, 0usize);
    while p < b.len() {
        match op_at(b, p) {
            Op::Zero { run, len } => {
                idx += run;
                h[0] += run as u32;
                p += len;
            }
            Op::Val { val, run } => {
                idx += run;
                h[val as usize] += run as u32;
                p += 1;
            }
        }
        // The total only grows: past the registers the answer is already known.
        if idx > REGISTERS {
            return Err(Invalid::Corrupt);
        }
    }
    if idx == REGISTERS {
        Ok(h)
    } else {
        Err(Invalid::Corrupt)
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

/// Ertl's estimator as hllCount computes it, including what llroundl and the cast to
/// uint64_t give for an infinite estimate (registers above 50 everywhere): 2^63.
fn estimate(h: &Histo) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    let e = (ALPHA_INF * m * m / z).round();
    const LIMIT: f64 = 9223372036854775808.0;
    if (-LIMIT..LIMIT).contains(&e) {
        e as i64 as u64
    } else {
        1u64 << 63
    }
}

/// The cardinality of one valid HLL (hllCount); its cache is not consulted.
pub fn count(b: &[u8]) -> Result<u64, Invalid> {
    let h = if is_dense(b) {
        let mut raw = [0u8; REGISTERS];
        dense_max_into(&b[HDR..], &mut raw);
        raw_histo(&raw)
    } else {
        sparse_histo(b)?
    };
    Ok(estimate(&h))
}

/// The cardinality of merged registers.
pub fn count_raw(regs: &Raw) -> u64 {
    estimate(&raw_histo(regs))
}

// ---- PFDEBUG

/// The registers of a dense value, one byte each.
pub fn dense_registers(b: &[u8]) -> Box<Raw> {
    let mut raw = Box::new([0u8; REGISTERS]);
    dense_max_into(&b[HDR..], &mut raw);
    raw
}

/// PFDEBUG DECODE's text of a sparse value ("z:N", "Z:N", "v:VAL,N" joined by spaces).
pub fn decode(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mut p = HDR;
    while p < b.len() {
        let _ = match op_at(b, p) {
            Op::Zero { run, len: 1 } => write!(s, "z:{run} "),
            Op::Zero { run, len } => {
                p += len - 1;
                write!(s, "Z:{run} ")
            }
            Op::Val { val, run } => write!(s, "v:{val},{run} "),
        };
        p += 1;
    }
    s.truncate(s.trim_end_matches(' ').len());
    s
}

/// PFSELFTEST (pfselftestCommand): register access on a dense area, then ten million
/// elements added to a dense and a sparse HLL whose counts must agree and stay within six
/// standard errors at each power of ten. An error text on failure.
pub fn selftest(max_bytes: usize, seed: u64) -> Result<(), String> {
    // Test 1: registers written and read back, with a xorshift generator.
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut regs = vec![0u8; REGISTERS * 6 / 8];
    let mut expect = [0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, e) in expect.iter_mut().enumerate() {
            *e = (next() & 63) as u8;
            dense_put(&mut regs, i, *e);
        }
        for (i, &e) in expect.iter().enumerate() {
            if dense_get(&regs, i) != e {
                return Err(format!("TESTFAILED Register error at {i}"));
            }
        }
    }
    // Test 2: approximation error, dense against sparse.
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    let mut sparse = new_empty().to_vec();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let base = next();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ base).to_le_bytes();
        let (i, c) = pat_len(&ele);
        dense_set(&mut dense[HDR..], i, c);
        set_in_vec(&mut sparse, i, c, max_bytes).map_err(|_| "TESTFAILED sparse update failed".to_string())?;
        if j != checkpoint {
            continue;
        }
        if (j as usize) < max_bytes / 2 && is_dense(&sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).unwrap_or(0);
        if count(&sparse).ok() != Some(card) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - card as i64).unsigned_abs();
        let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
        if abserr > maxerr {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sparse_of(elems: &[&[u8]], max_bytes: usize) -> CompactBytes {
        let mut b = CompactBytes::new(&new_empty());
        add(&mut b, elems.iter().copied(), max_bytes).unwrap();
        b
    }

    #[test]
    fn empty_and_first_elements_match_redis_bytes() {
        // Bytes from redis-server 7.2.6: PFADD h a b c (sparse, cache stale).
        let b = sparse_of(&[b"a", b"b", b"c"], 3000);
        let want = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";
        assert_eq!(b.as_slice(), &want[..]);
        assert_eq!(count(&b).unwrap(), 3);
        assert_eq!(decode(&b), "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603");
        assert_eq!(decode(&new_empty()), "Z:16384");
    }

    #[test]
    fn murmur_known_values() {
        assert_eq!(murmur64a(b"", 0), 0);
        // Where the oracle puts single elements (PFDEBUG DECODE after one PFADD).
        assert_eq!(pat_len(b"a"), (12711, 2));
        assert_eq!(pat_len(b"b"), (15780, 1));
        assert_eq!(pat_len(b"c"), (8436, 1));
    }

    #[test]
    fn simd_and_portable_paths_agree() {
        let mut regs = vec![0u8; REGISTERS * 6 / 8];
        let mut x: u32 = 12345;
        for b in regs.iter_mut() {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        let mut acc1 = [7u8; REGISTERS];
        let mut acc2 = [7u8; REGISTERS];
        dense_max_into(&regs, &mut acc1);
        max_into_portable(&regs, &mut acc2, 0);
        assert_eq!(acc1[..], acc2[..]);
        for (i, &a) in acc2.iter().enumerate() {
            assert_eq!(a, dense_get(&regs, i).max(7));
        }
        let mut raw = [0u8; REGISTERS];
        max_into_portable(&regs, &mut raw, 0);
        let (mut p1, mut p2) = (vec![0u8; regs.len()], vec![0u8; regs.len()]);
        dense_pack(&raw, &mut p1);
        pack_portable(&raw, &mut p2, 0);
        assert_eq!(p1, regs);
        assert_eq!(p2, regs);
    }

    #[test]
    fn sparse_and_dense_agree_across_promotion() {
        for max_bytes in [0usize, 50, 3000] {
            let mut sp = CompactBytes::new(&new_empty());
            let mut dn = CompactBytes::new(&new_empty());
            to_dense(&mut dn).unwrap();
            for i in 0..5000u32 {
                let e = i.to_le_bytes();
                let a = add(&mut sp, [&e[..]], max_bytes).unwrap();
                let b = add(&mut dn, [&e[..]], max_bytes).unwrap();
                assert_eq!(a, b);
                check(&sp).unwrap();
            }
            assert!(is_dense(&sp));
            let mut sp2 = sp.clone();
            to_dense(&mut sp2).unwrap();
            assert_eq!(sp.as_slice()[HDR..], dn.as_slice()[HDR..]);
            assert_eq!(count(&sp).unwrap(), count(&dn).unwrap());
        }
    }

    #[test]
    fn merge_sparse_matches_register_by_register() {
        let a = sparse_of(&[b"x", b"y", b"z", b"w"], 3000);
        let b = sparse_of(&[b"1", b"2", b"3"], 3000);
        let mut max = [0u8; REGISTERS];
        max_into(&a, &mut max).unwrap();
        max_into(&b, &mut max).unwrap();
        // Reference: every register set from the header on (no cursor).
        let mut want = a.clone().into_vec();
        for (i, &m) in max.iter().enumerate() {
            if m > 0 {
                set_in_vec(&mut want, i, m, 3000).unwrap();
            }
        }
        invalidate(&mut want);
        let mut got = a.clone();
        store_merged(&mut got, &max, false, 3000).unwrap();
        assert_eq!(got.as_slice(), &want[..]);
        assert_eq!(count_raw(&max), count(&got).unwrap());
    }

    #[test]
    fn corrupt_values_error_without_panicking() {
        let mut hdr = new_empty()[..HDR].to_vec();
        for tail in [&b""[..], b"\x7f", b"\x7f\xfe", b"\x7f\xff\x80", b"\xff\xff\xff", b"\x40"] {
            let mut v = hdr.clone();
            v.extend_from_slice(tail);
            let _ = count(&v);
            let mut m = [0u8; REGISTERS];
            let _ = max_into(&v, &mut m);
            let mut b = CompactBytes::new(&v);
            let _ = add(&mut b, [&b"x"[..], b"y", b"zz"], 3000);
            let _ = decode(&v);
        }
        hdr[4] = 2;
        assert_eq!(check(&hdr), Err(Invalid::NotHll));
        assert_eq!(check(b"HYLL"), Err(Invalid::NotHll));
    }

    #[test]
    fn estimate_of_saturated_registers_is_two_to_the_63() {
        let mut v = vec![0xffu8; DENSE_SIZE];
        v[..HDR].copy_from_slice(&new_empty()[..HDR]);
        v[4] = DENSE;
        assert_eq!(count(&v).unwrap(), 1 << 63);
        assert_eq!(count(&new_empty()).unwrap(), 0);
    }
}
