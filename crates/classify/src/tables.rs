//! Result tables that show their uncertainty, built from the runs' predictions (issue 12 §5).
//!
//! Input: the columns of a grid, each a name and its runs (seed + the run's `predictions.csv`
//! rows, see [`ColumnRuns`]). Every run of a grid predicts the same test slices of the same
//! dataset, so the test patients are shared by all runs; this is checked.
//!
//! # What a cell holds
//! - **mean ± sd over seeds** of the per-run metric (macro F1 or AUROC of that run on the whole
//!   test split, exactly what the run's `metrics.csv` says), as [`MeanSd`];
//! - **a patient-bootstrap interval pooled over seeds**: replicate `b` draws the test patients
//!   once (with replacement, as many as there are), computes every seed's metric on that draw
//!   (a patient drawn `k` times counts `k` times, as [`crate::metrics::Samples::evaluate`]
//!   does) and averages over the seeds with a defined value; the interval is the percentile
//!   interval of these replicate means (coverage `MetricsConfig.bootstrap.confidence`,
//!   numpy's linear interpolation, undefined replicates dropped).
//! - The final row **`mean`**: per seed, the mean over the structures with a defined value;
//!   then as above (its bootstrap uses the same draws).
//!
//! # Paired differences
//! [`DeltaTable`]: for every column other than the baseline, per structure and for `mean`, the
//! column's seed-mean minus the baseline's seed-mean, with the interval of the same difference
//! over the replicates: within a replicate **both columns see the same resampled patients**
//! (paired). A cell is marked `*` where the interval excludes 0.
//!
//! # The draws, exactly (so that they can be recomputed)
//! Patients are indexed in ascending byte order of their identifiers. A ChaCha8 stream
//! (`ChaCha8Rng::seed_from_u64(MetricsConfig.bootstrap.seed)`) is consumed replicate after
//! replicate; replicate `b` makes `n` draws `rng.random_range(0..n)` (`n` = number of test
//! patients), counting how often each patient was drawn. Means are sums of the defined values
//! in order (structures in table order, seeds in ascending order) divided by their count.
//!
//! # Files ([`GridTables::write`])
//! - `table_f1.md` / `table_auroc.md`: a caption line (metric, number of test patients, what
//!   the ± covers, what the brackets are, a warning below 10 test patients), then the table;
//!   cells `0.812 ± 0.021 [0.750, 0.860]` (3 decimals; no `± sd` with one defined seed; `[n/a]`
//!   for an undefined interval, e.g. B = 0; `n/a` for an undefined mean).
//! - `table_f1.csv` / `table_auroc.csv`: `structure`, then per column `<col>`, `<col>_sd`,
//!   `<col>_n` (seeds with a defined value), `<col>_lo`, `<col>_hi`; rows: the structures,
//!   then `mean`. Undefined values are `NaN`; floats in shortest round-trip form.
//! - `table_delta_f1.md`: caption, then cells `+0.052 [+0.012, +0.091] *`.
//! - `table_delta_f1.csv`: `structure`, then per compared column `<col>` (difference),
//!   `<col>_lo`, `<col>_hi`, `<col>_sig` (`1` where the interval excludes 0, else `0`).
//! - `chart_f1.png`, `chart_auroc.png` ([`crate::plot::plot_table_with_intervals`]: bars =
//!   seed-means, black error bars ± sd over seeds, grey error bars the bootstrap interval, the
//!   `mean` row as the last group) and `chart_delta_f1.png`
//!   ([`crate::plot::plot_delta`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{ClassifyError, Result};
use crate::metrics::{
    BootstrapConfig, Interval, MeanSd, MetricsConfig, Prepared, Sample, draw_counts,
    percentile_interval,
};
use crate::report::{PredictionRow, ResultTable, TableMetric, write_atomic};

/// Name of the final row of every table: the mean over structures.
pub const MEAN_ROW: &str = "mean";

/// Below this many test patients the captions warn that the intervals are unreliable.
pub const FEW_PATIENTS: usize = 10;

/// One column of a grid's tables: its name and its finished runs.
///
/// `runs` holds, per run, its seed and its prediction rows (the contents of its
/// `predictions.csv`, e.g. from [`crate::report::read_predictions`]). Every run of every column
/// must predict the same test slices with the same labels (one dataset), and a seed may appear
/// once per column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRuns {
    /// Column name, e.g. `bt-imagenet-frozen`.
    pub column: String,
    /// `(seed, prediction rows)` per run.
    pub runs: Vec<(u64, Vec<PredictionRow>)>,
}

