//! Placeholder replaced by the barlow_step benchmark.
fn main() {}
