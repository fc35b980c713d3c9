//! DICOM RT Structure Sets: ROI names and contours, and their rasterisation on a CT grid the
//! way rt-utils 1.2.7 does it (so masks equal rt-utils').
//!
//! **Reading** ([`read_rtstruct`]): StructureSetROISequence gives ROI numbers and names;
//! ROIContourSequence → ContourSequence gives each ROI's contours (ContourGeometricType,
//! ContourData as LPS mm, ContourImageSequence → ReferencedSOPInstanceUID). An ROI whose
//! ROIContourSequence item has no ContourSequence, an empty one, or no item at all is
//! "delineated and empty": [`Roi::contours`] is empty. The frame of reference is
//! ReferencedFrameOfReferenceSequence\[0\].FrameOfReferenceUID (else the top-level
//! FrameOfReferenceUID).
//!
//! **Rasterising** ([`rasterize`]), per ROI and slice:
//! 1. the RTSTRUCT's frame of reference must equal the CT's, else
//!    [`DataError::FrameOfReference`];
//! 2. only CLOSED_PLANAR contours are filled; POINT / OPEN_PLANAR / OPEN_NONPLANAR are skipped
//!    with a warning;
//! 3. slice: the CT slice whose SOPInstanceUID the ContourImageSequence references; without
//!    one (or with an unknown UID, warned), the slice whose position along the normal is
//!    nearest to the contour's mean, if within half a slice spacing, else a warning and skip;
//! 4. patient → pixel: subtract the first slice's ImagePositionPatient, project on the row
//!    cosines (column index) and column cosines (row index), divide by the column / row pixel
//!    spacing, round half to even (`np.around`). rt-utils divides the column index by
//!    PixelSpacing\[0\] (a quirk, identical for square pixels); this follows the standard;
//! 5. all CLOSED_PLANAR polygons of the ROI on that slice are filled together exactly as
//!    OpenCV's `cv2.fillPoly(mask, polygons, 1)` (line type 8, no shift): each edge drawn as
//!    an 8-connected Bresenham line (boundary pixels are inside), then the scanline fill of
//!    OpenCV's edge collection with 16.16 fixed-point edges and even-odd pairing (a contour
//!    inside another makes a hole). Checked against cv2 4.x outputs
//!    (`scripts/fillpoly_reference.py`). Difference left: OpenCV clips a line to the image
//!    before Bresenham, which can move boundary pixels of a contour that leaves the image;
//!    here out-of-image pixels are dropped without clipping.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;

use super::ct::CtSeries;
use super::{dicom_err, open_dicom, opt_str, seq_items};
use crate::error::{DataError, Result};
use crate::volume::{Mask, Volume};

/// One contour of an ROI.
#[derive(Debug, Clone, PartialEq)]
pub struct Contour {
    /// ContourGeometricType: `CLOSED_PLANAR`, `POINT`, `OPEN_PLANAR`, `OPEN_NONPLANAR`.
    pub geometric_type: String,
    /// ContourData: points in patient LPS mm.
    pub points_lps: Vec<[f64; 3]>,
    /// ContourImageSequence\[0\].ReferencedSOPInstanceUID, when present.
    pub referenced_sop_uid: Option<String>,
}

/// One ROI (structure) of an RT Structure Set.
#[derive(Debug, Clone, PartialEq)]
pub struct Roi {
    /// ROINumber.
    pub number: i32,
    /// ROIName as written in the file (whitespace-trimmed).
    pub name: String,
    /// Its contours; empty = "delineated and empty".
    pub contours: Vec<Contour>,
}

/// An RT Structure Set.
#[derive(Debug, Clone, PartialEq)]
pub struct RtStruct {
    /// The file.
    pub path: PathBuf,
    /// The frame of reference the contours live in.
    pub frame_of_reference_uid: Option<String>,
    /// The ROIs, in StructureSetROISequence order.
    pub rois: Vec<Roi>,
}

/// Masks from [`rasterize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Rasterized {
    /// One mask per ROI (every ROI, even with no contour), ROI name as written, on the CT
    /// volume's grid.
    pub masks: Vec<(String, Mask)>,
    /// Contours skipped and why (non-area types, no matching slice, ...).
    pub warnings: Vec<String>,
}

