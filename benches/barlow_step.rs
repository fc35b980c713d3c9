//! One Barlow Twins training step: `twinscan-ssl` on a burn device (`flex` on the CPU by
//! default) side by side with PyTorch running the study's step
//! (`scripts/bench_barlow_torch.py`) on the same CPU.
//!
//! ```text
//! cargo bench --bench barlow_step
//! BARLOW_BENCH_DEVICE=cuda BARLOW_BENCH_BATCH=256 BARLOW_BENCH_TORCH_THREADS= \
//!     cargo bench --features cuda --bench barlow_step     # a GPU; scripts/device_check.sh
//! ```
//!
//! The step: two views `[N, 3, S, S]` → ResNet-18 (zero-init residual) → projector
//! `512-8192-8192-8192` → Barlow Twins loss (λ 0.0051) → backward → global-norm clip at 1 →
//! LARS (study hyper-parameters). Reported: the median step time over `BARLOW_BENCH_STEPS`
//! steps after one warm-up step, images per second (`N` images — each seen in two views — per
//! step, the convention of the Barlow Twins code's throughput), and the peak resident memory
//! (`VmHWM`) of the process. Each measurement runs in its own child process (this binary
//! re-executed with `--phase`, or the Python script), so peaks do not mix. A second phase runs
//! the projector + loss + clip + LARS alone on random 512-d features, to show what share of
//! the step the 8192-wide MLP takes.
//!
//! Environment: `BARLOW_BENCH_DEVICE` (a `--device` string, default `cpu`),
//! `BARLOW_BENCH_DTYPE` (`f32` default, `bf16`, `f16`: the device's default float type, so
//! every tensor of the step — not a mixed-precision autocast as in PyTorch),
//! `BARLOW_BENCH_STEPS` (default 3), `BARLOW_BENCH_BATCH` (64), `BARLOW_BENCH_SIZE` (128),
//! `BARLOW_BENCH_PROJECTOR` (`512-8192-8192-8192`), `BARLOW_BENCH_TORCH_THREADS` (`1,2`; empty
//! = skip PyTorch; the CPU anchor — `scripts/device_check.sh` runs the GPU one itself),
//! `TWINSCAN_TORCH_PYTHON` (default `/work/venvs/torch/bin/python`).
//!
//! On an accelerator each timed step ends with `Device::sync`, and the JSON line carries the
//! adapter's name and the peak of what burn's allocator reserved on the device
//! (`device_reserved_mib`, sampled after every step; the process's GPU total, with the
//! runtime's own context, is what `nvidia-smi` shows).

use std::process::Command;
use std::time::Instant;

use twinscan_models::burn::optim::GradientsParams;
use twinscan_models::burn::tensor::{Device, Distribution, FloatDType, Tensor};
use twinscan_models::{DeviceSpec, ProjectorConfig, ResNetConfig, device_name};
use twinscan_ssl::{
    BarlowTwinsLossConfig, BarlowTwinsModel, LarsConfig, Trainer, clip_global_norm,
};

mod common;

struct Settings {
    steps: usize,
    batch: usize,
    size: usize,
    projector: String,
    device: String,
    dtype: String,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a valid value")),
        Err(_) => default,
    }
}

