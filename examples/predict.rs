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

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use twinscan::predict::{InputLayout, PredictEvent, PredictOptions, predict};
use twinscan_models::DeviceSpec;

/// Runs a saved classifier (model.safetensors) on new CT scans.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// `model.safetensors`, or a classification run folder holding one.
    #[arg(long)]
    model: PathBuf,
    /// Folder of scans.
    #[arg(long)]
    input: PathBuf,
    /// `volumes` (CT files directly in --input), `deepmind`, `dicom` or `labelmap`; detected
    /// when absent.
    #[arg(long)]
    layout: Option<InputLayout>,
    /// The predictions CSV to write (metrics.csv goes beside it).
    #[arg(long)]
    out: PathBuf,
    /// Probability above which a structure counts as present.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// `scan,patient` CSV naming each scan's patient (for the bootstrap of metrics.csv).
    #[arg(long)]
    patients: Option<PathBuf>,
    /// Slices per forward pass.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// cpu, wgpu[:N], vulkan[:N], tch[:N], cuda[:N] (default: TWINSCAN_DEVICE or cpu).
    #[arg(long)]
    device: Option<String>,
}

fn main() -> ExitCode {
    twinscan::cli::run_main(|| run(Args::parse()))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let device = DeviceSpec::from_arg_or_env(args.device.as_deref())?.device()?;
    let opts = PredictOptions {
        layout: args.layout,
        threshold: args.threshold,
        patients: args.patients,
        batch_size: args.batch_size,
        ..PredictOptions::new(args.model, args.input, args.out)
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} scans {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let summary = predict(&opts, &device, &mut |e| match e {
        PredictEvent::Started { scans } => bar.set_length(scans as u64),
        PredictEvent::Scan { id, slices } => {
            bar.set_message(format!("{id} ({slices} slices)"));
            bar.inc(1);
        }
    });
    bar.finish_and_clear();
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
}
