//! Loading torchvision weights (`.pth`, `.safetensors`) into a [`ResNet`] and exporting its
//! encoder with torchvision key names.
//!
//! burn's store applies the PyTorch adapter (BatchNorm `weight`/`bias` ↔ `gamma`/`beta`,
//! Linear weights transposed `[out, in]` ↔ `[in, out]`); the only structural difference
//! between torchvision's keys and this crate's field names is the shortcut, listed once in
//! [`TORCHVISION_REMAP`] and used in both directions. BatchNorm running statistics load by
//! name; torchvision's `num_batches_tracked` counters have no counterpart and are ignored.
//!
//! ```no_run
//! use burn::tensor::Device;
//! use twinscan_models::{weights, ResNetConfig};
//!
//! let device = Device::flex();
//! let mut encoder = ResNetConfig::resnet18().init(&device).unwrap();
//! // A torchvision checkpoint with its ImageNet head: drop `fc`.
//! weights::load_pth(&mut encoder, "resnet18.pth", &weights::LoadOptions::ignore_head()).unwrap();
//! weights::export_encoder_safetensors(&encoder, "backbone.safetensors").unwrap();
//! ```

use std::fmt::Display;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{
    ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};

use crate::error::{ModelsError, Result};
use crate::resnet::ResNet;

/// The one table of key remaps between torchvision (`left`) and this crate (`right`), as
/// plain path fragments. Everything else maps by name (plus burn's PyTorch adapter).
pub const TORCHVISION_REMAP: &[(&str, &str)] = &[
    ("downsample.0.", "downsample.conv."),
    ("downsample.1.", "downsample.bn."),
];

/// Torchvision keys that exist in checkpoints but have no parameter here (ignored on load).
pub const IGNORED_SUFFIXES: &[&str] = &["num_batches_tracked"];

/// Which key mismatches a load tolerates. Keys are torchvision names, matched by prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Prefixes of model keys allowed to be absent from the file (they keep their values).
    pub allow_missing: Vec<String>,
    /// Prefixes of file keys allowed to have no place in the model (they are dropped).
    pub allow_unexpected: Vec<String>,
    /// Tolerate every mismatch (the report still lists them).
    pub allow_all: bool,
}

impl LoadOptions {
    /// Every model key must be in the file and every file key in the model
    /// (`num_batches_tracked` aside).
    pub fn strict() -> Self {
        Self::default()
    }

    /// Strict, except for the head `fc`: it may be in the file only (an ImageNet checkpoint
    /// loaded into an encoder), or in the model only (a backbone loaded under a fresh head).
    pub fn ignore_head() -> Self {
        Self {
            allow_missing: vec!["fc.".into()],
            allow_unexpected: vec!["fc.".into()],
            allow_all: false,
        }
    }

    /// Load whatever matches; report the rest.
    pub fn partial() -> Self {
        Self {
            allow_all: true,
            ..Self::default()
        }
    }

    fn tolerates(&self, prefixes: &[String], key: &str) -> bool {
        self.allow_all || prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }
}

/// What a load did. Keys are torchvision names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Number of tensors written into the model.
    pub applied: usize,
    /// Model keys not found in the file (tolerated by the options).
    pub missing: Vec<String>,
    /// File keys with no place in the model (tolerated by the options; ignored
    /// `num_batches_tracked` counters not included).
    pub unexpected: Vec<String>,
}

fn escape_dots(s: &str) -> String {
    s.replace('.', r"\.")
}

/// A key of this crate's models written the torchvision way: shortcut remapped back,
/// BatchNorm `gamma`/`beta` as `weight`/`bias`.
///
/// ```
/// use twinscan_models::weights::burn_to_torchvision_key;
/// assert_eq!(burn_to_torchvision_key("layer2.0.downsample.bn.gamma"), "layer2.0.downsample.1.weight");
/// assert_eq!(burn_to_torchvision_key("bn1.running_var"), "bn1.running_var");
/// ```
pub fn burn_to_torchvision_key(key: &str) -> String {
    let mut k = key.to_string();
    for (tv, ours) in TORCHVISION_REMAP {
        k = k.replace(ours, tv);
    }
    if let Some(stem) = k.strip_suffix(".gamma") {
        k = format!("{stem}.weight");
    } else if let Some(stem) = k.strip_suffix(".beta") {
        k = format!("{stem}.bias");
    }
    k
}

