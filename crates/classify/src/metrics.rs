//! Per-structure metrics over known labels: confusion matrix, macro F1, AUROC, patient-level
//! bootstrap intervals, and mean ± sd over seeds. Pure Rust, no tensors.
//!
//! # Conventions
//! - Labels are tri-state (`1` positive, `-1` negative, `0` unknown). Every metric is computed
//!   over **known** labels only (`label != 0`); unknown labels are neither negatives nor
//!   positives (the study's second flaw, docs/classify.md).
//! - A slice is predicted positive when its positive-class probability is **strictly greater**
//!   than the threshold (default 0.5). At 0.5 this is the argmax of the two logits of a
//!   structure, with a tie going to the negative class (as `argmax` returns the first index).
//! - **Macro F1** is scikit-learn's `f1_score(y_true, y_pred, average="macro")`: the unweighted
//!   mean of the per-class F1 `2·TP / (2·TP + FP + FN)` over the classes taken into account.
//!   With [`F1Labels::Observed`] (the default, sklearn's default call) these are the classes
//!   present in `y_true ∪ y_pred`; with [`F1Labels::Both`] (sklearn's `labels=[0, 1]`) both
//!   classes always count and a class whose `2·TP + FP + FN` is 0 gets the
//!   [`ZeroDivision`] value (sklearn's `zero_division`; with `NaN` such a class is left out of
//!   the mean, as sklearn does).
//! - **One class among known labels.** With the default `Observed` rule a structure whose known
//!   labels are all negative and which is predicted all negative gets F1 = 1 (only the negative
//!   class is observed, and it is perfect); a single false positive makes the positive class
//!   observed with F1 = 0, so the macro F1 drops to about 0.5. This is exactly what sklearn's
//!   default call reports; choose `Both` + `ZeroDivision::Zero` for the stricter reading
//!   (then a one-class structure can never exceed 0.5).
//! - **AUROC** is scikit-learn's `roc_auc_score(y_true, prob)`, computed as the Mann–Whitney
//!   statistic with ties counted one half (identical to the trapezoidal ROC area with tied
//!   scores). It is **undefined (NaN)** when the known labels hold only one class.
//! - **No known label at all**: the confusion matrix is all zero and F1 and AUROC are NaN
//!   (sklearn raises on empty input).
//! - **Bootstrap**: patients (not slices) are drawn with replacement, as many as there are
//!   patients in the evaluation set, `replicates` times, from a ChaCha8 stream seeded with
//!   `seed`; every drawn patient contributes all its slices (a patient drawn twice counts twice).
//!   The same draws are used for every structure (paired). The interval is the percentile
//!   interval: the `(1 − c)/2` and `(1 + c)/2` quantiles (numpy's default linear interpolation)
//!   of the replicates that are defined (NaN replicates, e.g. AUROC of a one-class resample,
//!   are dropped). No defined replicate → NaN bounds.
//!
//! # Example
//! ```
//! use twinscan_classify::metrics::{Samples, MetricsConfig};
//! let mut s = Samples::new();
//! for (patient, label, prob) in [("a", 1, 0.9), ("a", -1, 0.2), ("b", 1, 0.4), ("b", 0, 0.7), ("c", -1, 0.6)] {
//!     s.push("Brain", patient, label, prob).unwrap();
//! }
//! let m = &s.evaluate(&MetricsConfig::default()).unwrap()[0];
//! assert_eq!((m.confusion.tn, m.confusion.fp, m.confusion.fn_, m.confusion.tp), (1, 1, 1, 1));
//! assert_eq!(m.n_known, 4);
//! assert!((m.f1 - 0.5).abs() < 1e-12);
//! assert!((m.auroc - 0.75).abs() < 1e-12);
//! ```

use std::collections::HashMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{ClassifyError, Result};

/// Confusion matrix of one structure over known labels (counts of slices).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Known negative, predicted negative.
    pub tn: u64,
    /// Known negative, predicted positive.
    pub fp: u64,
    /// Known positive, predicted negative.
    pub fn_: u64,
    /// Known positive, predicted positive.
    pub tp: u64,
}

impl Confusion {
    /// Number of known labels counted (`tn + fp + fn + tp`).
    pub fn n(&self) -> u64 {
        self.tn + self.fp + self.fn_ + self.tp
    }

