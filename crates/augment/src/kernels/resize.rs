//! Two-tap bilinear resampling as cv2.resize INTER_LINEAR (anchor: kornia-imgproc's
//! `interpolation/` and `resize.rs`): the taps of an axis, the plan of the horizontal pass
//! (how each block of eight outputs is fetched: strided, AVX2 permutes, gathers), and the
//! separable resample that reads a [`Plane`] or only the needed rows of a borrowed input.

use super::border::reflect101;
use crate::plane::{Plane, SourceRows};

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

/// Working memory of [`resample_with`], reused across calls: two row buffers and the plan of
/// the horizontal pass (the taps as separate index and weight arrays, plus how each block of
/// eight outputs is gathered).
#[derive(Debug, Default, Clone)]
pub struct ResampleScratch {
    rows: Vec<f32>,
    /// One converted source row (integer inputs).
    line: Vec<f32>,
    plan: HPlan,
}

/// How the horizontal pass fetches the source samples of one block of eight outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only the AVX2 pass reads it
pub(super) enum Fetch {
    /// Lane by lane (hardware gather): the block spans more than 32 samples.
    Gather,
    /// `i1 = i0 + 1` in every lane and `i0 − base ≤ 7`: permutations of the two 8-sample
    /// loads at `base` and `base + 1` (upscales).
    Pair,
    /// Every index within `base..base + 16`: permutations of two loads, blended.
    Window16,
    /// Every index within `base..base + 32`: permutations of four loads, blended (downscales
    /// up to about 4×).
    Window32,
}

/// The horizontal pass of [`resample_with`] for one set of x taps: structure-of-arrays taps
/// and, per block of eight outputs, how its source samples are fetched.
#[derive(Debug, Default, Clone)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // `fetch`, `rel*`: AVX2 pass only
pub(super) struct HPlan {
    /// Source row length the plan was built for (every index is below it).
    src_w: usize,
    i0: Vec<u32>,
    i1: Vec<u32>,
    w0: Vec<f32>,
    w1: Vec<f32>,
    /// Per full block of eight outputs `x = 8b..8b + 8`: how it is fetched and from which
    /// first source sample (every load stays inside the row: checked when planning).
    pub(super) fetch: Vec<(Fetch, u32)>,
    /// `i0 − base` and `i1 − base` per output of a windowed block (0 in gathered blocks).
    rel0: Vec<u32>,
    rel1: Vec<u32>,
    /// `(offset, stride)` when `i0 = offset + stride·x` and `i1 = i0 + 1` for every output and
    /// the stride is 2, 3 or 4 (integer-factor downscales such as 512 → 128).
    pub(super) stride: Option<(usize, usize)>,
}

impl HPlan {
    /// Builds the plan of `taps` over rows of `src_w` samples; panics when a tap index is
    /// `>= src_w` (a programmer error: taps come from [`linear_taps`] for this source).
    pub(super) fn build(&mut self, taps: &[Tap], src_w: usize) {
        let max = taps.iter().map(|t| t.i0.max(t.i1)).max().unwrap_or(0) as usize;
        assert!(
            taps.is_empty() || max < src_w,
            "resample taps reach column {max} of a {src_w}-column source"
        );
        let n = taps.len();
        self.src_w = src_w;
        self.i0.clear();
        self.i1.clear();
        self.w0.clear();
        self.w1.clear();
        self.i0.extend(taps.iter().map(|t| t.i0));
        self.i1.extend(taps.iter().map(|t| t.i1));
        self.w0.extend(taps.iter().map(|t| t.w0));
        self.w1.extend(taps.iter().map(|t| t.w1));
        self.stride = None;
        if n >= 2 && taps.iter().all(|t| t.i1 == t.i0 + 1) && taps[1].i0 > taps[0].i0 {
            let (off, step) = (taps[0].i0 as usize, (taps[1].i0 - taps[0].i0) as usize);
            if (2..=4).contains(&step)
                && taps
                    .iter()
                    .enumerate()
                    .all(|(x, t)| t.i0 as usize == off + step * x)
            {
                self.stride = Some((off, step));
            }
        }
        self.fetch.clear();
        self.rel0.clear();
        self.rel0.resize(n, 0);
        self.rel1.clear();
        self.rel1.resize(n, 0);
        for (b, block) in taps.chunks_exact(8).enumerate() {
            let lo = block.iter().map(|t| t.i0.min(t.i1)).min().unwrap_or(0) as usize;
            let hi = block.iter().map(|t| t.i0.max(t.i1)).max().unwrap_or(0) as usize;
            let pair = lo + 9 <= src_w
                && block
                    .iter()
                    .all(|t| t.i1 == t.i0 + 1 && t.i0 as usize - lo <= 7);
            // a window of `len` samples starting at or before `lo` that ends inside the row
            let window = |len: usize| {
                let base = lo.min(src_w.saturating_sub(len));
                (src_w >= len && hi < base + len).then_some(base)
            };
            let (fetch, base) = if pair {
                (Fetch::Pair, lo)
            } else if let Some(base) = window(16) {
                (Fetch::Window16, base)
            } else if let Some(base) = window(32) {
                (Fetch::Window32, base)
            } else {
                (Fetch::Gather, 0)
            };
            if fetch != Fetch::Gather {
                let x = 8 * b;
                for (l, t) in block.iter().enumerate() {
                    self.rel0[x + l] = t.i0 - base as u32;
                    self.rel1[x + l] = t.i1 - base as u32;
                }
            }
            self.fetch.push((fetch, base as u32));
        }
    }
}

