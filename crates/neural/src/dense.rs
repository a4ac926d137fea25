//! Dense row-major matrices: what loading a tensor gives back, and the dense
//! reference the sparse products are checked against.

use crate::error::{NeuralError, Result};
use crate::plan::matrix_dims;

/// A dense row-major matrix with the shape of the tensor it came from.
///
/// ```
/// use sparsevdb_neural::DenseMatrix;
/// let m = DenseMatrix::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
/// assert_eq!((m.rows(), m.cols()), (2, 3));
/// assert_eq!(m.get(1, 2), Some(6.0));
/// assert_eq!(m.get(2, 0), None);
/// assert_eq!(m.matvec(&[1.0, 0.0, -1.0]).unwrap(), [-2.0, -2.0]);
/// assert_eq!(m.matvec_t(&[1.0, 1.0]).unwrap(), [5.0, 7.0, 9.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DenseMatrix {
    shape: Vec<usize>,
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl DenseMatrix {
    /// A matrix of `shape` (rank ≥ 3 merges the leading dimensions into
    /// rows, a vector is one row) over row-major `data`.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let (rows, cols) = matrix_dims(&shape)?;
        if data.len() != rows * cols {
            return Err(NeuralError::LengthMismatch {
                name: format!("matrix of shape {shape:?}"),
                expected: rows * cols,
                got: data.len(),
            });
        }
        Ok(Self {
            shape,
            rows,
            cols,
            data,
        })
    }

    /// A `rows × cols` matrix of zeros.
    ///
    /// ```
    /// assert_eq!(sparsevdb_neural::DenseMatrix::zeros(2, 2).data(), [0.0; 4]);
    /// ```
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            shape: vec![rows, cols],
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The values, row-major, by value.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// The element at `(row, col)`, `None` outside the matrix.
    pub fn get(&self, row: usize, col: usize) -> Option<f32> {
        (row < self.rows && col < self.cols).then(|| self.data[row * self.cols + col])
    }

    /// `y = W·x` (`x` has `cols` values).
    pub fn matvec(&self, x: &[f32]) -> Result<Vec<f32>> {
        check_len("x", self.cols, x.len())?;
        if self.cols == 0 {
            return Ok(vec![0.0; self.rows]);
        }
        Ok(self
            .data
            .chunks_exact(self.cols)
            .map(|row| row.iter().zip(x).map(|(w, v)| w * v).sum())
            .collect())
    }

    /// `y = Wᵀ·x` (`x` has `rows` values).
    pub fn matvec_t(&self, x: &[f32]) -> Result<Vec<f32>> {
        check_len("x", self.rows, x.len())?;
        let mut y = vec![0.0f32; self.cols];
        if self.cols == 0 {
            return Ok(y);
        }
        for (row, &xv) in self.data.chunks_exact(self.cols).zip(x) {
            for (acc, w) in y.iter_mut().zip(row) {
                *acc += w * xv;
            }
        }
        Ok(y)
    }

    /// `self · other`.
    ///
    /// ```
    /// use sparsevdb_neural::DenseMatrix;
    /// let b = DenseMatrix::new(vec![2, 1], vec![1.0, 2.0]).unwrap();
    /// let a = DenseMatrix::new(vec![1, 2], vec![3.0, 4.0]).unwrap();
    /// assert_eq!(b.matmul(&a).unwrap().data(), [3.0, 4.0, 6.0, 8.0]);
    /// ```
    pub fn matmul(&self, other: &DenseMatrix) -> Result<DenseMatrix> {
        if self.cols != other.rows {
            return Err(NeuralError::ShapeMismatch {
                name: "matmul".into(),
                expected: vec![self.cols, other.cols],
                got: vec![other.rows, other.cols],
            });
        }
        let mut out = DenseMatrix::zeros(self.rows, other.cols);
        if other.cols == 0 {
            return Ok(out);
        }
        for (r, out_row) in out.data.chunks_exact_mut(other.cols).enumerate() {
            for k in 0..self.cols {
                let a = self.data[r * self.cols + k];
                if a == 0.0 {
                    continue;
                }
                let b_row = &other.data[k * other.cols..(k + 1) * other.cols];
                for (o, b) in out_row.iter_mut().zip(b_row) {
                    *o += a * b;
                }
            }
        }
        Ok(out)
    }
}

pub(crate) fn check_len(name: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(NeuralError::LengthMismatch {
            name: name.to_string(),
            expected,
            got,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_errors() {
        assert!(DenseMatrix::new(vec![2, 2], vec![0.0; 3]).is_err());
        let v = DenseMatrix::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
        assert_eq!((v.rows(), v.cols()), (1, 3));
        assert!(v.matvec(&[1.0]).is_err());
        assert!(v.matvec_t(&[1.0, 2.0]).is_err());
        assert!(v.matmul(&v).is_err());
        let e = DenseMatrix::new(vec![2, 0], vec![]).unwrap();
        assert_eq!(e.matvec(&[]).unwrap(), [0.0, 0.0]);
    }
}
