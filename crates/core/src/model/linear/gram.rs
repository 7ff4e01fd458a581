//! Least squares through the centred Gram matrix: one pass over the rows builds the
//! `p x p` system, so fitting a linear model on a million rows costs a read of the
//! matrix and a tiny solve, with no copy of the data.

use rayon::prelude::*;
use smartcore::error::Failed;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linalg::traits::cholesky::CholeskyDecomposable;
use smartcore::linalg::traits::svd::SVDDecomposable;

use crate::frame::FeatureMatrix;

/// Element `(i, j)` of a smartcore matrix (smartcore's `Array` trait is not imported
/// here: its `get` would shadow the slices' own).
fn at(m: &DenseMatrix<f64>, i: usize, j: usize) -> f64 {
    *smartcore::linalg::basic::arrays::Array::get(m, (i, j))
}

/// Rows per block; blocks are summed in order, so the result does not depend on the
/// number of threads.
const BLOCK: usize = 4096;

/// `Xc'Xc` and `Xc'yc` of the centred inputs and target, with the means.
#[derive(Debug, Clone)]
pub(super) struct Centred {
    /// Row-major `p x p`.
    pub(super) gram: Vec<f64>,
    pub(super) xty: Vec<f64>,
    pub(super) x_mean: Vec<f64>,
    pub(super) y_mean: f64,
    pub(super) p: usize,
}

impl Centred {
    /// Builds the centred system of `x` and `y` (same number of rows, at least one).
    pub(super) fn new(x: &FeatureMatrix, y: &[f64]) -> Self {
        let (n, p) = (x.n_rows(), x.n_cols());
        let nf = n.max(1) as f64;
        let values = x.values();
        let sums = values
            .par_chunks(BLOCK * p.max(1))
            .map(|block| {
                let mut s = vec![0.0; p];
                for row in block.chunks_exact(p.max(1)) {
                    for (a, v) in s.iter_mut().zip(row) {
                        *a += v;
                    }
                }
                s
            })
            .collect::<Vec<_>>();
        let mut x_mean = vec![0.0; p];
        for s in &sums {
            for (m, v) in x_mean.iter_mut().zip(s) {
                *m += v;
            }
        }
        for m in &mut x_mean {
            *m /= nf;
        }
        let y_mean = y.iter().sum::<f64>() / nf;
        let partial = values
            .par_chunks(BLOCK * p.max(1))
            .zip(y.par_chunks(BLOCK))
            .map(|(block, ys)| {
                let mut gram = vec![0.0; p * p];
                let mut xty = vec![0.0; p];
                let mut c = vec![0.0; p];
                for (row, &t) in block.chunks_exact(p.max(1)).zip(ys) {
                    for ((ci, v), m) in c.iter_mut().zip(row).zip(&x_mean) {
                        *ci = v - m;
                    }
                    let t = t - y_mean;
                    for (i, &ci) in c.iter().enumerate() {
                        if let Some(xi) = xty.get_mut(i) {
                            *xi += ci * t;
                        }
                        // Upper triangle only; mirrored below.
                        if let Some(g) = gram.get_mut(i * p + i..i * p + p) {
                            for (gij, &cj) in g.iter_mut().zip(c.get(i..).unwrap_or_default()) {
                                *gij += ci * cj;
                            }
                        }
                    }
                }
                (gram, xty)
            })
            .collect::<Vec<_>>();
        let mut gram = vec![0.0; p * p];
        let mut xty = vec![0.0; p];
        for (g, b) in &partial {
            for (a, v) in gram.iter_mut().zip(g) {
                *a += v;
            }
            for (a, v) in xty.iter_mut().zip(b) {
                *a += v;
            }
        }
        for i in 0..p {
            for j in 0..i {
                let upper = gram.get(j * p + i).copied().unwrap_or(0.0);
                if let Some(lower) = gram.get_mut(i * p + j) {
                    *lower = upper;
                }
            }
        }
        Self {
            gram,
            xty,
            x_mean,
            y_mean,
            p,
        }
    }

    /// The intercept for coefficients `w`.
    pub(super) fn intercept(&self, w: &[f64]) -> f64 {
        self.y_mean - w.iter().zip(&self.x_mean).map(|(a, b)| a * b).sum::<f64>()
    }

