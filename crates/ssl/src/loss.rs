//! The Barlow Twins loss.
//!
//! For two views `z1`, `z2` of shape `[N, D]` (N images, D projector outputs):
//!
//! ```text
//! zn = (z - mean_batch(z)) / sqrt(var_batch(z) + eps)      biased variance, no affine
//! C  = zn1ᵀ zn2 / N                                         D × D
//! L  = Σ_i (1 - C_ii)²  +  λ Σ_{i≠j} C_ij²
//! ```
//!
//! The default [`CorrelationStrategy::Auto`] never builds the D×D matrix `C` when `2N < D`
//! (the usual case: N = 64..256, D = 8192): the diagonal is `C_ii = Σ_n zn1[n,i] zn2[n,i] / N`
//! and the squared Frobenius norm is `‖C‖²_F = Σ (G1 ∘ G2) / N²` with the N×N Gram matrices
//! `G = zn znᵀ` (because `‖Aᵀ B‖²_F = tr(A Aᵀ B Bᵀ)`), so the off-diagonal sum is
//! `‖C‖²_F − Σ_i C_ii²`. That costs `O(N² D)` instead of `O(N D²)` flops and `O(N²)` memory
//! instead of two `D × D` buffers (268 MB each at D = 8192). The explicit path
//! ([`CorrelationStrategy::CrossCorrelation`]) materialises `C` once (no second D×D temporary
//! in the forward pass) and is what a multi-device version, which must all-reduce `C`, needs.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use twinscan_models::Collective;

use crate::error::{Result, SslError};

/// How the off-diagonal sum `Σ_{i≠j} C_ij²` is computed. All strategies give the same value up
/// to float rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationStrategy {
    /// [`Gram`](Self::Gram) when `2N < D`, else [`CrossCorrelation`](Self::CrossCorrelation).
    #[default]
    Auto,
    /// Through the two N×N Gram matrices; never builds `C`.
    Gram,
    /// Builds `C` (D×D) explicitly; `‖C‖²_F` as one matrix product of its flattened view.
    CrossCorrelation,
}

impl CorrelationStrategy {
    /// Whether the Gram route is taken for a batch of `n` embeddings of dimension `d`.
    pub fn uses_gram(self, n: usize, d: usize) -> bool {
        match self {
            Self::Auto => 2 * n < d,
            Self::Gram => true,
            Self::CrossCorrelation => false,
        }
    }
}

/// Checks two views' shards (as many of each, at least one, each pair of one shape, every
/// shard of one width) and returns the embedding width; `count` and `pair` name the check in
/// the error.
pub(crate) fn check_shards(
    count: &'static str,
    pair: &'static str,
    z1s: &[Tensor<2>],
    z2s: &[Tensor<2>],
) -> Result<usize> {
    if z1s.len() != z2s.len() || z1s.is_empty() {
        return Err(SslError::ShapeMismatch {
            what: count,
            left: vec![z1s.len()],
            right: vec![z2s.len()],
        });
    }
    let d = z1s[0].dims()[1];
    for (a, b) in z1s.iter().zip(z2s) {
        if a.dims() != b.dims() || a.dims()[1] != d {
            return Err(SslError::ShapeMismatch {
                what: pair,
                left: a.dims().to_vec(),
                right: b.dims().to_vec(),
            });
        }
    }
    Ok(d)
}

/// `‖m‖²_F` as `(1 × R·C)·(R·C × 1)`: one product of the flattened view, no second
/// `R × C` buffer in the forward pass.
pub(crate) fn squared_frobenius(m: Tensor<2>) -> Tensor<1> {
    let [r, c] = m.dims();
    let flat = m.reshape([1, r * c]);
    flat.clone().matmul(flat.transpose()).reshape([1])
}

/// Configuration of [`BarlowTwinsLoss`]. Defaults are the paper's and the study's values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarlowTwinsLossConfig {
    /// Weight λ of the off-diagonal (redundancy reduction) term. Paper and study: 0.0051.
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    /// Added to the biased batch variance before the square root. Study: 1e-5
    /// (BatchNorm1d's default).
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// How the off-diagonal sum is computed (a speed/memory choice, not a semantic one).
    #[serde(default)]
    pub strategy: CorrelationStrategy,
}

fn default_lambda() -> f64 {
    0.0051
}

fn default_eps() -> f64 {
    1e-5
}

