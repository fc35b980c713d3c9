//! Distribution tests with fixed seeds: the random parameters follow the documented laws
//! (bounds, means, variances, frequencies). Reference values are the analytic moments.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use twinscan_augment::transforms::*;
use twinscan_augment::{Compose, Params, Pipeline, Plane, Scratch, Transform};

const N: usize = 20_000;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
    (m, var)
}

/// |x − expected| within 4 standard errors of a mean of N draws with variance `var`.
fn assert_mean(name: &str, got: f64, expected: f64, var: f64, n: usize) {
    let se = (var / n as f64).sqrt();
    assert!(
        (got - expected).abs() <= 4.0 * se + 1e-12,
        "{name}: mean {got} vs {expected} (se {se})"
    );
}

#[test]
fn zoom_factor_is_uniform_on_1_75_to_2_5() {
    let t = StudyZoom::default();
    let mut r = rng(1);
    let s: Vec<f64> = (0..N).map(|_| t.sample(&mut r).scale).collect();
    assert!(s.iter().all(|&x| (1.75..2.5).contains(&x)));
    let (m, v) = mean_var(&s);
    assert_mean("zoom", m, 2.125, 0.75f64.powi(2) / 12.0, N);
    assert!((v - 0.75f64.powi(2) / 12.0).abs() < 0.003, "var {v}");
    assert!(s.iter().cloned().fold(f64::MAX, f64::min) < 1.76);
    assert!(s.iter().cloned().fold(0.0, f64::max) > 2.49);
}

#[test]
fn brightness_contrast_ranges() {
    let t = BrightnessContrast::default();
    let mut r = rng(2);
    let (a, b): (Vec<f64>, Vec<f64>) = (0..N)
        .map(|_| {
            let p = t.sample(&mut r);
            (p.alpha, p.beta)
        })
        .unzip();
    assert!(a.iter().all(|&x| (0.7..1.3).contains(&x)));
    assert!(b.iter().all(|&x| (-0.3..0.3).contains(&x)));
    let var = 0.6f64.powi(2) / 12.0;
    assert_mean("alpha", mean_var(&a).0, 1.0, var, N);
    assert_mean("beta", mean_var(&b).0, 0.0, var, N);
    assert!((mean_var(&a).1 - var).abs() < 0.002);
}

#[test]
fn cutout_draws_eight_clipped_8x8_holes_with_uniform_centres() {
    let t = Cutout::default();
    let mut r = rng(3);
    let mut y1s = Vec::new();
    let mut partial = 0usize;
    for _ in 0..N / 8 {
        let h = t.sample(&mut r, 128, 128);
        assert_eq!(h.holes.len(), 8);
        for &(y1, y2, x1, x2) in &h.holes {
            assert!(y1 <= y2 && y2 <= 128 && x1 <= x2 && x2 <= 128);
            assert!(y2 - y1 <= 8 && x2 - x1 <= 8);
            if y2 - y1 < 8 || x2 - x1 < 8 {
                partial += 1;
            }
            y1s.push(y1 as f64);
        }
    }
    // centre c ~ U{0..128}; y1 = max(c-4, 0); the hole is partial iff y1 + 8 > 128, i.e.
    // c >= 125 (4 of 129 values) on either axis: P = 1 - (125/129)^2 = 0.0611
    let frac = partial as f64 / y1s.len() as f64;
    let p = 1.0 - (125.0f64 / 129.0).powi(2);
    assert_mean("partial holes", frac, p, p * (1.0 - p), y1s.len());
    // E[y1] = (Σ_{c=4}^{128} (c - 4)) / 129 = (124·125/2)/129
    let e = (124.0 * 125.0 / 2.0) / 129.0;
    assert_mean(
        "y1",
        mean_var(&y1s).0,
        e,
        129.0f64.powi(2) / 12.0,
        y1s.len(),
    );
}

#[test]
fn coarse_dropout_counts_and_sizes() {
    let t = CoarseDropout::default();
    let mut r = rng(4);
    let mut twos = 0;
    for _ in 0..N / 4 {
        let h = t.sample(&mut r, 128, 128);
        assert!((1..=2).contains(&h.holes.len()));
        twos += (h.holes.len() == 2) as usize;
        for &(y1, y2, x1, x2) in &h.holes {
            // int(128 · U(0.1, 0.2)) ∈ [12, 25], always fully inside
            assert!((12..=25).contains(&(y2 - y1)) && (12..=25).contains(&(x2 - x1)));
            assert!(y2 <= 128 && x2 <= 128);
        }
    }
    assert_mean("two holes", twos as f64 / (N / 4) as f64, 0.5, 0.25, N / 4);
}

