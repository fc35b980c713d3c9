//! The experiment runner: a grid of pretrainings and classification runs from one TOML file,
//! cached, resumable, summarised in the study's per-structure tables.
//!
//! ```toml
//! name = "quick"
//! seeds = [0, 1]                     # classification seeds (mean ± sd over them)
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
//! ```
//!
//! Layout under the output folder:
//!
//! ```text
//! OUT/grid.json                    the expanded grid (every run's full configuration)
//! OUT/pretrain/<hash>/             one per distinct pretraining (hash of its config + data)
//! OUT/runs/<name>-<mode>/seed-<k>/ one per classification run (see twinscan_classify::train)
//! OUT/table_f1.{md,csv}            per-structure held-out macro F1, mean ± sd over seeds
//! OUT/table_auroc.{md,csv}         the same for AUROC
//! OUT/chart_f1.png, chart_auroc.png
//! ```
//!
//! Resuming: a finished pretraining (its `encoder.safetensors`) or classification run (its
//! `result.json`) is reused; an interrupted pretraining continues from its last checkpoint;
//! an interrupted classification run (never renamed into place) starts again.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use twinscan_classify::head::Mode;
use twinscan_classify::metrics::StructureMetrics;
use twinscan_classify::report::{ResultTable, RunMetrics, TableMetric, read_metrics};
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
    /// The full configuration (its `init` is filled in from the pretraining when run).
    pub config: TrainConfig,
    /// Run folder.
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
}

/// The expanded grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// Prepared dataset.
    pub data: PathBuf,
    /// Output folder.
    pub out: PathBuf,
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

/// Short content hash of a pretraining (configuration + dataset path).
fn pretrain_hash(config: &PretrainConfig, data: &Path) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(config).unwrap_or_default());
    h.update(data.to_string_lossy().as_bytes());
    let d = h.finalize();
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
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
    /// override tables, checks every configuration and that encoder and classifier agree.
    ///
    /// # Errors
    /// [`ExperimentError::Grid`] naming the experiment and field.
    pub fn expand(&self, data: &Path, out: &Path, file: &Path) -> Result<Grid> {
        if self.experiment.is_empty() {
            return Err(grid_err(file, "no [[experiment]] entries".into()));
        }
        if self.seeds.is_empty() {
            return Err(grid_err(file, "`seeds` is empty".into()));
        }
        let mut pretrainings: Vec<PretrainPlan> = Vec::new();
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
            let pretraining = if e.init == "barlow" {
                let mut layers = self.pretrain.clone();
                for (k, v) in &e.pretrain {
                    layers.insert(k.clone(), v.clone());
                }
                let init = layers
                    .remove("init")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "random".into());
                let mut cfg: PretrainConfig =
                    overlay(&PretrainConfig::study(), &[&layers], &what, file)?;
                cfg.init = resolve_init(&init, &self.imagenet_weights, &what, file)?;
                cfg.validate()
                    .map_err(|err| grid_err(file, format!("{what}: pretrain: {err}")))?;
                if cfg.arch != base.arch || cfg.in_channels != base.in_channels {
                    return Err(grid_err(
                        file,
                        format!(
                            "{what}: pretraining encoder {} with {} channels does not match the classifier's {} with {}",
                            cfg.arch, cfg.in_channels, base.arch, base.in_channels
                        ),
                    ));
                }
                let dir = out.join("pretrain").join(pretrain_hash(&cfg, data));
                let i = match pretrainings.iter().position(|p| p.config == cfg) {
                    Some(i) => i,
                    None => {
                        pretrainings.push(PretrainPlan {
                            config: cfg,
                            dir,
                            used_by: Vec::new(),
                        });
                        pretrainings.len() - 1
                    }
                };
                pretrainings[i].used_by.push(e.name.clone());
                Some(i)
            } else {
                if !e.pretrain.is_empty() {
                    return Err(grid_err(
                        file,
                        format!("{what}: `pretrain` overrides need init = \"barlow\""),
                    ));
                }
                None
            };
            let init = match pretraining {
                Some(i) => BackboneInit::Barlow(pretrainings[i].dir.join(pretrain::files::ENCODER)),
                None => resolve_init(&e.init, &self.imagenet_weights, &what, file)?,
            };
            for mode in &e.modes {
                let mode: Mode = mode
                    .parse()
                    .map_err(|err| grid_err(file, format!("{what}: {err}")))?;
                let column = format!("{}-{mode}", e.name);
                for &seed in &self.seeds {
                    let config = TrainConfig {
                        init: init.clone(),
                        mode,
                        seed,
                        ..base.clone()
                    };
                    config
                        .validate()
                        .map_err(|err| grid_err(file, format!("{what}: classify: {err}")))?;
                    runs.push(RunPlan {
                        dir: out.join("runs").join(&column).join(format!("seed-{seed}")),
                        column: column.clone(),
                        seed,
                        pretraining,
                        config,
                    });
                }
            }
        }
        Ok(Grid {
            data: data.to_path_buf(),
            out: out.to_path_buf(),
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
    /// The tables (F1, AUROC) when complete.
    pub tables: Vec<ResultTable>,
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
    fs::write(&grid_path, json).map_err(|source| ExperimentError::Io {
        path: grid_path.clone(),
        source,
    })?;

    let (mut executed, mut cached) = (0, 0);
    let n_runs = grid.runs.len();
    for (index, plan) in grid.runs.iter().enumerate() {
        if train::is_finished(&plan.dir) {
            cached += 1;
            on_event(GridEvent::RunCached(plan));
            continue;
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

fn ensure_pretrained(
    grid: &Grid,
    index: usize,
    device: &Device,
    on_event: &mut dyn FnMut(GridEvent<'_>),
) -> Result<()> {
    let plan = &grid.pretrainings[index];
    if plan.dir.join(pretrain::files::ENCODER).is_file() {
        on_event(GridEvent::PretrainCached(plan));
        return Ok(());
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
        resume: plan.dir.join(pretrain::files::CONFIG).is_file(),
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

/// Reads every finished run's `metrics.csv` and writes the F1 and AUROC tables and charts.
///
/// # Errors
/// [`ExperimentError::Tables`] naming the file that could not be read or written.
pub fn write_tables(grid: &Grid) -> Result<Vec<ResultTable>> {
    let mut runs = Vec::new();
    for plan in &grid.runs {
        let metrics: Vec<StructureMetrics> =
            read_metrics(&plan.dir.join(train::files::METRICS)).map_err(tables_err)?;
        runs.push(RunMetrics {
            experiment: plan.column.clone(),
            seed: plan.seed,
            metrics,
        });
    }
    let mut tables = Vec::new();
    for (metric, stem) in [(TableMetric::F1, "f1"), (TableMetric::Auroc, "auroc")] {
        let table = ResultTable::from_runs(&runs, metric).map_err(tables_err)?;
        table
            .write_markdown(&grid.out.join(format!("table_{stem}.md")))
            .map_err(tables_err)?;
        table
            .write_csv(&grid.out.join(format!("table_{stem}.csv")))
            .map_err(tables_err)?;
        twinscan_classify::plot::plot_table(&grid.out.join(format!("chart_{stem}.png")), &table)
            .map_err(tables_err)?;
        tables.push(table);
    }
    Ok(tables)
}
