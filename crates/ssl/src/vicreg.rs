//! The VICReg loss (Bardes, Ponce, LeCun, ICLR 2022, arXiv 2105.04906), as in
//! facebookresearch/vicreg `main_vicreg.py`.
//!
//! For two views `z1`, `z2` of shape `[N, D]`:
//!
//! ```text
//! inv  = mean((z1 − z2)²)                                   over all N·D elements
//! x    = z − mean_batch(z)
//! std  = sqrt(var_unbiased(x) + eps)                         per dimension
//! var  = mean_d relu(1 − std1) / 2 + mean_d relu(1 − std2) / 2
//! cov  = xᵀ x / (N − 1)                                      D × D per branch
//! covl = Σ_{i≠j} cov1_ij² / D + Σ_{i≠j} cov2_ij² / D
//! L    = sim·inv + std_coeff·var + cov_coeff·covl            (25, 25, 1; eps 1e-4)
//! ```
//!
//! As for Barlow Twins, [`CorrelationStrategy::Auto`] never builds a D×D matrix when `2N < D`:
//! `Σ_{i≠j} cov_ij² = (‖x xᵀ‖²_F − Σ_i (Σ_n x_ni²)²) / (N − 1)²` through the N×N Gram matrix
//! (because `‖xᵀ x‖²_F = ‖x xᵀ‖²_F`), `O(N² D)` flops and `O(N²)` memory.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use twinscan_models::Collective;

use crate::error::{Result, SslError};
use crate::loss::{CorrelationStrategy, check_shards, squared_frobenius};

/// Configuration of [`VicRegLoss`]. Defaults are the paper's and `main_vicreg.py`'s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VicRegLossConfig {
    /// Weight of the invariance (mean squared error) term: 25.
    #[serde(default = "default_25")]
    pub sim_coeff: f64,
    /// Weight of the variance (hinge on the standard deviation) term: 25.
    #[serde(default = "default_25")]
    pub std_coeff: f64,
    /// Weight of the covariance term: 1.
    #[serde(default = "default_1")]
    pub cov_coeff: f64,
    /// Added to the unbiased variance before the square root: 1e-4.
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// How the off-diagonal covariance sum is computed (speed/memory, not semantics).
    #[serde(default)]
    pub strategy: CorrelationStrategy,
}

fn default_25() -> f64 {
    25.0
}

fn default_1() -> f64 {
    1.0
}

fn default_eps() -> f64 {
    1e-4
}

impl Default for VicRegLossConfig {
    fn default() -> Self {
        Self {
            sim_coeff: 25.0,
            std_coeff: 25.0,
            cov_coeff: 1.0,
            eps: 1e-4,
            strategy: CorrelationStrategy::Auto,
        }
    }
}

impl VicRegLossConfig {
    /// Validates the configuration and builds the loss.
    ///
    /// # Errors
    /// [`SslError::InvalidConfig`] naming the field when a coefficient is negative or not
    /// finite, or `eps` is not a positive finite number.
    pub fn init(&self) -> Result<VicRegLoss> {
        for (field, v) in [
            ("vicreg.sim_coeff", self.sim_coeff),
            ("vicreg.std_coeff", self.std_coeff),
            ("vicreg.cov_coeff", self.cov_coeff),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(SslError::InvalidConfig {
                    field,
                    reason: format!("must be finite and >= 0, got {v}"),
                });
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(SslError::InvalidConfig {
                field: "vicreg.eps",
                reason: format!("must be finite and > 0, got {}", self.eps),
            });
        }
        Ok(VicRegLoss { config: *self })
    }
}

/// The loss and its three terms (unweighted), each a one-element tensor.
#[derive(Debug, Clone)]
pub struct VicRegOutput {
    /// `sim·invariance + std·variance + cov·covariance`, shape `[1]`.
    pub loss: Tensor<1>,
    /// Mean squared error of the two embeddings.
    pub invariance: Tensor<1>,
    /// Hinge on the per-dimension standard deviation, averaged over the two branches.
    pub variance: Tensor<1>,
    /// Squared off-diagonal covariances over D, summed over the two branches.
    pub covariance: Tensor<1>,
}

/// The VICReg loss; build it with [`VicRegLossConfig::init`].
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use twinscan_ssl::VicRegLossConfig;
///
/// let device = Device::flex();
/// let z = Tensor::<2>::from_floats([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.0], [0.0, -2.0]], &device);
/// let out = VicRegLossConfig::default().init()?.forward(z.clone(), z)?;
/// // Identical views: no invariance term; per-dimension std sqrt(8/3) > 1: no variance term.
/// assert!(out.invariance.into_scalar::<f32>().abs() < 1e-6);
/// assert!(out.variance.into_scalar::<f32>().abs() < 1e-6);
/// # Ok::<(), twinscan_ssl::SslError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct VicRegLoss {
    config: VicRegLossConfig,
}

impl VicRegLoss {
    /// The configuration this loss was built from.
    pub fn config(&self) -> &VicRegLossConfig {
        &self.config
    }

