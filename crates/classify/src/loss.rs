//! The masked tri-state losses of the study (docs/classify.md).
//!
//! The head's output `[N, 2·S]` is read as S pairs of logits: structure `s` uses columns `2s`
//! (negative class) and `2s + 1` (positive class). For each (slice, structure) with label
//! `l ∈ {-1, 0, 1}`:
//!
//! ```text
//! t = (l == 1),  known = (l != 0)
//! ce = -log softmax(x_pair)[t]                       (2-way cross-entropy)
//! loss = known · w[t] · ce                           (class weights w = [1, 2] by default)
//! ```
//!
//! which is PyTorch's `CrossEntropyLoss(weight=w, reduction="none")` per structure, multiplied
//! by the known mask. The single-logit variant ([`MaskedBce`], head output `[N, S]`) uses
//! `bce = -(t·log σ(x) + (1 − t)·log σ(−x))` with the same weights (PyTorch's
//! `BCEWithLogitsLoss(weight=w[0], pos_weight=w[1]/w[0])`).
//!
//! Reduction ([`Reduction`]): `Sum` over structures and batch (what the study did) or
//! `MeanOverKnown` (the default): the sum divided by the number of known labels in the batch
//! (not by the sum of weights as PyTorch's weighted `"mean"` does), so the loss scale does not
//! depend on how many labels are unknown. A batch without any known label gives 0 (and zero
//! gradients) under both reductions.
//!
//! Unknown labels contribute exactly zero to the loss and, since the mask multiplies a finite
//! cross-entropy (log-softmax is computed stably), exactly zero gradient to their logits.

use burn::tensor::activation::{log_sigmoid, log_softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{ClassifyError, Result};

/// How per-label losses are combined into one scalar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// Sum over structures and batch (the study).
    Sum,
    /// Sum divided by the number of known labels in the batch (default).
    #[default]
    MeanOverKnown,
}

/// Settings of the masked losses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MaskedLossConfig {
    /// Class weights `[negative, positive]` (study: `[1, 2]`); finite and > 0.
    pub class_weights: [f32; 2],
    /// Reduction (default [`Reduction::MeanOverKnown`]).
    pub reduction: Reduction,
}

impl Default for MaskedLossConfig {
    fn default() -> Self {
        Self {
            class_weights: [1.0, 2.0],
            reduction: Reduction::MeanOverKnown,
        }
    }
}

impl MaskedLossConfig {
    /// Checks the class weights.
    ///
    /// # Errors
    /// [`ClassifyError::Config`] when a weight is not finite and positive.
    pub fn validate(&self) -> Result<()> {
        if self
            .class_weights
            .iter()
            .any(|w| !(w.is_finite() && *w > 0.0))
        {
            return Err(ClassifyError::config(
                "loss.class_weights",
                format!("{:?} must be finite and > 0", self.class_weights),
            ));
        }
        Ok(())
    }
}

/// Per-label weights `known · w[t]` and the target indicator `t`, both `[N, S]` floats.
fn weights_and_targets(labels: Tensor<2, Int>, w: [f32; 2]) -> (Tensor<2>, Tensor<2>) {
    let known = labels.clone().not_equal_elem(0).float();
    let t = labels.equal_elem(1).float();
    let weight = known * (t.clone() * (w[1] - w[0]) + w[0]);
    (weight, t)
}

fn reduce(per_label: Tensor<2>, labels: &Tensor<2, Int>, reduction: Reduction) -> Tensor<1> {
    let total = per_label.sum();
    match reduction {
        Reduction::Sum => total,
        Reduction::MeanOverKnown => {
            let n_known = labels
                .clone()
                .not_equal_elem(0)
                .float()
                .sum()
                .clamp_min(1.0);
            total / n_known
        }
    }
}

/// Masked, class-weighted 2-way cross-entropy over S pairs of logits.
///
/// # Example
/// ```
/// use burn::tensor::{Device, Tensor};
/// use twinscan_classify::loss::{labels_tensor, MaskedCrossEntropy, MaskedLossConfig, Reduction};
/// let device = Device::flex();
/// // One slice, two structures: logits (0, 0) for each; labels: positive, unknown.
/// let logits = Tensor::<2>::zeros([1, 4], &device);
/// let labels = labels_tensor(&[1, 0], 1, 2, &device).unwrap();
/// let cfg = MaskedLossConfig { reduction: Reduction::Sum, ..Default::default() };
/// let loss = MaskedCrossEntropy::new(cfg).unwrap().forward(logits, labels);
/// // 2 · ln 2 for the positive label, nothing for the unknown one.
/// let v = loss.into_scalar::<f32>();
/// assert!((v - 2.0 * 2f32.ln()).abs() < 1e-6);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MaskedCrossEntropy {
    cfg: MaskedLossConfig,
}

