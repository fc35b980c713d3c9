//! Masked losses against PyTorch (crates/classify/tests/data/loss_fixture.json, written by
//! scripts/classify_fixtures.py in float64 from float32 inputs), and the unknown-label
//! invariances, on `Device::flex().autodiff()`.
//!
//! Tolerance: 1e-5 absolute + 1e-5 relative (burn computes in float32).

use std::path::PathBuf;

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::Value;
use twinscan_classify::ClassifyError;
use twinscan_classify::loss::{
    MaskedBce, MaskedCrossEntropy, MaskedLossConfig, Reduction, labels_tensor,
};

fn fixture() -> Value {
    twinscan_testkit::read_json(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/loss_fixture.json"),
    )
}

fn matrix(v: &Value) -> (Vec<f32>, [usize; 2]) {
    let rows = v.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    let data: Vec<f32> = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect();
    (data, [rows.len(), cols])
}

fn labels_of(v: &Value) -> (Vec<i8>, [usize; 2]) {
    let (d, shape) = matrix(v);
    (d.iter().map(|&x| x as i8).collect(), shape)
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn assert_close(actual: &[f32], expected: &[f32], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= 1e-5 + 1e-5 * e.abs(),
            "{what}[{i}]: burn {a}, torch {e}"
        );
    }
}

fn device() -> Device {
    Device::flex().autodiff()
}

fn leaf(data: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(data.to_vec(), shape), device).require_grad()
}

enum Kind {
    Ce,
    Bce,
}

/// Loss value and gradient w.r.t. the logits.
fn loss_and_grad(
    kind: &Kind,
    cfg: MaskedLossConfig,
    logits: &[f32],
    shape: [usize; 2],
    labels: &[i8],
    lshape: [usize; 2],
) -> (f32, Vec<f32>) {
    let device = device();
    let x = leaf(logits, shape, &device);
    let l: Tensor<2, Int> = labels_tensor(labels, lshape[0], lshape[1], &device).unwrap();
    let loss = match kind {
        Kind::Ce => MaskedCrossEntropy::new(cfg).unwrap().forward(x.clone(), l),
        Kind::Bce => MaskedBce::new(cfg).unwrap().forward(x.clone(), l),
    };
    let grads = loss.backward();
    let g = values(x.grad(&grads).unwrap());
    (loss.into_scalar::<f32>(), g)
}

#[test]
fn values_and_gradients_match_pytorch() {
    let fx = fixture();
    let (logits, shape) = matrix(&fx["logits"]);
    let (single, sshape) = matrix(&fx["single_logits"]);
    let (labels, lshape) = labels_of(&fx["labels"]);
    assert_eq!(shape, [lshape[0], 2 * lshape[1]]);
    let known: Vec<bool> = labels.iter().map(|&l| l != 0).collect();

    for case in fx["cases"].as_array().unwrap() {
        let w: Vec<f32> = case["class_weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        for (kind, x, xs, prefix) in [
            (Kind::Ce, &logits, shape, "ce"),
            (Kind::Bce, &single, sshape, "bce"),
        ] {
            // Per-label values: PyTorch's unmasked reduction="none" times the known mask.
            let cfg = MaskedLossConfig {
                class_weights: [w[0], w[1]],
                reduction: Reduction::Sum,
            };
            let device = Device::flex();
            let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), xs), &device);
            let lt = labels_tensor(&labels, lshape[0], lshape[1], &device).unwrap();
            let per = match kind {
                Kind::Ce => MaskedCrossEntropy::new(cfg).unwrap().per_label(xt, lt),
                Kind::Bce => MaskedBce::new(cfg).unwrap().per_label(xt, lt),
            };
            let (torch_per, _) = matrix(&case[format!("{prefix}_per_element")]);
            let expected: Vec<f32> = torch_per
                .iter()
                .zip(&known)
                .map(|(v, &k)| if k { *v } else { 0.0 })
                .collect();
            let what = format!("{prefix} w={w:?}");
            assert_close(&values(per), &expected, &format!("{what} per label"));

            for (reduction, key) in [(Reduction::Sum, "sum"), (Reduction::MeanOverKnown, "mean")] {
                let cfg = MaskedLossConfig {
                    class_weights: [w[0], w[1]],
                    reduction,
                };
                let (value, grad) = loss_and_grad(&kind, cfg, x, xs, &labels, lshape);
                let value_key = if key == "sum" {
                    format!("{prefix}_sum")
                } else {
                    format!("{prefix}_mean_over_known")
                };
                let expected = case[&value_key].as_f64().unwrap() as f32;
                assert_close(&[value], &[expected], &format!("{what} {value_key}"));
                let (g, _) = matrix(&case[format!("{prefix}_grad_{key}")]);
                assert_close(&grad, &g, &format!("{what} grad {key}"));
            }
        }
    }
}