impl Default for BarlowTwinsLossConfig {
    fn default() -> Self {
        Self {
            lambda: default_lambda(),
            eps: default_eps(),
            strategy: CorrelationStrategy::Auto,
        }
    }
}

impl BarlowTwinsLossConfig {
    /// Validates the configuration and builds the loss.
    ///
    /// # Errors
    /// [`SslError::InvalidConfig`] if `lambda` is negative or not finite, or `eps` is not a
    /// positive finite number.
    pub fn init(&self) -> Result<BarlowTwinsLoss> {
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(SslError::InvalidConfig {
                field: "lambda",
                reason: format!("must be finite and >= 0, got {}", self.lambda),
            });
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(SslError::InvalidConfig {
                field: "eps",
                reason: format!("must be finite and > 0, got {}", self.eps),
            });
        }
        Ok(BarlowTwinsLoss { config: *self })
    }
}

/// The loss and its two terms, each a one-element tensor (differentiable when the inputs are
/// tracked).
#[derive(Debug, Clone)]
pub struct BarlowTwinsOutput {
    /// `on_diag + lambda * off_diag`, shape `[1]`.
    pub loss: Tensor<1>,
    /// `Σ_i (1 - C_ii)²` (invariance term), shape `[1]`.
    pub on_diag: Tensor<1>,
    /// `Σ_{i≠j} C_ij²`, **not** multiplied by λ (redundancy-reduction term), shape `[1]`.
    pub off_diag: Tensor<1>,
}

/// The Barlow Twins loss; build it with [`BarlowTwinsLossConfig::init`].
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use twinscan_ssl::BarlowTwinsLossConfig;
///
/// let device = Device::flex();
/// // Two identical views of 4 embeddings of dimension 3.
/// let z = Tensor::<2>::from_floats(
///     [[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [2.0, 2.0, 0.0], [1.0, 3.0, 1.0]],
///     &device,
/// );
/// let loss = BarlowTwinsLossConfig::default().init()?;
/// let out = loss.forward(z.clone(), z)?;
/// // Identical views: C_ii = var/(var + eps) ≈ 1, so the invariance term is ≈ 0.
/// assert!(out.on_diag.into_scalar::<f32>() < 1e-6);
/// # Ok::<(), twinscan_ssl::SslError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct BarlowTwinsLoss {
    config: BarlowTwinsLossConfig,
}

impl BarlowTwinsLoss {
    /// The configuration this loss was built from.
    pub fn config(&self) -> &BarlowTwinsLossConfig {
        &self.config
    }

    /// Per-dimension batch standardisation: `(z - mean) / sqrt(var_biased + eps)` over dim 0.
    ///
    /// `z`: `[N, D]` → `[N, D]`.
    pub fn standardise(&self, z: Tensor<2>) -> Tensor<2> {
        let (var, mean) = z.clone().var_mean_bias(0);
        (z - mean).div(var.add_scalar(self.config.eps).sqrt())
    }

    /// Computes the loss of two views `z1`, `z2`, both `[N, D]` on one device.
    ///
    /// # Errors
    /// [`SslError::ShapeMismatch`] if the shapes differ, [`SslError::BatchTooSmall`] if
    /// `N < 2`.
    pub fn forward(&self, z1: Tensor<2>, z2: Tensor<2>) -> Result<BarlowTwinsOutput> {
        let [n, d] = z1.dims();
        if z2.dims() != [n, d] {
            return Err(SslError::ShapeMismatch {
                what: "Barlow Twins loss (z1 vs z2)",
                left: vec![n, d],
                right: z2.dims().to_vec(),
            });
        }
        if n < 2 {
            return Err(SslError::BatchTooSmall { n });
        }
        let zn1 = self.standardise(z1);
        let zn2 = self.standardise(z2);
        let inv_n = 1.0 / n as f64;

        // C_ii without C: [1, D].
        let diag = zn1.clone().mul(zn2.clone()).sum_dim(0).mul_scalar(inv_n);
        let on_diag = diag.clone().neg().add_scalar(1.0).square().sum();
        let diag_sq = diag.square().sum();

        let frob_sq = if self.config.strategy.uses_gram(n, d) {
            let g1 = zn1.clone().matmul(zn1.transpose());
            let g2 = zn2.clone().matmul(zn2.transpose());
            g1.mul(g2).sum().mul_scalar(inv_n * inv_n)
        } else {
            squared_frobenius(zn1.transpose().matmul(zn2).mul_scalar(inv_n))
        };
        let off_diag = frob_sq - diag_sq;
        let loss = on_diag.clone() + off_diag.clone().mul_scalar(self.config.lambda);
        Ok(BarlowTwinsOutput {
            loss,
            on_diag,
            off_diag,
        })
    }
}

