//! The kNN probe watched during pretraining: how well the encoder's features separate the
//! slice labels, without training anything.
//!
//! Features are l2-normalised; each validation slice takes its `k` most cosine-similar train
//! slices (the Barlow Twins / DINO evaluation uses k = 20). Per structure, the prediction is
//! the majority of the neighbours whose label for that structure is known (1 vs -1; ties and
//! no known neighbour → absent). Unknown labels (0) are never counted, on either side.
//! Reported: accuracy over all known (slice, structure) pairs and the mean over structures of
//! the 2-class macro F1 (sklearn's `f1_score(average="macro")`), over the structures whose
//! validation labels contain both classes.
//!
//! Written here rather than reusing twinscan-classify's metrics because `ssl` sits beside
//! `classify` (both on `models`), not above it; the probe needs only these few lines.

use serde::{Deserialize, Serialize};

/// What the probe measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KnnReport {
    /// Neighbours used.
    pub k: usize,
    /// Accuracy over known validation labels.
    pub accuracy: f64,
    /// Mean per-structure 2-class macro F1 (structures with both classes in validation).
    pub mean_macro_f1: f64,
    /// How many structures entered the mean.
    pub structures_scored: usize,
    /// Known validation labels scored.
    pub known_labels: usize,
}

impl std::fmt::Display for KnnReport {
    /// `kNN@20 acc 0.937 macro F1 0.620`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kNN@{} acc {:.3} macro F1 {:.3}",
            self.k, self.accuracy, self.mean_macro_f1
        )
    }
}

fn normalise(features: &mut [f32], d: usize) {
    for row in features.chunks_mut(d) {
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= n);
    }
}

/// Runs the probe. `train_features`: `n_train × d`, `train_labels`: `n_train × s` (tri-state,
/// row-major), likewise for validation. Returns `None` when either side is empty.
///
/// ```
/// use twinscan_ssl::knn::knn_probe;
/// // Two clusters on the x and y axes; structure 0 is present on the x cluster.
/// let train = [1.0, 0.1, 0.9, 0.0, 0.0, 1.0, 0.1, 0.9];
/// let train_labels = [1, 1, -1, -1];
/// let val = [1.0, 0.2, 0.2, 1.0];
/// let r = knn_probe(&train, &train_labels, &val, &[1, -1], 2, 1, 1).unwrap();
/// assert_eq!(r.accuracy, 1.0);
/// assert_eq!(r.mean_macro_f1, 1.0);
/// ```
pub fn knn_probe(
    train_features: &[f32],
    train_labels: &[i8],
    val_features: &[f32],
    val_labels: &[i8],
    d: usize,
    s: usize,
    k: usize,
) -> Option<KnnReport> {
    let n_train = train_features.len() / d.max(1);
    let n_val = val_features.len() / d.max(1);
    if n_train == 0 || n_val == 0 || s == 0 || k == 0 {
        return None;
    }
    let mut tr = train_features.to_vec();
    let mut va = val_features.to_vec();
    normalise(&mut tr, d);
    normalise(&mut va, d);
    let k = k.min(n_train);
    // confusion per structure: [tn, fp, fn, tp]
    let mut conf = vec![[0u64; 4]; s];
    let mut sims: Vec<(f32, usize)> = Vec::with_capacity(n_train);
    for (v, q) in va.chunks(d).enumerate() {
        sims.clear();
        sims.extend(
            tr.chunks(d)
                .enumerate()
                .map(|(t, x)| (q.iter().zip(x).map(|(a, b)| a * b).sum::<f32>(), t)),
        );
        // Largest similarities first; ties by index so the result is deterministic.
        sims.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let neighbours = &sims[..k];
        for (j, c) in conf.iter_mut().enumerate() {
            let truth = val_labels[v * s + j];
            if truth == 0 {
                continue;
            }
            let (mut pos, mut neg) = (0usize, 0usize);
            for &(_, t) in neighbours {
                match train_labels[t * s + j] {
                    1 => pos += 1,
                    -1 => neg += 1,
                    _ => {}
                }
            }
            let pred = pos > neg;
            let idx = match (truth == 1, pred) {
                (false, false) => 0,
                (false, true) => 1,
                (true, false) => 2,
                (true, true) => 3,
            };
            c[idx] += 1;
        }
    }
    let known: u64 = conf.iter().map(|c| c.iter().sum::<u64>()).sum();
    let correct: u64 = conf.iter().map(|c| c[0] + c[3]).sum();
    let f1 = |tp: u64, fp: u64, fn_: u64| {
        let den = 2 * tp + fp + fn_;
        if den == 0 {
            0.0
        } else {
            2.0 * tp as f64 / den as f64
        }
    };
    let scored: Vec<f64> = conf
        .iter()
        .filter(|c| c[0] + c[1] > 0 && c[2] + c[3] > 0)
        .map(|&[tn, fp, fn_, tp]| 0.5 * (f1(tp, fp, fn_) + f1(tn, fn_, fp)))
        .collect();
    Some(KnnReport {
        k,
        accuracy: if known == 0 {
            f64::NAN
        } else {
            correct as f64 / known as f64
        },
        mean_macro_f1: if scored.is_empty() {
            f64::NAN
        } else {
            scored.iter().sum::<f64>() / scored.len() as f64
        },
        structures_scored: scored.len(),
        known_labels: known as usize,
    })
}
