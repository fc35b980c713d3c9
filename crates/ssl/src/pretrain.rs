//! The Barlow Twins pretraining loop: prepared dataset in, checkpoints, a JSON-lines log and
//! a torchvision-named encoder out.
//!
//! ```text
//! OUT/config.json              {"data": ..., "config": PretrainConfig}
//! OUT/log.jsonl                one StepRecord per step, one EpochRecord per epoch (and the
//!                              kNN probe of the untrained encoder first, when the probe is on)
//! OUT/checkpoints/epoch-NNNN/  model + optimizer + state, atomic (see `checkpoint`)
//! OUT/encoder.safetensors      at the end: the encoder with torchvision key names, with
//!                              its inputs in the metadata (crate::encoder_meta)
//! ```
//!
//! ```no_run
//! use burn::tensor::Device;
//! use twinscan_ssl::pretrain::{pretrain, PretrainRun};
//! use twinscan_ssl::PretrainConfig;
//!
//! let run = PretrainRun {
//!     data: "prepared".into(),
//!     out: "runs/bt".into(),
//!     config: PretrainConfig { epochs: 2, batch_size: 32, ..PretrainConfig::study() },
//!     device: Device::flex(),
//!     data_parallel: Vec::new(),
//!     resume: false,
//! };
//! let summary = pretrain(&run, &mut |_event| {})?;
//! println!("encoder at {:?}", summary.encoder);
//! # Ok::<(), twinscan_ssl::SslError>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use twinscan_augment::{InputPlane, NormalizeFrom, Pipeline};
use twinscan_data::prepared::Prepared;
use twinscan_data::split::Split;
use twinscan_models::{DeviceSpec, ResNet, image_batch, weights};
use twinscan_train::{JsonLog, ResumePoint, RunDir, RunRecord};

use crate::checkpoint::{CHECKPOINT_FORMAT, CheckpointState};
use crate::config::PretrainConfig;
use crate::error::{Result, SslError};
use crate::knn::{KnnReport, knn_probe};
use crate::objective::Terms;
use crate::replicas::Replicas;
use crate::schedule::WarmupCosine;
use crate::step::{BarlowTwinsModel, StepStats, Trainer};
use twinscan_train::batches::{BatchSource, epoch_order};

/// One pretraining run.
#[derive(Debug, Clone)]
pub struct PretrainRun {
    /// A folder written by `twinscan_data::prepare` (its train split is used, labels only by
    /// the kNN probe).
    pub data: PathBuf,
    /// The output folder.
    pub out: PathBuf,
    /// Hyper-parameters.
    pub config: PretrainConfig,
    /// Where to train (a plain device; autodiff is added here). With `data_parallel`, the
    /// device of its first entry (replica 0).
    pub device: Device,
    /// Data parallelism: the devices of the replicas, one each (at least two; the first is
    /// `device`), every batch split over them (docs/ssl.md, Multi-device); empty = train on
    /// `device` alone. Results equal one device's up to float rounding.
    pub data_parallel: Vec<DeviceSpec>,
    /// Continue from the newest checkpoint in `out` (the configuration must match).
    pub resume: bool,
}

/// `config.json` of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFile {
    /// The prepared dataset.
    pub data: PathBuf,
    /// The configuration.
    pub config: PretrainConfig,
    /// The dataset's fingerprint (`dataset.json`); a run resumes only on the same data.
    #[serde(default)]
    pub dataset_fingerprint: Option<String>,
}

/// One line of `log.jsonl` per optimiser step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Always `"step"`.
    pub kind: String,
    /// 0-based epoch.
    pub epoch: u64,
    /// 0-based optimiser step (over the whole run).
    pub step: u64,
    /// Loss, terms, collapse indicator, gradient norm and learning rates.
    #[serde(flatten)]
    pub stats: StepStats,
    /// Images (one view each) per second, wall time since the previous step.
    pub images_per_s: f64,
}

