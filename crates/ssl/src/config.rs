//! The full, serialisable configuration of a pretraining run.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use twinscan_augment::{NormalizeFrom, Pipeline};
use twinscan_models::{BackboneInit, ProjectorConfig, ResNetConfig};
use twinscan_train::EncoderInput;
use twinscan_train::schedule::check_run_length;

use crate::error::{Result, SslError};
use crate::lars::LarsConfig;
use crate::loss::BarlowTwinsLossConfig;
use crate::objective::{Objective, ObjectiveKind};
use crate::schedule::LrScaling;
use crate::vicreg::VicRegLossConfig;

/// Everything that determines a pretraining run's result (with the dataset). Written to
/// `config.json` and into every checkpoint; a resumed run must use the same values.
///
/// ```
/// use twinscan_ssl::PretrainConfig;
/// let study = PretrainConfig::study();
/// assert_eq!(study.projector.to_string(), "512-8192-8192-8192");
/// assert_eq!(study.batch_size, 256);
/// study.validate().unwrap();
/// let json = serde_json::to_string(&study).unwrap();
/// assert_eq!(serde_json::from_str::<PretrainConfig>(&json).unwrap(), study);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// The encoder preset and its input (`arch`, `in_channels`, `image_size` at the top level
    /// of `config.json`); the augmentation's resize and crops are set to `image_size`.
    #[serde(flatten)]
    pub input: EncoderInput,
    /// Augmentation preset name (`study_barlow`, `only:elastic`, `byol`, ...) or a TOML/JSON
    /// pipeline file.
    pub augment: String,
    /// Projector widths, `512-8192-8192-8192` in the study (written as that string).
    pub projector: ProjectorConfig,
    /// Where the encoder starts: `random`, `imagenet:FILE` or `barlow:FILE`.
    pub init: BackboneInit,
    /// Continue another, finished pretraining run (its folder): the encoder **and projector**
    /// weights and the LARS state of its last checkpoint start this run, which then runs its
    /// own `epochs` with a fresh schedule. The study's augmentation ablations continued the
    /// Barlow-from-ImageNet pretraining this way (docs/ssl.md). `init` must be `random`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_from: Option<PathBuf>,
    /// Normalisation constants: the study's (0.28, 0.031) or the train split's (`dataset`).
    #[serde(default)]
    pub normalize: NormalizeFrom,
    /// torchvision's `zero_init_residual` for a random encoder (the reference: true).
    pub zero_init_residual: bool,
    /// Epochs (passes over the train split). `study()` uses 100: twinscan's choice, the
    /// study's code defaulted to 1000 and its real count is not reported.
    pub epochs: u64,
    /// Images per step (each in two views).
    pub batch_size: usize,
    /// Cap on steps per epoch (`None`: the whole train split, incomplete last batch dropped).
    #[serde(default)]
    pub max_steps_per_epoch: Option<u64>,
    /// The objective: Barlow Twins (the study; omitted from `config.json`, so Barlow configs
    /// read and hash as before) or VICReg.
    #[serde(default, skip_serializing_if = "ObjectiveKind::is_barlow")]
    pub objective: ObjectiveKind,
    /// The Barlow Twins loss (λ, eps), used when `objective` is `barlow`.
    pub loss: BarlowTwinsLossConfig,
    /// The VICReg coefficients, used when `objective` is `vicreg` (absent: the paper's 25, 25,
    /// 1, eps 1e-4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vicreg: Option<VicRegLossConfig>,
    /// LARS hyper-parameters.
    pub lars: LarsConfig,
    /// Base multiplier of the schedule: `paper` (batch/256) or `{"fixed": 8.0}` (the study).
    pub lr_scaling: LrScaling,
    /// Linear warm-up epochs.
    pub warmup_epochs: u64,
    /// The cosine ends at `peak × end_factor` (0.001).
    pub end_factor: f64,
    /// Global gradient-norm clip (the study: 1.0); `None` = off.
    pub clip_norm: Option<f64>,
    /// Seed of the model initialisation, the epoch order and every augmentation.
    pub seed: u64,
    /// Run the kNN probe every this many epochs (0 = never).
    pub knn_every: u64,
    /// Neighbours of the kNN probe (20).
    pub knn_k: usize,
    /// Checkpoints kept on disk (the newest ones; at least 1).
    pub keep_checkpoints: usize,
    /// Augmented batches prepared ahead of the training step.
    pub prefetch: usize,
}

impl PretrainConfig {
    /// The study's settings: ResNet-18, 3×128×128, `study_barlow`, projector
    /// `512-8192-8192-8192`, λ 0.0051, LARS (0.002 / 0.000048, wd 1e-6, η 0.001, momentum 0.9)
    /// with the fixed multiplier 8, 10 warm-up epochs, clip 1, batch 256, 100 epochs.
    pub fn study() -> Self {
        Self {
            input: EncoderInput::study(),
            augment: "study_barlow".into(),
            projector: ProjectorConfig::barlow_twins(),
            init: BackboneInit::Random,
            continue_from: None,
            normalize: NormalizeFrom::Study,
            zero_init_residual: true,
            epochs: 100,
            batch_size: 256,
            max_steps_per_epoch: None,
            objective: ObjectiveKind::Barlow,
            loss: BarlowTwinsLossConfig::default(),
            vicreg: None,
            lars: LarsConfig::study(),
            lr_scaling: LrScaling::Fixed(8.0),
            warmup_epochs: 10,
            end_factor: 0.001,
            clip_norm: Some(1.0),
            seed: 0,
            knn_every: 0,
            knn_k: 20,
            keep_checkpoints: 2,
            prefetch: 2,
        }
    }

