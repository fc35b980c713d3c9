//! # twinscan-augment
//!
//! The study's augmentations (albumentations 1.x semantics) on f32 planes: seeded, composable,
//! and parallel across images. Knows nothing of burn.
