//! The trained classifier as one file: `RUN/model.safetensors`.
//!
//! Every classification run writes the model of the epoch selected on validation: the
//! encoder with torchvision key names and layouts (as
//! [`export_encoder_safetensors`](twinscan_models::weights::export_encoder_safetensors)
//! writes it: `conv1.weight`, `layer1.0.bn1.running_mean`, `layer2.0.downsample.0.weight`, ...)
//! and the head as `head.weight` (`[outputs, features]`, PyTorch's `nn.Linear` layout) and
//! `head.bias`. The safetensors metadata ([`ModelMeta`], see [`twinscan_models::meta`]) holds
//! what applying it needs: structures in head order, the head kind, and the preprocessing
//! ([`InputSpec`]: slice size, HU window, evaluation pipeline, normalisation, channels,
//! image size), plus the dataset fingerprint and the twinscan version. burn's store writes the
//! file under a scratch name and renames it, so a reader never sees half a file.
//!
//! [`load_model`] reads it back strictly (every key present, none left over); `docs/python.md`
//! shows the PyTorch side.

use std::path::Path;

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use twinscan_augment::Pipeline;
use twinscan_data::labels::LabelRule;
use twinscan_data::prepared::Prepared;
use twinscan_models::meta::{self, InputSpec};
use twinscan_models::weights::{IGNORED_SUFFIXES, TORCHVISION_REMAP};
use twinscan_models::{ModelsError, ResNetConfig};

use crate::classifier::{Classifier, ClassifierConfig};
use crate::error::{ClassifyError, Result};
use crate::head::{HeadKind, Mode};
use crate::metrics::MetricsConfig;

/// File name of the model in a run folder.
pub const MODEL_FILE: &str = "model.safetensors";

/// [`ModelMeta::format`] of a classifier file.
pub const FORMAT: &str = "twinscan-classifier";

/// Everything stored with a classifier's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// [`FORMAT`].
    pub format: String,
    /// Layout version of this record (1).
    pub format_version: u32,
    /// Preprocessing and provenance.
    #[serde(flatten)]
    pub input: InputSpec,
    /// Structure names in head order.
    pub structures: Vec<String>,
    /// Pair logits (softmax of each pair) or single logits (sigmoid).
    pub head_kind: HeadKind,
    /// Encoder initialisation the run started from (`random`, `barlow:FILE`, ...).
    pub init: String,
    /// Frozen or finetuned encoder.
    pub mode: Mode,
    /// The epoch whose weights these are (0-based).
    pub selected_epoch: u64,
    /// Threshold, F1 definition and bootstrap the run's metrics used.
    pub metrics: MetricsConfig,
    /// How the training labels were derived from the masks (for labels of new scans).
    pub label_rule: LabelRule,
}

fn model_err(context: &str) -> impl Fn(ModelsError) -> ClassifyError + '_ {
    move |source| ClassifyError::Model {
        context: context.to_string(),
        source,
    }
}

fn escape_dots(s: &str) -> String {
    s.replace('.', r"\.")
}

