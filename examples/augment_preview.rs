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

use std::process::ExitCode;

use clap::Parser;
use twinscan::cli::{preview::PreviewArgs, run_main};
use twinscan::preview::{preview_tiles, write_grid};
use twinscan_augment::Pipeline;

fn main() -> ExitCode {
    run_main(|| {
        let args = PreviewArgs::parse();
        let pipe = Pipeline::from_name_or_path(&args.preset)?;
        if args.print_spec {
            println!("{}", serde_json::to_string_pretty(&pipe.resolved_spec())?);
            return Ok(());
        }
        let (input, what) = args.source().load()?;
        let tiles = preview_tiles(&pipe, &input, &what, args.views, args.seed)?;
        write_grid(&args.out, &tiles, args.columns())?;
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
