//! Parity with torchvision: the fixture in `../shared/fixtures/torchvision-resnet` (a
//! torchvision ResNet's state dict as `.pth` and `.safetensors`, an input batch and
//! torchvision's pooled features and logits, eval and train mode) must be reproduced within
//! 1e-4 relative (1e-3 absolute for values near 0).
//!
//! Gated: with `TWINSCAN_RESNET_FIXTURE` set, a missing or wrong fixture fails; unset, the
//! default folder is used if present, else the tests print a note and return.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::read_npy;
use twinscan_models::weights::{self, LoadOptions};
use twinscan_models::{BlockKind, ModelsError, ResNet, ResNetConfig};

const ENV: &str = "TWINSCAN_RESNET_FIXTURE";
const REL_TOL: f32 = 1e-4;
const ABS_TOL_NEAR_ZERO: f32 = 1e-3;
/// Below this magnitude a reference value counts as "near 0" and gets the absolute tolerance.
const NEAR_ZERO: f32 = 1e-2;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixture folder, or `None` (with a note) when the variable is unset and the default
/// folder is absent. Panics when the variable is set but the folder is missing.
fn fixture_dir() -> Option<PathBuf> {
    match std::env::var_os(ENV) {
        Some(v) if !v.is_empty() => {
            let p = PathBuf::from(v);
            let p = if p.is_relative() && !p.exists() {
                workspace_root().join(p)
            } else {
                p
            };
            assert!(
                p.join("meta.json").is_file(),
                "{ENV} is set to {} but meta.json is not there",
                p.display()
            );
            Some(p)
        }
        _ => {
            let p = workspace_root().join("../shared/fixtures/torchvision-resnet");
            if p.join("meta.json").is_file() {
                Some(p)
            } else {
                eprintln!(
                    "note: {ENV} unset and {} missing: torchvision parity not checked",
                    p.display()
                );
                None
            }
        }
    }
}

struct Fixture {
    dir: PathBuf,
    config: ResNetConfig,
    input_shape: [usize; 4],
    input: Vec<f32>,
}

fn npy(dir: &Path, name: &str) -> ArrayD<f32> {
    let path = dir.join(name);
    read_npy::<_, ArrayD<f32>>(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn load_fixture() -> Option<Fixture> {
    let dir = fixture_dir()?;
    let meta_path = dir.join("meta.json");
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&meta_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", meta_path.display())),
    )
    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", meta_path.display()));
    let block: BlockKind = serde_json::from_value(meta["block"].clone())
        .unwrap_or_else(|e| panic!("meta.json block: {e}"));
    let layers: [usize; 4] = serde_json::from_value(meta["layers"].clone())
        .unwrap_or_else(|e| panic!("meta.json layers: {e}"));
    let in_channels = meta["in_channels"].as_u64().expect("meta.json in_channels") as usize;
    let num_classes = meta["num_classes"].as_u64().expect("meta.json num_classes") as usize;
    let config = ResNetConfig::new(block, layers)
        .with_in_channels(in_channels)
        .with_num_classes(Some(num_classes));
    if let Some(fd) = meta["feature_dim"].as_u64() {
        assert_eq!(fd as usize, config.feature_dim(), "meta.json feature_dim");
    }
    let input = npy(&dir, "input.npy");
    let shape: [usize; 4] = input
        .shape()
        .try_into()
        .unwrap_or_else(|_| panic!("input.npy must be 4-D, is {:?}", input.shape()));
    assert_eq!(shape[1], in_channels, "input.npy channels vs meta.json");
    let input = input.as_standard_layout().iter().copied().collect();
    Some(Fixture {
        dir,
        config,
        input_shape: shape,
        input,
    })
}

fn to_array(t: Tensor<2>) -> ArrayD<f32> {
    let dims = t.dims();
    let data = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 data");
    ArrayD::from_shape_vec(IxDyn(&dims), data).expect("shape")
}

fn assert_close(what: &str, got: &ArrayD<f32>, want: &ArrayD<f32>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let mut worst = (0.0f32, 0usize);
    let mut failures = Vec::new();
    for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
        let diff = (g - w).abs();
        let ok = if w.abs() < NEAR_ZERO {
            diff <= ABS_TOL_NEAR_ZERO
        } else {
            diff <= REL_TOL * w.abs()
        };
        if !ok && failures.len() < 8 {
            failures.push(format!("[{i}] got {g} want {w}"));
        }
        let rel = diff / w.abs().max(NEAR_ZERO);
        if rel > worst.0 {
            worst = (rel, i);
        }
    }
    eprintln!(
        "{what}: worst relative deviation {:.3e} at {}",
        worst.0, worst.1
    );
    assert!(failures.is_empty(), "{what}: mismatches {failures:?}");
}

