//! A plain compressed-sparse-row matrix with `u32` indices: the baseline the
//! grid's memory and mat-vec speed are compared with.

use crate::dense::{check_len, DenseMatrix};
use crate::error::{NeuralError, Result};
use crate::sparsity::Cut;

/// CSR: `row_ptr` (rows + 1 offsets), then column indices and values of the
/// stored elements, row by row.
///
/// ```
/// use sparsevdb_neural::{CsrMatrix, Cut, DenseMatrix};
/// let d = DenseMatrix::new(vec![2, 3], vec![0.0, 2.0, 0.0, -1.0, 0.0, 0.5]).unwrap();
/// let m = CsrMatrix::from_dense(&d, Cut::All).unwrap();
/// assert_eq!(m.nnz(), 3);
/// assert_eq!(m.matvec(&[1.0, 1.0, 2.0]).unwrap(), [2.0, 0.0]);
/// assert_eq!(m.mem_bytes(), 3 * 4 + 3 * 8);
/// assert_eq!(m.to_dense(), d);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    rows: usize,
    cols: usize,
    row_ptr: Vec<u32>,
    col_idx: Vec<u32>,
    values: Vec<f32>,
}

impl CsrMatrix {
    /// The stored elements of `dense` under `cut` (see [`Cut::stores`]: kept
    /// and not `+0.0`). Fails with [`NeuralError::OutOfRange`] when indices do
    /// not fit `u32`.
    pub fn from_dense(dense: &DenseMatrix, cut: Cut) -> Result<Self> {
        let (rows, cols) = (dense.rows(), dense.cols());
        if cols > u32::MAX as usize {
            return Err(NeuralError::OutOfRange(format!(
                "{cols} columns for u32 CSR indices"
            )));
        }
        let mut row_ptr = Vec::with_capacity(rows + 1);
        let mut col_idx = Vec::new();
        let mut values = Vec::new();
        row_ptr.push(0u32);
        for r in 0..rows {
            let row = &dense.data()[r * cols..(r + 1) * cols];
            for (c, &w) in row.iter().enumerate() {
                if cut.stores(w) {
                    col_idx.push(c as u32);
                    values.push(w);
                }
            }
            let n = u32::try_from(values.len()).map_err(|_| {
                NeuralError::OutOfRange("more than u32::MAX stored values for CSR".into())
            })?;
            row_ptr.push(n);
        }
        Ok(Self {
            rows,
            cols,
            row_ptr,
            col_idx,
            values,
        })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Stored elements.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Bytes of the three arrays (`4·(rows + 1) + 8·nnz`), without the
    /// `Vec` headers.
    pub fn mem_bytes(&self) -> usize {
        4 * self.row_ptr.len() + 4 * self.col_idx.len() + 4 * self.values.len()
    }

    /// `y = W·x`.
    pub fn matvec(&self, x: &[f32]) -> Result<Vec<f32>> {
        check_len("x", self.cols, x.len())?;
        Ok(self
            .row_ptr
            .windows(2)
            .map(|w| {
                let (a, b) = (w[0] as usize, w[1] as usize);
                self.col_idx[a..b]
                    .iter()
                    .zip(&self.values[a..b])
                    .map(|(&c, &v)| v * x[c as usize])
                    .sum()
            })
            .collect())
    }

    /// `y = Wᵀ·x`.
    pub fn matvec_t(&self, x: &[f32]) -> Result<Vec<f32>> {
        check_len("x", self.rows, x.len())?;
        let mut y = vec![0.0f32; self.cols];
        for (w, &xv) in self.row_ptr.windows(2).zip(x) {
            let (a, b) = (w[0] as usize, w[1] as usize);
            for (&c, &v) in self.col_idx[a..b].iter().zip(&self.values[a..b]) {
                y[c as usize] += v * xv;
            }
        }
        Ok(y)
    }

    /// The matrix as dense, shape `[rows, cols]`.
    pub fn to_dense(&self) -> DenseMatrix {
        let mut d = DenseMatrix::zeros(self.rows, self.cols);
        for (r, w) in self.row_ptr.windows(2).enumerate() {
            for i in w[0] as usize..w[1] as usize {
                d.data_mut()[r * self.cols + self.col_idx[i] as usize] = self.values[i];
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_dense_reference() {
        let (rows, cols) = (37, 53);
        let mut s = 7u64;
        let data: Vec<f32> = (0..rows * cols)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / 16777216.0) - 0.5
            })
            .collect();
        let d = DenseMatrix::new(vec![rows, cols], data).unwrap();
        let cut = Cut::AtLeast(0.3);
        let m = CsrMatrix::from_dense(&d, cut).unwrap();
        let pruned: Vec<f32> = d
            .data()
            .iter()
            .map(|&w| if cut.keeps(w) { w } else { 0.0 })
            .collect();
        let p = DenseMatrix::new(vec![rows, cols], pruned).unwrap();
        assert_eq!(m.to_dense(), p);
        let x: Vec<f32> = (0..cols).map(|i| i as f32 * 0.1 - 1.0).collect();
        let xt: Vec<f32> = (0..rows).map(|i| 1.0 - i as f32 * 0.05).collect();
        for (a, b) in m.matvec(&x).unwrap().iter().zip(p.matvec(&x).unwrap()) {
            assert!((a - b).abs() < 1e-5);
        }
        for (a, b) in m
            .matvec_t(&xt)
            .unwrap()
            .iter()
            .zip(p.matvec_t(&xt).unwrap())
        {
            assert!((a - b).abs() < 1e-5);
        }
        assert!(m.matvec(&xt).is_err());
    }
}
