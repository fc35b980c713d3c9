//! The experiment runner: a grid of pretrainings and classification runs from one TOML file,
//! cached, resumable, summarised in the study's per-structure tables.
//!
//! ```toml
//! name = "quick"
//! seeds = [0, 1]                     # classification seeds (mean ± sd over them)
//! pretrain_seeds = [0, 1]            # optional: one pretraining per seed (classifier seed k
//!                                    # uses encoder seed k); absent: one shared encoder
//! baseline = "random-frozen"         # column the paired deltas compare against (default: first)
//! imagenet_weights = "resnet18.pth"  # for `imagenet` inits (torchvision file), optional
//!
//! [pretrain]                         # PretrainConfig fields, over PretrainConfig::study()
//! epochs = 2
//! [classify]                         # TrainConfig fields, over TrainConfig::study()
//! epochs = 3
//!
//! [[experiment]]
//! name = "random"                    # column prefix; columns are `<name>-<mode>`
//! init = "random"                    # random | imagenet | barlow (| imagenet:FILE | barlow:FILE)
//! modes = ["frozen", "finetune"]
//!
//! [[experiment]]
//! name = "bt-scratch"
//! init = "barlow"                    # pretrain with the settings below, then classify
//! pretrain = { augment = "study_barlow" }   # overrides of [pretrain] (init = "imagenet" ok)
//! classify = { }                            # overrides of [classify]
//!
//! [[experiment]]
//! name = "bt-scratch-blur"
//! init = "barlow"                    # continue bt-scratch's pretraining (weights, projector,
//! pretrain = { init = "pretraining:bt-scratch", augment = "ablation:blur", epochs = 50 }
//! modes = ["frozen"]                 # and LARS state): it runs first
//! ```
//!
//! Layout under the output folder:
//!
//! ```text
//! OUT/grid.json                    the expanded grid (every run's full configuration and
//!                                  the dataset fingerprint)
//! OUT/pretrain/<hash>/             one per distinct pretraining (hash of its configuration
//!                                  and the dataset fingerprint)
//! OUT/runs/<name>-<mode>/seed-<k>-<hash>/
//!                                  one per classification run (hash of its configuration,
//!                                  its encoder's pretraining and the dataset fingerprint)
//! OUT/table_f1.{md,csv}            per-structure held-out macro F1: mean ± sd over seeds and
//!                                  a patient-bootstrap 95% interval pooled over seeds
//! OUT/table_auroc.{md,csv}         the same for AUROC
//! OUT/table_delta_f1.{md,csv}      each column minus the baseline, paired bootstrap intervals
//! OUT/chart_f1.png, chart_auroc.png, chart_delta_f1.png
//! ```
//!
//! Resuming and staleness: a finished pretraining (its `encoder.safetensors`) or
//! classification run (its `result.json`) is reused only when its recorded configuration and
//! dataset fingerprint equal the plan's — a changed grid or a re-prepared dataset gives new
//! folder names, so what changed reruns into new folders (and [`GridEvent::RunSuperseded`]
//! names the older result it replaces). An interrupted pretraining continues from its last
//! checkpoint; an interrupted classification run (never renamed into place) starts again.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use twinscan_classify::head::Mode;
use twinscan_classify::report::read_predictions;
use twinscan_classify::tables::{ColumnRuns, write_grid_tables};
use twinscan_classify::train::{self, TrainConfig};
use twinscan_models::BackboneInit;
use twinscan_models::burn::tensor::Device;
use twinscan_ssl::PretrainConfig;
use twinscan_ssl::pretrain::{self, PretrainRun};

/// Everything that can go wrong in a grid.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The grid file could not be read or parsed.
    #[error("{path}: {message}")]
    Grid {
        /// The TOML file (or `<grid>` for a string).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A pretraining failed.
    #[error("pretraining {dir}: {source}")]
    Pretrain {
        /// Its folder.
        dir: PathBuf,
        /// The error.
        source: Box<twinscan_ssl::SslError>,
    },
    /// A classification run failed.
    #[error("run {dir}: {source}")]
    Classify {
        /// Its folder.
        dir: PathBuf,
        /// The error.
        source: Box<twinscan_classify::ClassifyError>,
    },
    /// Writing the tables failed.
    #[error("tables: {0}")]
    Tables(Box<twinscan_classify::ClassifyError>),
}

