//! `embed`: an encoder's features of a prepared dataset, for the user's own analysis.
//!
//! The encoder is any ResNet weight file twinscan reads: a pretraining's
//! `encoder.safetensors`, a classification run's `model.safetensors` (its encoder; the head
//! is left out), or a torchvision `.pth` / `.safetensors`. Files written by twinscan carry
//! their preprocessing ([`twinscan_models::meta`]); for others, the architecture, channels
//! and input size are options and the study's evaluation pipeline is used. Output folder:
//!
//! ```text
//! embeddings.npy   N × feature dim, float32 (numpy format), rows in labels.csv order
//! index.csv        row,scan,patient,slice,z_mm,split,<structure>... (tri-state: 1 / -1 / 0)
//! pca.png          the first two principal components, coloured by one structure's label
//! knn.json         with --knn K: the pretraining's kNN probe on this dataset (train → val)
//! ```
//!
//! The features are [`twinscan_ssl::pretrain::features`]: what the pretraining's kNN probe
//! compares.

use std::path::{Path, PathBuf};
use std::time::Instant;

use twinscan_augment::Pipeline;
use twinscan_classify::plot::{ScatterGroup, plot_scatter};
use twinscan_data::prepared::Prepared;
use twinscan_data::split::Split;
use twinscan_models::burn::tensor::Device;
use twinscan_models::meta::{self, InputSpec};
use twinscan_models::weights::{self, LoadOptions};
use twinscan_models::{ModelsError, ResNet, ResNetConfig};
use twinscan_ssl::knn::{KnnReport, knn_probe};
use twinscan_ssl::pretrain::features;

