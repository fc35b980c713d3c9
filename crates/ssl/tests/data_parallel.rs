//! Data parallelism, checked on the CPU: a batch split into shards, with BatchNorm and the
//! Barlow Twins statistics reduced over the shards, gives the loss, gradients and updated
//! weights of the whole batch on one device, both with every shard in one thread
//! ([`InProcessSum`]) and with one replica per thread ([`HostAllReduce`], the contract of
//! burn's NCCL all-reduce [`AllReduce`], which runs the same per-thread step on several CUDA
//! GPUs: docs/ssl.md).

// burn's `slice` takes one range per dimension: `[a..b]` slices a tensor's first dimension.
#![allow(clippy::single_range_in_vec_init)]

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use twinscan_models::{
    AllReduce, Collective, DeviceSpec, HostAllReduce, InProcessSum, ProjectorConfig, ResNetConfig,
};
use twinscan_ssl::{
    BarlowTwinsLossConfig, BarlowTwinsModel, CorrelationStrategy, LarsConfig, Trainer,
};

/// The two equality tests run one at a time: run concurrently in one process, their results
/// differed from the one-device ones by up to ~3e-3 (weights) in 3 of 8 runs, even with
/// `RAYON_NUM_THREADS=1`, and never when run one at a time (0 of 16), nor for the replica test
/// alone (0 of 13). Within one test the two sides see the same data; the cause, somewhere in
/// two trainings sharing burn's process-wide autodiff graph registry and the flex device, was
/// not found (docs/ssl.md).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn tiny(device: &Device, seed: u64) -> BarlowTwinsModel {
    device.seed(seed);
    let encoder = ResNetConfig::resnet10()
        .with_in_channels(1)
        .with_zero_init_residual(false)
        .init(device)
        .unwrap();
    let projector: ProjectorConfig = "512-48-48-32".parse().unwrap();
    BarlowTwinsModel::new(encoder, projector.init(device)).unwrap()
}

/// Every parameter and every BatchNorm running statistic of the model, flattened, with the
/// statistics' pending updates merged first (burn's `RunningState` keeps one per thread and
/// merges them when the module is converted, as `Trainer::step_sharded` does after a step).
fn tensors(model: &BarlowTwinsModel) -> Vec<Vec<f32>> {
    drop(model.valid());
    struct Collect(Vec<Vec<f32>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0
                .push(param.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    let blocks = model.encoder.blocks().flat_map(|b| {
        let mut v = vec![&b.bn1, &b.bn2];
        v.extend(b.downsample.as_ref().map(|d| &d.bn));
        v
    });
    let projector = model.projector.hidden.iter().map(|h| &h.bn);
    for bn in blocks.chain([&model.encoder.bn1]).chain(projector) {
        c.0.push(
            bn.running_mean
                .value()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
        );
        c.0.push(
            bn.running_var
                .value()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
        );
    }
    c.0
}

/// Every parameter gradient, flattened, in visiting order.
fn gradients(model: &BarlowTwinsModel, grads: &GradientsParams) -> Vec<Vec<f32>> {
    struct Collect<'a>(&'a GradientsParams, Vec<Vec<f32>>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.0.get::<D>(param.id) {
                self.1.push(g.into_data().try_to_vec::<f32>().unwrap());
            }
        }
    }
    let mut c = Collect(grads, Vec::new());
    model.visit(&mut c);
    c.1
}

/// Largest difference of two tensor lists, each tensor's difference relative to its own
/// largest magnitude (so tiny and large tensors are judged alike), that magnitude floored at
/// `floor` (weights: BatchNorm shifts that stay near zero, ~1e-5, would otherwise turn a
/// 1e-9 rounding difference into a large relative one).
fn max_relative_difference(a: &[Vec<f32>], b: &[Vec<f32>], floor: f32) -> f32 {
    assert_eq!(a.len(), b.len(), "different tensor counts");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            let scale = x.iter().fold(0f32, |m, v| m.max(v.abs())).max(floor);
            x.iter()
                .zip(y)
                .fold(0f32, |m, (p, q)| m.max((p - q).abs() / scale))
        })
        .fold(0f32, f32::max)
}

fn views(device: &Device, n: usize) -> (Tensor<4>, Tensor<4>) {
    device.seed(99);
    let x = Tensor::<4>::random([n, 1, 32, 32], Distribution::Normal(0.0, 1.0), device);
    let n1 = Tensor::<4>::random([n, 1, 32, 32], Distribution::Normal(0.0, 0.3), device);
    let n2 = Tensor::<4>::random([n, 1, 32, 32], Distribution::Normal(0.0, 0.3), device);
    (x.clone() + n1, x + n2)
}

