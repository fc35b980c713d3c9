//! The nbia layout (issue 10 §1): a DICOM tree of series folders as the TCIA/NBIA downloader
//! writes it, `<Collection>/<PatientID>/<date-desc-StudyUID>/<n-desc-SeriesUID>/1-001.dcm`,
//! generated from the synthetic DICOM cohort. Two patients (one with a second study), an MR
//! series, a one-slice scout and a LOCALIZER series, a CT series without RTSTRUCT, two
//! RTSTRUCTs for one CT (different StructureSetDate, label and ROI count), an RTSTRUCT
//! referencing no indexed CT, one found by frame of reference only, each RTSTRUCT in its own
//! series folder, and a non-DICOM file.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use twinscan_data::layout::{Layout, MaskFolderOptions, discover_full};
use twinscan_data::nbia::{RtStructChoice, SkipKind};
use twinscan_data::prepared::Prepared;
use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};

fn edit(src: &Path, dst: &Path, f: impl FnOnce(&mut DefaultDicomObject)) {
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    let mut o = dicom_object::open_file(src).unwrap();
    f(&mut o);
    o.write_to_file(dst).unwrap();
}

fn put(o: &mut DefaultDicomObject, tag: dicom_core::Tag, vr: VR, v: &str) {
    o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
}

fn header(p: &Path) -> twinscan_data::dicom::FileHeader {
    twinscan_data::dicom::index::read_header(p).unwrap()
}

/// Copies of `files` as a new series: new SeriesInstanceUID, SOPInstanceUIDs, and what
/// `more` changes.
fn new_series(
    files: &[PathBuf],
    folder: &Path,
    series: &str,
    more: impl Fn(&mut DefaultDicomObject),
) {
    for (k, f) in files.iter().enumerate() {
        edit(f, &folder.join(format!("1-{:03}.dcm", k + 1)), |o| {
            put(o, tags::SERIES_INSTANCE_UID, VR::UI, series);
            put(o, tags::SOP_INSTANCE_UID, VR::UI, &format!("{series}.{k}"));
            more(o);
        });
    }
}

struct Tree {
    /// One folder per scan (the `dicom` layout).
    dicom: PathBuf,
    /// The NBIA tree's parent (the Collection folder is inside).
    nbia: PathBuf,
    /// The second RTSTRUCT of scan 1 (newer, label "reviewed", 3 ROIs).
    reviewed: PathBuf,
    /// Scan 1's original RTSTRUCT (label "synth", every ROI).
    original: PathBuf,
    /// ROI names kept in the reviewed RTSTRUCT.
    reviewed_rois: Vec<String>,
}

