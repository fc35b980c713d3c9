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
//!     resume: false,
//! };
//! let summary = pretrain(&run, &mut |_event| {})?;
//! println!("encoder at {:?}", summary.encoder);
//! # Ok::<(), twinscan_ssl::SslError>(())
//! ```

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
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
use twinscan_models::{ResNet, image_batch, weights};

use crate::checkpoint::{self, CHECKPOINT_FORMAT, Checkpoint, CheckpointState};
use crate::config::PretrainConfig;
use crate::error::{Result, SslError};
use crate::knn::{KnnReport, knn_probe};
use crate::objective::Terms;
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
    /// Where to train (a plain device; autodiff is added here).
    pub device: Device,
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

/// The file names inside a run folder.
pub mod files {
    /// Configuration.
    pub const CONFIG: &str = "config.json";
    /// The JSON-lines log.
    pub const LOG: &str = "log.jsonl";
    /// Checkpoint folder.
    pub const CHECKPOINTS: &str = "checkpoints";
    /// The exported encoder.
    pub const ENCODER: &str = "encoder.safetensors";
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SslError + '_ {
    move |source| SslError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| SslError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(twinscan_data::atomic::write(path, bytes, false)?)
}

/// Top-level fields whose values differ between two configurations.
fn differing_fields(a: &PretrainConfig, b: &PretrainConfig) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return vec!["<unserialisable>".into()];
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Keeps the log lines of steps before `step` and of epochs before `epochs_done` (what the
/// checkpoint contains); the rest belongs to the interrupted epoch and is run again.
fn truncate_log(path: &Path, step: u64, epochs_done: u64) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let file = fs::File::open(path).map_err(io(path))?;
    let mut kept = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(io(path))?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue; // a line cut by the interruption
        };
        let keep = match v.get("kind").and_then(|k| k.as_str()) {
            Some("step") => v
                .get("step")
                .and_then(|s| s.as_u64())
                .is_some_and(|s| s < step),
            Some("epoch") => v
                .get("epoch")
                .and_then(|s| s.as_u64())
                .is_some_and(|e| e < epochs_done),
            // Written again when the run restarts from epoch 0.
            Some("knn_init") => epochs_done > 0,
            _ => true,
        };
        if keep {
            kept.push(line);
        }
    }
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    Ok(twinscan_data::atomic::write(path, text, false)?)
}

struct Log {
    w: BufWriter<fs::File>,
    path: PathBuf,
}