/// `out[x] = s[i0[x]]·w0[x] + s[i1[x]]·w1[x]` for `x` in `from..out.len()`, one lane at a time.
#[inline(always)]
fn hpass_scalar(s: &[f32], p: &HPlan, from: usize, out: &mut [f32]) {
    for x in from..out.len() {
        out[x] = s[p.i0[x] as usize] * p.w0[x] + s[p.i1[x] as usize] * p.w1[x];
    }
}

/// The horizontal pass for a stride-`S` plan: lane `x` reads `s[off + S·x]` and the sample
/// after it, as interleaved loads the compiler vectorises.
#[inline(always)]
fn hpass_stride<const S: usize>(s: &[f32], p: &HPlan, off: usize, out: &mut [f32]) {
    let n = out.len();
    // whole S-sample chunks while they fit in the row; the last lane may need a scalar tap
    let full = n.min(s.len().saturating_sub(off) / S);
    let chunks = s[off..off + S * full].chunks_exact(S);
    for (((o, c), &a), &b) in out[..full].iter_mut().zip(chunks).zip(&p.w0).zip(&p.w1) {
        *o = c[0] * a + c[1] * b;
    }
    hpass_scalar(s, p, full, out);
}

/// The horizontal pass with AVX2: windowed blocks permute (`vpermps`) and blend unaligned
/// 8-sample loads, other blocks use hardware gathers; same products and sum as
/// [`hpass_scalar`], so bit-identical results.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn hpass_avx2(s: &[f32], p: &HPlan, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = out.len();
    assert!(
        s.len() == p.src_w && p.i0.len() == n && p.fetch.len() == n / 8,
        "resample plan does not match the row"
    );
    let sp = s.as_ptr();
    // lanes of `v0..v3` (samples base..base + 32) selected by `rel` (< 32): bit 3 of `rel`
    // picks within a pair of loads, bit 4 between the pairs (blendv reads the sign bit)
    #[inline]
    #[target_feature(enable = "avx2")]
    fn pick2(v0: __m256, v1: __m256, rel: __m256i) -> __m256 {
        let m = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(rel));
        _mm256_blendv_ps(
            _mm256_permutevar8x32_ps(v0, rel),
            _mm256_permutevar8x32_ps(v1, rel),
            m,
        )
    }
    for (b, &(fetch, base)) in p.fetch.iter().enumerate() {
        let x = 8 * b;
        let base = base as usize;
        // SAFETY: x + 8 <= n, the length of `out` and of every plan array (checked above).
        // Windowed blocks read s[base..base + 9], s[base..base + 16] or s[base..base + 32],
        // which HPlan::build checked to lie within src_w = s.len(); gathered blocks read s[i]
        // for tap indices i < src_w (asserted in HPlan::build).
        unsafe {
            let w0 = _mm256_loadu_ps(p.w0.as_ptr().add(x));
            let w1 = _mm256_loadu_ps(p.w1.as_ptr().add(x));
            let rel0 = || _mm256_loadu_si256(p.rel0.as_ptr().add(x).cast::<__m256i>());
            let rel1 = || _mm256_loadu_si256(p.rel1.as_ptr().add(x).cast::<__m256i>());
            let (a, c) = match fetch {
                Fetch::Pair => {
                    let v0 = _mm256_loadu_ps(sp.add(base));
                    let v1 = _mm256_loadu_ps(sp.add(base + 1));
                    let rel0 = rel0();
                    (
                        _mm256_permutevar8x32_ps(v0, rel0),
                        _mm256_permutevar8x32_ps(v1, rel0),
                    )
                }
                Fetch::Window16 => {
                    let v0 = _mm256_loadu_ps(sp.add(base));
                    let v1 = _mm256_loadu_ps(sp.add(base + 8));
                    (pick2(v0, v1, rel0()), pick2(v0, v1, rel1()))
                }
                Fetch::Window32 => {
                    let v0 = _mm256_loadu_ps(sp.add(base));
                    let v1 = _mm256_loadu_ps(sp.add(base + 8));
                    let v2 = _mm256_loadu_ps(sp.add(base + 16));
                    let v3 = _mm256_loadu_ps(sp.add(base + 24));
                    let pick4 = |rel: __m256i| {
                        let m = _mm256_castsi256_ps(_mm256_slli_epi32::<27>(rel));
                        _mm256_blendv_ps(pick2(v0, v1, rel), pick2(v2, v3, rel), m)
                    };
                    (pick4(rel0()), pick4(rel1()))
                }
                Fetch::Gather => {
                    let i0 = _mm256_loadu_si256(p.i0.as_ptr().add(x).cast::<__m256i>());
                    let i1 = _mm256_loadu_si256(p.i1.as_ptr().add(x).cast::<__m256i>());
                    (
                        _mm256_i32gather_ps::<4>(sp, i0),
                        _mm256_i32gather_ps::<4>(sp, i1),
                    )
                }
            };
            let v = _mm256_add_ps(_mm256_mul_ps(a, w0), _mm256_mul_ps(c, w1));
            _mm256_storeu_ps(out.as_mut_ptr().add(x), v);
        }
    }
    hpass_scalar(s, p, 8 * p.fetch.len(), out);
}