/// Result alias of the runner.
pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;

/// One `[[experiment]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Column prefix.
    pub name: String,
    /// `random`, `imagenet`, `barlow`, or an explicit `imagenet:FILE` / `barlow:FILE`.
    pub init: String,
    /// Backbone modes to run (`frozen`, `finetune`).
    #[serde(default = "default_modes")]
    pub modes: Vec<String>,
    /// Overrides of the grid's `[pretrain]` table (only with `init = "barlow"`).
    #[serde(default)]
    pub pretrain: toml::Table,
    /// Overrides of the grid's `[classify]` table.
    #[serde(default)]
    pub classify: toml::Table,
}

fn default_modes() -> Vec<String> {
    vec!["frozen".into(), "finetune".into()]
}

/// A grid file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridFile {
    /// Name of the grid (shown in the tables' folder).
    #[serde(default)]
    pub name: String,
    /// Classification seeds.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Pretraining seeds: each Barlow experiment pretrains once per seed and classifier seed
    /// `k` uses the encoder of pretraining seed `k` (every classifier seed must be listed), so
    /// a column's spread includes pretraining variance. Absent: one pretraining (the
    /// `[pretrain]` table's `seed`) shared by every classifier seed.
    #[serde(default)]
    pub pretrain_seeds: Option<Vec<u64>>,
    /// The column the paired comparisons (`table_delta_f1`) are against, e.g.
    /// `"random-frozen"`; default: the first column.
    #[serde(default)]
    pub baseline: Option<String>,
    /// Prepared dataset (overridden by the command line's `--data`), relative to the file.
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// torchvision ImageNet weights for `imagenet` inits, relative to the file.
    #[serde(default)]
    pub imagenet_weights: Option<PathBuf>,
    /// Defaults of every pretraining (over `PretrainConfig::study()`).
    #[serde(default)]
    pub pretrain: toml::Table,
    /// Defaults of every classification run (over `TrainConfig::study()`).
    #[serde(default)]
    pub classify: toml::Table,
    /// The experiments.
    #[serde(default)]
    pub experiment: Vec<ExperimentSpec>,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// One classification run of the expanded grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// Table column: `<experiment>-<mode>`.
    pub column: String,
    /// Classification seed.
    pub seed: u64,
    /// Index into [`Grid::pretrainings`] whose encoder initialises the backbone, if any.
    pub pretraining: Option<usize>,
    /// The full configuration (its `init` names the pretraining's encoder file).
    pub config: TrainConfig,
    /// Run folder (`OUT/runs/<column>/seed-<k>-<hash>`).
    pub dir: PathBuf,
}

/// One distinct pretraining.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainPlan {
    /// Its configuration.
    pub config: PretrainConfig,
    /// Its folder (`OUT/pretrain/<hash>`).
    pub dir: PathBuf,
    /// Experiments that use it.
    pub used_by: Vec<String>,
    /// The pretraining it continues (`init = "pretraining:<experiment>"`), run first.
    #[serde(default)]
    pub depends_on: Option<usize>,
}

/// The expanded grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Prepared dataset.
    pub data: PathBuf,
    /// Output folder.
    pub out: PathBuf,
    /// The dataset's fingerprint (`dataset.json`), part of every folder hash.
    pub dataset_fingerprint: String,
    /// Baseline column of the paired comparisons.
    pub baseline: String,
    /// What the ± of the tables covers.
    pub spread: String,
    /// Distinct pretrainings.
    pub pretrainings: Vec<PretrainPlan>,
    /// Classification runs, in table order.
    pub runs: Vec<RunPlan>,
}

