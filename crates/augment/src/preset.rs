//! Named presets: the study's pipelines, its single-augmentation ablations, and BYOL.

use crate::compose::Compose;
use crate::error::{AugmentError, Result};
use crate::pipeline::Pipeline;
use crate::transforms::*;

/// Every preset name accepted by [`Pipeline::preset`].
pub const PRESET_NAMES: &[&str] = &[
    "study_barlow",
    "study_supervised",
    "study_eval",
    "only:elastic",
    "only:crop",
    "only:blur",
    "only:cutout",
    "only:color_jitter",
    "only:sharpen",
    "byol",
];

/// Whether `name` is a preset.
pub fn is_preset(name: &str) -> bool {
    PRESET_NAMES.contains(&name)
}

fn resize() -> Transform {
    Transform::Resize(Resize::default())
}
fn normalize() -> Transform {
    Transform::Normalize(Normalize::default())
}

/// The study's augmentations with its probabilities (`specs/augment.md` §3.14), in order.
fn study_steps() -> Vec<(&'static str, Transform)> {
    vec![
        ("crop", Transform::StudyZoom(StudyZoom::default())),
        (
            "color_jitter",
            Transform::BrightnessContrast(BrightnessContrast::default()),
        ),
        ("blur", Transform::Blur(Blur::default())),
        ("cutout", Transform::Cutout(Cutout::default())),
        ("elastic", Transform::Elastic(Elastic::default())),
    ]
}

fn pipeline(name: &str, view_a: Vec<Transform>, view_b: Option<Vec<Transform>>) -> Pipeline {
    Pipeline {
        name: name.to_string(),
        channels: 1,
        view_a: Compose::new(view_a),
        view_b: view_b.map(Compose::new),
    }
}

/// Builds a preset.
///
/// * `study_barlow`: Resize(128) → StudyZoom p 0.5 → BrightnessContrast(±0.3) p 0.5 →
///   Blur(3..7) p 0.5 → Cutout(8×8×8) p 0.5 → Elastic(1.x affine, α_affine 10) p 0.5 →
///   Normalize(0.28, 0.031); both views identical in distribution.
/// * `study_supervised`: the same plus Sharpen (1.x, unclipped) p 0.2 before Normalize.
/// * `study_eval`: Resize(128) → Normalize.
/// * `only:<aug>` (elastic, crop, blur, cutout, color_jitter, sharpen): Resize → that one
///   augmentation with its study probability (0.5; sharpen 0.2) → Normalize. `color_jitter`
///   is the study's RandomBrightnessContrast (what its pipeline contains).
/// * `byol`: the Barlow Twins paper's asymmetric recipe on a grey plane at 128²:
///   RandomResizedCrop(scale 0.08–1) → HorizontalFlip 0.5 → ColorJitter(0.4, 0.4, 0.2, 0.1)
///   p 0.8 → GaussianBlur(σ 0.1–2) p 1.0 / 0.1 → Solarize p 0 / 0.2 → Normalize
///   (grayscale conversion p 0.2 is the identity on grey and omitted).
pub fn preset(name: &str) -> Result<Pipeline> {
    let p = match name {
        "study_barlow" | "study_supervised" => {
            let mut ts = vec![resize()];
            ts.extend(study_steps().into_iter().map(|(_, t)| t));
            if name == "study_supervised" {
                ts.push(Transform::Sharpen(Sharpen::default()));
            }
            ts.push(normalize());
            pipeline(name, ts, None)
        }
        "study_eval" => pipeline(name, vec![resize(), normalize()], None),
        "only:sharpen" => pipeline(
            name,
            vec![
                resize(),
                Transform::Sharpen(Sharpen::default()),
                normalize(),
            ],
            None,
        ),
        n if n.starts_with("only:") => {
            let aug = &n[5..];
            let Some((_, t)) = study_steps().into_iter().find(|(k, _)| *k == aug) else {
                return Err(AugmentError::UnknownPreset(name.to_string()));
            };
            pipeline(name, vec![resize(), t, normalize()], None)
        }
        "byol" => {
            let view = |blur_p: f64, sol_p: f64| {
                vec![
                    resize(),
                    Transform::RandomResizedCrop(RandomResizedCrop::default()),
                    Transform::HorizontalFlip(HorizontalFlip { p: 0.5 }),
                    Transform::ColorJitter(ColorJitter::byol(0.8)),
                    Transform::GaussianBlur(GaussianBlur {
                        blur_limit: (0, 0),
                        sigma_limit: (0.1, 2.0),
                        p: blur_p,
                    }),
                    Transform::Solarize(Solarize {
                        threshold: (0.5, 0.5),
                        p: sol_p,
                    }),
                    normalize(),
                ]
            };
            pipeline(name, view(1.0, 0.0), Some(view(0.1, 0.2)))
        }
        _ => return Err(AugmentError::UnknownPreset(name.to_string())),
    };
    p.validate()?;
    Ok(p)
}
