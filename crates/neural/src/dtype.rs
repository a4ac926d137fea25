//! Element types of stored tensors (f32, f16, bf16) and their bit-exact
//! conversion to and from the grid's f32 values.
//!
//! Widening f16 and bf16 to f32 is exact, so is narrowing back any value that
//! came from the narrow type, NaN payloads included (this module converts NaNs
//! itself: `half` sets the quiet bit, which would change a signalling NaN).
//! Other f32 values are rounded to nearest, ties to even.

use half::{bf16, f16};
use serde::{Deserialize, Serialize};

use crate::error::{NeuralError, Result};

/// A supported element type.
///
/// ```
/// use sparsevdb_neural::Dtype;
/// assert_eq!(Dtype::F16.size(), 2);
/// assert_eq!(Dtype::Bf16.to_string(), "BF16");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dtype {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    Bf16,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
        }
    }

    /// The safetensors dtype of the same name.
    pub fn to_safetensors(self) -> safetensors::Dtype {
        match self {
            Dtype::F32 => safetensors::Dtype::F32,
            Dtype::F16 => safetensors::Dtype::F16,
            Dtype::Bf16 => safetensors::Dtype::BF16,
        }
    }

    /// The supported dtype for a safetensors dtype, or
    /// [`NeuralError::UnsupportedDtype`] naming `tensor`.
    ///
    /// ```
    /// use sparsevdb_neural::{Dtype, NeuralError};
    /// assert_eq!(Dtype::from_safetensors(safetensors::Dtype::BF16, "w").unwrap(), Dtype::Bf16);
    /// assert!(matches!(Dtype::from_safetensors(safetensors::Dtype::I64, "ids"), Err(NeuralError::UnsupportedDtype { .. })));
    /// ```
    pub fn from_safetensors(dtype: safetensors::Dtype, tensor: &str) -> Result<Self> {
        match dtype {
            safetensors::Dtype::F32 => Ok(Dtype::F32),
            safetensors::Dtype::F16 => Ok(Dtype::F16),
            safetensors::Dtype::BF16 => Ok(Dtype::Bf16),
            other => Err(NeuralError::UnsupportedDtype {
                name: tensor.to_string(),
                dtype: other.to_string(),
            }),
        }
    }
}

impl std::fmt::Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::Bf16 => "BF16",
        })
    }
}

/// f16 bits → f32, exact (NaN payload kept, signalling NaNs stay signalling).
///
/// ```
/// use sparsevdb_neural::dtype::{f16_bits_to_f32, f32_to_f16_bits};
/// for bits in [0x3c00u16, 0x8001, 0x7c01, 0xfe00] {
///     assert_eq!(f32_to_f16_bits(f16_bits_to_f32(bits)), bits);
/// }
/// ```
#[inline]
pub fn f16_bits_to_f32(bits: u16) -> f32 {
    if bits & 0x7c00 == 0x7c00 && bits & 0x03ff != 0 {
        let sign = u32::from(bits & 0x8000) << 16;
        f32::from_bits(sign | 0x7f80_0000 | (u32::from(bits & 0x03ff) << 13))
    } else {
        f16::from_bits(bits).to_f32()
    }
}

/// f32 → f16 bits: exact for values that came from f16, round to nearest
/// even otherwise (NaN keeps its top payload bits).
#[inline]
pub fn f32_to_f16_bits(v: f32) -> u16 {
    if v.is_nan() {
        let x = v.to_bits();
        let sign = ((x >> 16) & 0x8000) as u16;
        let mut man = ((x & 0x007f_ffff) >> 13) as u16;
        if man == 0 {
            man = 0x0200;
        }
        sign | 0x7c00 | man
    } else {
        f16::from_f32(v).to_bits()
    }
}

/// bf16 bits → f32, exact.
///
/// ```
/// use sparsevdb_neural::dtype::{bf16_bits_to_f32, f32_to_bf16_bits};
/// assert_eq!(bf16_bits_to_f32(0x3f80), 1.0);
/// assert_eq!(f32_to_bf16_bits(bf16_bits_to_f32(0x7f81)), 0x7f81);
/// ```
#[inline]
pub fn bf16_bits_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// f32 → bf16 bits: exact for values that came from bf16, round to nearest
/// even otherwise (NaN keeps its top payload bits).
#[inline]
pub fn f32_to_bf16_bits(v: f32) -> u16 {
    if v.is_nan() {
        let hi = (v.to_bits() >> 16) as u16;
        if hi & 0x7f == 0 {
            hi | 0x40
        } else {
            hi
        }
    } else {
        bf16::from_f32(v).to_bits()
    }
}

