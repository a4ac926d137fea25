//! Sparsity rules and magnitude-threshold selection.
//!
//! A target sparsity `s` over `n` values keeps `k = round(n·(1−s))` values
//! (round half to even, as Python's `round`): the threshold `t` is the k-th
//! largest `|w|` and every `|w| >= t` is kept, so ties at `t` may keep a few
//! more than `k`. This is the definition of `shared/data/README.md`, and the
//! `kept99` column of `stats.md` follows from it. NaN is never kept by a
//! threshold, and does not count among the largest magnitudes.

use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};

/// Which values of a matrix to keep.
///
/// ```
/// use sparsevdb_neural::{Cut, SparsityRule};
/// let w = [0.1f32, -0.5, 0.2, 0.05];
/// assert_eq!(SparsityRule::Sparsity(0.5).cut(&w).unwrap(), Cut::AtLeast(0.2));
/// assert_eq!(SparsityRule::Threshold(0.1).cut(&w).unwrap(), Cut::AtLeast(0.1));
/// assert_eq!(SparsityRule::KeepAll.cut(&w).unwrap(), Cut::All);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum SparsityRule {
    /// Keep every value (a dense store; zeros still cost nothing).
    #[default]
    KeepAll,
    /// Keep `|w| >= t` (`t` ≥ 0, not NaN).
    Threshold(f32),
    /// Keep the largest magnitudes so that this fraction (in `[0, 1]`) is
    /// dropped, per matrix.
    Sparsity(f64),
}

/// The decision a rule takes for one matrix.
///
/// ```
/// use sparsevdb_neural::Cut;
/// assert!(Cut::AtLeast(0.5).keeps(-0.5));
/// assert!(!Cut::AtLeast(0.5).keeps(f32::NAN));
/// assert!(Cut::All.keeps(f32::NAN));
/// assert!(!Cut::Nothing.keeps(1.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Cut {
    /// Keep everything, NaN included.
    All,
    /// Keep `|w| >= t`.
    AtLeast(f32),
    /// Keep nothing.
    Nothing,
}

impl Cut {
    /// Whether `w` is kept.
    #[inline]
    pub fn keeps(&self, w: f32) -> bool {
        match *self {
            Cut::All => true,
            Cut::AtLeast(t) => w.abs() >= t,
            Cut::Nothing => false,
        }
    }

    /// Whether `w` is kept *and* must be stored: a kept `+0.0` is the
    /// background and costs nothing (it reads back as `+0.0` anyway), a kept
    /// `-0.0` is stored so that it reads back bit-exact.
    ///
    /// ```
    /// use sparsevdb_neural::Cut;
    /// assert!(!Cut::All.stores(0.0));
    /// assert!(Cut::All.stores(-0.0));
    /// ```
    #[inline]
    pub fn stores(&self, w: f32) -> bool {
        w.to_bits() != 0 && self.keeps(w)
    }
}

impl SparsityRule {
    /// Checks the rule's parameter ([`NeuralError::InvalidSparsity`]).
    ///
    /// ```
    /// use sparsevdb_neural::SparsityRule;
    /// assert!(SparsityRule::Sparsity(1.5).validate().is_err());
    /// assert!(SparsityRule::Threshold(-1.0).validate().is_err());
    /// assert!(SparsityRule::Threshold(f32::NAN).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        match *self {
            SparsityRule::KeepAll => Ok(()),
            SparsityRule::Threshold(t) if t >= 0.0 => Ok(()),
            SparsityRule::Threshold(t) => Err(NeuralError::InvalidSparsity(format!(
                "threshold {t} is negative or NaN"
            ))),
            SparsityRule::Sparsity(s) if (0.0..=1.0).contains(&s) => Ok(()),
            SparsityRule::Sparsity(s) => Err(NeuralError::InvalidSparsity(format!(
                "sparsity {s} is outside [0, 1]"
            ))),
        }
    }

    /// The cut this rule makes on `values`.
    pub fn cut(&self, values: &[f32]) -> Result<Cut> {
        self.validate()?;
        Ok(match *self {
            SparsityRule::KeepAll => Cut::All,
            SparsityRule::Threshold(t) => Cut::AtLeast(t),
            SparsityRule::Sparsity(s) => match magnitude_threshold(values, s)? {
                Some(t) => Cut::AtLeast(t),
                None => Cut::Nothing,
            },
        })
    }
}

