//! Readers on the real files in `../shared/data` (see its README for sources and licences).
//!
//! Gated on `TWINSCAN_SHARED_DATA` (set by `.ci/run` to the `shared/data` folder): unset, each
//! test prints a note and returns; set, missing or wrong files FAIL the test. Reference numbers
//! come from the folder's READMEs and `specs/data.md` (nibabel / pydicom readings).

use std::path::PathBuf;

use twinscan_data::{DataError, Voxels, read_volume};

fn shared() -> Option<PathBuf> {
    match std::env::var_os("TWINSCAN_SHARED_DATA") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_dir(),
                "TWINSCAN_SHARED_DATA={} is not a folder",
                p.display()
            );
            Some(p)
        }
        None => {
            eprintln!("note: TWINSCAN_SHARED_DATA unset; real-file test skipped");
            None
        }
    }
}

fn sum(v: &Voxels) -> f64 {
    match v {
        Voxels::U8(x) => x.iter().map(|&a| a as f64).sum(),
        Voxels::I16(x) => x.iter().map(|&a| a as f64).sum(),
        Voxels::F32(x) => x.iter().map(|&a| a as f64).sum(),
        other => panic!("unexpected voxel type {:?}", other.kind()),
    }
}

/// Axis codes like nibabel's `aff2axcodes` (RAS letters) from an LPS geometry.
fn axcodes(g: &twinscan_data::Geometry) -> String {
    g.axis_codes()
        .iter()
        .map(|&(c, s)| {
            // LPS +x = L, +y = P, +z = S.
            match (c, s > 0.0) {
                (0, true) => 'L',
                (0, false) => 'R',
                (1, true) => 'P',
                (1, false) => 'A',
                (2, true) => 'S',
                _ => 'I',
            }
        })
        .collect()
}

#[test]
fn nibabel_edge_cases() {
    let Some(root) = shared() else { return };
    let d = root.join("real/nibabel");
    // Big-endian int16, qform and sform 2, L-A-S, 2 mm.
    let a = read_volume(&d.join("anatomical.nii")).unwrap();
    assert_eq!(a.geometry.dims, [33, 41, 25]);
    assert!(matches!(a.voxels, Voxels::I16(_)));
    assert_eq!(sum(&a.voxels), 284166082.0);
    assert_eq!(axcodes(&a.geometry), "LAS");
    assert!((a.geometry.spacing(0) - 2.0).abs() < 1e-6);
    // sform only, RAS, uint8.
    let s = read_volume(&d.join("standard.nii.gz")).unwrap();
    assert_eq!(s.geometry.dims, [4, 5, 7]);
    assert!(matches!(s.voxels, Voxels::U8(_)));
    assert_eq!(sum(&s.voxels), 7650.0);
    assert_eq!(axcodes(&s.geometry), "RAS");
    // 4-D with two volumes: refused.
    let e = read_volume(&d.join("example4d.nii.gz")).unwrap_err();
    assert!(matches!(e, DataError::Unsupported { .. }), "{e}");
    // NIfTI-2: refused clearly.
    let e = read_volume(&d.join("example_nifti2.nii.gz")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("example_nifti2.nii.gz") && msg.contains("NIfTI-2 is not supported"),
        "{msg}"
    );
}

#[test]
fn totalsegmentator_nifti() {
    let Some(root) = shared() else { return };
    let d = root.join("real/totalsegmentator/nifti");
    let ct = read_volume(&d.join("example_ct_sm.nii.gz")).unwrap();
    assert_eq!(ct.geometry.dims, [122, 101, 30]);
    assert_eq!(axcodes(&ct.geometry), "RAS");
    assert_eq!(ct.geometry.axial_axis(), 2);
    for a in 0..3 {
        assert!((ct.geometry.spacing(a) - 3.0).abs() < 1e-5);
    }
    let ct = ct.into_f32_finite().unwrap();
    let min = ct.data.iter().cloned().fold(f32::INFINITY, f32::min);
    let max = ct.data.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    assert_eq!((min, max), (-1100.0, 1207.0));
    // The masks sit on the CT grid; 40 non-empty, 77 all-zero.
    let mut nonempty = 0;
    let mut total = 0;
    for e in std::fs::read_dir(d.join("example_seg_fast")).unwrap() {
        let p = e.unwrap().path();
        if !p.to_string_lossy().ends_with(".nii.gz") {
            continue;
        }
        let m = read_volume(&p).unwrap();
        assert!(m.geometry.same_grid(&ct.geometry, 1e-4), "{}", p.display());
        let m = m.into_mask();
        total += 1;
        nonempty += m.data.iter().any(|&v| v != 0) as usize;
    }
    assert_eq!((total, nonempty), (117, 40));
}

#[test]
fn totalsegmentator_dicom_seg_nifti() {
    let Some(root) = shared() else { return };
    let p = root.join("real/totalsegmentator/dicom/example_seg_dicom.nii.gz");
    let seg = read_volume(&p).unwrap();
    assert_eq!(seg.geometry.dims, [512, 512, 20]);
    assert_eq!(axcodes(&seg.geometry), "LAS");
    let labels = seg.into_labels().unwrap();
    let max = labels.data.iter().max().copied().unwrap();
    assert!(
        max <= 117 && labels.data.iter().all(|&v| v >= 0),
        "max {max}"
    );
}

#[test]
fn deepmind_masks_sample() {
    let Some(root) = shared() else { return };
    let base = root.join("tcia-hn-deepmind/nrrds/test/oncologist");
    let mut scans: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scans.sort();
    assert!(
        scans.len() >= 28,
        "{} scans in {}",
        scans.len(),
        base.display()
    );
    // Every mask of two scans (one with underscore names), z spacing 2.5 mm, LPS diagonal.
    let mut n = 0;
    for scan in scans.iter().filter(|s| {
        let n = s.file_name().unwrap().to_string_lossy().into_owned();
        n.ends_with("0659") || s == &&scans[0]
    }) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(scan.join("segmentations"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 21, "{}", scan.display());
        let mut grid = None;
        for f in files {
            let v = read_volume(&f).unwrap();
            let g = v.geometry.clone();
            assert_eq!(&g.dims[..2], &[512, 512]);
            assert!((g.spacing(2) - 2.5).abs() < 1e-5, "{}", f.display());
            assert_eq!(axcodes(&g), "LPS");
            let Voxels::U8(data) = &v.voxels else {
                panic!("{} not uint8", f.display())
            };
            assert!(data.iter().all(|&x| x <= 1), "{}", f.display());
            assert!(data.contains(&1), "{} empty", f.display());
            match &grid {
                None => grid = Some(g),
                Some(g0) => assert!(g0.same_grid(&g, 1e-6), "{}", f.display()),
            }
            n += 1;
        }
    }
    assert_eq!(n, 42);
}
