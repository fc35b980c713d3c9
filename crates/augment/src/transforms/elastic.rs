//! Elastic deformation (kernels in `kernels/warp.rs` and `field.rs`; anchor: kornia-imgproc's
//! `warp/`): albumentations 1.x's affine + optional smoothed field, and a control-grid elastic
//! deformation after MONAI's Rand2DElastic.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::{Augmentation, Scratch, bad, check_p, check_range, uniform, via_scratch};
use crate::error::Result;
use crate::kernels;
use crate::plane::Plane;

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
/// field, ≤ 0.013 px, is an exact no-op; see docs/augment.md, "Deviations from albumentations").
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
}
impl Augmentation for Elastic {
    const NAME: &'static str = "elastic";
    type Params = ElasticParams;
    fn p(&self) -> f64 {
        self.p
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
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, _h: usize, _w: usize) -> ElasticParams {
        self.sample(rng)
    }
    fn apply(&self, prm: &ElasticParams, img: &mut Plane, scratch: &mut Scratch) {
        via_scratch(img, scratch, |src, dst, s| {
            self.apply_from(prm, src, dst, s)
        });
    }
    fn apply_from(&self, prm: &ElasticParams, src: &Plane, dst: &mut Plane, scratch: &mut Scratch) {
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
}
