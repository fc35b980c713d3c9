//! The tri-state classification head and the study's backbone choices (docs/classify.md).
//!
//! - [`TriStateHead`], `Linear(features → 2·S)` read as S pairs of logits (columns `2s`,
//!   `2s + 1` = negative, positive class of structure `s`), or `Linear(features → S)` for the
//!   single-logit (BCE) variant; [`TriStateHead::probabilities`] gives the positive-class
//!   probability per structure.
//! - [`BackboneInit`], one of `random`, `imagenet:FILE`, `barlow:FILE`.
//! - [`Mode`], either `frozen` (linear probe: no encoder gradients, BatchNorm on running statistics)
//!   or `finetune`.

use std::fmt;
use std::str::FromStr;

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{ClassifyError, Result};

/// Logits per structure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// Two logits per structure (`[N, 2·S]`), trained with
    /// [`MaskedCrossEntropy`](crate::loss::MaskedCrossEntropy) (the study).
    #[default]
    Pairs,
    /// One logit per structure (`[N, S]`), trained with [`MaskedBce`](crate::loss::MaskedBce).
    Single,
}

/// Initialisation of the head's linear layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadInit {
    /// PyTorch's `nn.Linear` default, uniform ±1/√features for weight and bias (what the
    /// study's classifier used).
    #[default]
    TorchDefault,
    /// The reference linear evaluation (Barlow Twins repository): weight N(0, 0.01²), bias 0.
    Reference,
}

/// Configuration of a [`TriStateHead`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriStateHeadConfig {
    /// Input feature width (512 for ResNet-18/34, 2048 for ResNet-50).
    pub features: usize,
    /// Number of structures S.
    pub structures: usize,
    /// Two logits per structure (default) or one.
    #[serde(default)]
    pub kind: HeadKind,
    /// Weight initialisation.
    #[serde(default)]
    pub init: HeadInit,
}

impl TriStateHeadConfig {
    /// A pair-logit head with PyTorch's default initialisation.
    pub fn new(features: usize, structures: usize) -> Self {
        Self {
            features,
            structures,
            kind: HeadKind::Pairs,
            init: HeadInit::TorchDefault,
        }
    }

    /// Sets the kind.
    pub fn with_kind(mut self, kind: HeadKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the initialisation.
    pub fn with_init(mut self, init: HeadInit) -> Self {
        self.init = init;
        self
    }

    /// Output width: `2·S` or `S`.
    pub fn outputs(&self) -> usize {
        match self.kind {
            HeadKind::Pairs => 2 * self.structures,
            HeadKind::Single => self.structures,
        }
    }

    /// Builds the head on `device`.
    ///
    /// # Errors
    /// [`ClassifyError::Config`] when `features` or `structures` is 0.
    pub fn init(&self, device: &Device) -> Result<TriStateHead> {
        if self.features == 0 {
            return Err(ClassifyError::config("head.features", "must be at least 1"));
        }
        if self.structures == 0 {
            return Err(ClassifyError::config(
                "head.structures",
                "must be at least 1",
            ));
        }
        let base = LinearConfig::new(self.features, self.outputs());
        let linear = match self.init {
            HeadInit::TorchDefault => base.init(device),
            HeadInit::Reference => {
                let mut linear = base
                    .with_initializer(Initializer::Normal {
                        mean: 0.0,
                        std: 0.01,
                    })
                    .init(device);
                linear.bias = Some(Param::from_tensor(Tensor::zeros([self.outputs()], device)));
                linear
            }
        };
        Ok(TriStateHead {
            linear,
            structures: self.structures,
            single: self.kind == HeadKind::Single,
        })
    }
}

/// Linear head producing per-structure logits.
#[derive(Module, Debug)]
pub struct TriStateHead {
    /// The linear layer (`features → 2·S` or `features → S`).
    pub linear: Linear,
    /// Number of structures S.
    pub structures: usize,
    /// Whether the head has one logit per structure (else a pair).
    pub single: bool,
}

impl TriStateHead {
    /// Logits.
    ///
    /// # Shapes
    /// `[N, features]` → `[N, 2·S]` (pairs) or `[N, S]` (single).
    pub fn forward(&self, features: Tensor<2>) -> Tensor<2> {
        self.linear.forward(features)
    }

    /// The head's kind.
    pub fn kind(&self) -> HeadKind {
        if self.single {
            HeadKind::Single
        } else {
            HeadKind::Pairs
        }
    }

    /// Positive-class probability per structure from this head's logits: the softmax of each
    /// pair taken at the positive class, `σ(x₂ₛ₊₁ − x₂ₛ)`, or `σ(xₛ)` for a single logit.
    ///
    /// # Shapes
    /// `[N, 2·S]` or `[N, S]` → `[N, S]`.
    ///
    /// # Panics
    /// When the logits' width does not match the head (a programmer error).
    pub fn probabilities(&self, logits: Tensor<2>) -> Tensor<2> {
        let [n, width] = logits.dims();
        let s = self.structures;
        if self.single {
            assert_eq!(
                width, s,
                "TriStateHead::probabilities: expected [N, {s}] logits"
            );
            sigmoid(logits)
        } else {
            assert_eq!(
                width,
                2 * s,
                "TriStateHead::probabilities: expected [N, {}] logits",
                2 * s
            );
            let pairs = logits.reshape([n, s, 2]);
            let neg = pairs.clone().slice([0..n, 0..s, 0..1]);
            let pos = pairs.slice([0..n, 0..s, 1..2]);
            sigmoid(pos - neg).reshape([n, s])
        }
    }
}

pub use twinscan_models::BackboneInit;

/// Whether the backbone trains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Linear probe: backbone parameters get no gradient and its BatchNorm layers use their
    /// running statistics (the reference linear evaluation).
    #[default]
    Frozen,
    /// Everything trains.
    Finetune,
}

impl FromStr for Mode {
    type Err = ClassifyError;

    /// `frozen` or `finetune` (also `finetuned`).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "frozen" => Ok(Self::Frozen),
            "finetune" | "finetuned" => Ok(Self::Finetune),
            _ => Err(ClassifyError::config(
                "mode",
                format!("{s:?} is not `frozen` or `finetune`"),
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Frozen => "frozen",
            Self::Finetune => "finetune",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_parse_and_serde() {
        assert_eq!("finetuned".parse::<Mode>().unwrap(), Mode::Finetune);
        assert_eq!(serde_json::to_string(&Mode::Frozen).unwrap(), "\"frozen\"");
        assert!("train".parse::<Mode>().is_err());
    }
}
