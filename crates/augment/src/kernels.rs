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

/// Defines a public kernel compiled twice: once for the baseline target and once with AVX2
/// enabled (chosen at run time). Only the vector width changes: Rust never reassociates or
/// contracts float operations, so both versions give bit-identical results.
macro_rules! multiversion {
    ($(#[$m:meta])* pub fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn inner($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                fn avx2($($arg: $ty),*) {
                    inner($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}

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

multiversion! {
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
    // every tap must address a pixel of a source row (checked once, not per pixel)
    let max_x = xtaps.iter().map(|t| t.i0.max(t.i1)).max().unwrap_or(0) as usize;
    let max_y = ytaps.iter().map(|t| t.i0.max(t.i1)).max().unwrap_or(0) as usize;
    assert!(
        xtaps.is_empty() || ytaps.is_empty() || (max_x < src.w && max_y < src.h),
        "resample taps exceed the {}×{} source",
        src.h,
        src.w
    );
    let hpass = |s: &[f32], out: &mut [f32]| {
        debug_assert_eq!(s.len(), src.w);
        for (o, t) in out.iter_mut().zip(xtaps) {
            // SAFETY: `s` is a source row (length src.w) and every tap index is < src.w
            // (asserted above).
            let (a, b) = unsafe { (*s.get_unchecked(t.i0 as usize), *s.get_unchecked(t.i1 as usize)) };
            *o = a * t.w0 + b * t.w1;
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
            // one row: OpenCV computes S0*w0 + S1*w1 with w1 = 0
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
}

/// Pads `src` by `r` pixels on every side with REFLECT_101 into `pad`
/// (`(h + 2r) × (w + 2r)`, row-major); returns the padded width.
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

#[inline(always)]
fn add_assign(acc: &mut [f32], v: &[f32]) {
    for (a, &b) in acc.iter_mut().zip(v) {
        *a += b;
    }
}

/// Longest kernel handled by the register-blocked paths (longer ones use row passes).
const MAX_BLOCKED_TAPS: usize = 64;

/// `out[x] = Σ_j rows[j][x]` (in order j = 0, 1, …), eight columns at a time in registers.
#[inline(always)]
fn sum_rows(rows: &[&[f32]], out: &mut [f32]) {
    let n = out.len();
    let mut x = 0;
    while x + 8 <= n {
        let mut s = [0f32; 8];
        s.copy_from_slice(&rows[0][x..x + 8]);
        for row in &rows[1..] {
            let v = &row[x..x + 8];
            for i in 0..8 {
                s[i] += v[i];
            }
        }
        out[x..x + 8].copy_from_slice(&s);
        x += 8;
    }
    for (xx, o) in out.iter_mut().enumerate().skip(x) {
        let mut a = rows[0][xx];
        for row in &rows[1..] {
            a += row[xx];
        }
        *o = a;
    }
}

/// `out[x] = rows[r][x]·k_r + Σ_{j<r} (rows[j][x] + rows[k−1−j][x])·k_j` for a symmetric
/// kernel of odd length `k = 2r + 1`, eight columns at a time in registers.
#[inline(always)]
fn sym_rows(rows: &[&[f32]], kern: &[f32], out: &mut [f32]) {
    let k = kern.len();
    let r = k / 2;
    let kc = kern[r];
    let n = out.len();
    let mut x = 0;
    while x + 8 <= n {
        let mut s = [0f32; 8];
        let m = &rows[r][x..x + 8];
        for i in 0..8 {
            s[i] = m[i] * kc;
        }
        for j in 0..r {
            let (t, b) = (&rows[j][x..x + 8], &rows[k - 1 - j][x..x + 8]);
            let kj = kern[j];
            for i in 0..8 {
                s[i] += (t[i] + b[i]) * kj;
            }
        }
        out[x..x + 8].copy_from_slice(&s);
        x += 8;
    }
    for (xx, o) in out.iter_mut().enumerate().skip(x) {
        let mut a = rows[r][xx] * kc;
        for j in 0..r {
            a += (rows[j][xx] + rows[k - 1 - j][xx]) * kern[j];
        }
        *o = a;
    }
}

/// [`sum_rows`] over the `k` shifted windows `src[j..]` (horizontal box sum).
#[inline(always)]
fn sum_shift(src: &[f32], k: usize, out: &mut [f32]) {
    let n = out.len();
    let mut x = 0;
    while x + 8 <= n {
        let mut s = [0f32; 8];
        s.copy_from_slice(&src[x..x + 8]);
        for j in 1..k {
            let v = &src[x + j..x + j + 8];
            for i in 0..8 {
                s[i] += v[i];
            }
        }
        out[x..x + 8].copy_from_slice(&s);
        x += 8;
    }
    for (xx, o) in out.iter_mut().enumerate().skip(x) {
        let mut a = src[xx];
        for j in 1..k {
            a += src[xx + j];
        }
        *o = a;
    }
}

/// [`sym_rows`] over the shifted windows `src[j..]` (horizontal symmetric filter).
#[inline(always)]
fn sym_shift(src: &[f32], kern: &[f32], out: &mut [f32]) {
    let k = kern.len();
    let r = k / 2;
    let kc = kern[r];
    let n = out.len();
    let mut x = 0;
    while x + 8 <= n {
        let mut s = [0f32; 8];
        let m = &src[x + r..x + r + 8];
        for i in 0..8 {
            s[i] = m[i] * kc;
        }
        for j in 0..r {
            let (t, b) = (
                &src[x + j..x + j + 8],
                &src[x + k - 1 - j..x + k - 1 - j + 8],
            );
            let kj = kern[j];
            for i in 0..8 {
                s[i] += (t[i] + b[i]) * kj;
            }
        }
        out[x..x + 8].copy_from_slice(&s);
        x += 8;
    }
    for (xx, o) in out.iter_mut().enumerate().skip(x) {
        let mut a = src[xx + r] * kc;
        for j in 0..r {
            a += (src[xx + j] + src[xx + k - 1 - j]) * kern[j];
        }
        *o = a;
    }
}

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
        let out = &mut dst.data[y * w..(y + 1) * w];
        sum_shift(acc, k, out);
        for o in out.iter_mut() {
            *o *= scale;
        }
    }
}
}

/// Fills `acc[0..r]` and `acc[r + w..]` by REFLECT_101 from `acc[r..r + w]`.
#[inline(always)]
fn reflect_border(acc: &mut [f32], r: usize, w: usize) {
    for i in 0..r {
        acc[i] = acc[r + reflect101(i as isize - r as isize, w)];
        acc[r + w + i] = acc[r + reflect101((w + i) as isize, w)];
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
            sym_shift(acc, kernel, out);
        } else {
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

/// Mean of the plane, accumulated in f64 over eight interleaved partial sums.
pub fn mean(p: &Plane) -> f64 {
    if p.data.is_empty() {
        return 0.0;
    }
    let mut acc = [0f64; 8];
    let chunks = p.data.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(|&v| v as f64).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v as f64;
        }
    }
    (acc.iter().sum::<f64>() + rest) / p.data.len() as f64
}
