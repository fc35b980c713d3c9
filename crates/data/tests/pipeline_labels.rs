//! Label rules end to end through `prepare` (docs/data.md, Labels), against hand-written expectations.

mod common;

use twinscan_data::Volume;
use twinscan_data::labels::LabelRule;
use twinscan_data::prepared::Prepared;

fn column(ds: &Prepared, name: &str) -> Vec<i8> {
    let s = ds.structures().iter().position(|n| n == name).unwrap();
    (0..ds.len()).map(|i| ds.labels(i)[s]).collect()
}

/// One 4 x 4 x 6 scan: Brain on slices 1 and 4 (a gap between), Parotid-Lt delineated but
/// empty, Lens_R a single voxel on slice 5, no Brainstem file at all, and a `Skin` mask.
fn scan(root: &std::path::Path) {
    let g = common::grid([4, 4, 6], [1.0, 1.0, 3.0]);
    let ct = Volume {
        geometry: g.clone(),
        data: vec![0i16; g.len()],
    };
    let mut brain = vec![0u8; g.len()];
    brain[16 + 5] = 1; // slice 1
    brain[4 * 16 + 10] = 3; // slice 4, any non-zero value counts
    let empty = vec![0u8; g.len()];
    let mut lens = vec![0u8; g.len()];
    lens[5 * 16 + 15] = 1;
    let skin = vec![1u8; g.len()];
    let v = |d: Vec<u8>| Volume {
        geometry: g.clone(),
        data: d,
    };
    common::write_deepmind(
        &root.join("a"),
        &ct,
        &[
            ("Brain", &v(brain)),
            ("Parotid-Lt", &v(empty)),
            ("lens_rt", &v(lens)),
            ("Skin", &v(skin)),
        ],
    );
}

#[test]
fn exact_rule_absent_empty_and_unknown_names() {
    let tmp = tempfile::tempdir().unwrap();
    scan(&tmp.path().join("in"));
    let out = tmp.path().join("out");
    let s = common::run(&tmp.path().join("in"), &out, |c| c.mask_stats = true).unwrap();
    let ds = Prepared::open(&out).unwrap();
    assert_eq!(ds.structures().len(), 21);
    assert_eq!(column(&ds, "Brain"), vec![-1, 1, -1, -1, 1, -1]);
    assert_eq!(column(&ds, "Parotid_L"), vec![-1; 6]);
    assert_eq!(column(&ds, "Lens_R"), vec![-1, -1, -1, -1, -1, 1]);
    assert_eq!(column(&ds, "Brainstem"), vec![0; 6]);
    assert_eq!(column(&ds, "Parotid_R"), vec![0; 6]);
    // Skin is not a study structure: skipped with a warning.
    assert!(s.warnings.iter().any(|w| w.contains("Skin")));
    let brain = s
        .counts
        .per_structure
        .iter()
        .find(|(n, _)| n == "Brain")
        .unwrap()
        .1;
    assert_eq!((brain.positive, brain.negative, brain.unknown), (2, 4, 0));
    // mask_pixels.csv: native-resolution counts of the non-empty slices.
    let stats = std::fs::read_to_string(out.join("mask_pixels.csv")).unwrap();
    let lines: Vec<&str> = stats.lines().collect();
    assert_eq!(lines[0], "scan,slice,z_mm,structure,pixels");
    assert!(lines.contains(&"a,1,3.000,Brain,1"));
    assert!(lines.contains(&"a,4,12.000,Brain,1"));
    assert!(lines.contains(&"a,5,15.000,Lens_R,1"));
    assert_eq!(lines.len(), 4);
    // labels.csv header and one row, as text.
    let csv = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    let mut it = csv.lines();
    assert!(
        it.next()
            .unwrap()
            .starts_with("scan,patient,slice,z_mm,image,split,Brain,Brainstem,Bone_Mandible,")
    );
    assert!(
        it.next()
            .unwrap()
            .starts_with("a,a,0,0.000,images/a/0000.png,")
    );
}

#[test]
fn bbox_rule_fills_the_gap() {
    let tmp = tempfile::tempdir().unwrap();
    scan(&tmp.path().join("in"));
    let out = tmp.path().join("out");
    common::run(&tmp.path().join("in"), &out, |c| {
        c.label_rule = LabelRule::BoundingBox
    })
    .unwrap();
    let ds = Prepared::open(&out).unwrap();
    assert_eq!(column(&ds, "Brain"), vec![-1, 1, 1, 1, 1, -1]);
    assert_eq!(column(&ds, "Parotid_L"), vec![-1; 6]);
    assert_eq!(column(&ds, "Brainstem"), vec![0; 6]);
}

