//! `predict`: a trained classifier (`model.safetensors`, see
//! [`twinscan_classify::artifact`]) on CT scans it has never seen.
//!
//! Each scan is read in any supported layout (`deepmind`, `dicom`, `labelmap`, or `volumes`:
//! CT volume files side by side in the input folder), masks optional. Its slices go through
//! exactly the preprocessing recorded in the model's metadata (canonical orientation,
//! bilinear resampling to the recorded slice size, the recorded HU window to 8 bits, the
//! recorded evaluation pipeline), then the model. Output:
//!
//! ```text
//! predictions.csv   scan,slice,z_mm,<structure>... (probability present),pred_<structure>... (0/1)
//! metrics.csv       beside it, when some scans carry masks: per structure, known labels only,
//!                   the run's metrics code and bootstrap settings (patient = scan's patient)
//! ```
//!
//! Everything is computed before anything is written; both files are written atomically.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use twinscan_augment::{InputPlane, Pipeline};
use twinscan_classify::ClassifyError;
use twinscan_classify::artifact::{MODEL_FILE, ModelMeta, eval_pipeline, load_model};
use twinscan_classify::classifier::Classifier;
use twinscan_classify::metrics::{MetricsConfig, Samples};
use twinscan_classify::report::{write_atomic, write_metrics};
use twinscan_data::layout::{self, Layout, ScanSource};
use twinscan_data::prepare::render_slices;
use twinscan_data::slices::Window;
use twinscan_data::structures::{StructureSelection, StructureTable};
use twinscan_data::{DataError, Volume};
use twinscan_models::burn::tensor::Device;
use twinscan_models::image_batch;

/// What can go wrong in [`predict`].
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The model file is missing, unreadable, or does not fit its own metadata.
    #[error("model {path}: {message}")]
    Model {
        /// The model file (or run folder).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A scan could not be read.
    #[error("scan {scan}: {source}")]
    Scan {
        /// The scan folder or file.
        scan: PathBuf,
        /// The reader's error.
        source: DataError,
    },
    /// The input folder holds no readable scan layout.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Model, metrics or output errors.
    #[error(transparent)]
    Classify(#[from] ClassifyError),
    /// A bad option.
    #[error("{option}: {message}")]
    Option {
        /// The option.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// How scans are stored under the input folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputLayout {
    /// CT volume files (`.nrrd`, `.nii`, `.nii.gz`) directly in the input folder, one scan
    /// each (its id: the file name without extension), no masks.
    Volumes,
    /// A dataset layout of `twinscan-data` (scan folders; masks optional).
    Dataset(Layout),
}

impl std::str::FromStr for InputLayout {
    type Err = DataError;
    /// `volumes`, or a [`Layout`] name.
    fn from_str(s: &str) -> Result<Self, DataError> {
        if s.eq_ignore_ascii_case("volumes") {
            return Ok(Self::Volumes);
        }
        s.parse::<Layout>()
            .map(Self::Dataset)
            .map_err(|_| DataError::InvalidConfig {
                field: "layout",
                detail: format!("{s:?}: expected volumes, deepmind, dicom or labelmap"),
            })
    }
}

/// Settings of a [`predict`] call.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// `model.safetensors`, or a run folder holding one.
    pub model: PathBuf,
    /// Input folder.
    pub input: PathBuf,
    /// Layout; `None` = `volumes` when volume files lie directly in `input`, else detected.
    pub layout: Option<InputLayout>,
    /// `predictions.csv` to write (`metrics.csv` goes beside it).
    pub out: PathBuf,
    /// Probability above which the 0/1 columns (and the metrics) say present.
    pub threshold: f64,
    /// Optional `scan,patient` table (patients of the bootstrap in `metrics.csv`).
    pub patients: Option<PathBuf>,
    /// Slices per forward pass.
    pub batch_size: usize,
}

impl PredictOptions {
    /// Defaults: layout detected, threshold 0.5, batch 64.
    pub fn new(
        model: impl Into<PathBuf>,
        input: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
    ) -> Self {
        Self {
            model: model.into(),
            input: input.into(),
            layout: None,
            out: out.into(),
            threshold: 0.5,
            patients: None,
            batch_size: 64,
        }
    }
}

/// Progress of [`predict`].
#[derive(Debug)]
pub enum PredictEvent<'a> {
    /// Scans found.
    Started {
        /// How many.
        scans: usize,
    },
    /// One scan predicted.
    Scan {
        /// Its id.
        id: &'a str,
        /// Its slices.
        slices: usize,
    },
}

