//! A trained classifier on CT scans it has never seen.
//!
//! `cargo run --release --example predict -- --model RUN_DIR_OR_model.safetensors --input DIR
//! [--layout volumes|deepmind|dicom|labelmap] --out predictions.csv [--threshold 0.5]
//! [--patients scan_patient.csv] [--device cpu|wgpu|tch|cuda[:N]]`
//!
//! Masks are optional: a folder of CT volumes, DICOM CT series or scan folders without
//! delineations is enough. The preprocessing is the one recorded in the model's metadata.
//! Writes `predictions.csv` (`scan,slice,z_mm`, the probability per structure, then a 0/1
//! column per structure at `--threshold`) and, when some scans carry masks, `metrics.csv`
//! beside it (known labels only, the run's metrics). See `twinscan::predict`.

use std::process::ExitCode;

use clap::Parser;
use twinscan::cli::{device, predict::PredictArgs, run_main};
use twinscan::predict::predict;
use twinscan::progress::PredictProgress;

fn main() -> ExitCode {
    run_main(|| {
        let args = PredictArgs::parse();
        let device = device(args.device.as_deref())?;
        let bar = PredictProgress::new();
        let summary = predict(&args.options(), &device, &mut |e| bar.event(e));
        bar.finish();
        let summary = summary?;
        for w in &summary.warnings {
            eprintln!("warning: {w}");
        }
        println!(
            "{} scans, {} slices in {:.1} s ({:.2} s per scan): {}",
            summary.scans,
            summary.slices,
            summary.seconds,
            summary.seconds / summary.scans.max(1) as f64,
            summary.predictions.display()
        );
        if let Some(m) = &summary.metrics {
            println!(
                "metrics over the {} scans with masks (known labels only): {}",
                summary.scans_with_masks,
                m.display()
            );
        }
        Ok(())
    })
}
