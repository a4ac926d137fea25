//! Deterministic synthetic weights (SplitMix64, as `shared/bench/WORKLOADS.md`
//! defines it) for tests and for the example when the real model is absent.

use crate::model::TensorSpec;

/// The SplitMix64 generator of the benchmark workloads.
///
/// ```
/// use sparsevdb_neural::synth::SplitMix64;
/// let mut r = SplitMix64::new(1);
/// let u = r.unit();
/// assert!((0.0..1.0).contains(&u));
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)` with 24 random bits.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / 16_777_216.0
    }

    /// A roughly normal value (mean 0, standard deviation about `scale`):
    /// the sum of four uniforms, centred and scaled.
    pub fn normalish(&mut self, scale: f32) -> f32 {
        let s: f32 = (0..4).map(|_| self.unit()).sum::<f32>() - 2.0;
        s * scale * 1.732_050_8
    }
}

/// Weights for `spec` shaped like a trained transformer's: matrices roughly
/// normal with standard deviation 0.05, vectors named `*LayerNorm.weight`,
/// `*ln_*.weight` or `*norm.weight` near 1, other vectors near 0.
///
/// ```
/// use sparsevdb_neural::{synth::synthetic_values, TensorSpec};
/// let w = synthetic_values(&TensorSpec::new("encoder.layer.0.output.LayerNorm.weight", [4]), 1);
/// assert!(w.iter().all(|v| (v - 1.0).abs() < 0.2));
/// ```
pub fn synthetic_values(spec: &TensorSpec, seed: u64) -> Vec<f32> {
    let mut h = seed;
    for b in spec.name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = SplitMix64::new(h);
    let n = spec.len();
    let is_norm_weight = spec.shape.len() == 1
        && spec.name.ends_with(".weight")
        && (spec.name.contains("LayerNorm")
            || spec.name.contains("ln_")
            || spec.name.contains("norm"));
    (0..n)
        .map(|_| {
            if is_norm_weight {
                1.0 + rng.normalish(0.05)
            } else {
                rng.normalish(0.05)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference() {
        // first output of SplitMix64 seeded with 0 (reference value)
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn deterministic() {
        let s = TensorSpec::new("w", [3, 3]);
        assert_eq!(synthetic_values(&s, 5), synthetic_values(&s, 5));
        assert_ne!(synthetic_values(&s, 5), synthetic_values(&s, 6));
    }
}
