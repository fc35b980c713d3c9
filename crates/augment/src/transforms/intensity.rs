//! Intensity (pixel-level) transforms, albumentations' pixel family: gain/offset, colour
//! jitter on grey, normalisation, solarisation, Gaussian noise. Each is a point operation in
//! place (inherent `apply(params, img)`; no scratch).

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::{Augmentation, Scratch, bad, check_p, check_range, uniform};
use crate::error::Result;
use crate::kernels;
use crate::plane::Plane;

/// `RandomBrightnessContrast`: `out = clip(α·x + β, 0, 1)` with `α = 1 + U(contrast_limit)`,
/// `β = U(brightness_limit)` (times the max value 1, or — with `brightness_by_max = false` —
/// times mean(α·x), the 1.x rule). A pure gain and offset: no mean-centring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrightnessContrast {
    /// β range (study: ±0.3; albumentations default ±0.2).
    pub brightness_limit: (f64, f64),
    /// α − 1 range (study: ±0.3).
    pub contrast_limit: (f64, f64),
    /// Scale β by the max value (true, default) or by mean(α·x) (false, 1.x).
    pub brightness_by_max: bool,
    /// Probability (study: 0.5).
    pub p: f64,
}
impl Default for BrightnessContrast {
    fn default() -> Self {
        Self {
            brightness_limit: (-0.3, 0.3),
            contrast_limit: (-0.3, 0.3),
            brightness_by_max: true,
            p: 0.5,
        }
    }
}
/// Drawn gain and offset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GainOffset {
    /// Gain α.
    pub alpha: f64,
    /// Offset β (before the `brightness_by_max` scaling).
    pub beta: f64,
}
impl BrightnessContrast {
    /// Draws α then β.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> GainOffset {
        let alpha = 1.0 + uniform(rng, self.contrast_limit.0, self.contrast_limit.1);
        let beta = uniform(rng, self.brightness_limit.0, self.brightness_limit.1);
        GainOffset { alpha, beta }
    }
    /// In place.
    pub fn apply(&self, prm: &GainOffset, img: &mut Plane) {
        let a = prm.alpha as f32;
        let b = if self.brightness_by_max {
            prm.beta as f32
        } else {
            let m: f64 = img.data.iter().map(|&v| (v * a) as f64).sum::<f64>()
                / img.data.len().max(1) as f64;
            (prm.beta * m) as f32
        };
        for v in img.data.iter_mut() {
            *v = (*v * a + b).clamp(0.0, 1.0);
        }
    }
}
impl Augmentation for BrightnessContrast {
    const NAME: &'static str = "brightness_contrast";
    type Params = GainOffset;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("brightness_contrast", self.p)?;
        check_range(
            "brightness_contrast",
            "brightness_limit",
            self.brightness_limit,
        )?;
        check_range("brightness_contrast", "contrast_limit", self.contrast_limit)
    }
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> GainOffset {
        self.sample(rng)
    }
    fn apply(&self, prm: &GainOffset, img: &mut Plane, _: &mut Scratch) {
        self.apply(prm, img);
    }
}

