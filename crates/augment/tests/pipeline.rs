//! Pipelines: presets, configs, reproducible seeding independent of threads and order, batch
//! layout, and error paths.

use twinscan_augment::transforms::*;
use twinscan_augment::{
    AugmentError, Compose, InputPlane, PRESET_NAMES, Pipeline, Plane, SampleKey, Scratch,
    Transform, Worker,
};

fn slice(seed: u32) -> Vec<u8> {
    // a deterministic head-like pattern with texture, 128²
    (0..128 * 128)
        .map(|i| {
            let (y, x) = ((i / 128) as f32 - 64.0, (i % 128) as f32 - 64.0);
            let body = (x * x / 2500.0 + y * y / 1600.0) < 1.0;
            let t = ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 27) as u8;
            if body { 90 + t } else { 3 }
        })
        .collect()
}

fn batch_with_threads(
    p: &Pipeline,
    threads: usize,
    inputs: &[InputPlane],
    idx: &[u64],
) -> (Vec<f32>, Vec<f32>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let (h, w) = p.output_shape(128, 128).unwrap();
    let n = inputs.len() * p.channels * h * w;
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    pool.install(|| p.two_views_batch(inputs, 42, 3, idx, &mut a, &mut b))
        .unwrap();
    (a, b)
}

#[test]
fn every_preset_builds_round_trips_and_runs() {
    let img = slice(1);
    let input = InputPlane::u8(128, 128, &img);
    for name in PRESET_NAMES {
        let p = Pipeline::preset(name).unwrap();
        assert_eq!(
            Pipeline::from_toml_str(&p.to_toml()).unwrap(),
            p,
            "{name} TOML"
        );
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(Pipeline::from_json_str(&json).unwrap(), p, "{name} JSON");
        assert_eq!(p.output_shape(128, 128).unwrap(), (128, 128));
        let mut wk = Worker::default();
        for index in 0..20 {
            let key = SampleKey {
                seed: 5,
                epoch: 0,
                index,
                view: index % 2,
                domain: 0,
            };
            let out = p.augment(&input, key, &mut wk);
            assert!(out.data.iter().all(|v| v.is_finite()), "{name}");
        }
    }
    assert!(matches!(
        Pipeline::preset("only:rotate"),
        Err(AugmentError::UnknownPreset(_))
    ));
}

#[test]
fn batches_do_not_depend_on_thread_count_or_order() {
    let p = Pipeline::preset("study_barlow").unwrap();
    let imgs: Vec<Vec<u8>> = (0..12).map(slice).collect();
    let inputs: Vec<InputPlane> = imgs.iter().map(|d| InputPlane::u8(128, 128, d)).collect();
    let idx: Vec<u64> = (100..112).collect();
    let one = batch_with_threads(&p, 1, &inputs, &idx);
    let two = batch_with_threads(&p, 2, &inputs, &idx);
    let four = batch_with_threads(&p, 4, &inputs, &idx);
    assert!(one == two && two == four);
    // reversed batch order: each sample's views move with it
    let rin: Vec<InputPlane> = inputs.iter().rev().copied().collect();
    let ridx: Vec<u64> = idx.iter().rev().copied().collect();
    let rev = batch_with_threads(&p, 2, &rin, &ridx);
    let per = 128 * 128;
    for i in 0..12 {
        let j = 11 - i;
        assert_eq!(one.0[i * per..(i + 1) * per], rev.0[j * per..(j + 1) * per]);
        assert_eq!(one.1[i * per..(i + 1) * per], rev.1[j * per..(j + 1) * per]);
    }
    // the two views differ for most samples, and epochs differ
    let differ = (0..12)
        .filter(|i| one.0[i * per..(i + 1) * per] != one.1[i * per..(i + 1) * per])
        .count();
    assert!(differ >= 10, "{differ}");
    let (h, w) = (128, 128);
    let mut other = vec![0.0; 12 * h * w];
    let mut other_b = other.clone();
    p.two_views_batch(&inputs, 42, 4, &idx, &mut other, &mut other_b)
        .unwrap();
    assert_ne!(other, one.0);
}

