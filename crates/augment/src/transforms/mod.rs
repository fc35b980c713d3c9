//! Every transform: a serde parameter struct with a probability `p` that implements
//! [`Augmentation`] (name, probability, validation, `sample` = all randomness, deterministic
//! `apply`). One file per family, as albumentations groups its transforms (geometric / pixel /
//! dropout) and kornia-imgproc its operations:
//!
//! * `geometric.rs`: [`Resize`], [`StudyZoom`], [`RandomResizedCrop`], [`HorizontalFlip`];
//! * `intensity.rs`: [`BrightnessContrast`], [`ColorJitter`], [`Normalize`], [`Solarize`],
//!   [`GaussianNoise`];
//! * `blur.rs` (convolution filters): [`Blur`], [`GaussianBlur`], [`Sharpen`];
//! * `dropout.rs`: [`Cutout`], [`CoarseDropout`];
//! * `elastic.rs`: [`Elastic`].
//!
//! The [`Transform`] enum (what configs contain), the [`Params`] enum (drawn parameters) and
//! their dispatch are generated once, by `transforms!` from the list at the end of this file:
//! adding a transform is its struct (with its parameter type and `impl Augmentation`) in a
//! family file plus one line in that list (docs/augment.md, "Adding a transform").
//!
//! Semantics follow albumentations 1.x (what the study ran) unless the item says otherwise;
//! see `docs/augment.md` for the references.

mod blur;
mod dropout;
mod elastic;
mod geometric;
mod intensity;

pub use blur::{Blur, GaussParams, GaussianBlur, KernelSize, Sharpen, SharpenParams};
pub use dropout::{CoarseDropout, Cutout, Holes};
pub use elastic::{Elastic, ElasticMode, ElasticParams};
pub use geometric::{CropParams, HorizontalFlip, RandomResizedCrop, Resize, StudyZoom, ZoomParams};
pub use intensity::{
    BrightnessContrast, ColorJitter, GainOffset, GaussianNoise, JitterParams, NoiseParams,
    Normalize, Solarize, Threshold,
};

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::compose::OneOf;
use crate::error::{AugmentError, Result};
use crate::kernels::{ResampleScratch, Tap};
use crate::plane::{InputPlane, Plane};

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

/// Writes `f(img → scratch plane)` back into `img`: the in-place form of a transform that
/// reads one plane and writes another (resampling, filtering, warping).
fn via_scratch(
    img: &mut Plane,
    scratch: &mut Scratch,
    f: impl FnOnce(&Plane, &mut Plane, &mut Scratch),
) {
    let mut out = std::mem::take(&mut scratch.plane);
    f(img, &mut out, scratch);
    scratch.plane = std::mem::replace(img, out);
}

/// One transform: what [`Transform`] dispatches to. `sample` holds all the randomness (it is
/// called only when the transform fires, after [`crate::Compose`]'s `p` coin) and `apply` is
/// deterministic given the drawn parameters, so a view is a pure function of its random stream.
///
/// A transform whose draw needs no image size keeps an inherent `sample(rng)`, and a point
/// operation an inherent `apply(params, img)` (no scratch); its trait methods call those.
/// Inherent methods win in method-call syntax (`blur.sample(&mut rng)`), so generic code calls
/// the trait form explicitly (`Augmentation::sample(&blur, rng, h, w)`).
pub trait Augmentation {
    /// The config name (the `type` tag; `rename_all = "snake_case"` of the variant name).
    const NAME: &'static str;
    /// The drawn parameters (`()` when there are none).
    type Params: ParamsVariant;
    /// Probability that the transform fires.
    fn p(&self) -> f64;
    /// Checks every parameter; errors name the transform and the parameter.
    fn validate(&self) -> Result<()>;
    /// Output size for an `h × w` input when the transform fires (default: unchanged).
    fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        (h, w)
    }
    /// Draws the parameters for an `h × w` input, ignoring `p`.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Self::Params;
    /// Applies drawn parameters in place.
    fn apply(&self, prm: &Self::Params, img: &mut Plane, scratch: &mut Scratch);
    /// Reads `src`, writes `dst` (default: copy, then [`Self::apply`]; resampling and
    /// filtering transforms read `src` directly).
    fn apply_from(&self, prm: &Self::Params, src: &Plane, dst: &mut Plane, scratch: &mut Scratch) {
        dst.clone_from(src);
        self.apply(prm, dst, scratch);
    }
    /// Reads a borrowed input, writes `dst` (default: [`InputPlane::load_into`], then
    /// [`Self::apply`]; resizes and crops convert only the input rows they sample).
    fn apply_from_input(
        &self,
        prm: &Self::Params,
        src: &InputPlane,
        dst: &mut Plane,
        scratch: &mut Scratch,
    ) {
        src.load_into(dst);
        self.apply(prm, dst, scratch);
    }
}

