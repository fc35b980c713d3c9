//! What `encoder.safetensors` records about itself, in its safetensors metadata
//! ([`twinscan_models::meta`]): architecture, input size, channels, HU window, normalisation,
//! the evaluation pipeline, projector, epochs, augmentation and the dataset fingerprint, so
//! that a user can tell what an encoder expects without the run folder.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use twinscan_augment::Pipeline;
use twinscan_data::prepared::Prepared;
use twinscan_models::meta::{self, InputSpec};

use crate::config::PretrainConfig;
use crate::error::Result;
use crate::objective::ObjectiveKind;

/// [`EncoderMeta::format`] of a pretrained encoder file.
pub const FORMAT: &str = "twinscan-encoder";

/// Everything stored with a pretrained encoder's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderMeta {
    /// [`FORMAT`].
    pub format: String,
    /// Layout version of this record (1).
    pub format_version: u32,
    /// Preprocessing and provenance (the preprocessing of the kNN probe's features).
    #[serde(flatten)]
    pub input: InputSpec,
    /// The pretraining objective (`barlow_twins` or `vicreg`).
    pub method: String,
    /// Projector spec used in pretraining (not in the file: only the encoder is).
    pub projector: String,
    /// Pretraining epochs.
    pub epochs: u64,
    /// Augmentation preset or file.
    pub augment: String,
    /// Where the encoder started (`random`, `imagenet:FILE`, ...).
    pub init: String,
    /// Whether residual branches started at 0.
    pub zero_init_residual: bool,
}

/// The evaluation pipeline of a pretraining: `study_eval` at the configured size and
/// channels (what the kNN probe feeds the encoder).
///
/// # Errors
/// [`crate::SslError::Augment`] if the preset does not build.
pub fn eval_pipeline(config: &PretrainConfig) -> Result<Pipeline> {
    Ok(config.input.pipeline("study_eval")?)
}

/// The record of an encoder pretrained with `config` on `data`.
///
/// # Errors
/// The eval pipeline not building (or `normalize = "dataset"` without train statistics).
pub fn encoder_meta(data: &Prepared, config: &PretrainConfig) -> Result<EncoderMeta> {
    let eval = crate::pretrain::normalized(eval_pipeline(config)?, config, data)?;
    Ok(EncoderMeta {
        format: FORMAT.into(),
        format_version: 1,
        input: twinscan_train::input_spec(data, &config.input, &eval),
        method: match config.objective {
            ObjectiveKind::Barlow => "barlow_twins",
            ObjectiveKind::Vicreg => "vicreg",
        }
        .into(),
        projector: config.projector.to_string(),
        epochs: config.epochs,
        augment: config.augment.clone(),
        init: config.init.to_string(),
        zero_init_residual: config.zero_init_residual,
    })
}

/// [`encoder_meta`] as safetensors metadata entries.
///
/// # Errors
/// As [`encoder_meta`].
pub fn metadata(data: &Prepared, config: &PretrainConfig) -> Result<BTreeMap<String, String>> {
    Ok(meta::to_metadata(&encoder_meta(data, config)?)?)
}

/// Reads the record of an encoder file written by twinscan.
///
/// # Errors
/// [`crate::SslError::Models`] naming the file when it is missing, no safetensors file, or
/// carries no twinscan metadata (e.g. a torchvision export).
pub fn read_encoder_meta(path: &Path) -> Result<EncoderMeta> {
    Ok(meta::read_metadata(path)?)
}
