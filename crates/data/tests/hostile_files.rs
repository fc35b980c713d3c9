//! Issue 10 §3: each failure kind of the fuzz campaign, rebuilt from a generated file, is a
//! clean error naming the file (no panic, no abort, bounded time and memory).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use twinscan_data::dicom::{rasterize, read_ct_series, read_rtstruct, scan_dicom_dir};
use twinscan_data::read_volume;
use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};

/// Runs `f`, failing the test on a panic or when it takes longer than `limit`; returns the
/// error text (the call must fail) and checks it names `path`.
fn refused<T>(path: &Path, f: impl FnOnce() -> twinscan_data::Result<T>) -> String {
    let t = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "{}: took {:?}",
        path.display(),
        t.elapsed()
    );
    let msg = match r {
        Ok(Ok(_)) => panic!("{}: accepted", path.display()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("{}: the reader panicked", path.display()),
    };
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(msg.contains(name.as_ref()), "{msg:?} does not name {name}");
    assert!(
        !msg.contains("Custom {") && !msg.contains("kind:"),
        "Rust debug text in {msg:?}"
    );
    msg
}

fn nrrd(dir: &Path, name: &str, header: &str, payload: &[u8]) -> PathBuf {
    let p = dir.join(name);
    let mut b = header.as_bytes().to_vec();
    b.extend_from_slice(payload);
    std::fs::write(&p, b).unwrap();
    p
}

fn nrrd_header(space: &str, sizes: &str, directions: &str, encoding: &str) -> String {
    format!(
        "NRRD0004\ntype: uint8\ndimension: 3\nspace: {space}\nsizes: {sizes}\n\
         space directions: {directions}\nencoding: {encoding}\n\n"
    )
}

const UNIT: &str = "(1,0,0) (0,1,0) (0,0,1)";

#[test]
fn nrrd_hostile_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The valid file reads.
    let ok = nrrd(
        d,
        "ok.nrrd",
        &nrrd_header("LPS", "2 2 2", UNIT, "raw"),
        &[0; 8],
    );
    read_volume(&ok).unwrap();
    // Non-ASCII `space` of three bytes but two characters (byte vs char length).
    let p = nrrd(
        d,
        "space.nrrd",
        &nrrd_header("éa", "2 2 2", UNIT, "raw"),
        &[0; 8],
    );
    refused(&p, || read_volume(&p));
    // Sizes whose product overflows or that the payload cannot hold: refused before any
    // allocation (the test would abort otherwise).
    for (i, sizes) in [
        "100000 100000 100000",
        "18446744073709551615 1 1",
        "4096 4096 4096",
    ]
    .iter()
    .enumerate()
    {
        for enc in ["raw", "gzip"] {
            let p = nrrd(
                d,
                &format!("sizes{i}{enc}.nrrd"),
                &nrrd_header("LPS", sizes, UNIT, enc),
                &[0; 8],
            );
            let msg = refused(&p, || read_volume(&p));
            assert!(
                msg.contains("overflow") || msg.contains("cannot hold"),
                "{msg}"
            );
        }
    }
    // Non-finite, zero and singular space directions.
    for (i, dirs) in [
        "(1e308,0,0) (0,1e308,0) (0,0,1e308)",
        "(0,0,0) (0,0,0) (0,0,0)",
        "(1,0,0) (0,1,0) (0,0,0)",
        "(1,0,0) (0,1,0) (1,0,0)",
        "(nan,0,0) (0,1,0) (0,0,1)",
    ]
    .iter()
    .enumerate()
    {
        let p = nrrd(
            d,
            &format!("dirs{i}.nrrd"),
            &nrrd_header("LPS", "2 2 2", dirs, "raw"),
            &[0; 8],
        );
        refused(&p, || read_volume(&p));
    }
}

