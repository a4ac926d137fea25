//! The portable kernels: plain Rust, no `unsafe`, compiled for the baseline target.
//! They define the canonical order of operations that the SIMD versions in
//! `x86.rs` reproduce bit for bit (see the [module docs](super)).

use crate::Real;

/// Number of `f64` accumulator lanes of the canonical masked reduction.
pub const LANES: usize = 16;

/// Combines the 16 lane accumulators pairwise: lanes `j` and `j + 8`, then `j` and
/// `j + 4`, then `j` and `j + 2`, then the last two — the order every implementation
/// uses.
///
/// ```
/// use sparsevdb_traverse::kernels::portable::combine_lanes;
/// let lanes: [f64; 16] = core::array::from_fn(|i| i as f64);
/// assert_eq!(combine_lanes(lanes), 120.0);
/// ```
#[inline]
pub fn combine_lanes(mut a: [f64; LANES]) -> f64 {
    let mut w = LANES / 2;
    while w > 0 {
        for j in 0..w {
            a[j] += a[j + w];
        }
        w /= 2;
    }
    a[0]
}

/// The canonical masked reduction: `f(values[i])` is added, for every `i` whose bit
/// is on in `mask` (bit `i % 64` of word `i / 64`), to accumulator lane `i % 16` in
/// ascending `i`; the lanes are then combined by [`combine_lanes`].
///
/// # Panics
/// When `mask` has fewer than `values.len()` bits.
///
/// ```
/// use sparsevdb_traverse::kernels::portable::masked_reduce;
/// let v = [1.0f32, 2.0, 3.0, 4.0];
/// assert_eq!(masked_reduce(&v, &[0b1010], |x| f64::from(x)), 6.0);
/// ```
#[inline]
pub fn masked_reduce<T: Copy>(values: &[T], mask: &[u64], f: impl Fn(T) -> f64) -> f64 {
    assert!(mask.len() * 64 >= values.len(), "mask too short");
    let mut acc = [0.0f64; LANES];
    for (w, &word) in mask.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let i = w * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if i < values.len() {
                acc[i % LANES] += f(values[i]);
            }
        }
    }
    combine_lanes(acc)
}

/// The canonical contiguous reduction (a packed leaf's active values): `f(values[j])`
/// is added to accumulator lane `j % 16` in ascending `j`; the lanes are then
/// combined by [`combine_lanes`]. This is [`masked_reduce`] of the same values with
/// every mask bit on (value `j` of the slice plays the role of voxel `j`).
///
/// ```
/// use sparsevdb_traverse::kernels::portable::{masked_reduce, reduce};
/// let v: Vec<f32> = (0..100).map(|i| i as f32 * 0.1).collect();
/// let all = [u64::MAX; 2];
/// assert_eq!(reduce(&v, f64::from).to_bits(), masked_reduce(&v, &all, f64::from).to_bits());
/// ```
#[inline]
pub fn reduce<T: Copy>(values: &[T], f: impl Fn(T) -> f64) -> f64 {
    let mut acc = [0.0f64; LANES];
    let mut blocks = values.chunks_exact(LANES);
    for block in &mut blocks {
        for (a, &v) in acc.iter_mut().zip(block) {
            *a += f(v);
        }
    }
    for (a, &v) in acc.iter_mut().zip(blocks.remainder()) {
        *a += f(v);
    }
    combine_lanes(acc)
}

/// `a[i] = f(a[i])` for every `i`.
///
/// ```
/// use sparsevdb_traverse::kernels::portable::map;
/// let mut a = [1.0f32, 2.0, 3.0];
/// map(&mut a, &|x| x * 2.0);
/// assert_eq!(a, [2.0, 4.0, 6.0]);
/// ```
#[inline(always)]
pub fn map<T: Copy, F: Fn(T) -> T>(a: &mut [T], f: &F) {
    for x in a.iter_mut() {
        *x = f(*x);
    }
}

/// `y[i] = y[i] + a * x[i]` (multiply then add, never fused).
///
/// ```
/// use sparsevdb_traverse::kernels::portable::scaled_add;
/// let mut y = [1.0f64, 1.0];
/// scaled_add(&mut y, 3.0, &[1.0, 2.0]);
/// assert_eq!(y, [4.0, 7.0]);
/// ```
#[inline]
pub fn scaled_add<T: Real>(y: &mut [T], a: T, x: &[T]) {
    assert_eq!(y.len(), x.len(), "scaled_add: lengths differ");
    for (y, &x) in y.iter_mut().zip(x) {
        *y = *y + a * x;
    }
}

/// Turns off bit `i` of `mask` wherever `|values[i]| < t` (NaN is never below).
///
/// ```
/// use sparsevdb_traverse::kernels::portable::mask_below;
/// let mut m = [0b1111u64];
/// mask_below(&[0.5f32, -2.0, f32::NAN, -0.1], 1.0, &mut m);
/// assert_eq!(m, [0b0110]);
/// ```
#[inline]
pub fn mask_below<T: Real>(values: &[T], t: T, mask: &mut [u64]) {
    assert!(mask.len() * 64 >= values.len(), "mask too short");
    for (w, chunk) in values.chunks(64).enumerate() {
        let mut below = 0u64;
        for (i, &v) in chunk.iter().enumerate() {
            below |= u64::from(v.abs() < t) << i;
        }
        mask[w] &= !below;
    }
}

/// `a[i] = f(a[i], b[i])` for every `i`.
///
/// ```
/// use sparsevdb_traverse::kernels::portable::zip_apply;
/// let mut a = [1.0f32, 2.0];
/// zip_apply(&mut a, &[3.0, 4.0], &|x, y| x * y);
/// assert_eq!(a, [3.0, 8.0]);
/// ```
#[inline(always)]
pub fn zip_apply<T: Copy, F: Fn(T, T) -> T>(a: &mut [T], b: &[T], f: &F) {
    assert_eq!(a.len(), b.len(), "zip_apply: lengths differ");
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

/// `a[i] = f(a[i])` for every `i` whose bit is on in `mask`; the others are untouched
/// (`f` may still be evaluated on them, its result discarded).
///
/// ```
/// use sparsevdb_traverse::kernels::portable::masked_map;
/// let mut a = [1.0f32, 2.0, 3.0];
/// masked_map(&mut a, &[0b101], &|x| -x);
/// assert_eq!(a, [-1.0, 2.0, -3.0]);
/// ```
#[inline(always)]
pub fn masked_map<T: Copy, F: Fn(T) -> T>(a: &mut [T], mask: &[u64], f: &F) {
    assert!(mask.len() * 64 >= a.len(), "mask too short");
    for (chunk, &bits) in a.chunks_mut(64).zip(mask) {
        for (i, x) in chunk.iter_mut().enumerate() {
            let on = (bits >> i) & 1 != 0;
            let v = *x;
            let r = f(v);
            *x = if on { r } else { v };
        }
    }
}
