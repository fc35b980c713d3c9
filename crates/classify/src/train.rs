//! Training and evaluating one classifier on a prepared dataset, patient-level and held out.
//!
//! Train on the train split (with a twinscan-augment preset), evaluate on the validation
//! split after every epoch, keep the epoch with the best validation score, and report its
//! metrics on the **test** split (never the training data: flaw 3 of the study). One run
//! writes, atomically (a temporary folder renamed at the end):
//!
//! ```text
//! RUN/config.json       RunInfo: the TrainConfig, dataset, structures, split sizes
//! RUN/log.jsonl         one EpochRecord per epoch (train loss, val loss, val macro F1/AUROC)
//! RUN/predictions.csv   scan,patient,slice,structure,label,prob: every test slice × structure
//! RUN/metrics.csv       structure,tn,fp,fn,tp,f1,f1_lo,f1_hi,auroc,auroc_lo,auroc_hi,n_known
//! RUN/val_metrics.csv   the same on the validation split, selected epoch (no bootstrap)
//! RUN/curves.png        loss and validation macro F1 per epoch
//! RUN/model.safetensors the selected epoch's encoder + head with metadata (crate::artifact)
//! RUN/result.json       RunResult: selected epoch, mean test F1/AUROC, seconds (written last)
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};
use twinscan_augment::{InputPlane, NormalizeFrom, Pipeline, Stream};
use twinscan_data::prepared::{Prepared, epoch_order};
use twinscan_data::split::Split;
use twinscan_models::{BackboneInit, image_batch};
use twinscan_train::schedule::check_run_length;
use twinscan_train::{BatchSource, EncoderInput, JsonLog, RunDir, RunRecord, WarmupCosine};

use crate::classifier::{Classifier, ClassifierConfig, FrozenBn};
use crate::error::{ClassifyError, Result};
use crate::head::{HeadInit, HeadKind, Mode};
use crate::loss::{MaskedBce, MaskedCrossEntropy, MaskedLossConfig, labels_tensor};
use crate::metrics::{BootstrapConfig, MeanSd, MetricsConfig, Samples, StructureMetrics};
use crate::report::{PredictionRow, write_metrics, write_predictions};

/// The optimiser of a classification run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Adam (β 0.9 / 0.999, ε 1e-8 as PyTorch), constant rate: the study (lr 1e-4).
    Adam {
        /// Learning rate.
        lr: f64,
    },
    /// SGD with momentum (no dampening), optionally cosine-annealed to 0 over the run: the
    /// reference linear evaluation (lr 0.3, momentum 0.9, cosine).
    Sgd {
        /// Peak learning rate.
        lr: f64,
        /// Momentum factor.
        momentum: f64,
        /// Cosine annealing per step.
        cosine: bool,
    },
}

/// Which epoch's model is kept and tested.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Highest mean validation macro F1 over structures (ties: the earlier epoch).
    #[default]
    ValMacroF1,
    /// Lowest validation loss.
    ValLoss,
    /// The last epoch.
    Last,
}

/// Everything that determines a classification run (with the dataset and the backbone file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The encoder preset and its input (`arch`, `in_channels`, `image_size` at the top level
    /// of `config.json`): ResNet-18 on 3×128² in the study.
    #[serde(flatten)]
    pub input: EncoderInput,
    /// Backbone weights: `random`, `imagenet:FILE`, `barlow:FILE`.
    pub init: BackboneInit,
    /// Frozen backbone (linear probe) or finetuned.
    pub mode: Mode,
    /// BatchNorm of a frozen backbone while the head trains (`batch_stats` in the study;
    /// validation and test always use eval mode).
    #[serde(default)]
    pub frozen_bn: FrozenBn,
    /// torchvision's `zero_init_residual` for a randomly initialised encoder (the study's
    /// classifier built `resnet18(zero_init_residual=True)`); loaded weights replace it.
    #[serde(default)]
    pub zero_init_residual: bool,
    /// Normalisation constants: the study's (0.28, 0.031) or the train split's (`dataset`).
    #[serde(default)]
    pub normalize: NormalizeFrom,
    /// Optimiser.
    pub optimizer: OptimizerConfig,
    /// Epochs.
    pub epochs: u64,
    /// Training batch size (64 in the study).
    pub batch_size: usize,
    /// Cap on steps per epoch (quick runs); `None` = the whole train split.
    #[serde(default)]
    pub max_steps_per_epoch: Option<u64>,
    /// Train-time augmentation preset or pipeline file (`study_supervised`).
    pub augment: String,
    /// The masked loss (class weights [1, 2], reduction).
    pub loss: MaskedLossConfig,
    /// Pair logits (the study) or single logits.
    pub head_kind: HeadKind,
    /// Head initialisation.
    pub head_init: HeadInit,
    /// Model selection on the validation split.
    pub selection: Selection,
    /// Threshold, F1 definition and test bootstrap.
    pub metrics: MetricsConfig,
    /// Seed of initialisation, order and augmentation.
    pub seed: u64,
    /// Batch size of evaluation passes.
    pub eval_batch_size: usize,
}