/// A valid 4×3×2 int16 `.nii` written by twinscan, as bytes.
fn nifti_bytes(dir: &Path) -> Vec<u8> {
    let g = common::grid([4, 3, 2], [1.0, 1.0, 2.0]);
    let p = dir.join("base.nii");
    twinscan_data::nifti::write_nifti(
        &p,
        &twinscan_data::Volume {
            geometry: g.clone(),
            data: vec![7i16; g.len()],
        },
    )
    .unwrap();
    std::fs::read(p).unwrap()
}

fn put_f32(b: &mut [u8], off: usize, v: f32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_i16(b: &mut [u8], off: usize, v: i16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn gz(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn nifti_hostile_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let base = nifti_bytes(d);
    let case = |name: &str, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut b = base.clone();
        edit(&mut b);
        let p = d.join(format!("{name}.nii"));
        std::fs::write(&p, &b).unwrap();
        refused(&p, || read_volume(&p));
        let p = d.join(format!("{name}.nii.gz"));
        std::fs::write(&p, gz(&b)).unwrap();
        refused(&p, || read_volume(&p))
    };
    // vox_offset (byte 108) non-finite or beyond the file.
    case("vox_nan", &|b| put_f32(b, 108, f32::NAN));
    case("vox_inf", &|b| put_f32(b, 108, f32::INFINITY));
    case("vox_big", &|b| put_f32(b, 108, 1e12));
    // An extension flag (byte 348) with an oversized vox_offset.
    case("ext_flag", &|b| {
        b[348] = 1;
        put_f32(b, 108, 3e9);
    });
    // dims the payload cannot hold.
    case("dims", &|b| {
        put_i16(b, 42, 30000);
        put_i16(b, 44, 30000);
    });
    // Singular / non-finite sform (srow_x at 280, srow_y 296, srow_z 312).
    case("sform_zero", &|b| {
        for o in (280..328).step_by(4) {
            put_f32(b, o, 0.0);
        }
    });
    case("sform_inf", &|b| put_f32(b, 280, f32::INFINITY));
    // Neither form and a zero pixdim (pixdim[3] at 88).
    case("pixdim_zero", &|b| {
        put_i16(b, 254, 0);
        put_i16(b, 252, 0);
        put_f32(b, 88, 0.0);
    });
    // Truncated payload: a clean error without debug text.
    let p = d.join("short.nii");
    std::fs::write(&p, &base[..base.len() - 5]).unwrap();
    refused(&p, || read_volume(&p));
}

/// A one-scan synthetic DICOM cohort; returns (CT slice files, RTSTRUCT file).
fn dicom_scan(dir: &Path) -> (Vec<PathBuf>, PathBuf) {
    let cfg = SynthConfig {
        scans: 1,
        size: 24,
        z_spacing_mm: 20.0,
        noise_hu: 5.0,
        seed: 2,
    };
    write_cohort(dir, &cfg, SynthFormat::Dicom).unwrap();
    let scan = dir.join("synth_000");
    let found = scan_dicom_dir(&scan).unwrap();
    (found.ct_series[0].files.clone(), found.rtstructs[0].clone())
}

fn edit_dicom(path: &Path, out: &Path, edit: impl FnOnce(&mut dicom_object::DefaultDicomObject)) {
    let mut obj = dicom_object::OpenFileOptions::new()
        .open_file(path)
        .unwrap();
    edit(&mut obj);
    obj.write_to_file(out).unwrap();
}

fn us(tag: dicom_core::Tag, v: u16) -> DataElement<dicom_object::InMemDicomObject> {
    DataElement::new(tag, VR::US, PrimitiveValue::from(v))
}

fn ds(tag: dicom_core::Tag, v: &str) -> DataElement<dicom_object::InMemDicomObject> {
    DataElement::new(tag, VR::DS, PrimitiveValue::from(v))
}

#[test]
fn dicom_ct_hostile_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let (cts, _) = dicom_scan(&tmp.path().join("cohort"));
    let slice = &cts[0];
    let bad_dir = tmp.path().join("bad");
    std::fs::create_dir_all(&bad_dir).unwrap();
    type Edit = Box<dyn Fn(&mut dicom_object::DefaultDicomObject)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "bits_stored_0",
            Box::new(|o| {
                o.put(us(tags::BITS_STORED, 0));
            }),
        ),
        (
            "bits_stored_40",
            Box::new(|o| {
                o.put(us(tags::BITS_STORED, 40));
            }),
        ),
        (
            "bits_stored_30",
            Box::new(|o| {
                o.put(us(tags::BITS_ALLOCATED, 32));
                o.put(us(tags::BITS_STORED, 30));
                o.put(us(tags::HIGH_BIT, 29));
            }),
        ),
        (
            "high_bit",
            Box::new(|o| {
                o.put(us(tags::HIGH_BIT, 3));
            }),
        ),
        (
            "pixel_repr",
            Box::new(|o| {
                o.put(us(tags::PIXEL_REPRESENTATION, 7));
            }),
        ),
        (
            "bits_alloc_8",
            Box::new(|o| {
                o.put(us(tags::BITS_ALLOCATED, 8));
            }),
        ),
        (
            "rows_big",
            Box::new(|o| {
                o.put(us(tags::ROWS, 4000));
            }),
        ),
        (
            "slope_nan",
            Box::new(|o| {
                o.put(ds(tags::RESCALE_SLOPE, "NaN"));
            }),
        ),
        (
            "slope_inf",
            Box::new(|o| {
                o.put(ds(tags::RESCALE_SLOPE, "1e999"));
            }),
        ),
        (
            "intercept_text",
            Box::new(|o| {
                o.put(ds(tags::RESCALE_INTERCEPT, "abc"));
            }),
        ),
    ];
    for (name, edit) in cases {
        let p = bad_dir.join(format!("{name}.dcm"));
        edit_dicom(slice, &p, edit);
        let files = twinscan_data::dicom::ct::CtSeriesFiles {
            series_instance_uid: "x".into(),
            files: vec![p.clone()],
        };
        refused(&p, || read_ct_series(&files));
    }
}

