//! The training step end to end on a tiny model: the loss falls on a fixed batch, the stats are
//! consistent, and a non-finite input stops the step with an error.

use burn::tensor::{Device, Distribution, Tensor};
use twinscan_models::{ProjectorConfig, ResNetConfig};
use twinscan_ssl::{BarlowTwinsLossConfig, BarlowTwinsModel, LarsConfig, SslError, Trainer};

fn tiny(device: &Device) -> BarlowTwinsModel {
    let encoder = ResNetConfig::resnet10()
        .with_in_channels(1)
        .with_zero_init_residual(true)
        .init(device)
        .unwrap();
    let projector: ProjectorConfig = "512-32-32-16".parse().unwrap();
    BarlowTwinsModel::new(encoder, projector.init(device)).unwrap()
}

#[test]
fn loss_falls_on_a_fixed_batch() {
    let device = Device::flex().autodiff();
    let mut model = tiny(&device);
    let lars = LarsConfig::default();
    let mut optim = lars.init().unwrap();
    let trainer = Trainer {
        loss: BarlowTwinsLossConfig::default().init().unwrap().into(),
        lars,
        clip_norm: Some(1.0),
    };
    let x = Tensor::<4>::random([8, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let n1 = Tensor::<4>::random([8, 1, 32, 32], Distribution::Normal(0.0, 0.3), &device);
    let n2 = Tensor::<4>::random([8, 1, 32, 32], Distribution::Normal(0.0, 0.3), &device);
    let (y1, y2) = (x.clone() + n1, x + n2);
    let mut losses = vec![];
    for step in 0..6 {
        let (m, stats) = trainer
            .step(model, &mut optim, y1.clone(), y2.clone(), 10.0, step)
            .unwrap();
        model = m;
        assert!(
            (stats.loss - (stats.terms["on_diag"] + 0.0051 * stats.terms["off_diag"])).abs()
                < 1e-3 * stats.loss
        );
        assert!(stats.embedding_std > 0.0 && stats.embedding_std.is_finite());
        assert!(stats.grad_norm.unwrap() > 0.0);
        assert_eq!(stats.lr_weights, 10.0 * 0.2);
        losses.push(stats.loss);
    }
    println!("losses {losses:?}");
    assert!(
        losses[5] < losses[0],
        "loss did not fall over 6 steps: {losses:?}"
    );
}

#[test]
fn non_finite_input_is_an_error() {
    let device = Device::flex().autodiff();
    let model = tiny(&device);
    let lars = LarsConfig::default();
    let mut optim = lars.init().unwrap();
    let trainer = Trainer {
        loss: BarlowTwinsLossConfig::default().init().unwrap().into(),
        lars,
        clip_norm: None,
    };
    let y = Tensor::<4>::full([4, 1, 32, 32], f32::NAN, &device);
    let err = trainer
        .step(model, &mut optim, y.clone(), y, 1.0, 7)
        .expect_err("NaN input must fail");
    assert!(
        matches!(
            err,
            SslError::NonFinite {
                what: "loss",
                step: 7,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn projector_width_mismatch_is_an_error() {
    let device = Device::flex();
    let encoder = ResNetConfig::resnet10().init(&device).unwrap();
    let projector: ProjectorConfig = "256-8".parse().unwrap();
    assert!(matches!(
        BarlowTwinsModel::new(encoder, projector.init(&device)),
        Err(SslError::ShapeMismatch { .. })
    ));
}