/// torchvision-style `ColorJitter` on a grey plane: brightness `x·f` and contrast
/// `f·x + (1−f)·mean(x)`, each clipped to [0, 1], in a random order. Saturation and hue are
/// drawn (so the random stream matches a colour pipeline's shape) but are the identity on grey
/// and on equal-channel images (documented no-ops).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColorJitter {
    /// Brightness factor range (1.x default 0.2 → (0.8, 1.2)).
    pub brightness: (f64, f64),
    /// Contrast factor range.
    pub contrast: (f64, f64),
    /// Saturation factor range (no-op on grey).
    pub saturation: (f64, f64),
    /// Hue shift range in turns (no-op on grey).
    pub hue: (f64, f64),
    /// Probability.
    pub p: f64,
}
impl Default for ColorJitter {
    fn default() -> Self {
        Self {
            brightness: (0.8, 1.2),
            contrast: (0.8, 1.2),
            saturation: (0.8, 1.2),
            hue: (-0.2, 0.2),
            p: 0.5,
        }
    }
}
impl ColorJitter {
    /// The BYOL / Barlow Twins setting (0.4, 0.4, 0.2, 0.1) with `p`.
    pub fn byol(p: f64) -> Self {
        Self {
            brightness: (0.6, 1.4),
            contrast: (0.6, 1.4),
            saturation: (0.8, 1.2),
            hue: (-0.1, 0.1),
            p,
        }
    }
}
/// Drawn jitter factors and order (0 brightness, 1 contrast, 2 saturation, 3 hue).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JitterParams {
    /// Brightness factor.
    pub brightness: f64,
    /// Contrast factor.
    pub contrast: f64,
    /// Saturation factor (unused on grey).
    pub saturation: f64,
    /// Hue shift (unused on grey).
    pub hue: f64,
    /// Application order.
    pub order: [u8; 4],
}
impl ColorJitter {
    /// Draws the four factors and a random permutation.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> JitterParams {
        let brightness = uniform(rng, self.brightness.0, self.brightness.1);
        let contrast = uniform(rng, self.contrast.0, self.contrast.1);
        let saturation = uniform(rng, self.saturation.0, self.saturation.1);
        let hue = uniform(rng, self.hue.0, self.hue.1);
        let mut order = [0u8, 1, 2, 3];
        for i in (1..4).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        JitterParams {
            brightness,
            contrast,
            saturation,
            hue,
            order,
        }
    }
    /// In place.
    pub fn apply(&self, prm: &JitterParams, img: &mut Plane) {
        for &op in &prm.order {
            match op {
                0 => {
                    let f = prm.brightness as f32;
                    for v in img.data.iter_mut() {
                        *v = (*v * f).clamp(0.0, 1.0);
                    }
                }
                1 => {
                    let f = prm.contrast as f32;
                    let m = kernels::mean(img) as f32;
                    let off = m * (1.0 - f);
                    for v in img.data.iter_mut() {
                        *v = (*v * f + off).clamp(0.0, 1.0);
                    }
                }
                _ => {}
            }
        }
    }
}
impl Augmentation for ColorJitter {
    const NAME: &'static str = "color_jitter";
    type Params = JitterParams;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        let t = "color_jitter";
        check_p(t, self.p)?;
        for (n, r) in [
            ("brightness", self.brightness),
            ("contrast", self.contrast),
            ("saturation", self.saturation),
        ] {
            check_range(t, n, r)?;
            if r.0 < 0.0 {
                return Err(bad(
                    t,
                    "brightness/contrast/saturation",
                    "factors must be >= 0",
                ));
            }
        }
        check_range(t, "hue", self.hue)?;
        if self.hue.0 < -0.5 || self.hue.1 > 0.5 {
            return Err(bad(t, "hue", "must lie within [-0.5, 0.5]"));
        }
        Ok(())
    }
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> JitterParams {
        self.sample(rng)
    }
    fn apply(&self, prm: &JitterParams, img: &mut Plane, _: &mut Scratch) {
        self.apply(prm, img);
    }
}

/// `Normalize(mean, std, max_pixel_value)`: `(x − mean·max) · (1/(std·max))`, the reciprocal
/// taken in f32. Defaults are the study's (0.28, 0.031, 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Normalize {
    /// Mean (in units of the max value).
    pub mean: f32,
    /// Standard deviation (in units of the max value).
    pub std: f32,
    /// Max pixel value (1 for float planes).
    pub max_pixel_value: f32,
    /// Probability (default 1).
    pub p: f64,
}
impl Default for Normalize {
    fn default() -> Self {
        Self {
            mean: 0.28,
            std: 0.031,
            max_pixel_value: 1.0,
            p: 1.0,
        }
    }
}
impl Normalize {
    /// In place.
    pub fn apply(&self, _: &(), img: &mut Plane) {
        let m = self.mean * self.max_pixel_value;
        let r = 1.0f32 / (self.std * self.max_pixel_value);
        for v in img.data.iter_mut() {
            *v = (*v - m) * r;
        }
    }
}
impl Augmentation for Normalize {
    const NAME: &'static str = "normalize";
    type Params = ();
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("normalize", self.p)?;
        if !(self.std > 0.0 && self.max_pixel_value > 0.0 && self.mean.is_finite()) {
            return Err(bad(
                "normalize",
                "std/max_pixel_value",
                "must be > 0 (mean finite)",
            ));
        }
        Ok(())
    }
    fn sample<R: Rng + ?Sized>(&self, _rng: &mut R, _h: usize, _w: usize) {}
    fn apply(&self, prm: &(), img: &mut Plane, _: &mut Scratch) {
        self.apply(prm, img);
    }
}

