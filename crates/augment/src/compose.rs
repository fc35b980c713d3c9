//! `Compose` (ordered list, each transform with its own `p`) and `OneOf`.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::error::{AugmentError, Result};
use crate::plane::{InputPlane, Plane};
use crate::transforms::{Augmentation, Params, Scratch, Transform};

/// Transforms applied in order; each fires independently when a uniform draw is `< p`
/// (albumentations `Compose`). Serialises as a plain list.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Compose {
    /// The transforms, in application order.
    pub transforms: Vec<Transform>,
}

impl Compose {
    /// Wraps a list.
    pub fn new(transforms: Vec<Transform>) -> Self {
        Self { transforms }
    }

    /// Validates every transform.
    pub fn validate(&self) -> Result<()> {
        self.transforms.iter().try_for_each(Transform::validate)
    }

    /// Output size for an `h × w` input (size-changing transforms are assumed to fire; a
    /// size-changing transform with `p < 1` would make sizes vary and is rejected by
    /// [`crate::Pipeline::validate`]).
    pub fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.transforms
            .iter()
            .fold((h, w), |(h, w), t| t.output_size(h, w))
    }

    /// Draws, for each transform in order, the `p` coin and (if it fires) its parameters.
    /// Sizes are tracked so that size-dependent draws (holes, crops) see the current size.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Vec<Params> {
        let (mut h, mut w) = (h, w);
        self.transforms
            .iter()
            .map(|t| {
                let u: f64 = rng.random();
                if u < t.p() {
                    let p = t.sample(rng, h, w);
                    (h, w) = t.output_size(h, w);
                    p
                } else {
                    Params::Skip
                }
            })
            .collect()
    }

    /// Applies drawn parameters in order (deterministic).
    pub fn apply(&self, params: &[Params], img: &mut Plane, scratch: &mut Scratch) {
        assert_eq!(
            params.len(),
            self.transforms.len(),
            "one Params per transform"
        );
        for (t, p) in self.transforms.iter().zip(params) {
            t.apply(p, img, scratch);
        }
    }

    /// Applies drawn parameters to a borrowed input, writing `img`: the same result as
    /// [`InputPlane::load_into`] then [`Self::apply`], with the first transform reading the
    /// input directly (see [`Transform::apply_from_input`]).
    pub fn apply_input(
        &self,
        params: &[Params],
        input: &InputPlane,
        img: &mut Plane,
        scratch: &mut Scratch,
    ) {
        assert_eq!(
            params.len(),
            self.transforms.len(),
            "one Params per transform"
        );
        let Some((first, rest)) = self.transforms.split_first() else {
            input.load_into(img);
            return;
        };
        first.apply_from_input(&params[0], input, img, scratch);
        for (t, p) in rest.iter().zip(&params[1..]) {
            t.apply(p, img, scratch);
        }
    }
}

/// With probability `p`, applies exactly one of its transforms, chosen with probability
/// proportional to the children's own `p` (which are otherwise ignored: the chosen child is
/// forced, as in albumentations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OneOf {
    /// Candidates.
    pub transforms: Vec<Transform>,
    /// Probability that one of them runs.
    pub p: f64,
}

impl Default for OneOf {
    fn default() -> Self {
        Self {
            transforms: Vec::new(),
            p: 0.5,
        }
    }
}

impl Augmentation for OneOf {
    const NAME: &'static str = "one_of";
    /// [`Params::OneOf`]: the chosen child and its parameters.
    type Params = Params;
    fn p(&self) -> f64 {
        self.p
    }
    fn validate(&self) -> Result<()> {
        let bad = |reason: &str| AugmentError::InvalidParam {
            transform: "one_of",
            param: "transforms",
            reason: reason.into(),
        };
        if !(0.0..=1.0).contains(&self.p) {
            return Err(AugmentError::InvalidParam {
                transform: "one_of",
                param: "p",
                reason: format!("{} is not in [0, 1]", self.p),
            });
        }
        if self.transforms.is_empty() || self.transforms.iter().map(|t| t.p()).sum::<f64>() <= 0.0 {
            return Err(bad("needs at least one child with p > 0"));
        }
        let sizes: Vec<_> = self
            .transforms
            .iter()
            .map(|t| t.output_size(1000, 1001))
            .collect();
        if sizes.iter().any(|s| *s != sizes[0]) {
            return Err(bad(
                "children must all keep or all produce the same output size",
            ));
        }
        self.transforms.iter().try_for_each(Transform::validate)
    }

    fn output_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.transforms
            .first()
            .map_or((h, w), |t| t.output_size(h, w))
    }

    /// Chooses a child (weights = children's `p`) and draws its parameters.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, h: usize, w: usize) -> Params {
        let total: f64 = self.transforms.iter().map(|t| t.p()).sum();
        let mut u: f64 = rng.random::<f64>() * total;
        let mut idx = self.transforms.len() - 1;
        for (i, t) in self.transforms.iter().enumerate() {
            if u < t.p() {
                idx = i;
                break;
            }
            u -= t.p();
        }
        Params::OneOf(idx, Box::new(self.transforms[idx].sample(rng, h, w)))
    }

    /// Applies the chosen child.
    fn apply(&self, params: &Params, img: &mut Plane, scratch: &mut Scratch) {
        if let Params::OneOf(i, p) = params {
            self.transforms[*i].apply(p, img, scratch);
        }
    }
}