/// The number of values a sparsity `s` keeps out of `n`:
/// `round(n·(1−s))`, half to even.
///
/// ```
/// use sparsevdb_neural::sparsity::kept_count;
/// assert_eq!(kept_count(384 * 384, 0.99), 1475);
/// assert_eq!(kept_count(2, 0.75), 0);  // 0.5 rounds to even
/// assert_eq!(kept_count(6, 0.75), 2);  // 1.5 rounds to even
/// assert_eq!(kept_count(10, 0.75), 2); // 2.5 rounds to even
/// ```
pub fn kept_count(n: usize, sparsity: f64) -> usize {
    let k = (n as f64 * (1.0 - sparsity)).round_ties_even();
    (k.max(0.0) as usize).min(n)
}

/// The magnitude threshold for sparsity `s`: the k-th largest `|w|` with
/// `k = round(n·(1−s))`, or `None` when `k` is 0 (or every value is NaN).
/// Runs in O(n) (selection, not a sort).
///
/// ```
/// use sparsevdb_neural::sparsity::magnitude_threshold;
/// let w = [0.3f32, -0.9, 0.1, 0.9, -0.2];
/// assert_eq!(magnitude_threshold(&w, 0.6).unwrap(), Some(0.9)); // k = 2: both 0.9s
/// assert_eq!(magnitude_threshold(&w, 1.0).unwrap(), None);
/// ```
pub fn magnitude_threshold(values: &[f32], sparsity: f64) -> Result<Option<f32>> {
    SparsityRule::Sparsity(sparsity).validate()?;
    let mut mags: Vec<f32> = values
        .iter()
        .map(|w| w.abs())
        .filter(|m| !m.is_nan())
        .collect();
    let k = kept_count(values.len(), sparsity).min(mags.len());
    if k == 0 {
        return Ok(None);
    }
    let idx = mags.len() - k;
    let (_, t, _) = mags.select_nth_unstable_by(idx, f32::total_cmp);
    Ok(Some(*t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_full_sort() {
        let mut s = 12345u64;
        let vals: Vec<f32> = (0..10_000)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((s >> 40) as f32 / 16777216.0 - 0.5) * 2.0
            })
            .collect();
        let mut sorted: Vec<f32> = vals.iter().map(|v| v.abs()).collect();
        sorted.sort_by(|a, b| b.total_cmp(a));
        for sp in [0.0, 0.5, 0.9, 0.99, 0.999, 0.99995] {
            let k = kept_count(vals.len(), sp);
            let t = magnitude_threshold(&vals, sp).unwrap();
            if k == 0 {
                assert_eq!(t, None);
            } else {
                assert_eq!(t, Some(sorted[k - 1]));
                let kept = vals.iter().filter(|v| v.abs() >= t.unwrap()).count();
                assert!(kept >= k);
            }
        }
    }

    #[test]
    fn ties_keep_more() {
        let w = [1.0f32, 1.0, 1.0, 0.5];
        let t = magnitude_threshold(&w, 0.5).unwrap().unwrap();
        assert_eq!(w.iter().filter(|v| v.abs() >= t).count(), 3);
    }

    #[test]
    fn nan_and_edge_cases() {
        let w = [f32::NAN, 0.5, -0.25, f32::NAN];
        // k = 2 of 4: the two real values
        assert_eq!(magnitude_threshold(&w, 0.5).unwrap(), Some(0.25));
        // k = 4 > 2 real values: keep every non-NaN
        assert_eq!(magnitude_threshold(&w, 0.0).unwrap(), Some(0.25));
        assert_eq!(magnitude_threshold(&[f32::NAN], 0.0).unwrap(), None);
        assert_eq!(magnitude_threshold(&[], 0.5).unwrap(), None);
        assert!(magnitude_threshold(&w, -0.1).is_err());
        assert!(magnitude_threshold(&w, f64::NAN).is_err());
        assert_eq!(SparsityRule::Sparsity(1.0).cut(&w).unwrap(), Cut::Nothing);
    }
}