/// Reads an RT Structure Set (with or without a Part-10 header). See the module doc.
pub fn read_rtstruct(path: &Path) -> Result<RtStruct> {
    let obj = open_dicom(path, None)?;
    match opt_str(&obj, tags::MODALITY).as_deref() {
        Some("RTSTRUCT") | None => {}
        Some(m) => return Err(dicom_err(path, format!("modality {m}, not RTSTRUCT"))),
    }
    let frame_of_reference_uid = seq_items(&obj, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)
        .iter()
        .find_map(|it| opt_str(it, tags::FRAME_OF_REFERENCE_UID))
        .or_else(|| opt_str(&obj, tags::FRAME_OF_REFERENCE_UID));
    let ss = seq_items(&obj, tags::STRUCTURE_SET_ROI_SEQUENCE);
    if obj
        .element_opt(tags::STRUCTURE_SET_ROI_SEQUENCE)
        .ok()
        .flatten()
        .is_none()
    {
        return Err(dicom_err(path, "missing StructureSetROISequence"));
    }
    let mut contours_by_roi: HashMap<i32, Vec<Contour>> = HashMap::new();
    for item in seq_items(&obj, tags::ROI_CONTOUR_SEQUENCE) {
        let Some(number) = item
            .element_opt(tags::REFERENCED_ROI_NUMBER)
            .ok()
            .flatten()
            .and_then(|e| e.to_int::<i32>().ok())
        else {
            return Err(dicom_err(
                path,
                "ROIContourSequence item without ReferencedROINumber",
            ));
        };
        let list = contours_by_roi.entry(number).or_default();
        for (ci, c) in seq_items(item, tags::CONTOUR_SEQUENCE).iter().enumerate() {
            let geometric_type = opt_str(c, tags::CONTOUR_GEOMETRIC_TYPE)
                .unwrap_or_else(|| "CLOSED_PLANAR".into())
                .to_ascii_uppercase();
            let data = match c.element_opt(tags::CONTOUR_DATA).ok().flatten() {
                Some(e) => e.to_multi_float64().map_err(|err| {
                    dicom_err(
                        path,
                        format!("ROI {number} contour {ci}: ContourData: {err}"),
                    )
                })?,
                None => Vec::new(),
            };
            if data.len() % 3 != 0 || data.iter().any(|v| !v.is_finite()) {
                return Err(dicom_err(
                    path,
                    format!(
                        "ROI {number} contour {ci}: ContourData holds {} values, not finite \
                         (x, y, z) triplets",
                        data.len()
                    ),
                ));
            }
            let referenced_sop_uid = seq_items(c, tags::CONTOUR_IMAGE_SEQUENCE)
                .iter()
                .find_map(|it| opt_str(it, tags::REFERENCED_SOP_INSTANCE_UID));
            list.push(Contour {
                geometric_type,
                points_lps: data.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
                referenced_sop_uid,
            });
        }
    }
    let mut rois = Vec::with_capacity(ss.len());
    for item in ss {
        let number = item
            .element_opt(tags::ROI_NUMBER)
            .ok()
            .flatten()
            .and_then(|e| e.to_int::<i32>().ok())
            .ok_or_else(|| dicom_err(path, "StructureSetROISequence item without ROINumber"))?;
        let name = opt_str(item, tags::ROI_NAME).unwrap_or_else(|| format!("ROI {number}"));
        rois.push(Roi {
            number,
            name,
            contours: contours_by_roi.remove(&number).unwrap_or_default(),
        });
    }
    Ok(RtStruct {
        path: path.to_path_buf(),
        frame_of_reference_uid,
        rois,
    })
}

/// An 8-connected line exactly as OpenCV's `LineIterator` (connectivity 8, left to right);
/// pixels outside `w x h` are dropped.
fn draw_line(img: &mut [u8], w: i64, h: i64, p0: (i64, i64), p1: (i64, i64)) {
    // Clipped to the image first, as OpenCV's LineIterator does (cv::clipLine): a far-away
    // vertex must not make the loop run over its whole span.
    let Some((p0, p1)) = clip_line(w, h, p0, p1) else {
        return;
    };
    let (a, b) = if p1.0 < p0.0 { (p1, p0) } else { (p0, p1) };
    let dx = b.0 - a.0;
    let (dy, sy) = if b.1 < a.1 {
        (a.1 - b.1, -1)
    } else {
        (b.1 - a.1, 1)
    };
    let vert = dy > dx;
    let (major, minor) = if vert { (dy, dx) } else { (dx, dy) };
    let mut err = major - 2 * minor;
    let (mut x, mut y) = a;
    for _ in 0..=major {
        if (0..w).contains(&x) && (0..h).contains(&y) {
            img[(y * w + x) as usize] = 1;
        }
        let step_minor = err < 0;
        err += -2 * minor + if step_minor { 2 * major } else { 0 };
        if vert {
            y += sy;
            if step_minor {
                x += 1;
            }
        } else {
            x += 1;
            if step_minor {
                y += sy;
            }
        }
    }
}

