//! The `prepare` command line (clap): flags → [`PrepareConfig`], tested without running the
//! binary. Library errors name config fields; the flag names live here.
//!
//! ```
//! use clap::Parser;
//! use twinscan::cli::prepare::PrepareArgs;
//! let a = PrepareArgs::try_parse_from(["prepare", "--input", "in", "--out", "out",
//!     "--window", "40:400", "--window", "300:1500", "--split", "0.8:0.1:0.1"]).unwrap();
//! let c = a.to_config().unwrap();
//! assert_eq!(c.windows.len(), 2);
//! assert_eq!(c.split.train, 0.8);
//! assert!(PrepareArgs::try_parse_from(["prepare", "--input", "in"]).is_err());
//! // A negative level after a space, a named window and an HU range.
//! let a = PrepareArgs::try_parse_from(["prepare", "--input", "in", "--out", "o",
//!     "--window", "-600:1500", "--window", "bone", "--hu-range", "-160:240"]).unwrap();
//! let w = a.to_config().unwrap().windows;
//! assert_eq!((w[0].level, w[0].width), (-600.0, 1500.0));
//! assert_eq!((w[1].level, w[1].width), (400.0, 1800.0));
//! assert_eq!((w[2].level, w[2].width), (40.0, 400.0));
//! ```

use std::path::PathBuf;

use clap::Parser;

use super::{Reworded, reword};
use twinscan_data::error::{DataError, Result};
use twinscan_data::labels::LabelRule;
use twinscan_data::layout::{Annotator, Layout};
use twinscan_data::prepare::PrepareConfig;
use twinscan_data::slices::{Window, parse_windows};
use twinscan_data::split::SplitFractions;
use twinscan_data::structures::StructureSelection;

