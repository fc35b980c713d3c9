//! `imagenet:FILE` end to end on the shared torchvision fixture: a torchvision checkpoint with
//! its own 14-class `fc` loads into the classifier's encoder (the `fc` ignored), and the frozen
//! classifier's encoder reproduces torchvision's eval-mode pooled features.
//!
//! Gated on `TWINSCAN_RESNET_FIXTURE` (set by .ci/run to ../shared/fixtures/torchvision-resnet;
//! `twinscan_testkit::fixture_dir`): set → missing or wrong files fail; unset → that default
//! folder if present, else a printed note and an early return.
//! Tolerance: 1e-4 relative, 1e-3 absolute for |reference| < 1e-2.

use burn::tensor::{Device, Tensor, TensorData};
use twinscan_classify::classifier::ClassifierConfig;
use twinscan_classify::head::{BackboneInit, Mode};
use twinscan_models::{BlockKind, ResNetConfig};
use twinscan_testkit::{fixture_dir, read_json, read_npy};

#[test]
fn imagenet_checkpoint_features_match_torchvision() {
    let Some(dir) = fixture_dir("TWINSCAN_RESNET_FIXTURE", "torchvision-resnet") else {
        return;
    };
    let meta = read_json(&dir.join("meta.json"));
    let block: BlockKind = serde_json::from_value(meta["block"].clone()).expect("meta block");
    let layers: [usize; 4] = serde_json::from_value(meta["layers"].clone()).expect("meta layers");
    let in_channels = meta["in_channels"].as_u64().expect("meta in_channels") as usize;
    let encoder = ResNetConfig::new(block, layers).with_in_channels(in_channels);

    let input = read_npy(&dir.join("input.npy"));
    let shape: [usize; 4] = input.shape().try_into().expect("input.npy must be 4-D");
    let input: Vec<f32> = input.as_standard_layout().iter().copied().collect();
    let expected = read_npy(&dir.join("features_eval.npy"));
    let expected: Vec<f32> = expected.as_standard_layout().iter().copied().collect();

    let device = Device::flex().autodiff();
    for file in ["weights.pth", "weights.safetensors"] {
        let init = BackboneInit::ImageNet(dir.join(file));
        let (model, report) = ClassifierConfig::new(encoder.clone(), 7)
            .with_init(init)
            .with_mode(Mode::Frozen)
            .init(&device)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let report = report.expect("load report");
        assert!(report.missing.is_empty(), "{file}: {report:?}");
        assert!(
            report.unexpected.iter().all(|k| k.starts_with("fc.")),
            "{file}: {report:?}"
        );
        // The frozen encoder on the autodiff device runs BatchNorm on running statistics.
        let x = Tensor::<4>::from_data(TensorData::new(input.clone(), shape), &device);
        let got: Vec<f32> = model
            .encoder
            .forward_features(x.clone())
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(got.len(), expected.len(), "{file}: feature count");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            let tol = if e.abs() < 1e-2 { 1e-3 } else { 1e-4 * e.abs() };
            assert!(
                (g - e).abs() <= tol,
                "{file}: feature {i}: burn {g}, torch {e}"
            );
        }
        assert_eq!(model.forward(x).dims(), [shape[0], 14]);
    }
}
