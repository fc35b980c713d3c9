//! Errors of the training seam.

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
}

/// `Result` with [`TrainError`].
pub type Result<T> = std::result::Result<T, TrainError>;
