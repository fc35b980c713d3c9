//! Patients (issue 12 §4), the dataset fingerprint and the training-split pixel statistics
//! (issue 12 §3, §5) as `prepare` writes them.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use twinscan_data::Volume;
use twinscan_data::layout::Annotator;
use twinscan_data::prepared::{Prepared, compute_fingerprint};
use twinscan_data::slices::Window;
use twinscan_data::split::Split;
use twinscan_data::synth::{SynthConfig, write_prepared_cohort};

/// Every patient's slices on one side; returns patient → side.
fn sides(ds: &Prepared) -> BTreeMap<String, Split> {
    let mut side: BTreeMap<String, Split> = BTreeMap::new();
    for i in 0..ds.len() {
        let s = *side.entry(ds.patient(i).to_string()).or_insert(ds.split(i));
        assert_eq!(s, ds.split(i), "patient {} spans two splits", ds.patient(i));
    }
    side
}

#[test]
fn synthetic_cohort_patients_csv_is_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        scans: 3,
        size: 32,
        z_spacing_mm: 12.0,
        noise_hu: 5.0,
        seed: 4,
    };
    let dir = write_prepared_cohort(tmp.path(), &cfg, 16).unwrap();
    let ds = Prepared::open(&dir).unwrap();
    // Scans 1 and 2 are one synthetic patient (synth::patient_id): 3 scans, 2 patients.
    assert_eq!(ds.info().counts.scans, 3);
    assert_eq!(ds.info().counts.patients, 2);
    let patient_of = |scan: &str| {
        ds.info()
            .scans
            .iter()
            .find(|s| s.id == scan)
            .unwrap()
            .patient
            .clone()
    };
    assert_eq!(patient_of("synth_001"), patient_of("synth_002"));
    assert_ne!(patient_of("synth_000"), patient_of("synth_001"));
    sides(&ds);
    assert!(ds.info().patient_table.is_some());
    // Two patients at 0.7:0.15:0.15: no test patient, and dataset.json says so.
    assert_eq!(ds.info().test_patients, ds.test_patients());
    assert!(
        ds.info().warnings.iter().any(|w| w.contains("test split")),
        "{:?}",
        ds.info().warnings
    );
}

/// `nrrds/test/{oncologist,radiographer}/{p1,p2a,p2b}`: 1-voxel-thick toy scans.
fn deepmind_tree(root: &Path) {
    let g = common::grid([4, 4, 3], [1.0, 1.0, 2.0]);
    let ct = Volume {
        geometry: g.clone(),
        data: vec![0i16; g.len()],
    };
    let mut m = Volume {
        geometry: g.clone(),
        data: vec![0u8; g.len()],
    };
    for ann in ["oncologist", "radiographer"] {
        for (k, scan) in ["p1", "p2a", "p2b"].into_iter().enumerate() {
            // The radiographer delineates one slice less in p1: the labels tell them apart.
            m.data.fill(0);
            let last = if ann == "radiographer" && k == 0 {
                1
            } else {
                3
            };
            for z in 0..last {
                m.data[z * 16 + 5] = 1;
            }
            common::write_deepmind(
                &root.join("test").join(ann).join(scan),
                &ct,
                &[("Brain", &m)],
            );
        }
    }
}

#[test]
fn deepmind_annotators_and_scan_suffix_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("nrrds");
    deepmind_tree(&input);
    let run = |name: &str, edit: &dyn Fn(&mut twinscan_data::prepare::PrepareConfig)| {
        let out = tmp.path().join(name);
        let s = common::run(&input, &out, |c| {
            c.png_bit_depth = None;
            edit(c)
        })
        .unwrap();
        (s, Prepared::open(&out).unwrap())
    };
    // Default: oncologist only, p2a + p2b one patient.
    let (s, ds) = run("default", &|_| {});
    assert_eq!(s.counts.scans, 3);
    assert_eq!(s.annotator_skipped, 3);
    assert_eq!(s.counts.patients, 2);
    assert_eq!(
        s.patient_groups["p2"],
        vec!["p2a".to_string(), "p2b".to_string()]
    );
    assert_eq!(ds.info().annotator, Some(Annotator::Oncologist));
    assert_eq!(ds.info().patient_groups, s.patient_groups);
    assert!(ds.info().scans.iter().all(|e| e.id.contains("oncologist")));
    let table = twinscan_data::prepare::summary_table(&s);
    assert!(table.contains("grouped as patient p2: p2a, p2b"), "{table}");
    assert!(table.contains("3 scans of the other annotator"), "{table}");
    sides(&ds);
    // p1 by the oncologist: Brain on all three slices.
    let p1: Vec<i8> = (0..ds.len())
        .filter(|&i| ds.scan(i).ends_with("/p1"))
        .map(|i| ds.labels(i)[0])
        .collect();
    assert_eq!(p1, vec![1, 1, 1]);

    // Radiographer: the other folder's delineations.
    let (s, ds) = run("radiographer", &|c| c.annotator = Annotator::Radiographer);
    assert_eq!(s.counts.scans, 3);
    let p1: Vec<i8> = (0..ds.len())
        .filter(|&i| ds.scan(i).ends_with("/p1"))
        .map(|i| ds.labels(i)[0])
        .collect();
    assert_eq!(p1, vec![1, -1, -1]);

    // Both: six scans of two patients, each patient on one side.
    let (s, ds) = run("both", &|c| c.annotator = Annotator::Both);
    assert_eq!((s.counts.scans, s.counts.patients), (6, 2));
    let side = sides(&ds);
    assert_eq!(side.len(), 2);

    // Grouping off: three patients.
    let (s, _) = run("nogroup", &|c| c.group_scan_suffix = false);
    assert_eq!(s.counts.patients, 3);
    assert!(s.patient_groups.is_empty());

    // Only radiographer folders but the default annotator: a clear error, nothing written.
    let only_r = tmp.path().join("only_r");
    std::fs::create_dir_all(only_r.join("test")).unwrap();
    std::fs::rename(
        input.join("test/radiographer"),
        only_r.join("test/radiographer"),
    )
    .unwrap();
    let out = tmp.path().join("fail");
    let e = common::run(&only_r, &out, |_| {}).unwrap_err();
    common::assert_clean_failure(&e, "set `annotator`", &out);
}

