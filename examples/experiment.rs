//! Runs a grid of pretrainings and classification runs from a TOML file and writes the
//! study's per-structure tables (held-out macro F1 and AUROC, mean ± sd over seeds).
//!
//! `cargo run --release --example experiment -- --grid examples/configs/quick.toml
//! --data DIR --out DIR [--device cpu|wgpu|tch|cuda[:N]] [--max-new-runs N]`
//!
//! Finished pretrainings and runs are reused: run the same command again to continue an
//! interrupted grid. See `twinscan::experiment` for the file format and output layout.
//!
//! Exit codes: 0 the grid is complete (tables written); 1 an error; 2 a bad command line;
//! 3 `--max-new-runs` stopped an unfinished grid (run the same command again), so a script
//! can loop: `while cargo run ... --max-new-runs 4; [ $? -eq 3 ]; do :; done`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use twinscan::experiment::{GridFile, GridOptions, run_grid};
use twinscan_models::DeviceSpec;

/// Run an experiment grid (TOML) and write its result tables.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The grid file (see examples/configs/study.toml and quick.toml).
    #[arg(long)]
    grid: PathBuf,
    /// Prepared dataset (overrides the grid's `data`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder (pretrainings, runs, tables).
    #[arg(long)]
    out: PathBuf,
    /// Device: cpu (default), wgpu, vulkan, tch, cuda[:N]; also TWINSCAN_DEVICE.
    #[arg(long)]
    device: Option<String>,
    /// Stop after this many new classification runs (continue later with the same command).
    #[arg(long)]
    max_new_runs: Option<usize>,
}

/// Exit code of a grid left unfinished by `--max-new-runs`.
const UNFINISHED: u8 = 3;

fn main() -> ExitCode {
    twinscan::cli::run_main(|| {
        let complete = run(Args::parse())?;
        Ok(if complete {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(UNFINISHED)
        })
    })
}

/// Runs the grid; `Ok(false)` when it stopped unfinished.
fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let file = GridFile::read(&args.grid)?;
    let data = args
        .data
        .clone()
        .or_else(|| file.data.clone())
        .ok_or("no dataset: pass --data DIR or set `data` in the grid file")?;
    let grid = file.expand(&data, &args.out, &args.grid)?;
    let device = DeviceSpec::from_arg_or_env(args.device.as_deref())?.device()?;
    println!(
        "{} pretraining(s), {} classification run(s) -> {}",
        grid.pretrainings.len(),
        grid.runs.len(),
        args.out.display()
    );
    let options = GridOptions {
        max_new_runs: args.max_new_runs,
    };
    let outcome = twinscan::progress::with_grid_progress(|on_event| {
        run_grid(&grid, &device, &options, on_event)
    })?;
    if outcome.complete {
        for t in &outcome.tables {
            println!("\n{t}");
        }
        println!(
            "{} run(s) executed, {} reused; tables and charts in {}",
            outcome.executed,
            outcome.cached,
            args.out.display()
        );
    } else {
        println!(
            "stopped after {} new run(s) ({} reused); run the same command to continue \
             (exit code {UNFINISHED})",
            outcome.executed, outcome.cached
        );
    }
    Ok(outcome.complete)
}
