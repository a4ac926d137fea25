//! Reading and writing safetensors files with typed errors: the header
//! alone ([`read_header`]), every float tensor decoded to f32
//! ([`read_tensors`]), and tensors encoded back to their own dtype
//! ([`write_tensors`]). Built on the `safetensors` crate, which validates the
//! header (UTF-8, JSON, offsets contiguous and covering the data, sizes
//! matching shapes) before anything is read.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::dtype::{decode_le, encode_le, Dtype};
use crate::error::{NeuralError, Result};
use crate::model::TensorSpec;

/// One tensor of a safetensors header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderEntry {
    /// The tensor's name.
    pub name: String,
    /// The dtype as the file writes it (`F16`, `I64`, ...).
    pub dtype: String,
    /// The dtype, when this crate can store it.
    pub supported: Option<Dtype>,
    /// The shape.
    pub shape: Vec<usize>,
    /// Start and end of the tensor's bytes in the data section.
    pub data_offsets: (usize, usize),
}

/// A validated safetensors header.
///
/// ```
/// use sparsevdb_neural::safetensors_io::{read_header, write_tensors, TensorRef};
/// use sparsevdb_neural::Dtype;
/// let bytes = write_tensors(
///     [TensorRef { name: "w", dtype: Dtype::F16, shape: &[2, 2], values: &[1.0, 2.0, 3.0, 4.0] }],
///     &Default::default(),
/// ).unwrap();
/// let h = read_header(&bytes).unwrap();
/// assert_eq!(h.tensors[0].shape, [2, 2]);
/// assert_eq!(h.specs()[0].name, "w");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The tensors, in file (offset) order.
    pub tensors: Vec<HeaderEntry>,
    /// The `__metadata__` map.
    pub metadata: BTreeMap<String, String>,
}

impl Header {
    /// Names and shapes, in file order (what the planner takes).
    pub fn specs(&self) -> Vec<TensorSpec> {
        self.tensors
            .iter()
            .map(|t| TensorSpec::new(t.name.clone(), t.shape.clone()))
            .collect()
    }
}

/// Reads and validates the header of a safetensors file held in `bytes`;
/// any defect is a [`NeuralError::Safetensors`].
///
/// ```
/// use sparsevdb_neural::{safetensors_io::read_header, NeuralError};
/// assert!(matches!(read_header(b"\x02\0\0\0\0\0\0\0{"), Err(NeuralError::Safetensors(_))));
/// ```
pub fn read_header(bytes: &[u8]) -> Result<Header> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes)?;
    let infos = meta.tensors();
    let tensors = meta
        .offset_keys()
        .into_iter()
        .map(|name| {
            let info = infos[&name];
            HeaderEntry {
                dtype: info.dtype.to_string(),
                supported: Dtype::from_safetensors(info.dtype, &name).ok(),
                shape: info.shape.clone(),
                data_offsets: info.data_offsets,
                name,
            }
        })
        .collect();
    let metadata = meta
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok(Header { tensors, metadata })
}

/// A tensor decoded to f32, with the dtype it had in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The tensor's name.
    pub name: String,
    /// The dtype in the file.
    pub dtype: Dtype,
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, row-major, widened exactly to f32.
    pub values: Vec<f32>,
}

/// A whole file's float tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorFile {
    /// The tensors in file order.
    pub tensors: Vec<Tensor>,
    /// The `__metadata__` map.
    pub metadata: BTreeMap<String, String>,
    /// Tensors left out because of their dtype (only with
    /// `skip_unsupported`).
    pub skipped: Vec<HeaderEntry>,
}

/// Reads every tensor of a safetensors file. A tensor of another dtype than
/// F32, F16 or BF16 is a [`NeuralError::UnsupportedDtype`], or is listed in
/// [`TensorFile::skipped`] when `skip_unsupported` is set.
///
/// ```
/// use sparsevdb_neural::safetensors_io::{read_tensors, write_tensors, TensorRef};
/// use sparsevdb_neural::Dtype;
/// let bytes = write_tensors(
///     [TensorRef { name: "b", dtype: Dtype::Bf16, shape: &[2], values: &[0.5, -3.0] }],
///     &Default::default(),
/// ).unwrap();
/// let f = read_tensors(&bytes, false).unwrap();
/// assert_eq!(f.tensors[0].values, [0.5, -3.0]);
/// ```
pub fn read_tensors(bytes: &[u8], skip_unsupported: bool) -> Result<TensorFile> {
    let header = read_header(bytes)?;
    let st = safetensors::SafeTensors::deserialize(bytes)?;
    let mut tensors = Vec::with_capacity(header.tensors.len());
    let mut skipped = Vec::new();
    for entry in header.tensors {
        let Some(dtype) = entry.supported else {
            if skip_unsupported {
                skipped.push(entry);
                continue;
            }
            return Err(NeuralError::UnsupportedDtype {
                name: entry.name,
                dtype: entry.dtype,
            });
        };
        let view = st.tensor(&entry.name)?;
        let values = decode_le(dtype, &entry.name, view.data())?;
        tensors.push(Tensor {
            name: entry.name,
            dtype,
            shape: entry.shape,
            values,
        });
    }
    Ok(TensorFile {
        tensors,
        metadata: header.metadata,
        skipped,
    })
}

/// Reads a safetensors file from disk ([`read_tensors`] on its bytes).
pub fn read_file(path: impl AsRef<std::path::Path>, skip_unsupported: bool) -> Result<TensorFile> {
    let bytes = std::fs::read(path)?;
    read_tensors(&bytes, skip_unsupported)
}

