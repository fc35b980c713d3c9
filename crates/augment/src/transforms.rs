//! Every transform: a serde parameter struct with a probability `p`, `sample(rng) -> Params`
//! (all randomness) and a deterministic `apply(&Params, ...)`.
//!
//! Semantics follow albumentations 1.x (what the study ran) unless the item says otherwise;
//! see `docs/augment.md` and `specs/augment.md` §3 for the references.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::error::{AugmentError, Result};
use crate::kernels::{self, ResampleScratch, Tap};
use crate::plane::{InputPlane, Plane, SourceRows};

/// Reusable scratch buffers for one worker thread (no allocation per image once warm).
#[derive(Debug, Default)]
pub struct Scratch {
    /// Second plane; geometric transforms write here and swap.
    pub plane: Plane,
    pub(crate) resample: ResampleScratch,
    pub(crate) pad: Vec<f32>,
    pub(crate) acc: Vec<f32>,
    pub(crate) xt: Vec<Tap>,
    pub(crate) yt: Vec<Tap>,
    pub(crate) dx: Vec<f32>,
    pub(crate) dy: Vec<f32>,
    pub(crate) line: Vec<f32>,
    pub(crate) deltas: Vec<i64>,
    pub(crate) tmp: Plane,
}

/// U(lo, hi) in f64 (lo == hi gives lo without consuming randomness differently).
#[inline]
pub(crate) fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    let u: f64 = rng.random();
    lo + (hi - lo) * u
}

/// A standard normal draw (Box–Muller on two uniforms).
#[inline]
pub(crate) fn std_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn bad(transform: &'static str, param: &'static str, reason: impl Into<String>) -> AugmentError {
    AugmentError::InvalidParam {
        transform,
        param,
        reason: reason.into(),
    }
}

fn check_p(t: &'static str, p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(bad(t, "p", format!("{p} is not in [0, 1]")));
    }
    Ok(())
}

fn check_range(t: &'static str, name: &'static str, r: (f64, f64)) -> Result<()> {
    if !(r.0.is_finite() && r.1.is_finite()) || r.0 > r.1 {
        return Err(bad(
            t,
            name,
            format!("({}, {}) is not a finite range lo <= hi", r.0, r.1),
        ));
    }
    Ok(())
}

// ----------------------------------------------------------------------------------------
// Resize
// ----------------------------------------------------------------------------------------

