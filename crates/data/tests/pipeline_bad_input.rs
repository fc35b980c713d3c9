//! Bad input through `prepare`: each is a clear error naming the file or folder, and no
//! output (no labels.csv, no temporary folder) is left behind.

mod common;

use std::path::Path;

use twinscan_data::synth::{SynthFormat, dicom_write, phantom};
use twinscan_data::{DataError, Volume};

fn tiny(root: &Path, name: &str) -> std::path::PathBuf {
    let g = common::grid([4, 4, 3], [1.0, 1.0, 2.0]);
    let ct = Volume {
        geometry: g.clone(),
        data: vec![0i16; g.len()],
    };
    let m = Volume {
        geometry: g.clone(),
        data: vec![1u8; g.len()],
    };
    let dir = root.join("in").join(name);
    common::write_deepmind(&dir, &ct, &[("Brain", &m)]);
    dir
}

#[test]
fn truncated_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    let input = common::write(
        tmp.path(),
        "in",
        &common::small_config(2),
        SynthFormat::Nrrd,
    );
    let ct = input.join("synth_001/CT_IMAGE.nrrd");
    let bytes = std::fs::read(&ct).unwrap();
    std::fs::write(&ct, &bytes[..bytes.len() / 2]).unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&input, &out, |_| {}).unwrap_err();
    assert!(matches!(e, DataError::Format { .. }), "{e:?}");
    common::assert_clean_failure(&e, "synth_001/CT_IMAGE.nrrd", &out);
}

#[test]
fn header_payload_size_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tiny(tmp.path(), "s1");
    // Rewrite the mask as raw NRRD whose header claims more slices than the payload holds.
    let g = common::grid([4, 4, 3], [1.0, 1.0, 2.0]);
    let m = Volume {
        geometry: g,
        data: vec![1u8; 48],
    };
    let p = dir.join("segmentations/Brain.nrrd");
    twinscan_data::nrrd::write_nrrd(&p, &m, false).unwrap();
    let text = std::fs::read(&p).unwrap();
    let s = String::from_utf8_lossy(&text).replace("sizes: 4 4 3", "sizes: 4 4 5");
    std::fs::write(&p, s.as_bytes()).unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&tmp.path().join("in"), &out, |_| {}).unwrap_err();
    common::assert_clean_failure(&e, "segmentations/Brain.nrrd", &out);
}

#[test]
fn mask_grid_differs_from_ct_grid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tiny(tmp.path(), "s1");
    let mut g = common::grid([4, 4, 3], [1.0, 1.0, 2.0]);
    g.origin[2] = 2.0; // shifted by one slice
    let m = Volume {
        geometry: g,
        data: vec![1u8; 48],
    };
    twinscan_data::nrrd::write_nrrd(&dir.join("segmentations/Parotid-Lt.nrrd"), &m, true).unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&tmp.path().join("in"), &out, |_| {}).unwrap_err();
    assert!(matches!(e, DataError::GridMismatch { .. }), "{e:?}");
    common::assert_clean_failure(&e, "Parotid-Lt.nrrd", &out);
}

#[test]
fn nan_in_ct() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tiny(tmp.path(), "s1");
    let g = common::grid([4, 4, 3], [1.0, 1.0, 2.0]);
    let mut d = vec![0f32; 48];
    d[7] = f32::NAN;
    twinscan_data::nrrd::write_nrrd(
        &dir.join("CT_IMAGE.nrrd"),
        &Volume {
            geometry: g,
            data: d,
        },
        true,
    )
    .unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&tmp.path().join("in"), &out, |_| {}).unwrap_err();
    assert!(matches!(e, DataError::NonFinite { count: 1, .. }), "{e:?}");
    common::assert_clean_failure(&e, "CT_IMAGE.nrrd", &out);
}

#[test]
fn rtstruct_frame_of_reference_matches_no_series() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = common::small_config(1);
    let ph = phantom(&cfg, 0);
    let dir = tmp.path().join("in").join(&ph.id);
    let mut uids = dicom_write::DicomUids::new(cfg.seed, 0);
    uids.rtstruct_frame_of_reference = "1.2.3.4.5.6.7".into();
    dicom_write::write_dicom_scan(&dir, &ph, &uids).unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&tmp.path().join("in"), &out, |_| {}).unwrap_err();
    assert!(matches!(e, DataError::FrameOfReference { .. }), "{e:?}");
    common::assert_clean_failure(&e, "RS.dcm", &out);
    assert!(e.to_string().contains("1.2.3.4.5.6.7"));
}

