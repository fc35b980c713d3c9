//! Geometric transforms (albumentations' geometric family; kornia-imgproc's `resize.rs`,
//! `crop.rs`, `flip.rs`): resize, the study's zoom + crop, RandomResizedCrop, horizontal flip.
//! The resampling ones read a [`SourceRows`] (a plane, or only the sampled rows of a borrowed
//! input) and write a new plane.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::{Augmentation, Scratch, bad, check_p, check_range, uniform, via_scratch};
use crate::error::Result;
use crate::kernels;
use crate::plane::{InputPlane, Plane, SourceRows};

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
    /// Resizes `src` (a [`Plane`] or a borrowed [`crate::InputPlane`]) into `dst`.
    pub fn resample(&self, src: &impl SourceRows, dst: &mut Plane, scratch: &mut Scratch) {
        let (h, w) = (src.height(), src.width());
        if (h, w) == (self.height, self.width) {
            src.copy_into(dst);
            return;
        }
        kernels::linear_taps(w, self.width, 0, self.width, 0, &mut scratch.xt);
        kernels::linear_taps(h, self.height, 0, self.height, 0, &mut scratch.yt);
        kernels::resample_with(src, dst, &scratch.xt, &scratch.yt, &mut scratch.resample);
    }
}
impl Augmentation for Resize {
    const NAME: &'static str = "resize";
    type Params = ();
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("resize", self.p)?;
        if self.height == 0 || self.width == 0 {
            return Err(bad("resize", "height/width", "must be > 0"));
        }
        Ok(())
    }
    fn output_size(&self, _h: usize, _w: usize) -> (usize, usize) {
        (self.height, self.width)
    }
    /// No random parameters.
    fn sample<R: Rng + ?Sized>(&self, _rng: &mut R, _h: usize, _w: usize) {}
    /// In place: [`Self::resample`] into the scratch plane, then swapped in (nothing to do
    /// at the target size).
    fn apply(&self, _: &(), img: &mut Plane, scratch: &mut Scratch) {
        if (img.h, img.w) == (self.height, self.width) {
            return;
        }
        via_scratch(img, scratch, |src, dst, s| self.resample(src, dst, s));
    }
    fn apply_from(&self, _: &(), src: &Plane, dst: &mut Plane, scratch: &mut Scratch) {
        self.resample(src, dst, scratch);
    }
    fn apply_from_input(&self, _: &(), src: &InputPlane, dst: &mut Plane, s: &mut Scratch) {
        self.resample(src, dst, s);
    }
}

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
    pub fn resample(
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
}
impl Augmentation for StudyZoom {
    const NAME: &'static str = "study_zoom";
    type Params = ZoomParams;
    fn p(&self) -> f64 {
        self.p
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
    fn output_size(&self, _h: usize, _w: usize) -> (usize, usize) {
        (self.height, self.width)
    }
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> ZoomParams {
        self.sample(rng)
    }
    fn apply(&self, prm: &ZoomParams, img: &mut Plane, scratch: &mut Scratch) {
        via_scratch(img, scratch, |src, dst, s| self.resample(prm, src, dst, s));
    }
    fn apply_from(&self, prm: &ZoomParams, src: &Plane, dst: &mut Plane, s: &mut Scratch) {
        self.resample(prm, src, dst, s);
    }
    fn apply_from_input(
        &self,
        prm: &ZoomParams,
        src: &InputPlane,
        dst: &mut Plane,
        s: &mut Scratch,
    ) {
        self.resample(prm, src, dst, s);
    }
}

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
    /// Crops the window of `src` (a [`Plane`] or a borrowed [`crate::InputPlane`]) and
    /// resizes it to `height × width`.
    pub fn resample(
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
}
impl Augmentation for RandomResizedCrop {
    const NAME: &'static str = "random_resized_crop";
    type Params = CropParams;
    fn p(&self) -> f64 {
        self.p
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
    fn output_size(&self, _h: usize, _w: usize) -> (usize, usize) {
        (self.height, self.width)
    }
    /// Draws the window for an `h × w` input (up to 10 tries, then the centred fallback).
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> CropParams {
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
    fn apply(&self, prm: &CropParams, img: &mut Plane, scratch: &mut Scratch) {
        via_scratch(img, scratch, |src, dst, s| self.resample(prm, src, dst, s));
    }
    fn apply_from(&self, prm: &CropParams, src: &Plane, dst: &mut Plane, s: &mut Scratch) {
        self.resample(prm, src, dst, s);
    }
    fn apply_from_input(
        &self,
        prm: &CropParams,
        src: &InputPlane,
        dst: &mut Plane,
        s: &mut Scratch,
    ) {
        self.resample(prm, src, dst, s);
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
    /// In place.
    pub fn apply(&self, _: &(), img: &mut Plane) {
        let w = img.w;
        for row in img.data.chunks_exact_mut(w) {
            row.reverse();
        }
    }
}
impl Augmentation for HorizontalFlip {
    const NAME: &'static str = "horizontal_flip";
    type Params = ();
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("horizontal_flip", self.p)
    }
    fn sample<R: Rng + ?Sized>(&self, _rng: &mut R, _h: usize, _w: usize) {}
    fn apply(&self, prm: &(), img: &mut Plane, _: &mut Scratch) {
        self.apply(prm, img);
    }
}