/// Decodes little-endian `bytes` of `dtype` to f32 values; a length that is
/// not a whole number of elements is a [`NeuralError::LengthMismatch`].
///
/// ```
/// use sparsevdb_neural::{dtype::decode_le, Dtype};
/// assert_eq!(decode_le(Dtype::F16, "t", &[0x00, 0x3c, 0x00, 0xc0]).unwrap(), [1.0, -2.0]);
/// assert!(decode_le(Dtype::F32, "t", &[0; 3]).is_err());
/// ```
pub fn decode_le(dtype: Dtype, name: &str, bytes: &[u8]) -> Result<Vec<f32>> {
    let size = dtype.size();
    if !bytes.len().is_multiple_of(size) {
        return Err(NeuralError::LengthMismatch {
            name: name.to_string(),
            expected: bytes.len() / size * size + size,
            got: bytes.len(),
        });
    }
    Ok(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| f16_bits_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        Dtype::Bf16 => bytes
            .chunks_exact(2)
            .map(|b| bf16_bits_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
    })
}

/// Encodes f32 values as little-endian bytes of `dtype` (see the module
/// documentation for rounding).
///
/// ```
/// use sparsevdb_neural::{dtype::encode_le, Dtype};
/// assert_eq!(encode_le(Dtype::Bf16, &[1.0]), [0x80, 0x3f]);
/// ```
pub fn encode_le(dtype: Dtype, values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * dtype.size());
    match dtype {
        Dtype::F32 => values
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        Dtype::F16 => values
            .iter()
            .for_each(|&v| out.extend_from_slice(&f32_to_f16_bits(v).to_le_bytes())),
        Dtype::Bf16 => values
            .iter()
            .for_each(|&v| out.extend_from_slice(&f32_to_bf16_bits(v).to_le_bytes())),
    }
    out
}

/// A borrowed dense row-major matrix in one of the supported element types:
/// what [`WeightGrid::store`](crate::WeightGrid::store) takes.
///
/// ```
/// use half::f16;
/// use sparsevdb_neural::{Dtype, MatrixData};
/// let v = [f16::from_f32(0.5), f16::from_f32(-1.0)];
/// let m = MatrixData::F16(&v);
/// assert_eq!((m.len(), m.dtype()), (2, Dtype::F16));
/// assert_eq!(m.to_f32_vec(), [0.5, -1.0]);
/// ```
#[derive(Debug, Clone, Copy)]
pub enum MatrixData<'a> {
    /// f32 values.
    F32(&'a [f32]),
    /// f16 values.
    F16(&'a [f16]),
    /// bf16 values.
    Bf16(&'a [bf16]),
}

impl MatrixData<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            MatrixData::F32(v) => v.len(),
            MatrixData::F16(v) => v.len(),
            MatrixData::Bf16(v) => v.len(),
        }
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        match self {
            MatrixData::F32(_) => Dtype::F32,
            MatrixData::F16(_) => Dtype::F16,
            MatrixData::Bf16(_) => Dtype::Bf16,
        }
    }

    /// The values widened to f32 (exactly).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match self {
            MatrixData::F32(v) => v.to_vec(),
            MatrixData::F16(v) => v.iter().map(|x| f16_bits_to_f32(x.to_bits())).collect(),
            MatrixData::Bf16(v) => v.iter().map(|x| bf16_bits_to_f32(x.to_bits())).collect(),
        }
    }
}

impl<'a> From<&'a [f32]> for MatrixData<'a> {
    fn from(v: &'a [f32]) -> Self {
        MatrixData::F32(v)
    }
}

impl<'a> From<&'a [f16]> for MatrixData<'a> {
    fn from(v: &'a [f16]) -> Self {
        MatrixData::F16(v)
    }
}

impl<'a> From<&'a [bf16]> for MatrixData<'a> {
    fn from(v: &'a [bf16]) -> Self {
        MatrixData::Bf16(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_f16_and_bf16_pattern_roundtrips() {
        for bits in 0..=u16::MAX {
            let v = f16_bits_to_f32(bits);
            assert_eq!(f32_to_f16_bits(v), bits, "f16 {bits:#06x}");
            if !v.is_nan() {
                assert_eq!(v, f16::from_bits(bits).to_f32());
            }
            let w = bf16_bits_to_f32(bits);
            assert_eq!(f32_to_bf16_bits(w), bits, "bf16 {bits:#06x}");
        }
    }

    #[test]
    fn narrowing_rounds_to_nearest_even() {
        // 1 + 2^-11 is halfway between two f16 values: ties to even (1.0)
        assert_eq!(f32_to_f16_bits(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16_bits(1e9), 0x7c00); // overflow to +inf
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3f80_8000)), 0x3f80);
        assert_eq!(f32_to_f16_bits(f32::NAN) & 0x7c00, 0x7c00);
    }

    #[test]
    fn bytes_roundtrip() {
        let vals = [0.0f32, -0.0, 1.5, -2.25, f32::INFINITY];
        for d in [Dtype::F32, Dtype::F16, Dtype::Bf16] {
            let b = encode_le(d, &vals);
            assert_eq!(b.len(), vals.len() * d.size());
            let back = decode_le(d, "v", &b).unwrap();
            assert_eq!(
                back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                vals.map(f32::to_bits)
            );
        }
        assert!(matches!(
            decode_le(Dtype::F16, "odd", &[1]),
            Err(NeuralError::LengthMismatch { .. })
        ));
    }
}
