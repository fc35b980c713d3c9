//! What a weight file needs to say about its inputs, stored in the safetensors header's
//! `__metadata__` (a string → string map), so that `encoder.safetensors` and
//! `model.safetensors` can be applied without the run folder that produced them.
//!
//! Every field is written twice: once as its own key (plain strings, readable from Python with
//! `safetensors.safe_open(path, "pt").metadata()`), and once as the whole record in JSON under
//! [`JSON_KEY`], which is what [`read_metadata`] parses. `docs/python.md` shows the Python
//! side.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelsError, Result};

/// The metadata key holding the whole record as JSON.
pub const JSON_KEY: &str = "twinscan";

/// How twinscan turns a CT scan into the network's input, as recorded with the weights.
///
/// The steps (crates `twinscan-data`, `twinscan-augment`): canonical orientation → each
/// axial slice resampled (bilinear) to `slice_size`² → HU window `hu_window` to 8 bits →
/// the evaluation pipeline (`eval_pipeline`, TOML; the study's is `Resize(image_size)` then
/// `(x / 255 − normalize_mean) / normalize_std`) → the grey plane replicated to `in_channels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Encoder architecture preset (`resnet18`, ...).
    pub arch: String,
    /// Network input channels (the grey plane replicated).
    pub in_channels: usize,
    /// Side of the network input.
    pub image_size: usize,
    /// Side of the resampled slices before the evaluation pipeline (the prepared size).
    pub slice_size: usize,
    /// The HU window fed to the network, `LEVEL:WIDTH`.
    pub hu_window: String,
    /// Every window of the prepared slices (`hu_window` is the first).
    pub dataset_windows: Vec<String>,
    /// Normalisation mean, in units of the [0, 1] pixel value.
    pub normalize_mean: f64,
    /// Normalisation standard deviation, in units of the [0, 1] pixel value.
    pub normalize_std: f64,
    /// The evaluation pipeline as TOML (`twinscan_augment::Pipeline::to_toml`).
    pub eval_pipeline: String,
    /// Slice orientation.
    pub orientation: String,
    /// Fingerprint of the training dataset (`twinscan_data::prepared::Prepared::fingerprint`:
    /// `labels.csv` and the settings of `dataset.json`), when known.
    pub dataset_fingerprint: Option<String>,
    /// twinscan version that wrote the file.
    pub twinscan_version: String,
}

/// [`InputSpec::orientation`] of every twinscan file.
pub const ORIENTATION: &str = "canonical: rows anterior to posterior, columns patient right to \
                               left, slices inferior to superior (docs/architecture.md)";

/// The version of the twinscan crates (they share one workspace version).
pub const TWINSCAN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An `f32` constant as the `f64` with the same shortest decimal form (`0.28f32` → `0.28`,
/// not `0.2800000011920929`), so metadata read as text show the value as configured.
pub fn decimal_f64(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}

/// Flattens a serialisable record into metadata entries: strings as they are, everything
/// else as JSON; the whole record also under [`JSON_KEY`].
///
/// # Errors
/// [`ModelsError::InvalidConfig`] when the record does not serialise to a JSON object.
pub fn to_metadata<T: Serialize>(record: &T) -> Result<BTreeMap<String, String>> {
    let value = serde_json::to_value(record)
        .map_err(|e| ModelsError::InvalidConfig(format!("metadata: {e}")))?;
    let serde_json::Value::Object(map) = &value else {
        return Err(ModelsError::InvalidConfig(
            "metadata must serialise to a JSON object".into(),
        ));
    };
    let mut out: BTreeMap<String, String> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect();
    out.insert(JSON_KEY.into(), value.to_string());
    Ok(out)
}

/// The `__metadata__` map of a safetensors file.
///
/// # Errors
/// [`ModelsError::WeightLoad`] naming the file when it cannot be read or is no safetensors
/// file.
pub fn read_raw_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let err = |message: String| ModelsError::WeightLoad {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| err(format!("not a safetensors file: {e}")))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// Reads the record a twinscan file stores under [`JSON_KEY`].
///
/// # Errors
/// [`ModelsError::WeightLoad`] naming the file when it cannot be read, carries no twinscan
/// metadata (e.g. a plain torchvision file), or the record does not parse as `T`.
pub fn read_metadata<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let meta = read_raw_metadata(path)?;
    let json = meta.get(JSON_KEY).ok_or_else(|| ModelsError::WeightLoad {
        path: path.to_path_buf(),
        message: format!(
            "no `{JSON_KEY}` metadata: not written by twinscan (or by an older version)"
        ),
    })?;
    serde_json::from_str(json).map_err(|e| ModelsError::WeightLoad {
        path: path.to_path_buf(),
        message: format!("metadata `{JSON_KEY}` does not parse: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct R {
        name: String,
        n: usize,
        list: Vec<String>,
        none: Option<u8>,
    }

    #[test]
    fn metadata_flattens_strings_and_keeps_the_record() {
        let r = R {
            name: "resnet18".into(),
            n: 3,
            list: vec!["Brain".into()],
            none: None,
        };
        let m = to_metadata(&r).unwrap();
        assert_eq!(m["name"], "resnet18");
        assert_eq!(m["n"], "3");
        assert_eq!(m["list"], r#"["Brain"]"#);
        assert!(!m.contains_key("none"));
        let back: R = serde_json::from_str(&m[JSON_KEY]).unwrap();
        assert_eq!(back, r);
    }
}
