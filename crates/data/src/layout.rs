//! Dataset layouts: finding the scans under an input folder and loading one scan into a
//! canonical CT volume plus per-slice mask voxel counts for each structure.
//!
//! | layout | a scan folder holds |
//! |---|---|
//! | `deepmind` | `CT_IMAGE.{nrrd,nii,nii.gz}` and `segmentations/<Structure>.{nrrd,nii,nii.gz}` |
//! | `dicom` | one CT series (any file names) and one RTSTRUCT file |
//! | `nbia` | (no scan folders) a DICOM tree of any depth, one folder per series |
//! | `labelmap` | a CT volume and a label-map volume (file stem containing `label` or `seg`), with a label table CSV `value,name` in the scan folder (else `label_table.csv` in the input root) |
//!
//! Scan folders are looked for at most three levels below the input root (DeepMind's
//! `nrrds/test/oncologist/<scan>` is found from `nrrds/`; the input root itself is never a
//! scan). A scan's id is its path relative to the root with `/` separators.
//!
//! Auto-detection classifies every candidate folder (a `segmentations/` folder or a
//! `CT_IMAGE.*` file → deepmind; a label-map volume beside another volume → labelmap; DICOM
//! files → dicom). All scans must share one layout.
//!
//! `nbia` has no scan folders: the whole tree under the root is indexed by header and scans
//! are CT series + the RTSTRUCT referencing them ([`crate::nbia`]). A DICOM tree is detected
//! as `nbia` when every candidate folder is a DICOM folder and one of them holds RTSTRUCT
//! files only, or when no candidate lies within three levels but DICOM files lie deeper
//! ([`discover_full`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::labels::canonical_slice_counts;
use crate::structures::StructureTable;
use crate::volume::{Geometry, Volume};

/// Voxel positions of a mask and its CT may differ by at most this much (mm).
pub const GRID_TOLERANCE_MM: f64 = 1e-3;

/// How scans are stored under the input folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `<scan>/CT_IMAGE.*` + `<scan>/segmentations/<Structure>.*`.
    #[serde(rename = "deepmind")]
    DeepMind,
    /// `<scan>/` with a DICOM CT series and one RTSTRUCT.
    Dicom,
    /// `<scan>/` with a CT volume, a label-map volume and a label table.
    #[serde(rename = "labelmap")]
    LabelMap,
    /// `<case>/ct.nii.gz` + `<case>/segmentations/<structure>.nii.gz` (TotalSegmentator's
    /// training data and many nnU-Net-era exports); read like `deepmind`.
    #[serde(rename = "totalsegmentator")]
    TotalSegmentator,
    /// A DICOM tree of any depth, one file per instance, folder names meaningless (TCIA/NBIA
    /// downloads, PACS exports): scans are CT series + the RTSTRUCT referencing them, found
    /// from the headers ([`crate::nbia`]).
    Nbia,
}

/// Where the CT and the masks are in a "CT + folder of masks" scan folder (`deepmind`,
/// `totalsegmentator`): `--ct-name GLOB` and `--masks-dir NAME`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskFolderOptions {
    /// Glob (`*`, `?`, case-insensitive) for the CT file name; default `CT_IMAGE.*`
    /// (deepmind) or `ct.*` (totalsegmentator), volume files only.
    pub ct_name: Option<String>,
    /// Name of the masks folder; default `segmentations`.
    pub masks_dir: Option<String>,
}

impl MaskFolderOptions {
    /// The CT glob for a layout.
    pub fn ct_glob(&self, layout: Layout) -> &str {
        match (&self.ct_name, layout) {
            (Some(g), _) => g,
            (None, Layout::TotalSegmentator) => "ct.*",
            _ => "CT_IMAGE.*",
        }
    }

    /// The masks folder name.
    pub fn masks(&self) -> &str {
        self.masks_dir.as_deref().unwrap_or("segmentations")
    }
}

/// Case-insensitive glob match with `*` (any run) and `?` (one character). Hand-written:
/// one wildcard matcher does not justify a dependency.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Layout {
    /// `deepmind`, `totalsegmentator`, `dicom`, `nbia` or `labelmap`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Layout::DeepMind => "deepmind",
            Layout::Dicom => "dicom",
            Layout::LabelMap => "labelmap",
            Layout::TotalSegmentator => "totalsegmentator",
            Layout::Nbia => "nbia",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Layout {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "deepmind" => Ok(Layout::DeepMind),
            "dicom" => Ok(Layout::Dicom),
            "labelmap" | "label-map" => Ok(Layout::LabelMap),
            "totalsegmentator" | "total-segmentator" => Ok(Layout::TotalSegmentator),
            "nbia" => Ok(Layout::Nbia),
            _ => Err(DataError::InvalidConfig {
                field: "layout",
                detail: format!(
                    "{s:?}: expected deepmind, totalsegmentator, dicom, nbia or labelmap"
                ),
            }),
        }
    }
}