/// OpenCV's `clipLine` (imgproc/drawing.cpp) on the rectangle `[0, w−1] × [0, h−1]`: the
/// segment's ends moved onto the border where it leaves the image; `None` when the segment
/// lies wholly outside.
fn clip_line(w: i64, h: i64, p0: (i64, i64), p1: (i64, i64)) -> Option<((i64, i64), (i64, i64))> {
    if w <= 0 || h <= 0 {
        return None;
    }
    let (right, bottom) = (w - 1, h - 1);
    let ((mut x1, mut y1), (mut x2, mut y2)) = (p0, p1);
    let code = |x: i64, y: i64| {
        (x < 0) as u8 + (x > right) as u8 * 2 + (y < 0) as u8 * 4 + (y > bottom) as u8 * 8
    };
    let (mut c1, mut c2) = (code(x1, y1), code(x2, y2));
    if (c1 & c2) == 0 && (c1 | c2) != 0 {
        if c1 & 12 != 0 {
            let a = if c1 < 8 { 0 } else { bottom };
            x1 += ((a - y1) as f64 * (x2 - x1) as f64 / (y2 - y1) as f64) as i64;
            y1 = a;
            c1 = (x1 < 0) as u8 + (x1 > right) as u8 * 2;
        }
        if c2 & 12 != 0 {
            let a = if c2 < 8 { 0 } else { bottom };
            x2 += ((a - y2) as f64 * (x2 - x1) as f64 / (y2 - y1) as f64) as i64;
            y2 = a;
            c2 = (x2 < 0) as u8 + (x2 > right) as u8 * 2;
        }
        if (c1 & c2) == 0 && (c1 | c2) != 0 {
            if c1 != 0 {
                let a = if c1 == 1 { 0 } else { right };
                y1 += ((a - x1) as f64 * (y2 - y1) as f64 / (x2 - x1) as f64) as i64;
                x1 = a;
                c1 = 0;
            }
            if c2 != 0 {
                let a = if c2 == 1 { 0 } else { right };
                y2 += ((a - x2) as f64 * (y2 - y1) as f64 / (x2 - x1) as f64) as i64;
                x2 = a;
                c2 = 0;
            }
        }
    }
    ((c1 | c2) == 0).then_some(((x1, y1), (x2, y2)))
}

/// Vertices farther than this many pixels from the image make the contour be skipped: the
/// fill's 16-bit fixed point (and any sane contour) stays far below it.
const MAX_VERTEX_PIXELS: f64 = (1u64 << 30) as f64;

/// `cv2.fillPoly(img, polygons, 1)` with the default line type (8) and shift 0: boundary
/// lines plus an even-odd scanline fill of all polygons together. `img` is `h` rows of `w`
/// pixels; vertices are `(x = column, y = row)`.
pub(crate) fn fill_poly(img: &mut [u8], w: usize, h: usize, polygons: &[Vec<(i64, i64)>]) {
    const SHIFT: u32 = 16;
    struct Edge {
        y0: i64,
        y1: i64,
        x: i64,
        dx: i64,
    }
    let (wi, hi) = (w as i64, h as i64);
    let mut edges = Vec::new();
    for poly in polygons {
        let Some(&last) = poly.last() else { continue };
        let mut p0 = last;
        for &p1 in poly {
            draw_line(img, wi, hi, p0, p1);
            if p0.1 != p1.1 {
                let (x0, x1) = (p0.0 << SHIFT, p1.0 << SHIFT);
                let dx = (x1 - x0) / (p1.1 - p0.1);
                edges.push(if p0.1 < p1.1 {
                    Edge {
                        y0: p0.1,
                        y1: p1.1,
                        x: x0,
                        dx,
                    }
                } else {
                    Edge {
                        y0: p1.1,
                        y1: p0.1,
                        x: x1,
                        dx,
                    }
                });
            }
            p0 = p1;
        }
    }
    if edges.len() < 2 {
        return;
    }
    let y_min = edges.iter().map(|e| e.y0).min().unwrap_or(0).max(0);
    let y_max = edges.iter().map(|e| e.y1).max().unwrap_or(0).min(hi);
    let mut xs: Vec<i64> = Vec::new();
    for y in y_min..y_max {
        xs.clear();
        xs.extend(
            edges
                .iter()
                .filter(|e| e.y0 <= y && y < e.y1)
                .map(|e| e.x + (y - e.y0) * e.dx),
        );
        xs.sort_unstable();
        for pair in xs.chunks_exact(2) {
            // Left end rounded up, right end down (OpenCV's FillEdgeCollection).
            let x1 = (pair[0] + (1 << SHIFT) - 1) >> SHIFT;
            let x2 = pair[1] >> SHIFT;
            if x1 < wi && x2 >= 0 {
                let (x1, x2) = (x1.max(0) as usize, x2.min(wi - 1) as usize);
                let row = y as usize * w;
                img[row + x1..=row + x2].fill(1);
            }
        }
    }
}