/// One source row through the horizontal pass (`out.len()` = number of x taps).
#[inline(always)]
fn hpass(s: &[f32], p: &HPlan, avx2: bool, out: &mut [f32]) {
    match p.stride {
        Some((off, 2)) => return hpass_stride::<2>(s, p, off, out),
        Some((off, 3)) => return hpass_stride::<3>(s, p, off, out),
        Some((off, 4)) => return hpass_stride::<4>(s, p, off, out),
        _ => {}
    }
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the CPU supports AVX2 (see resample_with).
        return unsafe { hpass_avx2(s, p, out) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = avx2; // only x86-64 has the AVX2 pass
    hpass_scalar(s, p, 0, out);
}

multiversion! {
/// Separable two-tap resample: `dst(y, x) = Σ ytaps[y] · Σ xtaps[x] · src`, computed as OpenCV
/// does (horizontal pass per needed source row, then a vertical blend of two such rows).
/// `src` is a [`Plane`] or a borrowed [`crate::InputPlane`] (only the rows the taps use are
/// converted). `scratch` is reused working memory. `dst` is reshaped to
/// `ytaps.len() × xtaps.len()`. Panics when a tap addresses a pixel outside `src`.
pub fn resample_with(
    src: &impl SourceRows,
    dst: &mut Plane,
    xtaps: &[Tap],
    ytaps: &[Tap],
    scratch: &mut ResampleScratch,
) {
    let ow = xtaps.len();
    dst.reshape_for_output(ytaps.len(), ow);
    if ow == 0 || ytaps.is_empty() {
        return;
    }
    let max_y = ytaps.iter().map(|t| t.i0.max(t.i1)).max().unwrap_or(0) as usize;
    assert!(
        max_y < src.height(),
        "resample taps reach row {max_y} of a {}-row source",
        src.height()
    );
    let plan = &mut scratch.plan;
    plan.build(xtaps, src.width());
    let plan = &scratch.plan;
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    let line = &mut scratch.line;
    let rows = &mut scratch.rows;
    rows.clear();
    rows.resize(2 * ow, 0.0);
    let (ra, rb) = rows.split_at_mut(ow);
    let mut bufs = [ra, rb];
    let mut keys = [u32::MAX, u32::MAX];
    for (y, t) in ytaps.iter().enumerate() {
        // make slot 0 hold row i0 and slot 1 hold row i1
        if keys[0] != t.i0 {
            if keys[1] == t.i0 {
                bufs.swap(0, 1);
                keys.swap(0, 1);
            } else {
                hpass(src.row_f32(t.i0 as usize, line), plan, avx2, bufs[0]);
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
            hpass(src.row_f32(t.i1 as usize, line), plan, avx2, bufs[1]);
            keys[1] = t.i1;
        }
        let (b0, b1) = (t.w0, t.w1);
        for ((o, &a), &b) in out.iter_mut().zip(bufs[0].iter()).zip(bufs[1].iter()) {
            *o = a * b0 + b * b1;
        }
    }
}
}

/// [`resample_with`] with `rows` as the row buffers (the plan is rebuilt in fresh memory).
pub fn resample(src: &Plane, dst: &mut Plane, xtaps: &[Tap], ytaps: &[Tap], rows: &mut Vec<f32>) {
    let mut scratch = ResampleScratch {
        rows: std::mem::take(rows),
        ..Default::default()
    };
    resample_with(src, dst, xtaps, ytaps, &mut scratch);
    *rows = scratch.rows;
}