impl TrainConfig {
    /// The study: ResNet-18 (`zero_init_residual`), 3×128², Adam lr 1e-4, batch 64, 35
    /// epochs, `study_supervised`, class weights [1, 2] (loss averaged over known labels),
    /// pair logits, a frozen backbone's BatchNorm on batch statistics.
    pub fn study() -> Self {
        Self {
            input: EncoderInput::study(),
            init: BackboneInit::Random,
            mode: Mode::Finetune,
            frozen_bn: FrozenBn::BatchStats,
            zero_init_residual: true,
            normalize: NormalizeFrom::Study,
            optimizer: OptimizerConfig::Adam { lr: 1e-4 },
            epochs: 35,
            batch_size: 64,
            max_steps_per_epoch: None,
            augment: "study_supervised".into(),
            loss: MaskedLossConfig::default(),
            head_kind: HeadKind::Pairs,
            head_init: HeadInit::TorchDefault,
            selection: Selection::ValMacroF1,
            metrics: MetricsConfig::default(),
            seed: 0,
            eval_batch_size: 128,
        }
    }

    /// The reference linear evaluation: frozen backbone in eval mode, SGD lr 0.3 momentum 0.9
    /// cosine, 100 epochs, head N(0, 0.01), bias 0.
    pub fn linear_eval() -> Self {
        Self {
            mode: Mode::Frozen,
            frozen_bn: FrozenBn::Eval,
            optimizer: OptimizerConfig::Sgd {
                lr: 0.3,
                momentum: 0.9,
                cosine: true,
            },
            epochs: 100,
            head_init: HeadInit::Reference,
            ..Self::study()
        }
    }

    /// The classifier's configuration for `structures` structures.
    pub fn classifier(&self, structures: usize) -> ClassifierConfig {
        ClassifierConfig::new(self.input.encoder(self.zero_init_residual), structures)
            .with_init(self.init.clone())
            .with_mode(self.mode)
            .with_frozen_bn(self.frozen_bn)
            .with_head_kind(self.head_kind)
            .with_head_init(self.head_init)
    }

    fn pipeline(&self, name: &str) -> Result<Pipeline> {
        Ok(self.input.pipeline(name)?)
    }

    /// A pipeline with the run's normalisation applied (`data` gives the train statistics).
    fn pipeline_for(&self, name: &str, data: &Prepared) -> Result<Pipeline> {
        let p = self.pipeline(name)?;
        Ok(match self.normalize {
            NormalizeFrom::Study => p,
            NormalizeFrom::Dataset => {
                let (mean, std) = data.train_stats().ok_or_else(|| {
                    ClassifyError::config(
                        "normalize",
                        "\"dataset\" needs a dataset prepared with train statistics \
                         (train_mean/train_std in dataset.json): prepare it again",
                    )
                })?;
                p.with_normalize(mean, std)
            }
        })
    }

