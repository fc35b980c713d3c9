//! The crate's one error type. Every variant names the file (or argument) and the problem.

use std::path::PathBuf;

/// Errors of `twinscan-data`. Variants carry the offending path so a user sees which file
/// is wrong and why.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file or folder could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is malformed, corrupt or truncated (header, payload or compression).
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: String,
    },
    /// A valid file of a kind twinscan does not read (e.g. NIfTI-2, a 2-D NRRD).
    #[error("{path}: not supported: {what}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported.
        what: String,
    },
    /// A mask or label map whose voxel grid differs from its CT volume's grid.
    #[error("{path}: grid does not match the CT volume: {detail}")]
    GridMismatch {
        /// The mask or label-map file.
        path: PathBuf,
        /// Both grids, in words.
        detail: String,
    },
    /// An RTSTRUCT whose frame of reference matches no CT series.
    #[error(
        "{path}: RTSTRUCT frame of reference {found} matches no CT series (CT frames of reference: {available})"
    )]
    FrameOfReference {
        /// The RTSTRUCT file.
        path: PathBuf,
        /// The RTSTRUCT's FrameOfReferenceUID.
        found: String,
        /// The CT series' FrameOfReferenceUIDs, comma-separated.
        available: String,
    },
    /// Slices of a series that cannot form a regular volume (duplicate positions, uneven
    /// gaps, differing orientation or size).
    #[error("{path}: {detail}")]
    SliceGeometry {
        /// The series folder or the first offending file.
        path: PathBuf,
        /// What is wrong, with the positions involved.
        detail: String,
    },
    /// NaN or infinite voxel values.
    #[error("{path}: {count} non-finite voxel value(s) (NaN or infinity)")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// How many voxels are not finite.
        count: usize,
    },
    /// A DICOM file that dicom-rs could not parse or decode.
    #[error("{path}: DICOM: {detail}")]
    Dicom {
        /// The file.
        path: PathBuf,
        /// dicom-rs's message or a missing attribute.
        detail: String,
    },
    /// A folder that does not hold what its dataset layout requires (or no scans at all).
    #[error("{path}: {detail}")]
    Layout {
        /// The folder.
        path: PathBuf,
        /// What was expected and what was found.
        detail: String,
    },
    /// A CSV file (aliases, label table, patient table) that cannot be parsed.
    #[error("{path}: line {line}: {detail}")]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number (0 when unknown).
        line: u64,
        /// What is wrong.
        detail: String,
    },
    /// An invalid configuration value (window, split fractions, size, ...). Library errors
    /// name config fields, in backticks (`` `size` ``), never command-line flags: a command
    /// line replaces them with its flags (`twinscan::cli`).
    #[error("invalid `{field}`: {detail}")]
    InvalidConfig {
        /// The config field, e.g. `windows` (`PrepareConfig::windows`).
        field: &'static str,
        /// What is wrong with the value.
        detail: String,
    },
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// A malformed-file error for `path`.
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// Result type of `twinscan-data`.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl From<crate::atomic::AtomicError> for DataError {
    fn from(e: crate::atomic::AtomicError) -> Self {
        DataError::Io {
            path: e.path,
            source: e.source,
        }
    }
}
