//! Two-view pipelines, reproducible seeding and parallel batch application.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::compose::Compose;
use crate::error::{AugmentError, Result};
use crate::plane::{InputPlane, Plane};
use crate::transforms::{Params, Scratch, Transform};

/// Identifies one augmented view: the output for a key is identical whatever the thread count,
/// batch composition or order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SampleKey {
    /// Run seed.
    pub seed: u64,
    /// Epoch.
    pub epoch: u64,
    /// Sample index in the dataset.
    pub index: u64,
    /// View (0 = first, 1 = second).
    pub view: u64,
    /// Stream domain ([`Stream::PRETRAIN`], [`Stream::CLASSIFY`], ...): the same seed, epoch,
    /// index and view in two domains give independent streams.
    pub domain: u64,
}

impl SampleKey {
    /// The random stream of this view: ChaCha8 keyed by the four numbers (32 bytes), so
    /// distinct keys give independent streams with no hashing collisions; the domain selects
    /// ChaCha's 64-bit stream (domain 0 is the plain keyed stream).
    pub fn rng(&self) -> ChaCha8Rng {
        let mut key = [0u8; 32];
        for (i, v) in [self.seed, self.epoch, self.index, self.view]
            .iter()
            .enumerate()
        {
            key[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(self.domain);
        rng
    }
}

/// The seed and domain of a run's augmentation stream. A plain `u64` converts to the
/// pretraining domain, so `pipeline.batch(&inputs, seed, ...)` keeps its meaning.
///
/// A classification run with seed `k` uses `Stream::classify(k)`, so it never replays the
/// views a pretraining with seed `k` drew for the same slices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Stream {
    /// Run seed.
    pub seed: u64,
    /// Domain ([`Stream::PRETRAIN`], [`Stream::CLASSIFY`]).
    pub domain: u64,
}

impl Stream {
    /// Self-supervised pretraining views (and anything that passes a plain seed).
    pub const PRETRAIN: u64 = 0;
    /// Classifier training and evaluation.
    pub const CLASSIFY: u64 = 1;

    /// The pretraining stream of `seed`.
    pub fn pretrain(seed: u64) -> Self {
        Self {
            seed,
            domain: Self::PRETRAIN,
        }
    }

    /// The classification stream of `seed`.
    pub fn classify(seed: u64) -> Self {
        Self {
            seed,
            domain: Self::CLASSIFY,
        }
    }
}

impl From<u64> for Stream {
    fn from(seed: u64) -> Self {
        Self::pretrain(seed)
    }
}

/// Where the `Normalize` constants of a run's pipelines come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizeFrom {
    /// The preset's own constants (the study's mean 0.28, std 0.031: the mean of its images
    /// and the spread of its per-batch standard deviations, not a pixel standard deviation;
    /// see docs/augment.md).
    #[default]
    Study,
    /// The train split's pixel mean and standard deviation, computed by `prepare` and stored
    /// in the prepared dataset's `dataset.json` (applied with [`Pipeline::with_normalize`]).
    Dataset,
}

fn one() -> usize {
    1
}

/// A named augmentation pipeline: the first view's [`Compose`], an optional different second
/// view (asymmetric recipes such as BYOL; absent means both views use `view_a`), and the number
/// of output channels (the grey plane is replicated).
///
/// Config (TOML):
/// ```toml
/// name = "mine"
/// channels = 3
/// [[view_a]]
/// type = "resize"
/// height = 128
/// width = 128
/// [[view_a]]
/// type = "blur"
/// p = 0.5
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Name (a preset name or free text).
    pub name: String,
    /// Output channels (copies of the augmented grey plane).
    #[serde(default = "one")]
    pub channels: usize,
    /// First view's transforms.
    pub view_a: Compose,
    /// Second view's transforms (`None`: same as `view_a`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_b: Option<Compose>,
}

/// Per-thread working memory for [`Pipeline::augment`].
#[derive(Debug, Default)]
pub struct Worker {
    img: Plane,
    scratch: Scratch,
}

impl Pipeline {
    /// A named preset (see [`crate::preset::PRESET_NAMES`]).
    pub fn preset(name: &str) -> Result<Self> {
        crate::preset::preset(name)
    }

