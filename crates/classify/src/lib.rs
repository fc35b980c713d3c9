//! # twinscan-classify
//!
//! Per-slice organ classification for twinscan (study.md §3–§5):
//! - [`metrics`]: per-structure confusion matrix, macro F1 and AUROC over known labels, with
//!   patient-level bootstrap intervals and mean ± sd over seeds (pure Rust);
//! - [`report`]: `predictions.csv`, `metrics.csv` and the study's per-structure result tables;
//! - [`loss`]: the masked, class-weighted tri-state cross-entropy (and a single-logit BCE);
//! - [`head`]: the tri-state head, backbone initialisation (`random`, `imagenet:FILE`,
//!   `barlow:FILE`) and mode (`frozen`, `finetune`);
//! - [`classifier`]: ResNet encoder + head, built from a serialisable config.

pub mod classifier;
pub mod error;
pub mod head;
pub mod loss;
pub mod metrics;
pub mod report;

pub use error::{ClassifyError, Result};
