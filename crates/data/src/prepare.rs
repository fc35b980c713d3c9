//! `prepare`: an input folder of CT scans in, a prepared dataset folder out (format in
//! [`crate::prepared`]).
//!
//! Scans are processed in parallel (rayon). Everything is written into a temporary folder
//! `.<out name>.partial-<pid>` beside `out` and renamed onto `out` only when every scan
//! succeeded; on any error the temporary folder is removed, so no `labels.csv` is left.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::labels::{LabelRule, slice_labels};
use crate::layout::{
    self, Annotator, Layout, LoadedScan, PatientSource, ScanSource, StructureCounts,
};
use crate::prepared::{
    CacheHeader, Counts, DatasetInfo, FORMAT_NAME, FORMAT_VERSION, LabelCounts, ScanEntry,
    SplitCounts,
};
use crate::slices::{PngPixels, Resampler, Window, write_png_gray};
use crate::split::{Split, SplitFractions, assign_patients};
use crate::structures::{StructureSelection, StructureTable};

/// Everything `prepare` needs; serialisable so that it can be recorded and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareConfig {
    /// Input folder.
    pub input: PathBuf,
    /// Output folder (created; must not exist unless `overwrite`).
    pub out: PathBuf,
    /// Layout; `None` = auto-detect.
    pub layout: Option<Layout>,
    /// Image side in pixels (default 128).
    pub size: usize,
    /// HU windows, one channel each (default `[40:400]`).
    pub windows: Vec<Window>,
    /// In-plane pixel size (mm) of the slices (`--spacing`): resampled to it, then centre
    /// cropped or padded with air to `size`. `None` (default, the study's): the whole field
    /// of view resized to `size`.
    #[serde(default)]
    pub spacing_mm: Option<f64>,
    /// PNG bit depth: `Some(8)` / `Some(16)`, or `None` for no PNGs (cache only).
    pub png_bit_depth: Option<u8>,
    /// Alias CSV (`alias,canonical`) extending the built-in table.
    pub aliases: Option<PathBuf>,
    /// Which structures become columns.
    pub structures: StructureSelection,
    /// Per-slice label rule.
    pub label_rule: LabelRule,
    /// Write `mask_pixels.csv`.
    pub mask_stats: bool,
    /// Split fractions.
    pub split: SplitFractions,
    /// Split seed.
    pub seed: u64,
    /// Patient table CSV (`scan,patient`). When `None` and `auto_patients`, the input
    /// folder's `patients.csv` is used if there is one.
    pub patients: Option<PathBuf>,
    /// Pick up `<input>/patients.csv` when `patients` is `None` (default true).
    #[serde(default = "yes")]
    pub auto_patients: bool,
    /// deepmind / totalsegmentator layouts: CT file glob and masks folder name.
    #[serde(default)]
    pub mask_folder: layout::MaskFolderOptions,
    /// nbia layout: which RTSTRUCT to read when several reference one CT series
    /// (`--rtstruct`, default newest).
    #[serde(default)]
    pub rtstruct: crate::nbia::RtStructChoice,
    /// deepmind layout: which annotator's delineations to read (default oncologist).
    #[serde(default)]
    pub annotator: Annotator,
    /// deepmind layout: group folder-name patient ids that differ only by a trailing letter
    /// after a digit (`0522c0727a` / `0522c0727b`) into one patient (default true).
    #[serde(default = "yes")]
    pub group_scan_suffix: bool,
    /// Replace an existing output folder.
    pub overwrite: bool,
    /// Worker threads (`None` = rayon's default: all cores or `RAYON_NUM_THREADS`).
    pub threads: Option<usize>,
}