/// Overlays `over` on `base` (tables merge key by key, other values replace).
fn merge(base: &mut serde_json::Value, over: &serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn overlay<T: Serialize + serde::de::DeserializeOwned>(
    base: &T,
    layers: &[&toml::Table],
    what: &str,
    file: &Path,
) -> Result<T> {
    let mut v = serde_json::to_value(base).map_err(|e| grid_err(file, format!("{what}: {e}")))?;
    for layer in layers {
        let o = serde_json::to_value(layer).map_err(|e| grid_err(file, format!("{what}: {e}")))?;
        merge(&mut v, &o);
    }
    serde_json::from_value(v).map_err(|e| grid_err(file, format!("{what}: {e}")))
}

fn grid_err(path: &Path, message: String) -> ExperimentError {
    ExperimentError::Grid {
        path: path.to_path_buf(),
        message,
    }
}

fn resolve_init(
    init: &str,
    imagenet: &Option<PathBuf>,
    what: &str,
    file: &Path,
) -> Result<BackboneInit> {
    match init {
        "imagenet" => match imagenet {
            Some(p) => Ok(BackboneInit::ImageNet(p.clone())),
            None => Err(grid_err(
                file,
                format!(
                    "{what}: init \"imagenet\" needs `imagenet_weights = \"FILE\"` (a torchvision resnet .pth/.safetensors; nothing is downloaded)"
                ),
            )),
        },
        s => s
            .parse::<BackboneInit>()
            .map_err(|e| grid_err(file, format!("{what}: {e}"))),
    }
}

/// Short content hash of a configuration and the dataset fingerprint (folder names).
fn plan_hash<T: Serialize>(config: &T, fingerprint: &str) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(config).unwrap_or_default());
    h.update(fingerprint.as_bytes());
    let d = h.finalize();
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of a prepared dataset, as every run records it
/// (`twinscan_data::prepared::Prepared::fingerprint`): the `fingerprint` that `prepare` wrote
/// into `dataset.json` (a hash of `labels.csv` and the dataset's settings), or the same hash
/// computed for a dataset prepared before fingerprints were recorded.
///
/// # Errors
/// [`ExperimentError::Io`] / [`ExperimentError::Grid`] naming the unreadable file.
pub fn dataset_fingerprint(data: &Path) -> Result<String> {
    let path = data.join("dataset.json");
    let json = fs::read(&path).map_err(|source| ExperimentError::Io {
        path: path.clone(),
        source,
    })?;
    let value: serde_json::Value = serde_json::from_slice(&json)
        .map_err(|e| grid_err(&path, format!("not valid JSON: {e}")))?;
    if let Some(f) = value.get("fingerprint").and_then(|f| f.as_str()) {
        return Ok(f.to_string());
    }
    twinscan_data::prepared::compute_fingerprint(data).map_err(|e| grid_err(&path, e.to_string()))
}

