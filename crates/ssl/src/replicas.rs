//! Data-parallel pretraining on several devices: one replica per device, each stepped on its
//! own thread with its shard of the batch, as facebookresearch/barlowtwins does with one
//! process per GPU (DDP, `SyncBatchNorm`, `all_reduce(c)`).
//!
//! Every batch statistic (BatchNorm's mean and variance, the loss's standardisation and
//! cross-correlation) is reduced over the replicas by a [`Collective`], and so are the
//! parameter gradients before clipping and the LARS step, so every replica takes the same step
//! and R devices × N/R images equal one device × N (the test `replica_threads_match_one_device`).
//! The collective is burn's NCCL all-reduce ([`AllReduce`]) when every device is a CUDA GPU,
//! and [`HostAllReduce`] (sums in host memory) otherwise. Replica 0 is the session's model: it
//! is what the kNN probe, the checkpoints and the exported encoder see.

use std::any::Any;
use std::sync::Arc;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use twinscan_models::{AllReduce, Collective, DeviceSpec, HostAllReduce, image_batch};
use twinscan_train::Batch;

use crate::error::{Result, SslError};
use crate::step::{BarlowTwinsModel, StepStats, Trainer};

/// One replica beyond the first: its (autodiff) device, model and optimiser.
struct Replica {
    device: Device,
    model: Option<BarlowTwinsModel>,
    optim: ModuleOptimizer,
}

/// Replicas 1..R of a data-parallel run and the collective of each replica (index = rank).
pub(crate) struct Replicas {
    others: Vec<Replica>,
    collectives: Vec<Arc<dyn Collective>>,
}

impl Replicas {
    /// Copies of `model` and `optim` (replica 0, on `devices[0]`) onto `devices[1..]`, each
    /// the autodiff version of a plain device. `specs` are the devices as named by the user
    /// (for the choice of collective and its errors).
    pub(crate) fn new(
        model: &BarlowTwinsModel,
        optim: &ModuleOptimizer,
        specs: &[DeviceSpec],
        devices: &[Device],
        fresh_optim: impl Fn() -> Result<ModuleOptimizer>,
    ) -> Result<Self> {
        let replicas = devices.len();
        let collectives: Vec<Arc<dyn Collective>> =
            if specs.iter().all(|s| matches!(s, DeviceSpec::Cuda(_))) {
                let all: Arc<dyn Collective> = Arc::new(AllReduce::new(specs)?);
                vec![all; replicas]
            } else {
                HostAllReduce::group(replicas)
                    .into_iter()
                    .map(|g| Arc::new(g) as Arc<dyn Collective>)
                    .collect()
            };
        let mut others = Vec::with_capacity(replicas.saturating_sub(1));
        for plain in &devices[1..] {
            let device = plain.clone().autodiff();
            others.push(Replica {
                model: Some(model.clone().fork(&device)),
                device,
                optim: fresh_optim()?.load_record(optim.to_record()),
            });
        }
        Ok(Self {
            others,
            collectives,
        })
    }

    /// How many replicas (the devices).
    pub(crate) fn count(&self) -> usize {
        self.others.len() + 1
    }

