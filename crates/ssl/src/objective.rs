//! The self-supervised objective of a pretraining run: Barlow Twins or VICReg. Both take the
//! two views' embeddings `[N, D]` and return a loss and its named terms; the loop, checkpoints,
//! log, kNN probe and resume are shared.

use std::collections::BTreeMap;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::loss::{BarlowTwinsLoss, BarlowTwinsLossConfig};
use crate::vicreg::{VicRegLoss, VicRegLossConfig};

/// Which objective a run trains with (`--objective`, `objective` in configs and grids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveKind {
    /// Barlow Twins (Zbontar et al., 2021): the study's objective.
    #[default]
    Barlow,
    /// VICReg (Bardes, Ponce, LeCun, 2022).
    Vicreg,
}

impl ObjectiveKind {
    /// Whether this is the default (Barlow Twins); used to keep Barlow configs as they were.
    pub fn is_barlow(&self) -> bool {
        *self == Self::Barlow
    }

    /// The names of the loss terms, in the order [`Objective::forward`] returns them.
    pub fn term_names(&self) -> &'static [&'static str] {
        match self {
            Self::Barlow => &["on_diag", "off_diag"],
            Self::Vicreg => &["invariance", "variance", "covariance"],
        }
    }
}

impl std::str::FromStr for ObjectiveKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "barlow" | "barlow_twins" | "barlowtwins" => Ok(Self::Barlow),
            "vicreg" => Ok(Self::Vicreg),
            other => Err(format!("unknown objective '{other}' (barlow, vicreg)")),
        }
    }
}

impl std::fmt::Display for ObjectiveKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Barlow => "barlow",
            Self::Vicreg => "vicreg",
        })
    }
}

/// A built objective.
#[derive(Debug, Clone, Copy)]
pub enum Objective {
    /// Barlow Twins.
    Barlow(BarlowTwinsLoss),
    /// VICReg.
    Vicreg(VicRegLoss),
}

/// An objective's loss and its unweighted terms (one-element tensors).
#[derive(Debug, Clone)]
pub struct ObjectiveOutput {
    /// The total loss, shape `[1]`.
    pub loss: Tensor<1>,
    /// The terms, named by [`ObjectiveKind::term_names`], in that order.
    pub terms: Vec<Tensor<1>>,
}

impl Objective {
    /// Builds the objective `kind` from its configuration.
    ///
    /// # Errors
    /// The loss configuration's validation error.
    pub fn build(
        kind: ObjectiveKind,
        barlow: &BarlowTwinsLossConfig,
        vicreg: &VicRegLossConfig,
    ) -> Result<Self> {
        Ok(match kind {
            ObjectiveKind::Barlow => Self::Barlow(barlow.init()?),
            ObjectiveKind::Vicreg => Self::Vicreg(vicreg.init()?),
        })
    }

    /// Which objective this is.
    pub fn kind(&self) -> ObjectiveKind {
        match self {
            Self::Barlow(_) => ObjectiveKind::Barlow,
            Self::Vicreg(_) => ObjectiveKind::Vicreg,
        }
    }

    /// The loss of two views `[N, D]`.
    ///
    /// # Errors
    /// The loss's shape and batch-size errors.
    pub fn forward(&self, z1: Tensor<2>, z2: Tensor<2>) -> Result<ObjectiveOutput> {
        Ok(match self {
            Self::Barlow(l) => {
                let o = l.forward(z1, z2)?;
                ObjectiveOutput {
                    loss: o.loss,
                    terms: vec![o.on_diag, o.off_diag],
                }
            }
            Self::Vicreg(l) => {
                let o = l.forward(z1, z2)?;
                ObjectiveOutput {
                    loss: o.loss,
                    terms: vec![o.invariance, o.variance, o.covariance],
                }
            }
        })
    }
}

impl From<BarlowTwinsLoss> for Objective {
    fn from(l: BarlowTwinsLoss) -> Self {
        Self::Barlow(l)
    }
}

impl From<VicRegLoss> for Objective {
    fn from(l: VicRegLoss) -> Self {
        Self::Vicreg(l)
    }
}

/// Named loss terms as logged (`on_diag`, `off_diag` or `invariance`, `variance`,
/// `covariance`).
pub type Terms = BTreeMap<String, f64>;