impl MaskedCrossEntropy {
    /// A loss with validated settings.
    ///
    /// # Errors
    /// Invalid class weights.
    pub fn new(cfg: MaskedLossConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self { cfg })
    }

    /// The settings.
    pub fn config(&self) -> &MaskedLossConfig {
        &self.cfg
    }

    /// Weighted, masked per-label losses `[N, S]` (0 where the label is unknown).
    ///
    /// # Shapes
    /// - `logits`: `[N, 2·S]` (pairs `(2s, 2s + 1)` = negative, positive)
    /// - `labels`: `[N, S]` integers in {-1, 0, 1}
    ///
    /// # Panics
    /// When the shapes disagree (a programmer error).
    pub fn per_label(&self, logits: Tensor<2>, labels: Tensor<2, Int>) -> Tensor<2> {
        let [n, two_s] = logits.dims();
        let [nl, s] = labels.dims();
        assert!(
            n == nl && two_s == 2 * s,
            "MaskedCrossEntropy: logits {:?} do not match labels {:?} (expected [N, 2·S] and [N, S])",
            [n, two_s],
            [nl, s]
        );
        let logp = log_softmax(logits.reshape([n, s, 2]), 2);
        let neg = logp.clone().slice([0..n, 0..s, 0..1]).reshape([n, s]);
        let pos = logp.slice([0..n, 0..s, 1..2]).reshape([n, s]);
        let (weight, t) = weights_and_targets(labels, self.cfg.class_weights);
        // -(t·log p1 + (1 − t)·log p0)
        let nll = (pos * t.clone() + neg * (t.neg() + 1.0)).neg();
        nll * weight
    }

    /// The reduced loss, shape `[1]`.
    ///
    /// # Shapes
    /// As [`MaskedCrossEntropy::per_label`].
    pub fn forward(&self, logits: Tensor<2>, labels: Tensor<2, Int>) -> Tensor<1> {
        let per = self.per_label(logits, labels.clone());
        reduce(per, &labels, self.cfg.reduction)
    }
}

/// Masked, class-weighted binary cross-entropy on one logit per structure.
#[derive(Debug, Clone, Copy)]
pub struct MaskedBce {
    cfg: MaskedLossConfig,
}

impl MaskedBce {
    /// A loss with validated settings.
    ///
    /// # Errors
    /// Invalid class weights.
    pub fn new(cfg: MaskedLossConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Self { cfg })
    }

    /// The settings.
    pub fn config(&self) -> &MaskedLossConfig {
        &self.cfg
    }

    /// Weighted, masked per-label losses `[N, S]` (0 where the label is unknown).
    ///
    /// # Shapes
    /// - `logits`: `[N, S]`
    /// - `labels`: `[N, S]` integers in {-1, 0, 1}
    ///
    /// # Panics
    /// When the shapes disagree (a programmer error).
    pub fn per_label(&self, logits: Tensor<2>, labels: Tensor<2, Int>) -> Tensor<2> {
        assert_eq!(
            logits.dims(),
            labels.dims(),
            "MaskedBce: logits and labels must both be [N, S]"
        );
        let (weight, t) = weights_and_targets(labels, self.cfg.class_weights);
        let nll = (log_sigmoid(logits.clone()) * t.clone()
            + log_sigmoid(logits.neg()) * (t.neg() + 1.0))
            .neg();
        nll * weight
    }

    /// The reduced loss, shape `[1]`.
    ///
    /// # Shapes
    /// As [`MaskedBce::per_label`].
    pub fn forward(&self, logits: Tensor<2>, labels: Tensor<2, Int>) -> Tensor<1> {
        let per = self.per_label(logits, labels.clone());
        reduce(per, &labels, self.cfg.reduction)
    }
}

/// Builds the `[n, s]` label tensor from row-major tri-state labels, checking them.
///
/// # Errors
/// [`ClassifyError::Shape`] when `labels.len() != n·s`, [`ClassifyError::InvalidLabel`] for a
/// value outside {-1, 0, 1} (`structure` = its column index).
pub fn labels_tensor(labels: &[i8], n: usize, s: usize, device: &Device) -> Result<Tensor<2, Int>> {
    if labels.len() != n * s {
        return Err(ClassifyError::Shape {
            what: "labels".into(),
            message: format!("{} values for [{n}, {s}]", labels.len()),
        });
    }
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| !(-1..=1).contains(*l))
    {
        return Err(ClassifyError::InvalidLabel {
            structure: (i % s).to_string(),
            index: i / s,
            label: l.into(),
        });
    }
    let data: Vec<i32> = labels.iter().map(|&l| l.into()).collect();
    Ok(Tensor::from_data(TensorData::new(data, [n, s]), device))
}
