//! Issue 10 §3: a stable, seeded mutation test of the readers, in the normal test suite.
//! Small generated files of each format (NRRD raw and gzip, NIfTI `.nii` and `.nii.gz`,
//! DICOM CT Part-10 and bare, RTSTRUCT) are mutated (bit flips, byte overwrites, extreme
//! header numbers, truncation, insertion, deletion) by a ChaCha8 stream with fixed seeds and
//! read back. The test fails when a reader panics, when one case's allocations peak above
//! [`BOUND`] bytes, or (watchdog) when one case runs longer than 20 s. Error or success are
//! both fine: only a crash, a blow-up or a hang is a failure. `MUTATION_CASES` (per format,
//! default 1000) scales it; the cargo-fuzz targets in `fuzz/` explore further.
//!
//! One `#[test]` in this file on purpose: the allocation counter is process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Most bytes one case may hold allocated at once (the inputs are a few KB).
const BOUND: usize = 256 << 20;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
            let now = CURRENT.fetch_add(new, Ordering::Relaxed) + new;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Numbers that break naive readers, as header text.
const EXTREME_TEXT: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "18446744073709551615",
    "100000",
    "4294967296",
    "1e12",
    "é",
    "",
];

/// Little-endian words that break naive binary readers.
const EXTREME_WORDS: &[u32] = &[
    0,
    1,
    0xFFFF,
    0x7FFF,
    0x8000,
    0xFFFF_FFFF,
    0x7FFF_FFFF,
    0x7F80_0000, // f32 inf
    0x7FC0_0000, // f32 NaN
    0x4E6E_6B28, // f32 1e9
    0x0001_0000,
];

/// One seeded mutation of `base`; `header` = how many leading bytes are header (extreme
/// values are written there), `text` = the header is text (NRRD).
fn mutate(base: &[u8], header: usize, text: bool, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut b = base.to_vec();
    let header = header.min(b.len()).max(1);
    for _ in 0..rng.random_range(1..=3) {
        if b.is_empty() {
            b.push(0);
        }
        match rng.random_range(0..7) {
            0 => {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let i = rng.random_range(0..header.min(b.len()));
                b[i] = [0u8, 0xFF, rng.random(), b'9', b' '][rng.random_range(0..5)];
            }
            2 if text => {
                // Replace a number token of the header text by an extreme one.
                let head = &b[..header.min(b.len())];
                let starts: Vec<usize> = (0..head.len())
                    .filter(|&i| {
                        head[i].is_ascii_digit() && (i == 0 || !head[i - 1].is_ascii_alphanumeric())
                    })
                    .collect();
                if !starts.is_empty() {
                    let s = starts[rng.random_range(0..starts.len())];
                    let e = (s..head.len())
                        .find(|&k| {
                            !(head[k].is_ascii_alphanumeric() || matches!(head[k], b'.' | b'-'))
                        })
                        .unwrap_or(head.len());
                    let mut nb = b[..s].to_vec();
                    nb.extend_from_slice(
                        EXTREME_TEXT[rng.random_range(0..EXTREME_TEXT.len())].as_bytes(),
                    );
                    nb.extend_from_slice(&b[e..]);
                    b = nb;
                }
            }
            2 | 3 => {
                let i = rng.random_range(0..header.min(b.len()));
                let w = EXTREME_WORDS[rng.random_range(0..EXTREME_WORDS.len())].to_le_bytes();
                let n = if rng.random() { 2 } else { 4 };
                for k in 0..n {
                    if i + k < b.len() {
                        b[i + k] = w[k];
                    }
                }
            }
            4 => {
                let cut = rng.random_range(0..b.len());
                b.truncate(cut);
            }
            5 => {
                let i = rng.random_range(0..=b.len());
                let n = rng.random_range(1..16);
                let ins: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                b.splice(i..i, ins);
            }
            _ => {
                let i = rng.random_range(0..b.len());
                let n = rng.random_range(1..16).min(b.len() - i);
                b.drain(i..i + n);
            }
        }
    }
    b
}

