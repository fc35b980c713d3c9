//! A synthetic head-and-neck cohort: analytic phantoms written as real files in every
//! layout `prepare` reads.
//!
//! Each phantom is built in LPS millimetres from simple solids (ellipsoids, elliptic
//! cylinders, shells): body outline, skull, brain, brainstem, eyes and lenses, optic nerves,
//! lacrimal glands, cochleae in petrous bone, mandible, parotid and submandibular glands,
//! vertebrae with spinal canal and cord, lung apices. HU values are plausible (air −1000,
//! soft tissue 20–45, lens 90, bone 700–1200, lung −800) plus Gaussian noise (σ 12 HU),
//! rounded to integers and clamped to −1024..3071, so every format stores them exactly as
//! `int16`. Per scan the anatomy is scaled by 0.9–1.1, shifted by up to ±6 mm in-plane and
//! the scan's z-extent varies (bottom −170..−140 mm, top 95..125 mm); all from the seed.
//!
//! Masks: a voxel belongs to a structure when its centre lies inside the structure's solid.
//! Scan 0 has no `Lung_R` delineation at all (label 0); scan 1 (scan 0 when there is one
//! scan) has `Cochlea_L` delineated but empty (label −1). Scans 1 and 2 belong to one
//! patient (`patients.csv` at the cohort root; `PatientID` in DICOM).
//!
//! Formats ([`SynthFormat`]):
//! * `nrrd`: deepmind layout, `CT_IMAGE.nrrd` (int16, gzip) + `segmentations/<name>.nrrd`
//!   with DeepMind spellings (`Parotid-Lt`, `Optic-Nerve-Rt`, ...; scan 2 uses the
//!   underscore spellings), LPS, canonical axes;
//! * `nifti`: the same with `.nii.gz`, axis 0 stored flipped (running towards the patient's
//!   right), so the RAS sform has a positive x column;
//! * `dicom`: one CT slice per file (uint16, RescaleIntercept −1024, InstanceNumber running
//!   opposite to z, file names in no particular order) + `RS.dcm`, an RTSTRUCT whose
//!   CLOSED_PLANAR contours trace the mask boundaries (pixel centres of the boundary
//!   pixels, one polygon per 8-connected component) with ContourImageSequence;
//! * `labelmap`: `ct.nrrd` + `labels.nrrd` (uint8 label values, later structures drawn over
//!   earlier ones) + `label_table.csv` (`value,name`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::structures::CANONICAL;
use crate::volume::{Geometry, Mask, Volume};

/// File format / layout of a written cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthFormat {
    /// deepmind layout with NRRD files (LPS).
    Nrrd,
    /// deepmind layout with NIfTI files (RAS sform, axis 0 flipped).
    Nifti,
    /// DICOM CT series + RTSTRUCT per scan.
    Dicom,
    /// CT + label map + label table per scan.
    #[serde(rename = "labelmap")]
    LabelMap,
}

impl std::str::FromStr for SynthFormat {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "nrrd" => Ok(Self::Nrrd),
            "nifti" => Ok(Self::Nifti),
            "dicom" => Ok(Self::Dicom),
            "labelmap" => Ok(Self::LabelMap),
            _ => Err(DataError::InvalidConfig {
                field: "format",
                detail: format!("{s:?}: expected nrrd, nifti, dicom or labelmap"),
            }),
        }
    }
}

/// Cohort parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Number of scans (≥ 1).
    pub scans: usize,
    /// In-plane voxels per side (field of view 240 mm).
    pub size: usize,
    /// Slice spacing (mm).
    pub z_spacing_mm: f64,
    /// Noise standard deviation (HU).
    pub noise_hu: f64,
    /// Seed of everything random.
    pub seed: u64,
}

impl Default for SynthConfig {
    /// 6 scans of 256 × 256, 2.5 mm slices, σ 12 HU, seed 0.
    fn default() -> Self {
        SynthConfig {
            scans: 6,
            size: 256,
            z_spacing_mm: 2.5,
            noise_hu: 12.0,
            seed: 0,
        }
    }
}

/// One synthetic scan in memory (canonical LPS grid).
#[derive(Debug, Clone)]
pub struct Phantom {
    /// Scan folder name (`synth_000`, ...).
    pub id: String,
    /// Patient id.
    pub patient: String,
    /// CT in HU (integers), canonical orientation.
    pub ct: Volume<f32>,
    /// Delineated structures (canonical names) and their masks; a structure absent here is
    /// not delineated in this scan. A mask may be all zeros (delineated but empty).
    pub masks: Vec<(String, Mask)>,
}

/// A tiny deterministic generator (splitmix64); enough for phantoms, independent of any
/// crate's stream stability.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        Rng(crate::split::splitmix64(
            seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        ))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// A solid in anatomy coordinates (mm, LPS, before the per-scan scale and shift).
#[derive(Debug, Clone, Copy)]
enum Solid {
    /// Centre and semi-axes.
    Ellipsoid([f64; 3], [f64; 3]),
    /// Elliptic cylinder along z: centre (x, y), semi-axes (x, y), z range.
    Cylinder([f64; 2], [f64; 2], [f64; 2]),
    /// Between an ellipsoid and the same ellipsoid scaled by `1 + t`.
    Shell([f64; 3], [f64; 3], f64),
    /// Elliptic annulus along z (outer semi-axes, inner semi-axes), z range, kept where
    /// y < y_max (a U shape opening posteriorly).
    Arch([f64; 2], [f64; 2], [f64; 2], [f64; 2], f64),
    /// Head/neck/shoulder body outline.
    Body,
}

fn ell(p: [f64; 3], c: [f64; 3], r: [f64; 3]) -> f64 {
    (0..3).map(|i| ((p[i] - c[i]) / r[i]).powi(2)).sum()
}

