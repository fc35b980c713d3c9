//! Placeholder replaced by the resnet benchmark.
fn main() {}