impl PrepareConfig {
    /// Defaults for everything but the two folders.
    pub fn new(input: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        PrepareConfig {
            input: input.into(),
            out: out.into(),
            layout: None,
            size: 128,
            windows: vec![Window::default()],
            spacing_mm: None,
            png_bit_depth: Some(8),
            aliases: None,
            structures: StructureSelection::Study,
            label_rule: LabelRule::Exact,
            mask_stats: false,
            split: SplitFractions::default(),
            seed: 0,
            patients: None,
            auto_patients: true,
            mask_folder: layout::MaskFolderOptions::default(),
            rtstruct: crate::nbia::RtStructChoice::default(),
            annotator: Annotator::default(),
            group_scan_suffix: true,
            overwrite: false,
            threads: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad =
            |field: &'static str, detail: String| Err(DataError::InvalidConfig { field, detail });
        if self.size == 0 || self.size > 4096 {
            return bad("size", format!("{}: must be 1..=4096", self.size));
        }
        if let Some(mm) = self.spacing_mm
            && !(mm.is_finite() && mm > 0.0 && mm <= 100.0)
        {
            return bad(
                "spacing_mm",
                format!("{mm}: must be a pixel size in mm, 0 < MM <= 100"),
            );
        }
        if self.windows.is_empty() {
            return bad("windows", "at least one window is needed".into());
        }
        if let Some(d) = self.png_bit_depth
            && d != 8
            && d != 16
        {
            return bad(
                "png_bit_depth",
                format!("{d}: PNG bit depth must be 8 or 16"),
            );
        }
        if self.threads == Some(0) {
            return bad("threads", "0: need at least one thread".into());
        }
        Ok(())
    }
}

fn yes() -> bool {
    true
}

/// Below this many test patients `prepare` warns that test-set intervals are unreliable.
pub const MIN_TEST_PATIENTS: usize = 10;

/// Progress events passed to the callback of [`prepare`].
#[derive(Debug, Clone)]
pub enum Progress {
    /// Scans were found; `total` will be processed.
    Found {
        /// Layout used.
        layout: Layout,
        /// Number of scans.
        total: usize,
    },
    /// One scan finished.
    ScanDone {
        /// Scan id.
        id: String,
        /// Slices it gave.
        slices: usize,
    },
    /// Writing the tables and renaming the folder.
    Finishing,
}

/// What [`prepare`] produced.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The output folder.
    pub out: PathBuf,
    /// Layout read.
    pub layout: Layout,
    /// Counts as in `dataset.json`.
    pub counts: Counts,
    /// Non-fatal notes (those of the scans, then the dataset-level ones such as a small
    /// test split).
    pub warnings: Vec<String>,
    /// Patient ids grouped by [`PrepareConfig::group_scan_suffix`]: patient → scan-folder ids.
    pub patient_groups: BTreeMap<String, Vec<String>>,
    /// The patient table read (given, or the input's `patients.csv`).
    pub patient_table: Option<PathBuf>,
    /// deepmind layout: scans left out by [`PrepareConfig::annotator`].
    pub annotator_skipped: usize,
    /// nbia layout: series (and files) not used, and why (also in `dataset.json`).
    pub skipped_series: Vec<crate::nbia::SkippedSeries>,
    /// Patients in the test split.
    pub test_patients: usize,
    /// The warning about a test split with fewer than [`MIN_TEST_PATIENTS`] patients (also
    /// in `warnings`).
    pub split_warning: Option<String>,
    /// The dataset fingerprint written to `dataset.json`.
    pub fingerprint: String,
}

/// Output of one scan's worker.
struct ScanResult {
    src: ScanSource,
    patient_from_files: Option<String>,
    slices: usize,
    z_mm: Vec<f64>,
    structures: Vec<StructureCounts>,
    warnings: Vec<String>,
    cache: String,
    images: Vec<String>,
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    /// Per channel: sum and sum of squares of the cached bytes (exact integers).
    pixel_sums: Vec<(u64, u128)>,
    /// `size × size`.
    pixel_count_per_channel_slice: usize,
}

/// Per-channel sum and sum of squares of slices laid out as `slices × channels × plane`.
fn pixel_sums(pixels: &[u8], channels: usize, plane: usize) -> Vec<(u64, u128)> {
    let mut sums = vec![(0u64, 0u128); channels];
    if plane == 0 {
        return sums;
    }
    for (i, chunk) in pixels.chunks_exact(plane).enumerate() {
        let (s, q) = chunk.iter().fold((0u64, 0u64), |(s, q), &v| {
            (s + v as u64, q + (v as u64) * (v as u64))
        });
        let e = &mut sums[i % channels];
        e.0 += s;
        e.1 += q as u128;
    }
    sums
}

