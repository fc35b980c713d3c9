//! DICOM CT series: folder scan, grouping by SeriesInstanceUID, slice ordering along the
//! slice normal, HU through the modality LUT.
//!
//! **Ordering.** Slices are sorted by `n · ImagePositionPatient` with
//! `n = row cosines × column cosines` (from ImageOrientationPatient), never by InstanceNumber,
//! SliceLocation or file name. **Spacing** comes from these positions, not SliceThickness.
//!
//! **Checks** ([`DataError::SliceGeometry`], naming files and positions): all slices share
//! ImageOrientationPatient (within 1e-4), Rows/Columns and PixelSpacing (within 1e-4 mm) and
//! FrameOfReferenceUID; no two slices closer than 0.01 mm along the normal (duplicates); every
//! gap between neighbours within **max(1 % of the median gap, 0.01 mm)** of the median gap
//! (uneven gaps, e.g. a missing slice); every position on the line through the first one along
//! the normal within that same tolerance (no gantry tilt / shear).
//!
//! **Voxels.** HU = stored × RescaleSlope + RescaleIntercept (dicom-pixeldata's modality LUT),
//! decoded with its pure-Rust decoders (native: uncompressed, RLE, JPEG baseline/extended;
//! openjp2: JPEG 2000). Slices are decoded in parallel (rayon).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_pixeldata::PixelDecoder;
use rayon::prelude::*;

use super::{dicom_err, open_dicom, opt_str, req_floats, req_str};
use crate::error::{DataError, Result};
use crate::volume::{Geometry, Volume};

/// The files of one CT series found by [`scan_dicom_dir`] (not yet ordered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtSeriesFiles {
    /// SeriesInstanceUID shared by the files. Empty when the files carry none (anonymised
    /// data such as the TotalSegmentator sample): such files are grouped by
    /// FrameOfReferenceUID instead.
    pub series_instance_uid: String,
    /// The slice files, sorted by path (the order is irrelevant: [`read_ct_series`] orders
    /// slices by position).
    pub files: Vec<PathBuf>,
}

/// What [`scan_dicom_dir`] found in a folder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DicomDir {
    /// CT series (Modality `CT`), one per SeriesInstanceUID, sorted by UID.
    pub ct_series: Vec<CtSeriesFiles>,
    /// RT Structure Set files (Modality `RTSTRUCT`), sorted by path.
    pub rtstructs: Vec<PathBuf>,
    /// Files that are not used, with the reason (not DICOM, other modality, ...).
    pub skipped: Vec<(PathBuf, String)>,
}

/// A CT series as a volume in HU.
#[derive(Debug, Clone, PartialEq)]
pub struct CtSeries {
    /// SeriesInstanceUID (empty when the files carry none).
    pub series_instance_uid: String,
    /// FrameOfReferenceUID (shared by every slice).
    pub frame_of_reference_uid: String,
    /// PatientID, when present and non-empty.
    pub patient_id: Option<String>,
    /// SOPInstanceUID of each slice, in volume `k` order (from the meta group's
    /// MediaStorageSOPInstanceUID when the data set's is blank; empty when both are).
    pub sop_instance_uids: Vec<String>,
    /// Slice files, in volume `k` order.
    pub files: Vec<PathBuf>,
    /// HU volume: axis 0 = column index (along the row cosines, spacing PixelSpacing\[1\]),
    /// axis 1 = row index (along the column cosines, spacing PixelSpacing\[0\]), axis 2 =
    /// slices sorted ascending along the normal, spacing from positions; origin = the first
    /// slice's ImagePositionPatient.
    pub volume: Volume<f32>,
}

