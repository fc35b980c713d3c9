//! ResNet-18 throughput on a burn device, optionally side by side with PyTorch.
//!
//! Measures images/s at batch 32, 3×128×128 (torchvision `resnet18(num_classes=14)` topology):
//! - `forward`: inference (`model.valid()` on the plain device), forward + host read;
//! - `train step`: forward + BCE-with-logits + backward + SGD(momentum 0.9) step + host read
//!   of the loss, on the autodiff device.
//!
//! Median over `TWINSCAN_BENCH_ITERS` (5) timed runs after `TWINSCAN_BENCH_WARMUP` (2).
//! "cores" = process CPU time / wall time during the timed runs (2.0 = both cores busy).
//! Device: `TWINSCAN_DEVICE` (cpu|flex|wgpu|vulkan|tch|cuda[:N], default flex).
//! PyTorch anchor in the same run: set `TWINSCAN_TORCH_PYTHON` to a Python with torch and
//! torchvision (e.g. /work/venvs/torch/bin/python); it runs `scripts/bench_resnet_torch.py`
//! with 1 and 2 threads and the table gets ratios against PyTorch with 2 threads.
//!
//! With `TWINSCAN_BENCH_OPS=1` it first times the single convolutions of ResNet-18 (forward,
//! input gradient, weight gradient) with their core usage: the reproduction of where the
//! CPU backend leaves the second core idle (docs/benchmarks.md).
//!
//! `cargo bench --bench resnet` (release profile, default feature `flex`).

use std::process::Command;
use std::time::Instant;

use twinscan_models::burn::module::Module;
use twinscan_models::burn::optim::momentum::MomentumConfig;
use twinscan_models::burn::optim::{GradientsParams, SgdConfig};
use twinscan_models::burn::tensor::{Device, Distribution, Tensor};
use twinscan_models::{DeviceSpec, ResNet, ResNetConfig};

mod common;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Process CPU time (user + system) in seconds, from /proc/self/stat (Linux; 100 ticks/s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3; utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// CPU seconds of every thread of this process, by thread id (/proc/self/task/*/stat).
fn thread_cpu() -> std::collections::HashMap<String, f64> {
    let mut out = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            out.insert(
                entry.file_name().to_string_lossy().into_owned(),
                (tick(11) + tick(12)) / 100.0,
            );
        }
    }
    out
}

/// Share of the CPU time spent between two snapshots by the busiest thread (1.0 = all work
/// on one thread) and the number of threads with at least 10 % of it. Unlike CPU/wall, this
/// does not depend on how loaded the machine is.
fn thread_spread(
    before: &std::collections::HashMap<String, f64>,
    after: &std::collections::HashMap<String, f64>,
) -> (f64, usize) {
    let deltas: Vec<f64> = after
        .iter()
        .map(|(k, v)| v - before.get(k).copied().unwrap_or(0.0))
        .collect();
    let total: f64 = deltas.iter().sum();
    if total <= 0.0 {
        return (f64::NAN, 0);
    }
    let top = deltas.iter().cloned().fold(0.0, f64::max);
    let active = deltas.iter().filter(|&&d| d >= 0.1 * total).count();
    (top / total, active)
}

/// Share of the CPU time spent by the main thread (thread id = process id).
fn main_share(
    before: &std::collections::HashMap<String, f64>,
    after: &std::collections::HashMap<String, f64>,
) -> f64 {
    let pid = std::process::id().to_string();
    let total: f64 = after
        .iter()
        .map(|(k, v)| v - before.get(k).copied().unwrap_or(0.0))
        .sum();
    let main = after.get(&pid).copied().unwrap_or(0.0) - before.get(&pid).copied().unwrap_or(0.0);
    if total > 0.0 { main / total } else { f64::NAN }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

struct Timing {
    img_s: f64,
    cores: f64,
    /// CPU share of the busiest thread (1.0 = single-threaded).
    top_share: f64,
    /// Threads with ≥ 10 % of the CPU time.
    active: usize,
    /// CPU share of the main thread (the serial part of the work).
    main: f64,
}

/// Runs `step` warm-up + iters times; returns median images/s and CPU/wall over the timed runs.
fn measure(batch: usize, warmup: usize, iters: usize, mut step: impl FnMut()) -> Timing {
    for _ in 0..warmup {
        step();
    }
    let mut secs = Vec::with_capacity(iters);
    let threads0 = thread_cpu();
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    for _ in 0..iters {
        let t = Instant::now();
        step();
        secs.push(t.elapsed().as_secs_f64());
    }
    let cores = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64();
    let threads1 = thread_cpu();
    let (top_share, active) = thread_spread(&threads0, &threads1);
    let main = main_share(&threads0, &threads1);
    secs.sort_by(f64::total_cmp);
    Timing {
        img_s: batch as f64 / secs[secs.len() / 2],
        cores,
        top_share,
        active,
        main,
    }
}

/// Mean BCE-with-logits, written with tensor ops (numerically stable form).
fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let softplus = logits.clone().abs().neg().exp().add_scalar(1.0).log();
    (logits.clone().clamp_min(0.0) - logits * targets + softplus).mean()
}