impl Solid {
    fn contains(&self, p: [f64; 3]) -> bool {
        match *self {
            Solid::Ellipsoid(c, r) => ell(p, c, r) <= 1.0,
            Solid::Cylinder(c, r, z) => {
                p[2] >= z[0]
                    && p[2] <= z[1]
                    && ((p[0] - c[0]) / r[0]).powi(2) + ((p[1] - c[1]) / r[1]).powi(2) <= 1.0
            }
            Solid::Shell(c, r, t) => {
                let e = ell(p, c, r);
                e > 1.0 && e <= (1.0 + t).powi(2)
            }
            Solid::Arch(c, ro, ri, z, ymax) => {
                let eo = ((p[0] - c[0]) / ro[0]).powi(2) + ((p[1] - c[1]) / ro[1]).powi(2);
                let ei = ((p[0] - c[0]) / ri[0]).powi(2) + ((p[1] - c[1]) / ri[1]).powi(2);
                p[2] >= z[0] && p[2] <= z[1] && p[1] <= ymax && eo <= 1.0 && ei > 1.0
            }
            Solid::Body => {
                let (x, y, z) = (p[0], p[1], p[2]);
                if z > 150.0 {
                    return false;
                }
                let (rx, ry, cy) = if z >= -20.0 {
                    // Head with a rounded top above z = 40.
                    let f = if z > 40.0 {
                        (1.0 - ((z - 40.0) / 100.0).powi(2)).max(0.0).sqrt()
                    } else {
                        1.0
                    };
                    (80.0 * f, 98.0 * f, 0.0)
                } else if z >= -115.0 {
                    (62.0, 66.0, 12.0)
                } else {
                    (125.0, 95.0, 15.0)
                };
                rx > 0.0 && (x / rx).powi(2) + ((y - cy) / ry).powi(2) <= 1.0
            }
        }
    }

    /// Bounding box (min, max) in anatomy coordinates.
    fn bbox(&self) -> ([f64; 3], [f64; 3]) {
        match *self {
            Solid::Ellipsoid(c, r) => (
                [0, 1, 2].map(|i| c[i] - r[i]),
                [0, 1, 2].map(|i| c[i] + r[i]),
            ),
            Solid::Cylinder(c, r, z) => (
                [c[0] - r[0], c[1] - r[1], z[0]],
                [c[0] + r[0], c[1] + r[1], z[1]],
            ),
            Solid::Shell(c, r, t) => (
                [0, 1, 2].map(|i| c[i] - r[i] * (1.0 + t)),
                [0, 1, 2].map(|i| c[i] + r[i] * (1.0 + t)),
            ),
            Solid::Arch(c, ro, _, z, _) => (
                [c[0] - ro[0], c[1] - ro[1], z[0]],
                [c[0] + ro[0], c[1] + ro[1], z[1]],
            ),
            Solid::Body => ([-130.0, -100.0, -400.0], [130.0, 115.0, 150.0]),
        }
    }
}

/// (structure name or "" for unlabelled tissue, solid, HU), in drawing order.
fn anatomy() -> Vec<(&'static str, Solid, f64)> {
    let mut a: Vec<(&'static str, Solid, f64)> = vec![
        ("", Solid::Body, 25.0),
        (
            "",
            Solid::Shell([0.0, 18.0, 62.0], [63.0, 73.0, 57.0], 0.12),
            900.0,
        ),
        (
            "Brain",
            Solid::Ellipsoid([0.0, 18.0, 62.0], [62.0, 72.0, 56.0]),
            35.0,
        ),
        (
            "Brainstem",
            Solid::Ellipsoid([0.0, 16.0, 2.0], [13.0, 13.0, 28.0]),
            30.0,
        ),
    ];
    for (s, x) in [("L", 1.0), ("R", -1.0)] {
        let side = |name: &'static str, solid, hu| (name, solid, hu);
        let _ = s;
        a.push(side(
            "",
            Solid::Ellipsoid([42.0 * x, 20.0, 20.0], [13.0, 12.0, 8.0]),
            1000.0,
        ));
        a.push(side(
            if x > 0.0 { "Cochlea_L" } else { "Cochlea_R" },
            Solid::Ellipsoid([42.0 * x, 20.0, 20.0], [3.5, 3.5, 3.0]),
            150.0,
        ));
        a.push(side(
            if x > 0.0 { "Eye_L" } else { "Eye_R" },
            Solid::Ellipsoid([32.0 * x, -68.0, 36.0], [12.0, 12.0, 12.0]),
            12.0,
        ));
        a.push(side(
            if x > 0.0 { "Lens_L" } else { "Lens_R" },
            Solid::Ellipsoid([32.0 * x, -77.0, 36.0], [4.5, 2.6, 4.0]),
            90.0,
        ));
        a.push(side(
            if x > 0.0 {
                "OpticNrv_cnv_L"
            } else {
                "OpticNrv_cnv_R"
            },
            Solid::Ellipsoid([18.0 * x, -42.0, 34.0], [3.5, 16.0, 3.2]),
            38.0,
        ));
        a.push(side(
            if x > 0.0 {
                "Glnd_Lacrimal_L"
            } else {
                "Glnd_Lacrimal_R"
            },
            Solid::Ellipsoid([43.0 * x, -63.0, 46.0], [6.0, 4.5, 4.0]),
            45.0,
        ));
        a.push(side(
            if x > 0.0 { "Parotid_L" } else { "Parotid_R" },
            Solid::Ellipsoid([50.0 * x, 10.0, -12.0], [12.0, 18.0, 22.0]),
            -5.0,
        ));
        a.push(side(
            if x > 0.0 {
                "Glnd_Submand_L"
            } else {
                "Glnd_Submand_R"
            },
            Solid::Ellipsoid([31.0 * x, -26.0, -52.0], [10.0, 10.0, 9.0]),
            42.0,
        ));
        a.push(side(
            if x > 0.0 { "Lung_L" } else { "Lung_R" },
            Solid::Ellipsoid([60.0 * x, 25.0, -205.0], [48.0, 58.0, 78.0]),
            -800.0,
        ));
    }
    a.push((
        "Bone_Mandible",
        Solid::Arch(
            [0.0, -18.0],
            [55.0, 62.0],
            [45.0, 52.0],
            [-46.0, -16.0],
            12.0,
        ),
        1200.0,
    ));
    a.push((
        "",
        Solid::Cylinder([0.0, 36.0], [20.0, 18.0], [-400.0, -28.0]),
        700.0,
    ));
    a.push((
        "SpinalCanal",
        Solid::Cylinder([0.0, 36.0], [9.0, 9.0], [-400.0, -28.0]),
        10.0,
    ));
    a.push((
        "SpinalCord",
        Solid::Cylinder([0.0, 36.0], [5.0, 5.0], [-400.0, -28.0]),
        36.0,
    ));
    a
}

