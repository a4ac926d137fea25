//! Morton (Z-order) codes over full `i32` coordinates, and a sort-by-Morton
//! helper for bulk builds.
//!
//! A coordinate is first biased to an unsigned value that keeps its order
//! (`v ^ 0x8000_0000`, so `i32::MIN` → 0), then the bits of x, y and z are
//! interleaved, x in the lowest bit. Full `i32` coordinates need 96 bits:
//! [`encode`] returns a `u128`, and [`decode`] refuses codes of more than 96
//! bits. [`encode_u64`] is the compact 63-bit form for coordinates in
//! `[-2^20, 2^20)` and refuses others.

use crate::error::{NeuralError, Result};

/// Bits of one axis in a [`encode_u64`] code.
pub const BITS_U64: u32 = 21;
const BIAS_U64: i64 = 1 << (BITS_U64 - 1);

#[inline]
fn spread21(v: u64) -> u64 {
    let mut x = v & 0x1f_ffff;
    x = (x | (x << 32)) & 0x001f_0000_0000_ffff;
    x = (x | (x << 16)) & 0x001f_0000_ff00_00ff;
    x = (x | (x << 8)) & 0x100f_00f0_0f00_f00f;
    x = (x | (x << 4)) & 0x10c3_0c30_c30c_30c3;
    x = (x | (x << 2)) & 0x1249_2492_4924_9249;
    x
}

#[inline]
fn compact21(v: u64) -> u64 {
    let mut x = v & 0x1249_2492_4924_9249;
    x = (x ^ (x >> 2)) & 0x10c3_0c30_c30c_30c3;
    x = (x ^ (x >> 4)) & 0x100f_00f0_0f00_f00f;
    x = (x ^ (x >> 8)) & 0x001f_0000_ff00_00ff;
    x = (x ^ (x >> 16)) & 0x001f_0000_0000_ffff;
    x = (x ^ (x >> 32)) & 0x1f_ffff;
    x
}

#[inline]
fn interleave(u: [u64; 3]) -> u64 {
    spread21(u[0]) | (spread21(u[1]) << 1) | (spread21(u[2]) << 2)
}

#[inline]
fn deinterleave(code: u64) -> [u64; 3] {
    [compact21(code), compact21(code >> 1), compact21(code >> 2)]
}

/// The 96-bit Morton code of a coordinate (any `i32` values). Codes order
/// coordinates along the Z curve; the order of each axis is kept.
///
/// ```
/// use sparsevdb_neural::morton;
/// assert_eq!(morton::encode([i32::MIN; 3]), 0);
/// assert_eq!(morton::encode([i32::MAX; 3]), (1u128 << 96) - 1);
/// let c = [-5, 123_456, i32::MIN + 1];
/// assert_eq!(morton::decode(morton::encode(c)).unwrap(), c);
/// ```
#[inline]
pub fn encode(c: [i32; 3]) -> u128 {
    let u = c.map(|v| (v as u32) ^ 0x8000_0000);
    let lo = interleave(u.map(|v| u64::from(v & 0xffff)));
    let hi = interleave(u.map(|v| u64::from(v >> 16)));
    u128::from(lo) | (u128::from(hi) << 48)
}

/// The coordinate of a 96-bit Morton code; [`NeuralError::OutOfRange`] when
/// the code has bits above the 96th.
///
/// ```
/// use sparsevdb_neural::morton;
/// assert!(morton::decode(1u128 << 96).is_err());
/// ```
pub fn decode(code: u128) -> Result<[i32; 3]> {
    if code >> 96 != 0 {
        return Err(NeuralError::OutOfRange(format!(
            "Morton code {code:#x} has more than 96 bits"
        )));
    }
    let lo = deinterleave((code & ((1 << 48) - 1)) as u64);
    let hi = deinterleave((code >> 48) as u64);
    Ok([0, 1, 2].map(|i| ((lo[i] | (hi[i] << 16)) as u32 ^ 0x8000_0000) as i32))
}

/// The compact 63-bit Morton code of a coordinate whose every component lies
/// in `[-2^20, 2^20)`; [`NeuralError::OutOfRange`] otherwise.
///
/// ```
/// use sparsevdb_neural::morton;
/// assert_eq!(morton::encode_u64([-(1 << 20); 3]).unwrap(), 0);
/// assert!(morton::encode_u64([1 << 20, 0, 0]).is_err());
/// let c = [7, -8, 1000];
/// assert_eq!(morton::decode_u64(morton::encode_u64(c).unwrap()).unwrap(), c);
/// ```
pub fn encode_u64(c: [i32; 3]) -> Result<u64> {
    let mut u = [0u64; 3];
    for i in 0..3 {
        let b = i64::from(c[i]) + BIAS_U64;
        if !(0..(1 << BITS_U64)).contains(&b) {
            return Err(NeuralError::OutOfRange(format!(
                "coordinate {c:?} is outside [-2^20, 2^20) for a 64-bit Morton code"
            )));
        }
        u[i] = b as u64;
    }
    Ok(interleave(u))
}

