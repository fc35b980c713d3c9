//! Augmented batches of a prepared dataset, made on a background thread ahead of the step:
//! two views per slice for self-supervised pretraining, one view for the classifier.
//!
//! The epoch order is [`epoch_order`] (a ChaCha8 shuffle keyed by `(seed, epoch)`); each view
//! comes from `twinscan_augment::Pipeline` keyed by `(stream, epoch, slice index, view)`.
//! Both are pure functions of their keys, so the batches of an epoch are the same whatever
//! the thread count, the prefetch depth or whether the run was resumed.
//!
//! The producer runs on its own thread and fills a bounded channel (`prefetch` batches
//! ahead), so augmentation (rayon across images) overlaps the training step. A plain
//! `std::sync::mpsc::sync_channel` is all this needs: burn's `DataLoader` would own the
//! batching and the shuffle, whose order twinscan fixes independently of the backend.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use twinscan_augment::{InputPlane, Pipeline, Stream};
use twinscan_data::prepared::Prepared;

pub use twinscan_data::prepared::epoch_order;

use crate::error::{Result, TrainError};

/// One step's input: one or two views of `indices`, `N·C·H·W` values each.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Dataset indices of the slices (in batch order).
    pub indices: Vec<u64>,
    /// The views (one for classification, two for pretraining), row-major `N×C×H×W`.
    pub views: Vec<Vec<f32>>,
    /// `[N, C, H, W]`.
    pub shape: [usize; 4],
}

impl Batch {
    /// Slices in the batch.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the batch holds no slice.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Makes the augmented batches of an epoch from consecutive runs of an epoch order.
#[derive(Clone)]
pub struct BatchSource {
    data: Arc<Prepared>,
    pipeline: Arc<Pipeline>,
    stream: Stream,
    views: usize,
    batch_size: usize,
    channels: usize,
    out: (usize, usize),
}

impl BatchSource {
    /// Pretraining batches: both views of every slice (`Pipeline::two_views_batch`, the
    /// pretraining stream of `seed`).
    ///
    /// # Errors
    /// [`TrainError::Augment`] if the pipeline cannot take the dataset's slice size.
    pub fn two_views(
        data: Arc<Prepared>,
        pipeline: Arc<Pipeline>,
        seed: u64,
        batch_size: usize,
    ) -> Result<Self> {
        Self::new(data, pipeline, Stream::from(seed), 2, batch_size)
    }

    /// Classification batches: view 0 of `stream` (e.g. `Stream::classify(seed)`).
    ///
    /// # Errors
    /// [`TrainError::Augment`] if the pipeline cannot take the dataset's slice size.
    pub fn one_view(
        data: Arc<Prepared>,
        pipeline: Arc<Pipeline>,
        stream: Stream,
        batch_size: usize,
    ) -> Result<Self> {
        Self::new(data, pipeline, stream, 1, batch_size)
    }

    fn new(
        data: Arc<Prepared>,
        pipeline: Arc<Pipeline>,
        stream: Stream,
        views: usize,
        batch_size: usize,
    ) -> Result<Self> {
        let s = data.size();
        let out = pipeline.output_shape(s, s)?;
        let channels = pipeline.channels;
        Ok(Self {
            data,
            pipeline,
            stream,
            views,
            batch_size,
            channels,
            out,
        })
    }

    /// `[N, C, H, W]` of a full batch.
    pub fn shape(&self) -> [usize; 4] {
        [self.batch_size, self.channels, self.out.0, self.out.1]
    }

    /// Augments the batch of `slices` (on the calling thread, rayon inside). The
    /// augmentation input is the dataset's first channel (the first window of a
    /// multi-window dataset).
    ///
    /// # Errors
    /// [`TrainError::Augment`] from the pipeline.
    pub fn make(&self, epoch: u64, slices: &[usize]) -> Result<Batch> {
        let s = self.data.size();
        let plane = s * s;
        let inputs: Vec<InputPlane> = slices
            .iter()
            .map(|&i| InputPlane::u8(s, s, &self.data.image(i)[..plane]))
            .collect();
        let indices: Vec<u64> = slices.iter().map(|&i| i as u64).collect();
        let shape = [slices.len(), self.channels, self.out.0, self.out.1];
        let len = shape.iter().product();
        let views = if self.views == 2 {
            let (mut a, mut b) = (vec![0.0f32; len], vec![0.0f32; len]);
            self.pipeline
                .two_views_batch(&inputs, self.stream, epoch, &indices, &mut a, &mut b)?;
            vec![a, b]
        } else {
            let mut a = vec![0.0f32; len];
            self.pipeline
                .batch(&inputs, self.stream, epoch, &indices, 0, &mut a)?;
            vec![a]
        };
        Ok(Batch {
            indices,
            views,
            shape,
        })
    }

