//! The `quickstart` command line (clap): flags → [`QuickstartConfig`].
//!
//! ```
//! use clap::Parser;
//! use twinscan::cli::quickstart::QuickstartArgs;
//! let a = QuickstartArgs::try_parse_from(["quickstart", "--scans", "12"]).unwrap();
//! let c = a.config();
//! assert_eq!((c.synth.scans, c.synth.size, c.slice_size), (12, 256, 128));
//! assert_eq!(c.out, std::path::Path::new("runs/quickstart"));
//! ```

use std::path::PathBuf;

use clap::Parser;
use twinscan_data::synth::SynthConfig;

use super::{Reworded, reword};
use crate::quickstart::{QuickstartConfig, QuickstartError};

/// An error worded for this command line: the synthetic cohort's `scans` and `size` are
/// `--scans` and `--size`, the prepared slices' `size` is `--slice-size`.
pub fn explain(e: QuickstartError) -> Reworded<QuickstartError> {
    let flags: &[(&str, &str)] = match &e {
        QuickstartError::Synth(_) => &[("scans", "--scans"), ("size", "--size")],
        QuickstartError::Prepare(_) => &[("size", "--slice-size")],
        _ => &[],
    };
    reword(e, flags)
}

/// Synthesise a CT cohort, prepare it, pretrain Barlow Twins and compare classifiers.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct QuickstartArgs {
    /// Everything goes under this folder.
    #[arg(long, default_value = "runs/quickstart")]
    pub out: PathBuf,
    /// Number of synthetic scans (some patients get two scans: `patients.csv`).
    #[arg(long, default_value_t = 8)]
    pub scans: usize,
    /// In-plane voxels of the synthetic CT.
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// Side of the prepared slices in pixels.
    #[arg(long, default_value_t = 128)]
    pub slice_size: usize,
    /// Seed of the cohort and of the split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Another grid file instead of the built-in quick grid.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Device: cpu (default), wgpu, vulkan, tch, cuda[:N]; also TWINSCAN_DEVICE.
    #[arg(long)]
    pub device: Option<String>,
    /// Only synthesise and prepare (stages 1 and 2).
    #[arg(long)]
    pub data_only: bool,
}

impl QuickstartArgs {
    /// The configuration these flags ask for (`--seed` seeds both the cohort and the split).
    pub fn config(&self) -> QuickstartConfig {
        QuickstartConfig {
            out: self.out.clone(),
            synth: SynthConfig {
                scans: self.scans,
                size: self.size,
                seed: self.seed,
                ..SynthConfig::default()
            },
            slice_size: self.slice_size,
            split_seed: self.seed,
            grid: self.grid.clone(),
        }
    }
}