/// How a transform's drawn parameters sit in [`Params`] (implemented by `transforms!` for each
/// parameter type it declares; `()` is [`Params::Fixed`]).
pub trait ParamsVariant: Sized {
    /// Wraps the parameters.
    fn into_params(self) -> Params;
    /// The parameters inside `p`, when `p` is this type's variant.
    fn from_params(p: &Params) -> Option<&Self>;
}

impl ParamsVariant for () {
    fn into_params(self) -> Params {
        Params::Fixed
    }
    fn from_params(p: &Params) -> Option<&Self> {
        matches!(p, Params::Fixed).then_some(&())
    }
}

/// [`OneOf`]'s parameters are [`Params::OneOf`] (the chosen child and its parameters).
impl ParamsVariant for Params {
    fn into_params(self) -> Params {
        self
    }
    fn from_params(p: &Params) -> Option<&Self> {
        matches!(p, Params::OneOf(..)).then_some(p)
    }
}

/// `A`'s parameters inside `params`; panics on a variant that belongs to another transform
/// (a programmer error).
fn params_of<A: Augmentation>(params: &Params) -> &A::Params {
    A::Params::from_params(params).unwrap_or_else(|| {
        panic!(
            "parameters {params:?} do not belong to transform {}",
            A::NAME
        )
    })
}

