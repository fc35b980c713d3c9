//! Criterion benchmark of the per-structure metrics with the patient-level bootstrap, against
//! the scikit-learn loop in `scripts/classify_bootstrap_anchor.py` (same workload shape).
//!
//! Workload: a test split of 30 patients × 150 slices × 21 structures (94 500 predictions,
//! ~15 % unknown labels), B = 1000 replicates (`evaluate/b1000`) and point metrics only
//! (`evaluate/b0`). One thread.
//!
//! Run: `nice cargo bench -p twinscan-classify --bench bootstrap --profile release` (reuses the
//! release build of burn that the tests use; the bench profile would rebuild it).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use twinscan_classify::metrics::{BootstrapConfig, MetricsConfig, Samples};

const PATIENTS: usize = 30;
const SLICES: usize = 150;
const STRUCTURES: usize = 21;

/// Deterministic pseudo-random test split (xorshift), labels correlated with probabilities.
fn workload() -> Samples {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut s = Samples::new();
    for st in 0..STRUCTURES {
        s.add_structure(&format!("S{st:02}"));
    }
    for p in 0..PATIENTS {
        let patient = format!("P{p:03}");
        for _z in 0..SLICES {
            for st in 0..STRUCTURES {
                let u = rnd();
                let label = if u < 0.15 {
                    0
                } else if u < 0.5 {
                    1
                } else {
                    -1
                };
                let base = if label == 1 { 0.65 } else { 0.35 };
                // Rounded to 3 decimals: ties, as a float32 model output rounded would give.
                let prob = ((base + (rnd() - 0.5) * 0.8).clamp(0.0, 1.0) * 1000.0).round() / 1000.0;
                s.push(&format!("S{st:02}"), &patient, label, prob).unwrap();
            }
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let samples = workload();
    let mut g = c.benchmark_group("evaluate");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for b in [0usize, 1000] {
        let cfg = MetricsConfig {
            bootstrap: BootstrapConfig {
                replicates: b,
                ..Default::default()
            },
            ..Default::default()
        };
        g.bench_function(format!("b{b}"), |bench| {
            bench.iter(|| black_box(samples.evaluate(black_box(&cfg)).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
