//! `model.safetensors`: torchvision key names and shapes (what `torchvision.models.resnet18`
//! + a linear head load), the metadata, and a strict read-back that reproduces the model.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Distribution, Tensor};
use twinscan_classify::artifact::{FORMAT, ModelMeta, load_model, read_model_meta, save_model};
use twinscan_classify::classifier::{Classifier, ClassifierConfig};
use twinscan_classify::head::{HeadKind, Mode};
use twinscan_classify::metrics::MetricsConfig;
use twinscan_data::labels::LabelRule;
use twinscan_models::meta::{InputSpec, JSON_KEY, read_raw_metadata};
use twinscan_models::{ResNetConfig, weights};

fn meta(arch: &str, in_channels: usize, structures: usize, kind: HeadKind) -> ModelMeta {
    ModelMeta {
        format: FORMAT.into(),
        format_version: 1,
        input: InputSpec {
            arch: arch.into(),
            in_channels,
            image_size: 64,
            slice_size: 64,
            hu_window: "40:400".into(),
            dataset_windows: vec!["40:400".into()],
            normalize_mean: 0.28,
            normalize_std: 0.031,
            eval_pipeline: twinscan_augment::Pipeline::preset("study_eval")
                .unwrap()
                .with_output_size(64, 64)
                .with_channels(in_channels)
                .to_toml(),
            orientation: "canonical".into(),
            dataset_fingerprint: Some("ab".repeat(32)),
            twinscan_version: "0.1.0".into(),
        },
        structures: (0..structures).map(|i| format!("S{i}")).collect(),
        head_kind: kind,
        init: "random".into(),
        mode: Mode::Finetune,
        selected_epoch: 3,
        metrics: MetricsConfig::default(),
        label_rule: LabelRule::Exact,
    }
}

fn model(arch: ResNetConfig, in_channels: usize, structures: usize, kind: HeadKind) -> Classifier {
    let enc = arch.with_in_channels(in_channels).with_num_classes(None);
    ClassifierConfig::new(enc, structures)
        .with_head_kind(kind)
        .init(&Device::flex())
        .unwrap()
        .0
}

/// Key → shape of a safetensors file.
fn shapes(path: &Path) -> BTreeMap<String, Vec<usize>> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| (k, v.shape().to_vec()))
        .collect()
}

/// torchvision's `resnet18().state_dict()` without `fc.*` and `num_batches_tracked`, written
/// out from torchvision's definition (BasicBlock, [2, 2, 2, 2], widths 64..512).
fn torchvision_resnet18(in_channels: usize) -> BTreeMap<String, Vec<usize>> {
    let mut m = BTreeMap::new();
    let bn = |m: &mut BTreeMap<String, Vec<usize>>, p: &str, c: usize| {
        for s in ["weight", "bias", "running_mean", "running_var"] {
            m.insert(format!("{p}.{s}"), vec![c]);
        }
    };
    m.insert("conv1.weight".into(), vec![64, in_channels, 7, 7]);
    bn(&mut m, "bn1", 64);
    let mut cin = 64;
    for (l, c) in [64usize, 128, 256, 512].into_iter().enumerate() {
        for b in 0..2 {
            let p = format!("layer{}.{b}", l + 1);
            let first_in = if b == 0 { cin } else { c };
            m.insert(format!("{p}.conv1.weight"), vec![c, first_in, 3, 3]);
            bn(&mut m, &format!("{p}.bn1"), c);
            m.insert(format!("{p}.conv2.weight"), vec![c, c, 3, 3]);
            bn(&mut m, &format!("{p}.bn2"), c);
            if b == 0 && l > 0 {
                m.insert(format!("{p}.downsample.0.weight"), vec![c, cin, 1, 1]);
                bn(&mut m, &format!("{p}.downsample.1"), c);
            }
        }
        cin = c;
    }
    m
}

