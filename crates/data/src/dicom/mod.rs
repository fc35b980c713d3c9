//! DICOM readers built on dicom-rs 0.10 (pure Rust, including the JPEG 2000 decoder):
//! CT series ([`ct`]) and RT Structure Sets ([`rtstruct`]).
//!
//! Files with a Part-10 header (preamble + `DICM` + file meta group) are opened normally;
//! files without one (a bare data set, as pydicom's `rtstruct.dcm`) are read as Implicit VR
//! Little Endian, the DICOM default transfer syntax.

pub mod ct;
pub mod index;
pub mod rtstruct;

pub use ct::{CtSeries, CtSeriesFiles, DicomDir, read_ct_series, scan_dicom_dir};
pub use index::{DicomIndex, FileHeader, RtStructHeader, index_dicom_tree};
pub use rtstruct::{Contour, Rasterized, Roi, RtStruct, rasterize, read_rtstruct};

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;

use crate::error::{DataError, Result};

pub(crate) fn dicom_err(path: &Path, detail: impl std::fmt::Display) -> DataError {
    DataError::Dicom {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// True when the file carries the Part-10 `DICM` marker at byte 128.
fn has_part10_marker(path: &Path) -> Result<bool> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut b = [0u8; 4];
    if f.seek(SeekFrom::Start(128)).is_err() || f.read_exact(&mut b).is_err() {
        return Ok(false);
    }
    Ok(&b == b"DICM")
}

/// Opens a DICOM file as a file object (with a meta group). A file without a Part-10
/// header is read as a bare Implicit VR Little Endian data set and given a meta group.
/// `until`: stop before this tag (e.g. Pixel Data, for a header-only scan).
pub(crate) fn open_dicom(path: &Path, until: Option<Tag>) -> Result<DefaultDicomObject> {
    let part10 = has_part10_marker(path)?;
    if part10 && until == Some(tags::PIXEL_DATA) {
        // Header only: read a prefix of the file, check it up to the Pixel Data element
        // (lengths against the file's size) and parse it; the pixel data itself is never
        // read. A prefix too short (or any failure on a prefix) retries with four times as
        // much, up to the whole file, whose result stands.
        let size = std::fs::metadata(path)
            .map_err(|e| DataError::io(path, e))?
            .len();
        let mut want: u64 = 64 * 1024;
        loop {
            let whole = want >= size;
            let mut prefix = Vec::new();
            std::fs::File::open(path)
                .and_then(|f| f.take(want.min(size)).read_to_end(&mut prefix))
                .map_err(|e| DataError::io(path, e))?;
            let whole = whole || prefix.len() as u64 >= size;
            let parsed = check_lengths_part10(&prefix, size as usize, true)
                .map_err(|e| dicom_err(path, e))
                .and_then(|_| {
                    OpenFileOptions::new()
                        .read_until(tags::PIXEL_DATA)
                        .from_reader(&prefix[128.min(prefix.len())..])
                        .map_err(|e| dicom_err(path, e))
                });
            match parsed {
                Ok(obj) => return Ok(obj),
                Err(e) if whole => return Err(e),
                Err(_) => want = want.saturating_mul(4),
            }
        }
    }
    if part10 {
        // The element structure is checked first, on the file's bytes in memory: dicom-rs
        // allocates an element's declared length before reading it, so a corrupt length
        // would otherwise ask for gigabytes (issue 10 §3). Then parsed from that memory.
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        check_lengths_part10(&bytes, bytes.len(), false).map_err(|e| dicom_err(path, e))?;
        let mut opts = OpenFileOptions::new();
        if let Some(t) = until {
            opts = opts.read_until(t);
        }
        return opts
            .from_reader(&bytes[128..])
            .map_err(|e| dicom_err(path, e));
    }
    // Plausibility check before parsing (a text or image file would otherwise be parsed as
    // elements with absurd lengths): a bare data set starts with a group 0000-0008 tag whose
    // implicit-VR length fits in the file.
    let mut file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let size = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut head = [0u8; 8];
    let plausible = file.read_exact(&mut head).is_ok() && {
        let group = u16::from_le_bytes([head[0], head[1]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        group <= 0x0008 && group % 2 == 0 && u64::from(len) <= size
    };
    if !plausible {
        return Err(dicom_err(
            path,
            "not a DICOM file (no Part-10 header, and no plausible data set at its start)",
        ));
    }
    drop(file);
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    check_lengths(&bytes, 0, bytes.len(), false, 0)
        .map_err(|e| dicom_err(path, format!("no Part-10 header, and {e}")))?;
    let obj =
        InMemDicomObject::read_dataset_with_ts(&bytes[..], &IMPLICIT_VR_LITTLE_ENDIAN.erased())
            .map_err(|e| {
                dicom_err(
                    path,
                    format!(
                        "no Part-10 header, and not an Implicit VR Little Endian data set: {e}"
                    ),
                )
            })?;
    // A random binary file may parse as a few garbage elements: require an SOP Class UID.
    if obj
        .element_opt(tags::SOP_CLASS_UID)
        .ok()
        .flatten()
        .is_none()
    {
        return Err(dicom_err(
            path,
            "not a DICOM file (no Part-10 header and no SOP Class UID)",
        ));
    }
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(IMPLICIT_VR_LITTLE_ENDIAN.uid()))
        .map_err(|e| dicom_err(path, e))
}

const UNDEFINED: u32 = 0xFFFF_FFFF;

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Checks the element lengths of a Part-10 file (`DICM` at 128): the meta group (explicit
/// VR little endian), then the data set in its transfer syntax when that is implicit or
/// explicit VR little endian or an encapsulated (compressed) one; deflated and big-endian
/// data sets are left to dicom-rs. `b` may be a prefix of the file (`size` bytes): lengths
/// are checked against `size`, and reading past `b` is an error ("cut short"). With
/// `header_only` the walk stops at the top-level Pixel Data element.
fn check_lengths_part10(
    b: &[u8],
    size: usize,
    header_only: bool,
) -> std::result::Result<(), String> {
    let mut pos = 132;
    let mut ts = String::new();
    // Meta group: (0002,xxxx) elements, explicit VR LE.
    while le16(b, pos) == Some(0x0002) {
        let (len, hdr) = explicit_header(b, pos)?;
        let end = pos + hdr + len as usize;
        if len == UNDEFINED || end > b.len() {
            // (The meta group is always within the prefix read: a retry reads more.)
            return Err(format!(
                "meta element at byte {pos} declares {len} bytes, beyond the file's end"
            ));
        }
        if le16(b, pos + 2) == Some(0x0010) {
            ts = String::from_utf8_lossy(&b[pos + hdr..end])
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string();
        }
        pos = end;
    }
    match ts.as_str() {
        "1.2.840.10008.1.2" => walk(b, &mut pos, size, false, 0, header_only).map(|_| ()),
        "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.2" => Ok(()),
        _ => walk(b, &mut pos, size, true, 0, header_only).map(|_| ()),
    }
}

/// Explicit VR header at `pos`: (length, header size).
fn explicit_header(b: &[u8], pos: usize) -> std::result::Result<(u32, usize), String> {
    let cut = || format!("element header cut short at byte {pos}");
    let vr = b.get(pos + 4..pos + 6).ok_or_else(cut)?;
    // VRs with a 2-byte length (PS3.5 7.1.2); every other one, unknown VRs included (read
    // as UN, as dicom-rs does), has 2 reserved bytes and a 4-byte length.
    if matches!(
        vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    ) {
        Ok((u32::from(le16(b, pos + 6).ok_or_else(cut)?), 8))
    } else {
        Ok((le32(b, pos + 8).ok_or_else(cut)?, 12))
    }
}

/// Walks the data set in `b[pos..end]`, checking that every element, item and fragment
/// fits in what is left (undefined lengths followed through their delimiters). Returns
/// an error naming the first element that does not. Item and sequence delimiters end the
/// walk (the caller checks which). Depth is bounded (64 nested sequences).
fn check_lengths(
    b: &[u8],
    mut pos: usize,
    end: usize,
    explicit: bool,
    depth: usize,
) -> std::result::Result<(), String> {
    walk(b, &mut pos, end, explicit, depth, false).map(|_| ())
}

/// Returns `Some(delimiter element)` when a delimiter (FFFE,E00D / E0DD) ended the walk.
/// `stop_at_pixels`: end the walk (Ok) at a Pixel Data element, after checking its length.
fn walk(
    b: &[u8],
    pos: &mut usize,
    end: usize,
    explicit: bool,
    depth: usize,
    stop_at_pixels: bool,
) -> std::result::Result<Option<u16>, String> {
    if depth > 64 {
        return Err("sequences nested more than 64 deep".into());
    }
    while *pos < end {
        let at = *pos;
        let cut = || format!("element header cut short at byte {at}");
        let group = le16(b, at).ok_or_else(cut)?;
        let elem = le16(b, at + 2).ok_or_else(cut)?;
        if group == 0xFFFE {
            let len = le32(b, at + 4).ok_or_else(cut)?;
            *pos = at + 8;
            match elem {
                0xE00D | 0xE0DD => return Ok(Some(elem)),
                _ => {
                    return Err(format!(
                        "item (FFFE,{elem:04X}) outside a sequence at byte {at} (length {len})"
                    ));
                }
            }
        }
        let (len, hdr) = if explicit {
            explicit_header(b, at)?
        } else {
            (le32(b, at + 4).ok_or_else(cut)?, 8)
        };
        *pos = at + hdr;
        let sq = explicit && b.get(at + 4..at + 6) == Some(b"SQ");
        let pixel_data = (group, elem) == (0x7FE0, 0x0010);
        if pixel_data && stop_at_pixels {
            if len != UNDEFINED && *pos + len as usize > end {
                return Err(format!(
                    "element ({group:04X},{elem:04X}) at byte {at} declares {len} bytes, only {} \
                     remain",
                    end.saturating_sub(*pos)
                ));
            }
            return Ok(None);
        }
        if len == UNDEFINED {
            // A sequence (or UN / encapsulated pixel data): items until (FFFE,E0DD).
            items(
                b,
                pos,
                end,
                explicit && !b"UN".eq(&b[at + 4..at + 6]),
                depth,
                pixel_data,
            )?;
            continue;
        }
        let stop = *pos + len as usize;
        if stop > end {
            return Err(format!(
                "element ({group:04X},{elem:04X}) at byte {at} declares {len} bytes, only {} \
                 remain",
                end - *pos
            ));
        }
        if sq {
            let mut p = *pos;
            items(b, &mut p, stop, explicit, depth, false)?;
        }
        *pos = stop;
    }
    Ok(None)
}

/// Walks the items of a sequence (or the fragments of encapsulated pixel data, whose
/// contents are not data sets) up to its delimiter or `end`.
fn items(
    b: &[u8],
    pos: &mut usize,
    end: usize,
    explicit: bool,
    depth: usize,
    fragments: bool,
) -> std::result::Result<(), String> {
    while *pos < end {
        let at = *pos;
        let cut = || format!("item header cut short at byte {at}");
        let (group, elem) = (
            le16(b, at).ok_or_else(cut)?,
            le16(b, at + 2).ok_or_else(cut)?,
        );
        let len = le32(b, at + 4).ok_or_else(cut)?;
        *pos = at + 8;
        match (group, elem) {
            (0xFFFE, 0xE0DD) => return Ok(()),
            (0xFFFE, 0xE000) if len == UNDEFINED && !fragments => {
                match walk(b, pos, end, explicit, depth + 1, false)? {
                    Some(0xE00D) => {}
                    _ => return Err(format!("item at byte {at} has no item delimiter")),
                }
            }
            (0xFFFE, 0xE000) if len != UNDEFINED => {
                let stop = *pos + len as usize;
                if stop > end {
                    return Err(format!(
                        "item at byte {at} declares {len} bytes, only {} remain",
                        end - *pos
                    ));
                }
                if !fragments {
                    check_lengths(b, *pos, stop, explicit, depth + 1)?;
                }
                *pos = stop;
            }
            _ => {
                return Err(format!(
                    "expected an item at byte {at}, found ({group:04X},{elem:04X})"
                ));
            }
        }
    }
    Ok(())
}

/// The items of sequence attribute `tag` (none when absent or not a sequence).
pub(crate) fn seq_items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.items())
        .unwrap_or(&[])
}

/// A string attribute, trimmed; `None` when absent or empty.
pub(crate) fn opt_str(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = obj.element_opt(tag).ok().flatten()?;
    let s = e.to_str().ok()?;
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!s.is_empty()).then(|| s.to_string())
}

