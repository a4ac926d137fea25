//! SIMD kernels over leaf buffers (a leaf's values and its active-mask words), with
//! runtime CPU detection and a portable fallback.
//!
//! # Paths
//! [`detected`] finds the best instruction set once: [`Isa::Avx512`] (AVX-512 F, VL,
//! DQ, BW), [`Isa::Avx2`], or [`Isa::Portable`] (plain Rust for the baseline target;
//! always under Miri and off x86-64). [`set_max_isa`] caps it (for measurements and
//! tests); every kernel also has a `*_with(isa, ..)` form.
//!
//! # Exactness
//! Every path returns the **same bits** (NaN payloads aside):
//! - the masked reductions ([`masked_sum_f32`], [`masked_abs_sum_f32`],
//!   [`masked_sq_sum_f32`]) accumulate in `f64` in a fixed lane structure — value
//!   `i` goes to lane `i % 16`, in ascending `i`, and the 16 lanes are combined
//!   pairwise ([`portable::combine_lanes`]); AVX-512 holds the lanes in two 8-wide
//!   registers with write masks, AVX2 in four 4-wide ones, the portable code in an
//!   array. `f32 → f64` is exact and so is the square of an `f32` in `f64`.
//! - the contiguous reductions ([`sum_f32`], [`abs_sum_f32`], [`sq_sum_f32`]: a
//!   packed leaf's active values, no mask) use the same lanes with value `j` of the
//!   slice in lane `j % 16` ([`portable::reduce`]);
//! - the element-wise kernels ([`scaled_add_f32`], [`zip_apply`], [`map`], [`masked_map`])
//!   do one IEEE operation per element in the same order, never fused.
//! - [`mask_below_f32`] compares (`|v| < t`, ordered) exactly.
//!
//! The tests in this module and `tests/kernels.rs` check each path against the
//! portable one on random buffers, NaN and infinities included.
//!
//! ```
//! use sparsevdb_traverse::kernels::{self, Isa};
//! let values: Vec<f32> = (0..512).map(|i| i as f32).collect();
//! let mask = [u64::MAX; 8];
//! let fast = kernels::masked_sum_f32(&values, &mask);
//! let slow = kernels::masked_sum_f32_with(Isa::Portable, &values, &mask);
//! assert_eq!(fast.to_bits(), slow.to_bits());
//! assert_eq!(fast, (0..512).sum::<i32>() as f64);
//! ```

pub mod portable;
#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86;

use std::sync::atomic::{AtomicU8, Ordering};

pub(crate) const OP_SUM: u8 = 0;
pub(crate) const OP_ABS: u8 = 1;
pub(crate) const OP_SQ: u8 = 2;

/// An instruction set the kernels can use, from the most portable up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Plain Rust compiled for the baseline target (SSE2 on x86-64).
    Portable = 0,
    /// AVX2 (x86-64).
    Avx2 = 1,
    /// AVX-512 F, VL, DQ and BW (x86-64).
    Avx512 = 2,
}

impl Isa {
    /// A short name: `portable`, `avx2`, `avx512`.
    ///
    /// ```
    /// assert_eq!(sparsevdb_traverse::kernels::Isa::Avx2.name(), "avx2");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    fn from_u8(v: u8) -> Isa {
        match v {
            0 => Isa::Portable,
            1 => Isa::Avx2,
            _ => Isa::Avx512,
        }
    }
}

/// "Not known yet" in [`DETECTED`] and [`ACTIVE`].
const UNKNOWN: u8 = u8::MAX;
/// The result of `detect()` once it has run (`UNKNOWN` before): a plain relaxed
/// load on the kernels' hot path. `detect()` always returns the same value, so
/// racing first calls store the same byte.
static DETECTED: AtomicU8 = AtomicU8::new(UNKNOWN);
/// The instruction set the kernels use: `detected()` capped by the last
/// [`set_max_isa`] (`UNKNOWN` until either is needed). It only ever holds a value
/// `<= detected()`.
static ACTIVE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// The best instruction set this CPU offers (detected once; [`Isa::Portable`] under
/// Miri and off x86-64).
///
/// ```
/// let isa = sparsevdb_traverse::kernels::detected();
/// println!("kernels use {}", isa.name());
/// ```
#[inline]
pub fn detected() -> Isa {
    let d = DETECTED.load(Ordering::Relaxed);
    if d != UNKNOWN {
        Isa::from_u8(d)
    } else {
        detect_once()
    }
}