/// Generates, from one list of transforms, the [`Transform`] enum (serde-tagged by `type`),
/// the [`Params`] enum (`Skip`, `Fixed`, one variant per declared parameter type, `OneOf`) with
/// each declared type's [`ParamsVariant`], and every [`Transform`] method as one match that
/// forwards to [`Augmentation`]. A line is `Struct` (parameters `()` or a type declared on an
/// earlier line) or `Struct => Variant(ParamType)` (declares the [`Params`] variant).
macro_rules! transforms {
    ($($t:ident $(=> $v:ident($pt:ty))?,)*) => {
        impl Transform {
            /// Every transform with its defaults, in list order (for tests over all of them).
            #[cfg(test)]
            fn defaults() -> Vec<Transform> {
                vec![$(Transform::$t($t::default()),)*]
            }
        }

        /// Any transform, as written in a TOML/JSON pipeline config (`type = "blur"`, fields as
        /// the structs, missing fields take the documented defaults).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Transform {
            $(#[doc = concat!("See [`", stringify!($t), "`].")] $t($t),)*
        }

        /// Drawn parameters of any transform (`None`-like variant [`Params::Skip`] when `p`
        /// did not fire).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum Params {
            /// The transform does not run.
            Skip,
            /// Transforms without random parameters.
            Fixed,
            $($(#[doc = concat!("Drawn by [`", stringify!($t), "`].")] $v($pt),)?)*
            /// [`crate::OneOf`]: the chosen child and its parameters.
            OneOf(usize, Box<Params>),
        }

        $($(
            impl ParamsVariant for $pt {
                fn into_params(self) -> Params {
                    Params::$v(self)
                }
                fn from_params(p: &Params) -> Option<&Self> {
                    match p {
                        Params::$v(x) => Some(x),
                        _ => None,
                    }
                }
            }
        )?)*

        impl Transform {
            /// The config name (`type` tag).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Transform::$t(_) => <$t as Augmentation>::NAME,)*
                }
            }

            /// Probability that the transform fires.
            pub fn p(&self) -> f64 {
                match self {
                    $(Transform::$t(t) => Augmentation::p(t),)*
                }
            }

            /// Checks every parameter; called by pipeline constructors.
            pub fn validate(&self) -> Result<()> {
                match self {
                    $(Transform::$t(t) => Augmentation::validate(t),)*
                }
            }

            /// Output size for an `h × w` input when the transform fires.
            pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
                match self {
                    $(Transform::$t(t) => Augmentation::output_size(t, h, w),)*
                }
            }

            /// Draws the random parameters for an `h × w` input, ignoring `p` (the transform
            /// is assumed to fire; [`crate::Compose`] draws the `p` coin first).
            pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Params {
                match self {
                    $(Transform::$t(t) => Augmentation::sample(t, rng, h, w).into_params(),)*
                }
            }

            /// Applies the transform reading `src` and writing `dst` (no copy of the input for
            /// resampling and filtering transforms; point operations copy, then work in
            /// place). [`Params::Skip`] copies `src`.
            pub fn apply_from(
                &self,
                params: &Params,
                src: &Plane,
                dst: &mut Plane,
                scratch: &mut Scratch,
            ) {
                if let Params::Skip = params {
                    dst.clone_from(src);
                    return;
                }
                match self {
                    $(Transform::$t(t) => {
                        Augmentation::apply_from(t, params_of::<$t>(params), src, dst, scratch)
                    })*
                }
            }

            /// Applies the transform to a borrowed input, writing `dst`: the same result as
            /// [`InputPlane::load_into`] followed by [`Self::apply`], but resizes and crops
            /// read the input's rows directly (converting only the rows they sample) instead
            /// of loading the whole image first. Panics when the input's pixel count is not
            /// `h × w` (validate untrusted input first).
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
                if let Params::Skip = params {
                    src.load_into(dst);
                    return;
                }
                match self {
                    $(Transform::$t(t) => {
                        Augmentation::apply_from_input(t, params_of::<$t>(params), src, dst, scratch)
                    })*
                }
            }

            /// Applies the transform with drawn `params` (deterministic). [`Params::Skip`]
            /// leaves the plane unchanged. Panics on a parameter variant that belongs to
            /// another transform (a programmer error).
            pub fn apply(&self, params: &Params, img: &mut Plane, scratch: &mut Scratch) {
                if let Params::Skip = params {
                    return;
                }
                match self {
                    $(Transform::$t(t) => {
                        Augmentation::apply(t, params_of::<$t>(params), img, scratch)
                    })*
                }
            }
        }
    };
}

// The one list: adding a transform is its struct in a family file plus one line here. A line
// without `=> Variant(Type)` has parameters `()` (`Params::Fixed`) or shares an earlier type.
transforms! {
    Resize,
    StudyZoom => Zoom(ZoomParams),
    RandomResizedCrop => Crop(CropParams),
    BrightnessContrast => GainOffset(GainOffset),
    ColorJitter => Jitter(JitterParams),
    Blur => Kernel(KernelSize),
    GaussianBlur => Gauss(GaussParams),
    Cutout => Holes(Holes),
    CoarseDropout, // Holes, as Cutout
    Elastic => Elastic(ElasticParams),
    Sharpen => Sharpen(SharpenParams),
    Normalize,
    HorizontalFlip,
    Solarize => Threshold(Threshold),
    GaussianNoise => Noise(NoiseParams),
    OneOf, // Params::OneOf (see `impl ParamsVariant for Params`)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde `type` tag (`rename_all = "snake_case"` of the variant) and
    /// [`Augmentation::NAME`] are two spellings of one name: every variant must agree, and
    /// round-trip through its config form.
    #[test]
    fn every_variant_serialises_under_its_name() {
        let all = Transform::defaults();
        let mut names: Vec<_> = all.iter().map(Transform::name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len(), "a name is used twice");
        for t in &all {
            let v = serde_json::to_value(t).unwrap();
            assert_eq!(v["type"], t.name(), "{v}");
            let back: Transform = serde_json::from_value(v).unwrap();
            assert_eq!(&back, t);
        }
    }

    #[test]
    #[should_panic(expected = "do not belong to transform blur")]
    fn parameters_of_another_transform_panic() {
        let t = Transform::Blur(Blur::default());
        let prm = Params::Threshold(Threshold { threshold: 0.5 });
        t.apply(&prm, &mut Plane::zeros(4, 4), &mut Scratch::default());
    }
}
