//! The DICOM CT reader and RTSTRUCT rasteriser against rt-utils 1.2.7 on a committed case.
//!
//! `tests/fixtures/rtutils_case` was written by `scripts/rtutils_reference.py`: six 24x24 CT
//! slices (file names and InstanceNumber opposite to z), an RTSTRUCT written by rt-utils with
//! jittered contour points (a ring with a hole, two blobs, a concave shape, an empty ROI) and
//! rt-utils' own masks for it (`masks.json`). The masks must agree pixel for pixel.

use std::path::PathBuf;

use twinscan_data::dicom::{rasterize, read_ct_series, read_rtstruct, scan_dicom_dir};

fn case() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rtutils_case")
}

#[test]
fn masks_equal_rt_utils() {
    let dir = scan_dicom_dir(&case()).unwrap();
    assert_eq!(dir.ct_series.len(), 1);
    assert_eq!(dir.rtstructs.len(), 1);
    let skipped: Vec<_> = dir.skipped.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(skipped, vec![case().join("masks.json")]);
    let ct = read_ct_series(&dir.ct_series[0]).unwrap();
    let g = &ct.volume.geometry;
    assert_eq!(g.dims, [24, 24, 6]);
    assert!((g.spacing(2) - 2.5).abs() < 1e-9);
    assert_eq!(g.origin, [-9.3, -10.1, -40.25]);
    // Sorted by position: file slice06.dcm (InstanceNumber 1) is the most inferior.
    assert!(ct.files[0].ends_with("slice06.dcm"), "{:?}", ct.files[0]);
    assert!(ct.files[5].ends_with("slice01.dcm"));
    assert_eq!(ct.patient_id.as_deref(), Some("RTU-1"));

    let rt = read_rtstruct(&dir.rtstructs[0]).unwrap();
    let names: Vec<&str> = rt.rois.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Ring", "Blobs", "Concave", "Empty"]);
    assert!(rt.rois[3].contours.is_empty());
    let r = rasterize(&rt, &ct).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    let text = std::fs::read_to_string(case().join("masks.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        reference["frame_of_reference_uid"].as_str().unwrap(),
        ct.frame_of_reference_uid
    );
    for (name, mask) in &r.masks {
        let slices = reference["rois"][name.as_str()].as_array().unwrap();
        let want: Vec<u8> = slices
            .iter()
            .flat_map(|rows| {
                rows.as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|row| row.as_str().unwrap().bytes().map(|b| b - b'0'))
                    .collect::<Vec<_>>()
            })
            .collect();
        let diff = mask.data.iter().zip(&want).filter(|(a, b)| a != b).count();
        let total: usize = want.iter().map(|&v| v as usize).sum();
        assert_eq!(
            diff, 0,
            "{name}: {diff} of {total} pixels differ from rt-utils"
        );
    }
    let sums: Vec<usize> = r
        .masks
        .iter()
        .map(|(_, m)| m.data.iter().map(|&v| v as usize).sum())
        .collect();
    assert_eq!(sums, [847, 489, 589, 0]);
}
