//! Grid tables from the runs' predictions: the paired delta table recomputed independently
//! from `predictions.csv` files, hand-checkable cases, B = 0, charts, bad input, and timing at
//! the study's scale.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use twinscan_classify::ClassifyError;
use twinscan_classify::metrics::{BootstrapConfig, MetricsConfig};
use twinscan_classify::report::{
    PredictionRow, metrics_from_predictions, read_predictions, write_predictions,
};
use twinscan_classify::tables::{ColumnRuns, GridTables, MEAN_ROW, write_grid_tables};

const STRUCTURES: [&str; 3] = ["Brain", "Lens_L", "SpinalCord"];

/// Deterministic uniform numbers in [0, 1) (xorshift), independent of the library's stream.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a synthetic run predicts.
#[derive(Clone, Copy)]
enum Kind {
    /// Probabilities correlated with the labels, noise from `seed`.
    Noisy { skill: f64, seed: u64 },
    /// 1 for positives, 0 otherwise.
    Perfect,
    /// Independent of the labels.
    Random { seed: u64 },
}

/// The test split: `patients` patients (ids shuffled so that sorting matters), patients with
/// an even index have two scans; `slices` slices per scan; labels fixed by position; `Lens_L`
/// unknown (0) in every scan of patient 1, and positive on few slices.
fn labels(patients: usize, slices: u32) -> Vec<(String, String, u32, String, i8)> {
    let mut out = Vec::new();
    for p in 0..patients {
        let patient = format!("P{:02}", (p * 7) % patients.max(1) + 100 * (p % 2));
        let scans = if p % 2 == 0 { 2 } else { 1 };
        for k in 0..scans {
            let scan = format!("{patient}-s{k}");
            for z in 0..slices {
                for (si, s) in STRUCTURES.iter().enumerate() {
                    let label = match si {
                        0 => {
                            if z < slices / 2 {
                                1
                            } else {
                                -1
                            }
                        }
                        1 if p == 1 => 0,
                        1 => {
                            if (z + p as u32).is_multiple_of(5) {
                                1
                            } else {
                                -1
                            }
                        }
                        _ => {
                            if (z * 3 + p as u32) % 4 < 2 {
                                1
                            } else {
                                -1
                            }
                        }
                    };
                    out.push((scan.clone(), patient.clone(), z, s.to_string(), label));
                }
            }
        }
    }
    out
}

fn predict(truth: &[(String, String, u32, String, i8)], kind: Kind) -> Vec<PredictionRow> {
    let mut rng = Lcg(match kind {
        Kind::Noisy { seed, .. } | Kind::Random { seed } => 0x9E37_79B9_7F4A_7C15 ^ (seed + 1),
        Kind::Perfect => 1,
    });
    truth
        .iter()
        .map(|(scan, patient, slice, structure, label)| {
            let prob = match kind {
                Kind::Perfect => f64::from(u8::from(*label == 1)),
                Kind::Random { .. } => rng.next(),
                Kind::Noisy { skill, .. } => {
                    let signal = if *label == 1 { skill } else { -skill };
                    // Rounded to 2 decimals: ties, as rounded model outputs give.
                    ((0.5 + signal + (rng.next() - 0.5) * 0.9).clamp(0.0, 1.0) * 100.0).round()
                        / 100.0
                }
            };
            PredictionRow {
                scan: scan.clone(),
                patient: patient.clone(),
                slice: *slice,
                structure: structure.clone(),
                label: *label,
                prob,
            }
        })
        .collect()
}

fn cfg(replicates: usize) -> MetricsConfig {
    MetricsConfig {
        bootstrap: BootstrapConfig {
            replicates,
            seed: 7,
            confidence: 0.95,
        },
        ..Default::default()
    }
}

/// Reads a CSV written by the tables: header and rows of strings.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn num(s: &str) -> f64 {
    s.parse().unwrap()
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

// ---------------------------------------------------------------------------------------------
// An independent, slow implementation of the paired delta table, written from the documented
// definition (tables module docs), sharing no code with the library.