/// Prepare a dataset folder (labels.csv, slice cache, PNGs, dataset.json) from CT scans.
#[derive(Parser, Debug, Clone)]
#[command(name = "prepare", version, about)]
pub struct PrepareArgs {
    /// Input folder holding the scans.
    #[arg(long)]
    pub input: PathBuf,
    /// Output folder (must not exist or be empty, unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Layout: deepmind, totalsegmentator, dicom, nbia or labelmap (auto-detected when
    /// absent).
    #[arg(long)]
    pub layout: Option<Layout>,
    /// CT + masks layouts: glob for the CT file name (default CT_IMAGE.* for deepmind,
    /// ct.* for totalsegmentator).
    #[arg(long)]
    pub ct_name: Option<String>,
    /// CT + masks layouts: name of the masks folder (default segmentations).
    #[arg(long)]
    pub masks_dir: Option<String>,
    /// nbia layout, several RTSTRUCTs for one CT series: newest (StructureSetDate/Time),
    /// largest (most ROIs with contours) or label:NAME (the StructureSetLabel NAME).
    #[arg(long, default_value = "newest")]
    pub rtstruct: twinscan_data::nbia::RtStructChoice,
    /// Image side in pixels.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// HU window LEVEL:WIDTH (`-600:1500` works after a space too) or a name: brain 40:80,
    /// soft_tissue 40:400 (the default), lung -600:1500, bone 400:1800, head_neck 40:350.
    /// Repeat (or comma-separate) to stack windows as channels.
    #[arg(long, allow_hyphen_values = true)]
    pub window: Vec<String>,
    /// HU range MIN:MAX as a window (level (MIN+MAX)/2, width MAX−MIN); repeatable, added
    /// after the --window channels.
    #[arg(long, allow_hyphen_values = true)]
    pub hu_range: Vec<String>,
    /// In-plane pixel size in mm: slices resampled to it, then centre-cropped or padded
    /// with air to --size (default: the whole field of view resized to --size).
    #[arg(long)]
    pub spacing: Option<f64>,
    /// CSV `alias,canonical` extending the built-in structure names.
    #[arg(long)]
    pub aliases: Option<PathBuf>,
    /// `study` (the 21 canonical structures) or `all` (every structure found).
    #[arg(long, default_value = "study")]
    pub structures: StructureSelection,
    /// `exact` (mask touches the slice) or `bbox` (within the mask's z-extent).
    #[arg(long, default_value = "exact")]
    pub label_rule: LabelRule,
    /// Also write mask_pixels.csv (native-resolution voxel counts per slice and structure).
    #[arg(long)]
    pub mask_stats: bool,
    /// Patient-level split TRAIN:VAL:TEST.
    #[arg(long, default_value = "0.7:0.15:0.15")]
    pub split: SplitFractions,
    /// Split seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// CSV `scan,patient` giving patient ids (DICOM PatientID takes precedence). Default:
    /// the input folder's `patients.csv`, when there is one.
    #[arg(long)]
    pub patients: Option<PathBuf>,
    /// Do not read the input folder's `patients.csv` (folder names are the patients).
    #[arg(long)]
    pub ignore_patients_csv: bool,
    /// deepmind layout: oncologist, radiographer or both (both: two scans per patient).
    #[arg(long, default_value = "oncologist")]
    pub annotator: Annotator,
    /// deepmind layout: keep folder names differing by a trailing letter (0522c0727a,
    /// 0522c0727b) as separate patients.
    #[arg(long)]
    pub no_group_scan_suffix: bool,
    /// PNG bit depth, 8 or 16.
    #[arg(long, default_value_t = 8)]
    pub bits: u8,
    /// Write no PNGs (the slice cache only).
    #[arg(long)]
    pub no_png: bool,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The [`PrepareConfig`] fields (as `twinscan-data`'s errors name them) and the flags that
/// set them.
pub const FLAGS: &[(&str, &str)] = &[
    ("size", "--size"),
    ("spacing_mm", "--spacing"),
    ("windows", "--window"),
    ("hu_range", "--hu-range"),
    ("png_bit_depth", "--bits"),
    ("threads", "--threads"),
    ("out", "--out"),
    ("overwrite", "--force"),
    ("layout", "--layout"),
    ("mask_folder.ct_name", "--ct-name"),
    ("annotator", "--annotator"),
    ("rtstruct", "--rtstruct"),
    ("structures", "--structures"),
    ("label_rule", "--label-rule"),
    ("split", "--split"),
];

/// A `twinscan-data` error worded for this command line (config fields → [`FLAGS`]).
pub fn explain(e: DataError) -> Reworded<DataError> {
    reword(e, FLAGS)
}

impl PrepareArgs {
    /// The library configuration these flags ask for (windows parsed and checked).
    ///
    /// # Errors
    /// A bad `--window` or `--hu-range`, naming the flag.
    pub fn to_config(&self) -> std::result::Result<PrepareConfig, Reworded<DataError>> {
        let mut c = PrepareConfig::new(&self.input, &self.out);
        c.layout = self.layout;
        c.mask_folder = twinscan_data::layout::MaskFolderOptions {
            ct_name: self.ct_name.clone(),
            masks_dir: self.masks_dir.clone(),
        };
        c.rtstruct = self.rtstruct.clone();
        c.size = self.size;
        c.windows = self.windows().map_err(explain)?;
        c.spacing_mm = self.spacing;
        c.aliases = self.aliases.clone();
        c.structures = self.structures;
        c.label_rule = self.label_rule;
        c.mask_stats = self.mask_stats;
        c.split = self.split;
        c.seed = self.seed;
        c.patients = self.patients.clone();
        c.auto_patients = !self.ignore_patients_csv;
        c.annotator = self.annotator;
        c.group_scan_suffix = !self.no_group_scan_suffix;
        c.png_bit_depth = (!self.no_png).then_some(self.bits);
        c.overwrite = self.force;
        c.threads = self.threads;
        Ok(c)
    }
}

impl PrepareArgs {
    /// The channels: `--window` values, then `--hu-range` values; the default window
    /// (soft_tissue, 40:400) when neither is given.
    pub fn windows(&self) -> Result<Vec<Window>> {
        let mut w = if self.window.is_empty() {
            Vec::new()
        } else {
            parse_windows(&self.window)?
        };
        for r in &self.hu_range {
            for part in r.split(',').filter(|p| !p.trim().is_empty()) {
                w.push(Window::from_hu_range(part.trim())?);
            }
        }
        if w.is_empty() {
            w.push(Window::default());
        }
        Ok(w)
    }

    /// Notes about the flags that are no error (a window that looks swapped, `400:40`).
    pub fn warnings(&self) -> Vec<String> {
        self.windows()
            .map(|w| w.iter().filter_map(Window::swapped_warning).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> std::result::Result<PrepareArgs, clap::Error> {
        let mut v = vec!["prepare", "--input", "in", "--out", "o"];
        v.extend_from_slice(extra);
        PrepareArgs::try_parse_from(v)
    }

    #[test]
    fn window_flags() {
        // Default: soft tissue 40:400.
        let c = args(&[]).unwrap().to_config().unwrap();
        assert_eq!(c.windows, vec![Window::default()]);
        // With a space or `=`, a negative level is a value, not a flag.
        for a in [
            args(&["--window", "-600:1500"]).unwrap(),
            args(&["--window=-600:1500"]).unwrap(),
            args(&["--window", "lung"]).unwrap(),
        ] {
            let w = a.to_config().unwrap().windows;
            assert_eq!((w[0].level, w[0].width), (-600.0, 1500.0));
        }
        for (name, l, w) in twinscan_data::slices::NAMED_WINDOWS {
            let c = args(&["--window", name]).unwrap().to_config().unwrap();
            assert_eq!((c.windows[0].level, c.windows[0].width), (l, w), "{name}");
        }
        // HU range -1000:500 = level -250, width 1500.
        let w = args(&["--hu-range", "-1000:500"])
            .unwrap()
            .to_config()
            .unwrap()
            .windows;
        assert_eq!((w[0].level, w[0].width), (-250.0, 1500.0));
        // Width <= 0 refused, naming the flag.
        for bad in ["40:0", "40:-10"] {
            let e = args(&["--window", bad]).unwrap().to_config().unwrap_err();
            assert!(e.to_string().contains("--window"), "{e}");
        }
        assert!(
            args(&["--hu-range", "240:-160"])
                .unwrap()
                .to_config()
                .is_err()
        );
        assert!(args(&["--window", "muscle"]).unwrap().to_config().is_err());
        // A level that looks like a width: a warning, not an error.
        let a = args(&["--window", "400:40"]).unwrap();
        assert!(a.to_config().is_ok());
        let w = a.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("did you mean 40:400"), "{}", w[0]);
        assert!(args(&["--window", "bone"]).unwrap().warnings().is_empty());
    }

    #[test]
    fn library_errors_name_fields_and_the_cli_its_flags() {
        use twinscan_data::prepare::prepare;
        // Checked before any input is read: the library names the field, the CLI the flag.
        let c = args(&["--size", "0"]).unwrap().to_config().unwrap();
        let e = prepare(&c, &|_| {}).unwrap_err();
        assert_eq!(e.to_string(), "invalid `size`: 0: must be 1..=4096");
        assert_eq!(
            explain(e).to_string(),
            "invalid --size: 0: must be 1..=4096"
        );
        let c = args(&["--bits", "12"]).unwrap().to_config().unwrap();
        let e = explain(prepare(&c, &|_| {}).unwrap_err()).to_string();
        assert!(e.starts_with("invalid --bits: 12"), "{e}");
        // A non-empty output folder: `overwrite` in the library, --force on the command line.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
        let out = tmp.path().to_str().unwrap();
        let c = PrepareArgs::try_parse_from(["prepare", "--input", "in", "--out", out])
            .unwrap()
            .to_config()
            .unwrap();
        let e = prepare(&c, &|_| {}).unwrap_err();
        assert!(e.to_string().contains("invalid `out`"), "{e}");
        assert!(e.to_string().contains("(`overwrite` replaces it)"), "{e}");
        let e = explain(e).to_string();
        assert!(e.starts_with("invalid --out: "), "{e}");
        assert!(e.ends_with("(--force replaces it)"), "{e}");
        assert!(tmp.path().join("keep.txt").exists());
    }

    #[test]
    fn rtstruct_flag() {
        use twinscan_data::nbia::RtStructChoice;
        let c = args(&[]).unwrap().to_config().unwrap();
        assert_eq!(c.rtstruct, RtStructChoice::Newest);
        let c = args(&["--rtstruct", "label:Final RT"])
            .unwrap()
            .to_config()
            .unwrap();
        assert_eq!(c.rtstruct, RtStructChoice::Label("Final RT".into()));
        let c = args(&["--rtstruct", "largest", "--layout", "nbia"])
            .unwrap()
            .to_config()
            .unwrap();
        assert_eq!(
            (c.rtstruct, c.layout),
            (
                RtStructChoice::Largest,
                Some(twinscan_data::layout::Layout::Nbia)
            )
        );
        let e = args(&["--rtstruct", "biggest"]).unwrap_err().to_string();
        assert!(e.contains("label:<StructureSetLabel>"), "{e}");
    }
}
