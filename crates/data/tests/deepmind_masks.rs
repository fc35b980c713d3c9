//! Gated on `TWINSCAN_SHARED_DATA` (set by .ci/run): all 1470 real DeepMind/TCIA organ masks
//! go through `prepare` with a synthetic CT on each scan's grid, and the label totals equal
//! those computed independently by scripts/prepare_python_anchor.py (pynrrd + numpy
//! presence test) on the same files.

use twinscan_data::prepare::{PrepareConfig, prepare};
use twinscan_data::prepared::Prepared;

/// Python reference (`prepare_python_anchor.py --reference`): structure, positive slices,
/// negative slices, sum of z_mm over positive slices, number of mask files.
const REFERENCE: &str = include_str!("deepmind_reference.csv");

#[test]
fn all_deepmind_masks_read_and_labelled() {
    let Ok(shared) = std::env::var("TWINSCAN_SHARED_DATA") else {
        println!("TWINSCAN_SHARED_DATA not set: skipping the real DeepMind masks test");
        return;
    };
    let root = std::path::Path::new(&shared).join("tcia-hn-deepmind/nrrds");
    assert!(root.is_dir(), "{} missing", root.display());
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("nrrds");
    let ids = twinscan_data::synth::synthesise_ct_for_masks(&root, &input, None).unwrap();
    assert_eq!(ids.len(), 70, "70 scan folders (35 per annotator)");
    let out = tmp.path().join("out");
    let mut c = PrepareConfig::new(&input, &out);
    c.size = 32;
    c.png_bit_depth = None;
    // Both annotators: the reference covers all 70 scan folders.
    c.annotator = twinscan_data::layout::Annotator::Both;
    let s = prepare(&c, &|_| {}).unwrap();
    assert_eq!(s.counts.scans, 70);
    // 35 scan folder names, 0522c0727a/b grouped: 34 patients, each on one side.
    assert_eq!(s.counts.patients, 34);
    assert_eq!(s.patient_groups.len(), 1, "{:?}", s.patient_groups);
    assert!(s.patient_groups.contains_key("0522c0727"));
    // Every one of the 1470 files mapped to a study structure (none skipped).
    assert!(
        s.warnings
            .iter()
            .all(|w| !w.contains("not a study structure")),
        "{:?}",
        &s.warnings[..s.warnings.len().min(3)]
    );
    let ds = Prepared::open(&out).unwrap();
    let mut files = 0;
    for line in REFERENCE.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split(',').collect();
        let col = ds.structures().iter().position(|n| n == f[0]).unwrap();
        let (mut pos, mut neg, mut unk, mut zsum) = (0usize, 0usize, 0usize, 0f64);
        for i in 0..ds.len() {
            match ds.labels(i)[col] {
                1 => {
                    pos += 1;
                    zsum += ds.z_mm(i) as f64;
                }
                -1 => neg += 1,
                _ => unk += 1,
            }
        }
        assert_eq!(pos, f[1].parse::<usize>().unwrap(), "{} positives", f[0]);
        assert_eq!(neg, f[2].parse::<usize>().unwrap(), "{} negatives", f[0]);
        assert_eq!(unk, 0, "{}: every scan delineates it", f[0]);
        let want: f64 = f[3].parse().unwrap();
        assert!(
            (zsum - want).abs() < 0.5 + 1e-6 * want.abs(),
            "{}: z sum {zsum} vs {want}",
            f[0]
        );
        files += f[4].parse::<usize>().unwrap();
    }
    assert_eq!(files, 1470);
}