fn bench_burn(
    spec: DeviceSpec,
    batch: usize,
    size: usize,
    warmup: usize,
    iters: usize,
) -> (Timing, Timing) {
    let device = spec.device().unwrap_or_else(|e| panic!("{e}"));
    let train_device = device.clone().autodiff();
    let config = ResNetConfig::resnet18().with_num_classes(Some(14));

    // Inference.
    let model = config.init(&device).expect("config").valid();
    let x = Tensor::<4>::random([batch, 3, size, size], Distribution::Default, &device);
    let infer = measure(batch, warmup, iters, || {
        let y = model.forward(x.clone());
        let _ = y.sum().into_scalar::<f32>();
    });

    // Training step.
    let mut model: Option<ResNet> = Some(config.init(&train_device).expect("config"));
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(0.9)))
        .init();
    let x = Tensor::<4>::random([batch, 3, size, size], Distribution::Default, &train_device);
    let y = Tensor::<2>::random([batch, 14], Distribution::Bernoulli(0.3), &train_device);
    let train = measure(batch, warmup, iters, || {
        let m = model.take().expect("model");
        let loss = bce_with_logits(m.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        let m = optim.step(0.01, m, grads);
        let _ = loss.into_scalar::<f32>();
        model = Some(m);
    });
    (infer, train)
}

struct TorchRow {
    threads: usize,
    infer: f64,
    train: f64,
    cores_train: f64,
}

fn bench_torch(
    python: &str,
    batch: usize,
    size: usize,
    warmup: usize,
    iters: usize,
) -> Vec<TorchRow> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench_resnet_torch.py");
    let out = Command::new(python)
        .args([script, "--threads", "1", "2", "--json"])
        .args(["--batch", &batch.to_string(), "--size", &size.to_string()])
        .args([
            "--warmup",
            &warmup.to_string(),
            "--iters",
            &iters.to_string(),
        ])
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!(
                "PyTorch anchor failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return Vec::new();
        }
        Err(e) => {
            eprintln!("cannot run {python}: {e}");
            return Vec::new();
        }
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| TorchRow {
            threads: v["threads"].as_u64().unwrap_or(0) as usize,
            infer: v["infer_img_s"].as_f64().unwrap_or(f64::NAN),
            train: v["train_img_s"].as_f64().unwrap_or(f64::NAN),
            cores_train: v["train_cores"].as_f64().unwrap_or(f64::NAN),
        })
        .collect()
}

