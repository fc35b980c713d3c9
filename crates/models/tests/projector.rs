//! The Barlow Twins projector: spec parsing, width checks, shapes, and the forward pass
//! against a hand-computed reference (plain Rust loops).

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use twinscan_models::{ModelsError, ProjectorConfig, ResNetConfig};

#[test]
fn parses_specs_and_rejects_bad_ones() {
    let c: ProjectorConfig = "512-8192-8192-8192".parse().unwrap();
    assert_eq!(c, ProjectorConfig::barlow_twins());
    assert_eq!((c.input_width(), c.output_width()), (512, 8192));
    assert_eq!(c.to_string(), "512-8192-8192-8192");
    for bad in ["", "512", "512-", "512-0-8", "512-abc", "-512-8", "512--8"] {
        let err = ProjectorConfig::parse(bad).unwrap_err();
        assert!(
            matches!(err, ModelsError::InvalidProjectorSpec { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn input_width_is_checked_against_the_encoder() {
    let c = ProjectorConfig::barlow_twins();
    c.check_input_width(ResNetConfig::resnet18().feature_dim())
        .unwrap();
    let err = c
        .check_input_width(ResNetConfig::resnet50().feature_dim())
        .unwrap_err();
    match err {
        ModelsError::ProjectorWidthMismatch {
            projector_input,
            encoder_features,
        } => assert_eq!((projector_input, encoder_features), (512, 2048)),
        other => panic!("{other}"),
    }
}

#[test]
fn layer_structure_and_shapes() {
    let device = Device::flex();
    let p = ProjectorConfig::parse("16-32-24-8").unwrap().init(&device);
    assert_eq!(p.hidden.len(), 2);
    assert_eq!(p.hidden[0].linear.weight.dims(), [16, 32]);
    assert!(p.hidden.iter().all(|b| b.linear.bias.is_none()));
    assert_eq!(p.hidden[1].bn.gamma.dims(), [24]);
    assert_eq!(p.last.weight.dims(), [24, 8]);
    assert!(p.last.bias.is_none());
    assert_eq!(p.input_width(), 16);
    let z = p.forward(Tensor::<2>::ones([5, 16], &device));
    assert_eq!(z.dims(), [5, 8]);
    // A single Linear is allowed: no BatchNorm, no ReLU.
    let single = ProjectorConfig::parse("4-2").unwrap().init(&device);
    assert!(single.hidden.is_empty());
}

fn matmul(x: &[Vec<f64>], w_in_out: &[Vec<f64>]) -> Vec<Vec<f64>> {
    x.iter()
        .map(|row| {
            (0..w_in_out[0].len())
                .map(|j| row.iter().zip(w_in_out).map(|(a, w)| a * w[j]).sum())
                .collect()
        })
        .collect()
}

/// Training-mode BatchNorm1d (batch mean, biased variance, eps 1e-5, gamma 1, beta 0) then
/// ReLU, column by column.
fn bn_relu_train(h: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = h.len() as f64;
    let mut out = h.to_vec();
    for j in 0..h[0].len() {
        let mean = h.iter().map(|r| r[j]).sum::<f64>() / n;
        let var = h.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
        for (o, r) in out.iter_mut().zip(h) {
            o[j] = ((r[j] - mean) / (var + 1e-5).sqrt()).max(0.0);
        }
    }
    out
}

#[test]
fn forward_matches_a_hand_computed_reference_in_train_and_eval_mode() {
    // widths 3-4-2; weights set explicitly ([in, out] layout, burn's Row layout).
    let w1 = vec![
        vec![0.5, -1.0, 0.25, 2.0],
        vec![1.5, 0.5, -0.75, 0.0],
        vec![-0.5, 1.0, 1.0, -1.25],
    ];
    let w2 = vec![
        vec![1.0, -0.5],
        vec![0.25, 2.0],
        vec![-1.0, 0.5],
        vec![0.75, 0.25],
    ];
    let x = vec![
        vec![0.1, 0.2, 0.3],
        vec![-1.0, 0.5, 2.0],
        vec![0.7, -0.3, 0.0],
        vec![1.2, 1.1, -0.4],
    ];
    let flat = |m: &Vec<Vec<f64>>| m.iter().flatten().map(|&v| v as f32).collect::<Vec<_>>();
    let shape = |m: &Vec<Vec<f64>>| [m.len(), m[0].len()];

    for train in [false, true] {
        let device = if train {
            Device::flex().autodiff()
        } else {
            Device::flex()
        };
        let mut p = ProjectorConfig::parse("3-4-2").unwrap().init(&device);
        p.hidden[0].linear.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(flat(&w1), shape(&w1)),
            &device,
        ));
        p.last.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(flat(&w2), shape(&w2)),
            &device,
        ));
        let xt = Tensor::<2>::from_data(TensorData::new(flat(&x), shape(&x)), &device);
        let got: Vec<f32> = p
            .forward(xt)
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .unwrap();

        let h = matmul(&x, &w1);
        let a = if train {
            bn_relu_train(&h)
        } else {
            // Running statistics at init: mean 0, variance 1.
            h.iter()
                .map(|r| {
                    r.iter()
                        .map(|v| (v / (1.0 + 1e-5f64).sqrt()).max(0.0))
                        .collect()
                })
                .collect()
        };
        let want = matmul(&a, &w2);
        for (g, w) in got.iter().zip(want.iter().flatten()) {
            assert!(
                (*g as f64 - w).abs() <= 1e-5 + 1e-5 * w.abs(),
                "train={train}: got {g}, want {w}"
            );
        }
    }
}
