//! Dropout transforms, albumentations' dropout family: rectangular holes filled with a
//! constant (1.x Cutout, 2.x CoarseDropout), in place.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::{Augmentation, Scratch, bad, check_p, check_range, uniform};
use crate::error::Result;
use crate::kernels;
use crate::plane::Plane;

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
    /// In place.
    pub fn apply(&self, prm: &Holes, img: &mut Plane) {
        fill_holes(prm, img, self.fill_value);
    }
}

impl Augmentation for Cutout {
    const NAME: &'static str = "cutout";
    type Params = Holes;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        check_p("cutout", self.p)
    }
    /// Draws the holes for an `h × w` plane.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Holes {
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
    fn apply(&self, prm: &Holes, img: &mut Plane, _: &mut Scratch) {
        self.apply(prm, img);
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
    /// In place.
    pub fn apply(&self, prm: &Holes, img: &mut Plane) {
        fill_holes(prm, img, self.fill);
    }
}
impl Augmentation for CoarseDropout {
    const NAME: &'static str = "coarse_dropout";
    type Params = Holes;
    fn p(&self) -> f64 {
        self.p
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
    /// Draws the holes for an `h × w` plane.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Holes {
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
    fn apply(&self, prm: &Holes, img: &mut Plane, _: &mut Scratch) {
        self.apply(prm, img);
    }
}
