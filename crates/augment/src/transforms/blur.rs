//! Convolution filters, REFLECT_101 (kernels in `kernels/filter.rs`; anchor: kornia-imgproc's
//! `filter/`): box blur, Gaussian blur (1.x and 2.x sampling rules), Sharpen. Each reads the
//! input plane and writes a new one.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::{Augmentation, Scratch, bad, check_p, check_range, uniform, via_scratch};
use crate::error::Result;
use crate::kernels;
use crate::plane::Plane;

/// `Blur(blur_limit)`: box blur, `k` uniform over the odd values in `blur_limit`
/// (default {3, 5, 7}), REFLECT_101 (cv2.blur).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Blur {
    /// Inclusive kernel size range (odd bounds ≥ 3).
    pub blur_limit: (usize, usize),
    /// Probability (study: 0.5).
    pub p: f64,
}
impl Default for Blur {
    fn default() -> Self {
        Self {
            blur_limit: (3, 7),
            p: 0.5,
        }
    }
}
/// Drawn kernel size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KernelSize {
    /// Odd kernel size.
    pub k: usize,
}
impl Blur {
    /// Uniform over odd sizes.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> KernelSize {
        let n = (self.blur_limit.1 - self.blur_limit.0) / 2;
        KernelSize {
            k: self.blur_limit.0 + 2 * rng.random_range(0..=n),
        }
    }
}
impl Augmentation for Blur {
    const NAME: &'static str = "blur";
    type Params = KernelSize;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("blur", self.p)?;
        let (a, b) = self.blur_limit;
        if a < 3 || a % 2 == 0 || b % 2 == 0 || a > b {
            return Err(bad(
                "blur",
                "blur_limit",
                format!("({a}, {b}) must be odd, 3 <= lo <= hi"),
            ));
        }
        Ok(())
    }
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> KernelSize {
        self.sample(rng)
    }
    fn apply(&self, prm: &KernelSize, img: &mut Plane, scratch: &mut Scratch) {
        via_scratch(img, scratch, |src, dst, s| {
            self.apply_from(prm, src, dst, s)
        });
    }
    fn apply_from(&self, prm: &KernelSize, src: &Plane, dst: &mut Plane, scratch: &mut Scratch) {
        kernels::box_blur(src, dst, prm.k, &mut scratch.pad, &mut scratch.acc);
    }
}

