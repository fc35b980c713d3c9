//! The learning-rate schedule of Barlow Twins (and the classifier's SGD + cosine) as a plain
//! function of the optimiser step.
//!
//! As in the reference code (`adjust_learning_rate`): with `base` the scaling multiplier,
//!
//! ```text
//! step <  W:  m = base · step / W                                    (linear from 0)
//! step >= W:  q = ½ (1 + cos(π (step − W) / (T − W)))
//!             m = base · q + base · end · (1 − q)                    (cosine to base·end)
//! ```
//!
//! with `W` the warm-up steps (10 epochs), `T` the total steps and `end` = 0.001. The
//! multiplier `m` is what twinscan-ssl's LARS receives as its learning rate; it multiplies it
//! by `lr_weights` or `lr_biases`, so the peaks are `lr_weights × base` and `lr_biases × base`.
//! The classifier's SGD + cosine (the reference linear evaluation) is the same function with
//! no warm-up, `base` its learning rate and `end_factor` 0.
//! Nothing is capped at 1.0 (burn's built-in schedulers reject rates above 1, which the paper's
//! scaling exceeds for batch ≥ 1280).

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// How the base multiplier of the schedule is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrScaling {
    /// The paper: `batch / 256` (linear scaling rule).
    Paper,
    /// A fixed multiplier independent of the batch; the study hard-coded 8 (peaks 0.016 and
    /// 0.000384 with its `lr_weights` 0.002 and `lr_biases` 0.000048).
    Fixed(f64),
}

impl LrScaling {
    /// The base multiplier for a batch size (images per step, one view).
    pub fn base(&self, batch_size: usize) -> f64 {
        match *self {
            LrScaling::Paper => batch_size as f64 / 256.0,
            LrScaling::Fixed(b) => b,
        }
    }
}

/// Linear warm-up from 0 then cosine decay to `base × end_factor`, as a function of the step.
///
/// ```
/// use twinscan_train::WarmupCosine;
/// // batch 512 (paper scaling: base 2), 10 warm-up steps, 110 steps in all.
/// let s = WarmupCosine::new(2.0, 10, 110, 0.001)?;
/// assert_eq!(s.multiplier(0), 0.0);
/// assert!((s.multiplier(5) - 1.0).abs() < 1e-12);      // half-way through warm-up
/// assert!((s.multiplier(10) - 2.0).abs() < 1e-12);     // the peak, not capped at 1
/// assert!((s.multiplier(60) - 1.001).abs() < 1e-12);   // cosine mid-point: (2 + 0.002) / 2
/// assert!((s.multiplier(110) - 0.002).abs() < 1e-12);  // the end: base × 0.001
/// # Ok::<(), twinscan_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WarmupCosine {
    /// The peak multiplier (`batch/256` or a fixed value).
    pub base: f64,
    /// Warm-up steps `W` (the reference uses 10 epochs' worth).
    pub warmup_steps: u64,
    /// Total steps `T` of the run (epochs × steps per epoch).
    pub total_steps: u64,
    /// The multiplier ends at `base × end_factor` (0.001 in the reference).
    pub end_factor: f64,
}

impl WarmupCosine {
    /// Builds a schedule.
    ///
    /// # Errors
    /// [`TrainError::InvalidConfig`] if `base` or `end_factor` is negative or not finite, or
    /// `total_steps` is 0.
    pub fn new(base: f64, warmup_steps: u64, total_steps: u64, end_factor: f64) -> Result<Self> {
        if !(base.is_finite() && base >= 0.0) {
            return Err(TrainError::InvalidConfig {
                field: "schedule.base",
                reason: format!("must be finite and >= 0, got {base}"),
            });
        }
        if !(end_factor.is_finite() && end_factor >= 0.0) {
            return Err(TrainError::InvalidConfig {
                field: "schedule.end_factor",
                reason: format!("must be finite and >= 0, got {end_factor}"),
            });
        }
        if total_steps == 0 {
            return Err(TrainError::InvalidConfig {
                field: "schedule.total_steps",
                reason: "must be > 0".into(),
            });
        }
        Ok(Self {
            base,
            warmup_steps,
            total_steps,
            end_factor,
        })
    }

    /// The schedule of a run measured in epochs (the reference: 10 warm-up epochs).
    ///
    /// # Errors
    /// As [`new`](Self::new); also if `steps_per_epoch` or `epochs` is 0.
    pub fn from_epochs(
        scaling: LrScaling,
        batch_size: usize,
        steps_per_epoch: u64,
        epochs: u64,
        warmup_epochs: u64,
        end_factor: f64,
    ) -> Result<Self> {
        if steps_per_epoch == 0 || epochs == 0 {
            return Err(TrainError::InvalidConfig {
                field: "schedule.epochs",
                reason: format!(
                    "epochs ({epochs}) and steps per epoch ({steps_per_epoch}) must be > 0"
                ),
            });
        }
        Self::new(
            scaling.base(batch_size),
            warmup_epochs * steps_per_epoch,
            epochs * steps_per_epoch,
            end_factor,
        )
    }

