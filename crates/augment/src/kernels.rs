//! Pixel kernels on single planes (the hot loops). All follow OpenCV's conventions as given in
//! `specs/augment.md` §3.0: pixel centres at integer coordinates, REFLECT_101 for filters,
//! half-pixel-centred two-tap INTER_LINEAR for resizing, constant border for warps.

use crate::plane::Plane;

/// OpenCV `borderInterpolate` for BORDER_REFLECT_101 (`gfedcb|abcdefgh|gfedcba`), valid for
/// any offset, including kernels longer than the axis. `n == 1` maps everything to 0.
#[inline]
pub fn reflect101(mut i: isize, n: usize) -> usize {
    let n = n as isize;
    if n == 1 {
        return 0;
    }
    loop {
        if i < 0 {
            i = -i;
        } else if i >= n {
            i = 2 * n - 2 - i;
        } else {
            return i as usize;
        }
    }
}

/// BORDER_REFLECT (`fedcba|abcdefgh|hgfedcb`, scipy.ndimage's `reflect`) for any offset.
#[inline]
pub fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - 1 - m }) as usize
}

/// One output sample of a separable two-tap resample: `src[i0]*w0 + src[i1]*w1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tap {
    /// First source index.
    pub i0: u32,
    /// Second source index (equals `i0` at the clamped edges).
    pub i1: u32,
    /// Weight of `i0`.
    pub w0: f32,
    /// Weight of `i1`.
    pub w1: f32,
}

/// Taps of cv2.resize INTER_LINEAR from `src_len` to `dst_len` samples, restricted to the
/// output positions `first + j` for `j in 0..count`, where a position outside `[0, dst_len)`
/// is first reflected (REFLECT_101) into it (PadIfNeeded before a crop), and the source
/// positions are shifted by `src_offset` (a crop's origin).
///
/// OpenCV: `scale = 1 / (dst_len / src_len)`, `fx = (float)((d + 0.5) * scale - 0.5)`,
/// `sx = floor(fx)`, `fx -= sx`; `sx < 0` gives `(0, fx = 0)`, `sx >= src_len - 1` gives
/// `(src_len - 1, fx = 0)`.
pub fn linear_taps(
    src_len: usize,
    dst_len: usize,
    first: isize,
    count: usize,
    src_offset: usize,
    out: &mut Vec<Tap>,
) {
    out.clear();
    let inv = dst_len as f64 / src_len as f64;
    let scale = 1.0 / inv;
    for j in 0..count {
        let d = reflect101(first + j as isize, dst_len);
        let mut fx = ((d as f64 + 0.5) * scale - 0.5) as f32;
        let mut sx = fx.floor();
        fx -= sx;
        if sx < 0.0 {
            sx = 0.0;
            fx = 0.0;
        }
        if sx >= (src_len - 1) as f32 {
            sx = (src_len - 1) as f32;
            fx = 0.0;
        }
        let i0 = sx as usize;
        let i1 = (i0 + 1).min(src_len - 1);
        out.push(Tap {
            i0: (i0 + src_offset) as u32,
            i1: (i1 + src_offset) as u32,
            w0: 1.0 - fx,
            w1: fx,
        });
    }
}

