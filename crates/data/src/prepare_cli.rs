//! The `prepare` example's command line (clap), kept in the library so that parsing and
//! the flag-to-config mapping are tested without running the binary.
//!
//! ```
//! use clap::Parser;
//! use twinscan_data::prepare_cli::PrepareArgs;
//! let a = PrepareArgs::try_parse_from(["prepare", "--input", "in", "--out", "out",
//!     "--window", "40:400", "--window", "300:1500", "--split", "0.8:0.1:0.1"]).unwrap();
//! let c = a.to_config().unwrap();
//! assert_eq!(c.windows.len(), 2);
//! assert_eq!(c.split.train, 0.8);
//! assert!(PrepareArgs::try_parse_from(["prepare", "--input", "in"]).is_err());
//! ```

use std::path::PathBuf;

use clap::Parser;

use crate::error::Result;
use crate::labels::LabelRule;
use crate::layout::{Annotator, Layout};
use crate::prepare::{PrepareConfig, Summary};
use crate::slices::parse_windows;
use crate::split::SplitFractions;
use crate::structures::StructureSelection;

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
    /// Layout: deepmind, dicom or labelmap (auto-detected when absent).
    #[arg(long)]
    pub layout: Option<Layout>,
    /// Image side in pixels.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// HU window LEVEL:WIDTH; repeat (or comma-separate) to stack windows as channels.
    #[arg(long, default_value = "40:400")]
    pub window: Vec<String>,
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

impl PrepareArgs {
    /// The library configuration these flags ask for (windows parsed and checked).
    pub fn to_config(&self) -> Result<PrepareConfig> {
        let mut c = PrepareConfig::new(&self.input, &self.out);
        c.layout = self.layout;
        c.size = self.size;
        c.windows = parse_windows(&self.window)?;
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

/// The closing summary: scans, patients, slices per split and per-structure label counts,
/// as a plain-text table.
pub fn summary_table(s: &Summary) -> String {
    let c = &s.counts;
    let mut out = format!(
        "layout {}: {} scans, {} patients, {} slices\n",
        s.layout, c.scans, c.patients, c.slices
    );
    for (side, sc) in &c.per_split {
        out.push_str(&format!(
            "  {side:<5} {:>4} patients {:>4} scans {:>7} slices\n",
            sc.patients, sc.scans, sc.slices
        ));
    }
    out.push_str(&format!(
        "{:<16} {:>8} {:>8} {:>8}\n",
        "structure", "1", "-1", "0"
    ));
    for (name, l) in &c.per_structure {
        out.push_str(&format!(
            "{name:<16} {:>8} {:>8} {:>8}\n",
            l.positive, l.negative, l.unknown
        ));
    }
    if let Some(p) = &s.patient_table {
        out.push_str(&format!("patients from {}\n", p.display()));
    }
    if s.annotator_skipped > 0 {
        out.push_str(&format!(
            "{} scans of the other annotator left out (--annotator)\n",
            s.annotator_skipped
        ));
    }
    for (patient, members) in &s.patient_groups {
        out.push_str(&format!(
            "grouped as patient {patient}: {} (--no-group-scan-suffix to keep apart)\n",
            members.join(", ")
        ));
    }
    if let Some(w) = &s.split_warning {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(&format!("fingerprint {}\n", s.fingerprint));
    out
}
