//! Criterion benchmarks of twinscan-augment against the albumentations anchors
//! (`../shared/tools/anchor_augment.py` = 2.0.8, `anchor_augment_v1.py` = 1.3.1; the side-by-side
//! table is in docs/benchmarks.md).
//!
//! * `augment_128/<name>`, `augment_512/<name>`: one transform (p = 1) or one preset (its own
//!   probabilities) on a single grey plane, one thread; each iteration draws fresh parameters
//!   and applies them from the input into an output plane (`Transform::apply_from`: resampling
//!   and filters read the input directly, point operations copy it first), as an
//!   albumentations call returns a new array. Presets go through `Pipeline::augment` (whose
//!   first resize or crop reads the input's rows directly; other first transforms load the
//!   input into the working plane first).
//!   Throughput in images/s.
//! * `augment_batch/<preset>`: 256 samples × two views (512 images) of 128² u8 slices into two
//!   N×1×128×128 buffers with the global rayon pool (all cores); `<preset>_1thread` the same in
//!   a one-thread pool, so the 1 → 2 thread scaling can be read.
//!
//! Run: `cargo bench --no-default-features --bench augment` (CARGO_TARGET_DIR=target/light).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use twinscan_augment::transforms::*;
use twinscan_augment::{InputPlane, Pipeline, Plane, SampleKey, Scratch, Transform, Worker};

/// Deterministic CT-like slice in [0, 1]: dark background, elliptical body with texture, a few
/// dense spots.
fn ct_like(n: usize) -> Plane {
    let mut data = vec![0.0f32; n * n];
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let s = n as f32;
    for y in 0..n {
        for x in 0..n {
            let (u, v) = (x as f32 / s - 0.5, y as f32 / s - 0.52);
            let body = (u / 0.42).powi(2) + (v / 0.36).powi(2) < 1.0;
            let tex = 0.5 + 0.5 * ((x as f32 / s * 19.0).sin() * (y as f32 / s * 13.0).cos());
            let mut val = if body { 0.25 + 0.2 * tex } else { 0.0 };
            let (du, dv) = (u + 0.1, v - 0.05);
            if du * du + dv * dv < 0.003 {
                val = 0.9;
            }
            data[y * n + x] = (val + 0.01 * (rnd() - 0.5)).clamp(0.0, 1.0);
        }
    }
    Plane::from_vec(n, n, data).unwrap()
}

/// The single transforms, all with p = 1, named as the anchor rows.
fn transforms(n: usize) -> Vec<(&'static str, Transform)> {
    vec![
        ("resize_128", Transform::Resize(Resize::default())),
        (
            "crop_study",
            Transform::StudyZoom(StudyZoom {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "random_resized_crop",
            Transform::RandomResizedCrop(RandomResizedCrop {
                height: n,
                width: n,
                ..Default::default()
            }),
        ),
        (
            "brightness_contrast",
            Transform::BrightnessContrast(BrightnessContrast {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "color_jitter",
            Transform::ColorJitter(ColorJitter {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "blur",
            Transform::Blur(Blur {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "gaussian_blur_v1",
            Transform::GaussianBlur(GaussianBlur {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "gaussian_blur_v2",
            Transform::GaussianBlur(GaussianBlur::v2(1.0)),
        ),
        (
            "cutout",
            Transform::Cutout(Cutout {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "coarse_dropout",
            Transform::CoarseDropout(CoarseDropout {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "elastic",
            Transform::Elastic(Elastic {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "elastic_v1_field",
            Transform::Elastic(Elastic {
                p: 1.0,
                v1_field: true,
                quantize_1_32: true,
                ..Default::default()
            }),
        ),
        (
            "elastic_grid",
            Transform::Elastic(Elastic {
                p: 1.0,
                mode: ElasticMode::Grid,
                ..Default::default()
            }),
        ),
        (
            "sharpen",
            Transform::Sharpen(Sharpen {
                p: 1.0,
                ..Default::default()
            }),
        ),
        ("normalize", Transform::Normalize(Normalize::default())),
        (
            "horizontal_flip",
            Transform::HorizontalFlip(HorizontalFlip { p: 1.0 }),
        ),
        (
            "solarize",
            Transform::Solarize(Solarize {
                p: 1.0,
                ..Default::default()
            }),
        ),
        (
            "gaussian_noise",
            Transform::GaussianNoise(GaussianNoise {
                p: 1.0,
                ..Default::default()
            }),
        ),
    ]
}

const PRESETS: &[&str] = &["study_barlow", "study_supervised", "study_eval", "byol"];

fn single(c: &mut Criterion, n: usize) {
    let input = ct_like(n);
    let mut g = c.benchmark_group(format!("augment_{n}"));
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_millis(1500));
    g.sample_size(20);
    for (name, t) in transforms(n) {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut img = Plane::default();
        let mut s = Scratch::default();
        g.bench_function(name, |b| {
            b.iter(|| {
                let prm = t.sample(&mut rng, n, n);
                t.apply_from(&prm, &input, &mut img, &mut s);
                black_box(img.data[0]);
            })
        });
    }
    for &name in PRESETS {
        let p = Pipeline::preset(name).unwrap();
        let mut wk = Worker::default();
        let mut index = 0u64;
        let inp = InputPlane::from_plane(&input);
        g.bench_function(name, |b| {
            b.iter(|| {
                index += 1;
                let key = SampleKey {
                    seed: 1,
                    epoch: 0,
                    index,
                    view: index & 1,
                    domain: 0,
                };
                black_box(p.augment(&inp, key, &mut wk).data[0]);
            })
        });
    }
    g.finish();
}

fn bench_128(c: &mut Criterion) {
    single(c, 128);
}

fn bench_512(c: &mut Criterion) {
    single(c, 512);
}

fn bench_batch(c: &mut Criterion) {
    const N: usize = 256;
    let base = ct_like(128);
    let slices: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            base.data
                .iter()
                .map(|&v| ((v * 255.0) as usize + i % 7).min(255) as u8)
                .collect()
        })
        .collect();
    let inputs: Vec<InputPlane> = slices.iter().map(|d| InputPlane::u8(128, 128, d)).collect();
    let indices: Vec<u64> = (0..N as u64).collect();
    let mut a = vec![0.0f32; N * 128 * 128];
    let mut bb = a.clone();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("augment_batch");
    g.throughput(Throughput::Elements(2 * N as u64));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    g.sample_size(10);
    for &name in &["study_barlow", "study_supervised", "byol"] {
        let p = Pipeline::preset(name).unwrap();
        let mut epoch = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                epoch += 1;
                p.two_views_batch(&inputs, 1, epoch, &indices, &mut a, &mut bb)
                    .unwrap();
                black_box(a[0]);
            })
        });
        g.bench_function(format!("{name}_1thread"), |b| {
            b.iter(|| {
                epoch += 1;
                one.install(|| p.two_views_batch(&inputs, 1, epoch, &indices, &mut a, &mut bb))
                    .unwrap();
                black_box(a[0]);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_128, bench_512, bench_batch);
criterion_main!(benches);
