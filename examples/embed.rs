//! An encoder's features of a prepared dataset, for your own analysis.
//!
//! `cargo run --release --example embed -- --encoder FILE --data PREPARED_DIR --out DIR
//! [--split train|val|test|all] [--color-by Brain] [--knn K] [--device ...]`
//!
//! `FILE`: a pretraining's `encoder.safetensors`, a classification run's `model.safetensors`
//! (its encoder), or a torchvision `.pth` / `.safetensors` (then `--arch`, `--in-channels`,
//! `--image-size` say what it is). Writes `embeddings.npy` (N × D float32, labels.csv order),
//! `index.csv` (row → scan, patient, slice, z_mm, split, tri-state labels), `pca.png`, and
//! with `--knn K` the pretraining's kNN probe (`knn.json`). See `twinscan::embed`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use twinscan::embed::{EmbedOptions, embed};
use twinscan_data::split::Split;
use twinscan_models::DeviceSpec;

/// Exports an encoder's features of a prepared dataset (embeddings.npy, index.csv, pca.png).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Encoder weights (encoder.safetensors, model.safetensors, torchvision .pth/.safetensors).
    #[arg(long)]
    encoder: PathBuf,
    /// Prepared dataset folder.
    #[arg(long)]
    data: PathBuf,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// train, val, test or all.
    #[arg(long, default_value = "all")]
    split: String,
    /// Structure whose label colours pca.png (default: the first with both classes).
    #[arg(long)]
    color_by: Option<String>,
    /// Also run the kNN probe (train split as memory, validation scored) with K neighbours.
    #[arg(long)]
    knn: Option<usize>,
    /// Architecture of a file without twinscan metadata.
    #[arg(long)]
    arch: Option<String>,
    /// Input channels of a file without twinscan metadata.
    #[arg(long)]
    in_channels: Option<usize>,
    /// Input size of a file without twinscan metadata.
    #[arg(long)]
    image_size: Option<usize>,
    /// cpu, wgpu[:N], vulkan[:N], tch[:N], cuda[:N] (default: TWINSCAN_DEVICE or cpu).
    #[arg(long)]
    device: Option<String>,
}

fn main() -> ExitCode {
    twinscan::cli::run_main(|| run(Args::parse()))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let split = match args.split.as_str() {
        "all" => None,
        s => Some(
            s.parse::<Split>()
                .map_err(|_| format!("--split: {s:?} is not train, val, test or all"))?,
        ),
    };
    let device = DeviceSpec::from_arg_or_env(args.device.as_deref())?.device()?;
    let opts = EmbedOptions {
        split,
        color_by: args.color_by,
        knn: args.knn,
        arch: args.arch,
        in_channels: args.in_channels,
        image_size: args.image_size,
        ..EmbedOptions::new(args.encoder, args.data, args.out)
    };
    let s = embed(&opts, &device)?;
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "{} x {} embeddings in {:.1} s ({:.2} s per 1000 slices): {}",
        s.rows,
        s.dim,
        s.feature_seconds,
        1000.0 * s.feature_seconds / s.rows.max(1) as f64,
        s.embeddings.display()
    );
    println!("index: {}", s.index.display());
    println!(
        "pca: {} (coloured by {}; PC1 {:.1} %, PC2 {:.1} % of variance)",
        s.pca.display(),
        s.color_by,
        100.0 * s.explained[0],
        100.0 * s.explained[1]
    );
    if let Some(k) = &s.knn {
        println!("{k}");
    }
    Ok(())
}