fn split(x: &Tensor<4>, sizes: &[usize]) -> Vec<Tensor<4>> {
    let mut start = 0;
    sizes
        .iter()
        .map(|&s| {
            let part = x.clone().slice([start..start + s]);
            start += s;
            part
        })
        .collect()
}

#[test]
fn data_parallel_matches_single_device() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex().autodiff();
    let n = 8;
    let (y1, y2) = views(&device, n);
    let loss = BarlowTwinsLossConfig {
        strategy: CorrelationStrategy::CrossCorrelation,
        ..Default::default()
    }
    .init()
    .unwrap();

    // Gradients: one device × N against 2 × N/2 and an uneven 3 + 5.
    let single = tiny(&device, 7);
    let record = single.clone().into_record();
    let out = loss
        .forward(single.embed(y1.clone()), single.embed(y2.clone()))
        .unwrap();
    let single_loss = out.loss.clone().into_scalar::<f32>();
    let single_grads = gradients(
        &single,
        &GradientsParams::from_grads(out.loss.backward(), &single),
    );
    for sizes in [vec![4, 4], vec![3, 5]] {
        let sharded = tiny(&device, 8).load_record(record.clone());
        let z1s = sharded.embed_sharded(split(&y1, &sizes), &InProcessSum);
        let z2s = sharded.embed_sharded(split(&y2, &sizes), &InProcessSum);
        let outs = loss.forward_sharded(z1s, z2s, &InProcessSum).unwrap();
        assert_eq!(outs.len(), sizes.len());
        let values: Vec<f32> = outs
            .iter()
            .map(|o| o.loss.clone().into_scalar::<f32>())
            .collect();
        for v in &values {
            assert!(
                (v - single_loss).abs() <= 1e-5 * single_loss.abs(),
                "{sizes:?}: sharded loss {v} vs single {single_loss}"
            );
        }
        let grads = GradientsParams::from_grads(outs[0].loss.backward(), &sharded);
        let diff = max_relative_difference(&single_grads, &gradients(&sharded, &grads), 1e-12);
        println!("{sizes:?}: loss {values:?} vs {single_loss}, gradient max rel diff {diff:e}");
        assert!(diff < 1e-4, "{sizes:?}: gradients differ by {diff:e}");
    }

    // Whole steps (clipping + LARS), three in a row: weights and BatchNorm running statistics.
    let lars = LarsConfig::default();
    let trainer = Trainer {
        loss: loss.into(),
        lars,
        clip_norm: Some(1.0),
    };
    // The same weights and BatchNorm state in both (a record copy: independent running state).
    let mut a = tiny(&device, 11);
    let mut b = tiny(&device, 12).load_record(a.clone().into_record());
    let (mut opt_a, mut opt_b) = (lars.init().unwrap(), lars.init().unwrap());
    for step in 0..3 {
        let (m, sa) = trainer
            .step(a, &mut opt_a, y1.clone(), y2.clone(), 10.0, step)
            .unwrap();
        a = m;
        let (m, sb) = trainer
            .step_sharded(
                b,
                &mut opt_b,
                split(&y1, &[4, 4]),
                split(&y2, &[4, 4]),
                &InProcessSum,
                10.0,
                step,
            )
            .unwrap();
        b = m;
        assert!(
            (sa.loss - sb.loss).abs() <= 1e-5 * sa.loss.abs(),
            "step {step}: loss {} vs {}",
            sa.loss,
            sb.loss
        );
        let (ga, gb) = (sa.grad_norm.unwrap(), sb.grad_norm.unwrap());
        assert!(
            (ga - gb).abs() <= 1e-4 * ga,
            "step {step}: grad norm {ga} vs {gb}"
        );
        let diff = max_relative_difference(&tensors(&a), &tensors(&b), 1e-3);
        println!(
            "step {step}: loss {} / {}, weights max rel diff {diff:e}",
            sa.loss, sb.loss
        );
        assert!(diff < 1e-4, "step {step}: weights differ by {diff:e}");
    }
}