    /// Counts one known sample: `label` must be `1` or `-1` (a `0` is ignored), predicted
    /// positive when `prob > threshold`.
    pub fn add(&mut self, label: i8, prob: f64, threshold: f64) {
        let predicted = prob > threshold;
        match (label, predicted) {
            (1, true) => self.tp += 1,
            (1, false) => self.fn_ += 1,
            (-1, true) => self.fp += 1,
            (-1, false) => self.tn += 1,
            _ => {}
        }
    }

    /// Adds `k` copies of `other` (a patient drawn `k` times in a bootstrap replicate).
    pub fn add_scaled(&mut self, other: &Confusion, k: u64) {
        self.tn += k * other.tn;
        self.fp += k * other.fp;
        self.fn_ += k * other.fn_;
        self.tp += k * other.tp;
    }

    /// Macro F1 of this confusion matrix under `cfg` (see the module documentation).
    /// NaN when no label is known.
    pub fn macro_f1(&self, cfg: &F1Config) -> f64 {
        if self.n() == 0 {
            return f64::NAN;
        }
        // Positive class: TP = tp, FP = fp, FN = fn. Negative class: TP = tn, FP = fn, FN = fp.
        let pos = (self.tp, self.fp + self.fn_);
        let neg = (self.tn, self.fp + self.fn_);
        let mut sum = 0.0;
        let mut count = 0usize;
        for (tp, errors) in [neg, pos] {
            let denom = 2 * tp + errors;
            let f1 = match cfg.labels {
                // Observed in y_true ∪ y_pred <=> 2·TP + FP + FN > 0 for that class.
                F1Labels::Observed if denom == 0 => continue,
                _ if denom == 0 => cfg.zero_division.value(),
                _ => 2.0 * tp as f64 / denom as f64,
            };
            if f1.is_nan() {
                continue;
            }
            sum += f1;
            count += 1;
        }
        if count == 0 {
            f64::NAN
        } else {
            sum / count as f64
        }
    }
}

/// Which classes macro F1 averages over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum F1Labels {
    /// Classes present among the known labels or the predictions (sklearn's default call).
    #[default]
    Observed,
    /// Always both classes (sklearn's `labels=[0, 1]`).
    Both,
}

/// The F1 of a class with `2·TP + FP + FN = 0` (sklearn's `zero_division`; only reachable
/// with [`F1Labels::Both`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroDivision {
    /// 0 (sklearn's default `"warn"` value).
    #[default]
    Zero,
    /// 1.
    One,
    /// NaN: the class is left out of the macro mean.
    Nan,
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            Self::Zero => 0.0,
            Self::One => 1.0,
            Self::Nan => f64::NAN,
        }
    }
}

/// How macro F1 is computed; the default is sklearn's `f1_score(average="macro")`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct F1Config {
    /// Classes averaged over.
    pub labels: F1Labels,
    /// Value of an undefined per-class F1.
    pub zero_division: ZeroDivision,
}

/// Patient-level bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootstrapConfig {
    /// Number of replicates B (default 1000). 0 disables the intervals (NaN bounds).
    pub replicates: usize,
    /// Seed of the ChaCha8 stream that draws the patients (default 0).
    pub seed: u64,
    /// Coverage of the percentile interval, in (0, 1) (default 0.95).
    pub confidence: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            replicates: 1000,
            seed: 0,
            confidence: 0.95,
        }
    }
}

/// Settings of [`Samples::evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Predicted positive iff probability > threshold (default 0.5).
    pub threshold: f64,
    /// Macro F1 definition (default: sklearn's default call).
    pub f1: F1Config,
    /// Bootstrap intervals.
    pub bootstrap: BootstrapConfig,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            f1: F1Config::default(),
            bootstrap: BootstrapConfig::default(),
        }
    }
}

impl MetricsConfig {
    /// Checks the values: threshold in [0, 1], confidence in (0, 1).
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(ClassifyError::config(
                "metrics.threshold",
                format!("{} is not in [0, 1]", self.threshold),
            ));
        }
        let c = self.bootstrap.confidence;
        if !(c > 0.0 && c < 1.0) {
            return Err(ClassifyError::config(
                "metrics.bootstrap.confidence",
                format!("{c} is not in (0, 1)"),
            ));
        }
        Ok(())
    }
}

/// A two-sided interval; both bounds NaN when undefined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl Interval {
    /// The undefined interval (NaN, NaN).
    pub const NAN: Interval = Interval {
        lo: f64::NAN,
        hi: f64::NAN,
    };
}

