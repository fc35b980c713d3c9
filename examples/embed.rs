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

use std::process::ExitCode;

use clap::Parser;
use twinscan::cli::{device, embed::EmbedArgs, run_main};
use twinscan::embed::embed;

fn main() -> ExitCode {
    run_main(|| {
        let args = EmbedArgs::parse();
        let opts = args.options()?;
        let device = device(args.device.as_deref())?;
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
    })
}