/// `GaussianBlur`. Two sampling rules:
/// * 1.x (`blur_limit = (3, 7)`, `sigma_limit = (0, 0)`): `k = randrange(lo, hi + 1)`, even `k`
///   bumped by one, σ = 0 → OpenCV's fixed small-kernel tables;
/// * 2.x (`blur_limit = (0, 0)`, `sigma_limit = (0.5, 3)`): σ uniform, `k = 2·int(3.5σ) + 1`
///   (`odd`), weights `exp(−x²/2σ²)` normalised, output clipped to [0, 1].
///
/// REFLECT_101, separable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianBlur {
    /// Kernel size range; (0, 0) derives it from σ (2.x).
    pub blur_limit: (usize, usize),
    /// σ range in pixels; (0, 0) derives σ from `k` (1.x).
    pub sigma_limit: (f64, f64),
    /// Probability.
    pub p: f64,
}
impl Default for GaussianBlur {
    fn default() -> Self {
        Self {
            blur_limit: (3, 7),
            sigma_limit: (0.0, 0.0),
            p: 0.5,
        }
    }
}
impl GaussianBlur {
    /// The 2.x defaults with `p`.
    pub fn v2(p: f64) -> Self {
        Self {
            blur_limit: (0, 0),
            sigma_limit: (0.5, 3.0),
            p,
        }
    }
}
/// Drawn Gaussian kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GaussParams {
    /// Odd kernel size.
    pub k: usize,
    /// σ in pixels (≤ 0: derived from `k` by OpenCV's rule).
    pub sigma: f64,
}
impl GaussianBlur {
    /// Draws `(k, σ)` by the rule above.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> GaussParams {
        let mut k = if self.blur_limit.1 == 0 {
            0
        } else {
            rng.random_range(self.blur_limit.0..=self.blur_limit.1)
        };
        if k != 0 && k % 2 == 0 {
            k += 1;
        }
        let sigma = uniform(rng, self.sigma_limit.0, self.sigma_limit.1);
        if k == 0 {
            k = 2 * ((3.5 * sigma) as usize) + 1;
        }
        GaussParams { k, sigma }
    }
}
impl Augmentation for GaussianBlur {
    const NAME: &'static str = "gaussian_blur";
    type Params = GaussParams;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        let t = "gaussian_blur";
        check_p(t, self.p)?;
        check_range(t, "sigma_limit", self.sigma_limit)?;
        let (a, b) = self.blur_limit;
        if a > b || (b == 0 && self.sigma_limit.0 <= 0.0) || (b > 0 && a < 1) {
            return Err(bad(
                t,
                "blur_limit/sigma_limit",
                "need 1 <= lo <= hi, or (0, 0) with sigma > 0",
            ));
        }
        Ok(())
    }
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> GaussParams {
        self.sample(rng)
    }
    fn apply(&self, prm: &GaussParams, img: &mut Plane, scratch: &mut Scratch) {
        via_scratch(img, scratch, |src, dst, s| {
            self.apply_from(prm, src, dst, s)
        });
    }
    fn apply_from(&self, prm: &GaussParams, src: &Plane, dst: &mut Plane, scratch: &mut Scratch) {
        let kern = kernels::gaussian_kernel(prm.k, prm.sigma);
        let clip = self.blur_limit.1 == 0;
        kernels::sep_filter(src, dst, &kern, clip, &mut scratch.pad, &mut scratch.acc);
    }
}

/// `Sharpen(alpha, lightness)`: 3×3 kernel `(1−a)·δ + a·[[−1,−1,−1],[−1,8+L,−1],[−1,−1,−1]]`,
/// REFLECT_101. 1.x leaves the output unclipped (`clip = false`); 2.x clips to [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sharpen {
    /// a range.
    pub alpha: (f64, f64),
    /// L range.
    pub lightness: (f64, f64),
    /// Clip to [0, 1] (2.x) or not (1.x, default).
    pub clip: bool,
    /// Probability (study supervised: 0.2).
    pub p: f64,
}
impl Default for Sharpen {
    fn default() -> Self {
        Self {
            alpha: (0.2, 0.5),
            lightness: (0.5, 1.0),
            clip: false,
            p: 0.2,
        }
    }
}
/// Drawn sharpen strength.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SharpenParams {
    /// a.
    pub alpha: f64,
    /// L.
    pub lightness: f64,
}
impl Sharpen {
    /// Draws a then L.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SharpenParams {
        SharpenParams {
            alpha: uniform(rng, self.alpha.0, self.alpha.1),
            lightness: uniform(rng, self.lightness.0, self.lightness.1),
        }
    }
}
impl Augmentation for Sharpen {
    const NAME: &'static str = "sharpen";
    type Params = SharpenParams;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("sharpen", self.p)?;
        check_range("sharpen", "alpha", self.alpha)?;
        check_range("sharpen", "lightness", self.lightness)
    }
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> SharpenParams {
        self.sample(rng)
    }
    fn apply(&self, prm: &SharpenParams, img: &mut Plane, scratch: &mut Scratch) {
        via_scratch(img, scratch, |src, dst, s| {
            self.apply_from(prm, src, dst, s)
        });
    }
    fn apply_from(&self, prm: &SharpenParams, src: &Plane, dst: &mut Plane, scratch: &mut Scratch) {
        let a = prm.alpha;
        let centre = (1.0 - a + a * (8.0 + prm.lightness)) as f32;
        let nb = (-a) as f32;
        kernels::filter3x3_sharpen(src, dst, centre, nb, self.clip, &mut scratch.pad);
    }
}
