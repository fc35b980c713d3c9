//! Two-view batches of a prepared dataset, augmented on a background thread.
//!
//! The epoch order is [`epoch_order`] (a ChaCha8 shuffle keyed by `(seed, epoch)`); each view comes from
//! `twinscan_augment::Pipeline::two_views_batch` keyed by `(seed, epoch, slice index, view)`.
//! Both are pure functions of their keys, so the batches of an epoch are the same whatever
//! the thread count, the prefetch depth or whether the run was resumed.
//!
//! The producer runs on its own thread and fills a bounded channel (`prefetch` batches
//! ahead), so augmentation (rayon across images) overlaps the training step.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use twinscan_augment::{InputPlane, Pipeline};
use twinscan_data::prepared::Prepared;

use crate::error::{Result, SslError};

/// One step's input: both views of `indices`, N×C×H×W each.
#[derive(Debug, Clone)]
pub struct TwoViewBatch {
    /// Dataset indices of the slices (in batch order).
    pub indices: Vec<u64>,
    /// View 0, `N·C·H·W` values.
    pub view_a: Vec<f32>,
    /// View 1.
    pub view_b: Vec<f32>,
    /// `[N, C, H, W]`.
    pub shape: [usize; 4],
}

pub use twinscan_data::prepared::epoch_order;

/// Makes the two-view batches of one epoch.
#[derive(Clone)]
pub struct EpochLoader {
    data: Arc<Prepared>,
    pipeline: Arc<Pipeline>,
    seed: u64,
    batch_size: usize,
    shape: [usize; 4],
}

impl EpochLoader {
    /// A loader of `batch_size` slices per step through `pipeline` (its channels and output
    /// size give the batch shape). The augmentation input is the dataset's first channel
    /// (the first window of a multi-window dataset).
    ///
    /// # Errors
    /// [`SslError::Augment`] if the pipeline cannot take the dataset's slice size.
    pub fn new(
        data: Arc<Prepared>,
        pipeline: Arc<Pipeline>,
        seed: u64,
        batch_size: usize,
    ) -> Result<Self> {
        let s = data.size();
        let (h, w) = pipeline.output_shape(s, s)?;
        let shape = [batch_size, pipeline.channels, h, w];
        Ok(Self {
            data,
            pipeline,
            seed,
            batch_size,
            shape,
        })
    }

    /// `[N, C, H, W]` of a batch.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// Augments one batch (on the calling thread, rayon inside).
    ///
    /// # Errors
    /// [`SslError::Augment`] from the pipeline.
    pub fn make(&self, epoch: u64, slices: &[usize]) -> Result<TwoViewBatch> {
        let s = self.data.size();
        let plane = s * s;
        let inputs: Vec<InputPlane> = slices
            .iter()
            .map(|&i| InputPlane::u8(s, s, &self.data.image(i)[..plane]))
            .collect();
        let indices: Vec<u64> = slices.iter().map(|&i| i as u64).collect();
        let [_, c, h, w] = self.shape;
        let n = slices.len();
        let mut view_a = vec![0.0f32; n * c * h * w];
        let mut view_b = vec![0.0f32; n * c * h * w];
        self.pipeline.two_views_batch(
            &inputs,
            self.seed,
            epoch,
            &indices,
            &mut view_a,
            &mut view_b,
        )?;
        Ok(TwoViewBatch {
            indices,
            view_a,
            view_b,
            shape: [n, c, h, w],
        })
    }

    /// Starts a background thread producing the `steps` batches of `epoch` from
    /// `order` (`batch_size` consecutive entries per step), at most `prefetch` ahead.
    pub fn spawn(&self, epoch: u64, order: Vec<usize>, steps: u64, prefetch: usize) -> BatchStream {
        let (tx, rx) = sync_channel(prefetch.max(1));
        let me = self.clone();
        let handle = std::thread::Builder::new()
            .name(format!("twinscan-augment-epoch-{epoch}"))
            .spawn(move || me.produce(epoch, &order, steps, tx));
        BatchStream {
            rx,
            handle: handle.ok(),
        }
    }

    fn produce(
        &self,
        epoch: u64,
        order: &[usize],
        steps: u64,
        tx: SyncSender<Result<TwoViewBatch>>,
    ) {
        for step in 0..steps {
            let start = step as usize * self.batch_size;
            let slices = &order[start..start + self.batch_size];
            let batch = self.make(epoch, slices);
            let failed = batch.is_err();
            if tx.send(batch).is_err() || failed {
                return; // receiver gone (training stopped) or an error was delivered
            }
        }
    }
}

/// The receiving end of [`EpochLoader::spawn`].
pub struct BatchStream {
    rx: Receiver<Result<TwoViewBatch>>,
    handle: Option<JoinHandle<()>>,
}

impl BatchStream {
    /// The next batch.
    ///
    /// # Errors
    /// The producer's error, or [`SslError::Worker`] if its thread ended early.
    pub fn next_batch(&mut self) -> Result<TwoViewBatch> {
        match self.rx.recv() {
            Ok(b) => b,
            Err(_) => {
                let why = match self.handle.take().map(|h| h.join()) {
                    Some(Err(_)) => "the augmentation thread panicked",
                    None => "the augmentation thread could not be started",
                    Some(Ok(())) => "the augmentation thread ended before the epoch did",
                };
                Err(SslError::Worker(why.into()))
            }
        }
    }
}