/// The coordinate of a 63-bit Morton code; [`NeuralError::OutOfRange`] when
/// bit 63 is set.
///
/// ```
/// assert!(sparsevdb_neural::morton::decode_u64(1 << 63).is_err());
/// ```
pub fn decode_u64(code: u64) -> Result<[i32; 3]> {
    if code >> 63 != 0 {
        return Err(NeuralError::OutOfRange(format!(
            "Morton code {code:#x} has more than 63 bits"
        )));
    }
    Ok(deinterleave(code).map(|v| (v as i64 - BIAS_U64) as i32))
}

/// Sorts `items` by the Morton code of `key(item)`, stably (items with the
/// same coordinate keep their order, so "last write wins" still holds when
/// they are inserted in the sorted order).
///
/// ```
/// use sparsevdb_neural::morton;
/// let mut v = vec![([1, 1, 1], 'c'), ([0, 0, 0], 'a'), ([1, 0, 0], 'b'), ([0, 0, 0], 'z')];
/// morton::sort_by_morton(&mut v, |e| e.0);
/// assert_eq!(v.iter().map(|e| e.1).collect::<String>(), "azbc");
/// ```
pub fn sort_by_morton<T>(items: &mut [T], key: impl Fn(&T) -> [i32; 3]) {
    items.sort_by_cached_key(|t| encode(key(t)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(c: [i32; 3]) -> u128 {
        let u = c.map(|v| (v as u32) ^ 0x8000_0000);
        let mut code = 0u128;
        for bit in 0..32 {
            for (axis, &v) in u.iter().enumerate() {
                code |= u128::from((v >> bit) & 1) << (3 * bit + axis as u32);
            }
        }
        code
    }

    fn samples() -> Vec<[i32; 3]> {
        let edges = [
            i32::MIN,
            i32::MIN + 1,
            -65537,
            -65536,
            -1,
            0,
            1,
            65535,
            65536,
            i32::MAX - 1,
            i32::MAX,
        ];
        let mut v = Vec::new();
        for &x in &edges {
            for &y in &edges {
                for &z in &edges {
                    v.push([x, y, z]);
                }
            }
        }
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v.push([(s >> 32) as i32, (s >> 7) as i32, s.rotate_left(17) as i32]);
        }
        v
    }

    #[test]
    fn encode_matches_bit_loop_and_roundtrips() {
        for c in samples() {
            assert_eq!(encode(c), naive(c), "{c:?}");
            assert_eq!(decode(encode(c)).unwrap(), c);
        }
    }

    #[test]
    fn u64_codes() {
        let lim = 1 << 20;
        for c in samples() {
            let inside = c.iter().all(|&v| (-lim..lim).contains(&v));
            match encode_u64(c) {
                Ok(code) => {
                    assert!(inside);
                    assert_eq!(decode_u64(code).unwrap(), c);
                }
                Err(NeuralError::OutOfRange(_)) => assert!(!inside, "{c:?}"),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(encode_u64([lim - 1; 3]).unwrap(), (1 << 63) - 1);
    }

    #[test]
    fn codes_preserve_axis_order() {
        // along one axis, with the others fixed, the code increases
        for c in samples().into_iter().take(300) {
            for axis in 0..3 {
                if c[axis] < i32::MAX {
                    let mut d = c;
                    d[axis] += 1;
                    assert!(encode(d) > encode(c));
                }
            }
        }
    }

    #[test]
    fn sort_groups_leaves() {
        // after sorting, the voxels of each 8^3 block are contiguous
        let mut v: Vec<[i32; 3]> = (0..16)
            .flat_map(|x| (0..16).flat_map(move |y| (0..16).map(move |z| [x, y, z])))
            .collect();
        v.reverse();
        sort_by_morton(&mut v, |c| *c);
        for chunk in v.chunks(512) {
            let b = chunk[0].map(|c| c >> 3);
            assert!(chunk.iter().all(|c| c.map(|v| v >> 3) == b));
        }
    }
}
