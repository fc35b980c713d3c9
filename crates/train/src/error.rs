//! Errors of the training seam.

use std::path::PathBuf;

/// Errors of [`crate`]'s functions.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A setting is out of range.
    #[error("invalid configuration: `{field}` {reason}")]
    InvalidConfig {
        /// The setting (e.g. `schedule.base`, `clip.max_norm`).
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// An augmentation pipeline could not be built or applied.
    #[error(transparent)]
    Augment(#[from] twinscan_augment::AugmentError),
    /// The background batch producer stopped abnormally.
    #[error("batch producer: {0}")]
    Worker(String),
    /// A value could not be read back from the device.
    #[error("reading {what} back from the device failed: {reason}")]
    TensorRead {
        /// Which tensor.
        what: &'static str,
        /// The backend's message.
        reason: String,
    },
    /// A file or folder of a run could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file of a run (`config.json`, a checkpoint's `state.json`, a log line) could
    /// not be parsed or written.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A checkpoint could not be written or read back.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A new run was asked for in a folder that already holds one (its `config.json`).
    #[error("{path} already holds a run (config.json): continue it, or choose another folder")]
    RunExists {
        /// The run folder.
        path: PathBuf,
    },
    /// A run was to be continued in a folder that holds none (no `config.json`).
    #[error("{path}: nothing to resume (config.json is missing)")]
    NothingToResume {
        /// The run folder.
        path: PathBuf,
    },
    /// A run was to be continued with a configuration that differs from the recorded one.
    #[error("{path}: the configuration differs from the run's in {fields:?}")]
    ConfigMismatch {
        /// The recorded configuration (`config.json`, a checkpoint's `state.json`).
        path: PathBuf,
        /// The top-level fields that differ.
        fields: Vec<String>,
    },
}

/// `Result` with [`TrainError`].
pub type Result<T> = std::result::Result<T, TrainError>;

impl From<twinscan_data::atomic::AtomicError> for TrainError {
    fn from(e: twinscan_data::atomic::AtomicError) -> Self {
        TrainError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// Maps an I/O error into [`TrainError::Io`] naming `path`.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Maps a JSON error into [`TrainError::Json`] naming `path`.
pub(crate) fn json(path: &std::path::Path) -> impl FnOnce(serde_json::Error) -> TrainError + '_ {
    move |source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    }
}
