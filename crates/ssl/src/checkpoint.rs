//! Atomic per-epoch checkpoints of a pretraining: [`twinscan_train::checkpoint`] with the
//! `BarlowTwinsModel` (encoder and projector, whichever the objective) and a
//! [`PretrainConfig`]; the run folder writes them (`twinscan_train::RunDir::checkpoints`).
//!
//! Layout under a run's `checkpoints/` folder (see [`twinscan_train::checkpoint`] for how it
//! is written atomically and what the RNG state is):
//!
//! ```text
//! checkpoints/epoch-0003/model.bpk       BarlowTwinsModel (burnpack: parameters, BatchNorm
//!                                        running statistics and parameter ids)
//! checkpoints/epoch-0003/optimizer.bpk   LARS momentum buffers, keyed by parameter id
//! checkpoints/epoch-0003/state.json      CheckpointState (epochs done, step, config, ...)
//! ```

use std::path::Path;

use twinscan_train::checkpoint::{self as ck, Checkpoints};

use crate::config::PretrainConfig;
use crate::error::Result;

pub use twinscan_train::checkpoint::{CHECKPOINT_FORMAT, dir_name};

/// What a pretraining checkpoint records besides the tensors.
pub type CheckpointState = twinscan_train::CheckpointState<PretrainConfig>;

/// A complete pretraining checkpoint on disk ([`Checkpoint::load`] restores the model and
/// the LARS state).
pub type Checkpoint = twinscan_train::Checkpoint<PretrainConfig>;

fn at(root: &Path) -> Checkpoints<PretrainConfig> {
    Checkpoints::new(root)
}

/// Reads a checkpoint folder's `state.json`.
///
/// # Errors
/// Errors naming the file, an unknown format or missing tensor files.
pub fn read_state(dir: &Path) -> Result<CheckpointState> {
    Ok(ck::read_state(dir)?)
}

/// The complete checkpoints under `root`, oldest first (partial folders and folders whose
/// `state.json` does not read are skipped).
///
/// # Errors
/// [`SslError::Io`](crate::SslError::Io) if `root` exists but cannot be listed.
pub fn list(root: &Path) -> Result<Vec<Checkpoint>> {
    Ok(at(root).list()?)
}

/// The newest complete checkpoint under `root`, if any.
///
/// # Errors
/// See [`list`].
pub fn latest(root: &Path) -> Result<Option<Checkpoint>> {
    Ok(at(root).latest()?)
}
