//! The x86-64 kernels: AVX2 and AVX-512 versions of the masked reductions, the
//! scaled add and the threshold mask, written with `std::arch` intrinsics, plus
//! AVX2 / AVX-512 instantiations of the portable closure kernels (the same safe code,
//! compiled with the wider instruction sets enabled).
//!
//! Every function here requires CPU features that the caller must have checked
//! (`super::detected`); the reductions also require `values.len() == 64 *
//! mask.len()`. The only `unsafe` operations are the unaligned loads and stores,
//! each inside that bound. Under Miri the dispatcher never comes here.

use core::arch::x86_64::*;

use super::portable;
use super::{OP_ABS, OP_SQ};

// ---- AVX-512 ------------------------------------------------------------------------

/// The canonical masked reduction of `values` (see `portable::masked_reduce`) with
/// AVX-512: each 16-value block adds its active values (as `f64`) to two 8-lane
/// accumulators, lanes `0..8` and `8..16`, under a write mask taken straight from the
/// mask word.
///
/// # Safety
/// The CPU must support `avx512f`, and `values.len() == 64 * mask.len()`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn masked_reduce_avx512<const OP: u8>(values: &[f32], mask: &[u64]) -> f64 {
    debug_assert_eq!(values.len(), mask.len() * 64);
    let p = values.as_ptr();
    let mut lo = _mm512_setzero_pd();
    let mut hi = _mm512_setzero_pd();
    for (w, &word) in mask.iter().enumerate() {
        if word == 0 {
            continue;
        }
        for q in 0..4 {
            let k = (word >> (16 * q)) as u16;
            if k == 0 {
                continue;
            }
            // SAFETY: w < mask.len() and q < 4, so the 16 floats at w * 64 + q * 16 end
            // at most at 64 * mask.len() == values.len() (the caller's contract).
            let v = unsafe { _mm512_loadu_ps(p.add(w * 64 + q * 16)) };
            let mut a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
            let mut b = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(v),
            )));
            if OP == OP_ABS {
                a = _mm512_abs_pd(a);
                b = _mm512_abs_pd(b);
            } else if OP == OP_SQ {
                a = _mm512_mul_pd(a, a);
                b = _mm512_mul_pd(b, b);
            }
            lo = _mm512_mask_add_pd(lo, k as u8, lo, a);
            hi = _mm512_mask_add_pd(hi, (k >> 8) as u8, hi, b);
        }
    }
    finish16_avx512(lo, hi)
}

/// The canonical contiguous reduction of `values` (see `portable::reduce`) with
/// AVX-512: each 16-value block adds to two 8-lane accumulators, lanes `0..8` and
/// `8..16`; the last partial block is read with a zero-masked load (its missing
/// values read as `+0.0`, and adding `+0.0` to an accumulator that starts at `+0.0`
/// equals skipping: it can never hold `-0.0`).
///
/// # Safety
/// The CPU must support `avx512f`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn reduce_avx512<const OP: u8>(values: &[f32]) -> f64 {
    let n = values.len();
    let p = values.as_ptr();
    let mut lo = _mm512_setzero_pd();
    let mut hi = _mm512_setzero_pd();
    let mut i = 0;
    while i < n {
        let v = if i + 16 <= n {
            // SAFETY: i + 16 <= n == values.len(): the 16 floats are in bounds.
            unsafe { _mm512_loadu_ps(p.add(i)) }
        } else {
            // Lanes `0..n - i` (1 to 15 of them) are loaded, the others are zero.
            let k = ((1u32 << (n - i)) - 1) as u16;
            // SAFETY: i < n, so `p.add(i)` is in bounds; a masked load reads only the
            // lanes whose mask bit is on (here `i..n`, inside `values`) and suppresses
            // faults on the others.
            unsafe { _mm512_maskz_loadu_ps(k, p.add(i)) }
        };
        let mut a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        let mut c = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
            _mm512_castps_pd(v),
        )));
        if OP == OP_ABS {
            a = _mm512_abs_pd(a);
            c = _mm512_abs_pd(c);
        } else if OP == OP_SQ {
            a = _mm512_mul_pd(a, a);
            c = _mm512_mul_pd(c, c);
        }
        lo = _mm512_add_pd(lo, a);
        hi = _mm512_add_pd(hi, c);
        i += 16;
    }
    finish16_avx512(lo, hi)
}

/// Combines the 16 lanes held in `lo` (lanes `0..8`) and `hi` (`8..16`) in the
/// canonical order (`portable::combine_lanes`): lanes `j` and `j + 8`, then `j` and
/// `j + 4`, then `j` and `j + 2`, then the last two — with in-register shuffles.
#[inline]
#[target_feature(enable = "avx512f")]
fn finish16_avx512(lo: __m512d, hi: __m512d) -> f64 {
    let t = _mm512_add_pd(lo, hi);
    let q = _mm256_add_pd(_mm512_castpd512_pd256(t), _mm512_extractf64x4_pd::<1>(t));
    let d = _mm_add_pd(_mm256_castpd256_pd128(q), _mm256_extractf128_pd::<1>(q));
    _mm_cvtsd_f64(_mm_add_sd(d, _mm_unpackhi_pd(d, d)))
}