/// Scans `dir` (recursively, hidden files skipped) for DICOM files, reading headers only
/// (up to Pixel Data), in parallel. CT files are grouped by SeriesInstanceUID (files without
/// one by FrameOfReferenceUID, with an empty `series_instance_uid`); RTSTRUCT files
/// are listed; everything else is listed in `skipped` with the reason. Files without a
/// Part-10 header are read as Implicit VR Little Endian.
///
/// An empty folder gives an empty [`DicomDir`]; an unreadable folder is [`DataError::Io`].
pub fn scan_dicom_dir(dir: &Path) -> Result<DicomDir> {
    let index = super::index::index_dicom_tree(dir)?;
    // Key: (SeriesInstanceUID, FrameOfReferenceUID when the series UID is missing).
    let mut series: BTreeMap<(String, String), Vec<PathBuf>> = BTreeMap::new();
    let mut out = DicomDir::default();
    let mut skipped = index.unreadable;
    for h in index.files {
        match h.modality.as_deref() {
            Some("CT") => {
                let key = match h.series_instance_uid {
                    Some(uid) => (uid, String::new()),
                    None => (String::new(), h.frame_of_reference_uid.unwrap_or_default()),
                };
                series.entry(key).or_default().push(h.path)
            }
            Some("RTSTRUCT") => out.rtstructs.push(h.path),
            Some(m) => skipped.push((h.path, format!("modality {m}"))),
            None => skipped.push((h.path, "no Modality".into())),
        }
    }
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    out.skipped = skipped;
    out.ct_series = series
        .into_iter()
        .map(|((series_instance_uid, _), mut files)| {
            files.sort();
            CtSeriesFiles {
                series_instance_uid,
                files,
            }
        })
        .collect();
    Ok(out)
}

/// One decoded slice.
struct Slice {
    path: PathBuf,
    sop_uid: String,
    frame_uid: String,
    patient_id: Option<String>,
    ipp: [f64; 3],
    iop: [f64; 6],
    spacing: [f64; 2],
    rows: usize,
    cols: usize,
    thickness: Option<f64>,
    hu: Vec<f32>,
}

