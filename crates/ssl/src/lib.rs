//! # twinscan-ssl
//!
//! Will hold Barlow Twins pretraining: the cross-correlation loss, the LARS optimiser, the
//! warm-up + cosine schedule, global-norm gradient clipping and the resumable pretraining loop.
//! Not yet implemented (see the project's issue on twinscan-ssl).