impl BarlowTwinsLoss {
    /// The loss of a batch split into shards (`z1s[r]`, `z2s[r]`: `[N_r, D]`, one pair per
    /// replica), with every statistic over the global batch: the per-dimension mean and biased
    /// variance, and `C = Σ_r zn1_rᵀ zn2_r / N`, reduced by `collective` (facebookresearch's
    /// `torch.distributed.all_reduce(c)`). Returns one output per shard, equal in value.
    ///
    /// This is the [`CrossCorrelation`](CorrelationStrategy::CrossCorrelation) path (the D×D
    /// matrix is what is reduced); the Gram route does not decompose over shards.
    ///
    /// # Errors
    /// As [`forward`](Self::forward) (shapes, a global batch below 2), and
    /// [`SslError::ShapeMismatch`] when `z1s` and `z2s` hold different numbers of shards.
    pub fn forward_sharded(
        &self,
        z1s: Vec<Tensor<2>>,
        z2s: Vec<Tensor<2>>,
        collective: &dyn Collective,
    ) -> Result<Vec<BarlowTwinsOutput>> {
        check_shards(
            "Barlow Twins loss (shards of z1 vs z2)",
            "Barlow Twins loss (z1 vs z2 shard)",
            &z1s,
            &z2s,
        )?;
        let (zn1, n) = self.standardise_sharded(z1s, collective)?;
        let (zn2, _) = self.standardise_sharded(z2s, collective)?;
        let inv_n = 1.0 / n;
        let diags = zn1
            .iter()
            .zip(&zn2)
            .map(|(a, b)| a.clone().mul(b.clone()).sum_dim(0))
            .collect();
        let diags = collective.all_reduce_sum(diags);
        let cs = zn1
            .into_iter()
            .zip(zn2)
            .map(|(a, b)| a.transpose().matmul(b))
            .collect();
        let cs = collective.all_reduce_sum(cs);
        Ok(diags
            .into_iter()
            .zip(cs)
            .map(|(diag, c)| {
                let diag = diag.mul_scalar(inv_n);
                let on_diag = diag.clone().neg().add_scalar(1.0).square().sum();
                let off_diag = squared_frobenius(c.mul_scalar(inv_n)) - diag.square().sum();
                let loss = on_diag.clone() + off_diag.clone().mul_scalar(self.config.lambda);
                BarlowTwinsOutput {
                    loss,
                    on_diag,
                    off_diag,
                }
            })
            .collect())
    }

    /// [`standardise`](Self::standardise) with the mean and biased variance of the global
    /// batch (two reductions); returns the shards and the global batch size.
    fn standardise_sharded(
        &self,
        zs: Vec<Tensor<2>>,
        collective: &dyn Collective,
    ) -> Result<(Vec<Tensor<2>>, f64)> {
        let d = zs[0].dims()[1];
        let sums = zs
            .iter()
            .map(|z| {
                let count = Tensor::<2>::full([1, 1], z.dims()[0] as f32, &z.device());
                Tensor::cat(vec![z.clone().sum_dim(0), count], 1)
            })
            .collect();
        let sums = collective.all_reduce_sum(sums);
        let n = sums[0].clone().slice([0..1, d..d + 1]).into_scalar::<f32>() as f64;
        if n < 2.0 {
            return Err(SslError::BatchTooSmall { n: n as usize });
        }
        let centred: Vec<Tensor<2>> = zs
            .into_iter()
            .zip(sums)
            .map(|(z, s)| z - s.slice([0..1, 0..d]).div_scalar(n))
            .collect();
        let squares = centred
            .iter()
            .map(|c| c.clone().square().sum_dim(0))
            .collect();
        let squares = collective.all_reduce_sum(squares);
        let eps = self.config.eps;
        let out = centred
            .into_iter()
            .zip(squares)
            .map(|(c, sq)| c.div(sq.div_scalar(n).add_scalar(eps).sqrt()))
            .collect();
        Ok((out, n))
    }
}

