//! What the `quickstart` example does: the README's main job on a synthetic cohort it
//! generates itself, in three stages, each reused when its output is already there.
//!
//! 1. synthesise a small head-and-neck CT cohort as NRRD files ([`write_cohort`], DeepMind
//!    layout) under `<out>/cohort/`;
//! 2. prepare it ([`prepare`]) into `<out>/prepared/` with a patient-level split;
//! 3. run a grid of pretrainings and classification runs ([`run_grid`]; by default
//!    `examples/configs/quick.toml`, built in) under `<out>`.
//!
//! Stage lines go to stdout and progress bars to stderr, as in the other examples
//! ([`crate::progress`]); [`Quickstart::report`] renders the final tables and file list.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use twinscan_data::DataError;
use twinscan_data::prepare::{PrepareConfig, prepare, summary_table};
use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};
use twinscan_models::burn::tensor::Device;

use crate::experiment::{ExperimentError, GridFile, GridOptions, GridOutcome, run_grid};
use crate::progress::{PrepareProgress, with_grid_progress};

/// The quick grid (CPU-sized settings), built into the binary.
pub const QUICK_GRID: &str = include_str!("../examples/configs/quick.toml");

/// What can go wrong in a quickstart.
#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    /// A folder could not be created or removed.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// `create` or `remove`.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Synthesising the cohort failed.
    #[error(transparent)]
    Synth(DataError),
    /// Preparing the cohort failed.
    #[error(transparent)]
    Prepare(DataError),
    /// The grid file is invalid, or a pretraining or run failed.
    #[error(transparent)]
    Experiment(#[from] ExperimentError),
}

/// Settings of a quickstart.
#[derive(Debug, Clone)]
pub struct QuickstartConfig {
    /// Everything goes under this folder.
    pub out: PathBuf,
    /// The synthetic cohort (scans, in-plane voxels, seed).
    pub synth: SynthConfig,
    /// Side of the prepared slices in pixels.
    pub slice_size: usize,
    /// Seed of the patient-level split.
    pub split_seed: u64,
    /// Another grid file instead of [`QUICK_GRID`].
    pub grid: Option<PathBuf>,
}

/// A quickstart whose output folder exists and whose grid file has been checked.
#[derive(Debug)]
pub struct Quickstart {
    config: QuickstartConfig,
    grid: GridFile,
    origin: PathBuf,
    started: Instant,
}

impl Quickstart {
    /// Creates the output folder and reads and checks the grid, before any time is spent on
    /// data.
    ///
    /// # Errors
    /// An output folder that cannot be created; an unreadable or invalid grid file.
    pub fn open(config: QuickstartConfig) -> Result<Self, QuickstartError> {
        let started = Instant::now();
        std::fs::create_dir_all(&config.out).map_err(|source| QuickstartError::Io {
            path: config.out.clone(),
            action: "create",
            source,
        })?;
        let (grid, origin) = match &config.grid {
            Some(p) => (GridFile::read(p)?, p.clone()),
            None => {
                let origin = PathBuf::from("examples/configs/quick.toml (built in)");
                (
                    GridFile::parse(QUICK_GRID, &origin, Path::new("."))?,
                    origin,
                )
            }
        };
        grid.check(&origin)?;
        Ok(Self {
            config,
            grid,
            origin,
            started,
        })
    }

    /// `<out>/cohort`: the synthetic scans.
    pub fn cohort(&self) -> PathBuf {
        self.config.out.join("cohort")
    }

    /// `<out>/prepared`: the prepared dataset.
    pub fn prepared(&self) -> PathBuf {
        self.config.out.join("prepared")
    }

    /// Stages 1 and 2: synthesises and prepares the cohort, or reuses a prepared dataset
    /// (one with `dataset.json`). A cohort left by an unfinished earlier run is replaced.
    ///
    /// # Errors
    /// The cohort cannot be written or prepared.
    pub fn prepare_data(&self) -> Result<(), QuickstartError> {
        let (cohort, prepared) = (self.cohort(), self.prepared());
        if prepared.join("dataset.json").is_file() {
            println!(
                "[1-2/3] reusing the prepared dataset {}",
                prepared.display()
            );
            return Ok(());
        }
        // Only `cohort/` under `out`, which this program wrote on an earlier run.
        if cohort.exists() {
            std::fs::remove_dir_all(&cohort).map_err(|source| QuickstartError::Io {
                path: cohort.clone(),
                action: "remove",
                source,
            })?;
        }
        let synth = &self.config.synth;
        println!(
            "[1/3] synthesising {} scans -> {}",
            synth.scans,
            cohort.display()
        );
        write_cohort(&cohort, synth, SynthFormat::Nrrd).map_err(QuickstartError::Synth)?;

        println!("[2/3] preparing -> {}", prepared.display());
        let mut config = PrepareConfig::new(&cohort, &prepared);
        config.size = self.config.slice_size;
        config.seed = self.config.split_seed;
        config.patients = Some(cohort.join("patients.csv"));
        let bar = PrepareProgress::bar_only();
        let summary = prepare(&config, &|p| bar.event(p)).map_err(QuickstartError::Prepare)?;
        bar.finish();
        print!("{}", summary_table(&summary));
        println!(
            "prepared in {:.1} s: {} and {}",
            self.started.elapsed().as_secs_f64(),
            prepared.join("labels.csv").display(),
            prepared.join("dataset.json").display(),
        );
        Ok(())
    }

    /// Stage 3: runs (or continues) the grid on the prepared dataset.
    ///
    /// # Errors
    /// An unreadable dataset; the first failing pretraining or run.
    pub fn run_grid(&self, device: &Device) -> Result<GridOutcome, QuickstartError> {
        let grid = self
            .grid
            .expand(&self.prepared(), &self.config.out, &self.origin)?;
        println!(
            "[3/3] {} pretraining(s) and {} classification run(s) ({})",
            grid.pretrainings.len(),
            grid.runs.len(),
            self.origin.display()
        );
        Ok(with_grid_progress(|on_event| {
            run_grid(&grid, device, &GridOptions::default(), on_event)
        })?)
    }

    /// The F1 table, the paired F1 deltas against the baseline, where every file is, and
    /// the total time since [`Quickstart::open`].
    pub fn report(&self, outcome: &GridOutcome) -> String {
        let mut s = String::new();
        for table in [outcome.tables.first(), outcome.tables.get(2)]
            .into_iter()
            .flatten()
        {
            let _ = writeln!(s, "\n{table}");
        }
        let _ = writeln!(s, "Files under {}:", self.config.out.display());
        for (what, path) in FILES {
            let _ = writeln!(s, "  {what:<22} {path}");
        }
        let _ = writeln!(s, "total {:.0} s", self.started.elapsed().as_secs_f64());
        s
    }
}

/// Where a quickstart's outputs are, relative to its folder.
const FILES: [(&str, &str); 5] = [
    (
        "per-structure tables",
        "table_f1.{md,csv}, table_auroc.{md,csv}, table_delta_f1.{md,csv}",
    ),
    (
        "charts",
        "chart_f1.png, chart_auroc.png, chart_delta_f1.png",
    ),
    (
        "classification runs",
        "runs/<experiment>-<mode>/seed-<k>-<hash>/ (predictions.csv, metrics.csv, ...)",
    ),
    (
        "pretraining",
        "pretrain/<hash>/ (log.jsonl, checkpoints/, encoder.safetensors)",
    ),
    ("dataset", "prepared/ (labels.csv, dataset.json, PNGs)"),
];
