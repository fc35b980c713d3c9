//! The `nbia` layout: a DICOM tree of any depth, one file per instance, folder names
//! meaningless, as the TCIA/NBIA downloader and most PACS exports write it
//! (`<Collection>/<PatientID>/<date-StudyDescription-StudyUID>/<n-SeriesDescription-SeriesUID>/1-001.dcm`).
//!
//! Every file is indexed by its header only ([`crate::dicom::index_dicom_tree`]); files are
//! grouped StudyInstanceUID → SeriesInstanceUID. A **scan** is one CT series plus the
//! RTSTRUCT that references it:
//! 1. by series: ReferencedFrameOfReferenceSequence → RTReferencedStudySequence →
//!    RTReferencedSeriesSequence → SeriesInstanceUID names the CT series;
//! 2. else by frame of reference: the CT series whose FrameOfReferenceUID is the one the
//!    RTSTRUCT references (several: those of the RTSTRUCT's own study; still several:
//!    ambiguous, the RTSTRUCT is skipped).
//!
//! Several RTSTRUCTs for one CT series: [`RtStructChoice`] (`--rtstruct`) picks one, with a
//! warning naming the others. Everything else is skipped and listed ([`SkippedSeries`]),
//! never an error: CT series without an RTSTRUCT, other modalities (MR, PT, SEG, RTDOSE,
//! RTPLAN, REG, ...), localizer / scout CT series (one slice, or ImageType containing
//! `LOCALIZER`), RTSTRUCTs referencing no indexed CT, RTSTRUCTs not chosen, unreadable files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dicom::ct::CtSeriesFiles;
use crate::dicom::{FileHeader, index_dicom_tree};
use crate::error::{DataError, Result};

/// Which RTSTRUCT to read when several reference one CT series (`--rtstruct`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum RtStructChoice {
    /// The latest StructureSetDate + StructureSetTime (missing = oldest; ties: first path).
    #[default]
    Newest,
    /// The most ROIs with at least one contour (ties: newest).
    Largest,
    /// The one whose StructureSetLabel is this (exact, whitespace-trimmed; several: newest).
    Label(String),
}

impl std::fmt::Display for RtStructChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RtStructChoice::Newest => f.write_str("newest"),
            RtStructChoice::Largest => f.write_str("largest"),
            RtStructChoice::Label(l) => write!(f, "label:{l}"),
        }
    }
}

impl std::str::FromStr for RtStructChoice {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |detail: String| DataError::InvalidConfig {
            field: "rtstruct",
            detail,
        };
        match s {
            "newest" => Ok(RtStructChoice::Newest),
            "largest" => Ok(RtStructChoice::Largest),
            _ => match s.strip_prefix("label:") {
                Some(l) if !l.trim().is_empty() => Ok(RtStructChoice::Label(l.trim().to_string())),
                Some(_) => Err(bad(
                    "label: needs a StructureSetLabel after the colon".into()
                )),
                None => Err(bad(format!(
                    "{s:?}: expected newest, largest or label:<StructureSetLabel>"
                ))),
            },
        }
    }
}

impl From<RtStructChoice> for String {
    fn from(c: RtStructChoice) -> String {
        c.to_string()
    }
}

impl TryFrom<String> for RtStructChoice {
    type Error = DataError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

/// Why a series (or a file) was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// A CT series no RTSTRUCT references.
    NoRtstruct,
    /// A CT series whose RTSTRUCTs carry none of the `--rtstruct label:` label.
    NoRtstructWithLabel,
    /// A localizer / scout CT series (one slice, or ImageType LOCALIZER).
    Localizer,
    /// Not CT and not RTSTRUCT (MR, PT, SEG, RTDOSE, RTPLAN, REG, ...), or no Modality.
    Modality,
    /// An RTSTRUCT referencing no indexed CT series.
    RtstructWithoutCt,
    /// An RTSTRUCT whose frame of reference several CT series share, naming none.
    RtstructAmbiguous,
    /// An RTSTRUCT for a CT series that has another one, chosen by `--rtstruct`.
    RtstructNotChosen,
    /// A file that is not readable DICOM.
    Unreadable,
}