#[test]
fn dicom_jpeg2000_size_checked_before_decoding() {
    use dicom_core::value::{PixelFragmentSequence, Value};
    let tmp = tempfile::tempdir().unwrap();
    let (cts, _) = dicom_scan(&tmp.path().join("cohort"));
    // A codestream header (SOC + SIZ) for 64×64 16-bit samples in a 24×24 image, and one
    // for 24×24 16-bit samples with BitsAllocated 8.
    let siz = |w: u32, h: u32, bits: u8| {
        let mut b = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [w, h, 0, 0, w, h, 0, 0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&[0, 1, bits - 1, 1, 1, 0xFF, 0xD9]);
        b
    };
    for (name, cs, alloc) in [
        ("j2k_size", siz(64, 64, 16), 16u16),
        ("j2k_depth", siz(24, 24, 16), 8),
    ] {
        let p = tmp.path().join(format!("{name}.dcm"));
        let mut obj = dicom_object::OpenFileOptions::new()
            .open_file(&cts[0])
            .unwrap()
            .into_inner();
        obj.put(us(tags::BITS_ALLOCATED, alloc));
        obj.put(us(tags::BITS_STORED, alloc));
        obj.put(us(tags::HIGH_BIT, alloc - 1));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::from(PixelFragmentSequence::new(Vec::<u32>::new(), vec![cs])),
        ));
        let file = obj
            .with_meta(
                dicom_object::FileMetaTableBuilder::new()
                    .transfer_syntax("1.2.840.10008.1.2.4.91")
                    .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
                    .media_storage_sop_instance_uid("1.2.3"),
            )
            .unwrap();
        file.write_to_file(&p).unwrap();
        let files = twinscan_data::dicom::ct::CtSeriesFiles {
            series_instance_uid: "x".into(),
            files: vec![p.clone()],
        };
        let msg = refused(&p, || read_ct_series(&files));
        assert!(msg.contains("JPEG 2000"), "{msg}");
    }
}