    /// Checks the values.
    ///
    /// # Errors
    /// [`ClassifyError::Config`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, m: String| Err(ClassifyError::config(f, m));
        check_run_length(self.epochs, self.batch_size, self.max_steps_per_epoch)?;
        if self.eval_batch_size == 0 {
            return bad("eval_batch_size", "must be >= 1".into());
        }
        self.input.validate()?;
        let (lr, m) = match self.optimizer {
            OptimizerConfig::Adam { lr } => (lr, 0.0),
            OptimizerConfig::Sgd { lr, momentum, .. } => (lr, momentum),
        };
        if !(lr.is_finite() && lr > 0.0 && (0.0..1.0).contains(&m)) {
            return bad(
                "optimizer",
                format!("lr must be finite and > 0 and momentum in [0, 1); got {lr} / {m}"),
            );
        }
        self.loss.validate()?;
        self.metrics.validate()?;
        self.pipeline(&self.augment)?.validate()?;
        Ok(())
    }

    fn optimizer(&self) -> ModuleOptimizer {
        match self.optimizer {
            OptimizerConfig::Adam { .. } => AdamConfig::new().with_epsilon(1e-8).init(),
            OptimizerConfig::Sgd { momentum, .. } => SgdConfig::new()
                .with_momentum((momentum > 0.0).then(|| {
                    MomentumConfig::new()
                        .with_momentum(momentum)
                        .with_dampening(0.0)
                }))
                .init(),
        }
    }

    /// The learning rate of step `step` of `total`: constant, or SGD's cosine from `lr` to 0
    /// (the shared [`WarmupCosine`] without warm-up: `lr · ½(1 + cos(π·step/total))`).
    fn learning_rate(&self, step: u64, total: u64) -> f64 {
        match self.optimizer {
            OptimizerConfig::Adam { lr } => lr,
            OptimizerConfig::Sgd { lr, cosine, .. } => {
                if cosine {
                    // `total` is > 0 and `lr` finite and > 0 (validated): `new` cannot fail.
                    WarmupCosine::new(lr, 0, total.max(1), 0.0).map_or(lr, |s| s.multiplier(step))
                } else {
                    lr
                }
            }
        }
    }
}

/// `config.json` of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The prepared dataset.
    pub data: PathBuf,
    /// The configuration.
    pub config: TrainConfig,
    /// Structure names (head order).
    pub structures: Vec<String>,
    /// Slices per split: train, validation, test.
    pub slices: [usize; 3],
    /// Patients per split.
    pub patients: [usize; 3],
    /// The dataset's fingerprint (`dataset.json`): a finished run is reused only on the same
    /// data.
    #[serde(default)]
    pub dataset_fingerprint: Option<String>,
}

impl RunRecord for RunInfo {
    type Config = TrainConfig;

    fn config(&self) -> &TrainConfig {
        &self.config
    }

    fn dataset_fingerprint(&self) -> Option<&str> {
        self.dataset_fingerprint.as_deref()
    }
}

/// The folder of a classification run (its `config.json` holds a [`RunInfo`]).
pub type TrainDir = RunDir<RunInfo>;

/// One line of `log.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: u64,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss (the same masked loss, eval mode, no augmentation).
    pub val_loss: f64,
    /// Mean over structures of the validation macro F1 (known labels only).
    pub val_macro_f1: f64,
    /// Mean over structures of the validation AUROC.
    pub val_auroc: f64,
    /// Wall seconds of the epoch (training and validation).
    pub seconds: f64,
    /// Training images per second.
    pub images_per_s: f64,
}

/// `result.json` of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The epoch whose model was tested.
    pub selected_epoch: u64,
    /// How it was selected.
    pub selection: Selection,
    /// Mean test macro F1 over structures with a defined value.
    pub test_macro_f1: f64,
    /// Mean test AUROC over structures with a defined value.
    pub test_auroc: f64,
    /// Which split the metrics files describe.
    pub metrics_split: String,
    /// Wall seconds of the run.
    pub seconds: f64,
}