/// One scan found under the input root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSource {
    /// Path relative to the input root, `/`-separated (unique per input); for `nbia`, the
    /// id built from the headers ([`crate::nbia::NbiaScan::id`]).
    pub id: String,
    /// The scan folder (`nbia`: the CT series' folder).
    pub dir: PathBuf,
    /// The folder's own name (the default patient id; `nbia`: the PatientID, else the id).
    pub folder_name: String,
    /// The layout it was classified as.
    pub layout: Layout,
    /// `nbia`: the CT series and the RTSTRUCT chosen for it.
    pub nbia: Option<std::sync::Arc<crate::nbia::NbiaScan>>,
}

/// True for `.nrrd`, `.nii`, `.nii.gz` (case-insensitive).
pub fn is_volume_file(path: &Path) -> bool {
    let n = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    n.ends_with(".nrrd") || n.ends_with(".nii") || n.ends_with(".nii.gz")
}

/// File name without `.nrrd` / `.nii` / `.nii.gz`.
pub fn volume_stem(path: &Path) -> String {
    let n = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = n.to_ascii_lowercase();
    for ext in [".nii.gz", ".nrrd", ".nii"] {
        if lower.ends_with(ext) {
            return n[..n.len() - ext.len()].to_string();
        }
    }
    n
}

/// True when the file looks like DICOM: `.dcm` extension or `DICM` at byte 128.
pub fn is_dicom_file(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dcm"))
    {
        return true;
    }
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut buf = [0u8; 132];
    f.read_exact(&mut buf).is_ok() && &buf[128..132] == b"DICM"
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let e = e.map_err(|e| DataError::io(dir, e))?;
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        out.push(e.path());
    }
    out.sort();
    Ok(out)
}

fn is_labelmap_stem(stem: &str) -> bool {
    let s = stem.to_ascii_lowercase();
    s.contains("label") || s.contains("seg")
}

/// Classifies one folder as a scan of some layout (or none).
pub fn classify_dir(dir: &Path) -> Result<Option<Layout>> {
    classify_dir_with(dir, &MaskFolderOptions::default())
}

/// [`classify_dir`] with the masks folder / CT name of `opts`. A folder with the masks
/// folder or a CT matching the CT glob is a "CT + folder of masks" scan:
/// `totalsegmentator` when its CT is `ct.*` (and no `--ct-name` was given), else `deepmind`.
pub fn classify_dir_with(dir: &Path, opts: &MaskFolderOptions) -> Result<Option<Layout>> {
    let entries = list_dir(dir)?;
    let files: Vec<&PathBuf> = entries.iter().filter(|p| p.is_file()).collect();
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let has_masks = entries
        .iter()
        .any(|p| p.is_dir() && name_of(p) == opts.masks());
    let matches = |glob: &str| {
        files
            .iter()
            .any(|p| is_volume_file(p) && glob_match(glob, &name_of(p)))
    };
    if opts.ct_name.is_none() && has_masks && matches("ct.*") {
        return Ok(Some(Layout::TotalSegmentator));
    }
    if has_masks || matches(opts.ct_glob(Layout::DeepMind)) {
        return Ok(Some(Layout::DeepMind));
    }
    let volumes: Vec<&&PathBuf> = files.iter().filter(|p| is_volume_file(p)).collect();
    if volumes.len() >= 2 && volumes.iter().any(|p| is_labelmap_stem(&volume_stem(p))) {
        return Ok(Some(Layout::LabelMap));
    }
    if files.iter().any(|p| is_dicom_file(p)) {
        return Ok(Some(Layout::Dicom));
    }
    Ok(None)
}

/// Finds the scans under `root`. With `layout = None` the layout is detected; with a given
/// layout only folders of that layout count. Errors: the root missing or empty, no scan
/// folder found (unknown layout), or scans of several layouts mixed.
pub fn discover(root: &Path, layout: Option<Layout>) -> Result<(Layout, Vec<ScanSource>)> {
    discover_with(root, layout, &MaskFolderOptions::default())
}

/// [`discover`] with the CT name / masks folder of `opts` (`nbia`: the default
/// `--rtstruct newest`; its skipped series and warnings are dropped, see [`discover_full`]).
pub fn discover_with(
    root: &Path,
    layout: Option<Layout>,
    opts: &MaskFolderOptions,
) -> Result<(Layout, Vec<ScanSource>)> {
    let d = discover_full(root, layout, opts, &crate::nbia::RtStructChoice::default())?;
    Ok((d.layout, d.scans))
}

/// What [`discover_full`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// The layout (given or detected).
    pub layout: Layout,
    /// The scans.
    pub scans: Vec<ScanSource>,
    /// `nbia`: the series (and files) not used, and why.
    pub skipped_series: Vec<crate::nbia::SkippedSeries>,
    /// `nbia`: notes from indexing (several RTSTRUCTs for one CT, ...).
    pub warnings: Vec<String>,
}