/// `y[i] = y[i] + a * x[i]` with AVX-512 (multiply, then add: never fused).
///
/// # Safety
/// The CPU must support `avx512f`; `y.len() == x.len()`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn scaled_add_avx512(y: &mut [f32], a: f32, x: &[f32]) {
    debug_assert_eq!(y.len(), x.len());
    let n = y.len().min(x.len()) / 16 * 16;
    let va = _mm512_set1_ps(a);
    let (py, px) = (y.as_mut_ptr(), x.as_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n <= len of both slices; `y` is borrowed mutably, so the
        // store aliases nothing else.
        unsafe {
            let vy = _mm512_loadu_ps(py.add(i));
            let vx = _mm512_loadu_ps(px.add(i));
            _mm512_storeu_ps(py.add(i), _mm512_add_ps(vy, _mm512_mul_ps(va, vx)));
        }
        i += 16;
    }
    portable::scaled_add(&mut y[n..], a, &x[n..]);
}

/// Turns off the bits of `mask` where `|values[i]| < t` with AVX-512 compares.
///
/// # Safety
/// The CPU must support `avx512f`, and `values.len() == 64 * mask.len()`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn mask_below_avx512(values: &[f32], t: f32, mask: &mut [u64]) {
    debug_assert_eq!(values.len(), mask.len() * 64);
    let p = values.as_ptr();
    let vt = _mm512_set1_ps(t);
    for (w, word) in mask.iter_mut().enumerate() {
        let mut below = 0u64;
        for q in 0..4 {
            // SAFETY: w < mask.len() and q < 4: the 16 floats end within values.
            let v = unsafe { _mm512_loadu_ps(p.add(w * 64 + q * 16)) };
            let k = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_abs_ps(v), vt);
            below |= u64::from(k) << (16 * q);
        }
        *word &= !below;
    }
}

/// `portable::zip_apply` compiled with AVX-512 enabled.
///
/// # Safety
/// The CPU must support `avx512f`, `avx512vl`, `avx512dq`, `avx512bw` and `avx2`.
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2")]
pub(super) unsafe fn zip_apply_avx512<T: Copy, F: Fn(T, T) -> T>(a: &mut [T], b: &[T], f: &F) {
    portable::zip_apply(a, b, f);
}

/// `portable::map` compiled with AVX-512 enabled.
///
/// # Safety
/// The CPU must support `avx512f`, `avx512vl`, `avx512dq`, `avx512bw` and `avx2`.
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2")]
pub(super) unsafe fn map_avx512<T: Copy, F: Fn(T) -> T>(a: &mut [T], f: &F) {
    portable::map(a, f);
}

/// `portable::masked_map` compiled with AVX-512 enabled.
///
/// # Safety
/// The CPU must support `avx512f`, `avx512vl`, `avx512dq`, `avx512bw` and `avx2`.
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2")]
pub(super) unsafe fn masked_map_avx512<T: Copy, F: Fn(T) -> T>(a: &mut [T], mask: &[u64], f: &F) {
    portable::masked_map(a, mask, f);
}

// ---- AVX2 ---------------------------------------------------------------------------

/// The canonical masked reduction with AVX2: the 16 lanes are four 4-lane `f64`
/// accumulators; inactive values are zeroed before they are added (adding `+0.0`
/// leaves an accumulator that starts at `+0.0` unchanged, so this equals skipping).
///
/// # Safety
/// The CPU must support `avx2`, and `values.len() == 64 * mask.len()`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn masked_reduce_avx2<const OP: u8>(values: &[f32], mask: &[u64]) -> f64 {
    debug_assert_eq!(values.len(), mask.len() * 64);
    let p = values.as_ptr();
    let bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    let mut acc = [_mm256_setzero_pd(); 4];
    for (w, &word) in mask.iter().enumerate() {
        if word == 0 {
            continue;
        }
        for q in 0..4 {
            let k = (word >> (16 * q)) & 0xffff;
            if k == 0 {
                continue;
            }
            let base = w * 64 + q * 16;
            for h in 0..2 {
                // SAFETY: base + 8 * h + 8 <= w * 64 + 64 <= values.len().
                let v = unsafe { _mm256_loadu_ps(p.add(base + 8 * h)) };
                // Lane l keeps its value when bit l of this byte of the mask is on.
                let byte = _mm256_set1_epi32(((k >> (8 * h)) & 0xff) as i32);
                let on = _mm256_cmpeq_epi32(_mm256_and_si256(byte, bit), bit);
                let v = _mm256_and_ps(v, _mm256_castsi256_ps(on));
                let mut a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                let mut b = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
                if OP == OP_ABS {
                    let m = _mm256_set1_pd(-0.0);
                    a = _mm256_andnot_pd(m, a);
                    b = _mm256_andnot_pd(m, b);
                } else if OP == OP_SQ {
                    a = _mm256_mul_pd(a, a);
                    b = _mm256_mul_pd(b, b);
                }
                acc[2 * h] = _mm256_add_pd(acc[2 * h], a);
                acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], b);
            }
        }
    }
    // Lanes j and j + 8, then j and j + 4.
    let t = _mm256_add_pd(_mm256_add_pd(acc[0], acc[2]), _mm256_add_pd(acc[1], acc[3]));
    let mut s = [0.0f64; 4];
    // SAFETY: `s` holds exactly the 4 f64 that the store writes.
    unsafe { _mm256_storeu_pd(s.as_mut_ptr(), t) };
    (s[0] + s[2]) + (s[1] + s[3])
}