#[test]
fn blur_kernel_sizes() {
    let mut r = rng(5);
    let mut c = [0usize; 8];
    for _ in 0..N {
        c[Blur::default().sample(&mut r).k] += 1;
    }
    for k in [3, 5, 7] {
        let p = 1.0 / 3.0;
        assert_mean("box k", c[k] as f64 / N as f64, p, p * (1.0 - p), N);
    }
    // 1.x GaussianBlur: randrange(3, 8) with even sizes bumped: P(3)=.2, P(5)=.4, P(7)=.4
    let mut c = [0usize; 9];
    for _ in 0..N {
        c[GaussianBlur::default().sample(&mut r).k] += 1;
    }
    for (k, p) in [(3, 0.2), (5, 0.4), (7, 0.4)] {
        assert_mean("gauss k", c[k] as f64 / N as f64, p, p * (1.0 - p), N);
    }
    // 2.x: k = 2·int(3.5σ) + 1 for σ ~ U(0.5, 3)
    for _ in 0..1000 {
        let g = GaussianBlur::v2(1.0).sample(&mut r);
        assert!((0.5..3.0).contains(&g.sigma));
        assert_eq!(g.k, 2 * ((3.5 * g.sigma) as usize) + 1);
    }
}

#[test]
fn elastic_affine_offsets_uniform_within_alpha_affine() {
    let t = Elastic::default();
    let mut r = rng(6);
    let v: Vec<f64> = (0..N / 6)
        .flat_map(|_| {
            t.sample(&mut r)
                .affine_offsets
                .into_iter()
                .flatten()
                .map(|x| x as f64)
        })
        .collect();
    assert!(v.iter().all(|x| x.abs() <= 10.0));
    let (m, var) = mean_var(&v);
    assert_mean("offset", m, 0.0, 100.0 / 3.0, v.len());
    assert!((var - 100.0 / 3.0).abs() < 1.5, "var {var}");
}

#[test]
fn random_resized_crop_windows() {
    let t = RandomResizedCrop::default();
    let mut r = rng(7);
    let mut areas = Vec::new();
    for _ in 0..5000 {
        let c = t.sample(&mut r, 128, 128);
        assert!(c.y0 + c.ch <= 128 && c.x0 + c.cw <= 128 && c.ch > 0 && c.cw > 0);
        let ratio = c.cw as f64 / c.ch as f64;
        // rounding of the sides can push the ratio slightly outside (as in albumentations)
        assert!(ratio > 0.75 * 0.8 && ratio < 4.0 / 3.0 * 1.25, "{c:?}");
        areas.push((c.ch * c.cw) as f64 / (128.0 * 128.0));
    }
    assert!(areas.iter().all(|&a| a > 0.06 && a <= 1.0));
    // E[area] of U(0.08, 1) truncated by the w,h <= 128 rejection is below 0.54
    let m = mean_var(&areas).0;
    assert!(m > 0.35 && m < 0.54, "{m}");
}

#[test]
fn each_p_fires_at_its_rate() {
    let pipe = Pipeline::preset("study_supervised").unwrap();
    let compose = &pipe.view_a;
    let mut r = rng(8);
    let mut fired = vec![0usize; compose.transforms.len()];
    for _ in 0..N {
        for (i, p) in compose.sample(&mut r, 128, 128).iter().enumerate() {
            fired[i] += !matches!(p, Params::Skip) as usize;
        }
    }
    for (t, &c) in compose.transforms.iter().zip(&fired) {
        let p = t.p();
        assert_mean(
            t.name(),
            c as f64 / N as f64,
            p,
            (p * (1.0 - p)).max(1e-12),
            N,
        );
    }
}

#[test]
fn one_of_picks_children_by_their_p() {
    let one = Transform::OneOf(twinscan_augment::OneOf {
        transforms: vec![
            Transform::Blur(Blur {
                p: 1.0,
                ..Default::default()
            }),
            Transform::HorizontalFlip(HorizontalFlip { p: 0.5 }),
        ],
        p: 0.8,
    });
    one.validate().unwrap();
    let c = Compose::new(vec![one]);
    let mut r = rng(9);
    let (mut none, mut blur, mut flip) = (0, 0, 0);
    for _ in 0..N {
        match &c.sample(&mut r, 64, 64)[0] {
            Params::Skip => none += 1,
            Params::OneOf(0, _) => blur += 1,
            Params::OneOf(1, _) => flip += 1,
            p => panic!("{p:?}"),
        }
    }
    let n = N as f64;
    assert_mean("none", none as f64 / n, 0.2, 0.16, N);
    // weights 1 : 0.5 -> P(blur) = 0.8 · 2/3, P(flip) = 0.8 · 1/3
    let (pb, pf) = (0.8 * 2.0 / 3.0, 0.8 / 3.0);
    assert_mean("blur", blur as f64 / n, pb, pb * (1.0 - pb), N);
    assert_mean("flip", flip as f64 / n, pf, pf * (1.0 - pf), N);
}

