//! Barlow Twins pretraining on a prepared dataset (the study's settings by default).
//!
//! `cargo run --release --example pretrain -- --data DIR --out DIR [--arch resnet18]
//! [--augment study_barlow|only:elastic|...] [--projector 512-8192-8192-8192] [--epochs N]
//! [--batch-size N] [--init imagenet:FILE|barlow:FILE] [--device cpu|wgpu|tch|cuda[:N]]
//! [--resume]`
//!
//! `--out` receives `config.json`, `log.jsonl` (one line per step and per epoch),
//! `checkpoints/epoch-NNNN/` (every epoch, atomic), `curves.png` (redrawn at every
//! checkpoint) and, at the end, `encoder.safetensors` with torchvision key names and its
//! inputs in the metadata. Interrupt it and run the same command with `--resume`.

use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use twinscan::pretrain_curves::pretrain_with_curves;
use twinscan_ssl::cli::PretrainArgs;
use twinscan_ssl::pretrain::{Event, PretrainRun, RunFile, files};

fn main() -> ExitCode {
    match run(PretrainArgs::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints above the bar on a terminal, or as a plain line when the bar is hidden (a log file).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

fn run(args: PretrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    // A resumed run starts from its saved configuration; flags given must agree with it.
    let saved = if args.resume {
        let path = args.out.join(files::CONFIG);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("{}: nothing to resume: {e}", path.display()))?;
        let file: RunFile =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Some(file.config)
    } else {
        None
    };
    let config = args.config(saved)?;
    let device = args.device()?;
    println!("device: {}", twinscan_models::device_name(&device));
    let run = PretrainRun {
        data: args.data.clone(),
        out: args.out.clone(),
        config,
        device,
        resume: args.resume,
    };
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps, epoch {prefix} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let stop = args.stop_after.unwrap_or(run.config.epochs);
    let summary = pretrain_with_curves(&run, stop, &mut |event| match event {
        Event::Started {
            epochs,
            steps_per_epoch,
            first_epoch,
            train_slices,
        } => {
            bar.set_length(epochs * steps_per_epoch);
            bar.set_position(first_epoch * steps_per_epoch);
            say(
                &bar,
                format!(
                    "{train_slices} train slices, {steps_per_epoch} steps/epoch, epochs {first_epoch}..{epochs}"
                ),
            );
        }
        Event::Step(r) => {
            bar.set_prefix((r.epoch + 1).to_string());
            bar.set_message(format!(
                "loss {:.1} (on {:.1}, off {:.0}), std {:.4}, {:.1} img/s",
                r.stats.loss,
                r.stats.on_diag,
                r.stats.off_diag,
                r.stats.embedding_std,
                r.images_per_s
            ));
            bar.inc(1);
        }
        Event::Epoch(r) => say(&bar, r.to_string()),
        Event::Checkpoint(_) => {}
        Event::InitialProbe(k) => say(&bar, format!("before training: {k}")),
    });
    bar.finish_and_clear();
    let summary = summary?;
    match &summary.encoder {
        Some(enc) => println!(
            "{} epochs, {} steps; encoder (torchvision keys) -> {}; checkpoint {}",
            summary.epochs_done,
            summary.steps,
            enc.display(),
            summary.checkpoint.display()
        ),
        None => println!(
            "stopped after {} of {} epochs ({} steps); checkpoint {}; continue with --resume",
            summary.epochs_done,
            run.config.epochs,
            summary.steps,
            summary.checkpoint.display()
        ),
    }
    Ok(())
}