/// Separable two-tap resample: `dst(y, x) = Σ ytaps[y] · Σ xtaps[x] · src`, computed as OpenCV
/// does (horizontal pass per needed source row, then a vertical blend of two such rows).
/// `rows` is scratch (two row buffers). `dst` is reshaped to `ytaps.len() × xtaps.len()`.
pub fn resample(src: &Plane, dst: &mut Plane, xtaps: &[Tap], ytaps: &[Tap], rows: &mut Vec<f32>) {
    let ow = xtaps.len();
    dst.reshape_for_output(ytaps.len(), ow);
    rows.clear();
    rows.resize(2 * ow, 0.0);
    let (ra, rb) = rows.split_at_mut(ow);
    let mut bufs = [ra, rb];
    let mut keys = [u32::MAX, u32::MAX];
    let hpass = |s: &[f32], out: &mut [f32]| {
        for (o, t) in out.iter_mut().zip(xtaps) {
            // SAFETY-free indexing: taps were built for this source width.
            *o = s[t.i0 as usize] * t.w0 + s[t.i1 as usize] * t.w1;
        }
    };
    for (y, t) in ytaps.iter().enumerate() {
        // make slot 0 hold row i0 and slot 1 hold row i1
        if keys[0] != t.i0 {
            if keys[1] == t.i0 {
                bufs.swap(0, 1);
                keys.swap(0, 1);
            } else {
                hpass(src.row(t.i0 as usize), bufs[0]);
                keys[0] = t.i0;
            }
        }
        let out = &mut dst.data[y * ow..(y + 1) * ow];
        if t.w1 == 0.0 || t.i1 == t.i0 {
            // one row: OpenCV still computes S0*w0 + S1*w1 with w1 = 0 and w0 = 1
            let b0 = t.w0;
            for (o, &a) in out.iter_mut().zip(bufs[0].iter()) {
                *o = a * b0;
            }
            continue;
        }
        if keys[1] != t.i1 {
            hpass(src.row(t.i1 as usize), bufs[1]);
            keys[1] = t.i1;
        }
        let (b0, b1) = (t.w0, t.w1);
        for ((o, &a), &b) in out.iter_mut().zip(bufs[0].iter()).zip(bufs[1].iter()) {
            *o = a * b0 + b * b1;
        }
    }
}

/// Pads `src` by `r` pixels on every side with REFLECT_101 into `pad`
/// (`(h + 2r) × (w + 2r)`, row-major).
pub fn pad_reflect101(src: &Plane, r: usize, pad: &mut Vec<f32>) -> usize {
    let (h, w) = (src.h, src.w);
    let pw = w + 2 * r;
    pad.clear();
    pad.resize((h + 2 * r) * pw, 0.0);
    for py in 0..h + 2 * r {
        let sy = reflect101(py as isize - r as isize, h);
        let srow = src.row(sy);
        let prow = &mut pad[py * pw..(py + 1) * pw];
        prow[r..r + w].copy_from_slice(srow);
        for x in 0..r {
            prow[x] = srow[reflect101(x as isize - r as isize, w)];
            prow[r + w + x] = srow[reflect101((w + x) as isize, w)];
        }
    }
    pw
}

/// cv2.blur with a `k × k` normalised box, REFLECT_101 (`k` odd ≥ 1).
/// `pad` and `acc` are scratch.
pub fn box_blur(src: &Plane, dst: &mut Plane, k: usize, pad: &mut Vec<f32>, acc: &mut Vec<f32>) {
    let r = k / 2;
    let (h, w) = (src.h, src.w);
    let pw = pad_reflect101(src, r, pad);
    dst.reshape_for_output(h, w);
    acc.clear();
    acc.resize(pw, 0.0);
    let scale = (1.0 / (k * k) as f64) as f32;
    for y in 0..h {
        // vertical sum of k padded rows
        acc.copy_from_slice(&pad[y * pw..(y + 1) * pw]);
        for j in 1..k {
            let row = &pad[(y + j) * pw..(y + j + 1) * pw];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
        // horizontal sum of k shifted slices
        let out = &mut dst.data[y * w..(y + 1) * w];
        out.copy_from_slice(&acc[0..w]);
        for j in 1..k {
            for (o, &v) in out.iter_mut().zip(&acc[j..j + w]) {
                *o += v;
            }
        }
        for o in out.iter_mut() {
            *o *= scale;
        }
    }
}

/// Separable filter with the same odd-length kernel on both axes, REFLECT_101
/// (cv2.sepFilter2D / GaussianBlur on float32). Optional clip to [0, 1].
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
    let pw = pad_reflect101(src, r, pad);
    dst.reshape_for_output(h, w);
    acc.clear();
    acc.resize(pw, 0.0);
    for y in 0..h {
        let k0 = kernel[0];
        for (a, &v) in acc.iter_mut().zip(&pad[y * pw..(y + 1) * pw]) {
            *a = v * k0;
        }
        for (j, &kj) in kernel.iter().enumerate().skip(1) {
            let row = &pad[(y + j) * pw..(y + j + 1) * pw];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v * kj;
            }
        }
        let out = &mut dst.data[y * w..(y + 1) * w];
        for (o, &v) in out.iter_mut().zip(&acc[0..w]) {
            *o = v * k0;
        }
        for (j, &kj) in kernel.iter().enumerate().skip(1) {
            for (o, &v) in out.iter_mut().zip(&acc[j..j + w]) {
                *o += v * kj;
            }
        }
        if clip01 {
            for o in out.iter_mut() {
                *o = o.clamp(0.0, 1.0);
            }
        }
    }
}

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
        let out = &mut dst.data[y * w..(y + 1) * w];
        for x in 0..w {
            let s =
                r0[x] + r0[x + 1] + r0[x + 2] + r1[x] + r1[x + 2] + r2[x] + r2[x + 1] + r2[x + 2];
            out[x] = r1[x + 1] * centre + s * nb;
        }
        if clip01 {
            for o in out.iter_mut() {
                *o = o.clamp(0.0, 1.0);
            }
        }
    }
}