#[test]
fn batch_layout_replicates_channels_and_matches_single_augment() {
    let mut p = Pipeline::preset("study_barlow").unwrap();
    p.channels = 3;
    let imgs: Vec<Vec<u8>> = (0..3).map(slice).collect();
    let inputs: Vec<InputPlane> = imgs.iter().map(|d| InputPlane::u8(128, 128, d)).collect();
    let mut out = vec![0.0; 3 * 3 * 128 * 128];
    p.batch(&inputs, 9, 1, &[7, 8, 9], 1, &mut out).unwrap();
    let mut wk = Worker::default();
    let per = 128 * 128;
    for (i, inp) in inputs.iter().enumerate() {
        let key = SampleKey {
            seed: 9,
            epoch: 1,
            index: 7 + i as u64,
            view: 1,
            domain: 0,
        };
        let single = p.augment(inp, key, &mut wk).clone();
        for c in 0..3 {
            let o = (i * 3 + c) * per;
            assert_eq!(out[o..o + per], single.data[..]);
        }
    }
}

#[test]
fn u8_u16_and_f32_inputs_agree() {
    let img = slice(3);
    let f: Vec<f32> = img.iter().map(|&v| v as f32 / 255.0).collect();
    let u16s: Vec<u16> = img.iter().map(|&v| v as u16 * 257).collect();
    let p = Pipeline::preset("study_eval").unwrap();
    let key = SampleKey {
        seed: 0,
        epoch: 0,
        index: 0,
        view: 0,
        domain: 0,
    };
    let (mut w1, mut w2, mut w3) = (Worker::default(), Worker::default(), Worker::default());
    let a = p
        .augment(&InputPlane::u8(128, 128, &img), key, &mut w1)
        .clone();
    let b = p
        .augment(&InputPlane::f32(128, 128, &f), key, &mut w2)
        .clone();
    let c = p
        .augment(&InputPlane::u16(128, 128, &u16s), key, &mut w3)
        .clone();
    for ((x, y), z) in a.data.iter().zip(&b.data).zip(&c.data) {
        assert!((x - y).abs() < 1e-4 && (x - z).abs() < 1e-4);
    }
    // study_eval on a 128² input is Normalize only: (v/255 − 0.28)/0.031, checked by hand
    assert!((a.data[0] - (3.0 / 255.0 - 0.28) / 0.031).abs() < 1e-4);
}

#[test]
fn byol_views_are_asymmetric() {
    let p = Pipeline::preset("byol").unwrap();
    let view = |v: u64| {
        p.view(v)
            .transforms
            .iter()
            .map(|t| t.p())
            .collect::<Vec<_>>()
    };
    // GaussianBlur 1.0 / 0.1, Solarize 0.0 / 0.2
    assert_eq!(view(0)[4..6], [1.0, 0.0]);
    assert_eq!(view(1)[4..6], [0.1, 0.2]);
}