/// Collapse indicator: the standard deviation over the batch of the l2-normalised embeddings,
/// averaged over dimensions. `z`: `[N, D]`, N ≥ 2. Tends to 0 when the embeddings collapse to
/// a point; about `1/sqrt(D)` for well-spread embeddings (as in SimSiam's monitor).
pub fn embedding_std(z: Tensor<2>) -> Tensor<1> {
    let norm = z.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    let zn = z.div(norm);
    zn.var(0).sqrt().mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(rows: &[[f32; 3]]) -> Tensor<2> {
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::<2>::from_data(TensorData::new(data, [rows.len(), 3]), &Device::flex())
    }

    /// Hand-computed: z1 columns are (1,-1), (2,-2), (0,0); z2 = (1,-1), (-1,1), (1,-1).
    /// Standardised (eps 0 limit): column ±1; the constant column is 0.
    /// C = zn1ᵀ zn2 / 2: C_00 = 1, C_01 = -1, C_02 = 1, C_10 = 1, C_11 = -1, C_12 = 1, row 2 = 0.
    /// on = (1-1)² + (1+1)² + (1-0)² = 5; off = 1+1+1+1 = 4 (+ the zero row).
    #[test]
    fn hand_computed_small_case_all_strategies() {
        for strategy in [
            CorrelationStrategy::Gram,
            CorrelationStrategy::CrossCorrelation,
            CorrelationStrategy::Auto,
        ] {
            let loss = BarlowTwinsLossConfig {
                lambda: 0.5,
                eps: 1e-12,
                strategy,
            }
            .init()
            .unwrap();
            let z1 = t(&[[1.0, 2.0, 3.0], [-1.0, -2.0, 3.0]]);
            let z2 = t(&[[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]]);
            let out = loss.forward(z1, z2).unwrap();
            let on = out.on_diag.into_scalar::<f32>();
            let off = out.off_diag.into_scalar::<f32>();
            let total = out.loss.into_scalar::<f32>();
            assert!((on - 5.0).abs() < 1e-4, "{strategy:?}: on {on}");
            assert!((off - 4.0).abs() < 1e-4, "{strategy:?}: off {off}");
            assert!((total - 7.0).abs() < 1e-4, "{strategy:?}: total {total}");
        }
    }

    #[test]
    fn rejects_bad_shapes_and_configs() {
        let loss = BarlowTwinsLossConfig::default().init().unwrap();
        let a = t(&[[1.0, 2.0, 3.0], [0.0, 1.0, 2.0]]);
        let b = t(&[[1.0, 2.0, 3.0]]);
        assert!(matches!(
            loss.forward(a.clone(), b.clone()),
            Err(SslError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            loss.forward(b.clone(), b),
            Err(SslError::BatchTooSmall { n: 1 })
        ));
        let bad = BarlowTwinsLossConfig {
            lambda: f64::NAN,
            ..Default::default()
        };
        assert!(matches!(
            bad.init(),
            Err(SslError::InvalidConfig {
                field: "lambda",
                ..
            })
        ));
        let bad = BarlowTwinsLossConfig {
            eps: 0.0,
            ..Default::default()
        };
        assert!(matches!(
            bad.init(),
            Err(SslError::InvalidConfig { field: "eps", .. })
        ));
    }

    #[test]
    fn config_serde_defaults() {
        let c: BarlowTwinsLossConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, BarlowTwinsLossConfig::default());
        assert_eq!(c.lambda, 0.0051);
        assert_eq!(c.eps, 1e-5);
        assert!(serde_json::from_str::<BarlowTwinsLossConfig>(r#"{"lamda": 1}"#).is_err());
    }

    /// Collapsed embeddings (all rows equal) have std 0; two orthogonal unit rows in 2-D have
    /// per-dimension std sqrt(0.5) (unbiased, N = 2: values 1 and 0).
    #[test]
    fn embedding_std_hand_values() {
        let dev = Device::flex();
        let collapsed = Tensor::<2>::from_floats([[3.0, 4.0], [3.0, 4.0], [6.0, 8.0]], &dev);
        assert!(embedding_std(collapsed).into_scalar::<f32>().abs() < 1e-6);
        let spread = Tensor::<2>::from_floats([[2.0, 0.0], [0.0, 5.0]], &dev);
        let s = embedding_std(spread).into_scalar::<f32>();
        assert!((s - 0.5f32.sqrt()).abs() < 1e-6, "{s}");
    }
}
