//! The learning-rate schedule (linear warm-up, then cosine to `peak × end_factor`), which
//! moved to the shared training crate: see [`twinscan_train::schedule`]. Re-exported here so
//! `twinscan_ssl::schedule::WarmupCosine` and `twinscan_ssl::WarmupCosine` keep working.
//!
//! ```
//! use twinscan_ssl::{LarsConfig, LrScaling, WarmupCosine};
//! // Study: fixed base 8, 100 steps per epoch, 20 epochs, 10 of warm-up: the peaks of the
//! // study's LARS rates are 8 × 0.002 = 0.016 and 8 × 0.000048 = 0.000384.
//! let s = WarmupCosine::from_epochs(LrScaling::Fixed(8.0), 256, 100, 20, 10, 0.001)?;
//! let (w, b) = LarsConfig::study().learning_rates(s.multiplier(1000));
//! assert!((w - 0.016).abs() < 1e-12 && (b - 0.000384).abs() < 1e-12);
//! // Paper scaling is not capped: batch 2048 gives 8 × lr_weights 0.2 = 1.6 > 1.
//! let s = WarmupCosine::from_epochs(LrScaling::Paper, 2048, 10, 1000, 10, 0.001)?;
//! let (w, _) = LarsConfig::default().learning_rates(s.multiplier(100));
//! assert!((w - 1.6).abs() < 1e-12);
//! # Ok::<(), twinscan_train::TrainError>(())
//! ```

pub use twinscan_train::schedule::{LrScaling, WarmupCosine};
