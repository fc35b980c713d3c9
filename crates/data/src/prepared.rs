//! Reading a prepared dataset folder (written by [`crate::prepare::prepare`]): labels,
//! split and memory-mapped slice pixels.
//!
//! ```no_run
//! use twinscan_data::prepared::Prepared;
//! use twinscan_data::split::Split;
//! let ds = Prepared::open("prepared".as_ref())?;
//! for i in ds.indices(Split::Train) {
//!     let pixels: &[u8] = ds.image(i); // channels × size × size, row 0 anterior
//!     let labels: &[i8] = ds.labels(i); // one of -1 / 0 / 1 per structure
//!     # let _ = (pixels, labels);
//! }
//! # Ok::<(), twinscan_data::DataError>(())
//! ```
//!
//! # Folder format (version 1)
//! * `dataset.json`: [`DatasetInfo`].
//! * `labels.csv`: `scan,patient,slice,z_mm,image,split,<structure>...`, one row per slice,
//!   scans in `dataset.json` order, slices inferior → superior; labels `-1`/`0`/`1`.
//! * `cache/<scan>.u8`: a 32-byte header then the slices, see [`CacheHeader`].
//! * `images/<scan>/<slice>.png` (unless disabled): grey PNGs, channels stacked vertically.
//! * `mask_pixels.csv` (with `--mask-stats`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::labels::LabelRule;
use crate::layout::Layout;
use crate::slices::Window;
use crate::split::{Split, SplitFractions};

/// `dataset.json`'s `format` value.
pub const FORMAT_NAME: &str = "twinscan-prepared";
/// The folder format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Magic bytes opening every cache file.
pub const CACHE_MAGIC: [u8; 8] = *b"TWSCACHE";
/// Cache header length in bytes.
pub const CACHE_HEADER_LEN: usize = 32;

/// The 32-byte header of a per-scan cache file, little-endian:
/// `magic "TWSCACHE"` (8 bytes), then u32 `version` (1), `channels`, `height`, `width`,
/// `slices`, `reserved` (0). The header is followed by `slices × channels × height × width`
/// bytes: slice-major, then channel (window), then row (row 0 anterior), then column
/// (column 0 the patient's right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheHeader {
    /// Number of windows stacked as channels.
    pub channels: u32,
    /// Rows per image.
    pub height: u32,
    /// Columns per image.
    pub width: u32,
    /// Number of slices.
    pub slices: u32,
}

impl CacheHeader {
    /// The header's 32 bytes.
    pub fn to_bytes(&self) -> [u8; CACHE_HEADER_LEN] {
        let mut b = [0u8; CACHE_HEADER_LEN];
        b[..8].copy_from_slice(&CACHE_MAGIC);
        for (i, v) in [
            FORMAT_VERSION,
            self.channels,
            self.height,
            self.width,
            self.slices,
            0,
        ]
        .iter()
        .enumerate()
        {
            b[8 + 4 * i..12 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Parses and checks a header; `path` names the file in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        if bytes.len() < CACHE_HEADER_LEN || bytes[..8] != CACHE_MAGIC {
            return Err(DataError::format(
                path,
                "not a twinscan slice cache (bad magic)",
            ));
        }
        let u = |i: usize| {
            u32::from_le_bytes([
                bytes[8 + 4 * i],
                bytes[9 + 4 * i],
                bytes[10 + 4 * i],
                bytes[11 + 4 * i],
            ])
        };
        if u(0) != FORMAT_VERSION {
            return Err(DataError::Unsupported {
                path: path.to_path_buf(),
                what: format!("slice cache version {}", u(0)),
            });
        }
        let h = CacheHeader {
            channels: u(1),
            height: u(2),
            width: u(3),
            slices: u(4),
        };
        let want = CACHE_HEADER_LEN + h.slice_len() * h.slices as usize;
        if bytes.len() != want {
            return Err(DataError::format(
                path,
                format!("cache holds {} bytes, header says {want}", bytes.len()),
            ));
        }
        Ok(h)
    }

    /// Bytes per slice (`channels × height × width`).
    pub fn slice_len(&self) -> usize {
        self.channels as usize * self.height as usize * self.width as usize
    }
}

/// Counts of one structure's labels over all slices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    /// Slices labelled `1`.
    pub positive: usize,
    /// Slices labelled `-1`.
    pub negative: usize,
    /// Slices labelled `0` (not delineated in the scan).
    pub unknown: usize,
}

/// Patients and slices on one side of the split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCounts {
    /// Patients.
    pub patients: usize,
    /// Scans.
    pub scans: usize,
    /// Slices.
    pub slices: usize,
}

