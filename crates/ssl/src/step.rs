//! The Barlow Twins model (encoder + projector) and one training step.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use twinscan_models::{Collective, Projector, ResNet};

use crate::clip::clip_global_norm;
use crate::error::{Result, SslError};
use crate::lars::LarsConfig;
use crate::loss::embedding_std;
use crate::objective::{Objective, ObjectiveOutput, Terms};

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

    /// [`embed`](Self::embed) of a batch split into shards, BatchNorm synchronised over the
    /// shards by `collective` (see [`twinscan_models::sharded`]).
    pub fn embed_sharded(&self, xs: Vec<Tensor<4>>, collective: &dyn Collective) -> Vec<Tensor<2>> {
        self.projector.forward_sharded(
            self.encoder.forward_features_sharded(xs, collective),
            collective,
        )
    }
}

/// Collects every parameter gradient of a module, flattened, in visiting order.
struct Flatten<'a> {
    grads: &'a GradientsParams,
    parts: Vec<Tensor<1>>,
}

impl ModuleVisitor for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let n: usize = g.dims().iter().product();
            self.parts.push(g.reshape([n]));
        }
    }
}

/// Writes slices of one flat tensor back as the gradients, in the order [`Flatten`] read them.
struct Unflatten<'a> {
    grads: &'a mut GradientsParams,
    flat: Tensor<1>,
    offset: usize,
}

impl ModuleVisitor for Unflatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let shape = g.dims();
            let n: usize = shape.iter().product();
            // burn's `slice` takes one range per dimension: a 1-element array for a 1-D tensor.
            #[allow(clippy::single_range_in_vec_init)]
            let part = self.flat.clone().slice([self.offset..self.offset + n]);
            self.offset += n;
            self.grads.register(param.id, part.reshape(shape));
        }
    }
}

/// Reduces every parameter gradient over the replicas with one collective call (the gradients
/// concatenated into one buffer, as DDP's buckets do, then split back).
pub fn reduce_gradients<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    collective: &dyn Collective,
) {
    let mut flatten = Flatten {
        grads,
        parts: Vec::new(),
    };
    module.visit(&mut flatten);
    if flatten.parts.is_empty() {
        return;
    }
    let flat = collective.reduce_gradients(Tensor::cat(flatten.parts, 0));
    module.visit(&mut Unflatten {
        grads,
        flat,
        offset: 0,
    });
}

/// What one step measured (all read back from the device in one transfer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Total loss (Barlow Twins: `on_diag + lambda * off_diag`).
    pub loss: f64,
    /// The objective's unweighted terms by name: Barlow Twins `on_diag` (`Σ_i (1 − C_ii)²`)
    /// and `off_diag` (`Σ_{i≠j} C_ij²`, not multiplied by λ); VICReg `invariance`,
    /// `variance`, `covariance` (see [`ObjectiveKind::term_names`]).
    #[serde(flatten)]
    pub terms: Terms,
    /// Standard deviation of the l2-normalised embeddings of the first view (collapse → 0).
    pub embedding_std: f64,
    /// Global gradient norm before clipping, when clipping is on.
    pub grad_norm: Option<f64>,
    /// Effective learning rate of rank ≥ 2 parameters at this step.
    pub lr_weights: f64,
    /// Effective learning rate of rank-1 parameters at this step.
    pub lr_biases: f64,
}

/// One optimisation step, shared by the pretraining loop and the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Trainer {
    /// The objective (`BarlowTwinsLoss` or `VicRegLoss`, `.into()`).
    pub loss: Objective,
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
        self.finish(model, optim, out, std, None, multiplier, step)
    }

    /// [`step`](Self::step) on a batch split into shards (`y1s[r]`, `y2s[r]`), every batch
    /// statistic (BatchNorm, the loss's standardisation and cross-correlation) reduced over
    /// the shards by `collective`, and the parameter gradients reduced by it before clipping
    /// and the LARS step. With [`InProcessSum`](twinscan_models::InProcessSum) and every shard
    /// in `y1s`, the result equals [`step`](Self::step) on the whole batch (the test
    /// `data_parallel_matches_single_device`); with [`AllReduce`](twinscan_models::AllReduce)
    /// each replica's thread passes its one shard and its own model and optimiser copy.
    ///
    /// # Errors
    /// As [`step`](Self::step).
    #[allow(clippy::too_many_arguments)]
    pub fn step_sharded(
        &self,
        model: BarlowTwinsModel,
        optim: &mut ModuleOptimizer,
        y1s: Vec<Tensor<4>>,
        y2s: Vec<Tensor<4>>,
        collective: &dyn Collective,
        multiplier: f64,
        step: u64,
    ) -> Result<(BarlowTwinsModel, StepStats)> {
        let z1s = model.embed_sharded(y1s, collective);
        let z2s = model.embed_sharded(y2s, collective);
        // The collapse monitor from the first shard (a monitor, not part of the loss).
        let std = embedding_std(z1s[0].clone().detach());
        let out = match &self.loss {
            Objective::Barlow(loss) => {
                let o = loss.forward_sharded(z1s, z2s, collective)?.swap_remove(0);
                ObjectiveOutput {
                    loss: o.loss,
                    terms: vec![o.on_diag, o.off_diag],
                }
            }
            Objective::Vicreg(loss) => {
                let o = loss.forward_sharded(z1s, z2s, collective)?.swap_remove(0);
                ObjectiveOutput {
                    loss: o.loss,
                    terms: vec![o.invariance, o.variance, o.covariance],
                }
            }
        };
        let (model, stats) =
            self.finish(model, optim, out, std, Some(collective), multiplier, step)?;
        // burn's `RunningState` (BatchNorm's running mean and variance) keeps one pending
        // update per thread and merges them lazily, as an average over threads: a replica
        // stepped on a different thread next time would average its statistics with stale
        // ones. `valid()` merges every running state now, so they stay exact whichever thread
        // steps next (the returned copy is dropped; the model shares the merged states).
        drop(model.valid());
        Ok((model, stats))
    }

    /// Backward, read-back, gradient reduction, clipping and the LARS step.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        model: BarlowTwinsModel,
        optim: &mut ModuleOptimizer,
        out: ObjectiveOutput,
        std: Tensor<1>,
        collective: Option<&dyn Collective>,
        multiplier: f64,
        step: u64,
    ) -> Result<(BarlowTwinsModel, StepStats)> {
        let grads = out.loss.backward();
        // Loss, terms and the monitor in one read-back.
        let names = self.loss.kind().term_names();
        let mut parts = vec![out.loss.detach()];
        parts.extend(out.terms.into_iter().map(|t| t.detach()));
        parts.push(std);
        // Read as f32 whatever the model's float type (a half-precision run's are f16/bf16).
        let scalars = Tensor::cat(parts, 0)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| SslError::TensorRead {
                what: "loss terms",
                reason: format!("{e:?}"),
            })?;
        let loss = scalars[0] as f64;
        let std = scalars[scalars.len() - 1] as f64;
        let terms: Terms = names
            .iter()
            .zip(&scalars[1..])
            .map(|(name, v)| (name.to_string(), *v as f64))
            .collect();
        if !loss.is_finite() {
            return Err(SslError::NonFinite {
                what: "loss",
                value: loss,
                step,
            });
        }
        let mut grads = GradientsParams::from_grads(grads, &model);
        if let Some(c) = collective {
            reduce_gradients(&model, &mut grads, c);
        }
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
                terms,
                embedding_std: std,
                grad_norm,
                lr_weights,
                lr_biases,
            },
        ))
    }
}
