//! Reader throughput: NRRD (a DeepMind-size gzip uint8 mask), NIfTI (.nii.gz, same mask),
//! DICOM CT (the real 20-slice JPEG 2000 series) and RTSTRUCT rasterisation.
//!
//! With `TWINSCAN_SHARED_DATA` set, the real DeepMind mask
//! `test/oncologist/0522c0659/segmentations/Brain.nrrd` (512x512x165) and the
//! TotalSegmentator series are read; otherwise a synthetic 512x512x130 mask is used and the
//! DICOM benchmark is skipped. The Python anchors (pynrrd, nibabel, pydicom + pylibjpeg) run
//! on the same files with `scripts/bench_readers.py`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use twinscan_data::dicom::{read_ct_series, scan_dicom_dir};
use twinscan_data::nifti::{read_nifti, write_nifti};
use twinscan_data::nrrd::{read_nrrd, write_nrrd};
use twinscan_data::{Geometry, Volume};

fn shared() -> Option<PathBuf> {
    std::env::var_os("TWINSCAN_SHARED_DATA").map(PathBuf::from)
}

/// A 512x512x130 uint8 mask with a few ellipsoids (DeepMind-like sparsity).
fn synthetic_mask() -> Volume<u8> {
    let dims = [512, 512, 130];
    let mut data = vec![0u8; dims[0] * dims[1] * dims[2]];
    for k in 40..90 {
        for j in 200..300 {
            for i in 150..260 {
                let (x, y, z) = (
                    (i as f64 - 205.0) / 55.0,
                    (j as f64 - 250.0) / 50.0,
                    (k as f64 - 65.0) / 25.0,
                );
                if x * x + y * y + z * z < 1.0 {
                    data[i + 512 * (j + 512 * k)] = 1;
                }
            }
        }
    }
    Volume {
        geometry: Geometry {
            dims,
            origin: [-250.0, -250.0, -300.0],
            directions: [
                [0.9765625, 0.0, 0.0],
                [0.0, 0.9765625, 0.0],
                [0.0, 0.0, 2.5],
            ],
        },
        data,
    }
}

fn readers(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mask_nrrd = match shared() {
        Some(s) => {
            s.join("tcia-hn-deepmind/nrrds/test/oncologist/0522c0659/segmentations/Brain.nrrd")
        }
        None => {
            let p = dir.path().join("mask.nrrd");
            write_nrrd(&p, &synthetic_mask(), true).unwrap();
            p
        }
    };
    let mask = read_nrrd(&mask_nrrd).unwrap().into_mask();
    let mask_nii = dir.path().join("mask.nii.gz");
    write_nifti(&mask_nii, &mask).unwrap();
    eprintln!("NRRD: {} ({:?})", mask_nrrd.display(), mask.geometry.dims);

    let mut g = c.benchmark_group("readers");
    g.sample_size(10);
    g.bench_function("nrrd_gzip_u8_mask", |b| {
        b.iter(|| black_box(read_nrrd(&mask_nrrd).unwrap().into_mask()))
    });
    g.bench_function("nifti_gz_u8_mask", |b| {
        b.iter(|| black_box(read_nifti(&mask_nii).unwrap().into_mask()))
    });
    if let Some(s) = shared() {
        let d = scan_dicom_dir(&s.join("real/totalsegmentator/dicom")).unwrap();
        g.bench_function("dicom_j2k_ct_20_slices", |b| {
            b.iter(|| black_box(read_ct_series(&d.ct_series[0]).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, readers);
criterion_main!(benches);