/// sklearn's `f1_score(average="macro")` over the known labels, from scratch; NaN when none.
fn macro_f1_from_scratch(pairs: &[(i8, f64)], threshold: f64) -> f64 {
    let known: Vec<(bool, bool)> = pairs
        .iter()
        .filter(|(l, _)| *l != 0)
        .map(|&(l, p)| (l == 1, p > threshold))
        .collect();
    if known.is_empty() {
        return f64::NAN;
    }
    let mut per_class = Vec::new();
    for class in [false, true] {
        let tp = known
            .iter()
            .filter(|&&(t, p)| t == class && p == class)
            .count();
        let fp = known
            .iter()
            .filter(|&&(t, p)| t != class && p == class)
            .count();
        let fn_ = known
            .iter()
            .filter(|&&(t, p)| t == class && p != class)
            .count();
        // A class counts when it occurs among the labels or the predictions.
        let observed = known.iter().any(|&(t, p)| t == class || p == class);
        if observed {
            per_class.push(2.0 * tp as f64 / (2 * tp + fp + fn_) as f64);
        }
    }
    per_class.iter().sum::<f64>() / per_class.len() as f64
}

fn mean_defined(v: &[f64]) -> f64 {
    let d: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if d.is_empty() {
        f64::NAN
    } else {
        d.iter().sum::<f64>() / d.len() as f64
    }
}

/// numpy's `percentile` (linear) of the defined values; NaN when none.
fn np_percentile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    if lo + 1 >= v.len() {
        return v[v.len() - 1];
    }
    v[lo] + (h - lo as f64) * (v[lo + 1] - v[lo])
}

/// Per run: F1 per structure then the mean over structures, on a resample given as the list
/// of drawn patients (with repetition).
fn run_row_values(rows: &[PredictionRow], drawn: &[&str], threshold: f64) -> Vec<f64> {
    let mut resample: Vec<&PredictionRow> = Vec::new();
    for p in drawn {
        resample.extend(rows.iter().filter(|r| r.patient == *p));
    }
    let mut v: Vec<f64> = STRUCTURES
        .iter()
        .map(|s| {
            let pairs: Vec<(i8, f64)> = resample
                .iter()
                .filter(|r| r.structure == *s)
                .map(|r| (r.label, r.prob))
                .collect();
            macro_f1_from_scratch(&pairs, threshold)
        })
        .collect();
    v.push(mean_defined(&v));
    v
}

/// Seed-mean per row of one column on a resample.
fn column_row_values(runs: &BTreeMap<u64, Vec<PredictionRow>>, drawn: &[&str], t: f64) -> Vec<f64> {
    let per_run: Vec<Vec<f64>> = runs.values().map(|r| run_row_values(r, drawn, t)).collect();
    (0..=STRUCTURES.len())
        .map(|row| mean_defined(&per_run.iter().map(|v| v[row]).collect::<Vec<_>>()))
        .collect()
}