/// Times one convolution at ResNet-18 shapes: forward on the plain device, forward + backward
/// for the weight gradient only, and for the input gradient only (autodiff device).
fn bench_conv(device: &Device, name: &str, [n, cin, h, cout, k, stride]: [usize; 6], iters: usize) {
    use twinscan_models::burn::tensor::module::conv2d;
    use twinscan_models::burn::tensor::ops::ConvOptions;
    let pad = k / 2;
    let options = || ConvOptions::new([stride, stride], [pad, pad], [1, 1], 1);
    let x = Tensor::<4>::random([n, cin, h, h], Distribution::Default, device);
    let w = Tensor::<4>::random([cout, cin, k, k], Distribution::Default, device);
    let fwd = measure(n, 1, iters, || {
        let _ = conv2d(x.clone(), w.clone(), None, options())
            .sum()
            .into_scalar::<f32>();
    });
    let ad = device.clone().autodiff();
    let (xa, wa) = (x.clone().autodiff(), w.clone().autodiff());
    let wgrad = measure(n, 1, iters, || {
        let wr = wa.clone().require_grad();
        let grads = conv2d(xa.clone(), wr.clone(), None, options())
            .sum()
            .backward();
        let _ = wr.grad(&grads).map(|g| g.sum().into_scalar::<f32>());
    });
    let xgrad = measure(n, 1, iters, || {
        let xr = xa.clone().require_grad();
        let grads = conv2d(xr.clone(), wa.clone(), None, options())
            .sum()
            .backward();
        let _ = xr.grad(&grads).map(|g| g.sum().into_scalar::<f32>());
    });
    let _ = ad;
    let ms = |t: &Timing| 1000.0 * n as f64 / t.img_s;
    let cell = |t: &Timing| {
        format!(
            "{:.1} ({:.2}; {:.0}% / {})",
            ms(t),
            t.cores,
            100.0 * t.top_share,
            t.active
        )
    };
    println!(
        "| {name} | {} | {} | {} |",
        cell(&fwd),
        cell(&wgrad),
        cell(&xgrad)
    );
}

/// Non-convolution work of a training step at the layer1 activation shape: BatchNorm
/// (training statistics) + ReLU + residual add, forward and backward.
fn bench_elementwise(device: &Device, shape: [usize; 4], iters: usize) {
    use twinscan_models::burn::tensor::activation::relu;
    use twinscan_models::burn::tensor::module::batch_norm_train;
    let n = shape[0];
    let c = shape[1];
    let ad = device.clone().autodiff();
    let x = Tensor::<4>::random(shape, Distribution::Default, &ad);
    let r = Tensor::<4>::random(shape, Distribution::Default, &ad);
    let gamma = Tensor::<1>::ones([c], &ad);
    let beta = Tensor::<1>::zeros([c], &ad);
    let fwd_bwd = measure(n, 1, iters, || {
        let xr = x.clone().require_grad();
        let out = batch_norm_train(xr.clone(), gamma.clone(), beta.clone(), 1e-5);
        let y = relu(out.output + r.clone());
        let grads = y.sum().backward();
        let _ = xr.grad(&grads).map(|g| g.sum().into_scalar::<f32>());
    });
    let plain = x.clone().without_autodiff();
    let rp = r.clone().without_autodiff();
    let add = measure(n, 1, iters, || {
        let y = relu(plain.clone() + rp.clone()).mul_scalar(2.0);
        let _ = y.sum().into_scalar::<f32>();
    });
    let g4 = Tensor::<4>::ones([1, c, 1, 1], device);
    let bcast = measure(n, 1, iters, || {
        let y = plain.clone() * g4.clone();
        let _ = y.sum().into_scalar::<f32>();
    });
    let ms = |t: &Timing| 1000.0 * n as f64 / t.img_s;
    println!(
        "| x * gamma[1,C,1,1] (broadcast) fwd {shape:?} | {:.1} ({:.2}; {:.0}% / {}; main {:.0}%) | | |",
        ms(&bcast),
        bcast.cores,
        100.0 * bcast.top_share,
        bcast.active,
        100.0 * bcast.main
    );
    println!(
        "| BN(train)+add+ReLU fwd+bwd {shape:?} | {:.1} ({:.2}; {:.0}% / {}) | add+ReLU+scale fwd only: {:.1} ({:.2}; {:.0}% / {}) | |",
        ms(&fwd_bwd),
        fwd_bwd.cores,
        100.0 * fwd_bwd.top_share,
        fwd_bwd.active,
        ms(&add),
        add.cores,
        100.0 * add.top_share,
        add.active
    );
}

