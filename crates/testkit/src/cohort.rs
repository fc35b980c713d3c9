//! Synthetic cohorts (`twinscan_data::synth`) generated and prepared for tests.
//!
//! [`Cohort::shared`] prepares a cohort once per test process and hands every test the same
//! read-only folder (the tests of one binary run on threads of one process); [`Cohort::write`]
//! prepares a fresh copy for a test that changes its data. Both check the patient-level split
//! (two scans of one synthetic patient, `patients.csv`, never land in two splits).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use twinscan_data::prepared::Prepared;
use twinscan_data::synth::{SynthConfig, write_prepared_cohort};

/// A synthetic cohort as the tests use it: how many scans, their in-plane size, the seed, and
/// the slice size they are prepared at. Other [`SynthConfig`] fields keep their defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cohort {
    /// Number of scans.
    pub scans: usize,
    /// In-plane voxels per side of the generated scans.
    pub size: usize,
    /// Seed of the generator (and of the prepared split).
    pub seed: u64,
    /// Side of the prepared slices (`prepare`'s `size`).
    pub slice_size: usize,
}

/// The pretraining tests' cohort (4 scans, 64², seed 3, slices 64²):
/// `crates/ssl/tests/pretrain.rs`, the device runs and the facade's encoder-metadata test.
pub const PRETRAIN: Cohort = Cohort::new(4, 64, 3);

/// The classification tests' cohort (5 scans, 64², seed 5, slices 64²):
/// `crates/classify/tests/train.rs` and the facade's predict/embed test.
pub const CLASSIFY: Cohort = Cohort::new(5, 64, 5);

impl Cohort {
    /// `scans` scans of `size`² voxels from `seed`, prepared at 64² (the tiny runs' input,
    /// [`crate::tiny::IMAGE_SIZE`]).
    pub const fn new(scans: usize, size: usize, seed: u64) -> Self {
        Self {
            scans,
            size,
            seed,
            slice_size: crate::tiny::IMAGE_SIZE,
        }
    }

    /// The same cohort prepared at another slice size.
    pub const fn slices(self, slice_size: usize) -> Self {
        Self { slice_size, ..self }
    }

    /// The generator's configuration.
    pub fn synth(&self) -> SynthConfig {
        SynthConfig {
            scans: self.scans,
            size: self.size,
            seed: self.seed,
            ..SynthConfig::default()
        }
    }

    /// Generates the cohort under `dir` (`dir/cohort`), prepares it (`dir/prepared`) and
    /// returns the prepared folder, after checking that no patient spans two splits.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let prepared = write_prepared_cohort(dir, &self.synth(), self.slice_size)
            .unwrap_or_else(|e| panic!("synthetic cohort {self:?} under {}: {e}", dir.display()));
        let leaks = Prepared::open(&prepared)
            .unwrap_or_else(|e| panic!("{}: {e}", prepared.display()))
            .patients_in_several_splits();
        assert!(
            leaks.is_empty(),
            "{self:?}: patients in two splits: {leaks:?}"
        );
        prepared
    }

    /// The prepared folder of this cohort, generated once per test process in a temporary
    /// folder and shared by every test that asks for the same cohort. Read-only: a test that
    /// writes into its data uses [`Cohort::write`].
    ///
    /// The temporary folders live until the process ends (a static is never dropped), as the
    /// `OnceLock<TempDir>` each suite held before.
    pub fn shared(&self) -> &'static Path {
        type Cache = Mutex<HashMap<Cohort, (tempfile::TempDir, &'static Path)>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        // Held while a cohort is prepared, so concurrent tests wait for it instead of
        // preparing it twice. A panic while preparing poisons the lock: the other tests that
        // ask then fail too, which is right (their data is missing).
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .expect("an earlier test panicked while preparing a shared cohort");
        if let Some((_, path)) = cache.get(self) {
            return path;
        }
        let tmp = tempfile::tempdir().expect("a temporary folder for the shared cohort");
        let path: &'static Path = Box::leak(self.write(tmp.path()).into_boxed_path());
        cache.insert(*self, (tmp, path));
        path
    }
}