fn gz(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// The seed files, generated.
struct Seeds {
    nrrd_raw: Vec<u8>,
    nrrd_gz: Vec<u8>,
    nii: Vec<u8>,
    ct_part10: Vec<u8>,
    ct_bare: Vec<u8>,
    rtstruct: Vec<u8>,
    ct: twinscan_data::dicom::ct::CtSeries,
}

fn seeds(dir: &Path) -> Seeds {
    use twinscan_data::synth::{SynthConfig, SynthFormat, write_cohort};
    let g = twinscan_data::Geometry {
        dims: [5, 4, 3],
        origin: [-2.0, 3.0, 10.0],
        directions: [[0.8, 0.0, 0.0], [0.0, 0.8, 0.0], [0.0, 0.0, 2.5]],
    };
    let v = twinscan_data::Volume {
        geometry: g.clone(),
        data: (0..g.len() as i16).map(|x| x * 37 - 900).collect(),
    };
    let p = dir.join("s.nrrd");
    twinscan_data::nrrd::write_nrrd(&p, &v, false).unwrap();
    let nrrd_raw = std::fs::read(&p).unwrap();
    twinscan_data::nrrd::write_nrrd(&p, &v, true).unwrap();
    let nrrd_gz = std::fs::read(&p).unwrap();
    let p = dir.join("s.nii");
    twinscan_data::nifti::write_nifti(&p, &v).unwrap();
    let nii = std::fs::read(&p).unwrap();
    let cohort = dir.join("dicom");
    let cfg = SynthConfig {
        scans: 1,
        size: 16,
        z_spacing_mm: 40.0,
        noise_hu: 5.0,
        seed: 1,
    };
    write_cohort(&cohort, &cfg, SynthFormat::Dicom).unwrap();
    let found = twinscan_data::dicom::scan_dicom_dir(&cohort.join("synth_000")).unwrap();
    let files = found.ct_series[0].files.clone();
    let ct = twinscan_data::dicom::read_ct_series(&found.ct_series[0]).unwrap();
    let ct_part10 = std::fs::read(&files[files.len() / 2]).unwrap();
    let obj = dicom_object::open_file(&files[files.len() / 2]).unwrap();
    let mut ct_bare = Vec::new();
    obj.write_dataset_with_ts(
        &mut ct_bare,
        &dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN.erased(),
    )
    .unwrap();
    let rtstruct = std::fs::read(&found.rtstructs[0]).unwrap();
    Seeds {
        nrrd_raw,
        nrrd_gz,
        nii,
        ct_part10,
        ct_bare,
        rtstruct,
        ct,
    }
}

static CASE: AtomicU64 = AtomicU64::new(0);
static FORMAT: AtomicUsize = AtomicUsize::new(0);
static STARTED_MS: AtomicU64 = AtomicU64::new(0);

const FORMATS: [&str; 7] = [
    "nrrd-raw",
    "nrrd-gzip",
    "nii",
    "nii.gz",
    "dicom-ct",
    "dicom-ct-bare",
    "rtstruct",
];

#[test]
fn seeded_mutations_never_crash_or_blow_up() {
    let cases: u64 = std::env::var("MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let tmp = tempfile::tempdir().unwrap();
    let s = seeds(tmp.path());
    let t0 = Instant::now();
    // Watchdog: a case running over 20 s is a hang; name it and stop the process.
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let started = STARTED_MS.load(Ordering::Relaxed);
            let now = t0.elapsed().as_millis() as u64;
            if started > 0 && now.saturating_sub(started) > 20_000 {
                eprintln!(
                    "mutation case {} of format {} hangs (> 20 s)",
                    CASE.load(Ordering::Relaxed),
                    FORMATS[FORMAT.load(Ordering::Relaxed)]
                );
                std::process::abort();
            }
        }
    });
    let work = tmp.path().join("m");
    std::fs::create_dir_all(&work).unwrap();
    let mut failures = Vec::new();
    let mut outcomes = [[0u64; 2]; FORMATS.len()];
    for (f, name) in FORMATS.iter().enumerate() {
        for case in 0..cases {
            let mut rng = ChaCha8Rng::seed_from_u64(0x7715_0000 ^ ((f as u64) << 32) ^ case);
            let (path, bytes): (PathBuf, Vec<u8>) = match f {
                0 => (
                    work.join("m.nrrd"),
                    mutate(&s.nrrd_raw, 300, true, &mut rng),
                ),
                1 => (work.join("m.nrrd"), mutate(&s.nrrd_gz, 300, true, &mut rng)),
                2 => (work.join("m.nii"), mutate(&s.nii, 352, false, &mut rng)),
                3 => {
                    // Mostly the inner file mutated, sometimes the compressed bytes.
                    let b = if rng.random_bool(0.8) {
                        gz(&mutate(&s.nii, 352, false, &mut rng))
                    } else {
                        mutate(&gz(&s.nii), 64, false, &mut rng)
                    };
                    (work.join("m.nii.gz"), b)
                }
                4 => (
                    work.join("m.dcm"),
                    mutate(&s.ct_part10, 1200, false, &mut rng),
                ),
                5 => (
                    work.join("m.dcm"),
                    mutate(&s.ct_bare, 1000, false, &mut rng),
                ),
                _ => (
                    work.join("rt.dcm"),
                    mutate(&s.rtstruct, 4000, false, &mut rng),
                ),
            };
            std::fs::write(&path, &bytes).unwrap();
            CASE.store(case, Ordering::Relaxed);
            FORMAT.store(f, Ordering::Relaxed);
            let base = CURRENT.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            STARTED_MS.store(t0.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> bool {
                match f {
                    0..=3 => twinscan_data::read_volume(&path).is_ok(),
                    4 | 5 => twinscan_data::dicom::read_ct_series(
                        &twinscan_data::dicom::ct::CtSeriesFiles {
                            series_instance_uid: String::new(),
                            files: vec![path.clone()],
                        },
                    )
                    .is_ok(),
                    _ => twinscan_data::dicom::read_rtstruct(&path)
                        .and_then(|rt| twinscan_data::dicom::rasterize(&rt, &s.ct))
                        .is_ok(),
                }
            }));
            STARTED_MS.store(0, Ordering::Relaxed);
            let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
            match r {
                Err(_) => failures.push(format!("{name} case {case}: panic")),
                Ok(ok) => outcomes[f][ok as usize] += 1,
            }
            if peak > BOUND {
                failures.push(format!("{name} case {case}: {peak} bytes allocated"));
            }
            // MUTATION_DUMP=<dir> keeps the failing inputs for a look.
            if (r.is_err() || peak > BOUND)
                && let Ok(d) = std::env::var("MUTATION_DUMP")
            {
                let _ = std::fs::write(Path::new(&d).join(format!("{name}-{case}")), &bytes);
            }
        }
    }
    for (f, name) in FORMATS.iter().enumerate() {
        println!(
            "{name}: {} refused, {} read",
            outcomes[f][0], outcomes[f][1]
        );
    }
    println!(
        "{} cases in {:.1} s",
        cases * FORMATS.len() as u64,
        t0.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} failures: {:#?}",
        failures.len(),
        failures
    );
    // The mutations must reach past the first checks: some files still read, most do not.
    for (f, name) in FORMATS.iter().enumerate() {
        assert!(outcomes[f][0] > 0, "{name}: no mutation refused");
    }
}
