//! Atomic per-epoch checkpoints: model, optimizer state, progress and configuration.
//!
//! Layout under a run's `checkpoints/` folder:
//!
//! ```text
//! checkpoints/epoch-0003/model.bpk       BarlowTwinsModel (burnpack: parameters, BatchNorm
//!                                        running statistics and parameter ids)
//! checkpoints/epoch-0003/optimizer.bpk   LARS momentum buffers, keyed by parameter id
//! checkpoints/epoch-0003/state.json      CheckpointState (epochs done, step, config, ...)
//! ```
//!
//! A checkpoint is written into `checkpoints/.epoch-0003.partial-<pid>/`
//! ([`twinscan_data::atomic::TempDir`]), each file flushed to disk, and only then renamed to
//! `epoch-0003`: a process killed half-way leaves a hidden partial folder that [`latest`]
//! ignores (and [`clean_partial`] removes), so the previous checkpoint stays
//! the newest loadable one. Burnpack keeps parameter ids, so the optimizer state lines up with
//! the reloaded model.
//!
//! **RNG state.** twinscan's randomness is counter-based: the epoch order is a ChaCha8 stream
//! keyed by `(seed, epoch)` and every augmentation one keyed by `(seed, epoch, index, view)`
//! (see `twinscan_augment::SampleKey`). No generator carries state across steps, so the state
//! to restore is `(seed, epochs_done, step)`, which [`CheckpointState`] records.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use crate::config::PretrainConfig;
use crate::error::{Result, SslError};
use crate::step::BarlowTwinsModel;

/// Format version of [`CheckpointState`].
pub const CHECKPOINT_FORMAT: u32 = 1;

/// What a checkpoint records besides the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// [`CHECKPOINT_FORMAT`].
    pub format: u32,
    /// Epochs completed (the next epoch to run is this number, 0-based).
    pub epochs_done: u64,
    /// Optimiser steps taken.
    pub step: u64,
    /// The run's seed (counter-based RNG: the whole random state, with the two counters).
    pub seed: u64,
    /// Mean loss over the last completed epoch.
    pub mean_loss: f64,
    /// The full configuration of the run.
    pub config: PretrainConfig,
}

/// A complete checkpoint on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Its folder (`.../checkpoints/epoch-NNNN`).
    pub dir: PathBuf,
    /// Its `state.json`.
    pub state: CheckpointState,
}

const MODEL_FILE: &str = "model.bpk";
const OPTIM_FILE: &str = "optimizer.bpk";
const STATE_FILE: &str = "state.json";

fn ck_err(path: &Path, reason: impl std::fmt::Display) -> SslError {
    SslError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SslError + '_ {
    move |source| SslError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The folder name of the checkpoint after `epochs_done` epochs.
pub fn dir_name(epochs_done: u64) -> String {
    format!("epoch-{epochs_done:04}")
}

fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// Writes a checkpoint atomically under `root` (the `checkpoints/` folder) and returns its
/// folder. An existing checkpoint of the same epoch is replaced.
///
/// # Errors
/// [`SslError::Io`] / [`SslError::Checkpoint`] naming the file that could not be written.
pub fn write(
    root: &Path,
    model: &BarlowTwinsModel,
    optim: &ModuleOptimizer,
    state: &CheckpointState,
) -> Result<PathBuf> {
    fs::create_dir_all(root).map_err(io(root))?;
    let name = dir_name(state.epochs_done);
    let dest = root.join(&name);
    // Removed when dropped (any error below); moved onto `dest` (replacing it) at the end.
    let staging = twinscan_data::atomic::TempDir::create(&dest)?;
    let tmp = staging.path();

    // Fold pending BatchNorm running-statistic updates into the shared state before saving:
    // burn's `RunningState` keeps the newest update per thread until synced, and a plain
    // visit (what saving does) would store statistics one step old. `valid()` syncs in place.
    let _ = model.valid();
    let model_path = tmp.join(MODEL_FILE);
    let mut store = BurnpackStore::from_file(&model_path)
        .auto_extension(false)
        .overwrite(true);
    model
        .save_into(&mut store)
        .map_err(|e| ck_err(&model_path, format!("writing the model: {e}")))?;
    sync_file(&model_path)?;

    let optim_path = tmp.join(OPTIM_FILE);
    optim
        .save(&optim_path)
        .map_err(|e| ck_err(&optim_path, format!("writing the optimizer state: {e:?}")))?;
    sync_file(&optim_path)?;

    let state_path = tmp.join(STATE_FILE);
    let json = serde_json::to_vec_pretty(state).map_err(|source| SslError::Json {
        path: state_path.clone(),
        source,
    })?;
    let mut f = fs::File::create(&state_path).map_err(io(&state_path))?;
    f.write_all(&json)
        .and_then(|_| f.sync_all())
        .map_err(io(&state_path))?;

    staging.persist()?; // then syncs `root` (best effort)
    Ok(dest)
}

/// Reads a checkpoint folder's `state.json`.
///
/// # Errors
/// [`SslError::Io`] / [`SslError::Json`] naming the file, [`SslError::Checkpoint`] for an
/// unknown format or missing tensor files.
pub fn read_state(dir: &Path) -> Result<CheckpointState> {
    let path = dir.join(STATE_FILE);
    let bytes = fs::read(&path).map_err(io(&path))?;
    let state: CheckpointState =
        serde_json::from_slice(&bytes).map_err(|source| SslError::Json {
            path: path.clone(),
            source,
        })?;
    if state.format != CHECKPOINT_FORMAT {
        return Err(ck_err(
            &path,
            format!(
                "format {} (this twinscan reads format {CHECKPOINT_FORMAT})",
                state.format
            ),
        ));
    }
    for f in [MODEL_FILE, OPTIM_FILE] {
        if !dir.join(f).is_file() {
            return Err(ck_err(dir, format!("{f} is missing")));
        }
    }
    Ok(state)
}

/// The complete checkpoints under `root`, oldest first. Partial (hidden) folders and folders
/// whose `state.json` does not read are skipped.
///
/// # Errors
/// [`SslError::Io`] if `root` exists but cannot be listed.
pub fn list(root: &Path) -> Result<Vec<Checkpoint>> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(root).map_err(io(root))? {
        let dir = entry.map_err(io(root))?.path();
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with("epoch-") || !dir.is_dir() {
            continue;
        }
        if let Ok(state) = read_state(&dir) {
            out.push(Checkpoint { dir, state });
        }
    }
    out.sort_by_key(|c| c.state.epochs_done);
    Ok(out)
}