/// One line of `log.jsonl` per finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Always `"epoch"`.
    pub kind: String,
    /// 0-based epoch that finished.
    pub epoch: u64,
    /// Steps taken so far.
    pub step: u64,
    /// Mean loss over the epoch's steps.
    pub mean_loss: f64,
    /// Mean of each loss term over the epoch's steps, keyed `mean_<term>` (Barlow Twins:
    /// `mean_on_diag`, `mean_off_diag` (without λ); VICReg: `mean_invariance`,
    /// `mean_variance`, `mean_covariance`).
    #[serde(flatten)]
    pub mean_terms: Terms,
    /// Mean standard deviation of the l2-normalised embeddings (→ 0 on collapse; about
    /// `1/sqrt(D)` when the embeddings spread over the sphere).
    pub mean_embedding_std: f64,
    /// Wall seconds of the epoch.
    pub seconds: f64,
    /// Images per second over the epoch.
    pub images_per_s: f64,
    /// The kNN probe on the validation split, when it ran this epoch.
    pub knn: Option<KnnReport>,
}

impl std::fmt::Display for EpochRecord {
    /// `epoch 3: loss 976.77, embedding std 0.0254, 33.2 img/s, kNN@20 acc ...` (1-based epoch).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "epoch {}: loss {:.2}, embedding std {:.4}, {:.1} img/s",
            self.epoch + 1,
            self.mean_loss,
            self.mean_embedding_std,
            self.images_per_s
        )?;
        match &self.knn {
            Some(k) => write!(f, ", {k}"),
            None => Ok(()),
        }
    }
}

