//! Word-at-a-time bit loops shared by the bitmap commands (Redis's bitops.c): population
//! count, first set or clear bit, and AND/OR/XOR/NOT of byte strings.
//!
//! Bits are numbered as Redis numbers them: bit 0 is the most significant bit of byte 0, so a
//! string read as big-endian words keeps that order inside each word (`leading_zeros` finds
//! the first set bit).
//!
//! BITCOUNT of a 1 MB bitmap and BITOP of two are scanning commands: their cost is this loop.
//! Redis counts 28 bytes at a time with a SWAR trick and combines four `unsigned long`s per
//! step; here the count runs 32 bytes per step with AVX2 (Mula's nibble table, `vpshufb`, and
//! `vpsadbw` to sum the bytes), else with the POPCNT instruction on four u64 at a time, chosen
//! once at run time (`is_x86_feature_detected!` caches its answer). The portable loop is the
//! same body compiled without either feature (the compiler's SWAR `count_ones`); the unit
//! tests check that every path the machine has agrees with it on every alignment and length.
//! The combining loops are plain slice loops the compiler vectorises; compiled again with
//! AVX2 enabled they go 32 bytes per instruction.

/// The bitwise operations of BITOP.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

// ------------------------------------------------------------------ population count

/// Number of set bits in `bytes`.
pub fn popcount(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if bytes.len() >= 64 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { x86::popcount_avx2(bytes) };
        }
        if std::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has POPCNT (checked just above).
            return unsafe { x86::popcount_popcnt(bytes) };
        }
    }
    popcount_words(bytes)
}

/// The portable count: four u64 per step (independent adds), bytes at the tail.
#[inline(always)]
fn popcount_words(bytes: &[u8]) -> u64 {
    let mut blocks = bytes.chunks_exact(32);
    let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
    for blk in &mut blocks {
        a += word(&blk[0..8]).count_ones() as u64;
        b += word(&blk[8..16]).count_ones() as u64;
        c += word(&blk[16..24]).count_ones() as u64;
        d += word(&blk[24..32]).count_ones() as u64;
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        a += word(w).count_ones() as u64;
    }
    for &x in words.remainder() {
        b += x.count_ones() as u64;
    }
    a + b + c + d
}

/// Eight bytes as a big-endian word (Redis's bit order within it).
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().expect("an 8-byte chunk"))
}

/// Set bits among bits `first..=last` of `bytes` (Redis's bit numbering); both must be
/// below `bytes.len() * 8` and `first <= last`.
pub fn popcount_bits(bytes: &[u8], first: u64, last: u64) -> u64 {
    debug_assert!(first <= last && last < bytes.len() as u64 * 8);
    let (b0, b1) = ((first / 8) as usize, (last / 8) as usize);
    let mut n = popcount(&bytes[b0..=b1]);
    // Take back the edge bits outside the range: the first byte's high bits before `first`,
    // the last byte's low bits after `last`.
    n -= (bytes[b0] & !(0xffu8 >> (first % 8))).count_ones() as u64;
    n -= (bytes[b1] & (0x7fu8 >> (last % 8))).count_ones() as u64;
    n
}

// ------------------------------------------------------------------ first set / clear bit

/// Position of the first bit equal to `bit` among bits `first..=last` of `bytes`, or None.
/// Same bounds as `popcount_bits`.
pub fn find_bit(bytes: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    debug_assert!(first <= last && last < bytes.len() as u64 * 8);
    let (b0, b1) = ((first / 8) as usize, (last / 8) as usize);
    // The edge bytes with the bits outside the range forced to the value not looked for.
    let outside = |byte: u8, mask: u8| if bit { byte & !mask } else { byte | mask };
    let head_mask = !(0xffu8 >> (first % 8));
    let tail_mask = 0x7fu8 >> (last % 8);
    if b0 == b1 {
        let byte = outside(bytes[b0], head_mask | tail_mask);
        return first_in_byte(byte, bit).map(|p| b0 as u64 * 8 + p);
    }
    if let Some(p) = first_in_byte(outside(bytes[b0], head_mask), bit) {
        return Some(b0 as u64 * 8 + p);
    }
    if let Some(p) = first_bit(&bytes[b0 + 1..b1], bit) {
        return Some((b0 as u64 + 1) * 8 + p);
    }
    first_in_byte(outside(bytes[b1], tail_mask), bit).map(|p| b1 as u64 * 8 + p)
}