/// The structure that scan `index` of a cohort of `n` lacks entirely (label 0), if any.
pub fn missing_structure(index: usize, n: usize) -> Option<&'static str> {
    let _ = n;
    (index == 0).then_some("Lung_R")
}

/// The structure that scan `index` has delineated but empty (label −1 everywhere), if any.
pub fn empty_structure(index: usize, n: usize) -> Option<&'static str> {
    (index == 1 || (n == 1 && index == 0)).then_some("Cochlea_L")
}

/// Patient id of scan `index` (scans 1 and 2 share one patient).
pub fn patient_id(index: usize) -> String {
    let p = if index == 2 { 1 } else { index };
    format!("SYNP{p:03}")
}

/// Scan folder name of scan `index`.
pub fn scan_id(index: usize) -> String {
    format!("synth_{index:03}")
}

/// Per-scan anatomy variation.
struct Variation {
    scale: f64,
    shift: [f64; 2],
    z_lo: f64,
    z_hi: f64,
}

fn variation(seed: u64, index: usize) -> Variation {
    let mut r = Rng::new(seed, 1000 + index as u64);
    Variation {
        scale: r.range(0.9, 1.1),
        shift: [r.range(-6.0, 6.0), r.range(-6.0, 6.0)],
        z_lo: r.range(-170.0, -140.0),
        z_hi: r.range(95.0, 125.0),
    }
}

/// Builds scan `index` of a cohort in memory.
pub fn phantom(config: &SynthConfig, index: usize) -> Phantom {
    let v = variation(config.seed, index);
    let n = config.size.max(8);
    let dxy = 240.0 / n as f64;
    let dz = config.z_spacing_mm;
    let nz = (((v.z_hi - v.z_lo) / dz).floor() as usize + 1).max(2);
    let geometry = Geometry {
        dims: [n, n, nz],
        origin: [
            -120.0 + dxy / 2.0,
            -120.0 + dxy / 2.0,
            (v.z_lo / dz).round() * dz,
        ],
        directions: [[dxy, 0.0, 0.0], [0.0, dxy, 0.0], [0.0, 0.0, dz]],
    };
    let to_anat = |p: [f64; 3]| {
        [
            (p[0] - v.shift[0]) / v.scale,
            (p[1] - v.shift[1]) / v.scale,
            p[2] / v.scale,
        ]
    };
    let mut hu = vec![-1000.0f64; geometry.len()];
    let anatomy = anatomy();
    let mut masks: Vec<(String, Mask)> = Vec::new();
    let missing = missing_structure(index, config.scans);
    let empty = empty_structure(index, config.scans);
    for (name, solid, value) in &anatomy {
        let (lo, hi) = solid.bbox();
        // Voxel index range of the bounding box (anatomy → world → index).
        let range = |axis: usize| -> (usize, usize) {
            let (a, b) = if axis < 2 {
                (
                    lo[axis] * v.scale + v.shift[axis],
                    hi[axis] * v.scale + v.shift[axis],
                )
            } else {
                (lo[2] * v.scale, hi[2] * v.scale)
            };
            let d = geometry.directions[axis][axis];
            let o = geometry.origin[axis];
            let i0 = ((a - o) / d).floor().max(0.0) as usize;
            let i1 = (((b - o) / d).ceil() + 1.0).clamp(0.0, geometry.dims[axis] as f64) as usize;
            (i0.min(geometry.dims[axis]), i1)
        };
        let (i0, i1) = range(0);
        let (j0, j1) = range(1);
        let (k0, k1) = range(2);
        let mut mask = (!name.is_empty()).then(|| vec![0u8; geometry.len()]);
        for k in k0..k1 {
            for j in j0..j1 {
                for i in i0..i1 {
                    let p = geometry.world([i as f64, j as f64, k as f64]);
                    if solid.contains(to_anat(p)) {
                        let idx = i + n * (j + n * k);
                        hu[idx] = *value;
                        if let Some(m) = mask.as_mut() {
                            m[idx] = 1;
                        }
                    }
                }
            }
        }
        if let Some(mut m) = mask {
            if Some(*name) == missing {
                continue;
            }
            if Some(*name) == empty {
                m.iter_mut().for_each(|x| *x = 0);
            }
            masks.push((
                name.to_string(),
                Volume {
                    geometry: geometry.clone(),
                    data: m,
                },
            ));
        }
    }
    // Order masks as the canonical list.
    masks.sort_by_key(|(name, _)| {
        CANONICAL
            .iter()
            .position(|c| c == name)
            .unwrap_or(usize::MAX)
    });
    let mut rng = Rng::new(config.seed, index as u64);
    let data: Vec<f32> = hu
        .iter()
        .map(|&h| {
            (h + config.noise_hu * rng.normal())
                .round()
                .clamp(-1024.0, 3071.0) as f32
        })
        .collect();
    Phantom {
        id: scan_id(index),
        patient: patient_id(index),
        ct: Volume { geometry, data },
        masks,
    }
}

