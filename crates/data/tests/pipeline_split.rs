//! Patient-level split: independent reference (Python FNV-1a + splitmix64, see the comment),
//! patient grouping, determinism across runs, input order and thread counts.

mod common;

use std::collections::BTreeMap;

use twinscan_data::Volume;
use twinscan_data::prepared::Prepared;
use twinscan_data::split::{Split, SplitFractions, assign_patients};

/// Expected sides computed with an independent Python implementation:
/// key = splitmix64(fnv1a64(seed.to_bytes(8, "little") + id)), sort by (key, id),
/// cut 7 / 2 / 1 for 10 patients at 0.7:0.15:0.15.
#[test]
fn matches_python_reference() {
    let ids: Vec<String> = (0..10).map(|i| format!("P{i:02}")).collect();
    let expect = |train: &[&str], val: &[&str], test: &[&str]| -> BTreeMap<String, Split> {
        let mut m = BTreeMap::new();
        for (list, s) in [
            (train, Split::Train),
            (val, Split::Val),
            (test, Split::Test),
        ] {
            for p in list {
                m.insert(p.to_string(), s);
            }
        }
        m
    };
    let a42 = assign_patients(
        ids.iter().map(String::as_str),
        SplitFractions::default(),
        42,
    );
    assert_eq!(
        a42,
        expect(
            &["P01", "P02", "P03", "P05", "P06", "P07", "P09"],
            &["P00", "P04"],
            &["P08"]
        )
    );
    let a7 = assign_patients(
        ids.iter().rev().map(String::as_str),
        SplitFractions::default(),
        7,
    );
    assert_eq!(
        a7,
        expect(
            &["P00", "P01", "P02", "P04", "P05", "P07", "P08"],
            &["P03", "P09"],
            &["P06"]
        )
    );
}

/// Twelve tiny scans of eight patients (scans a/b of four patients share a patient id
/// through patients.csv).
fn cohort(root: &std::path::Path) {
    let g = common::grid([4, 4, 3], [1.0, 1.0, 2.0]);
    let ct = Volume {
        geometry: g.clone(),
        data: vec![0i16; g.len()],
    };
    let m = Volume {
        geometry: g.clone(),
        data: vec![1u8; g.len()],
    };
    let mut csv = String::from("scan,patient\n");
    for p in 0..8 {
        let scans: &[&str] = if p < 4 { &["a", "b"] } else { &[""] };
        for s in scans {
            let name = format!("case{p}{s}");
            common::write_deepmind(&root.join(&name), &ct, &[("Brain", &m)]);
            csv.push_str(&format!("{name},patient{p}\n"));
        }
    }
    std::fs::write(root.join("patients.csv"), csv).unwrap();
}

#[test]
fn patients_stay_on_one_side_and_threads_do_not_matter() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    cohort(&input);
    let run = |name: &str, threads: usize, seed: u64| {
        let out = tmp.path().join(name);
        common::run(&input, &out, |c| {
            c.threads = Some(threads);
            c.seed = seed;
            c.patients = Some(input.join("patients.csv"));
            c.png_bit_depth = None;
        })
        .unwrap();
        out
    };
    let one = run("t1", 1, 3);
    let two = run("t2", 2, 3);
    let again = run("t2b", 2, 3);
    let labels = |d: &std::path::Path| std::fs::read_to_string(d.join("labels.csv")).unwrap();
    assert_eq!(labels(&one), labels(&two));
    assert_eq!(labels(&two), labels(&again));
    let ds = Prepared::open(&one).unwrap();
    assert_eq!(ds.info().counts.patients, 8);
    assert_eq!(ds.info().counts.scans, 12);
    // Patient-level: every scan of a patient on the same side.
    let mut side: BTreeMap<&str, Split> = BTreeMap::new();
    for i in 0..ds.len() {
        let s = *side.entry(ds.patient(i)).or_insert(ds.split(i));
        assert_eq!(s, ds.split(i), "patient {} on two sides", ds.patient(i));
    }
    // The prepared split equals the library's assignment of the patient ids.
    let ids: Vec<String> = (0..8).map(|p| format!("patient{p}")).collect();
    let a = assign_patients(ids.iter().map(String::as_str), SplitFractions::default(), 3);
    for (p, s) in &side {
        assert_eq!(a[*p], *s);
    }
    // 8 patients at 0.7:0.15:0.15 -> 5.6 / 1.2 / 1.2 -> 6 / 1 / 1.
    let per = &ds.info().counts.per_split;
    assert_eq!(
        (
            per["train"].patients,
            per["val"].patients,
            per["test"].patients
        ),
        (6, 1, 1)
    );
    // Indices per split partition the dataset.
    let n: usize = Split::ALL.iter().map(|s| ds.indices(*s).len()).sum();
    assert_eq!(n, ds.len());
    // The input's patients.csv is read without being named: the same split.
    let auto = tmp.path().join("auto");
    common::run(&input, &auto, |c| {
        c.seed = 3;
        c.png_bit_depth = None;
    })
    .unwrap();
    assert_eq!(labels(&auto), labels(&one));
    // Without patients.csv and without suffix grouping the folder name is the patient: 12.
    let out = tmp.path().join("nopat");
    common::run(&input, &out, |c| {
        c.png_bit_depth = None;
        c.auto_patients = false;
        c.group_scan_suffix = false;
    })
    .unwrap();
    assert_eq!(Prepared::open(&out).unwrap().info().counts.patients, 12);
    // With grouping (the default), case<p>a / case<p>b are one patient: 8 again.
    let out = tmp.path().join("grouped");
    let s = common::run(&input, &out, |c| {
        c.png_bit_depth = None;
        c.auto_patients = false;
    })
    .unwrap();
    assert_eq!(s.counts.patients, 8);
    assert_eq!(s.patient_groups.len(), 4);
}