/// A tensor to write: f32 values and the dtype to write them as.
#[derive(Debug, Clone, Copy)]
pub struct TensorRef<'a> {
    /// The tensor's name.
    pub name: &'a str,
    /// The dtype to write (values are narrowed as [`crate::dtype`] says).
    pub dtype: Dtype,
    /// The shape.
    pub shape: &'a [usize],
    /// The values, row-major.
    pub values: &'a [f32],
}

/// Writes tensors as a safetensors file (the crate orders them by dtype,
/// then name). A shape that does not match its values is a
/// [`NeuralError::LengthMismatch`]; a repeated name a
/// [`NeuralError::DuplicateTensor`].
pub fn write_tensors<'a>(
    tensors: impl IntoIterator<Item = TensorRef<'a>>,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in tensors {
        let n = t
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| NeuralError::OutOfRange(format!("shape {:?} overflows", t.shape)))?;
        if n != t.values.len() {
            return Err(NeuralError::LengthMismatch {
                name: t.name.to_string(),
                expected: n,
                got: t.values.len(),
            });
        }
        if !seen.insert(t.name) {
            return Err(NeuralError::DuplicateTensor(t.name.to_string()));
        }
        owned.push((
            t.name.to_string(),
            t.dtype,
            t.shape.to_vec(),
            encode_le(t.dtype, t.values),
        ));
    }
    write_encoded(&owned, metadata)
}

/// Writes tensors already encoded as little-endian bytes of their dtype
/// (`(name, dtype, shape, bytes)`); sizes are checked by the `safetensors`
/// crate ([`NeuralError::Safetensors`]).
pub fn write_encoded(
    tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut views = Vec::with_capacity(tensors.len());
    for (name, dtype, shape, bytes) in tensors {
        views.push((
            name.as_str(),
            safetensors::tensor::TensorView::new(dtype.to_safetensors(), shape.clone(), bytes)?,
        ));
    }
    let meta: Option<HashMap<String, String>> = (!metadata.is_empty()).then(|| {
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    });
    Ok(safetensors::serialize(views, meta)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        write_tensors(
            [
                TensorRef {
                    name: "a",
                    dtype: Dtype::F32,
                    shape: &[2, 3],
                    values: &[1.0, -2.0, 3.0, 0.0, 5.5, -0.0],
                },
                TensorRef {
                    name: "b",
                    dtype: Dtype::F16,
                    shape: &[3],
                    values: &[0.5, 1.0, -1.5],
                },
            ],
            &meta,
        )
        .unwrap()
    }

    #[test]
    fn roundtrip() {
        let bytes = sample();
        let h = read_header(&bytes).unwrap();
        assert_eq!(h.metadata["format"], "pt");
        assert_eq!(h.tensors.len(), 2);
        let f = read_tensors(&bytes, false).unwrap();
        let a = f.tensors.iter().find(|t| t.name == "a").unwrap();
        assert_eq!(a.values[5].to_bits(), (-0.0f32).to_bits());
        assert_eq!(
            f.tensors.iter().find(|t| t.name == "b").unwrap().dtype,
            Dtype::F16
        );
    }

    fn corrupt(bytes: &[u8]) -> NeuralError {
        read_tensors(bytes, false).unwrap_err()
    }

    fn with_header(json: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (json.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(json.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn corrupt_files_are_typed_errors() {
        let good = sample();
        let cases: Vec<Vec<u8>> = vec![
            vec![],                           // too small
            vec![1, 2, 3],                    // too small
            good[..good.len() - 1].to_vec(),  // truncated data
            [good.clone(), vec![0]].concat(), // trailing byte
            u64::MAX.to_le_bytes().to_vec(),  // header too large
            with_header("{", &[]),            // bad JSON
            with_header("\u{0}\u{1}", &[]),   // not an object
            {
                let mut v = 2u64.to_le_bytes().to_vec();
                v.extend_from_slice(&[0xff, 0xfe]); // not UTF-8
                v
            },
            with_header(
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ), // size != shape
            with_header(
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                &[0; 8],
            ), // gap
            with_header(
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ), // overlap
            with_header(
                r#"{"a":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ), // overflow
            with_header(
                r#"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#,
                &[0; 4],
            ), // unknown dtype
        ];
        for (i, c) in cases.iter().enumerate() {
            let e = corrupt(c);
            assert!(matches!(e, NeuralError::Safetensors(_)), "case {i}: {e:?}");
        }
    }

    #[test]
    fn unsupported_dtypes() {
        let bytes = with_header(
            r#"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"w":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}"#,
            &[0; 20],
        );
        match read_tensors(&bytes, false) {
            Err(NeuralError::UnsupportedDtype { name, dtype }) => {
                assert_eq!((name.as_str(), dtype.as_str()), ("ids", "I64"));
            }
            other => panic!("{other:?}"),
        }
        let f = read_tensors(&bytes, true).unwrap();
        assert_eq!(f.tensors.len(), 1);
        assert_eq!(f.skipped[0].name, "ids");
    }

    #[test]
    fn bad_writes() {
        let e = write_tensors(
            [TensorRef {
                name: "a",
                dtype: Dtype::F32,
                shape: &[3],
                values: &[1.0],
            }],
            &BTreeMap::new(),
        );
        assert!(matches!(e, Err(NeuralError::LengthMismatch { .. })));
        let t = TensorRef {
            name: "a",
            dtype: Dtype::F32,
            shape: &[1],
            values: &[1.0],
        };
        assert!(matches!(
            write_tensors([t, t], &BTreeMap::new()),
            Err(NeuralError::DuplicateTensor(_))
        ));
        assert!(matches!(
            read_file("/nonexistent/x.safetensors", false),
            Err(NeuralError::Io(_))
        ));
    }
}