/// One cell of an [`UncertainTable`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UncertainCell {
    /// Mean ± sd of the per-run metric over the seeds (defined values only).
    pub seeds: MeanSd,
    /// Patient-bootstrap percentile interval of the seed-mean (NaN bounds when undefined).
    pub ci: Interval,
}

/// A per-structure table of one metric: mean ± sd over seeds and a patient-bootstrap interval
/// pooled over seeds per cell, plus the row [`MEAN_ROW`].
#[derive(Debug, Clone, PartialEq)]
pub struct UncertainTable {
    /// The metric shown.
    pub metric: TableMetric,
    /// Row labels (without the final `mean` row).
    pub structures: Vec<String>,
    /// Column labels, in the caller's order.
    pub columns: Vec<String>,
    /// `cells[structure][column]`.
    pub cells: Vec<Vec<UncertainCell>>,
    /// The `mean` row: `mean[column]`.
    pub mean: Vec<UncertainCell>,
    /// Number of test patients the table rests on.
    pub n_patients: usize,
    /// What the ± covers (e.g. `classifier seeds`).
    pub spread: String,
    /// The bootstrap used.
    pub bootstrap: BootstrapConfig,
}

/// One cell of a [`DeltaTable`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeltaCell {
    /// Column's seed-mean minus the baseline's seed-mean (NaN when either is undefined).
    pub delta: f64,
    /// Paired patient-bootstrap percentile interval of the difference.
    pub ci: Interval,
}

impl DeltaCell {
    /// True when the interval is defined and excludes 0 (the `*` marker).
    pub fn excludes_zero(&self) -> bool {
        self.ci.lo > 0.0 || self.ci.hi < 0.0
    }
}

/// Paired differences of every column against a baseline column, per structure and for the
/// mean over structures.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaTable {
    /// The metric compared.
    pub metric: TableMetric,
    /// The baseline column.
    pub baseline: String,
    /// Row labels (without the final `mean` row).
    pub structures: Vec<String>,
    /// The compared columns (every column but the baseline, in the caller's order).
    pub columns: Vec<String>,
    /// `cells[structure][column]`.
    pub cells: Vec<Vec<DeltaCell>>,
    /// The `mean` row: `mean[column]`.
    pub mean: Vec<DeltaCell>,
    /// Number of test patients.
    pub n_patients: usize,
    /// What the seed means average over (e.g. `classifier seeds`).
    pub spread: String,
    /// The bootstrap used.
    pub bootstrap: BootstrapConfig,
}

/// Everything [`write_grid_tables`] writes, as values.
#[derive(Debug, Clone, PartialEq)]
pub struct GridTables {
    /// Macro F1 table.
    pub f1: UncertainTable,
    /// AUROC table.
    pub auroc: UncertainTable,
    /// Paired macro F1 differences against the baseline.
    pub delta_f1: DeltaTable,
}