/// The delta table as `[column][row] -> (delta, lo, hi)`.
fn delta_from_scratch(
    columns: &BTreeMap<String, BTreeMap<u64, Vec<PredictionRow>>>,
    baseline: &str,
    cfg: &MetricsConfig,
) -> BTreeMap<String, Vec<(f64, f64, f64)>> {
    let any_run = columns.values().next().unwrap().values().next().unwrap();
    let patients: Vec<&str> = any_run
        .iter()
        .map(|r| r.patient.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let n = patients.len();
    let t = cfg.threshold;
    let point: BTreeMap<&str, Vec<f64>> = columns
        .iter()
        .map(|(c, runs)| (c.as_str(), column_row_values(runs, &patients, t)))
        .collect();
    let mut reps: BTreeMap<&str, Vec<Vec<f64>>> = BTreeMap::new(); // column -> [b][row]
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.bootstrap.seed);
    for _ in 0..cfg.bootstrap.replicates {
        let drawn: Vec<&str> = (0..n).map(|_| patients[rng.random_range(0..n)]).collect();
        for (c, runs) in columns {
            reps.entry(c)
                .or_default()
                .push(column_row_values(runs, &drawn, t));
        }
    }
    let alpha = (1.0 - cfg.bootstrap.confidence) / 2.0;
    columns
        .keys()
        .filter(|c| *c != baseline)
        .map(|c| {
            let rows = (0..=STRUCTURES.len())
                .map(|row| {
                    let diffs: Vec<f64> = match (reps.get(c.as_str()), reps.get(baseline)) {
                        (Some(a), Some(b)) => {
                            a.iter().zip(b).map(|(x, y)| x[row] - y[row]).collect()
                        }
                        _ => Vec::new(),
                    };
                    (
                        point[c.as_str()][row] - point[baseline][row],
                        np_percentile(&diffs, alpha),
                        np_percentile(&diffs, 1.0 - alpha),
                    )
                })
                .collect();
            (c.clone(), rows)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------

/// Writes each run's predictions to `<dir>/runs/<column>/seed<k>/predictions.csv`, then reads
/// them back as the runner would.
fn write_and_read(dir: &Path, runs: &[(&str, u64, Vec<PredictionRow>)]) -> Vec<ColumnRuns> {
    let mut columns: Vec<ColumnRuns> = Vec::new();
    for (column, seed, rows) in runs {
        let run_dir = dir.join("runs").join(column).join(format!("seed{seed}"));
        fs::create_dir_all(&run_dir).unwrap();
        let path = run_dir.join("predictions.csv");
        write_predictions(&path, rows).unwrap();
        let back = read_predictions(&path).unwrap();
        match columns.iter_mut().find(|c| c.column == *column) {
            Some(c) => c.runs.push((*seed, back)),
            None => columns.push(ColumnRuns {
                column: column.to_string(),
                runs: vec![(*seed, back)],
            }),
        }
    }
    columns
}

fn prediction_files(dir: &Path) -> BTreeMap<String, BTreeMap<u64, Vec<PredictionRow>>> {
    let mut out: BTreeMap<String, BTreeMap<u64, Vec<PredictionRow>>> = BTreeMap::new();
    for col in fs::read_dir(dir.join("runs")).unwrap() {
        let col = col.unwrap();
        let name = col.file_name().to_string_lossy().into_owned();
        for run in fs::read_dir(col.path()).unwrap() {
            let run = run.unwrap();
            let seed: u64 = run.file_name().to_string_lossy()["seed".len()..]
                .parse()
                .unwrap();
            let rows = read_predictions(&run.path().join("predictions.csv")).unwrap();
            out.entry(name.clone()).or_default().insert(seed, rows);
        }
    }
    out
}

const EXPECTED_FILES: [&str; 9] = [
    "chart_auroc.png",
    "chart_delta_f1.png",
    "chart_f1.png",
    "table_auroc.csv",
    "table_auroc.md",
    "table_delta_f1.csv",
    "table_delta_f1.md",
    "table_f1.csv",
    "table_f1.md",
];

fn out_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "runs")
        .collect();
    v.sort();
    v
}

#[test]
fn delta_table_is_recomputed_from_the_predictions_files() {
    let tmp = tempfile::tempdir().unwrap();
    let truth = labels(11, 10);
    let mut runs = Vec::new();
    for seed in 0..3u64 {
        runs.push((
            "random-frozen",
            seed,
            predict(&truth, Kind::Noisy { skill: 0.05, seed }),
        ));
        runs.push((
            "bt-imagenet-frozen",
            seed,
            predict(
                &truth,
                Kind::Noisy {
                    skill: 0.2,
                    seed: 10 + seed,
                },
            ),
        ));
    }
    // A column with two seeds only.
    for seed in [0u64, 5] {
        runs.push((
            "imagenet-finetune",
            seed,
            predict(
                &truth,
                Kind::Noisy {
                    skill: 0.12,
                    seed: 20 + seed,
                },
            ),
        ));
    }
    let columns = write_and_read(tmp.path(), &runs);
    let cfg = cfg(200);
    let t0 = Instant::now();
    let tables = write_grid_tables(
        tmp.path(),
        &columns,
        "random-frozen",
        "classifier seeds",
        &cfg,
    )
    .unwrap();
    eprintln!("write_grid_tables: {:.3} s", t0.elapsed().as_secs_f64());
    assert_eq!(out_files(tmp.path()), EXPECTED_FILES);

    // The delta table, from the files only.
    let files = prediction_files(tmp.path());
    let expected = delta_from_scratch(&files, "random-frozen", &cfg);
    let (header, rows) = read_csv(&tmp.path().join("table_delta_f1.csv"));
    assert_eq!(
        header,
        [
            "structure",
            "bt-imagenet-frozen",
            "bt-imagenet-frozen_lo",
            "bt-imagenet-frozen_hi",
            "bt-imagenet-frozen_sig",
            "imagenet-finetune",
            "imagenet-finetune_lo",
            "imagenet-finetune_hi",
            "imagenet-finetune_sig",
        ]
    );
    let row_names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(row_names, ["Brain", "Lens_L", "SpinalCord", MEAN_ROW]);
    let mut significant = 0;
    for (k, column) in ["bt-imagenet-frozen", "imagenet-finetune"]
        .iter()
        .enumerate()
    {
        for (row, rec) in rows.iter().enumerate() {
            let (d, lo, hi) = expected[*column][row];
            let got = &rec[1 + 4 * k..5 + 4 * k];
            assert!(
                same(num(&got[0]), d),
                "{column} {}: {} vs {d}",
                rec[0],
                got[0]
            );
            assert!(
                same(num(&got[1]), lo),
                "{column} {}: lo {} vs {lo}",
                rec[0],
                got[1]
            );
            assert!(
                same(num(&got[2]), hi),
                "{column} {}: hi {} vs {hi}",
                rec[0],
                got[2]
            );
            assert!(lo.is_finite() && hi.is_finite() && lo <= d.max(hi));
            let sig = lo > 0.0 || hi < 0.0;
            assert_eq!(got[3], if sig { "1" } else { "0" });
            significant += usize::from(sig);
        }
    }
    // The better column is detectably better somewhere (the test would be vacuous otherwise).
    assert!(significant > 0);
    assert_eq!(
        tables.delta_f1.columns,
        ["bt-imagenet-frozen", "imagenet-finetune"]
    );

    // The F1 table's seed-means are the means of each run's own metrics (metrics.csv path).
    let (header, f1_rows) = read_csv(&tmp.path().join("table_f1.csv"));
    assert_eq!(
        &header[..6],
        [
            "structure",
            "random-frozen",
            "random-frozen_sd",
            "random-frozen_n",
            "random-frozen_lo",
            "random-frozen_hi"
        ]
    );
    assert_eq!(header.len(), 1 + 5 * 3);
    for (k, (column, runs)) in [
        ("random-frozen", files["random-frozen"].clone()),
        ("bt-imagenet-frozen", files["bt-imagenet-frozen"].clone()),
        ("imagenet-finetune", files["imagenet-finetune"].clone()),
    ]
    .into_iter()
    .enumerate()
    {
        let per_run: Vec<Vec<f64>> = runs
            .keys()
            .map(|seed| {
                let path = tmp
                    .path()
                    .join(format!("runs/{column}/seed{seed}/predictions.csv"));
                metrics_from_predictions(&path, &cfg)
                    .unwrap()
                    .iter()
                    .map(|m| m.f1)
                    .collect()
            })
            .collect();
        for (s, rec) in f1_rows.iter().take(STRUCTURES.len()).enumerate() {
            let values: Vec<f64> = per_run.iter().map(|v| v[s]).collect();
            let mean = mean_defined(&values);
            let col = &rec[1 + 5 * k..6 + 5 * k];
            assert!((num(&col[0]) - mean).abs() < 1e-12, "{column} {}", rec[0]);
            assert_eq!(num(&col[2]) as usize, runs.len());
            let (lo, hi) = (num(&col[3]), num(&col[4]));
            assert!(
                lo <= hi && lo.is_finite(),
                "{column} {}: [{lo}, {hi}]",
                rec[0]
            );
        }
    }

    // Markdown: caption with the spread, the bootstrap and the patient count, and the cells.
    let md = fs::read_to_string(tmp.path().join("table_f1.md")).unwrap();
    let caption = md.lines().next().unwrap();
    assert!(
        caption.contains("mean ± sd over classifier seeds"),
        "{caption}"
    );
    assert!(
        caption.contains("patient-bootstrap 95% interval pooled over seeds"),
        "{caption}"
    );
    assert!(caption.contains("Test patients: 11."), "{caption}");
    assert!(!caption.contains("WARNING"), "{caption}");
    assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 1 + 4);
    let delta_md = fs::read_to_string(tmp.path().join("table_delta_f1.md")).unwrap();
    assert!(delta_md.contains(
        "| structure | bt-imagenet-frozen − random-frozen | imagenet-finetune − random-frozen |"
    ));
    assert!(
        delta_md
            .lines()
            .next()
            .unwrap()
            .contains("paired patient-bootstrap 95% interval")
    );
    assert_eq!(delta_md.matches(" *").count(), significant);
}