#[test]
fn duplicate_slice_positions() {
    use dicom_core::value::PrimitiveValue;
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    let tmp = tempfile::tempdir().unwrap();
    let input = common::write(
        tmp.path(),
        "in",
        &common::small_config(1),
        SynthFormat::Dicom,
    );
    let dir = input.join("synth_000");
    let first = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("CT_"))
        .unwrap();
    // A second file at the same position with its own SOPInstanceUID.
    let mut obj = dicom_object::open_file(&first).unwrap();
    obj.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::from("1.2.826.0.1.999"),
    ));
    obj.update_meta(|m| m.media_storage_sop_instance_uid = "1.2.826.0.1.999".into());
    obj.write_to_file(dir.join("CT_duplicate.dcm")).unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&input, &out, |_| {}).unwrap_err();
    assert!(matches!(e, DataError::SliceGeometry { .. }), "{e:?}");
    common::assert_clean_failure(&e, "synth_000", &out);
}

#[test]
fn empty_input_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("empty_in");
    std::fs::create_dir(&input).unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&input, &out, |_| {}).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    common::assert_clean_failure(&e, "empty_in", &out);
    // A missing folder too.
    let e = common::run(&tmp.path().join("nowhere"), &out, |_| {}).unwrap_err();
    common::assert_clean_failure(&e, "nowhere", &out);
}

#[test]
fn unknown_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("odd_in");
    std::fs::create_dir_all(input.join("scan1")).unwrap();
    std::fs::write(input.join("scan1/notes.txt"), "not a scan").unwrap();
    std::fs::write(input.join("readme.txt"), "hello").unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&input, &out, |_| {}).unwrap_err();
    assert!(e.to_string().contains("unknown layout"), "{e}");
    common::assert_clean_failure(&e, "odd_in", &out);
    // Asking for a layout that is not there.
    tiny(tmp.path(), "s1");
    let e = common::run(&tmp.path().join("in"), &out, |c| {
        c.layout = Some(twinscan_data::layout::Layout::Dicom)
    })
    .unwrap_err();
    assert!(e.to_string().contains("no dicom scan folders"), "{e}");
    common::assert_clean_failure(&e, "in", &out);
}

#[test]
fn existing_output_is_kept_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path(), "s1");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let e = common::run(&tmp.path().join("in"), &out, |_| {}).unwrap_err();
    assert!(e.to_string().contains("`overwrite` replaces it"), "{e}");
    assert!(out.join("keep.txt").exists());
    common::run(&tmp.path().join("in"), &out, |c| c.overwrite = true).unwrap();
    assert!(!out.join("keep.txt").exists());
    assert!(out.join("labels.csv").exists());
    // A failing forced run leaves the previous dataset untouched.
    std::fs::write(tmp.path().join("in/s1/CT_IMAGE.nrrd"), b"NRRD0004\ngarbage").unwrap();
    let e = common::run(&tmp.path().join("in"), &out, |c| c.overwrite = true).unwrap_err();
    assert!(e.to_string().contains("CT_IMAGE.nrrd"), "{e}");
    assert!(out.join("labels.csv").exists());
}

#[test]
fn bad_options() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path(), "s1");
    let out = tmp.path().join("out");
    let e = common::run(&tmp.path().join("in"), &out, |c| c.size = 0).unwrap_err();
    common::assert_clean_failure(&e, "invalid `size`", &out);
    let e = common::run(&tmp.path().join("in"), &out, |c| c.png_bit_depth = Some(12)).unwrap_err();
    common::assert_clean_failure(&e, "invalid `png_bit_depth`", &out);
    assert!("40".parse::<twinscan_data::slices::Window>().is_err());
    assert!(
        "0.7:0.2"
            .parse::<twinscan_data::split::SplitFractions>()
            .is_err()
    );
}

#[test]
fn prepared_folder_damage_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path(), "s1");
    let out = tmp.path().join("out");
    common::run(&tmp.path().join("in"), &out, |_| {}).unwrap();
    let ds = twinscan_data::prepared::Prepared::open(&out).unwrap();
    assert_eq!(ds.len(), 3);
    drop(ds);
    // A truncated cache.
    let cache = out.join("cache/s1.u8");
    let bytes = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &bytes[..bytes.len() - 1]).unwrap();
    let e = twinscan_data::prepared::Prepared::open(&out).unwrap_err();
    assert!(e.to_string().contains("cache/s1.u8"), "{e}");
    std::fs::write(&cache, &bytes).unwrap();
    // A label outside -1..=1.
    let csv = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    let broken = csv.replacen(",1,", ",7,", 1);
    assert_ne!(broken, csv);
    std::fs::write(out.join("labels.csv"), broken).unwrap();
    let e = twinscan_data::prepared::Prepared::open(&out).unwrap_err();
    assert!(e.to_string().contains("labels.csv"), "{e}");
}
