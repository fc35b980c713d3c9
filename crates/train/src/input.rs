//! What a trained network's weight file records about its inputs, shared by the pretrained
//! encoder's metadata (ssl) and the classifier's (classify).

use twinscan_augment::Pipeline;
use twinscan_data::prepared::Prepared;
use twinscan_models::meta::{self, InputSpec};

/// Normalisation constants of a pipeline's first view as recorded in the metadata (identity
/// when it has none).
fn normalisation(pipeline: &Pipeline) -> (f64, f64) {
    pipeline.normalization().map_or((0.0, 1.0), |(m, s)| {
        (meta::decimal_f64(m), meta::decimal_f64(s))
    })
}

/// The [`InputSpec`] of a network trained on `data` with `eval` as its evaluation pipeline:
/// architecture and input size, the dataset's slice size, HU windows and fingerprint, the
/// normalisation constants and the evaluation pipeline itself.
pub fn input_spec(
    data: &Prepared,
    arch: &str,
    in_channels: usize,
    image_size: usize,
    eval: &Pipeline,
) -> InputSpec {
    let windows: Vec<String> = data.info().windows.iter().map(|w| w.to_string()).collect();
    let (normalize_mean, normalize_std) = normalisation(eval);
    InputSpec {
        arch: arch.to_string(),
        in_channels,
        image_size,
        slice_size: data.size(),
        hu_window: windows.first().cloned().unwrap_or_default(),
        dataset_windows: windows,
        normalize_mean,
        normalize_std,
        eval_pipeline: eval.to_toml(),
        orientation: meta::ORIENTATION.into(),
        dataset_fingerprint: Some(data.fingerprint().to_string()),
        twinscan_version: meta::TWINSCAN_VERSION.into(),
    }
}
