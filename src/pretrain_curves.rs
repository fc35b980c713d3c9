//! `curves.png` of a pretraining run folder, drawn from its `log.jsonl`: loss, the on- and
//! off-diagonal terms, the embedding standard deviation (collapse → 0), the learning rates and
//! the kNN probe's macro F1, over optimiser steps, with the per-epoch means.
//!
//! [`pretrain_with_curves`] redraws it at every checkpoint; the `pretrain` example and the
//! experiment runner use it. The drawing is `twinscan-classify`'s chart code (the facade sees
//! both crates; `twinscan-ssl` itself draws nothing).

use std::path::{Path, PathBuf};

use twinscan_classify::ClassifyError;
use twinscan_classify::plot::{Panel, Series, plot_curves};
use twinscan_ssl::pretrain::{self, Event, PretrainRun, PretrainSummary, files};

/// File name of the chart in a pretraining run folder.
pub const CURVES: &str = "curves.png";

#[derive(Default)]
struct Curves {
    loss: Vec<(f64, f64)>,
    on: Vec<(f64, f64)>,
    off: Vec<(f64, f64)>,
    inv: Vec<(f64, f64)>,
    var: Vec<(f64, f64)>,
    cov: Vec<(f64, f64)>,
    std: Vec<(f64, f64)>,
    lr_w: Vec<(f64, f64)>,
    lr_b: Vec<(f64, f64)>,
    epoch_loss: Vec<(f64, f64)>,
    knn_f1: Vec<(f64, f64)>,
}

fn num(v: &serde_json::Value, key: &str) -> Option<f64> {
    v.get(key).and_then(|x| x.as_f64())
}

fn read_log(path: &Path) -> Result<Curves, ClassifyError> {
    let text = std::fs::read_to_string(path).map_err(|e| ClassifyError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut c = Curves::default();
    for line in text.lines() {
        // A line cut by an interruption is skipped (the run truncates it on resume).
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let knn_f1 = |v: &serde_json::Value| v.get("knn").and_then(|k| num(k, "mean_macro_f1"));
        match v.get("kind").and_then(|k| k.as_str()) {
            Some("step") => {
                // Step s ends at x = s + 1 (steps done).
                let Some(x) = num(&v, "step").map(|s| s + 1.0) else {
                    continue;
                };
                let push = |dst: &mut Vec<(f64, f64)>, key: &str| {
                    if let Some(y) = num(&v, key) {
                        dst.push((x, y));
                    }
                };
                push(&mut c.loss, "loss");
                push(&mut c.on, "on_diag");
                push(&mut c.off, "off_diag");
                push(&mut c.inv, "invariance");
                push(&mut c.var, "variance");
                push(&mut c.cov, "covariance");
                push(&mut c.std, "embedding_std");
                push(&mut c.lr_w, "lr_weights");
                push(&mut c.lr_b, "lr_biases");
            }
            Some("epoch") => {
                // An epoch record's `step` is the number of steps done at its end.
                let Some(x) = num(&v, "step") else { continue };
                if let Some(y) = num(&v, "mean_loss") {
                    c.epoch_loss.push((x, y));
                }
                if let Some(f) = knn_f1(&v) {
                    c.knn_f1.push((x, f));
                }
            }
            Some("knn_init") => {
                if let Some(f) = knn_f1(&v) {
                    c.knn_f1.push((0.0, f));
                }
            }
            _ => {}
        }
    }
    Ok(c)
}

/// Draws `run_dir/curves.png` from `run_dir/log.jsonl` (atomically) and returns its path.
///
/// # Errors
/// [`ClassifyError::Io`] when the log cannot be read; [`ClassifyError::Plot`] naming the chart
/// when the log holds no step yet or rendering fails.
pub fn draw_pretrain_curves(run_dir: &Path) -> Result<PathBuf, ClassifyError> {
    let c = read_log(&run_dir.join(files::LOG))?;
    let path = run_dir.join(CURVES);
    let series = |name: &str, points: &[(f64, f64)]| Series {
        name: name.into(),
        points: if points.is_empty() {
            vec![(0.0, f64::NAN)]
        } else {
            points.to_vec()
        },
    };
    if c.loss.is_empty() {
        return Err(ClassifyError::Plot {
            path,
            message: "the log holds no training step yet".into(),
        });
    }
    let panels = [
        Panel {
            y_label: "loss".into(),
            series: vec![series("step", &c.loss), series("epoch mean", &c.epoch_loss)],
        },
        // The objective's terms: Barlow Twins' two, or VICReg's three.
        if c.on.is_empty() && !c.inv.is_empty() {
            Panel {
                y_label: "invariance term".into(),
                series: vec![series("mean (z1 − z2)²", &c.inv)],
            }
        } else {
            Panel {
                y_label: "on-diagonal term".into(),
                series: vec![series("Σ (1 − C_ii)²", &c.on)],
            }
        },
        if c.off.is_empty() && !c.cov.is_empty() {
            Panel {
                y_label: "variance, covariance terms".into(),
                series: vec![series("variance", &c.var), series("covariance", &c.cov)],
            }
        } else {
            Panel {
                y_label: "off-diagonal term".into(),
                series: vec![series("Σ C_ij² (i ≠ j)", &c.off)],
            }
        },
        Panel {
            y_label: "embedding std".into(),
            series: vec![series("l2-normalised, view 1", &c.std)],
        },
        Panel {
            y_label: "learning rate".into(),
            series: vec![series("weights", &c.lr_w), series("biases", &c.lr_b)],
        },
        Panel {
            y_label: "kNN macro F1".into(),
            series: vec![series("validation", &c.knn_f1)],
        },
    ];
    let name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    plot_curves(
        &path,
        &format!("pretraining {name}"),
        "optimiser step",
        &panels,
    )?;
    Ok(path)
}

/// What can go wrong in [`pretrain_with_curves`].
#[derive(Debug, thiserror::Error)]
pub enum CurvesError {
    /// The pretraining failed.
    #[error(transparent)]
    Pretrain(#[from] twinscan_ssl::SslError),
    /// The chart could not be drawn.
    #[error("pretraining curves: {0}")]
    Curves(#[from] ClassifyError),
}

/// [`pretrain::pretrain_until`], redrawing `curves.png` at every checkpoint.
///
/// # Errors
/// The pretraining's errors; a chart that cannot be drawn (reported once the pretraining
/// returns: its checkpoints are intact).
pub fn pretrain_with_curves(
    run: &PretrainRun,
    stop_after: u64,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<PretrainSummary, CurvesError> {
    let mut drawn: Result<(), ClassifyError> = Ok(());
    let summary = pretrain::pretrain_until(run, stop_after, &mut |e| {
        if let Event::Checkpoint(_) = e
            && drawn.is_ok()
        {
            drawn = draw_pretrain_curves(&run.out).map(|_| ());
        }
        on_event(e)
    })?;
    drawn?;
    Ok(summary)
}