/// The metrics of one structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructureMetrics {
    /// Structure name.
    pub structure: String,
    /// Confusion matrix over known labels at the configured threshold.
    pub confusion: Confusion,
    /// Number of known labels (`label != 0`).
    pub n_known: u64,
    /// Macro F1 (NaN without known labels).
    pub f1: f64,
    /// Patient-level bootstrap percentile interval of F1.
    pub f1_ci: Interval,
    /// AUROC of the positive-class probability (NaN with fewer than two classes known).
    pub auroc: f64,
    /// Patient-level bootstrap percentile interval of AUROC.
    pub auroc_ci: Interval,
}

/// One sample of one structure: a slice's label and predicted positive-class probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// Index of the patient (the bootstrap's resampling unit).
    pub(crate) patient: usize,
    /// Tri-state label.
    pub(crate) label: i8,
    /// Positive-class probability.
    pub(crate) prob: f64,
}

/// Evaluation samples grouped by structure, with patient identities for the bootstrap.
///
/// Structures and patients keep the order of their first appearance.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    structures: Vec<String>,
    structure_index: HashMap<String, usize>,
    patients: Vec<String>,
    patient_index: HashMap<String, usize>,
    data: Vec<Vec<Sample>>,
}

impl Samples {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares a structure (so that it appears, in this order, even with no sample) and
    /// returns its index.
    pub fn add_structure(&mut self, structure: &str) -> usize {
        if let Some(&i) = self.structure_index.get(structure) {
            return i;
        }
        let i = self.structures.len();
        self.structures.push(structure.to_owned());
        self.structure_index.insert(structure.to_owned(), i);
        self.data.push(Vec::new());
        i
    }

    fn add_patient(&mut self, patient: &str) -> usize {
        if let Some(&i) = self.patient_index.get(patient) {
            return i;
        }
        let i = self.patients.len();
        self.patients.push(patient.to_owned());
        self.patient_index.insert(patient.to_owned(), i);
        i
    }

    /// Adds one (slice, structure) sample. `label` ∈ {-1, 0, 1}; `prob` ∈ [0, 1] (the
    /// positive-class probability; checked even for unknown labels, which are otherwise ignored).
    ///
    /// # Errors
    /// [`ClassifyError::InvalidLabel`] or [`ClassifyError::InvalidProbability`].
    pub fn push(&mut self, structure: &str, patient: &str, label: i64, prob: f64) -> Result<()> {
        let s = self.add_structure(structure);
        let index = self.data[s].len();
        if !(-1..=1).contains(&label) {
            return Err(ClassifyError::InvalidLabel {
                structure: structure.to_owned(),
                index,
                label,
            });
        }
        if !(0.0..=1.0).contains(&prob) {
            return Err(ClassifyError::InvalidProbability {
                structure: structure.to_owned(),
                index,
                prob,
            });
        }
        let p = self.add_patient(patient);
        self.data[s].push(Sample {
            patient: p,
            label: label as i8,
            prob,
        });
        Ok(())
    }

    /// Structure names in order of first appearance.
    pub fn structures(&self) -> &[String] {
        &self.structures
    }

    /// Patient identifiers in order of first appearance.
    pub fn patients(&self) -> &[String] {
        &self.patients
    }

    /// Metrics of every structure, with bootstrap intervals over patients.
    ///
    /// Cost: one sort per structure, then O(replicates × samples).
    ///
    /// # Errors
    /// [`ClassifyError::Config`] for an invalid `cfg`.
    pub fn evaluate(&self, cfg: &MetricsConfig) -> Result<Vec<StructureMetrics>> {
        cfg.validate()?;
        let n_patients = self.patients.len();
        let prepared: Vec<Prepared> = self
            .data
            .iter()
            .map(|d| Prepared::new(d, n_patients, cfg.threshold))
            .collect();

        let b = cfg.bootstrap.replicates;
        let mut f1_reps = vec![Vec::with_capacity(b); prepared.len()];
        let mut auc_reps = vec![Vec::with_capacity(b); prepared.len()];
        if b > 0 && n_patients > 0 {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.bootstrap.seed);
            let mut counts = vec![0u64; n_patients];
            for _ in 0..b {
                draw_counts(&mut rng, &mut counts);
                for (s, p) in prepared.iter().enumerate() {
                    f1_reps[s].push(p.confusion_weighted(&counts).macro_f1(&cfg.f1));
                    auc_reps[s].push(p.auroc_weighted(&counts));
                }
            }
        }
        let interval = |reps: &mut Vec<f64>| percentile_interval(reps, cfg.bootstrap.confidence);