#[test]
fn identical_and_perfect_columns_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let truth = labels(12, 8);
    let base: Vec<PredictionRow> = predict(&truth, Kind::Random { seed: 3 });
    let base1: Vec<PredictionRow> = predict(&truth, Kind::Random { seed: 4 });
    // Rows in another order: the result must not depend on it.
    let mut same_rev = base.clone();
    same_rev.reverse();
    let columns = vec![
        ColumnRuns {
            column: "random".into(),
            runs: vec![(0, base.clone()), (1, base1.clone())],
        },
        ColumnRuns {
            column: "same".into(),
            runs: vec![(1, base1), (0, same_rev)],
        },
        ColumnRuns {
            column: "perfect".into(),
            runs: vec![
                (0, predict(&truth, Kind::Perfect)),
                (1, predict(&truth, Kind::Perfect)),
            ],
        },
    ];
    let t = write_grid_tables(
        tmp.path(),
        &columns,
        "random",
        "classifier seeds",
        &cfg(300),
    )
    .unwrap();
    let (same_col, perfect_col) = (0, 1);
    assert_eq!(t.delta_f1.columns, ["same", "perfect"]);
    for c in t
        .delta_f1
        .cells
        .iter()
        .map(|r| &r[same_col])
        .chain([&t.delta_f1.mean[same_col]])
    {
        assert_eq!((c.delta, c.ci.lo, c.ci.hi), (0.0, 0.0, 0.0));
        assert!(!c.excludes_zero());
    }
    // Perfect: F1 = 1 on every resample, so its cells are exactly 1 ± 0 [1, 1].
    let f1_perfect: Vec<String> =
        t.f1.rows()
            .map(|(_, r)| twinscan_classify::tables::UncertainTable::format_cell(&r[2]))
            .collect();
    assert_eq!(f1_perfect, vec!["1.000 ± 0.000 [1.000, 1.000]"; 4]);
    // Random probabilities give F1 near 0.5: perfect is far better, on every row.
    for c in t
        .delta_f1
        .cells
        .iter()
        .map(|r| &r[perfect_col])
        .chain([&t.delta_f1.mean[perfect_col]])
    {
        assert!(c.delta > 0.3 && c.ci.lo > 0.0 && c.excludes_zero(), "{c:?}");
    }
    let (_, rows) = read_csv(&tmp.path().join("table_delta_f1.csv"));
    let mean_row = rows.last().unwrap();
    assert_eq!(mean_row[0], "mean");
    assert_eq!(&mean_row[1..5], ["0", "0", "0", "0"]);
    assert_eq!(mean_row[8], "1");
    let md = fs::read_to_string(tmp.path().join("table_delta_f1.md")).unwrap();
    let mean_md = md.lines().last().unwrap();
    assert!(
        mean_md.starts_with("| mean | +0.000 [+0.000, +0.000] | +0."),
        "{mean_md}"
    );
    assert!(mean_md.ends_with("] * |"), "{mean_md}");

    // The seed-mean of the identical column equals the baseline's, cell by cell.
    for (a, b) in t.f1.rows().zip(t.f1.rows()) {
        assert_eq!(a.1[0], b.1[1]);
    }
}

