//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in twinscan-classify.
///
/// Variants name the file, argument or structure involved and what was wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// A file or folder could not be read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be parsed or written (bad quoting, wrong column count, ...).
    #[error("{path}: CSV error: {source}")]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// The underlying CSV error.
        #[source]
        source: csv::Error,
    },
    /// A CSV file has the wrong header or a field that does not parse.
    #[error("{path}, line {line}: {message}")]
    CsvContent {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// A tri-state label outside {-1, 0, 1}.
    #[error("structure {structure:?}, sample {index}: label {label} is not -1, 0 or 1")]
    InvalidLabel {
        /// Structure name (or index as text).
        structure: String,
        /// Index of the sample within that structure's inputs.
        index: usize,
        /// The offending label.
        label: i64,
    },
    /// A probability that is NaN or outside [0, 1].
    #[error("structure {structure:?}, sample {index}: probability {prob} is not in [0, 1]")]
    InvalidProbability {
        /// Structure name (or index as text).
        structure: String,
        /// Index of the sample within that structure's inputs.
        index: usize,
        /// The offending value.
        prob: f64,
    },
    /// Inputs whose lengths or shapes disagree.
    #[error("shape mismatch in {what}: {message}")]
    Shape {
        /// What was being checked (argument or file name).
        what: String,
        /// Expected versus found.
        message: String,
    },
    /// Training produced a NaN or infinite loss (diverged: a lower learning rate, or bad
    /// input values; the run stops without writing its model).
    #[error("training diverged: non-finite {what} {value} at epoch {epoch}, step {step}")]
    NonFinite {
        /// What was not finite (`loss`).
        what: &'static str,
        /// The value read back.
        value: f64,
        /// 0-based epoch.
        epoch: u64,
        /// 0-based optimiser step.
        step: u64,
    },
    /// An invalid configuration value.
    #[error("invalid configuration {field}: {message}")]
    Config {
        /// The configuration field or command-line argument.
        field: String,
        /// What was wrong with it.
        message: String,
    },
    /// A JSON file could not be parsed or written.
    #[error("{path}: JSON error: {source}")]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// The encoder could not be built or its weights not loaded (the source names the file).
    #[error("{context}: {source}")]
    Model {
        /// What was being done (e.g. `loading imagenet:FILE`).
        context: String,
        /// The underlying twinscan-models error.
        #[source]
        source: twinscan_models::ModelsError,
    },
    /// A chart could not be drawn or written.
    #[error("{path}: cannot draw the chart: {message}")]
    Plot {
        /// The PNG file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The background batch producer stopped abnormally.
    #[error("batch producer: {0}")]
    Worker(String),
    /// The prepared dataset could not be opened or read.
    #[error(transparent)]
    Data(#[from] twinscan_data::DataError),
    /// An augmentation pipeline could not be built or applied.
    #[error(transparent)]
    Augment(#[from] twinscan_augment::AugmentError),
    /// The run folder (its `config.json`, log or checkpoints) could not be written or read
    /// (the error names the file).
    #[error(transparent)]
    Run(twinscan_train::TrainError),
}

/// Result alias for twinscan-classify.
pub type Result<T, E = ClassifyError> = std::result::Result<T, E>;

impl ClassifyError {
    /// Builds a [`ClassifyError::Config`].
    pub(crate) fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Builds a [`ClassifyError::Io`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<twinscan_data::atomic::AtomicError> for ClassifyError {
    fn from(e: twinscan_data::atomic::AtomicError) -> Self {
        Self::io(e.path, e.source)
    }
}

impl From<twinscan_train::TrainError> for ClassifyError {
    fn from(e: twinscan_train::TrainError) -> Self {
        match e {
            twinscan_train::TrainError::InvalidConfig { field, reason } => {
                Self::config(field, reason)
            }
            twinscan_train::TrainError::TensorRead { what, reason } => Self::Shape {
                what: what.into(),
                message: format!("reading back from the device failed: {reason}"),
            },
            twinscan_train::TrainError::Augment(e) => Self::Augment(e),
            twinscan_train::TrainError::Worker(why) => Self::Worker(why),
            other => Self::Run(other),
        }
    }
}
