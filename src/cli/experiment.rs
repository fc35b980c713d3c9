//! The `experiment` command line (clap): flags → an expanded [`Grid`] and [`GridOptions`],
//! and the exit code of an unfinished grid.
//!
//! ```
//! use clap::Parser;
//! use twinscan::cli::experiment::ExperimentArgs;
//! let a = ExperimentArgs::try_parse_from(["experiment", "--grid", "g.toml", "--out", "o",
//!     "--max-new-runs", "4"]).unwrap();
//! assert_eq!(a.options().max_new_runs, Some(4));
//! assert!(ExperimentArgs::try_parse_from(["experiment", "--grid", "g.toml"]).is_err());
//! ```

use std::path::PathBuf;

use clap::Parser;

use crate::experiment::{Grid, GridFile, GridOptions};

/// Exit code of a grid left unfinished by `--max-new-runs`.
pub const UNFINISHED: u8 = 3;

/// Run an experiment grid (TOML) and write its result tables.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct ExperimentArgs {
    /// The grid file (see examples/configs/study.toml and quick.toml).
    #[arg(long)]
    pub grid: PathBuf,
    /// Prepared dataset (overrides the grid's `data`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output folder (pretrainings, runs, tables).
    #[arg(long)]
    pub out: PathBuf,
    /// Device: cpu (default), wgpu, vulkan, tch, cuda[:N]; also TWINSCAN_DEVICE.
    #[arg(long)]
    pub device: Option<String>,
    /// Stop after this many new classification runs (continue later with the same command).
    #[arg(long)]
    pub max_new_runs: Option<usize>,
}

impl ExperimentArgs {
    /// The grid file read and expanded over the dataset (`--data`, else the file's `data`).
    ///
    /// # Errors
    /// An unreadable or invalid grid file, no dataset named, an unreadable dataset.
    pub fn grid(&self) -> Result<Grid, Box<dyn std::error::Error>> {
        let file = GridFile::read(&self.grid)?;
        let data = self
            .data
            .clone()
            .or_else(|| file.data.clone())
            .ok_or("no dataset: pass --data DIR or set `data` in the grid file")?;
        Ok(file.expand(&data, &self.out, &self.grid)?)
    }

    /// The options of [`crate::experiment::run_grid`].
    pub fn options(&self) -> GridOptions {
        GridOptions {
            max_new_runs: self.max_new_runs,
        }
    }
}