/// Rasterises every ROI of `rt` on the grid of `ct` (see the module doc for the rules).
/// Returns one mask per ROI (ROI name as written; an ROI without usable contours gives an
/// all-zero mask) and the warnings for skipped contours.
///
/// Errors: [`DataError::FrameOfReference`] when the RTSTRUCT's frame of reference is not the
/// CT's (or missing).
pub fn rasterize(rt: &RtStruct, ct: &CtSeries) -> Result<Rasterized> {
    if rt.frame_of_reference_uid.as_deref() != Some(ct.frame_of_reference_uid.as_str()) {
        return Err(DataError::FrameOfReference {
            path: rt.path.clone(),
            found: rt
                .frame_of_reference_uid
                .clone()
                .unwrap_or_else(|| "(none)".into()),
            available: ct.frame_of_reference_uid.clone(),
        });
    }
    let g = &ct.volume.geometry;
    let [w, h, nz] = g.dims;
    let d = g.directions;
    let norm2 = |v: [f64; 3]| v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let (n0, n1, n2) = (norm2(d[0]), norm2(d[1]), norm2(d[2]));
    let slice_spacing = n2.sqrt();
    let normal = d[2].map(|x| x / slice_spacing.max(f64::MIN_POSITIVE));
    let key0 = dot(normal, g.origin);
    let by_uid: HashMap<&str, usize> = ct
        .sop_instance_uids
        .iter()
        .enumerate()
        .filter(|(_, u)| !u.is_empty())
        .map(|(k, u)| (u.as_str(), k))
        .collect();
    let mut warnings = Vec::new();
    let mut masks = Vec::with_capacity(rt.rois.len());
    let plane = w * h;
    for roi in &rt.rois {
        let mut per_slice: Vec<Vec<Vec<(i64, i64)>>> = vec![Vec::new(); nz];
        for (ci, c) in roi.contours.iter().enumerate() {
            let what = || format!("ROI {:?} contour {ci}", roi.name);
            if c.geometric_type != "CLOSED_PLANAR" {
                warnings.push(format!(
                    "{}: {} contour skipped (only CLOSED_PLANAR contours have an area)",
                    what(),
                    c.geometric_type
                ));
                continue;
            }
            if c.points_lps.is_empty() {
                warnings.push(format!("{}: no points, skipped", what()));
                continue;
            }
            let mut k = None;
            if let Some(uid) = &c.referenced_sop_uid {
                k = by_uid.get(uid.as_str()).copied();
                if k.is_none() {
                    warnings.push(format!(
                        "{}: references SOPInstanceUID {uid}, which is not in the CT series; \
                         matched by position instead",
                        what()
                    ));
                }
            }
            if k.is_none() {
                let m = c.points_lps.len() as f64;
                let mean = [0, 1, 2].map(|x| c.points_lps.iter().map(|p| p[x]).sum::<f64>() / m);
                let pos = (dot(normal, mean) - key0) / slice_spacing;
                let nearest = pos.round();
                // |pos - nearest| <= 0.5 always: in range means within half a spacing.
                if nz > 0 && nearest >= 0.0 && nearest <= (nz - 1) as f64 {
                    k = Some(nearest as usize);
                } else {
                    warnings.push(format!(
                        "{}: at {:.3} mm along the slice normal, no CT slice within half a \
                         spacing ({:.3} mm); skipped",
                        what(),
                        dot(normal, mean),
                        0.5 * slice_spacing
                    ));
                    continue;
                }
            }
            let Some(k) = k else { continue };
            let pixel: Vec<(f64, f64)> = c
                .points_lps
                .iter()
                .map(|p| {
                    let rel = [p[0] - g.origin[0], p[1] - g.origin[1], p[2] - g.origin[2]];
                    (
                        (dot(rel, d[0]) / n0).round_ties_even(),
                        (dot(rel, d[1]) / n1).round_ties_even(),
                    )
                })
                .collect();
            if pixel
                .iter()
                .any(|&(x, y)| !(x.abs() <= MAX_VERTEX_PIXELS && y.abs() <= MAX_VERTEX_PIXELS))
            {
                warnings.push(format!(
                    "{}: a point lies more than 2^30 pixels outside the image; skipped",
                    what()
                ));
                continue;
            }
            per_slice[k].push(
                pixel
                    .into_iter()
                    .map(|(x, y)| (x as i64, y as i64))
                    .collect(),
            );
        }
        let mut data = vec![0u8; g.len()];
        for (k, polys) in per_slice.iter().enumerate() {
            if !polys.is_empty() {
                fill_poly(&mut data[k * plane..(k + 1) * plane], w, h, polys);
            }
        }
        masks.push((
            roi.name.clone(),
            Volume {
                geometry: g.clone(),
                data,
            },
        ));
    }
    Ok(Rasterized { masks, warnings })
}