impl SkipKind {
    /// The snake_case name (as in `dataset.json`).
    pub fn as_str(&self) -> &'static str {
        match self {
            SkipKind::NoRtstruct => "no_rtstruct",
            SkipKind::NoRtstructWithLabel => "no_rtstruct_with_label",
            SkipKind::Localizer => "localizer",
            SkipKind::Modality => "modality",
            SkipKind::RtstructWithoutCt => "rtstruct_without_ct",
            SkipKind::RtstructAmbiguous => "rtstruct_ambiguous",
            SkipKind::RtstructNotChosen => "rtstruct_not_chosen",
            SkipKind::Unreadable => "unreadable",
        }
    }
}

/// A series (or one unreadable file, or one RTSTRUCT file) the `nbia` layout did not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedSeries {
    /// Why.
    pub kind: SkipKind,
    /// The reason in words (what was found).
    pub detail: String,
    /// Modality, when read.
    pub modality: Option<String>,
    /// PatientID, when read.
    pub patient_id: Option<String>,
    /// StudyInstanceUID, when read.
    pub study_instance_uid: Option<String>,
    /// SeriesInstanceUID, when read.
    pub series_instance_uid: Option<String>,
    /// SeriesDescription, when read.
    pub series_description: Option<String>,
    /// Number of files.
    pub files: usize,
    /// The first file (by path).
    pub first_file: PathBuf,
}

/// One scan of the `nbia` layout: a CT series and the RTSTRUCT chosen for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbiaScan {
    /// Scan id: `<PatientID>/<StudyDate>-<study hash>/<SeriesNumber>-<series hash>` (hashes:
    /// the first 8 hex digits of the SHA-256 of the UID), unique in the input.
    pub id: String,
    /// PatientID of the CT series (`None` when absent).
    pub patient_id: Option<String>,
    /// StudyInstanceUID of the CT series.
    pub study_instance_uid: Option<String>,
    /// The CT series' files.
    pub ct: CtSeriesFiles,
    /// The RTSTRUCT file read.
    pub rtstruct: PathBuf,
    /// Its StructureSetLabel.
    pub rtstruct_label: Option<String>,
    /// The other RTSTRUCTs referencing this CT (not read).
    pub other_rtstructs: Vec<PathBuf>,
}

/// What [`index_nbia`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NbiaIndex {
    /// The scans, sorted by id.
    pub scans: Vec<NbiaScan>,
    /// What was not used and why, sorted by kind then first file.
    pub skipped: Vec<SkippedSeries>,
    /// Notes: several RTSTRUCTs for one CT (which one was chosen), missing PatientIDs.
    pub warnings: Vec<String>,
    /// Files indexed (readable DICOM or not).
    pub files: usize,
}

/// First 8 hex digits of the SHA-256 of `s`.
fn short_hash(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// File-name-safe id component: ASCII letters, digits, `.`, `_`, `-`; others become `_`.
fn id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One series of files sharing (modality, series key).
struct Group<'a> {
    files: Vec<&'a FileHeader>,
}

impl<'a> Group<'a> {
    fn first(&self) -> &'a FileHeader {
        self.files[0]
    }
    fn skipped(&self, kind: SkipKind, detail: String) -> SkippedSeries {
        let h = self.first();
        SkippedSeries {
            kind,
            detail,
            modality: h.modality.clone(),
            patient_id: h.patient_id.clone(),
            study_instance_uid: h.study_instance_uid.clone(),
            series_instance_uid: h.series_instance_uid.clone(),
            series_description: h.series_description.clone(),
            files: self.files.len(),
            first_file: h.path.clone(),
        }
    }
}

fn skipped_file(h: &FileHeader, kind: SkipKind, detail: String) -> SkippedSeries {
    Group { files: vec![h] }.skipped(kind, detail)
}

