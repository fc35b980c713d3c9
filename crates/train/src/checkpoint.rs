//! Atomic, resumable per-epoch checkpoints: model, optimizer state, progress and
//! configuration, for any burn [`Module`] and configuration type `C`.
//!
//! Layout under a run's `checkpoints/` folder:
//!
//! ```text
//! checkpoints/epoch-0003/model.bpk       the model (burnpack: parameters, BatchNorm running
//!                                        statistics and parameter ids)
//! checkpoints/epoch-0003/optimizer.bpk   the optimizer's state (e.g. LARS momentum buffers),
//!                                        keyed by parameter id
//! checkpoints/epoch-0003/state.json      CheckpointState (epochs done, step, config, ...)
//! ```
//!
//! A checkpoint is written into `checkpoints/.epoch-0003.partial-<pid>/`
//! ([`twinscan_data::atomic::TempDir`]), each file flushed to disk, and only then renamed to
//! `epoch-0003`: a process killed half-way leaves a hidden partial folder that
//! [`Checkpoints::latest`] ignores (and [`Checkpoints::clean_partial`] removes), so the
//! previous checkpoint stays the newest loadable one. Burnpack keeps parameter ids, so the
//! optimizer state lines up with the reloaded model.
//!
//! **RNG state.** twinscan's randomness is counter-based: the epoch order is a ChaCha8 stream
//! keyed by `(seed, epoch)` and every augmentation one keyed by `(seed, epoch, index, view)`
//! (see `twinscan_augment::SampleKey`). No generator carries state across steps, so the state
//! to restore is `(seed, epochs_done, step)`, which [`CheckpointState`] records.

use std::fs;
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError, io, json};
use crate::run_dir::differing_fields;

/// Format version of [`CheckpointState`].
pub const CHECKPOINT_FORMAT: u32 = 1;

const MODEL_FILE: &str = "model.bpk";
const OPTIM_FILE: &str = "optimizer.bpk";
/// A checkpoint's progress and configuration file.
pub const STATE_FILE: &str = "state.json";

/// What a checkpoint records besides the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState<C> {
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
    pub config: C,
}

/// A complete checkpoint on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint<C> {
    /// Its folder (`.../checkpoints/epoch-NNNN`).
    pub dir: PathBuf,
    /// Its `state.json`.
    pub state: CheckpointState<C>,
}

