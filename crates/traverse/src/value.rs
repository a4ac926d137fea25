//! The value traits of the traversal: [`ToF64`] (every value type; what the
//! reductions need) and [`Real`] (`f32`, `f64`; what the arithmetic transforms need).
//! Both carry the leaf-buffer kernels as provided methods, so that `f32` (and `f64`)
//! pick their SIMD versions statically while any other type gets the portable code.

use core::ops::{Add, Mul, Neg, Sub};

use sparsevdb_tree::Value;

use crate::kernels;

/// A value that converts to `f64` for the reductions (sum, norms, histogram).
///
/// The leaf kernels (`masked_*`) follow one canonical order of operations, so that
/// every implementation (portable or SIMD) returns the same bits: see
/// [`kernels`](crate::kernels).
///
/// ```
/// use sparsevdb_traverse::ToF64;
/// assert_eq!(3i32.to_f64(), 3.0);
/// assert_eq!(<f32 as ToF64>::masked_sum(&[1.0; 64], &[0b101]), 2.0);
/// assert_eq!(<f32 as ToF64>::slice_sum(&[1.0, 2.5]), 3.5);
/// ```
pub trait ToF64: Value {
    /// The value as `f64` (exact for every implementor except `i64`/`u64` beyond 2^53).
    fn to_f64(self) -> f64;

    /// Sum, in `f64`, of `values[i]` where bit `i` of `mask` is on.
    #[inline]
    fn masked_sum(values: &[Self], mask: &[u64]) -> f64 {
        kernels::portable::masked_reduce(values, mask, |v: Self| v.to_f64())
    }

    /// Sum, in `f64`, of `|values[i]|` where bit `i` of `mask` is on.
    #[inline]
    fn masked_abs_sum(values: &[Self], mask: &[u64]) -> f64 {
        kernels::portable::masked_reduce(values, mask, |v: Self| v.to_f64().abs())
    }

    /// Sum, in `f64`, of `values[i]²` where bit `i` of `mask` is on.
    #[inline]
    fn masked_sq_sum(values: &[Self], mask: &[u64]) -> f64 {
        kernels::portable::masked_reduce(values, mask, |v: Self| {
            let x = v.to_f64();
            x * x
        })
    }

    /// Sum, in `f64`, of every value of `values` (a packed leaf's active values), in
    /// the canonical lane order of [`kernels::portable::reduce`].
    #[inline]
    fn slice_sum(values: &[Self]) -> f64 {
        kernels::portable::reduce(values, |v: Self| v.to_f64())
    }

    /// Sum, in `f64`, of `|v|` over `values`.
    #[inline]
    fn slice_abs_sum(values: &[Self]) -> f64 {
        kernels::portable::reduce(values, |v: Self| v.to_f64().abs())
    }

    /// Sum, in `f64`, of `v²` over `values`.
    #[inline]
    fn slice_sq_sum(values: &[Self]) -> f64 {
        kernels::portable::reduce(values, |v: Self| {
            let x = v.to_f64();
            x * x
        })
    }
}

macro_rules! to_f64_plain {
    ($($t:ty),*) => {$(
        impl ToF64 for $t {
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
to_f64_plain!(i8, i16, i32, i64, u8, u16, u32, u64);

impl ToF64 for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

impl ToF64 for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    #[inline]
    fn masked_sum(values: &[f32], mask: &[u64]) -> f64 {
        kernels::masked_sum_f32(values, mask)
    }

    #[inline]
    fn masked_abs_sum(values: &[f32], mask: &[u64]) -> f64 {
        kernels::masked_abs_sum_f32(values, mask)
    }

    #[inline]
    fn masked_sq_sum(values: &[f32], mask: &[u64]) -> f64 {
        kernels::masked_sq_sum_f32(values, mask)
    }

    #[inline]
    fn slice_sum(values: &[f32]) -> f64 {
        kernels::sum_f32(values)
    }

    #[inline]
    fn slice_abs_sum(values: &[f32]) -> f64 {
        kernels::abs_sum_f32(values)
    }

    #[inline]
    fn slice_sq_sum(values: &[f32]) -> f64 {
        kernels::sq_sum_f32(values)
    }
}

/// A floating-point value (`f32`, `f64`): what the arithmetic transforms (scale,
/// clamp, axpy, lerp, gradient steps) need.
///
/// ```
/// use sparsevdb_traverse::Real;
/// let mut y = [1.0f32; 4];
/// f32::scaled_add(&mut y, 2.0, &[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(y, [3.0, 5.0, 7.0, 9.0]);
/// assert_eq!(Real::abs(-2.5f64), 2.5);
/// ```
pub trait Real:
    ToF64
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
{
    /// `|self|`.
    fn abs(self) -> Self;
    /// The nearest value to `v`.
    fn from_f64(v: f64) -> Self;

    /// `y[i] = y[i] + a * x[i]` (a multiply, then an add: never fused, so every
    /// implementation gives the same bits). `x` and `y` have the same length.
    #[inline]
    fn scaled_add(y: &mut [Self], a: Self, x: &[Self]) {
        kernels::portable::scaled_add(y, a, x);
    }

    /// `mask[w] &= !(bits i where |values[i]| < t)`: turns off the mask bits of the
    /// values whose magnitude is below `t` (NaN is never below).
    #[inline]
    fn mask_below(values: &[Self], t: Self, mask: &mut [u64]) {
        kernels::portable::mask_below(values, t, mask);
    }
}

impl Real for f32 {
    #[inline]
    fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn scaled_add(y: &mut [f32], a: f32, x: &[f32]) {
        kernels::scaled_add_f32(y, a, x);
    }
    #[inline]
    fn mask_below(values: &[f32], t: f32, mask: &mut [u64]) {
        kernels::mask_below_f32(values, t, mask);
    }
}

impl Real for f64 {
    #[inline]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
}
