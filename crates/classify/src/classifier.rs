//! The per-slice classifier: a twinscan-models ResNet encoder and a [`TriStateHead`].
//!
//! ```no_run
//! use burn::tensor::{Device, Distribution, Tensor};
//! use twinscan_classify::classifier::ClassifierConfig;
//! use twinscan_classify::head::{BackboneInit, Mode};
//! use twinscan_models::ResNetConfig;
//!
//! let device = Device::flex().autodiff();
//! let cfg = ClassifierConfig::new(ResNetConfig::resnet18(), 21)
//!     .with_init("imagenet:resnet18.pth".parse().unwrap())
//!     .with_mode(Mode::Frozen);
//! let (model, _report) = cfg.init(&device).unwrap();
//! let x = Tensor::<4>::random([8, 3, 128, 128], Distribution::Normal(0.0, 1.0), &device);
//! let probs = model.probabilities(x); // [8, 21]
//! ```

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use twinscan_models::weights::LoadReport;
use twinscan_models::{ResNet, ResNetConfig};

use crate::error::{ClassifyError, Result};
use crate::head::{BackboneInit, HeadInit, HeadKind, Mode, TriStateHead, TriStateHeadConfig};

/// How a frozen encoder's BatchNorm layers behave while the head trains. Validation and test
/// always run in eval mode (running statistics).
///
/// The study froze the encoder's *parameters* but trained with the model in train mode
/// (resnet_multilabel_image_classification `model.py` sets `requires_grad = False` and never
/// calls `eval()` on the backbone), so BatchNorm normalised each batch with its own statistics
/// and re-estimated its running statistics on CT: [`FrozenBn::BatchStats`]. Evaluating frozen
/// encoders with their stored statistics ([`FrozenBn::Eval`], the reference linear evaluation)
/// favours encoders whose statistics already come from CT (Barlow) over ImageNet and random
/// ones; [`FrozenBn::Recalibrate`] re-estimates the statistics once and then keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrozenBn {
    /// Train mode: batch statistics in the forward pass, running statistics updated (momentum
    /// 0.1); no weight changes. The study.
    BatchStats,
    /// Eval mode: the stored running statistics, never updated.
    #[default]
    Eval,
    /// One pass over the train split in train mode without gradients (running statistics
    /// re-estimated, momentum 0.1), then eval mode while the head trains.
    Recalibrate,
}

impl std::str::FromStr for FrozenBn {
    type Err = ClassifyError;

    /// `batch_stats`, `eval` or `recalibrate`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "batch_stats" => Ok(Self::BatchStats),
            "eval" => Ok(Self::Eval),
            "recalibrate" => Ok(Self::Recalibrate),
            _ => Err(ClassifyError::config(
                "frozen_bn",
                format!("{s:?} is not `batch_stats`, `eval` or `recalibrate`"),
            )),
        }
    }
}

/// Everything needed to build a [`Classifier`]; serialisable next to a run's outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Encoder architecture (its `num_classes` must be `None`: the head is ours).
    pub encoder: ResNetConfig,
    /// Number of structures S.
    pub structures: usize,
    /// Where the encoder's weights come from.
    pub init: BackboneInit,
    /// Frozen (linear probe) or finetuned encoder.
    pub mode: Mode,
    /// Pair or single logits.
    #[serde(default)]
    pub head_kind: HeadKind,
    /// Head initialisation.
    #[serde(default)]
    pub head_init: HeadInit,
    /// BatchNorm behaviour of a frozen encoder.
    #[serde(default)]
    pub frozen_bn: FrozenBn,
}

impl ClassifierConfig {
    /// Random init, frozen encoder, pair logits with PyTorch's default head init.
    pub fn new(encoder: ResNetConfig, structures: usize) -> Self {
        Self {
            encoder,
            structures,
            init: BackboneInit::Random,
            mode: Mode::Frozen,
            head_kind: HeadKind::Pairs,
            head_init: HeadInit::TorchDefault,
            frozen_bn: FrozenBn::Eval,
        }
    }

