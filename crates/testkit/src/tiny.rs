//! The tiny (CPU- and CI-sized) run settings that several suites must agree on, as plain
//! values: the device tests reuse the shapes of the CPU tests so that the kernels compiled
//! (and autotuned) for one are reused by the next (`tests/device_runs.rs`,
//! `crates/ssl/tests/device_step.rs`).

/// Side of the tiny runs' input slices; the shared cohorts ([`crate::cohort`]) are prepared
/// at it.
pub const IMAGE_SIZE: usize = 64;

/// Batch size of the tiny pretraining and classification runs.
pub const BATCH_SIZE: usize = 16;

/// The tiny pretraining: ResNet-10 at 64², projector 512-128-128, batch 16, 4 steps per
/// epoch, no warm-up.
///
/// The augmentation is `only:blur`: the full study pipeline (zoom ×1.75–2.5, 8 holes of 8×8,
/// elastic) is built for 128² and leaves two 64² views nearly uncorrelated under a random
/// ResNet, so its loss is dominated by batch noise over a handful of steps.
pub mod pretrain {
    /// Augmentation preset.
    pub const AUGMENT: &str = "only:blur";
    /// Projector widths.
    pub const PROJECTOR: &str = "512-128-128";
    /// Steps per epoch (`max_steps_per_epoch`).
    pub const STEPS_PER_EPOCH: u64 = 4;
    /// LARS weight learning rate: with η 0.001, a relative update of about 0.2 % per step, so
    /// that a few steps show learning.
    pub const LR_WEIGHTS: f64 = 2.0;
    /// LARS bias (and BatchNorm) learning rate.
    pub const LR_BIASES: f64 = 0.005;
    /// Run seed.
    pub const SEED: u64 = 11;
}

/// The tiny classification: ResNet-10 at 64², batch 16, 3 steps per epoch, evaluation in
/// batches of 64.
pub mod classify {
    /// Steps per epoch (`max_steps_per_epoch`).
    pub const STEPS_PER_EPOCH: u64 = 3;
    /// Evaluation batch size.
    pub const EVAL_BATCH_SIZE: usize = 64;
}
