//! Linear filters on a plane, REFLECT_101 (anchor: kornia-imgproc's `filter/`): the box blur
//! (cv2.blur), the symmetric separable filter (cv2.sepFilter2D / GaussianBlur), the 3×3
//! Sharpen correlation, and OpenCV's 1-D Gaussian kernel.

use super::border::{pad_reflect101, reflect_border, reflect101};
use super::simd::{sum_rows, sum_shift, sym_rows, sym_shift};
use crate::plane::Plane;

#[inline(always)]
fn add_assign(acc: &mut [f32], v: &[f32]) {
    for (a, &b) in acc.iter_mut().zip(v) {
        *a += b;
    }
}

/// Longest kernel handled by the register-blocked paths (longer ones use row passes).
const MAX_BLOCKED_TAPS: usize = 64;

multiversion! {
/// cv2.blur with a `k × k` normalised box, REFLECT_101 (`k` odd ≥ 1): per output row, the
/// vertical sum of `k` padded rows, then the horizontal sum of `k` shifted slices, times
/// `1/k²`. `pad` and `acc` are scratch.
pub fn box_blur(src: &Plane, dst: &mut Plane, k: usize, pad: &mut Vec<f32>, acc: &mut Vec<f32>) {
    let r = k / 2;
    let (h, w) = (src.h, src.w);
    if k > MAX_BLOCKED_TAPS {
        return box_blur_padded(src, dst, k, pad, acc);
    }
    let pw = w + 2 * r;
    dst.reshape_for_output(h, w);
    acc.clear();
    acc.resize(pw, 0.0);
    let scale = (1.0 / (k * k) as f64) as f32;
    let empty: &[f32] = &[];
    let mut rows = [empty; MAX_BLOCKED_TAPS];
    for y in 0..h {
        // vertical sum straight from the (reflected) source rows into the middle of acc,
        // then the row's REFLECT_101 border from acc itself (columns are independent)
        for (j, row) in rows.iter_mut().enumerate().take(k) {
            *row = src.row(reflect101(y as isize + j as isize - r as isize, h));
        }
        sum_rows(&rows[..k], &mut acc[r..r + w]);
        reflect_border(acc, r, w);
        sum_shift(acc, k, scale, &mut dst.data[y * w..(y + 1) * w]);
    }
}
}

/// [`box_blur`] for kernels longer than the register-blocked path handles.
fn box_blur_padded(src: &Plane, dst: &mut Plane, k: usize, pad: &mut Vec<f32>, acc: &mut Vec<f32>) {
    let r = k / 2;
    let (h, w) = (src.h, src.w);
    let pw = pad_reflect101(src, r, pad);
    dst.reshape_for_output(h, w);
    acc.clear();
    acc.resize(pw, 0.0);
    let scale = (1.0 / (k * k) as f64) as f32;
    for y in 0..h {
        let out = &mut dst.data[y * w..(y + 1) * w];
        acc.copy_from_slice(&pad[y * pw..(y + 1) * pw]);
        for j in 1..k {
            add_assign(acc, &pad[(y + j) * pw..(y + j + 1) * pw]);
        }
        out.copy_from_slice(&acc[0..w]);
        for j in 1..k {
            add_assign(out, &acc[j..j + w]);
        }
        for o in out.iter_mut() {
            *o *= scale;
        }
    }
}