/// One axial phantom slice (HU, row-major `size × size`, row 0 anterior, column 0 the
/// patient's right) through the eyes and optic nerves, for previews. Deterministic in `seed`.
///
/// ```
/// let s = twinscan_data::synth::phantom_slice(64, 1);
/// assert_eq!(s.len(), 64 * 64);
/// assert!(s.iter().any(|&v| v < -900.0) && s.iter().any(|&v| v > 500.0));
/// ```
pub fn phantom_slice(size: usize, seed: u64) -> Vec<f32> {
    let size = size.max(1);
    let v = variation(seed, 0);
    let dxy = 240.0 / size as f64;
    let z = 36.0 * v.scale;
    let mut rng = Rng::new(seed, 77);
    let anatomy = anatomy();
    let mut out = Vec::with_capacity(size * size);
    for j in 0..size {
        for i in 0..size {
            let p = [
                -120.0 + dxy * (i as f64 + 0.5),
                -120.0 + dxy * (j as f64 + 0.5),
                z,
            ];
            let q = [
                (p[0] - v.shift[0]) / v.scale,
                (p[1] - v.shift[1]) / v.scale,
                p[2] / v.scale,
            ];
            let mut h = -1000.0;
            for (_, solid, value) in &anatomy {
                if solid.contains(q) {
                    h = *value;
                }
            }
            out.push((h + 12.0 * rng.normal()).round().clamp(-1024.0, 3071.0) as f32);
        }
    }
    out
}

/// DeepMind file-name spelling of a canonical name (`Parotid_L` → `Parotid-Lt`), with `-`
/// or `_` as separator.
pub fn deepmind_name(canonical: &str, sep: char) -> String {
    let (base, side) = match canonical.strip_suffix("_L") {
        Some(b) => (b, Some("Lt")),
        None => match canonical.strip_suffix("_R") {
            Some(b) => (b, Some("Rt")),
            None => (canonical, None),
        },
    };
    let base = match base {
        "Bone_Mandible" => "Mandible",
        "Glnd_Lacrimal" => "Lacrimal",
        "OpticNrv_cnv" => "Optic-Nerve",
        "Eye" => "Orbit",
        "Glnd_Submand" => "Submandibular",
        "SpinalCanal" => "Spinal-Canal",
        "SpinalCord" => "Spinal-Cord",
        other => other,
    };
    let name = match side {
        Some(s) => format!("{base}-{s}"),
        None => base.to_string(),
    };
    name.replace('-', &sep.to_string())
}

fn to_i16(ct: &Volume<f32>) -> Volume<i16> {
    Volume {
        geometry: ct.geometry.clone(),
        data: ct.data.iter().map(|&v| v as i16).collect(),
    }
}

/// The volume with voxel axis 0 reversed (same world positions).
pub fn flip_axis0<T: Copy>(v: &Volume<T>) -> Volume<T> {
    let g = &v.geometry;
    let [d0, _, _] = g.dims;
    let mut data = Vec::with_capacity(v.data.len());
    for row in v.data.chunks_exact(d0) {
        data.extend(row.iter().rev());
    }
    let mut geometry = g.clone();
    geometry.origin = g.world([(d0 - 1) as f64, 0.0, 0.0]);
    geometry.directions[0] = g.directions[0].map(|x| -x);
    Volume { geometry, data }
}

fn create_dir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| DataError::io(p, e))
}

/// Writes one phantom as a deepmind-layout scan folder (NRRD or NIfTI).
pub fn write_deepmind_scan(dir: &Path, ph: &Phantom, nifti: bool, sep: char) -> Result<()> {
    let seg = dir.join("segmentations");
    create_dir(&seg)?;
    let ct = to_i16(&ph.ct);
    if nifti {
        crate::nifti::write_nifti(&dir.join("CT_IMAGE.nii.gz"), &flip_axis0(&ct))?;
    } else {
        crate::nrrd::write_nrrd(&dir.join("CT_IMAGE.nrrd"), &ct, true)?;
    }
    for (name, mask) in &ph.masks {
        let stem = deepmind_name(name, sep);
        if nifti {
            crate::nifti::write_nifti(&seg.join(format!("{stem}.nii.gz")), &flip_axis0(mask))?;
        } else {
            crate::nrrd::write_nrrd(&seg.join(format!("{stem}.nrrd")), mask, true)?;
        }
    }
    Ok(())
}

/// Writes one phantom as a labelmap-layout scan folder: `ct.nrrd`, `labels.nrrd` and
/// `label_table.csv` (values 1..=21 in canonical order; a structure missing from the scan
/// is left out of the table; an empty one is listed without voxels).
pub fn write_labelmap_scan(dir: &Path, ph: &Phantom) -> Result<()> {
    create_dir(dir)?;
    crate::nrrd::write_nrrd(&dir.join("ct.nrrd"), &to_i16(&ph.ct), true)?;
    let mut labels = vec![0u8; ph.ct.geometry.len()];
    let mut table = String::from("value,name\n");
    for (name, mask) in &ph.masks {
        let value = CANONICAL
            .iter()
            .position(|c| c == name)
            .map(|p| p + 1)
            .unwrap_or(0) as u8;
        table.push_str(&format!("{value},{name}\n"));
        for (l, &m) in labels.iter_mut().zip(&mask.data) {
            if m != 0 {
                *l = value;
            }
        }
    }
    crate::nrrd::write_nrrd(
        &dir.join("labels.nrrd"),
        &Volume {
            geometry: ph.ct.geometry.clone(),
            data: labels,
        },
        true,
    )?;
    let p = dir.join("label_table.csv");
    std::fs::write(&p, table).map_err(|e| DataError::io(&p, e))
}

