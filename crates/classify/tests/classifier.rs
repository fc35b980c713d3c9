//! Head, backbone loading and the frozen / finetune paths on `Device::flex()` (autodiff).

use burn::module::Module;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use twinscan_classify::ClassifyError;
use twinscan_classify::classifier::{Classifier, ClassifierConfig, FrozenBn};
use twinscan_classify::head::{BackboneInit, HeadInit, HeadKind, Mode, TriStateHeadConfig};
use twinscan_classify::loss::{MaskedCrossEntropy, MaskedLossConfig, labels_tensor};
use twinscan_models::{ResNetConfig, weights};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn small_encoder() -> ResNetConfig {
    ResNetConfig::resnet10()
}

#[test]
fn head_shapes_init_and_probabilities() {
    let device = Device::flex();
    // Reference linear-eval init: bias 0, weight N(0, 0.01).
    let head = TriStateHeadConfig::new(512, 21)
        .with_init(HeadInit::Reference)
        .init(&device)
        .unwrap();
    assert_eq!(head.linear.weight.dims(), [512, 42]);
    assert!(
        values(head.linear.bias.as_ref().unwrap().val())
            .iter()
            .all(|&b| b == 0.0)
    );
    let w = values(head.linear.weight.val());
    let mean = w.iter().sum::<f32>() / w.len() as f32;
    let sd = (w.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / w.len() as f32).sqrt();
    assert!(
        mean.abs() < 5e-4 && (sd - 0.01).abs() < 5e-4,
        "mean {mean}, sd {sd}"
    );

    // PyTorch default: uniform within ±1/√512 for weight and bias.
    let head = TriStateHeadConfig::new(512, 3).init(&device).unwrap();
    let bound = 1.0 / 512f32.sqrt();
    let w = values(head.linear.weight.val());
    assert!(w.iter().all(|x| x.abs() <= bound));
    assert!(w.iter().any(|x| x.abs() > 0.5 * bound));
    assert!(
        values(head.linear.bias.as_ref().unwrap().val())
            .iter()
            .all(|x| x.abs() <= bound && *x != 0.0)
    );

    // Probabilities: pair (0, ln 3) -> 3/(1+3) = 0.75; (2, 2) -> 0.5; (ln 4, 0) -> 0.2.
    let logits = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 3f32.ln(), 2.0, 2.0, 4f32.ln(), 0.0], [1, 6]),
        &device,
    );
    let p = values(head.probabilities(logits.clone()));
    for (a, e) in p.iter().zip([0.75f32, 0.5, 0.2]) {
        assert!((a - e).abs() < 1e-6, "{p:?}");
    }
    assert_eq!(
        head.forward(Tensor::zeros([5, 512], &device)).dims(),
        [5, 6]
    );

    // Single logit: σ(x).
    let single = TriStateHeadConfig::new(8, 3)
        .with_kind(HeadKind::Single)
        .init(&device)
        .unwrap();
    assert_eq!(single.kind(), HeadKind::Single);
    let logits = Tensor::<2>::from_data(
        TensorData::new(vec![0.0f32, 3f32.ln(), -(4f32.ln())], [1, 3]),
        &device,
    );
    let p = values(single.probabilities(logits));
    for (a, e) in p.iter().zip([0.5f32, 0.75, 0.2]) {
        assert!((a - e).abs() < 1e-6, "{p:?}");
    }

    assert!(matches!(
        TriStateHeadConfig::new(512, 0).init(&device),
        Err(ClassifyError::Config { .. })
    ));
}

/// The watched tensors: encoder conv weight, BN affine + running statistics, head weight.
fn watched(m: &Classifier) -> Vec<(&'static str, Vec<f32>)> {
    let e = &m.encoder;
    vec![
        ("conv1.weight", values(e.conv1.weight.val())),
        ("bn1.beta", values(e.bn1.beta.val())),
        ("bn1.running_mean", values(e.bn1.running_mean.value_sync())),
        (
            "layer1.0.conv1.weight",
            values(e.layer1[0].conv1.weight.val()),
        ),
        ("head.weight", values(m.head.linear.weight.val())),
    ]
}

/// One SGD step on the masked cross-entropy.
fn one_step(model: Classifier, x: Tensor<4>, device: &Device) -> Classifier {
    let labels = labels_tensor(&[1, -1, 0, -1, 1, 1, 0, 0, -1, 1, -1, 0], 4, 3, device).unwrap();
    let loss = MaskedCrossEntropy::new(MaskedLossConfig::default())
        .unwrap()
        .forward(model.forward(x), labels);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut optim = SgdConfig::new().init();
    optim.step(0.5, model, grads)
}

#[test]
fn frozen_trains_only_the_head_and_finetune_trains_everything() {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::random([4, 3, 32, 32], Distribution::Normal(0.5, 1.0), &device);

    let finetune = ClassifierConfig::new(small_encoder(), 3)
        .with_mode(Mode::Finetune)
        .init(&device)
        .unwrap()
        .0;
    let before = watched(&finetune);
    let after = watched(&one_step(finetune, x.clone(), &device));
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        assert_ne!(b, a, "finetune: {name} did not change");
    }

    let frozen = ClassifierConfig::new(small_encoder(), 3)
        .with_mode(Mode::Frozen)
        .init(&device)
        .unwrap()
        .0;
    assert!(!frozen.encoder.conv1.weight.is_require_grad());
    assert!(frozen.head.linear.weight.is_require_grad());
    // Frozen BatchNorm: the training-device forward equals the inference forward.
    let want = values(frozen.valid().forward(x.clone().without_autodiff()));
    let got = values(frozen.forward(x.clone()));
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "frozen forward differs by {worst}");
    let p = values(frozen.probabilities(x.clone()));
    assert_eq!(p.len(), 12);
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));

    let before = watched(&frozen);
    let after = watched(&one_step(frozen, x, &device));
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        if *name == "head.weight" {
            assert_ne!(b, a, "frozen: the head did not train");
        } else {
            assert_eq!(b, a, "frozen: encoder {name} changed");
        }
    }
}