fn settings(smoke: bool) -> Settings {
    if smoke {
        return Settings {
            steps: 1,
            batch: 2,
            size: 32,
            projector: "512-64-64".into(),
            device: env_or("BARLOW_BENCH_DEVICE", "cpu".to_string()),
            dtype: env_or("BARLOW_BENCH_DTYPE", "f32".to_string()),
        };
    }
    Settings {
        steps: env_or("BARLOW_BENCH_STEPS", 3usize).max(1),
        batch: env_or("BARLOW_BENCH_BATCH", 64usize),
        size: env_or("BARLOW_BENCH_SIZE", 128usize),
        projector: env_or("BARLOW_BENCH_PROJECTOR", "512-8192-8192-8192".to_string()),
        device: env_or("BARLOW_BENCH_DEVICE", "cpu".to_string()),
        dtype: env_or("BARLOW_BENCH_DTYPE", "f32".to_string()),
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The benchmark's device (autodiff), with its default float type set to `BARLOW_BENCH_DTYPE`.
fn bench_device(s: &Settings) -> Device {
    let spec: DeviceSpec = s.device.parse().unwrap_or_else(|e| panic!("{e}"));
    let mut device = spec.device().unwrap_or_else(|e| panic!("{e}"));
    let dtype = match s.dtype.as_str() {
        "f32" => None,
        "bf16" => Some(FloatDType::BF16),
        "f16" => Some(FloatDType::F16),
        other => panic!("BARLOW_BENCH_DTYPE={other}: f32, bf16 or f16"),
    };
    if let Some(dtype) = dtype {
        assert!(
            device.supports_dtype(dtype),
            "{} does not support {dtype:?}",
            s.device
        );
        device
            .configure(dtype)
            .unwrap_or_else(|e| panic!("{}: {dtype:?}: {e:?}", s.device));
    }
    device.autodiff()
}

/// What burn's allocator holds on the device now (MiB), where the backend reports it.
fn reserved_mib(device: &Device) -> Option<f64> {
    device
        .memory_pool_usage()
        .map(|u| u.bytes_reserved as f64 / (1024.0 * 1024.0))
}

/// Runs one phase in this process and prints one JSON line.
fn run_phase(phase: &str, s: &Settings) {
    let device = bench_device(s);
    let label = format!("burn-{}", s.device);
    let mut peak_reserved: Option<f64> = None;
    let mut sample = |device: &Device| {
        device.sync().expect("device sync");
        if let Some(m) = reserved_mib(device) {
            peak_reserved = Some(peak_reserved.map_or(m, |p: f64| p.max(m)));
        }
    };
    let lars = LarsConfig::study();
    let trainer = Trainer {
        loss: BarlowTwinsLossConfig::default().init().unwrap().into(),
        lars,
        clip_norm: Some(1.0),
    };
    let projector_cfg: ProjectorConfig = s.projector.parse().unwrap();
    let mut optim = lars.init().unwrap();
    let mut times = Vec::new();
    match phase {
        "full" => {
            let encoder = ResNetConfig::resnet18()
                .with_zero_init_residual(true)
                .init(&device)
                .unwrap();
            let mut model = BarlowTwinsModel::new(encoder, projector_cfg.init(&device)).unwrap();
            for i in 0..=s.steps {
                let shape = [s.batch, 3, s.size, s.size];
                let y1 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
                let y2 = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
                let t = Instant::now();
                let (m, stats) = trainer
                    .step(model, &mut optim, y1, y2, 8.0, i as u64)
                    .unwrap();
                model = m;
                sample(&device);
                let dt = t.elapsed().as_secs_f64();
                eprintln!("  {label} full step {i}: {dt:.2} s, loss {:.1}", stats.loss);
                if i > 0 {
                    times.push(dt);
                }
            }
        }
        "projector" => {
            let mut projector = projector_cfg.init(&device);
            let width = projector_cfg.input_width();
            for i in 0..=s.steps {
                let f1 = Tensor::<2>::random([s.batch, width], Distribution::Default, &device);
                let f2 = Tensor::<2>::random([s.batch, width], Distribution::Default, &device);
                let t = Instant::now();
                let out = trainer
                    .loss
                    .forward(projector.forward(f1), projector.forward(f2))
                    .unwrap();
                let loss = out.loss.clone().into_scalar::<f32>();
                let mut grads = GradientsParams::from_grads(out.loss.backward(), &projector);
                clip_global_norm(&projector, &mut grads, 1.0).unwrap();
                projector = optim.step(8.0, projector, grads);
                // Force the lazy parts of the update before stopping the clock.
                let _ = projector
                    .last
                    .weight
                    .val()
                    .slice([0..1, 0..1])
                    .into_scalar::<f32>();
                sample(&device);
                let dt = t.elapsed().as_secs_f64();
                eprintln!("  {label} projector step {i}: {dt:.2} s, loss {loss:.1}");
                if i > 0 {
                    times.push(dt);
                }
            }
        }
        other => panic!("unknown phase {other}"),
    }
    let t = median(times);
    let line = serde_json::json!({
        "impl": label,
        "device_name": device_name(&device),
        "dtype": s.dtype,
        "phase": phase,
        "threads": null,
        "batch": s.batch,
        "size": s.size,
        "step_s": (t * 1e4).round() / 1e4,
        "images_per_s": (s.batch as f64 / t * 1e3).round() / 1e3,
        "peak_rss_mib": peak_rss_mib().round(),
        "device_reserved_mib": peak_reserved.map(f64::round),
    });
    println!("{line}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = common::smoke_test();
    let s = settings(smoke);
    if let Some(i) = args.iter().position(|a| a == "--phase") {
        run_phase(&args[i + 1], &s);
        return;
    }
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "barlow_step: batch {} (x2 views), {}x{}, ResNet-18 + projector {}, {} timed steps, \
         device {} ({})",
        s.batch, s.size, s.size, s.projector, s.steps, s.device, s.dtype
    );
    println!("loadavg before: {}", load().trim());
    let exe = std::env::current_exe().unwrap();
    let mut lines = Vec::new();
    for phase in ["full", "projector"] {
        let out = Command::new(&exe)
            .args(["--phase", phase, if smoke { "--test" } else { "--bench" }])
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("re-run the bench binary");
        assert!(out.status.success(), "phase {phase} failed");
        lines.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(String::from),
        );
    }
    let threads = if smoke {
        String::new()
    } else {
        std::env::var("BARLOW_BENCH_TORCH_THREADS").unwrap_or_else(|_| "1,2".into())
    };
    let python = std::env::var("TWINSCAN_TORCH_PYTHON")
        .unwrap_or_else(|_| "/work/venvs/torch/bin/python".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench_barlow_torch.py");
    for t in threads.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        for phase in ["full", "projector"] {
            let out = Command::new(&python)
                .args([script, "--phase", phase, "--threads", t])
                .args([
                    "--steps",
                    &s.steps.to_string(),
                    "--batch",
                    &s.batch.to_string(),
                ])
                .args(["--size", &s.size.to_string(), "--projector", &s.projector])
                .stderr(std::process::Stdio::inherit())
                .output();
            match out {
                Ok(o) if o.status.success() => {
                    lines.extend(String::from_utf8_lossy(&o.stdout).lines().map(String::from))
                }
                Ok(o) => eprintln!("PyTorch anchor ({phase}, {t} threads) failed: {}", o.status),
                Err(e) => {
                    eprintln!("note: PyTorch anchor not run ({python}: {e})");
                    break;
                }
            }
        }
    }
    println!("loadavg after: {}", load().trim());
    println!("results (one JSON object per line):");
    for l in &lines {
        println!("{l}");
    }
}
