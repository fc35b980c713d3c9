//! The encoder and its input, shared by both run configurations ([`EncoderInput`]), and what
//! a trained network's weight file records about its inputs ([`input_spec`]), shared by the
//! pretrained encoder's metadata (ssl) and the classifier's (classify).

use serde::{Deserialize, Serialize};
use twinscan_augment::{AugmentError, Pipeline};
use twinscan_data::prepared::Prepared;
use twinscan_models::meta::{self, InputSpec};
use twinscan_models::{Arch, ResNetConfig};

use crate::error::{Result, TrainError};

/// The encoder architecture and the shape of its input: flattened into both run
/// configurations (`PretrainConfig`, `TrainConfig`), so their `config.json` keeps the three
/// top-level keys `arch`, `in_channels`, `image_size`, and validated here once.
///
/// ```
/// use twinscan_train::EncoderInput;
/// let input = EncoderInput::study();
/// assert_eq!(input.arch.to_string(), "resnet18");
/// input.validate().unwrap();
/// let json = serde_json::to_string(&input).unwrap();
/// assert_eq!(json, r#"{"arch":"resnet18","in_channels":3,"image_size":128}"#);
/// let bad = EncoderInput { image_size: 16, ..input };
/// assert!(bad.validate().unwrap_err().to_string().contains("image_size"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncoderInput {
    /// Encoder preset (`resnet18` in the study).
    pub arch: Arch,
    /// Input channels of the encoder (3: the grey plane replicated, ImageNet-compatible).
    pub in_channels: usize,
    /// Side of the square network input (the study: 128); augmentation resizes and crops to
    /// it.
    pub image_size: usize,
}

impl EncoderInput {
    /// The study's: ResNet-18 on 3×128×128.
    pub fn study() -> Self {
        Self {
            arch: Arch::ResNet18,
            in_channels: 3,
            image_size: 128,
        }
    }

    /// Checks the channel count (1..=4) and the input side (≥ 32: ResNet downsamples 32×).
    ///
    /// # Errors
    /// [`TrainError::InvalidConfig`] naming `in_channels` or `image_size`.
    pub fn validate(&self) -> Result<()> {
        if !(1..=4).contains(&self.in_channels) {
            return Err(TrainError::InvalidConfig {
                field: "in_channels",
                reason: format!("must be 1..=4, got {}", self.in_channels),
            });
        }
        if self.image_size < 32 {
            return Err(TrainError::InvalidConfig {
                field: "image_size",
                reason: format!("must be >= 32, got {}", self.image_size),
            });
        }
        Ok(())
    }

    /// The encoder (no classification head) with `zero_init_residual`.
    pub fn encoder(&self, zero_init_residual: bool) -> ResNetConfig {
        ResNetConfig::from_arch(self.arch)
            .with_in_channels(self.in_channels)
            .with_num_classes(None)
            .with_zero_init_residual(zero_init_residual)
    }

    /// The augmentation preset or pipeline file `augment`, producing `image_size`² planes with
    /// `in_channels` channels.
    ///
    /// # Errors
    /// An unknown preset or an unreadable pipeline file.
    pub fn pipeline(&self, augment: &str) -> std::result::Result<Pipeline, AugmentError> {
        Ok(Pipeline::from_name_or_path(augment)?
            .with_output_size(self.image_size, self.image_size)
            .with_channels(self.in_channels))
    }
}

/// Normalisation constants of a pipeline's first view as recorded in the metadata (identity
/// when it has none).
fn normalisation(pipeline: &Pipeline) -> (f64, f64) {
    pipeline.normalization().map_or((0.0, 1.0), |(m, s)| {
        (meta::decimal_f64(m), meta::decimal_f64(s))
    })
}

/// The [`InputSpec`] of a network trained on `data` with `eval` as its evaluation pipeline:
/// architecture and input size, the dataset's slice size, HU windows and fingerprint, the
/// normalisation constants and the evaluation pipeline itself.
pub fn input_spec(data: &Prepared, input: &EncoderInput, eval: &Pipeline) -> InputSpec {
    let windows: Vec<String> = data.info().windows.iter().map(|w| w.to_string()).collect();
    let (normalize_mean, normalize_std) = normalisation(eval);
    InputSpec {
        arch: input.arch.to_string(),
        in_channels: input.in_channels,
        image_size: input.image_size,
        slice_size: data.size(),
        hu_window: windows.first().cloned().unwrap_or_default(),
        dataset_windows: windows,
        normalize_mean,
        normalize_std,
        eval_pipeline: eval.to_toml(),
        orientation: meta::ORIENTATION.into(),
        dataset_fingerprint: Some(data.fingerprint().to_string()),
        twinscan_version: meta::TWINSCAN_VERSION.into(),
    }
}
