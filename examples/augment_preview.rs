//! Writes a PNG grid: an input CT slice and N augmented views from a preset, so a person can
//! see what each augmentation does.
//!
//! `cargo run --release --no-default-features --example augment_preview -- \
//!     [--input FILE.png | --data DIR [--row N]] [--preset study_barlow] [--views 8] \
//!     [--seed 0] [--out preview.png] [--print-spec]`
//!
//! Without `--input`/`--data` it uses `twinscan_data::synth::phantom_slice` (HU, shown through
//! a [-1000, 1000] HU window); the work is in `twinscan::preview`. The preset's final `Normalize` is left out so that views stay
//! in [0, 1] for display (values outside are clipped). Views alternate between the pipeline's
//! view 0 and view 1 (the same recipe unless the preset is asymmetric, e.g. `byol`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use twinscan::cli::run_main;
use twinscan::preview::{PreviewSource, preview_tiles, write_grid};
use twinscan_augment::Pipeline;

/// Preview of an augmentation preset on one CT slice.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A grey PNG (8- or 16-bit) to augment.
    #[arg(long, conflicts_with = "data")]
    input: Option<PathBuf>,
    /// A prepared dataset folder (its slice cache; no PNGs needed).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Row of labels.csv to use with --data (0-based).
    #[arg(long, default_value_t = 0)]
    row: usize,
    /// Preset name (study_barlow, study_barlow_initial, study_supervised, study_eval,
    /// ablation:<aug>, only:<aug>, byol) or a .toml/.json pipeline config.
    #[arg(long, default_value = "study_barlow")]
    preset: String,
    /// Number of augmented views.
    #[arg(long, default_value_t = 8)]
    views: usize,
    /// Seed of the views.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output PNG.
    #[arg(long, default_value = "augment_preview.png")]
    out: PathBuf,
    /// Print the resolved preset (both views, every transform with its probability and
    /// parameters) as JSON and exit, without writing a preview.
    #[arg(long)]
    print_spec: bool,
}

fn main() -> ExitCode {
    run_main(|| {
        let args = Args::parse();
        let pipe = Pipeline::from_name_or_path(&args.preset)?;
        if args.print_spec {
            println!("{}", serde_json::to_string_pretty(&pipe.resolved_spec())?);
            return Ok(());
        }
        let source = match (&args.input, &args.data) {
            (Some(p), _) => PreviewSource::Png(p.clone()),
            (None, Some(dir)) => PreviewSource::Dataset {
                dir: dir.clone(),
                row: args.row,
            },
            (None, None) => PreviewSource::Synthetic { seed: args.seed },
        };
        let (input, what) = source.load()?;
        let tiles = preview_tiles(&pipe, &input, &what, args.views, args.seed)?;
        write_grid(&args.out, &tiles, (args.views + 1).clamp(1, 5))?;
        println!(
            "wrote {}: input ({what}, {}×{}) + {} views of `{}` (seed {})",
            args.out.display(),
            input.h,
            input.w,
            args.views,
            args.preset,
            args.seed
        );
        Ok(())
    })
}