multiversion! {
/// Separable filter with the same odd-length *symmetric* kernel on both axes, REFLECT_101
/// (cv2.sepFilter2D / GaussianBlur on float32); symmetric taps are paired
/// (`k_j·(a[x−j] + a[x+j])`) as OpenCV's symmetric filters do. Optional clip to [0, 1].
pub fn sep_filter(
    src: &Plane,
    dst: &mut Plane,
    kernel: &[f32],
    clip01: bool,
    pad: &mut Vec<f32>,
    acc: &mut Vec<f32>,
) {
    let k = kernel.len();
    let r = k / 2;
    let (h, w) = (src.h, src.w);
    let blocked = k <= MAX_BLOCKED_TAPS;
    let pw = if blocked { w + 2 * r } else { pad_reflect101(src, r, pad) };
    dst.reshape_for_output(h, w);
    acc.clear();
    acc.resize(pw, 0.0);
    let kc = kernel[r];
    let empty: &[f32] = &[];
    let mut rows = [empty; MAX_BLOCKED_TAPS];
    for y in 0..h {
        let out = &mut dst.data[y * w..(y + 1) * w];
        if blocked {
            for (j, row) in rows.iter_mut().enumerate().take(k) {
                *row = src.row(reflect101(y as isize + j as isize - r as isize, h));
            }
            sym_rows(&rows[..k], kernel, &mut acc[r..r + w]);
            reflect_border(acc, r, w);
            sym_shift(acc, kernel, clip01, out);
            continue;
        }
        // long kernels: whole padded rows
        let mid = &pad[(y + r) * pw..(y + r + 1) * pw];
        for (a, &v) in acc.iter_mut().zip(mid) {
            *a = v * kc;
        }
        for j in 0..r {
            let top = &pad[(y + j) * pw..(y + j + 1) * pw];
            let bot = &pad[(y + k - 1 - j) * pw..(y + k - j) * pw];
            let kj = kernel[j];
            for ((a, &t), &b) in acc.iter_mut().zip(top).zip(bot) {
                *a += (t + b) * kj;
            }
        }
        for (o, &v) in out.iter_mut().zip(&acc[r..r + w]) {
            *o = v * kc;
        }
        for j in 0..r {
            let kj = kernel[j];
            let (left, right) = (&acc[j..j + w], &acc[k - 1 - j..k - 1 - j + w]);
            for ((o, &l), &rr) in out.iter_mut().zip(left).zip(right) {
                *o += (l + rr) * kj;
            }
        }
        if clip01 {
            for o in out.iter_mut() {
                *o = o.clamp(0.0, 1.0);
            }
        }
    }
}
}

multiversion! {
/// 3×3 correlation (cv2.filter2D, not flipped), REFLECT_101, with a kernel whose eight
/// neighbours share one weight `nb` and whose centre is `centre` (the Sharpen kernel).
/// Optional clip to [0, 1]. `pad` is scratch.
pub fn filter3x3_sharpen(
    src: &Plane,
    dst: &mut Plane,
    centre: f32,
    nb: f32,
    clip01: bool,
    pad: &mut Vec<f32>,
) {
    let (h, w) = (src.h, src.w);
    let pw = pad_reflect101(src, 1, pad);
    dst.reshape_for_output(h, w);
    for y in 0..h {
        let r0 = &pad[y * pw..y * pw + pw];
        let r1 = &pad[(y + 1) * pw..(y + 1) * pw + pw];
        let r2 = &pad[(y + 2) * pw..(y + 2) * pw + pw];
        let (a0, a1, a2) = (&r0[..w], &r0[1..w + 1], &r0[2..w + 2]);
        let (b0, b1, b2) = (&r1[..w], &r1[1..w + 1], &r1[2..w + 2]);
        let (c0, c1, c2) = (&r2[..w], &r2[1..w + 1], &r2[2..w + 2]);
        let out = &mut dst.data[y * w..(y + 1) * w];
        for x in 0..out.len().min(w) {
            let s = a0[x] + a1[x] + a2[x] + b0[x] + b2[x] + c0[x] + c1[x] + c2[x];
            let v = b1[x] * centre + s * nb;
            out[x] = if clip01 { v.clamp(0.0, 1.0) } else { v };
        }
    }
}
}

/// OpenCV's 1-D Gaussian kernel (cv2.getGaussianKernel): fixed tables for `sigma <= 0` and
/// `k ∈ {1, 3, 5, 7}`; otherwise `exp(-i²/(2σ²))` normalised, with `σ = 0.3((k-1)/2 - 1) + 0.8`
/// when `sigma <= 0`.
pub fn gaussian_kernel(k: usize, sigma: f64) -> Vec<f32> {
    if sigma <= 0.0 {
        match k {
            1 => return vec![1.0],
            3 => return vec![0.25, 0.5, 0.25],
            5 => return vec![0.0625, 0.25, 0.375, 0.25, 0.0625],
            7 => {
                return vec![
                    0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125,
                ];
            }
            _ => {}
        }
    }
    let sigma = if sigma > 0.0 {
        sigma
    } else {
        0.3 * ((k as f64 - 1.0) * 0.5 - 1.0) + 0.8
    };
    let r = (k / 2) as f64;
    let scale2x = -0.5 / (sigma * sigma);
    let v: Vec<f64> = (0..k)
        .map(|i| {
            let x = i as f64 - r;
            (scale2x * x * x).exp()
        })
        .collect();
    let sum: f64 = v.iter().sum();
    v.iter().map(|&a| (a / sum) as f32).collect()
}
