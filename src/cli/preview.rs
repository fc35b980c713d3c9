//! The `augment_preview` command line (clap): flags → a [`Pipeline`] and a
//! [`PreviewSource`].
//!
//! ```
//! use clap::Parser;
//! use twinscan::cli::preview::PreviewArgs;
//! use twinscan::preview::PreviewSource;
//! let a = PreviewArgs::try_parse_from(["augment_preview", "--data", "d", "--row", "3"]).unwrap();
//! assert!(matches!(a.source(), PreviewSource::Dataset { row: 3, .. }));
//! assert_eq!((a.preset.as_str(), a.views), ("study_barlow", 8));
//! assert!(PreviewArgs::try_parse_from(["augment_preview", "--input", "a.png", "--data", "d"]).is_err());
//! ```

use std::path::PathBuf;

use clap::Parser;

use crate::preview::PreviewSource;

/// Preview of an augmentation preset on one CT slice.
#[derive(Parser, Debug, Clone)]
#[command(version, about)]
pub struct PreviewArgs {
    /// A grey PNG (8- or 16-bit) to augment.
    #[arg(long, conflicts_with = "data")]
    pub input: Option<PathBuf>,
    /// A prepared dataset folder (its slice cache; no PNGs needed).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Row of labels.csv to use with --data (0-based).
    #[arg(long, default_value_t = 0)]
    pub row: usize,
    /// Preset name (study_barlow, study_barlow_initial, study_supervised, study_eval,
    /// ablation:<aug>, only:<aug>, byol) or a .toml/.json pipeline config.
    #[arg(long, default_value = "study_barlow")]
    pub preset: String,
    /// Number of augmented views.
    #[arg(long, default_value_t = 8)]
    pub views: usize,
    /// Seed of the views.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output PNG.
    #[arg(long, default_value = "augment_preview.png")]
    pub out: PathBuf,
    /// Print the resolved preset (both views, every transform with its probability and
    /// parameters) as JSON and exit, without writing a preview.
    #[arg(long)]
    pub print_spec: bool,
}

impl PreviewArgs {
    /// The slice to preview: `--input`, else row `--row` of `--data`, else the synthetic
    /// phantom (seeded with `--seed`).
    pub fn source(&self) -> PreviewSource {
        match (&self.input, &self.data) {
            (Some(p), _) => PreviewSource::Png(p.clone()),
            (None, Some(dir)) => PreviewSource::Dataset {
                dir: dir.clone(),
                row: self.row,
            },
            (None, None) => PreviewSource::Synthetic { seed: self.seed },
        }
    }

    /// Grid columns: the input and the views in one row, at most five per row.
    pub fn columns(&self) -> usize {
        (self.views + 1).clamp(1, 5)
    }
}