/// `Resize(height, width)`: cv2.resize INTER_LINEAR (half-pixel centres, two taps, no
/// antialiasing; from 512 to 128 each pixel is `0.5·(p[4i+1] + p[4i+2])` per axis).
/// Identity (a copy) when the input already has the target size, as OpenCV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resize {
    /// Output rows.
    pub height: usize,
    /// Output columns.
    pub width: usize,
    /// Probability (default 1).
    pub p: f64,
}
impl Default for Resize {
    fn default() -> Self {
        Self {
            height: 128,
            width: 128,
            p: 1.0,
        }
    }
}
impl Resize {
    /// No random parameters.
    pub fn sample<R: Rng + ?Sized>(&self, _rng: &mut R) {}
    /// Resizes `src` (a [`Plane`] or a borrowed [`crate::InputPlane`]) into `dst`.
    pub fn apply_from(
        &self,
        _params: &(),
        src: &impl SourceRows,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        let (h, w) = (src.height(), src.width());
        if (h, w) == (self.height, self.width) {
            src.copy_into(dst);
            return;
        }
        kernels::linear_taps(w, self.width, 0, self.width, 0, &mut scratch.xt);
        kernels::linear_taps(h, self.height, 0, self.height, 0, &mut scratch.yt);
        kernels::resample_with(src, dst, &scratch.xt, &scratch.yt, &mut scratch.resample);
    }
    /// In place: [`Self::apply_from`] into the scratch plane, then swapped in.
    pub fn apply(&self, prm: &(), img: &mut Plane, scratch: &mut Scratch) {
        if (img.h, img.w) == (self.height, self.width) {
            return;
        }
        let mut out = std::mem::take(&mut scratch.plane);
        self.apply_from(prm, img, &mut out, scratch);
        scratch.plane = std::mem::replace(img, out);
    }
    fn validate(&self) -> Result<()> {
        check_p("resize", self.p)?;
        if self.height == 0 || self.width == 0 {
            return Err(bad("resize", "height/width", "must be > 0"));
        }
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------
// StudyZoom = RandomScale + PadIfNeeded + CenterCrop, fused
// ----------------------------------------------------------------------------------------

/// The study's "crop": `RandomScale(scale_limit)` (factor `s ~ U(1 + lo, 1 + hi)`, i.e.
/// U(1.75, 2.5) for the study's (0.75, 1.5)), `PadIfNeeded(height, width)` (1.x default
/// REFLECT_101) and `CenterCrop(height, width)`, computed as one resample of the output window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StudyZoom {
    /// albumentations `scale_limit`; 1 is added to both ends.
    pub scale_limit: (f64, f64),
    /// Crop rows (PadIfNeeded and CenterCrop).
    pub height: usize,
    /// Crop columns.
    pub width: usize,
    /// Probability (study: 0.5).
    pub p: f64,
}
impl Default for StudyZoom {
    fn default() -> Self {
        Self {
            scale_limit: (0.75, 1.5),
            height: 128,
            width: 128,
            p: 0.5,
        }
    }
}
/// Drawn zoom factor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZoomParams {
    /// The RandomScale factor `s` (resized size is `int(H·s) × int(W·s)`).
    pub scale: f64,
}
impl StudyZoom {
    /// Draws `s ~ U(1 + lo, 1 + hi)`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> ZoomParams {
        ZoomParams {
            scale: uniform(rng, 1.0 + self.scale_limit.0, 1.0 + self.scale_limit.1),
        }
    }
    /// Output is `height × width`; `src` is a [`Plane`] or a borrowed [`crate::InputPlane`].
    pub fn apply_from(
        &self,
        prm: &ZoomParams,
        src: &impl SourceRows,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        let (h, w) = (src.height(), src.width());
        let nh = ((h as f64 * prm.scale) as usize).max(1);
        let nw = ((w as f64 * prm.scale) as usize).max(1);
        // PadIfNeeded (center) then CenterCrop, expressed as the first resized index
        let first = |n: usize, want: usize| -> isize {
            let pad_lo = if n < want { (want - n) / 2 } else { 0 };
            let padded = n.max(want);
            ((padded - want) / 2) as isize - pad_lo as isize
        };
        kernels::linear_taps(w, nw, first(nw, self.width), self.width, 0, &mut scratch.xt);
        kernels::linear_taps(
            h,
            nh,
            first(nh, self.height),
            self.height,
            0,
            &mut scratch.yt,
        );
        kernels::resample_with(src, dst, &scratch.xt, &scratch.yt, &mut scratch.resample);
    }
    /// In place: [`Self::apply_from`] into the scratch plane, then swapped in.
    pub fn apply(&self, prm: &ZoomParams, img: &mut Plane, scratch: &mut Scratch) {
        let mut out = std::mem::take(&mut scratch.plane);
        self.apply_from(prm, img, &mut out, scratch);
        scratch.plane = std::mem::replace(img, out);
    }
    fn validate(&self) -> Result<()> {
        check_p("study_zoom", self.p)?;
        check_range("study_zoom", "scale_limit", self.scale_limit)?;
        if 1.0 + self.scale_limit.0 <= 0.0 {
            return Err(bad("study_zoom", "scale_limit", "1 + lo must be > 0"));
        }
        if self.height == 0 || self.width == 0 {
            return Err(bad("study_zoom", "height/width", "must be > 0"));
        }
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------
// RandomResizedCrop
// ----------------------------------------------------------------------------------------

/// `RandomResizedCrop(size, scale, ratio)` (SimCLR/BYOL crop, 2.x sampling rule, INTER_LINEAR).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomResizedCrop {
    /// Output rows.
    pub height: usize,
    /// Output columns.
    pub width: usize,
    /// Crop area as a fraction of the input area.
    pub scale: (f64, f64),
    /// Crop aspect ratio w/h range (sampled log-uniformly).
    pub ratio: (f64, f64),
    /// Probability (default 1).
    pub p: f64,
}
impl Default for RandomResizedCrop {
    fn default() -> Self {
        Self {
            height: 128,
            width: 128,
            scale: (0.08, 1.0),
            ratio: (0.75, 4.0 / 3.0),
            p: 1.0,
        }
    }
}
/// Drawn crop window (input pixel units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropParams {
    /// Top row.
    pub y0: usize,
    /// Left column.
    pub x0: usize,
    /// Rows.
    pub ch: usize,
    /// Columns.
    pub cw: usize,
}
impl RandomResizedCrop {
    /// Draws the window for an `h × w` input (up to 10 tries, then the centred fallback).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> CropParams {
        let area = (h * w) as f64;
        let (lr0, lr1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let target = uniform(rng, self.scale.0 * area, self.scale.1 * area);
            let r = uniform(rng, lr0, lr1).exp();
            let cw = (target * r).sqrt().round_ties_even();
            let ch = (target / r).sqrt().round_ties_even();
            if cw > 0.0 && ch > 0.0 && cw <= w as f64 && ch <= h as f64 {
                let (cw, ch) = (cw as usize, ch as usize);
                let u1: f64 = rng.random();
                let u2: f64 = rng.random();
                let y0 = ((h - ch + 1) as f64 * u1) as usize;
                let x0 = ((w - cw + 1) as f64 * u2) as usize;
                return CropParams {
                    y0: y0.min(h - ch),
                    x0: x0.min(w - cw),
                    ch,
                    cw,
                };
            }
        }
        let in_ratio = w as f64 / h as f64;
        let (cw, ch) = if in_ratio < self.ratio.0 {
            (
                w,
                ((w as f64 / self.ratio.0).round_ties_even() as usize).clamp(1, h),
            )
        } else if in_ratio > self.ratio.1 {
            (
                ((h as f64 * self.ratio.1).round_ties_even() as usize).clamp(1, w),
                h,
            )
        } else {
            (w, h)
        };
        CropParams {
            y0: (h - ch) / 2,
            x0: (w - cw) / 2,
            ch,
            cw,
        }
    }
    /// Crops the window of `src` (a [`Plane`] or a borrowed [`crate::InputPlane`]) and
    /// resizes it to `height × width`.
    pub fn apply_from(
        &self,
        prm: &CropParams,
        src: &impl SourceRows,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        let (h, w) = (src.height(), src.width());
        let ch = prm.ch.min(h - prm.y0.min(h - 1)).max(1);
        let cw = prm.cw.min(w - prm.x0.min(w - 1)).max(1);
        kernels::linear_taps(cw, self.width, 0, self.width, prm.x0, &mut scratch.xt);
        kernels::linear_taps(ch, self.height, 0, self.height, prm.y0, &mut scratch.yt);
        kernels::resample_with(src, dst, &scratch.xt, &scratch.yt, &mut scratch.resample);
    }
    /// In place: [`Self::apply_from`] into the scratch plane, then swapped in.
    pub fn apply(&self, prm: &CropParams, img: &mut Plane, scratch: &mut Scratch) {
        let mut out = std::mem::take(&mut scratch.plane);
        self.apply_from(prm, img, &mut out, scratch);
        scratch.plane = std::mem::replace(img, out);
    }
    fn validate(&self) -> Result<()> {
        let t = "random_resized_crop";
        check_p(t, self.p)?;
        check_range(t, "scale", self.scale)?;
        check_range(t, "ratio", self.ratio)?;
        if self.scale.0 <= 0.0 || self.ratio.0 <= 0.0 {
            return Err(bad(t, "scale/ratio", "lower bounds must be > 0"));
        }
        if self.height == 0 || self.width == 0 {
            return Err(bad(t, "height/width", "must be > 0"));
        }
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------
// Brightness / contrast, colour jitter
// ----------------------------------------------------------------------------------------

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
    fn validate(&self) -> Result<()> {
        check_p("brightness_contrast", self.p)?;
        check_range(
            "brightness_contrast",
            "brightness_limit",
            self.brightness_limit,
        )?;
        check_range("brightness_contrast", "contrast_limit", self.contrast_limit)
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
}

// ----------------------------------------------------------------------------------------
// Blurs
// ----------------------------------------------------------------------------------------

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
    /// Box blur.
    pub fn apply_from(
        &self,
        prm: &KernelSize,
        src: &Plane,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        kernels::box_blur(src, dst, prm.k, &mut scratch.pad, &mut scratch.acc);
    }
    /// In place: [`Self::apply_from`] into the scratch plane, then swapped in.
    pub fn apply(&self, prm: &KernelSize, img: &mut Plane, scratch: &mut Scratch) {
        let mut out = std::mem::take(&mut scratch.plane);
        self.apply_from(prm, img, &mut out, scratch);
        scratch.plane = std::mem::replace(img, out);
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
    /// Separable Gaussian.
    pub fn apply_from(
        &self,
        prm: &GaussParams,
        src: &Plane,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        let kern = kernels::gaussian_kernel(prm.k, prm.sigma);
        let clip = self.blur_limit.1 == 0;
        kernels::sep_filter(src, dst, &kern, clip, &mut scratch.pad, &mut scratch.acc);
    }
    /// In place: [`Self::apply_from`] into the scratch plane, then swapped in.
    pub fn apply(&self, prm: &GaussParams, img: &mut Plane, scratch: &mut Scratch) {
        let mut out = std::mem::take(&mut scratch.plane);
        self.apply_from(prm, img, &mut out, scratch);
        scratch.plane = std::mem::replace(img, out);
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
}

// ----------------------------------------------------------------------------------------
// Dropout
// ----------------------------------------------------------------------------------------

/// Drawn rectangular holes, each `[y1, y2) × [x1, x2)`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Holes {
    /// `(y1, y2, x1, x2)` per hole.
    pub holes: Vec<(usize, usize, usize, usize)>,
}
fn fill_holes(prm: &Holes, img: &mut Plane, fill: f32) {
    for &(y1, y2, x1, x2) in &prm.holes {
        kernels::fill_rect(img, y1, y2, x1, x2, fill);
    }
}

/// 1.x `Cutout(num_holes=8, max_h_size=8, max_w_size=8, fill_value=0)`: centres uniform over
/// the whole image (inclusive of H and W), holes clipped at the edges, overlaps allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cutout {
    /// Number of holes.
    pub num_holes: usize,
    /// Hole rows.
    pub max_h_size: usize,
    /// Hole columns.
    pub max_w_size: usize,
    /// Fill value.
    pub fill_value: f32,
    /// Probability (study: 0.5).
    pub p: f64,
}
impl Default for Cutout {
    fn default() -> Self {
        Self {
            num_holes: 8,
            max_h_size: 8,
            max_w_size: 8,
            fill_value: 0.0,
            p: 0.5,
        }
    }
}
impl Cutout {
    /// Draws the holes for an `h × w` plane.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Holes {
        let holes = (0..self.num_holes)
            .map(|_| {
                let y = rng.random_range(0..=h);
                let x = rng.random_range(0..=w);
                let y1 = y.saturating_sub(self.max_h_size / 2).min(h);
                let y2 = (y1 + self.max_h_size).min(h);
                let x1 = x.saturating_sub(self.max_w_size / 2).min(w);
                let x2 = (x1 + self.max_w_size).min(w);
                (y1, y2, x1, x2)
            })
            .collect();
        Holes { holes }
    }
    /// In place.
    pub fn apply(&self, prm: &Holes, img: &mut Plane) {
        fill_holes(prm, img, self.fill_value);
    }
    fn validate(&self) -> Result<()> {
        check_p("cutout", self.p)
    }
}