/// Computes the grid's tables and writes, each atomically, into `dir`: `table_f1.{md,csv}`,
/// `table_auroc.{md,csv}`, `chart_f1.png`, `chart_auroc.png`, `table_delta_f1.{md,csv}` and
/// `chart_delta_f1.png` (formats in the [module documentation](self)). `baseline` names the
/// column the differences are taken against; `spread` says what the ± covers (e.g.
/// `"classifier seeds"` or `"classifier and pretraining seeds"`).
///
/// Everything is computed before the first file is written, so bad input leaves no file.
///
/// # Errors
/// As [`GridTables::compute`]; I/O and drawing errors naming the file.
///
/// # Example
/// ```
/// use twinscan_classify::metrics::MetricsConfig;
/// use twinscan_classify::report::PredictionRow;
/// use twinscan_classify::tables::{ColumnRuns, write_grid_tables};
/// // Two test patients, one structure; "perfect" predicts every label, "coin" does not.
/// let rows = |good: bool| -> Vec<PredictionRow> {
///     (0..8u32)
///         .map(|z| {
///             let label: i8 = if z % 2 == 0 { 1 } else { -1 };
///             let hit = good || z % 4 < 2;
///             PredictionRow {
///                 scan: format!("s{}", z / 4),
///                 patient: format!("p{}", z / 4),
///                 slice: z,
///                 structure: "Brain".into(),
///                 label,
///                 prob: if (label == 1) == hit { 0.9 } else { 0.1 },
///             }
///         })
///         .collect()
/// };
/// let columns = vec![
///     ColumnRuns { column: "coin".into(), runs: vec![(0, rows(false)), (1, rows(false))] },
///     ColumnRuns { column: "perfect".into(), runs: vec![(0, rows(true)), (1, rows(true))] },
/// ];
/// let dir = tempfile::tempdir().unwrap();
/// let t = write_grid_tables(dir.path(), &columns, "coin", "classifier seeds",
///                           &MetricsConfig::default()).unwrap();
/// assert_eq!(t.f1.mean[1].seeds.mean, 1.0);
/// assert_eq!(t.delta_f1.columns, ["perfect"]);
/// assert!(t.delta_f1.mean[0].delta > 0.0);
/// assert!(dir.path().join("table_delta_f1.csv").is_file());
/// // Two test patients: the caption warns.
/// let md = std::fs::read_to_string(dir.path().join("table_f1.md")).unwrap();
/// assert!(md.contains("Test patients: 2 (WARNING"));
/// ```
pub fn write_grid_tables(
    dir: &Path,
    columns: &[ColumnRuns],
    baseline: &str,
    spread: &str,
    cfg: &MetricsConfig,
) -> Result<GridTables> {
    let tables = GridTables::compute(columns, baseline, spread, cfg)?;
    tables.write(dir)?;
    Ok(tables)
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> ClassifyError {
    ClassifyError::Config {
        field: field.into(),
        message: message.into(),
    }
}

/// One run, ready for the bootstrap: per structure its sufficient statistics.
struct Run {
    seed: u64,
    prepared: Vec<Prepared>,
}

/// Mean of the defined values, summed in order; NaN when none.
fn nan_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values.filter(|v| !v.is_nan()) {
        sum += v;
        n += 1;
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// What one replicate (or the point estimate) gives: `[column][row]` seed-means of F1 and
/// AUROC, rows = structures then the mean over structures.
fn column_means(
    columns: &[Vec<Run>],
    n_rows: usize,
    counts: &[u64],
    cfg: &MetricsConfig,
    f1_out: &mut [f64],
    auc_out: &mut [f64],
) {
    let n_struct = n_rows - 1;
    let mut f1_runs = Vec::new();
    let mut auc_runs = Vec::new();
    for (c, runs) in columns.iter().enumerate() {
        // Per run: per-structure metric, then its mean over structures.
        f1_runs.clear();
        auc_runs.clear();
        for run in runs {
            let f1: Vec<f64> = run
                .prepared
                .iter()
                .map(|p| p.confusion_weighted(counts).macro_f1(&cfg.f1))
                .collect();
            let auc: Vec<f64> = run
                .prepared
                .iter()
                .map(|p| p.auroc_weighted(counts))
                .collect();
            f1_runs.push(f1);
            auc_runs.push(auc);
        }
        for (runs_vals, out) in [(&mut f1_runs, &mut *f1_out), (&mut auc_runs, &mut *auc_out)] {
            for v in runs_vals.iter_mut() {
                let m = nan_mean(v.iter().copied());
                v.push(m);
            }
            for row in 0..=n_struct {
                out[c * n_rows + row] = nan_mean(runs_vals.iter().map(|v| v[row]));
            }
        }
    }
}

impl GridTables {
    /// Computes the F1 and AUROC tables and the paired F1 differences against `baseline`
    /// (see the [module documentation](self)). Cost: one pass over the rows to prepare each
    /// run, then per replicate O(runs × (structures × patients + known labels)), spread over
    /// the available cores.
    ///
    /// # Errors
    /// [`ClassifyError::Config`] naming the problem: an invalid `cfg`, no column, a column
    /// without runs, a column name given twice, an unknown `baseline`, a (column, seed) given
    /// twice, a run without rows, an invalid label or probability, a scan with two patients, a
    /// (scan, slice, structure) predicted twice in a run, runs predicting different test
    /// patient sets or different slices / labels, or a structure named `mean`.
    pub fn compute(
        columns: &[ColumnRuns],
        baseline: &str,
        spread: &str,
        cfg: &MetricsConfig,
    ) -> Result<Self> {
        cfg.validate()?;
        if columns.is_empty() {
            return Err(bad("columns", "no column to tabulate"));
        }
        let mut names = HashSet::new();
        for c in columns {
            if !names.insert(c.column.as_str()) {
                return Err(bad(
                    "columns",
                    format!("column {:?} is given twice", c.column),
                ));
            }
            if c.runs.is_empty() {
                return Err(bad(
                    format!("columns[{:?}]", c.column),
                    "the column has no runs",
                ));
            }
            let mut seeds = HashSet::new();
            for (seed, _) in &c.runs {
                if !seeds.insert(*seed) {
                    return Err(bad(
                        format!("columns[{:?}]", c.column),
                        format!("seed {seed} appears twice"),
                    ));
                }
            }
        }
        let base = columns
            .iter()
            .position(|c| c.column == baseline)
            .ok_or_else(|| {
                bad(
                    "baseline",
                    format!(
                        "{baseline:?} is not a column (columns: {:?})",
                        columns.iter().map(|c| &c.column).collect::<Vec<_>>()
                    ),
                )
            })?;

        // Validate every run and check that all runs predict the same slices and labels.
        let mut reference: Option<(String, u64, Vec<Key<'_>>, Vec<&str>)> = None;
        for c in columns {
            for (seed, rows) in &c.runs {
                let (keys, patients) = run_keys(&c.column, *seed, rows)?;
                match &reference {
                    None => reference = Some((c.column.clone(), *seed, keys, patients)),
                    Some((rc, rs, rkeys, rpatients)) => {
                        if patients != *rpatients {
                            return Err(bad(
                                format!("columns[{:?}] seed {seed}", c.column),
                                format!(
                                    "predicts other test patients than column {rc:?} seed {rs} \
                                     ({} vs {} patients; {})",
                                    patients.len(),
                                    rpatients.len(),
                                    set_difference(&patients, rpatients)
                                ),
                            ));
                        }
                        if keys != *rkeys {
                            let first = keys.iter().zip(rkeys).find(|(a, b)| a != b).map_or_else(
                                || format!("{} vs {} rows", keys.len(), rkeys.len()),
                                |(a, b)| format!("first difference: {a:?} vs {b:?}"),
                            );
                            return Err(bad(
                                format!("columns[{:?}] seed {seed}", c.column),
                                format!(
                                    "predicts other test slices or labels than column {rc:?} \
                                     seed {rs} ({first})"
                                ),
                            ));
                        }
                    }
                }
            }
        }
        let Some((_, _, _, patients)) = reference else {
            return Err(bad("columns", "no run"));
        };
        let patient_index: HashMap<&str, usize> =
            patients.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        let n_patients = patients.len();

        // Structures in order of first appearance (all runs have the same ones).
        let mut structures: Vec<String> = Vec::new();
        let mut structure_index: HashMap<&str, usize> = HashMap::new();
        for r in &columns[0].runs[0].1 {
            if !structure_index.contains_key(r.structure.as_str()) {
                structure_index.insert(&r.structure, structures.len());
                structures.push(r.structure.clone());
            }
        }
        if structures.iter().any(|s| s == MEAN_ROW) {
            return Err(bad(
                "structures",
                format!("a structure is named {MEAN_ROW:?}, the name of the tables' final row"),
            ));
        }
        let n_rows = structures.len() + 1;

        // Per run and structure: per-patient confusion matrices and sorted known samples.
        let prepared: Vec<Vec<Run>> = columns
            .iter()
            .map(|c| {
                let mut runs: Vec<Run> = c
                    .runs
                    .iter()
                    .map(|(seed, rows)| {
                        let mut per: Vec<Vec<Sample>> = vec![Vec::new(); structures.len()];
                        for r in rows {
                            per[structure_index[r.structure.as_str()]].push(Sample {
                                patient: patient_index[r.patient.as_str()],
                                label: r.label,
                                prob: r.prob,
                            });
                        }
                        Run {
                            seed: *seed,
                            prepared: per
                                .iter()
                                .map(|s| Prepared::new(s, n_patients, cfg.threshold))
                                .collect(),
                        }
                    })
                    .collect();
                runs.sort_by_key(|r| r.seed);
                runs
            })
            .collect();

        // Point values per run (the whole test split, every patient once).
        let ones = vec![1u64; n_patients];
        let point = |metric: TableMetric| -> Vec<Vec<MeanSd>> {
            prepared
                .iter()
                .map(|runs| {
                    let per_run: Vec<Vec<f64>> = runs
                        .iter()
                        .map(|run| {
                            let mut v: Vec<f64> = run
                                .prepared
                                .iter()
                                .map(|p| match metric {
                                    TableMetric::F1 => {
                                        p.confusion_weighted(&ones).macro_f1(&cfg.f1)
                                    }
                                    TableMetric::Auroc => p.auroc_weighted(&ones),
                                })
                                .collect();
                            v.push(nan_mean(v.iter().copied()));
                            v
                        })
                        .collect();
                    (0..n_rows)
                        .map(|row| MeanSd::of(&per_run.iter().map(|v| v[row]).collect::<Vec<_>>()))
                        .collect()
                })
                .collect()
        };
        let f1_point = point(TableMetric::F1); // [column][row]
        let auc_point = point(TableMetric::Auroc);

        // One patient cannot be resampled: every replicate would be the data itself and give a
        // zero-width interval that claims certainty. No bootstrap then (intervals n/a).
        let bootstrap = BootstrapConfig {
            replicates: if n_patients < 2 {
                0
            } else {
                cfg.bootstrap.replicates
            },
            ..cfg.bootstrap
        };
        // Replicates: `[b][column][row]`, flat.
        let b_count = bootstrap.replicates;
        let stride = columns.len() * n_rows;
        let mut draws = vec![0u64; b_count * n_patients];
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.bootstrap.seed);
        for counts in draws.chunks_mut(n_patients.max(1)) {
            draw_counts(&mut rng, counts);
        }
        let mut rep_f1 = vec![f64::NAN; b_count * stride];
        let mut rep_auc = vec![f64::NAN; b_count * stride];
        if b_count > 0 {
            let threads = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(b_count);
            let per_thread = b_count.div_ceil(threads);
            std::thread::scope(|scope| {
                for ((f1_chunk, auc_chunk), draw_chunk) in rep_f1
                    .chunks_mut(per_thread * stride)
                    .zip(rep_auc.chunks_mut(per_thread * stride))
                    .zip(draws.chunks(per_thread * n_patients))
                {
                    let prepared = &prepared;
                    scope.spawn(move || {
                        for ((f1, auc), counts) in f1_chunk
                            .chunks_mut(stride)
                            .zip(auc_chunk.chunks_mut(stride))
                            .zip(draw_chunk.chunks(n_patients))
                        {
                            column_means(prepared, n_rows, counts, cfg, f1, auc);
                        }
                    });
                }
            });
        }
        let conf = cfg.bootstrap.confidence;
        let interval = |reps: &[f64], c: usize, row: usize, minus: Option<usize>| -> Interval {
            let mut v: Vec<f64> = (0..b_count)
                .map(|b| {
                    let x = reps[b * stride + c * n_rows + row];
                    match minus {
                        Some(base) => x - reps[b * stride + base * n_rows + row],
                        None => x,
                    }
                })
                .collect();
            percentile_interval(&mut v, conf)
        };

        let table = |metric: TableMetric, point: &[Vec<MeanSd>], reps: &[f64]| {
            let cell = |c: usize, row: usize| UncertainCell {
                seeds: point[c][row],
                ci: interval(reps, c, row, None),
            };
            UncertainTable {
                metric,
                structures: structures.clone(),
                columns: columns.iter().map(|c| c.column.clone()).collect(),
                cells: (0..structures.len())
                    .map(|s| (0..columns.len()).map(|c| cell(c, s)).collect())
                    .collect(),
                mean: (0..columns.len())
                    .map(|c| cell(c, structures.len()))
                    .collect(),
                n_patients,
                spread: spread.to_owned(),
                bootstrap,
            }
        };
        let f1 = table(TableMetric::F1, &f1_point, &rep_f1);
        let auroc = table(TableMetric::Auroc, &auc_point, &rep_auc);

        let compared: Vec<usize> = (0..columns.len()).filter(|&c| c != base).collect();
        let delta = |c: usize, row: usize| DeltaCell {
            delta: f1_point[c][row].mean - f1_point[base][row].mean,
            ci: interval(&rep_f1, c, row, Some(base)),
        };
        let delta_f1 = DeltaTable {
            metric: TableMetric::F1,
            baseline: baseline.to_owned(),
            structures: structures.clone(),
            columns: compared
                .iter()
                .map(|&c| columns[c].column.clone())
                .collect(),
            cells: (0..structures.len())
                .map(|s| compared.iter().map(|&c| delta(c, s)).collect())
                .collect(),
            mean: compared
                .iter()
                .map(|&c| delta(c, structures.len()))
                .collect(),
            n_patients,
            spread: spread.to_owned(),
            bootstrap,
        };
        Ok(Self {
            f1,
            auroc,
            delta_f1,
        })
    }

    /// Writes the tables and charts into `dir` (each file atomically); returns their paths in
    /// the order `table_f1.md`, `table_f1.csv`, `chart_f1.png`, the same for AUROC, then
    /// `table_delta_f1.md`, `table_delta_f1.csv`, `chart_delta_f1.png`.
    ///
    /// # Errors
    /// I/O and drawing errors naming the file.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for t in [&self.f1, &self.auroc] {
            let stem = t.metric.name();
            let md = dir.join(format!("table_{stem}.md"));
            let csv = dir.join(format!("table_{stem}.csv"));
            let png = dir.join(format!("chart_{stem}.png"));
            write_text(&md, &t.to_markdown())?;
            t.write_csv(&csv)?;
            let intervals: Vec<Vec<Interval>> = t
                .rows()
                .map(|(_, r)| r.iter().map(|c| c.ci).collect())
                .collect();
            let name = format!("bootstrap {} interval", percent(t.bootstrap.confidence));
            crate::plot::plot_table_with_intervals(&png, &t.to_result_table(), &intervals, &name)?;
            files.extend([md, csv, png]);
        }
        let stem = self.delta_f1.metric.name();
        let md = dir.join(format!("table_delta_{stem}.md"));
        let csv = dir.join(format!("table_delta_{stem}.csv"));
        let png = dir.join(format!("chart_delta_{stem}.png"));
        write_text(&md, &self.delta_f1.to_markdown())?;
        self.delta_f1.write_csv(&csv)?;
        crate::plot::plot_delta(&png, &self.delta_f1)?;
        files.extend([md, csv, png]);
        Ok(files)
    }
}

