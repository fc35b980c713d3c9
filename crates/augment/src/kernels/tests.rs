//! Exact-bit tests of the kernels against their straightforward definitions.

use super::resize::{Fetch, HPlan};
use super::*;

/// Deterministic pseudo-random plane in [0, 1) (xorshift), `h × w`.
fn noise(h: usize, w: usize, seed: u64) -> Plane {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..h * w)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    Plane::from_vec(h, w, data).unwrap()
}

/// Straight per-pixel definition of the two-pass resample with OpenCV's operation order:
/// `H(r, x) = s[r][i0]·w0 + s[r][i1]·w1`, then `H(i0, x)·v0 + H(i1, x)·v1` (one row when
/// `v1 = 0` or `i1 = i0`).
fn resample_reference(src: &Plane, xt: &[Tap], yt: &[Tap]) -> Vec<f32> {
    let h = |r: u32, t: &Tap| {
        let row = src.row(r as usize);
        row[t.i0 as usize] * t.w0 + row[t.i1 as usize] * t.w1
    };
    let mut out = Vec::with_capacity(xt.len() * yt.len());
    for v in yt {
        for t in xt {
            out.push(if v.w1 == 0.0 || v.i1 == v.i0 {
                h(v.i0, t) * v.w0
            } else {
                h(v.i0, t) * v.w0 + h(v.i1, t) * v.w1
            });
        }
    }
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn resample_is_bit_identical_to_the_per_pixel_definition() {
    // (src_len, dst_len, first, count, src_offset) per axis: up/down-scales, integer
    // factors (strided path), crops, reflected windows, sizes not a multiple of 8
    // ((src_len, dst_len, first, count, src_offset), source side)
    type Case = ((usize, usize, isize, usize, usize), usize);
    let cases: &[Case] = &[
        ((512, 128, 0, 128, 0), 512),
        ((512, 256, 0, 256, 0), 512),
        ((384, 128, 0, 128, 0), 384),
        ((300, 512, 0, 512, 40), 400),
        ((37, 512, 0, 512, 100), 200),
        ((512, 512, 0, 512, 0), 512),
        ((128, 128, 0, 128, 0), 128),
        ((100, 61, 0, 61, 3), 120),
        ((128, 280, 76, 128, 0), 128),
        ((128, 90, -19, 128, 0), 128),
        ((1, 20, 0, 20, 5), 9),
        ((2, 13, 0, 13, 0), 2),
        ((20, 3, 0, 3, 0), 20),
        ((9, 8, 0, 8, 0), 9),
    ];
    let (mut xt, mut yt) = (Vec::new(), Vec::new());
    let mut scratch = ResampleScratch::default();
    let mut dst = Plane::default();
    for (i, &((sl, dl, first, count, off), side)) in cases.iter().enumerate() {
        let src = noise(side, side, i as u64 + 1);
        linear_taps(sl, dl, first, count, off, &mut xt);
        // the y axis uses the same mapping transposed, and a second shape
        linear_taps(sl, dl, first, count, off, &mut yt);
        resample_with(&src, &mut dst, &xt, &yt, &mut scratch);
        assert_eq!((dst.h, dst.w), (count, count));
        assert_eq!(
            bits(&dst.data),
            bits(&resample_reference(&src, &xt, &yt)),
            "case {i}"
        );
        let (ys, yd) = (side.min(7), 5);
        linear_taps(ys, yd, 0, yd, 0, &mut yt);
        resample_with(&src, &mut dst, &xt, &yt, &mut scratch);
        assert_eq!(
            bits(&dst.data),
            bits(&resample_reference(&src, &xt, &yt)),
            "case {i} (second y mapping)"
        );
    }
    // the allocating wrapper agrees
    let src = noise(64, 64, 99);
    linear_taps(50, 77, 0, 77, 7, &mut xt);
    linear_taps(64, 31, 0, 31, 0, &mut yt);
    let mut rows = Vec::new();
    resample(&src, &mut dst, &xt, &yt, &mut rows);
    assert_eq!(bits(&dst.data), bits(&resample_reference(&src, &xt, &yt)));
}

#[test]
fn resample_taps_of_512_to_128_average_two_middle_pixels() {
    // hand-derived: fx = 4x + 1.5 → taps (4x + 1, 4x + 2) with weights 1/2, 1/2
    let mut xt = Vec::new();
    linear_taps(512, 128, 0, 128, 0, &mut xt);
    for (x, t) in xt.iter().enumerate() {
        assert_eq!(
            (t.i0, t.i1, t.w0, t.w1),
            (4 * x as u32 + 1, 4 * x as u32 + 2, 0.5, 0.5)
        );
    }
    let src = noise(512, 512, 5);
    let mut dst = Plane::default();
    resample_with(&src, &mut dst, &xt, &xt, &mut ResampleScratch::default());
    for (y, x) in [(0, 0), (17, 99), (127, 127)] {
        let row = |r: usize| 0.5 * src.at(r, 4 * x + 1) + 0.5 * src.at(r, 4 * x + 2);
        let want = 0.5 * row(4 * y + 1) + 0.5 * row(4 * y + 2);
        assert_eq!(dst.at(y, x), want, "({y}, {x})");
    }
}

#[test]
fn resample_plans_pick_the_expected_horizontal_path() {
    let mut xt = Vec::new();
    let mut plan = HPlan::default();
    // 512 → 128 and 384 → 128: strided
    linear_taps(512, 128, 0, 128, 0, &mut xt);
    plan.build(&xt, 512);
    assert_eq!(plan.stride, Some((1, 4)));
    linear_taps(384, 128, 0, 128, 0, &mut xt);
    plan.build(&xt, 384);
    assert_eq!(plan.stride, Some((1, 3)));
    // a 300-pixel crop at column 40 upscaled to 512: every full block is a window except
    // the last (its right taps are clamped, i1 = i0)
    linear_taps(300, 512, 0, 512, 40, &mut xt);
    plan.build(&xt, 400);
    assert_eq!(plan.stride, None);
    assert_eq!(plan.fetch.len(), 64);
    assert!(plan.fetch[..63].iter().all(|&(f, _)| f == Fetch::Pair));
    assert_eq!(plan.fetch[0], (Fetch::Pair, 40));
    // its last block (taps from column 335) ends with clamped taps i0 = i1 = 339
    assert_eq!(plan.fetch[63], (Fetch::Window16, 335));
    // ... which a row ending at column 339 can only hold in a window moved left
    plan.build(&xt, 340);
    assert_eq!(plan.fetch[63], (Fetch::Window16, 324));
    // non-integer downscales: 1.6× and 3.1× in windows, 5× by gathers
    for (src, dst, fetch) in [
        (100, 61, Fetch::Window16),
        (400, 128, Fetch::Window32),
        (640, 128, Fetch::Gather),
    ] {
        linear_taps(src, dst, 0, dst, 0, &mut xt);
        plan.build(&xt, src);
        assert_eq!(plan.stride, None);
        assert!(plan.fetch.iter().all(|&(f, _)| f == fetch), "{src} → {dst}");
    }
}

#[test]
#[should_panic(expected = "resample taps reach column")]
fn resample_rejects_taps_outside_the_source() {
    let src = noise(10, 10, 1);
    let mut xt = Vec::new();
    linear_taps(12, 16, 0, 16, 0, &mut xt);
    let mut yt = Vec::new();
    linear_taps(10, 4, 0, 4, 0, &mut yt);
    resample_with(
        &src,
        &mut Plane::default(),
        &xt,
        &yt,
        &mut ResampleScratch::default(),
    );
}

/// Straight definition of [`sep_filter`]: vertical symmetric sums over REFLECT_101 rows,
/// then horizontal symmetric sums over the REFLECT_101-extended row, in the kernel's pair
/// order (`k_r·centre`, then `+ (a + b)·k_j` for j = 0, 1, …), then the optional clip.
fn sep_reference(src: &Plane, kern: &[f32], clip01: bool) -> Vec<f32> {
    let (h, w, k) = (src.h, src.w, kern.len());
    let r = k / 2;
    let mut vert = vec![0f32; h * w];
    for y in 0..h {
        let row = |d: isize| src.row(reflect101(y as isize + d, h));
        for x in 0..w {
            let mut a = row(0)[x] * kern[r];
            for (j, &kj) in kern[..r].iter().enumerate() {
                let d = (r - j) as isize;
                a += (row(-d)[x] + row(d)[x]) * kj;
            }
            vert[y * w + x] = a;
        }
    }
    let mut out = vec![0f32; h * w];
    for y in 0..h {
        let at = |x: isize| vert[y * w + reflect101(x, w)];
        for x in 0..w {
            let mut a = at(x as isize) * kern[r];
            for (j, &kj) in kern[..r].iter().enumerate() {
                let d = (r - j) as isize;
                a += (at(x as isize - d) + at(x as isize + d)) * kj;
            }
            out[y * w + x] = if clip01 { a.clamp(0.0, 1.0) } else { a };
        }
    }
    out
}

/// Straight definition of [`box_blur`]: the vertical sum of the `k` REFLECT_101 rows
/// (top to bottom), then the horizontal sum over the REFLECT_101-extended row (left to
/// right), times `1/k²` rounded to f32.
fn box_reference(src: &Plane, k: usize) -> Vec<f32> {
    let (h, w, r) = (src.h, src.w, (k / 2) as isize);
    let scale = (1.0 / (k * k) as f64) as f32;
    let mut vert = vec![0f32; h * w];
    for y in 0..h {
        for x in 0..w {
            let mut a = src.at(reflect101(y as isize - r, h), x);
            for d in 1 - r..=r {
                a += src.at(reflect101(y as isize + d, h), x);
            }
            vert[y * w + x] = a;
        }
    }
    let mut out = vec![0f32; h * w];
    for y in 0..h {
        let at = |x: isize| vert[y * w + reflect101(x, w)];
        for x in 0..w {
            let mut a = at(x as isize - r);
            for d in 1 - r..=r {
                a += at(x as isize + d);
            }
            out[y * w + x] = a * scale;
        }
    }
    out
}

#[test]
fn box_blur_is_bit_identical_to_the_separable_definition() {
    let (mut pad, mut acc) = (Vec::new(), Vec::new());
    let mut dst = Plane::default();
    for (i, &(h, w)) in [(40, 77), (9, 32), (33, 8), (5, 3), (1, 1), (70, 129)]
        .iter()
        .enumerate()
    {
        let src = noise(h, w, 30 + i as u64);
        for k in [1, 3, 5, 7, 9, 67] {
            box_blur(&src, &mut dst, k, &mut pad, &mut acc);
            assert_eq!(
                bits(&dst.data),
                bits(&box_reference(&src, k)),
                "{h}×{w} k{k}"
            );
        }
    }
}

#[test]
fn sep_filter_is_bit_identical_to_the_separable_definition() {
    let (mut pad, mut acc) = (Vec::new(), Vec::new());
    let mut dst = Plane::default();
    // widths around the 32- and 8-column blocks; kernels from 1 to beyond the blocked path
    for (i, &(h, w)) in [(40, 77), (9, 32), (33, 8), (5, 3), (1, 1), (70, 129)]
        .iter()
        .enumerate()
    {
        let mut src = noise(h, w, 10 + i as u64);
        for v in src.data.iter_mut().step_by(5) {
            *v = *v * 1.6 - 0.3; // values outside [0, 1] so the clip matters
        }
        for (k, sigma) in [
            (1, 0.0),
            (3, 0.0),
            (5, 0.0),
            (7, 0.0),
            (13, 1.8),
            (21, 3.0),
            (67, 9.0),
        ] {
            let kern = gaussian_kernel(k, sigma);
            for clip in [false, true] {
                sep_filter(&src, &mut dst, &kern, clip, &mut pad, &mut acc);
                assert_eq!(
                    bits(&dst.data),
                    bits(&sep_reference(&src, &kern, clip)),
                    "{h}×{w} k{k} clip {clip}"
                );
            }
        }
    }
}