/// Writes a cohort into `out` (created) in one format; returns the scan folders. Also
/// writes `patients.csv` (`scan,patient`) at the root.
pub fn write_cohort(out: &Path, config: &SynthConfig, format: SynthFormat) -> Result<Vec<PathBuf>> {
    if config.scans == 0 {
        return Err(DataError::InvalidConfig {
            field: "scans",
            detail: "0: need at least one scan".into(),
        });
    }
    if config.size < 8 || config.size > 1024 {
        return Err(DataError::InvalidConfig {
            field: "size",
            detail: format!("{}: must be 8..=1024", config.size),
        });
    }
    if config.z_spacing_mm.is_nan() || config.z_spacing_mm <= 0.0 {
        return Err(DataError::InvalidConfig {
            field: "z_spacing_mm",
            detail: format!("{}: must be > 0", config.z_spacing_mm),
        });
    }
    create_dir(out)?;
    use rayon::prelude::*;
    let dirs: Vec<PathBuf> = (0..config.scans)
        .into_par_iter()
        .map(|i| -> Result<PathBuf> {
            let ph = phantom(config, i);
            let dir = out.join(&ph.id);
            match format {
                SynthFormat::Nrrd => {
                    write_deepmind_scan(&dir, &ph, false, if i == 2 { '_' } else { '-' })?
                }
                SynthFormat::Nifti => write_deepmind_scan(&dir, &ph, true, '-')?,
                SynthFormat::LabelMap => write_labelmap_scan(&dir, &ph)?,
                SynthFormat::Dicom => {
                    let uids = dicom_write::DicomUids::new(config.seed, i);
                    dicom_write::write_dicom_scan(&dir, &ph, &uids)?;
                }
            }
            Ok(dir)
        })
        .collect::<Result<_>>()?;
    let mut csv = String::from("scan,patient\n");
    for i in 0..config.scans {
        csv.push_str(&format!("{},{}\n", scan_id(i), patient_id(i)));
    }
    let p = out.join("patients.csv");
    std::fs::write(&p, csv).map_err(|e| DataError::io(&p, e))?;
    Ok(dirs)
}

/// Boundary tracing of binary images (for RTSTRUCT contours).
pub mod contour {
    /// Outer boundaries of the 8-connected components of a row-major `rows × cols` binary
    /// image, each as a closed list of `(row, col)` pixel positions (Moore-neighbour tracing
    /// with Jacob's stopping criterion, clockwise on screen). A single-pixel component gives
    /// one point. Components are found in raster order.
    pub fn trace(img: &[u8], rows: usize, cols: usize) -> Vec<Vec<(usize, usize)>> {
        let at = |r: isize, c: isize| -> bool {
            r >= 0
                && c >= 0
                && (r as usize) < rows
                && (c as usize) < cols
                && img[r as usize * cols + c as usize] != 0
        };
        // Clockwise neighbour offsets starting West (row grows downwards).
        const NB: [(isize, isize); 8] = [
            (0, -1),
            (-1, -1),
            (-1, 0),
            (-1, 1),
            (0, 1),
            (1, 1),
            (1, 0),
            (1, -1),
        ];
        let mut seen = vec![false; rows * cols];
        let mut out = Vec::new();
        for r0 in 0..rows {
            for c0 in 0..cols {
                if img[r0 * cols + c0] == 0 || seen[r0 * cols + c0] {
                    continue;
                }
                // Mark the component (flood fill, 8-connected).
                let mut stack = vec![(r0, c0)];
                seen[r0 * cols + c0] = true;
                while let Some((r, c)) = stack.pop() {
                    for (dr, dc) in NB {
                        let (rr, cc) = (r as isize + dr, c as isize + dc);
                        if at(rr, cc) && !seen[rr as usize * cols + cc as usize] {
                            seen[rr as usize * cols + cc as usize] = true;
                            stack.push((rr as usize, cc as usize));
                        }
                    }
                }
                // Trace from the raster-first pixel; we entered it from the West.
                let start = (r0 as isize, c0 as isize);
                let mut poly = vec![(r0, c0)];
                let mut p = start;
                let mut back = 0usize; // index in NB of the backtrack neighbour
                let mut first_move: Option<(isize, isize)> = None;
                let limit = 4 * rows * cols + 8;
                for _ in 0..limit {
                    let mut found = None;
                    for s in 1..=8 {
                        let d = (back + s) % 8;
                        let q = (p.0 + NB[d].0, p.1 + NB[d].1);
                        if at(q.0, q.1) {
                            found = Some((d, q));
                            break;
                        }
                    }
                    let Some((d, q)) = found else { break }; // isolated pixel
                    if p == start {
                        match first_move {
                            None => first_move = Some(q),
                            Some(f) if f == q => break,
                            Some(_) => {}
                        }
                    }
                    // The new backtrack: the neighbour of q that precedes q in the sweep
                    // around p, expressed relative to q: (direction from q to p) rotated.
                    let prev = NB[(d + 7) % 8];
                    let b = (p.0 + prev.0 - q.0, p.1 + prev.1 - q.1);
                    back = NB.iter().position(|&o| o == b).unwrap_or((d + 4) % 8);
                    p = q;
                    if p == start {
                        continue;
                    }
                    poly.push((p.0 as usize, p.1 as usize));
                }
                out.push(poly);
            }
        }
        out
    }
}

/// Writing DICOM CT series and RTSTRUCTs with dicom-rs.
pub mod dicom_write {
    use std::path::Path;

    use dicom_core::value::{C, DataSetSequence, PrimitiveValue};
    use dicom_core::{DataElement, Tag, VR};
    use dicom_dictionary_std::{tags, uids};
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