/// (scan, slice, structure, patient, label): what must agree between the runs of a grid.
type Key<'a> = (&'a str, u32, &'a str, &'a str, i8);

/// Validates one run's rows; returns its sorted keys and its sorted, distinct patients.
fn run_keys<'a>(
    column: &str,
    seed: u64,
    rows: &'a [PredictionRow],
) -> Result<(Vec<Key<'a>>, Vec<&'a str>)> {
    let field = || format!("columns[{column:?}] seed {seed}");
    if rows.is_empty() {
        return Err(bad(field(), "the run has no prediction rows"));
    }
    let mut scan_patient: HashMap<&str, &str> = HashMap::new();
    let mut keys = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if !(-1..=1).contains(&r.label) {
            return Err(bad(
                field(),
                format!("row {i}: label {} is not -1, 0 or 1", r.label),
            ));
        }
        if !(0.0..=1.0).contains(&r.prob) {
            return Err(bad(
                field(),
                format!("row {i}: prob {} is not in [0, 1]", r.prob),
            ));
        }
        match scan_patient.insert(&r.scan, &r.patient) {
            Some(p) if p != r.patient => {
                return Err(bad(
                    field(),
                    format!(
                        "row {i}: scan {} belongs to patient {p} and to {}",
                        r.scan, r.patient
                    ),
                ));
            }
            _ => {}
        }
        keys.push((
            r.scan.as_str(),
            r.slice,
            r.structure.as_str(),
            r.patient.as_str(),
            r.label,
        ));
    }
    keys.sort_unstable();
    if let Some(w) = keys
        .windows(2)
        .find(|w| (w[0].0, w[0].1, w[0].2) == (w[1].0, w[1].1, w[1].2))
    {
        return Err(bad(
            field(),
            format!(
                "scan {}, slice {}, structure {} is predicted twice",
                w[0].0, w[0].1, w[0].2
            ),
        ));
    }
    let patients: BTreeSet<&str> = rows.iter().map(|r| r.patient.as_str()).collect();
    Ok((keys, patients.into_iter().collect()))
}

