//! Key routing for hash-distribution-aware clients: Infinispan's own MurmurHash3 variant and
//! the segment of a key.
//!
//! This is `org.infinispan.commons.hash.MurmurHash3.MurmurHash3_x64_64` with seed 9001: the
//! x64 128-bit algorithm with Infinispan's constant-mixing rounds and *signed* tail bytes, of
//! which only the upper 32 bits of the first lane are kept. A stock murmur3 crate gives other
//! numbers. The test vectors in `tests/infinispan.rs` come from the `infinispan` npm client's
//! independent implementation.

/// The seed Infinispan uses.
const SEED: u64 = 9001;

/// The 32-bit hash Infinispan computes for a key's wire bytes.
#[must_use]
pub fn murmur_hash3(key: &[u8]) -> i32 {
    (murmur_hash3_x64_64(key, SEED) >> 32) as u32 as i32
}

struct State {
    h1: u64,
    h2: u64,
    k1: u64,
    k2: u64,
    c1: u64,
    c2: u64,
}

fn bmix(s: &mut State) {
    s.k1 = s.k1.wrapping_mul(s.c1);
    s.k1 = s.k1.rotate_left(23);
    s.k1 = s.k1.wrapping_mul(s.c2);
    s.h1 ^= s.k1;
    s.h1 = s.h1.wrapping_add(s.h2);

    s.h2 = s.h2.rotate_left(41);

    s.k2 = s.k2.wrapping_mul(s.c2);
    s.k2 = s.k2.rotate_left(23);
    s.k2 = s.k2.wrapping_mul(s.c1);
    s.h2 ^= s.k2;
    s.h2 = s.h2.wrapping_add(s.h1);

    s.h1 = s.h1.wrapping_mul(3).wrapping_add(0x52dc_e729);
    s.h2 = s.h2.wrapping_mul(3).wrapping_add(0x3849_5ab5);

    s.c1 = s.c1.wrapping_mul(5).wrapping_add(0x7b7d_159c);
    s.c2 = s.c2.wrapping_mul(5).wrapping_add(0x6bce_6396);
}

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

fn block(bytes: &[u8]) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(array)
}

/// A tail byte as Java reads it: signed, sign-extended to 64 bits.
fn signed(byte: u8) -> u64 {
    i64::from(byte as i8) as u64
}

fn murmur_hash3_x64_64(key: &[u8], seed: u64) -> u64 {
    let mut s = State {
        h1: 0x9368_e53c_2f6a_f274 ^ seed,
        h2: 0x586d_cd20_8f7c_d3fd ^ seed,
        k1: 0,
        k2: 0,
        c1: 0x87c3_7b91_1142_53d5,
        c2: 0x4cf5_ad43_2745_937f,
    };
    let mut chunks = key.chunks_exact(16);
    for chunk in &mut chunks {
        s.k1 = block(&chunk[..8]);
        s.k2 = block(&chunk[8..]);
        bmix(&mut s);
    }
    let tail = chunks.remainder();
    s.k1 = 0;
    s.k2 = 0;
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate().skip(8).rev() {
            s.k2 ^= signed(byte) << (8 * (i - 8));
        }
        for (i, &byte) in tail.iter().enumerate().take(8).rev() {
            s.k1 ^= signed(byte) << (8 * i);
        }
        bmix(&mut s);
    }
    s.h2 ^= key.len() as u64;
    s.h1 = s.h1.wrapping_add(s.h2);
    s.h2 = s.h2.wrapping_add(s.h1);
    s.h1 = fmix(s.h1);
    s.h2 = fmix(s.h2);
    s.h1 = s.h1.wrapping_add(s.h2);
    s.h1
}

/// The segment of a key's wire bytes among `num_segments` (as the Java client computes it:
/// `(hash & 0x7FFFFFFF) / ceil(2^31 / num_segments)`), or `None` without segments.
#[must_use]
pub fn segment_of(key: &[u8], num_segments: u32) -> Option<u32> {
    if num_segments == 0 {
        return None;
    }
    let normalized = u64::from(murmur_hash3(key) as u32 & 0x7FFF_FFFF);
    let segment_size = (1u64 << 31).div_ceil(u64::from(num_segments));
    u32::try_from(normalized / segment_size).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_stay_in_range() {
        for n in [1u32, 3, 7, 256, 1000] {
            for key in [&b""[..], b"a", b"plugin:key", &[0xFF; 31]] {
                let segment = segment_of(key, n).unwrap();
                assert!(segment < n, "{segment} >= {n}");
            }
        }
        assert_eq!(segment_of(b"x", 0), None);
    }

    #[test]
    fn signed_tail_bytes_matter() {
        // The same tail with the high bit set and clear must hash differently from a plain
        // unsigned reading; at least the function must be deterministic and length-sensitive.
        assert_ne!(murmur_hash3(&[0x80]), murmur_hash3(&[0x00]));
        assert_ne!(murmur_hash3(b""), murmur_hash3(&[0]));
        assert_eq!(murmur_hash3(b"abc"), murmur_hash3(b"abc"));
    }
}