    use super::{Phantom, contour};
    use crate::error::{DataError, Result};

    /// The UIDs of one synthetic DICOM scan (all `2.25.<decimal>` from the seed).
    #[derive(Debug, Clone, PartialEq)]
    pub struct DicomUids {
        /// StudyInstanceUID.
        pub study: String,
        /// SeriesInstanceUID of the CT.
        pub series: String,
        /// FrameOfReferenceUID of the CT.
        pub frame_of_reference: String,
        /// FrameOfReferenceUID the RTSTRUCT declares (normally equal to the CT's).
        pub rtstruct_frame_of_reference: String,
        /// SOPInstanceUID of each CT slice (canonical slice order).
        pub slices: Vec<String>,
        /// SeriesInstanceUID of the RTSTRUCT.
        pub rt_series: String,
        /// SOPInstanceUID of the RTSTRUCT.
        pub rt_instance: String,
        seed: u64,
        index: usize,
    }

    fn uid(seed: u64, index: usize, what: u64) -> String {
        let a =
            crate::split::splitmix64(seed ^ 0x5eed) ^ (index as u64).wrapping_mul(0x1000_0000_01b3);
        let hi = crate::split::splitmix64(a ^ what.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let lo = crate::split::splitmix64(hi ^ 0x0123_4567_89ab_cdef);
        let v = ((hi as u128) << 64 | lo as u128) >> 2; // 126 bits: at most 38 digits
        format!("2.25.{v}")
    }

    impl DicomUids {
        /// The UIDs of scan `index` of a cohort with `seed` (slice UIDs are filled by
        /// [`write_dicom_scan`]).
        pub fn new(seed: u64, index: usize) -> Self {
            let fr = uid(seed, index, 3);
            DicomUids {
                study: uid(seed, index, 1),
                series: uid(seed, index, 2),
                frame_of_reference: fr.clone(),
                rtstruct_frame_of_reference: fr,
                slices: Vec::new(),
                rt_series: uid(seed, index, 4),
                rt_instance: uid(seed, index, 5),
                seed,
                index,
            }
        }

        fn slice_uid(&self, k: usize) -> String {
            uid(self.seed, self.index, 1000 + k as u64)
        }
    }

    fn s(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
        DataElement::new(tag, vr, PrimitiveValue::from(v))
    }

    fn ds(v: f64) -> String {
        // DS holds at most 16 characters.
        let t = format!("{v:.4}");
        let t = t.trim_end_matches('0').trim_end_matches('.').to_string();
        if t == "-0" { "0".into() } else { t }
    }

    fn dss(tag: Tag, vals: &[f64]) -> DataElement<InMemDicomObject> {
        DataElement::new(
            tag,
            VR::DS,
            PrimitiveValue::Strs(vals.iter().map(|&v| ds(v)).collect::<C<String>>()),
        )
    }

    fn us(tag: Tag, v: u16) -> DataElement<InMemDicomObject> {
        DataElement::new(tag, VR::US, PrimitiveValue::from(v))
    }

    fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
        DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
    }