#[cfg(test)]
mod tests {
    use super::super::ct::{CtSeriesFiles, read_ct_series};
    use super::super::testutil::{Slice, ct_object, rtstruct_object, write};
    use super::*;

    /// Three 8x8 slices at z = 0, 2, 4 mm, 1 mm pixels, IPP (0, 0, z).
    fn ct(dir: &Path) -> CtSeries {
        let mut files = Vec::new();
        for (k, sop) in ["1.9.0", "1.9.1", "1.9.2"].iter().enumerate() {
            let s = Slice {
                series: "1.9",
                frame: "1.9.100",
                sop,
                instance: k as i32,
                ipp: [0.0, 0.0, 2.0 * k as f64],
                iop: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                spacing: [1.0, 1.0],
                rows: 8,
                cols: 8,
                stored: vec![0; 64],
                slope: 1.0,
                intercept: -1024.0,
            };
            let p = dir.join(format!("ct{k}.dcm"));
            write(ct_object(&s), &p, true);
            files.push(p);
        }
        read_ct_series(&CtSeriesFiles {
            series_instance_uid: "1.9".into(),
            files,
        })
        .unwrap()
    }

    fn pixels(m: &Mask, k: usize) -> Vec<(usize, usize)> {
        let [w, h, _] = m.geometry.dims;
        let mut out = Vec::new();
        for j in 0..h {
            for i in 0..w {
                if m.data[i + w * (j + h * k)] == 1 {
                    out.push((i, j));
                }
            }
        }
        out
    }