#[test]
fn test_split_size_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let cfg = common::small_config(4);
    twinscan_data::synth::write_cohort(&input, &cfg, twinscan_data::synth::SynthFormat::Nrrd)
        .unwrap();
    // 3 patients (scans 1 and 2 share one): 1 test patient -> a warning, recorded.
    let out = tmp.path().join("a");
    let s = common::run(&input, &out, |c| c.png_bit_depth = None).unwrap();
    assert_eq!(s.counts.patients, 3);
    assert_eq!(s.test_patients, 1);
    let w = s.split_warning.clone().unwrap();
    assert!(w.contains("only 1 patient"), "{w}");
    assert!(s.warnings.contains(&w));
    let ds = Prepared::open(&out).unwrap();
    assert_eq!(ds.info().test_patients, 1);
    assert!(ds.info().warnings.contains(&w));
    // No test fraction: the test split is empty.
    let out = tmp.path().join("b");
    let s = common::run(&input, &out, |c| {
        c.png_bit_depth = None;
        c.split = "0.7:0.3:0".parse().unwrap();
    })
    .unwrap();
    assert_eq!(s.test_patients, 0);
    assert!(s.split_warning.unwrap().contains("empty"));
}

#[test]
fn fingerprint_tracks_labels_and_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    twinscan_data::synth::write_cohort(
        &input,
        &common::small_config(3),
        twinscan_data::synth::SynthFormat::Nrrd,
    )
    .unwrap();
    let prep = |name: &str, edit: &dyn Fn(&mut twinscan_data::prepare::PrepareConfig)| {
        let out = tmp.path().join(name);
        let s = common::run(&input, &out, |c| {
            c.png_bit_depth = None;
            edit(c)
        })
        .unwrap();
        let ds = Prepared::open(&out).unwrap();
        assert_eq!(ds.fingerprint(), s.fingerprint);
        assert_eq!(compute_fingerprint(&out).unwrap(), s.fingerprint);
        (out, s.fingerprint)
    };
    let (out, f) = prep("a", &|_| {});
    assert_eq!(f.len(), 64);
    assert!(
        f.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    // Same input and settings, another output folder: the same fingerprint.
    assert_eq!(prep("a2", &|_| {}).1, f);
    // Split seed, window, size each change it.
    assert_ne!(prep("seed", &|c| c.seed = 9).1, f);
    assert_ne!(
        prep("win", &|c| c.windows =
            vec!["300:1500".parse::<Window>().unwrap()])
        .1,
        f
    );
    assert_ne!(prep("size", &|c| c.size = 24).1, f);
    // An older dataset.json without the field: computed on open, the same value.
    let jp = out.join("dataset.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&jp).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("fingerprint");
    std::fs::write(&jp, serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(Prepared::open(&out).unwrap().fingerprint(), f);
    // An edited labels.csv: another fingerprint.
    let lp = out.join("labels.csv");
    let text = std::fs::read_to_string(&lp).unwrap();
    std::fs::write(&lp, text.replacen(",1\n", ",-1\n", 1)).unwrap();
    assert_ne!(compute_fingerprint(&out).unwrap(), f);
}

#[test]
fn train_statistics_match_the_cached_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    twinscan_data::synth::write_cohort(
        &input,
        &common::small_config(5),
        twinscan_data::synth::SynthFormat::Nrrd,
    )
    .unwrap();
    let out = tmp.path().join("out");
    common::run(&input, &out, |c| {
        c.png_bit_depth = None;
        c.windows = vec![Window::default(), "300:1500".parse::<Window>().unwrap()];
    })
    .unwrap();
    let ds = Prepared::open(&out).unwrap();
    let stats = ds.train_stats_per_channel().unwrap();
    assert_eq!(stats.len(), 2);
    assert_eq!(ds.train_stats(), Some(stats[0]));
    let plane = ds.size() * ds.size();
    for (c, &(mean, std)) in stats.iter().enumerate() {
        // Two-pass reference in f64 on the 0..1 scale the trainers use.
        let vals: Vec<f64> = ds
            .indices(Split::Train)
            .into_iter()
            .flat_map(|i| ds.image(i)[c * plane..(c + 1) * plane].to_vec())
            .map(|b| b as f64 / 255.0)
            .collect();
        assert!(!vals.is_empty());
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let sd = (vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / vals.len() as f64).sqrt();
        assert!((mean as f64 - m).abs() < 1e-6, "channel {c}: {mean} vs {m}");
        assert!((std as f64 - sd).abs() < 1e-6, "channel {c}: {std} vs {sd}");
        assert!(sd > 0.01, "channel {c}: a degenerate image set");
    }
    // The two windows see different pixel distributions.
    assert_ne!(stats[0], stats[1]);
}
