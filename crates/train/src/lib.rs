//! # twinscan-train
//!
//! The pieces of a training run that `twinscan-ssl` (pretraining) and `twinscan-classify`
//! (the downstream classifier) share, beneath both of them (they never import each other):
//!
//! - [`batches`]: augmented one- or two-view batches made on a background thread ahead of
//!   the step ([`BatchSource`]), for pretraining and the classifier alike.
//! - [`schedule`]: linear warm-up then cosine decay ([`WarmupCosine`]), a plain function of
//!   the optimiser step; the pretraining schedule and the classifier's SGD + cosine.
//! - [`clip`]: global-norm gradient clipping with `torch.nn.utils.clip_grad_norm_` semantics.
//! - [`input`]: the encoder and its input shape ([`EncoderInput`], flattened into both run
//!   configurations and validated once), and what a trained network's weight file records
//!   about its inputs ([`input_spec`]), for the encoder's and the classifier's metadata alike.
//! - [`run_dir`]: a run folder ([`RunDir`]): `config.json` written atomically, the
//!   "may this run continue / is it finished with exactly this configuration" checks, and
//!   its JSON-lines log ([`log`]: [`JsonLog`], truncation to a [`ResumePoint`]).
//! - [`checkpoint`]: atomic, resumable per-epoch checkpoints of any burn module with its
//!   optimizer state ([`Checkpoints`]).
//!
//! Atomic file and folder writes, which every writer of the workspace uses, live lower, in
//! [`twinscan_data::atomic`] (data's `prepare` writes through them too).

pub mod batches;
pub mod checkpoint;
pub mod clip;
pub mod error;
pub mod input;
pub mod log;
pub mod run_dir;
pub mod schedule;

pub use batches::{Batch, BatchSource, BatchStream};
pub use checkpoint::{CHECKPOINT_FORMAT, Checkpoint, CheckpointState, Checkpoints};
pub use clip::{clip_global_norm, global_grad_norm};
pub use error::{Result, TrainError};
pub use input::{EncoderInput, input_spec};
pub use log::{JsonLog, ResumePoint};
pub use run_dir::{RunDir, RunRecord, differing_fields};
pub use schedule::{LrScaling, WarmupCosine};