    /// The multiplier at optimiser step `step` (0-based, the value used for that step).
    ///
    /// Runs shorter than the warm-up stay in the warm-up; steps past `total_steps` stay at the
    /// end value.
    pub fn multiplier(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.base * step as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let t = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
        let q = 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
        let end = self.base * self.end_factor;
        self.base * q + end * (1.0 - q)
    }
}

/// Checks the length settings every training run has: `epochs` > 0, `batch_size` ≥ 2
/// (BatchNorm needs batch statistics) and, when set, `max_steps_per_epoch` > 0. Both run
/// configurations call it from their `validate`.
///
/// ```
/// use twinscan_train::schedule::check_run_length;
/// assert!(check_run_length(10, 256, None).is_ok());
/// let e = check_run_length(10, 1, None).unwrap_err();
/// assert!(e.to_string().contains("`batch_size`"), "{e}");
/// assert!(check_run_length(0, 256, None).is_err());
/// assert!(check_run_length(10, 256, Some(0)).is_err());
/// ```
///
/// # Errors
/// [`TrainError::InvalidConfig`] naming the first bad field.
pub fn check_run_length(
    epochs: u64,
    batch_size: usize,
    max_steps_per_epoch: Option<u64>,
) -> Result<()> {
    let bad =
        |field: &'static str, reason: String| Err(TrainError::InvalidConfig { field, reason });
    if epochs == 0 {
        return bad("epochs", "must be > 0".into());
    }
    if batch_size < 2 {
        return bad(
            "batch_size",
            format!("must be >= 2 (BatchNorm batch statistics), got {batch_size}"),
        );
    }
    if max_steps_per_epoch == Some(0) {
        return bad("max_steps_per_epoch", "must be > 0 when set".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn study_schedule_hand_values() {
        // Study: fixed base 8, 100 steps/epoch, 20 epochs, 10 warm-up epochs → W 1000, T 2000.
        let s = WarmupCosine::from_epochs(LrScaling::Fixed(8.0), 256, 100, 20, 10, 0.001).unwrap();
        assert_eq!(s.warmup_steps, 1000);
        assert_eq!(s.total_steps, 2000);
        assert_eq!(s.multiplier(0), 0.0);
        assert!((s.multiplier(250) - 2.0).abs() < 1e-12);
        assert!((s.multiplier(1000) - 8.0).abs() < 1e-12);
        // A quarter into the cosine: q = ½(1 + cos(π/4)) = 0.853553390593;
        // m = 8q + 0.008(1 − q) = 6.829598...
        let q = 0.5 * (1.0 + std::f64::consts::FRAC_1_SQRT_2);
        let expected = 8.0 * q + 0.008 * (1.0 - q);
        assert!((expected - 6.829598).abs() < 1e-6);
        assert!((s.multiplier(1250) - expected).abs() < 1e-12);
        assert!((s.multiplier(2000) - 0.008).abs() < 1e-12);
        assert!((s.multiplier(5000) - 0.008).abs() < 1e-12);
    }

    #[test]
    fn paper_scaling_is_not_capped() {
        assert_eq!(LrScaling::Paper.base(2048), 8.0);
        let s = WarmupCosine::from_epochs(LrScaling::Paper, 2048, 10, 1000, 10, 0.001).unwrap();
        // The peak 8 (× LARS's lr_weights 0.2 = 1.6 > 1: see twinscan-ssl's lars tests).
        assert!((s.multiplier(100) - 8.0).abs() < 1e-12);
    }

    #[test]
    fn no_warmup_and_short_runs() {
        let s = WarmupCosine::new(1.0, 0, 4, 0.0).unwrap();
        // cos schedule over 4 steps: 1, ½(1+cos(π/4)), ½, ½(1−cos(π/4)), 0.
        let want = [
            1.0,
            0.853_553_390_593_273_8,
            0.5,
            0.146_446_609_406_726_2,
            0.0,
        ];
        for (i, w) in want.iter().enumerate() {
            assert!((s.multiplier(i as u64) - w).abs() < 1e-12, "step {i}");
        }
        // A run shorter than its warm-up never leaves it.
        let s = WarmupCosine::new(1.0, 10, 5, 0.001).unwrap();
        assert!((s.multiplier(4) - 0.4).abs() < 1e-12);
        assert!(WarmupCosine::new(1.0, 0, 0, 0.001).is_err());
        assert!(WarmupCosine::new(f64::NAN, 0, 1, 0.001).is_err());
        assert!(WarmupCosine::from_epochs(LrScaling::Paper, 64, 0, 1, 0, 0.001).is_err());
    }
}