/// Writes `cs` as the one fragment of slice `src`'s pixel data, with `alloc` bits allocated
/// and stored, in transfer syntax `ts`.
fn encapsulated_slice(src: &Path, out: &Path, cs: Vec<u8>, alloc: u16, ts: &str) {
    use dicom_core::value::{PixelFragmentSequence, Value};
    let mut obj = dicom_object::OpenFileOptions::new()
        .open_file(src)
        .unwrap()
        .into_inner();
    obj.put(us(tags::BITS_ALLOCATED, alloc));
    obj.put(us(tags::BITS_STORED, alloc));
    obj.put(us(tags::HIGH_BIT, alloc - 1));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::from(PixelFragmentSequence::new(Vec::<u32>::new(), vec![cs])),
    ));
    obj.with_meta(
        dicom_object::FileMetaTableBuilder::new()
            .transfer_syntax(ts)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
            .media_storage_sop_instance_uid("1.2.3"),
    )
    .unwrap()
    .write_to_file(out)
    .unwrap();
}

/// Issue 10 §3, "BitsAllocated 8 over a 16-bit codestream is silently truncated": every
/// compressed transfer syntax this build decodes (JPEG, JPEG 2000 above, RLE) is checked
/// against BitsAllocated from its header. RLE: a 16-bit stream decodes with BitsAllocated
/// 16 (values checked) and is refused with BitsAllocated 8 (dicom-pixeldata would read its
/// most significant byte only); JPEG: a 16-bit SOF with BitsAllocated 8, or of another size
/// than the image, is refused before the decoder runs.
#[test]
fn dicom_compressed_streams_deeper_than_allocated_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (cts, _) = dicom_scan(&tmp.path().join("cohort"));
    let n = 24 * 24;
    let values: Vec<u16> = (0..n as u16).map(|i| 1000 + 7 * i).collect();
    // PackBits literal runs of at most 128 bytes (PS3.5 G.3.1).
    let packbits = |bytes: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        for run in bytes.chunks(128) {
            out.push((run.len() - 1) as u8);
            out.extend_from_slice(run);
        }
        if out.len() % 2 == 1 {
            out.push(0x80); // no-op (PackBits -128), pads the segment to an even length
        }
        out
    };
    let msb: Vec<u8> = values.iter().map(|v| (v >> 8) as u8).collect();
    let lsb: Vec<u8> = values.iter().map(|v| (v & 0xFF) as u8).collect();
    let (s0, s1) = (packbits(&msb), packbits(&lsb));
    let mut rle = vec![0u8; 64];
    rle[0..4].copy_from_slice(&2u32.to_le_bytes());
    rle[4..8].copy_from_slice(&64u32.to_le_bytes());
    rle[8..12].copy_from_slice(&(64 + s0.len() as u32).to_le_bytes());
    rle.extend_from_slice(&s0);
    rle.extend_from_slice(&s1);
    let files_of = |p: &Path| twinscan_data::dicom::ct::CtSeriesFiles {
        series_instance_uid: "x".into(),
        files: vec![p.to_path_buf()],
    };
    // The control: read as 16-bit, HU = stored - 1024 (synth's rescale).
    let ok = tmp.path().join("rle16.dcm");
    encapsulated_slice(&cts[0], &ok, rle.clone(), 16, "1.2.840.10008.1.2.5");
    let ct = read_ct_series(&files_of(&ok)).unwrap();
    let want: Vec<f32> = values.iter().map(|&v| f32::from(v) - 1024.0).collect();
    assert_eq!(ct.volume.data, want);
    // The same stream with BitsAllocated 8: refused, not truncated.
    let bad = tmp.path().join("rle_over_8.dcm");
    encapsulated_slice(&cts[0], &bad, rle, 8, "1.2.840.10008.1.2.5");
    let msg = refused(&bad, || read_ct_series(&files_of(&bad)));
    assert!(
        msg.contains("RLE stream of 2 segments") && msg.contains("truncated"),
        "{msg}"
    );
    // JPEG lossless (SOF3) headers: 16-bit samples over BitsAllocated 8; a 64x64 stream in
    // a 24x24 image.
    let sof = |bits: u8, w: u16, h: u16| {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xC3, 0, 11, bits];
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&[1, 1, 0x11, 0, 0xFF, 0xD9]);
        b
    };
    for (name, cs, alloc, what) in [
        (
            "jpeg_depth",
            sof(16, 24, 24),
            8u16,
            "JPEG codestream of 16-bit samples",
        ),
        ("jpeg_size", sof(16, 64, 64), 16, "JPEG codestream of 64x64"),
        (
            "jpeg12_depth",
            sof(12, 24, 24),
            8,
            "JPEG codestream of 12-bit samples",
        ),
    ] {
        let p = tmp.path().join(format!("{name}.dcm"));
        encapsulated_slice(&cts[0], &p, cs, alloc, "1.2.840.10008.1.2.4.70");
        let msg = refused(&p, || read_ct_series(&files_of(&p)));
        assert!(msg.contains(what), "{msg}");
    }
    // A real 8-bit baseline JPEG (dicom-pixeldata's encoder) with BitsAllocated 8 still reads.
    {
        use dicom_pixeldata::Transcode;
        let mut obj = dicom_object::OpenFileOptions::new()
            .open_file(&cts[0])
            .unwrap();
        let px: Vec<u8> = (0..n).map(|i| (i % 200) as u8).collect();
        obj.put(us(tags::BITS_ALLOCATED, 8));
        obj.put(us(tags::BITS_STORED, 8));
        obj.put(us(tags::HIGH_BIT, 7));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(px),
        ));
        obj.transcode(&dicom_transfer_syntax_registry::entries::JPEG_BASELINE.erased())
            .unwrap();
        let p = tmp.path().join("jpeg8.dcm");
        obj.write_to_file(&p).unwrap();
        let ct = read_ct_series(&files_of(&p)).unwrap();
        assert_eq!(ct.volume.data.len(), n);
    }
}