/// `Solarize`: pixels `>= threshold` become `1 − x`; threshold ~ U(threshold range)
/// (2.x `threshold_range`, fraction of the max value; BYOL uses 0.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Solarize {
    /// Threshold range in [0, 1].
    pub threshold: (f64, f64),
    /// Probability.
    pub p: f64,
}
impl Default for Solarize {
    fn default() -> Self {
        Self {
            threshold: (0.5, 0.5),
            p: 0.5,
        }
    }
}
/// Drawn threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Threshold in [0, 1].
    pub threshold: f64,
}
impl Solarize {
    /// Draws the threshold.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Threshold {
        Threshold {
            threshold: uniform(rng, self.threshold.0, self.threshold.1),
        }
    }
    /// In place.
    pub fn apply(&self, prm: &Threshold, img: &mut Plane) {
        let t = prm.threshold as f32;
        for v in img.data.iter_mut() {
            if *v >= t {
                *v = 1.0 - *v;
            }
        }
    }
}
impl Augmentation for Solarize {
    const NAME: &'static str = "solarize";
    type Params = Threshold;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("solarize", self.p)?;
        check_range("solarize", "threshold", self.threshold)
    }
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> Threshold {
        self.sample(rng)
    }
    fn apply(&self, prm: &Threshold, img: &mut Plane, _: &mut Scratch) {
        self.apply(prm, img);
    }
}

/// `GaussianNoise` (2.x GaussNoise on float): `clip(x + μ + σ·N(0, 1), 0, 1)` per pixel, with
/// σ ~ U(std_range) and μ ~ U(mean_range) in units of the max value. The per-pixel normals
/// come from a ChaCha8 stream seeded by the drawn `seed` (distribution, not numpy's stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianNoise {
    /// σ range.
    pub std_range: (f64, f64),
    /// μ range.
    pub mean_range: (f64, f64),
    /// Probability.
    pub p: f64,
}
impl Default for GaussianNoise {
    fn default() -> Self {
        Self {
            std_range: (0.2, 0.44),
            mean_range: (0.0, 0.0),
            p: 0.5,
        }
    }
}
/// Drawn noise parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseParams {
    /// σ.
    pub std: f64,
    /// μ.
    pub mean: f64,
    /// Seed of the per-pixel stream.
    pub seed: u64,
}
impl GaussianNoise {
    /// Draws σ, μ and the pixel-stream seed.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> NoiseParams {
        NoiseParams {
            std: uniform(rng, self.std_range.0, self.std_range.1),
            mean: uniform(rng, self.mean_range.0, self.mean_range.1),
            seed: rng.random(),
        }
    }
    /// In place. Normals by Marsaglia's polar method (two per accepted pair), in f32.
    pub fn apply(&self, prm: &NoiseParams, img: &mut Plane) {
        use rand::SeedableRng;
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(prm.seed);
        let (s, m) = (prm.std as f32, prm.mean as f32);
        let unit =
            |r: &mut rand_chacha::ChaCha8Rng| (r.next_u32() >> 8) as f32 * (2.0 / 16777216.0) - 1.0;
        for pair in img.data.chunks_mut(2) {
            let (u, v, q) = loop {
                let u = unit(&mut r);
                let v = unit(&mut r);
                let q = u * u + v * v;
                if q > 0.0 && q < 1.0 {
                    break (u, v, q);
                }
            };
            let f = (-2.0 * q.ln() / q).sqrt() * s;
            let z = [u * f, v * f];
            for (p, z) in pair.iter_mut().zip(z) {
                *p = (*p + m + z).clamp(0.0, 1.0);
            }
        }
    }
}
impl Augmentation for GaussianNoise {
    const NAME: &'static str = "gaussian_noise";
    type Params = NoiseParams;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("gaussian_noise", self.p)?;
        check_range("gaussian_noise", "std_range", self.std_range)?;
        check_range("gaussian_noise", "mean_range", self.mean_range)?;
        if self.std_range.0 < 0.0 {
            return Err(bad("gaussian_noise", "std_range", "must be >= 0"));
        }
        Ok(())
    }
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> NoiseParams {
        self.sample(rng)
    }
    fn apply(&self, prm: &NoiseParams, img: &mut Plane, _: &mut Scratch) {
        self.apply(prm, img);
    }
}