#[test]
fn resnet18_model_file_has_torchvision_keys_and_a_linear_head() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.safetensors");
    let m = model(ResNetConfig::resnet18(), 3, 21, HeadKind::Pairs);
    save_model(&m, &meta("resnet18", 3, 21, HeadKind::Pairs), &path).unwrap();
    let mut expected = torchvision_resnet18(3);
    expected.insert("head.weight".into(), vec![42, 512]);
    expected.insert("head.bias".into(), vec![42]);
    let got = shapes(&path);
    let missing: Vec<_> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(got, expected, "shapes differ");

    // The metadata: flat keys for Python and the whole record.
    let raw = read_raw_metadata(&path).unwrap();
    assert_eq!(
        raw["structures"],
        serde_json::to_string(&meta("resnet18", 3, 21, HeadKind::Pairs).structures).unwrap()
    );
    assert_eq!(raw["image_size"], "64");
    assert_eq!(raw["hu_window"], "40:400");
    assert_eq!(raw["normalize_mean"], "0.28");
    assert_eq!(raw["head_kind"], "pairs");
    assert!(raw.contains_key(JSON_KEY));
    assert_eq!(
        read_model_meta(&path).unwrap(),
        meta("resnet18", 3, 21, HeadKind::Pairs)
    );
    // No scratch file is left beside it.
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["model.safetensors".to_string()]);
}

#[test]
fn a_model_file_reads_back_into_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.safetensors");
    let device = Device::flex();
    for kind in [HeadKind::Pairs, HeadKind::Single] {
        let m = model(ResNetConfig::resnet10(), 1, 3, kind);
        let info = meta("resnet10", 1, 3, kind);
        save_model(&m, &info, &path).unwrap();
        let (back, read) = load_model(&path, &device).unwrap();
        assert_eq!(read, info);
        let x = Tensor::<4>::random([2, 1, 64, 64], Distribution::Normal(0.0, 1.0), &device);
        let a = m
            .probabilities(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let b = back
            .probabilities(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(a.len(), 6);
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn foreign_or_inconsistent_files_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::flex();
    // Missing.
    let e = load_model(&tmp.path().join("nope.safetensors"), &device).unwrap_err();
    assert!(e.to_string().contains("nope.safetensors"), "{e}");
    // An encoder export without twinscan metadata.
    let enc = ResNetConfig::resnet10().init(&device).unwrap();
    let plain = tmp.path().join("encoder.safetensors");
    weights::export_encoder_safetensors(&enc, &plain).unwrap();
    let e = load_model(&plain, &device).unwrap_err().to_string();
    assert!(
        e.contains("encoder.safetensors") && e.contains("metadata"),
        "{e}"
    );
    // Metadata that promise more structures than the head holds.
    let path = tmp.path().join("model.safetensors");
    let m = model(ResNetConfig::resnet10(), 1, 3, HeadKind::Pairs);
    save_model(&m, &meta("resnet10", 1, 4, HeadKind::Pairs), &path).unwrap();
    let e = load_model(&path, &device).unwrap_err().to_string();
    assert!(e.contains("model.safetensors") && e.contains("head"), "{e}");
}

/// The torchvision fixture (a ResNet with BasicBlocks [1, 1, 1, 1] and its `fc`): every key a
/// torchvision state dict has, except `fc.*` and `num_batches_tracked`, is in our file with
/// the same shape, and nothing else but the head.
#[test]
fn model_file_keys_match_the_torchvision_fixture() {
    let Some(dir) = twinscan_testkit::fixture_dir("TWINSCAN_RESNET_FIXTURE", "torchvision-resnet")
    else {
        return;
    };
    let fixture = dir.join("weights.safetensors");
    assert!(fixture.is_file(), "{} missing", fixture.display());
    let mut expected: BTreeMap<String, Vec<usize>> = shapes(&fixture)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("fc.") && !k.ends_with("num_batches_tracked"))
        .collect();
    expected.insert("head.weight".into(), vec![10, 512]);
    expected.insert("head.bias".into(), vec![10]);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.safetensors");
    let m = model(ResNetConfig::resnet10(), 3, 5, HeadKind::Pairs);
    save_model(&m, &meta("resnet10", 3, 5, HeadKind::Pairs), &path).unwrap();
    assert_eq!(shapes(&path), expected);
}
