//! Named presets: the study's pipelines, its single-augmentation ablations, and BYOL.

use crate::compose::Compose;
use crate::error::{AugmentError, Result};
use crate::pipeline::Pipeline;
use crate::transforms::*;

/// Every preset name accepted by [`Pipeline::preset`].
pub const PRESET_NAMES: &[&str] = &[
    "study_barlow",
    "study_barlow_initial",
    "study_supervised",
    "study_eval",
    "ablation:elastic",
    "ablation:crop",
    "ablation:blur",
    "ablation:cutout",
    "ablation:color_jitter",
    "ablation:sharpen",
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

/// The final Barlow Twins pipeline's augmentations with their probabilities (barlowtwins fork,
/// last `train.py` before its deletion, commit b3e5a30), in order.
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

/// albumentations 1.3.1 `RandomBrightnessContrast()` defaults (limits ±0.2) with `p`.
fn brightness_contrast_default(p: f64) -> Transform {
    Transform::BrightnessContrast(BrightnessContrast {
        brightness_limit: (-0.2, 0.2),
        contrast_limit: (-0.2, 0.2),
        p,
        ..BrightnessContrast::default()
    })
}

/// The classifier's training transform (resnet_multilabel_image_classification `dataset.py`),
/// which is also the Barlow pipeline of the study's first experiments (barlowtwins commit
/// 35b098f, both views): Resize → zoom p 0.3 → RandomBrightnessContrast(±0.2) p 0.2 →
/// Blur(3..7) p 0.2 → Sharpen p 0.2 → Normalize.
fn study_supervised_steps() -> Vec<Transform> {
    vec![
        resize(),
        Transform::StudyZoom(StudyZoom {
            p: 0.3,
            ..StudyZoom::default()
        }),
        brightness_contrast_default(0.2),
        Transform::Blur(Blur {
            p: 0.2,
            ..Blur::default()
        }),
        Transform::Sharpen(Sharpen {
            p: 0.2,
            ..Sharpen::default()
        }),
        normalize(),
    ]
}

/// One single-augmentation ablation as the study ran it: `(augmented view, plain view)`
/// transforms between Resize and Normalize, the augmentation at p = 1. The commits are those
/// of the barlowtwins fork that ran each one.
fn ablation_steps(aug: &str) -> Option<(Vec<Transform>, Vec<Transform>)> {
    let plain = Vec::new();
    Some(match aug {
        // bc2fd87: `A.Blur(p=1)` on `transform`, `transform_prime` plain.
        "blur" => (
            vec![Transform::Blur(Blur {
                p: 1.0,
                ..Blur::default()
            })],
            plain,
        ),
        // 9955aaf: `A.Sharpen(p=1)` on `transform`.
        "sharpen" => (
            vec![Transform::Sharpen(Sharpen {
                p: 1.0,
                ..Sharpen::default()
            })],
            plain,
        ),
        // 8cb764d: `A.Cutout(p=1)` (8 holes of 8×8, fill 0) on `transform`.
        "cutout" => (
            vec![Transform::Cutout(Cutout {
                p: 1.0,
                ..Cutout::default()
            })],
            plain,
        ),
        // 667c4d8: `A.ElasticTransform(p=1, alpha_affine=10, border_mode=BORDER_CONSTANT)`.
        "elastic" => (
            vec![Transform::Elastic(Elastic {
                p: 1.0,
                ..Elastic::default()
            })],
            plain,
        ),
        // 29c195d: `A.RandomBrightnessContrast(p=1)` on BOTH views.
        "color_jitter" => (
            vec![brightness_contrast_default(1.0)],
            vec![brightness_contrast_default(1.0)],
        ),
        // 3a69a2b / 18685d2: `transform` plain; `transform_prime` = RandomScale p 1 +
        // PadIfNeeded + CenterCrop + `A.Blur(p=1)`: the committed crop run blurs too.
        "crop" => (
            plain,
            vec![
                Transform::StudyZoom(StudyZoom {
                    p: 1.0,
                    ..StudyZoom::default()
                }),
                Transform::Blur(Blur {
                    p: 1.0,
                    ..Blur::default()
                }),
            ],
        ),
        _ => return None,
    })
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
/// All albumentations 1.3.1 semantics; `Normalize(0.28, 0.031)` last in each view.
///
/// * `study_barlow` (the final Barlow pipeline, barlowtwins b3e5a30): Resize(128) →
///   StudyZoom p 0.5 → BrightnessContrast(±0.3) p 0.5 → Blur(3..7) p 0.5 → Cutout(8×8×8)
///   p 0.5 → Elastic(1.x affine, α_affine 10) p 0.5 → Normalize; both views alike.
/// * `study_barlow_initial` (the study's first Barlow experiments, barlowtwins 35b098f) and
///   `study_supervised` (the classifier's training transform, `dataset.py` of
///   resnet_multilabel_image_classification): Resize → StudyZoom p 0.3 →
///   BrightnessContrast(±0.2) p 0.2 → Blur(3..7) p 0.2 → Sharpen p 0.2 → Normalize.
/// * `study_eval`: Resize(128) → Normalize.
/// * `ablation:<aug>` (elastic, crop, blur, cutout, color_jitter, sharpen): the study's
///   single-augmentation runs: one view Resize → the augmentation at p = 1 → Normalize, the
///   other Resize → Normalize; `color_jitter` augments both views (BrightnessContrast ±0.2,
///   p 1), `crop` is zoom p 1 plus Blur p 1 on the second view (the committed run).
/// * `only:<aug>`: twinscan's variant, both views Resize → that one augmentation with its
///   `study_barlow` probability (0.5; sharpen 0.2) → Normalize.
/// * `byol`: the Barlow Twins paper's asymmetric recipe on a grey plane at 128²:
///   RandomResizedCrop(scale 0.08–1) → HorizontalFlip 0.5 → ColorJitter(0.4, 0.4, 0.2, 0.1)
///   p 0.8 → GaussianBlur(σ 0.1–2) p 1.0 / 0.1 → Solarize p 0 / 0.2 → Normalize
///   (grayscale conversion p 0.2 is the identity on grey and omitted).
pub fn preset(name: &str) -> Result<Pipeline> {
    let p = match name {
        "study_barlow" => {
            let mut ts = vec![resize()];
            ts.extend(study_steps().into_iter().map(|(_, t)| t));
            ts.push(normalize());
            pipeline(name, ts, None)
        }
        "study_barlow_initial" | "study_supervised" => {
            pipeline(name, study_supervised_steps(), None)
        }
        n if n.starts_with("ablation:") => {
            let Some((a, b)) = ablation_steps(&n["ablation:".len()..]) else {
                return Err(AugmentError::UnknownPreset(name.to_string()));
            };
            let view = |middle: Vec<Transform>| {
                let mut ts = vec![resize()];
                ts.extend(middle);
                ts.push(normalize());
                ts
            };
            pipeline(name, view(a), Some(view(b)))
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