/// 2.x `CoarseDropout(num_holes_range=(1, 2), hole_height_range=(0.1, 0.2),
/// hole_width_range=(0.1, 0.2), fill=0)`: sizes in pixels when the upper bound is ≥ 1, else as
/// fractions of the side; holes always fully inside the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoarseDropout {
    /// Inclusive hole count range.
    pub num_holes_range: (usize, usize),
    /// Hole height range (pixels if hi ≥ 1, else fraction of H).
    pub hole_height_range: (f64, f64),
    /// Hole width range (pixels if hi ≥ 1, else fraction of W).
    pub hole_width_range: (f64, f64),
    /// Fill value.
    pub fill: f32,
    /// Probability.
    pub p: f64,
}
impl Default for CoarseDropout {
    fn default() -> Self {
        Self {
            num_holes_range: (1, 2),
            hole_height_range: (0.1, 0.2),
            hole_width_range: (0.1, 0.2),
            fill: 0.0,
            p: 0.5,
        }
    }
}
impl CoarseDropout {
    fn side<R: Rng + ?Sized>(rng: &mut R, r: (f64, f64), n: usize) -> usize {
        let s = if r.1 >= 1.0 {
            rng.random_range(r.0 as usize..=r.1 as usize)
        } else {
            (n as f64 * uniform(rng, r.0, r.1)) as usize
        };
        s.clamp(1, n)
    }
    /// Draws the holes for an `h × w` plane.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Holes {
        let n = rng.random_range(self.num_holes_range.0..=self.num_holes_range.1);
        let holes = (0..n)
            .map(|_| {
                let hh = Self::side(rng, self.hole_height_range, h);
                let hw = Self::side(rng, self.hole_width_range, w);
                let y1 = rng.random_range(0..=h - hh);
                let x1 = rng.random_range(0..=w - hw);
                (y1, y1 + hh, x1, x1 + hw)
            })
            .collect();
        Holes { holes }
    }
    /// In place.
    pub fn apply(&self, prm: &Holes, img: &mut Plane) {
        fill_holes(prm, img, self.fill);
    }
    fn validate(&self) -> Result<()> {
        let t = "coarse_dropout";
        check_p(t, self.p)?;
        check_range(t, "hole_height_range", self.hole_height_range)?;
        check_range(t, "hole_width_range", self.hole_width_range)?;
        if self.num_holes_range.0 > self.num_holes_range.1 {
            return Err(bad(t, "num_holes_range", "lo > hi"));
        }
        if self.hole_height_range.0 < 0.0 || self.hole_width_range.0 < 0.0 {
            return Err(bad(t, "hole sizes", "must be >= 0"));
        }
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------
// Elastic
// ----------------------------------------------------------------------------------------

/// Which elastic algorithm [`Elastic`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ElasticMode {
    /// albumentations 1.x: random 3-point affine (`alpha_affine`), constant-0 border, then
    /// (only if `v1_field`) the smoothed per-pixel field `alpha·G_sigma(U(−1, 1))`.
    #[default]
    V1,
    /// A real elastic deformation (as MONAI's Rand2DElastic): N(0, 1)·m offsets on a control
    /// grid of `grid_spacing` px, `m ~ U(grid_magnitude)` px, upsampled with a cubic (Catmull-Rom,
    /// a = −0.5) interpolant, bilinear remap with constant-0 border.
    Grid,
}