        let ones = vec![1u64; n_patients];
        Ok(prepared
            .iter()
            .enumerate()
            .map(|(s, p)| {
                let confusion = p.confusion_weighted(&ones);
                StructureMetrics {
                    structure: self.structures[s].clone(),
                    confusion,
                    n_known: confusion.n(),
                    f1: confusion.macro_f1(&cfg.f1),
                    f1_ci: interval(&mut f1_reps[s]),
                    auroc: p.auroc_weighted(&ones),
                    auroc_ci: interval(&mut auc_reps[s]),
                }
            })
            .collect())
    }
}

/// The percentile interval of bootstrap replicates at coverage `confidence`: the
/// `(1 − c)/2` and `(1 + c)/2` quantiles (numpy's linear interpolation) of the defined
/// replicates. NaN replicates are removed from `reps` (which is left sorted); none left →
/// [`Interval::NAN`].
pub(crate) fn percentile_interval(reps: &mut Vec<f64>, confidence: f64) -> Interval {
    let alpha = (1.0 - confidence) / 2.0;
    reps.retain(|v| !v.is_nan());
    if reps.is_empty() {
        return Interval::NAN;
    }
    reps.sort_by(f64::total_cmp);
    Interval {
        lo: percentile_sorted(reps, alpha),
        hi: percentile_sorted(reps, 1.0 - alpha),
    }
}

/// Draws `counts.len()` patients with replacement: `counts[p]` = times patient `p` was drawn.
/// Each draw is one `rng.random_range(0..n)` (rand 0.10), in order.
pub(crate) fn draw_counts(rng: &mut ChaCha8Rng, counts: &mut [u64]) {
    counts.iter_mut().for_each(|c| *c = 0);
    let n = counts.len();
    for _ in 0..n {
        counts[rng.random_range(0..n)] += 1;
    }
}

/// Per-structure sufficient statistics: per-patient confusion matrices and the known samples
/// sorted by probability (for weighted AUROC).
pub(crate) struct Prepared {
    per_patient: Vec<Confusion>,
    /// Known samples sorted by probability: (prob, positive, patient).
    sorted: Vec<(f64, bool, usize)>,
}

impl Prepared {
    pub(crate) fn new(samples: &[Sample], n_patients: usize, threshold: f64) -> Self {
        let mut per_patient = vec![Confusion::default(); n_patients];
        let mut sorted = Vec::with_capacity(samples.len());
        for s in samples.iter().filter(|s| s.label != 0) {
            per_patient[s.patient].add(s.label, s.prob, threshold);
            sorted.push((s.prob, s.label == 1, s.patient));
        }
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self {
            per_patient,
            sorted,
        }
    }

    pub(crate) fn confusion_weighted(&self, counts: &[u64]) -> Confusion {
        let mut c = Confusion::default();
        for (pc, &k) in self.per_patient.iter().zip(counts) {
            if k > 0 {
                c.add_scaled(pc, k);
            }
        }
        c
    }

    /// Mann–Whitney AUROC with per-sample weights `counts[patient]`, ties counted one half.
    pub(crate) fn auroc_weighted(&self, counts: &[u64]) -> f64 {
        let mut neg_below = 0.0f64;
        let mut num = 0.0f64;
        let mut w_pos = 0.0f64;
        let mut i = 0;
        let v = &self.sorted;
        while i < v.len() {
            let mut j = i;
            let (mut gp, mut gn) = (0.0f64, 0.0f64);
            while j < v.len() && v[j].0 == v[i].0 {
                let w = counts[v[j].2] as f64;
                if v[j].1 {
                    gp += w;
                } else {
                    gn += w;
                }
                j += 1;
            }
            num += gp * (neg_below + 0.5 * gn);
            neg_below += gn;
            w_pos += gp;
            i = j;
        }
        if w_pos == 0.0 || neg_below == 0.0 {
            f64::NAN
        } else {
            num / (w_pos * neg_below)
        }
    }
}

/// Confusion matrix over known labels (`label != 0`), predicted positive iff `prob > threshold`.
///
/// # Errors
/// Invalid labels or probabilities, or `labels` and `probs` of different lengths.
pub fn confusion(labels: &[i8], probs: &[f64], threshold: f64) -> Result<Confusion> {
    check_pairs(labels, probs)?;
    let mut c = Confusion::default();
    for (&l, &p) in labels.iter().zip(probs) {
        c.add(l, p, threshold);
    }
    Ok(c)
}

