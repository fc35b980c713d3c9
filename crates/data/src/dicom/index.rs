//! Header-only indexing of a DICOM tree: every file (any depth, hidden files skipped) opened
//! up to its Pixel Data, in parallel, and the attributes that group files into studies,
//! series and scans recorded. [`scan_dicom_dir`](super::scan_dicom_dir) (the `dicom`
//! layout) and the `nbia` layout ([`crate::nbia`]) both build on [`index_dicom_tree`].

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;

use super::{open_dicom, opt_str, seq_items};
use crate::error::{DataError, Result};

/// Folders nested deeper than this below the indexed folder are an error (a symbolic-link
/// loop would otherwise recurse without end).
pub const MAX_DEPTH: usize = 32;

/// What an RT Structure Set's header says about the CT it was drawn on, and its size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtStructHeader {
    /// StructureSetLabel.
    pub label: Option<String>,
    /// StructureSetDate (DA, `YYYYMMDD`).
    pub date: Option<String>,
    /// StructureSetTime (TM, `HHMMSS.FFFFFF`).
    pub time: Option<String>,
    /// ReferencedFrameOfReferenceSequence → RTReferencedStudySequence →
    /// RTReferencedSeriesSequence → SeriesInstanceUID, every one found.
    pub referenced_series: Vec<String>,
    /// ReferencedFrameOfReferenceSequence → FrameOfReferenceUID (else the top-level
    /// FrameOfReferenceUID).
    pub referenced_frames: Vec<String>,
    /// Items of StructureSetROISequence.
    pub rois: usize,
    /// ROIs whose ROIContourSequence item holds at least one contour.
    pub rois_with_contours: usize,
}

/// The grouping attributes of one readable DICOM file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHeader {
    /// The file.
    pub path: PathBuf,
    /// Modality (`CT`, `RTSTRUCT`, `MR`, ...).
    pub modality: Option<String>,
    /// PatientID.
    pub patient_id: Option<String>,
    /// StudyInstanceUID.
    pub study_instance_uid: Option<String>,
    /// StudyDate.
    pub study_date: Option<String>,
    /// SeriesInstanceUID.
    pub series_instance_uid: Option<String>,
    /// SeriesNumber as written.
    pub series_number: Option<String>,
    /// SeriesDescription.
    pub series_description: Option<String>,
    /// FrameOfReferenceUID.
    pub frame_of_reference_uid: Option<String>,
    /// ImageType values, upper case (`ORIGINAL`, `PRIMARY`, `AXIAL` / `LOCALIZER`, ...).
    pub image_type: Vec<String>,
    /// For an RTSTRUCT: its references and size.
    pub rtstruct: Option<RtStructHeader>,
}

/// Every file under a folder, by header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DicomIndex {
    /// Readable DICOM files, sorted by path.
    pub files: Vec<FileHeader>,
    /// Files that could not be read as DICOM, with the reason, sorted by path.
    pub unreadable: Vec<(PathBuf, String)>,
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(DataError::Layout {
            path: dir.to_path_buf(),
            detail: format!(
                "folders nested more than {MAX_DEPTH} levels deep (a symbolic-link loop?)"
            ),
        });
    }
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut entries: Vec<PathBuf> = rd
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| DataError::io(dir, e))?;
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, depth + 1, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// The files under `dir` (recursively, hidden files and folders skipped), sorted.
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    walk(dir, 0, &mut out)?;
    Ok(out)
}

fn rtstruct_header(obj: &InMemDicomObject) -> RtStructHeader {
    let mut h = RtStructHeader {
        label: opt_str(obj, tags::STRUCTURE_SET_LABEL),
        date: opt_str(obj, tags::STRUCTURE_SET_DATE),
        time: opt_str(obj, tags::STRUCTURE_SET_TIME),
        rois: seq_items(obj, tags::STRUCTURE_SET_ROI_SEQUENCE).len(),
        rois_with_contours: seq_items(obj, tags::ROI_CONTOUR_SEQUENCE)
            .iter()
            .filter(|it| !seq_items(it, tags::CONTOUR_SEQUENCE).is_empty())
            .count(),
        ..Default::default()
    };
    for fr in seq_items(obj, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE) {
        h.referenced_frames
            .extend(opt_str(fr, tags::FRAME_OF_REFERENCE_UID));
        for study in seq_items(fr, tags::RT_REFERENCED_STUDY_SEQUENCE) {
            for series in seq_items(study, tags::RT_REFERENCED_SERIES_SEQUENCE) {
                h.referenced_series
                    .extend(opt_str(series, tags::SERIES_INSTANCE_UID));
            }
        }
    }
    if h.referenced_frames.is_empty() {
        h.referenced_frames
            .extend(opt_str(obj, tags::FRAME_OF_REFERENCE_UID));
    }
    h
}

