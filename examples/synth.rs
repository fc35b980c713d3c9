//! Writes a synthetic head-and-neck cohort in one of the layouts `prepare` reads.
//!
//! `cargo run --release --example synth -- --out DIR [--scans N] [--format nrrd|nifti|dicom|labelmap] [--size 256] [--seed N]`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use twinscan::cli::{reword, run_main};
use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};

/// Synthetic head-and-neck CT cohort (phantoms with 21 organ delineations).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Output folder (created).
    #[arg(long)]
    out: PathBuf,
    /// Number of scans.
    #[arg(long, default_value_t = 6)]
    scans: usize,
    /// File format / layout: nrrd, nifti, dicom or labelmap.
    #[arg(long, default_value = "nrrd")]
    format: SynthFormat,
    /// In-plane voxels per side (field of view 240 mm).
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Slice spacing in mm.
    #[arg(long, default_value_t = 2.5)]
    z_spacing: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    run_main(|| {
        let args = Args::parse();
        let config = SynthConfig {
            scans: args.scans,
            size: args.size,
            z_spacing_mm: args.z_spacing,
            seed: args.seed,
            ..SynthConfig::default()
        };
        let flags = [
            ("scans", "--scans"),
            ("size", "--size"),
            ("z_spacing_mm", "--z-spacing"),
        ];
        let dirs = write_cohort(&args.out, &config, args.format).map_err(|e| reword(e, &flags))?;
        println!(
            "wrote {} {:?} scans of {}x{} voxels to {} (patients.csv beside them)",
            dirs.len(),
            args.format,
            args.size,
            args.size,
            args.out.display()
        );
        Ok(())
    })
}