#[test]
fn unknown_labels_change_neither_loss_nor_gradients() {
    let fx = fixture();
    let (logits, shape) = matrix(&fx["logits"]);
    let (labels, lshape) = labels_of(&fx["labels"]);
    let (n, s) = (lshape[0], lshape[1]);

    for reduction in [Reduction::Sum, Reduction::MeanOverKnown] {
        let cfg = MaskedLossConfig {
            reduction,
            ..Default::default()
        };
        let (v0, g0) = loss_and_grad(&Kind::Ce, cfg, &logits, shape, &labels, lshape);

        // 1. Wildly different logits where the label is unknown: same loss, same gradients,
        //    and the unknown logits get exactly zero gradient.
        let mut perturbed = logits.clone();
        for i in 0..n {
            for j in 0..s {
                if labels[i * s + j] == 0 {
                    perturbed[i * 2 * s + 2 * j] += 40.0;
                    perturbed[i * 2 * s + 2 * j + 1] -= 25.0;
                }
            }
        }
        let (v1, g1) = loss_and_grad(&Kind::Ce, cfg, &perturbed, shape, &labels, lshape);
        assert_eq!(v0, v1, "{reduction:?}: loss changed with unknown logits");
        assert_eq!(
            g0, g1,
            "{reduction:?}: gradients changed with unknown logits"
        );
        for i in 0..n {
            for j in 0..s {
                let pair = [g0[i * 2 * s + 2 * j], g0[i * 2 * s + 2 * j + 1]];
                if labels[i * s + j] == 0 {
                    assert_eq!(pair, [0.0, 0.0]);
                } else {
                    assert!(pair[0] != 0.0 && pair[1] != 0.0);
                }
            }
        }

        // 2. Dropping the slice whose labels are all unknown (row 2) changes nothing either.
        assert!(labels[2 * s..3 * s].iter().all(|&l| l == 0));
        let keep: Vec<usize> = (0..n).filter(|&i| i != 2).collect();
        let sub_logits: Vec<f32> = keep
            .iter()
            .flat_map(|&i| logits[i * 2 * s..(i + 1) * 2 * s].to_vec())
            .collect();
        let sub_labels: Vec<i8> = keep
            .iter()
            .flat_map(|&i| labels[i * s..(i + 1) * s].to_vec())
            .collect();
        let (v2, g2) = loss_and_grad(
            &Kind::Ce,
            cfg,
            &sub_logits,
            [n - 1, 2 * s],
            &sub_labels,
            [n - 1, s],
        );
        assert!(
            (v0 - v2).abs() <= 1e-6 * v0.abs(),
            "{reduction:?}: {v0} vs {v2}"
        );
        let g0_kept: Vec<f32> = keep
            .iter()
            .flat_map(|&i| g0[i * 2 * s..(i + 1) * 2 * s].to_vec())
            .collect();
        assert_close(&g2, &g0_kept, "gradients without the unknown slice");
    }
}

#[test]
fn all_unknown_batch_gives_zero_not_nan() {
    let logits = [0.3f32, -1.0, 2.0, 0.5];
    for kind in [Kind::Ce, Kind::Bce] {
        let (shape, lshape) = match kind {
            Kind::Ce => ([1, 4], [1, 2]),
            Kind::Bce => ([2, 2], [2, 2]),
        };
        let labels = vec![0i8; lshape[0] * lshape[1]];
        for reduction in [Reduction::Sum, Reduction::MeanOverKnown] {
            let cfg = MaskedLossConfig {
                reduction,
                ..Default::default()
            };
            let (v, g) = loss_and_grad(&kind, cfg, &logits, shape, &labels, lshape);
            assert_eq!(v, 0.0);
            assert!(g.iter().all(|&x| x == 0.0));
        }
    }
}

#[test]
fn mean_over_known_is_sum_over_known_count() {
    // Independent of PyTorch's weighted "mean" (which divides by the weight sum).
    let device = Device::flex();
    let logits = Tensor::<2>::from_data(TensorData::new(vec![0.0f32; 8], [2, 4]), &device);
    // Known: 3 labels (two positive, one negative): sum = 2·ln2·2 + 1·ln2 = 5 ln2; mean 5/3 ln2.
    let labels = labels_tensor(&[1, 0, 1, -1], 2, 2, &device).unwrap();
    let ce = MaskedCrossEntropy::new(MaskedLossConfig::default()).unwrap();
    let v = ce.forward(logits, labels).into_scalar::<f32>();
    assert!((v - 5.0 / 3.0 * 2f32.ln()).abs() < 1e-6, "{v}");
}

#[test]
fn invalid_settings_and_labels_are_errors() {
    for w in [[0.0, 1.0], [1.0, f32::NAN], [-1.0, 2.0]] {
        let cfg = MaskedLossConfig {
            class_weights: w,
            ..Default::default()
        };
        assert!(matches!(
            MaskedCrossEntropy::new(cfg),
            Err(ClassifyError::Config { .. })
        ));
        assert!(MaskedBce::new(cfg).is_err());
    }
    let device = Device::flex();
    assert!(matches!(
        labels_tensor(&[1, 0, 1], 2, 2, &device),
        Err(ClassifyError::Shape { .. })
    ));
    assert!(matches!(
        labels_tensor(&[1, 0, 3, -1], 2, 2, &device),
        Err(ClassifyError::InvalidLabel {
            label: 3,
            index: 1,
            ..
        })
    ));
}