/// Reads one file's grouping attributes (header only: parsing stops at Pixel Data).
pub fn read_header(path: &Path) -> Result<FileHeader> {
    let obj = open_dicom(path, Some(tags::PIXEL_DATA))?;
    let modality = opt_str(&obj, tags::MODALITY).map(|m| m.to_ascii_uppercase());
    let image_type = obj
        .element_opt(tags::IMAGE_TYPE)
        .ok()
        .flatten()
        .and_then(|e| e.to_multi_str().ok().map(|v| v.to_vec()))
        .unwrap_or_default()
        .iter()
        .map(|s| s.trim().to_ascii_uppercase())
        .collect();
    Ok(FileHeader {
        path: path.to_path_buf(),
        rtstruct: (modality.as_deref() == Some("RTSTRUCT")).then(|| rtstruct_header(&obj)),
        modality,
        patient_id: opt_str(&obj, tags::PATIENT_ID),
        study_instance_uid: opt_str(&obj, tags::STUDY_INSTANCE_UID),
        study_date: opt_str(&obj, tags::STUDY_DATE),
        series_instance_uid: opt_str(&obj, tags::SERIES_INSTANCE_UID),
        series_number: opt_str(&obj, tags::SERIES_NUMBER),
        series_description: opt_str(&obj, tags::SERIES_DESCRIPTION),
        frame_of_reference_uid: opt_str(&obj, tags::FRAME_OF_REFERENCE_UID),
        image_type,
    })
}

/// Indexes every file under `dir` (any depth, hidden files skipped) by its header, in
/// parallel (rayon). No pixel data is parsed or decoded; each file's element lengths are
/// checked first (see [`open_dicom`](super)). Unreadable files are listed, never an error;
/// an unreadable folder is [`DataError::Io`].
pub fn index_dicom_tree(dir: &Path) -> Result<DicomIndex> {
    let files = list_files(dir)?;
    let read: Vec<(PathBuf, Result<FileHeader>)> = files
        .into_par_iter()
        .map(|p| {
            let h = read_header(&p);
            (p, h)
        })
        .collect();
    let mut out = DicomIndex::default();
    for (p, h) in read {
        match h {
            Ok(h) => out.files.push(h),
            Err(e) => out.unreadable.push((p, e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use dicom_core::{DataElement, PrimitiveValue, VR};

    use super::super::testutil::{Slice, ct_object, write};
    use super::*;

    fn slice(rows: u16) -> InMemDicomObject {
        ct_object(&Slice {
            series: "1.2.3.1",
            frame: "1.2.3.100",
            sop: "1.2.3.1.1",
            instance: 1,
            ipp: [0.0, 0.0, 0.0],
            iop: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            spacing: [1.0, 1.0],
            rows,
            cols: 4,
            stored: vec![0; rows as usize * 4],
            slope: 1.0,
            intercept: -1024.0,
        })
    }

    /// A header longer than the first 64 KiB prefix is read by the retry with a longer one;
    /// a file whose pixel data is cut short is refused even header-only.
    #[test]
    fn header_longer_than_the_first_prefix_and_cut_pixel_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = slice(2);
        o.put(DataElement::new(
            tags::IMAGE_COMMENTS,
            VR::UT,
            PrimitiveValue::from("x".repeat(200_000)),
        ));
        let p = dir.path().join("long.dcm");
        write(o, &p, true);
        let h = read_header(&p).unwrap();
        assert_eq!(h.modality.as_deref(), Some("CT"));
        assert_eq!(h.series_instance_uid.as_deref(), Some("1.2.3.1"));
        // 50,000 rows of 4 pixels (400 KB of pixel data), the last 1000 bytes cut off.
        let p = dir.path().join("cut.dcm");
        write(slice(50_000), &p, true);
        let full = std::fs::read(&p).unwrap();
        assert!(read_header(&p).is_ok());
        std::fs::write(&p, &full[..full.len() - 1000]).unwrap();
        let e = read_header(&p).unwrap_err().to_string();
        assert!(e.contains("cut.dcm") && e.contains("7FE0,0010"), "{e}");
    }
}