#[test]
fn configs_from_toml_and_errors() {
    let toml = r#"
name = "mine"
channels = 3
[[view_a]]
type = "resize"
height = 64
width = 64
[[view_a]]
type = "blur"
blur_limit = [5, 5]
p = 1.0
[[view_a]]
type = "one_of"
p = 1.0
transforms = [{ type = "horizontal_flip", p = 1.0 }, { type = "solarize" }]
"#;
    let p = Pipeline::from_toml_str(toml).unwrap();
    assert_eq!(p.channels, 3);
    assert_eq!(p.output_shape(128, 128).unwrap(), (64, 64));
    assert_eq!(
        p.view_a.transforms[1],
        Transform::Blur(Blur {
            blur_limit: (5, 5),
            p: 1.0
        })
    );
    // bad values name the transform and parameter
    let e = Pipeline::from_toml_str("name='x'\n[[view_a]]\ntype='blur'\np=1.5\n").unwrap_err();
    assert!(e.to_string().contains("`p` of transform `blur`"), "{e}");
    let e = Pipeline::from_toml_str("name='x'\n[[view_a]]\ntype='blur'\nblur_limit=[4,6]\n")
        .unwrap_err();
    assert!(e.to_string().contains("blur_limit"), "{e}");
    // unknown fields and types are rejected, not ignored
    let e = Pipeline::from_toml_str("name='x'\n[[view_a]]\ntype='blur'\nsigma=2\n").unwrap_err();
    assert!(
        matches!(e, AugmentError::Toml { .. }) && e.to_string().contains("sigma"),
        "{e}"
    );
    let e = Pipeline::from_json_str(r#"{"name":"x","view_a":[{"type":"rotate"}]}"#).unwrap_err();
    assert!(e.to_string().contains("rotate"), "{e}");
    // a size-changing transform that may not fire would give ragged batches
    let p = Pipeline::from_toml_str(
        "name='x'\n[[view_a]]\ntype='resize'\nheight=64\nwidth=64\np=0.5\n",
    )
    .unwrap();
    assert!(
        p.output_shape(128, 128)
            .unwrap_err()
            .to_string()
            .contains("p = 0.5")
    );
}

#[test]
fn config_files_and_bad_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(
        &path,
        serde_json::to_string(&Pipeline::preset("only:blur").unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        Pipeline::from_name_or_path(path.to_str().unwrap()).unwrap(),
        Pipeline::preset("only:blur").unwrap()
    );
    let missing = dir.path().join("nope.toml");
    let e = Pipeline::from_path(&missing).unwrap_err();
    assert!(matches!(e, AugmentError::Io { .. }) && e.to_string().contains("nope.toml"));
    let txt = dir.path().join("p.yaml");
    std::fs::write(&txt, "x").unwrap();
    assert!(matches!(
        Pipeline::from_path(&txt),
        Err(AugmentError::ConfigExtension(_))
    ));
    let broken = dir.path().join("b.toml");
    std::fs::write(&broken, "name = [").unwrap();
    let e = Pipeline::from_path(&broken).unwrap_err();
    assert!(e.to_string().contains("b.toml"), "{e}");
}

#[test]
fn batch_shape_and_input_errors() {
    let p = Pipeline::preset("study_barlow").unwrap();
    let img = slice(0);
    let good = InputPlane::u8(128, 128, &img);
    let mut out = vec![0.0; 128 * 128];
    let mut short = vec![0.0; 100];
    // wrong buffer length
    let e = p
        .two_views_batch(&[good], 0, 0, &[0], &mut out, &mut short)
        .unwrap_err();
    assert!(e.to_string().contains("out_b"), "{e}");
    // indices/inputs mismatch
    assert!(p.batch(&[good], 0, 0, &[0, 1], 0, &mut out).is_err());
    // truncated input
    let e = p
        .batch(
            &[InputPlane::u8(128, 128, &img[..1000])],
            0,
            0,
            &[0],
            0,
            &mut out,
        )
        .unwrap_err();
    assert!(e.to_string().contains("batch input 0"), "{e}");
    // NaN input
    let mut f = vec![0.5f32; 128 * 128];
    f[77] = f32::NAN;
    let e = p
        .batch(&[InputPlane::f32(128, 128, &f)], 0, 0, &[0], 0, &mut out)
        .unwrap_err();
    assert!(
        matches!(e, AugmentError::NonFinite { index: 77, .. }),
        "{e}"
    );
    // inputs of a different size are resized by the preset's Resize: 256² is fine
    let big = vec![0.5f32; 256 * 256];
    p.batch(&[InputPlane::f32(256, 256, &big)], 0, 0, &[0], 0, &mut out)
        .unwrap();
    // empty batch is fine
    p.two_views_batch(&[], 0, 0, &[], &mut [], &mut []).unwrap();
}

#[test]
fn grid_elastic_with_zero_magnitude_is_identity_and_flip_is_involution() {
    let img: Vec<f32> = (0..64 * 64).map(|i| (i % 97) as f32 / 97.0).collect();
    let t = Transform::Elastic(Elastic {
        mode: ElasticMode::Grid,
        grid_magnitude: (0.0, 0.0),
        p: 1.0,
        ..Default::default()
    });
    let c = Compose::new(vec![
        t,
        Transform::HorizontalFlip(HorizontalFlip { p: 1.0 }),
        Transform::HorizontalFlip(HorizontalFlip { p: 1.0 }),
    ]);
    let mut rng = SampleKey {
        seed: 1,
        epoch: 0,
        index: 0,
        view: 0,
        domain: 0,
    }
    .rng();
    let prm = c.sample(&mut rng, 64, 64);
    let mut plane = twinscan_augment::Plane::from_vec(64, 64, img.clone()).unwrap();
    c.apply(&prm, &mut plane, &mut Scratch::default());
    for (a, b) in plane.data.iter().zip(&img) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn apply_from_equals_apply_for_every_transform() {
    let pipe = Pipeline::preset("study_supervised").unwrap();
    let byol = Pipeline::preset("byol").unwrap();
    let mut all: Vec<Transform> = pipe.view_a.transforms.clone();
    all.extend(byol.view_b.unwrap().transforms);
    all.push(Transform::Elastic(Elastic {
        v1_field: true,
        p: 1.0,
        ..Default::default()
    }));
    all.push(Transform::Elastic(Elastic {
        mode: ElasticMode::Grid,
        p: 1.0,
        ..Default::default()
    }));
    all.push(Transform::GaussianBlur(GaussianBlur {
        p: 1.0,
        ..Default::default()
    }));
    all.push(Transform::GaussianNoise(GaussianNoise {
        p: 1.0,
        ..Default::default()
    }));
    let src = twinscan_augment::Plane::from_vec(
        96,
        96,
        (0..96 * 96).map(|i| (i % 89) as f32 / 89.0).collect(),
    )
    .unwrap();
    for (i, t) in all.iter().enumerate() {
        let mut rng = SampleKey {
            seed: 3,
            epoch: 0,
            index: i as u64,
            view: 0,
            domain: 0,
        }
        .rng();
        let prm = t.sample(&mut rng, 96, 96);
        let mut a = src.clone();
        t.apply(&prm, &mut a, &mut Scratch::default());
        let mut b = twinscan_augment::Plane::default();
        t.apply_from(&prm, &src, &mut b, &mut Scratch::default());
        assert_eq!(a, b, "{}", t.name());
    }
}

#[test]
fn reading_the_input_directly_equals_loading_it_first() {
    // 200×184 inputs (a downscale to 128² that reads only some rows), every preset and a
    // crop-first and zoom-first compose: Pipeline::augment / Compose::apply_input must give
    // exactly the pixels of load_into followed by Compose::apply
    let (h, w) = (200, 184);
    let u8s: Vec<u8> = (0..h * w)
        .map(|i| ((i * 7919 + i / w * 13) % 256) as u8)
        .collect();
    let u16s: Vec<u16> = u8s
        .iter()
        .enumerate()
        .map(|(i, &v)| v as u16 * 251 + (i % 7) as u16)
        .collect();
    let f32s: Vec<f32> = u8s.iter().map(|&v| v as f32 / 300.0 + 0.05).collect();
    let inputs = [
        InputPlane::u8(h, w, &u8s),
        InputPlane::u16(h, w, &u16s),
        InputPlane::f32(h, w, &f32s),
    ];
    let mut composes: Vec<(String, Compose)> = Vec::new();
    for name in PRESET_NAMES {
        let p = Pipeline::preset(name).unwrap();
        composes.push((format!("{name} a"), p.view(0).clone()));
        composes.push((format!("{name} b"), p.view(1).clone()));
    }
    composes.push((
        "crop first".into(),
        Compose::new(vec![
            Transform::RandomResizedCrop(RandomResizedCrop {
                height: 96,
                width: 112,
                ..Default::default()
            }),
            Transform::HorizontalFlip(HorizontalFlip { p: 0.5 }),
        ]),
    ));
    composes.push((
        "zoom first".into(),
        Compose::new(vec![Transform::StudyZoom(StudyZoom {
            p: 1.0,
            ..Default::default()
        })]),
    ));
    let mut scratch = Scratch::default();
    let (mut direct, mut loaded) = (Plane::default(), Plane::default());
    for (name, c) in &composes {
        for input in &inputs {
            for index in 0..6 {
                let key = SampleKey {
                    seed: 9,
                    epoch: 1,
                    index,
                    view: 0,
                    domain: 0,
                };
                let params = c.sample(&mut key.rng(), h, w);
                c.apply_input(&params, input, &mut direct, &mut scratch);
                input.load_into(&mut loaded);
                c.apply(&params, &mut loaded, &mut scratch);
                assert_eq!((direct.h, direct.w), (loaded.h, loaded.w), "{name}");
                assert!(
                    direct
                        .data
                        .iter()
                        .zip(&loaded.data)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{name} {:?} index {index}: direct read differs from load + apply",
                    input.pixels
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "InputPlane pixel count must be h × w")]
fn augment_of_an_unvalidated_short_input_panics_with_a_clear_message() {
    // Pipeline::augment requires validated input; a resize-first pipeline reads rows directly
    // and must still name the problem rather than fail on a slice index
    let short = vec![0u8; 200 * 200 - 1];
    let key = SampleKey {
        seed: 0,
        epoch: 0,
        index: 0,
        view: 0,
        domain: 0,
    };
    Pipeline::preset("study_eval").unwrap().augment(
        &InputPlane::u8(200, 200, &short),
        key,
        &mut Worker::default(),
    );
}

#[test]
fn stream_domains_give_different_views_and_plain_seeds_are_the_pretraining_domain() {
    let p = Pipeline::preset("study_barlow").unwrap();
    let img = slice(3);
    let inputs = vec![InputPlane::u8(128, 128, &img); 4];
    let idx = [0u64, 1, 2, 3];
    let n = 4 * 128 * 128;
    let run = |stream: twinscan_augment::Stream| {
        let mut out = vec![0.0; n];
        p.batch(&inputs, stream, 2, &idx, 0, &mut out).unwrap();
        out
    };
    let plain = {
        let mut out = vec![0.0; n];
        p.batch(&inputs, 7u64, 2, &idx, 0, &mut out).unwrap();
        out
    };
    assert_eq!(plain, run(twinscan_augment::Stream::pretrain(7)));
    let classify = run(twinscan_augment::Stream::classify(7));
    assert_ne!(
        plain, classify,
        "the classification stream replays pretraining"
    );
    // Per key: the drawn parameters differ between domains for most samples.
    let differing = (0..64)
        .filter(|&index| {
            let key = |domain| SampleKey {
                seed: 7,
                epoch: 0,
                index,
                view: 0,
                domain,
            };
            p.sample_params(key(0), 128, 128) != p.sample_params(key(1), 128, 128)
        })
        .count();
    assert!(differing > 48, "only {differing}/64 keys differ");
}

#[test]
fn ablation_presets_have_one_plain_view_and_per_view_configs_round_trip() {
    let img = slice(5);
    let input = InputPlane::u8(128, 128, &img);
    for aug in ["blur", "sharpen", "cutout", "elastic", "crop"] {
        let p = Pipeline::preset(&format!("ablation:{aug}")).unwrap();
        let plain_view = if aug == "crop" { 0 } else { 1 };
        let plain = Pipeline::preset("study_eval").unwrap();
        let mut wk = Worker::default();
        let mut wk2 = Worker::default();
        for index in 0..8 {
            let key = SampleKey {
                seed: 1,
                epoch: 0,
                index,
                view: plain_view,
                domain: 0,
            };
            let got = p.augment(&input, key, &mut wk).data.clone();
            let want = plain.augment(&input, key, &mut wk2).data.clone();
            assert_eq!(got, want, "{aug}: view {plain_view} is not plain");
            let other = SampleKey {
                view: 1 - plain_view,
                ..key
            };
            let aug_view = p.augment(&input, other, &mut wk).data.clone();
            assert_ne!(aug_view, want, "{aug}: the augmented view is plain");
        }
        // Per-view pipelines are expressible in the TOML/JSON config format.
        assert_eq!(Pipeline::from_toml_str(&p.to_toml()).unwrap(), p);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(Pipeline::from_json_str(&json).unwrap(), p);
    }
}

#[test]
fn with_normalize_replaces_every_normalize() {
    let p = Pipeline::preset("ablation:blur")
        .unwrap()
        .with_normalize(0.5, 0.25);
    for v in 0..2 {
        let n: Vec<_> = p
            .view(v)
            .transforms
            .iter()
            .filter_map(|t| match t {
                Transform::Normalize(n) => Some((n.mean, n.std)),
                _ => None,
            })
            .collect();
        assert_eq!(n, vec![(0.5, 0.25)]);
    }
}