/// Dataset-wide counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Scans.
    pub scans: usize,
    /// Distinct patients.
    pub patients: usize,
    /// Slices (rows of `labels.csv`).
    pub slices: usize,
    /// Per split side (`train`, `val`, `test`).
    pub per_split: BTreeMap<String, SplitCounts>,
    /// Per structure, in column order.
    pub per_structure: Vec<(String, LabelCounts)>,
}

/// One scan of the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanEntry {
    /// Scan id (path below the input root).
    pub id: String,
    /// Patient id.
    pub patient: String,
    /// Split side of the patient.
    pub split: Split,
    /// Number of slices.
    pub slices: usize,
    /// Row of `labels.csv` (0-based, header excluded) holding its first slice.
    pub first_row: usize,
    /// Cache file, relative to the dataset folder.
    pub cache: String,
    /// Native CT grid size (columns, rows, slices) in canonical orientation.
    pub dims: [usize; 3],
    /// Native spacing (mm) along canonical axes (column, row, slice).
    pub spacing_mm: [f64; 3],
}

/// `dataset.json`: everything needed to read and to reproduce the folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Input folder as given.
    pub input: PathBuf,
    /// Layout read.
    pub layout: Layout,
    /// HU windows, one channel each.
    pub windows: Vec<Window>,
    /// Image side (pixels).
    pub size: usize,
    /// In-plane pixel size (mm) with `--spacing` (slices centre-cropped / padded with air);
    /// `null`: the whole field of view resized to `size` (the default).
    #[serde(default)]
    pub pixel_spacing_mm: Option<f64>,
    /// PNG bit depth (8 or 16), `None` when no PNGs were written.
    pub png_bit_depth: Option<u8>,
    /// Structure columns of `labels.csv`.
    pub structures: Vec<String>,
    /// Label rule used.
    pub label_rule: LabelRule,
    /// Split fractions.
    pub split: SplitFractions,
    /// Split seed.
    pub seed: u64,
    /// Software versions (`twinscan-data`, format).
    pub versions: BTreeMap<String, String>,
    /// Counts.
    pub counts: Counts,
    /// Scans, in `labels.csv` order.
    pub scans: Vec<ScanEntry>,
    /// Non-fatal notes from reading (skipped names, contours) and about the dataset (a
    /// small test split).
    pub warnings: Vec<String>,
    /// deepmind layout: the annotator whose delineations were read (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotator: Option<crate::layout::Annotator>,
    /// nbia layout: the `--rtstruct` choice (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtstruct: Option<crate::nbia::RtStructChoice>,
    /// nbia layout: the series (and files) not used, and why (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_series: Vec<crate::nbia::SkippedSeries>,
    /// The patient table read (`--patients`, or the input's `patients.csv`).
    #[serde(default)]
    pub patient_table: Option<PathBuf>,
    /// Patients formed by grouping scan folders whose names differ by a trailing letter:
    /// patient → folder names.
    #[serde(default)]
    pub patient_groups: BTreeMap<String, Vec<String>>,
    /// Patients in the test split (also in `counts.per_split`). 0 in datasets written
    /// before this field existed.
    #[serde(default)]
    pub test_patients: usize,
    /// Per channel (window), the mean of the training split's pixels on the 0..1 scale
    /// (cached byte / 255). `None` in older datasets or without training slices.
    #[serde(default)]
    pub train_mean: Option<Vec<f64>>,
    /// Per channel, the population standard deviation of the same pixels.
    #[serde(default)]
    pub train_std: Option<Vec<f64>>,
    /// Lowercase hex SHA-256 of `labels.csv`'s bytes followed by the canonical JSON of
    /// every other field of `dataset.json` (see [`fingerprint_of`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// The dataset fingerprint: lowercase hex SHA-256 over the bytes of `labels.csv` followed