/// What [`predict`] wrote.
#[derive(Debug, Clone)]
pub struct PredictSummary {
    /// Scans predicted.
    pub scans: usize,
    /// Slices predicted (rows of `predictions.csv`).
    pub slices: usize,
    /// `predictions.csv`.
    pub predictions: PathBuf,
    /// `metrics.csv`, when some scans carried masks.
    pub metrics: Option<PathBuf>,
    /// Scans with masks.
    pub scans_with_masks: usize,
    /// Wall seconds of the whole call.
    pub seconds: f64,
    /// Non-fatal notes from the readers.
    pub warnings: Vec<String>,
}

/// One scan to predict.
struct ScanInput {
    id: String,
    patient: String,
    ct: Volume<f32>,
    /// Per model structure, per slice: 1 / -1 / 0; `None` when the scan has no masks.
    labels: Option<Vec<Vec<i8>>>,
    warnings: Vec<String>,
}

/// One scan's result.
struct ScanResult {
    id: String,
    patient: String,
    z_mm: Vec<f64>,
    /// `slices × structures`.
    probs: Vec<f32>,
    labels: Option<Vec<Vec<i8>>>,
}

/// The model file of `path`: the file itself, or `path/model.safetensors` for a run folder.
///
/// # Errors
/// [`PredictError::Model`] when neither exists.
pub fn model_file(path: &Path) -> Result<PathBuf, PredictError> {
    let file = if path.is_dir() {
        path.join(MODEL_FILE)
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        return Err(PredictError::Model {
            path: path.to_path_buf(),
            message: if path.is_dir() {
                format!("no {MODEL_FILE} in this folder (is it a finished classification run?)")
            } else {
                "no such file".into()
            },
        });
    }
    Ok(file)
}

