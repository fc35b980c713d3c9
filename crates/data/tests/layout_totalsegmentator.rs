//! The totalsegmentator layout (issue 10 §1): `<case>/ct.nii.gz` +
//! `<case>/segmentations/<structure>.nii.gz` with TotalSegmentator's names, and the
//! generalised "CT + folder of masks" options `--ct-name` / `--masks-dir`.

mod common;

use std::path::Path;

use twinscan_data::Volume;
use twinscan_data::layout::{Layout, MaskFolderOptions};
use twinscan_data::prepared::Prepared;

fn masks(dir: &Path, names: &[(&str, usize)], ext: &str) {
    let g = common::grid([6, 6, 4], [1.0, 1.0, 2.0]);
    std::fs::create_dir_all(dir).unwrap();
    for (name, slice) in names {
        let mut m = Volume {
            geometry: g.clone(),
            data: vec![0u8; g.len()],
        };
        m.data[slice * 36 + 7] = 1;
        let p = dir.join(format!("{name}.{ext}"));
        if ext == "nrrd" {
            twinscan_data::nrrd::write_nrrd(&p, &m, true).unwrap();
        } else {
            twinscan_data::nifti::write_nifti(&p, &m).unwrap();
        }
    }
}

fn ct(path: &Path) {
    let g = common::grid([6, 6, 4], [1.0, 1.0, 2.0]);
    let v = Volume {
        geometry: g.clone(),
        data: vec![0i16; g.len()],
    };
    if path.to_string_lossy().ends_with(".nrrd") {
        twinscan_data::nrrd::write_nrrd(path, &v, true).unwrap();
    } else {
        twinscan_data::nifti::write_nifti(path, &v).unwrap();
    }
}

#[test]
fn totalsegmentator_layout_with_its_names() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("ts");
    for case in ["s0001", "s0002"] {
        let d = input.join(case);
        std::fs::create_dir_all(&d).unwrap();
        ct(&d.join("ct.nii.gz"));
        masks(
            &d.join("segmentations"),
            &[
                ("brain", 3),
                ("spinal_cord", 0),
                ("parotid_gland_left", 1),
                ("eye_right", 2),
                ("lung_upper_lobe_left", 0),
            ],
            "nii.gz",
        );
    }
    let out = tmp.path().join("out");
    let s = common::run(&input, &out, |c| c.png_bit_depth = None).unwrap();
    assert_eq!(s.layout, Layout::TotalSegmentator);
    assert_eq!(s.counts.scans, 2);
    // The lung lobe is no study structure: skipped with a warning naming the file.
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("lung_upper_lobe_left.nii.gz")),
        "{:?}",
        s.warnings
    );
    let ds = Prepared::open(&out).unwrap();
    assert_eq!(ds.info().layout, Layout::TotalSegmentator);
    let col = |n: &str| ds.structures().iter().position(|s| s == n).unwrap();
    let labels = |n: &str| -> Vec<i8> { (0..4).map(|i| ds.labels(i)[col(n)]).collect() };
    assert_eq!(labels("Brain"), vec![-1, -1, -1, 1]);
    assert_eq!(labels("SpinalCord"), vec![1, -1, -1, -1]);
    assert_eq!(labels("Parotid_L"), vec![-1, 1, -1, -1]);
    assert_eq!(labels("Eye_R"), vec![-1, -1, 1, -1]);
    // Not delineated (the lobe does not stand for the lung): unknown.
    assert_eq!(labels("Lung_L"), vec![0, 0, 0, 0]);
    // `--layout totalsegmentator` gives the same.
    let out2 = tmp.path().join("out2");
    common::run(&input, &out2, |c| {
        c.png_bit_depth = None;
        c.layout = Some(Layout::TotalSegmentator);
    })
    .unwrap();
    assert_eq!(
        std::fs::read(out.join("labels.csv")).unwrap(),
        std::fs::read(out2.join("labels.csv")).unwrap()
    );
}

