//! # twinscan
//!
//! Facade over the twinscan crates: self-supervised (Barlow Twins) pretraining of CT image
//! encoders and an honest downstream per-slice organ classifier.
//!
//! | module | crate | knows burn |
//! |---|---|---|
//! | [`data`] | `twinscan-data` | no |
//! | [`augment`] | `twinscan-augment` | no |
//! | [`models`] | `twinscan-models` | yes |
//! | [`ssl`] | `twinscan-ssl` | yes |
//! | [`classify`] | `twinscan-classify` | yes |
//!
//! With the `train` feature, [`experiment`] runs a TOML grid of pretrainings and
//! classification runs (the `experiment` and `quickstart` examples), [`predict`] runs a saved
//! classifier on new scans, [`embed`] exports an encoder's features of a prepared dataset and
//! [`quickstart`] runs the README's main job on a synthetic cohort.
//! [`cli`] holds the example binaries' command lines and shared `main`, [`progress`] their
//! progress bars.

pub use twinscan_augment as augment;

mod input;
pub use input::slice_input;
#[cfg(feature = "train")]
pub use twinscan_classify as classify;
pub use twinscan_data as data;
#[cfg(feature = "train")]
pub use twinscan_models as models;
#[cfg(feature = "train")]
pub use twinscan_ssl as ssl;

pub mod cli;
#[cfg(feature = "train")]
pub mod embed;
#[cfg(feature = "train")]
pub mod experiment;
#[cfg(feature = "train")]
pub mod predict;
#[cfg(feature = "train")]
pub mod pretrain_curves;
pub mod preview;
pub mod progress;
#[cfg(feature = "train")]
pub mod quickstart;