    /// Starts a background thread producing the `steps` batches of `epoch` from `order`
    /// (`batch_size` consecutive entries per step; the last one shorter when `order` ends
    /// first), at most `prefetch` ahead.
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

    fn produce(&self, epoch: u64, order: &[usize], steps: u64, tx: SyncSender<Result<Batch>>) {
        for chunk in order.chunks(self.batch_size).take(steps as usize) {
            let batch = self.make(epoch, chunk);
            let failed = batch.is_err();
            if tx.send(batch).is_err() || failed {
                return; // receiver gone (training stopped) or an error was delivered
            }
        }
    }
}

/// The receiving end of [`BatchSource::spawn`].
pub struct BatchStream {
    rx: Receiver<Result<Batch>>,
    handle: Option<JoinHandle<()>>,
}

impl BatchStream {
    /// The next batch, or `None` when the epoch's batches are all delivered.
    ///
    /// # Errors
    /// The producer's error, or [`TrainError::Worker`] if its thread panicked or could not
    /// start.
    pub fn next_batch(&mut self) -> Result<Option<Batch>> {
        match self.rx.recv() {
            Ok(b) => b.map(Some),
            Err(_) => match self.handle.take().map(|h| h.join()) {
                Some(Ok(())) => Ok(None),
                Some(Err(_)) => Err(TrainError::Worker(
                    "the augmentation thread panicked".into(),
                )),
                None => Err(TrainError::Worker(
                    "the augmentation thread could not be started".into(),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twinscan_data::synth::{SynthConfig, write_prepared_cohort};

    fn cohort() -> (tempfile::TempDir, Arc<Prepared>) {
        let tmp = tempfile::tempdir().unwrap();
        let synth = SynthConfig {
            scans: 2,
            size: 64,
            seed: 1,
            ..SynthConfig::default()
        };
        let dir = write_prepared_cohort(tmp.path(), &synth, 64).unwrap();
        let data = Arc::new(Prepared::open(&dir).unwrap());
        (tmp, data)
    }

    fn pipeline(name: &str) -> Arc<Pipeline> {
        Arc::new(
            Pipeline::preset(name)
                .unwrap()
                .with_output_size(32, 32)
                .with_channels(1),
        )
    }

    /// The background stream delivers exactly what `make` computes on the calling thread,
    /// whatever the prefetch depth; the last batch is short; then the stream ends.
    #[test]
    fn stream_matches_make_and_ends() {
        let (_tmp, data) = cohort();
        let order = epoch_order(&(0..10).collect::<Vec<_>>(), 7, 3);
        for (source, views) in [
            (
                BatchSource::one_view(
                    data.clone(),
                    pipeline("study_supervised"),
                    Stream::classify(7),
                    4,
                )
                .unwrap(),
                1,
            ),
            (
                BatchSource::two_views(data.clone(), pipeline("study_barlow"), 7, 4).unwrap(),
                2,
            ),
        ] {
            for prefetch in [1, 3] {
                let mut stream = source.spawn(3, order.clone(), 5, prefetch);
                let mut lens = Vec::new();
                while let Some(b) = stream.next_batch().unwrap() {
                    let again = source
                        .make(
                            3,
                            &b.indices.iter().map(|&i| i as usize).collect::<Vec<_>>(),
                        )
                        .unwrap();
                    assert_eq!(b.views.len(), views);
                    assert_eq!(b.views, again.views);
                    assert_eq!(b.shape, [b.len(), 1, 32, 32]);
                    lens.push(b.len());
                }
                assert_eq!(lens, [4, 4, 2]);
            }
        }
    }

    /// The two views differ (independent draws) and a view depends on the epoch.
    #[test]
    fn views_and_epochs_are_keyed() {
        let (_tmp, data) = cohort();
        let source = BatchSource::two_views(data, pipeline("study_barlow"), 1, 2).unwrap();
        let e0 = source.make(0, &[0, 1]).unwrap();
        let e1 = source.make(1, &[0, 1]).unwrap();
        assert_ne!(e0.views[0], e0.views[1]);
        assert_ne!(e0.views[0], e1.views[0]);
    }
}
