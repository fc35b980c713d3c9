//! # twinscan-classify
//!
//! Will hold the per-slice organ classifier: the masked tri-state cross-entropy, frozen or
//! finetuned backbones, per-structure metrics with patient-level bootstrap intervals, and
//! result tables. Not yet implemented (see the project's issue on twinscan-classify).
