//! Loads a torchvision ResNet checkpoint (`.pth` or `.safetensors`) and writes its encoder
//! (no `fc`) as torchvision-named safetensors, e.g.
//! `cargo run --release -p twinscan-models --example export_encoder -- --arch resnet10 \
//!  --weights ../shared/fixtures/torchvision-resnet/weights.pth --out /tmp/encoder.safetensors`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use twinscan_models::weights::{self, LoadOptions};
use twinscan_models::{DeviceSpec, ResNetConfig};

#[derive(Parser)]
struct Args {
    /// Preset: resnet10, resnet18, resnet34, resnet50, resnet101.
    #[arg(long, default_value = "resnet18")]
    arch: String,
    /// Input channels of the checkpoint's stem.
    #[arg(long, default_value_t = 3)]
    in_channels: usize,
    /// Source checkpoint (.pth/.pt or .safetensors); its `fc` is ignored.
    #[arg(long)]
    weights: PathBuf,
    /// Destination .safetensors file.
    #[arg(long)]
    out: PathBuf,
    /// cpu|flex|wgpu|vulkan|tch|cuda[:N] (default: TWINSCAN_DEVICE or flex).
    #[arg(long)]
    device: Option<String>,
}

fn run(args: Args) -> twinscan_models::Result<()> {
    let device = DeviceSpec::from_arg_or_env(args.device.as_deref())?.device()?;
    let mut model = ResNetConfig::preset(&args.arch)?
        .with_in_channels(args.in_channels)
        .init(&device)?;
    let report = weights::load(&mut model, &args.weights, &LoadOptions::ignore_head())?;
    weights::export_encoder_safetensors(&model, &args.out)?;
    println!(
        "loaded {} tensors from {} (ignored: {:?}); wrote {}",
        report.applied,
        args.weights.display(),
        report.unexpected,
        args.out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
