//! predictions.csv / metrics.csv / result tables: round trips, recomputation, bad input.

use std::fs;
use std::path::{Path, PathBuf};

use twinscan_classify::ClassifyError;
use twinscan_classify::metrics::{Confusion, Interval, MetricsConfig, StructureMetrics};
use twinscan_classify::report::{
    PredictionRow, ResultTable, RunMetrics, TableMetric, metrics_from_predictions, read_metrics,
    read_predictions, write_atomic, write_metrics, write_predictions,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Equality with NaN == NaN.
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn same_metrics(a: &StructureMetrics, b: &StructureMetrics) -> bool {
    a.structure == b.structure
        && a.confusion == b.confusion
        && a.n_known == b.n_known
        && [
            a.f1,
            a.f1_ci.lo,
            a.f1_ci.hi,
            a.auroc,
            a.auroc_ci.lo,
            a.auroc_ci.hi,
        ]
        .iter()
        .zip([
            b.f1,
            b.f1_ci.lo,
            b.f1_ci.hi,
            b.auroc,
            b.auroc_ci.lo,
            b.auroc_ci.hi,
        ])
        .all(|(x, y)| same(*x, y))
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn metrics_csv_is_reproducible_from_predictions_csv() {
    let dir = tempfile::tempdir().unwrap();
    let rows = read_predictions(&fixture("predictions.csv")).unwrap();
    assert_eq!(rows.len(), 371);

    // A run writes its predictions and metrics...
    let pred = dir.path().join("predictions.csv");
    write_predictions(&pred, &rows).unwrap();
    assert_eq!(read_predictions(&pred).unwrap(), rows);
    let cfg = MetricsConfig::default();
    let metrics = metrics_from_predictions(&pred, &cfg).unwrap();
    let metrics_path = dir.path().join("metrics.csv");
    write_metrics(&metrics_path, &metrics).unwrap();

    // ...and metrics.csv is recomputed from predictions.csv alone, byte for byte.
    let again = metrics_from_predictions(&pred, &cfg).unwrap();
    let again_path = dir.path().join("metrics_again.csv");
    write_metrics(&again_path, &again).unwrap();
    assert_eq!(
        fs::read(&metrics_path).unwrap(),
        fs::read(&again_path).unwrap()
    );

    // Reading metrics.csv back gives the same numbers (shortest round-trip floats).
    let back = read_metrics(&metrics_path).unwrap();
    assert_eq!(back.len(), metrics.len());
    for (a, b) in back.iter().zip(&metrics) {
        assert!(same_metrics(a, b), "{a:?} vs {b:?}");
    }

    // And the point values are sklearn's.
    let exp = twinscan_testkit::read_json(&fixture("metrics_expected.json"));
    for m in &back {
        let e = &exp["metrics"][&m.structure]["threshold_0.5"];
        let f1 = e["f1"].as_f64().unwrap_or(f64::NAN);
        let auc = e["auroc"].as_f64().unwrap_or(f64::NAN);
        assert!(
            same(m.f1, f1) || (m.f1 - f1).abs() < 1e-6,
            "{}",
            m.structure
        );
        assert!(
            same(m.auroc, auc) || (m.auroc - auc).abs() < 1e-6,
            "{}",
            m.structure
        );
        assert_eq!(m.confusion.tp, e["tp"].as_u64().unwrap());
    }

    // Header and a NaN row as written.
    let text = fs::read_to_string(&metrics_path).unwrap();
    assert!(
        text.starts_with("structure,tn,fp,fn,tp,f1,f1_lo,f1_hi,auroc,auroc_lo,auroc_hi,n_known\n")
    );
    assert!(text.contains("\nParotid_R,0,0,0,0,NaN,NaN,NaN,NaN,NaN,NaN,0\n"));
    // No temporary files left behind.
    assert_eq!(
        files_in(dir.path()),
        ["metrics.csv", "metrics_again.csv", "predictions.csv"]
    );
}

fn expect_content_error(text: &str, line: u64, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predictions.csv");
    fs::write(&path, text).unwrap();
    match read_predictions(&path) {
        Err(ClassifyError::CsvContent {
            path: p,
            line: l,
            message,
        }) => {
            assert_eq!(p, path);
            assert_eq!(l, line, "{message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            // The message names the file.
            let shown = ClassifyError::CsvContent {
                path: p,
                line: l,
                message,
            }
            .to_string();
            assert!(shown.contains("predictions.csv"), "{shown}");
        }
        other => panic!("expected a CsvContent error for {needle:?}, got {other:?}"),
    }
}

#[test]
fn bad_predictions_are_rejected_with_file_and_line() {
    let h = "scan,patient,slice,structure,label,prob\n";
    expect_content_error("scan,patient,slice,label,prob\na,p,0,1,0.5\n", 1, "header");
    expect_content_error(&format!("{h}a,p,0,Brain,2,0.5\n"), 2, "label 2");
    expect_content_error(
        &format!("{h}a,p,0,Brain,1,0.5\na,p,1,Brain,1,1.5\n"),
        3,
        "prob 1.5",
    );
    expect_content_error(&format!("{h}a,p,0,Brain,1,NaN\n"), 2, "prob NaN");
    expect_content_error(&format!("{h}a,p,x,Brain,1,0.5\n"), 2, "slice");
    expect_content_error(&format!("{h}a,p,0,Brain,1,\n"), 2, "prob");
    expect_content_error(
        &format!("{h}a,p,0,Brain,1,0.5\na,p,0,Brain,-1,0.2\n"),
        3,
        "duplicate",
    );
    expect_content_error(
        &format!("{h}a,p,0,Brain,1,0.5\na,q,1,Brain,1,0.5\n"),
        3,
        "patient",
    );
    expect_content_error(h, 1, "no prediction rows");

    // Truncated row (missing field) -> CSV error naming the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predictions.csv");
    fs::write(&path, format!("{h}a,p,0,Brain,1,0.5\na,p,1,Brain")).unwrap();
    let err = read_predictions(&path).unwrap_err();
    assert!(matches!(err, ClassifyError::Csv { .. }), "{err:?}");
    assert!(err.to_string().contains("predictions.csv"));

    // Missing file.
    let err = read_predictions(&dir.path().join("nope.csv")).unwrap_err();
    assert!(matches!(err, ClassifyError::Io { .. }) && err.to_string().contains("nope.csv"));
}

#[test]
fn bad_metrics_csv_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    let h = "structure,tn,fp,fn,tp,f1,f1_lo,f1_hi,auroc,auroc_lo,auroc_hi,n_known\n";
    fs::write(
        &path,
        format!("{h}Brain,1,2,3,4,0.5,0.4,0.6,0.7,0.6,0.8,9\n"),
    )
    .unwrap();
    let err = read_metrics(&path).unwrap_err();
    assert!(err.to_string().contains("n_known 9"), "{err}");
    fs::write(
        &path,
        format!("{h}Brain,1,2,3,x,0.5,0.4,0.6,0.7,0.6,0.8,10\n"),
    )
    .unwrap();
    assert!(
        read_metrics(&path)
            .unwrap_err()
            .to_string()
            .contains("column tp")
    );
}

#[test]
fn failed_writes_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predictions.csv");
    // An invalid row: error, no file.
    let bad = vec![PredictionRow {
        scan: "a".into(),
        patient: "p".into(),
        slice: 0,
        structure: "Brain".into(),
        label: 1,
        prob: f64::NAN,
    }];
    assert!(write_predictions(&path, &bad).is_err());
    assert!(files_in(dir.path()).is_empty());

    // A fill that fails midway keeps an existing file intact and removes the temporary.
    fs::write(&path, "old").unwrap();
    let res = write_atomic(&path, |w| {
        use std::io::Write;
        w.write_all(b"partial").unwrap();
        Err(ClassifyError::Config {
            field: "test".into(),
            message: "interrupted".into(),
        })
    });
    assert!(res.is_err());
    assert_eq!(fs::read_to_string(&path).unwrap(), "old");
    assert_eq!(files_in(dir.path()), ["predictions.csv"]);

    // Writing into a missing folder is an I/O error naming a path there.
    let err = write_metrics(&dir.path().join("missing/metrics.csv"), &[]).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

fn sm(structure: &str, f1: f64, auroc: f64) -> StructureMetrics {
    StructureMetrics {
        structure: structure.into(),
        confusion: Confusion::default(),
        n_known: 0,
        f1,
        f1_ci: Interval::NAN,
        auroc,
        auroc_ci: Interval::NAN,
    }
}

#[test]
fn result_tables_in_the_study_layout() {
    let nan = f64::NAN;
    let runs = vec![
        RunMetrics {
            experiment: "random".into(),
            seed: 0,
            metrics: vec![sm("Brain", 0.80, 0.90), sm("Lens_L", 0.50, nan)],
        },
        RunMetrics {
            experiment: "random".into(),
            seed: 1,
            metrics: vec![sm("Brain", 0.90, 0.95), sm("Lens_L", 0.60, nan)],
        },
        RunMetrics {
            experiment: "bt-imagenet".into(),
            seed: 0,
            metrics: vec![sm("Brain", 0.85, 0.97)],
        },
    ];
    let t = ResultTable::from_runs(&runs, TableMetric::F1).unwrap();
    assert_eq!(t.structures, ["Brain", "Lens_L"]);
    assert_eq!(t.experiments, ["random", "bt-imagenet"]);
    // Brain/random: mean 0.85, sd (ddof 1) = sqrt(0.005) = 0.0707...
    assert!((t.cells[0][0].mean - 0.85).abs() < 1e-12);
    assert!((t.cells[0][0].sd - 0.005f64.sqrt()).abs() < 1e-12);
    assert_eq!(t.cells[1][1].n, 0); // Lens_L absent from bt-imagenet
    let md = t.to_markdown();
    let expected = "Held-out macro F1 per structure (known labels only), mean ± sd over seeds.\n\n\
                    | structure | random | bt-imagenet |\n\
                    |---|---:|---:|\n\
                    | Brain | 0.850 ± 0.071 | 0.850 |\n\
                    | Lens_L | 0.550 ± 0.071 | n/a |\n";
    assert_eq!(md, expected);

    let auc = ResultTable::from_runs(&runs, TableMetric::Auroc).unwrap();
    assert_eq!(ResultTable::format_cell(&auc.cells[1][0]), "n/a");
    assert_eq!(ResultTable::format_cell(&auc.cells[0][0]), "0.925 ± 0.035");

    let dir = tempfile::tempdir().unwrap();
    let (md_path, csv_path) = t.write_all(dir.path()).unwrap();
    assert_eq!(md_path.file_name().unwrap(), "table_f1.md");
    assert_eq!(fs::read_to_string(&md_path).unwrap(), expected);
    let csv = fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "structure,random,random_sd,random_n,bt-imagenet,bt-imagenet_sd,bt-imagenet_n"
    );
    let brain: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(brain[0], "Brain");
    assert!((brain[1].parse::<f64>().unwrap() - 0.85).abs() < 1e-12);
    assert_eq!(&brain[3..], ["2", "0.85", "NaN", "1"]);
    assert_eq!(
        lines[2].split(',').skip(4).collect::<Vec<_>>(),
        ["NaN", "NaN", "0"]
    );

    let mut dup = runs.clone();
    dup.push(runs[0].clone());
    assert!(ResultTable::from_runs(&dup, TableMetric::F1).is_err());
}