#[test]
fn ct_name_and_masks_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let d = input.join("case1");
    std::fs::create_dir_all(&d).unwrap();
    ct(&d.join("image.nrrd"));
    masks(&d.join("labels_by_organ"), &[("Brainstem", 2)], "nrrd");
    let out = tmp.path().join("out");
    // Without the options: no scan folder is recognised.
    let e = common::run(&input, &out, |c| c.png_bit_depth = None).unwrap_err();
    common::assert_clean_failure(&e, "unknown layout", &out);
    let opts = MaskFolderOptions {
        ct_name: Some("IMAGE.*".into()),
        masks_dir: Some("labels_by_organ".into()),
    };
    let s = common::run(&input, &out, |c| {
        c.png_bit_depth = None;
        c.mask_folder = opts.clone();
    })
    .unwrap();
    assert_eq!(s.layout, Layout::DeepMind);
    let ds = Prepared::open(&out).unwrap();
    let c = ds
        .structures()
        .iter()
        .position(|s| s == "Brainstem")
        .unwrap();
    let l: Vec<i8> = (0..ds.len()).map(|i| ds.labels(i)[c]).collect();
    assert_eq!(l, vec![-1, -1, 1, -1]);
    // A CT glob matching nothing: a clear error naming the glob.
    let out2 = tmp.path().join("out2");
    let e = common::run(&input, &out2, |c| {
        c.png_bit_depth = None;
        c.layout = Some(Layout::DeepMind);
        c.mask_folder = MaskFolderOptions {
            ct_name: Some("scan.nii*".into()),
            masks_dir: Some("labels_by_organ".into()),
        };
    })
    .unwrap_err();
    common::assert_clean_failure(&e, "scan.nii*", &out2);
}

/// TWINSCAN_SHARED_DATA: the real TotalSegmentator sample (`real/totalsegmentator/nifti`)
/// rearranged at run time into the layout; labels equal a reference computed from the masks.
#[test]
fn real_totalsegmentator_sample_rearranged() {
    let Ok(shared) = std::env::var("TWINSCAN_SHARED_DATA") else {
        println!("TWINSCAN_SHARED_DATA not set: skipping");
        return;
    };
    let src = Path::new(&shared).join("real/totalsegmentator/nifti");
    assert!(
        src.join("example_ct_sm.nii.gz").is_file(),
        "{} missing",
        src.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("ts/s0001");
    std::fs::create_dir_all(&case).unwrap();
    std::os::unix::fs::symlink(src.join("example_ct_sm.nii.gz"), case.join("ct.nii.gz")).unwrap();
    std::os::unix::fs::symlink(src.join("example_seg_fast"), case.join("segmentations")).unwrap();
    let out = tmp.path().join("out");
    let s = common::run(&tmp.path().join("ts"), &out, |c| {
        c.png_bit_depth = None;
        c.size = 32;
    })
    .unwrap();
    assert_eq!(s.layout, Layout::TotalSegmentator);
    let ds = Prepared::open(&out).unwrap();
    // Reference: per canonical slice, any voxel of the mask file (read independently of the
    // layout code), for the TotalSegmentator names that map.
    for (file, column) in [("brain", "Brain"), ("spinal_cord", "SpinalCord")] {
        let m = twinscan_data::read_volume(&src.join(format!("example_seg_fast/{file}.nii.gz")))
            .unwrap()
            .into_mask();
        let counts = twinscan_data::labels::canonical_slice_counts(&m);
        let want: Vec<i8> = counts.iter().map(|&c| if c > 0 { 1 } else { -1 }).collect();
        let c = ds.structures().iter().position(|s| s == column).unwrap();
        let got: Vec<i8> = (0..ds.len()).map(|i| ds.labels(i)[c]).collect();
        assert_eq!(got, want, "{column}");
    }
    // Lungs are delineated only as lobes there: not mapped, label 0.
    let c = ds.structures().iter().position(|s| s == "Lung_L").unwrap();
    assert!((0..ds.len()).all(|i| ds.labels(i)[c] == 0));
}