/// The per-device loop's decomposition: one replica per thread, each with its own model and
/// LARS copy and one shard, BatchNorm and the loss's statistics reduced by the autograd-aware
/// [`HostAllReduce`] (the contract of burn's NCCL all-reduce), the gradients averaged over the
/// replicas. Three steps of 2 threads × N/2 equal three steps of one device × N (float32
/// rounding aside: sums in another order), and the two replicas stay identical.
#[test]
fn replica_threads_match_one_device() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex().autodiff();
    let n = 8;
    let (y1, y2) = views(&device, n);
    let lars = LarsConfig::default();
    let trainer = Trainer {
        loss: BarlowTwinsLossConfig::default().init().unwrap().into(),
        lars,
        clip_norm: Some(1.0),
    };
    let mut single = tiny(&device, 21);
    let mut replicas = vec![
        tiny(&device, 22).load_record(single.clone().into_record()),
        tiny(&device, 23).load_record(single.clone().into_record()),
    ];
    let mut opt_single = lars.init().unwrap();
    let mut opts = [lars.init().unwrap(), lars.init().unwrap()];
    let group = HostAllReduce::group(2);
    let (s1, s2) = (split(&y1, &[4, 4]), split(&y2, &[4, 4]));
    for step in 0..3 {
        let (m, expected) = trainer
            .step(single, &mut opt_single, y1.clone(), y2.clone(), 10.0, step)
            .unwrap();
        single = m;
        let stepped: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = replicas
                .drain(..)
                .zip(opts.iter_mut())
                .zip(&group)
                .enumerate()
                .map(|(r, ((model, opt), g))| {
                    let (a, b) = (s1[r].clone(), s2[r].clone());
                    s.spawn(move || {
                        let c: &dyn Collective = g;
                        trainer.step_sharded(model, opt, vec![a], vec![b], c, 10.0, step)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        for (r, (model, stats)) in stepped.into_iter().enumerate() {
            assert!(
                (stats.loss - expected.loss).abs() <= 1e-4 * expected.loss.abs(),
                "step {step}, replica {r}: loss {} vs {}",
                stats.loss,
                expected.loss
            );
            // The norm of ~10^5 gradients summed in another order: float32 rounding, ~2e-4.
            let (ga, gb) = (expected.grad_norm.unwrap(), stats.grad_norm.unwrap());
            assert!(
                (ga - gb).abs() <= 1e-3 * ga,
                "step {step}, replica {r}: grad norm {ga} vs {gb}"
            );
            let diff = max_relative_difference(&tensors(&single), &tensors(&model), 1e-3);
            println!(
                "step {step}, replica {r}: loss {} / {}, grad norm {ga} / {gb}, weights max rel \
                 diff {diff:e}",
                expected.loss, stats.loss
            );
            assert!(
                diff < 1e-4,
                "step {step}, replica {r}: weights differ by {diff:e}"
            );
            replicas.push(model);
        }
        assert_eq!(
            tensors(&replicas[0]),
            tensors(&replicas[1]),
            "step {step}: the replicas drifted apart"
        );
    }
}

/// VICReg's sharded loss (per-dimension sums, centred squares and `xᵀx` reduced over the
/// shards) equals its loss on the whole batch, in value and gradients.
#[test]
fn vicreg_sharded_matches_single_device() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let device = Device::flex().autodiff();
    let (y1, y2) = views(&device, 8);
    let loss = twinscan_ssl::VicRegLossConfig::default().init().unwrap();
    let single = tiny(&device, 31);
    let record = single.clone().into_record();
    let out = loss
        .forward(single.embed(y1.clone()), single.embed(y2.clone()))
        .unwrap();
    let expected = out.loss.clone().into_scalar::<f32>();
    let single_grads = gradients(
        &single,
        &GradientsParams::from_grads(out.loss.backward(), &single),
    );
    for sizes in [vec![4, 4], vec![3, 5]] {
        let sharded = tiny(&device, 32).load_record(record.clone());
        let z1s = sharded.embed_sharded(split(&y1, &sizes), &InProcessSum);
        let z2s = sharded.embed_sharded(split(&y2, &sizes), &InProcessSum);
        let outs = loss.forward_sharded(z1s, z2s, &InProcessSum).unwrap();
        let value = outs[0].loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(outs[0].loss.backward(), &sharded);
        let diff = max_relative_difference(&single_grads, &gradients(&sharded, &grads), 1e-12);
        println!("VICReg {sizes:?}: loss {value} vs {expected}, gradient max rel diff {diff:e}");
        assert!(
            (value - expected).abs() <= 1e-5 * expected.abs(),
            "{sizes:?}: sharded loss {value} vs {expected}"
        );
        assert!(diff < 1e-4, "{sizes:?}: gradients differ by {diff:e}");
    }
}

#[test]
fn all_reduce_refuses_backends_without_collectives() {
    let flex: Vec<DeviceSpec> = vec!["cpu".parse().unwrap(), "flex".parse().unwrap()];
    let err = AllReduce::new(&flex).unwrap_err().to_string();
    assert!(err.contains("only for cuda"), "{err}");
    let one: Vec<DeviceSpec> = vec!["cuda:0".parse().unwrap()];
    let err = AllReduce::new(&one).unwrap_err().to_string();
    assert!(err.contains("at least two devices"), "{err}");
    let twice: Vec<DeviceSpec> = vec!["cuda:0".parse().unwrap(), "cuda:0".parse().unwrap()];
    let err = AllReduce::new(&twice).unwrap_err().to_string();
    assert!(err.contains("listed twice"), "{err}");
}