/// Loads a PyTorch checkpoint (`torch.save(model.state_dict())`, zip or legacy pickle; read
/// without Python) into `model`.
///
/// # Errors
/// [`ModelsError::WeightLoad`] for unreadable files, shape or dtype mismatches;
/// [`ModelsError::KeyMismatch`] listing missing/unexpected keys the options do not tolerate.
pub fn load_pth(
    model: &mut ResNet,
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<LoadReport> {
    let path = path.as_ref();
    let mut store = PytorchStore::from_file(path).allow_partial(true);
    for (tv, ours) in TORCHVISION_REMAP {
        store = store.with_key_remapping(escape_dots(tv), *ours);
    }
    apply(model, &mut store, path, options)
}

/// Loads a safetensors file written from PyTorch (`safetensors.torch.save_file(state_dict)`)
/// or by [`export_encoder_safetensors`] into `model`. Errors as for [`load_pth`].
pub fn load_safetensors(
    model: &mut ResNet,
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<LoadReport> {
    let path = path.as_ref();
    if !path.is_file() {
        // The store would report this too, but only once it reads; say it plainly.
        return Err(ModelsError::WeightLoad {
            path: path.to_path_buf(),
            message: "no such file".into(),
        });
    }
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true);
    for (tv, ours) in TORCHVISION_REMAP {
        store = store.with_key_remapping(escape_dots(tv), *ours);
    }
    apply(model, &mut store, path, options)
}

/// Loads `.pth`/`.pt`/`.bin` with [`load_pth`] and `.safetensors` with [`load_safetensors`].
pub fn load(
    model: &mut ResNet,
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<LoadReport> {
    let path = path.as_ref();
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => load_safetensors(model, path, options),
        Some("pth" | "pt" | "bin" | "ckpt") => load_pth(model, path, options),
        _ => Err(ModelsError::WeightLoad {
            path: path.to_path_buf(),
            message: "unknown weight format: expected .pth, .pt, .bin, .ckpt or .safetensors"
                .into(),
        }),
    }
}

fn apply<S>(
    model: &mut ResNet,
    store: &mut S,
    path: &Path,
    options: &LoadOptions,
) -> Result<LoadReport>
where
    S: ModuleStore,
    S::Error: Display,
{
    let err = |message: String| ModelsError::WeightLoad {
        path: path.to_path_buf(),
        message,
    };
    // Apply to a copy: on a key mismatch the caller's model stays as it was.
    let mut candidate = model.clone();
    let result: ApplyResult = candidate.load_from(store).map_err(|e| err(e.to_string()))?;
    if !result.errors.is_empty() {
        let msgs: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        return Err(err(msgs.join("; ")));
    }
    let missing: Vec<String> = result
        .missing
        .iter()
        .map(|(p, _)| burn_to_torchvision_key(p))
        .collect();
    let unexpected: Vec<String> = result
        .unused
        .iter()
        .map(|p| burn_to_torchvision_key(p))
        .filter(|k| !IGNORED_SUFFIXES.iter().any(|s| k.ends_with(s)))
        .collect();
    let bad_missing: Vec<String> = missing
        .iter()
        .filter(|k| !options.tolerates(&options.allow_missing, k))
        .cloned()
        .collect();
    let bad_unexpected: Vec<String> = unexpected
        .iter()
        .filter(|k| !options.tolerates(&options.allow_unexpected, k))
        .cloned()
        .collect();
    if !bad_missing.is_empty() || !bad_unexpected.is_empty() {
        return Err(ModelsError::KeyMismatch {
            path: path.to_path_buf(),
            missing: bad_missing,
            unexpected: bad_unexpected,
        });
    }
    *model = candidate;
    Ok(LoadReport {
        applied: result.applied.len(),
        missing,
        unexpected,
    })
}

/// Writes the encoder (everything but `fc`) to a safetensors file with torchvision key
/// names and layouts, so that PyTorch users can
/// `torchvision.models.resnet18().load_state_dict(safetensors.torch.load_file(path), strict=False)`
/// (only `fc.*` missing) — BatchNorm running statistics included, `num_batches_tracked`
/// omitted (PyTorch fills it in). The file is written under a temporary name and renamed
/// when complete; an existing file is replaced.
pub fn export_encoder_safetensors(model: &ResNet, path: impl AsRef<Path>) -> Result<()> {
    export_encoder_safetensors_with(model, path, &Default::default())
}

/// [`export_encoder_safetensors`] with `metadata` added to the file's `__metadata__` (see
/// [`crate::meta`]).
pub fn export_encoder_safetensors_with(
    model: &ResNet,
    path: impl AsRef<Path>,
    metadata: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    // `valid()` folds pending BatchNorm running-statistic updates into the saved values (burn's
    // `RunningState` keeps the newest update per thread until synced; a plain visit would
    // export statistics one training step old).
    let encoder = model.valid().without_head();
    let mut store = SafetensorsStore::from_file(path)
        .with_to_adapter(BurnToPyTorchAdapter)
        .overwrite(true);
    for (k, v) in metadata {
        store = store.metadata(k, v);
    }
    for (tv, ours) in TORCHVISION_REMAP {
        store = store.with_key_remapping(escape_dots(ours), *tv);
    }
    encoder
        .save_into(&mut store)
        .map_err(|e| ModelsError::WeightSave {
            path: PathBuf::from(path),
            message: e.to_string(),
        })
}
