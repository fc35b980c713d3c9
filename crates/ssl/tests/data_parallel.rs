//! Data parallelism, checked on the CPU: a batch split into shards, with BatchNorm and the
//! Barlow Twins statistics reduced over the shards by the host-side stand-in
//! ([`InProcessSum`]), gives the loss, gradients and updated weights of the whole batch on one
//! device. The real multi-GPU path (burn's NCCL all-reduce, [`AllReduce`]) runs the same
//! functions with one shard per device; it needs several CUDA GPUs (docs/ssl.md).

// burn's `slice` takes one range per dimension: `[a..b]` slices a tensor's first dimension.
#![allow(clippy::single_range_in_vec_init)]

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use twinscan_models::{AllReduce, DeviceSpec, InProcessSum, ProjectorConfig, ResNetConfig};
use twinscan_ssl::{
    BarlowTwinsLossConfig, BarlowTwinsModel, CorrelationStrategy, LarsConfig, Trainer,
};

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

/// Every parameter and every BatchNorm running statistic of the model, flattened.
fn tensors(model: &BarlowTwinsModel) -> Vec<Vec<f32>> {
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
/// largest magnitude (so tiny and large tensors are judged alike).
fn max_relative_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "different tensor counts");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            assert_eq!(x.len(), y.len());
            let scale = x.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
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
        let diff = max_relative_difference(&single_grads, &gradients(&sharded, &grads));
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
        let diff = max_relative_difference(&tensors(&a), &tensors(&b));
        println!(
            "step {step}: loss {} / {}, weights max rel diff {diff:e}",
            sa.loss, sb.loss
        );
        assert!(diff < 1e-4, "step {step}: weights differ by {diff:e}");
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