#[derive(Clone, Copy)]
enum Mode {
    Eval,
    Train,
}

/// The backends the parity tests run on: `flex` always, LibTorch's CPU device when the `tch`
/// feature is compiled in, and every device named in `TWINSCAN_PARITY_DEVICES` (comma
/// separated `--device` strings, e.g. `wgpu,cuda`), for machines where they can run.
fn devices() -> Vec<(String, Device)> {
    let mut specs = vec!["cpu".to_string()];
    if cfg!(feature = "tch") {
        specs.push("tch".into());
    }
    if let Ok(extra) = std::env::var("TWINSCAN_PARITY_DEVICES") {
        specs.extend(
            extra
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().to_string()),
        );
    }
    specs
        .into_iter()
        .map(|s| {
            let spec = twinscan_models::DeviceSpec::parse_from(&s, "TWINSCAN_PARITY_DEVICES")
                .unwrap_or_else(|e| panic!("{e}"));
            let device = spec.device().unwrap_or_else(|e| panic!("{e}"));
            (s, device)
        })
        .collect()
}

fn run(fix: &Fixture, weights_file: &str, mode: Mode) {
    for (name, base) in devices() {
        println!(
            "{weights_file}: device {name} ({})",
            twinscan_models::device_name(&base)
        );
        run_on(fix, weights_file, mode, base, &name);
    }
}

fn run_on(fix: &Fixture, weights_file: &str, mode: Mode, base: Device, name: &str) {
    let device = match mode {
        Mode::Eval => base,
        Mode::Train => base.autodiff(),
    };
    let mut model: ResNet = fix.config.init(&device).expect("config from meta.json");
    let path = fix.dir.join(weights_file);
    let report = weights::load(&mut model, &path, &LoadOptions::strict())
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    assert!(report.missing.is_empty() && report.unexpected.is_empty());
    let x = Tensor::<4>::from_data(TensorData::new(fix.input.clone(), fix.input_shape), &device);
    let features = model.forward_features(x.clone());
    let logits = model.fc.as_ref().expect("head").forward(features.clone());
    let (f_name, l_name, tag) = match mode {
        Mode::Eval => ("features_eval.npy", "logits_eval.npy", "eval"),
        Mode::Train => ("features_train.npy", "logits_train.npy", "train"),
    };
    assert_close(
        &format!("{weights_file} {tag} features on {name}"),
        &to_array(features),
        &npy(&fix.dir, f_name),
    );
    assert_close(
        &format!("{weights_file} {tag} logits on {name}"),
        &to_array(logits),
        &npy(&fix.dir, l_name),
    );
}

#[test]
fn pth_eval_matches_torchvision() {
    if let Some(fix) = load_fixture() {
        run(&fix, "weights.pth", Mode::Eval);
    }
}

#[test]
fn pth_train_matches_torchvision() {
    if let Some(fix) = load_fixture() {
        run(&fix, "weights.pth", Mode::Train);
    }
}

#[test]
fn safetensors_eval_matches_torchvision() {
    if let Some(fix) = load_fixture() {
        run(&fix, "weights.safetensors", Mode::Eval);
    }
}

#[test]
fn safetensors_train_matches_torchvision() {
    if let Some(fix) = load_fixture() {
        run(&fix, "weights.safetensors", Mode::Train);
    }
}

