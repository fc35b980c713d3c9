//! Metrics against scikit-learn / numpy reference values (crates/classify/tests/data, written by
//! scripts/classify_fixtures.py). Tolerance 1e-6 (the values agree to ~1e-15).

use std::path::PathBuf;

use serde_json::Value;
use twinscan_classify::metrics::{
    F1Config, F1Labels, MeanSd, MetricsConfig, Samples, ZeroDivision, confusion, percentile_sorted,
};

const TOL: f64 = 1e-6;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

struct Row {
    patient: String,
    structure: String,
    label: i64,
    prob: f64,
}

/// Plain parse of the committed predictions.csv (independent of the report module).
fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(fixture_dir().join("predictions.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "scan,patient,slice,structure,label,prob"
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                patient: f[1].into(),
                structure: f[3].into(),
                label: f[4].parse().unwrap(),
                prob: f[5].parse().unwrap(),
            }
        })
        .collect()
}

fn expected() -> Value {
    twinscan_testkit::read_json(&fixture_dir().join("metrics_expected.json"))
}

/// JSON null = NaN (undefined).
fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn close(actual: f64, expected: f64, what: &str) {
    if expected.is_nan() {
        assert!(actual.is_nan(), "{what}: expected NaN, got {actual}");
    } else {
        assert!(
            (actual - expected).abs() <= TOL,
            "{what}: expected {expected}, got {actual}"
        );
    }
}

fn structure_data(rows: &[Row], structure: &str) -> (Vec<i8>, Vec<f64>) {
    rows.iter()
        .filter(|r| r.structure == structure)
        .map(|r| (r.label as i8, r.prob))
        .unzip()
}