    /// One step: `batch` split into one contiguous shard per replica (the first
    /// `len % R` shards one slice longer), every replica stepped on its own thread, replica 0
    /// (`model`, `optim` on `device`) on this one. Returns replica 0's model and statistics
    /// (the loss and gradient norm are the global batch's).
    ///
    /// # Errors
    /// A batch with fewer slices than replicas; the first replica's error (a non-finite loss
    /// is reported by every replica: replica 0's is returned); a replica that panicked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step(
        &mut self,
        trainer: &Trainer,
        model: BarlowTwinsModel,
        optim: &mut ModuleOptimizer,
        device: &Device,
        batch: &Batch,
        multiplier: f64,
        step: u64,
    ) -> Result<(BarlowTwinsModel, StepStats)> {
        let shards = shard_ranges(batch.shape[0], self.count())?;
        let shard = |r: usize, device: &Device| -> Result<_> {
            let (start, len) = shards[r];
            let [_, c, h, w] = batch.shape;
            let image = c * h * w;
            let shape = [len, c, h, w];
            let rows = start * image..(start + len) * image;
            Ok((
                image_batch(&batch.views[0][rows.clone()], shape, device)?,
                image_batch(&batch.views[1][rows], shape, device)?,
            ))
        };
        let collectives = &self.collectives;
        let run = |r: usize,
                   model: BarlowTwinsModel,
                   optim: &mut ModuleOptimizer,
                   device: &Device|
         -> Result<(BarlowTwinsModel, StepStats)> {
            let collective = collectives[r].as_ref();
            let result = shard(r, device).and_then(|(y1, y2)| {
                trainer.step_sharded(
                    model,
                    optim,
                    vec![y1],
                    vec![y2],
                    collective,
                    multiplier,
                    step,
                )
            });
            if let Err(e) = &result {
                collective.abort(&format!("replica {r} failed: {e}"));
            }
            result
        };
        let (first, others) = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .others
                .iter_mut()
                .enumerate()
                .map(|(i, replica)| {
                    let rank = i + 1;
                    let model = replica.model.take();
                    s.spawn(move || {
                        let _guard = AbortOnPanic(collectives[rank].as_ref(), rank);
                        let model = model.ok_or_else(|| {
                            SslError::Worker(format!("replica {rank} lost its model"))
                        })?;
                        let (m, _) = run(rank, model, &mut replica.optim, &replica.device)?;
                        replica.model = Some(m);
                        Ok(())
                    })
                })
                .collect();
            let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _guard = AbortOnPanic(collectives[0].as_ref(), 0);
                run(0, model, optim, device)
            }))
            .unwrap_or_else(|p| Err(panicked(0, p)));
            let others: Vec<Result<()>> = handles
                .into_iter()
                .enumerate()
                .map(|(i, h)| h.join().unwrap_or_else(|p| Err(panicked(i + 1, p))))
                .collect();
            (first, others)
        });
        // The root cause: the first replica, in rank order, that failed by itself rather than
        // because another one aborted the group (a non-finite loss: replica 0's own error).
        let mut errors: Vec<SslError> = Vec::new();
        let first = match first {
            Ok(out) => Some(out),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        errors.extend(others.into_iter().filter_map(|r| r.err()));
        match first {
            Some(out) if errors.is_empty() => Ok(out),
            _ => {
                let root = errors
                    .iter()
                    .position(|e| !e.to_string().contains(ABORTED))
                    .unwrap_or(0);
                Err(errors.swap_remove(root))
            }
        }
    }
}

/// What a replica's error says when it failed only because another replica aborted the group.
const ABORTED: &str = "all-reduce aborted";

/// Aborts the collective when dropped while its thread unwinds (a replica that panicked), so
/// the other replicas stop waiting for it.
struct AbortOnPanic<'a>(&'a dyn Collective, usize);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abort(&format!("replica {} panicked", self.1));
        }
    }
}

fn panicked(replica: usize, payload: Box<dyn Any + Send>) -> SslError {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "no message".into());
    SslError::Worker(format!("replica {replica} panicked: {message}"))
}

/// `(start, len)` of each replica's contiguous shard of `n` slices: the first `n % r` shards
/// one slice longer.
fn shard_ranges(n: usize, replicas: usize) -> Result<Vec<(usize, usize)>> {
    if n < replicas {
        return Err(SslError::InvalidConfig {
            field: "batch_size",
            reason: format!("a batch of {n} slices cannot be split over {replicas} devices"),
        });
    }
    let (base, extra) = (n / replicas, n % replicas);
    let mut start = 0;
    Ok((0..replicas)
        .map(|r| {
            let len = base + usize::from(r < extra);
            let range = (start, len);
            start += len;
            range
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_contiguous_and_balanced() {
        assert_eq!(shard_ranges(8, 2).unwrap(), vec![(0, 4), (4, 4)]);
        assert_eq!(shard_ranges(7, 3).unwrap(), vec![(0, 3), (3, 2), (5, 2)]);
        let err = shard_ranges(1, 2).unwrap_err().to_string();
        assert!(err.contains("cannot be split over 2 devices"), "{err}");
    }
}
