//! Data-parallel forward passes: one batch split into shards (one per replica), with the
//! statistics that need the whole batch (BatchNorm's mean and variance) reduced over the
//! shards by a [`Collective`].
//!
//! This is the decomposition that synchronised BatchNorm (`torch.nn.SyncBatchNorm`, used by
//! facebookresearch/barlowtwins) performs: every BatchNorm layer sums its per-channel partial
//! sums over the replicas, so each shard is normalised with the statistics of the global
//! batch and N images on R devices give the outputs and gradients of N images on one.
//!
//! Two collectives:
//! - [`InProcessSum`]: every shard held by the caller (one process, one thread), the sum
//!   built in the autodiff graph. It is the host-side stand-in the CPU test
//!   (`crates/ssl/tests/data_parallel.rs`) uses to show that two shards of N/2 give the loss,
//!   gradients and updated weights of one batch of N.
//! - [`AllReduce`]: burn 0.22's `burn::tensor::distributed::all_reduce` (autograd-aware: its
//!   backward all-reduces the gradient; NCCL on CUDA). Each replica holds one shard on its own
//!   device and thread. Only backends with a device transport support it (CUDA in burn 0.22.1;
//!   flex, wgpu and tch do not): [`AllReduce::new`] refuses the others.
//!
//! Every function here takes `Vec<Tensor>` shards and returns one output per shard, so the same
//! code runs R shards in one thread (stand-in) or one shard per thread (devices).

use burn::nn::BatchNorm;
use burn::tensor::activation::relu;
use std::sync::Arc;

use burn::tensor::distributed::{
    DistributedConfig, DistributedContext, ReduceOperation, all_reduce,
};
use burn::tensor::{Device, Tensor};

use crate::device::DeviceSpec;
use crate::error::{ModelsError, Result};
use crate::projector::Projector;
use crate::resnet::{ResNet, ResidualBlock};

/// How the shards' partial statistics are summed over the replicas.
pub trait Collective: Send + Sync {
    /// Sums `parts` (the caller's shards' partial values, all the same shape) with the other
    /// replicas' and returns the global sum once per part, each on its part's device. The
    /// sum must be differentiable: its backward sums the gradients of every replica's uses.
    fn all_reduce_sum(&self, parts: Vec<Tensor<2>>) -> Vec<Tensor<2>>;

    /// Reduces this replica's flattened parameter gradients after the backward pass: the mean
    /// over the replicas for [`AllReduce`] (whose backward leaves every replica with its
    /// shards' share scaled by the replica count, as each computed the same global loss); the
    /// identity when the caller holds every shard and one model ([`InProcessSum`]).
    fn reduce_gradients(&self, flat: Tensor<1>) -> Tensor<1>;

    /// Tells the other replicas that this one failed and will not call again, so that they
    /// stop waiting ([`HostAllReduce`](crate::HostAllReduce)); a no-op where the collective
    /// cannot be interrupted (one thread, or NCCL, whose peers wait for the failed one).
    fn abort(&self, _reason: &str) {}
}

/// The host-side stand-in: the caller holds every shard (one model, one autodiff graph) and
/// the "all-reduce" is a sum in that graph, whose backward hands each shard the sum of every
/// use's gradient, as an autograd-aware all-reduce does.
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcessSum;

impl Collective for InProcessSum {
    fn all_reduce_sum(&self, parts: Vec<Tensor<2>>) -> Vec<Tensor<2>> {
        let count = parts.len();
        let Some(total) = parts.into_iter().reduce(|a, b| a + b) else {
            return Vec::new();
        };
        vec![total; count]
    }

    fn reduce_gradients(&self, flat: Tensor<1>) -> Tensor<1> {
        flat
    }
}

/// burn's autograd-aware all-reduce over `devices` (one replica per device, each calling with
/// its own single shard). Holds burn's communication server for those devices
/// ([`DistributedContext`]) until the last clone is dropped.
#[derive(Debug, Clone)]
pub struct AllReduce {
    devices: Vec<Device>,
    _context: Arc<DistributedContext>,
}