#[test]
fn confusion_f1_auroc_match_sklearn() {
    let rows = rows();
    let exp = expected();
    let mut samples = Samples::new();
    for r in &rows {
        samples
            .push(&r.structure, &r.patient, r.label, r.prob)
            .unwrap();
    }
    let names: Vec<String> = exp["structures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(samples.structures(), names.as_slice());

    for threshold in [0.5, 0.3] {
        let cfg = MetricsConfig {
            threshold,
            ..Default::default()
        };
        let metrics = samples.evaluate(&cfg).unwrap();
        for m in &metrics {
            let e = &exp["metrics"][&m.structure][format!("threshold_{threshold}")];
            let c = m.confusion;
            let what = format!("{} @ {threshold}", m.structure);
            assert_eq!(
                [c.tn, c.fp, c.fn_, c.tp, m.n_known],
                [
                    e["tn"].as_u64().unwrap(),
                    e["fp"].as_u64().unwrap(),
                    e["fn"].as_u64().unwrap(),
                    e["tp"].as_u64().unwrap(),
                    e["n_known"].as_u64().unwrap()
                ],
                "{what}: confusion"
            );
            close(m.f1, num(&e["f1"]), &format!("{what}: f1"));
            close(m.auroc, num(&e["auroc"]), &format!("{what}: auroc"));

            // sklearn's labels=[0, 1] with each zero_division.
            for (zd, key) in [
                (ZeroDivision::Zero, "f1_both_zero"),
                (ZeroDivision::One, "f1_both_one"),
                (ZeroDivision::Nan, "f1_both_nan"),
            ] {
                let f1cfg = F1Config {
                    labels: F1Labels::Both,
                    zero_division: zd,
                };
                close(c.macro_f1(&f1cfg), num(&e[key]), &format!("{what}: {key}"));
            }

            // The free function agrees with the grouped evaluation.
            let (l, p) = structure_data(&rows, &m.structure);
            assert_eq!(confusion(&l, &p, threshold).unwrap(), c);
        }
    }
}

#[test]
fn fixture_covers_the_one_class_cases() {
    // Guard: the fixture must keep exercising the documented edge cases.
    let exp = expected();
    let m = &exp["metrics"];
    let at = |s: &str, k: &str| m[s]["threshold_0.5"][k].clone();
    assert!(at("Lens_R", "auroc").is_null() && at("Lens_R", "f1").as_f64() == Some(1.0));
    assert_eq!(at("Lens_R", "f1_both_zero").as_f64(), Some(0.5));
    assert!(at("Lens_L", "fp").as_u64().unwrap() > 0 && at("Lens_L", "tp").as_u64() == Some(0));
    assert!(at("Cochlea_L", "tn").as_u64() == Some(0) && at("Cochlea_L", "auroc").is_null());
    assert!(at("Parotid_R", "n_known").as_u64() == Some(0) && at("Parotid_R", "f1").is_null());
}

#[test]
fn explicit_resamples_match_sklearn_on_repeated_rows() {
    // A bootstrap replicate = patients drawn with multiplicity. Evaluate the multiset by
    // pushing each drawn patient's rows `count` times (under distinct patient ids) and compare
    // with sklearn on the same repeated rows.
    let rows = rows();
    let exp = expected();
    let cfg = MetricsConfig {
        bootstrap: twinscan_classify::metrics::BootstrapConfig {
            replicates: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    for (i, rs) in exp["resamples"].as_array().unwrap().iter().enumerate() {
        let mut samples = Samples::new();
        for name in exp["structures"].as_array().unwrap() {
            samples.add_structure(name.as_str().unwrap());
        }
        for r in &rows {
            let k = rs["counts"][&r.patient].as_u64().unwrap();
            for copy in 0..k {
                samples
                    .push(
                        &r.structure,
                        &format!("{}#{copy}", r.patient),
                        r.label,
                        r.prob,
                    )
                    .unwrap();
            }
        }
        for m in samples.evaluate(&cfg).unwrap() {
            let e = &rs["structures"][&m.structure];
            let what = format!("resample {i} {}", m.structure);
            assert_eq!(m.n_known, e["n_known"].as_u64().unwrap(), "{what}");
            close(m.f1, num(&e["f1"]), &format!("{what}: f1"));
            close(m.auroc, num(&e["auroc"]), &format!("{what}: auroc"));
        }
    }
}

#[test]
fn percentiles_match_numpy() {
    for case in expected()["percentiles"].as_array().unwrap() {
        let mut v: Vec<f64> = case["values"].as_array().unwrap().iter().map(num).collect();
        v.sort_by(f64::total_cmp);
        close(percentile_sorted(&v, 0.025), num(&case["p2_5"]), "p2.5");
        close(percentile_sorted(&v, 0.975), num(&case["p97_5"]), "p97.5");
        close(percentile_sorted(&v, 0.5), num(&case["p50"]), "p50");
    }
}

#[test]
fn mean_sd_match_numpy() {
    for case in expected()["mean_sd"].as_array().unwrap() {
        let v: Vec<f64> = case["values"].as_array().unwrap().iter().map(num).collect();
        let m = MeanSd::of(&v);
        assert_eq!(m.n, v.len());
        close(m.mean, num(&case["mean"]), "mean");
        close(m.sd, num(&case["sd"]), "sd");
    }
    let single = MeanSd::of(&[0.5]);
    assert!(single.mean == 0.5 && single.sd.is_nan());
    assert!(MeanSd::of(&[f64::NAN]).mean.is_nan());
}

#[test]
fn bootstrap_intervals_on_fixture_are_sane() {
    let mut samples = Samples::new();
    for r in rows() {
        samples
            .push(&r.structure, &r.patient, r.label, r.prob)
            .unwrap();
    }
    for m in samples.evaluate(&MetricsConfig::default()).unwrap() {
        match m.structure.as_str() {
            // Perfect separation in every replicate.
            "SpinalCord" => {
                assert_eq!((m.f1_ci.lo, m.f1_ci.hi), (1.0, 1.0));
                assert_eq!((m.auroc_ci.lo, m.auroc_ci.hi), (1.0, 1.0));
            }
            // Never defined.
            "Parotid_R" => assert!(m.f1_ci.lo.is_nan() && m.auroc_ci.lo.is_nan()),
            "Lens_R" | "Lens_L" | "Cochlea_L" => assert!(m.auroc_ci.lo.is_nan()),
            _ => {
                assert!(m.f1_ci.lo <= m.f1 && m.f1 <= m.f1_ci.hi, "{m:?}");
                assert!(
                    m.auroc_ci.lo <= m.auroc && m.auroc <= m.auroc_ci.hi,
                    "{m:?}"
                );
                assert!(m.f1_ci.hi - m.f1_ci.lo > 0.01, "{m:?}");
            }
        }
    }
}