/// `ElasticTransform`. Default: the study's 1.x call `ElasticTransform(alpha_affine=10,
/// border_mode=CONSTANT)` with the σ = 50 field off (under OpenCV 4.x's 1/32-px rounding that
/// field, ≤ 0.013 px, is an exact no-op; see `specs/augment.md` §3.11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Elastic {
    /// Algorithm.
    pub mode: ElasticMode,
    /// 1.x: control points move by U(−alpha_affine, alpha_affine) px.
    pub alpha_affine: f64,
    /// 1.x field gain (px).
    pub alpha: f64,
    /// 1.x field smoothing σ (px).
    pub sigma: f64,
    /// 1.x: compute and apply the smoothed field (approximated by three box passes with
    /// scipy's REFLECT border instead of a 401-tap Gaussian).
    pub v1_field: bool,
    /// Round sample coordinates to 1/32 px as OpenCV 4.x does (bit parity with the study).
    pub quantize_1_32: bool,
    /// Grid mode: control-point spacing in px.
    pub grid_spacing: usize,
    /// Grid mode: offset std range in px.
    pub grid_magnitude: (f64, f64),
    /// Probability (study: 0.5).
    pub p: f64,
}
impl Default for Elastic {
    fn default() -> Self {
        Self {
            mode: ElasticMode::V1,
            alpha_affine: 10.0,
            alpha: 1.0,
            sigma: 50.0,
            v1_field: false,
            quantize_1_32: false,
            grid_spacing: 16,
            grid_magnitude: (1.0, 3.0),
            p: 0.5,
        }
    }
}
/// Drawn elastic parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElasticParams {
    /// 1.x: displacement of the three control points, `[[dx, dy]; 3]` px (f32 as in 1.x).
    pub affine_offsets: [[f32; 2]; 3],
    /// Seed of the field noise (1.x field or grid offsets).
    pub field_seed: u64,
    /// Grid mode: offset std in px.
    pub magnitude: f64,
}
impl Elastic {
    /// The study's three control points for an `h × w` plane (1.x: built from (row, col) and
    /// used as (x, y)).
    pub fn control_points(h: usize, w: usize) -> [[f32; 2]; 3] {
        let (c0, c1) = ((h / 2) as f32, (w / 2) as f32);
        let s = (h.min(w) / 3) as f32;
        [[c0 + s, c1 + s], [c0 + s, c1 - s], [c0 - s, c1 - s]]
    }
    /// The forward affine matrix (src → dst) of drawn parameters, as cv2.getAffineTransform.
    pub fn affine_matrix(prm: &ElasticParams, h: usize, w: usize) -> [f64; 6] {
        let src = Self::control_points(h, w);
        let mut dst = src;
        for (d, o) in dst.iter_mut().zip(prm.affine_offsets.iter()) {
            d[0] += o[0];
            d[1] += o[1];
        }
        kernels::affine_from_points(&src, &dst)
    }
    /// Draws the six affine offsets (V1), a field seed, and a magnitude (Grid).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> ElasticParams {
        let mut affine_offsets = [[0f32; 2]; 3];
        if self.mode == ElasticMode::V1 {
            for o in affine_offsets.iter_mut().flatten() {
                *o = uniform(rng, -self.alpha_affine, self.alpha_affine) as f32;
            }
        }
        let field_seed = rng.random();
        let magnitude = uniform(rng, self.grid_magnitude.0, self.grid_magnitude.1);
        ElasticParams {
            affine_offsets,
            field_seed,
            magnitude,
        }
    }
    /// Applies the deformation; output has the input's size.
    pub fn apply_from(
        &self,
        prm: &ElasticParams,
        src: &Plane,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        let (h, w) = (src.h, src.w);
        match self.mode {
            ElasticMode::V1 => {
                let m = Self::affine_matrix(prm, h, w);
                let minv = kernels::invert_affine(&m);
                kernels::warp_affine_with(src, dst, &minv, self.quantize_1_32, &mut scratch.deltas);
                if self.v1_field && self.alpha != 0.0 {
                    crate::field::v1_field(
                        prm.field_seed,
                        h,
                        w,
                        self.alpha,
                        self.sigma,
                        &mut scratch.dx,
                        &mut scratch.dy,
                        &mut scratch.line,
                    );
                    kernels::remap_displacement(
                        dst,
                        &mut scratch.tmp,
                        &scratch.dx,
                        &scratch.dy,
                        self.quantize_1_32,
                    );
                    std::mem::swap(dst, &mut scratch.tmp);
                }
            }
            ElasticMode::Grid => {
                crate::field::grid_field(
                    prm.field_seed,
                    h,
                    w,
                    self.grid_spacing,
                    prm.magnitude,
                    &mut scratch.dx,
                    &mut scratch.dy,
                    &mut scratch.line,
                );
                kernels::remap_displacement(src, dst, &scratch.dx, &scratch.dy, self.quantize_1_32);
            }
        }
    }
    /// In place: [`Self::apply_from`] into the scratch plane, then swapped in.
    pub fn apply(&self, prm: &ElasticParams, img: &mut Plane, scratch: &mut Scratch) {
        let mut out = std::mem::take(&mut scratch.plane);
        self.apply_from(prm, img, &mut out, scratch);
        scratch.plane = std::mem::replace(img, out);
    }
    fn validate(&self) -> Result<()> {
        let t = "elastic";
        check_p(t, self.p)?;
        if !(self.alpha_affine >= 0.0 && self.alpha_affine.is_finite()) {
            return Err(bad(t, "alpha_affine", "must be finite and >= 0"));
        }
        if self.v1_field && !(self.sigma >= 1.0 && self.sigma.is_finite()) {
            return Err(bad(t, "sigma", "must be >= 1"));
        }
        if self.grid_spacing < 2 {
            return Err(bad(t, "grid_spacing", "must be >= 2 px"));
        }
        check_range(t, "grid_magnitude", self.grid_magnitude)
    }
}