/// Inverse of a 2×3 affine matrix exactly as cv2.invertAffineTransform computes it (f64).
pub fn invert_affine(m: &[f64; 6]) -> [f64; 6] {
    let d = m[0] * m[4] - m[1] * m[3];
    let d = if d != 0.0 { 1.0 / d } else { 0.0 };
    let a11 = m[4] * d;
    let a22 = m[0] * d;
    let a12 = -m[1] * d;
    let a21 = -m[3] * d;
    let b1 = -a11 * m[2] - a12 * m[5];
    let b2 = -a21 * m[2] - a22 * m[5];
    [a11, a12, b1, a21, a22, b2]
}

/// cv2.getAffineTransform for three point pairs `src[i] -> dst[i]` (x, y), solved in f64.
pub fn affine_from_points(src: &[[f32; 2]; 3], dst: &[[f32; 2]; 3]) -> [f64; 6] {
    // Solve [x y 1] * [a b c]^T = u and = v with Cramer's rule on the shared 3×3 system.
    let p = |i: usize| (src[i][0] as f64, src[i][1] as f64);
    let (x0, y0) = p(0);
    let (x1, y1) = p(1);
    let (x2, y2) = p(2);
    let det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
    let solve = |u0: f64, u1: f64, u2: f64| {
        let a = (u0 * (y1 - y2) - y0 * (u1 - u2) + (u1 * y2 - u2 * y1)) / det;
        let b = (x0 * (u1 - u2) - u0 * (x1 - x2) + (x1 * u2 - x2 * u1)) / det;
        let c =
            (x0 * (y1 * u2 - y2 * u1) - y0 * (x1 * u2 - x2 * u1) + u0 * (x1 * y2 - x2 * y1)) / det;
        (a, b, c)
    };
    let (a, b, c) = solve(dst[0][0] as f64, dst[1][0] as f64, dst[2][0] as f64);
    let (d, e, f) = solve(dst[0][1] as f64, dst[1][1] as f64, dst[2][1] as f64);
    [a, b, c, d, e, f]
}

/// Bilinear sample at integer cell `(ix, iy)` with fractions `(fx, fy)`, constant-0 border
/// for taps outside the plane (OpenCV remapBilinear with BORDER_CONSTANT, value 0).
#[inline(always)]
fn bilinear_const(src: &[f32], w: usize, h: usize, ix: i32, iy: i32, fx: f32, fy: f32) -> f32 {
    let w00 = (1.0 - fy) * (1.0 - fx);
    let w01 = (1.0 - fy) * fx;
    let w10 = fy * (1.0 - fx);
    let w11 = fy * fx;
    if (ix as u32) < (w as u32 - 1) && (iy as u32) < (h as u32 - 1) {
        let o = iy as usize * w + ix as usize;
        return src[o] * w00 + src[o + 1] * w01 + (src[o + w] * w10 + src[o + w + 1] * w11);
    }
    if ix >= w as i32 || ix + 1 < 0 || iy >= h as i32 || iy + 1 < 0 {
        return 0.0;
    }
    let get = |x: i32, y: i32| -> f32 {
        if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
            src[y as usize * w + x as usize]
        } else {
            0.0
        }
    };
    get(ix, iy) * w00 + get(ix + 1, iy) * w01 + (get(ix, iy + 1) * w10 + get(ix + 1, iy + 1) * w11)
}

