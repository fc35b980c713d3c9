//! # twinscan-classify
//!
//! Per-slice organ classification for twinscan (the study's protocol: docs/classify.md):
//! - [`metrics`]: per-structure confusion matrix, macro F1 and AUROC over known labels, with
//!   patient-level bootstrap intervals and mean ± sd over seeds (pure Rust);
//! - [`report`]: `predictions.csv`, `metrics.csv` and the study's per-structure result tables;
//! - [`loss`]: the masked, class-weighted tri-state cross-entropy (and a single-logit BCE);
//! - [`head`]: the tri-state head, backbone initialisation (`random`, `imagenet:FILE`,
//!   `barlow:FILE`) and mode (`frozen`, `finetune`);
//! - [`tables`]: the grid's result tables from the runs' predictions: mean ± sd over seeds and
//!   patient-bootstrap intervals pooled over seeds, paired differences against a baseline;
//! - [`plot`]: PNG charts of training curves, result tables and differences (plotters, bundled
//!   font);
//! - [`classifier`]: ResNet encoder + head, built from a serialisable config;
//! - [`train`]: one run on a prepared dataset: train split (augmented), model selection on
//!   validation, held-out test metrics, predictions and curves, written atomically;
//! - [`artifact`]: the selected model as `model.safetensors` (torchvision keys + head, with
//!   the preprocessing in its metadata), written and read back.
//!
//! The main path: [`train::train_and_evaluate`] on a prepared dataset writes a run folder with
//! held-out metrics and `model.safetensors`; [`artifact::load_model`] reads the model back.
//! [`classifier`]'s documentation shows the model on its own.

pub mod artifact;
pub mod classifier;
pub mod error;
pub mod head;
pub mod loss;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod tables;
pub mod train;

pub use error::{ClassifyError, Result};
/// The encoder preset and input shape flattened into [`train::TrainConfig`].
pub use twinscan_train::EncoderInput;