#[test]
fn no_bootstrap_gives_nan_intervals_and_few_patients_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let truth = labels(4, 6);
    let columns = vec![
        ColumnRuns {
            column: "a".into(),
            runs: vec![(
                0,
                predict(
                    &truth,
                    Kind::Noisy {
                        skill: 0.1,
                        seed: 1,
                    },
                ),
            )],
        },
        ColumnRuns {
            column: "b".into(),
            runs: vec![
                (0, predict(&truth, Kind::Perfect)),
                (
                    1,
                    predict(
                        &truth,
                        Kind::Noisy {
                            skill: 0.3,
                            seed: 2,
                        },
                    ),
                ),
            ],
        },
    ];
    let t = write_grid_tables(
        tmp.path(),
        &columns,
        "a",
        "classifier and pretraining seeds",
        &cfg(0),
    )
    .unwrap();
    for (_, row) in t.f1.rows().chain(t.auroc.rows()) {
        for c in row {
            assert!(c.ci.lo.is_nan() && c.ci.hi.is_nan());
        }
    }
    for (_, row) in t.delta_f1.rows() {
        assert!(row[0].delta.is_finite() && row[0].ci.lo.is_nan() && !row[0].excludes_zero());
    }
    let (_, rows) = read_csv(&tmp.path().join("table_f1.csv"));
    // Column a (one seed): sd NaN, n 1, lo/hi NaN.
    assert_eq!(&rows[0][2..6], ["NaN", "1", "NaN", "NaN"]);
    let (_, rows) = read_csv(&tmp.path().join("table_delta_f1.csv"));
    assert!(
        rows.iter()
            .all(|r| r[2] == "NaN" && r[3] == "NaN" && r[4] == "0")
    );
    let md = fs::read_to_string(tmp.path().join("table_f1.md")).unwrap();
    let caption = md.lines().next().unwrap();
    assert!(
        caption.contains("mean ± sd over classifier and pretraining seeds"),
        "{caption}"
    );
    assert!(caption.contains("B = 0"), "{caption}");
    assert!(
        caption.contains("Test patients: 4 (WARNING: fewer than 10"),
        "{caption}"
    );
    // One seed: bare mean with `[n/a]`; two seeds: mean ± sd [n/a].
    let brain = md.lines().find(|l| l.starts_with("| Brain |")).unwrap();
    let cells: Vec<&str> = brain.split(" | ").collect();
    assert!(
        cells[1].ends_with(" [n/a]") && !cells[1].contains('±'),
        "{brain}"
    );
    assert!(
        cells[2].contains(" ± ") && cells[2].ends_with(" [n/a] |"),
        "{brain}"
    );
    let delta = fs::read_to_string(tmp.path().join("table_delta_f1.md")).unwrap();
    assert!(delta.lines().next().unwrap().contains("WARNING"));
    assert!(delta.contains("[n/a]") && !delta.contains(" *"));
    // AUROC of Lens_L in a scan-level unknown patient is still defined (other patients).
    assert!(t.auroc.cells[1][0].seeds.mean.is_finite());
}