// ----------------------------------------------------------------------------------------
// Sharpen, normalize, flip, solarize, noise
// ----------------------------------------------------------------------------------------

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
    /// 3×3 filter.
    pub fn apply_from(
        &self,
        prm: &SharpenParams,
        src: &Plane,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        let a = prm.alpha;
        let centre = (1.0 - a + a * (8.0 + prm.lightness)) as f32;
        let nb = (-a) as f32;
        kernels::filter3x3_sharpen(src, dst, centre, nb, self.clip, &mut scratch.pad);
    }
    /// In place: [`Self::apply_from`] into the scratch plane, then swapped in.
    pub fn apply(&self, prm: &SharpenParams, img: &mut Plane, scratch: &mut Scratch) {
        let mut out = std::mem::take(&mut scratch.plane);
        self.apply_from(prm, img, &mut out, scratch);
        scratch.plane = std::mem::replace(img, out);
    }
    fn validate(&self) -> Result<()> {
        check_p("sharpen", self.p)?;
        check_range("sharpen", "alpha", self.alpha)?;
        check_range("sharpen", "lightness", self.lightness)
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
    /// No random parameters.
    pub fn sample<R: Rng + ?Sized>(&self, _rng: &mut R) {}
    /// In place.
    pub fn apply(&self, _: &(), img: &mut Plane) {
        let m = self.mean * self.max_pixel_value;
        let r = 1.0f32 / (self.std * self.max_pixel_value);
        for v in img.data.iter_mut() {
            *v = (*v - m) * r;
        }
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
}

/// `HorizontalFlip`: mirrors columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HorizontalFlip {
    /// Probability (default 0.5).
    pub p: f64,
}
impl Default for HorizontalFlip {
    fn default() -> Self {
        Self { p: 0.5 }
    }
}
impl HorizontalFlip {
    /// No random parameters.
    pub fn sample<R: Rng + ?Sized>(&self, _rng: &mut R) {}
    /// In place.
    pub fn apply(&self, _: &(), img: &mut Plane) {
        let w = img.w;
        for row in img.data.chunks_exact_mut(w) {
            row.reverse();
        }
    }
    fn validate(&self) -> Result<()> {
        check_p("horizontal_flip", self.p)
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
    fn validate(&self) -> Result<()> {
        check_p("solarize", self.p)?;
        check_range("solarize", "threshold", self.threshold)
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
    fn validate(&self) -> Result<()> {
        check_p("gaussian_noise", self.p)?;
        check_range("gaussian_noise", "std_range", self.std_range)?;
        check_range("gaussian_noise", "mean_range", self.mean_range)?;
        if self.std_range.0 < 0.0 {
            return Err(bad("gaussian_noise", "std_range", "must be >= 0"));
        }
        Ok(())
    }
}

// ----------------------------------------------------------------------------------------
// The transform enum (configs) and its parameter enum
// ----------------------------------------------------------------------------------------

/// Any transform, as written in a TOML/JSON pipeline config (`type = "blur"`, fields as the
/// structs, missing fields take the documented defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Transform {
    /// See [`Resize`].
    Resize(Resize),
    /// See [`StudyZoom`].
    StudyZoom(StudyZoom),
    /// See [`RandomResizedCrop`].
    RandomResizedCrop(RandomResizedCrop),
    /// See [`BrightnessContrast`].
    BrightnessContrast(BrightnessContrast),
    /// See [`ColorJitter`].
    ColorJitter(ColorJitter),
    /// See [`Blur`].
    Blur(Blur),
    /// See [`GaussianBlur`].
    GaussianBlur(GaussianBlur),
    /// See [`Cutout`].
    Cutout(Cutout),
    /// See [`CoarseDropout`].
    CoarseDropout(CoarseDropout),
    /// See [`Elastic`].
    Elastic(Elastic),
    /// See [`Sharpen`].
    Sharpen(Sharpen),
    /// See [`Normalize`].
    Normalize(Normalize),
    /// See [`HorizontalFlip`].
    HorizontalFlip(HorizontalFlip),
    /// See [`Solarize`].
    Solarize(Solarize),
    /// See [`GaussianNoise`].
    GaussianNoise(GaussianNoise),
    /// See [`crate::OneOf`].
    OneOf(crate::compose::OneOf),
}

/// Drawn parameters of any transform (`None`-like variant [`Params::Skip`] when `p` did not
/// fire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Params {
    /// The transform does not run.
    Skip,
    /// Transforms without random parameters.
    Fixed,
    /// [`StudyZoom`].
    Zoom(ZoomParams),
    /// [`RandomResizedCrop`].
    Crop(CropParams),
    /// [`BrightnessContrast`].
    GainOffset(GainOffset),
    /// [`ColorJitter`].
    Jitter(JitterParams),
    /// [`Blur`].
    Kernel(KernelSize),
    /// [`GaussianBlur`].
    Gauss(GaussParams),
    /// [`Cutout`], [`CoarseDropout`].
    Holes(Holes),
    /// [`Elastic`].
    Elastic(ElasticParams),
    /// [`Sharpen`].
    Sharpen(SharpenParams),
    /// [`Solarize`].
    Threshold(Threshold),
    /// [`GaussianNoise`].
    Noise(NoiseParams),
    /// [`crate::OneOf`]: the chosen child and its parameters.
    OneOf(usize, Box<Params>),
}

