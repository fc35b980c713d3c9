//! Run outputs and result tables: `predictions.csv`, `metrics.csv`, and the study's
//! per-structure tables (one row per structure, one column per experiment, mean ± sd over
//! seeds) as markdown and CSV.
//!
//! Every file is written atomically: to a temporary name in the same folder, flushed and
//! synced, then renamed over the final name, so an interrupted run never leaves a file that
//! looks complete.
//!
//! # Layouts
//! - `predictions.csv`: `scan,patient,slice,structure,label,prob`: one row per test slice and
//!   structure, unknown labels included with `label = 0`; `prob` is the positive-class
//!   probability.
//! - `metrics.csv`: `structure,tn,fp,fn,tp,f1,f1_lo,f1_hi,auroc,auroc_lo,auroc_hi,n_known`,
//!   one row per structure; undefined values are written `NaN`. Floats are written with Rust's
//!   shortest round-trip formatting, so reading the file back gives the same numbers.
//! - Tables (`table_f1.md`/`.csv`, `table_auroc.md`/`.csv`): markdown cells `mean ± sd`
//!   (3 decimals; just `mean` with one seed; `n/a` when undefined in every seed); the CSV has
//!   `structure` then, per experiment, `<experiment>` (mean), `<experiment>_sd` and
//!   `<experiment>_n` (number of seeds with a defined value).
//!
//! The grid's tables with patient-bootstrap intervals pooled over seeds and the paired
//! differences against a baseline are built from the runs' predictions by [`crate::tables`].

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ClassifyError, Result};
use crate::metrics::{Confusion, Interval, MeanSd, MetricsConfig, Samples, StructureMetrics};

/// Header of `predictions.csv`.
pub const PREDICTIONS_HEADER: [&str; 6] =
    ["scan", "patient", "slice", "structure", "label", "prob"];

/// Header of `metrics.csv`.
pub const METRICS_HEADER: [&str; 12] = [
    "structure",
    "tn",
    "fp",
    "fn",
    "tp",
    "f1",
    "f1_lo",
    "f1_hi",
    "auroc",
    "auroc_lo",
    "auroc_hi",
    "n_known",
];

/// One row of `predictions.csv`: a slice's prediction for one structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    /// Scan identifier.
    pub scan: String,
    /// Patient identifier (the bootstrap's resampling unit).
    pub patient: String,
    /// Slice index within the scan (0-based, along z).
    pub slice: u32,
    /// Structure name.
    pub structure: String,
    /// Tri-state label: 1 present, -1 absent, 0 unknown.
    pub label: i8,
    /// Predicted positive-class probability in [0, 1].
    pub prob: f64,
}

/// Writes `path` atomically: `fill` writes into a temporary file next to it, which is synced
/// and renamed to `path` only when `fill` succeeded (otherwise it is removed).
///
/// # Errors
/// [`ClassifyError::Io`] naming `path`, or whatever `fill` returns.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<fs::File>) -> Result<()>,
) -> Result<()> {
    if path.file_name().is_none() {
        return Err(ClassifyError::config(
            "path",
            format!("{} has no file name", path.display()),
        ));
    }
    twinscan_data::atomic::write_with(path, true, fill, ClassifyError::from)
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> ClassifyError + '_ {
    move |source| ClassifyError::Csv {
        path: path.to_owned(),
        source,
    }
}

/// Writes `predictions.csv` atomically.
///
/// # Errors
/// I/O errors, or a row with an invalid label or probability (nothing is written then).
pub fn write_predictions(path: &Path, rows: &[PredictionRow]) -> Result<()> {
    for (i, r) in rows.iter().enumerate() {
        check_prediction(r).map_err(|message| ClassifyError::CsvContent {
            path: path.to_owned(),
            line: i as u64 + 2,
            message,
        })?;
    }
    write_atomic(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(PREDICTIONS_HEADER)
            .map_err(csv_err(path))?;
        for r in rows {
            csv.write_record([
                r.scan.as_str(),
                r.patient.as_str(),
                &r.slice.to_string(),
                r.structure.as_str(),
                &r.label.to_string(),
                &r.prob.to_string(),
            ])
            .map_err(csv_err(path))?;
        }
        csv.flush().map_err(|e| ClassifyError::io(path, e))
    })
}

