//! The same synthetic phantoms written as NRRD (LPS), NIfTI (RAS sform, axis 0 flipped),
//! DICOM CT + RTSTRUCT and a label map give identical labels and identical slice pixels,
//! and both equal a reference computed here from the in-memory phantoms with plain loops.

mod common;

use twinscan_data::prepared::Prepared;
use twinscan_data::structures::CANONICAL;
use twinscan_data::synth::{SynthFormat, phantom};

/// Reference labels of one scan: per structure (canonical order), per slice.
fn reference_labels(ph: &twinscan_data::synth::Phantom) -> Vec<Vec<i8>> {
    let [ni, nj, nk] = ph.ct.geometry.dims;
    CANONICAL
        .iter()
        .map(|name| match ph.masks.iter().find(|(n, _)| n == name) {
            None => vec![0; nk],
            Some((_, m)) => (0..nk)
                .map(|k| {
                    let mut any = false;
                    for j in 0..nj {
                        for i in 0..ni {
                            any |= *m.get(i, j, k) != 0;
                        }
                    }
                    if any { 1 } else { -1 }
                })
                .collect(),
        })
        .collect()
}

/// Reference image of slice k: bilinear (half-pixel centres, clamped) in f64, window 40:400.
fn reference_image(ph: &twinscan_data::synth::Phantom, k: usize, size: usize) -> Vec<u8> {
    let [w, h, _] = ph.ct.geometry.dims;
    let src = |r: usize, c: usize| *ph.ct.get(c, r, k) as f64;
    let coord = |o: usize, n_in: usize| {
        let x = ((o as f64 + 0.5) * n_in as f64 / size as f64 - 0.5).clamp(0.0, (n_in - 1) as f64);
        let x0 = x.floor() as usize;
        (x0, (x0 + 1).min(n_in - 1), x - x0 as f64)
    };
    let mut out = Vec::new();
    for r in 0..size {
        let (r0, r1, fy) = coord(r, h);
        for c in 0..size {
            let (c0, c1, fx) = coord(c, w);
            let top = src(r0, c0) * (1.0 - fx) + src(r0, c1) * fx;
            let bot = src(r1, c0) * (1.0 - fx) + src(r1, c1) * fx;
            let hu = top * (1.0 - fy) + bot * fy;
            let v = ((hu - (40.0 - 200.0)) / 400.0).clamp(0.0, 1.0);
            out.push((v * 255.0).round() as u8);
        }
    }
    out
}