/// A file-name-safe version of a scan id (`/` → `__`, other unsafe characters → `_`).
pub fn file_stem_for(id: &str) -> String {
    id.replace('/', "__")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Windowed, resampled slices of a canonical CT: `slices × windows × size × size` bytes.
/// Slice `k` of the output is canonical slice `k` (inferior → superior).
pub fn render_slices(ct: &crate::Volume<f32>, size: usize, windows: &[Window]) -> Vec<u8> {
    render_slices_at(ct, size, windows, None)
}

/// The in-plane resampler of a canonical CT: the whole field of view to `size²`, or with
/// `spacing_mm` a fixed pixel size, centre-cropped or padded with air.
pub fn resampler_for(ct: &crate::Volume<f32>, size: usize, spacing_mm: Option<f64>) -> Resampler {
    let [cols, rows, _] = ct.geometry.dims;
    match spacing_mm {
        None => Resampler::new(rows, cols, size),
        Some(mm) => Resampler::physical(
            rows,
            cols,
            size,
            ct.geometry.spacing(0),
            ct.geometry.spacing(1),
            mm,
        ),
    }
}

/// [`render_slices`] with an optional fixed pixel size (`--spacing`).
pub fn render_slices_at(
    ct: &crate::Volume<f32>,
    size: usize,
    windows: &[Window],
    spacing_mm: Option<f64>,
) -> Vec<u8> {
    let [cols, rows, n] = ct.geometry.dims;
    let plane = cols * rows;
    let per = windows.len() * size * size;
    let mut out = vec![0u8; n * per];
    if plane == 0 {
        return out;
    }
    let rs = resampler_for(ct, size, spacing_mm);
    out.par_chunks_mut(per)
        .zip(ct.data.par_chunks(plane))
        .for_each_init(
            || vec![0f32; size * size],
            |buf, (dst, src)| {
                rs.apply(src, buf);
                for (w, chan) in windows.iter().zip(dst.chunks_exact_mut(size * size)) {
                    for (d, &v) in chan.iter_mut().zip(buf.iter()) {
                        *d = w.to_u8(v);
                    }
                }
            },
        );
    out
}

fn process_scan(
    src: &ScanSource,
    table: &StructureTable,
    config: &PrepareConfig,
    tmp: &Path,
) -> Result<ScanResult> {
    let LoadedScan {
        id: _,
        patient_id,
        ct,
        structures,
        warnings,
    } = layout::load_scan_with(src, table, &config.input, &config.mask_folder)?;
    let [cols, rows, n] = ct.geometry.dims;
    if n == 0 || cols == 0 || rows == 0 {
        return Err(DataError::Layout {
            path: src.dir.clone(),
            detail: format!("CT volume has no voxels (dims {:?})", ct.geometry.dims),
        });
    }
    let size = config.size;
    let stem = file_stem_for(&src.id);
    let pixels = render_slices_at(&ct, size, &config.windows, config.spacing_mm);
    let per = config.windows.len() * size * size;
    let sums = pixel_sums(&pixels, config.windows.len(), size * size);
    // Cache file.
    let cache_rel = format!("cache/{stem}.u8");
    let cache_path = tmp.join(&cache_rel);
    {
        let header = CacheHeader {
            channels: config.windows.len() as u32,
            height: size as u32,
            width: size as u32,
            slices: n as u32,
        };
        let mut f =
            std::fs::File::create(&cache_path).map_err(|e| DataError::io(&cache_path, e))?;
        f.write_all(&header.to_bytes())
            .and_then(|_| f.write_all(&pixels))
            .map_err(|e| DataError::io(&cache_path, e))?;
    }
    // PNGs: channels stacked vertically (a C·size × size grey image).
    let mut images = Vec::new();
    if let Some(bits) = config.png_bit_depth {
        let dir_rel = format!("images/{stem}");
        let dir = tmp.join(&dir_rel);
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        images = (0..n).map(|k| format!("{dir_rel}/{k:04}.png")).collect();
        let plane = cols * rows;
        let rs = resampler_for(&ct, size, config.spacing_mm);
        images
            .par_iter()
            .enumerate()
            .try_for_each(|(k, rel)| -> Result<()> {
                let path = tmp.join(rel);
                let height = config.windows.len() * size;
                if bits == 8 {
                    write_png_gray(
                        &path,
                        size,
                        height,
                        PngPixels::Eight(&pixels[k * per..(k + 1) * per]),
                    )
                } else {
                    let mut buf = vec![0f32; size * size];
                    rs.apply(&ct.data[k * plane..(k + 1) * plane], &mut buf);
                    let px: Vec<u16> = config
                        .windows
                        .iter()
                        .flat_map(|w| buf.iter().map(move |&v| w.to_u16(v)))
                        .collect();
                    write_png_gray(&path, size, height, PngPixels::Sixteen(&px))
                }
            })?;
    }
    let g = &ct.geometry;
    let ci = (cols as f64 - 1.0) / 2.0;
    let cj = (rows as f64 - 1.0) / 2.0;
    let z_mm = (0..n).map(|k| g.world([ci, cj, k as f64])[2]).collect();
    for s in &structures {
        if s.counts.len() != n {
            return Err(DataError::GridMismatch {
                path: PathBuf::from(&s.source),
                detail: format!("{} slices, CT has {n}", s.counts.len()),
            });
        }
    }
    Ok(ScanResult {
        src: src.clone(),
        patient_from_files: patient_id,
        slices: n,
        z_mm,
        structures,
        warnings,
        cache: cache_rel,
        images,
        dims: g.dims,
        spacing_mm: [g.spacing(0), g.spacing(1), g.spacing(2)],
        pixel_sums: sums,
        pixel_count_per_channel_slice: size * size,
    })
}

/// Removes a folder tree when dropped unless disarmed.
/// The staging folder `.<out name>.partial-<pid>` beside `out` (see [`crate::atomic::TempDir`]).
fn staging(out: &Path) -> Result<crate::atomic::TempDir> {
    if out.file_name().is_none() {
        return Err(DataError::InvalidConfig {
            field: "out",
            detail: format!("{}: needs a folder name", out.display()),
        });
    }
    Ok(crate::atomic::TempDir::create(out)?)
}

/// Removes `.<out name>.partial-<pid>` folders left beside `out` by killed runs: those whose process no longer exists (checked through `/proc/<pid>` where there
/// is one; elsewhere only this process's own). Best effort: a folder that cannot be
/// removed is left alone.
fn remove_stale_partials(out: &Path) {
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return;
    };
    let proc_fs = Path::new("/proc/self").exists();
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        // `.old-<pid>` folders are never touched: after a kill between the two renames one
        // holds the only copy of the previous dataset.
        let pid = n
            .strip_prefix(&format!(".{name}.partial-"))
            .and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        let alive =
            pid == std::process::id() || !proc_fs || Path::new(&format!("/proc/{pid}")).exists();
        if !alive && e.path().is_dir() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Runs the whole preparation. `progress` is called from worker threads.
pub fn prepare(config: &PrepareConfig, progress: &(dyn Fn(Progress) + Sync)) -> Result<Summary> {
    config.validate()?;
    match config.threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| DataError::InvalidConfig {
                field: "threads",
                detail: e.to_string(),
            })?
            .install(|| prepare_inner(config, progress)),
        None => prepare_inner(config, progress),
    }
}