#[test]
fn one_test_patient_gets_no_interval_and_no_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let truth = labels(1, 12);
    let columns = vec![
        ColumnRuns {
            column: "a".into(),
            runs: vec![(0, predict(&truth, Kind::Random { seed: 3 }))],
        },
        ColumnRuns {
            column: "b".into(),
            runs: vec![(0, predict(&truth, Kind::Perfect))],
        },
    ];
    let t = write_grid_tables(tmp.path(), &columns, "a", "classifier seeds", &cfg(200)).unwrap();
    for (_, row) in t.f1.rows() {
        assert!(row.iter().all(|c| c.ci.lo.is_nan() && c.ci.hi.is_nan()));
    }
    for (_, row) in t.delta_f1.rows() {
        assert!(row[0].ci.lo.is_nan() && !row[0].excludes_zero());
    }
    let delta = fs::read_to_string(tmp.path().join("table_delta_f1.md")).unwrap();
    let caption = delta.lines().next().unwrap();
    assert!(caption.contains("fewer than 2 test patients"), "{caption}");
    assert!(!delta.contains(" *"), "{delta}");
}

/// A decoded PNG: width, height, RGB pixels.
fn decode(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let mut reader = png::Decoder::new(std::io::BufReader::new(fs::File::open(path).unwrap()))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(ch)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    if let Some(dir) = std::env::var_os("TWINSCAN_PLOT_OUT") {
        fs::copy(path, Path::new(&dir).join(path.file_name().unwrap())).unwrap();
    }
    (info.width, info.height, rgb)
}

