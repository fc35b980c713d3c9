//! Helpers shared by the pipeline tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use twinscan_data::prepare::{PrepareConfig, Summary, prepare};
use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};
use twinscan_data::{DataError, Geometry, Volume};

/// A small cohort: 64 x 64 in-plane, 6 mm slices (about 45 slices per scan).
pub fn small_config(scans: usize) -> SynthConfig {
    SynthConfig {
        scans,
        size: 64,
        z_spacing_mm: 6.0,
        noise_hu: 12.0,
        seed: 11,
    }
}

pub fn write(root: &Path, name: &str, cfg: &SynthConfig, format: SynthFormat) -> PathBuf {
    let dir = root.join(name);
    write_cohort(&dir, cfg, format).unwrap();
    dir
}

pub fn run(
    input: &Path,
    out: &Path,
    edit: impl FnOnce(&mut PrepareConfig),
) -> Result<Summary, DataError> {
    let mut c = PrepareConfig::new(input, out);
    c.size = 32;
    edit(&mut c);
    prepare(&c, &|_| {})
}

/// Asserts that `prepare` failed naming `needle` (a file or folder), left no output folder,
/// no labels.csv and no temporary folder beside `out`.
pub fn assert_clean_failure(err: &DataError, needle: &str, out: &Path) {
    let msg = err.to_string();
    assert!(
        msg.contains(needle),
        "error {msg:?} does not name {needle:?}"
    );
    assert!(!out.exists(), "{} exists after a failure", out.display());
    assert!(!out.join("labels.csv").exists());
    let parent = out.parent().unwrap();
    for e in std::fs::read_dir(parent).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".partial"), "temporary folder {n} left behind");
    }
}

/// A canonical LPS grid with the given dims and spacing, origin 0.
pub fn grid(dims: [usize; 3], spacing: [f64; 3]) -> Geometry {
    Geometry {
        dims,
        origin: [0.0; 3],
        directions: [
            [spacing[0], 0.0, 0.0],
            [0.0, spacing[1], 0.0],
            [0.0, 0.0, spacing[2]],
        ],
    }
}

/// Writes a deepmind scan folder: CT (i16) and masks (u8) as gzip NRRD.
pub fn write_deepmind(dir: &Path, ct: &Volume<i16>, masks: &[(&str, &Volume<u8>)]) {
    std::fs::create_dir_all(dir.join("segmentations")).unwrap();
    twinscan_data::nrrd::write_nrrd(&dir.join("CT_IMAGE.nrrd"), ct, true).unwrap();
    for (name, m) in masks {
        twinscan_data::nrrd::write_nrrd(
            &dir.join("segmentations").join(format!("{name}.nrrd")),
            *m,
            true,
        )
        .unwrap();
    }
}