#[cold]
#[inline(never)]
fn detect_once() -> Isa {
    let isa = detect();
    DETECTED.store(isa as u8, Ordering::Relaxed);
    isa
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn detect() -> Isa {
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx2")
    {
        Isa::Avx512
    } else if is_x86_feature_detected!("avx2") {
        Isa::Avx2
    } else {
        Isa::Portable
    }
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn detect() -> Isa {
    Isa::Portable
}

/// Caps the instruction set every kernel uses from now on, in every thread (`None`:
/// no cap, the [`detected`] one). For measurements and tests; results do not
/// depend on it.
///
/// ```
/// use sparsevdb_traverse::kernels::{self, Isa};
/// kernels::set_max_isa(Some(Isa::Portable));
/// assert_eq!(kernels::active(), Isa::Portable);
/// kernels::set_max_isa(None);
/// assert_eq!(kernels::active(), kernels::detected());
/// ```
pub fn set_max_isa(cap: Option<Isa>) {
    let d = detected();
    ACTIVE.store(cap.map_or(d, |c| c.min(d)) as u8, Ordering::Relaxed);
}

/// The instruction set the kernels use now: [`detected`] capped by [`set_max_isa`].
///
/// ```
/// assert!(sparsevdb_traverse::kernels::active() <= sparsevdb_traverse::kernels::detected());
/// ```
#[inline]
pub fn active() -> Isa {
    let a = ACTIVE.load(Ordering::Relaxed);
    if a != UNKNOWN {
        Isa::from_u8(a)
    } else {
        active_first()
    }
}

/// First call of [`active`] with no [`set_max_isa`] before: no cap. A concurrent
/// `set_max_isa` wins (the exchange only replaces `UNKNOWN`).
#[cold]
#[inline(never)]
fn active_first() -> Isa {
    let d = detected() as u8;
    let a = match ACTIVE.compare_exchange(UNKNOWN, d, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => d,
        Err(set) => set,
    };
    Isa::from_u8(a)
}

/// Asks the CPU to start loading `data` into the cache (one `prefetcht0` per 64-byte
/// line); a no-op off x86-64 and under Miri. The tree's leaves are separate
/// allocations, so the hardware prefetcher cannot guess the next one: the
/// reductions prefetch a leaf's header 16 leaves and its values 8 leaves ahead of the
/// one they sum, which turns a latency-bound walk into a bandwidth-bound one (see
/// `docs/performance.md`).
///
/// ```
/// let v = vec![1.0f32; 512];
/// sparsevdb_traverse::kernels::prefetch(&v);
/// ```
#[inline(always)]
pub fn prefetch<T>(data: &[T]) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = data.as_ptr().cast::<i8>();
        let bytes = core::mem::size_of_val(data);
        let mut off = 0;
        while off < bytes {
            // SAFETY: a prefetch is a hint: it never faults and changes no memory
            // (any address may be prefetched); the address is inside `data` anyway
            // (`wrapping_add` so that no pointer arithmetic can be UB).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
            off += 64;
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = data;
}

#[inline]
fn masked_reduce_f32_with<const OP: u8>(isa: Isa, values: &[f32], mask: &[u64]) -> f64 {
    let isa = isa.min(detected());
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if values.len() == 64 * mask.len() {
        match isa {
            // SAFETY: `detected()` found AVX-512 F/VL/DQ/BW (isa <= detected) and the
            // lengths match, as the kernel requires.
            Isa::Avx512 => return unsafe { x86::masked_reduce_avx512::<OP>(values, mask) },
            // SAFETY: `detected()` found AVX2 and the lengths match.
            Isa::Avx2 => return unsafe { x86::masked_reduce_avx2::<OP>(values, mask) },
            Isa::Portable => {}
        }
    }
    let _ = isa;
    match OP {
        OP_ABS => portable::masked_reduce(values, mask, |v: f32| f64::from(v).abs()),
        OP_SQ => portable::masked_reduce(values, mask, |v: f32| {
            let x = f64::from(v);
            x * x
        }),
        _ => portable::masked_reduce(values, mask, f64::from),
    }
}

/// Sum in `f64` of the `values[i]` whose bit is on in `mask`, with the [`active`]
/// instruction set (see the module docs for the exact order of operations).
///
/// ```
/// let v = [1.5f32; 64];
/// assert_eq!(sparsevdb_traverse::kernels::masked_sum_f32(&v, &[0xff]), 12.0);
/// ```
#[inline]
pub fn masked_sum_f32(values: &[f32], mask: &[u64]) -> f64 {
    masked_reduce_f32_with::<OP_SUM>(active(), values, mask)
}

/// [`masked_sum_f32`] with a given instruction set (capped at [`detected`]).
///
/// ```
/// use sparsevdb_traverse::kernels::{masked_sum_f32_with, Isa};
/// assert_eq!(masked_sum_f32_with(Isa::Avx2, &[2.0; 64], &[0b11]), 4.0);
/// ```
#[inline]
pub fn masked_sum_f32_with(isa: Isa, values: &[f32], mask: &[u64]) -> f64 {
    masked_reduce_f32_with::<OP_SUM>(isa, values, mask)
}

/// Sum in `f64` of `|values[i]|` over the active bits (the L1 norm of a leaf).
///
/// ```
/// let v = [-1.0f32; 64];
/// assert_eq!(sparsevdb_traverse::kernels::masked_abs_sum_f32(&v, &[0b111]), 3.0);
/// ```
#[inline]
pub fn masked_abs_sum_f32(values: &[f32], mask: &[u64]) -> f64 {
    masked_reduce_f32_with::<OP_ABS>(active(), values, mask)
}

/// [`masked_abs_sum_f32`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{masked_abs_sum_f32_with, Isa};
/// assert_eq!(masked_abs_sum_f32_with(Isa::Portable, &[-2.0; 64], &[1]), 2.0);
/// ```
#[inline]
pub fn masked_abs_sum_f32_with(isa: Isa, values: &[f32], mask: &[u64]) -> f64 {
    masked_reduce_f32_with::<OP_ABS>(isa, values, mask)
}

/// Sum in `f64` of `values[i]²` over the active bits (the squared L2 norm of a leaf).
///
/// ```
/// let v = [3.0f32; 64];
/// assert_eq!(sparsevdb_traverse::kernels::masked_sq_sum_f32(&v, &[0b11]), 18.0);
/// ```
#[inline]
pub fn masked_sq_sum_f32(values: &[f32], mask: &[u64]) -> f64 {
    masked_reduce_f32_with::<OP_SQ>(active(), values, mask)
}

/// [`masked_sq_sum_f32`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{masked_sq_sum_f32_with, Isa};
/// assert_eq!(masked_sq_sum_f32_with(Isa::Avx512, &[2.0; 64], &[1]), 4.0);
/// ```
#[inline]
pub fn masked_sq_sum_f32_with(isa: Isa, values: &[f32], mask: &[u64]) -> f64 {
    masked_reduce_f32_with::<OP_SQ>(isa, values, mask)
}

#[inline]
fn reduce_f32_with<const OP: u8>(isa: Isa, values: &[f32]) -> f64 {
    let isa = isa.min(detected());
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    match isa {
        // SAFETY: `detected()` found AVX-512 F/VL/DQ/BW (isa <= detected); the kernel
        // reads only inside `values` (and a local copy of its tail).
        Isa::Avx512 => return unsafe { x86::reduce_avx512::<OP>(values) },
        // SAFETY: `detected()` found AVX2; same bounds.
        Isa::Avx2 => return unsafe { x86::reduce_avx2::<OP>(values) },
        Isa::Portable => {}
    }
    let _ = isa;
    match OP {
        OP_ABS => portable::reduce(values, |v: f32| f64::from(v).abs()),
        OP_SQ => portable::reduce(values, |v: f32| {
            let x = f64::from(v);
            x * x
        }),
        _ => portable::reduce(values, f64::from),
    }
}

/// Sum in `f64` of every value of a contiguous slice (a packed leaf's active
/// values), with the [`active`] instruction set: value `j` goes to lane `j % 16`
/// (see [`portable::reduce`]), so a slice of `64·w` values gives the bits of
/// [`masked_sum_f32`] with every bit of `w` mask words on.
///
/// ```
/// let v: Vec<f32> = (0..100).map(|i| i as f32).collect();
/// assert_eq!(sparsevdb_traverse::kernels::sum_f32(&v), 4950.0);
/// ```
#[inline]
pub fn sum_f32(values: &[f32]) -> f64 {
    reduce_f32_with::<OP_SUM>(active(), values)
}

/// [`sum_f32`] with a given instruction set (capped at [`detected`]).
///
/// ```
/// use sparsevdb_traverse::kernels::{sum_f32_with, Isa};
/// assert_eq!(sum_f32_with(Isa::Avx2, &[2.0; 37]), 74.0);
/// ```
#[inline]
pub fn sum_f32_with(isa: Isa, values: &[f32]) -> f64 {
    reduce_f32_with::<OP_SUM>(isa, values)
}

/// Sum in `f64` of `|v|` over a contiguous slice (canonical lane order, as
/// [`sum_f32`]).
///
/// ```
/// assert_eq!(sparsevdb_traverse::kernels::abs_sum_f32(&[-1.0, 2.0, -3.0]), 6.0);
/// ```
#[inline]
pub fn abs_sum_f32(values: &[f32]) -> f64 {
    reduce_f32_with::<OP_ABS>(active(), values)
}

/// [`abs_sum_f32`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{abs_sum_f32_with, Isa};
/// assert_eq!(abs_sum_f32_with(Isa::Portable, &[-2.0; 3]), 6.0);
/// ```
#[inline]
pub fn abs_sum_f32_with(isa: Isa, values: &[f32]) -> f64 {
    reduce_f32_with::<OP_ABS>(isa, values)
}

/// Sum in `f64` of `v²` over a contiguous slice (canonical lane order, as
/// [`sum_f32`]).
///
/// ```
/// assert_eq!(sparsevdb_traverse::kernels::sq_sum_f32(&[3.0, -4.0]), 25.0);
/// ```
#[inline]
pub fn sq_sum_f32(values: &[f32]) -> f64 {
    reduce_f32_with::<OP_SQ>(active(), values)
}

/// [`sq_sum_f32`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{sq_sum_f32_with, Isa};
/// assert_eq!(sq_sum_f32_with(Isa::Avx512, &[2.0; 5]), 20.0);
/// ```
#[inline]
pub fn sq_sum_f32_with(isa: Isa, values: &[f32]) -> f64 {
    reduce_f32_with::<OP_SQ>(isa, values)
}

/// `y[i] = y[i] + a * x[i]` (the dense-leaf axpy), with the [`active`] instruction set.
///
/// # Panics
/// When the lengths differ.
///
/// ```
/// let mut y = [1.0f32; 20];
/// sparsevdb_traverse::kernels::scaled_add_f32(&mut y, 0.5, &[4.0; 20]);
/// assert_eq!(y, [3.0; 20]);
/// ```
#[inline]
pub fn scaled_add_f32(y: &mut [f32], a: f32, x: &[f32]) {
    scaled_add_f32_with(active(), y, a, x);
}

/// [`scaled_add_f32`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{scaled_add_f32_with, Isa};
/// let mut y = [1.0f32; 3];
/// scaled_add_f32_with(Isa::Portable, &mut y, 2.0, &[1.0; 3]);
/// assert_eq!(y, [3.0; 3]);
/// ```
#[inline]
pub fn scaled_add_f32_with(isa: Isa, y: &mut [f32], a: f32, x: &[f32]) {
    assert_eq!(y.len(), x.len(), "scaled_add: lengths differ");
    let isa = isa.min(detected());
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    match isa {
        // SAFETY: AVX-512 F was detected; the lengths are equal (asserted).
        Isa::Avx512 => return unsafe { x86::scaled_add_avx512(y, a, x) },
        // SAFETY: AVX2 was detected; the lengths are equal (asserted).
        Isa::Avx2 => return unsafe { x86::scaled_add_avx2(y, a, x) },
        Isa::Portable => {}
    }
    let _ = isa;
    portable::scaled_add(y, a, x);
}

/// Turns off bit `i` of `mask` wherever `|values[i]| < t` (the threshold → mask
/// kernel; NaN is never below), with the [`active`] instruction set.
///
/// # Panics
/// When `mask` has fewer than `values.len()` bits.
///
/// ```
/// let mut v = [1.0f32; 64];
/// v[3] = 0.25;
/// let mut m = [u64::MAX];
/// sparsevdb_traverse::kernels::mask_below_f32(&v, 0.5, &mut m);
/// assert_eq!(m, [!(1u64 << 3)]);
/// ```
#[inline]
pub fn mask_below_f32(values: &[f32], t: f32, mask: &mut [u64]) {
    mask_below_f32_with(active(), values, t, mask);
}

/// [`mask_below_f32`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{mask_below_f32_with, Isa};
/// let mut m = [u64::MAX];
/// mask_below_f32_with(Isa::Avx2, &[0.0; 64], 1.0, &mut m);
/// assert_eq!(m, [0]);
/// ```
#[inline]
pub fn mask_below_f32_with(isa: Isa, values: &[f32], t: f32, mask: &mut [u64]) {
    let isa = isa.min(detected());
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if values.len() == 64 * mask.len() {
        match isa {
            // SAFETY: AVX-512 F was detected and the lengths match.
            Isa::Avx512 => return unsafe { x86::mask_below_avx512(values, t, mask) },
            // SAFETY: AVX2 was detected and the lengths match.
            Isa::Avx2 => return unsafe { x86::mask_below_avx2(values, t, mask) },
            Isa::Portable => {}
        }
    }
    let _ = isa;
    portable::mask_below(values, t, mask);
}

/// `a[i] = f(a[i], b[i])` for every `i`, compiled for the [`active`] instruction set
/// (the same safe loop, vectorised by the compiler for AVX2 / AVX-512).
///
/// # Panics
/// When the lengths differ.
///
/// ```
/// let mut a = [1.0f32; 512];
/// sparsevdb_traverse::kernels::zip_apply(&mut a, &[2.0; 512], &|x, y| x + y);
/// assert!(a.iter().all(|&v| v == 3.0));
/// ```
#[inline]
pub fn zip_apply<T: Copy, F: Fn(T, T) -> T>(a: &mut [T], b: &[T], f: &F) {
    zip_apply_with(active(), a, b, f);
}

/// [`zip_apply`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{zip_apply_with, Isa};
/// let mut a = [1i32; 4];
/// zip_apply_with(Isa::Portable, &mut a, &[2; 4], &|x, y| x * y);
/// assert_eq!(a, [2; 4]);
/// ```
#[inline]
pub fn zip_apply_with<T: Copy, F: Fn(T, T) -> T>(isa: Isa, a: &mut [T], b: &[T], f: &F) {
    assert_eq!(a.len(), b.len(), "zip_apply: lengths differ");
    let isa = isa.min(detected());
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    match isa {
        // SAFETY: the AVX-512 features it enables were detected.
        Isa::Avx512 => return unsafe { x86::zip_apply_avx512(a, b, f) },
        // SAFETY: AVX2 was detected.
        Isa::Avx2 => return unsafe { x86::zip_apply_avx2(a, b, f) },
        Isa::Portable => {}
    }
    let _ = isa;
    portable::zip_apply(a, b, f);
}

/// `a[i] = f(a[i])` for every `i` (a packed leaf's active values), compiled for the
/// [`active`] instruction set.
///
/// ```
/// let mut a = [2.0f32; 37];
/// sparsevdb_traverse::kernels::map(&mut a, &|x| x * 10.0);
/// assert!(a.iter().all(|&v| v == 20.0));
/// ```
#[inline]
pub fn map<T: Copy, F: Fn(T) -> T>(a: &mut [T], f: &F) {
    map_with(active(), a, f);
}

/// [`map`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{map_with, Isa};
/// let mut a = [1i32; 4];
/// map_with(Isa::Portable, &mut a, &|x| x + 1);
/// assert_eq!(a, [2; 4]);
/// ```
#[inline]
pub fn map_with<T: Copy, F: Fn(T) -> T>(isa: Isa, a: &mut [T], f: &F) {
    let isa = isa.min(detected());
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    match isa {
        // SAFETY: the AVX-512 features it enables were detected.
        Isa::Avx512 => return unsafe { x86::map_avx512(a, f) },
        // SAFETY: AVX2 was detected.
        Isa::Avx2 => return unsafe { x86::map_avx2(a, f) },
        Isa::Portable => {}
    }
    let _ = isa;
    portable::map(a, f);
}

/// `a[i] = f(a[i])` where bit `i` of `mask` is on, compiled for the [`active`]
/// instruction set. `f` may also be evaluated on the inactive values (its result is
/// discarded), so it must be a pure function that never panics.
///
/// # Panics
/// When `mask` has fewer than `a.len()` bits.
///
/// ```
/// let mut a = [2.0f32; 64];
/// sparsevdb_traverse::kernels::masked_map(&mut a, &[1], &|x| x * 10.0);
/// assert_eq!((a[0], a[1]), (20.0, 2.0));
/// ```
#[inline]
pub fn masked_map<T: Copy, F: Fn(T) -> T>(a: &mut [T], mask: &[u64], f: &F) {
    masked_map_with(active(), a, mask, f);
}

/// [`masked_map`] with a given instruction set.
///
/// ```
/// use sparsevdb_traverse::kernels::{masked_map_with, Isa};
/// let mut a = [2.0f32; 8];
/// masked_map_with(Isa::Avx2, &mut a, &[0b10], &|x| x + 1.0);
/// assert_eq!((a[0], a[1]), (2.0, 3.0));
/// ```
#[inline]
pub fn masked_map_with<T: Copy, F: Fn(T) -> T>(isa: Isa, a: &mut [T], mask: &[u64], f: &F) {
    assert!(mask.len() * 64 >= a.len(), "mask too short");
    let isa = isa.min(detected());
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    match isa {
        // SAFETY: the AVX-512 features it enables were detected.
        Isa::Avx512 => return unsafe { x86::masked_map_avx512(a, mask, f) },
        // SAFETY: AVX2 was detected.
        Isa::Avx2 => return unsafe { x86::masked_map_avx2(a, mask, f) },
        Isa::Portable => {}
    }
    let _ = isa;
    portable::masked_map(a, mask, f);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64, for test buffers.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed;
        move || {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    fn buffer(seed: u64, words: usize) -> (Vec<f32>, Vec<u64>) {
        let mut r = rng(seed);
        let values = (0..words * 64)
            .map(|_| match r() % 50 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => -0.0,
                3 => f32::from_bits(r() as u32),
                _ => (r() >> 40) as f32 / 16_777_216.0 * 200.0 - 100.0,
            })
            .collect();
        let mask = (0..words).map(|_| r() & r()).collect();
        (values, mask)
    }

    fn isas() -> Vec<Isa> {
        [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|&i| i <= detected())
            .collect()
    }

    #[test]
    fn reductions_agree_bit_for_bit() {
        let rounds = if cfg!(miri) { 4 } else { 200 };
        for seed in 0..rounds {
            let (v, m) = buffer(seed, 8);
            let want = [
                portable::masked_reduce(&v, &m, f64::from),
                portable::masked_reduce(&v, &m, |x: f32| f64::from(x).abs()),
                portable::masked_reduce(&v, &m, |x: f32| f64::from(x) * f64::from(x)),
            ];
            for isa in isas() {
                let got = [
                    masked_sum_f32_with(isa, &v, &m),
                    masked_abs_sum_f32_with(isa, &v, &m),
                    masked_sq_sum_f32_with(isa, &v, &m),
                ];
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{isa:?} seed {seed}: {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn contiguous_reductions_agree_bit_for_bit() {
        let rounds = if cfg!(miri) { 4 } else { 200 };
        for seed in 0..rounds {
            let (v, _) = buffer(seed, 8);
            // Every length from 0 to 512 shows up (partial last blocks included).
            let len = (seed as usize * 37) % 513;
            let v = &v[..len];
            let want = [
                portable::reduce(v, f64::from),
                portable::reduce(v, |x: f32| f64::from(x).abs()),
                portable::reduce(v, |x: f32| f64::from(x) * f64::from(x)),
            ];
            for isa in isas() {
                let got = [
                    sum_f32_with(isa, v),
                    abs_sum_f32_with(isa, v),
                    sq_sum_f32_with(isa, v),
                ];
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                        "{isa:?} seed {seed} len {len}: {g} vs {w}"
                    );
                }
                let mut m = v.to_vec();
                map_with(isa, &mut m, &|a: f32| a * 3.0 - 1.0);
                assert!(m.iter().zip(v).all(|(a, b)| {
                    let w = *b * 3.0 - 1.0;
                    a.to_bits() == w.to_bits() || (a.is_nan() && w.is_nan())
                }));
            }
            // A full slice equals the masked reduction with every bit on.
            let (full, _) = buffer(seed + 7, 8);
            let all = [u64::MAX; 8];
            let (a, b) = (sum_f32(&full), masked_sum_f32(&full, &all));
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
        }
    }

    #[test]
    fn contiguous_reductions_read_partial_blocks_at_the_end_of_the_buffer() {
        // Every length up to 3 blocks, each slice the whole of its own allocation
        // (the AVX-512 kernel reads the last partial block with a masked load that
        // must stop at the end) and starting 1 float into one (unaligned blocks).
        let (v, _) = buffer(11, 1);
        for len in 0..=48usize {
            let own: Box<[f32]> = v[..len].into();
            let shifted: Box<[f32]> = v[..len + 1].into();
            for slice in [&own[..], &shifted[1..]] {
                let want = portable::reduce(slice, |x: f32| f64::from(x).abs());
                for isa in isas() {
                    let got = abs_sum_f32_with(isa, slice);
                    assert!(
                        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                        "{isa:?} len {len}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn active_follows_set_max_isa() {
        // `active()` is cached; every cap takes effect at once (and never exceeds
        // the detected set).
        for cap in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
            set_max_isa(Some(cap));
            assert_eq!(active(), cap.min(detected()));
        }
        set_max_isa(None);
        assert_eq!(active(), detected());
    }

    #[test]
    fn reduction_without_nan_is_finite_and_exact_on_integers() {
        let v: Vec<f32> = (0..512).map(|i| (i % 7) as f32 - 3.0).collect();
        let m = [u64::MAX; 8];
        for isa in isas() {
            let want: f64 = v.iter().map(|&x| f64::from(x)).sum();
            assert_eq!(masked_sum_f32_with(isa, &v, &m), want);
        }
    }

    #[test]
    fn elementwise_kernels_agree() {
        let rounds = if cfg!(miri) { 2 } else { 100 };
        for seed in 0..rounds {
            let (x, m) = buffer(seed, 8);
            let (y0, _) = buffer(seed + 1000, 8);
            let mut want_y = y0.clone();
            portable::scaled_add(&mut want_y, 0.37, &x);
            let mut want_m = m.clone();
            portable::mask_below(&x, 3.5, &mut want_m);
            for isa in isas() {
                let mut y = y0.clone();
                scaled_add_f32_with(isa, &mut y, 0.37, &x);
                let same = y
                    .iter()
                    .zip(&want_y)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
                assert!(same, "{isa:?} scaled_add seed {seed}");
                let mut mm = m.clone();
                mask_below_f32_with(isa, &x, 3.5, &mut mm);
                assert_eq!(mm, want_m, "{isa:?} mask_below seed {seed}");
                let mut z = y0.clone();
                zip_apply_with(isa, &mut z, &x, &|a, b| a - 0.25 * b);
                let mut zw = y0.clone();
                portable::zip_apply(&mut zw, &x, &|a: f32, b: f32| a - 0.25 * b);
                assert!(z
                    .iter()
                    .zip(&zw)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())));
                let mut mmap = y0.clone();
                masked_map_with(isa, &mut mmap, &m, &|a: f32| a * 3.0);
                let mut mw = y0.clone();
                portable::masked_map(&mut mw, &m, &|a: f32| a * 3.0);
                assert!(mmap
                    .iter()
                    .zip(&mw)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())));
            }
        }
    }

    #[test]
    fn short_buffers_use_the_portable_code() {
        // A 2³ leaf: 8 values, one partly used mask word.
        let v = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        for isa in isas() {
            assert_eq!(masked_sum_f32_with(isa, &v, &[0b1000_0001]), 9.0);
            let mut m = [0xffu64];
            mask_below_f32_with(isa, &v, 2.5, &mut m);
            assert_eq!(m, [0b1111_1100]);
        }
    }
}