/// Writes `model` with `meta` to `path` (replacing a file there) in the layout of the
/// [module documentation](self).
///
/// # Errors
/// [`ClassifyError::Model`] naming the file.
pub fn save_model(model: &Classifier, meta: &ModelMeta, path: &Path) -> Result<()> {
    let entries = meta::to_metadata(meta).map_err(model_err("model metadata"))?;
    // `valid()` folds pending BatchNorm running-statistic updates in (see
    // `export_encoder_safetensors`).
    let model = model.valid();
    let mut store = SafetensorsStore::from_file(path)
        .with_to_adapter(BurnToPyTorchAdapter)
        .overwrite(true)
        .with_key_remapping(r"^encoder\.", "")
        .with_key_remapping(r"^head\.linear\.", "head.");
    for (tv, ours) in TORCHVISION_REMAP {
        store = store.with_key_remapping(escape_dots(ours), *tv);
    }
    for (k, v) in entries {
        store = store.metadata(k, v);
    }
    model
        .save_into(&mut store)
        .map_err(|e| ClassifyError::Model {
            context: "writing the model".into(),
            source: ModelsError::WeightSave {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
        })
}

/// Reads the [`ModelMeta`] of a model file.
///
/// # Errors
/// [`ClassifyError::Model`] naming the file when it is missing, no safetensors file, or no
/// twinscan classifier (e.g. an `encoder.safetensors`).
pub fn read_model_meta(path: &Path) -> Result<ModelMeta> {
    let m: ModelMeta = meta::read_metadata(path).map_err(model_err("reading the model"))?;
    if m.format != FORMAT {
        return Err(ClassifyError::Model {
            context: "reading the model".into(),
            source: ModelsError::WeightLoad {
                path: path.to_path_buf(),
                message: format!(
                    "format {:?} is not a classifier ({FORMAT:?}); an encoder file needs a head",
                    m.format
                ),
            },
        });
    }
    Ok(m)
}

/// Loads a model file written by [`save_model`] onto `device`, strictly: every tensor of the
/// classifier must be in the file with its shape, and nothing else (torchvision's
/// `num_batches_tracked` aside). The model is in evaluation mode.
///
/// # Errors
/// [`ClassifyError::Model`] naming the file for a missing or foreign file, an unknown
/// architecture, or keys / shapes that do not match the metadata.
pub fn load_model(path: &Path, device: &Device) -> Result<(Classifier, ModelMeta)> {
    let m = read_model_meta(path)?;
    let encoder = ResNetConfig::preset(&m.input.arch)
        .map_err(model_err("model architecture"))?
        .with_in_channels(m.input.in_channels)
        .with_num_classes(None);
    let cfg = ClassifierConfig::new(encoder, m.structures.len()).with_head_kind(m.head_kind);
    let (mut model, _) = cfg.init(device)?;
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .with_key_remapping(r"^head\.(weight|bias)$", "head.linear.$1")
        .with_key_remapping(r"^(conv1|bn1|layer[0-9]+)\.", "encoder.$1.");
    for (tv, ours) in TORCHVISION_REMAP {
        store = store.with_key_remapping(escape_dots(tv), *ours);
    }
    let bad = |message: String| ClassifyError::Model {
        context: "loading the model".into(),
        source: ModelsError::WeightLoad {
            path: path.to_path_buf(),
            message,
        },
    };
    let result = model
        .load_from(&mut store)
        .map_err(|e| bad(e.to_string()))?;
    if !result.errors.is_empty() {
        let msgs: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        return Err(bad(msgs.join("; ")));
    }
    let missing: Vec<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
    let unused: Vec<String> = result
        .unused
        .iter()
        .filter(|k| !IGNORED_SUFFIXES.iter().any(|s| k.ends_with(s)))
        .cloned()
        .collect();
    if !missing.is_empty() || !unused.is_empty() {
        return Err(bad(format!(
            "keys do not match the metadata's {} with {} structures: missing {missing:?}, \
             unexpected {unused:?}",
            m.input.arch,
            m.structures.len()
        )));
    }
    Ok((model.valid(), m))
}

/// The eval pipeline recorded in `meta`.
///
/// # Errors
/// [`ClassifyError::Augment`] when the recorded TOML does not parse.
pub fn eval_pipeline(input: &InputSpec) -> Result<Pipeline> {
    Ok(Pipeline::from_toml_str(&input.eval_pipeline)?)
}

/// Writes `RUN/model.safetensors` for a finished run (called by
/// [`train_and_evaluate`](crate::train::train_and_evaluate)).
pub(crate) fn write_run_model(
    dir: &Path,
    data: &Prepared,
    cfg: &crate::train::TrainConfig,
    eval: &Pipeline,
    model: &Classifier,
    selected_epoch: u64,
) -> Result<()> {
    let meta = ModelMeta {
        format: FORMAT.into(),
        format_version: 1,
        input: twinscan_train::input_spec(data, &cfg.input, eval),
        structures: data.structures().to_vec(),
        head_kind: cfg.head_kind,
        init: cfg.init.to_string(),
        mode: cfg.mode,
        selected_epoch,
        metrics: cfg.metrics,
        label_rule: data.info().label_rule,
    };
    save_model(model, &meta, &dir.join(MODEL_FILE))
}