/// Names, dtypes and shapes of a safetensors file, read from its JSON header directly (not
/// through burn).
fn safetensors_header(path: &Path) -> BTreeMap<String, (String, Vec<usize>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| {
            let dtype = v["dtype"].as_str().unwrap().to_string();
            let shape = serde_json::from_value(v["shape"].clone()).unwrap();
            (k.clone(), (dtype, shape))
        })
        .collect()
}

/// The exported encoder carries exactly torchvision's keys and shapes (minus `fc.*` and the
/// `num_batches_tracked` counters) and loads back to the same features.
#[test]
fn exported_encoder_has_torchvision_keys_and_round_trips() {
    let Some(fix) = load_fixture() else { return };
    let device = Device::flex();
    let mut model = fix.config.init(&device).unwrap();
    weights::load(
        &mut model,
        fix.dir.join("weights.safetensors"),
        &LoadOptions::strict(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("encoder.safetensors");
    weights::export_encoder_safetensors(&model, &out).unwrap();

    let want: BTreeMap<_, _> = safetensors_header(&fix.dir.join("weights.safetensors"))
        .into_iter()
        .filter(|(k, _)| !k.starts_with("fc.") && !k.ends_with("num_batches_tracked"))
        .collect();
    let got = safetensors_header(&out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "exported keys"
    );
    assert_eq!(got, want, "exported dtypes/shapes");

    // Load it back into an encoder without head: strict must pass.
    let mut encoder = fix
        .config
        .clone()
        .with_num_classes(None)
        .init(&device)
        .unwrap();
    weights::load(&mut encoder, &out, &LoadOptions::strict()).unwrap();
    let x = Tensor::<4>::from_data(TensorData::new(fix.input.clone(), fix.input_shape), &device);
    assert_close(
        "re-exported eval features",
        &to_array(encoder.forward_features(x)),
        &npy(&fix.dir, "features_eval.npy"),
    );
}

/// Key mismatches are errors listing the keys, unless tolerated.
#[test]
fn key_mismatch_is_reported_unless_allowed() {
    let Some(fix) = load_fixture() else { return };
    let device = Device::flex();
    let path = fix.dir.join("weights.pth");

    // The checkpoint has `fc`, an encoder without head does not.
    let mut encoder = fix
        .config
        .clone()
        .with_num_classes(None)
        .init(&device)
        .unwrap();
    match weights::load(&mut encoder, &path, &LoadOptions::strict()) {
        Err(ModelsError::KeyMismatch {
            missing,
            unexpected,
            ..
        }) => {
            assert!(missing.is_empty(), "{missing:?}");
            assert_eq!(
                unexpected,
                vec!["fc.bias".to_string(), "fc.weight".to_string()]
            );
        }
        other => panic!("expected KeyMismatch, got {other:?}"),
    }
    let report = weights::load(&mut encoder, &path, &LoadOptions::ignore_head()).unwrap();
    assert_eq!(report.unexpected.len(), 2);

    // A deeper model than the checkpoint: the extra block is missing.
    let mut layers = fix.config.layers;
    layers[3] += 1;
    let mut deeper = ResNetConfig {
        layers,
        ..fix.config.clone()
    }
    .init(&device)
    .unwrap();
    let err = weights::load(&mut deeper, &path, &LoadOptions::strict()).unwrap_err();
    let msg = err.to_string();
    let extra = format!("layer4.{}.conv1.weight", layers[3] - 1);
    assert!(msg.contains(&extra), "{msg}");
    assert!(
        msg.contains(&format!("layer4.{}.bn1.running_mean", layers[3] - 1)),
        "{msg}"
    );

    // Wrong input channels: a shape error naming the file.
    let mut wrong = fix
        .config
        .clone()
        .with_in_channels(fix.config.in_channels + 1)
        .init(&device)
        .unwrap();
    let err = weights::load(&mut wrong, &path, &LoadOptions::strict()).unwrap_err();
    assert!(matches!(err, ModelsError::WeightLoad { .. }), "{err}");
    assert!(err.to_string().contains("weights.pth"), "{err}");
}