/// The canonical contiguous reduction with AVX2: four 4-lane `f64` accumulators
/// (lanes `0..4`, `4..8`, `8..12`, `12..16`), the last partial block read from a
/// zero-padded copy (zeros equal skipping, as in `reduce_avx512`).
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn reduce_avx2<const OP: u8>(values: &[f32]) -> f64 {
    let full = values.len() / 16 * 16;
    let mut tail = [0.0f32; 16];
    tail[..values.len() - full].copy_from_slice(&values[full..]);
    let blocks = full / 16 + usize::from(full < values.len());
    let mut acc = [_mm256_setzero_pd(); 4];
    for b in 0..blocks {
        let p = if b * 16 < full {
            // SAFETY: b * 16 + 16 <= full <= values.len(): in bounds.
            unsafe { values.as_ptr().add(b * 16) }
        } else {
            tail.as_ptr()
        };
        for h in 0..2 {
            // SAFETY: `p` points at 16 readable floats; 8 * h + 8 <= 16.
            let v = unsafe { _mm256_loadu_ps(p.add(8 * h)) };
            let mut a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
            let mut c = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
            if OP == OP_ABS {
                let m = _mm256_set1_pd(-0.0);
                a = _mm256_andnot_pd(m, a);
                c = _mm256_andnot_pd(m, c);
            } else if OP == OP_SQ {
                a = _mm256_mul_pd(a, a);
                c = _mm256_mul_pd(c, c);
            }
            acc[2 * h] = _mm256_add_pd(acc[2 * h], a);
            acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], c);
        }
    }
    // Lanes j and j + 8, then j and j + 4.
    let t = _mm256_add_pd(_mm256_add_pd(acc[0], acc[2]), _mm256_add_pd(acc[1], acc[3]));
    let mut s = [0.0f64; 4];
    // SAFETY: `s` holds exactly the 4 f64 that the store writes.
    unsafe { _mm256_storeu_pd(s.as_mut_ptr(), t) };
    (s[0] + s[2]) + (s[1] + s[3])
}

/// `y[i] = y[i] + a * x[i]` with AVX2 (never fused).
///
/// # Safety
/// The CPU must support `avx2`; `y.len() == x.len()`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn scaled_add_avx2(y: &mut [f32], a: f32, x: &[f32]) {
    debug_assert_eq!(y.len(), x.len());
    let n = y.len().min(x.len()) / 8 * 8;
    let va = _mm256_set1_ps(a);
    let (py, px) = (y.as_mut_ptr(), x.as_ptr());
    let mut i = 0;
    while i < n {
        // SAFETY: i + 8 <= n <= len of both slices; `y` is borrowed mutably.
        unsafe {
            let vy = _mm256_loadu_ps(py.add(i));
            let vx = _mm256_loadu_ps(px.add(i));
            _mm256_storeu_ps(py.add(i), _mm256_add_ps(vy, _mm256_mul_ps(va, vx)));
        }
        i += 8;
    }
    portable::scaled_add(&mut y[n..], a, &x[n..]);
}

/// Turns off the bits of `mask` where `|values[i]| < t` with AVX2 compares.
///
/// # Safety
/// The CPU must support `avx2`, and `values.len() == 64 * mask.len()`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn mask_below_avx2(values: &[f32], t: f32, mask: &mut [u64]) {
    debug_assert_eq!(values.len(), mask.len() * 64);
    let p = values.as_ptr();
    let vt = _mm256_set1_ps(t);
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    for (w, word) in mask.iter_mut().enumerate() {
        let mut below = 0u64;
        for q in 0..8 {
            // SAFETY: w < mask.len() and q < 8: the 8 floats end within values.
            let v = unsafe { _mm256_loadu_ps(p.add(w * 64 + q * 8)) };
            let lt = _mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_and_ps(v, abs), vt);
            below |= u64::from(_mm256_movemask_ps(lt) as u8) << (8 * q);
        }
        *word &= !below;
    }
}

/// `portable::zip_apply` compiled with AVX2 enabled.
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn zip_apply_avx2<T: Copy, F: Fn(T, T) -> T>(a: &mut [T], b: &[T], f: &F) {
    portable::zip_apply(a, b, f);
}

/// `portable::map` compiled with AVX2 enabled.
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn map_avx2<T: Copy, F: Fn(T) -> T>(a: &mut [T], f: &F) {
    portable::map(a, f);
}

/// `portable::masked_map` compiled with AVX2 enabled.
///
/// # Safety
/// The CPU must support `avx2`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn masked_map_avx2<T: Copy, F: Fn(T) -> T>(a: &mut [T], mask: &[u64], f: &F) {
    portable::masked_map(a, mask, f);
}
