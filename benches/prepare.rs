//! Throughput of `prepare` (slices per second, end to end: read, label, resample, window,
//! PNG + cache + tables) on the synthetic cohort (NRRD and DICOM CT + RTSTRUCT) and on the
//! real DeepMind masks with a synthetic CT on each grid, side by side with the Python path
//! (scripts/prepare_python_anchor.py) on the same files.
//!
//! ```text
//! PREPARE_ANCHOR_PYTHON=/work/venvs/prepare/bin/python TWINSCAN_SHARED_DATA=../shared/data \
//!   cargo bench --no-default-features --bench prepare
//! ```
//! Environment: `PREPARE_BENCH_REPEAT` (default 3), `PREPARE_BENCH_DIR` (work folder, kept;
//! default a temporary folder), `PREPARE_BENCH_DEEPMIND_SCANS` (default 8),
//! `PREPARE_BENCH_THREADS` (default: rayon's, i.e. all cores), `PREPARE_ANCHOR_WORKERS`
//! (default 2). Without `PREPARE_ANCHOR_PYTHON` only the Rust side runs; without
//! `TWINSCAN_SHARED_DATA` the DeepMind row is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use twinscan_data::prepare::{PrepareConfig, prepare};
use twinscan_data::synth::{SynthConfig, SynthFormat, synthesise_ct_for_masks, write_cohort};

mod common;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Median wall seconds and slices of `prepare` on `input`.
fn rust_side(input: &Path, work: &Path, repeat: usize) -> (f64, usize) {
    let out = work.join("rust_out");
    let mut times = Vec::new();
    let mut slices = 0;
    for _ in 0..repeat {
        // The previous output is removed outside the timed region (as the Python side does).
        if out.exists() {
            std::fs::remove_dir_all(&out).expect("remove previous output");
        }
        let mut c = PrepareConfig::new(input, &out);
        c.threads = std::env::var("PREPARE_BENCH_THREADS")
            .ok()
            .and_then(|v| v.parse().ok());
        let t = Instant::now();
        let s = prepare(&c, &|_| {}).expect("prepare");
        times.push(t.elapsed().as_secs_f64());
        slices = s.counts.slices;
    }
    (median(times), slices)
}

/// Median wall seconds and slices of the Python anchor.
fn python_side(
    python: &str,
    input: &Path,
    layout: &str,
    work: &Path,
    repeat: usize,
) -> Option<(f64, usize)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/prepare_python_anchor.py");
    let workers = env_usize("PREPARE_ANCHOR_WORKERS", 2).to_string();
    let o = Command::new(python)
        .arg(&script)
        .args([
            "--input",
            input.to_str()?,
            "--out",
            work.join("py_out").to_str()?,
        ])
        .args([
            "--layout",
            layout,
            "--workers",
            &workers,
            "--repeat",
            &repeat.to_string(),
        ])
        .output()
        .ok()?;
    if !o.status.success() {
        eprintln!(
            "python anchor failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        return None;
    }
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()?
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&line).ok()?;
    Some((v["median_s"].as_f64()?, v["slices"].as_u64()? as usize))
}

fn main() {
    let smoke = common::smoke_test();
    let repeat = if smoke {
        1
    } else {
        env_usize("PREPARE_BENCH_REPEAT", 3)
    };
    let keep = std::env::var("PREPARE_BENCH_DIR").ok().map(PathBuf::from);
    let tmp = tempfile::tempdir().expect("temp dir");
    let work = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work).expect("work dir");
    let python = std::env::var("PREPARE_ANCHOR_PYTHON")
        .ok()
        .filter(|_| !smoke);

    let synth = if smoke {
        SynthConfig {
            scans: 2,
            size: 64,
            ..SynthConfig::default()
        }
    } else {
        SynthConfig::default() // 6 scans, 256 x 256, 2.5 mm
    };
    let mut cohorts: Vec<(String, PathBuf, &str)> = Vec::new();
    for (name, format) in [
        ("synthetic NRRD", SynthFormat::Nrrd),
        ("synthetic DICOM+RTSTRUCT", SynthFormat::Dicom),
    ] {
        let dir = work.join(name.replace([' ', '+'], "_"));
        if !dir.exists() {
            write_cohort(&dir, &synth, format).expect("synthetic cohort");
        }
        let layout = if format == SynthFormat::Dicom {
            "dicom"
        } else {
            "deepmind"
        };
        cohorts.push((
            format!("{name}, {} scans {}²", synth.scans, synth.size),
            dir,
            layout,
        ));
    }
    if let Some(shared) = std::env::var("TWINSCAN_SHARED_DATA")
        .ok()
        .filter(|_| !smoke)
    {
        let n = env_usize("PREPARE_BENCH_DEEPMIND_SCANS", 8);
        let dir = work.join(format!("deepmind_{n}"));
        if !dir.exists() {
            synthesise_ct_for_masks(
                &Path::new(&shared).join("tcia-hn-deepmind/nrrds"),
                &dir,
                Some(n),
            )
            .expect("deepmind tree");
        }
        cohorts.push((
            format!("DeepMind masks (21 per scan) + synthetic CT, {n} scans 512²"),
            dir,
            "deepmind",
        ));
    }

    println!("prepare benchmark: size 128, window 40:400, 8-bit PNG + cache; median of {repeat}");
    println!("load before: {}", loadavg());
    println!(
        "| cohort | slices | twinscan s | twinscan slices/s | Python s | Python slices/s | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, dir, layout) in &cohorts {
        let (rs, slices) = rust_side(dir, &work, repeat);
        let py = python
            .as_deref()
            .and_then(|p| python_side(p, dir, layout, &work, repeat));
        match py {
            Some((ps, pslices)) => {
                assert_eq!(pslices, slices, "both paths must see the same slices");
                println!(
                    "| {name} | {slices} | {rs:.2} | {:.0} | {ps:.2} | {:.0} | {:.1}x |",
                    slices as f64 / rs,
                    slices as f64 / ps,
                    ps / rs
                );
            }
            None => println!(
                "| {name} | {slices} | {rs:.2} | {:.0} | – | – | – |",
                slices as f64 / rs
            ),
        }
    }
    println!("load after: {}", loadavg());
}
