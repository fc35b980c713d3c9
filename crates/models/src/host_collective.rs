//! [`HostAllReduce`]: an autograd-aware all-reduce over the replicas of one process, one replica
//! per thread, summed in host memory.
//!
//! burn 0.22.1's own collective (`burn::tensor::distributed::all_reduce`, [`AllReduce`]) has a
//! device transport only on CUDA (NCCL); flex, wgpu and tch answer "no device transport". This
//! collective has the same contract (the forward sums every replica's tensor, the backward sums
//! every replica's gradient), so the per-thread replica loop that runs on NCCL also runs, and is
//! tested, on the CPU, and on devices without collectives. No crate provides an autograd-aware
//! host all-reduce for burn, hence this file; its backward is a custom burn autodiff op written
//! through burn's extension API (`Tensor::try_into_primitive::<Autodiff<B>>`).
//!
//! The sum is taken in replica order, whatever order the threads arrive in, so a run is
//! reproducible. Every replica must make the same sequence of calls with tensors of the same
//! shape (the replicas run the same model on equal-sized shards); a replica that fails calls
//! [`Collective::abort`] (or panics, which aborts too), and the others' waiting calls panic
//! with that reason instead of waiting for ever.
//!
//! [`AllReduce`]: crate::AllReduce

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::{Autodiff, Backend, DispatchKindConversion, DispatchTensor};
use burn::tensor::{Tensor, TensorData};

use crate::sharded::Collective;

/// The meeting point of a group's replicas.
#[derive(Debug)]
struct Rendezvous {
    replicas: usize,
    state: Mutex<Round>,
    changed: Condvar,
}

/// One round of a group: the parts that arrived, the last finished sum, and whether a
/// replica gave up.
#[derive(Debug, Default)]
struct Round {
    /// Finished rounds (the sum of round `generation - 1` is in `result`).
    generation: u64,
    parts: Vec<Option<(Vec<f32>, Vec<usize>)>>,
    arrived: usize,
    result: Arc<Vec<f32>>,
    aborted: Option<String>,
}

impl Rendezvous {
    fn lock(&self) -> MutexGuard<'_, Round> {
        // A replica that panicked while holding the lock leaves the round as it was; the
        // abort flag, not the poison, is what tells the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `values` (shape `shape`) from `rank` and returns the sum over every replica, once
    /// all have called; panics if the group was aborted or the shapes differ.
    fn sum(&self, rank: usize, values: Vec<f32>, shape: Vec<usize>) -> Arc<Vec<f32>> {
        let mut round = self.lock();
        if let Some(reason) = &round.aborted {
            panic!("host all-reduce aborted: {reason}");
        }
        if round.parts.len() != self.replicas {
            round.parts = vec![None; self.replicas];
        }
        if let Some((_, other)) = round.parts.iter().flatten().next()
            && *other != shape
        {
            let reason = format!(
                "replica {rank} reduces shape {shape:?} while another reduces {other:?} \
                 (the replicas diverged)"
            );
            round.aborted = Some(reason.clone());
            self.changed.notify_all();
            panic!("host all-reduce: {reason}");
        }
        if round.parts[rank].is_some() {
            let reason = format!("replica {rank} called twice in one round");
            round.aborted = Some(reason.clone());
            self.changed.notify_all();
            panic!("host all-reduce: {reason}");
        }
        round.parts[rank] = Some((values, shape));
        round.arrived += 1;
        let generation = round.generation;
        if round.arrived == self.replicas {
            // Replica order, not arrival order: the same sum bit for bit on every run.
            let mut parts = round.parts.iter_mut().map(|p| p.take());
            let (mut total, _) = parts.next().flatten().expect("replica 0's part");
            for (part, _) in parts.flatten() {
                for (t, v) in total.iter_mut().zip(part) {
                    *t += v;
                }
            }
            round.result = Arc::new(total);
            round.arrived = 0;
            round.generation += 1;
            self.changed.notify_all();
            return round.result.clone();
        }
        while round.generation == generation && round.aborted.is_none() {
            round = self.changed.wait(round).unwrap_or_else(|e| e.into_inner());
        }
        if round.generation == generation {
            let reason = round.aborted.clone().unwrap_or_default();
            panic!("host all-reduce aborted: {reason}");
        }
        // The round this call joined is finished and the next cannot finish without this
        // replica, so `result` is still this round's sum.
        round.result.clone()
    }

    fn abort(&self, reason: String) {
        let mut round = self.lock();
        round.aborted.get_or_insert(reason);
        self.changed.notify_all();
    }
}

/// One replica's handle on a group made by [`HostAllReduce::group`]: pass it, on that
/// replica's thread, wherever a [`Collective`] is taken.
#[derive(Debug, Clone)]
pub struct HostAllReduce {
    rendezvous: Arc<Rendezvous>,
    rank: usize,
}

impl HostAllReduce {
    /// Handles for `replicas` replicas (rank 0 first), one per thread.
    pub fn group(replicas: usize) -> Vec<HostAllReduce> {
        let rendezvous = Arc::new(Rendezvous {
            replicas,
            state: Mutex::new(Round::default()),
            changed: Condvar::new(),
        });
        (0..replicas)
            .map(|rank| HostAllReduce {
                rendezvous: rendezvous.clone(),
                rank,
            })
            .collect()
    }