fn check_prediction(r: &PredictionRow) -> std::result::Result<(), String> {
    if !(-1..=1).contains(&r.label) {
        return Err(format!("label {} is not -1, 0 or 1", r.label));
    }
    if !(0.0..=1.0).contains(&r.prob) {
        return Err(format!("prob {} is not in [0, 1]", r.prob));
    }
    Ok(())
}

fn check_header(path: &Path, found: &csv::StringRecord, expected: &[&str]) -> Result<()> {
    if found.iter().ne(expected.iter().copied()) {
        return Err(ClassifyError::CsvContent {
            path: path.to_owned(),
            line: 1,
            message: format!(
                "header is {:?}, expected {:?}",
                found.iter().collect::<Vec<_>>(),
                expected
            ),
        });
    }
    Ok(())
}

fn field<T: std::str::FromStr>(
    path: &Path,
    line: u64,
    record: &csv::StringRecord,
    index: usize,
    name: &str,
) -> Result<T> {
    let raw = record.get(index).unwrap_or("");
    raw.trim().parse().map_err(|_| ClassifyError::CsvContent {
        path: path.to_owned(),
        line,
        message: format!("column {name}: cannot parse {raw:?}"),
    })
}

/// Reads and validates `predictions.csv`: exact header, parseable fields, labels in
/// {-1, 0, 1}, probabilities in [0, 1], one patient per scan, no duplicate
/// (scan, slice, structure).
///
/// # Errors
/// [`ClassifyError::Io`], [`ClassifyError::Csv`] or [`ClassifyError::CsvContent`] naming the
/// file and line.
pub fn read_predictions(path: &Path) -> Result<Vec<PredictionRow>> {
    let file = fs::File::open(path).map_err(|e| ClassifyError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let header = reader.headers().map_err(csv_err(path))?.clone();
    check_header(path, &header, &PREDICTIONS_HEADER)?;
    let mut rows = Vec::new();
    let mut scan_patient: HashMap<String, String> = HashMap::new();
    let mut seen: HashSet<(String, u32, String)> = HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(csv_err(path))?;
        let row = PredictionRow {
            scan: record[0].to_owned(),
            patient: record[1].to_owned(),
            slice: field(path, line, &record, 2, "slice")?,
            structure: record[3].to_owned(),
            label: field(path, line, &record, 4, "label")?,
            prob: field(path, line, &record, 5, "prob")?,
        };
        let bad = |message: String| ClassifyError::CsvContent {
            path: path.to_owned(),
            line,
            message,
        };
        if row.scan.is_empty() || row.patient.is_empty() || row.structure.is_empty() {
            return Err(bad("empty scan, patient or structure".into()));
        }
        check_prediction(&row).map_err(bad)?;
        match scan_patient.get(&row.scan) {
            Some(p) if *p != row.patient => {
                return Err(bad(format!(
                    "scan {} belongs to patient {p} earlier, here to {}",
                    row.scan, row.patient
                )));
            }
            Some(_) => {}
            None => {
                scan_patient.insert(row.scan.clone(), row.patient.clone());
            }
        }
        if !seen.insert((row.scan.clone(), row.slice, row.structure.clone())) {
            return Err(bad(format!(
                "duplicate row for scan {}, slice {}, structure {}",
                row.scan, row.slice, row.structure
            )));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(ClassifyError::CsvContent {
            path: path.to_owned(),
            line: 1,
            message: "no prediction rows".into(),
        });
    }
    Ok(rows)
}

/// Groups prediction rows into [`Samples`] (structures and patients in order of appearance).
///
/// # Errors
/// Invalid labels or probabilities.
pub fn samples_from_predictions(rows: &[PredictionRow]) -> Result<Samples> {
    let mut samples = Samples::new();
    for r in rows {
        samples.push(&r.structure, &r.patient, r.label.into(), r.prob)?;
    }
    Ok(samples)
}

/// Per-structure metrics of a `predictions.csv` file.
///
/// # Errors
/// As [`read_predictions`] and [`Samples::evaluate`].
pub fn metrics_from_predictions(path: &Path, cfg: &MetricsConfig) -> Result<Vec<StructureMetrics>> {
    samples_from_predictions(&read_predictions(path)?)?.evaluate(cfg)
}

/// Writes `metrics.csv` atomically.
///
/// # Errors
/// I/O errors.
pub fn write_metrics(path: &Path, metrics: &[StructureMetrics]) -> Result<()> {
    write_atomic(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(METRICS_HEADER).map_err(csv_err(path))?;
        for m in metrics {
            let c = m.confusion;
            csv.write_record([
                m.structure.clone(),
                c.tn.to_string(),
                c.fp.to_string(),
                c.fn_.to_string(),
                c.tp.to_string(),
                m.f1.to_string(),
                m.f1_ci.lo.to_string(),
                m.f1_ci.hi.to_string(),
                m.auroc.to_string(),
                m.auroc_ci.lo.to_string(),
                m.auroc_ci.hi.to_string(),
                m.n_known.to_string(),
            ])
            .map_err(csv_err(path))?;
        }
        csv.flush().map_err(|e| ClassifyError::io(path, e))
    })
}