/// True when `dir` holds DICOM files (`.dcm` or `DICM` at byte 128) and every one of them
/// is a readable RTSTRUCT (header only): a structure set in its own series folder, the
/// shape of NBIA downloads and PACS exports, never of a `dicom` scan folder.
fn holds_only_rtstructs(dir: &Path) -> Result<bool> {
    let files: Vec<PathBuf> = list_dir(dir)?
        .into_iter()
        .filter(|p| p.is_file() && is_dicom_file(p))
        .collect();
    if files.is_empty() {
        return Ok(false);
    }
    Ok(files.iter().all(|p| {
        crate::dicom::index::read_header(p).is_ok_and(|h| h.modality.as_deref() == Some("RTSTRUCT"))
    }))
}

/// True when a DICOM file (`.dcm` or `DICM` at byte 128) lies anywhere under `root`.
fn dicom_below(root: &Path) -> Result<bool> {
    Ok(crate::dicom::index::list_files(root)?
        .iter()
        .any(|p| is_dicom_file(p)))
}

/// Finds the scans under `root` like [`discover_with`], and for the `nbia` layout also the
/// series it skipped; `rtstruct` picks among several RTSTRUCTs of one CT series.
///
/// Auto-detection reads a DICOM tree as `nbia` when every scan folder found is a DICOM
/// folder and at least one of them holds RTSTRUCT files only (an RTSTRUCT in its own series
/// folder), or when no scan folder lies within three levels but DICOM files lie deeper;
/// otherwise DICOM folders are `dicom` scans (one folder per scan).
pub fn discover_full(
    root: &Path,
    layout: Option<Layout>,
    opts: &MaskFolderOptions,
    rtstruct: &crate::nbia::RtStructChoice,
) -> Result<Discovery> {
    let found = match layout {
        Some(Layout::Nbia) => {
            check_root(root)?;
            return discover_nbia(root, rtstruct);
        }
        Some(_) => scan_folders(root, layout, opts)?,
        None => {
            let found = scan_folders(root, None, opts)?;
            let is_nbia = if found.is_empty() {
                dicom_below(root)?
            } else {
                let mut any = false;
                if found.iter().all(|(_, l)| *l == Layout::Dicom) {
                    for (d, _) in &found {
                        if holds_only_rtstructs(d)? {
                            any = true;
                            break;
                        }
                    }
                }
                any
            };
            if is_nbia {
                return discover_nbia(root, rtstruct);
            }
            found
        }
    };
    let (layout, scans) = choose_layout(root, layout, found)?;
    Ok(Discovery {
        layout,
        scans,
        skipped_series: Vec::new(),
        warnings: Vec::new(),
    })
}