fn build(root: &Path) -> Tree {
    let cfg = SynthConfig {
        scans: 3,
        size: 24,
        z_spacing_mm: 20.0,
        noise_hu: 5.0,
        seed: 5,
    };
    let dicom = root.join("dicom");
    write_cohort(&dicom, &cfg, SynthFormat::Dicom).unwrap();
    std::fs::remove_file(dicom.join("patients.csv")).unwrap();
    let coll = root.join("nbia/HN-Synth");
    std::fs::create_dir_all(&coll).unwrap();
    std::fs::write(coll.join("LICENSE"), "CC BY 4.0\n").unwrap();
    let mut reviewed = PathBuf::new();
    let mut original = PathBuf::new();
    let mut reviewed_rois = Vec::new();
    for i in 0..3 {
        let found =
            twinscan_data::dicom::scan_dicom_dir(&dicom.join(format!("synth_{i:03}"))).unwrap();
        let cts = &found.ct_series[0].files;
        let rs = &found.rtstructs[0];
        let h = header(&cts[0]);
        let rh = header(rs);
        let study = coll.join(h.patient_id.clone().unwrap()).join(format!(
            "01-01-2026-NA-CT HEAD NECK-{}",
            h.study_instance_uid.clone().unwrap()
        ));
        let series = h.series_instance_uid.clone().unwrap();
        for (k, f) in cts.iter().enumerate() {
            let d = study.join(format!("1.000000-CT-{series}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::copy(f, d.join(format!("1-{:03}.dcm", k + 1))).unwrap();
        }
        let rs_dst = study.join(format!(
            "2.000000-RTSTRUCT-{}/1-1.dcm",
            rh.series_instance_uid.clone().unwrap()
        ));
        edit(rs, &rs_dst, |o| {
            put(o, tags::STRUCTURE_SET_DATE, VR::DA, "20260101");
            put(o, tags::STRUCTURE_SET_TIME, VR::TM, "120000");
            if i == 2 {
                // Names no series: matched by its frame of reference.
                let fr = h.frame_of_reference_uid.clone().unwrap();
                o.put(DataElement::new(
                    tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
                    VR::SQ,
                    DataSetSequence::from(vec![InMemDicomObject::from_element_iter([
                        DataElement::new(
                            tags::FRAME_OF_REFERENCE_UID,
                            VR::UI,
                            PrimitiveValue::from(fr),
                        ),
                    ])]),
                ));
            }
        });
        if i == 1 {
            original = rs_dst.clone();
            // A second, newer RTSTRUCT with three of the ROIs, in its own series folder.
            reviewed = study.join("3.000000-RTSTRUCT reviewed-2.25.7001/1-1.dcm");
            edit(&rs_dst, &reviewed, |o| {
                put(o, tags::STRUCTURE_SET_LABEL, VR::SH, "reviewed");
                put(o, tags::STRUCTURE_SET_DATE, VR::DA, "20260301");
                put(o, tags::STRUCTURE_SET_TIME, VR::TM, "0900");
                put(o, tags::SERIES_INSTANCE_UID, VR::UI, "2.25.7001");
                put(o, tags::SOP_INSTANCE_UID, VR::UI, "2.25.7001.1");
                let rois: Vec<InMemDicomObject> = o
                    .element(tags::STRUCTURE_SET_ROI_SEQUENCE)
                    .unwrap()
                    .items()
                    .unwrap()[..3]
                    .to_vec();
                let numbers: Vec<String> = rois
                    .iter()
                    .map(|r| {
                        r.element(tags::ROI_NUMBER)
                            .unwrap()
                            .to_str()
                            .unwrap()
                            .into()
                    })
                    .collect();
                reviewed_rois = rois
                    .iter()
                    .map(|r| r.element(tags::ROI_NAME).unwrap().to_str().unwrap().into())
                    .collect();
                let contours: Vec<InMemDicomObject> = o
                    .element(tags::ROI_CONTOUR_SEQUENCE)
                    .unwrap()
                    .items()
                    .unwrap()
                    .iter()
                    .filter(|c| {
                        let n: String = c
                            .element(tags::REFERENCED_ROI_NUMBER)
                            .unwrap()
                            .to_str()
                            .unwrap()
                            .into();
                        numbers.contains(&n)
                    })
                    .cloned()
                    .collect();
                o.put(DataElement::new(
                    tags::STRUCTURE_SET_ROI_SEQUENCE,
                    VR::SQ,
                    DataSetSequence::from(rois),
                ));
                o.put(DataElement::new(
                    tags::ROI_CONTOUR_SEQUENCE,
                    VR::SQ,
                    DataSetSequence::from(contours),
                ));
            });
        }
        if i == 0 {
            // MR (2 images), a one-slice scout, a 2-image LOCALIZER series, the CT series
            // again as another reconstruction without RTSTRUCT (own frame of reference), and
            // an RTSTRUCT pointing at nothing indexed.
            new_series(
                &cts[..2],
                &study.join("4.000000-MR T1-2.25.7002"),
                "2.25.7002",
                |o| {
                    put(o, tags::MODALITY, VR::CS, "MR");
                    put(o, tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.4");
                },
            );
            new_series(
                &cts[..1],
                &study.join("5.000000-Scout-2.25.7003"),
                "2.25.7003",
                |_| {},
            );
            new_series(
                &cts[..2],
                &study.join("6.000000-Topogram-2.25.7004"),
                "2.25.7004",
                |o| {
                    o.put(DataElement::new(
                        tags::IMAGE_TYPE,
                        VR::CS,
                        PrimitiveValue::Strs(
                            ["ORIGINAL", "PRIMARY", "LOCALIZER"]
                                .iter()
                                .map(|s| s.to_string())
                                .collect(),
                        ),
                    ));
                },
            );
            new_series(
                cts,
                &study.join("7.000000-CT bone-2.25.7005"),
                "2.25.7005",
                |o| {
                    put(o, tags::FRAME_OF_REFERENCE_UID, VR::UI, "2.25.7006");
                },
            );
            edit(
                rs,
                &study.join("8.000000-RTSTRUCT old-2.25.7007/1-1.dcm"),
                |o| {
                    put(o, tags::SERIES_INSTANCE_UID, VR::UI, "2.25.7007");
                    put(o, tags::SOP_INSTANCE_UID, VR::UI, "2.25.7007.1");
                    o.put(DataElement::new(
                        tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE,
                        VR::SQ,
                        DataSetSequence::from(vec![InMemDicomObject::from_element_iter([
                            DataElement::new(
                                tags::FRAME_OF_REFERENCE_UID,
                                VR::UI,
                                PrimitiveValue::from("2.25.7999"),
                            ),
                        ])]),
                    ));
                },
            );
        }
    }
    Tree {
        dicom,
        nbia: root.join("nbia"),
        reviewed,
        original,
        reviewed_rois,
    }
}

/// Per scan (keyed by patient, slice count and a checksum of its cached pixels), per
/// structure column: the labels of its slices.
type ScanLabels = BTreeMap<(String, usize, u64), Columns>;
/// Structure column → labels of a scan's slices.
type Columns = BTreeMap<String, Vec<i8>>;

fn labels_by_scan(out: &Path) -> ScanLabels {
    let ds = Prepared::open(out).unwrap();
    let mut per_scan: BTreeMap<String, (String, usize, u64, Columns)> = BTreeMap::new();
    for i in 0..ds.len() {
        let e = per_scan
            .entry(ds.scan(i).to_string())
            .or_insert_with(|| (ds.patient(i).to_string(), 0, 0, BTreeMap::new()));
        e.1 += 1;
        for (k, &b) in ds.image(i).iter().enumerate() {
            e.2 =
                e.2.wrapping_add(u64::from(b) * (k as u64 % 13 + 1) * (e.1 as u64));
        }
        for (c, name) in ds.structures().iter().enumerate() {
            e.3.entry(name.clone()).or_default().push(ds.labels(i)[c]);
        }
    }
    let m: ScanLabels = per_scan
        .into_values()
        .map(|(p, n, sum, cols)| ((p, n, sum), cols))
        .collect();
    assert_eq!(m.len(), ds.info().scans.len(), "scan keys collide");
    m
}

fn chosen(root: &Path, choice: RtStructChoice) -> BTreeMap<String, PathBuf> {
    let d = discover_full(root, None, &MaskFolderOptions::default(), &choice).unwrap();
    assert_eq!(d.layout, Layout::Nbia);
    d.scans
        .iter()
        .map(|s| (s.id.clone(), s.nbia.as_ref().unwrap().rtstruct.clone()))
        .collect()
}

#[test]
fn nbia_tree_scans_labels_choice_and_skipped_series() {
    let tmp = tempfile::tempdir().unwrap();
    let t = build(tmp.path());

    // The one-folder-per-scan tree is still `dicom`.
    let out_dicom = tmp.path().join("out_dicom");
    let s = common::run(&t.dicom, &out_dicom, |c| c.png_bit_depth = None).unwrap();
    assert_eq!(s.layout, Layout::Dicom);
    let reference = labels_by_scan(&out_dicom);

    // The NBIA tree, from above the Collection folder (series folders four levels down),
    // with --rtstruct largest: the same labels as the dicom layout.
    let out = tmp.path().join("out_nbia");
    let s = common::run(&t.nbia, &out, |c| {
        c.png_bit_depth = None;
        c.rtstruct = RtStructChoice::Largest;
    })
    .unwrap();
    assert_eq!(s.layout, Layout::Nbia);
    assert_eq!((s.counts.scans, s.counts.patients), (3, 2));
    assert_eq!(labels_by_scan(&out), reference);

    // Ids: PatientID / StudyDate-hash / SeriesNumber-hash, unique and stable.
    let ds = Prepared::open(&out).unwrap();
    let ids: Vec<&str> = ds.info().scans.iter().map(|e| e.id.as_str()).collect();
    assert!(ids.iter().all(|id| id.starts_with("SYNP00")), "{ids:?}");
    assert!(
        ids.iter()
            .all(|id| id.split('/').count() == 3 && id.contains("/20260101-")),
        "{ids:?}"
    );
    assert_eq!(
        ids.iter().filter(|id| id.starts_with("SYNP001/")).count(),
        2,
        "{ids:?}"
    );
    let largest = chosen(&t.nbia, RtStructChoice::Largest);
    assert_eq!(
        largest.keys().map(String::as_str).collect::<Vec<_>>(),
        ids.iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );

    // The warning names the chosen and the other RTSTRUCT.
    let w = s
        .warnings
        .iter()
        .find(|w| w.contains("2 RTSTRUCTs reference CT series"))
        .unwrap_or_else(|| panic!("{:?}", s.warnings));
    assert!(
        w.contains("--rtstruct largest chose")
            && w.contains(&t.original.display().to_string())
            && w.contains(&t.reviewed.display().to_string()),
        "{w}"
    );

    // The skipped series, in the summary and in dataset.json.
    let mut kinds: BTreeMap<SkipKind, usize> = BTreeMap::new();
    for k in &s.skipped_series {
        *kinds.entry(k.kind).or_default() += 1;
    }
    let want: BTreeMap<SkipKind, usize> = [
        (SkipKind::NoRtstruct, 1),
        (SkipKind::Localizer, 2),
        (SkipKind::Modality, 1),
        (SkipKind::RtstructWithoutCt, 1),
        (SkipKind::RtstructNotChosen, 1),
        (SkipKind::Unreadable, 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(kinds, want, "{:#?}", s.skipped_series);
    let find = |k: SkipKind| s.skipped_series.iter().filter(move |x| x.kind == k);
    let mr = find(SkipKind::Modality).next().unwrap();
    assert_eq!((mr.modality.as_deref(), mr.files), (Some("MR"), 2));
    assert!(mr.detail.contains("modality MR"), "{}", mr.detail);
    let loc: Vec<_> = find(SkipKind::Localizer).collect();
    assert!(
        loc.iter()
            .any(|x| x.files == 1 && x.detail.contains("one slice"))
    );
    assert!(
        loc.iter()
            .any(|x| x.files == 2 && x.detail.contains("LOCALIZER"))
    );
    let no_rt = find(SkipKind::NoRtstruct).next().unwrap();
    assert_eq!(no_rt.series_instance_uid.as_deref(), Some("2.25.7005"));
    let orphan = find(SkipKind::RtstructWithoutCt).next().unwrap();
    assert!(orphan.detail.contains("2.25.7999"), "{}", orphan.detail);
    assert_eq!(
        find(SkipKind::RtstructNotChosen).next().unwrap().first_file,
        t.reviewed
    );
    assert!(
        find(SkipKind::Unreadable)
            .next()
            .unwrap()
            .first_file
            .ends_with("LICENSE")
    );
    assert_eq!(ds.info().skipped_series, s.skipped_series);
    assert_eq!(ds.info().rtstruct, Some(RtStructChoice::Largest));
    let table = twinscan_data::prepare::summary_table(&s);
    assert!(
        table.contains("7 series / files not used") && table.contains("rtstruct_without_ct"),
        "{table}"
    );

    // Default (newest): the reviewed RTSTRUCT for scan 1; structures it lacks are unknown (0),
    // the three it has equal the reference; the other scans are unchanged.
    let out_new = tmp.path().join("out_newest");
    let s_new = common::run(&t.nbia, &out_new, |c| c.png_bit_depth = None).unwrap();
    assert!(
        s_new
            .warnings
            .iter()
            .any(|w| w.contains("--rtstruct newest chose") && w.contains("\"reviewed\"")),
        "{:?}",
        s_new.warnings
    );
    let newest = labels_by_scan(&out_new);
    let canon = twinscan_data::structures::StructureTable::with_selection(
        twinscan_data::structures::StructureSelection::Study,
    );
    let kept: Vec<String> = t
        .reviewed_rois
        .iter()
        .filter_map(|r| canon.canonical(r))
        .collect();
    assert_eq!(kept.len(), 3, "{:?}", t.reviewed_rois);
    let mut differing = 0;
    for (key, cols) in &reference {
        let got = &newest[key];
        if got == cols {
            continue;
        }
        differing += 1;
        assert_eq!(key.0, "SYNP001");
        for (name, l) in cols {
            if kept.contains(name) {
                assert_eq!(&got[name], l, "{name}");
            } else {
                assert!(got[name].iter().all(|&v| v == 0), "{name}: {:?}", got[name]);
            }
        }
    }
    assert_eq!(differing, 1);

    // Which RTSTRUCT each mode picks (discovery only).
    let scan1 = |m: &BTreeMap<String, PathBuf>| -> Vec<PathBuf> {
        m.values()
            .filter(|p| *p == &t.original || *p == &t.reviewed)
            .cloned()
            .collect()
    };
    assert_eq!(scan1(&largest), vec![t.original.clone()]);
    assert_eq!(
        scan1(&chosen(&t.nbia, RtStructChoice::Newest)),
        vec![t.reviewed.clone()]
    );
    assert_eq!(
        scan1(&chosen(&t.nbia, RtStructChoice::Label("synth".into()))),
        vec![t.original.clone()]
    );
    // label:reviewed: only scan 1 has it; the two others are skipped as such.
    let d = discover_full(
        &t.nbia,
        Some(Layout::Nbia),
        &MaskFolderOptions::default(),
        &RtStructChoice::Label("reviewed".into()),
    )
    .unwrap();
    assert_eq!(d.scans.len(), 1);
    assert_eq!(d.scans[0].nbia.as_ref().unwrap().rtstruct, t.reviewed);
    assert_eq!(
        d.skipped_series
            .iter()
            .filter(|x| x.kind == SkipKind::NoRtstructWithLabel)
            .count(),
        2
    );
    // Detected from the Collection folder too (series folders three levels down, the
    // RTSTRUCT-only folders decide).
    assert_eq!(
        chosen(&t.nbia.join("HN-Synth"), RtStructChoice::Newest).len(),
        3
    );
}

#[test]
fn nbia_bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let t = build(tmp.path());
    // A label no RTSTRUCT has: the error names the labels there are.
    let out = tmp.path().join("out");
    let e = common::run(&t.nbia, &out, |c| {
        c.rtstruct = RtStructChoice::Label("NOPE".into())
    })
    .unwrap_err();
    common::assert_clean_failure(&e, "invalid `rtstruct`", &out);
    let msg = e.to_string();
    assert!(
        msg.contains("NOPE") && msg.contains("\"synth\"") && msg.contains("\"reviewed\""),
        "{msg}"
    );
    // An empty tree.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = common::run(&empty, &out, |c| c.layout = Some(Layout::Nbia)).unwrap_err();
    common::assert_clean_failure(&e, "empty", &out);
    // Files, none DICOM.
    let junk = tmp.path().join("junk/a/b");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("notes.txt"), "not DICOM").unwrap();
    let e = common::run(&tmp.path().join("junk"), &out, |c| {
        c.layout = Some(Layout::Nbia)
    })
    .unwrap_err();
    common::assert_clean_failure(&e, "no readable DICOM file", &out);
    // DICOM, but no scan: one CT series without RTSTRUCT; the error counts what was skipped.
    let lone = tmp.path().join("lone/P/S");
    std::fs::create_dir_all(&lone).unwrap();
    let src = t.dicom.join("synth_000");
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap().path();
        if f.file_name().unwrap() != "RS.dcm" {
            std::fs::copy(&f, lone.join(f.file_name().unwrap())).unwrap();
        }
    }
    let e = common::run(&tmp.path().join("lone"), &out, |c| {
        c.layout = Some(Layout::Nbia)
    })
    .unwrap_err();
    common::assert_clean_failure(&e, "1 no_rtstruct", &out);
    // `--rtstruct` spelled wrong.
    assert!("biggest".parse::<RtStructChoice>().is_err());
}