    #[test]
    fn contours_to_masks_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let ct = ct(dir.path());
        let rect = |x0: f64, y0: f64, x1: f64, y1: f64, z: f64| {
            vec![[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]]
        };
        let rois = [
            // Referenced to slice 1 by UID (its z is even wrong: the UID wins).
            (
                1,
                "Square",
                Some(vec![(
                    "CLOSED_PLANAR",
                    rect(1.0, 1.0, 4.2, 2.6, 9.0),
                    Some("1.9.1"),
                )]),
            ),
            (
                2,
                "Point",
                Some(vec![("POINT", vec![[3.0, 3.0, 2.0]], None)]),
            ),
            // No reference: nearest slice (z = 4.4 -> k = 2); one far outside the series.
            (
                3,
                "Nearest",
                Some(vec![
                    ("CLOSED_PLANAR", rect(5.5, 5.0, 6.0, 6.0, 4.4), None),
                    ("CLOSED_PLANAR", rect(0.0, 0.0, 1.0, 1.0, 7.5), None),
                ]),
            ),
            (4, "Empty", None),
            (5, "EmptySeq", Some(vec![])),
        ];
        let p = dir.path().join("rs.dcm");
        // Without a Part-10 header, like pydicom's rtstruct.dcm.
        write(rtstruct_object("1.9.100", &rois), &p, false);
        let rt = read_rtstruct(&p).unwrap();
        assert_eq!(rt.frame_of_reference_uid.as_deref(), Some("1.9.100"));
        assert_eq!(rt.rois.len(), 5);
        assert!(rt.rois[3].contours.is_empty() && rt.rois[4].contours.is_empty());
        let r = rasterize(&rt, &ct).unwrap();
        let names: Vec<&str> = r.masks.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Square", "Point", "Nearest", "Empty", "EmptySeq"]);
        // x 1..4.2 -> columns 1..=4 (4.2 rounds to 4), y 1..2.6 -> rows 1..=3 (2.6 -> 3).
        let square: Vec<(usize, usize)> =
            (1..=3).flat_map(|j| (1..=4).map(move |i| (i, j))).collect();
        assert_eq!(pixels(&r.masks[0].1, 1), square);
        assert!(pixels(&r.masks[0].1, 0).is_empty() && pixels(&r.masks[0].1, 2).is_empty());
        assert!(r.masks[1].1.data.iter().all(|&v| v == 0));
        // x 5.5 -> 6 (half to even), 6 -> 6; y 5..6: a 1x2 column.
        assert_eq!(pixels(&r.masks[2].1, 2), [(6, 5), (6, 6)]);
        assert_eq!(r.masks[2].1.data.iter().filter(|&&v| v == 1).count(), 2);
        assert!(r.masks[3].1.data.iter().all(|&v| v == 0));
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("POINT"));
        assert!(
            r.warnings[1].contains("\"Nearest\" contour 1"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn frame_of_reference_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let ct = ct(dir.path());
        let p = dir.path().join("rs.dcm");
        write(rtstruct_object("7.7.7", &[(1, "A", None)]), &p, true);
        let rt = read_rtstruct(&p).unwrap();
        match rasterize(&rt, &ct) {
            Err(DataError::FrameOfReference {
                path,
                found,
                available,
            }) => {
                assert_eq!(path, p);
                assert_eq!(found, "7.7.7");
                assert_eq!(available, "1.9.100");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Bit-for-bit against cv2.fillPoly (fixture written by scripts/fillpoly_reference.py).
    #[test]
    fn fill_poly_equals_opencv() {
        let text = include_str!("../../tests/fixtures/fillpoly_cv2.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let cases = v["cases"].as_array().unwrap();
        assert!(cases.len() >= 50);
        let mut bad = Vec::new();
        for (ci, c) in cases.iter().enumerate() {
            let w = c["w"].as_u64().unwrap() as usize;
            let h = c["h"].as_u64().unwrap() as usize;
            let polys: Vec<Vec<(i64, i64)>> = c["polys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    p.as_array()
                        .unwrap()
                        .iter()
                        .map(|xy| (xy[0].as_i64().unwrap(), xy[1].as_i64().unwrap()))
                        .collect()
                })
                .collect();
            let want: Vec<u8> = c["mask"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|row| row.as_str().unwrap().bytes().map(|b| b - b'0'))
                .collect();
            let mut img = vec![0u8; w * h];
            fill_poly(&mut img, w, h, &polys);
            if img != want {
                let diff = img.iter().zip(&want).filter(|(a, b)| a != b).count();
                bad.push((ci, diff));
            }
        }
        assert!(
            bad.is_empty(),
            "cases differing from cv2 (case, pixels): {bad:?}"
        );
    }

    #[test]
    fn ring_makes_a_hole_and_keeps_boundaries() {
        // Outer 0..=6 square, inner 2..=4 square: even-odd leaves the inner open interior
        // (3, 3) empty, but both outlines are filled (cv2 draws boundary lines).
        let mut img = vec![0u8; 8 * 8];
        let outer = vec![(0, 0), (6, 0), (6, 6), (0, 6)];
        let inner = vec![(2, 2), (4, 2), (4, 4), (2, 4)];
        fill_poly(&mut img, 8, 8, &[outer, inner]);
        let at = |x: usize, y: usize| img[y * 8 + x];
        assert_eq!(at(3, 3), 0);
        assert_eq!(at(2, 2), 1);
        assert_eq!(at(4, 3), 1);
        assert_eq!(at(1, 1), 1);
        assert_eq!(at(6, 6), 1);
        assert_eq!(at(7, 7), 0);
        // 7x7 outer minus the single hole pixel.
        assert_eq!(img.iter().map(|&v| v as usize).sum::<usize>(), 49 - 1);
    }
}
