//! Barlow Twins pretraining on a prepared dataset (the study's settings by default).
//!
//! `cargo run --release --example pretrain -- --data DIR --out DIR [--objective barlow|vicreg] [--arch resnet18]
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
use twinscan::cli::{pretrain::PretrainArgs, run_main};
use twinscan::pretrain_curves::pretrain_with_curves;
use twinscan::progress::PretrainProgress;
use twinscan_ssl::pretrain::{PretrainRun, RunFile, files};

fn main() -> ExitCode {
    run_main(|| {
        let args = PretrainArgs::parse();
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
        let (device, data_parallel) = args.devices()?;
        match data_parallel.as_slice() {
            [] => println!("device: {}", twinscan_models::device_name(&device)),
            specs => {
                let names: Vec<String> = specs
                    .iter()
                    .map(|s| Ok(twinscan_models::device_name(&s.device()?)))
                    .collect::<Result<_, twinscan_models::ModelsError>>()?;
                println!(
                    "data parallel, one replica per device: {}",
                    names.join(", ")
                );
            }
        }
        let run = PretrainRun {
            config: args.config(saved)?,
            device,
            data_parallel,
            data: args.data.clone(),
            out: args.out.clone(),
            resume: args.resume,
        };
        let bar = PretrainProgress::new(args.quiet);
        let stop = args.stop_after.unwrap_or(run.config.epochs);
        let summary = pretrain_with_curves(&run, stop, &mut |e| bar.event(e));
        bar.finish();
        let s = summary?;
        let (done, steps, ck) = (s.epochs_done, s.steps, s.checkpoint.display());
        match &s.encoder {
            Some(enc) => println!(
                "{done} epochs, {steps} steps; encoder (torchvision keys) -> {}; checkpoint {ck}",
                enc.display()
            ),
            None => println!(
                "stopped after {done} of {} epochs ({steps} steps); checkpoint {ck}; \
                 continue with --resume",
                run.config.epochs
            ),
        }
        Ok(())
    })
}
