//! The Barlow Twins model (encoder + projector) and one training step.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use twinscan_models::{Projector, ResNet};

use crate::clip::clip_global_norm;
use crate::error::{Result, SslError};
use crate::lars::LarsConfig;
use crate::loss::{BarlowTwinsLoss, embedding_std};

/// Encoder and projector trained together: `z = projector(encoder.forward_features(x))`.
#[derive(Module, Debug)]
pub struct BarlowTwinsModel {
    /// The ResNet encoder (its `fc` head, if any, is not used).
    pub encoder: ResNet,
    /// The projector MLP (`512-8192-8192-8192` in the study).
    pub projector: Projector,
}

impl BarlowTwinsModel {
    /// Pairs an encoder with a projector.
    ///
    /// # Errors
    /// [`SslError::ShapeMismatch`] if the projector's input width differs from the encoder's
    /// feature width.
    pub fn new(encoder: ResNet, projector: Projector) -> Result<Self> {
        let (f, p) = (encoder.feature_dim(), projector.input_width());
        if f != p {
            return Err(SslError::ShapeMismatch {
                what: "encoder features vs projector input",
                left: vec![f],
                right: vec![p],
            });
        }
        Ok(Self { encoder, projector })
    }

    /// Embeddings of one view: `[N, C, H, W]` → `[N, D]` (D = projector output width).
    pub fn embed(&self, x: Tensor<4>) -> Tensor<2> {
        self.projector.forward(self.encoder.forward_features(x))
    }
}

/// What one step measured (all read back from the device in one transfer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Total loss `on_diag + lambda * off_diag`.
    pub loss: f64,
    /// `Σ_i (1 − C_ii)²`.
    pub on_diag: f64,
    /// `Σ_{i≠j} C_ij²` (not multiplied by λ).
    pub off_diag: f64,
    /// Standard deviation of the l2-normalised embeddings of the first view (collapse → 0).
    pub embedding_std: f64,
    /// Global gradient norm before clipping, when clipping is on.
    pub grad_norm: Option<f64>,
    /// Effective learning rate of rank ≥ 2 parameters at this step.
    pub lr_weights: f64,
    /// Effective learning rate of rank-1 parameters at this step.
    pub lr_biases: f64,
}

/// One Barlow Twins optimisation step, shared by the pretraining loop and the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Trainer {
    /// The loss.
    pub loss: BarlowTwinsLoss,
    /// LARS hyper-parameters (for the logged effective rates; the optimiser holds its own).
    pub lars: LarsConfig,
    /// Global-norm clip (the study: 1.0); `None` = no clipping.
    pub clip_norm: Option<f64>,
}

impl Trainer {
    /// Forward both views, loss, backward, optional global-norm clipping, LARS step with the
    /// schedule `multiplier`. `y1`, `y2`: `[N, C, H, W]` on the model's (autodiff) device.
    ///
    /// # Errors
    /// Loss shape errors; [`SslError::NonFinite`] (with `step`) when the loss or the gradient
    /// norm is NaN or infinite, in which case no parameter has been updated (the model is
    /// dropped: reload the last checkpoint).
    pub fn step(
        &self,
        model: BarlowTwinsModel,
        optim: &mut ModuleOptimizer,
        y1: Tensor<4>,
        y2: Tensor<4>,
        multiplier: f64,
        step: u64,
    ) -> Result<(BarlowTwinsModel, StepStats)> {
        let z1 = model.embed(y1);
        let z2 = model.embed(y2);
        let std = embedding_std(z1.clone().detach());
        let out = self.loss.forward(z1, z2)?;
        let grads = out.loss.backward();
        let scalars = Tensor::cat(
            vec![
                out.loss.detach(),
                out.on_diag.detach(),
                out.off_diag.detach(),
                std,
            ],
            0,
        )
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| SslError::TensorRead {
            what: "loss terms",
            reason: format!("{e:?}"),
        })?;
        let [loss, on_diag, off_diag, std] = [0, 1, 2, 3].map(|i| scalars[i] as f64);
        if !loss.is_finite() {
            return Err(SslError::NonFinite {
                what: "loss",
                value: loss,
                step,
            });
        }
        let mut grads = GradientsParams::from_grads(grads, &model);
        let grad_norm = match self.clip_norm {
            Some(max) => {
                let n = clip_global_norm(&model, &mut grads, max)?;
                if !n.is_finite() {
                    return Err(SslError::NonFinite {
                        what: "gradient norm",
                        value: n,
                        step,
                    });
                }
                Some(n)
            }
            None => None,
        };
        let model = optim.step(multiplier, model, grads);
        let (lr_weights, lr_biases) = self.lars.learning_rates(multiplier);
        Ok((
            model,
            StepStats {
                loss,
                on_diag,
                off_diag,
                embedding_std: std,
                grad_norm,
                lr_weights,
                lr_biases,
            },
        ))
    }
}
