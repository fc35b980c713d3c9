//! Placeholder replaced by the prepare benchmark (criterion).
fn main() {}