fn prepare_inner(config: &PrepareConfig, progress: &(dyn Fn(Progress) + Sync)) -> Result<Summary> {
    let mut table = StructureTable::with_selection(config.structures);
    if let Some(a) = &config.aliases {
        table.extend_from_csv(a)?;
    }
    let patient_table_path = config.patients.clone().or_else(|| {
        config
            .auto_patients
            .then(|| layout::default_patient_table(&config.input))
            .flatten()
    });
    let patient_table = match &patient_table_path {
        Some(p) => Some(layout::read_patient_table(p)?),
        None => None,
    };
    if config.out.exists() && !config.overwrite {
        let non_empty = std::fs::read_dir(&config.out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
        if non_empty {
            return Err(DataError::InvalidConfig {
                field: "out",
                detail: format!(
                    "{} exists and is not empty (`overwrite` replaces it)",
                    config.out.display()
                ),
            });
        }
    }
    let layout::Discovery {
        layout,
        scans,
        skipped_series,
        warnings: discovery_warnings,
    } = layout::discover_full(
        &config.input,
        config.layout,
        &config.mask_folder,
        &config.rtstruct,
    )?;
    let (scans, annotator_skipped) = if layout == Layout::DeepMind {
        layout::select_annotator(scans, config.annotator)
    } else {
        (scans, 0)
    };
    if scans.is_empty() {
        return Err(DataError::Layout {
            path: config.input.clone(),
            detail: format!(
                "no scan under an `{}` folder ({annotator_skipped} of other annotators); \
                 set `annotator` to radiographer, oncologist or both",
                config.annotator
            ),
        });
    }
    progress(Progress::Found {
        layout,
        total: scans.len(),
    });

    // Removed when dropped (any error below), moved onto `out` at the end.
    let staging = staging(&config.out)?;
    let tmp = staging.path().to_path_buf();
    remove_stale_partials(&config.out);
    for d in [tmp.join("cache"), tmp.join("images")] {
        std::fs::create_dir_all(&d).map_err(|e| DataError::io(&d, e))?;
    }

    let results: Vec<ScanResult> = scans
        .par_iter()
        .map(|src| {
            let r = process_scan(src, &table, config, &tmp)?;
            progress(Progress::ScanDone {
                id: r.src.id.clone(),
                slices: r.slices,
            });
            Ok(r)
        })
        .collect::<Result<Vec<_>>>()?;
    progress(Progress::Finishing);

    // Patients and split.
    let mut patients_src: Vec<(String, PatientSource)> = results
        .iter()
        .map(|r| {
            layout::patient_and_source(
                &r.src,
                r.patient_from_files.as_deref(),
                patient_table.as_ref(),
            )
        })
        .collect();
    // DeepMind's `<id>a` / `<id>b` folders are scans of one patient (issue 12 §4); only ids
    // taken from folder names are grouped, never PatientIDs or patient-table entries.
    let mut patient_groups = BTreeMap::new();
    if layout == Layout::DeepMind && config.group_scan_suffix {
        patient_groups = layout::scan_suffix_groups(
            patients_src
                .iter()
                .filter(|(_, s)| *s == PatientSource::FolderName)
                .map(|(p, _)| p.as_str()),
        );
        let to_base: HashMap<&str, &str> = patient_groups
            .iter()
            .flat_map(|(base, m)| m.iter().map(move |id| (id.as_str(), base.as_str())))
            .collect();
        for (p, s) in patients_src.iter_mut() {
            if *s == PatientSource::FolderName
                && let Some(base) = to_base.get(p.as_str())
            {
                *p = base.to_string();
            }
        }
    }
    let patients: Vec<String> = patients_src.into_iter().map(|(p, _)| p).collect();
    let assignment = assign_patients(
        patients.iter().map(String::as_str),
        config.split,
        config.seed,
    );

    // Columns.
    let found: BTreeSet<&str> = results
        .iter()
        .flat_map(|r| r.structures.iter().map(|s| s.name.as_str()))
        .collect();
    let columns = table.columns(found.iter().copied());

    // labels.csv, mask_pixels.csv.
    let mut counts = Counts {
        scans: results.len(),
        patients: assignment.len(),
        ..Default::default()
    };
    let mut per_structure = vec![LabelCounts::default(); columns.len()];
    let mut per_split: BTreeMap<String, SplitCounts> = Split::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), SplitCounts::default()))
        .collect();
    for (p, s) in &assignment {
        let _ = p;
        if let Some(c) = per_split.get_mut(s.as_str()) {
            c.patients += 1;
        }
    }
    let labels_path = tmp.join("labels.csv");
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(&labels_path).map_err(|e| DataError::io(&labels_path, e))?,
    );
    let mut stats = if config.mask_stats {
        let p = tmp.join("mask_pixels.csv");
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&p).map_err(|e| DataError::io(&p, e))?);
        writeln!(f, "scan,slice,z_mm,structure,pixels").map_err(|e| DataError::io(&p, e))?;
        Some((p, f))
    } else {
        None
    };
    let io = |e| DataError::io(&labels_path, e);
    write!(w, "scan,patient,slice,z_mm,image,split").map_err(io)?;
    for c in &columns {
        write!(w, ",{}", csv_field(c)).map_err(io)?;
    }
    writeln!(w).map_err(io)?;
    let mut entries = Vec::with_capacity(results.len());
    let mut warnings = discovery_warnings;
    let mut row = 0usize;
    for (r, patient) in results.iter().zip(&patients) {
        let split = assignment[patient];
        let by_name: HashMap<&str, &StructureCounts> =
            r.structures.iter().map(|s| (s.name.as_str(), s)).collect();
        let col_labels: Vec<Vec<i8>> = columns
            .iter()
            .map(|c| {
                slice_labels(
                    by_name.get(c.as_str()).map(|s| s.counts.as_slice()),
                    r.slices,
                    config.label_rule,
                )
            })
            .collect();
        let id = csv_field(&r.src.id);
        let pat = csv_field(patient);
        for k in 0..r.slices {
            let image = r.images.get(k).map(String::as_str).unwrap_or("");
            write!(
                w,
                "{id},{pat},{k},{:.3},{},{}",
                r.z_mm[k],
                csv_field(image),
                split.as_str()
            )
            .map_err(io)?;
            for (ci, l) in col_labels.iter().enumerate() {
                write!(w, ",{}", l[k]).map_err(io)?;
                match l[k] {
                    1 => per_structure[ci].positive += 1,
                    -1 => per_structure[ci].negative += 1,
                    _ => per_structure[ci].unknown += 1,
                }
            }
            writeln!(w).map_err(io)?;
        }
        if let Some((p, f)) = stats.as_mut() {
            for c in &columns {
                if let Some(s) = by_name.get(c.as_str()) {
                    for (k, &px) in s.counts.iter().enumerate() {
                        if px > 0 {
                            writeln!(f, "{id},{k},{:.3},{},{px}", r.z_mm[k], csv_field(c))
                                .map_err(|e| DataError::io(p.as_path(), e))?;
                        }
                    }
                }
            }
        }
        if let Some(c) = per_split.get_mut(split.as_str()) {
            c.scans += 1;
            c.slices += r.slices;
        }
        warnings.extend(r.warnings.iter().cloned());
        entries.push(ScanEntry {
            id: r.src.id.clone(),
            patient: patient.clone(),
            split,
            slices: r.slices,
            first_row: row,
            cache: r.cache.clone(),
            dims: r.dims,
            spacing_mm: r.spacing_mm,
        });
        row += r.slices;
    }
    w.flush().map_err(io)?;
    drop(w);
    if let Some((p, mut f)) = stats {
        f.flush().map_err(|e| DataError::io(&p, e))?;
    }
    counts.slices = row;
    let test_patients = per_split.get("test").map_or(0, |c| c.patients);
    counts.per_split = per_split;
    counts.per_structure = columns.iter().cloned().zip(per_structure).collect();
    let split_warning = (test_patients < MIN_TEST_PATIENTS).then(|| {
        if test_patients == 0 {
            "the test split is empty: no held-out patients (more scans or another --split)"
                .to_string()
        } else {
            format!(
                "the test split has only {test_patients} patient(s) (fewer than \
                 {MIN_TEST_PATIENTS}): test metrics and their intervals are unreliable"
            )
        }
    });
    warnings.extend(split_warning.clone());
    let (train_mean, train_std) = train_pixel_stats(&results, &entries, config.windows.len());

    let info = DatasetInfo {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        input: config.input.clone(),
        layout,
        windows: config.windows.clone(),
        size: config.size,
        pixel_spacing_mm: config.spacing_mm,
        png_bit_depth: config.png_bit_depth,
        structures: columns,
        label_rule: config.label_rule,
        split: config.split,
        seed: config.seed,
        versions: [
            (
                "twinscan-data".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            ("format".to_string(), FORMAT_VERSION.to_string()),
        ]
        .into_iter()
        .collect(),
        counts: counts.clone(),
        scans: entries,
        warnings: warnings.clone(),
        annotator: (layout == Layout::DeepMind).then_some(config.annotator),
        rtstruct: (layout == Layout::Nbia).then(|| config.rtstruct.clone()),
        skipped_series: skipped_series.clone(),
        patient_table: patient_table_path.clone(),
        patient_groups: patient_groups.clone(),
        test_patients,
        train_mean,
        train_std,
        fingerprint: None,
    };
    let json_path = tmp.join("dataset.json");
    let to_json = |info: &DatasetInfo| {
        serde_json::to_string_pretty(info).map_err(|e| DataError::format(&json_path, e.to_string()))
    };
    // The fingerprint is taken over the text as written (parsed back), so that
    // `prepared::compute_fingerprint` on the finished folder gives the same value.
    let unsigned = to_json(&info)?;
    let labels_bytes = std::fs::read(&labels_path).map_err(|e| DataError::io(&labels_path, e))?;
    let fingerprint = crate::prepared::fingerprint_of(&labels_bytes, &unsigned, &json_path)?;
    let info = DatasetInfo {
        fingerprint: Some(fingerprint.clone()),
        ..info
    };
    std::fs::write(&json_path, to_json(&info)?).map_err(|e| DataError::io(&json_path, e))?;
    let cfg_path = tmp.join("prepare_config.json");
    let cfg = serde_json::to_string_pretty(config)
        .map_err(|e| DataError::format(&cfg_path, e.to_string()))?;
    std::fs::write(&cfg_path, cfg).map_err(|e| DataError::io(&cfg_path, e))?;

    // Move into place (the previous dataset is put back if the last rename fails).
    staging.persist()?;
    Ok(Summary {
        out: config.out.clone(),
        layout,
        counts,
        warnings,
        patient_groups,
        patient_table: patient_table_path,
        annotator_skipped,
        skipped_series,
        test_patients,
        split_warning,
        fingerprint,
    })
}