    /// Parses a TOML config.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        Self::from_toml_origin(s, "<string>")
    }

    fn from_toml_origin(s: &str, origin: &str) -> Result<Self> {
        let p: Self = toml::from_str(s).map_err(|source| AugmentError::Toml {
            origin: origin.to_string(),
            source,
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Parses a JSON config.
    pub fn from_json_str(s: &str) -> Result<Self> {
        Self::from_json_origin(s, "<string>")
    }

    fn from_json_origin(s: &str, origin: &str) -> Result<Self> {
        let p: Self = serde_json::from_str(s).map_err(|source| AugmentError::Json {
            origin: origin.to_string(),
            source,
        })?;
        p.validate()?;
        Ok(p)
    }

    /// Reads a `.toml` or `.json` config file.
    pub fn from_path(path: &Path) -> Result<Self> {
        let s = std::fs::read_to_string(path).map_err(|source| AugmentError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Self::from_toml_origin(&s, &origin),
            Some("json") => Self::from_json_origin(&s, &origin),
            _ => Err(AugmentError::ConfigExtension(path.to_path_buf())),
        }
    }

    /// A preset name, or else a path to a `.toml`/`.json` config.
    pub fn from_name_or_path(s: &str) -> Result<Self> {
        if crate::preset::is_preset(s) {
            return Self::preset(s);
        }
        let path = Path::new(s);
        if path.extension().is_some_and(|e| e == "toml" || e == "json") {
            return Self::from_path(path);
        }
        Err(AugmentError::UnknownPreset(s.to_string()))
    }

    /// TOML text of this pipeline (round-trips through [`Pipeline::from_toml_str`]).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("pipelines always serialise")
    }

    /// Checks every transform and the channel count.
    pub fn validate(&self) -> Result<()> {
        if self.channels == 0 {
            return Err(AugmentError::InvalidParam {
                transform: "pipeline",
                param: "channels",
                reason: "must be >= 1".into(),
            });
        }
        self.view_a.validate()?;
        if let Some(b) = &self.view_b {
            b.validate()?;
        }
        Ok(())
    }

    /// The same pipeline with every size-setting transform (`Resize`, `StudyZoom`,
    /// `RandomResizedCrop`, also inside `OneOf`) producing `height × width` instead of its
    /// configured size, e.g. 64² for a quick CPU run of a 128² preset. Pixel-sized
    /// parameters (cutout holes, blur kernels, elastic sigma) are left as they are.
    ///
    /// ```
    /// use twinscan_augment::Pipeline;
    /// let p = Pipeline::preset("study_barlow").unwrap().with_output_size(64, 64);
    /// assert_eq!(p.output_shape(512, 512).unwrap(), (64, 64));
    /// ```
    pub fn with_output_size(mut self, height: usize, width: usize) -> Self {
        fn resize_all(ts: &mut [Transform], height: usize, width: usize) {
            for t in ts {
                match t {
                    Transform::Resize(r) => (r.height, r.width) = (height, width),
                    Transform::StudyZoom(z) => (z.height, z.width) = (height, width),
                    Transform::RandomResizedCrop(c) => (c.height, c.width) = (height, width),
                    Transform::OneOf(o) => resize_all(&mut o.transforms, height, width),
                    _ => {}
                }
            }
        }
        resize_all(&mut self.view_a.transforms, height, width);
        if let Some(b) = &mut self.view_b {
            resize_all(&mut b.transforms, height, width);
        }
        self
    }

    /// The same pipeline writing `channels` copies of the augmented grey plane (3 for
    /// ImageNet-shaped encoders).
    pub fn with_channels(mut self, channels: usize) -> Self {
        self.channels = channels;
        self
    }

    /// The same pipeline with every `Normalize` (also inside `OneOf`) using `mean` and `std`
    /// (in units of the max pixel value), e.g. a dataset's own train-split statistics instead
    /// of the study's constants.
    pub fn with_normalize(mut self, mean: f32, std: f32) -> Self {
        fn set_all(ts: &mut [Transform], mean: f32, std: f32) {
            for t in ts {
                match t {
                    Transform::Normalize(n) => (n.mean, n.std) = (mean, std),
                    Transform::OneOf(o) => set_all(&mut o.transforms, mean, std),
                    _ => {}
                }
            }
        }
        set_all(&mut self.view_a.transforms, mean, std);
        if let Some(b) = &mut self.view_b {
            set_all(&mut b.transforms, mean, std);
        }
        self
    }

    /// The normalisation constants `(mean, std)` the first view ends with (its last
    /// `Normalize`), or `None` when it has none: what a saved model records about its input.
    pub fn normalization(&self) -> Option<(f32, f32)> {
        self.view_a.transforms.iter().rev().find_map(|t| match t {
            Transform::Normalize(n) => Some((n.mean, n.std)),
            _ => None,
        })
    }

    /// Both views spelled out (a missing `view_b` is `view_a`), every transform with its
    /// probability and parameters: what `augment_preview --print-spec` prints.
    ///
    /// ```
    /// use twinscan_augment::Pipeline;
    /// let spec = Pipeline::preset("ablation:blur").unwrap().resolved_spec();
    /// assert_eq!(spec["view_a"][1]["type"], "blur");
    /// assert_eq!(spec["view_b"].as_array().unwrap().len(), 2); // resize, normalize
    /// ```
    pub fn resolved_spec(&self) -> serde_json::Value {
        let view = |c: &Compose| serde_json::to_value(&c.transforms).unwrap_or_default();
        serde_json::json!({
            "name": self.name,
            "channels": self.channels,
            "view_a": view(&self.view_a),
            "view_b": view(self.view(1)),
        })
    }

    /// The transforms of view `v` (0 → `view_a`; 1 → `view_b`, or `view_a` if absent).
    pub fn view(&self, v: u64) -> &Compose {
        match (v, &self.view_b) {
            (0, _) | (_, None) => &self.view_a,
            (_, Some(b)) => b,
        }
    }

    /// Output plane size for an `h × w` input (both views must agree, and a size-changing
    /// transform must have `p = 1`, so that every sample of a batch has one size).
    pub fn output_shape(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        let mut shapes = Vec::new();
        for v in 0..2 {
            let (mut ch, mut cw) = (h, w);
            for t in &self.view(v).transforms {
                let next = t.output_size(ch, cw);
                if next != (ch, cw) && t.p() < 1.0 {
                    return Err(AugmentError::InvalidParam {
                        transform: t.name(),
                        param: "p",
                        reason: format!(
                            "changes the size {ch}×{cw} -> {}×{} but fires with p = {} < 1",
                            next.0,
                            next.1,
                            t.p()
                        ),
                    });
                }
                (ch, cw) = next;
            }
            shapes.push((ch, cw));
        }
        if shapes[0] != shapes[1] {
            return Err(AugmentError::Shape {
                what: format!("pipeline {} views", self.name),
                expected: format!("{}×{}", shapes[0].0, shapes[0].1),
                got: format!("{}×{} for view_b", shapes[1].0, shapes[1].1),
            });
        }
        Ok(shapes[0])
    }

    /// Draws the parameters of one view for an `h × w` input.
    pub fn sample_params(&self, key: SampleKey, h: usize, w: usize) -> Vec<Params> {
        self.view(key.view).sample(&mut key.rng(), h, w)
    }

    /// Augments one input into `worker`'s plane and returns it (single grey plane). Inputs
    /// must have been validated ([`InputPlane::validate`]).
    pub fn augment<'w>(
        &self,
        input: &InputPlane,
        key: SampleKey,
        worker: &'w mut Worker,
    ) -> &'w Plane {
        let compose = self.view(key.view);
        let params = compose.sample(&mut key.rng(), input.h, input.w);
        compose.apply_input(&params, input, &mut worker.img, &mut worker.scratch);
        &worker.img
    }

    /// Augments one view of every input in parallel (rayon, one image per task) into `out`,
    /// an N×C×H×W f32 buffer (`N = inputs.len()`, C = `channels`, H×W = [`Self::output_shape`]).
    /// Sample `i` uses key `(seed, epoch, indices[i], view)` in the stream's domain.
    pub fn batch(
        &self,
        inputs: &[InputPlane],
        seed: impl Into<Stream>,
        epoch: u64,
        indices: &[u64],
        view: u64,
        out: &mut [f32],
    ) -> Result<()> {
        let per = self.check_batch(inputs, indices, out.len(), "out")?;
        let Stream { seed, domain } = seed.into();
        out.par_chunks_mut(per)
            .zip(inputs.par_iter().zip(indices.par_iter()))
            .for_each_init(Worker::default, |wk, (o, (inp, &index))| {
                let key = SampleKey {
                    seed,
                    epoch,
                    index,
                    view,
                    domain,
                };
                let c = self.channels;
                self.augment(inp, key, wk)
                    .write_replicated(c, o)
                    .expect("sizes checked");
            });
        Ok(())
    }

    /// Two views of every input (views 0 and 1), in parallel across images and views, into
    /// two N×C×H×W buffers: the self-supervised pair `(y_a, y_b)` ready to become tensors.
    ///
    /// ```
    /// use twinscan_augment::{InputPlane, Pipeline};
    /// let p = Pipeline::preset("study_barlow").unwrap();
    /// let img = vec![128u8; 128 * 128];
    /// let inputs = vec![InputPlane::u8(128, 128, &img); 4];
    /// let (h, w) = p.output_shape(128, 128).unwrap();
    /// let mut a = vec![0.0; 4 * p.channels * h * w];
    /// let mut b = a.clone();
    /// p.two_views_batch(&inputs, 7, 0, &[0, 1, 2, 3], &mut a, &mut b).unwrap();
    /// assert!(a.iter().all(|v| v.is_finite()));
    /// ```
    pub fn two_views_batch(
        &self,
        inputs: &[InputPlane],
        seed: impl Into<Stream>,
        epoch: u64,
        indices: &[u64],
        out_a: &mut [f32],
        out_b: &mut [f32],
    ) -> Result<()> {
        let per = self.check_batch(inputs, indices, out_a.len(), "out_a")?;
        self.check_batch(inputs, indices, out_b.len(), "out_b")?;
        let Stream { seed, domain } = seed.into();
        let a = out_a.par_chunks_mut(per).map(|c| (c, 0u64));
        let b = out_b.par_chunks_mut(per).map(|c| (c, 1u64));
        let n = inputs.len();
        a.chain(b)
            .enumerate()
            .for_each_init(Worker::default, |wk, (j, (o, view))| {
                let i = j % n;
                let key = SampleKey {
                    seed,
                    epoch,
                    index: indices[i],
                    view,
                    domain,
                };
                self.augment(&inputs[i], key, wk)
                    .write_replicated(self.channels, o)
                    .expect("sizes checked");
            });
        Ok(())
    }

    /// Checks inputs, indices and the output length; returns C·H·W per sample.
    fn check_batch(
        &self,
        inputs: &[InputPlane],
        indices: &[u64],
        out_len: usize,
        out_name: &str,
    ) -> Result<usize> {
        if inputs.len() != indices.len() {
            return Err(AugmentError::Shape {
                what: "batch indices".into(),
                expected: format!("{} (one per input)", inputs.len()),
                got: indices.len().to_string(),
            });
        }
        let mut per = 0;
        for (i, inp) in inputs.iter().enumerate() {
            inp.validate(&format!("batch input {i}"))?;
            let (h, w) = self.output_shape(inp.h, inp.w)?;
            let this = self.channels * h * w;
            if i > 0 && this != per {
                return Err(AugmentError::Shape {
                    what: format!("batch input {i} output"),
                    expected: format!("{per} values like input 0"),
                    got: format!("{this} values ({h}×{w})"),
                });
            }
            per = this;
        }
        if out_len != per * inputs.len() || per == 0 && out_len != 0 {
            return Err(AugmentError::Shape {
                what: format!("batch buffer {out_name}"),
                expected: format!("N×C×H×W = {} values", per * inputs.len()),
                got: format!("{out_len} values"),
            });
        }
        Ok(per.max(1))
    }
}