/// What [`train_and_evaluate`] reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// Set up: epochs and steps per epoch.
    Started {
        /// Epochs.
        epochs: u64,
        /// Training steps per epoch.
        steps_per_epoch: u64,
    },
    /// A training step finished.
    Step {
        /// 0-based epoch.
        epoch: u64,
        /// Loss of the step.
        loss: f64,
    },
    /// An epoch finished (validation included).
    Epoch(&'a EpochRecord),
    /// The test split is being evaluated.
    Testing,
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The run folder.
    pub dir: PathBuf,
    /// Per-epoch history.
    pub history: Vec<EpochRecord>,
    /// Summary.
    pub result: RunResult,
    /// Test metrics per structure.
    pub test: Vec<StructureMetrics>,
}

/// The run-folder file names.
pub mod files {
    /// Configuration.
    pub const CONFIG: &str = twinscan_train::run_dir::CONFIG;
    /// Epoch log.
    pub const LOG: &str = twinscan_train::run_dir::LOG;
    /// Test predictions.
    pub const PREDICTIONS: &str = "predictions.csv";
    /// Test metrics.
    pub const METRICS: &str = "metrics.csv";
    /// Validation metrics of the selected epoch.
    pub const VAL_METRICS: &str = "val_metrics.csv";
    /// Curves.
    pub const CURVES: &str = "curves.png";
    /// Summary, written last: its presence marks a finished run.
    pub const RESULT: &str = "result.json";
}

/// Whether `dir` holds a finished run (its `result.json` reads).
pub fn is_finished(dir: &Path) -> bool {
    read_result(dir).is_ok()
}

/// Reads a finished run's `result.json`.
///
/// # Errors
/// [`ClassifyError::Io`] / [`ClassifyError::Json`] naming the file.
pub fn read_result(dir: &Path) -> Result<RunResult> {
    let path = dir.join(files::RESULT);
    let bytes = fs::read(&path).map_err(|e| ClassifyError::io(&path, e))?;
    serde_json::from_slice(&bytes).map_err(|source| ClassifyError::Json { path, source })
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| ClassifyError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    fs::write(path, bytes).map_err(|e| ClassifyError::io(path, e))
}

fn read_back<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> ClassifyError {
    move |e| ClassifyError::Shape {
        what: what.into(),
        message: format!("reading back from the device failed: {e:?}"),
    }
}

/// Evaluation of one split: probabilities (`n × S`, row-major) and the mean masked loss.
struct Evaluation {
    probs: Vec<f32>,
    loss: f64,
}

struct Runner<'a> {
    data: &'a Prepared,
    cfg: &'a TrainConfig,
    structures: usize,
}