/// AUROC over known labels (sklearn's `roc_auc_score`, ties counted one half); NaN when the
/// known labels hold fewer than two classes.
///
/// # Errors
/// Invalid labels or probabilities, or `labels` and `probs` of different lengths.
pub fn auroc(labels: &[i8], probs: &[f64]) -> Result<f64> {
    check_pairs(labels, probs)?;
    let samples: Vec<Sample> = labels
        .iter()
        .zip(probs)
        .map(|(&label, &prob)| Sample {
            patient: 0,
            label,
            prob,
        })
        .collect();
    Ok(Prepared::new(&samples, 1, 0.5).auroc_weighted(&[1]))
}

fn check_pairs(labels: &[i8], probs: &[f64]) -> Result<()> {
    if labels.len() != probs.len() {
        return Err(ClassifyError::Shape {
            what: "labels/probs".into(),
            message: format!("{} labels but {} probabilities", labels.len(), probs.len()),
        });
    }
    for (index, (&l, &p)) in labels.iter().zip(probs).enumerate() {
        if !(-1..=1).contains(&l) {
            return Err(ClassifyError::InvalidLabel {
                structure: "-".into(),
                index,
                label: l.into(),
            });
        }
        if !(0.0..=1.0).contains(&p) {
            return Err(ClassifyError::InvalidProbability {
                structure: "-".into(),
                index,
                prob: p,
            });
        }
    }
    Ok(())
}

/// The `q`-quantile (`q` ∈ [0, 1]) of ascending, NaN-free `sorted` values with numpy's default
/// linear interpolation (`np.percentile(a, 100 q)`). NaN for an empty slice.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            if lo + 1 >= n {
                return sorted[n - 1];
            }
            let t = h - lo as f64;
            sorted[lo] + t * (sorted[lo + 1] - sorted[lo])
        }
    }
}

/// Mean and sample standard deviation of a metric over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanSd {
    /// Mean of the defined values (NaN when none).
    pub mean: f64,
    /// Sample standard deviation (ddof = 1, numpy's `std(ddof=1)`); NaN with fewer than two
    /// defined values.
    pub sd: f64,
    /// Number of defined (non-NaN) values used.
    pub n: usize,
}

