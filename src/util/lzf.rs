//! LZF (the format of compressed strings in RDB files and DUMP payloads).
//!
//! A compressed stream is a run of items: `000LLLLL` + L+1 literal bytes; `LLLooooo oooooooo`
//! a back reference of L+2 bytes (L 1..6) at distance o+1; `111ooooo LLLLLLLL oooooooo` one of
//! L+9 bytes. `compress` makes the same choices as the liblzf Redis links (a 2^16-slot table
//! of the last position of each 3-byte hash, the position 0 never referenced, two table
//! updates after each match, the same output-size checks), so our RDB strings and DUMP
//! payloads are Redis's byte for byte, and a string that Redis keeps raw (too little gain)
//! we keep raw too.

/// Decompress `input` into exactly `out_len` bytes; None if the data is malformed.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(i..i + n)?;
            if out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            if back > out.len() || out.len() + len + 2 > out_len {
                return None;
            }
            let start = out.len() - back;
            for k in 0..len + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

const HASH_LOG: u32 = 16;
const MAX_LITERAL: usize = 32;
const MAX_DISTANCE: usize = 1 << 13;
const MAX_MATCH: usize = (1 << 8) + (1 << 3);

/// The table slot of the 3 bytes whose big-endian value is the low 24 bits of `h`.
#[inline]
fn slot(h: u32) -> usize {
    ((h >> (3 * 8 - HASH_LOG)).wrapping_sub(h.wrapping_mul(5)) & ((1 << HASH_LOG) - 1)) as usize
}

/// A table slot: the call that wrote it and the position.
fn tag(call: u32, pos: usize) -> u64 {
    (call as u64) << 32 | pos as u32 as u64
}

/// Compress `input` into at most `max_out` bytes (lzf_compress); None when it does not fit
/// (or `input` is empty), which is how a caller learns compression does not pay.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.is_empty() || max_out == 0 {
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if t.slots.is_empty() {
            t.slots = vec![0; 1 << HASH_LOG];
        }
        t.call = t.call.wrapping_add(1);
        if t.call == 0 {
            t.slots.fill(0);
            t.call = 1;
        }
        let call = t.call;
        compress_with(input, max_out, &mut t.slots, call)
    })
}

/// The hash table of one thread's compressions: a slot holds the call that wrote it (high
/// 32 bits) and a position, so a call sees only its own entries without clearing 512 KB
/// first (liblzf leaves its table uninitialized; starting clean keeps our output
/// deterministic).
struct Table {
    slots: Vec<u64>,
    call: u32,
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> = const { std::cell::RefCell::new(Table { slots: Vec::new(), call: 0 }) };
}

fn compress_with(input: &[u8], max_out: usize, table: &mut [u64], call: u32) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = vec![0u8; max_out];
    let mut op = 1; // out[op - lit - 1] is the header of the literal run being built
    let mut lit = 0usize;
    let mut ip = 0usize;
    let byte = |i: usize| input.get(i).copied().unwrap_or(0) as u32;
    let mut hval = (byte(0) << 8) | byte(1);
    while ip + 2 < n {
        hval = (hval << 8) | input[ip + 2] as u32;
        let s = slot(hval);
        let candidate = table[s];
        table[s] = tag(call, ip);
        let reference = (candidate >> 32 == call as u64)
            .then_some(candidate as u32 as usize)
            .filter(|&r| r > 0 && r < ip && ip - r - 1 < MAX_DISTANCE && input[r..r + 3] == input[ip..ip + 3]);
        let Some(r) = reference else {
            *out.get_mut(op)? = input[ip];
            op += 1;
            ip += 1;
            lit += 1;
            if lit == MAX_LITERAL {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
            continue;
        };
        let max_len = (n - ip - 2).min(MAX_MATCH);
        if op + 4 >= max_out && op - usize::from(lit == 0) + 4 >= max_out {
            return None;
        }
        out[op - lit - 1] = lit.wrapping_sub(1) as u8;
        op -= usize::from(lit == 0);
        // liblzf compares 16 bytes unchecked before honouring `max_len`; near the end of the
        // input that can take a match one or two bytes past it (never past the input).
        let mut len = 2;
        let mut unrolled_all = max_len > 16;
        if unrolled_all {
            for _ in 0..16 {
                len += 1;
                if input[r + len] != input[ip + len] {
                    unrolled_all = false;
                    break;
                }
            }
        }
        if max_len <= 16 || unrolled_all {
            loop {
                len += 1;
                if !(len < max_len && input[r + len] == input[ip + len]) {
                    break;
                }
            }
        }
        let distance = ip - r - 1;
        len -= 2;
        ip += 1;
        if len < 7 {
            *out.get_mut(op)? = ((distance >> 8) + (len << 5)) as u8;
            op += 1;
        } else {
            *out.get_mut(op)? = ((distance >> 8) + (7 << 5)) as u8;
            *out.get_mut(op + 1)? = (len - 7) as u8;
            op += 2;
        }
        *out.get_mut(op)? = distance as u8;
        op += 2; // and the header of a new literal run
        lit = 0;
        ip += len + 1;
        if ip + 2 >= n {
            break;
        }
        // Index the two positions before the new one, as liblzf's VERY_FAST mode does.
        ip -= 2;
        hval = (input[ip] as u32) << 8 | input[ip + 1] as u32;
        for _ in 0..2 {
            hval = (hval << 8) | input[ip + 2] as u32;
            table[slot(hval)] = tag(call, ip);
            ip += 1;
        }
    }
    if op + 3 > max_out {
        return None;
    }
    while ip < n {
        *out.get_mut(op)? = input[ip];
        op += 1;
        ip += 1;
        lit += 1;
        if lit == MAX_LITERAL {
            *out.get_mut(op - lit - 1)? = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    *out.get_mut(op - lit - 1)? = lit.wrapping_sub(1) as u8;
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn literal_and_backref() {
        // "abcabcabc": literal "abc", then a back reference of length 6 at distance 3
        let data = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(super::decompress(&data, 9).unwrap(), b"abcabcabc");
        assert!(super::decompress(&data, 8).is_none());
        assert!(super::decompress(&[0x20, 0], 2).is_none());
    }

    /// A call's table entries are its own: the output does not depend on what the thread
    /// compressed before (a stale position of another input would be a different match).
    #[test]
    fn compress_ignores_earlier_calls() {
        let first = b"0123456789abcdef".repeat(40);
        let second = b"01234567xyzabcdef0123".repeat(30);
        let fresh = {
            let s = second.clone();
            std::thread::spawn(move || super::compress(&s, s.len())).join().unwrap()
        };
        assert!(super::compress(&first, first.len()).is_some());
        let after = super::compress(&second, second.len());
        assert_eq!(after, fresh);
        let packed = after.unwrap();
        assert_eq!(super::decompress(&packed, second.len()).unwrap(), second);
        // Too little room: None, as lzf_compress returns 0.
        assert_eq!(super::compress(&second, 8), None);
    }
}