/// Per-channel mean and population standard deviation of the training split's pixels on
/// the 0..1 scale the trainers use (cached byte / 255, as `twinscan_augment`'s
/// `InputPlane::u8` converts them). Sums are exact integers, the division in f64.
/// `(None, None)` when the training split holds no slice.
fn train_pixel_stats(
    results: &[ScanResult],
    entries: &[ScanEntry],
    channels: usize,
) -> (Option<Vec<f64>>, Option<Vec<f64>>) {
    let mut sums = vec![(0u64, 0u128); channels];
    let mut n_slices = 0u64;
    for (r, e) in results.iter().zip(entries) {
        if e.split == Split::Train {
            n_slices += r.slices as u64;
            for (acc, (s, q)) in sums.iter_mut().zip(&r.pixel_sums) {
                acc.0 += s;
                acc.1 += q;
            }
        }
    }
    let plane = entries
        .first()
        .zip(results.first())
        .map_or(0, |(_, r)| r.pixel_count_per_channel_slice);
    let n = n_slices as u128 * plane as u128;
    if n == 0 {
        return (None, None);
    }
    let mut mean = Vec::with_capacity(channels);
    let mut std = Vec::with_capacity(channels);
    for (s, q) in sums {
        // n² · variance = n · Σv² − (Σv)², exact in u128 (n · Σv² < 2^128 for any cohort
        // below 10^12 pixels per channel).
        let s = s as u128;
        let nvar = (n * q).saturating_sub(s * s);
        let nf = n as f64;
        mean.push(s as f64 / nf / 255.0);
        std.push((nvar as f64).sqrt() / nf / 255.0);
    }
    (Some(mean), Some(std))
}