    fn save(obj: InMemDicomObject, path: &Path) -> Result<()> {
        let file = obj
            .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
            .map_err(|e| DataError::Dicom {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        file.write_to_file(path).map_err(|e| DataError::Dicom {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
    }

    fn common(obj: &mut InMemDicomObject, ph: &Phantom, u: &DicomUids) {
        obj.put(s(tags::PATIENT_ID, VR::LO, &ph.patient));
        obj.put(s(
            tags::PATIENT_NAME,
            VR::PN,
            &format!("Synthetic^{}", ph.patient),
        ));
        obj.put(s(tags::STUDY_INSTANCE_UID, VR::UI, &u.study));
        obj.put(s(tags::STUDY_DATE, VR::DA, "20260101"));
        obj.put(s(tags::STUDY_ID, VR::SH, "1"));
    }

    /// Writes the CT series (one file per slice, named by a hash so that file order says
    /// nothing) and `RS.dcm` into `dir`; fills `uids.slices`.
    pub fn write_dicom_scan(dir: &Path, ph: &Phantom, uids: &DicomUids) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        let mut u = uids.clone();
        let g = &ph.ct.geometry;
        let [cols, rows, n] = g.dims;
        u.slices = (0..n).map(|k| u.slice_uid(k)).collect();
        let plane = cols * rows;
        for k in 0..n {
            let mut o = InMemDicomObject::new_empty();
            common(&mut o, ph, &u);
            o.put(s(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE));
            o.put(s(tags::SOP_INSTANCE_UID, VR::UI, &u.slices[k]));
            o.put(s(tags::MODALITY, VR::CS, "CT"));
            o.put(s(tags::SERIES_INSTANCE_UID, VR::UI, &u.series));
            o.put(s(tags::SERIES_NUMBER, VR::IS, "1"));
            o.put(s(
                tags::FRAME_OF_REFERENCE_UID,
                VR::UI,
                &u.frame_of_reference,
            ));
            // InstanceNumber runs opposite to z, as in real series.
            o.put(s(tags::INSTANCE_NUMBER, VR::IS, &(n - k).to_string()));
            o.put(dss(
                tags::IMAGE_POSITION_PATIENT,
                &g.world([0.0, 0.0, k as f64]),
            ));
            let r = g.directions[0];
            let c = g.directions[1];
            let (sr, sc) = (g.spacing(0), g.spacing(1));
            o.put(dss(
                tags::IMAGE_ORIENTATION_PATIENT,
                &[
                    r[0] / sr,
                    r[1] / sr,
                    r[2] / sr,
                    c[0] / sc,
                    c[1] / sc,
                    c[2] / sc,
                ],
            ));
            // PixelSpacing = [row spacing (between rows), column spacing].
            o.put(dss(tags::PIXEL_SPACING, &[sc, sr]));
            o.put(dss(tags::SLICE_THICKNESS, &[g.spacing(2)]));
            o.put(us(tags::ROWS, rows as u16));
            o.put(us(tags::COLUMNS, cols as u16));
            o.put(us(tags::SAMPLES_PER_PIXEL, 1));
            o.put(s(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"));
            o.put(us(tags::BITS_ALLOCATED, 16));
            o.put(us(tags::BITS_STORED, 16));
            o.put(us(tags::HIGH_BIT, 15));
            o.put(us(tags::PIXEL_REPRESENTATION, 0));
            o.put(s(tags::RESCALE_INTERCEPT, VR::DS, "-1024"));
            o.put(s(tags::RESCALE_SLOPE, VR::DS, "1"));
            o.put(s(tags::RESCALE_TYPE, VR::LO, "HU"));
            let px: C<u16> = ph.ct.data[k * plane..(k + 1) * plane]
                .iter()
                .map(|&v| (v + 1024.0).clamp(0.0, 65535.0) as u16)
                .collect();
            o.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16(px),
            ));
            let name = format!("CT_{:016x}.dcm", crate::split::splitmix64(k as u64 ^ 0xc7));
            save(o, &dir.join(name))?;
        }
        write_rtstruct(&dir.join("RS.dcm"), ph, &u)
    }

    fn image_ref(sop: &str) -> InMemDicomObject {
        InMemDicomObject::from_element_iter([
            s(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                uids::CT_IMAGE_STORAGE,
            ),
            s(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, sop),
        ])
    }

    /// Writes the RTSTRUCT of a phantom: one ROI per delineated structure; contours trace
    /// the mask boundaries slice by slice; an all-zero mask gives an ROI with an empty
    /// ContourSequence (delineated but empty). `uids.slices` must be filled.
    pub fn write_rtstruct(path: &Path, ph: &Phantom, u: &DicomUids) -> Result<()> {
        let g = &ph.ct.geometry;
        let [cols, rows, n] = g.dims;
        if u.slices.len() != n {
            return Err(DataError::InvalidConfig {
                field: "uids.slices",
                detail: format!(
                    "{} slice UIDs for {n} slices ({})",
                    u.slices.len(),
                    path.display()
                ),
            });
        }
        let mut o = InMemDicomObject::new_empty();
        common(&mut o, ph, u);
        o.put(s(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::RT_STRUCTURE_SET_STORAGE,
        ));
        o.put(s(tags::SOP_INSTANCE_UID, VR::UI, &u.rt_instance));
        o.put(s(tags::MODALITY, VR::CS, "RTSTRUCT"));
        o.put(s(tags::SERIES_INSTANCE_UID, VR::UI, &u.rt_series));
        o.put(s(tags::SERIES_NUMBER, VR::IS, "2"));
        o.put(s(tags::STRUCTURE_SET_LABEL, VR::SH, "synth"));
        let contour_images: Vec<InMemDicomObject> = u.slices.iter().map(|x| image_ref(x)).collect();
        let series_item = InMemDicomObject::from_element_iter([
            s(tags::SERIES_INSTANCE_UID, VR::UI, &u.series),
            seq(tags::CONTOUR_IMAGE_SEQUENCE, contour_images),
        ]);
        let study_item = InMemDicomObject::from_element_iter([
            s(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                "1.2.840.10008.3.1.2.3.1",
            ),
            s(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, &u.study),
            seq(tags::RT_REFERENCED_SERIES_SEQUENCE, vec![series_item]),
        ]);
        let fr_item = InMemDicomObject::from_element_iter([
            s(
                tags::FRAME_OF_REFERENCE_UID,
                VR::UI,
                &u.rtstruct_frame_of_reference,
            ),
            seq(tags::RT_REFERENCED_STUDY_SEQUENCE, vec![study_item]),
        ]);
        o.put(seq(
            tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
            vec![fr_item],
        ));
        let mut roi_items = Vec::new();
        let mut contour_items = Vec::new();
        let mut obs_items = Vec::new();
        let plane = cols * rows;
        for (r, (name, mask)) in ph.masks.iter().enumerate() {
            let number = (r + 1).to_string();
            roi_items.push(InMemDicomObject::from_element_iter([
                s(tags::ROI_NUMBER, VR::IS, &number),
                s(
                    tags::REFERENCED_FRAME_OF_REFERENCE_UID,
                    VR::UI,
                    &u.rtstruct_frame_of_reference,
                ),
                s(tags::ROI_NAME, VR::LO, name),
                s(tags::ROI_GENERATION_ALGORITHM, VR::CS, "MANUAL"),
            ]));
            let mut contours = Vec::new();
            for k in 0..n {
                let img = &mask.data[k * plane..(k + 1) * plane];
                if !img.iter().any(|&v| v != 0) {
                    continue;
                }
                for poly in contour::trace(img, rows, cols) {
                    let mut pts = Vec::with_capacity(poly.len() * 3);
                    for &(row, col) in &poly {
                        pts.extend(g.world([col as f64, row as f64, k as f64]));
                    }
                    contours.push(InMemDicomObject::from_element_iter([
                        seq(tags::CONTOUR_IMAGE_SEQUENCE, vec![image_ref(&u.slices[k])]),
                        s(tags::CONTOUR_GEOMETRIC_TYPE, VR::CS, "CLOSED_PLANAR"),
                        s(
                            tags::NUMBER_OF_CONTOUR_POINTS,
                            VR::IS,
                            &poly.len().to_string(),
                        ),
                        dss(tags::CONTOUR_DATA, &pts),
                    ]));
                }
            }
            contour_items.push(InMemDicomObject::from_element_iter([
                DataElement::new(
                    tags::ROI_DISPLAY_COLOR,
                    VR::IS,
                    PrimitiveValue::Strs(["255", "0", "0"].iter().map(|x| x.to_string()).collect()),
                ),
                seq(tags::CONTOUR_SEQUENCE, contours),
                s(tags::REFERENCED_ROI_NUMBER, VR::IS, &number),
            ]));
            obs_items.push(InMemDicomObject::from_element_iter([
                s(tags::OBSERVATION_NUMBER, VR::IS, &number),
                s(tags::REFERENCED_ROI_NUMBER, VR::IS, &number),
                s(tags::RTROI_INTERPRETED_TYPE, VR::CS, "ORGAN"),
                s(tags::ROI_INTERPRETER, VR::PN, ""),
            ]));
        }
        o.put(seq(tags::STRUCTURE_SET_ROI_SEQUENCE, roi_items));
        o.put(seq(tags::ROI_CONTOUR_SEQUENCE, contour_items));
        o.put(seq(tags::RTROI_OBSERVATIONS_SEQUENCE, obs_items));
        save(o, path)
    }
}

/// For DeepMind-style data whose CT volumes are absent (the public masks in the shared
/// data): builds a deepmind-layout tree under `dst` with, per scan found under `src`, a
/// `segmentations` symbolic link to the original folder and a synthetic `CT_IMAGE.nrrd`
/// (int16, gzip) on the grid of the scan's first mask: 40 HU inside an ellipse covering 80%
/// of the field of view, −1000 HU outside, varying by ±10 HU from slice to slice; scans on
/// identical grids share one file (hard link). At most `limit` scans (all when `None`), in
/// discovery order. Returns the scan ids.
#[cfg(unix)]
pub fn synthesise_ct_for_masks(
    src: &Path,
    dst: &Path,
    limit: Option<usize>,
) -> Result<Vec<String>> {
    use rayon::prelude::*;
    let (_, scans) = crate::layout::discover(src, Some(crate::layout::Layout::DeepMind))?;
    let scans: Vec<_> = scans
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    // Phase 1: link the masks and read each scan's grid.
    let grids: Vec<Geometry> = scans
        .par_iter()
        .map(|s| -> Result<Geometry> {
            let seg = s.dir.join("segmentations");
            let mut files: Vec<PathBuf> = std::fs::read_dir(&seg)
                .map_err(|e| DataError::io(&seg, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| crate::layout::is_volume_file(p))
                .collect();
            files.sort();
            let first = files.first().ok_or_else(|| DataError::Layout {
                path: seg.clone(),
                detail: "no mask files".into(),
            })?;
            let g = crate::volume_io::read_volume(first)?.geometry;
            let out = dst.join(&s.id);
            create_dir(&out)?;
            let link = out.join("segmentations");
            if !link.exists() {
                let target = seg.canonicalize().map_err(|e| DataError::io(&seg, e))?;
                std::os::unix::fs::symlink(&target, &link).map_err(|e| DataError::io(&link, e))?;
            }
            Ok(g)
        })
        .collect::<Result<_>>()?;
    // Phase 2: one CT per distinct grid (DeepMind's two annotators share each CT), written
    // once and hard-linked (copied where links fail) into the other scans.
    let owner: Vec<usize> = (0..grids.len())
        .map(|i| grids.iter().position(|x| *x == grids[i]).unwrap_or(i))
        .collect();
    let first_of: Vec<usize> = (0..grids.len()).filter(|&i| owner[i] == i).collect();
    first_of.par_iter().try_for_each(|&f| -> Result<()> {
        let g = grids[f].clone();
        let [d0, d1, d2] = g.dims;
        let mut plane = Vec::with_capacity(d0 * d1);
        for j in 0..d1 {
            let y = (j as f64 + 0.5) / d1 as f64 - 0.5;
            for i in 0..d0 {
                let x = (i as f64 + 0.5) / d0 as f64 - 0.5;
                plane.push(x * x + y * y <= 0.16);
            }
        }
        let mut data = Vec::with_capacity(g.len());
        for k in 0..d2 {
            let inside = 40 + (k % 3) as i16 * 10 - 10;
            data.extend(plane.iter().map(|&p| if p { inside } else { -1000 }));
        }
        crate::nrrd::write_nrrd(
            &dst.join(&scans[f].id).join("CT_IMAGE.nrrd"),
            &Volume { geometry: g, data },
            true,
        )
    })?;
    for (s, &f) in scans.iter().zip(&owner) {
        if scans[f].id != s.id {
            let from = dst.join(&scans[f].id).join("CT_IMAGE.nrrd");
            let to = dst.join(&s.id).join("CT_IMAGE.nrrd");
            if !to.exists() && std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to).map_err(|e| DataError::io(&to, e))?;
            }
        }
    }
    Ok(scans.into_iter().map(|s| s.id).collect())
}

/// Synthesises a cohort under `dir/cohort` (NRRD, DeepMind layout) and prepares it into
/// `dir/prepared` at `slice_size`² with the default window and a patient-level split; returns
/// the prepared folder. The fixture of the ssl / classify tests and of the quickstart.
///
/// # Errors
/// As [`write_cohort`] and [`crate::prepare::prepare`].
pub fn write_prepared_cohort(
    dir: &Path,
    config: &SynthConfig,
    slice_size: usize,
) -> Result<PathBuf> {
    let cohort = dir.join("cohort");
    let prepared = dir.join("prepared");
    write_cohort(&cohort, config, SynthFormat::Nrrd)?;
    let mut cfg = crate::prepare::PrepareConfig::new(&cohort, &prepared);
    cfg.size = slice_size;
    cfg.seed = config.seed;
    cfg.png_bit_depth = None;
    crate::prepare::prepare(&cfg, &|_| {})?;
    Ok(prepared)
}