fn top_level_volumes(root: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).map_err(|e| DataError::io(root, e))? {
        let p = e.map_err(|e| DataError::io(root, e))?.path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden && p.is_file() && layout::is_volume_file(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

enum Source {
    Volume(PathBuf),
    Folder(ScanSource),
}

fn discover(root: &Path, layout: Option<InputLayout>) -> Result<Vec<Source>, DataError> {
    if !root.is_dir() {
        return Err(DataError::Layout {
            path: root.to_path_buf(),
            detail: "input folder does not exist or is not a folder".into(),
        });
    }
    let volumes = match layout {
        Some(InputLayout::Volumes) => top_level_volumes(root)?,
        None => top_level_volumes(root)?,
        Some(InputLayout::Dataset(_)) => Vec::new(),
    };
    if layout.is_none() && !volumes.is_empty() && layout::discover(root, None).is_ok() {
        return Err(DataError::Layout {
            path: root.to_path_buf(),
            detail: "holds both CT volume files and scan folders: pass --layout volumes or the \
                     folders' layout"
                .into(),
        });
    }
    if layout == Some(InputLayout::Volumes) || !volumes.is_empty() {
        if volumes.is_empty() {
            return Err(DataError::Layout {
                path: root.to_path_buf(),
                detail: "no CT volume file (.nrrd, .nii, .nii.gz) in this folder".into(),
            });
        }
        return Ok(volumes.into_iter().map(Source::Volume).collect());
    }
    let wanted = match layout {
        Some(InputLayout::Dataset(l)) => Some(l),
        _ => None,
    };
    let (_, scans) = layout::discover(root, wanted)?;
    Ok(scans.into_iter().map(Source::Folder).collect())
}

fn load(
    src: &Source,
    root: &Path,
    meta: &ModelMeta,
    table: &StructureTable,
    patients: Option<&HashMap<String, String>>,
) -> Result<ScanInput, DataError> {
    match src {
        Source::Volume(path) => {
            let ct = layout::into_canonical(layout::read_ct_file(path)?);
            let id = layout::volume_stem(path);
            let patient = patients
                .and_then(|t| t.get(&id).cloned())
                .unwrap_or_else(|| id.clone());
            Ok(ScanInput {
                id,
                patient,
                ct,
                labels: None,
                warnings: Vec::new(),
            })
        }
        Source::Folder(s) => {
            // A DICOM folder without an RTSTRUCT is a CT series alone: read just that.
            if s.layout == Layout::Dicom {
                let found = twinscan_data::dicom::scan_dicom_dir(&s.dir)?;
                if found.rtstructs.is_empty() {
                    if found.ct_series.len() != 1 {
                        return Err(DataError::Layout {
                            path: s.dir.clone(),
                            detail: format!(
                                "a DICOM folder without RTSTRUCT needs exactly one CT series, \
                                 found {}",
                                found.ct_series.len()
                            ),
                        });
                    }
                    let ct = twinscan_data::dicom::read_ct_series(&found.ct_series[0])?;
                    let patient = layout::patient_of(
                        s,
                        ct.patient_id.as_deref().filter(|p| !p.trim().is_empty()),
                        patients,
                    );
                    return Ok(ScanInput {
                        id: s.id.clone(),
                        patient,
                        ct: layout::into_canonical(ct.volume),
                        labels: None,
                        warnings: Vec::new(),
                    });
                }
            }
            let scan = layout::load_scan(s, table, root)?;
            let n = scan.ct.geometry.dims[2];
            let masks = s.layout != Layout::DeepMind || s.dir.join("segmentations").is_dir();
            let labels = masks.then(|| {
                meta.structures
                    .iter()
                    .map(|name| {
                        let counts = scan
                            .structures
                            .iter()
                            .find(|c| &c.name == name)
                            .map(|c| c.counts.as_slice());
                        twinscan_data::labels::slice_labels(counts, n, meta.label_rule)
                    })
                    .collect()
            });
            Ok(ScanInput {
                id: s.id.clone(),
                patient: layout::patient_of(s, scan.patient_id.as_deref(), patients),
                ct: scan.ct,
                labels,
                warnings: scan.warnings,
            })
        }
    }
}

/// The prepared-dataset z position of each canonical slice (the slice centre's world z, as
/// `prepare` writes it to `labels.csv`).
fn slice_z(ct: &Volume<f32>) -> Vec<f64> {
    let g = &ct.geometry;
    let [cols, rows, n] = g.dims;
    let ci = (cols as f64 - 1.0) / 2.0;
    let cj = (rows as f64 - 1.0) / 2.0;
    (0..n).map(|k| g.world([ci, cj, k as f64])[2]).collect()
}

/// Runs the model on every slice of one scan: `slices × structures` probabilities.
fn run_scan(
    model: &Classifier,
    pipeline: &Pipeline,
    meta: &ModelMeta,
    window: Window,
    scan: &ScanInput,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<f32>, PredictError> {
    let s = meta.input.slice_size;
    let pixels = render_slices(&scan.ct, s, &[window]);
    let n = scan.ct.geometry.dims[2];
    let (h, w) = pipeline.output_shape(s, s).map_err(ClassifyError::from)?;
    let c = pipeline.channels;
    let mut probs = Vec::with_capacity(n * meta.structures.len());
    let slice_ids: Vec<usize> = (0..n).collect();
    for chunk in slice_ids.chunks(batch_size.max(1)) {
        let inputs: Vec<InputPlane> = chunk
            .iter()
            .map(|&k| InputPlane::u8(s, s, &pixels[k * s * s..(k + 1) * s * s]))
            .collect();
        let keys: Vec<u64> = chunk.iter().map(|&k| k as u64).collect();
        let mut buf = vec![0.0f32; chunk.len() * c * h * w];
        pipeline
            .batch(&inputs, 0, 0, &keys, 0, &mut buf)
            .map_err(ClassifyError::from)?;
        let x = image_batch(&buf, [chunk.len(), c, h, w], device).map_err(|source| {
            ClassifyError::Model {
                context: "prediction batch".into(),
                source,
            }
        })?;
        let p = model
            .probabilities(x)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| PredictError::Model {
                path: PathBuf::new(),
                message: format!("reading probabilities back from the device: {e:?}"),
            })?;
        probs.extend(p);
    }
    Ok(probs)
}

fn check_model(meta: &ModelMeta, pipeline: &Pipeline, path: &Path) -> Result<Window, PredictError> {
    let bad = |message: String| PredictError::Model {
        path: path.to_path_buf(),
        message,
    };
    let window: Window = meta
        .input
        .hu_window
        .parse()
        .map_err(|e| bad(format!("metadata hu_window: {e}")))?;
    let s = meta.input.slice_size;
    if s == 0 {
        return Err(bad("metadata slice_size is 0".into()));
    }
    let (h, w) = pipeline
        .output_shape(s, s)
        .map_err(|e| bad(format!("metadata eval_pipeline: {e}")))?;
    if (h, w) != (meta.input.image_size, meta.input.image_size)
        || pipeline.channels != meta.input.in_channels
    {
        return Err(bad(format!(
            "metadata do not agree: the evaluation pipeline makes {}x{h}x{w} inputs, the \
             network takes {}x{}x{}",
            pipeline.channels, meta.input.in_channels, meta.input.image_size, meta.input.image_size
        )));
    }
    if meta.structures.is_empty() {
        return Err(bad("metadata list no structure".into()));
    }
    Ok(window)
}

/// Runs a saved classifier on the scans under `opts.input`; see the
/// [module documentation](self).
///
/// # Errors
/// A missing or foreign model file, a model whose metadata do not fit its weights, an input
/// folder without scans, a scan that cannot be read, bad options, or an output that cannot
/// be written; nothing is written then.
pub fn predict(
    opts: &PredictOptions,
    device: &Device,
    on_event: &mut dyn FnMut(PredictEvent<'_>),
) -> Result<PredictSummary, PredictError> {
    let started = Instant::now();
    if !(0.0..=1.0).contains(&opts.threshold) {
        return Err(PredictError::Option {
            option: "--threshold",
            message: format!("{} is not in [0, 1]", opts.threshold),
        });
    }
    let path = model_file(&opts.model)?;
    let (model, meta) = load_model(&path, device)?;
    let pipeline = eval_pipeline(&meta.input)?;
    let window = check_model(&meta, &pipeline, &path)?;
    let patients = match &opts.patients {
        Some(p) => Some(layout::read_patient_table(p)?),
        None => None,
    };
    // Every name the files use, mapped to canonical names where known: the model's
    // structures are looked up among them.
    let table = StructureTable::with_selection(StructureSelection::All);
    let sources = discover(&opts.input, opts.layout)?;
    on_event(PredictEvent::Started {
        scans: sources.len(),
    });
    let mut results = Vec::with_capacity(sources.len());
    let mut warnings = Vec::new();
    for src in &sources {
        let scan_path = match src {
            Source::Volume(p) => p.clone(),
            Source::Folder(s) => s.dir.clone(),
        };
        let scan = load(src, &opts.input, &meta, &table, patients.as_ref()).map_err(|source| {
            PredictError::Scan {
                scan: scan_path.clone(),
                source,
            }
        })?;
        let probs = run_scan(
            &model,
            &pipeline,
            &meta,
            window,
            &scan,
            opts.batch_size,
            device,
        )?;
        on_event(PredictEvent::Scan {
            id: &scan.id,
            slices: scan.ct.geometry.dims[2],
        });
        warnings.extend(scan.warnings.iter().map(|w| format!("{}: {w}", scan.id)));
        results.push(ScanResult {
            z_mm: slice_z(&scan.ct),
            id: scan.id,
            patient: scan.patient,
            probs,
            labels: scan.labels,
        });
    }

    // Metrics over the scans with masks (known labels only), as the run computed them.
    let with_masks: Vec<&ScanResult> = results.iter().filter(|r| r.labels.is_some()).collect();
    let metrics = if with_masks.is_empty() {
        None
    } else {
        let mut samples = Samples::new();
        for name in &meta.structures {
            samples.add_structure(name);
        }
        let ns = meta.structures.len();
        for r in &with_masks {
            let labels = r.labels.as_ref().expect("filtered on labels");
            for (k, row) in r.probs.chunks_exact(ns).enumerate() {
                for (j, name) in meta.structures.iter().enumerate() {
                    let p = row[j].clamp(0.0, 1.0) as f64;
                    samples.push(name, &r.patient, labels[j][k].into(), p)?;
                }
            }
        }
        let cfg = MetricsConfig {
            threshold: opts.threshold,
            ..meta.metrics
        };
        Some(samples.evaluate(&cfg)?)
    };

    let slices: usize = results.iter().map(|r| r.z_mm.len()).sum();
    if let Some(parent) = opts.out.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(PredictError::Option {
            option: "--out",
            message: format!("folder {} does not exist", parent.display()),
        });
    }
    write_atomic(&opts.out, |w| {
        write_predictions(w, &opts.out, &meta, &results, opts.threshold)
    })?;
    let metrics_path = match &metrics {
        Some(m) => {
            let p = opts.out.with_file_name("metrics.csv");
            if let Err(e) = write_metrics(&p, m) {
                let _ = std::fs::remove_file(&opts.out);
                return Err(e.into());
            }
            Some(p)
        }
        None => None,
    };
    Ok(PredictSummary {
        scans: results.len(),
        slices,
        predictions: opts.out.clone(),
        metrics: metrics_path,
        scans_with_masks: with_masks.len(),
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    })
}

fn write_predictions(
    w: &mut impl Write,
    path: &Path,
    meta: &ModelMeta,
    results: &[ScanResult],
    threshold: f64,
) -> Result<(), ClassifyError> {
    let err = |source: csv::Error| ClassifyError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let ns = meta.structures.len();
    let mut out = csv::Writer::from_writer(w);
    let mut header: Vec<String> = vec!["scan".into(), "slice".into(), "z_mm".into()];
    header.extend(meta.structures.iter().cloned());
    header.extend(meta.structures.iter().map(|s| format!("pred_{s}")));
    out.write_record(&header).map_err(err)?;
    for r in results {
        for (k, z) in r.z_mm.iter().enumerate() {
            let row = &r.probs[k * ns..(k + 1) * ns];
            let mut rec = vec![r.id.clone(), k.to_string(), format!("{z:.3}")];
            rec.extend(row.iter().map(|p| format!("{:.6}", p.clamp(0.0, 1.0))));
            rec.extend(
                row.iter()
                    .map(|p| if (*p as f64) > threshold { "1" } else { "0" }.to_string()),
            );
            out.write_record(&rec).map_err(err)?;
        }
    }
    out.flush().map_err(|e| ClassifyError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}
