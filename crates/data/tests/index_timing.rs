//! Timing of header-only DICOM indexing (`scan_dicom_dir`: every file opened up to its pixel
//! data, after the element-length check of issue 10 §3) on 10,000 generated CT slice files.
//! A measurement, not a check: `cargo test --release -p twinscan-data --test index_timing
//! -- --ignored --nocapture`; figures in docs/benchmarks.md.

#[test]
#[ignore = "a measurement; run by hand"]
fn index_10000_generated_files() {
    use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};
    let tmp = tempfile::tempdir().unwrap();
    for (size, n) in [(64usize, 10_000usize), (512, 2_000)] {
        let cohort = tmp.path().join(format!("c{size}"));
        let cfg = SynthConfig {
            scans: 1,
            size,
            z_spacing_mm: 50.0,
            noise_hu: 5.0,
            seed: 1,
        };
        write_cohort(&cohort, &cfg, SynthFormat::Dicom).unwrap();
        let found = twinscan_data::dicom::scan_dicom_dir(&cohort.join("synth_000")).unwrap();
        let slice = &found.ct_series[0].files[0];
        let dir = tmp.path().join(format!("many{size}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            std::fs::copy(slice, dir.join(format!("{i:05}.dcm"))).unwrap();
        }
        let bytes = std::fs::metadata(slice).unwrap().len();
        // Warm the page cache once, then time.
        twinscan_data::dicom::scan_dicom_dir(&dir).unwrap();
        let t = std::time::Instant::now();
        let d = twinscan_data::dicom::scan_dicom_dir(&dir).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(d.ct_series.iter().map(|s| s.files.len()).sum::<usize>(), n);
        println!(
            "{n} files of {size}x{size} ({bytes} bytes each): {secs:.2} s, {:.0} files/s",
            n as f64 / secs
        );
    }
}

/// The `nbia` indexer (`twinscan_data::nbia::index_nbia`: header-only indexing, grouping into
/// studies and series, RTSTRUCT matching) on about 10,000 generated files: a synthetic
/// DICOM cohort of 64 × 64 CT series at 1 mm slices plus their RTSTRUCTs.
#[test]
#[ignore = "a measurement; run by hand"]
fn nbia_index_10000_generated_files() {
    use twinscan_data::nbia::{RtStructChoice, index_nbia};
    use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};
    let tmp = tempfile::tempdir().unwrap();
    let cohort = tmp.path().join("nbia");
    let cfg = SynthConfig {
        scans: 38,
        size: 64,
        z_spacing_mm: 1.0,
        noise_hu: 5.0,
        seed: 1,
    };
    let t = std::time::Instant::now();
    write_cohort(&cohort, &cfg, SynthFormat::Dicom).unwrap();
    println!("generated in {:.1} s", t.elapsed().as_secs_f64());
    // Warm the page cache once, then time.
    index_nbia(&cohort, &RtStructChoice::Newest).unwrap();
    let t = std::time::Instant::now();
    let idx = index_nbia(&cohort, &RtStructChoice::Newest).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(idx.scans.len(), 38);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "nbia: {} files ({} CT slices of 64x64 in 38 series + 38 RTSTRUCTs, patients.csv): \
         {secs:.2} s, {:.0} files/s; load {}",
        idx.files,
        idx.scans.iter().map(|s| s.ct.files.len()).sum::<usize>(),
        idx.files as f64 / secs,
        load.split_whitespace().next().unwrap_or("?")
    );
}
