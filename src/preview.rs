//! What the `augment_preview` example does, burn-free: one CT slice and N augmented views of
//! a pipeline, written as a grid PNG so a person can see what each augmentation does.

use std::error::Error;
use std::path::{Path, PathBuf};

use twinscan_augment::{InputPlane, Params, Pipeline, Plane, SampleKey, Transform, Worker};
use twinscan_data::Prepared;
use twinscan_data::png_io::{PngPixels, read_png_gray, write_png_gray};

/// Where the previewed slice comes from.
#[derive(Debug, Clone)]
pub enum PreviewSource {
    /// A grey PNG (8 or 16 bit; RGB converted). A prepared PNG with several HU-window
    /// channels stacked vertically (height a multiple of width) gives its first channel.
    Png(PathBuf),
    /// Slice `row` of a prepared dataset (its first HU-window channel, from the slice cache).
    Dataset {
        /// The prepared dataset folder.
        dir: PathBuf,
        /// 0-based row of its labels.csv.
        row: usize,
    },
    /// `twinscan_data::synth::phantom_slice` (128², HU through a [-1000, 1000] window).
    Synthetic {
        /// Seed of the phantom.
        seed: u64,
    },
}

impl PreviewSource {
    /// The slice in [0, 1] and a description of it.
    ///
    /// # Errors
    /// An unreadable PNG or dataset, or a row past the dataset's end, naming the file.
    pub fn load(&self) -> Result<(Plane, String), Box<dyn Error>> {
        Ok(match self {
            Self::Png(p) => {
                let g = read_png_gray(p)?;
                let w = g.width;
                let h = if g.height > w && g.height % w == 0 {
                    w
                } else {
                    g.height
                };
                let mut values = g.values;
                values.truncate(w * h);
                (Plane::from_vec(h, w, values)?, p.display().to_string())
            }
            Self::Dataset { dir, row } => {
                let data = Prepared::open(dir)?;
                if *row >= data.len() {
                    return Err(format!(
                        "{}: row {row} asked for, the dataset has {} slices",
                        dir.display(),
                        data.len()
                    )
                    .into());
                }
                let s = data.size();
                let values = data.image(*row)[..s * s]
                    .iter()
                    .map(|&v| f32::from(v) / 255.0)
                    .collect();
                let what = format!("{} row {row}", dir.display());
                (Plane::from_vec(s, s, values)?, what)
            }
            Self::Synthetic { seed } => {
                let n = 128;
                let values = twinscan_data::synth::phantom_slice(n, *seed)
                    .iter()
                    .map(|&v| ((v + 1000.0) / 2000.0).clamp(0.0, 1.0))
                    .collect();
                let what = "synthetic phantom slice".to_string();
                (Plane::from_vec(n, n, values)?, what)
            }
        })
    }
}

/// The input (resized to the views' size when the pipeline resizes) followed by `views`
/// augmented views, alternating the pipeline's view 0 and view 1, keys `(seed, 0, v / 2,
/// v % 2)`. The pipeline's `Normalize` steps are left out so that tiles stay in [0, 1].
///
/// # Errors
/// A pipeline that does not fit the input, or an input with non-finite values.
pub fn preview_tiles(
    pipe: &Pipeline,
    input: &Plane,
    what: &str,
    views: usize,
    seed: u64,
) -> Result<Vec<Plane>, Box<dyn Error>> {
    let mut pipe = pipe.clone();
    for view in std::iter::once(&mut pipe.view_a).chain(pipe.view_b.iter_mut()) {
        view.transforms
            .retain(|t| !matches!(t, Transform::Normalize(_)));
    }
    let (oh, ow) = pipe.output_shape(input.h, input.w)?;
    let mut shown = input.clone();
    if (input.h, input.w) != (oh, ow) {
        let resize = twinscan_augment::transforms::Resize {
            height: oh,
            width: ow,
            p: 1.0,
        };
        Transform::Resize(resize).apply(&Params::Fixed, &mut shown, &mut Default::default());
    }
    let inp = InputPlane::from_plane(input);
    inp.validate(what)?;
    let mut worker = Worker::default();
    let mut tiles = vec![shown];
    for v in 0..views as u64 {
        let key = SampleKey {
            seed,
            epoch: 0,
            index: v / 2,
            view: v % 2,
            domain: 0,
        };
        tiles.push(pipe.augment(&inp, key, &mut worker).clone());
    }
    Ok(tiles)
}

/// Writes `tiles` in a grid of `cols` columns with a 2-px black gutter as one 8-bit grey PNG
/// (values clipped to [0, 1]), through a temporary file renamed when complete.
///
/// # Errors
/// Writing errors naming the file.
pub fn write_grid(path: &Path, tiles: &[Plane], cols: usize) -> Result<(), Box<dyn Error>> {
    let Some(first) = tiles.first() else {
        return Err("no tiles to write".into());
    };
    let side = first.h.max(first.w);
    let cols = cols.max(1);
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
    // Through a temporary sibling, renamed when complete (removed on error).
    let tmp = twinscan_data::atomic::TempFile::new(path)?;
    write_png_gray(tmp.path(), gw, gh, PngPixels::Eight(&img))?;
    tmp.persist()?;
    Ok(())
}
