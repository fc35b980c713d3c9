//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong when configuring or running augmentations.
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// A transform parameter is out of its valid range (e.g. `p` outside [0, 1], an empty
    /// range, an even kernel size).
    #[error("invalid parameter `{param}` of transform `{transform}`: {reason}")]
    InvalidParam {
        /// Transform name (snake_case, as in configs).
        transform: &'static str,
        /// Parameter name.
        param: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A preset name that does not exist.
    #[error("unknown preset `{0}` (known: {known})", known = crate::preset::PRESET_NAMES.join(", "))]
    UnknownPreset(String),
    /// A pipeline config file could not be read.
    #[error("cannot read pipeline config {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A TOML pipeline config could not be parsed.
    #[error("invalid TOML pipeline config {origin}: {source}")]
    Toml {
        /// File path or `<string>`.
        origin: String,
        /// The parser's error.
        source: toml::de::Error,
    },
    /// A JSON pipeline config could not be parsed.
    #[error("invalid JSON pipeline config {origin}: {source}")]
    Json {
        /// File path or `<string>`.
        origin: String,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A config file with an extension that is neither `.toml` nor `.json`.
    #[error("pipeline config {0} must end in .toml or .json")]
    ConfigExtension(PathBuf),
    /// Buffer or plane sizes that do not agree.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        /// Which argument.
        what: String,
        /// Expected size (elements or `H×W`).
        expected: String,
        /// Actual size.
        got: String,
    },
    /// An input plane holds NaN or infinite values.
    #[error("input {what} contains a non-finite value at pixel {index}")]
    NonFinite {
        /// Which input.
        what: String,
        /// Flat index of the first offending pixel.
        index: usize,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, AugmentError>;