/// A required string attribute.
pub(crate) fn req_str(path: &Path, obj: &InMemDicomObject, tag: Tag, name: &str) -> Result<String> {
    opt_str(obj, tag).ok_or_else(|| dicom_err(path, format!("missing {name}")))
}

/// A required multi-valued decimal attribute with exactly `n` values.
pub(crate) fn req_floats(
    path: &Path,
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
    n: usize,
) -> Result<Vec<f64>> {
    let e = obj
        .element_opt(tag)
        .ok()
        .flatten()
        .ok_or_else(|| dicom_err(path, format!("missing {name}")))?;
    let v = e
        .to_multi_float64()
        .map_err(|err| dicom_err(path, format!("{name}: {err}")))?;
    if v.len() != n || v.iter().any(|x| !x.is_finite()) {
        return Err(dicom_err(
            path,
            format!("{name} must hold {n} finite numbers, found {v:?}"),
        ));
    }
    Ok(v)
}

/// Minimal DICOM writers for unit tests (CT slices and RT Structure Sets), built with
/// dicom-object's `InMemDicomObject`.
#[cfg(test)]
pub(crate) mod testutil {
    use std::path::Path;

    use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;
    use dicom_object::meta::FileMetaTableBuilder;
    use dicom_transfer_syntax_registry::entries::{
        EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
    };

