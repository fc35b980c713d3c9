//! twinscan-data and twinscan-augment as libraries (no burn): synthesise a small cohort,
//! prepare it, read one training slice and augment it twice (the Barlow Twins pair), as the
//! README's "Use it as a library" section does in a crate of your own.
//!
//! `cargo run --release --no-default-features --example library_use -- [OUT_DIR]`

use std::path::PathBuf;

use twinscan_augment::{InputPlane, Pipeline};
use twinscan_data::{Prepared, Split, SynthConfig, SynthFormat, prepare, write_cohort};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/library_use".into());
    if arg == "--help" || arg == "-h" {
        println!("usage: library_use [OUT_DIR] (prepare, read, augment)");
        return Ok(());
    }
    let out = PathBuf::from(arg);

    // 1. Scans: a synthetic head-and-neck cohort as NRRD files (use your own folder instead).
    let scans = out.join("scans");
    if !scans.exists() {
        let cohort = SynthConfig {
            scans: 4,
            size: 64,
            ..SynthConfig::default()
        };
        write_cohort(&scans, &cohort, SynthFormat::Nrrd)?;
    }

    // 2. Prepare: canonical orientation, HU window, 64² slices, tri-state labels, split.
    let mut config = twinscan_data::PrepareConfig::new(&scans, out.join("prepared"));
    config.size = 64;
    config.overwrite = true;
    let summary = prepare(&config, &|_| {})?;

    // 3. Read: memory-mapped slices and labels.
    let data = Prepared::open(&summary.out)?;
    let row = data.indices(Split::Train)[0];
    let s = data.size();
    let pixels = &data.image(row)[..s * s]; // first HU window, 8-bit
    println!(
        "{} slices; row {row}: labels {:?}",
        data.len(),
        data.labels(row)
    );

    // 4. Augment: two seeded views of that slice, 1 × 64 × 64 each, normalised.
    let pipe = Pipeline::preset("study_barlow")?.with_output_size(64, 64);
    let (mut a, mut b) = (vec![0f32; 64 * 64], vec![0f32; 64 * 64]);
    let input = InputPlane::u8(s, s, pixels);
    pipe.two_views_batch(&[input], 0, 0, &[row as u64], &mut a, &mut b)?;
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    println!("view means {:.3} / {:.3}", mean(&a), mean(&b));
    Ok(())
}