/// "missing [..]; extra [..]" (at most 5 names each) of sorted `found` against `expected`.
fn set_difference(found: &[&str], expected: &[&str]) -> String {
    let f: BTreeSet<&str> = found.iter().copied().collect();
    let e: BTreeSet<&str> = expected.iter().copied().collect();
    let missing: Vec<&str> = e.difference(&f).take(5).copied().collect();
    let extra: Vec<&str> = f.difference(&e).take(5).copied().collect();
    format!("missing {missing:?}, extra {extra:?}")
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| ClassifyError::io(path, e))
    })
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> ClassifyError + '_ {
    move |source| ClassifyError::Csv {
        path: path.to_owned(),
        source,
    }
}

fn metric_words(metric: TableMetric) -> &'static str {
    match metric {
        TableMetric::F1 => "macro F1",
        TableMetric::Auroc => "AUROC",
    }
}

/// `95%` (or `90.5%`) for a confidence of 0.95 (0.905).
fn percent(confidence: f64) -> String {
    let p = confidence * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{:.0}%", p)
    } else {
        format!("{}%", (p * 1e6).round() / 1e6)
    }
}

/// The caption's statement about the bootstrap and the number of patients.
fn bootstrap_words(bootstrap: &BootstrapConfig, n_patients: usize, paired: bool) -> String {
    let mut s = if bootstrap.replicates == 0 && n_patients < 2 {
        "No bootstrap (fewer than 2 test patients cannot be resampled): intervals n/a.".to_owned()
    } else if bootstrap.replicates == 0 {
        "No bootstrap (B = 0): intervals n/a.".to_owned()
    } else {
        format!(
            "Brackets: {}patient-bootstrap {} interval pooled over seeds (B = {}, seed {}: each \
             replicate redraws the test patients once{}).",
            if paired { "paired " } else { "" },
            percent(bootstrap.confidence),
            bootstrap.replicates,
            bootstrap.seed,
            if paired {
                ", the same for both columns, and compares the seed-means on that draw"
            } else {
                " and averages every seed's metric on that draw"
            },
        )
    };
    s.push_str(&format!(
        " Test patients: {n_patients}{}.",
        if n_patients < FEW_PATIENTS {
            format!(" (WARNING: fewer than {FEW_PATIENTS}; the intervals are unreliable)")
        } else {
            String::new()
        }
    ));
    s
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

impl UncertainTable {
    /// Formats one cell: `0.812 ± 0.021 [0.750, 0.860]`; without `± sd` when one seed gave a
    /// value; `[n/a]` for an undefined interval; `n/a` when no seed gave a value.
    pub fn format_cell(cell: &UncertainCell) -> String {
        let mut s = ResultTable::format_cell(&cell.seeds);
        if cell.seeds.n == 0 {
            return s;
        }
        if cell.ci.lo.is_nan() || cell.ci.hi.is_nan() {
            s.push_str(" [n/a]");
        } else {
            s.push_str(&format!(" [{:.3}, {:.3}]", cell.ci.lo, cell.ci.hi));
        }
        s
    }

    /// The rows in order, the `mean` row last: `(label, cells)`.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &[UncertainCell])> {
        self.structures
            .iter()
            .map(String::as_str)
            .zip(self.cells.iter().map(Vec::as_slice))
            .chain(std::iter::once((MEAN_ROW, self.mean.as_slice())))
    }

    /// The caption line (see the module documentation).
    pub fn caption(&self) -> String {
        format!(
            "Held-out {} per structure (known labels only). Cells: mean ± sd over {} (the \
             per-run metric). {} Row `{MEAN_ROW}`: per seed, the mean over the structures with a \
             defined value.",
            metric_words(self.metric),
            self.spread,
            bootstrap_words(&self.bootstrap, self.n_patients, false),
        )
    }

    /// The table as GitHub markdown: caption line, blank line, table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!("{}\n\n| structure |", self.caption());
        for c in &self.columns {
            s.push_str(&format!(" {} |", md_escape(c)));
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(self.columns.len()));
        s.push('\n');
        for (name, row) in self.rows() {
            s.push_str(&format!("| {} |", md_escape(name)));
            for c in row {
                s.push_str(&format!(" {} |", Self::format_cell(c)));
            }
            s.push('\n');
        }
        s
    }

    /// Writes the CSV table atomically: `structure`, then `<col>`, `<col>_sd`, `<col>_n`,
    /// `<col>_lo`, `<col>_hi` per column; the structures, then `mean`; NaN for undefined.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_atomic(path, |w| {
            let mut csv = csv::Writer::from_writer(w);
            let mut header = vec!["structure".to_owned()];
            for c in &self.columns {
                header.extend([
                    c.clone(),
                    format!("{c}_sd"),
                    format!("{c}_n"),
                    format!("{c}_lo"),
                    format!("{c}_hi"),
                ]);
            }
            csv.write_record(&header).map_err(csv_err(path))?;
            for (name, row) in self.rows() {
                let mut rec = vec![name.to_owned()];
                for c in row {
                    rec.extend([
                        c.seeds.mean.to_string(),
                        c.seeds.sd.to_string(),
                        c.seeds.n.to_string(),
                        c.ci.lo.to_string(),
                        c.ci.hi.to_string(),
                    ]);
                }
                csv.write_record(&rec).map_err(csv_err(path))?;
            }
            csv.flush().map_err(|e| ClassifyError::io(path, e))
        })
    }

    /// The mean ± sd part as a [`ResultTable`] with the `mean` row as its last structure (what
    /// [`crate::plot::plot_table`] draws).
    pub fn to_result_table(&self) -> ResultTable {
        ResultTable {
            metric: self.metric,
            structures: self.rows().map(|(n, _)| n.to_owned()).collect(),
            experiments: self.columns.clone(),
            cells: self
                .rows()
                .map(|(_, r)| r.iter().map(|c| c.seeds).collect())
                .collect(),
        }
    }
}

