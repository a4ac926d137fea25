//! The [`Value`] trait: what a voxel value must offer (plain data, equality, and the
//! few arithmetic rules that OpenVDB's pruning, background change and compositing use).

use bytemuck::Pod;
use core::fmt::Debug;

/// A voxel value type: `f32`, `f64`, the signed and unsigned integers, and (feature
/// `half`) `half::f16` / `half::bf16`.
///
/// The methods mirror the helpers OpenVDB uses in its templates (`math::isApproxEqual`,
/// `math::negative`, `operator<`, `operator-`, `operator+`, `operator*`), so that the
/// tree's operations can follow OpenVDB's rules exactly. Integer arithmetic wraps
/// instead of overflowing.
///
/// ```
/// use sparsevdb_tree::Value;
/// assert!(<f32 as Value>::is_approx_equal(1.0, 1.0 + 1e-9));
/// assert!(!<f32 as Value>::is_approx_equal(1.0, 1.0001));
/// assert!(<i32 as Value>::exceeds_tolerance(10, 3, 6));
/// assert!(!<i32 as Value>::exceeds_tolerance(9, 3, 6));
/// ```
pub trait Value: Pod + PartialEq + Default + Debug + Send + Sync + 'static {
    /// OpenVDB `math::isApproxEqual(a, b)`: `!(|a − b| > tolerance)` with tolerance
    /// 1e-8 for `f32`, 1e-15 for `f64`, exact equality for integers. (As in OpenVDB,
    /// a NaN operand compares approximately equal to anything.)
    fn is_approx_equal(a: Self, b: Self) -> bool;
    /// OpenVDB `math::negative`: `-v` (wrapping for integers).
    fn negative(v: Self) -> Self;
    /// `a < b` (`operator<`).
    fn less_than(a: Self, b: Self) -> bool;
    /// `(hi − lo) > tol`, used by tolerance pruning; never overflows.
    fn exceeds_tolerance(hi: Self, lo: Self, tol: Self) -> bool;
    /// `a + b` (wrapping for integers).
    fn add(a: Self, b: Self) -> Self;
    /// `a * b` (wrapping for integers).
    fn mul(a: Self, b: Self) -> Self;
    /// Bit-for-bit equality (`-0.0 ≠ 0.0`, NaN payloads told apart): what the adaptive
    /// leaves and tile tables compare with, so that a shared value never stands in for
    /// one with other bits.
    ///
    /// ```
    /// use sparsevdb_tree::Value;
    /// assert!(<f32 as Value>::same_bits(1.0, 1.0));
    /// assert!(!<f32 as Value>::same_bits(0.0, -0.0));
    /// ```
    #[inline]
    fn same_bits(a: Self, b: Self) -> bool {
        bytemuck::bytes_of(&a) == bytemuck::bytes_of(&b)
    }
    /// `std::max(a, b)`: `if a < b { b } else { a }`.
    #[inline]
    fn max_value(a: Self, b: Self) -> Self {
        if Self::less_than(a, b) {
            b
        } else {
            a
        }
    }
    /// `std::min(a, b)`: `if b < a { b } else { a }`.
    #[inline]
    fn min_value(a: Self, b: Self) -> Self {
        if Self::less_than(b, a) {
            b
        } else {
            a
        }
    }
}

macro_rules! float_value {
    ($t:ty, $tol:expr) => {
        impl Value for $t {
            #[inline]
            fn is_approx_equal(a: Self, b: Self) -> bool {
                (a - b).abs().partial_cmp(&$tol) != Some(core::cmp::Ordering::Greater)
            }
            #[inline]
            fn negative(v: Self) -> Self {
                -v
            }
            #[inline]
            fn less_than(a: Self, b: Self) -> bool {
                a < b
            }
            #[inline]
            fn exceeds_tolerance(hi: Self, lo: Self, tol: Self) -> bool {
                (hi - lo) > tol
            }
            #[inline]
            fn add(a: Self, b: Self) -> Self {
                a + b
            }
            #[inline]
            fn mul(a: Self, b: Self) -> Self {
                a * b
            }
        }
    };
}

float_value!(f32, 1e-8f32);
float_value!(f64, 1e-15f64);

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline]
            fn is_approx_equal(a: Self, b: Self) -> bool {
                a == b
            }
            #[inline]
            fn negative(v: Self) -> Self {
                v.wrapping_neg()
            }
            #[inline]
            fn less_than(a: Self, b: Self) -> bool {
                a < b
            }
            #[inline]
            fn exceeds_tolerance(hi: Self, lo: Self, tol: Self) -> bool {
                (hi as i128 - lo as i128) > tol as i128
            }
            #[inline]
            fn add(a: Self, b: Self) -> Self {
                a.wrapping_add(b)
            }
            #[inline]
            fn mul(a: Self, b: Self) -> Self {
                a.wrapping_mul(b)
            }
        }
    )*};
}

int_value!(i8, i16, i32, i64, u8, u16, u32, u64);

#[cfg(feature = "half")]
macro_rules! half_value {
    ($t:ty, $tol:expr) => {
        impl Value for $t {
            #[inline]
            fn is_approx_equal(a: Self, b: Self) -> bool {
                (a.to_f32() - b.to_f32()).abs().partial_cmp(&$tol)
                    != Some(core::cmp::Ordering::Greater)
            }
            #[inline]
            fn negative(v: Self) -> Self {
                -v
            }
            #[inline]
            fn less_than(a: Self, b: Self) -> bool {
                a < b
            }
            #[inline]
            fn exceeds_tolerance(hi: Self, lo: Self, tol: Self) -> bool {
                <$t>::from_f32(hi.to_f32() - lo.to_f32()) > tol
            }
            #[inline]
            fn add(a: Self, b: Self) -> Self {
                <$t>::from_f32(a.to_f32() + b.to_f32())
            }
            #[inline]
            fn mul(a: Self, b: Self) -> Self {
                <$t>::from_f32(a.to_f32() * b.to_f32())
            }
        }
    };
}

#[cfg(feature = "half")]
half_value!(half::f16, 1e-8f32);
#[cfg(feature = "half")]
half_value!(half::bf16, 1e-8f32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_min_max_rules() {
        assert_eq!(f32::max_value(1.0, 2.0), 2.0);
        assert_eq!(f32::min_value(1.0, 2.0), 1.0);
        // NaN: std::max(a, b) returns a when !(a < b).
        assert!(f32::max_value(f32::NAN, 1.0).is_nan());
        assert_eq!(f32::max_value(1.0, f32::NAN), 1.0);
        assert_eq!(f32::min_value(1.0, f32::NAN), 1.0);
    }

    #[test]
    fn integer_tolerance_does_not_overflow() {
        assert!(i32::exceeds_tolerance(i32::MAX, i32::MIN, 0));
        assert!(!u8::exceeds_tolerance(255, 0, 255));
        assert_eq!(i32::add(i32::MAX, 1), i32::MIN);
        assert_eq!(i32::negative(i32::MIN), i32::MIN);
    }

    #[test]
    fn approx_equal_nan_like_openvdb() {
        assert!(f32::is_approx_equal(f32::NAN, 0.0));
        assert!(f64::is_approx_equal(1.0, 1.0 + 1e-16));
    }
}