fn bench_ops(spec: DeviceSpec, batch: usize, size: usize, iters: usize) {
    let device = spec.device().unwrap_or_else(|e| panic!("{e}"));
    let s = size;
    println!(
        "\nconvolutions of ResNet-18 at batch {batch}, ms per call (CPU/wall; busiest thread's share of CPU time / threads with >= 10 %): forward | \
         fwd+bwd weight grad | fwd+bwd input grad\n| conv | forward | +weight grad | +input grad |\n|---|---|---|---|"
    );
    for (name, shape) in [
        ("stem 3->64 7x7/2", [batch, 3, s, 64, 7, 2]),
        ("layer1 64->64 3x3", [batch, 64, s / 4, 64, 3, 1]),
        ("layer2 128->128 3x3", [batch, 128, s / 8, 128, 3, 1]),
        ("layer3 256->256 3x3", [batch, 256, s / 16, 256, 3, 1]),
        ("layer4 512->512 3x3", [batch, 512, s / 32, 512, 3, 1]),
        ("layer2.0 down 64->128 1x1/2", [batch, 64, s / 4, 128, 1, 2]),
    ] {
        bench_conv(&device, name, shape, iters);
    }
    bench_elementwise(&device, [batch, 64, s / 4, s / 4], iters);
    println!();
}

fn main() {
    let smoke = common::smoke_test();
    let (batch, size, iters, warmup) = if smoke {
        (2, 32, 1, 0)
    } else {
        (
            env_usize("TWINSCAN_BENCH_BATCH", 32),
            env_usize("TWINSCAN_BENCH_SIZE", 128),
            env_usize("TWINSCAN_BENCH_ITERS", 5).max(1),
            env_usize("TWINSCAN_BENCH_WARMUP", 2),
        )
    };
    // `TWINSCAN_BENCH_DEVICES=flex,tch` benches several backends side by side in one run;
    // otherwise the one device of `TWINSCAN_DEVICE` (default flex).
    let specs: Vec<DeviceSpec> = match std::env::var("TWINSCAN_BENCH_DEVICES") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|s| DeviceSpec::parse_from(s.trim(), "TWINSCAN_BENCH_DEVICES"))
            .collect::<Result<_, _>>(),
        _ => DeviceSpec::from_arg_or_env(None).map(|s| vec![s]),
    }
    .unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2);
    });
    println!(
        "ResNet-18, batch {batch}, 3x{size}x{size}, median of {iters} (+{warmup} warm-up); \
         RAYON_NUM_THREADS={}; load before: {}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".into()),
        loadavg()
    );
    if !smoke && std::env::var("TWINSCAN_BENCH_OPS").is_ok_and(|v| v == "1") {
        bench_ops(specs[0], batch, size, iters);
    }
    let burn: Vec<(DeviceSpec, Timing, Timing)> = specs
        .iter()
        .map(|&spec| {
            let (infer, train) = bench_burn(spec, batch, size, warmup, iters);
            (spec, infer, train)
        })
        .collect();
    let torch = match std::env::var("TWINSCAN_TORCH_PYTHON") {
        Ok(py) if !py.is_empty() && !smoke => bench_torch(&py, batch, size, warmup, iters),
        _ => Vec::new(),
    };
    let reference = torch.iter().find(|r| r.threads == 2);
    let ratio = |v: f64, r: Option<f64>| match r {
        Some(r) if r > 0.0 => format!("{:.2}", v / r),
        _ => "-".into(),
    };
    println!(
        "| engine | forward img/s | train img/s | train CPU/wall | train busiest-thread share / threads / main-thread share | train vs torch(2 thr) |\n|---|---|---|---|---|---|"
    );
    for (spec, infer, train) in &burn {
        println!(
            "| burn {spec} | {:.1} | {:.1} | {:.2} | {:.0}% / {} / {:.0}% | {} |",
            infer.img_s,
            train.img_s,
            train.cores,
            100.0 * train.top_share,
            train.active,
            100.0 * train.main,
            ratio(train.img_s, reference.map(|r| r.train))
        );
    }
    for r in &torch {
        println!(
            "| PyTorch {} thread(s) | {:.1} | {:.1} | {:.2} | - | {} |",
            r.threads,
            r.infer,
            r.train,
            r.cores_train,
            ratio(r.train, reference.map(|r| r.train))
        );
    }
    for (spec, infer, _) in &burn {
        if let Some(r) = reference {
            println!(
                "burn {spec} forward vs torch(2 thr): {}",
                ratio(infer.img_s, Some(r.infer)),
            );
        }
        println!(
            "burn {spec} forward: CPU/wall {:.2}, busiest thread {:.0}% over {} threads, main thread {:.0}%",
            infer.cores,
            100.0 * infer.top_share,
            infer.active,
            100.0 * infer.main,
        );
    }
    println!("load after: {}", loadavg());
}