#[inline]
fn first_in_byte(byte: u8, bit: bool) -> Option<u64> {
    let x = if bit { byte } else { !byte };
    (x != 0).then(|| x.leading_zeros() as u64)
}

/// Position of the first bit equal to `bit` in `bytes`, or None: whole words that hold only
/// the other value are skipped 32 bytes at a time.
pub fn first_bit(bytes: &[u8], bit: bool) -> Option<u64> {
    // Looking for a 0 is looking for a 1 in the complement.
    let flip = if bit { 0 } else { u64::MAX };
    let mut blocks = bytes.chunks_exact(32);
    let mut base = 0u64;
    for blk in &mut blocks {
        let w = [word(&blk[0..8]), word(&blk[8..16]), word(&blk[16..24]), word(&blk[24..32])].map(|w| w ^ flip);
        if (w[0] | w[1] | w[2] | w[3]) != 0 {
            let i = w.iter().position(|&x| x != 0).expect("one word is not zero");
            return Some(base + i as u64 * 64 + w[i].leading_zeros() as u64);
        }
        base += 256;
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        let x = word(w) ^ flip;
        if x != 0 {
            return Some(base + x.leading_zeros() as u64);
        }
        base += 64;
    }
    for &b in words.remainder() {
        if let Some(p) = first_in_byte(b, bit) {
            return Some(base + p);
        }
        base += 8;
    }
    None
}

// ------------------------------------------------------------------ AND / OR / XOR / NOT

/// BITOP: `op` over `sources` (a shorter source reads as zero bytes; NOT takes the first)
/// appended to `out`, which must have room for the longest source (no reallocation). The
/// first two sources are combined in one pass as the result is written; each further source
/// is folded in with `combine`.
pub fn bitop_into(out: &mut Vec<u8>, sources: &[&[u8]], op: BitOp) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { x86::bitop_into_avx2(out, sources, op) };
            return;
        }
    }
    bitop_into_bytes(out, sources, op)
}

#[inline(always)]
fn bitop_into_bytes(out: &mut Vec<u8>, sources: &[&[u8]], op: BitOp) {
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let base = out.len();
    debug_assert!(out.capacity() - base >= len);
    let (a, rest) = match sources {
        [] => return,
        [a, rest @ ..] => (*a, rest),
    };
    let Some((b, rest)) = rest.split_first().filter(|_| op != BitOp::Not) else {
        match op {
            BitOp::Not => out.extend(a.iter().map(|x| !x)),
            _ => out.extend_from_slice(a),
        }
        out.resize(base + len, 0);
        return;
    };
    let n = a.len().min(b.len());
    let (a0, b0) = (&a[..n], &b[..n]);
    match op {
        BitOp::And => out.extend(a0.iter().zip(b0).map(|(x, y)| x & y)),
        BitOp::Or => out.extend(a0.iter().zip(b0).map(|(x, y)| x | y)),
        BitOp::Xor | BitOp::Not => out.extend(a0.iter().zip(b0).map(|(x, y)| x ^ y)),
    }
    // Past the shorter of the two: x AND 0 is 0, x OR 0 and x XOR 0 are x.
    if op != BitOp::And {
        out.extend_from_slice(if a.len() > n { &a[n..] } else { &b[n..] });
    }
    out.resize(base + len, 0);
    for s in rest {
        combine_bytes(&mut out[base..], s, op);
    }
}