impl AllReduce {
    /// A collective over the devices of `specs` (at least two, each distinct).
    ///
    /// # Errors
    /// [`ModelsError::Collective`] for fewer than two devices, a repeated device, or a device
    /// whose backend has no collectives in burn 0.22.1: every backend but CUDA (burn's flex,
    /// wgpu and tch backends implement `DistributedOps` without a device transport);
    /// [`ModelsError::DeviceNotCompiled`] when the `cuda` feature is off.
    pub fn new(specs: &[DeviceSpec]) -> Result<Self> {
        Self::check(specs)?;
        let devices: Vec<Device> = specs
            .iter()
            .map(DeviceSpec::device)
            .collect::<Result<_>>()?;
        let context = DistributedContext::init(
            devices.clone(),
            DistributedConfig {
                all_reduce_op: ReduceOperation::Mean,
            },
        );
        Ok(Self {
            devices,
            _context: Arc::new(context),
        })
    }

    /// The checks of [`new`](Self::new) without starting anything, so a caller can refuse a
    /// device list before it writes its outputs.
    ///
    /// # Errors
    /// As [`new`](Self::new), except for devices not compiled in.
    pub fn check(specs: &[DeviceSpec]) -> Result<()> {
        if specs.len() < 2 {
            return Err(ModelsError::Collective(format!(
                "data parallelism needs at least two devices, got {}",
                specs.len()
            )));
        }
        for (i, s) in specs.iter().enumerate() {
            if !matches!(s, DeviceSpec::Cuda(_)) {
                return Err(ModelsError::Collective(format!(
                    "device {s}: burn 0.22.1 implements all-reduce (NCCL) only for cuda \
                     devices; flex, wgpu, vulkan and tch have no device transport"
                )));
            }
            if specs[..i].contains(s) {
                return Err(ModelsError::Collective(format!(
                    "device {s} is listed twice"
                )));
            }
        }
        Ok(())
    }

    /// The participating devices, in replica order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }
}

impl Collective for AllReduce {
    fn all_reduce_sum(&self, parts: Vec<Tensor<2>>) -> Vec<Tensor<2>> {
        parts
            .into_iter()
            .map(|p| all_reduce(p, ReduceOperation::Sum, self.devices.clone()).resolve())
            .collect()
    }

    fn reduce_gradients(&self, flat: Tensor<1>) -> Tensor<1> {
        all_reduce(flat, ReduceOperation::Mean, self.devices.clone()).resolve()
    }
}

/// Training-mode BatchNorm over the global batch of `xs` (shards `[N_r, C, ...]`): per-channel
/// mean and biased variance from sums reduced by `collective` (two rounds: the sum and count,
/// then the centred squares, as numerically stable as burn's two-pass `batch_norm_train`),
/// running statistics updated as `BatchNorm::forward` does (momentum, biased variance). Outside
/// training (no autodiff device, or a frozen BatchNorm) each shard uses the running statistics.
pub fn sync_batch_norm<const D: usize>(
    bn: &BatchNorm,
    xs: Vec<Tensor<D>>,
    collective: &dyn Collective,
) -> Vec<Tensor<D>> {
    let training = xs
        .first()
        .is_some_and(|x| x.device().is_autodiff() && bn.training.is_enabled());
    if !training {
        return xs.into_iter().map(|x| bn.forward(x)).collect();
    }
    let channels = bn.gamma.dims()[0];
    // Each shard as [C, M_r] (channel-major) for the per-channel sums.
    let flat = |x: &Tensor<D>| {
        let m = x.dims().iter().product::<usize>() / channels;
        x.clone().swap_dims(0, 1).reshape([channels, m])
    };
    let broadcast = |v: Tensor<1>| {
        let mut shape = [1usize; D];
        shape[1] = channels;
        v.reshape(shape)
    };
    // Round 1: Σx per channel and the element count, in one reduction.
    let sums = xs
        .iter()
        .map(|x| {
            let f = flat(x);
            let m = f.dims()[1] as f32;
            let count = Tensor::<2>::full([1, 1], m, &x.device());
            Tensor::cat(vec![f.sum_dim(1).reshape([1, channels]), count], 1)
        })
        .collect();
    let sums = collective.all_reduce_sum(sums);
    // Mean and element count stay on the device (no host read per BatchNorm layer).
    let means: Vec<(Tensor<1>, Tensor<1>)> = sums
        .into_iter()
        .map(|s| {
            let count = s.clone().slice([0..1, channels..channels + 1]).reshape([1]);
            let mean = s.slice([0..1, 0..channels]).reshape([channels]) / count.clone();
            (mean, count)
        })
        .collect();
    let centred: Vec<Tensor<D>> = xs
        .into_iter()
        .zip(&means)
        .map(|(x, (mean, _))| x - broadcast(mean.clone()))
        .collect();
    // Round 2: Σ(x − mean)² per channel.
    let squares = centred
        .iter()
        .map(|c| flat(&c.clone().square()).sum_dim(1).reshape([1, channels]))
        .collect();
    let squares = collective.all_reduce_sum(squares);
    let mut outputs = Vec::with_capacity(centred.len());
    for (i, ((c, (mean, count)), sq)) in centred.into_iter().zip(means).zip(squares).enumerate() {
        let var = sq.reshape([channels]) / count;
        let inv_std = var.clone().add_scalar(bn.epsilon).sqrt().recip();
        let y = c * broadcast(inv_std) * broadcast(bn.gamma.val()) + broadcast(bn.beta.val());
        if i == 0 {
            // Every replica computes the same statistics; the first shard's copy updates the
            // running state (each replica's own model on its own device).
            let m = bn.momentum;
            let rm = bn.running_mean.value_sync().to_device(&mean.device());
            let rv = bn.running_var.value_sync().to_device(&var.device());
            bn.running_mean
                .update((rm.mul_scalar(1.0 - m) + mean.detach().mul_scalar(m)).detach());
            bn.running_var
                .update((rv.mul_scalar(1.0 - m) + var.detach().mul_scalar(m)).detach());
        }
        outputs.push(y);
    }
    outputs
}

