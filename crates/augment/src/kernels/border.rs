//! Border extrapolation (OpenCV `borderInterpolate`, anchor: kornia-imgproc's padding helpers):
//! the REFLECT_101 and REFLECT index maps, a REFLECT_101-padded copy of a plane, and the
//! in-row REFLECT_101 border of the register-blocked filters.

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

/// Fills `acc[0..r]` and `acc[r + w..]` by REFLECT_101 from `acc[r..r + w]`.
#[inline(always)]
pub(super) fn reflect_border(acc: &mut [f32], r: usize, w: usize) {
    for i in 0..r {
        acc[i] = acc[r + reflect101(i as isize - r as isize, w)];
        acc[r + w + i] = acc[r + reflect101((w + i) as isize, w)];
    }
}