#[test]
fn rtstruct_far_point_does_not_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let (cts, rt) = dicom_scan(&tmp.path().join("cohort"));
    let ct = read_ct_series(&twinscan_data::dicom::ct::CtSeriesFiles {
        series_instance_uid: String::new(),
        files: cts,
    })
    .unwrap();
    let mut r = read_rtstruct(&rt).unwrap();
    let base = rasterize(&r, &ct).unwrap();
    // One point of the first contour 1e12 mm away (and one at 1e7 mm: clipped, not skipped).
    let roi = r.rois.iter().position(|x| !x.contours.is_empty()).unwrap();
    r.rois[roi].contours[0].points_lps[0][0] = 1e12;
    let t = Instant::now();
    let out = rasterize(&r, &ct).unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(
        out.warnings.iter().any(|w| w.contains("outside the image")),
        "{:?}",
        out.warnings
    );
    r.rois[roi].contours[0].points_lps[0][0] = 1e7;
    let t = Instant::now();
    let clipped = rasterize(&r, &ct).unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Other ROIs untouched.
    for (i, (a, b)) in base.masks.iter().zip(&clipped.masks).enumerate() {
        if i != roi {
            assert_eq!(a, b);
        }
    }
    // Non-finite coordinates are refused when reading the file.
    let p = tmp.path().join("rt_nan.dcm");
    edit_dicom(&rt, &p, |o| {
        let seq = o.element(tags::ROI_CONTOUR_SEQUENCE).unwrap().clone();
        let mut items = seq.items().unwrap().to_vec();
        let mut contours = items[0]
            .element(tags::CONTOUR_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()
            .to_vec();
        contours[0].put(DataElement::new(
            tags::CONTOUR_DATA,
            VR::DS,
            PrimitiveValue::Strs(["NaN", "0", "0"].iter().map(|s| s.to_string()).collect()),
        ));
        items[0].put(DataElement::new(
            tags::CONTOUR_SEQUENCE,
            VR::SQ,
            dicom_core::value::DataSetSequence::from(contours),
        ));
        o.put(DataElement::new(
            tags::ROI_CONTOUR_SEQUENCE,
            VR::SQ,
            dicom_core::value::DataSetSequence::from(items),
        ));
    });
    refused(&p, || read_rtstruct(&p));
}