impl Transform {
    /// The config name (`type` tag).
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Resize(_) => "resize",
            Transform::StudyZoom(_) => "study_zoom",
            Transform::RandomResizedCrop(_) => "random_resized_crop",
            Transform::BrightnessContrast(_) => "brightness_contrast",
            Transform::ColorJitter(_) => "color_jitter",
            Transform::Blur(_) => "blur",
            Transform::GaussianBlur(_) => "gaussian_blur",
            Transform::Cutout(_) => "cutout",
            Transform::CoarseDropout(_) => "coarse_dropout",
            Transform::Elastic(_) => "elastic",
            Transform::Sharpen(_) => "sharpen",
            Transform::Normalize(_) => "normalize",
            Transform::HorizontalFlip(_) => "horizontal_flip",
            Transform::Solarize(_) => "solarize",
            Transform::GaussianNoise(_) => "gaussian_noise",
            Transform::OneOf(_) => "one_of",
        }
    }

    /// Probability that the transform fires.
    pub fn p(&self) -> f64 {
        match self {
            Transform::Resize(t) => t.p,
            Transform::StudyZoom(t) => t.p,
            Transform::RandomResizedCrop(t) => t.p,
            Transform::BrightnessContrast(t) => t.p,
            Transform::ColorJitter(t) => t.p,
            Transform::Blur(t) => t.p,
            Transform::GaussianBlur(t) => t.p,
            Transform::Cutout(t) => t.p,
            Transform::CoarseDropout(t) => t.p,
            Transform::Elastic(t) => t.p,
            Transform::Sharpen(t) => t.p,
            Transform::Normalize(t) => t.p,
            Transform::HorizontalFlip(t) => t.p,
            Transform::Solarize(t) => t.p,
            Transform::GaussianNoise(t) => t.p,
            Transform::OneOf(t) => t.p,
        }
    }

    /// Checks every parameter; called by pipeline constructors.
    pub fn validate(&self) -> Result<()> {
        match self {
            Transform::Resize(t) => t.validate(),
            Transform::StudyZoom(t) => t.validate(),
            Transform::RandomResizedCrop(t) => t.validate(),
            Transform::BrightnessContrast(t) => t.validate(),
            Transform::ColorJitter(t) => t.validate(),
            Transform::Blur(t) => t.validate(),
            Transform::GaussianBlur(t) => t.validate(),
            Transform::Cutout(t) => t.validate(),
            Transform::CoarseDropout(t) => t.validate(),
            Transform::Elastic(t) => t.validate(),
            Transform::Sharpen(t) => t.validate(),
            Transform::Normalize(t) => t.validate(),
            Transform::HorizontalFlip(t) => t.validate(),
            Transform::Solarize(t) => t.validate(),
            Transform::GaussianNoise(t) => t.validate(),
            Transform::OneOf(t) => t.validate(),
        }
    }

    /// Output size for an `h × w` input when the transform fires.
    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        match self {
            Transform::Resize(t) => (t.height, t.width),
            Transform::StudyZoom(t) => (t.height, t.width),
            Transform::RandomResizedCrop(t) => (t.height, t.width),
            Transform::OneOf(t) => t.output_size(h, w),
            _ => (h, w),
        }
    }

    /// Draws the random parameters for an `h × w` input, ignoring `p` (the transform is
    /// assumed to fire; [`crate::Compose`] draws the `p` coin first).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Params {
        match self {
            Transform::Resize(_) | Transform::Normalize(_) | Transform::HorizontalFlip(_) => {
                Params::Fixed
            }
            Transform::StudyZoom(t) => Params::Zoom(t.sample(rng)),
            Transform::RandomResizedCrop(t) => Params::Crop(t.sample(rng, h, w)),
            Transform::BrightnessContrast(t) => Params::GainOffset(t.sample(rng)),
            Transform::ColorJitter(t) => Params::Jitter(t.sample(rng)),
            Transform::Blur(t) => Params::Kernel(t.sample(rng)),
            Transform::GaussianBlur(t) => Params::Gauss(t.sample(rng)),
            Transform::Cutout(t) => Params::Holes(t.sample(rng, h, w)),
            Transform::CoarseDropout(t) => Params::Holes(t.sample(rng, h, w)),
            Transform::Elastic(t) => Params::Elastic(t.sample(rng)),
            Transform::Sharpen(t) => Params::Sharpen(t.sample(rng)),
            Transform::Solarize(t) => Params::Threshold(t.sample(rng)),
            Transform::GaussianNoise(t) => Params::Noise(t.sample(rng)),
            Transform::OneOf(t) => t.sample(rng, h, w),
        }
    }

    /// Applies the transform reading `src` and writing `dst` (no copy of the input for
    /// resampling and filtering transforms; point operations copy, then work in place).
    /// [`Params::Skip`] copies `src`.
    pub fn apply_from(&self, params: &Params, src: &Plane, dst: &mut Plane, scratch: &mut Scratch) {
        match (self, params) {
            (Transform::Resize(t), Params::Fixed) => t.apply_from(&(), src, dst, scratch),
            (Transform::StudyZoom(t), Params::Zoom(p)) => t.apply_from(p, src, dst, scratch),
            (Transform::RandomResizedCrop(t), Params::Crop(p)) => {
                t.apply_from(p, src, dst, scratch)
            }
            (Transform::Blur(t), Params::Kernel(p)) => t.apply_from(p, src, dst, scratch),
            (Transform::GaussianBlur(t), Params::Gauss(p)) => t.apply_from(p, src, dst, scratch),
            (Transform::Elastic(t), Params::Elastic(p)) => t.apply_from(p, src, dst, scratch),
            (Transform::Sharpen(t), Params::Sharpen(p)) => t.apply_from(p, src, dst, scratch),
            _ => {
                dst.clone_from(src);
                self.apply(params, dst, scratch);
            }
        }
    }

    /// Applies the transform to a borrowed input, writing `dst`: the same result as
    /// [`InputPlane::load_into`] followed by [`Self::apply`], but resizes and crops read the
    /// input's rows directly (converting only the rows they sample) instead of loading the
    /// whole image first. Panics when the input's pixel count is not `h × w` (validate
    /// untrusted input first).
    pub fn apply_from_input(
        &self,
        params: &Params,
        src: &InputPlane,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        assert_eq!(
            src.len(),
            src.h * src.w,
            "InputPlane pixel count must be h × w"
        );
        match (self, params) {
            (Transform::Resize(t), Params::Fixed) => t.apply_from(&(), src, dst, scratch),
            (Transform::StudyZoom(t), Params::Zoom(p)) => t.apply_from(p, src, dst, scratch),
            (Transform::RandomResizedCrop(t), Params::Crop(p)) => {
                t.apply_from(p, src, dst, scratch)
            }
            _ => {
                src.load_into(dst);
                self.apply(params, dst, scratch);
            }
        }
    }

    /// Applies the transform with drawn `params` (deterministic). [`Params::Skip`] leaves the
    /// plane unchanged. Panics on a parameter variant that belongs to another transform (a
    /// programmer error).
    pub fn apply(&self, params: &Params, img: &mut Plane, scratch: &mut Scratch) {
        if let Params::Skip = params {
            return;
        }
        match (self, params) {
            (Transform::Resize(t), Params::Fixed) => t.apply(&(), img, scratch),
            (Transform::Normalize(t), Params::Fixed) => t.apply(&(), img),
            (Transform::HorizontalFlip(t), Params::Fixed) => t.apply(&(), img),
            (Transform::StudyZoom(t), Params::Zoom(p)) => t.apply(p, img, scratch),
            (Transform::RandomResizedCrop(t), Params::Crop(p)) => t.apply(p, img, scratch),
            (Transform::BrightnessContrast(t), Params::GainOffset(p)) => t.apply(p, img),
            (Transform::ColorJitter(t), Params::Jitter(p)) => t.apply(p, img),
            (Transform::Blur(t), Params::Kernel(p)) => t.apply(p, img, scratch),
            (Transform::GaussianBlur(t), Params::Gauss(p)) => t.apply(p, img, scratch),
            (Transform::Cutout(t), Params::Holes(p)) => t.apply(p, img),
            (Transform::CoarseDropout(t), Params::Holes(p)) => t.apply(p, img),
            (Transform::Elastic(t), Params::Elastic(p)) => t.apply(p, img, scratch),
            (Transform::Sharpen(t), Params::Sharpen(p)) => t.apply(p, img, scratch),
            (Transform::Solarize(t), Params::Threshold(p)) => t.apply(p, img),
            (Transform::GaussianNoise(t), Params::Noise(p)) => t.apply(p, img),
            (Transform::OneOf(t), p @ Params::OneOf(..)) => t.apply(p, img, scratch),
            (t, p) => panic!("parameters {p:?} do not belong to transform {}", t.name()),
        }
    }
}