/// Reads `metrics.csv` (as written by [`write_metrics`]).
///
/// # Errors
/// [`ClassifyError::Io`], [`ClassifyError::Csv`] or [`ClassifyError::CsvContent`] (wrong
/// header, unparsable field, `n_known` ≠ `tn + fp + fn + tp`).
pub fn read_metrics(path: &Path) -> Result<Vec<StructureMetrics>> {
    let file = fs::File::open(path).map_err(|e| ClassifyError::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let header = reader.headers().map_err(csv_err(path))?.clone();
    check_header(path, &header, &METRICS_HEADER)?;
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(csv_err(path))?;
        let f = |k: usize| -> Result<f64> { field(path, line, &record, k, METRICS_HEADER[k]) };
        let u = |k: usize| -> Result<u64> { field(path, line, &record, k, METRICS_HEADER[k]) };
        let m = StructureMetrics {
            structure: record[0].to_owned(),
            confusion: Confusion {
                tn: u(1)?,
                fp: u(2)?,
                fn_: u(3)?,
                tp: u(4)?,
            },
            f1: f(5)?,
            f1_ci: Interval {
                lo: f(6)?,
                hi: f(7)?,
            },
            auroc: f(8)?,
            auroc_ci: Interval {
                lo: f(9)?,
                hi: f(10)?,
            },
            n_known: u(11)?,
        };
        if m.n_known != m.confusion.n() {
            return Err(ClassifyError::CsvContent {
                path: path.to_owned(),
                line,
                message: format!(
                    "n_known {} differs from tn+fp+fn+tp = {}",
                    m.n_known,
                    m.confusion.n()
                ),
            });
        }
        out.push(m);
    }
    Ok(out)
}

/// Which metric a result table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableMetric {
    /// Macro F1.
    F1,
    /// AUROC.
    Auroc,
}

impl TableMetric {
    /// Lower-case name used in file names (`table_f1`, `table_auroc`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F1 => "f1",
            Self::Auroc => "auroc",
        }
    }

    fn value(self, m: &StructureMetrics) -> f64 {
        match self {
            Self::F1 => m.f1,
            Self::Auroc => m.auroc,
        }
    }
}

/// The metrics of one finished classification run (one experiment, one seed).
#[derive(Debug, Clone, PartialEq)]
pub struct RunMetrics {
    /// Experiment name (a table column), e.g. `bt-imagenet-frozen`.
    pub experiment: String,
    /// Seed of this run.
    pub seed: u64,
    /// Its per-structure metrics.
    pub metrics: Vec<StructureMetrics>,
}

/// A per-structure result table: rows = structures, columns = experiments, cells = mean ± sd
/// of one metric over the seeds of that experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultTable {
    /// The metric shown.
    pub metric: TableMetric,
    /// Row labels, in order of first appearance across the runs.
    pub structures: Vec<String>,
    /// Column labels, in order of first appearance across the runs.
    pub experiments: Vec<String>,
    /// `cells[structure][experiment]`.
    pub cells: Vec<Vec<MeanSd>>,
}

