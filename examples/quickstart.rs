//! The README's main job, on the CPU default and on data it generates itself.
//!
//! `cargo run --release --example quickstart [-- --out runs/quickstart --scans 8 --seed 0]`
//!
//! Stage 1 synthesises a small head-and-neck CT cohort as real NRRD files (DeepMind layout);
//! stage 2 prepares it into a labelled slice dataset with a patient-level split. Later stages
//! (Barlow Twins pretraining, frozen and finetuned probes, the per-structure table) are added
//! as twinscan-ssl and twinscan-classify land.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use twinscan_data::prepare::{PrepareConfig, Progress, prepare};
use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};

/// Synthesise a small CT cohort and prepare it into a labelled slice dataset.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Everything goes under this folder (its `cohort/` and `prepared/` are replaced).
    #[arg(long, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Number of synthetic scans (one per patient, except that the generator gives some
    /// patients two scans when it does).
    #[arg(long, default_value_t = 8)]
    scans: usize,
    /// In-plane voxels of the synthetic CT.
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Side of the prepared slices in pixels.
    #[arg(long, default_value_t = 128)]
    slice_size: usize,
    /// Seed of the cohort and of the split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Removes a folder this program wrote on an earlier run (only `cohort/` and `prepared/`
/// under `--out`, never anything else).
fn clear(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("{}: cannot remove: {e}", dir.display()))?;
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let cohort = args.out.join("cohort");
    let prepared = args.out.join("prepared");
    clear(&cohort)?;
    clear(&prepared)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("{}: cannot create: {e}", args.out.display()))?;

    println!(
        "[1/2] synthesising {} scans -> {}",
        args.scans,
        cohort.display()
    );
    let synth = SynthConfig {
        scans: args.scans,
        size: args.size,
        seed: args.seed,
        ..SynthConfig::default()
    };
    write_cohort(&cohort, &synth, SynthFormat::Nrrd).map_err(|e| e.to_string())?;

    println!("[2/2] preparing -> {}", prepared.display());
    let mut config = PrepareConfig::new(&cohort, &prepared);
    config.size = args.slice_size;
    config.seed = args.seed;
    config.patients = Some(cohort.join("patients.csv"));
    let bar = indicatif::ProgressBar::new(0);
    let progress = |p: Progress| match p {
        Progress::Found { total, .. } => bar.set_length(total as u64),
        Progress::ScanDone { .. } => bar.inc(1),
        Progress::Finishing => bar.set_message("writing tables"),
    };
    let summary = prepare(&config, &progress).map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    print!("{}", twinscan_data::prepare_cli::summary_table(&summary));
    println!(
        "done in {:.1} s: labels {}, dataset {}, slice PNGs under {}",
        started.elapsed().as_secs_f64(),
        prepared.join("labels.csv").display(),
        prepared.join("dataset.json").display(),
        prepared.display()
    );
    Ok(())
}
