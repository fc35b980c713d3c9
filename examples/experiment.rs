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

use std::process::ExitCode;

use clap::Parser;
use twinscan::cli::experiment::{ExperimentArgs, UNFINISHED};
use twinscan::cli::{device, run_main};
use twinscan::experiment::run_grid;
use twinscan::progress::with_grid_progress;

fn main() -> ExitCode {
    run_main(|| {
        let args = ExperimentArgs::parse();
        let grid = args.grid()?;
        let device = device(args.device.as_deref())?;
        let out = args.out.display();
        let (pretrainings, runs) = (grid.pretrainings.len(), grid.runs.len());
        println!("{pretrainings} pretraining(s), {runs} classification run(s) -> {out}");
        let options = args.options();
        let outcome = with_grid_progress(|on_event| run_grid(&grid, &device, &options, on_event))?;
        if !outcome.complete {
            println!(
                "stopped after {} new run(s) ({} reused); run the same command to continue \
                 (exit code {UNFINISHED})",
                outcome.executed, outcome.cached
            );
            return Ok(ExitCode::from(UNFINISHED));
        }
        for t in &outcome.tables {
            println!("\n{t}");
        }
        let (executed, cached) = (outcome.executed, outcome.cached);
        println!("{executed} run(s) executed, {cached} reused; tables and charts in {out}");
        Ok(ExitCode::SUCCESS)
    })
}
