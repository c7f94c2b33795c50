//! CRC-64 as Redis computes it (crc64.c: the Jones polynomial, reflected, initial value 0),
//! for DUMP/RESTORE payloads and RDB files.

const POLY: u64 = 0x95AC_9329_AC4B_C9B5; // 0xad93d23594c935a9, bit-reflected

static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();

fn table() -> &'static [u64; 256] {
    TABLE.get_or_init(|| {
        let mut t = [0u64; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut crc = i as u64;
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
            }
            *slot = crc;
        }
        t
    })
}

pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    let t = table();
    for &b in data {
        crc = t[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn redis_check_value() {
        // crc64.c's own test: crc64(0, "123456789") == 0xe9c6d914c4b8d9ca
        assert_eq!(super::crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        // an empty FUNCTION DUMP payload of Redis 7.0: version 10, then this CRC
        assert_eq!(super::crc64(0, &[0x0a, 0x00]).to_le_bytes(), *b"]\x9b\\@\x0f\x7f\xa2\xda");
    }
}