    /// Computes the loss of two views `z1`, `z2`, both `[N, D]`.
    ///
    /// # Errors
    /// [`SslError::ShapeMismatch`] if the shapes differ, [`SslError::BatchTooSmall`] if
    /// `N < 2` (the unbiased variance needs two samples).
    pub fn forward(&self, z1: Tensor<2>, z2: Tensor<2>) -> Result<VicRegOutput> {
        let [n, d] = z1.dims();
        if z2.dims() != [n, d] {
            return Err(SslError::ShapeMismatch {
                what: "VICReg loss (z1 vs z2)",
                left: vec![n, d],
                right: z2.dims().to_vec(),
            });
        }
        if n < 2 {
            return Err(SslError::BatchTooSmall { n });
        }
        let c = &self.config;
        let invariance = (z1.clone() - z2.clone()).square().mean();
        let x1 = z1.clone() - z1.mean_dim(0);
        let x2 = z2.clone() - z2.mean_dim(0);
        let variance = (self.hinge(x1.clone(), n) + self.hinge(x2.clone(), n)).div_scalar(2.0);
        let covariance = self.off_diagonal(x1, n, d) + self.off_diagonal(x2, n, d);
        let loss = invariance.clone().mul_scalar(c.sim_coeff)
            + variance.clone().mul_scalar(c.std_coeff)
            + covariance.clone().mul_scalar(c.cov_coeff);
        Ok(VicRegOutput {
            loss,
            invariance,
            variance,
            covariance,
        })
    }

    /// [`forward`](Self::forward) on a batch split into shards (`z1s[r]`, `z2s[r]`), every
    /// statistic of the global batch reduced over the shards by `collective`, as the Barlow
    /// Twins loss does ([`BarlowTwinsLoss::forward_sharded`]): round 1 the per-dimension sums
    /// of both branches, the squared differences and the shard size (`2D + 2` floats); round 2
    /// the centred squares (`2D`) and the two `D × D` products `xᵀx`. One output per shard,
    /// each the global loss. facebookresearch/vicreg all-gathers the embeddings instead
    /// (`FullGatherLayer`); the reduced statistics give the same loss and gradients.
    ///
    /// # Errors
    /// As [`forward`](Self::forward) for the global batch, and [`SslError::ShapeMismatch`]
    /// for shards of different widths or counts.
    ///
    /// [`BarlowTwinsLoss::forward_sharded`]: crate::BarlowTwinsLoss::forward_sharded
    pub fn forward_sharded(
        &self,
        z1s: Vec<Tensor<2>>,
        z2s: Vec<Tensor<2>>,
        collective: &dyn Collective,
    ) -> Result<Vec<VicRegOutput>> {
        let d = check_shards(
            "VICReg loss (shards of z1 vs z2)",
            "VICReg loss (z1 vs z2 shard)",
            &z1s,
            &z2s,
        )?;
        // Round 1: Σz1, Σz2 (per dimension), Σ‖z1 − z2‖² and the shard's size.
        let firsts = z1s
            .iter()
            .zip(&z2s)
            .map(|(a, b)| {
                let n = Tensor::<2>::full([1, 1], a.dims()[0] as f32, &a.device());
                let sse = (a.clone() - b.clone()).square().sum().reshape([1, 1]);
                Tensor::cat(vec![a.clone().sum_dim(0), b.clone().sum_dim(0), sse, n], 1)
            })
            .collect();
        let firsts = collective.all_reduce_sum(firsts);
        let n = firsts[0]
            .clone()
            .slice([0..1, 2 * d + 1..2 * d + 2])
            .into_scalar::<f32>() as usize;
        if n < 2 {
            return Err(SslError::BatchTooSmall { n });
        }
        let mut centred = Vec::with_capacity(z1s.len());
        let mut invariances = Vec::with_capacity(z1s.len());
        for ((a, b), first) in z1s.into_iter().zip(z2s).zip(firsts) {
            let inv_n = 1.0 / n as f64;
            let mean1 = first.clone().slice([0..1, 0..d]).mul_scalar(inv_n);
            let mean2 = first.clone().slice([0..1, d..2 * d]).mul_scalar(inv_n);
            let sse = first.slice([0..1, 2 * d..2 * d + 1]).reshape([1]);
            invariances.push(sse.div_scalar((n * d) as f64));
            centred.push((a - mean1, b - mean2));
        }
        // Round 2: Σx² per dimension of both branches, and [x1ᵀx1 | x2ᵀx2] (D × 2D).
        let squares = centred
            .iter()
            .map(|(x1, x2)| {
                Tensor::cat(
                    vec![
                        x1.clone().square().sum_dim(0),
                        x2.clone().square().sum_dim(0),
                    ],
                    1,
                )
            })
            .collect();
        let squares = collective.all_reduce_sum(squares);
        let products = centred
            .iter()
            .map(|(x1, x2)| {
                Tensor::cat(
                    vec![
                        x1.clone().transpose().matmul(x1.clone()),
                        x2.clone().transpose().matmul(x2.clone()),
                    ],
                    1,
                )
            })
            .collect();
        let products = collective.all_reduce_sum(products);
        let c = &self.config;
        let scale = 1.0 / (n - 1) as f64;
        Ok(invariances
            .into_iter()
            .zip(squares)
            .zip(products)
            .map(|((invariance, sq), prod)| {
                let branch = |k: usize| {
                    let var = sq
                        .clone()
                        .slice([0..1, k * d..(k + 1) * d])
                        .mul_scalar(scale);
                    let hinge = var
                        .clone()
                        .add_scalar(c.eps)
                        .sqrt()
                        .neg()
                        .add_scalar(1.0)
                        .clamp_min(0.0)
                        .mean();
                    let cov = prod
                        .clone()
                        .slice([0..d, k * d..(k + 1) * d])
                        .mul_scalar(scale);
                    let off = (squared_frobenius(cov) - var.square().sum()).div_scalar(d as f64);
                    (hinge, off)
                };
                let ((h1, o1), (h2, o2)) = (branch(0), branch(1));
                let variance = (h1 + h2).div_scalar(2.0);
                let covariance = o1 + o2;
                let loss = invariance.clone().mul_scalar(c.sim_coeff)
                    + variance.clone().mul_scalar(c.std_coeff)
                    + covariance.clone().mul_scalar(c.cov_coeff);
                VicRegOutput {
                    loss,
                    invariance,
                    variance,
                    covariance,
                }
            })
            .collect())
    }