impl GridFile {
    /// Reads a grid file; relative paths in it are relative to the file's folder.
    ///
    /// # Errors
    /// [`ExperimentError::Grid`] naming the file and the problem (TOML syntax, unknown key).
    pub fn read(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|source| ExperimentError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses grid text; `origin` names it in errors, relative paths are joined to `base`.
    ///
    /// # Errors
    /// [`ExperimentError::Grid`] naming `origin` and the problem.
    pub fn parse(text: &str, origin: &Path, base: &Path) -> Result<Self> {
        let mut g: GridFile = toml::from_str(text).map_err(|e| grid_err(origin, e.to_string()))?;
        let rel = |p: &mut Option<PathBuf>| {
            if let Some(q) = p
                && q.is_relative()
            {
                *q = base.join(&*q);
            }
        };
        rel(&mut g.data);
        rel(&mut g.imagenet_weights);
        Ok(g)
    }

    /// Expands the grid against a dataset and an output folder: resolves inits, merges the
    /// override tables, checks every configuration and that encoder and classifier agree, and
    /// names every folder by the hash of its configuration and the dataset's fingerprint.
    ///
    /// # Errors
    /// [`ExperimentError::Grid`] naming the experiment and field; an unreadable dataset.
    pub fn expand(&self, data: &Path, out: &Path, file: &Path) -> Result<Grid> {
        self.expand_with(data, out, file, dataset_fingerprint(data))
    }

    /// Checks the grid's own settings (as [`GridFile::expand`] does) before a dataset exists.
    ///
    /// # Errors
    /// [`ExperimentError::Grid`] naming the experiment and field.
    pub fn check(&self, file: &Path) -> Result<()> {
        let here = Path::new(".");
        self.expand_with(here, here, file, Ok(String::new()))
            .map(|_| ())
    }

    fn expand_with(
        &self,
        data: &Path,
        out: &Path,
        file: &Path,
        fingerprint: Result<String>,
    ) -> Result<Grid> {
        if self.experiment.is_empty() {
            return Err(grid_err(file, "no [[experiment]] entries".into()));
        }
        if self.seeds.is_empty() {
            return Err(grid_err(file, "`seeds` is empty".into()));
        }
        if let Some(ps) = &self.pretrain_seeds
            && let Some(k) = self.seeds.iter().find(|k| !ps.contains(k))
        {
            return Err(grid_err(
                file,
                format!(
                    "classifier seed {k} has no pretraining: `pretrain_seeds` {ps:?} must \
                     list every seed of `seeds` (classifier seed k uses encoder seed k)"
                ),
            ));
        }
        // The grid's own errors come first; an unreadable dataset is reported after them.
        let (fingerprint, data_error) = match fingerprint {
            Ok(f) => (f, None),
            Err(e) => (String::new(), Some(e)),
        };
        let mut pretrainings: Vec<PretrainPlan> = Vec::new();
        // experiment name -> (pretraining seed -> index into `pretrainings`)
        let mut by_experiment: Vec<(String, Vec<(u64, usize)>)> = Vec::new();
        let mut runs = Vec::new();
        let mut names = std::collections::HashSet::new();
        for e in &self.experiment {
            let what = format!("experiment {:?}", e.name);
            if e.name.is_empty() || e.name.contains(['/', '\\']) || !names.insert(&e.name) {
                return Err(grid_err(
                    file,
                    format!("{what}: names must be unique, non-empty, without slashes"),
                ));
            }
            let base: TrainConfig = overlay(
                &TrainConfig::study(),
                &[&self.classify, &e.classify],
                &what,
                file,
            )?;
            // Pretraining seed -> pretraining index.
            let mut pretraining: Vec<(u64, usize)> = Vec::new();
            if e.init == "barlow" {
                let mut layers = self.pretrain.clone();
                for (k, v) in &e.pretrain {
                    layers.insert(k.clone(), v.clone());
                }
                let init = layers
                    .remove("init")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "random".into());
                let template: PretrainConfig =
                    overlay(&PretrainConfig::study(), &[&layers], &what, file)?;
                let source = match init.strip_prefix("pretraining:") {
                    Some(name) => Some(
                        by_experiment
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, p)| p.clone())
                            .ok_or_else(|| {
                                grid_err(
                                    file,
                                    format!(
                                        "{what}: init \"pretraining:{name}\" must name a \
                                         Barlow experiment listed before this one"
                                    ),
                                )
                            })?,
                    ),
                    None => None,
                };
                let seeds = self
                    .pretrain_seeds
                    .clone()
                    .unwrap_or_else(|| vec![template.seed]);
                for seed in seeds {
                    let mut cfg = PretrainConfig {
                        seed,
                        ..template.clone()
                    };
                    let depends_on = match &source {
                        Some(src) => {
                            let &(_, i) =
                                src.iter().find(|(s, _)| *s == seed).ok_or_else(|| {
                                    grid_err(
                                        file,
                                        format!("{what}: no source pretraining of seed {seed}"),
                                    )
                                })?;
                            cfg.continue_from = Some(pretrainings[i].dir.clone());
                            Some(i)
                        }
                        None => {
                            cfg.init = resolve_init(&init, &self.imagenet_weights, &what, file)?;
                            None
                        }
                    };
                    cfg.validate()
                        .map_err(|err| grid_err(file, format!("{what}: pretrain: {err}")))?;
                    if cfg.input.arch != base.input.arch
                        || cfg.input.in_channels != base.input.in_channels
                    {
                        return Err(grid_err(
                            file,
                            format!(
                                "{what}: pretraining encoder {} with {} channels does not match the classifier's {} with {}",
                                cfg.input.arch,
                                cfg.input.in_channels,
                                base.input.arch,
                                base.input.in_channels
                            ),
                        ));
                    }
                    let dir = out.join("pretrain").join(plan_hash(&cfg, &fingerprint));
                    let i = match pretrainings.iter().position(|p| p.config == cfg) {
                        Some(i) => i,
                        None => {
                            pretrainings.push(PretrainPlan {
                                config: cfg,
                                dir,
                                used_by: Vec::new(),
                                depends_on,
                            });
                            pretrainings.len() - 1
                        }
                    };
                    pretrainings[i].used_by.push(e.name.clone());
                    pretraining.push((seed, i));
                }
                by_experiment.push((e.name.clone(), pretraining.clone()));
            } else if !e.pretrain.is_empty() {
                return Err(grid_err(
                    file,
                    format!("{what}: `pretrain` overrides need init = \"barlow\""),
                ));
            }
            for mode in &e.modes {
                let mode: Mode = mode
                    .parse()
                    .map_err(|err| grid_err(file, format!("{what}: {err}")))?;
                let column = format!("{}-{mode}", e.name);
                for &seed in &self.seeds {
                    // Classifier seed k uses pretraining seed k (or the one shared encoder).
                    let used = match pretraining.as_slice() {
                        [] => None,
                        [(_, i)] if self.pretrain_seeds.is_none() => Some(*i),
                        list => list.iter().find(|(s, _)| *s == seed).map(|&(_, i)| i),
                    };
                    let init = match used {
                        Some(i) => {
                            BackboneInit::Barlow(pretrainings[i].dir.join(pretrain::files::ENCODER))
                        }
                        None => resolve_init(&e.init, &self.imagenet_weights, &what, file)?,
                    };
                    let config = TrainConfig {
                        init,
                        mode,
                        seed,
                        ..base.clone()
                    };
                    config
                        .validate()
                        .map_err(|err| grid_err(file, format!("{what}: classify: {err}")))?;
                    let hash = plan_hash(&config, &fingerprint);
                    runs.push(RunPlan {
                        dir: out
                            .join("runs")
                            .join(&column)
                            .join(format!("seed-{seed}-{hash}")),
                        column: column.clone(),
                        seed,
                        pretraining: used,
                        config,
                    });
                }
            }
        }
        let columns: Vec<&str> = {
            let mut c: Vec<&str> = Vec::new();
            for r in &runs {
                if !c.contains(&r.column.as_str()) {
                    c.push(&r.column);
                }
            }
            c
        };
        let baseline = match &self.baseline {
            Some(b) if columns.contains(&b.as_str()) => b.clone(),
            Some(b) => {
                return Err(grid_err(
                    file,
                    format!("baseline {b:?} is not a column; the columns are {columns:?}"),
                ));
            }
            None => columns[0].to_string(),
        };
        if let Some(e) = data_error {
            return Err(e);
        }
        let spread = if self.pretrain_seeds.is_some() {
            "classifier and pretraining seeds (classifier seed k on encoder seed k)"
        } else {
            "classifier seeds (one pretraining per experiment)"
        };
        Ok(Grid {
            data: data.to_path_buf(),
            out: out.to_path_buf(),
            dataset_fingerprint: fingerprint,
            baseline,
            spread: spread.to_string(),
            pretrainings,
            runs,
        })
    }
}