#[test]
fn charts_are_pngs_of_the_expected_size() {
    let tmp = tempfile::tempdir().unwrap();
    let truth = labels(10, 6);
    let columns: Vec<ColumnRuns> = [("random", 0.0), ("better", 0.25), ("worse", -0.2)]
        .iter()
        .map(|(name, skill)| ColumnRuns {
            column: name.to_string(),
            runs: (0..2)
                .map(|seed| {
                    (
                        seed,
                        predict(
                            &truth,
                            Kind::Noisy {
                                skill: *skill,
                                seed,
                            },
                        ),
                    )
                })
                .collect(),
        })
        .collect();
    write_grid_tables(
        tmp.path(),
        &columns,
        "random",
        "classifier seeds",
        &cfg(100),
    )
    .unwrap();
    if let Some(dir) = std::env::var_os("TWINSCAN_PLOT_OUT") {
        for name in EXPECTED_FILES.iter().filter(|n| !n.ends_with(".png")) {
            fs::copy(tmp.path().join(name), Path::new(&dir).join(name)).unwrap();
        }
    }
    const BLUE: [u8; 3] = [31, 119, 180];
    const ORANGE: [u8; 3] = [255, 127, 14];
    for name in ["chart_f1.png", "chart_auroc.png", "chart_delta_f1.png"] {
        let (w, h, rgb) = decode(&tmp.path().join(name));
        // 4 groups (3 structures + mean): the 900 px minimum width; 500 px of plot, the
        // labels and one legend row.
        assert_eq!(w, 900, "{name}");
        assert!((540..800).contains(&h), "{name}: {h}");
        let count = |c: [u8; 3]| rgb.iter().filter(|p| **p == c).count();
        assert!(count(BLUE) > 200, "{name}: first column's bars");
        assert!(count(ORANGE) > 200, "{name}: second column's bars");
        if name != "chart_delta_f1.png" {
            // The bootstrap intervals: grey error bars (2 px wide, on every bar).
            assert!(count([90, 90, 90]) > 12 * 20, "{name}: grey interval bars");
        }
    }
    // The delta chart draws the compared columns only, and a black zero line across it.
    let (w, _, rgb) = decode(&tmp.path().join("chart_delta_f1.png"));
    let black_rows = (0..rgb.len() / w as usize)
        .filter(|y| {
            rgb[*y * w as usize..(*y + 1) * w as usize]
                .iter()
                .filter(|p| **p == [0, 0, 0])
                .count()
                > 500
        })
        .count();
    assert!(black_rows >= 2, "zero line (2 px) missing: {black_rows}");
    assert_eq!(
        rgb.iter().filter(|p| **p == [44, 160, 44]).count(),
        0,
        "no third colour"
    );
}

