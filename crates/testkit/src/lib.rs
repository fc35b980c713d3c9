//! Helpers shared by twinscan's test suites (a dev-dependency only, never published): the
//! synthetic cohorts prepared once per test process ([`cohort`]), the gated fixture folders
//! under `../shared/fixtures` ([`fixtures`]), the accelerator devices named in
//! `TWINSCAN_PARITY_DEVICES` ([`devices`], feature `devices`) and the tiny run settings that
//! several suites must agree on ([`tiny`]).
//!
//! Layering (docs/architecture.md): this crate sits beside the libraries it tests, on
//! `twinscan-data` and (feature `devices`) `twinscan-models`; it never depends on
//! `twinscan-ssl` or `twinscan-classify`, whose tests use it. Helpers panic with a message
//! naming the file or variable: a test helper's failure is the test's failure.

pub mod cohort;
#[cfg(feature = "devices")]
pub mod devices;
pub mod fixtures;
pub mod tiny;

pub use cohort::Cohort;
pub use fixtures::{fixture_dir, read_json, read_npy};