/// What [`run_grid`] reports as it goes.
#[derive(Debug)]
pub enum GridEvent<'a> {
    /// A pretraining starts (or continues from its checkpoint).
    PretrainStart {
        /// Index and count.
        index: usize,
        /// Number of pretrainings.
        of: usize,
        /// Its plan.
        plan: &'a PretrainPlan,
    },
    /// A pretraining was already finished.
    PretrainCached(&'a PretrainPlan),
    /// Progress inside a pretraining.
    Pretrain(pretrain::Event<'a>),
    /// A classification run starts.
    RunStart {
        /// Index.
        index: usize,
        /// Number of runs.
        of: usize,
        /// Its plan.
        plan: &'a RunPlan,
    },
    /// A classification run was already finished.
    RunCached(&'a RunPlan),
    /// A finished run of the same column and seed exists under another configuration or
    /// dataset fingerprint: it is stale and this plan runs into its own folder.
    RunSuperseded {
        /// The plan that runs.
        plan: &'a RunPlan,
        /// The stale run's folder (left on disk, no longer in the tables).
        old: PathBuf,
    },
    /// Progress inside a classification run.
    Run(train::Event<'a>),
    /// A classification run finished.
    RunDone {
        /// Its plan.
        plan: &'a RunPlan,
        /// Its summary.
        result: &'a train::RunResult,
    },
}

/// Options of [`run_grid`].
#[derive(Debug, Clone, Default)]
pub struct GridOptions {
    /// Stop after this many classification runs were *executed* (not cached) in this call:
    /// a time box; the next call continues.
    pub max_new_runs: Option<usize>,
}

/// What a grid produced.
#[derive(Debug, Clone)]
pub struct GridOutcome {
    /// Runs executed by this call.
    pub executed: usize,
    /// Runs found finished.
    pub cached: usize,
    /// Whether every run is finished (tables written).
    pub complete: bool,
    /// The tables as markdown, when complete: F1, AUROC, paired F1 deltas (in this order).
    pub tables: Vec<String>,
}

/// Runs (or continues) an expanded grid on `device`; see the [module documentation](self).
///
/// # Errors
/// The first failing pretraining or run (its folder named); finished work stays on disk.
pub fn run_grid(
    grid: &Grid,
    device: &Device,
    options: &GridOptions,
    on_event: &mut dyn FnMut(GridEvent<'_>),
) -> Result<GridOutcome> {
    fs::create_dir_all(&grid.out).map_err(|source| ExperimentError::Io {
        path: grid.out.clone(),
        source,
    })?;
    let grid_path = grid.out.join("grid.json");
    let json = serde_json::to_vec_pretty(grid).map_err(|e| grid_err(&grid_path, e.to_string()))?;
    // Written under a temporary name and renamed: never half a plan beside the results.
    twinscan_data::atomic::write(&grid_path, json, false).map_err(|e| ExperimentError::Io {
        path: e.path,
        source: e.source,
    })?;

    let (mut executed, mut cached) = (0, 0);
    let n_runs = grid.runs.len();
    for (index, plan) in grid.runs.iter().enumerate() {
        if run_matches(plan, &grid.dataset_fingerprint) {
            cached += 1;
            on_event(GridEvent::RunCached(plan));
            continue;
        }
        if let Some(old) = superseded_run(plan) {
            on_event(GridEvent::RunSuperseded { plan, old });
        }
        if options.max_new_runs.is_some_and(|m| executed >= m) {
            return Ok(GridOutcome {
                executed,
                cached,
                complete: false,
                tables: Vec::new(),
            });
        }
        if let Some(p) = plan.pretraining {
            ensure_pretrained(grid, p, device, on_event)?;
        }
        on_event(GridEvent::RunStart {
            index,
            of: n_runs,
            plan,
        });
        let outcome =
            train::train_and_evaluate(&grid.data, &plan.dir, &plan.config, device, &mut |e| {
                on_event(GridEvent::Run(e))
            })
            .map_err(|source| ExperimentError::Classify {
                dir: plan.dir.clone(),
                source: Box::new(source),
            })?;
        on_event(GridEvent::RunDone {
            plan,
            result: &outcome.result,
        });
        executed += 1;
    }
    let tables = write_tables(grid)?;
    Ok(GridOutcome {
        executed,
        cached,
        complete: true,
        tables,
    })
}

/// Whether `plan.dir` holds a finished run of exactly this configuration on this dataset
/// (its `config.json` records both; `result.json` is written last).
fn run_matches(plan: &RunPlan, fingerprint: &str) -> bool {
    train::TrainDir::new(&plan.dir).finished_with(train::files::RESULT, &plan.config, fingerprint)
}

/// A finished run of the same column and seed in another folder (another configuration or
/// dataset), if any: the newest one.
fn superseded_run(plan: &RunPlan) -> Option<PathBuf> {
    let parent = plan.dir.parent()?;
    let prefix = format!("seed-{}-", plan.seed);
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(parent)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            *p != plan.dir
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
                && train::is_finished(p)
        })
        .filter_map(|p| Some((fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// Whether `plan.dir` holds a finished pretraining (its encoder is exported last) of exactly
/// this configuration on this dataset.
fn pretraining_matches(plan: &PretrainPlan, fingerprint: &str) -> bool {
    pretrain::PretrainDir::new(&plan.dir).finished_with(
        pretrain::files::ENCODER,
        &plan.config,
        fingerprint,
    )
}

fn ensure_pretrained(
    grid: &Grid,
    index: usize,
    device: &Device,
    on_event: &mut dyn FnMut(GridEvent<'_>),
) -> Result<()> {
    let plan = &grid.pretrainings[index];
    if pretraining_matches(plan, &grid.dataset_fingerprint) {
        on_event(GridEvent::PretrainCached(plan));
        return Ok(());
    }
    if let Some(dep) = plan.depends_on {
        ensure_pretrained(grid, dep, device, on_event)?;
    }
    on_event(GridEvent::PretrainStart {
        index,
        of: grid.pretrainings.len(),
        plan,
    });
    let run = PretrainRun {
        data: grid.data.clone(),
        out: plan.dir.clone(),
        config: plan.config.clone(),
        device: device.clone(),
        data_parallel: Vec::new(),
        resume: pretrain::PretrainDir::new(&plan.dir).exists(),
    };
    // `curves.png` redrawn at every checkpoint (a chart error comes after the pretraining).
    let to_grid = &mut |e: pretrain::Event<'_>| on_event(GridEvent::Pretrain(e));
    crate::pretrain_curves::pretrain_with_curves(&run, run.config.epochs, to_grid).map_err(
        |e| match e {
            crate::pretrain_curves::CurvesError::Pretrain(source) => ExperimentError::Pretrain {
                dir: plan.dir.clone(),
                source: Box::new(source),
            },
            crate::pretrain_curves::CurvesError::Curves(c) => tables_err(c),
        },
    )?;
    Ok(())
}

fn tables_err(e: twinscan_classify::ClassifyError) -> ExperimentError {
    ExperimentError::Tables(Box::new(e))
}

/// Reads every finished run's `predictions.csv` and writes the F1 and AUROC tables (mean ±
/// sd over seeds, patient-bootstrap intervals pooled over seeds), the paired F1 deltas
/// against the grid's baseline column, and their charts. Returns the tables as markdown.
///
/// # Errors
/// [`ExperimentError::Tables`] naming the file that could not be read or written.
pub fn write_tables(grid: &Grid) -> Result<Vec<String>> {
    let mut columns: Vec<ColumnRuns> = Vec::new();
    for plan in &grid.runs {
        let rows =
            read_predictions(&plan.dir.join(train::files::PREDICTIONS)).map_err(tables_err)?;
        match columns.iter_mut().find(|c| c.column == plan.column) {
            Some(c) => c.runs.push((plan.seed, rows)),
            None => columns.push(ColumnRuns {
                column: plan.column.clone(),
                runs: vec![(plan.seed, rows)],
            }),
        }
    }
    let metrics = grid
        .runs
        .first()
        .map(|r| r.config.metrics)
        .unwrap_or_default();
    let tables = write_grid_tables(&grid.out, &columns, &grid.baseline, &grid.spread, &metrics)
        .map_err(tables_err)?;
    Ok(vec![
        tables.f1.to_markdown(),
        tables.auroc.to_markdown(),
        tables.delta_f1.to_markdown(),
    ])
}
