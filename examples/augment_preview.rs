//! Writes a PNG grid: an input CT slice and N augmented views from a preset, so a person can
//! see what each augmentation does.
//!
//! `cargo run --release --no-default-features --example augment_preview -- \
//!     [--input FILE.png | --data DIR [--row N]] [--preset study_barlow] [--views 8] \
//!     [--seed 0] [--out preview.png] [--print-spec]`
//!
//! Without `--input`/`--data` it uses `twinscan_data::synth::phantom_slice` (HU, shown through
//! a [-1000, 1000] HU window). The preset's final `Normalize` is left out so that views stay
//! in [0, 1] for display (values outside are clipped). Views alternate between the pipeline's
//! view 0 and view 1 (the same recipe unless the preset is asymmetric, e.g. `byol`).

use std::fs::File;
use std::io::{BufWriter, Cursor};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use twinscan_augment::{InputPlane, Pipeline, Plane, SampleKey, Transform, Worker};

/// Preview of an augmentation preset on one CT slice.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A grey PNG (8- or 16-bit) to augment.
    #[arg(long, conflicts_with = "data")]
    input: Option<PathBuf>,
    /// A prepared dataset folder (labels.csv with an `image` column of PNG paths).
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

type Error = Box<dyn std::error::Error>;

/// Decodes a grey PNG into [0, 1]; RGB is converted with BT.601 weights. A prepared PNG with
/// several HU-window channels stacked vertically (height a multiple of width) gives its first
/// channel.
fn read_png(path: &Path) -> Result<Plane, Error> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut dec = png::Decoder::new(Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec
        .read_info()
        .map_err(|e| format!("{}: not a valid PNG: {e}", path.display()))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| format!("{}: PNG too large", path.display()))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("{}: truncated or corrupt PNG: {e}", path.display()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let wide = info.bit_depth == png::BitDepth::Sixteen;
    let sample = |i: usize| -> f32 {
        if wide {
            u16::from_be_bytes([buf[2 * i], buf[2 * i + 1]]) as f32 / 65535.0
        } else {
            buf[i] as f32 / 255.0
        }
    };
    let mut data = Vec::with_capacity(w * h);
    for p in 0..w * h {
        let v = match channels {
            1 | 2 => sample(p * channels),
            _ => {
                let b = p * channels;
                0.299 * sample(b) + 0.587 * sample(b + 1) + 0.114 * sample(b + 2)
            }
        };
        data.push(v);
    }
    let h = if h > w && h % w == 0 { w } else { h };
    data.truncate(w * h);
    Ok(Plane::from_vec(h, w, data)?)
}

/// The PNG of row `row` of `dir/labels.csv` (column `image`, relative to `dir`).
fn dataset_slice(dir: &Path, row: usize) -> Result<Plane, Error> {
    let csv_path = dir.join("labels.csv");
    let mut rdr = csv::Reader::from_path(&csv_path)
        .map_err(|e| format!("cannot read {}: {e}", csv_path.display()))?;
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: {e}", csv_path.display()))?
        .clone();
    let col = headers
        .iter()
        .position(|h| h == "image")
        .ok_or_else(|| format!("{}: no `image` column", csv_path.display()))?;
    let rec = rdr
        .records()
        .nth(row)
        .ok_or_else(|| format!("{}: no row {row}", csv_path.display()))?
        .map_err(|e| format!("{}: {e}", csv_path.display()))?;
    let rel = rec.get(col).filter(|s| !s.is_empty()).ok_or_else(|| {
        format!(
            "{}: row {row} has no image (prepared without PNGs?)",
            csv_path.display()
        )
    })?;
    read_png(&dir.join(rel))
}

/// A synthetic head slice from the data crate, HU mapped through a [-1000, 1000] window.
fn synthetic_slice(seed: u64) -> Plane {
    let n = 128;
    let hu = twinscan_data::synth::phantom_slice(n, seed);
    let data = hu
        .iter()
        .map(|&v| ((v + 1000.0) / 2000.0).clamp(0.0, 1.0))
        .collect();
    Plane::from_vec(n, n, data).expect("n² values")
}

/// Writes tiles (each `side × side`) in a grid with a 2-px black gutter, as 8-bit grey.
fn write_grid(path: &Path, tiles: &[Plane], cols: usize) -> Result<(), Error> {
    let side = tiles[0].h.max(tiles[0].w);
    let rows = tiles.len().div_ceil(cols);
    let g = 2;
    let (gw, gh) = (cols * (side + g) + g, rows * (side + g) + g);
    let mut img = vec![0u8; gw * gh];
    for (t, tile) in tiles.iter().enumerate() {
        let (ty, tx) = (t / cols, t % cols);
        for y in 0..tile.h {
            for x in 0..tile.w {
                let v = (tile.at(y, x).clamp(0.0, 1.0) * 255.0).round() as u8;
                img[(g + ty * (side + g) + y) * gw + g + tx * (side + g) + x] = v;
            }
        }
    }
    let tmp = twinscan_data::atomic::TempFile::new(path)?;
    {
        let file = File::create(tmp.path())
            .map_err(|e| format!("cannot create {}: {e}", tmp.path().display()))?;
        let mut enc = png::Encoder::new(BufWriter::new(file), gw as u32, gh as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&img)?;
        w.finish()?;
    }
    tmp.persist()?; // on any error above, dropping `tmp` removes it
    Ok(())
}

fn run(args: &Args) -> Result<(), Error> {
    let mut pipe = Pipeline::from_name_or_path(&args.preset)?;
    if args.print_spec {
        println!("{}", serde_json::to_string_pretty(&pipe.resolved_spec())?);
        return Ok(());
    }
    for view in std::iter::once(&mut pipe.view_a).chain(pipe.view_b.iter_mut()) {
        view.transforms
            .retain(|t| !matches!(t, Transform::Normalize(_)));
    }
    let (input, what) = match (&args.input, &args.data) {
        (Some(p), _) => (read_png(p)?, p.display().to_string()),
        (None, Some(d)) => (
            dataset_slice(d, args.row)?,
            format!("{} row {}", d.display(), args.row),
        ),
        (None, None) => (
            synthetic_slice(args.seed),
            "synthetic phantom slice".to_string(),
        ),
    };
    let (oh, ow) = pipe.output_shape(input.h, input.w)?;
    // the input tile is shown at the views' size (resized by the preset's Resize if any)
    let mut shown = input.clone();
    if (input.h, input.w) != (oh, ow) {
        let r = Transform::Resize(twinscan_augment::transforms::Resize {
            height: oh,
            width: ow,
            p: 1.0,
        });
        r.apply(
            &twinscan_augment::Params::Fixed,
            &mut shown,
            &mut Default::default(),
        );
    }
    let mut tiles = vec![shown];
    let mut worker = Worker::default();
    let inp = InputPlane::from_plane(&input);
    inp.validate(&what)?;
    for v in 0..args.views as u64 {
        let key = SampleKey {
            seed: args.seed,
            epoch: 0,
            index: v / 2,
            view: v % 2,
            domain: 0,
        };
        tiles.push(pipe.augment(&inp, key, &mut worker).clone());
    }
    let cols = (args.views + 1).clamp(1, 5);
    write_grid(&args.out, &tiles, cols)?;
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("augment_preview: {e}");
            ExitCode::FAILURE
        }
    }
}