    pub const CT_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
    pub const RTSTRUCT_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.481.3";

    fn ds(values: &[f64]) -> PrimitiveValue {
        PrimitiveValue::Strs(values.iter().map(|v| format!("{v}")).collect())
    }

    /// One CT slice description.
    pub struct Slice<'a> {
        pub series: &'a str,
        pub frame: &'a str,
        pub sop: &'a str,
        pub instance: i32,
        pub ipp: [f64; 3],
        pub iop: [f64; 6],
        pub spacing: [f64; 2],
        pub rows: u16,
        pub cols: u16,
        /// Stored values (signed 16 bit), row-major.
        pub stored: Vec<i16>,
        pub slope: f64,
        pub intercept: f64,
    }

    pub fn ct_object(s: &Slice) -> InMemDicomObject {
        let bytes: Vec<u8> = s.stored.iter().flat_map(|v| v.to_le_bytes()).collect();
        InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::SOP_CLASS_UID,
                VR::UI,
                PrimitiveValue::from(CT_STORAGE),
            ),
            DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, PrimitiveValue::from(s.sop)),
            DataElement::new(tags::MODALITY, VR::CS, PrimitiveValue::from("CT")),
            DataElement::new(tags::PATIENT_ID, VR::LO, PrimitiveValue::from("P-7")),
            DataElement::new(
                tags::SERIES_INSTANCE_UID,
                VR::UI,
                PrimitiveValue::from(s.series),
            ),
            DataElement::new(
                tags::INSTANCE_NUMBER,
                VR::IS,
                dicom_value!(Str, s.instance.to_string()),
            ),
            DataElement::new(tags::IMAGE_POSITION_PATIENT, VR::DS, ds(&s.ipp)),
            DataElement::new(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, ds(&s.iop)),
            DataElement::new(
                tags::FRAME_OF_REFERENCE_UID,
                VR::UI,
                PrimitiveValue::from(s.frame),
            ),
            DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, dicom_value!(U16, 1)),
            DataElement::new(
                tags::PHOTOMETRIC_INTERPRETATION,
                VR::CS,
                PrimitiveValue::from("MONOCHROME2"),
            ),
            DataElement::new(tags::ROWS, VR::US, dicom_value!(U16, s.rows)),
            DataElement::new(tags::COLUMNS, VR::US, dicom_value!(U16, s.cols)),
            DataElement::new(tags::PIXEL_SPACING, VR::DS, ds(&s.spacing)),
            DataElement::new(tags::BITS_ALLOCATED, VR::US, dicom_value!(U16, 16)),
            DataElement::new(tags::BITS_STORED, VR::US, dicom_value!(U16, 16)),
            DataElement::new(tags::HIGH_BIT, VR::US, dicom_value!(U16, 15)),
            DataElement::new(tags::PIXEL_REPRESENTATION, VR::US, dicom_value!(U16, 1)),
            DataElement::new(tags::RESCALE_INTERCEPT, VR::DS, ds(&[s.intercept])),
            DataElement::new(tags::RESCALE_SLOPE, VR::DS, ds(&[s.slope])),
            DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::from(bytes)),
        ])
    }

    /// Writes `obj` with a Part-10 header (explicit VR LE), or as a bare implicit VR LE data
    /// set without preamble and meta group when `part10` is false.
    pub fn write(obj: InMemDicomObject, path: &Path, part10: bool) {
        if part10 {
            obj.with_meta(
                FileMetaTableBuilder::new().transfer_syntax(EXPLICIT_VR_LITTLE_ENDIAN.uid()),
            )
            .unwrap()
            .write_to_file(path)
            .unwrap();
        } else {
            let f = std::fs::File::create(path).unwrap();
            obj.write_dataset_with_ts(f, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
                .unwrap();
        }
    }

    /// One contour: geometric type, points (LPS mm), referenced SOP UID.
    pub type TestContour<'a> = (&'a str, Vec<[f64; 3]>, Option<&'a str>);

    /// An RT Structure Set. `rois`: (number, name, contours; `None` = ROIContourSequence item
    /// without ContourSequence).
    pub fn rtstruct_object(
        frame: &str,
        rois: &[(i32, &str, Option<Vec<TestContour>>)],
    ) -> InMemDicomObject {
        let item =
            |els: Vec<DataElement<InMemDicomObject>>| InMemDicomObject::from_element_iter(els);
        let seq = |tag, items: Vec<InMemDicomObject>| {
            DataElement::new(tag, VR::SQ, dicom_core::value::DataSetSequence::from(items))
        };
        let ss: Vec<InMemDicomObject> = rois
            .iter()
            .map(|(n, name, _)| {
                item(vec![
                    DataElement::new(tags::ROI_NUMBER, VR::IS, dicom_value!(Str, n.to_string())),
                    DataElement::new(tags::ROI_NAME, VR::LO, PrimitiveValue::from(*name)),
                ])
            })
            .collect();
        let rc: Vec<InMemDicomObject> = rois
            .iter()
            .map(|(n, _, contours)| {
                let mut els = vec![DataElement::new(
                    tags::REFERENCED_ROI_NUMBER,
                    VR::IS,
                    dicom_value!(Str, n.to_string()),
                )];
                if let Some(cs) = contours {
                    let items = cs
                        .iter()
                        .map(|(kind, pts, sop)| {
                            let flat: Vec<f64> = pts.iter().flatten().copied().collect();
                            let mut e = vec![
                                DataElement::new(
                                    tags::CONTOUR_GEOMETRIC_TYPE,
                                    VR::CS,
                                    PrimitiveValue::from(*kind),
                                ),
                                DataElement::new(
                                    tags::NUMBER_OF_CONTOUR_POINTS,
                                    VR::IS,
                                    dicom_value!(Str, pts.len().to_string()),
                                ),
                                DataElement::new(tags::CONTOUR_DATA, VR::DS, ds(&flat)),
                            ];
                            if let Some(sop) = sop {
                                e.push(seq(
                                    tags::CONTOUR_IMAGE_SEQUENCE,
                                    vec![item(vec![
                                        DataElement::new(
                                            tags::REFERENCED_SOP_CLASS_UID,
                                            VR::UI,
                                            PrimitiveValue::from(CT_STORAGE),
                                        ),
                                        DataElement::new(
                                            tags::REFERENCED_SOP_INSTANCE_UID,
                                            VR::UI,
                                            PrimitiveValue::from(*sop),
                                        ),
                                    ])],
                                ));
                            }
                            item(e)
                        })
                        .collect();
                    els.push(seq(tags::CONTOUR_SEQUENCE, items));
                }
                item(els)
            })
            .collect();
        InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::SOP_CLASS_UID,
                VR::UI,
                PrimitiveValue::from(RTSTRUCT_STORAGE),
            ),
            DataElement::new(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                PrimitiveValue::from("1.2.3.999"),
            ),
            DataElement::new(tags::MODALITY, VR::CS, PrimitiveValue::from("RTSTRUCT")),
            seq(
                tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
                vec![item(vec![DataElement::new(
                    tags::FRAME_OF_REFERENCE_UID,
                    VR::UI,
                    PrimitiveValue::from(frame),
                )])],
            ),
            seq(tags::STRUCTURE_SET_ROI_SEQUENCE, ss),
            seq(tags::ROI_CONTOUR_SEQUENCE, rc),
        ])
    }
}