/// `dst[i] = dst[i] op src[i]` over their common length, one loop per operation so that each
/// vectorises on its own; for AND, the bytes of `dst` beyond `src` become 0.
#[inline(always)]
fn combine_bytes(dst: &mut [u8], src: &[u8], op: BitOp) {
    let n = dst.len().min(src.len());
    let (head, tail) = dst.split_at_mut(n);
    let src = &src[..n];
    match op {
        BitOp::And => {
            head.iter_mut().zip(src).for_each(|(d, s)| *d &= s);
            tail.fill(0);
        }
        BitOp::Or => head.iter_mut().zip(src).for_each(|(d, s)| *d |= s),
        BitOp::Xor => head.iter_mut().zip(src).for_each(|(d, s)| *d ^= s),
        BitOp::Not => {
            head.iter_mut().for_each(|d| *d = !*d);
            tail.iter_mut().for_each(|d| *d = !*d);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::BitOp;

    #[target_feature(enable = "popcnt")]
    pub unsafe fn popcount_popcnt(bytes: &[u8]) -> u64 {
        super::popcount_words(bytes)
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn bitop_into_avx2(out: &mut Vec<u8>, sources: &[&[u8]], op: BitOp) {
        super::bitop_into_bytes(out, sources, op)
    }

    /// Mula's count: each byte's two nibbles looked up in a 16-entry table of bit counts
    /// (`vpshufb`), the byte counts added up for up to 31 steps (at most 8 each: no overflow
    /// of a byte lane), then summed into four u64 lanes by `vpsadbw`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn popcount_avx2(bytes: &[u8]) -> u64 {
        let table = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        );
        let low = _mm256_set1_epi8(0x0f);
        let mut total = _mm256_setzero_si256();
        let mut chunks = bytes.chunks_exact(32);
        loop {
            let mut acc = _mm256_setzero_si256();
            let mut steps = 0;
            while steps < 31 {
                let Some(c) = chunks.next() else { break };
                // SAFETY: `c` is 32 readable bytes; loadu has no alignment requirement.
                let v = unsafe { _mm256_loadu_si256(c.as_ptr() as *const __m256i) };
                let lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low));
                let hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
                acc = _mm256_add_epi8(acc, _mm256_add_epi8(lo, hi));
                steps += 1;
            }
            total = _mm256_add_epi64(total, _mm256_sad_epu8(acc, _mm256_setzero_si256()));
            if steps < 31 {
                break;
            }
        }
        let mut lanes = [0u64; 4];
        // SAFETY: `lanes` is 32 writable bytes.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, total) };
        lanes.iter().sum::<u64>() + super::popcount_words(chunks.remainder())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_rng::Rng;

    fn random_bytes(rng: &mut Rng, n: usize, density: u64) -> Vec<u8> {
        // density 0: all zeros, 4: all ones, between: sparse or dense mixes
        (0..n)
            .map(|_| match density {
                0 => 0,
                4 => 0xff,
                1 => (rng.below(8) == 0) as u8 * (1 << rng.below(8)),
                3 => !((rng.below(8) == 0) as u8 * (1 << rng.below(8))),
                _ => rng.next() as u8,
            })
            .collect()
    }

    fn naive_count(b: &[u8]) -> u64 {
        b.iter().map(|x| x.count_ones() as u64).sum()
    }

    fn bit_at(b: &[u8], i: u64) -> bool {
        b[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Every count implementation this CPU can run, with the portable one first.
    type Counter = (&'static str, fn(&[u8]) -> u64);
    type Builder = (&'static str, fn(&mut Vec<u8>, &[&[u8]], BitOp));

    fn counters() -> Vec<Counter> {
        let mut v: Vec<Counter> = vec![("portable", popcount_words), ("dispatch", popcount)];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("popcnt") {
                v.push(("popcnt", |b| unsafe { x86::popcount_popcnt(b) }));
            }
            if std::is_x86_feature_detected!("avx2") {
                v.push(("avx2", |b| unsafe { x86::popcount_avx2(b) }));
            }
        }
        v
    }

    #[test]
    fn popcount_paths_agree_on_every_alignment_and_length() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for density in 0..5 {
            let buf = random_bytes(&mut rng, 2200, density);
            for start in 0..40 {
                for len in (0..300).chain([1023, 1024, 1025, 2000, 2100]) {
                    let s = &buf[start..start + len];
                    let want = naive_count(s);
                    for (name, f) in counters() {
                        assert_eq!(f(s), want, "{name} start {start} len {len} density {density}");
                    }
                }
            }
        }
        // more than 31 AVX2 steps with every byte 0xff (the byte lanes' worst case)
        let ones = vec![0xffu8; 32 * 100 + 7];
        for (name, f) in counters() {
            assert_eq!(f(&ones), ones.len() as u64 * 8, "{name}");
        }
    }

    #[test]
    fn bit_ranges_count_and_find_like_a_bit_by_bit_scan() {
        let mut rng = Rng(12345);
        for round in 0..400 {
            let n = 1 + rng.below(80) as usize;
            let b = random_bytes(&mut rng, n, round % 5);
            let bits = n as u64 * 8;
            for _ in 0..20 {
                let x = rng.below(bits);
                let y = rng.below(bits);
                let (first, last) = (x.min(y), x.max(y));
                let want = (first..=last).filter(|&i| bit_at(&b, i)).count() as u64;
                assert_eq!(popcount_bits(&b, first, last), want, "{b:?} {first}..={last}");
                for bit in [false, true] {
                    let want = (first..=last).find(|&i| bit_at(&b, i) == bit);
                    assert_eq!(find_bit(&b, first, last, bit), want, "{b:?} {first}..={last} bit {bit}");
                }
            }
            for bit in [false, true] {
                assert_eq!(first_bit(&b, bit), (0..bits).find(|&i| bit_at(&b, i) == bit));
            }
        }
    }

    #[test]
    fn first_bit_on_every_alignment_and_length() {
        for len in 0..140usize {
            for pos in 0..len as u64 * 8 {
                let mut ones = vec![0u8; len];
                ones[(pos / 8) as usize] |= 0x80 >> (pos % 8);
                assert_eq!(first_bit(&ones, true), Some(pos));
                let zeros: Vec<u8> = ones.iter().map(|x| !x).collect();
                assert_eq!(first_bit(&zeros, false), Some(pos));
            }
            assert_eq!(first_bit(&vec![0u8; len], true), None);
            assert_eq!(first_bit(&vec![0xffu8; len], false), None);
        }
    }

    #[test]
    fn bitop_paths_agree_with_a_byte_by_byte_fold() {
        let mut rng = Rng(4242);
        let mut builders: Vec<Builder> = vec![("portable", bitop_into_bytes), ("dispatch", bitop_into)];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                builders.push(("avx2", |o, s, op| unsafe { x86::bitop_into_avx2(o, s, op) }));
            }
        }
        for op in [BitOp::And, BitOp::Or, BitOp::Xor, BitOp::Not] {
            for _ in 0..400 {
                let n = if op == BitOp::Not { 1 } else { 1 + rng.below(4) as usize };
                let bufs: Vec<Vec<u8>> = (0..n)
                    .map(|_| {
                        let off = rng.below(33) as usize;
                        let len = [0, 1, 7, 8, 31, 32, 33, 64, 65, 200, 257][rng.below(11) as usize];
                        let b = random_bytes(&mut rng, off + len, 2);
                        b[off..].to_vec()
                    })
                    .collect();
                let srcs: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
                let len = srcs.iter().map(|s| s.len()).max().unwrap();
                let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
                let want: Vec<u8> = (0..len)
                    .map(|i| match op {
                        BitOp::Not => !at(srcs[0], i),
                        _ => srcs[1..].iter().fold(at(srcs[0], i), |acc, s| match op {
                            BitOp::And => acc & at(s, i),
                            BitOp::Or => acc | at(s, i),
                            _ => acc ^ at(s, i),
                        }),
                    })
                    .collect();
                for (name, f) in &builders {
                    let mut out = Vec::with_capacity(len + 3);
                    out.extend_from_slice(b"pre");
                    f(&mut out, &srcs, op);
                    assert_eq!(
                        &out[3..],
                        &want[..],
                        "{name} {op:?} {:?}",
                        srcs.iter().map(|s| s.len()).collect::<Vec<_>>()
                    );
                }
            }
        }
    }

    #[test]
    fn combine_pads_like_redis() {
        let mut rng = Rng(777);
        for op in [BitOp::And, BitOp::Or, BitOp::Xor, BitOp::Not] {
            for _ in 0..300 {
                let dl = rng.below(300) as usize;
                let sl = rng.below(300) as usize;
                let (off_d, off_s) = (rng.below(33) as usize, rng.below(33) as usize);
                let dbuf = random_bytes(&mut rng, dl + off_d, 2);
                let sbuf = random_bytes(&mut rng, sl + off_s, 2);
                let (d0, s) = (&dbuf[off_d..], &sbuf[off_s..]);
                let want: Vec<u8> = (0..dl)
                    .map(|i| {
                        let x = s.get(i).copied().unwrap_or(0);
                        match op {
                            BitOp::And => d0[i] & x,
                            BitOp::Or => d0[i] | x,
                            BitOp::Xor => d0[i] ^ x,
                            BitOp::Not => !d0[i],
                        }
                    })
                    .collect();
                let mut d = d0.to_vec();
                combine_bytes(&mut d, s, op);
                assert_eq!(d, want, "{op:?} dst {dl} src {sl}");
            }
        }
    }
}