fn ck_err(path: &Path, reason: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
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

/// Reads a checkpoint folder's `state.json`.
///
/// # Errors
/// [`TrainError::Io`] / [`TrainError::Json`] naming the file, [`TrainError::Checkpoint`] for
/// an unknown format or missing tensor files.
pub fn read_state<C: DeserializeOwned>(dir: &Path) -> Result<CheckpointState<C>> {
    let path = dir.join(STATE_FILE);
    let bytes = fs::read(&path).map_err(io(&path))?;
    let state: CheckpointState<C> = serde_json::from_slice(&bytes).map_err(json(&path))?;
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

/// The `checkpoints/` folder of a run, whose states record a configuration of type `C`.
#[derive(Debug, Clone)]
pub struct Checkpoints<C> {
    root: PathBuf,
    config: PhantomData<fn() -> C>,
}

impl<C: Serialize + DeserializeOwned> Checkpoints<C> {
    /// The checkpoints under `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            config: PhantomData,
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes a checkpoint atomically and returns its folder. An existing checkpoint of the
    /// same epoch is replaced.
    ///
    /// # Errors
    /// [`TrainError::Io`] / [`TrainError::Checkpoint`] naming the file that could not be
    /// written.
    pub fn write<M: Module>(
        &self,
        model: &M,
        optim: &ModuleOptimizer,
        state: &CheckpointState<C>,
    ) -> Result<PathBuf> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let dest = self.root.join(dir_name(state.epochs_done));
        // Removed when dropped (any error below); moved onto `dest` (replacing it) at the end.
        let staging = twinscan_data::atomic::TempDir::create(&dest)?;
        let tmp = staging.path();

        // Fold pending BatchNorm running-statistic updates into the shared state before
        // saving: burn's `RunningState` keeps the newest update per thread until synced, and
        // a plain visit (what saving does) would store statistics one step old. `valid()`
        // syncs in place.
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
        let bytes = serde_json::to_vec_pretty(state).map_err(json(&state_path))?;
        let mut f = fs::File::create(&state_path).map_err(io(&state_path))?;
        f.write_all(&bytes)
            .and_then(|_| f.sync_all())
            .map_err(io(&state_path))?;

        staging.persist()?; // then syncs `root` (best effort)
        Ok(dest)
    }

    /// The complete checkpoints, oldest first. Partial (hidden) folders and folders whose
    /// `state.json` does not read are skipped.
    ///
    /// # Errors
    /// [`TrainError::Io`] if the folder exists but cannot be listed.
    pub fn list(&self) -> Result<Vec<Checkpoint<C>>> {
        let root = &self.root;
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

    /// The newest complete checkpoint, if any.
    ///
    /// # Errors
    /// See [`list`](Self::list).
    pub fn latest(&self) -> Result<Option<Checkpoint<C>>> {
        Ok(self.list()?.pop())
    }

    /// Removes the hidden folders a process killed while writing a checkpoint leaves:
    /// `.epoch-NNNN.partial-<pid>` / `.old-<pid>` (see [`twinscan_data::atomic::TempDir`])
    /// and the `.epoch-NNNN.tmp` of earlier versions.
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the folder that could not be removed.
    pub fn clean_partial(&self) -> Result<()> {
        let root = &self.root;
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

    /// Deletes all but the newest `keep` (at least one) complete checkpoints.
    ///
    /// # Errors
    /// [`TrainError::Io`] naming the folder that could not be removed.
    pub fn prune(&self, keep: usize) -> Result<()> {
        let all = self.list()?;
        let n = all.len().saturating_sub(keep.max(1));
        for c in &all[..n] {
            fs::remove_dir_all(&c.dir).map_err(io(&c.dir))?;
        }
        Ok(())
    }
}

impl<C> Checkpoint<C> {
    /// Checks that the checkpoint was written by a run of `config`.
    ///
    /// # Errors
    /// [`TrainError::ConfigMismatch`] naming its `state.json` and the fields that differ.
    pub fn ensure_config(&self, config: &C) -> Result<()>
    where
        C: Serialize + PartialEq,
    {
        if self.state.config == *config {
            return Ok(());
        }
        Err(TrainError::ConfigMismatch {
            path: self.dir.join(STATE_FILE),
            fields: differing_fields(&self.state.config, config),
        })
    }

    /// Loads the model weights into `model` (built with the same configuration) and the
    /// optimizer state into `optim`.
    ///
    /// # Errors
    /// [`TrainError::Checkpoint`] naming the file when it is truncated, corrupt or does not
    /// match the model.
    pub fn load<M: Module>(
        &self,
        model: M,
        optim: ModuleOptimizer,
    ) -> Result<(M, ModuleOptimizer)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::optim::AdamConfig;
    use burn::tensor::Device;

    type Ck = Checkpoints<String>;

    fn state(epochs_done: u64) -> CheckpointState<String> {
        CheckpointState {
            format: CHECKPOINT_FORMAT,
            epochs_done,
            step: 10 * epochs_done,
            seed: 7,
            mean_loss: 1.0 / (epochs_done as f64 + 1.0),
            config: "cfg".into(),
        }
    }

    fn weights(m: &burn::nn::Linear) -> Vec<f32> {
        m.weight.val().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn written_checkpoints_reload_and_are_pruned_oldest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let cks = Ck::new(tmp.path().join("checkpoints"));
        assert!(cks.latest().unwrap().is_none());
        let device = Device::flex();
        device.seed(1);
        let model = LinearConfig::new(3, 2).init(&device);
        for e in 1..=3 {
            let dir = cks
                .write(&model, &AdamConfig::new().init(), &state(e))
                .unwrap();
            assert!(dir.ends_with(dir_name(e)), "{}", dir.display());
        }
        let epochs = |c: &Ck| -> Vec<u64> {
            c.list()
                .unwrap()
                .iter()
                .map(|c| c.state.epochs_done)
                .collect()
        };
        assert_eq!(epochs(&cks), [1, 2, 3]);
        cks.prune(2).unwrap();
        assert_eq!(epochs(&cks), [2, 3]);
        cks.prune(0).unwrap(); // at least one is kept
        assert_eq!(epochs(&cks), [3]);

        let latest = cks.latest().unwrap().unwrap();
        assert_eq!(latest.state, state(3));
        latest.ensure_config(&"cfg".to_string()).unwrap();
        let e = latest.ensure_config(&"other".to_string()).unwrap_err();
        assert!(e.to_string().contains(STATE_FILE), "{e}");
        device.seed(2);
        let fresh = LinearConfig::new(3, 2).init(&device);
        assert_ne!(weights(&fresh), weights(&model));
        let (loaded, _) = latest.load(fresh, AdamConfig::new().init()).unwrap();
        assert_eq!(weights(&loaded), weights(&model));
    }

    #[test]
    fn partial_and_unreadable_folders_are_skipped_and_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        let cks = Ck::new(tmp.path());
        // A complete-looking checkpoint (the listing reads state.json and checks that the
        // tensor files exist; loading them is the other test's business).
        let good = tmp.path().join(dir_name(1));
        fs::create_dir(&good).unwrap();
        fs::write(
            good.join(STATE_FILE),
            serde_json::to_vec(&state(1)).unwrap(),
        )
        .unwrap();
        for f in [MODEL_FILE, OPTIM_FILE] {
            fs::write(good.join(f), b"x").unwrap();
        }
        // What interrupted writes leave, and a newer checkpoint with no optimizer file.
        let partials = [
            ".epoch-0002.partial-9",
            ".epoch-0002.old-9",
            ".epoch-0002.tmp",
        ];
        for p in partials {
            fs::create_dir(tmp.path().join(p)).unwrap();
            fs::write(tmp.path().join(p).join(STATE_FILE), b"{}").unwrap();
        }
        let broken = tmp.path().join(dir_name(3));
        fs::create_dir(&broken).unwrap();
        fs::write(
            broken.join(STATE_FILE),
            serde_json::to_vec(&state(3)).unwrap(),
        )
        .unwrap();
        fs::write(broken.join(MODEL_FILE), b"x").unwrap();

        assert_eq!(cks.latest().unwrap().unwrap().dir, good);
        let e = read_state::<String>(&broken).unwrap_err();
        assert!(e.to_string().contains(OPTIM_FILE), "{e}");
        cks.clean_partial().unwrap();
        for p in partials {
            assert!(!tmp.path().join(p).exists(), "{p} left");
        }
        assert!(good.is_dir() && broken.is_dir());
        // A state of another format is refused by name.
        let mut old = state(1);
        old.format = 0;
        fs::write(good.join(STATE_FILE), serde_json::to_vec(&old).unwrap()).unwrap();
        let e = read_state::<String>(&good).unwrap_err();
        assert!(e.to_string().contains("format 0"), "{e}");
        assert!(cks.latest().unwrap().is_none());
    }
}