#[test]
fn bad_input_is_an_error_naming_the_problem_and_writes_nothing() {
    let truth = labels(5, 4);
    let run = |seed| (seed, predict(&truth, Kind::Noisy { skill: 0.1, seed }));
    let col = |name: &str, runs: Vec<(u64, Vec<PredictionRow>)>| ColumnRuns {
        column: name.into(),
        runs,
    };
    let check = |columns: Vec<ColumnRuns>, baseline: &str, needle: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let e = write_grid_tables(tmp.path(), &columns, baseline, "classifier seeds", &cfg(10))
            .unwrap_err();
        assert!(matches!(e, ClassifyError::Config { .. }), "{e}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle:?}");
        assert!(out_files(tmp.path()).is_empty());
    };
    check(vec![col("a", vec![run(0)])], "b", "\"b\" is not a column");
    check(
        vec![col("a", vec![run(0), run(0)])],
        "a",
        "seed 0 appears twice",
    );
    check(
        vec![col("a", vec![run(0)]), col("a", vec![run(1)])],
        "a",
        "given twice",
    );
    check(
        vec![col("a", vec![run(0)]), col("b", vec![])],
        "a",
        "no runs",
    );
    check(vec![], "a", "no column");
    // Another patient set: drop patient P00's rows.
    let fewer: Vec<PredictionRow> = run(1)
        .1
        .into_iter()
        .filter(|r| r.patient != "P00")
        .collect();
    check(
        vec![col("a", vec![run(0)]), col("b", vec![(1, fewer)])],
        "a",
        "other test patients",
    );
    // Same patients, another label.
    let mut relabelled = run(1).1;
    relabelled[3].label = if relabelled[3].label == 1 { -1 } else { 1 };
    check(
        vec![col("a", vec![run(0)]), col("b", vec![(1, relabelled)])],
        "a",
        "other test slices or labels",
    );
    let mut twice = run(0).1;
    twice.push(twice[0].clone());
    check(vec![col("a", vec![(0, twice)])], "a", "predicted twice");
    let mut bad_prob = run(0).1;
    bad_prob[2].prob = 1.5;
    check(vec![col("a", vec![(0, bad_prob)])], "a", "prob 1.5");
    let mut mean_named = run(0).1;
    mean_named.iter_mut().for_each(|r| {
        if r.structure == "Brain" {
            r.structure = "mean".into()
        }
    });
    check(vec![col("a", vec![(0, mean_named)])], "a", "named \"mean\"");
    let e = GridTables::compute(
        &[col("a", vec![run(0)])],
        "a",
        "s",
        &MetricsConfig {
            threshold: 2.0,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("threshold"), "{e}");
}

/// The study's scale: 21 structures × 10 columns × 3 seeds × ~2000 test slices (30 patients),
/// B = 1000. Prints the time; fails above 60 s (it takes seconds on two cores).
#[test]
fn study_scale_takes_seconds() {
    let structures: Vec<String> = (0..21).map(|s| format!("S{s:02}")).collect();
    let (patients, slices_per_patient) = (30usize, 67u32); // 2010 test slices
    let mut rng = Lcg(42);
    let mut truth = Vec::new();
    for p in 0..patients {
        for z in 0..slices_per_patient {
            for s in &structures {
                let u = rng.next();
                let label = if u < 0.15 {
                    0
                } else if u < 0.5 {
                    1
                } else {
                    -1
                };
                truth.push((format!("scan{p}"), format!("P{p:03}"), z, s.clone(), label));
            }
        }
    }
    let columns: Vec<ColumnRuns> = (0..10)
        .map(|c| ColumnRuns {
            column: format!("col{c}"),
            runs: (0..3u64)
                .map(|seed| {
                    let kind = Kind::Noisy {
                        skill: 0.02 * c as f64,
                        seed: 100 * c + seed,
                    };
                    (seed, predict(&truth, kind))
                })
                .collect(),
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let t = GridTables::compute(&columns, "col0", "classifier seeds", &cfg(1000)).unwrap();
    let computed = t0.elapsed().as_secs_f64();
    let files = t.write(tmp.path()).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "study scale (21 structures x 10 columns x 3 seeds x {} slices, B = 1000): \
         {secs:.2} s ({computed:.2} s computing, {:.2} s writing {} files)",
        patients * slices_per_patient as usize,
        secs - computed,
        files.len()
    );
    assert_eq!(files.len(), EXPECTED_FILES.len());
    assert_eq!(t.f1.structures.len(), 21);
    assert!(
        t.delta_f1.mean[8].excludes_zero(),
        "{:?}",
        t.delta_f1.mean[8]
    );
    assert!(secs < 60.0, "{secs} s");
}