    /// `mean_d relu(1 − sqrt(var_unbiased + eps))` of centred `x`.
    fn hinge(&self, x: Tensor<2>, n: usize) -> Tensor<1> {
        let var = x.square().sum_dim(0).div_scalar((n - 1) as f64);
        let std = var.add_scalar(self.config.eps).sqrt();
        std.neg().add_scalar(1.0).clamp_min(0.0).mean()
    }

    /// `Σ_{i≠j} cov_ij² / D` of centred `x`, `cov = xᵀx / (N − 1)`.
    fn off_diagonal(&self, x: Tensor<2>, n: usize, d: usize) -> Tensor<1> {
        let scale = 1.0 / (n - 1) as f64;
        let diag_sq = x
            .clone()
            .square()
            .sum_dim(0)
            .mul_scalar(scale)
            .square()
            .sum();
        let frob_sq = if self.config.strategy.uses_gram(n, d) {
            squared_frobenius(x.clone().matmul(x.transpose()).mul_scalar(scale))
        } else {
            squared_frobenius(x.clone().transpose().matmul(x).mul_scalar(scale))
        };
        (frob_sq - diag_sq).div_scalar(d as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// Hand-computed, N = 2, D = 2: z1 = [[1, 0], [-1, 2]], z2 = [[1, 1], [1, 1]].
    /// inv = ((0)² + (−1)² + (−2)² + (1)²) / 4 = 1.5.
    /// x1 = [[1, −1], [−1, 1]]: var (unbiased) 2, 2 → std ≈ 1.414: hinge 0.
    /// x2 = 0: std = sqrt(1e-4) = 0.01: hinge 0.99. var term = (0 + 0.99) / 2 = 0.495.
    /// cov1 = x1ᵀx1 / 1 = [[2, −2], [−2, 2]]: off = 2·4 / 2 = 4; cov2 = 0. covl = 4.
    /// L = 25·1.5 + 25·0.495 + 4 = 53.875.
    #[test]
    fn hand_computed_small_case_all_strategies() {
        let dev = Device::flex();
        for strategy in [
            CorrelationStrategy::Gram,
            CorrelationStrategy::CrossCorrelation,
            CorrelationStrategy::Auto,
        ] {
            let loss = VicRegLossConfig {
                strategy,
                ..Default::default()
            }
            .init()
            .unwrap();
            let z1 = Tensor::<2>::from_floats([[1.0, 0.0], [-1.0, 2.0]], &dev);
            let z2 = Tensor::<2>::from_floats([[1.0, 1.0], [1.0, 1.0]], &dev);
            let out = loss.forward(z1, z2).unwrap();
            let got = [out.loss, out.invariance, out.variance, out.covariance]
                .map(|t| t.into_scalar::<f32>());
            let want = [53.875, 1.5, 0.495, 4.0];
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() < 1e-4,
                    "{strategy:?}: got {got:?}, want {want:?}"
                );
            }
        }
    }

    #[test]
    fn rejects_bad_configs_and_shapes() {
        let bad = VicRegLossConfig {
            cov_coeff: -1.0,
            ..Default::default()
        };
        assert!(matches!(
            bad.init(),
            Err(SslError::InvalidConfig {
                field: "vicreg.cov_coeff",
                ..
            })
        ));
        let loss = VicRegLossConfig::default().init().unwrap();
        let dev = Device::flex();
        let one = Tensor::<2>::from_floats([[1.0, 2.0]], &dev);
        assert!(matches!(
            loss.forward(one.clone(), one),
            Err(SslError::BatchTooSmall { n: 1 })
        ));
        let c: VicRegLossConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, VicRegLossConfig::default());
    }
}
