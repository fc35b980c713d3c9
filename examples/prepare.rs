//! Prepares a dataset folder (labels.csv, slice cache, PNGs, dataset.json) from CT scans.
//!
//! `cargo run --release --example prepare -- --input DIR --out DIR [--layout deepmind|totalsegmentator|dicom|nbia|labelmap] [--rtstruct newest|largest|label:L] [--ct-name GLOB] [--masks-dir NAME] [--spacing MM]
//! [--size 128] [--window 40:400|brain|soft_tissue|lung|bone|head_neck ...] [--hu-range MIN:MAX ...] [--aliases FILE] [--structures study|all] [--label-rule exact|bbox]
//! [--mask-stats] [--split 0.7:0.15:0.15] [--seed N] [--patients FILE | --ignore-patients-csv]
//! [--annotator oncologist|radiographer|both] [--no-group-scan-suffix] [--bits 8|16] [--no-png] [--force]`

use std::process::ExitCode;

use clap::Parser;
use twinscan_data::prepare::{Progress, prepare};
use twinscan_data::prepare_cli::PrepareArgs;

fn main() -> ExitCode {
    let args = PrepareArgs::parse();
    for w in args.warnings() {
        eprintln!("warning: {w}");
    }
    let config = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} scans, {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let slices = std::sync::atomic::AtomicUsize::new(0);
    let progress = |p: Progress| match p {
        Progress::Found { layout, total } => {
            bar.set_length(total as u64);
            bar.println(format!(
                "{total} {layout} scans under {}",
                config.input.display()
            ));
        }
        Progress::ScanDone { id: _, slices: n } => {
            let s = slices.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            bar.set_message(format!("{s} slices"));
            bar.inc(1);
        }
        Progress::Finishing => bar.set_message("writing tables".to_string()),
    };
    let started = std::time::Instant::now();
    match prepare(&config, &progress) {
        Ok(summary) => {
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            print!("{}", twinscan_data::prepare_cli::summary_table(&summary));
            if let Some(w) = &summary.split_warning {
                eprintln!("warning: {w}");
            }
            println!(
                "{} slices in {secs:.1} s ({:.0} slices/s) -> {}",
                summary.counts.slices,
                summary.counts.slices as f64 / secs.max(1e-9),
                summary.out.display()
            );
            if !summary.warnings.is_empty() {
                println!(
                    "{} warning(s), listed in dataset.json; first: {}",
                    summary.warnings.len(),
                    summary.warnings[0]
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            bar.abandon();
            eprintln!("error: {e}");
            eprintln!("nothing was written to {}", config.out.display());
            ExitCode::FAILURE
        }
    }
}
