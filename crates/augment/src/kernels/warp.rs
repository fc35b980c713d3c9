//! Geometric warps with bilinear sampling and a constant-0 border (anchor: kornia-imgproc's
//! `warp/`): affine matrices as cv2.getAffineTransform / invertAffineTransform compute them,
//! cv2.warpAffine (exact or OpenCV 4.x's 1/32-px fixed point) and cv2.remap of a displacement
//! field.

use crate::plane::Plane;

/// `floor(x)` as an integer for sample coordinates, without libm or saturating-cast overhead.
/// `x` is first clamped to `[-4, hi]` (NaN maps to −4), so the result lies in `[-4, hi]`.
#[inline(always)]
pub fn floor_coord(x: f32, hi: f32) -> (i32, f32) {
    let c = x.max(-4.0).min(hi);
    // SAFETY: c + 8 is finite and in [4, hi + 8] ⊂ i32's range (hi is an image side + 4 < 2^24),
    // and truncation equals floor for positive values.
    let i = unsafe { (c + 8.0).to_int_unchecked::<i32>() } - 8;
    (i, c - i as f32)
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

multiversion! {
/// cv2.warpAffine(src, M, (w, h), INTER_LINEAR, BORDER_CONSTANT, 0) given the *inverse*
/// matrix `minv` (dst → src). `quantize_1_32` reproduces OpenCV 4.x's fixed-point coordinates
/// (per-column deltas rounded at 1/1024 px, sum rounded to 1/32 px); otherwise coordinates are
/// exact f64 (OpenCV ≥ 5), advanced incrementally along each row. Output has the size of `src`.
/// `deltas` is scratch.
pub fn warp_affine_with(src: &Plane, dst: &mut Plane, minv: &[f64; 6], quantize_1_32: bool, deltas: &mut Vec<i64>) {
    let (h, w) = (src.h, src.w);
    dst.reshape_for_output(h, w);
    let s = &src.data[..];
    if quantize_1_32 {
        const AB: f64 = 1024.0;
        deltas.clear();
        for x in 0..w {
            deltas.push((minv[0] * x as f64 * AB).round_ties_even() as i64);
            deltas.push((minv[3] * x as f64 * AB).round_ties_even() as i64);
        }
        for y in 0..h {
            let x0 = ((minv[1] * y as f64 + minv[2]) * AB).round_ties_even() as i64 + 16;
            let y0 = ((minv[4] * y as f64 + minv[5]) * AB).round_ties_even() as i64 + 16;
            let out = &mut dst.data[y * w..(y + 1) * w];
            for (o, d) in out.iter_mut().zip(deltas.chunks_exact(2)) {
                let xx = (x0 + d[0]) >> 5;
                let yy = (y0 + d[1]) >> 5;
                let fx = (xx & 31) as f32 * (1.0 / 32.0);
                let fy = (yy & 31) as f32 * (1.0 / 32.0);
                *o = bilinear_const(s, w, h, (xx >> 5) as i32, (yy >> 5) as i32, fx, fy);
            }
        }
    } else {
        // 32.32 fixed point: per-row origin rounded once, per-column step exact to 2^-33 px
        const ONE: f64 = 4294967296.0;
        let (dx, dy) = ((minv[0] * ONE).round() as i64, (minv[3] * ONE).round() as i64);
        let (lo, hix, hiy) = (-4i64 << 32, (w as i64 + 4) << 32, (h as i64 + 4) << 32);
        for y in 0..h {
            let mut sx = ((minv[1] * y as f64 + minv[2]) * ONE).round() as i64;
            let mut sy = ((minv[4] * y as f64 + minv[5]) * ONE).round() as i64;
            let out = &mut dst.data[y * w..(y + 1) * w];
            for o in out.iter_mut() {
                let cx = sx.clamp(lo, hix);
                let cy = sy.clamp(lo, hiy);
                let fx = (cx & 0xFFFF_FFFF) as f32 * (1.0 / ONE as f32);
                let fy = (cy & 0xFFFF_FFFF) as f32 * (1.0 / ONE as f32);
                *o = bilinear_const(s, w, h, (cx >> 32) as i32, (cy >> 32) as i32, fx, fy);
                sx += dx;
                sy += dy;
            }
        }
    }
}
}

/// [`warp_affine_with`] allocating its own scratch.
pub fn warp_affine(src: &Plane, dst: &mut Plane, minv: &[f64; 6], quantize_1_32: bool) {
    warp_affine_with(src, dst, minv, quantize_1_32, &mut Vec::new());
}

multiversion! {
/// cv2.remap with absolute maps replaced by a displacement field: samples `src` at
/// `(x + dx[y, x], y + dy[y, x])` (f32 maps, as cv2 receives them), bilinear, constant-0
/// border; `quantize_1_32` rounds the coordinates to 1/32 px as OpenCV 4.x does.
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
        let (rx, ry) = (&dx[y * w..(y + 1) * w], &dy[y * w..(y + 1) * w]);
        for (x, ((o, &ddx), &ddy)) in out.iter_mut().zip(rx).zip(ry).enumerate() {
            let mx = x as f32 + ddx;
            let my = y as f32 + ddy;
            if quantize_1_32 {
                let (ix, fx) = floor_coord(mx, w as f32 + 4.0);
                let (iy, fy) = floor_coord(my, h as f32 + 4.0);
                // round the fraction to 1/32 px (a carry moves to the next cell)
                let (qx, qy) = ((fx * 32.0).round_ties_even(), (fy * 32.0).round_ties_even());
                let (ix, qx) = if qx >= 32.0 { (ix + 1, 0.0) } else { (ix, qx) };
                let (iy, qy) = if qy >= 32.0 { (iy + 1, 0.0) } else { (iy, qy) };
                *o = bilinear_const(s, w, h, ix, iy, qx / 32.0, qy / 32.0);
            } else {
                let (ix, fx) = floor_coord(mx, w as f32 + 4.0);
                let (iy, fy) = floor_coord(my, h as f32 + 4.0);
                *o = bilinear_const(s, w, h, ix, iy, fx, fy);
            }
        }
    }
}
}