impl DeltaTable {
    /// Formats one cell: `+0.052 [+0.012, +0.091] *` (`*` where the interval excludes 0),
    /// `+0.052 [n/a]` without an interval, `n/a` when the difference is undefined.
    pub fn format_cell(cell: &DeltaCell) -> String {
        if cell.delta.is_nan() {
            return "n/a".to_owned();
        }
        let mut s = format!("{:+.3}", cell.delta);
        if cell.ci.lo.is_nan() || cell.ci.hi.is_nan() {
            s.push_str(" [n/a]");
        } else {
            s.push_str(&format!(" [{:+.3}, {:+.3}]", cell.ci.lo, cell.ci.hi));
            if cell.excludes_zero() {
                s.push_str(" *");
            }
        }
        s
    }

    /// The rows in order, the `mean` row last: `(label, cells)`.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &[DeltaCell])> {
        self.structures
            .iter()
            .map(String::as_str)
            .zip(self.cells.iter().map(Vec::as_slice))
            .chain(std::iter::once((MEAN_ROW, self.mean.as_slice())))
    }

    /// The caption line.
    pub fn caption(&self) -> String {
        format!(
            "Held-out {} per structure: difference to the baseline `{}` (column's mean over {} \
             minus the baseline's). {} `*`: the interval excludes 0. Row `{MEAN_ROW}`: the same \
             for the mean over structures.",
            metric_words(self.metric),
            md_escape(&self.baseline),
            self.spread,
            bootstrap_words(&self.bootstrap, self.n_patients, true),
        )
    }

    /// The table as GitHub markdown: caption line, blank line, table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!("{}\n\n| structure |", self.caption());
        for c in &self.columns {
            s.push_str(&format!(
                " {} − {} |",
                md_escape(c),
                md_escape(&self.baseline)
            ));
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(self.columns.len()));
        s.push('\n');
        for (name, row) in self.rows() {
            s.push_str(&format!("| {} |", md_escape(name)));
            for c in row {
                s.push_str(&format!(" {} |", Self::format_cell(c)));
            }
            s.push('\n');
        }
        s
    }

    /// Writes the CSV atomically: `structure`, then `<col>`, `<col>_lo`, `<col>_hi`,
    /// `<col>_sig` (1 where the interval excludes 0, else 0) per compared column; the
    /// structures, then `mean`; NaN for undefined.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_atomic(path, |w| {
            let mut csv = csv::Writer::from_writer(w);
            let mut header = vec!["structure".to_owned()];
            for c in &self.columns {
                header.extend([
                    c.clone(),
                    format!("{c}_lo"),
                    format!("{c}_hi"),
                    format!("{c}_sig"),
                ]);
            }
            csv.write_record(&header).map_err(csv_err(path))?;
            for (name, row) in self.rows() {
                let mut rec = vec![name.to_owned()];
                for c in row {
                    rec.extend([
                        c.delta.to_string(),
                        c.ci.lo.to_string(),
                        c.ci.hi.to_string(),
                        u8::from(c.excludes_zero()).to_string(),
                    ]);
                }
                csv.write_record(&rec).map_err(csv_err(path))?;
            }
            csv.flush().map_err(|e| ClassifyError::io(path, e))
        })
    }
}