    /// Sets the BatchNorm behaviour of a frozen encoder.
    pub fn with_frozen_bn(mut self, frozen_bn: FrozenBn) -> Self {
        self.frozen_bn = frozen_bn;
        self
    }

    /// Sets the backbone initialisation.
    pub fn with_init(mut self, init: BackboneInit) -> Self {
        self.init = init;
        self
    }

    /// Sets the mode.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the head kind.
    pub fn with_head_kind(mut self, kind: HeadKind) -> Self {
        self.head_kind = kind;
        self
    }

    /// Sets the head initialisation.
    pub fn with_head_init(mut self, init: HeadInit) -> Self {
        self.head_init = init;
        self
    }

    /// The head's configuration.
    pub fn head(&self) -> TriStateHeadConfig {
        TriStateHeadConfig::new(self.encoder.feature_dim(), self.structures)
            .with_kind(self.head_kind)
            .with_init(self.head_init)
    }

    /// Builds the encoder (loading its weights for `imagenet:`/`barlow:`; a file's `fc.*`
    /// head is ignored, every other key must match), the head, and applies the mode.
    /// Returns the model and, when weights were loaded, the load report.
    ///
    /// # Errors
    /// [`ClassifyError::Config`] for `encoder.num_classes` set or 0 structures;
    /// [`ClassifyError::Model`] for an invalid architecture or a weight file that is missing,
    /// unreadable or does not match the encoder (the message names the file).
    pub fn init(&self, device: &Device) -> Result<(Classifier, Option<LoadReport>)> {
        if self.encoder.num_classes.is_some() {
            return Err(ClassifyError::config(
                "encoder.num_classes",
                "must be None: the classifier adds its own tri-state head",
            ));
        }
        let head = self.head().init(device)?;
        let mut encoder = self
            .encoder
            .init(device)
            .map_err(|source| ClassifyError::Model {
                context: "building the encoder".into(),
                source,
            })?;
        let report = self
            .init
            .load_into(&mut encoder)
            .map_err(|source| ClassifyError::Model {
                context: format!("loading backbone {}", self.init),
                source,
            })?;
        let model = Classifier { encoder, head };
        let model = match (self.mode, self.frozen_bn) {
            (Mode::Frozen, FrozenBn::BatchStats | FrozenBn::Recalibrate) => {
                // Recalibration runs in train mode first; the caller freezes afterwards
                // (`Classifier::with_mode`), see `train::train_and_evaluate`.
                model.with_batch_stats_encoder()
            }
            (mode, _) => model.with_mode(mode),
        };
        Ok((model, report))
    }
}

/// ResNet encoder + tri-state head.
#[derive(Module, Debug)]
pub struct Classifier {
    /// The encoder (no `fc`).
    pub encoder: ResNet,
    /// The head.
    pub head: TriStateHead,
}

impl Classifier {
    /// Applies a [`Mode`]: `Frozen` freezes the encoder (no gradients, BatchNorm on running
    /// statistics, also on an autodiff device) and leaves the head trainable; `Finetune`
    /// unfreezes everything.
    pub fn with_mode(self, mode: Mode) -> Self {
        match mode {
            Mode::Frozen => Self {
                encoder: self.encoder.freeze(),
                head: self.head,
            },
            Mode::Finetune => self.unfreeze(),
        }
    }

    /// A frozen encoder whose BatchNorm layers stay in train mode ([`FrozenBn::BatchStats`]):
    /// its parameters get no gradient, but on an autodiff device its BatchNorm layers
    /// normalise with batch statistics and update their running statistics. The head trains.
    pub fn with_batch_stats_encoder(self) -> Self {
        Self {
            encoder: self.encoder.no_grad(),
            head: self.head.unfreeze(),
        }
    }

    /// Logits.
    ///
    /// # Shapes
    /// `[N, C, H, W]` → `[N, 2·S]` (pairs) or `[N, S]` (single).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.encoder.forward_features(images))
    }

    /// Positive-class probability per structure.
    ///
    /// # Shapes
    /// `[N, C, H, W]` → `[N, S]`.
    pub fn probabilities(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.probabilities(self.forward(images))
    }
}
