//! Readers on the real files in `../shared/data` (see its README for sources and licences).
//!
//! Gated on `TWINSCAN_SHARED_DATA` (set by `.ci/run` to the `shared/data` folder): unset, each
//! test prints a note and returns; set, missing or wrong files FAIL the test. Reference numbers
//! come from the folder's READMEs and docs/data.md (nibabel / pydicom readings).

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

/// LargestImagePixelValue (0028,0107) of each slice of the TotalSegmentator series, ordered by
/// z ascending (-804.5 .. -766.5), read from the headers with a byte-level script (not from
/// decoded pixels): the decoded per-slice maxima must equal them (HU = value - 1024).
const TS_LARGEST: [f32; 20] = [
    2429.0, 2420.0, 2414.0, 2431.0, 2458.0, 2472.0, 2480.0, 2467.0, 2458.0, 2468.0, 2469.0, 2474.0,
    2473.0, 2496.0, 2496.0, 2863.0, 2757.0, 2467.0, 2454.0, 2460.0,
];

#[test]
fn totalsegmentator_dicom_series() {
    use twinscan_data::dicom::{read_ct_series, scan_dicom_dir};
    let Some(root) = shared() else { return };
    let d = root.join("real/totalsegmentator/dicom");
    let dir = scan_dicom_dir(&d).unwrap();
    assert_eq!(dir.ct_series.len(), 1);
    assert_eq!(dir.ct_series[0].files.len(), 20);
    // The anonymised files carry an empty SeriesInstanceUID.
    assert_eq!(dir.ct_series[0].series_instance_uid, "");
    assert_eq!(dir.skipped.len(), 1, "{:?}", dir.skipped);
    let ct = read_ct_series(&dir.ct_series[0]).unwrap();
    let g = &ct.volume.geometry;
    assert_eq!(g.dims, [512, 512, 20]);
    // Spacing from positions (2 mm), not SliceThickness (3 mm).
    assert!((g.spacing(2) - 2.0).abs() < 1e-9);
    assert!((g.spacing(0) - 0.9765625).abs() < 1e-12);
    assert_eq!(g.origin, [-249.51171875, -437.51171875, -804.5]);
    // z ascending while InstanceNumber decreases: the first slice is the last file by name
    // (InstanceNumber 286), the last slice the first file (InstanceNumber 267).
    assert!(ct.files[0].to_string_lossy().ends_with("16592"));
    assert!(ct.files[19].to_string_lossy().ends_with("16573"));
    let plane = 512 * 512;
    for (k, largest) in TS_LARGEST.iter().enumerate() {
        let s = &ct.volume.data[k * plane..(k + 1) * plane];
        let max = s.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let min = s.iter().cloned().fold(f32::INFINITY, f32::min);
        assert_eq!((min, max), (-1024.0, largest - 1024.0), "slice {k}");
    }
    // The slice the spec quotes (z -766.5): HU -1024..1436.
    // pydicom 3.0.2 + pylibjpeg-openjpeg on the same files: HU sum of the whole series
    // -3272217339, of slice 0 -164982396, and HU 9 at row 256, column 300 of slice 0.
    let total: f64 = ct.volume.data.iter().map(|&v| v as f64).sum();
    assert_eq!(total, -3272217339.0);
    let s0: f64 = ct.volume.data[..plane].iter().map(|&v| v as f64).sum();
    assert_eq!(s0, -164982396.0);
    assert_eq!(*ct.volume.get(300, 256, 0), 9.0);

    // Its TotalSegmentator label map (NIfTI, L-A-S: second axis flipped relative to the DICOM
    // rows) lands on the same grid once both are canonical.
    let seg = read_volume(&d.join("example_seg_dicom.nii.gz"))
        .unwrap()
        .into_labels()
        .unwrap()
        .to_canonical();
    let ct_canon = ct.volume.to_canonical();
    assert_eq!(ct_canon.geometry, ct.volume.geometry);
    assert!(
        seg.geometry.same_grid(&ct_canon.geometry, 1e-3),
        "{:?} vs {:?}",
        seg.geometry,
        ct_canon.geometry
    );
}

#[test]
fn pydicom_files() {
    use twinscan_data::dicom::{CtSeries, CtSeriesFiles, rasterize, read_ct_series, read_rtstruct};
    let Some(root) = shared() else { return };
    let d = root.join("real/pydicom");
    // CT_small: one slice, signed, intercept -1024; pydicom: HU -896..1167, sum -1950906.
    let ct = read_ct_series(&CtSeriesFiles {
        series_instance_uid: String::new(),
        files: vec![d.join("CT_small.dcm")],
    })
    .unwrap();
    assert_eq!(ct.volume.geometry.dims, [128, 128, 1]);
    assert_eq!(
        ct.volume.geometry.origin,
        [-158.135803, -179.035797, -75.699997]
    );
    assert!((ct.volume.geometry.spacing(0) - 0.661468).abs() < 1e-9);
    let min = ct.volume.data.iter().cloned().fold(f32::INFINITY, f32::min);
    let max = ct
        .volume
        .data
        .iter()
        .cloned()
        .fold(f32::NEG_INFINITY, f32::max);
    assert_eq!((min, max), (-896.0, 1167.0));
    let sum: f64 = ct.volume.data.iter().map(|&v| v as f64).sum();
    assert_eq!(sum, -1950906.0);

    // rtstruct.dcm: no Part-10 header; 3 ROIs; patient = 3 CLOSED_PLANAR contours at
    // z -200/-190/-180 spanning x -200..200, y -150..150; two POINT isocentres.
    let rt = read_rtstruct(&d.join("rtstruct.dcm")).unwrap();
    let names: Vec<&str> = rt.rois.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["patient", "Isocenter 1", "Isocenter 2"]);
    assert_eq!(rt.rois[0].contours.len(), 3);
    assert!(
        rt.rois[0]
            .contours
            .iter()
            .all(|c| c.referenced_sop_uid.is_none())
    );
    assert_eq!(rt.rois[1].contours[0].geometric_type, "POINT");
    // It does not belong to CT_small: a frame-of-reference error.
    let e = rasterize(&rt, &ct).unwrap_err();
    assert!(matches!(e, DataError::FrameOfReference { .. }), "{e}");
    // On a made-up grid in its frame (5 mm pixels from (-250, -250), slices at z -200,
    // -190, -180): contours matched by z, POINTs skipped with warnings.
    let frame = rt.frame_of_reference_uid.clone().unwrap();
    let geometry = twinscan_data::Geometry {
        dims: [100, 100, 3],
        origin: [-250.0, -250.0, -200.0],
        directions: [[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 10.0]],
    };
    let fake = CtSeries {
        series_instance_uid: "made-up".into(),
        frame_of_reference_uid: frame,
        patient_id: None,
        sop_instance_uids: vec!["a".into(), "b".into(), "c".into()],
        files: vec![],
        volume: twinscan_data::Volume {
            data: vec![0.0; geometry.len()],
            geometry,
        },
    };
    let r = rasterize(&rt, &fake).unwrap();
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(r.warnings.iter().all(|w| w.contains("POINT")));
    let patient = &r.masks[0].1;
    for k in 0..3 {
        let n = patient.data[k * 10000..(k + 1) * 10000]
            .iter()
            .filter(|&&v| v == 1)
            .count();
        // Columns 10..=90, rows 20..=80 at most (x -200..200, y -150..150 in 5 mm pixels).
        assert!(n > 1000 && n <= 81 * 61, "slice {k}: {n}");
    }
}