/// cv2.warpAffine(src, M, (w, h), INTER_LINEAR, BORDER_CONSTANT, 0) given the *inverse*
/// matrix `minv` (dst → src). `quantize_1_32` reproduces OpenCV 4.x's fixed-point coordinates
/// (10-bit accumulation, rounding to 1/32 px); otherwise coordinates are exact (OpenCV ≥ 5).
/// Output has the size of `src`.
pub fn warp_affine(src: &Plane, dst: &mut Plane, minv: &[f64; 6], quantize_1_32: bool) {
    let (h, w) = (src.h, src.w);
    dst.reshape_for_output(h, w);
    let s = &src.data[..];
    if quantize_1_32 {
        const AB: f64 = 1024.0;
        for y in 0..h {
            let x0 = (minv[1] * y as f64 + minv[2]) * AB;
            let y0 = (minv[4] * y as f64 + minv[5]) * AB;
            let x0 = x0.round_ties_even() as i64 + 16;
            let y0 = y0.round_ties_even() as i64 + 16;
            let out = &mut dst.data[y * w..(y + 1) * w];
            for (x, o) in out.iter_mut().enumerate() {
                let ad = (minv[0] * x as f64 * AB).round_ties_even() as i64;
                let bd = (minv[3] * x as f64 * AB).round_ties_even() as i64;
                let xx = (x0 + ad) >> 5;
                let yy = (y0 + bd) >> 5;
                let fx = (xx & 31) as f32 * (1.0 / 32.0);
                let fy = (yy & 31) as f32 * (1.0 / 32.0);
                *o = bilinear_const(s, w, h, (xx >> 5) as i32, (yy >> 5) as i32, fx, fy);
            }
        }
    } else {
        for y in 0..h {
            let bx = minv[1] * y as f64 + minv[2];
            let by = minv[4] * y as f64 + minv[5];
            let out = &mut dst.data[y * w..(y + 1) * w];
            let mut sx = bx;
            let mut sy = by;
            for o in out.iter_mut() {
                let fxf = sx.floor();
                let fyf = sy.floor();
                *o = bilinear_const(
                    s,
                    w,
                    h,
                    fxf as i32,
                    fyf as i32,
                    (sx - fxf) as f32,
                    (sy - fyf) as f32,
                );
                sx += minv[0];
                sy += minv[3];
            }
        }
    }
}

/// cv2.remap with absolute maps replaced by a displacement field: samples `src` at
/// `(x + dx[y, x], y + dy[y, x])`, bilinear, constant-0 border; `quantize_1_32` rounds the
/// coordinates to 1/32 px as OpenCV 4.x does.
pub fn remap_displacement(
    src: &Plane,
    dst: &mut Plane,
    dx: &[f32],
    dy: &[f32],
    quantize_1_32: bool,
) {
    let (h, w) = (src.h, src.w);
    dst.reshape_for_output(h, w);
    let s = &src.data[..];
    for y in 0..h {
        let out = &mut dst.data[y * w..(y + 1) * w];
        for (x, o) in out.iter_mut().enumerate() {
            let i = y * w + x;
            // the map is float32, as cv2 receives it
            let mx = x as f32 + dx[i];
            let my = y as f32 + dy[i];
            if quantize_1_32 {
                let qx = (mx * 32.0).round_ties_even() as i32;
                let qy = (my * 32.0).round_ties_even() as i32;
                *o = bilinear_const(
                    s,
                    w,
                    h,
                    qx >> 5,
                    qy >> 5,
                    (qx & 31) as f32 / 32.0,
                    (qy & 31) as f32 / 32.0,
                );
            } else {
                let fx = mx.floor();
                let fy = my.floor();
                *o = bilinear_const(s, w, h, fx as i32, fy as i32, mx - fx, my - fy);
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

/// Sets the rectangle rows `[y1, y2)` × columns `[x1, x2)` to `fill` (clipped to the plane).
pub fn fill_rect(p: &mut Plane, y1: usize, y2: usize, x1: usize, x2: usize, fill: f32) {
    let (y2, x2) = (y2.min(p.h), x2.min(p.w));
    if x1 >= x2 {
        return;
    }
    for y in y1..y2 {
        p.data[y * p.w + x1..y * p.w + x2].fill(fill);
    }
}

/// Mean of the plane, accumulated in f64.
pub fn mean(p: &Plane) -> f64 {
    if p.data.is_empty() {
        return 0.0;
    }
    p.data.iter().map(|&v| v as f64).sum::<f64>() / p.data.len() as f64
}
