//! One classification run end to end on a small synthetic cohort: outputs, held-out metrics
//! that `predictions.csv` reproduces, frozen vs finetuned, and bad input leaving nothing.

use std::fs;

use burn::tensor::Device;
use twinscan_classify::head::Mode;
use twinscan_classify::report::{metrics_from_predictions, read_metrics, read_predictions};
use twinscan_classify::train::{TrainConfig, files, read_result, train_and_evaluate};
use twinscan_data::prepared::Prepared;
use twinscan_data::split::Split;
use twinscan_testkit::cohort::CLASSIFY;
use twinscan_testkit::tiny as shared;

fn tiny(mode: Mode) -> TrainConfig {
    let mut c = TrainConfig {
        input: twinscan_train::EncoderInput {
            arch: twinscan_models::Arch::ResNet10,
            in_channels: 1,
            image_size: 64,
        },
        mode,
        epochs: 2,
        batch_size: shared::BATCH_SIZE,
        max_steps_per_epoch: Some(shared::classify::STEPS_PER_EPOCH),
        eval_batch_size: shared::classify::EVAL_BATCH_SIZE,
        ..TrainConfig::study()
    };
    c.metrics.bootstrap.replicates = 50;
    c
}

#[test]
fn a_run_writes_held_out_outputs_that_reproduce() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs/random-finetune/seed-0");
    let mut epochs_seen = 0;
    let outcome = train_and_evaluate(
        CLASSIFY.shared(),
        &out,
        &tiny(Mode::Finetune),
        &Device::flex(),
        &mut |e| {
            if let twinscan_classify::train::Event::Epoch(_) = e {
                epochs_seen += 1
            }
        },
    )
    .unwrap();
    assert_eq!(epochs_seen, 2);
    for f in [
        files::CONFIG,
        files::LOG,
        files::PREDICTIONS,
        files::METRICS,
        files::VAL_METRICS,
        files::CURVES,
        files::RESULT,
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // No temporary folder is left next to the run.
    let siblings: Vec<_> = fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(siblings, vec!["seed-0"]);

    // predictions.csv: every test slice × structure, unknown labels included as 0.
    let data = Prepared::open(CLASSIFY.shared()).unwrap();
    let test = data.indices(Split::Test);
    let rows = read_predictions(&out.join(files::PREDICTIONS)).unwrap();
    assert_eq!(rows.len(), test.len() * data.structures().len());
    let test_patients: std::collections::HashSet<&str> =
        test.iter().map(|&i| data.patient(i)).collect();
    assert!(
        rows.iter()
            .all(|r| test_patients.contains(r.patient.as_str()))
    );
    assert!(
        rows.iter().any(|r| r.label == 0),
        "the cohort has unknown labels"
    );

    // metrics.csv is what predictions.csv gives (same threshold, F1 rule and bootstrap).
    let cfg = tiny(Mode::Finetune).metrics;
    let recomputed = metrics_from_predictions(&out.join(files::PREDICTIONS), &cfg).unwrap();
    let written = read_metrics(&out.join(files::METRICS)).unwrap();
    assert_eq!(recomputed.len(), written.len());
    for (a, b) in recomputed.iter().zip(&written) {
        assert_eq!(a.structure, b.structure);
        assert_eq!(a.confusion, b.confusion);
        assert_eq!(a.n_known, b.n_known);
        for (x, y) in [(a.f1, b.f1), (a.auroc, b.auroc), (a.f1_ci.lo, b.f1_ci.lo)] {
            assert!(
                (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-9,
                "{}: {x} vs {y}",
                a.structure
            );
        }
    }
    // Known test labels only: n_known counts exactly the non-zero labels.
    for m in &written {
        let known = rows
            .iter()
            .filter(|r| r.structure == m.structure && r.label != 0)
            .count() as u64;
        assert_eq!(m.n_known, known, "{}", m.structure);
    }
    let result = read_result(&out).unwrap();
    assert_eq!(result.metrics_split, "test");
    assert!(result.selected_epoch < 2);
    assert_eq!(outcome.history.len(), 2);
    assert!(outcome.history.iter().all(|h| h.train_loss.is_finite()));
}

#[test]
fn frozen_runs_train_only_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    let frozen = train_and_evaluate(
        CLASSIFY.shared(),
        &tmp.path().join("frozen"),
        &tiny(Mode::Frozen),
        &Device::flex(),
        &mut |_| {},
    )
    .unwrap();
    assert!(frozen.history[0].train_loss.is_finite());
    let cfg: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("frozen").join(files::CONFIG)).unwrap())
            .unwrap();
    assert_eq!(cfg["config"]["mode"], "frozen");
}

#[test]
fn bad_input_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    // A backbone file that does not exist: the error names it, no run folder appears.
    let out = tmp.path().join("run");
    let mut cfg = tiny(Mode::Frozen);
    cfg.init = "barlow:/no/such/encoder.safetensors".parse().unwrap();
    let e = train_and_evaluate(CLASSIFY.shared(), &out, &cfg, &Device::flex(), &mut |_| {})
        .unwrap_err();
    assert!(
        e.to_string().contains("/no/such/encoder.safetensors"),
        "{e}"
    );
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "left files behind"
    );
    // A dataset folder that does not exist.
    let e = train_and_evaluate(
        &tmp.path().join("nope"),
        &out,
        &tiny(Mode::Frozen),
        &Device::flex(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    // Invalid settings are refused before any work.
    let mut cfg = tiny(Mode::Frozen);
    cfg.batch_size = 1;
    let e = train_and_evaluate(CLASSIFY.shared(), &out, &cfg, &Device::flex(), &mut |_| {})
        .unwrap_err();
    assert!(e.to_string().contains("batch_size"), "{e}");
    assert!(!out.exists());
    // A diverging run (a learning rate of 1e30) stops with a NonFinite error, not a
    // configuration error, and leaves no run folder.
    let mut cfg = tiny(Mode::Finetune);
    cfg.optimizer = twinscan_classify::train::OptimizerConfig::Sgd {
        lr: 1e30,
        momentum: 0.9,
        cosine: false,
    };
    let e = train_and_evaluate(CLASSIFY.shared(), &out, &cfg, &Device::flex(), &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(
            e,
            twinscan_classify::ClassifyError::NonFinite { what: "loss", .. }
        ),
        "{e}"
    );
    assert!(!out.exists(), "a diverged run left {}", out.display());
}