    /// This replica's rank (0-based).
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The sum over the replicas of a plain (non-autodiff) tensor, on its device.
    fn sum_plain<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let device = x.device();
        let shape = x.dims().to_vec();
        let values = x
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("host all-reduce: reading a tensor: {e:?}"));
        let total = self.rendezvous.sum(self.rank, values, shape.clone());
        Tensor::from_data(TensorData::new(total.to_vec(), shape), &device)
    }

    /// The sum over the replicas of an autodiff tensor of backend `B` (whose backward sums the
    /// replicas' gradients), or `None` when `x` is not one.
    fn sum_autodiff<B: Backend>(&self, x: &Tensor<2>) -> Option<Tensor<2>>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<B>> + DispatchKindConversion<B>,
    {
        let tracked = x.clone().try_into_primitive::<Autodiff<B>>().ok()?;
        let node = tracked.node();
        let inner = Tensor::<2>::from_primitive::<B>(tracked.into_primitive());
        let total = self
            .sum_plain(inner)
            .try_into_primitive::<B>()
            .unwrap_or_else(|e| panic!("host all-reduce: {e:?}"));
        let out = match SumOverReplicas
            .prepare::<NoCheckpointing>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(self.clone(), total),
            OpsKind::UnTracked(prep) => prep.finish(total),
        };
        Some(Tensor::from_primitive::<Autodiff<B>>(out))
    }

    /// [`sum_autodiff`](Self::sum_autodiff) on the backends compiled in, else the plain sum.
    fn sum<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if !x.device().is_autodiff() {
            return self.sum_plain(x);
        }
        let shape = x.dims();
        let flat = x.reshape([1, shape.iter().product::<usize>()]);
        #[cfg(feature = "flex")]
        if let Some(out) = self.sum_autodiff::<burn::backend::Flex>(&flat) {
            return out.reshape(shape);
        }
        #[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
        if let Some(out) = self.sum_autodiff::<burn::backend::Cube>(&flat) {
            return out.reshape(shape);
        }
        let reason = format!(
            "no autograd-aware host all-reduce for the backend of {:?}",
            flat.device()
        );
        self.rendezvous.abort(reason.clone());
        panic!("host all-reduce: {reason}");
    }
}

/// The backward of [`HostAllReduce`]'s sum: the gradient summed over the replicas, as burn's
/// NCCL all-reduce does (`burn-autodiff` 0.22.1 `ops/distributed.rs`).
#[derive(Debug)]
struct SumOverReplicas;

impl<B: Backend> Backward<B, 1> for SumOverReplicas
where
    DispatchTensor: DispatchKindConversion<B>,
{
    type State = HostAllReduce;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let group = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            group
                .sum_plain(Tensor::<2>::from_primitive::<B>(grad))
                .try_into_primitive::<B>()
                .unwrap_or_else(|e| panic!("host all-reduce (backward): {e:?}"))
        });
    }
}

impl Collective for HostAllReduce {
    fn all_reduce_sum(&self, parts: Vec<Tensor<2>>) -> Vec<Tensor<2>> {
        parts.into_iter().map(|p| self.sum(p)).collect()
    }

    /// The mean over the replicas, as [`AllReduce`](crate::AllReduce): every replica computed
    /// the same global loss, so each holds its shards' share of the gradient times the
    /// replica count.
    fn reduce_gradients(&self, flat: Tensor<1>) -> Tensor<1> {
        let replicas = self.rendezvous.replicas as f64;
        self.sum_plain(flat).div_scalar(replicas)
    }

    /// Marks the group failed: the other replicas' pending and later calls panic with
    /// `reason` instead of waiting.
    fn abort(&self, reason: &str) {
        self.rendezvous.abort(reason.to_string());
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// Two replicas on two threads: the forward sums, and the backward hands each replica
    /// the sum of both replicas' gradients (d/dx_r of Σ_k w_k·(x_0 + x_1) = w_0 + w_1).
    #[test]
    fn sums_values_and_gradients_over_threads() {
        let group = HostAllReduce::group(2);
        let results: Vec<(Vec<f32>, Vec<f32>)> = std::thread::scope(|s| {
            let handles: Vec<_> = group
                .iter()
                .map(|g| {
                    s.spawn(move || {
                        let device = Device::flex().autodiff();
                        let r = g.rank() as f32;
                        let x =
                            Tensor::<2>::from_data([[1.0 + r, 2.0 + r]], &device).require_grad();
                        let y = g.all_reduce_sum(vec![x.clone()]).remove(0);
                        let w = Tensor::<2>::from_data([[10.0 * (r + 1.0), 1.0]], &device);
                        let grads = (y.clone() * w).sum().backward();
                        let value = y.into_data().try_to_vec::<f32>().unwrap();
                        let grad = x
                            .grad(&grads)
                            .unwrap()
                            .into_data()
                            .try_to_vec::<f32>()
                            .unwrap();
                        (value, grad)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (value, grad) in &results {
            assert_eq!(value, &vec![3.0, 5.0]);
            assert_eq!(grad, &vec![30.0, 2.0]);
        }
    }

    #[test]
    fn a_failed_replica_releases_the_others() {
        let group = HostAllReduce::group(2);
        let waiting = std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let x = Tensor::<2>::ones([1, 2], &Device::flex());
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    group[0].all_reduce_sum(vec![x])
                }))
            });
            group[1].abort("replica 1: loss is NaN");
            waiter.join().unwrap()
        });
        let message = waiting.unwrap_err();
        let message = message
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(message.contains("loss is NaN"), "{message}");
    }
}
