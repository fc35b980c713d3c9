//! Quick kernel timing for development under a loaded machine: reports the MINIMUM time over
//! many runs (robust to other processes). The reported benchmark numbers come from
//! `benches/augment.rs` (criterion), not from this.
//! `cargo run --release -p twinscan-augment --example kernel_timing [size]`

use std::time::Instant;

use twinscan_augment::Plane;
use twinscan_augment::kernels::*;

fn time(name: &str, mut f: impl FnMut()) {
    for _ in 0..20 {
        f();
    }
    let mut best = f64::MAX;
    for _ in 0..300 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{name:28} {:9.2} us", best * 1e6);
}

fn batch_scaling() {
    use twinscan_augment::{InputPlane, Pipeline};
    let img: Vec<u8> = (0..128 * 128).map(|i| (i * 7 % 251) as u8).collect();
    let inputs = vec![InputPlane::u8(128, 128, &img); 256];
    let idx: Vec<u64> = (0..256).collect();
    let mut a = vec![0.0f32; 256 * 128 * 128];
    let mut b = a.clone();
    for preset in ["study_barlow", "study_eval"] {
        let p = Pipeline::preset(preset).unwrap();
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut best = f64::MAX;
            for e in 0..15 {
                let t = Instant::now();
                pool.install(|| p.two_views_batch(&inputs, 1, e, &idx, &mut a, &mut b))
                    .unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{preset} {threads} thread(s): {:8.0} img/s (best of 15)",
                512.0 / best
            );
        }
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("batch") {
        return batch_scaling();
    }
    let n: usize = std::env::args().nth(1).map_or(128, |s| s.parse().unwrap());
    let src = Plane::from_vec(
        n,
        n,
        (0..n * n)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect(),
    )
    .unwrap();
    let mut dst = Plane::default();
    let (mut pad, mut acc, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    let (mut xt, mut yt) = (Vec::new(), Vec::new());
    for k in [3, 5, 7] {
        time(&format!("box_blur k{k}"), || {
            box_blur(&src, &mut dst, k, &mut pad, &mut acc)
        });
    }
    for (k, s) in [(5, 0.0), (13, 1.75), (21, 3.0)] {
        let kern = gaussian_kernel(k, s);
        time(&format!("sep_filter k{k}"), || {
            sep_filter(&src, &mut dst, &kern, false, &mut pad, &mut acc)
        });
    }
    time("sharpen3x3", || {
        filter3x3_sharpen(&src, &mut dst, 3.0, -0.3, false, &mut pad)
    });
    time("zoom x2.1 taps+resample", || {
        let nn = (n as f64 * 2.1) as usize;
        linear_taps(n, nn, ((nn - n) / 2) as isize, n, 0, &mut xt);
        linear_taps(n, nn, ((nn - n) / 2) as isize, n, 0, &mut yt);
        resample(&src, &mut dst, &xt, &yt, &mut rows)
    });
    time("rrc 90x90 taps+resample", || {
        linear_taps(90, n, 0, n, 10, &mut xt);
        linear_taps(90, n, 0, n, 10, &mut yt);
        resample(&src, &mut dst, &xt, &yt, &mut rows)
    });
    let m = [1.05, 0.1, -3.0, -0.08, 0.97, 4.0];
    let mut d = Vec::new();
    time("warp exact", || {
        warp_affine_with(&src, &mut dst, &m, false, &mut d)
    });
    time("warp quant", || {
        warp_affine_with(&src, &mut dst, &m, true, &mut d)
    });
    let dx: Vec<f32> = (0..n * n).map(|i| ((i % 7) as f32 - 3.0) * 0.4).collect();
    time("remap exact", || {
        remap_displacement(&src, &mut dst, &dx, &dx, false)
    });
    time("pad r=1", || {
        pad_reflect101(&src, 1, &mut pad);
    });
    time("pad r=3", || {
        pad_reflect101(&src, 3, &mut pad);
    });
    let (mut fx, mut fy, mut tmp) = (Vec::new(), Vec::new(), Vec::new());
    time("grid_field", || {
        twinscan_augment::field::grid_field(1, n, n, 16, 2.0, &mut fx, &mut fy, &mut tmp)
    });
    let mut c = src.clone();
    time("copy plane", || c.data.copy_from_slice(&src.data));
    time("mean", || {
        std::hint::black_box(mean(&src));
    });
}