impl ResultTable {
    /// Builds the table from finished runs; a structure missing from a run counts as undefined
    /// for that seed.
    ///
    /// # Errors
    /// [`ClassifyError::Config`] when the same (experiment, seed) appears twice.
    pub fn from_runs(runs: &[RunMetrics], metric: TableMetric) -> Result<Self> {
        let mut structures: Vec<String> = Vec::new();
        let mut experiments: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for r in runs {
            if !seen.insert((r.experiment.as_str(), r.seed)) {
                return Err(ClassifyError::config(
                    "runs",
                    format!("experiment {} seed {} appears twice", r.experiment, r.seed),
                ));
            }
            if !experiments.contains(&r.experiment) {
                experiments.push(r.experiment.clone());
            }
            for m in &r.metrics {
                if !structures.contains(&m.structure) {
                    structures.push(m.structure.clone());
                }
            }
        }
        let cells = structures
            .iter()
            .map(|s| {
                experiments
                    .iter()
                    .map(|e| {
                        let values: Vec<f64> = runs
                            .iter()
                            .filter(|r| &r.experiment == e)
                            .map(|r| {
                                r.metrics
                                    .iter()
                                    .find(|m| &m.structure == s)
                                    .map_or(f64::NAN, |m| metric.value(m))
                            })
                            .collect();
                        MeanSd::of(&values)
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            metric,
            structures,
            experiments,
            cells,
        })
    }

    /// Formats one cell: `0.812 ± 0.021`, `0.812` (one defined seed) or `n/a`.
    pub fn format_cell(cell: &MeanSd) -> String {
        match cell.n {
            0 => "n/a".to_owned(),
            1 => format!("{:.3}", cell.mean),
            _ => format!("{:.3} ± {:.3}", cell.mean, cell.sd),
        }
    }

    /// The table as GitHub markdown, with a caption line naming the metric.
    pub fn to_markdown(&self) -> String {
        let metric = match self.metric {
            TableMetric::F1 => "macro F1",
            TableMetric::Auroc => "AUROC",
        };
        let mut s = format!(
            "Held-out {metric} per structure (known labels only), mean ± sd over seeds.\n\n| structure |"
        );
        for e in &self.experiments {
            s.push_str(&format!(" {} |", e.replace('|', "\\|")));
        }
        s.push_str("\n|---|");
        s.push_str(&"---:|".repeat(self.experiments.len()));
        s.push('\n');
        for (name, row) in self.structures.iter().zip(&self.cells) {
            s.push_str(&format!("| {} |", name.replace('|', "\\|")));
            for c in row {
                s.push_str(&format!(" {} |", Self::format_cell(c)));
            }
            s.push('\n');
        }
        s
    }

    /// Writes the markdown table atomically.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_markdown(&self, path: &Path) -> Result<()> {
        let text = self.to_markdown();
        write_atomic(path, |w| {
            w.write_all(text.as_bytes())
                .map_err(|e| ClassifyError::io(path, e))
        })
    }

    /// Writes the CSV table atomically (`structure`, then `<exp>`, `<exp>_sd`, `<exp>_n` per
    /// experiment; NaN for undefined).
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_atomic(path, |w| {
            let mut csv = csv::Writer::from_writer(w);
            let mut header = vec!["structure".to_owned()];
            for e in &self.experiments {
                header.extend([e.clone(), format!("{e}_sd"), format!("{e}_n")]);
            }
            csv.write_record(&header).map_err(csv_err(path))?;
            for (name, row) in self.structures.iter().zip(&self.cells) {
                let mut rec = vec![name.clone()];
                for c in row {
                    rec.extend([c.mean.to_string(), c.sd.to_string(), c.n.to_string()]);
                }
                csv.write_record(&rec).map_err(csv_err(path))?;
            }
            csv.flush().map_err(|e| ClassifyError::io(path, e))
        })
    }

    /// Writes `table_<metric>.md` and `table_<metric>.csv` into `dir`; returns both paths.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_all(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let md = dir.join(format!("table_{}.md", self.metric.name()));
        let csv = dir.join(format!("table_{}.csv", self.metric.name()));
        self.write_markdown(&md)?;
        self.write_csv(&csv)?;
        Ok((md, csv))
    }
}