/// Quotes a CSV field when it holds a comma, quote or newline.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The closing summary: scans, patients, slices per split and per-structure label counts,
/// as a plain-text table.
pub fn summary_table(s: &Summary) -> String {
    let c = &s.counts;
    let mut out = format!(
        "layout {}: {} scans, {} patients, {} slices\n",
        s.layout, c.scans, c.patients, c.slices
    );
    for (side, sc) in &c.per_split {
        out.push_str(&format!(
            "  {side:<5} {:>4} patients {:>4} scans {:>7} slices\n",
            sc.patients, sc.scans, sc.slices
        ));
    }
    out.push_str(&format!(
        "{:<16} {:>8} {:>8} {:>8}\n",
        "structure", "1", "-1", "0"
    ));
    for (name, l) in &c.per_structure {
        out.push_str(&format!(
            "{name:<16} {:>8} {:>8} {:>8}\n",
            l.positive, l.negative, l.unknown
        ));
    }
    if let Some(p) = &s.patient_table {
        out.push_str(&format!("patients from {}\n", p.display()));
    }
    if s.annotator_skipped > 0 {
        out.push_str(&format!(
            "{} scans of the other annotator left out (--annotator)\n",
            s.annotator_skipped
        ));
    }
    if !s.skipped_series.is_empty() {
        out.push_str(&format!(
            "{} series / files not used (all in dataset.json, skipped_series):\n",
            s.skipped_series.len()
        ));
        const SHOWN: usize = 20;
        for k in s.skipped_series.iter().take(SHOWN) {
            out.push_str(&format!(
                "  {:<22} {} ({} file{}): {}\n",
                k.kind.as_str(),
                k.first_file.display(),
                k.files,
                if k.files == 1 { "" } else { "s" },
                k.detail
            ));
        }
        if s.skipped_series.len() > SHOWN {
            out.push_str(&format!(
                "  ... and {} more\n",
                s.skipped_series.len() - SHOWN
            ));
        }
    }
    for (patient, members) in &s.patient_groups {
        out.push_str(&format!(
            "grouped as patient {patient}: {} (--no-group-scan-suffix to keep apart)\n",
            members.join(", ")
        ));
    }
    if let Some(w) = &s.split_warning {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(&format!("fingerprint {}\n", s.fingerprint));
    out
}