impl Log {
    fn open(path: &Path, append: bool) -> Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(path)
            .map_err(io(path))?;
        Ok(Self {
            w: BufWriter::new(file),
            path: path.to_path_buf(),
        })
    }

    fn line<T: Serialize>(&mut self, value: &T) -> Result<()> {
        let path = &self.path;
        serde_json::to_writer(&mut self.w, value).map_err(|source| SslError::Json {
            path: path.clone(),
            source,
        })?;
        self.w
            .write_all(b"\n")
            .and_then(|_| self.w.flush())
            .map_err(io(path))
    }
}

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
    let ck_root = source.join(files::CHECKPOINTS);
    let Some(ck) = checkpoint::latest(&ck_root)? else {
        return Err(SslError::Checkpoint {
            path: ck_root,
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
    ck.load(model, optim)
}

/// Builds the model of `config` on `device` (seeded), loading `config.init` into the encoder.
///
/// # Errors
/// Configuration and weight-file errors.
pub fn build_model(config: &PretrainConfig, device: &Device) -> Result<BarlowTwinsModel> {
    device.seed(config.seed);
    let mut encoder = config.encoder().init(device)?;
    config.init.load_into(&mut encoder)?;
    let projector = config.projector()?.init(device);
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
    let cfg = &run.config;
    cfg.validate()?;
    let data = Arc::new(Prepared::open(&run.data)?);
    let train = data.indices(Split::Train);
    let per_epoch = (train.len() / cfg.batch_size) as u64;
    if per_epoch == 0 {
        return Err(SslError::Dataset {
            path: run.data.clone(),
            reason: format!(
                "the train split has {} slices, fewer than one batch of {}",
                train.len(),
                cfg.batch_size
            ),
        });
    }
    let steps_per_epoch = cfg
        .max_steps_per_epoch
        .map_or(per_epoch, |m| m.min(per_epoch));
    let schedule = WarmupCosine::from_epochs(
        cfg.lr_scaling,
        cfg.batch_size,
        steps_per_epoch,
        cfg.epochs,
        cfg.warmup_epochs,
        cfg.end_factor,
    )?;

    // The output folder.
    let config_path = run.out.join(files::CONFIG);
    let log_path = run.out.join(files::LOG);
    let ck_root = run.out.join(files::CHECKPOINTS);
    let encoder_path = run.out.join(files::ENCODER);
    let run_file = RunFile {
        data: run.data.clone(),
        config: cfg.clone(),
        dataset_fingerprint: Some(data.fingerprint().to_string()),
    };
    if run.resume {
        if !config_path.exists() {
            return Err(SslError::Checkpoint {
                path: run.out.clone(),
                reason: "nothing to resume: no pretraining run here (config.json is missing)"
                    .into(),
            });
        }
        let bytes = fs::read(&config_path).map_err(io(&config_path))?;
        let saved: RunFile = serde_json::from_slice(&bytes).map_err(|source| SslError::Json {
            path: config_path.clone(),
            source,
        })?;
        let mut fields = differing_fields(&saved.config, cfg);
        if saved.dataset_fingerprint.is_some()
            && saved.dataset_fingerprint != run_file.dataset_fingerprint
        {
            fields.push("dataset (its fingerprint changed: prepared again?)".into());
        }
        if !fields.is_empty() {
            return Err(SslError::ResumeMismatch {
                path: config_path,
                fields,
            });
        }
        checkpoint::clean_partial(&ck_root)?;
    } else {
        if config_path.exists() {
            return Err(SslError::Checkpoint {
                path: run.out.clone(),
                reason: "already holds a pretraining run (config.json): pass --resume to \
                         continue it, or choose another --out folder"
                    .into(),
            });
        }
        fs::create_dir_all(&run.out).map_err(io(&run.out))?;
        write_json_atomic(&config_path, &run_file)?;
    }

    let device = run.device.clone().autodiff();
    let mut model = build_model(cfg, &device)?;
    let mut optim: ModuleOptimizer = cfg.lars.init()?;
    if let Some(source) = &cfg.continue_from {
        // A resumed run's own checkpoint (below) replaces this again.
        (model, optim) = continue_from(source, model, optim)?;
    }
    let (mut first_epoch, mut step, mut last_ck) = (0u64, 0u64, None::<PathBuf>);
    let mut resumed_at = None;
    if run.resume
        && let Some(ck) = checkpoint::latest(&ck_root)?
    {
        let Checkpoint { dir, state } = &ck;
        if state.config != *cfg {
            return Err(SslError::ResumeMismatch {
                path: dir.join("state.json"),
                fields: differing_fields(&state.config, cfg),
            });
        }
        (model, optim) = ck.load(model, optim)?;
        first_epoch = state.epochs_done;
        step = state.step;
        last_ck = Some(dir.clone());
        resumed_at = Some(first_epoch);
        truncate_log(&log_path, step, first_epoch)?;
    } else if run.resume {
        // Nothing finished before the interruption: start over in the same folder.
        truncate_log(&log_path, 0, 0)?;
    }
    let mut log = Log::open(&log_path, run.resume)?;

    on_event(Event::Started {
        epochs: cfg.epochs,
        steps_per_epoch,
        first_epoch,
        train_slices: train.len(),
    });

    if first_epoch == 0 && cfg.knn_every > 0 {
        let plain = device.clone().without_autodiff();
        if let Some(knn) = run_knn(&model.encoder, &data, cfg, &plain)? {
            log.line(&InitialProbeRecord {
                kind: "knn_init".into(),
                knn,
            })?;
            on_event(Event::InitialProbe(&knn));
        }
    }
    let pipeline = Arc::new(normalized(cfg.pipeline()?, cfg, &data)?);
    let loader = BatchSource::two_views(data.clone(), pipeline, cfg.seed, cfg.batch_size)?;
    let trainer = Trainer {
        loss: cfg.objective()?,
        lars: cfg.lars,
        clip_norm: cfg.clip_norm,
    };
    let mut epoch_losses = Vec::new();
    let last_epoch = stop_after.min(cfg.epochs);
    for epoch in first_epoch..last_epoch {
        let order = epoch_order(&train, cfg.seed, epoch);
        let mut stream = loader.spawn(epoch, order, steps_per_epoch, cfg.prefetch);
        let epoch_start = Instant::now();
        let mut last = Instant::now();
        let (mut loss_sum, mut std_sum, mut term_sums) = (0.0f64, 0.0f64, Terms::new());
        for _ in 0..steps_per_epoch {
            let batch = stream.next_batch()?.ok_or_else(|| {
                SslError::Worker("the augmentation thread ended before the epoch did".into())
            })?;
            let y1 = image_batch(&batch.views[0], batch.shape, &device)?;
            let y2 = image_batch(&batch.views[1], batch.shape, &device)?;
            let (m, stats) = trainer
                .step(model, &mut optim, y1, y2, schedule.multiplier(step), step)
                .map_err(|e| match e {
                    e @ SslError::NonFinite { .. } => SslError::Diverged {
                        source: Box::new(e),
                        last_checkpoint: last_ck.clone(),
                    },
                    e => e,
                })?;
            model = m;
            loss_sum += stats.loss;
            std_sum += stats.embedding_std;
            for (name, v) in &stats.terms {
                *term_sums.entry(format!("mean_{name}")).or_insert(0.0) += v;
            }
            let now = Instant::now();
            let dt = now.duration_since(last).as_secs_f64().max(1e-9);
            last = now;
            let record = StepRecord {
                kind: "step".into(),
                epoch,
                step,
                stats,
                images_per_s: batch.shape[0] as f64 / dt,
            };
            log.line(&record)?;
            on_event(Event::Step(&record));
            step += 1;
        }
        let n = steps_per_epoch as f64;
        let seconds = epoch_start.elapsed().as_secs_f64();
        let knn = if cfg.knn_every > 0 && (epoch + 1) % cfg.knn_every == 0 {
            run_knn(
                &model.encoder,
                &data,
                cfg,
                &device.clone().without_autodiff(),
            )?
        } else {
            None
        };
        let record = EpochRecord {
            kind: "epoch".into(),
            epoch,
            step,
            mean_loss: loss_sum / n,
            mean_terms: term_sums.into_iter().map(|(k, v)| (k, v / n)).collect(),
            mean_embedding_std: std_sum / n,
            seconds,
            images_per_s: n * cfg.batch_size as f64 / seconds.max(1e-9),
            knn,
        };
        log.line(&record)?;
        on_event(Event::Epoch(&record));
        epoch_losses.push(record.mean_loss);
        let state = CheckpointState {
            format: CHECKPOINT_FORMAT,
            epochs_done: epoch + 1,
            step,
            seed: cfg.seed,
            mean_loss: record.mean_loss,
            config: cfg.clone(),
        };
        let dir = checkpoint::write(&ck_root, &model, &optim, &state)?;
        checkpoint::prune(&ck_root, cfg.keep_checkpoints)?;
        on_event(Event::Checkpoint(&dir));
        last_ck = Some(dir);
    }

    let last_ck = match last_ck {
        Some(p) => p,
        None => checkpoint::latest(&ck_root)?
            .map(|c| c.dir)
            .ok_or_else(|| SslError::Checkpoint {
                path: ck_root.clone(),
                reason: "no checkpoint after the run".into(),
            })?,
    };
    let epochs_done = last_epoch.max(first_epoch);
    let encoder = if epochs_done >= cfg.epochs {
        // The encoder, written under a temporary name and renamed when complete.
        // (burn's safetensors store may add the extension: keep it last.)
        let tmp = twinscan_data::atomic::TempFile::with_extension(&encoder_path, "safetensors")?;
        let metadata = crate::encoder_meta::metadata(&data, cfg)?;
        weights::export_encoder_safetensors_with(&model.encoder, tmp.path(), &metadata)?;
        tmp.persist()?;
        Some(encoder_path)
    } else {
        None
    };
    Ok(PretrainSummary {
        encoder,
        checkpoint: last_ck,
        epochs_done,
        steps: step,
        epoch_losses,
        resumed_at,
    })
}
