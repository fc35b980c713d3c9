//! Freezing (burn 0.22 `Module::freeze`): a frozen encoder takes no optimiser update and its
//! BatchNorm layers use (and keep) their running statistics, while the head still trains.

use burn::module::Module;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Tensor};
use twinscan_models::{ResNet, ResNetConfig};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// The tensors the test watches: a conv weight, BN affine parameters and running statistics
/// of the stem and of a block, and the head.
fn watched(m: &ResNet) -> Vec<(&'static str, Vec<f32>)> {
    let b = &m.layer2[0];
    vec![
        ("conv1.weight", values(m.conv1.weight.val())),
        ("bn1.gamma", values(m.bn1.gamma.val())),
        ("bn1.running_mean", values(m.bn1.running_mean.value_sync())),
        ("bn1.running_var", values(m.bn1.running_var.value_sync())),
        ("layer2.0.conv2.weight", values(b.conv2.weight.val())),
        ("layer2.0.bn2.beta", values(b.bn2.beta.val())),
        (
            "layer2.0.bn2.running_mean",
            values(b.bn2.running_mean.value_sync()),
        ),
        (
            "layer2.0.downsample.bn.running_var",
            values(b.downsample.as_ref().unwrap().bn.running_var.value_sync()),
        ),
        ("fc.weight", values(m.fc.as_ref().unwrap().weight.val())),
    ]
}

/// One SGD step on a squared-logit loss; returns the model after the step.
fn one_step(model: ResNet, x: Tensor<4>) -> ResNet {
    let loss = model.forward(x).powf_scalar(2.0).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut optim = SgdConfig::new().init();
    optim.step(0.5, model, grads)
}

fn model(device: &Device) -> ResNet {
    ResNetConfig::resnet10()
        .with_in_channels(1)
        .with_num_classes(Some(3))
        .init(device)
        .unwrap()
}

#[test]
fn frozen_encoder_is_unchanged_by_an_optimiser_step_while_the_head_trains() {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::random([4, 1, 32, 32], Distribution::Normal(0.5, 1.0), &device);

    // Control: the unfrozen model changes everywhere (so the test can fail).
    let trained = model(&device);
    let before = watched(&trained);
    let after = watched(&one_step(trained, x.clone()));
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        assert_ne!(b, a, "unfrozen {name} did not change");
    }

    // Frozen encoder, trainable head.
    let mut frozen = model(&device).freeze();
    frozen.fc = frozen.fc.map(|fc| fc.unfreeze());
    assert!(!frozen.conv1.weight.is_require_grad());
    assert!(frozen.fc.as_ref().unwrap().weight.is_require_grad());
    let before = watched(&frozen);

    // Frozen BatchNorm uses the running statistics even on the autodiff device: the forward
    // equals the inference forward (`valid()` copy on the plain device).
    let reference = frozen.valid();
    let want = values(reference.forward_features(x.clone().without_autodiff()));
    let got = values(frozen.forward_features(x.clone()));
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-5,
        "frozen forward differs from inference forward by {worst}"
    );

    let after = watched(&one_step(frozen, x));
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        if *name == "fc.weight" {
            assert_ne!(b, a, "the head did not train");
        } else {
            assert_eq!(b, a, "frozen {name} changed");
        }
    }
}