impl Runner<'_> {
    fn inputs<'d>(&self, data: &'d Prepared, idx: &[usize]) -> Vec<InputPlane<'d>> {
        let s = data.size();
        idx.iter()
            .map(|&i| InputPlane::u8(s, s, &data.image(i)[..s * s]))
            .collect()
    }

    fn labels(&self, idx: &[usize], device: &Device) -> Result<Tensor<2, Int>> {
        let flat: Vec<i8> = idx
            .iter()
            .flat_map(|&i| self.data.labels(i).iter().copied())
            .collect();
        labels_tensor(&flat, idx.len(), self.structures, device)
    }

    fn loss(&self, logits: Tensor<2>, labels: Tensor<2, Int>) -> Result<Tensor<1>> {
        Ok(match self.cfg.head_kind {
            HeadKind::Pairs => MaskedCrossEntropy::new(self.cfg.loss)?.forward(logits, labels),
            HeadKind::Single => MaskedBce::new(self.cfg.loss)?.forward(logits, labels),
        })
    }

    /// The slices `chunk` through view 0 of `pipeline` (the classification stream of the
    /// run's seed, keyed by `epoch` and slice), as an `N×C×H×W` batch on `device`.
    fn batch(
        &self,
        chunk: &[usize],
        pipeline: &Pipeline,
        epoch: u64,
        device: &Device,
        context: &str,
    ) -> Result<Tensor<4>> {
        let s = self.data.size();
        let (h, w) = pipeline.output_shape(s, s)?;
        let c = pipeline.channels;
        let inputs = self.inputs(self.data, chunk);
        let keys: Vec<u64> = chunk.iter().map(|&i| i as u64).collect();
        let mut buf = vec![0.0f32; chunk.len() * c * h * w];
        let stream = Stream::classify(self.cfg.seed);
        pipeline.batch(&inputs, stream, epoch, &keys, 0, &mut buf)?;
        image_batch(&buf, [chunk.len(), c, h, w], device).map_err(|source| ClassifyError::Model {
            context: context.into(),
            source,
        })
    }

    /// [`FrozenBn::Recalibrate`]: one pass over `idx` (no augmentation) with the encoder's
    /// BatchNorm in train mode and no gradient, re-estimating its running statistics; then
    /// the encoder is frozen (eval-mode BatchNorm) for the head's training.
    fn recalibrate(
        &self,
        model: Classifier,
        idx: &[usize],
        pipeline: &Pipeline,
        device: &Device,
    ) -> Result<Classifier> {
        for chunk in idx.chunks(self.cfg.batch_size) {
            if chunk.len() < 2 {
                continue;
            }
            let x = self.batch(chunk, pipeline, 0, device, "recalibration batch")?;
            // Only the running statistics are wanted: the features are dropped.
            let _ = model.encoder.forward_features(x);
        }
        Ok(model.with_mode(Mode::Frozen))
    }

    /// Forward passes in eval mode (BatchNorm on running statistics, no augmentation).
    fn evaluate(
        &self,
        model: &Classifier,
        idx: &[usize],
        pipeline: &Pipeline,
        device: &Device,
    ) -> Result<Evaluation> {
        let model = model.valid();
        let mut probs = Vec::with_capacity(idx.len() * self.structures);
        let mut loss_sum = 0.0;
        for chunk in idx.chunks(self.cfg.eval_batch_size) {
            let x = self.batch(chunk, pipeline, 0, device, "evaluation batch")?;
            let logits = model.forward(x);
            let l = self
                .loss(logits.clone(), self.labels(chunk, device)?)?
                .into_scalar::<f32>() as f64;
            loss_sum += l * chunk.len() as f64;
            let p = model
                .head
                .probabilities(logits)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(read_back("probabilities"))?;
            probs.extend(p);
        }
        Ok(Evaluation {
            probs,
            loss: loss_sum / idx.len().max(1) as f64,
        })
    }

    fn samples(&self, idx: &[usize], probs: &[f32]) -> Result<Samples> {
        let names = self.data.structures();
        let mut samples = Samples::new();
        for name in names {
            samples.add_structure(name);
        }
        for (row, &i) in idx.iter().enumerate() {
            for (j, name) in names.iter().enumerate() {
                let p = probs[row * self.structures + j].clamp(0.0, 1.0) as f64;
                samples.push(name, self.data.patient(i), self.data.labels(i)[j].into(), p)?;
            }
        }
        Ok(samples)
    }

    fn prediction_rows(&self, idx: &[usize], probs: &[f32]) -> Vec<PredictionRow> {
        let names = self.data.structures();
        let mut rows = Vec::with_capacity(idx.len() * names.len());
        for (row, &i) in idx.iter().enumerate() {
            for (j, name) in names.iter().enumerate() {
                rows.push(PredictionRow {
                    scan: self.data.scan(i).to_string(),
                    patient: self.data.patient(i).to_string(),
                    slice: self.data.slice_index(i) as u32,
                    structure: name.clone(),
                    label: self.data.labels(i)[j],
                    prob: probs[row * self.structures + j].clamp(0.0, 1.0) as f64,
                });
            }
        }
        rows
    }
}

/// Mean over structures of the defined (non-NaN) values: `MeanSd::of`'s mean.
fn mean_defined(values: impl Iterator<Item = f64>) -> f64 {
    MeanSd::of(&values.collect::<Vec<_>>()).mean
}