    fn system(&self, ridge: f64) -> Result<(DenseMatrix<f64>, DenseMatrix<f64>), Failed> {
        let mut a = DenseMatrix::new(self.p, self.p, self.gram.clone(), false)?;
        if ridge > 0.0 {
            for i in 0..self.p {
                let v = at(&a, i, i);
                smartcore::linalg::basic::arrays::MutArray::set(&mut a, (i, i), v + ridge);
            }
        }
        let b = DenseMatrix::new(self.p, 1, self.xty.clone(), true)?;
        Ok((a, b))
    }

    /// The minimum-norm least-squares coefficients (with `ridge` added to the diagonal):
    /// the pseudo-inverse of the system through its SVD, dropping directions whose
    /// singular value is below `1e-9` of the largest (collinear inputs, such as every
    /// category of a one-hot column next to the intercept).
    pub(super) fn solve_svd(&self, ridge: f64) -> Result<Vec<f64>, Failed> {
        let (a, _) = self.system(ridge)?;
        let svd = a.svd()?;
        let largest = svd.s.iter().copied().fold(0.0_f64, f64::max);
        let cutoff = largest * 1e-9;
        let p = self.p;
        // w = V diag(1/s) U' b over the kept directions.
        let mut tmp = vec![0.0; p];
        for (j, t) in tmp.iter_mut().enumerate() {
            let s = svd.s.get(j).copied().unwrap_or(0.0);
            if s > cutoff {
                let dot: f64 = (0..p)
                    .map(|i| at(&svd.U, i, j) * self.xty.get(i).copied().unwrap_or(0.0))
                    .sum();
                *t = dot / s;
            }
        }
        let w: Vec<f64> = (0..p)
            .map(|i| {
                tmp.iter()
                    .enumerate()
                    .map(|(j, t)| at(&svd.V, i, j) * t)
                    .sum()
            })
            .collect();
        Ok(w)
    }

    /// The coefficients of the (positive definite) system with `ridge > 0` on the
    /// diagonal, by Cholesky.
    pub(super) fn solve_cholesky(&self, ridge: f64) -> Result<Vec<f64>, Failed> {
        let (a, b) = self.system(ridge)?;
        let w = a.cholesky_solve_mut(b)?;
        Ok((0..self.p).map(|i| at(&w, i, 0)).collect())
    }
}

impl Centred {
    /// The elastic-net coefficients by cyclic coordinate descent on the Gram matrix:
    /// the minimiser of `1/(2n) |yc - Xc w|^2 + alpha * l1_ratio * |w|_1
    /// + alpha * (1 - l1_ratio) / 2 * |w|^2`, scikit-learn's `ElasticNet` objective
    /// (`l1_ratio = 1` is its `Lasso`). Stops when no coefficient moved by more than
    /// `tol` times the largest coefficient in a sweep; the sweeps made.
    pub(super) fn solve_elastic_net(
        &self,
        n_rows: usize,
        alpha: f64,
        l1_ratio: f64,
        tol: f64,
        max_iter: usize,
    ) -> (Vec<f64>, usize) {
        let p = self.p;
        let n = n_rows.max(1) as f64;
        let l1 = alpha * l1_ratio * n;
        let l2 = alpha * (1.0 - l1_ratio) * n;
        let mut w = vec![0.0; p];
        // Gw, kept up to date as coefficients move.
        let mut gw = vec![0.0; p];
        let mut sweeps = 0;
        while sweeps < max_iter {
            sweeps += 1;
            let (mut largest_step, mut largest_w) = (0.0_f64, 0.0_f64);
            for j in 0..p {
                let gjj = self.gram.get(j * p + j).copied().unwrap_or(0.0);
                let old = w.get(j).copied().unwrap_or(0.0);
                if gjj <= 0.0 {
                    continue;
                }
                // Correlation of column j with the residual of the other coefficients.
                let rho = self.xty.get(j).copied().unwrap_or(0.0)
                    - gw.get(j).copied().unwrap_or(0.0)
                    + gjj * old;
                let new = rho.signum() * (rho.abs() - l1).max(0.0) / (gjj + l2);
                let step = new - old;
                if step != 0.0 {
                    if let Some(wj) = w.get_mut(j) {
                        *wj = new;
                    }
                    for (k, g) in gw.iter_mut().enumerate() {
                        *g += self.gram.get(k * p + j).copied().unwrap_or(0.0) * step;
                    }
                }
                largest_step = largest_step.max(step.abs());
                largest_w = largest_w.max(new.abs());
            }
            if largest_w == 0.0 || largest_step <= tol * largest_w {
                break;
            }
        }
        (w, sweeps)
    }
}
