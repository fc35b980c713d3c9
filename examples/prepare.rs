//! Prepares a dataset folder (labels.csv, slice cache, PNGs, dataset.json) from CT scans.
//!
//! `cargo run --release --example prepare -- --input DIR --out DIR [--layout deepmind|totalsegmentator|dicom|nbia|labelmap] [--rtstruct newest|largest|label:L] [--ct-name GLOB] [--masks-dir NAME] [--spacing MM]
//! [--size 128] [--window 40:400|brain|soft_tissue|lung|bone|head_neck ...] [--hu-range MIN:MAX ...] [--aliases FILE] [--structures study|all] [--label-rule exact|bbox]
//! [--mask-stats] [--split 0.7:0.15:0.15] [--seed N] [--patients FILE | --ignore-patients-csv]
//! [--annotator oncologist|radiographer|both] [--no-group-scan-suffix] [--bits 8|16] [--no-png] [--force]`

use std::process::ExitCode;

use clap::Parser;
use twinscan::cli::prepare::{PrepareArgs, explain};
use twinscan::cli::run_main;
use twinscan::progress::PrepareProgress;
use twinscan_data::prepare::{prepare, summary_table};

fn main() -> ExitCode {
    run_main(|| {
        let args = PrepareArgs::parse();
        for w in args.warnings() {
            eprintln!("warning: {w}");
        }
        let config = args.to_config()?;
        let bar = PrepareProgress::new(&config.input);
        let started = std::time::Instant::now();
        let summary = prepare(&config, &|p| bar.event(p)).map_err(|e| {
            bar.abandon();
            eprintln!("nothing was written to {}", config.out.display());
            explain(e)
        })?;
        bar.finish();
        let secs = started.elapsed().as_secs_f64();
        print!("{}", summary_table(&summary));
        if let Some(w) = &summary.split_warning {
            eprintln!("warning: {w}");
        }
        println!(
            "{} slices in {secs:.1} s ({:.0} slices/s) -> {}",
            summary.counts.slices,
            summary.counts.slices as f64 / secs.max(1e-9),
            summary.out.display()
        );
        if let Some(first) = summary.warnings.first() {
            let n = summary.warnings.len();
            println!("{n} warning(s), listed in dataset.json; first: {first}");
        }
        Ok(())
    })
}
