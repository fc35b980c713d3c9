//! The `pretrain` command line (clap): flags → [`PretrainConfig`], tested without running
//! the binary.
//!
//! ```
//! use clap::Parser;
//! use twinscan::cli::pretrain::PretrainArgs;
//! let a = PretrainArgs::try_parse_from(["pretrain", "--data", "d", "--out", "o",
//!     "--augment", "only:elastic", "--epochs", "5", "--batch-size", "32"]).unwrap();
//! let c = a.config(None).unwrap();
//! assert_eq!((c.augment.as_str(), c.epochs, c.batch_size), ("only:elastic", 5, 32));
//! assert_eq!(c.projector.to_string(), "512-8192-8192-8192"); // the study's default
//! assert!(PretrainArgs::try_parse_from(["pretrain", "--data", "d", "--out", "o", "--epochz", "1"]).is_err());
//! ```

use std::path::PathBuf;

use clap::Parser;
use twinscan_models::{Arch, BackboneInit, DeviceSpec, ProjectorConfig};

use twinscan_ssl::config::PretrainConfig;
use twinscan_ssl::error::{Result, SslError};
use twinscan_ssl::objective::ObjectiveKind;
use twinscan_ssl::schedule::LrScaling;

/// Barlow Twins pretraining of a ResNet encoder on a prepared CT slice dataset.
///
/// Defaults are the study's settings (ResNet-18, 128², study_barlow, projector
/// 512-8192-8192-8192, LARS with the fixed multiplier 8, batch 256, 100 epochs).
#[derive(Parser, Debug, Clone)]
#[command(name = "pretrain", version, about)]
pub struct PretrainArgs {
    /// A folder written by the `prepare` example (its train split is used).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder: config.json, log.jsonl, checkpoints/, encoder.safetensors.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its newest checkpoint (other flags must match it).
    #[arg(long)]
    pub resume: bool,
    /// Objective: barlow (the study) or vicreg. `vicreg` starts from the paper's settings
    /// (coefficients 25/25/1, LARS base rate 0.2 × batch/256, no clipping; see
    /// `PretrainConfig::vicreg`); the other flags apply on top.
    #[arg(long)]
    pub objective: Option<String>,
    /// Encoder: resnet10, resnet18, resnet34, resnet50, resnet101.
    #[arg(long)]
    pub arch: Option<Arch>,
    /// Augmentation preset (study_barlow, study_barlow_initial, ablation:<aug>, only:<aug>
    /// for elastic, crop, blur, cutout, color_jitter, sharpen; byol) or a pipeline
    /// .toml/.json file.
    #[arg(long)]
    pub augment: Option<String>,
    /// Projector spec, e.g. 512-8192-8192-8192.
    #[arg(long)]
    pub projector: Option<ProjectorConfig>,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Images per step (two views each).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Encoder initialisation: random, imagenet:FILE or barlow:FILE.
    #[arg(long)]
    pub init: Option<String>,
    /// Continue a finished pretraining run (its folder): encoder, projector and LARS state of
    /// its last checkpoint, a fresh schedule (the study's augmentation ablations).
    #[arg(long)]
    pub continue_from: Option<PathBuf>,
    /// Normalisation: `study` (0.28, 0.031) or `dataset` (the train split's mean and std).
    #[arg(long)]
    pub normalize: Option<String>,
    /// Side of the network input in pixels.
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Encoder input channels (3 = grey replicated, ImageNet-compatible; or 1).
    #[arg(long)]
    pub in_channels: Option<usize>,
    /// Learning-rate base: `paper` (batch/256) or `fixed:B` (the study: fixed:8).
    #[arg(long)]
    pub lr_scaling: Option<String>,
    /// Linear warm-up epochs.
    #[arg(long)]
    pub warmup_epochs: Option<u64>,
    /// Off-diagonal weight λ.
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Cap on steps per epoch (quick runs).
    #[arg(long)]
    pub max_steps_per_epoch: Option<u64>,
    /// Run the kNN probe (k = 20, cosine) on the validation split every N epochs (0 = off).
    #[arg(long)]
    pub knn_every: Option<u64>,
    /// Seed of initialisation, epoch order and augmentation.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Device: cpu (default), wgpu, vulkan, tch, cuda[:N]; also TWINSCAN_DEVICE. A list
    /// (cuda:0,cuda:1) trains data-parallel, one replica per device.
    #[arg(long)]
    pub device: Option<String>,
    /// Stop once this many epochs are done (continue later with --resume).
    #[arg(long)]
    pub stop_after: Option<u64>,
    /// No progress bar (log lines only).
    #[arg(long)]
    pub quiet: bool,
}

/// Parses `paper` or `fixed:B`.
///
/// # Errors
/// [`SslError::InvalidConfig`] for anything else.
pub fn parse_lr_scaling(s: &str) -> Result<LrScaling> {
    if s == "paper" {
        return Ok(LrScaling::Paper);
    }
    s.strip_prefix("fixed:")
        .and_then(|b| b.parse::<f64>().ok())
        .map(LrScaling::Fixed)
        .ok_or_else(|| SslError::InvalidConfig {
            field: "lr_scaling",
            reason: format!("{s:?} is not `paper` or `fixed:B` (e.g. fixed:8)"),
        })
}

