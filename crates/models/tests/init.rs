//! torchvision's initialisation, checked against its formulas.

use burn::tensor::{Device, Tensor};
use twinscan_models::{BlockKind, ResNetConfig};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn mean_std(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn zero_init_residual_zeroes_the_last_bn_gamma_of_every_block() {
    let device = Device::flex();
    for (config, last) in [
        (ResNetConfig::resnet18(), "bn2"),
        (
            ResNetConfig::new(BlockKind::Bottleneck, [1, 2, 1, 1]),
            "bn3",
        ),
    ] {
        let model = config
            .clone()
            .with_zero_init_residual(true)
            .init(&device)
            .unwrap();
        let blocks: Vec<_> = model.blocks().collect();
        assert_eq!(blocks.len(), config.layers.iter().sum::<usize>());
        for (i, block) in blocks.iter().enumerate() {
            let gamma = values(block.last_bn().gamma.val());
            assert!(
                gamma.iter().all(|&g| g == 0.0),
                "block {i} {last} gamma not 0"
            );
            // The others start at 1 (and beta at 0).
            for bn in [&block.bn1]
                .into_iter()
                .chain(block.bn3.is_some().then_some(&block.bn2))
                .chain(block.downsample.as_ref().map(|d| &d.bn))
            {
                assert!(
                    values(bn.gamma.val()).iter().all(|&g| g == 1.0),
                    "block {i}"
                );
                assert!(values(bn.beta.val()).iter().all(|&b| b == 0.0), "block {i}");
            }
        }
        // Without the flag every gamma is 1.
        let plain = config.init(&device).unwrap();
        for block in plain.blocks() {
            assert!(
                values(block.last_bn().gamma.val())
                    .iter()
                    .all(|&g| g == 1.0)
            );
        }
    }
}

#[test]
fn convolutions_are_kaiming_normal_fan_out_and_head_is_pytorch_default() {
    let device = Device::flex();
    let model = ResNetConfig::resnet18()
        .with_in_channels(1)
        .with_num_classes(Some(10))
        .init(&device)
        .unwrap();
    // layer4.1.conv2: 512 -> 512, 3x3: fan_out = 512 * 9, std = sqrt(2 / fan_out).
    let w = values(model.layer4[1].conv2.weight.val());
    assert_eq!(w.len(), 512 * 512 * 9);
    let (mean, std) = mean_std(&w);
    let want = (2.0 / (512.0 * 9.0f64)).sqrt();
    assert!(mean.abs() < 0.01 * want, "mean {mean}");
    assert!((std / want - 1.0).abs() < 0.01, "std {std} want {want}");
    // Normal, not uniform: about 4.55 % of the values lie beyond 2 std.
    let tail = w.iter().filter(|&&x| (x as f64).abs() > 2.0 * want).count() as f64 / w.len() as f64;
    assert!((tail - 0.0455).abs() < 0.003, "tail fraction {tail}");

    // Stem: 1 input channel, 64 x 7 x 7 fan_out.
    assert_eq!(model.conv1.weight.dims(), [64, 1, 7, 7]);
    let (_, std) = mean_std(&values(model.conv1.weight.val()));
    let want = (2.0 / (64.0 * 49.0f64)).sqrt();
    assert!(
        (std / want - 1.0).abs() < 0.08,
        "stem std {std} want {want}"
    );

    // Head: uniform in +-1/sqrt(512) for weight and bias (PyTorch nn.Linear default).
    let fc = model.fc.as_ref().unwrap();
    let bound = 1.0 / 512f32.sqrt();
    let w = values(fc.weight.val());
    assert!(w.iter().all(|x| x.abs() <= bound));
    let (_, std) = mean_std(&w);
    let want = bound as f64 / 3f64.sqrt();
    assert!((std / want - 1.0).abs() < 0.05, "fc std {std} want {want}");
    assert!(
        values(fc.bias.as_ref().unwrap().val())
            .iter()
            .all(|x| x.abs() <= bound)
    );

    // BatchNorm running statistics start at mean 0, variance 1.
    assert!(
        values(model.bn1.running_mean.value())
            .iter()
            .all(|&m| m == 0.0)
    );
    assert!(
        values(model.bn1.running_var.value())
            .iter()
            .all(|&v| v == 1.0)
    );
}

#[test]
fn feature_widths_and_presets() {
    let device = Device::flex();
    for (name, blocks, width) in [
        ("resnet10", 4, 512),
        ("resnet18", 8, 512),
        ("resnet34", 16, 512),
        ("resnet50", 16, 2048),
        ("resnet101", 33, 2048),
    ] {
        let c = ResNetConfig::preset(name).unwrap();
        assert_eq!(c.layers.iter().sum::<usize>(), blocks, "{name}");
        assert_eq!(c.feature_dim(), width, "{name}");
    }
    assert!(ResNetConfig::preset("resnet19").is_err());
    assert!(
        ResNetConfig::new(BlockKind::Basic, [1, 0, 1, 1])
            .init(&device)
            .is_err()
    );
    assert!(
        ResNetConfig::resnet18()
            .with_in_channels(0)
            .init(&device)
            .is_err()
    );

    let x = Tensor::<4>::zeros([2, 1, 32, 32], &device);
    let m = ResNetConfig::new(BlockKind::Bottleneck, [1, 1, 1, 1])
        .with_in_channels(1)
        .with_num_classes(Some(3))
        .init(&device)
        .unwrap();
    assert_eq!(m.feature_dim(), 2048);
    assert_eq!(m.in_channels(), 1);
    assert_eq!(m.forward_features(x.clone()).dims(), [2, 2048]);
    assert_eq!(m.forward(x).dims(), [2, 3]);
}

/// The zero-initialised gammas must still train: with `zero_init_residual` every block's last
/// BatchNorm gamma gets a gradient on an autodiff device (a regression: a gamma built with
/// `zeros_like` had lost gradient tracking, so it never left 0).
#[test]
fn zero_initialised_gammas_are_trainable() {
    use burn::optim::GradientsParams;
    let device = Device::flex().autodiff();
    let model = ResNetConfig::resnet10()
        .with_in_channels(1)
        .with_zero_init_residual(true)
        .init(&device)
        .unwrap();
    let x = Tensor::<4>::random(
        [4, 1, 32, 32],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let loss = model.forward_features(x).square().sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    for (i, block) in model.blocks().enumerate() {
        let gamma = &block.last_bn().gamma;
        assert!(
            gamma.val().is_require_grad(),
            "block {i}: gamma not trainable"
        );
        let g = grads
            .get::<1>(gamma.id)
            .unwrap_or_else(|| panic!("block {i}: no gradient for the zero-initialised gamma"));
        let norm: f32 = g.square().sum().into_scalar::<f32>();
        assert!(norm > 0.0, "block {i}: zero gradient");
    }
}