fn patients(data: &Prepared, idx: &[usize]) -> usize {
    idx.iter()
        .map(|&i| data.patient(i))
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// Trains, selects on validation, tests, and writes the run folder `out` (see the
/// [module documentation](self)). `device` is a plain device (autodiff is added here).
///
/// # Errors
/// Configuration, dataset (e.g. an empty split), weight-file and I/O errors naming the file;
/// nothing is left at `out` unless the run finished.
pub fn train_and_evaluate(
    data_dir: &Path,
    out: &Path,
    cfg: &TrainConfig,
    device: &Device,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<RunOutcome> {
    let started = Instant::now();
    cfg.validate()?;
    let data = Arc::new(Prepared::open(data_dir)?);
    let split = [Split::Train, Split::Val, Split::Test].map(|s| data.indices(s));
    for (s, name) in split.iter().zip(["train", "validation", "test"]) {
        if s.is_empty() {
            return Err(ClassifyError::config(
                "dataset",
                format!("{}: the {name} split has no slices", data_dir.display()),
            ));
        }
    }
    // Everything is written into a temporary folder next to `out`, moved onto it at the end
    // (removed if the run fails).
    if out.file_name().is_none() {
        return Err(ClassifyError::config(
            "out",
            format!("{} has no name", out.display()),
        ));
    }
    let staging = twinscan_data::atomic::TempDir::create(out)?;
    let [train, val, test] = split;
    let splits = Splits { train, val, test };
    let (mut run, mut model) =
        Session::open(&data, data_dir, staging.path(), cfg, device, &splits)?;
    on_event(Event::Started {
        epochs: cfg.epochs,
        steps_per_epoch: run.steps_per_epoch,
    });
    for epoch in 0..cfg.epochs {
        let trained;
        (model, trained) = run.train_epoch(model, epoch, &splits.train, on_event)?;
        let (record, val_metrics) = run.validate(&model, trained, &splits.val)?;
        on_event(Event::Epoch(&record));
        run.keep_if_best(&model, record, val_metrics)?;
    }
    on_event(Event::Testing);
    let (history, result, test) = run.finish(&splits.test, started)?;
    staging.persist()?;
    Ok(RunOutcome {
        dir: out.to_path_buf(),
        history,
        result,
        test,
    })
}

/// Dataset indices of the three splits.
struct Splits {
    train: Vec<usize>,
    val: Vec<usize>,
    test: Vec<usize>,
}

/// An epoch's training pass, before validation.
struct TrainedEpoch {
    epoch: u64,
    started: Instant,
    mean_loss: f64,
    images: usize,
    seconds: f64,
}

/// The model kept for testing (see [`Selection`]).
struct Best {
    epoch: u64,
    score: f64,
    model: Classifier,
    val_metrics: Vec<StructureMetrics>,
}

/// Augmented training batches prepared ahead of the step; the depth does not change results
/// (batches are keyed by seed, epoch and slice: `twinscan_train::batches`).
const PREFETCH: usize = 2;

/// A classification run in progress, writing into `dir` (the staging folder).
struct Session<'a> {
    runner: Runner<'a>,
    dir: &'a Path,
    device: &'a Device,
    autodiff: Device,
    optim: ModuleOptimizer,
    batches: BatchSource,
    eval_pipe: Pipeline,
    steps_per_epoch: u64,
    total_steps: u64,
    step: u64,
    history: Vec<EpochRecord>,
    log: JsonLog,
    best: Option<Best>,
}

impl<'a> Session<'a> {
    /// Writes `config.json`, builds the pipelines and the model (recalibrating a frozen
    /// backbone's BatchNorm if asked), which it returns beside the session.
    fn open(
        data: &'a Arc<Prepared>,
        data_dir: &Path,
        dir: &'a Path,
        cfg: &'a TrainConfig,
        device: &'a Device,
        splits: &Splits,
    ) -> Result<(Self, Classifier)> {
        let [train, val, test] = [&splits.train, &splits.val, &splits.test];
        let info = RunInfo {
            data: data_dir.to_path_buf(),
            config: cfg.clone(),
            structures: data.structures().to_vec(),
            slices: [train.len(), val.len(), test.len()],
            patients: [train, val, test].map(|s| patients(data, s)),
            dataset_fingerprint: Some(data.fingerprint().to_string()),
        };
        let run_dir = TrainDir::new(dir);
        run_dir.write_config(&info)?;
        let log = run_dir.new_log()?;
        let per_epoch = (train.len() / cfg.batch_size).max(1) as u64;
        let steps_per_epoch = cfg
            .max_steps_per_epoch
            .map_or(per_epoch, |m| m.min(per_epoch));

        let structures = data.structures().len();
        let autodiff = device.clone().autodiff();
        autodiff.seed(cfg.seed);
        let (mut model, _report) = cfg.classifier(structures).init(&autodiff)?;
        let train_pipe = Arc::new(cfg.pipeline_for(&cfg.augment, data)?);
        let eval_pipe = cfg.pipeline_for("study_eval", data)?;
        let runner = Runner {
            data,
            cfg,
            structures,
        };
        if cfg.mode == Mode::Frozen && cfg.frozen_bn == FrozenBn::Recalibrate {
            model = runner.recalibrate(model, train, &eval_pipe, &autodiff)?;
        }
        let batches = BatchSource::one_view(
            data.clone(),
            train_pipe,
            Stream::classify(cfg.seed),
            cfg.batch_size,
        )?;
        let session = Self {
            runner,
            dir,
            device,
            autodiff,
            optim: cfg.optimizer(),
            batches,
            eval_pipe,
            steps_per_epoch,
            total_steps: steps_per_epoch * cfg.epochs,
            step: 0,
            history: Vec::new(),
            log,
            best: None,
        };
        Ok((session, model))
    }

    /// One pass over the shuffled train split (its batches augmented ahead on a background
    /// thread).
    fn train_epoch(
        &mut self,
        mut model: Classifier,
        epoch: u64,
        train: &[usize],
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(Classifier, TrainedEpoch)> {
        let cfg = self.runner.cfg;
        let t0 = Instant::now();
        let order = epoch_order(train, cfg.seed, epoch);
        let mut stream = self
            .batches
            .spawn(epoch, order, self.steps_per_epoch, PREFETCH);
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        while let Some(batch) = stream.next_batch()? {
            if batch.len() < 2 {
                break; // BatchNorm needs two images
            }
            let chunk: Vec<usize> = batch.indices.iter().map(|&i| i as usize).collect();
            let x =
                image_batch(&batch.views[0], batch.shape, &self.autodiff).map_err(|source| {
                    ClassifyError::Model {
                        context: "training batch".into(),
                        source,
                    }
                })?;
            let labels = self.runner.labels(&chunk, &self.autodiff)?;
            let loss = self.runner.loss(model.forward(x), labels)?;
            let value = loss.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                return Err(ClassifyError::NonFinite {
                    what: "loss",
                    value,
                    epoch,
                    step: self.step,
                });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr = cfg.learning_rate(self.step, self.total_steps);
            model = self.optim.step(lr, model, grads);
            loss_sum += value * chunk.len() as f64;
            seen += chunk.len();
            self.step += 1;
            on_event(Event::Step { epoch, loss: value });
        }
        let trained = TrainedEpoch {
            epoch,
            started: t0,
            mean_loss: loss_sum / seen.max(1) as f64,
            images: seen,
            seconds: t0.elapsed().as_secs_f64(),
        };
        Ok((model, trained))
    }

    /// Evaluates the validation split (eval mode, no bootstrap): the epoch's record (its
    /// seconds include validation) and per-structure validation metrics.
    fn validate(
        &self,
        model: &Classifier,
        trained: TrainedEpoch,
        val: &[usize],
    ) -> Result<(EpochRecord, Vec<StructureMetrics>)> {
        let cfg = self.runner.cfg;
        let ev = self
            .runner
            .evaluate(model, val, &self.eval_pipe, self.device)?;
        let val_cfg = MetricsConfig {
            bootstrap: BootstrapConfig {
                replicates: 0,
                ..cfg.metrics.bootstrap
            },
            ..cfg.metrics
        };
        let val_metrics = self.runner.samples(val, &ev.probs)?.evaluate(&val_cfg)?;
        let record = EpochRecord {
            epoch: trained.epoch,
            train_loss: trained.mean_loss,
            val_loss: ev.loss,
            val_macro_f1: mean_defined(val_metrics.iter().map(|m| m.f1)),
            val_auroc: mean_defined(val_metrics.iter().map(|m| m.auroc)),
            seconds: trained.started.elapsed().as_secs_f64(),
            images_per_s: trained.images as f64 / trained.seconds.max(1e-9),
        };
        Ok((record, val_metrics))
    }

    /// Logs the epoch and keeps its model when it scores best so far.
    fn keep_if_best(
        &mut self,
        model: &Classifier,
        record: EpochRecord,
        val_metrics: Vec<StructureMetrics>,
    ) -> Result<()> {
        self.log.line(&record)?;
        let score = match self.runner.cfg.selection {
            Selection::ValMacroF1 => record.val_macro_f1,
            Selection::ValLoss => -record.val_loss,
            Selection::Last => record.epoch as f64,
        };
        let better = match &self.best {
            None => true,
            Some(b) => score > b.score || (b.score.is_nan() && !score.is_nan()),
        };
        if better {
            self.best = Some(Best {
                epoch: record.epoch,
                score,
                model: model.clone(),
                val_metrics,
            });
        }
        self.history.push(record);
        Ok(())
    }

    /// Writes the log, the selected epoch's validation metrics, the test predictions and
    /// metrics, the curves, the model and (last) `result.json`.
    fn finish(
        self,
        test: &[usize],
        started: Instant,
    ) -> Result<(Vec<EpochRecord>, RunResult, Vec<StructureMetrics>)> {
        let (dir, cfg, runner) = (self.dir, self.runner.cfg, &self.runner);
        let Some(best) = self.best else {
            return Err(ClassifyError::config("epochs", "no epoch ran"));
        };
        write_metrics(&dir.join(files::VAL_METRICS), &best.val_metrics)?;
        let ev = runner.evaluate(&best.model, test, &self.eval_pipe, self.device)?;
        write_predictions(
            &dir.join(files::PREDICTIONS),
            &runner.prediction_rows(test, &ev.probs),
        )?;
        let test_metrics = runner.samples(test, &ev.probs)?.evaluate(&cfg.metrics)?;
        write_metrics(&dir.join(files::METRICS), &test_metrics)?;
        write_curves(&dir.join(files::CURVES), &self.history, cfg)?;
        crate::artifact::write_run_model(
            dir,
            runner.data,
            cfg,
            &self.eval_pipe,
            &best.model,
            best.epoch,
        )?;
        let result = RunResult {
            selected_epoch: best.epoch,
            selection: cfg.selection,
            test_macro_f1: mean_defined(test_metrics.iter().map(|m| m.f1)),
            test_auroc: mean_defined(test_metrics.iter().map(|m| m.auroc)),
            metrics_split: "test".into(),
            seconds: started.elapsed().as_secs_f64(),
        };
        write_json(&dir.join(files::RESULT), &result)?;
        Ok((self.history, result, test_metrics))
    }
}

fn write_curves(path: &Path, history: &[EpochRecord], cfg: &TrainConfig) -> Result<()> {
    use crate::plot::{Panel, Series, plot_curves};
    let xs = |f: fn(&EpochRecord) -> f64| -> Vec<(f64, f64)> {
        history
            .iter()
            .map(|r| ((r.epoch + 1) as f64, f(r)))
            .collect()
    };
    let panels = [
        Panel {
            y_label: "loss".into(),
            series: vec![
                Series {
                    name: "train".into(),
                    points: xs(|r| r.train_loss),
                },
                Series {
                    name: "validation".into(),
                    points: xs(|r| r.val_loss),
                },
            ],
        },
        Panel {
            y_label: "validation".into(),
            series: vec![
                Series {
                    name: "macro F1".into(),
                    points: xs(|r| r.val_macro_f1),
                },
                Series {
                    name: "AUROC".into(),
                    points: xs(|r| r.val_auroc),
                },
            ],
        },
    ];
    let title = format!("{} {} ({})", cfg.input.arch, cfg.mode, cfg.init);
    plot_curves(path, &title, "epoch", &panels)
}