/// Validates the image pixel module before any decoding (issue 10 §3): Rows/Columns
/// 1..=65535; BitsAllocated 8, 16 or 32; BitsStored 1..=min(BitsAllocated, 16) (CT is at
/// most 16 bits; larger values make dicom-pixeldata panic or build 2^31-entry tables);
/// HighBit = BitsStored − 1; PixelRepresentation 0 or 1; RescaleSlope/Intercept, when
/// present, finite numbers; native pixel data long enough; compressed streams checked
/// against the image from their headers, for every codec this build decodes: JPEG (SOF:
/// size and precision ≤ BitsAllocated), JPEG 2000 (SIZ: size and depth ≤ BitsAllocated) and
/// RLE (segment count = SamplesPerPixel × BitsAllocated / 8), so that a deeper stream is
/// refused instead of silently truncated.
fn check_pixel_module(
    path: &Path,
    obj: &dicom_object::DefaultDicomObject,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let bad = |detail: String| Err(dicom_err(path, detail));
    if !(1..=65535).contains(&rows) || !(1..=65535).contains(&cols) {
        return bad(format!(
            "image size {rows}x{cols} (Rows, Columns must be 1..65535)"
        ));
    }
    let uint = |tag, name: &str| -> Result<Option<u32>> {
        match obj.element_opt(tag).ok().flatten() {
            None => Ok(None),
            Some(e) => e
                .to_int::<u32>()
                .map(Some)
                .map_err(|_| dicom_err(path, format!("{name} is not a number"))),
        }
    };
    let allocated = uint(tags::BITS_ALLOCATED, "BitsAllocated")?
        .ok_or_else(|| dicom_err(path, "missing BitsAllocated"))?;
    let stored = uint(tags::BITS_STORED, "BitsStored")?.unwrap_or(allocated);
    let high = uint(tags::HIGH_BIT, "HighBit")?.unwrap_or(stored.saturating_sub(1));
    let repr = uint(tags::PIXEL_REPRESENTATION, "PixelRepresentation")?.unwrap_or(0);
    if !matches!(allocated, 8 | 16 | 32) {
        return bad(format!("BitsAllocated {allocated} (8, 16 or 32 only)"));
    }
    if stored == 0 || stored > allocated.min(16) {
        return bad(format!(
            "BitsStored {stored} with BitsAllocated {allocated} (CT stores 1..16 bits)"
        ));
    }
    if high + 1 != stored {
        return bad(format!(
            "HighBit {high} with BitsStored {stored} (must be BitsStored - 1)"
        ));
    }
    if repr > 1 {
        return bad(format!("PixelRepresentation {repr} (0 or 1)"));
    }
    for (tag, name) in [
        (tags::RESCALE_SLOPE, "RescaleSlope"),
        (tags::RESCALE_INTERCEPT, "RescaleIntercept"),
    ] {
        if let Some(e) = obj.element_opt(tag).ok().flatten() {
            match e.to_float64() {
                Ok(v) if v.is_finite() => {}
                Ok(v) => return bad(format!("{name} {v} is not finite")),
                Err(_) => return bad(format!("{name} is not a number")),
            }
        }
    }
    let Some(pixels) = obj.element_opt(tags::PIXEL_DATA).ok().flatten() else {
        return bad("no PixelData".into());
    };
    let want = rows * cols * allocated as usize / 8;
    match pixels.fragments() {
        None => {
            let have = pixels
                .value()
                .primitive()
                .map_or(0, |p| p.calculate_byte_len());
            if have < want {
                return bad(format!(
                    "PixelData holds {have} bytes, a {rows}x{cols} image of {allocated}-bit \
                     pixels needs {want}"
                ));
            }
        }
        Some(frags) => {
            let ts = obj.meta().transfer_syntax();
            let ts = ts.trim_end_matches(['\0', ' ']);
            let samples = uint(tags::SAMPLES_PER_PIXEL, "SamplesPerPixel")?.unwrap_or(1);
            if is_jpeg_ts(ts)
                && let Some((w, h, precision)) = frags.first().and_then(|f| jpeg_sof(f))
            {
                if (w, h) != (cols, rows) {
                    return bad(format!(
                        "JPEG codestream of {w}x{h} pixels for a {cols}x{rows} image"
                    ));
                }
                if precision > allocated {
                    return bad(format!(
                        "JPEG codestream of {precision}-bit samples with BitsAllocated \
                         {allocated} (would be truncated)"
                    ));
                }
            }
            if ts == RLE_LOSSLESS {
                // PS3.5 G.2: one segment per byte of every sample; dicom-pixeldata reads only
                // the segments BitsAllocated asks for, dropping (or missing) the others.
                let want_segments = samples * allocated / 8;
                for (i, f) in frags.iter().enumerate() {
                    let Some(n) = f
                        .get(..4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    else {
                        return bad(format!("RLE fragment {i} holds no 64-byte RLE header"));
                    };
                    if f.len() < 64 || n > 15 {
                        return bad(format!(
                            "RLE fragment {i}: header of {n} segments in {} bytes (at most 15 \
                             segments, 64-byte header)",
                            f.len()
                        ));
                    }
                    if n != want_segments {
                        return bad(format!(
                            "RLE stream of {n} segments ({}-bit samples) with BitsAllocated \
                             {allocated} and SamplesPerPixel {samples}, which take \
                             {want_segments} (would be {})",
                            8 * n / samples.max(1),
                            if n > want_segments {
                                "truncated"
                            } else {
                                "misread"
                            }
                        ));
                    }
                }
            }
            if let Some((w, h, depth)) = frags.iter().find_map(|f| j2k_size(f)) {
                if (w, h) != (cols, rows) {
                    return bad(format!(
                        "JPEG 2000 codestream of {w}x{h} pixels for a {cols}x{rows} image"
                    ));
                }
                if depth > allocated {
                    return bad(format!(
                        "JPEG 2000 codestream of {depth}-bit samples with BitsAllocated \
                         {allocated} (would be truncated)"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// RLE Lossless transfer syntax (PS3.5 Annex G).
const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// JPEG (ISO/IEC 10918) transfer syntaxes: baseline, extended, lossless and the retired
/// ones (1.2.840.10008.1.2.4.50 to .66, and .70), decoded by jpeg-decoder in this build.
fn is_jpeg_ts(ts: &str) -> bool {
    ts.strip_prefix("1.2.840.10008.1.2.4.")
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| (50..=66).contains(&n) || n == 70)
}

/// Width, height and sample precision from a JPEG stream's SOF marker segment (ISO/IEC
/// 10918-1 B.2.2: `FFCn Lf P Y X Nf`, any SOF but DHT C4, JPG C8 and DAC CC), walking the
/// marker segments from SOI up to the first SOS; `None` when there is none.
fn jpeg_sof(bytes: &[u8]) -> Option<(usize, usize, u32)> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut pos = 2;
    loop {
        // Fill bytes (FF FF ...) may precede a marker.
        while bytes.get(pos)? == &0xFF && bytes.get(pos + 1)? == &0xFF {
            pos += 1;
        }
        if bytes.get(pos)? != &0xFF {
            return None;
        }
        let marker = *bytes.get(pos + 1)?;
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes([*bytes.get(pos + 2)?, *bytes.get(pos + 3)?]) as usize;
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let seg = bytes.get(pos + 4..pos + 9)?;
            let precision = u32::from(seg[0]);
            let y = u16::from_be_bytes([seg[1], seg[2]]) as usize;
            let x = u16::from_be_bytes([seg[3], seg[4]]) as usize;
            return Some((x, y, precision));
        }
        if len < 2 {
            return None;
        }
        pos += 2 + len;
    }
}

/// Width, height and bit depth of the first component from a JPEG 2000 codestream's SIZ
/// marker segment (ISO/IEC 15444-1 A.5.1), found after SOC (FF4F) in a raw codestream or
/// inside a JP2 box; `None` when there is none.
fn j2k_size(bytes: &[u8]) -> Option<(usize, usize, u32)> {
    let at = bytes
        .windows(4)
        .position(|w| w == [0xFF, 0x4F, 0xFF, 0x51])?;
    let siz = bytes.get(at + 4..at + 4 + 38 + 3)?;
    let be32 = |o: usize| u32::from_be_bytes([siz[o], siz[o + 1], siz[o + 2], siz[o + 3]]);
    // Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4) XTsiz YTsiz XTOsiz YTOsiz Csiz(2) Ssiz
    let (x, y, xo, yo) = (be32(4), be32(8), be32(12), be32(16));
    let ssiz = siz[38];
    Some((
        x.saturating_sub(xo) as usize,
        y.saturating_sub(yo) as usize,
        u32::from(ssiz & 0x7F) + 1,
    ))
}

fn read_slice(path: &Path) -> Result<Slice> {
    let obj = open_dicom(path, None)?;
    let frames: u32 = obj
        .element_opt(tags::NUMBER_OF_FRAMES)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<u32>().ok())
        .unwrap_or(1);
    if frames != 1 {
        return Err(DataError::Unsupported {
            path: path.to_path_buf(),
            what: format!("multi-frame CT image ({frames} frames); one slice per file only"),
        });
    }
    let ipp = req_floats(
        path,
        &obj,
        tags::IMAGE_POSITION_PATIENT,
        "ImagePositionPatient",
        3,
    )?;
    let iop = req_floats(
        path,
        &obj,
        tags::IMAGE_ORIENTATION_PATIENT,
        "ImageOrientationPatient",
        6,
    )?;
    let ps = req_floats(path, &obj, tags::PIXEL_SPACING, "PixelSpacing", 2)?;
    if ps.iter().any(|&s| s <= 0.0) {
        return Err(dicom_err(path, format!("PixelSpacing {ps:?} not positive")));
    }
    let int = |tag, name: &str| -> Result<usize> {
        obj.element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_int::<u32>().ok())
            .map(|v| v as usize)
            .ok_or_else(|| dicom_err(path, format!("missing {name}")))
    };
    let rows = int(tags::ROWS, "Rows")?;
    let cols = int(tags::COLUMNS, "Columns")?;
    check_pixel_module(path, &obj, rows, cols)?;
    // The codecs behind dicom-pixeldata may still panic on input they do not expect; the
    // panic becomes this file's error instead of taking the process down.
    let decoded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| obj.decode_pixel_data()))
            .map_err(|_| {
                dicom_err(
                    path,
                    "the pixel data decoder failed on this file (panicked)",
                )
            })?
            .map_err(|e| dicom_err(path, format!("cannot decode pixel data: {e}")))?;
    if decoded.samples_per_pixel() != 1 {
        return Err(DataError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "{} samples per pixel (greyscale CT only)",
                decoded.samples_per_pixel()
            ),
        });
    }
    let hu: Vec<f32> =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decoded.to_vec::<f32>()))
            .map_err(|_| dicom_err(path, "converting the pixel data to HU failed (panicked)"))?
            .map_err(|e| dicom_err(path, format!("cannot convert pixel data to HU: {e}")))?;
    let bad = hu.iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Err(DataError::NonFinite {
            path: path.to_path_buf(),
            count: bad,
        });
    }
    if hu.len() != rows * cols {
        return Err(dicom_err(
            path,
            format!("{} pixels decoded for a {rows}x{cols} image", hu.len()),
        ));
    }
    Ok(Slice {
        path: path.to_path_buf(),
        // Anonymised files may blank SOPInstanceUID but keep the meta group's copy.
        sop_uid: opt_str(&obj, tags::SOP_INSTANCE_UID).unwrap_or_else(|| {
            obj.meta()
                .media_storage_sop_instance_uid()
                .trim_matches(|c: char| c.is_whitespace() || c == '\0')
                .to_string()
        }),
        frame_uid: req_str(
            path,
            &obj,
            tags::FRAME_OF_REFERENCE_UID,
            "FrameOfReferenceUID",
        )?,
        patient_id: opt_str(&obj, tags::PATIENT_ID),
        ipp: [ipp[0], ipp[1], ipp[2]],
        iop: [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]],
        spacing: [ps[0], ps[1]],
        rows,
        cols,
        thickness: obj
            .element_opt(tags::SPACING_BETWEEN_SLICES)
            .ok()
            .flatten()
            .or_else(|| obj.element_opt(tags::SLICE_THICKNESS).ok().flatten())
            .and_then(|e| e.to_float64().ok())
            .filter(|t| t.is_finite() && *t > 0.0),
        hu,
    })
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalize(a: [f64; 3]) -> [f64; 3] {
    let n = dot(a, a).sqrt();
    a.map(|x| x / n)
}