/// What [`pretrain`] reports as it goes (for progress bars).
#[derive(Debug)]
pub enum Event<'a> {
    /// The run is set up.
    Started {
        /// Epochs in the run.
        epochs: u64,
        /// Steps per epoch.
        steps_per_epoch: u64,
        /// The epoch it starts at (> 0 when resumed).
        first_epoch: u64,
        /// Train slices.
        train_slices: usize,
    },
    /// A step finished.
    Step(&'a StepRecord),
    /// An epoch finished (before its checkpoint is written).
    Epoch(&'a EpochRecord),
    /// A checkpoint was written.
    Checkpoint(&'a Path),
    /// The kNN probe of the encoder before any training step (the baseline the epochs'
    /// probes compare with; only when the probe is on and the run starts at epoch 0).
    InitialProbe(&'a KnnReport),
}

/// The `log.jsonl` line of the probe before training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitialProbeRecord {
    /// Always `"knn_init"`.
    pub kind: String,
    /// The probe.
    pub knn: KnnReport,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainSummary {
    /// The exported encoder (`OUT/encoder.safetensors`), once every epoch is done.
    pub encoder: Option<PathBuf>,
    /// The newest checkpoint.
    pub checkpoint: PathBuf,
    /// Epochs done in all.
    pub epochs_done: u64,
    /// Steps done in all.
    pub steps: u64,
    /// Mean loss of each epoch run by this call (empty if everything was already done).
    pub epoch_losses: Vec<f64>,
    /// The epoch the run resumed at, if it did.
    pub resumed_at: Option<u64>,
}

/// The file names inside a run folder (config, log and checkpoints as every
/// [`RunDir`] names them).
pub mod files {
    /// Configuration.
    pub const CONFIG: &str = twinscan_train::run_dir::CONFIG;
    /// The JSON-lines log.
    pub const LOG: &str = twinscan_train::run_dir::LOG;
    /// Checkpoint folder.
    pub const CHECKPOINTS: &str = twinscan_train::run_dir::CHECKPOINTS;
    /// The exported encoder.
    pub const ENCODER: &str = "encoder.safetensors";
}

impl RunRecord for RunFile {
    type Config = PretrainConfig;

    fn config(&self) -> &PretrainConfig {
        &self.config
    }

    fn dataset_fingerprint(&self) -> Option<&str> {
        self.dataset_fingerprint.as_deref()
    }
}

/// The run folder of a pretraining (its `config.json` holds a [`RunFile`]).
pub type PretrainDir = RunDir<RunFile>;

/// Log lines written once before the first epoch (again when a run restarts from epoch 0).
const RUN_START_KINDS: &[&str] = &["knn_init"];

/// Pooled encoder features (`n × d`) of `indices`, through `pipeline` view 0 (no random
/// transform in an eval pipeline), in eval mode on the plain device.
/// The encoder's pooled features (`indices.len() × feature_dim`, row-major) of the prepared
/// slices `indices` (first window), through `pipeline` (the evaluation one): what the kNN
/// probe compares.
///
/// # Errors
/// Pipeline and device read-back errors.
pub fn features(
    encoder: &ResNet,
    data: &Prepared,
    pipeline: &Pipeline,
    indices: &[usize],
    device: &Device,
) -> Result<Vec<f32>> {
    let encoder = encoder.valid();
    let s = data.size();
    let (h, w) = pipeline.output_shape(s, s)?;
    let c = pipeline.channels;
    let mut out = Vec::new();
    for chunk in indices.chunks(64) {
        let inputs: Vec<InputPlane> = chunk
            .iter()
            .map(|&i| InputPlane::u8(s, s, &data.image(i)[..s * s]))
            .collect();
        let keys: Vec<u64> = chunk.iter().map(|&i| i as u64).collect();
        let mut buf = vec![0.0f32; chunk.len() * c * h * w];
        pipeline.batch(&inputs, 0, 0, &keys, 0, &mut buf)?;
        let x = image_batch(&buf, [chunk.len(), c, h, w], device)?;
        let f = encoder
            .forward_features(x)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| SslError::TensorRead {
                what: "kNN features",
                reason: format!("{e:?}"),
            })?;
        out.extend(f);
    }
    Ok(out)
}

fn labels_of(data: &Prepared, indices: &[usize]) -> Vec<i8> {
    indices
        .iter()
        .flat_map(|&i| data.labels(i).iter().copied())
        .collect()
}

/// Runs the kNN probe of `config` on the validation split (train split as the memory).
fn run_knn(
    encoder: &ResNet,
    data: &Prepared,
    config: &PretrainConfig,
    device: &Device,
) -> Result<Option<KnnReport>> {
    let train = data.indices(Split::Train);
    let val = data.indices(Split::Val);
    if train.is_empty() || val.is_empty() {
        return Ok(None);
    }
    let eval = normalized(crate::encoder_meta::eval_pipeline(config)?, config, data)?;
    let ft = features(encoder, data, &eval, &train, device)?;
    let fv = features(encoder, data, &eval, &val, device)?;
    let d = encoder.feature_dim();
    Ok(knn_probe(
        &ft,
        &labels_of(data, &train),
        &fv,
        &labels_of(data, &val),
        d,
        data.structures().len(),
        config.knn_k,
    ))
}

/// `pipeline` with the run's normalisation (`config.normalize`).
pub(crate) fn normalized(
    pipeline: Pipeline,
    config: &PretrainConfig,
    data: &Prepared,
) -> Result<Pipeline> {
    Ok(match config.normalize {
        NormalizeFrom::Study => pipeline,
        NormalizeFrom::Dataset => {
            let (mean, std) = data.train_stats().ok_or_else(|| SslError::InvalidConfig {
                field: "normalize",
                reason: "\"dataset\" needs a dataset prepared with train statistics \
                         (train_mean/train_std in dataset.json): prepare it again"
                    .into(),
            })?;
            pipeline.with_normalize(mean, std)
        }
    })
}

/// Loads the last checkpoint of the finished pretraining in `source` (its folder) into
/// `model` and `optim` (`PretrainConfig::continue_from`).
fn continue_from(
    source: &Path,
    model: BarlowTwinsModel,
    optim: ModuleOptimizer,
) -> Result<(BarlowTwinsModel, ModuleOptimizer)> {
    let checkpoints = PretrainDir::new(source).checkpoints();
    let Some(ck) = checkpoints.latest()? else {
        return Err(SslError::Checkpoint {
            path: checkpoints.root().to_path_buf(),
            reason: "continue_from: this pretraining has no checkpoint".into(),
        });
    };
    if ck.state.epochs_done < ck.state.config.epochs {
        return Err(SslError::Checkpoint {
            path: ck.dir.clone(),
            reason: format!(
                "continue_from: the pretraining is unfinished ({} of {} epochs)",
                ck.state.epochs_done, ck.state.config.epochs
            ),
        });
    }
    Ok(ck.load(model, optim)?)
}

/// Builds the model of `config` on `device` (seeded), loading `config.init` into the encoder.
///
/// # Errors
/// Configuration and weight-file errors.
pub fn build_model(config: &PretrainConfig, device: &Device) -> Result<BarlowTwinsModel> {
    // The weights a first training step would draw, drawn now in that order and under the
    // process-wide lock of `seeded`: the same whether the run trains on one device or forks
    // copies onto several, whether the kNN probe (which reads the encoder in field order) runs
    // before the first step, and whether other models are built at the same time.
    let (encoder, projector) = twinscan_models::seeded(device, config.seed, || -> Result<_> {
        let mut encoder = config.encoder().init(device)?;
        config.init.load_into(&mut encoder)?;
        let projector = config.projector()?.init(device);
        encoder.initialize_in_forward_order();
        projector.initialize_in_forward_order();
        Ok((encoder, projector))
    })?;
    BarlowTwinsModel::new(encoder, projector)
}

/// Runs (or resumes) a pretraining run; see the [module documentation](self).
///
/// # Errors
/// Configuration, dataset, checkpoint and I/O errors naming the file; [`SslError::Diverged`]
/// when the loss or gradient norm becomes non-finite (the newest checkpoint is left intact);
/// an `out` folder that already holds a run without `resume`.
pub fn pretrain(run: &PretrainRun, on_event: &mut dyn FnMut(Event<'_>)) -> Result<PretrainSummary> {
    pretrain_until(run, run.config.epochs, on_event)
}

/// [`pretrain`], stopping once `stop_after` epochs are done (a time-boxed run, continued
/// later with `resume`); the encoder is exported only when all of `config.epochs` are done.
///
/// # Errors
/// As [`pretrain`].
pub fn pretrain_until(
    run: &PretrainRun,
    stop_after: u64,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<PretrainSummary> {
    let (mut session, mut model) = PretrainSession::open(run)?;
    session.start(&model, on_event)?;
    let (loader, trainer) = session.batches()?;
    let last_epoch = stop_after.min(run.config.epochs);
    let mut epoch_losses = Vec::new();
    for epoch in session.first_epoch..last_epoch {
        let sums;
        (model, sums) = session.train_epoch(model, &loader, &trainer, epoch, on_event)?;
        let record = session.evaluate(&model, epoch, sums)?;
        session.log.line(&record)?;
        on_event(Event::Epoch(&record));
        epoch_losses.push(record.mean_loss);
        session.checkpoint(&model, &record, on_event)?;
    }
    session.finish(model, last_epoch, epoch_losses)
}

/// Sums over an epoch's steps, and its wall time.
struct EpochSums {
    loss: f64,
    embedding_std: f64,
    terms: Terms,
    seconds: f64,
}

/// A pretraining between [`open`](Self::open) and [`finish`](Self::finish): the run folder,
/// the data, the optimiser, the log and where the run stands. The model travels by value
/// (each step consumes and returns it).
struct PretrainSession<'a> {
    cfg: &'a PretrainConfig,
    data: Arc<Prepared>,
    train: Vec<usize>,
    steps_per_epoch: u64,
    schedule: WarmupCosine,
    dir: PretrainDir,
    /// The training (autodiff) device.
    device: Device,
    optim: ModuleOptimizer,
    /// Replicas 1.. of a data-parallel run (replica 0 is the session's model).
    replicas: Option<Replicas>,
    log: JsonLog,
    /// The next optimiser step.
    step: u64,
    first_epoch: u64,
    last_ck: Option<PathBuf>,
    resumed_at: Option<u64>,
}

impl<'a> PretrainSession<'a> {
    /// Checks the configuration and the data, opens the run folder (new, or resumed: its
    /// configuration must match), builds the model and restores the newest checkpoint.
    fn open(run: &'a PretrainRun) -> Result<(Self, BarlowTwinsModel)> {
        let cfg = &run.config;
        cfg.validate()?;
        check_data_parallel(run)?;
        let data = Arc::new(Prepared::open(&run.data)?);
        let train = data.indices(Split::Train);
        let steps_per_epoch = steps_per_epoch(run, train.len())?;
        let schedule = WarmupCosine::from_epochs(
            cfg.lr_scaling,
            cfg.batch_size,
            steps_per_epoch,
            cfg.epochs,
            cfg.warmup_epochs,
            cfg.end_factor,
        )?;
        let dir = PretrainDir::new(&run.out);
        let record = RunFile {
            data: run.data.clone(),
            config: cfg.clone(),
            dataset_fingerprint: Some(data.fingerprint().to_string()),
        };
        dir.open(&record, run.resume)?;

        let device = run.device.clone().autodiff();
        let mut model = build_model(cfg, &device)?;
        let mut optim: ModuleOptimizer = cfg.lars.init()?;
        if let Some(source) = &cfg.continue_from {
            // A resumed run's own checkpoint (below) replaces this again.
            (model, optim) = continue_from(source, model, optim)?;
        }
        let checkpoint = if run.resume {
            dir.checkpoints().latest()?
        } else {
            None
        };
        let mut at = ResumePoint::START;
        let mut last_ck = None;
        if let Some(ck) = &checkpoint {
            ck.ensure_config(cfg)?;
            (model, optim) = ck.load(model, optim)?;
            at = ResumePoint {
                step: ck.state.step,
                epochs_done: ck.state.epochs_done,
            };
            last_ck = Some(ck.dir.clone());
        }
        // A resume with no checkpoint (nothing finished before the interruption) starts
        // over in the same folder.
        let replicas = data_parallel(run, &model, &optim)?;
        let log = if run.resume {
            dir.resume_log(at, RUN_START_KINDS)?
        } else {
            dir.new_log()?
        };
        let session = Self {
            cfg,
            data,
            train,
            steps_per_epoch,
            schedule,
            dir,
            device,
            optim,
            replicas,
            log,
            step: at.step,
            first_epoch: at.epochs_done,
            last_ck,
            resumed_at: checkpoint.map(|c| c.state.epochs_done),
        };
        Ok((session, model))
    }

    /// Reports the start and, for a run at epoch 0 with the probe on, probes the untrained
    /// encoder (the baseline the epochs' probes compare with).
    fn start(
        &mut self,
        model: &BarlowTwinsModel,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<()> {
        on_event(Event::Started {
            epochs: self.cfg.epochs,
            steps_per_epoch: self.steps_per_epoch,
            first_epoch: self.first_epoch,
            train_slices: self.train.len(),
        });
        if self.first_epoch > 0 || self.cfg.knn_every == 0 {
            return Ok(());
        }
        let plain = self.device.clone().without_autodiff();
        if let Some(knn) = run_knn(&model.encoder, &self.data, self.cfg, &plain)? {
            self.log.line(&InitialProbeRecord {
                kind: "knn_init".into(),
                knn,
            })?;
            on_event(Event::InitialProbe(&knn));
        }
        Ok(())
    }

    /// The two-view batch loader and the step of the run's objective.
    fn batches(&self) -> Result<(BatchSource, Trainer)> {
        let cfg = self.cfg;
        let pipeline = Arc::new(normalized(cfg.pipeline()?, cfg, &self.data)?);
        let loader = BatchSource::two_views(self.data.clone(), pipeline, cfg.seed, cfg.batch_size)?;
        let trainer = Trainer {
            loss: cfg.objective()?,
            lars: cfg.lars,
            clip_norm: cfg.clip_norm,
        };
        Ok((loader, trainer))
    }

    /// One epoch of optimiser steps (one log line and event each); a non-finite value stops
    /// the run as [`SslError::Diverged`] naming the last good checkpoint.
    fn train_epoch(
        &mut self,
        mut model: BarlowTwinsModel,
        loader: &BatchSource,
        trainer: &Trainer,
        epoch: u64,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(BarlowTwinsModel, EpochSums)> {
        let cfg = self.cfg;
        let order = epoch_order(&self.train, cfg.seed, epoch);
        let mut stream = loader.spawn(epoch, order, self.steps_per_epoch, cfg.prefetch);
        let epoch_start = Instant::now();
        let mut last = Instant::now();
        let mut sums = EpochSums {
            loss: 0.0,
            embedding_std: 0.0,
            terms: Terms::new(),
            seconds: 0.0,
        };
        for _ in 0..self.steps_per_epoch {
            let batch = stream.next_batch()?.ok_or_else(|| {
                SslError::Worker("the augmentation thread ended before the epoch did".into())
            })?;
            let multiplier = self.schedule.multiplier(self.step);
            let (optim, step) = (&mut self.optim, self.step);
            let stepped = match &mut self.replicas {
                Some(replicas) => replicas.step(
                    trainer,
                    model,
                    optim,
                    &self.device,
                    &batch,
                    multiplier,
                    step,
                ),
                None => {
                    let y1 = image_batch(&batch.views[0], batch.shape, &self.device)?;
                    let y2 = image_batch(&batch.views[1], batch.shape, &self.device)?;
                    trainer.step(model, optim, y1, y2, multiplier, step)
                }
            };
            let (m, stats) = stepped.map_err(|e| match e {
                e @ SslError::NonFinite { .. } => SslError::Diverged {
                    source: Box::new(e),
                    last_checkpoint: self.last_ck.clone(),
                },
                e => e,
            })?;
            model = m;
            sums.loss += stats.loss;
            sums.embedding_std += stats.embedding_std;
            for (name, v) in &stats.terms {
                *sums.terms.entry(format!("mean_{name}")).or_insert(0.0) += v;
            }
            let now = Instant::now();
            let dt = now.duration_since(last).as_secs_f64().max(1e-9);
            last = now;
            let record = StepRecord {
                kind: "step".into(),
                epoch,
                step: self.step,
                stats,
                images_per_s: batch.shape[0] as f64 / dt,
            };
            self.log.line(&record)?;
            on_event(Event::Step(&record));
            self.step += 1;
        }
        sums.seconds = epoch_start.elapsed().as_secs_f64();
        Ok((model, sums))
    }

    /// The epoch's record: its means and, when due (`knn_every`), the kNN probe on the
    /// validation split.
    fn evaluate(
        &self,
        model: &BarlowTwinsModel,
        epoch: u64,
        sums: EpochSums,
    ) -> Result<EpochRecord> {
        let cfg = self.cfg;
        let knn = if cfg.knn_every > 0 && (epoch + 1).is_multiple_of(cfg.knn_every) {
            let plain = self.device.clone().without_autodiff();
            run_knn(&model.encoder, &self.data, cfg, &plain)?
        } else {
            None
        };
        let n = self.steps_per_epoch as f64;
        Ok(EpochRecord {
            kind: "epoch".into(),
            epoch,
            step: self.step,
            mean_loss: sums.loss / n,
            mean_terms: sums.terms.into_iter().map(|(k, v)| (k, v / n)).collect(),
            mean_embedding_std: sums.embedding_std / n,
            seconds: sums.seconds,
            images_per_s: n * cfg.batch_size as f64 / sums.seconds.max(1e-9),
            knn,
        })
    }

    /// Writes the checkpoint after `record`'s epoch and prunes the older ones.
    fn checkpoint(
        &mut self,
        model: &BarlowTwinsModel,
        record: &EpochRecord,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<()> {
        let state = CheckpointState {
            format: CHECKPOINT_FORMAT,
            epochs_done: record.epoch + 1,
            step: self.step,
            seed: self.cfg.seed,
            mean_loss: record.mean_loss,
            config: self.cfg.clone(),
        };
        let checkpoints = self.dir.checkpoints();
        let dir = checkpoints.write(model, &self.optim, &state)?;
        checkpoints.prune(self.cfg.keep_checkpoints)?;
        on_event(Event::Checkpoint(&dir));
        self.last_ck = Some(dir);
        Ok(())
    }

    /// Exports the encoder once every epoch is done and sums the run up.
    fn finish(
        self,
        model: BarlowTwinsModel,
        last_epoch: u64,
        epoch_losses: Vec<f64>,
    ) -> Result<PretrainSummary> {
        let cfg = self.cfg;
        let last_ck = match self.last_ck {
            Some(p) => p,
            None => self
                .dir
                .checkpoints()
                .latest()?
                .map(|c| c.dir)
                .ok_or_else(|| SslError::Checkpoint {
                    path: self.dir.path(files::CHECKPOINTS),
                    reason: "no checkpoint after the run".into(),
                })?,
        };
        let epochs_done = last_epoch.max(self.first_epoch);
        let encoder = if epochs_done >= cfg.epochs {
            let path = self.dir.path(files::ENCODER);
            // The encoder, written under a temporary name and renamed when complete.
            // (burn's safetensors store may add the extension: keep it last.)
            let tmp = twinscan_data::atomic::TempFile::with_extension(&path, "safetensors")?;
            let metadata = crate::encoder_meta::metadata(&self.data, cfg)?;
            weights::export_encoder_safetensors_with(&model.encoder, tmp.path(), &metadata)?;
            tmp.persist()?;
            Some(path)
        } else {
            None
        };
        Ok(PretrainSummary {
            encoder,
            checkpoint: last_ck,
            epochs_done,
            steps: self.step,
            epoch_losses,
            resumed_at: self.resumed_at,
        })
    }
}

/// Optimiser steps per epoch: whole batches of the train split, at most
/// `max_steps_per_epoch`.
/// Checks `run.data_parallel` before anything is written: at least two devices, compiled
/// in, the first being the run's device, a batch of at least one slice per device, and
/// distinct GPUs for NCCL.
fn check_data_parallel(run: &PretrainRun) -> Result<()> {
    let specs = &run.data_parallel;
    if specs.is_empty() {
        return Ok(());
    }
    let invalid = |reason: String| SslError::InvalidConfig {
        field: "data_parallel",
        reason,
    };
    if specs.len() < 2 {
        return Err(invalid(format!(
            "data parallelism needs at least two devices, got {}",
            specs.len()
        )));
    }
    let first = specs[0].device()?;
    for spec in &specs[1..] {
        spec.device()?;
    }
    if first != run.device {
        return Err(invalid(format!(
            "the first device ({}) must be the run's device",
            specs[0]
        )));
    }
    let cfg = &run.config;
    if cfg.batch_size < specs.len() {
        return Err(invalid(format!(
            "batch_size {} is smaller than the {} devices",
            cfg.batch_size,
            specs.len()
        )));
    }
    // An all-CUDA list runs on NCCL (crate::replicas): its checks, before anything is written.
    if specs.iter().all(|s| matches!(s, DeviceSpec::Cuda(_))) {
        twinscan_models::AllReduce::check(specs)?;
    }
    Ok(())
}

/// The replicas of a checked data-parallel run (see [`check_data_parallel`]), copies of the
/// restored `model` and `optim`; `None` for one device.
fn data_parallel(
    run: &PretrainRun,
    model: &BarlowTwinsModel,
    optim: &ModuleOptimizer,
) -> Result<Option<Replicas>> {
    let specs = &run.data_parallel;
    if specs.is_empty() {
        return Ok(None);
    }
    let devices = specs
        .iter()
        .map(DeviceSpec::device)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let fresh = || run.config.lars.init();
    Ok(Some(Replicas::new(model, optim, specs, &devices, fresh)?))
}

fn steps_per_epoch(run: &PretrainRun, train_slices: usize) -> Result<u64> {
    let cfg = &run.config;
    let per_epoch = (train_slices / cfg.batch_size) as u64;
    if per_epoch == 0 {
        return Err(SslError::Dataset {
            path: run.data.clone(),
            reason: format!(
                "the train split has {train_slices} slices, fewer than one batch of {}",
                cfg.batch_size
            ),
        });
    }
    Ok(cfg
        .max_steps_per_epoch
        .map_or(per_epoch, |m| m.min(per_epoch)))
}
