//! The `predict` command line (clap): flags → [`PredictOptions`], tested without running the
//! binary.
//!
//! ```
//! use clap::Parser;
//! use twinscan::cli::predict::PredictArgs;
//! let a = PredictArgs::try_parse_from(["predict", "--model", "run", "--input", "scans",
//!     "--out", "p.csv", "--threshold", "0.3"]).unwrap();
//! let o = a.options();
//! assert_eq!((o.threshold, o.batch_size, o.layout), (0.3, 64, None));
//! assert!(PredictArgs::try_parse_from(["predict", "--model", "m", "--input", "i"]).is_err());
//! ```

use std::path::PathBuf;

use clap::Parser;

use crate::predict::{InputLayout, PredictOptions};

/// Runs a saved classifier (model.safetensors) on new CT scans.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct PredictArgs {
    /// `model.safetensors`, or a classification run folder holding one.
    #[arg(long)]
    pub model: PathBuf,
    /// Folder of scans.
    #[arg(long)]
    pub input: PathBuf,
    /// `volumes` (CT files directly in --input), `deepmind`, `dicom` or `labelmap`; detected
    /// when absent.
    #[arg(long)]
    pub layout: Option<InputLayout>,
    /// The predictions CSV to write (metrics.csv goes beside it).
    #[arg(long)]
    pub out: PathBuf,
    /// Probability above which a structure counts as present.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// `scan,patient` CSV naming each scan's patient (for the bootstrap of metrics.csv).
    #[arg(long)]
    pub patients: Option<PathBuf>,
    /// Slices per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// cpu, wgpu[:N], vulkan[:N], tch[:N], cuda[:N] (default: TWINSCAN_DEVICE or cpu).
    #[arg(long)]
    pub device: Option<String>,
}

impl PredictArgs {
    /// The options these flags ask for.
    pub fn options(&self) -> PredictOptions {
        PredictOptions {
            layout: self.layout,
            threshold: self.threshold,
            patients: self.patients.clone(),
            batch_size: self.batch_size,
            ..PredictOptions::new(&self.model, &self.input, &self.out)
        }
    }
}