#[test]
fn color_jitter_order_is_a_uniform_permutation() {
    let t = ColorJitter::default();
    let mut r = rng(10);
    let mut first = [0usize; 4];
    for _ in 0..N {
        let p = t.sample(&mut r);
        let mut o = p.order;
        o.sort();
        assert_eq!(o, [0, 1, 2, 3]);
        first[p.order[0] as usize] += 1;
        assert!((0.8..1.2).contains(&p.brightness) && (-0.2..0.2).contains(&p.hue));
    }
    for c in first {
        assert_mean("first op", c as f64 / N as f64, 0.25, 0.1875, N);
    }
}

#[test]
fn gaussian_noise_has_the_drawn_std() {
    let t = GaussianNoise {
        std_range: (0.05, 0.05),
        mean_range: (0.0, 0.0),
        p: 1.0,
    };
    let mut r = rng(11);
    let prm = t.sample(&mut r);
    let mut img = Plane::from_vec(128, 128, vec![0.5; 128 * 128]).unwrap();
    t.apply(&prm, &mut img);
    let d: Vec<f64> = img.data.iter().map(|&v| v as f64 - 0.5).collect();
    let (m, v) = mean_var(&d);
    assert_mean("noise mean", m, 0.0, 0.0025, d.len());
    assert!((v.sqrt() - 0.05).abs() < 0.002, "std {}", v.sqrt());
}

#[test]
fn grid_elastic_displacements_have_the_drawn_scale() {
    let t = Elastic {
        mode: ElasticMode::Grid,
        grid_magnitude: (2.0, 2.0),
        p: 1.0,
        ..Default::default()
    };
    let mut r = rng(12);
    let mut rms = Vec::new();
    for _ in 0..50 {
        let prm = t.sample(&mut r);
        let (mut dx, mut dy, mut tmp) = (Vec::new(), Vec::new(), Vec::new());
        twinscan_augment::field::grid_field(
            prm.field_seed,
            128,
            128,
            16,
            prm.magnitude,
            &mut dx,
            &mut dy,
            &mut tmp,
        );
        let ms = dx.iter().chain(&dy).map(|&v| (v * v) as f64).sum::<f64>() / (2 * dx.len()) as f64;
        rms.push(ms.sqrt());
        // smooth: neighbouring pixels differ far less than the magnitude
        let step = dx
            .chunks_exact(128)
            .flat_map(|row| row.windows(2).map(|w| (w[1] - w[0]).abs()))
            .fold(0f32, f32::max);
        assert!(step < 1.0, "step {step}");
    }
    // Catmull-Rom interpolation of N(0, 4) control values: rms between 0.75·2 and 2
    let m = mean_var(&rms).0;
    assert!(m > 1.5 && m < 2.05, "rms {m}");
}

#[test]
fn v1_field_at_128_matches_scipy_magnitude_and_nearly_rounds_away() {
    // scipy reference (albumentations 1.3.1 venv): for RandomState(s), s = 0..19, two fields
    // each of gaussian_filter(U(-1, 1) 128², σ = 50): mean of max |d| = 0.00978 px, largest
    // 0.0218 px, 4 of 40 fields exceed 1/64 px somewhere.
    let (mut dx, mut dy, mut line) = (Vec::new(), Vec::new(), Vec::new());
    let mut maxima = Vec::new();
    for seed in 0..100 {
        twinscan_augment::field::v1_field(seed, 128, 128, 1.0, 50.0, &mut dx, &mut dy, &mut line);
        for f in [&dx, &dy] {
            maxima.push(f.iter().fold(0f32, |m, v| m.max(v.abs())) as f64);
        }
    }
    let m = mean_var(&maxima).0;
    assert!((m - 0.00978).abs() < 0.2 * 0.00978, "mean max |d| {m}");
    // so under OpenCV 4.x rounding the field moves few samples, each by 1/32 px at most
    let mut s = Scratch::default();
    let img: Vec<f32> = (0..128 * 128)
        .map(|i| ((i * 37 % 101) as f32) / 100.0)
        .collect();
    let on = Elastic {
        v1_field: true,
        quantize_1_32: true,
        p: 1.0,
        ..Default::default()
    };
    let off = Elastic {
        v1_field: false,
        ..on.clone()
    };
    let (mut changed, mut worst) = (0usize, 0f32);
    for seed in 0..20 {
        let prm = on.sample(&mut rng(100 + seed));
        let mut a = Plane::from_vec(128, 128, img.clone()).unwrap();
        let mut b = a.clone();
        on.apply(&prm, &mut a, &mut s);
        off.apply(&prm, &mut b, &mut s);
        for (x, y) in a.data.iter().zip(&b.data) {
            changed += (x != y) as usize;
            worst = worst.max((x - y).abs());
        }
    }
    let frac = changed as f64 / (20.0 * 128.0 * 128.0);
    // neighbouring pixels of this image differ by <= 1, so a 1/32-px move changes <= 1/32 (+ the
    // other axis' 1/32)
    assert!(
        frac < 0.05 && worst <= 2.0 / 32.0 + 1e-6,
        "changed {frac}, worst {worst}"
    );
}
