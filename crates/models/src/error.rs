//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in `twinscan-models`: device selection, architecture
/// configuration, weight files and input buffers.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// A `--device` / `TWINSCAN_DEVICE` string that names no known device.
    #[error(
        "invalid device '{spec}' (from {source_name}): {reason}; expected one of \
         cpu, flex, wgpu[:N], vulkan[:N], tch[:N], cuda[:N]"
    )]
    InvalidDevice {
        /// The string as given.
        spec: String,
        /// Where it came from (`--device` or `TWINSCAN_DEVICE`).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The device is known but its backend was not compiled into this binary.
    #[error(
        "device '{device}' is not compiled into this binary: rebuild with `--features {feature}` \
         (cargo feature `{feature}` of twinscan / twinscan-models)"
    )]
    DeviceNotCompiled {
        /// The device as written by the user.
        device: String,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// An architecture configuration that cannot be built.
    #[error("invalid model configuration: {0}")]
    InvalidConfig(String),
    /// A projector spec string such as `512-8192-8192-8192` that does not parse.
    #[error("invalid projector spec '{spec}': {reason}")]
    InvalidProjectorSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The projector's input width differs from the encoder's feature width.
    #[error(
        "projector input width {projector_input} does not match the encoder's feature width \
         {encoder_features}"
    )]
    ProjectorWidthMismatch {
        /// First number of the projector spec.
        projector_input: usize,
        /// Width of the encoder's pooled feature.
        encoder_features: usize,
    },
    /// A weight file could not be read or applied (I/O, format, shape or dtype mismatch).
    #[error("cannot load weights from {path}: {message}")]
    WeightLoad {
        /// The weight file.
        path: PathBuf,
        /// The underlying problem.
        message: String,
    },
    /// The weight file and the model disagree on the set of keys.
    #[error(
        "weights in {path} do not match the model: missing keys (in the model, not in the \
         file) {missing:?}; unexpected keys (in the file, not in the model) {unexpected:?}"
    )]
    KeyMismatch {
        /// The weight file.
        path: PathBuf,
        /// Torchvision names the model needs but the file lacks.
        missing: Vec<String>,
        /// Torchvision names in the file the model does not have.
        unexpected: Vec<String>,
    },
    /// Writing a weight file failed.
    #[error("cannot save weights to {path}: {message}")]
    WeightSave {
        /// The destination file.
        path: PathBuf,
        /// The underlying problem.
        message: String,
    },
    /// A backbone initialisation string that is not `random`, `imagenet:FILE` or `barlow:FILE`.
    #[error("invalid backbone init '{spec}': {reason}")]
    InvalidInit {
        /// The string as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A collective (multi-device) operation cannot run as configured.
    #[error("data parallelism: {0}")]
    Collective(String),

    /// An image buffer whose length or values do not fit the declared shape.
    #[error("invalid image batch: {0}")]
    InvalidBatch(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, ModelsError>;
