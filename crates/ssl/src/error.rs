//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `twinscan-ssl`.
///
/// Variants name the file, argument or field involved and what was wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum SslError {
    /// A configuration field has a value outside its valid range.
    #[error("invalid configuration: `{field}` {reason}")]
    InvalidConfig {
        /// The configuration field (e.g. `lambda`, `lars.eta`).
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// Two tensors that must agree in shape do not.
    #[error("shape mismatch in {what}: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// Which operation and inputs.
        what: &'static str,
        /// Shape of the first input.
        left: Vec<usize>,
        /// Shape of the second input.
        right: Vec<usize>,
    },
    /// A batch is too small for per-dimension batch statistics.
    #[error("batch of {n} embeddings: Barlow Twins needs at least 2 per view")]
    BatchTooSmall {
        /// The batch size that was given.
        n: usize,
    },
    /// A loss or gradient norm is NaN or infinite.
    #[error("non-finite {what} ({value}) at step {step}")]
    NonFinite {
        /// What was non-finite (e.g. `loss`).
        what: &'static str,
        /// The value read back.
        value: f64,
        /// The optimiser step at which it happened.
        step: u64,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file (config, checkpoint metadata) could not be parsed or written.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// Building or loading a model failed.
    #[error(transparent)]
    Models(#[from] twinscan_models::ModelsError),
    /// An augmentation pipeline could not be built or applied.
    #[error(transparent)]
    Augment(#[from] twinscan_augment::AugmentError),
    /// The prepared dataset could not be opened or read.
    #[error(transparent)]
    Data(#[from] twinscan_data::DataError),
    /// The dataset cannot feed this run (e.g. fewer train slices than one batch).
    #[error("dataset {path}: {reason}")]
    Dataset {
        /// The prepared dataset folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint could not be written or read back.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// `--resume` with a configuration that differs from the one the run started with.
    #[error(
        "cannot resume {path}: the configuration differs from the run's in {fields:?} \
         (resume with the same settings, or start a new --out folder)"
    )]
    ResumeMismatch {
        /// The run's `config.json`.
        path: PathBuf,
        /// The top-level fields that differ.
        fields: Vec<String>,
    },
    /// Training stopped on a NaN or infinite value; the last good checkpoint is kept.
    #[error("{source}; training stopped, last good checkpoint: {}", last_checkpoint.as_ref().map_or("none (no epoch finished)".to_string(), |p| p.display().to_string()))]
    Diverged {
        /// The non-finite value.
        source: Box<SslError>,
        /// The newest complete checkpoint, untouched.
        last_checkpoint: Option<PathBuf>,
    },
    /// The background augmentation thread failed.
    #[error("augmentation worker: {0}")]
    Worker(String),
    /// A tensor could not be read back from the device.
    #[error("reading {what} back from the device failed: {reason}")]
    TensorRead {
        /// Which tensor.
        what: &'static str,
        /// The backend's message.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = SslError> = std::result::Result<T, E>;

impl From<twinscan_data::atomic::AtomicError> for SslError {
    fn from(e: twinscan_data::atomic::AtomicError) -> Self {
        SslError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl From<twinscan_train::TrainError> for SslError {
    fn from(e: twinscan_train::TrainError) -> Self {
        use twinscan_train::TrainError as T;
        let checkpoint = |path, reason: &str| SslError::Checkpoint {
            path,
            reason: reason.into(),
        };
        match e {
            T::InvalidConfig { field, reason } => SslError::InvalidConfig { field, reason },
            T::TensorRead { what, reason } => SslError::TensorRead { what, reason },
            T::Io { path, source } => SslError::Io { path, source },
            T::Json { path, source } => SslError::Json { path, source },
            T::Checkpoint { path, reason } => SslError::Checkpoint { path, reason },
            T::ConfigMismatch { path, fields } => SslError::ResumeMismatch { path, fields },
            T::RunExists { path } => checkpoint(
                path,
                "already holds a pretraining run (config.json): pass --resume to continue it, \
                 or choose another --out folder",
            ),
            T::NothingToResume { path } => checkpoint(
                path,
                "nothing to resume: no pretraining run here (config.json is missing)",
            ),
            T::Augment(e) => SslError::Augment(e),
            T::Worker(why) => SslError::Worker(why),
        }
    }
}
