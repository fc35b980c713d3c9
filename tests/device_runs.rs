//! The pretraining and the classification, end to end on an accelerator device, at a CI size:
//! a two-epoch Barlow Twins pretraining of a synthetic cohort interrupted after the first
//! epoch and resumed from its checkpoint (loss finite and falling, the kNN probe run on the
//! device, the encoder exported), then a finetuning classification run from that encoder
//! (held-out outputs whose metrics `predictions.csv` reproduces).
//!
//! Gated like the torchvision parity tests: the devices come from `TWINSCAN_PARITY_DEVICES`
//! (`wgpu` on Mesa's lavapipe in CI, `cuda,wgpu` on a GPU machine); unset, the CPU runs are
//! covered by the crates' own tests and this one says so and returns.
#![cfg(feature = "train")]

use std::path::Path;

use twinscan_classify::head::Mode;
use twinscan_classify::report::{metrics_from_predictions, read_metrics};
use twinscan_classify::train::{TrainConfig, files as run_files, train_and_evaluate};
use twinscan_data::prepared::Prepared;
use twinscan_models::burn::tensor::Device;
use twinscan_models::{BackboneInit, device_name};
use twinscan_ssl::pretrain::{PretrainRun, files, pretrain, pretrain_until};
use twinscan_ssl::{LrScaling, PretrainConfig};
use twinscan_testkit::cohort::PRETRAIN;
use twinscan_testkit::devices::parity_devices;
use twinscan_testkit::tiny;

/// The tiny pretraining of `crates/ssl/tests/pretrain.rs` (`twinscan_testkit::tiny`), in the
/// shapes of `crates/ssl/tests/device_step.rs` (ResNet-10, 1 × 64², batch 16), so that the
/// kernels compiled (and autotuned) there are reused here.
fn pretrain_config() -> PretrainConfig {
    PretrainConfig {
        input: twinscan_classify::EncoderInput {
            arch: twinscan_models::Arch::ResNet10,
            in_channels: 1,
            image_size: 64,
        },
        augment: tiny::pretrain::AUGMENT.into(),
        projector: tiny::pretrain::PROJECTOR.parse().unwrap(),
        epochs: 2,
        batch_size: tiny::BATCH_SIZE,
        max_steps_per_epoch: Some(tiny::pretrain::STEPS_PER_EPOCH),
        lr_scaling: LrScaling::Fixed(1.0),
        lars: twinscan_ssl::LarsConfig {
            lr_weights: tiny::pretrain::LR_WEIGHTS,
            lr_biases: tiny::pretrain::LR_BIASES,
            ..Default::default()
        },
        warmup_epochs: 0,
        knn_every: 2,
        knn_k: 5,
        seed: tiny::pretrain::SEED,
        ..PretrainConfig::study()
    }
}

#[test]
fn pretraining_resume_and_classification_run_on_the_device() {
    let devices = parity_devices("no accelerator to run the pretraining and classification on");
    for (name, device) in devices {
        println!("device {name}: {}", device_name(&device));
        let tmp = tempfile::tempdir().unwrap();
        let cohort = PRETRAIN.shared();
        let encoder = pretraining(&name, &device, cohort, &tmp.path().join("bt"));
        classification(&name, &device, cohort, &encoder, &tmp.path().join("cls"));
    }
}

fn pretraining(name: &str, device: &Device, cohort: &Path, out: &Path) -> std::path::PathBuf {
    let run = PretrainRun {
        data: cohort.to_path_buf(),
        out: out.to_path_buf(),
        config: pretrain_config(),
        device: device.clone(),
        data_parallel: Vec::new(),
        resume: false,
    };
    // Epoch 1, then "interrupted": a checkpoint and no encoder yet.
    let first = pretrain_until(&run, 1, &mut |_| {}).unwrap();
    assert_eq!((first.epochs_done, first.steps), (1, 4));
    assert!(first.checkpoint.is_dir(), "{}", first.checkpoint.display());
    assert!(first.encoder.is_none());
    // Epoch 2 from that checkpoint.
    let resumed = pretrain(
        &PretrainRun {
            resume: true,
            ..run.clone()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(resumed.resumed_at, Some(1));
    assert_eq!((resumed.epochs_done, resumed.steps), (2, 8));
    let losses = [first.epoch_losses[0], resumed.epoch_losses[0]];
    println!("pretraining on {name}: epoch losses {losses:?}");
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(
        losses[1] < losses[0],
        "loss did not fall from epoch 1 to 2 on {name}: {losses:?}"
    );
    // The kNN probe ran on the device at epoch 2 (and before training).
    let log = std::fs::read_to_string(out.join(files::LOG)).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let epoch2 = lines
        .iter()
        .rfind(|v| v["kind"] == "epoch")
        .expect("an epoch line");
    let f1 = epoch2["knn"]["mean_macro_f1"].as_f64().unwrap_or(f64::NAN);
    println!("kNN probe on {name} after epoch 2: mean macro F1 {f1}");
    assert!((0.0..=1.0).contains(&f1), "{}", epoch2["knn"]);
    resumed.encoder.expect("the encoder after the last epoch")
}

fn classification(name: &str, device: &Device, cohort: &Path, encoder: &Path, out: &Path) {
    let mut config = TrainConfig {
        input: twinscan_classify::EncoderInput {
            arch: twinscan_models::Arch::ResNet10,
            in_channels: 1,
            image_size: 64,
        },
        init: BackboneInit::Barlow(encoder.to_path_buf()),
        mode: Mode::Finetune,
        epochs: 2,
        batch_size: tiny::BATCH_SIZE,
        max_steps_per_epoch: Some(tiny::classify::STEPS_PER_EPOCH),
        eval_batch_size: tiny::classify::EVAL_BATCH_SIZE,
        ..TrainConfig::study()
    };
    config.metrics.bootstrap.replicates = 20;
    let outcome = train_and_evaluate(cohort, out, &config, device, &mut |_| {}).unwrap();
    let losses: Vec<f64> = outcome.history.iter().map(|h| h.train_loss).collect();
    println!(
        "classification on {name}: train losses {losses:?}, test macro F1 {:.3}, AUROC {:.3}",
        outcome.result.test_macro_f1, outcome.result.test_auroc
    );
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!((0.0..=1.0).contains(&outcome.result.test_auroc));
    // Every test slice × structure predicted; metrics.csv is what predictions.csv gives.
    let data = Prepared::open(cohort).unwrap();
    let recomputed =
        metrics_from_predictions(&out.join(run_files::PREDICTIONS), &config.metrics).unwrap();
    let written = read_metrics(&out.join(run_files::METRICS)).unwrap();
    assert_eq!(written.len(), data.structures().len());
    for (a, b) in recomputed.iter().zip(&written) {
        assert_eq!((&a.structure, a.confusion), (&b.structure, b.confusion));
    }
}