#[test]
fn label_map_with_a_large_table_builds_only_present_masks() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let scan = input.join("s1");
    std::fs::create_dir_all(&scan).unwrap();
    let g = common::grid([8, 8, 4], [1.0, 1.0, 2.0]);
    let ct = twinscan_data::Volume {
        geometry: g.clone(),
        data: vec![0i16; g.len()],
    };
    let mut labels = twinscan_data::Volume {
        geometry: g.clone(),
        data: vec![0u8; g.len()],
    };
    labels.data[5] = 1; // Brain on slice 0
    twinscan_data::nrrd::write_nrrd(&scan.join("ct.nrrd"), &ct, true).unwrap();
    twinscan_data::nrrd::write_nrrd(&scan.join("labels.nrrd"), &labels, true).unwrap();
    // 117 rows (TotalSegmentator-sized): Brain present, Brainstem requested and absent,
    // the rest no study structure.
    let mut t = String::from("value,name\n1,Brain\n2,Brainstem\n");
    for v in 3..=117 {
        t.push_str(&format!("{v},thing_{v}\n"));
    }
    std::fs::write(scan.join("label_table.csv"), t).unwrap();
    let out = tmp.path().join("out");
    common::run(&input, &out, |c| c.png_bit_depth = None).unwrap();
    let ds = twinscan_data::prepared::Prepared::open(&out).unwrap();
    let col = |n: &str| ds.structures().iter().position(|s| s == n).unwrap();
    let brain: Vec<i8> = (0..ds.len()).map(|i| ds.labels(i)[col("Brain")]).collect();
    let stem: Vec<i8> = (0..ds.len())
        .map(|i| ds.labels(i)[col("Brainstem")])
        .collect();
    assert_eq!(brain, vec![1, -1, -1, -1]);
    assert_eq!(stem, vec![-1; 4]);
}

#[test]
fn stale_partial_folders_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    write_cohort(&input, &common::small_config(1), SynthFormat::Nrrd).unwrap();
    let out = tmp.path().join("out");
    // A killed run's leftovers (a pid that cannot be running: above Linux's pid_max).
    let stale = tmp.path().join(".out.partial-4194399");
    std::fs::create_dir_all(stale.join("cache")).unwrap();
    std::fs::write(stale.join("labels.csv"), "x").unwrap();
    // Another output's partial folder is left alone.
    let other = tmp.path().join(".other.partial-4194399");
    std::fs::create_dir_all(&other).unwrap();
    common::run(&input, &out, |c| c.png_bit_depth = None).unwrap();
    assert!(!stale.exists(), "stale partial folder left");
    assert!(other.exists());
    assert!(out.join("labels.csv").is_file());
}

#[test]
fn unreadable_rtstruct_is_named_in_the_scan_error() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("cohort");
    let (_, rt) = dicom_scan(&input);
    // Cut the RTSTRUCT short: it can no longer be parsed.
    let bytes = std::fs::read(&rt).unwrap();
    std::fs::write(&rt, &bytes[..bytes.len() / 2]).unwrap();
    let out = tmp.path().join("out");
    let e = common::run(&input, &out, |c| c.png_bit_depth = None).unwrap_err();
    let name = rt.file_name().unwrap().to_string_lossy().into_owned();
    common::assert_clean_failure(&e, &name, &out);
    assert!(e.to_string().contains("could not be read"), "{e}");
}