#[test]
fn structures_all_and_alias_file() {
    let tmp = tempfile::tempdir().unwrap();
    scan(&tmp.path().join("in"));
    // --structures all: Skin becomes a column.
    let out = tmp.path().join("out_all");
    common::run(&tmp.path().join("in"), &out, |c| {
        c.structures = twinscan_data::structures::StructureSelection::All
    })
    .unwrap();
    let ds = Prepared::open(&out).unwrap();
    assert_eq!(ds.structures(), &["Brain", "Lens_R", "Parotid_L", "Skin"]);
    assert_eq!(column(&ds, "Skin"), vec![1; 6]);
    // An alias file mapping Skin to a new canonical name `Body`.
    let aliases = tmp.path().join("aliases.csv");
    std::fs::write(&aliases, "alias,canonical\nSkin,Body\n").unwrap();
    let out2 = tmp.path().join("out_alias");
    common::run(&tmp.path().join("in"), &out2, |c| {
        c.aliases = Some(aliases.clone())
    })
    .unwrap();
    let ds = Prepared::open(&out2).unwrap();
    assert_eq!(ds.structures().len(), 22);
    assert_eq!(ds.structures()[21], "Body");
    assert_eq!(column(&ds, "Body"), vec![1; 6]);
    // A malformed alias file is an error naming it, before anything is written.
    std::fs::write(&aliases, "Skin;Body\n").unwrap();
    let out3 = tmp.path().join("out_bad");
    let e = common::run(&tmp.path().join("in"), &out3, |c| {
        c.aliases = Some(aliases.clone())
    })
    .unwrap_err();
    common::assert_clean_failure(&e, "aliases.csv", &out3);
}

#[test]
fn windows_stack_as_channels_and_16_bit_png() {
    let tmp = tempfile::tempdir().unwrap();
    let g = common::grid([2, 2, 1], [1.0, 1.0, 1.0]);
    // HU -1000, 10, 40, 710.
    let ct = Volume {
        geometry: g.clone(),
        data: vec![-1000i16, 10, 40, 710],
    };
    let m = Volume {
        geometry: g.clone(),
        data: vec![0u8, 0, 0, 1],
    };
    common::write_deepmind(&tmp.path().join("in/s"), &ct, &[("Brain", &m)]);
    let out = tmp.path().join("out");
    common::run(&tmp.path().join("in"), &out, |c| {
        c.size = 2;
        c.windows = twinscan_data::slices::parse_windows(&["40:400", "300:1500"]).unwrap();
        c.png_bit_depth = Some(16);
    })
    .unwrap();
    let ds = Prepared::open(&out).unwrap();
    assert_eq!(ds.channels(), 2);
    // Window 40:400 -> [-160, 240]: round((HU + 160) / 400 * 255).
    // Window 300:1500 -> [-450, 1050]: round((HU + 450) / 1500 * 255).
    // 108.375 -> 108, 127.5 -> 128 (half away from zero), 78.2 -> 78, 83.3 -> 83, 197.2 -> 197.
    assert_eq!(ds.image(0), &[0, 108, 128, 255, 0, 78, 83, 197]);
    // The 16-bit PNG holds the two windows stacked vertically (2 wide, 4 high).
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(out.join("images/s/0000.png")).unwrap(),
    ));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.width, info.height, info.bit_depth),
        (2, 4, png::BitDepth::Sixteen)
    );
    let px: Vec<u16> = buf
        .chunks(2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .collect();
    // round((HU + 160) / 400 * 65535) and round((HU + 450) / 1500 * 65535)
    assert_eq!(px, vec![0, 27852, 32768, 65535, 0, 20097, 21408, 50680]);
}

#[test]
fn dicom_files_found_by_their_preamble_without_extension() {
    use twinscan_data::synth::SynthFormat;
    let tmp = tempfile::tempdir().unwrap();
    let input = common::write(
        tmp.path(),
        "in",
        &common::small_config(1),
        SynthFormat::Dicom,
    );
    let dir = input.join("synth_000");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::rename(&p, p.with_extension("")).unwrap();
    }
    let out = tmp.path().join("out");
    let s = common::run(&input, &out, |_| {}).unwrap();
    assert_eq!(s.layout, twinscan_data::layout::Layout::Dicom);
    assert_eq!(s.counts.scans, 1);
    let brain = s
        .counts
        .per_structure
        .iter()
        .find(|(n, _)| n == "Brain")
        .unwrap()
        .1;
    assert!(brain.positive > 0 && brain.unknown == 0);
}
