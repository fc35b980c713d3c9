//! What the hand-written benchmarks share (the criterion ones get it from criterion).

/// Whether this run is a smoke test rather than a measurement: `cargo test --benches` runs a
/// bench target without `--bench`, and `cargo bench -- --test` adds `--test` (criterion's
/// convention). A smoke test runs every measurement once at a tiny size and skips the Python
/// anchors, so that CI catches a benchmark that crashes without paying for a real run.
pub fn smoke_test() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench")
}