/// by the canonical serialisation of `dataset.json` without its `fingerprint` field
/// (objects with keys sorted bytewise, recursively; compact, serde_json's number format).
/// `json_text` is `dataset.json`'s text (with or without a fingerprint); `path` names it
/// in errors. Any change to the labels, the split, the windows, the size, the counts or
/// the training statistics changes it.
pub fn fingerprint_of(labels_csv: &[u8], json_text: &str, path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut v: serde_json::Value = serde_json::from_str(json_text)
        .map_err(|e| DataError::format(path, format!("dataset.json: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("fingerprint");
    }
    let mut canon = Vec::new();
    write_canonical(&v, &mut canon);
    let mut h = sha2::Sha256::new();
    h.update(labels_csv);
    h.update(&canon);
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Recomputes the fingerprint of a dataset folder from its `labels.csv` and `dataset.json`.
pub fn compute_fingerprint(dir: &Path) -> Result<String> {
    let lp = dir.join("labels.csv");
    let jp = dir.join("dataset.json");
    let labels = std::fs::read(&lp).map_err(|e| DataError::io(&lp, e))?;
    let text = std::fs::read_to_string(&jp).map_err(|e| DataError::io(&jp, e))?;
    fingerprint_of(&labels, &text, &jp)
}

/// Compact JSON with object keys sorted bytewise at every level, whatever serde_json's
/// map order (its `preserve_order` feature may be on through another crate).
fn write_canonical(v: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(Value::String(k.clone()).to_string().as_bytes());
                out.push(b':');
                write_canonical(&m[k], out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        scalar => out.extend(scalar.to_string().as_bytes()),
    }
}

struct Row {
    scan: u32,
    slice: u32,
    split: Split,
    z_mm: f32,
}

/// A prepared dataset opened for reading: labels in memory, pixels memory-mapped.
pub struct Prepared {
    root: PathBuf,
    info: DatasetInfo,
    rows: Vec<Row>,
    labels: Vec<i8>,
    caches: Vec<Mmap>,
    slice_len: usize,
    fingerprint: String,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("root", &self.root)
            .field("slices", &self.rows.len())
            .field("structures", &self.info.structures)
            .finish()
    }
}

impl Prepared {
    /// Opens a dataset folder: parses `dataset.json` and `labels.csv`, maps every cache and
    /// checks that sizes agree. Errors name the file.
    pub fn open(dir: &Path) -> Result<Self> {
        let json_path = dir.join("dataset.json");
        let text = std::fs::read_to_string(&json_path).map_err(|e| DataError::io(&json_path, e))?;
        let info: DatasetInfo = serde_json::from_str(&text)
            .map_err(|e| DataError::format(&json_path, format!("dataset.json: {e}")))?;
        if info.format != FORMAT_NAME || info.format_version != FORMAT_VERSION {
            return Err(DataError::Unsupported {
                path: json_path,
                what: format!("format {} version {}", info.format, info.format_version),
            });
        }
        let channels = info.windows.len();
        let slice_len = channels * info.size * info.size;
        let mut caches = Vec::with_capacity(info.scans.len());
        for s in &info.scans {
            let p = dir.join(&s.cache);
            let f = std::fs::File::open(&p).map_err(|e| DataError::io(&p, e))?;
            // SAFETY: the cache is a read-only file of this dataset; nothing in twinscan
            // writes to it after `prepare` renamed the folder into place.
            let m = unsafe { Mmap::map(&f) }.map_err(|e| DataError::io(&p, e))?;
            let h = CacheHeader::parse(&m, &p)?;
            if h.slice_len() != slice_len || h.slices as usize != s.slices {
                return Err(DataError::format(
                    &p,
                    format!(
                        "cache has {} slices of {} bytes, dataset.json says {} of {slice_len}",
                        h.slices,
                        h.slice_len(),
                        s.slices
                    ),
                ));
            }
            caches.push(m);
        }
        let (rows, labels) = read_labels_csv(&dir.join("labels.csv"), &info)?;
        // Older datasets carry no fingerprint: computed here, the same way `prepare` does.
        let fingerprint = match &info.fingerprint {
            Some(f) => f.clone(),
            None => {
                let lp = dir.join("labels.csv");
                let bytes = std::fs::read(&lp).map_err(|e| DataError::io(&lp, e))?;
                fingerprint_of(&bytes, &text, &json_path)?
            }
        };
        Ok(Prepared {
            root: dir.to_path_buf(),
            info,
            rows,
            labels,
            caches,
            slice_len,
            fingerprint,
        })
    }

    /// The dataset fingerprint ([`fingerprint_of`]): as recorded in `dataset.json`, or
    /// computed on open for datasets written before it was recorded. Equal fingerprints
    /// mean equal labels, split, slices settings and statistics.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Mean and standard deviation of the training split's pixels on the 0..1 scale
    /// (byte / 255) for channel 0 — the channel the trainers read. `None` for datasets
    /// prepared before these were recorded. All channels: [`Prepared::train_stats_per_channel`].
    pub fn train_stats(&self) -> Option<(f32, f32)> {
        self.train_stats_per_channel()
            .and_then(|v| v.first().copied())
    }

    /// Per channel (window, in `dataset.json` order) mean and standard deviation of the
    /// training split's pixels on the 0..1 scale.
    pub fn train_stats_per_channel(&self) -> Option<Vec<(f32, f32)>> {
        let (m, s) = (
            self.info.train_mean.as_ref()?,
            self.info.train_std.as_ref()?,
        );
        (m.len() == s.len() && !m.is_empty()).then(|| {
            m.iter()
                .zip(s)
                .map(|(&a, &b)| (a as f32, b as f32))
                .collect()
        })
    }

    /// Number of distinct patients in the test split.
    pub fn test_patients(&self) -> usize {
        let mut p: Vec<&str> = self
            .info
            .scans
            .iter()
            .filter(|s| s.split == Split::Test)
            .map(|s| s.patient.as_str())
            .collect();
        p.sort_unstable();
        p.dedup();
        p.len()
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `dataset.json`.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    /// Number of slices.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the dataset holds no slice.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Structure names, in label order.
    pub fn structures(&self) -> &[String] {
        &self.info.structures
    }

    /// Channels per image (one per HU window).
    pub fn channels(&self) -> usize {
        self.info.windows.len()
    }

    /// Image side in pixels (images are `size × size`).
    pub fn size(&self) -> usize {
        self.info.size
    }

    /// Pixels of slice `i`: `channels × size × size` bytes, row 0 anterior, column 0 the
    /// patient's right. Panics when `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let r = &self.rows[i];
        let start = CACHE_HEADER_LEN + r.slice as usize * self.slice_len;
        &self.caches[r.scan as usize][start..start + self.slice_len]
    }

    /// Labels of slice `i`, one `-1`/`0`/`1` per structure.
    pub fn labels(&self, i: usize) -> &[i8] {
        let s = self.info.structures.len();
        &self.labels[i * s..(i + 1) * s]
    }

    /// Split side of slice `i` (its patient's).
    pub fn split(&self, i: usize) -> Split {
        self.rows[i].split
    }

    /// Scan id of slice `i`.
    pub fn scan(&self, i: usize) -> &str {
        &self.info.scans[self.rows[i].scan as usize].id
    }

    /// Index (into [`DatasetInfo::scans`]) of the scan of slice `i`.
    pub fn scan_index(&self, i: usize) -> usize {
        self.rows[i].scan as usize
    }

    /// Patient id of slice `i`.
    pub fn patient(&self, i: usize) -> &str {
        &self.info.scans[self.rows[i].scan as usize].patient
    }

    /// Slice number within its scan (0 = most inferior).
    pub fn slice_index(&self, i: usize) -> usize {
        self.rows[i].slice as usize
    }

    /// Patient z (mm, LPS superior) of slice `i`.
    pub fn z_mm(&self, i: usize) -> f32 {
        self.rows[i].z_mm
    }

    /// Indices of the slices on one split side, in dataset order.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&i| self.rows[i].split == split)
            .collect()
    }

    /// Patients whose slices lie in more than one split (empty for every dataset `prepare`
    /// writes: the split is by patient). A check for datasets assembled by other means.
    pub fn patients_in_several_splits(&self) -> Vec<String> {
        let mut first: std::collections::HashMap<&str, Split> = std::collections::HashMap::new();
        let mut leaks = std::collections::BTreeSet::new();
        for i in 0..self.rows.len() {
            let p = self.patient(i);
            let s = self.rows[i].split;
            if *first.entry(p).or_insert(s) != s {
                leaks.insert(p.to_string());
            }
        }
        leaks.into_iter().collect()
    }

    /// Iterates `(index, image, labels)` over one split side.
    pub fn iter_split(&self, split: Split) -> impl Iterator<Item = (usize, &[u8], &[i8])> + '_ {
        (0..self.rows.len())
            .filter(move |&i| self.rows[i].split == split)
            .map(move |i| (i, self.image(i), self.labels(i)))
    }
}

