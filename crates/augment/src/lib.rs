//! # twinscan-augment
//!
//! The study's augmentations (albumentations 1.x semantics) on f32 planes: seeded, composable,
//! and parallel across images. Knows nothing of burn.
//!
//! * [`Plane`] / [`Image`]: one grey H×W plane (what every transform works on) and a C-plane
//!   container; [`InputPlane`] borrows 8-bit, 16-bit or f32 grey pixels.
//! * Transforms ([`transforms`], one file per family): serde parameter structs with `p` that
//!   implement [`Augmentation`] (`sample(rng, h, w) -> Params`, a deterministic `apply`); the
//!   [`Transform`] enum is what configs contain, generated with its dispatch by one macro.
//! * [`Compose`], [`OneOf`], and [`Pipeline`] (two views, presets, TOML/JSON configs).
//! * Reproducible randomness: view `(seed, epoch, index, view)` uses its own ChaCha8 stream
//!   ([`SampleKey`]), so batches are identical whatever the thread count or order.
//!
//! ```
//! use twinscan_augment::{InputPlane, Pipeline, SampleKey, Worker};
//! let pipe = Pipeline::preset("study_barlow").unwrap();
//! let pixels = vec![0.5f32; 128 * 128];
//! let mut worker = Worker::default();
//! let key = SampleKey { seed: 1, epoch: 0, index: 42, view: 0, domain: 0 };
//! let view = pipe.augment(&InputPlane::f32(128, 128, &pixels), key, &mut worker);
//! assert_eq!((view.h, view.w), (128, 128));
//! ```

pub mod compose;
pub mod error;
pub mod field;
pub mod kernels;
pub mod pipeline;
pub mod plane;
pub mod preset;
pub mod transforms;

pub use compose::{Compose, OneOf};
pub use error::{AugmentError, Result};
pub use pipeline::{NormalizeFrom, Pipeline, SampleKey, Stream, Worker};
pub use plane::{Image, InputPlane, Pixels, Plane, SourceRows};
pub use preset::PRESET_NAMES;
pub use transforms::{Augmentation, Params, Scratch, Transform};