fn map<const D: usize, const E: usize>(
    xs: Vec<Tensor<D>>,
    f: impl Fn(Tensor<D>) -> Tensor<E>,
) -> Vec<Tensor<E>> {
    xs.into_iter().map(f).collect()
}

impl ResidualBlock {
    /// [`ResidualBlock::forward`] over shards with synchronised BatchNorm.
    pub fn forward_sharded(
        &self,
        xs: Vec<Tensor<4>>,
        collective: &dyn Collective,
    ) -> Vec<Tensor<4>> {
        let identity = match &self.downsample {
            Some(d) => sync_batch_norm(&d.bn, map(xs.clone(), |x| d.conv.forward(x)), collective),
            None => xs.clone(),
        };
        let out = sync_batch_norm(&self.bn1, map(xs, |x| self.conv1.forward(x)), collective);
        let out = map(out, relu);
        let mut out = sync_batch_norm(&self.bn2, map(out, |x| self.conv2.forward(x)), collective);
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            out = sync_batch_norm(bn3, map(out, |x| conv3.forward(relu(x))), collective);
        }
        out.into_iter()
            .zip(identity)
            .map(|(o, i)| relu(o + i))
            .collect()
    }
}

impl ResNet {
    /// [`ResNet::forward_features`] over shards (`[N_r, C, H, W]` each) with synchronised
    /// BatchNorm: `[N_r, feature_dim]` per shard.
    pub fn forward_features_sharded(
        &self,
        xs: Vec<Tensor<4>>,
        collective: &dyn Collective,
    ) -> Vec<Tensor<2>> {
        let x = sync_batch_norm(&self.bn1, map(xs, |x| self.conv1.forward(x)), collective);
        let mut x = map(x, |x| self.maxpool.forward(relu(x)));
        for block in self.blocks() {
            x = block.forward_sharded(x, collective);
        }
        map(x, |x| {
            let [n, c, h, w] = x.dims();
            x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
        })
    }
}

impl Projector {
    /// [`Projector::forward`] over shards with synchronised BatchNorm1d.
    pub fn forward_sharded(
        &self,
        xs: Vec<Tensor<2>>,
        collective: &dyn Collective,
    ) -> Vec<Tensor<2>> {
        let mut x = xs;
        for block in &self.hidden {
            let h = sync_batch_norm(&block.bn, map(x, |x| block.linear.forward(x)), collective);
            x = map(h, relu);
        }
        map(x, |x| self.last.forward(x))
    }
}