fn read_labels_csv(path: &Path, info: &DatasetInfo) -> Result<(Vec<Row>, Vec<i8>)> {
    let csv_err = |line: u64, detail: String| DataError::Csv {
        path: path.to_path_buf(),
        line,
        detail,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| csv_err(0, e.to_string()))?;
    let headers = rdr
        .headers()
        .map_err(|e| csv_err(1, e.to_string()))?
        .clone();
    let fixed = ["scan", "patient", "slice", "z_mm", "image", "split"];
    let want: Vec<&str> = fixed
        .iter()
        .copied()
        .chain(info.structures.iter().map(String::as_str))
        .collect();
    if headers.iter().collect::<Vec<_>>() != want {
        return Err(csv_err(
            1,
            format!("header {:?}, expected {:?}", headers, want),
        ));
    }
    let scan_index: std::collections::HashMap<&str, usize> = info
        .scans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let s = info.structures.len();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let line = n as u64 + 2;
        let rec = rec.map_err(|e| csv_err(line, e.to_string()))?;
        let scan = *scan_index
            .get(&rec[0])
            .ok_or_else(|| csv_err(line, format!("scan {:?} not in dataset.json", &rec[0])))?;
        let slice: u32 = rec[2]
            .parse()
            .map_err(|_| csv_err(line, format!("slice {:?} is not a number", &rec[2])))?;
        if slice as usize >= info.scans[scan].slices {
            return Err(csv_err(
                line,
                format!(
                    "slice {slice} beyond the scan's {} slices",
                    info.scans[scan].slices
                ),
            ));
        }
        let z_mm: f32 = rec[3]
            .parse()
            .map_err(|_| csv_err(line, format!("z_mm {:?} is not a number", &rec[3])))?;
        let split: Split = rec[5]
            .parse()
            .map_err(|_| csv_err(line, format!("split {:?} is not train/val/test", &rec[5])))?;
        for f in rec.iter().skip(6).take(s) {
            let v: i8 = f
                .parse()
                .ok()
                .filter(|v: &i8| (-1..=1).contains(v))
                .ok_or_else(|| csv_err(line, format!("label {f:?} is not -1, 0 or 1")))?;
            labels.push(v);
        }
        rows.push(Row {
            scan: scan as u32,
            slice,
            split,
            z_mm,
        });
    }
    Ok((rows, labels))
}

/// The order in which an epoch visits `indices`: a shuffle by a ChaCha8 stream keyed by
/// `(seed, epoch)` only, so it is the same whatever the thread count, and a resumed run
/// replays the epochs of an uninterrupted one. Used by pretraining and classification.
///
/// ```
/// use twinscan_data::prepared::epoch_order;
/// let a = epoch_order(&[0, 1, 2, 3, 4, 5], 7, 0);
/// assert_eq!(a, epoch_order(&[0, 1, 2, 3, 4, 5], 7, 0));
/// assert_ne!(a, epoch_order(&[0, 1, 2, 3, 4, 5], 7, 1));
/// let mut sorted = a.clone();
/// sorted.sort();
/// assert_eq!(sorted, vec![0, 1, 2, 3, 4, 5]);
/// ```
pub fn epoch_order(indices: &[usize], seed: u64, epoch: u64) -> Vec<usize> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..24].copy_from_slice(b"epochord"); // a domain tag: no other stream uses this key
    let mut rng = rand_chacha::ChaCha8Rng::from_seed(key);
    let mut order = indices.to_vec();
    order.shuffle(&mut rng);
    order
}