impl PretrainArgs {
    /// The configuration: `base` (a resumed run's saved configuration) or the study's, with
    /// every flag given on the command line applied on top.
    ///
    /// # Errors
    /// Unparsable `--init` / `--lr-scaling`, or an invalid result.
    pub fn config(&self, base: Option<PretrainConfig>) -> Result<PretrainConfig> {
        let objective = match &self.objective {
            Some(v) => {
                Some(
                    v.parse::<ObjectiveKind>()
                        .map_err(|reason| SslError::InvalidConfig {
                            field: "objective",
                            reason,
                        })?,
                )
            }
            None => None,
        };
        let mut c = match (base, objective) {
            (Some(b), _) => b,
            (None, Some(ObjectiveKind::Vicreg)) => PretrainConfig::vicreg(),
            (None, _) => PretrainConfig::study(),
        };
        if let Some(o) = objective {
            c.objective = o;
        }
        if let Some(v) = self.arch {
            c.input.arch = v;
        }
        if let Some(v) = &self.augment {
            c.augment = v.clone();
        }
        if let Some(v) = &self.projector {
            c.projector = v.clone();
        }
        if let Some(v) = self.epochs {
            c.epochs = v;
        }
        if let Some(v) = self.batch_size {
            c.batch_size = v;
        }
        if let Some(v) = &self.init {
            c.init = v.parse::<BackboneInit>()?;
        }
        if let Some(v) = &self.continue_from {
            c.continue_from = Some(v.clone());
        }
        if let Some(v) = &self.normalize {
            c.normalize = match v.as_str() {
                "study" => twinscan_augment::NormalizeFrom::Study,
                "dataset" => twinscan_augment::NormalizeFrom::Dataset,
                _ => {
                    return Err(SslError::InvalidConfig {
                        field: "normalize",
                        reason: format!("{v:?} is not `study` or `dataset`"),
                    });
                }
            };
        }
        if let Some(v) = self.image_size {
            c.input.image_size = v;
        }
        if let Some(v) = self.in_channels {
            c.input.in_channels = v;
        }
        if let Some(v) = &self.lr_scaling {
            c.lr_scaling = parse_lr_scaling(v)?;
        }
        if let Some(v) = self.warmup_epochs {
            c.warmup_epochs = v;
        }
        if let Some(v) = self.lambda {
            c.loss.lambda = v;
        }
        if self.max_steps_per_epoch.is_some() {
            c.max_steps_per_epoch = self.max_steps_per_epoch;
        }
        if let Some(v) = self.knn_every {
            c.knn_every = v;
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        c.validate()?;
        Ok(c)
    }

    /// The device of `--device` / `TWINSCAN_DEVICE` (CPU when neither is set) and, for a
    /// comma-separated list (`cuda:0,cuda:1`), every device of the data-parallel run (the
    /// first is the returned device; one replica each, docs/ssl.md).
    ///
    /// A device may be listed more than once (replicas sharing it: the data-parallel path on
    /// one device, with one device's results).
    ///
    /// # Errors
    /// An unknown device, or one not compiled in (the error names the cargo feature).
    pub fn devices(&self) -> Result<(twinscan_models::burn::tensor::Device, Vec<DeviceSpec>)> {
        let env = std::env::var(twinscan_models::DEVICE_ENV).ok();
        let (value, source) = match (self.device.as_deref(), env.as_deref()) {
            (Some(a), _) if !a.trim().is_empty() => (a, "--device"),
            (_, Some(e)) if !e.trim().is_empty() => (e, twinscan_models::DEVICE_ENV),
            _ => return Ok((DeviceSpec::Flex.device()?, Vec::new())),
        };
        if !value.contains(',') {
            return Ok((DeviceSpec::parse_from(value, source)?.device()?, Vec::new()));
        }
        let specs = value
            .split(',')
            .map(|part| DeviceSpec::parse_from(part, source))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((specs[0].device()?, specs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(device: &str) -> PretrainArgs {
        PretrainArgs::try_parse_from(["pretrain", "--data", "d", "--out", "o", "--device", device])
            .unwrap()
    }

    #[test]
    fn a_device_list_is_a_data_parallel_run() {
        let (_, specs) = args("cpu").devices().unwrap();
        assert!(specs.is_empty(), "one device: {specs:?}");
        let (device, specs) = args("cpu, flex").devices().unwrap();
        assert_eq!(specs, vec![DeviceSpec::Flex, DeviceSpec::Flex]);
        assert_eq!(device, DeviceSpec::Flex.device().unwrap());
        let err = args("cpu,gpu9").devices().unwrap_err().to_string();
        assert!(err.contains("gpu9") && err.contains("--device"), "{err}");
    }
}