#[test]
fn frozen_batch_stats_moves_running_statistics_and_no_weight() {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::random([4, 3, 32, 32], Distribution::Normal(0.5, 1.0), &device);
    let model = ClassifierConfig::new(small_encoder(), 3)
        .with_mode(Mode::Frozen)
        .with_frozen_bn(FrozenBn::BatchStats)
        .init(&device)
        .unwrap()
        .0;
    assert!(!model.encoder.conv1.weight.is_require_grad());
    assert!(!model.encoder.bn1.gamma.is_require_grad());
    assert!(model.head.linear.weight.is_require_grad());
    // Train-mode BatchNorm: the training forward is not the inference forward.
    let eval = values(model.valid().forward(x.clone().without_autodiff()));
    let train = values(model.forward(x.clone()));
    let diff = train
        .iter()
        .zip(&eval)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff > 1e-3, "batch statistics not used (max diff {diff})");

    let before = watched(&model);
    let after = watched(&one_step(model, x, &device));
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        match *name {
            "head.weight" | "bn1.running_mean" => {
                assert_ne!(b, a, "batch_stats: {name} did not change")
            }
            _ => assert_eq!(b, a, "batch_stats: encoder weight {name} changed"),
        }
    }

    // Recalibration = a gradient-free train-mode pass, then frozen: weights never change.
    let model = ClassifierConfig::new(small_encoder(), 3)
        .with_mode(Mode::Frozen)
        .with_frozen_bn(FrozenBn::Recalibrate)
        .init(&device)
        .unwrap()
        .0;
    let before = watched(&model);
    let x = Tensor::<4>::random([4, 3, 32, 32], Distribution::Normal(0.5, 1.0), &device);
    let _ = model.encoder.forward_features(x.clone());
    let model = model.with_mode(Mode::Frozen);
    let after = watched(&model);
    for ((name, b), (_, a)) in before.iter().zip(&after) {
        match *name {
            "bn1.running_mean" => assert_ne!(b, a, "recalibrate: running mean unchanged"),
            _ => assert_eq!(b, a, "recalibrate: {name} changed"),
        }
    }
    // ... and after it the encoder is in eval mode: training forward = inference forward.
    let eval = values(model.valid().forward(x.clone().without_autodiff()));
    let train = values(model.forward(x));
    let diff = train
        .iter()
        .zip(&eval)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-5, "recalibrated encoder not frozen ({diff})");
}

#[test]
fn barlow_export_loads_into_the_encoder() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backbone.safetensors");
    let exported = small_encoder().init(&device).unwrap();
    weights::export_encoder_safetensors(&exported, &path).unwrap();

    let init: BackboneInit = format!("barlow:{}", path.display()).parse().unwrap();
    let (model, report) = ClassifierConfig::new(small_encoder(), 5)
        .with_init(init)
        .with_mode(Mode::Finetune)
        .init(&device)
        .unwrap();
    let report = report.expect("a load report for barlow:FILE");
    assert!(
        report.applied > 0 && report.unexpected.is_empty(),
        "{report:?}"
    );
    assert_eq!(
        values(model.encoder.conv1.weight.val()),
        values(exported.conv1.weight.val())
    );
    assert_eq!(
        values(model.encoder.layer4[0].bn2.gamma.val()),
        values(exported.layer4[0].bn2.gamma.val())
    );
    // A fresh random encoder differs (so the comparison above can fail).
    let (random, none) = ClassifierConfig::new(small_encoder(), 5)
        .init(&device)
        .unwrap();
    assert!(none.is_none());
    assert_ne!(
        values(random.encoder.conv1.weight.val()),
        values(exported.conv1.weight.val())
    );

    // A weight file for another architecture is rejected, naming the file.
    let err = ClassifierConfig::new(ResNetConfig::resnet18(), 5)
        .with_init(BackboneInit::Barlow(path.clone()))
        .init(&device)
        .unwrap_err();
    assert!(matches!(err, ClassifyError::Model { .. }), "{err}");
    assert!(err.to_string().contains("backbone.safetensors"), "{err}");

    // A missing file names it too.
    let missing = dir.path().join("nope.safetensors");
    let err = ClassifierConfig::new(small_encoder(), 5)
        .with_init(BackboneInit::ImageNet(missing))
        .init(&device)
        .unwrap_err();
    assert!(err.to_string().contains("nope.safetensors"), "{err}");

    // The encoder must come without a head.
    let err = ClassifierConfig::new(small_encoder().with_num_classes(Some(3)), 5)
        .init(&device)
        .unwrap_err();
    assert!(matches!(err, ClassifyError::Config { .. }), "{err}");
}

#[test]
fn classifier_config_serialises() {
    let cfg = ClassifierConfig::new(small_encoder(), 21)
        .with_init(BackboneInit::ImageNet("w/r18.pth".into()))
        .with_mode(Mode::Finetune);
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains("\"init\":\"imagenet:w/r18.pth\""), "{json}");
    assert!(json.contains("\"mode\":\"finetune\""), "{json}");
    assert_eq!(
        serde_json::from_str::<ClassifierConfig>(&json).unwrap(),
        cfg
    );
}