/// `label (date time, N ROIs with contours) path` of an RTSTRUCT, for messages.
fn describe_rt(h: &FileHeader) -> String {
    let rt = h.rtstruct.clone().unwrap_or_default();
    format!(
        "{} (label {:?}, {} {}, {} ROIs with contours)",
        h.path.display(),
        rt.label.as_deref().unwrap_or(""),
        rt.date.as_deref().unwrap_or("no date"),
        rt.time.as_deref().unwrap_or(""),
        rt.rois_with_contours
    )
}

/// Sort key for "newest first": (date, time) descending, then path ascending.
fn newest_first(a: &FileHeader, b: &FileHeader) -> std::cmp::Ordering {
    let key = |h: &FileHeader| {
        let rt = h.rtstruct.clone().unwrap_or_default();
        (
            rt.date.unwrap_or_default(),
            // TM may omit trailing components (`1200` = `120000`): pad for comparison.
            format!("{:0<13}", rt.time.unwrap_or_default()),
        )
    };
    key(b).cmp(&key(a)).then_with(|| a.path.cmp(&b.path))
}

/// Indexes the tree under `root` (header only) and forms the scans (see the module doc).
///
/// Errors: no readable DICOM file under `root`; `--rtstruct label:L` when no RTSTRUCT in the
/// tree carries label L (the error lists the labels found); an unreadable folder.
pub fn index_nbia(root: &Path, choice: &RtStructChoice) -> Result<NbiaIndex> {
    let index = index_dicom_tree(root)?;
    let mut out = NbiaIndex {
        files: index.files.len() + index.unreadable.len(),
        ..Default::default()
    };
    if index.files.is_empty() {
        return Err(DataError::Layout {
            path: root.to_path_buf(),
            detail: format!(
                "nbia layout: no readable DICOM file under this folder ({} files{})",
                index.unreadable.len(),
                index
                    .unreadable
                    .first()
                    .map(|(p, why)| format!("; first: {}: {why}", p.display()))
                    .unwrap_or_default()
            ),
        });
    }
    for (p, why) in &index.unreadable {
        out.skipped.push(SkippedSeries {
            kind: SkipKind::Unreadable,
            detail: why.clone(),
            modality: None,
            patient_id: None,
            study_instance_uid: None,
            series_instance_uid: None,
            series_description: None,
            files: 1,
            first_file: p.clone(),
        });
    }
    // Series: (modality, SeriesInstanceUID, or FrameOfReferenceUID when it is missing);
    // RTSTRUCTs are taken file by file (each file is one structure set).
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut rtstructs: Vec<&FileHeader> = Vec::new();
    for h in &index.files {
        let modality = h.modality.clone().unwrap_or_default();
        if modality == "RTSTRUCT" {
            rtstructs.push(h);
            continue;
        }
        let key = match (&h.series_instance_uid, &h.frame_of_reference_uid) {
            (Some(s), _) => s.clone(),
            (None, Some(f)) => format!("frame {f}"),
            (None, None) => format!("file {}", h.path.display()),
        };
        groups
            .entry((modality, key))
            .or_insert_with(|| Group { files: Vec::new() })
            .files
            .push(h);
    }
    // CT series that can be scans; everything else skipped.
    let mut cts: Vec<(String, Group)> = Vec::new();
    for ((modality, key), g) in groups {
        if modality != "CT" {
            let detail = if modality.is_empty() {
                "no Modality".to_string()
            } else {
                format!("modality {modality}, not CT or RTSTRUCT")
            };
            out.skipped.push(g.skipped(SkipKind::Modality, detail));
            continue;
        }
        let localizer = g
            .files
            .iter()
            .any(|h| h.image_type.iter().any(|t| t == "LOCALIZER"));
        if localizer || g.files.len() == 1 {
            let detail = if localizer {
                format!(
                    "localizer CT series (ImageType LOCALIZER, {} files)",
                    g.files.len()
                )
            } else {
                "localizer / scout CT series (one slice: one file; a multi-frame CT file would \
                 be unsupported anyway)"
                    .to_string()
            };
            out.skipped.push(g.skipped(SkipKind::Localizer, detail));
            continue;
        }
        cts.push((key, g));
    }
    if let RtStructChoice::Label(l) = choice
        && !rtstructs
            .iter()
            .any(|h| h.rtstruct.as_ref().and_then(|r| r.label.as_deref()) == Some(l.as_str()))
    {
        let labels: BTreeSet<String> = rtstructs
            .iter()
            .map(|h| {
                h.rtstruct
                    .as_ref()
                    .and_then(|r| r.label.clone())
                    .map(|l| format!("{l:?}"))
                    .unwrap_or_else(|| "(no label)".into())
            })
            .collect();
        return Err(DataError::InvalidConfig {
            field: "rtstruct",
            detail: format!(
                "label:{l}: no RTSTRUCT under {} has StructureSetLabel {l:?}; labels found: {}",
                root.display(),
                if labels.is_empty() {
                    "none (no RTSTRUCT)".to_string()
                } else {
                    labels.into_iter().collect::<Vec<_>>().join(", ")
                }
            ),
        });
    }
    // RTSTRUCT → CT series.
    let mut attached: Vec<Vec<&FileHeader>> = vec![Vec::new(); cts.len()];
    for rt_file in &rtstructs {
        let rt = rt_file.rtstruct.clone().unwrap_or_default();
        let by_series: Vec<usize> = (0..cts.len())
            .filter(|&i| rt.referenced_series.contains(&cts[i].0))
            .collect();
        let matched = if !by_series.is_empty() {
            by_series
        } else {
            let by_frame: Vec<usize> = (0..cts.len())
                .filter(|&i| {
                    cts[i]
                        .1
                        .first()
                        .frame_of_reference_uid
                        .as_ref()
                        .is_some_and(|f| rt.referenced_frames.contains(f))
                })
                .collect();
            let same_study: Vec<usize> = by_frame
                .iter()
                .copied()
                .filter(|&i| cts[i].1.first().study_instance_uid == rt_file.study_instance_uid)
                .collect();
            match (by_frame.len(), same_study.len()) {
                (1, _) => by_frame,
                (_, 1) => same_study,
                (0, _) => {
                    out.skipped.push(skipped_file(
                        rt_file,
                        SkipKind::RtstructWithoutCt,
                        format!(
                            "RTSTRUCT references no indexed CT series (referenced series: \
                             {}; frame of reference: {})",
                            if rt.referenced_series.is_empty() {
                                "none".to_string()
                            } else {
                                rt.referenced_series.join(", ")
                            },
                            if rt.referenced_frames.is_empty() {
                                "none".to_string()
                            } else {
                                rt.referenced_frames.join(", ")
                            }
                        ),
                    ));
                    continue;
                }
                _ => {
                    out.skipped.push(skipped_file(
                        rt_file,
                        SkipKind::RtstructAmbiguous,
                        format!(
                            "RTSTRUCT names no CT series and {} CT series share its frame of \
                             reference: {}",
                            by_frame.len(),
                            by_frame
                                .iter()
                                .map(|&i| cts[i].0.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                    continue;
                }
            }
        };
        for i in matched {
            attached[i].push(rt_file);
        }
    }
    // One scan per CT series with an RTSTRUCT.
    let mut scans = Vec::new();
    let mut missing_patient = 0usize;
    for ((uid, g), mut rts) in cts.into_iter().zip(attached) {
        if rts.is_empty() {
            out.skipped.push(g.skipped(
                SkipKind::NoRtstruct,
                "CT series without an RTSTRUCT referencing it".into(),
            ));
            continue;
        }
        let label_of = |h: &FileHeader| h.rtstruct.as_ref().and_then(|r| r.label.clone());
        if let RtStructChoice::Label(l) = choice {
            let (keep, other): (Vec<&FileHeader>, Vec<&FileHeader>) = rts
                .iter()
                .copied()
                .partition(|h| label_of(h).as_deref() == Some(l.as_str()));
            if keep.is_empty() {
                out.skipped.push(g.skipped(
                    SkipKind::NoRtstructWithLabel,
                    format!(
                        "none of its RTSTRUCTs has StructureSetLabel {l:?} (labels: {})",
                        other
                            .iter()
                            .map(|h| format!("{:?}", label_of(h).unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                continue;
            }
            for h in &other {
                out.skipped.push(skipped_file(
                    h,
                    SkipKind::RtstructNotChosen,
                    format!("--rtstruct label:{l}: its label is not {l:?}"),
                ));
            }
            rts = keep;
        }
        rts.sort_by(|a, b| newest_first(a, b));
        if *choice == RtStructChoice::Largest {
            // Stable sort: ties stay newest first.
            rts.sort_by_key(|h| {
                std::cmp::Reverse(h.rtstruct.as_ref().map_or(0, |r| r.rois_with_contours))
            });
        }
        let h = g.first();
        let ct = CtSeriesFiles {
            series_instance_uid: h.series_instance_uid.clone().unwrap_or_default(),
            files: g.files.iter().map(|f| f.path.clone()).collect(),
        };
        let patient = h.patient_id.clone();
        if patient.is_none() {
            missing_patient += 1;
        }
        let study_uid = h.study_instance_uid.clone();
        let id = format!(
            "{}/{}-{}/{}-{}",
            id_part(patient.as_deref().unwrap_or("no-patient-id")),
            id_part(h.study_date.as_deref().unwrap_or("nodate")),
            short_hash(study_uid.as_deref().unwrap_or("")),
            id_part(h.series_number.as_deref().unwrap_or("x")),
            short_hash(&uid)
        );
        let chosen = rts[0];
        let others: Vec<&FileHeader> = rts[1..].to_vec();
        if !others.is_empty() {
            out.warnings.push(format!(
                "scan {id}: {} RTSTRUCTs reference CT series {uid}; --rtstruct {choice} chose {}; \
                 not used: {}",
                rts.len(),
                describe_rt(chosen),
                others
                    .iter()
                    .map(|h| describe_rt(h))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
            for o in &others {
                out.skipped.push(skipped_file(
                    o,
                    SkipKind::RtstructNotChosen,
                    format!(
                        "--rtstruct {choice} chose {} for CT series {uid}",
                        chosen.path.display()
                    ),
                ));
            }
        }
        scans.push(NbiaScan {
            id,
            patient_id: patient,
            study_instance_uid: study_uid,
            ct,
            rtstruct: chosen.path.clone(),
            rtstruct_label: label_of(chosen),
            other_rtstructs: others.iter().map(|h| h.path.clone()).collect(),
        });
    }
    if missing_patient > 0 {
        out.warnings.push(format!(
            "{missing_patient} nbia scan(s) without PatientID: their patient comes from the \
             patient table (--patients) or, without one, from the scan id"
        ));
    }
    // Ids are unique unless 32-bit hashes collide: then the full series UID is appended.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for s in &scans {
        *seen.entry(s.id.clone()).or_default() += 1;
    }
    for s in &mut scans {
        if seen[&s.id] > 1 {
            s.id = format!("{}-{}", s.id, id_part(&s.ct.series_instance_uid));
        }
    }
    scans.sort_by(|a, b| a.id.cmp(&b.id));
    out.scans = scans;
    out.skipped.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| a.first_file.cmp(&b.first_file))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtstruct_choice_parses() {
        assert_eq!(
            "newest".parse::<RtStructChoice>().unwrap(),
            RtStructChoice::Newest
        );
        assert_eq!(
            "largest".parse::<RtStructChoice>().unwrap(),
            RtStructChoice::Largest
        );
        assert_eq!(
            "label:Final GTV".parse::<RtStructChoice>().unwrap(),
            RtStructChoice::Label("Final GTV".into())
        );
        for bad in ["label:", "label: ", "biggest", ""] {
            let e = bad.parse::<RtStructChoice>().unwrap_err().to_string();
            assert!(e.contains("`rtstruct`"), "{e}");
        }
        let j = serde_json::to_string(&RtStructChoice::Label("a".into())).unwrap();
        assert_eq!(j, "\"label:a\"");
        assert_eq!(
            serde_json::from_str::<RtStructChoice>(&j).unwrap(),
            RtStructChoice::Label("a".into())
        );
    }
}
