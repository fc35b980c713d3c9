//! `augment_preview --print-spec`: the study presets resolve to the study's transforms and
//! probabilities (barlowtwins fork and resnet_multilabel_image_classification, see
//! docs/augment.md "The study's pipelines"), and an ablation leaves exactly one view plain.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let p = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(p.is_file(), "{} not built", p.display());
    p
}

fn spec(preset: &str) -> Value {
    let out = Command::new(example("augment_preview"))
        .args(["--preset", preset, "--print-spec"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{preset}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `(type, p)` of each transform of a view.
fn steps(view: &Value) -> Vec<(String, f64)> {
    view.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["type"].as_str().unwrap().to_string(),
                t["p"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn s(list: &[(&str, f64)]) -> Vec<(String, f64)> {
    list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
}

#[test]
fn study_presets_resolve_to_the_studys_code() {
    // dataset.py (classifier) = train.py at barlowtwins 35b098f (both views).
    let supervised = s(&[
        ("resize", 1.0),
        ("study_zoom", 0.3),
        ("brightness_contrast", 0.2),
        ("blur", 0.2),
        ("sharpen", 0.2),
        ("normalize", 1.0),
    ]);
    for name in ["study_supervised", "study_barlow_initial"] {
        let v = spec(name);
        assert_eq!(steps(&v["view_a"]), supervised, "{name}");
        assert_eq!(steps(&v["view_b"]), supervised, "{name}");
        let bc = &v["view_a"][2];
        assert_eq!(bc["brightness_limit"], serde_json::json!([-0.2, 0.2]));
        assert_eq!(bc["contrast_limit"], serde_json::json!([-0.2, 0.2]));
        assert_eq!(
            v["view_a"][1]["scale_limit"],
            serde_json::json!([0.75, 1.5])
        );
        assert_eq!(v["view_a"][3]["blur_limit"], serde_json::json!([3, 7]));
        let n = &v["view_a"][5];
        assert!((n["mean"].as_f64().unwrap() - 0.28).abs() < 1e-6);
        assert!((n["std"].as_f64().unwrap() - 0.031).abs() < 1e-6);
    }
    // barlowtwins b3e5a30 (the last train.py).
    let v = spec("study_barlow");
    let barlow = s(&[
        ("resize", 1.0),
        ("study_zoom", 0.5),
        ("brightness_contrast", 0.5),
        ("blur", 0.5),
        ("cutout", 0.5),
        ("elastic", 0.5),
        ("normalize", 1.0),
    ]);
    assert_eq!(steps(&v["view_a"]), barlow);
    assert_eq!(steps(&v["view_b"]), barlow);
    assert_eq!(
        v["view_a"][2]["brightness_limit"],
        serde_json::json!([-0.3, 0.3])
    );
}

#[test]
fn ablations_leave_exactly_one_view_plain() {
    let plain = s(&[("resize", 1.0), ("normalize", 1.0)]);
    for (aug, ty) in [
        ("blur", "blur"),
        ("sharpen", "sharpen"),
        ("cutout", "cutout"),
        ("elastic", "elastic"),
    ] {
        let v = spec(&format!("ablation:{aug}"));
        assert_eq!(
            steps(&v["view_a"]),
            s(&[("resize", 1.0), (ty, 1.0), ("normalize", 1.0)]),
            "{aug}"
        );
        assert_eq!(steps(&v["view_b"]), plain, "{aug}");
    }
    // 3a69a2b / 18685d2: the first view plain, the second zoomed (p 1) and blurred (p 1).
    let v = spec("ablation:crop");
    assert_eq!(steps(&v["view_a"]), plain);
    assert_eq!(
        steps(&v["view_b"]),
        s(&[
            ("resize", 1.0),
            ("study_zoom", 1.0),
            ("blur", 1.0),
            ("normalize", 1.0)
        ])
    );
    // 29c195d: RandomBrightnessContrast(p=1) on both views, no view plain.
    let v = spec("ablation:color_jitter");
    let cj = s(&[
        ("resize", 1.0),
        ("brightness_contrast", 1.0),
        ("normalize", 1.0),
    ]);
    assert_eq!(steps(&v["view_a"]), cj);
    assert_eq!(steps(&v["view_b"]), cj);
}

#[test]
fn unknown_preset_is_a_clear_error() {
    let out = Command::new(example("augment_preview"))
        .args(["--preset", "ablation:nope", "--print-spec"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ablation:nope"));
}