/// What can go wrong in [`embed`].
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The encoder file is missing, unreadable or does not fit the options.
    #[error("encoder {path}: {message}")]
    Encoder {
        /// The weight file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The dataset cannot be read.
    #[error(transparent)]
    Data(#[from] twinscan_data::DataError),
    /// Feature extraction failed.
    #[error(transparent)]
    Ssl(#[from] twinscan_ssl::SslError),
    /// The chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] twinscan_classify::ClassifyError),
    /// A bad option.
    #[error("{option}: {message}")]
    Option {
        /// The option.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An output file could not be written.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Settings of an [`embed`] call.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// The weight file.
    pub encoder: PathBuf,
    /// The prepared dataset.
    pub data: PathBuf,
    /// Output folder (created; files in it are replaced).
    pub out: PathBuf,
    /// One split, or `None` for all slices.
    pub split: Option<Split>,
    /// Structure colouring `pca.png`; `None` = the first with both classes.
    pub color_by: Option<String>,
    /// Also run the kNN probe with this many neighbours.
    pub knn: Option<usize>,
    /// Architecture, for files without twinscan metadata (default `resnet18`).
    pub arch: Option<String>,
    /// Input channels, for files without twinscan metadata (default 3).
    pub in_channels: Option<usize>,
    /// Input size, for files without twinscan metadata (default 128).
    pub image_size: Option<usize>,
}

impl EmbedOptions {
    /// All slices, colour chosen automatically, no kNN probe.
    pub fn new(
        encoder: impl Into<PathBuf>,
        data: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
    ) -> Self {
        Self {
            encoder: encoder.into(),
            data: data.into(),
            out: out.into(),
            split: None,
            color_by: None,
            knn: None,
            arch: None,
            in_channels: None,
            image_size: None,
        }
    }
}

/// What [`embed`] wrote and measured.
#[derive(Debug, Clone)]
pub struct EmbedSummary {
    /// Rows (slices).
    pub rows: usize,
    /// Feature width.
    pub dim: usize,
    /// `embeddings.npy`.
    pub embeddings: PathBuf,
    /// `index.csv`.
    pub index: PathBuf,
    /// `pca.png`.
    pub pca: PathBuf,
    /// The structure that coloured the chart.
    pub color_by: String,
    /// Share of the variance along the two components.
    pub explained: [f64; 2],
    /// The kNN probe, when asked for (and both splits are non-empty).
    pub knn: Option<KnnReport>,
    /// Seconds spent computing the embeddings.
    pub feature_seconds: f64,
    /// Notes (e.g. a dataset prepared differently from the encoder's training data).
    pub warnings: Vec<String>,
}

/// The encoder, its input pipeline and (for twinscan files) its recorded inputs.
pub struct Encoder {
    /// The network (no head).
    pub network: ResNet,
    /// The evaluation pipeline.
    pub pipeline: Pipeline,
    /// What the file records, if it was written by twinscan.
    pub spec: Option<InputSpec>,
}

/// Loads any encoder file (see the [module documentation](self)).
///
/// # Errors
/// [`EmbedError::Encoder`] for a missing file, an option that contradicts the file's
/// metadata, an unknown architecture or weights that do not fit it.
pub fn load_encoder(opts: &EmbedOptions, device: &Device) -> Result<Encoder, EmbedError> {
    let path = &opts.encoder;
    let bad = |message: String| EmbedError::Encoder {
        path: path.clone(),
        message,
    };
    if !path.is_file() {
        return Err(bad("no such file".into()));
    }
    let is_st = path.extension().is_some_and(|e| e == "safetensors");
    let spec: Option<InputSpec> = if is_st {
        let raw = meta::read_raw_metadata(path).map_err(|e| bad(e.to_string()))?;
        match raw.get(meta::JSON_KEY) {
            Some(json) => Some(
                serde_json::from_str(json)
                    .map_err(|e| bad(format!("twinscan metadata do not parse: {e}")))?,
            ),
            None => None,
        }
    } else {
        None
    };
    let (arch, in_channels, image_size) = match &spec {
        Some(s) => {
            let clash = opts.arch.as_ref().is_some_and(|a| a != &s.arch)
                || opts.in_channels.is_some_and(|c| c != s.in_channels)
                || opts.image_size.is_some_and(|i| i != s.image_size);
            if clash {
                return Err(bad(format!(
                    "the file records {} with {} channel(s) at {}²; --arch / --in-channels / \
                     --image-size are for files without twinscan metadata",
                    s.arch, s.in_channels, s.image_size
                )));
            }
            (s.arch.clone(), s.in_channels, s.image_size)
        }
        None => (
            opts.arch.clone().unwrap_or_else(|| "resnet18".into()),
            opts.in_channels.unwrap_or(3),
            opts.image_size.unwrap_or(128),
        ),
    };
    let model_err = |e: ModelsError| bad(e.to_string());
    let mut network = ResNetConfig::preset(&arch)
        .map_err(model_err)?
        .with_in_channels(in_channels)
        .with_num_classes(None)
        .init(device)
        .map_err(model_err)?;
    // A torchvision file's `fc` and a classifier's `head` are not part of the encoder.
    let options = LoadOptions {
        allow_unexpected: vec!["fc.".into(), "head.".into()],
        ..LoadOptions::strict()
    };
    weights::load(&mut network, path, &options).map_err(model_err)?;
    let pipeline = match &spec {
        Some(s) => Pipeline::from_toml_str(&s.eval_pipeline)
            .map_err(|e| bad(format!("recorded eval_pipeline: {e}")))?,
        None => Pipeline::preset("study_eval")
            .map_err(|e| bad(e.to_string()))?
            .with_output_size(image_size, image_size)
            .with_channels(in_channels),
    };
    Ok(Encoder {
        network,
        pipeline,
        spec,
    })
}

/// The first two principal components of the rows of `x` (`n × d`): the projections
/// (`n × 2`) and the share of the total variance each explains.
///
/// Power iteration on `XᵀX` without forming it (two passes over `X` per step), the second
/// component kept orthogonal to the first: two leading components is all the chart needs,
/// and an SVD crate would bring LAPACK or a large dependency for it.
pub fn pca2(x: &[f32], n: usize, d: usize) -> (Vec<[f64; 2]>, [f64; 2]) {
    if n == 0 || d == 0 {
        return (Vec::new(), [0.0; 2]);
    }
    let mut mean = vec![0.0f64; d];
    for row in x.chunks_exact(d) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let c: Vec<f64> = x
        .chunks_exact(d)
        .flat_map(|row| row.iter().zip(&mean).map(|(&v, m)| v as f64 - m))
        .collect();
    let total: f64 = c.iter().map(|v| v * v).sum();
    // v ← XᵀX v, restricted to the complement of `previous`.
    let step = |v: &[f64], previous: &[Vec<f64>]| -> Vec<f64> {
        let mut out = vec![0.0f64; d];
        for row in c.chunks_exact(d) {
            let p: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
            for (o, a) in out.iter_mut().zip(row) {
                *o += p * a;
            }
        }
        for q in previous {
            let dot: f64 = out.iter().zip(q).map(|(a, b)| a * b).sum();
            out.iter_mut().zip(q).for_each(|(o, b)| *o -= dot * b);
        }
        out
    };
    let normalise = |v: &mut Vec<f64>| -> f64 {
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|a| *a /= norm);
        }
        norm
    };
    let mut comps: Vec<Vec<f64>> = Vec::new();
    let mut eig = [0.0f64; 2];
    for (k, e) in eig.iter_mut().enumerate() {
        // A fixed, generic start vector: the result does not depend on a seed.
        let mut v: Vec<f64> = (0..d)
            .map(|i| ((i * 7 + k * 13 + 1) as f64).sin())
            .collect();
        for q in &comps {
            let dot: f64 = v.iter().zip(q).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(q).for_each(|(o, b)| *o -= dot * b);
        }
        normalise(&mut v);
        let mut lambda = 0.0;
        for _ in 0..1000 {
            let mut w = step(&v, &comps);
            let l = normalise(&mut w);
            let delta: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = w;
            let done = (l - lambda).abs() <= 1e-12 * l.max(1e-300) || delta < 1e-10;
            lambda = l;
            if done {
                break;
            }
        }
        // Sign: the largest loading positive, so the chart does not flip between runs.
        let big = v
            .iter()
            .copied()
            .fold(0.0f64, |m, a| if a.abs() > m.abs() { a } else { m });
        if big < 0.0 {
            v.iter_mut().for_each(|a| *a = -*a);
        }
        *e = if total > 0.0 { lambda / total } else { 0.0 };
        comps.push(v);
    }
    let proj = c
        .chunks_exact(d)
        .map(|row| {
            let p = |q: &Vec<f64>| row.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
            [p(&comps[0]), p(&comps[1])]
        })
        .collect();
    (proj, eig)
}

fn write_err(path: &Path, message: impl std::fmt::Display) -> EmbedError {
    EmbedError::Write {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Writes `path` through a temporary sibling renamed on success ([`twinscan_data::atomic`]).
fn atomic(
    path: &Path,
    fill: impl FnOnce(&Path) -> Result<(), EmbedError>,
) -> Result<(), EmbedError> {
    let to_err = |e: twinscan_data::atomic::AtomicError| write_err(&e.path, e.source);
    let tmp = twinscan_data::atomic::TempFile::new(path).map_err(to_err)?;
    fill(tmp.path())?; // on error, dropping `tmp` removes it
    tmp.persist().map_err(to_err)
}

/// Embeds the prepared dataset `opts.data` with `opts.encoder`; see the
/// [module documentation](self).
///
/// # Errors
/// As [`load_encoder`]; an unreadable dataset; an empty selection; an unknown `color_by`
/// structure; a `knn` of 0; an output that cannot be written (files already written by this
/// call are removed).
pub fn embed(opts: &EmbedOptions, device: &Device) -> Result<EmbedSummary, EmbedError> {
    if opts.knn == Some(0) {
        return Err(EmbedError::Option {
            option: "--knn",
            message: "must be at least 1".into(),
        });
    }
    let data = Prepared::open(&opts.data)?;
    let enc = load_encoder(opts, device)?;
    let mut warnings = Vec::new();
    if let Some(spec) = &enc.spec {
        let windows: Vec<String> = data.info().windows.iter().map(|w| w.to_string()).collect();
        if windows.first() != Some(&spec.hu_window) {
            warnings.push(format!(
                "the encoder was trained on window {} slices, this dataset's first window is {}",
                spec.hu_window,
                windows.first().map_or("none", String::as_str)
            ));
        }
        if spec.slice_size != data.size() {
            warnings.push(format!(
                "the encoder was trained on {}² slices, this dataset has {}² (the pipeline \
                 resizes them)",
                spec.slice_size,
                data.size()
            ));
        }
    }
    let rows: Vec<usize> = match opts.split {
        Some(s) => data.indices(s),
        None => (0..data.len()).collect(),
    };
    if rows.is_empty() {
        return Err(EmbedError::Option {
            option: "--split",
            message: format!("{}: no slices selected", opts.data.display()),
        });
    }
    let names = data.structures();
    let color_by = match &opts.color_by {
        Some(name) => {
            if !names.contains(name) {
                return Err(EmbedError::Option {
                    option: "--color-by",
                    message: format!(
                        "{name:?} is not a structure of this dataset ({})",
                        names.join(", ")
                    ),
                });
            }
            name.clone()
        }
        None => names
            .iter()
            .enumerate()
            .find(|(j, _)| {
                let has = |v: i8| rows.iter().any(|&i| data.labels(i)[*j] == v);
                has(1) && has(-1)
            })
            .or_else(|| names.iter().enumerate().next())
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
    };

    let t0 = Instant::now();
    let feats = features(&enc.network, &data, &enc.pipeline, &rows, device)?;
    let feature_seconds = t0.elapsed().as_secs_f64();
    let dim = enc.network.feature_dim();
    let n = rows.len();
    if feats.len() != n * dim {
        return Err(write_err(
            &opts.out,
            format!("expected {n} x {dim} features, got {}", feats.len()),
        ));
    }
    let knn = match opts.knn {
        Some(k) => {
            let train = data.indices(Split::Train);
            let val = data.indices(Split::Val);
            let labels = |idx: &[usize]| -> Vec<i8> {
                idx.iter()
                    .flat_map(|&i| data.labels(i).iter().copied())
                    .collect()
            };
            let ft = features(&enc.network, &data, &enc.pipeline, &train, device)?;
            let fv = features(&enc.network, &data, &enc.pipeline, &val, device)?;
            knn_probe(
                &ft,
                &labels(&train),
                &fv,
                &labels(&val),
                dim,
                names.len(),
                k,
            )
        }
        None => None,
    };
    let (proj, explained) = pca2(&feats, n, dim);

    std::fs::create_dir_all(&opts.out).map_err(|e| write_err(&opts.out, e))?;
    let embeddings = opts.out.join("embeddings.npy");
    let index = opts.out.join("index.csv");
    let pca = opts.out.join("pca.png");
    let knn_path = opts.out.join("knn.json");
    let mut written: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), EmbedError> {
        atomic(&embeddings, |tmp| {
            let arr = ndarray::Array2::from_shape_vec((n, dim), feats.clone())
                .map_err(|e| write_err(&embeddings, e))?;
            ndarray_npy::write_npy(tmp, &arr).map_err(|e| write_err(&embeddings, e))
        })?;
        written.push(embeddings.clone());
        atomic(&index, |tmp| {
            let mut w = csv::Writer::from_path(tmp).map_err(|e| write_err(&index, e))?;
            let mut header: Vec<String> = ["row", "scan", "patient", "slice", "z_mm", "split"]
                .map(String::from)
                .to_vec();
            header.extend(names.iter().cloned());
            w.write_record(&header).map_err(|e| write_err(&index, e))?;
            for (r, &i) in rows.iter().enumerate() {
                let mut rec = vec![
                    r.to_string(),
                    data.scan(i).to_string(),
                    data.patient(i).to_string(),
                    data.slice_index(i).to_string(),
                    format!("{}", data.z_mm(i)),
                    data.split(i).as_str().to_string(),
                ];
                rec.extend(data.labels(i).iter().map(|l| l.to_string()));
                w.write_record(&rec).map_err(|e| write_err(&index, e))?;
            }
            w.flush().map_err(|e| write_err(&index, e))
        })?;
        written.push(index.clone());
        let j = names.iter().position(|s| *s == color_by);
        let mut groups = vec![
            ScatterGroup {
                name: "unknown".into(),
                rgb: (170, 170, 170),
                points: Vec::new(),
            },
            ScatterGroup {
                name: "absent".into(),
                rgb: (31, 119, 180),
                points: Vec::new(),
            },
            ScatterGroup {
                name: "present".into(),
                rgb: (214, 39, 40),
                points: Vec::new(),
            },
        ];
        for (p, &i) in proj.iter().zip(&rows) {
            let g = match j.map(|j| data.labels(i)[j]) {
                Some(1) => 2,
                Some(-1) => 1,
                _ => 0,
            };
            groups[g].points.push((p[0], p[1]));
        }
        groups.retain(|g| !g.points.is_empty());
        let title = format!(
            "{} embeddings ({n} slices), coloured by {color_by}",
            enc.spec.as_ref().map_or("encoder", |s| s.arch.as_str())
        );
        let x = format!("PC1 ({:.1} % of variance)", 100.0 * explained[0]);
        let y = format!("PC2 ({:.1} % of variance)", 100.0 * explained[1]);
        plot_scatter(&pca, &title, (&x, &y), &groups)?;
        written.push(pca.clone());
        if let Some(r) = &knn {
            atomic(&knn_path, |tmp| {
                let json = serde_json::to_vec_pretty(r).map_err(|e| write_err(&knn_path, e))?;
                std::fs::write(tmp, json).map_err(|e| write_err(&knn_path, e))
            })?;
            written.push(knn_path.clone());
        }
        Ok(())
    })();
    if let Err(e) = result {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    Ok(EmbedSummary {
        rows: n,
        dim,
        embeddings,
        index,
        pca,
        color_by,
        explained,
        knn,
        feature_seconds,
        warnings,
    })
}