/// The newest complete checkpoint under `root`, if any.
///
/// # Errors
/// See [`list`].
pub fn latest(root: &Path) -> Result<Option<Checkpoint>> {
    Ok(list(root)?.pop())
}

/// Removes the hidden folders a process killed while writing a checkpoint leaves:
/// `.epoch-NNNN.partial-<pid>` / `.old-<pid>` (see [`twinscan_data::atomic::TempDir`]) and
/// the `.epoch-NNNN.tmp` of earlier versions.
///
/// # Errors
/// [`SslError::Io`] naming the folder that could not be removed.
pub fn clean_partial(root: &Path) -> Result<()> {
    if !root.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(root).map_err(io(root))? {
        let p = entry.map_err(io(root))?.path();
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            n.starts_with('.')
                && (n.ends_with(".tmp") || n.contains(".partial-") || n.contains(".old-"))
        }) {
            fs::remove_dir_all(&p).map_err(io(&p))?;
        }
    }
    Ok(())
}

/// Deletes all but the newest `keep` complete checkpoints.
///
/// # Errors
/// [`SslError::Io`] naming the folder that could not be removed.
pub fn prune(root: &Path, keep: usize) -> Result<()> {
    let all = list(root)?;
    let n = all.len().saturating_sub(keep.max(1));
    for c in &all[..n] {
        fs::remove_dir_all(&c.dir).map_err(io(&c.dir))?;
    }
    Ok(())
}

impl Checkpoint {
    /// Loads the model weights into `model` (built with the same configuration) and the
    /// optimizer state into `optim`.
    ///
    /// # Errors
    /// [`SslError::Checkpoint`] naming the file when it is truncated, corrupt or does not
    /// match the model.
    pub fn load(
        &self,
        model: BarlowTwinsModel,
        optim: ModuleOptimizer,
    ) -> Result<(BarlowTwinsModel, ModuleOptimizer)> {
        let model_path = self.dir.join(MODEL_FILE);
        let mut model = model;
        let mut store = BurnpackStore::from_file(&model_path).auto_extension(false);
        let result = model
            .load_from(&mut store)
            .map_err(|e| ck_err(&model_path, format!("reading the model: {e}")))?;
        if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
            return Err(ck_err(
                &model_path,
                format!(
                    "does not match the model: errors {:?}, missing {:?}, unexpected {:?}",
                    result
                        .errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>(),
                    result.missing.iter().map(|(p, _)| p).collect::<Vec<_>>(),
                    result.unused
                ),
            ));
        }
        let optim_path = self.dir.join(OPTIM_FILE);
        let optim = optim
            .load(&optim_path)
            .map_err(|e| ck_err(&optim_path, format!("reading the optimizer state: {e:?}")))?;
        Ok((model, optim))
    }
}