    /// VICReg with the paper's settings (Bardes et al. 2022; facebookresearch/vicreg
    /// `main_vicreg.py`) on the study's encoder, input and augmentation: coefficients 25, 25,
    /// 1, projector `512-8192-8192-8192` (the paper's 8192-8192-8192 head on ResNet-18's 512
    /// features), LARS with base rate 0.2 × batch/256 for every parameter (biases and norms
    /// excluded from weight decay and adaptation), weight decay 1e-6, 10 warm-up epochs.
    pub fn vicreg() -> Self {
        Self {
            objective: ObjectiveKind::Vicreg,
            vicreg: Some(VicRegLossConfig::default()),
            lars: LarsConfig {
                lr_weights: 0.2,
                lr_biases: 0.2,
                ..LarsConfig::study()
            },
            lr_scaling: LrScaling::Paper,
            clip_norm: None,
            ..Self::study()
        }
    }

    /// The objective this configuration trains with.
    ///
    /// # Errors
    /// The chosen loss's configuration error.
    pub fn objective(&self) -> Result<Objective> {
        Objective::build(self.objective, &self.loss, &self.vicreg.unwrap_or_default())
    }

    /// The encoder's architecture.
    pub fn encoder(&self) -> ResNetConfig {
        self.input.encoder(self.zero_init_residual)
    }

    /// The projector, its input width checked against the encoder.
    ///
    /// # Errors
    /// [`SslError::Models`] when the projector does not fit the encoder.
    pub fn projector(&self) -> Result<ProjectorConfig> {
        self.projector
            .check_input_width(self.encoder().feature_dim())?;
        Ok(self.projector.clone())
    }

    /// The augmentation pipeline at `image_size`² with `in_channels` output channels.
    ///
    /// # Errors
    /// [`SslError::Augment`] for an unknown preset or an unreadable pipeline file.
    pub fn pipeline(&self) -> Result<Pipeline> {
        Ok(self.input.pipeline(&self.augment)?)
    }

    /// Checks every field (and that the architecture, projector and pipeline build).
    ///
    /// # Errors
    /// [`SslError::InvalidConfig`] naming the first bad field, or the error of the part that
    /// does not build.
    pub fn validate(&self) -> Result<()> {
        let bad =
            |field: &'static str, reason: String| Err(SslError::InvalidConfig { field, reason });
        check_run_length(self.epochs, self.batch_size, self.max_steps_per_epoch)?;
        self.input.validate()?;
        if let Some(c) = self.clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return bad("clip_norm", format!("must be finite and > 0, got {c}"));
        }
        if !(self.end_factor.is_finite() && self.end_factor >= 0.0) {
            return bad(
                "end_factor",
                format!("must be finite and >= 0, got {}", self.end_factor),
            );
        }
        if self.knn_every > 0 && self.knn_k == 0 {
            return bad("knn_k", "must be > 0 when the probe is on".into());
        }
        if self.continue_from.is_some() && self.init != BackboneInit::Random {
            return bad(
                "continue_from",
                format!(
                    "replaces the whole model, so init must be random, got {}",
                    self.init
                ),
            );
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints", "must be >= 1".into());
        }
        if self.prefetch == 0 {
            return bad("prefetch", "must be >= 1".into());
        }
        if let LrScaling::Fixed(b) = self.lr_scaling
            && !(b.is_finite() && b >= 0.0)
        {
            return bad(
                "lr_scaling",
                format!("fixed base must be finite and >= 0, got {b}"),
            );
        }
        self.lars.validate()?;
        self.objective()?;
        self.projector()?;
        self.pipeline()?.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config.json` keeps its flat layout and key order (run folders are named by a hash of
    /// it): the flattened [`EncoderInput`] first, the projector as its spec string.
    #[test]
    fn config_json_keeps_the_flat_layout() {
        let json = serde_json::to_string(&PretrainConfig::study()).unwrap();
        assert!(
            json.starts_with(
                r#"{"arch":"resnet18","in_channels":3,"image_size":128,"augment":"study_barlow","projector":"512-8192-8192-8192","init":"random","#
            ),
            "{json}"
        );
        assert!(!json.contains("\"input\""), "{json}");
    }

    #[test]
    fn unknown_and_invalid_fields_are_refused_when_read() {
        let mut v = serde_json::to_value(PretrainConfig::study()).unwrap();
        v["arch"] = "resnet19".into();
        let e = serde_json::from_value::<PretrainConfig>(v.clone()).unwrap_err();
        assert!(e.to_string().contains("resnet19"), "{e}");
        v["arch"] = "resnet10".into();
        v["projector"] = "512-0".into();
        let e = serde_json::from_value::<PretrainConfig>(v.clone()).unwrap_err();
        assert!(e.to_string().contains("512-0"), "{e}");
        v["projector"] = "512-64".into();
        v["image_sise"] = 64.into();
        let e = serde_json::from_value::<PretrainConfig>(v.clone()).unwrap_err();
        assert!(e.to_string().contains("image_sise"), "{e}");
        v.as_object_mut().unwrap().remove("image_sise");
        let c = serde_json::from_value::<PretrainConfig>(v).unwrap();
        assert_eq!(c.input.arch, twinscan_models::Arch::ResNet10);
    }

    #[test]
    fn input_is_validated_once_for_both_fields() {
        let mut c = PretrainConfig::study();
        c.input.image_size = 16;
        assert!(matches!(
            c.validate(),
            Err(SslError::InvalidConfig {
                field: "image_size",
                ..
            })
        ));
        c.input.image_size = 64;
        c.input.in_channels = 5;
        assert!(matches!(
            c.validate(),
            Err(SslError::InvalidConfig {
                field: "in_channels",
                ..
            })
        ));
    }
}
