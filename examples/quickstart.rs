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
//! Everything goes under `--out`; finished stages are reused when it is run again.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use twinscan::experiment::{GridFile, GridOptions, run_grid};
use twinscan_data::prepare::{PrepareConfig, Progress, prepare};
use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};
use twinscan_models::DeviceSpec;

/// The quick grid (CPU-sized settings), built into the binary.
const QUICK_GRID: &str = include_str!("configs/quick.toml");

/// Synthesise a CT cohort, prepare it, pretrain Barlow Twins and compare classifiers.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Everything goes under this folder.
    #[arg(long, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Number of synthetic scans (some patients get two scans: `patients.csv`).
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
    /// Another grid file instead of the built-in quick grid.
    #[arg(long)]
    grid: Option<PathBuf>,
    /// Device: cpu (default), wgpu, vulkan, tch, cuda[:N]; also TWINSCAN_DEVICE.
    #[arg(long)]
    device: Option<String>,
    /// Only synthesise and prepare (stages 1 and 2).
    #[arg(long)]
    data_only: bool,
}

fn main() -> ExitCode {
    twinscan::cli::run_main(|| run(&Args::parse()))
}

/// Removes a folder this program wrote on an earlier run (only `cohort/` under `--out`).
fn clear(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("{}: cannot remove: {e}", dir.display()))?;
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let cohort = args.out.join("cohort");
    let prepared = args.out.join("prepared");
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("{}: cannot create: {e}", args.out.display()))?;
    // Check the grid and the device before spending time on data.
    let (grid_file, origin) = match &args.grid {
        Some(p) => (GridFile::read(p)?, p.clone()),
        None => {
            let origin = PathBuf::from("examples/configs/quick.toml (built in)");
            (
                GridFile::parse(QUICK_GRID, &origin, Path::new("."))?,
                origin,
            )
        }
    };
    grid_file.check(&origin)?;
    let device = DeviceSpec::from_arg_or_env(args.device.as_deref())?.device()?;

    if prepared.join("dataset.json").is_file() {
        println!(
            "[1-2/3] reusing the prepared dataset {}",
            prepared.display()
        );
    } else {
        clear(&cohort)?;
        println!(
            "[1/3] synthesising {} scans -> {}",
            args.scans,
            cohort.display()
        );
        let synth = SynthConfig {
            scans: args.scans,
            size: args.size,
            seed: args.seed,
            ..SynthConfig::default()
        };
        write_cohort(&cohort, &synth, SynthFormat::Nrrd)?;

        println!("[2/3] preparing -> {}", prepared.display());
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
        let summary = prepare(&config, &progress)?;
        bar.finish_and_clear();
        print!("{}", twinscan_data::prepare::summary_table(&summary));
        println!(
            "prepared in {:.1} s: {} and {}",
            started.elapsed().as_secs_f64(),
            prepared.join("labels.csv").display(),
            prepared.join("dataset.json").display(),
        );
    }
    if args.data_only {
        return Ok(());
    }

    let grid = grid_file.expand(&prepared, &args.out, &origin)?;
    println!(
        "[3/3] {} pretraining(s) and {} classification run(s) ({})",
        grid.pretrainings.len(),
        grid.runs.len(),
        origin.display()
    );
    let outcome = twinscan::progress::with_grid_progress(|on_event| {
        run_grid(&grid, &device, &GridOptions::default(), on_event)
    })?;
    // The F1 table and the paired deltas against the baseline.
    for table in [outcome.tables.first(), outcome.tables.get(2)]
        .into_iter()
        .flatten()
    {
        println!("\n{table}");
    }
    println!("Files under {}:", args.out.display());
    for (what, path) in [
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
    ] {
        println!("  {what:<22} {path}");
    }
    println!("total {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