impl MeanSd {
    /// Mean ± sd of `values`, NaN entries left out (an undefined AUROC stays undefined).
    ///
    /// ```
    /// let m = twinscan_classify::metrics::MeanSd::of(&[0.7, 0.8, f64::NAN, 0.9]);
    /// assert_eq!(m.n, 3);
    /// assert!((m.mean - 0.8).abs() < 1e-12 && (m.sd - 0.1).abs() < 1e-12);
    /// ```
    pub fn of(values: &[f64]) -> Self {
        let v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        let n = v.len();
        if n == 0 {
            return Self {
                mean: f64::NAN,
                sd: f64::NAN,
                n,
            };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = if n < 2 {
            f64::NAN
        } else {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        Self { mean, sd, n }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_and_f1_by_hand() {
        // y: 1 1 -1 -1 0, p: .9 .4 .6 .1 .99 -> tp 1, fn 1, fp 1, tn 1; unknown ignored.
        let c = confusion(&[1, 1, -1, -1, 0], &[0.9, 0.4, 0.6, 0.1, 0.99], 0.5).unwrap();
        assert_eq!((c.tn, c.fp, c.fn_, c.tp), (1, 1, 1, 1));
        assert!((c.macro_f1(&F1Config::default()) - 0.5).abs() < 1e-15);
        // Exactly at the threshold is negative.
        let c = confusion(&[1], &[0.5], 0.5).unwrap();
        assert_eq!(c.fn_, 1);
    }

    #[test]
    fn auroc_ties_by_hand() {
        // pos {0.5, 0.8}, neg {0.5, 0.2}: pairs (0.5,0.5)=0.5, (0.5,0.2)=1, (0.8,*)=1,1 -> 3.5/4.
        let a = auroc(&[1, 1, -1, -1, 0], &[0.5, 0.8, 0.5, 0.2, 0.0]).unwrap();
        assert!((a - 0.875).abs() < 1e-15);
        assert!(auroc(&[1, 1, 0], &[0.3, 0.4, 0.5]).unwrap().is_nan());
    }

    #[test]
    fn invalid_inputs_are_errors() {
        assert!(matches!(
            confusion(&[2], &[0.5], 0.5),
            Err(ClassifyError::InvalidLabel { label: 2, .. })
        ));
        assert!(matches!(
            auroc(&[1], &[f64::NAN]),
            Err(ClassifyError::InvalidProbability { .. })
        ));
        assert!(matches!(
            auroc(&[1, -1], &[0.5]),
            Err(ClassifyError::Shape { .. })
        ));
        let mut s = Samples::new();
        assert!(s.push("Brain", "p", 1, 1.5).is_err());
        assert!(s.push("Brain", "p", -2, 0.5).is_err());
        let cfg = MetricsConfig {
            threshold: 1.5,
            ..Default::default()
        };
        assert!(matches!(
            s.evaluate(&cfg),
            Err(ClassifyError::Config { .. })
        ));
    }

    #[test]
    fn single_patient_bootstrap_is_degenerate() {
        // One patient: every replicate equals the full sample, so the interval is the point.
        let mut s = Samples::new();
        for (l, p) in [(1, 0.9), (1, 0.3), (-1, 0.4), (-1, 0.6), (-1, 0.1)] {
            s.push("X", "only", l, p).unwrap();
        }
        let m = &s.evaluate(&MetricsConfig::default()).unwrap()[0];
        assert_eq!(m.f1_ci.lo, m.f1);
        assert_eq!(m.f1_ci.hi, m.f1);
        assert_eq!(m.auroc_ci.lo, m.auroc);
        assert_eq!(m.auroc_ci.hi, m.auroc);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_estimate() {
        let mut s = Samples::new();
        for p in 0..20 {
            for z in 0..6 {
                let label = if (p + z) % 3 == 0 { 1 } else { -1 };
                let prob = ((p * 7 + z * 13) % 10) as f64 / 10.0 * 0.6
                    + if label == 1 { 0.35 } else { 0.0 };
                s.push("S", &format!("p{p}"), label, prob).unwrap();
            }
        }
        let cfg = MetricsConfig::default();
        let a = s.evaluate(&cfg).unwrap();
        let b = s.evaluate(&cfg).unwrap();
        assert_eq!(a, b);
        let m = &a[0];
        assert!(m.f1_ci.lo < m.f1 && m.f1 < m.f1_ci.hi, "{m:?}");
        assert!(m.auroc_ci.lo < m.auroc && m.auroc <= m.auroc_ci.hi, "{m:?}");
        let other = MetricsConfig {
            bootstrap: BootstrapConfig {
                seed: 1,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_ne!(s.evaluate(&other).unwrap()[0].f1_ci, m.f1_ci);
        let none = MetricsConfig {
            bootstrap: BootstrapConfig {
                replicates: 0,
                ..Default::default()
            },
            ..Default::default()
        };
        let m0 = &s.evaluate(&none).unwrap()[0];
        assert!(m0.f1_ci.lo.is_nan() && m0.auroc_ci.hi.is_nan());
        assert_eq!(m0.f1, m.f1);
    }

    #[test]
    fn weighted_equals_expanded() {
        // Independent path: expand the drawn patients into repeated samples and use the
        // unweighted functions.
        let data: Vec<(usize, i8, f64)> = (0..60)
            .map(|i| {
                let p = i % 7;
                let l = [1, -1, 0, -1, 1][i % 5];
                (p, l, ((i * 37) % 11) as f64 / 10.0)
            })
            .collect();
        let samples: Vec<Sample> = data
            .iter()
            .map(|&(patient, label, prob)| Sample {
                patient,
                label,
                prob,
            })
            .collect();
        let prep = Prepared::new(&samples, 7, 0.5);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = vec![0; 7];
        for _ in 0..20 {
            draw_counts(&mut rng, &mut counts);
            assert_eq!(counts.iter().sum::<u64>(), 7);
            let (mut l, mut p) = (vec![], vec![]);
            for &(pat, lab, prob) in &data {
                for _ in 0..counts[pat] {
                    l.push(lab);
                    p.push(prob);
                }
            }
            let c = confusion(&l, &p, 0.5).unwrap();
            assert_eq!(prep.confusion_weighted(&counts), c);
            let (x, y) = (prep.auroc_weighted(&counts), auroc(&l, &p).unwrap());
            assert!(x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-12);
        }
    }
}
