//! The README's main job, on the CPU default and on data it generates itself.
//!
//! `cargo run --release --example quickstart [-- --out runs/quickstart --scans 8 --seed 0]`
//!
//! 1. synthesises a small head-and-neck CT cohort as real NRRD files (DeepMind layout);
//! 2. prepares it into a labelled slice dataset with a patient-level train/val/test split;
//! 3. pretrains Barlow Twins briefly and runs frozen and finetuned classifiers from random
//!    and from Barlow initialisation (the grid `examples/configs/quick.toml`, CPU-sized);
//! 4. prints the per-structure held-out macro F1 table and where every file is.
//!
//! Everything goes under `--out`; finished stages are reused when it is run again. The work
//! is in `twinscan::quickstart`.

use std::process::ExitCode;

use clap::Parser;
use twinscan::cli::quickstart::{QuickstartArgs, explain};
use twinscan::cli::{device, run_main};
use twinscan::quickstart::Quickstart;

fn main() -> ExitCode {
    run_main(|| {
        let args = QuickstartArgs::parse();
        // The grid and the device are checked before any time is spent on data.
        let quickstart = Quickstart::open(args.config())?;
        let device = device(args.device.as_deref())?;
        quickstart.prepare_data().map_err(explain)?;
        if args.data_only {
            return Ok(());
        }
        let outcome = quickstart.run_grid(&device)?;
        print!("{}", quickstart.report(&outcome));
        Ok(())
    })
}