/// Reads and stacks a CT series into an HU volume (see the module doc for ordering,
/// spacing and the geometry checks). Slices are decoded in parallel.
///
/// A single-slice series gets SpacingBetweenSlices, else SliceThickness, else 1 mm as its
/// (unused) slice spacing.
pub fn read_ct_series(files: &CtSeriesFiles) -> Result<CtSeries> {
    let Some(first_file) = files.files.first() else {
        return Err(DataError::SliceGeometry {
            path: PathBuf::from(&files.series_instance_uid),
            detail: "CT series without files".into(),
        });
    };
    let mut slices: Vec<Slice> = files
        .files
        .par_iter()
        .map(|p| read_slice(p))
        .collect::<Result<_>>()?;
    let s0 = &slices[0];
    let geo_err = |path: &Path, detail: String| DataError::SliceGeometry {
        path: path.to_path_buf(),
        detail,
    };
    for s in &slices[1..] {
        if s.iop.iter().zip(&s0.iop).any(|(a, b)| (a - b).abs() > 1e-4) {
            return Err(geo_err(
                &s.path,
                format!(
                    "ImageOrientationPatient {:?} differs from {:?} in {}",
                    s.iop,
                    s0.iop,
                    s0.path.display()
                ),
            ));
        }
        if (s.rows, s.cols) != (s0.rows, s0.cols) {
            return Err(geo_err(
                &s.path,
                format!(
                    "{}x{} pixels, but {} has {}x{}",
                    s.rows,
                    s.cols,
                    s0.path.display(),
                    s0.rows,
                    s0.cols
                ),
            ));
        }
        if s.spacing
            .iter()
            .zip(&s0.spacing)
            .any(|(a, b)| (a - b).abs() > 1e-4)
        {
            return Err(geo_err(
                &s.path,
                format!(
                    "PixelSpacing {:?} differs from {:?} in {}",
                    s.spacing,
                    s0.spacing,
                    s0.path.display()
                ),
            ));
        }
        if s.frame_uid != s0.frame_uid {
            return Err(geo_err(
                &s.path,
                format!(
                    "FrameOfReferenceUID {} differs from {} in {}",
                    s.frame_uid,
                    s0.frame_uid,
                    s0.path.display()
                ),
            ));
        }
    }
    let r = normalize([s0.iop[0], s0.iop[1], s0.iop[2]]);
    let c = normalize([s0.iop[3], s0.iop[4], s0.iop[5]]);
    let n = cross(r, c);
    if !(dot(n, n) > 0.5 && dot(r, c).abs() < 1e-3) {
        return Err(dicom_err(
            first_file,
            format!(
                "ImageOrientationPatient {:?} is not two orthogonal unit vectors",
                s0.iop
            ),
        ));
    }
    let n = normalize(n);
    slices.sort_by(|a, b| dot(n, a.ipp).total_cmp(&dot(n, b.ipp)));
    let keys: Vec<f64> = slices.iter().map(|s| dot(n, s.ipp)).collect();
    for w in 0..keys.len().saturating_sub(1) {
        if keys[w + 1] - keys[w] < 0.01 {
            return Err(geo_err(
                &slices[w + 1].path,
                format!(
                    "duplicate slice position: {} and {} both at {:.3} mm along the slice \
                     normal (IPP {:?} and {:?})",
                    slices[w].path.display(),
                    slices[w + 1].path.display(),
                    keys[w],
                    slices[w].ipp,
                    slices[w + 1].ipp
                ),
            ));
        }
    }
    let spacing = if keys.len() > 1 {
        let mut gaps: Vec<f64> = keys.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort_by(f64::total_cmp);
        let median = gaps[gaps.len() / 2];
        let tol = (0.01 * median).max(0.01);
        for w in 0..keys.len() - 1 {
            let gap = keys[w + 1] - keys[w];
            if (gap - median).abs() > tol {
                return Err(geo_err(
                    &slices[w + 1].path,
                    format!(
                        "uneven slice gap: {gap:.4} mm between {} (at {:.3} mm) and {} (at \
                         {:.3} mm), while the median gap is {median:.4} mm (tolerance \
                         {tol:.4} mm = max(1 %, 0.01 mm)); a slice may be missing",
                        slices[w].path.display(),
                        keys[w],
                        slices[w + 1].path.display(),
                        keys[w + 1]
                    ),
                ));
            }
        }
        (keys[keys.len() - 1] - keys[0]) / (keys.len() - 1) as f64
    } else {
        slices[0].thickness.unwrap_or(1.0)
    };
    let p0 = slices[0].ipp;
    let tol = (0.01 * spacing).max(0.01);
    for (s, &key) in slices.iter().zip(&keys) {
        let off = [0, 1, 2].map(|x| s.ipp[x] - p0[x] - n[x] * (key - keys[0]));
        if dot(off, off).sqrt() > tol {
            return Err(geo_err(
                &s.path,
                format!(
                    "slice at IPP {:?} is offset {:.3} mm in-plane from the first slice's IPP \
                     {p0:?} (gantry tilt or sheared series are not supported)",
                    s.ipp,
                    dot(off, off).sqrt()
                ),
            ));
        }
    }
    let (rows, cols) = (slices[0].rows, slices[0].cols);
    let [drow, dcol] = slices[0].spacing;
    let geometry = Geometry {
        dims: [cols, rows, slices.len()],
        origin: p0,
        directions: [
            r.map(|x| x * dcol),
            c.map(|x| x * drow),
            n.map(|x| x * spacing),
        ],
    };
    let mut data = Vec::with_capacity(geometry.len());
    for s in &slices {
        data.extend_from_slice(&s.hu);
    }
    let s0 = &slices[0];
    Ok(CtSeries {
        series_instance_uid: files.series_instance_uid.clone(),
        frame_of_reference_uid: s0.frame_uid.clone(),
        patient_id: s0.patient_id.clone(),
        sop_instance_uids: slices.iter().map(|s| s.sop_uid.clone()).collect(),
        files: slices.iter().map(|s| s.path.clone()).collect(),
        volume: Volume { geometry, data },
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Slice, ct_object, write};
    use super::*;

    const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

    fn slice(sop: &str, instance: i32, z: f64, stored: Vec<i16>) -> Slice<'_> {
        Slice {
            series: "1.2.3.1",
            frame: "1.2.3.100",
            sop,
            instance,
            ipp: [-10.0, -20.0, z],
            iop: AXIAL,
            spacing: [0.5, 0.75],
            rows: 2,
            cols: 3,
            stored,
            slope: 2.0,
            intercept: -1024.0,
        }
    }

    /// Four slices whose file names and InstanceNumbers disagree with their positions; one
    /// file without a Part-10 header.
    fn series(dir: &Path, zs: [f64; 4]) -> CtSeriesFiles {
        let mut files = Vec::new();
        for (f, &z) in zs.iter().enumerate() {
            let stored: Vec<i16> = (0..6).map(|i| (f as i16) * 100 + i).collect();
            let sop = format!("1.2.3.1.{f}");
            let p = dir.join(format!("{}.dcm", ["d", "a", "c", "b"][f]));
            write(
                ct_object(&slice(&sop, 10 - f as i32, z, stored)),
                &p,
                f != 2,
            );
            files.push(p);
        }
        files.sort();
        CtSeriesFiles {
            series_instance_uid: "1.2.3.1".into(),
            files,
        }
    }

    #[test]
    fn orders_by_position_and_applies_rescale() {
        let dir = tempfile::tempdir().unwrap();
        // File index f at z: f0 = 10, f1 = 12.5, f2 = 5 (no Part-10 header), f3 = 7.5.
        let files = series(dir.path(), [10.0, 12.5, 5.0, 7.5]);
        let ct = read_ct_series(&files).unwrap();
        let g = &ct.volume.geometry;
        assert_eq!(g.dims, [3, 2, 4]);
        assert_eq!(g.origin, [-10.0, -20.0, 5.0]);
        // Column step = PixelSpacing[1] along x, row step = PixelSpacing[0] along y.
        assert_eq!(
            g.directions,
            [[0.75, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 2.5]]
        );
        assert_eq!(
            ct.sop_instance_uids,
            ["1.2.3.1.2", "1.2.3.1.3", "1.2.3.1.0", "1.2.3.1.1"]
        );
        assert!(ct.files[0].ends_with("c.dcm"));
        assert_eq!(ct.patient_id.as_deref(), Some("P-7"));
        assert_eq!(ct.frame_of_reference_uid, "1.2.3.100");
        // HU = stored * 2 - 1024; k = 0 is file 2 (stored 200 + i), k = 3 is file 1.
        let hu = |i, j, k| *ct.volume.get(i, j, k);
        assert_eq!(hu(0, 0, 0), 200.0 * 2.0 - 1024.0);
        assert_eq!(hu(2, 1, 0), 205.0 * 2.0 - 1024.0);
        assert_eq!(hu(1, 0, 3), 101.0 * 2.0 - 1024.0);
        assert_eq!(hu(0, 1, 1), 303.0 * 2.0 - 1024.0);
    }

    #[test]
    fn duplicate_positions_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = series(dir.path(), [10.0, 12.5, 5.0, 10.0]);
        let e = read_ct_series(&files).unwrap_err();
        assert!(matches!(e, DataError::SliceGeometry { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("duplicate slice position"), "{msg}");
        assert!(msg.contains("d.dcm") && msg.contains("b.dcm"), "{msg}");
    }

    #[test]
    fn uneven_gaps_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // 5, 7.5, 10, 15: a missing slice.
        let files = series(dir.path(), [10.0, 15.0, 5.0, 7.5]);
        let e = read_ct_series(&files).unwrap_err().to_string();
        assert!(e.contains("uneven slice gap") && e.contains("a.dcm"), "{e}");
        // Within 1 %: accepted, spacing from the end positions.
        let dir = tempfile::tempdir().unwrap();
        let files = series(dir.path(), [10.0, 12.51, 5.0, 7.5]);
        let ct = read_ct_series(&files).unwrap();
        assert!((ct.volume.geometry.spacing(2) - 7.51 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn differing_orientation_or_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.dcm");
        let b = dir.path().join("b.dcm");
        write(ct_object(&slice("1.1", 1, 0.0, vec![0; 6])), &a, true);
        let mut s = slice("1.2", 2, 2.0, vec![0; 6]);
        s.iop = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        write(ct_object(&s), &b, true);
        let files = CtSeriesFiles {
            series_instance_uid: "1.2.3.1".into(),
            files: vec![a.clone(), b.clone()],
        };
        let e = read_ct_series(&files).unwrap_err().to_string();
        assert!(e.contains("ImageOrientationPatient"), "{e}");
        let mut s = slice("1.2", 2, 2.0, vec![0; 8]);
        s.rows = 2;
        s.cols = 4;
        write(ct_object(&s), &b, true);
        let e = read_ct_series(&files).unwrap_err().to_string();
        assert!(e.contains("b.dcm") && e.contains("2x4"), "{e}");
    }

    #[test]
    fn scan_groups_series_and_skips_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        series(&sub, [1.0, 2.0, 3.0, 4.0]);
        let mut other = slice("9.9", 1, 0.0, vec![0; 6]);
        other.series = "1.2.3.2";
        write(ct_object(&other), &dir.path().join("x.dcm"), true);
        std::fs::write(dir.path().join("notes.txt"), "hello, not DICOM").unwrap();
        let d = scan_dicom_dir(dir.path()).unwrap();
        let uids: Vec<_> = d
            .ct_series
            .iter()
            .map(|s| s.series_instance_uid.as_str())
            .collect();
        assert_eq!(uids, ["1.2.3.1", "1.2.3.2"]);
        assert_eq!(d.ct_series[0].files.len(), 4);
        assert_eq!(d.skipped.len(), 1);
        assert!(d.skipped[0].0.ends_with("notes.txt"));
        assert!(d.rtstructs.is_empty());
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(scan_dicom_dir(empty.path()).unwrap(), DicomDir::default());
        assert!(matches!(
            scan_dicom_dir(&dir.path().join("absent")),
            Err(DataError::Io { .. })
        ));
    }
}