#[test]
#[allow(clippy::needless_range_loop)] // k indexes slices of several parallel tables
fn four_layouts_give_identical_labels_and_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = common::small_config(3);
    let formats = [
        ("nrrd", SynthFormat::Nrrd),
        ("nifti", SynthFormat::Nifti),
        ("dicom", SynthFormat::Dicom),
        ("labelmap", SynthFormat::LabelMap),
    ];
    let mut sets = Vec::new();
    for (name, f) in formats {
        let input = common::write(tmp.path(), &format!("in_{name}"), &cfg, f);
        let out = tmp.path().join(format!("out_{name}"));
        let patients = input.join("patients.csv");
        let s = common::run(&input, &out, |c| c.patients = Some(patients)).unwrap();
        assert_eq!(s.counts.scans, 3, "{name}");
        sets.push((name, Prepared::open(&out).unwrap()));
    }
    let size = 32;
    let mut row = 0;
    for scan in 0..3 {
        let ph = phantom(&cfg, scan);
        let nk = ph.ct.geometry.dims[2];
        let want = reference_labels(&ph);
        for k in 0..nk {
            let want_img = reference_image(&ph, k, size);
            for (name, ds) in &sets {
                assert_eq!(ds.scan(row), ph.id, "{name}");
                assert_eq!(ds.slice_index(row), k);
                assert_eq!(ds.patient(row), ph.patient, "{name}: patient of {}", ph.id);
                let got: Vec<i8> = ds.labels(row).to_vec();
                for (s, structure) in CANONICAL.iter().enumerate() {
                    // A label map holds one label per voxel: structures drawn later cover
                    // earlier ones, so only the label map may lose a covered slice.
                    if *name == "labelmap" && got[s] != want[s][k] {
                        assert_eq!(
                            (got[s], want[s][k]),
                            (-1, 1),
                            "{name} {structure} slice {k}"
                        );
                        continue;
                    }
                    assert_eq!(
                        got[s], want[s][k],
                        "{name} scan {scan} slice {k} {structure}"
                    );
                }
                let img = ds.image(row);
                let bad = img
                    .iter()
                    .zip(&want_img)
                    .filter(|(a, b)| a.abs_diff(**b) > 1)
                    .count();
                assert_eq!(
                    bad, 0,
                    "{name} scan {scan} slice {k}: pixels differ from the reference"
                );
                // Identical across formats, byte for byte.
                assert_eq!(
                    img,
                    sets[0].1.image(row),
                    "{name} vs nrrd, scan {scan} slice {k}"
                );
            }
            row += 1;
        }
    }
    for (name, ds) in &sets {
        assert_eq!(ds.len(), row, "{name}");
        // Same split everywhere (patients from DICOM PatientID or patients.csv).
        for i in 0..row {
            assert_eq!(ds.split(i), sets[0].1.split(i), "{name} row {i}");
        }
    }
    // Scan 0 misses Lung_R entirely (0), scan 1 has Cochlea_L delineated but empty (-1).
    let lung_r = CANONICAL.iter().position(|s| *s == "Lung_R").unwrap();
    let coch_l = CANONICAL.iter().position(|s| *s == "Cochlea_L").unwrap();
    let ds = &sets[0].1;
    for i in 0..ds.len() {
        match ds.scan(i) {
            "synth_000" => assert_eq!(ds.labels(i)[lung_r], 0),
            "synth_001" => assert_eq!(ds.labels(i)[coch_l], -1),
            _ => assert_ne!(ds.labels(i)[lung_r], 0),
        }
    }
}

#[test]
fn orientation_row0_anterior_col0_patient_right_slice0_inferior() {
    use twinscan_data::Volume;
    // 8 x 8 x 4 canonical grid; one bright voxel at i = 6 (towards patient left), j = 1
    // (anterior), k = 3 (superior). Stored with axes 0 and 2 reversed (LPS directions
    // negative): prepare must undo that.
    let tmp = tempfile::tempdir().unwrap();
    let g = common::grid([8, 8, 4], [1.0, 1.0, 2.0]);
    let mut data = vec![-1000i16; g.len()];
    data[6 + 8 * (1 + 8 * 3)] = 240;
    let canon = Volume {
        geometry: g.clone(),
        data,
    };
    // Reverse axis 0 and axis 2.
    let mut flipped = vec![0i16; canon.data.len()];
    for k in 0..4 {
        for j in 0..8 {
            for i in 0..8 {
                flipped[(7 - i) + 8 * (j + 8 * (3 - k))] = *canon.get(i, j, k);
            }
        }
    }
    let fg = twinscan_data::Geometry {
        dims: [8, 8, 4],
        origin: g.world([7.0, 0.0, 3.0]),
        directions: [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -2.0]],
    };
    let ct = Volume {
        geometry: fg.clone(),
        data: flipped,
    };
    let mut m = vec![0u8; fg.len()];
    m[0] = 1; // stored voxel (0,0,0) = canonical (7, 0, 3): the most superior slice
    let mask = Volume {
        geometry: fg,
        data: m,
    };
    common::write_deepmind(&tmp.path().join("in/s1"), &ct, &[("Brain", &mask)]);
    let out = tmp.path().join("out");
    common::run(&tmp.path().join("in"), &out, |c| c.size = 8).unwrap();
    let ds = Prepared::open(&out).unwrap();
    assert_eq!(ds.len(), 4);
    // z increases with the slice index.
    assert!(ds.z_mm(0) < ds.z_mm(3));
    let img = ds.image(3);
    assert_eq!(
        img[8 + 6],
        255,
        "bright voxel at row 1 (anterior), column 6 (patient left)"
    );
    assert_eq!(img.iter().filter(|&&v| v > 0).count(), 1);
    assert!(ds.image(0).iter().all(|&v| v == 0));
    assert_eq!(ds.labels(3)[0], 1);
    assert_eq!(ds.labels(0)[0], -1);
}
