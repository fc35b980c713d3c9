//! Displacement fields for [`crate::transforms::Elastic`]: the 1.x smoothed-noise field (Gaussian
//! approximated by three box passes, no 401-tap kernel) and the control-grid elastic field.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::kernels::reflect;
use crate::transforms::std_normal;

/// Widths of three box filters whose cascade approximates a Gaussian of `sigma`
/// (Kovesi 2010, "Fast almost-Gaussian filtering"); all widths odd.
pub fn box_widths_for_gauss(sigma: f64) -> [usize; 3] {
    let n = 3.0;
    let w_ideal = (12.0 * sigma * sigma / n + 1.0).sqrt();
    let mut wl = w_ideal.floor() as i64;
    if wl % 2 == 0 {
        wl -= 1;
    }
    let wl = wl.max(1);
    let wu = wl + 2;
    let wlf = wl as f64;
    let m = ((12.0 * sigma * sigma - n * wlf * wlf - 4.0 * n * wlf - 3.0 * n) / (-4.0 * wlf - 4.0))
        .round() as i64;
    let mut out = [0usize; 3];
    for (i, o) in out.iter_mut().enumerate() {
        *o = if (i as i64) < m {
            wl as usize
        } else {
            wu as usize
        };
    }
    out
}

/// One normalised box pass of odd width `wb` along a strided line, REFLECT border (any
/// radius, reflection repeats as scipy does for kernels longer than the axis).
fn box_line(
    data: &mut [f32],
    start: usize,
    stride: usize,
    n: usize,
    wb: usize,
    line: &mut Vec<f32>,
) {
    let r = (wb / 2) as isize;
    line.clear();
    line.extend((-r..n as isize + r).map(|i| data[start + reflect(i, n) * stride]));
    let inv = 1.0 / wb as f64;
    let mut acc: f64 = line[..wb].iter().map(|&v| v as f64).sum();
    for i in 0..n {
        data[start + i * stride] = (acc * inv) as f32;
        if i + 1 < n {
            acc += line[i + wb] as f64 - line[i] as f64;
        }
    }
}

/// Approximate Gaussian smoothing (σ px, REFLECT border) of an `h × w` field in place.
pub fn smooth_reflect(data: &mut [f32], h: usize, w: usize, sigma: f64, line: &mut Vec<f32>) {
    for wb in box_widths_for_gauss(sigma) {
        for y in 0..h {
            box_line(data, y * w, 1, w, wb, line);
        }
        for x in 0..w {
            box_line(data, x, w, h, wb, line);
        }
    }
}

/// The 1.x field: `dx = alpha·G_σ(U(−1, 1))`, then `dy` likewise from the same stream, with
/// G_σ approximated by [`smooth_reflect`]. Fills `dx`, `dy` (`h·w` each).
#[allow(clippy::too_many_arguments)]
pub fn v1_field(
    seed: u64,
    h: usize,
    w: usize,
    alpha: f64,
    sigma: f64,
    dx: &mut Vec<f32>,
    dy: &mut Vec<f32>,
    line: &mut Vec<f32>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for f in [&mut *dx, &mut *dy] {
        f.clear();
        f.extend((0..h * w).map(|_| rng.random::<f32>() * 2.0 - 1.0));
        smooth_reflect(f, h, w, sigma, line);
        let a = alpha as f32;
        for v in f.iter_mut() {
            *v *= a;
        }
    }
}

/// Catmull-Rom weights for fraction `t` in [0, 1) over taps −1, 0, 1, 2.
#[inline]
fn cubic_weights(t: f32) -> [f32; 4] {
    let t2 = t * t;
    let t3 = t2 * t;
    [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ]
}

/// Taps (indices, weights) mapping `n` pixels onto a control grid of `g` points, spacing `s`.
fn grid_taps(n: usize, s: usize, g: usize) -> Vec<([usize; 4], [f32; 4])> {
    (0..n)
        .map(|y| {
            let t = (y as f32 + 0.5) / s as f32 + 0.5;
            let j0 = t.floor();
            let wts = cubic_weights(t - j0);
            let j0 = j0 as isize;
            let idx = [-1isize, 0, 1, 2].map(|k| (j0 + k).clamp(0, g as isize - 1) as usize);
            (idx, wts)
        })
        .collect()
}

/// The control-grid elastic field (MONAI Rand2DElastic-like): offsets `N(0, 1)·magnitude` px
/// on a grid with one point per `spacing` px (plus a margin), cubic-interpolated to every
/// pixel. Fills `dx`, `dy` (`h·w` each).
#[allow(clippy::too_many_arguments)]
pub fn grid_field(
    seed: u64,
    h: usize,
    w: usize,
    spacing: usize,
    magnitude: f64,
    dx: &mut Vec<f32>,
    dy: &mut Vec<f32>,
    tmp: &mut Vec<f32>,
) {
    let gh = h.div_ceil(spacing) + 3;
    let gw = w.div_ceil(spacing) + 3;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let xt = grid_taps(w, spacing, gw);
    let yt = grid_taps(h, spacing, gh);
    for f in [&mut *dx, &mut *dy] {
        let coarse: Vec<f32> = (0..gh * gw)
            .map(|_| (std_normal(&mut rng) * magnitude) as f32)
            .collect();
        // along x: gh × w
        tmp.clear();
        tmp.resize(gh * w, 0.0);
        for j in 0..gh {
            let crow = &coarse[j * gw..(j + 1) * gw];
            for (x, (idx, wt)) in xt.iter().enumerate() {
                tmp[j * w + x] = crow[idx[0]] * wt[0]
                    + crow[idx[1]] * wt[1]
                    + crow[idx[2]] * wt[2]
                    + crow[idx[3]] * wt[3];
            }
        }
        // along y: h × w
        f.clear();
        f.resize(h * w, 0.0);
        for (y, (idx, wt)) in yt.iter().enumerate() {
            let out = &mut f[y * w..(y + 1) * w];
            for k in 0..4 {
                let src = &tmp[idx[k] * w..(idx[k] + 1) * w];
                let wk = wt[k];
                for (o, &v) in out.iter_mut().zip(src) {
                    *o += v * wk;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_widths_match_kovesi_for_sigma_50() {
        // Hand computation: w_ideal = sqrt(12·2500/3 + 1) = 100.005 -> wl = 99, wu = 101,
        // m = round((30000 − 3·9801 − 1188 − 3)/(−400)) = round(1.5) = 2
        assert_eq!(box_widths_for_gauss(50.0), [99, 99, 101]);
        // variance of the cascade: Σ (w² − 1)/12 ≈ σ²
        let var: f64 = box_widths_for_gauss(50.0)
            .iter()
            .map(|&w| ((w * w) as f64 - 1.0) / 12.0)
            .sum();
        assert!((var.sqrt() - 50.0).abs() < 0.5, "{var}");
    }

    #[test]
    fn catmull_rom_weights_sum_to_one_and_interpolate() {
        for t in [0.0f32, 0.25, 0.5, 0.9] {
            let w = cubic_weights(t);
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert_eq!(cubic_weights(0.0), [0.0, 1.0, 0.0, 0.0]);
    }
}