fn discover_nbia(root: &Path, rtstruct: &crate::nbia::RtStructChoice) -> Result<Discovery> {
    let index = crate::nbia::index_nbia(root, rtstruct)?;
    if index.scans.is_empty() {
        let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
        for s in &index.skipped {
            *kinds.entry(s.kind.as_str()).or_default() += 1;
        }
        return Err(DataError::Layout {
            path: root.to_path_buf(),
            detail: format!(
                "nbia layout: no scan (a CT series with an RTSTRUCT referencing it) among {}                  files; skipped: {}",
                index.files,
                kinds
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let scans = index
        .scans
        .into_iter()
        .map(|s| {
            let dir =
                s.ct.files
                    .first()
                    .and_then(|f| f.parent())
                    .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
            ScanSource {
                id: s.id.clone(),
                dir,
                folder_name: s.patient_id.clone().unwrap_or_else(|| s.id.clone()),
                layout: Layout::Nbia,
                nbia: Some(std::sync::Arc::new(s)),
            }
        })
        .collect();
    Ok(Discovery {
        layout: Layout::Nbia,
        scans,
        skipped_series: index.skipped,
        warnings: index.warnings,
    })
}

fn check_root(root: &Path) -> Result<Vec<PathBuf>> {
    if !root.is_dir() {
        return Err(DataError::Layout {
            path: root.to_path_buf(),
            detail: "input folder does not exist or is not a folder".into(),
        });
    }
    let top = list_dir(root)?;
    if top.is_empty() {
        return Err(DataError::Layout {
            path: root.to_path_buf(),
            detail: "input folder is empty: no scans".into(),
        });
    }
    Ok(top)
}

/// Scan folders up to three levels below `root`, classified.
fn scan_folders(
    root: &Path,
    layout: Option<Layout>,
    opts: &MaskFolderOptions,
) -> Result<Vec<(PathBuf, Layout)>> {
    let top = check_root(root)?;
    let mut found: Vec<(PathBuf, Layout)> = Vec::new();
    let mut frontier: Vec<PathBuf> = top.into_iter().filter(|p| p.is_dir()).collect();
    for depth in 0..3 {
        let mut next = Vec::new();
        for d in frontier {
            match classify_dir_with(&d, opts)? {
                // `--layout deepmind` / `totalsegmentator` read both kinds of CT + masks
                // folder (they differ only in the default CT name).
                Some(l) => found.push((
                    d,
                    match (l, layout) {
                        (
                            Layout::DeepMind | Layout::TotalSegmentator,
                            Some(w @ (Layout::DeepMind | Layout::TotalSegmentator)),
                        ) => w,
                        _ => l,
                    },
                )),
                // With `--layout dicom`, files without `.dcm` and without the Part-10
                // preamble count too (the DICOM reader decides what they are).
                None if layout == Some(Layout::Dicom)
                    && list_dir(&d)?.iter().any(|p| p.is_file()) =>
                {
                    found.push((d, Layout::Dicom))
                }
                None if depth < 2 => next.extend(list_dir(&d)?.into_iter().filter(|p| p.is_dir())),
                None => {}
            }
        }
        frontier = next;
    }
    Ok(found)
}

fn choose_layout(
    root: &Path,
    layout: Option<Layout>,
    found: Vec<(PathBuf, Layout)>,
) -> Result<(Layout, Vec<ScanSource>)> {
    let chosen = match layout {
        Some(l) => l,
        None => {
            let kinds: std::collections::BTreeSet<&str> =
                found.iter().map(|(_, l)| l.as_str()).collect();
            match kinds.len() {
                0 => {
                    return Err(DataError::Layout {
                        path: root.to_path_buf(),
                        detail: "unknown layout: no scan folder found up to three levels down \
                                 (expected deepmind `<scan>/CT_IMAGE.nrrd` + `segmentations/`, \
                                 totalsegmentator `<case>/ct.nii.gz` + `segmentations/`, \
                                 dicom `<scan>/*.dcm` with an RTSTRUCT, nbia (a DICOM tree \
                                 of series folders), or labelmap \
                                 `<scan>/<ct>.nrrd` + `<scan>/labels.nrrd`)"
                            .into(),
                    });
                }
                1 => found[0].1,
                _ => {
                    return Err(DataError::Layout {
                        path: root.to_path_buf(),
                        detail: format!(
                            "scan folders of several layouts mixed ({}); set `layout`",
                            kinds.into_iter().collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
            }
        }
    };
    let scans: Vec<ScanSource> = found
        .into_iter()
        .filter(|(_, l)| *l == chosen)
        .map(|(dir, l)| {
            let rel = dir.strip_prefix(root).unwrap_or(&dir);
            let id = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let folder_name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| id.clone());
            ScanSource {
                id,
                dir,
                folder_name,
                layout: l,
                nbia: None,
            }
        })
        .collect();
    if scans.is_empty() {
        return Err(DataError::Layout {
            path: root.to_path_buf(),
            detail: format!("no {chosen} scan folders found up to three levels down"),
        });
    }
    Ok((chosen, scans))
}

/// Per-slice voxel counts of one delineated structure in one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct StructureCounts {
    /// Canonical name (or the name as written with `--structures all`).
    pub name: String,
    /// Where it came from: the mask file, `ROI <name>` or `label <value>`.
    pub source: String,
    /// Non-zero mask voxels on each canonical slice (inferior → superior), at native
    /// resolution; all zeros = delineated but empty.
    pub counts: Vec<u64>,
}

/// One scan loaded: canonical CT and the structures delineated in it.
#[derive(Debug, Clone)]
pub struct LoadedScan {
    /// The scan id ([`ScanSource::id`]).
    pub id: String,
    /// Patient id from the files (DICOM PatientID), when they carry one.
    pub patient_id: Option<String>,
    /// CT in HU, canonical orientation (see [`Volume::to_canonical`]).
    pub ct: Volume<f32>,
    /// Structures delineated in the scan (canonical names, unique).
    pub structures: Vec<StructureCounts>,
    /// Non-fatal notes (skipped names, skipped contours).
    pub warnings: Vec<String>,
}

/// Checks a mask grid against the CT grid.
pub fn check_grid(mask_path: &Path, mask: &Geometry, ct: &Geometry) -> Result<()> {
    if mask.same_grid(ct, GRID_TOLERANCE_MM) {
        return Ok(());
    }
    Err(DataError::GridMismatch {
        path: mask_path.to_path_buf(),
        detail: format!(
            "mask dims {:?}, origin {:?}, directions {:?}; CT dims {:?}, origin {:?}, directions {:?}",
            mask.dims, mask.origin, mask.directions, ct.dims, ct.origin, ct.directions
        ),
    })
}

/// [`Volume::to_canonical`] without the copy when the grid is already canonical (every
/// voxel axis on its own LPS axis, positive direction).
pub fn into_canonical<T: Copy>(v: Volume<T>) -> Volume<T> {
    if v.geometry.axis_codes() == [(0, 1.0), (1, 1.0), (2, 1.0)] {
        v
    } else {
        v.to_canonical()
    }
}

/// Reads a CT volume file (NRRD or NIfTI) as HU, rejecting NaN/infinite voxels.
pub fn read_ct_file(path: &Path) -> Result<Volume<f32>> {
    crate::volume_io::read_volume(path)?.into_f32_finite()
}

fn insert_structure(
    out: &mut Vec<StructureCounts>,
    s: StructureCounts,
    scan_dir: &Path,
) -> Result<()> {
    if let Some(prev) = out.iter().find(|p| p.name == s.name) {
        return Err(DataError::Layout {
            path: scan_dir.to_path_buf(),
            detail: format!(
                "two delineations map to structure {}: {} and {}",
                s.name, prev.source, s.source
            ),
        });
    }
    out.push(s);
    Ok(())
}

/// Loads one scan of any layout.
pub fn load_scan(src: &ScanSource, table: &StructureTable, root: &Path) -> Result<LoadedScan> {
    load_scan_with(src, table, root, &MaskFolderOptions::default())
}

/// [`load_scan`] with the CT name / masks folder of `opts`.
pub fn load_scan_with(
    src: &ScanSource,
    table: &StructureTable,
    root: &Path,
    opts: &MaskFolderOptions,
) -> Result<LoadedScan> {
    match src.layout {
        Layout::DeepMind | Layout::TotalSegmentator => load_ct_and_masks(src, table, opts),
        Layout::Dicom => load_dicom(src, table),
        Layout::Nbia => load_nbia(src, table),
        Layout::LabelMap => load_labelmap(src, table, root),
    }
}

fn load_ct_and_masks(
    src: &ScanSource,
    table: &StructureTable,
    opts: &MaskFolderOptions,
) -> Result<LoadedScan> {
    let entries = list_dir(&src.dir)?;
    let glob = opts.ct_glob(src.layout);
    let cts: Vec<&PathBuf> = entries
        .iter()
        .filter(|p| {
            p.is_file()
                && is_volume_file(p)
                && p.file_name()
                    .is_some_and(|n| glob_match(glob, &n.to_string_lossy()))
        })
        .collect();
    let ct_path = match cts.as_slice() {
        [one] => *one,
        [] => {
            return Err(DataError::Layout {
                path: src.dir.clone(),
                detail: format!(
                    "no CT volume (.nrrd, .nii, .nii.gz) matching {glob:?} in this scan folder \
                     (`mask_folder.ct_name` changes it)"
                ),
            });
        }
        many => {
            return Err(DataError::Layout {
                path: src.dir.clone(),
                detail: format!("{} CT volumes match {glob:?}: {many:?}", many.len()),
            });
        }
    };
    let ct_raw = read_ct_file(ct_path)?;
    let seg_dir = src.dir.join(opts.masks());
    let mask_files: Vec<PathBuf> = if seg_dir.is_dir() {
        list_dir(&seg_dir)?
            .into_iter()
            .filter(|p| p.is_file() && is_volume_file(p))
            .collect()
    } else {
        Vec::new()
    };
    let mut warnings = Vec::new();
    let mut wanted = Vec::new();
    for p in mask_files {
        match table.canonical(&volume_stem(&p)) {
            Some(name) => wanted.push((name, p)),
            None => warnings.push(format!(
                "{}: not a study structure name, skipped (add it with --aliases or use --structures all)",
                p.display()
            )),
        }
    }
    let ct_geom = ct_raw.geometry.clone();
    let results: Vec<Result<StructureCounts>> = wanted
        .par_iter()
        .map(|(name, p)| {
            let raw = crate::volume_io::read_volume(p)?;
            check_grid(p, &raw.geometry, &ct_geom)?;
            // u8 masks are counted as stored (non-zero = inside), skipping into_mask's pass.
            let mask = match raw.voxels {
                crate::volume::Voxels::U8(data) => Volume {
                    geometry: raw.geometry,
                    data,
                },
                voxels => crate::volume::RawVolume { voxels, ..raw }.into_mask(),
            };
            Ok(StructureCounts {
                name: name.clone(),
                source: p.display().to_string(),
                counts: canonical_slice_counts(&mask),
            })
        })
        .collect();
    let mut structures = Vec::new();
    for r in results {
        insert_structure(&mut structures, r?, &src.dir)?;
    }
    Ok(LoadedScan {
        id: src.id.clone(),
        patient_id: None,
        ct: into_canonical(ct_raw),
        structures,
        warnings,
    })
}

fn load_labelmap(src: &ScanSource, table: &StructureTable, root: &Path) -> Result<LoadedScan> {
    let entries = list_dir(&src.dir)?;
    let volumes: Vec<&PathBuf> = entries
        .iter()
        .filter(|p| p.is_file() && is_volume_file(p))
        .collect();
    let label_paths: Vec<&&PathBuf> = volumes
        .iter()
        .filter(|p| is_labelmap_stem(&volume_stem(p)))
        .collect();
    let ct_paths: Vec<&&PathBuf> = volumes
        .iter()
        .filter(|p| !is_labelmap_stem(&volume_stem(p)))
        .collect();
    if label_paths.len() != 1 || ct_paths.len() != 1 {
        return Err(DataError::Layout {
            path: src.dir.clone(),
            detail: format!(
                "a labelmap scan folder needs exactly one CT volume and one label-map volume \
                 (stem containing `label` or `seg`); found CT candidates {:?}, label maps {:?}",
                ct_paths, label_paths
            ),
        });
    }
    let (label_path, ct_path) = (label_paths[0], ct_paths[0]);
    let table_path = entries
        .iter()
        .find(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .cloned()
        .or_else(|| {
            let r = root.join("label_table.csv");
            r.is_file().then_some(r)
        })
        .ok_or_else(|| DataError::Layout {
            path: src.dir.clone(),
            detail: "no label table: expected a `value,name` CSV in the scan folder or \
                     label_table.csv in the input folder"
                .into(),
        })?;
    let ct_raw = read_ct_file(ct_path)?;
    let label_table = crate::labelmap::read_label_table(&table_path)?;
    let labels = crate::volume_io::read_volume(label_path)?;
    check_grid(label_path, &labels.geometry, &ct_raw.geometry)?;
    let labels = labels.into_labels()?;
    // Masks only for labels that are requested and present (issue 10 §3: a 117-entry
    // table on a 512×512×300 map would otherwise take table rows × map voxels of memory).
    // Requested but absent labels are "delineated and empty": zero counts, no mask.
    let present: std::collections::HashSet<i32> = labels.data.iter().copied().collect();
    let mut warnings = Vec::new();
    let mut wanted = Vec::new();
    let mut structures = Vec::new();
    let codes = labels.geometry.axis_codes();
    let axial = (0..3).find(|&a| codes[a].0 == 2).unwrap_or(2);
    for (value, name) in &label_table {
        match table.canonical(name) {
            None => warnings.push(format!(
                "{}: label {name:?} is not a study structure name, skipped",
                table_path.display()
            )),
            Some(_) if present.contains(value) => wanted.push((*value, name.clone())),
            Some(c) => insert_structure(
                &mut structures,
                StructureCounts {
                    name: c,
                    source: format!("{} label {name}", label_path.display()),
                    counts: vec![0; labels.geometry.dims[axial]],
                },
                &src.dir,
            )?,
        }
    }
    let masks = crate::labelmap::split_label_map(&labels, &wanted);
    for s in named_structures(
        masks,
        table,
        (label_path, "label"),
        &table_path,
        &src.dir,
        &mut warnings,
    )? {
        insert_structure(&mut structures, s, &src.dir)?;
    }
    Ok(LoadedScan {
        id: src.id.clone(),
        patient_id: None,
        ct: into_canonical(ct_raw),
        structures,
        warnings,
    })
}

/// Maps the masks of one file holding several structures (a label map, an RTSTRUCT) to
/// canonical names and per-slice counts. `source` is that file and what it calls a
/// structure ("label", "ROI"); names that are no study structure are skipped with a warning
/// naming `names_from` (the file where the name was read).
fn named_structures(
    masks: Vec<(String, crate::Mask)>,
    table: &StructureTable,
    source: (&Path, &str),
    names_from: &Path,
    scan_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<Vec<StructureCounts>> {
    let (path, kind) = source;
    let mut structures = Vec::new();
    for (name, mask) in masks {
        match table.canonical(&name) {
            Some(c) => insert_structure(
                &mut structures,
                StructureCounts {
                    name: c,
                    source: format!("{} {kind} {name}", path.display()),
                    counts: canonical_slice_counts(&mask),
                },
                scan_dir,
            )?,
            None => warnings.push(format!(
                "{}: {kind} {name:?} is not a study structure name, skipped",
                names_from.display()
            )),
        }
    }
    Ok(structures)
}

fn load_dicom(src: &ScanSource, table: &StructureTable) -> Result<LoadedScan> {
    use crate::dicom;
    let found = dicom::scan_dicom_dir(&src.dir)?;
    if found.rtstructs.len() != 1 {
        // Say which files were not usable and why: an unreadable RTSTRUCT (a corrupt `RS.dcm`)
        // lands there, not among the RTSTRUCTs.
        let unread: Vec<String> = found
            .skipped
            .iter()
            .filter(|(_, why)| !why.starts_with("modality "))
            .take(5)
            .map(|(p, why)| format!("{} ({why})", p.display()))
            .collect();
        return Err(DataError::Layout {
            path: src.dir.clone(),
            detail: format!(
                "a dicom scan folder needs exactly one RTSTRUCT, found {}{}",
                found.rtstructs.len(),
                if unread.is_empty() {
                    if found.rtstructs.is_empty() {
                        " (for a DICOM tree with one folder per series, as NBIA downloads, set \
                         `layout` to nbia)"
                            .to_string()
                    } else {
                        String::new()
                    }
                } else {
                    format!("; files that could not be read: {}", unread.join("; "))
                }
            ),
        });
    }
    if found.ct_series.is_empty() {
        return Err(DataError::Layout {
            path: src.dir.clone(),
            detail: "no CT series in this dicom scan folder".into(),
        });
    }
    let rt_path = &found.rtstructs[0];
    let rt = dicom::read_rtstruct(rt_path)?;
    // One series: rasterize checks its frame of reference. Several: read them all and keep
    // the one in the RTSTRUCT's frame of reference.
    let ct = if found.ct_series.len() == 1 {
        dicom::read_ct_series(&found.ct_series[0])?
    } else {
        let all = found
            .ct_series
            .iter()
            .map(dicom::read_ct_series)
            .collect::<Result<Vec<_>>>()?;
        let available = all
            .iter()
            .map(|s| s.frame_of_reference_uid.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let mut matching: Vec<_> = all
            .into_iter()
            .filter(|s| {
                rt.frame_of_reference_uid.as_deref() == Some(s.frame_of_reference_uid.as_str())
            })
            .collect();
        match matching.len() {
            1 => matching.remove(0),
            0 => {
                return Err(DataError::FrameOfReference {
                    path: rt_path.clone(),
                    found: rt
                        .frame_of_reference_uid
                        .clone()
                        .unwrap_or_else(|| "(none)".into()),
                    available,
                });
            }
            n => {
                return Err(DataError::Layout {
                    path: src.dir.clone(),
                    detail: format!(
                        "{n} CT series share the RTSTRUCT's frame of reference; keep one per scan folder"
                    ),
                });
            }
        }
    };
    rasterized_scan(src, table, ct, rt_path, &rt)
}

/// An `nbia` scan: its CT series and chosen RTSTRUCT, read as the `dicom` layout reads them.
fn load_nbia(src: &ScanSource, table: &StructureTable) -> Result<LoadedScan> {
    use crate::dicom;
    let Some(n) = &src.nbia else {
        return Err(DataError::Layout {
            path: src.dir.clone(),
            detail: format!("nbia scan {} without its index entry", src.id),
        });
    };
    let rt = dicom::read_rtstruct(&n.rtstruct)?;
    let ct = dicom::read_ct_series(&n.ct)?;
    rasterized_scan(src, table, ct, &n.rtstruct, &rt)
}

/// The masks of `rt` on `ct`, mapped to structure names (`dicom` and `nbia` layouts).
fn rasterized_scan(
    src: &ScanSource,
    table: &StructureTable,
    ct: crate::dicom::CtSeries,
    rt_path: &Path,
    rt: &crate::dicom::RtStruct,
) -> Result<LoadedScan> {
    let rast = crate::dicom::rasterize(rt, &ct)?;
    let mut warnings = rast.warnings;
    let structures = named_structures(
        rast.masks,
        table,
        (rt_path, "ROI"),
        rt_path,
        &src.dir,
        &mut warnings,
    )?;
    let patient_id = ct.patient_id.clone().filter(|p| !p.trim().is_empty());
    Ok(LoadedScan {
        id: src.id.clone(),
        patient_id,
        ct: into_canonical(ct.volume),
        structures,
        warnings,
    })
}

/// Reads a patient table CSV `scan,patient` (a header line `scan,patient` allowed). The
/// `scan` column matches a scan id or a scan folder name.
pub fn read_patient_table(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 2 || f[0].is_empty() || f[1].is_empty() {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                line: i as u64 + 1,
                detail: format!("expected `scan,patient`, found {line:?}"),
            });
        }
        if i == 0 && f[0].eq_ignore_ascii_case("scan") && f[1].eq_ignore_ascii_case("patient") {
            continue;
        }
        out.insert(f[0].to_string(), f[1].to_string());
    }
    Ok(out)
}

/// The patient id of a scan: DICOM PatientID, else the patient table (by scan id, then by
/// folder name), else the scan folder's name.
pub fn patient_of(
    src: &ScanSource,
    from_files: Option<&str>,
    table: Option<&HashMap<String, String>>,
) -> String {
    if let Some(p) = from_files {
        return p.to_string();
    }
    if let Some(t) = table
        && let Some(p) = t.get(&src.id).or_else(|| t.get(&src.folder_name))
    {
        return p.clone();
    }
    src.folder_name.clone()
}

/// Which of the DeepMind set's two delineations of every scan to read. The set stores each
/// scan twice, under `.../oncologist/<scan>` and `.../radiographer/<scan>` (the same CT
/// delineated by two annotators; docs/data.md, DeepMind layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Annotator {
    /// Only scans under an `oncologist` folder (the default).
    #[default]
    Oncologist,
    /// Only scans under a `radiographer` folder.
    Radiographer,
    /// Both, as separate scans of the same patient.
    Both,
}

impl Annotator {
    /// `oncologist`, `radiographer` or `both`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Annotator::Oncologist => "oncologist",
            Annotator::Radiographer => "radiographer",
            Annotator::Both => "both",
        }
    }
}

impl std::fmt::Display for Annotator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Annotator {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "oncologist" => Ok(Annotator::Oncologist),
            "radiographer" => Ok(Annotator::Radiographer),
            "both" => Ok(Annotator::Both),
            _ => Err(DataError::InvalidConfig {
                field: "annotator",
                detail: format!("{s:?}: expected oncologist, radiographer or both"),
            }),
        }
    }
}

/// The annotator folder (`oncologist` / `radiographer`, any case) a scan id passes through,
/// if any.
pub fn annotator_of(id: &str) -> Option<Annotator> {
    id.split('/')
        .find_map(|c| match c.to_ascii_lowercase().as_str() {
            "oncologist" => Some(Annotator::Oncologist),
            "radiographer" => Some(Annotator::Radiographer),
            _ => None,
        })
}

/// Keeps the scans of the chosen annotator: a scan whose id passes through an
/// `oncologist` or `radiographer` folder is kept when that is the chosen one (always with
/// [`Annotator::Both`]); scans outside such folders are always kept. Returns the kept scans
/// and the number left out.
pub fn select_annotator(scans: Vec<ScanSource>, which: Annotator) -> (Vec<ScanSource>, usize) {
    let before = scans.len();
    let kept: Vec<ScanSource> = scans
        .into_iter()
        .filter(|s| match (which, annotator_of(&s.id)) {
            (Annotator::Both, _) | (_, None) => true,
            (w, Some(a)) => w == a,
        })
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

/// The id with a single trailing ASCII letter removed when that letter follows a digit
/// (`0522c0727a` → `0522c0727`); `None` otherwise (`TCGA-CV-A6JO` ends in a letter after a
/// letter and is left alone).
pub fn scan_suffix_base(id: &str) -> Option<&str> {
    let b = id.as_bytes();
    let n = b.len();
    (n >= 2 && b[n - 1].is_ascii_alphabetic() && b[n - 2].is_ascii_digit()).then(|| &id[..n - 1])
}

/// Groups patient ids that differ only by a trailing letter after a digit (DeepMind's
/// `0522c0727a` and `0522c0727b`, two scans of one patient; docs/data.md). A
/// group forms when at least two distinct ids of `ids` share the base, counting the bare
/// base itself; every member maps to the base. Returns `base → members` (sorted) for the
/// groups formed; ids in no group are absent.
pub fn scan_suffix_groups<'a>(
    ids: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeMap<String, Vec<String>> {
    use std::collections::{BTreeMap, BTreeSet};
    let unique: BTreeSet<&str> = ids.into_iter().collect();
    let mut by_base: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for id in &unique {
        if let Some(base) = scan_suffix_base(id) {
            by_base.entry(base.to_string()).or_default().insert(id);
        }
    }
    by_base
        .into_iter()
        .filter_map(|(base, mut members)| {
            if unique.contains(base.as_str()) {
                members.insert(unique.get(base.as_str()).copied().unwrap_or_default());
            }
            (members.len() >= 2).then(|| (base, members.into_iter().map(String::from).collect()))
        })
        .collect()
}

/// The `patients.csv` beside the scans (directly in the input folder), when there is one.
pub fn default_patient_table(root: &Path) -> Option<PathBuf> {
    let p = root.join("patients.csv");
    p.is_file().then_some(p)
}

/// Where a scan's patient id came from (see [`patient_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientSource {
    /// The files themselves (DICOM PatientID).
    Files,
    /// The patient table.
    Table,
    /// The scan folder's name.
    FolderName,
}

/// [`patient_of`] and where the id came from.
pub fn patient_and_source(
    src: &ScanSource,
    from_files: Option<&str>,
    table: Option<&HashMap<String, String>>,
) -> (String, PatientSource) {
    if let Some(p) = from_files {
        return (p.to_string(), PatientSource::Files);
    }
    if let Some(t) = table
        && let Some(p) = t.get(&src.id).or_else(|| t.get(&src.folder_name))
    {
        return (p.clone(), PatientSource::Table);
    }
    (src.folder_name.clone(), PatientSource::FolderName)
}

#[cfg(test)]
mod patient_tests {
    use super::*;

    #[test]
    fn suffix_groups() {
        assert_eq!(scan_suffix_base("0522c0727a"), Some("0522c0727"));
        assert_eq!(scan_suffix_base("TCGA-CV-A6JO"), None);
        assert_eq!(scan_suffix_base("a"), None);
        let g = scan_suffix_groups([
            "0522c0727a",
            "0522c0727b",
            "0522c0014",
            "TCGA-CV-A6JO",
            "TCGA-CV-A6JY",
            "x1a",
        ]);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g["0522c0727"], vec!["0522c0727a", "0522c0727b"]);
        // The bare base counts as a member.
        let g = scan_suffix_groups(["case1", "case1b"]);
        assert_eq!(g["case1"], vec!["case1", "case1b"]);
    }

    #[test]
    fn annotators() {
        let s = |id: &str| ScanSource {
            id: id.into(),
            dir: id.into(),
            folder_name: id.rsplit('/').next().unwrap().into(),
            layout: Layout::DeepMind,
            nbia: None,
        };
        let all = vec![
            s("test/oncologist/a"),
            s("test/Radiographer/a"),
            s("other/b"),
        ];
        let (k, d) = select_annotator(all.clone(), Annotator::Oncologist);
        assert_eq!((k.len(), d), (2, 1));
        assert_eq!(k[0].id, "test/oncologist/a");
        let (k, d) = select_annotator(all.clone(), Annotator::Radiographer);
        assert_eq!((k.len(), d), (2, 1));
        assert_eq!(k[0].id, "test/Radiographer/a");
        assert_eq!(select_annotator(all, Annotator::Both).1, 0);
        assert!("nobody".parse::<Annotator>().is_err());
    }
}
