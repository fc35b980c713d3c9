//! Placeholder replaced by the augment benchmark (criterion).
fn main() {}
