//! Pixel kernels on single planes (the hot loops). All follow OpenCV's conventions as given in
//! `specs/augment.md` §3.0: pixel centres at integer coordinates, REFLECT_101 for filters,
//! half-pixel-centred two-tap INTER_LINEAR for resizing, constant border for warps.

use crate::plane::{Plane, SourceRows};

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
enum Fetch {
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
struct HPlan {
    /// Source row length the plan was built for (every index is below it).
    src_w: usize,
    i0: Vec<u32>,
    i1: Vec<u32>,
    w0: Vec<f32>,
    w1: Vec<f32>,
    /// Per full block of eight outputs `x = 8b..8b + 8`: how it is fetched and from which
    /// first source sample (every load stays inside the row: checked when planning).
    fetch: Vec<(Fetch, u32)>,
    /// `i0 − base` and `i1 − base` per output of a windowed block (0 in gathered blocks).
    rel0: Vec<u32>,
    rel1: Vec<u32>,
    /// `(offset, stride)` when `i0 = offset + stride·x` and `i1 = i0 + 1` for every output and
    /// the stride is 2, 3 or 4 (integer-factor downscales such as 512 → 128).
    stride: Option<(usize, usize)>,
}

impl HPlan {
    /// Builds the plan of `taps` over rows of `src_w` samples; panics when a tap index is
    /// `>= src_w` (a programmer error: taps come from [`linear_taps`] for this source).
    fn build(&mut self, taps: &[Tap], src_w: usize) {
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

/// Columns per register block of the box and symmetric filters: eight independent 8-lane
/// accumulators (AVX2), so the additions of one block do not wait on each other's latency
/// and loop overhead is spread over more columns (64 measured ~8% faster than 32 at 512²).
const SYM_BLOCK: usize = 64;

/// One `N`-column block of [`sum_rows`] starting at column `x`.
#[inline(always)]
fn sum_rows_block<const N: usize>(rows: &[&[f32]], x: usize, out: &mut [f32]) {
    let mut s = [0f32; N];
    s.copy_from_slice(&rows[0][x..x + N]);
    for row in &rows[1..] {
        let v = &row[x..x + N];
        for i in 0..N {
            s[i] += v[i];
        }
    }
    out[x..x + N].copy_from_slice(&s);
}

/// `out[x] = Σ_j rows[j][x]` (in order j = 0, 1, …), [`SYM_BLOCK`] (then eight) columns at a
/// time in registers.
#[inline(always)]
fn sum_rows(rows: &[&[f32]], out: &mut [f32]) {
    let n = out.len();
    let mut x = 0;
    while x + SYM_BLOCK <= n {
        sum_rows_block::<SYM_BLOCK>(rows, x, out);
        x += SYM_BLOCK;
    }
    while x + 8 <= n {
        sum_rows_block::<8>(rows, x, out);
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

/// One `N`-column block of [`sym_rows`] starting at column `x`.
#[inline(always)]
fn sym_rows_block<const N: usize>(rows: &[&[f32]], kern: &[f32], x: usize, out: &mut [f32]) {
    let k = kern.len();
    let r = k / 2;
    let kc = kern[r];
    let mut s = [0f32; N];
    let m = &rows[r][x..x + N];
    for i in 0..N {
        s[i] = m[i] * kc;
    }
    for (j, &kj) in kern[..r].iter().enumerate() {
        let (t, b) = (&rows[j][x..x + N], &rows[k - 1 - j][x..x + N]);
        for i in 0..N {
            s[i] += (t[i] + b[i]) * kj;
        }
    }
    out[x..x + N].copy_from_slice(&s);
}

/// `out[x] = rows[r][x]·k_r + Σ_{j<r} (rows[j][x] + rows[k−1−j][x])·k_j` for a symmetric
/// kernel of odd length `k = 2r + 1`, [`SYM_BLOCK`] (then eight) columns at a time in
/// registers.
#[inline(always)]
fn sym_rows(rows: &[&[f32]], kern: &[f32], out: &mut [f32]) {
    let k = kern.len();
    let r = k / 2;
    let kc = kern[r];
    let n = out.len();
    let mut x = 0;
    while x + SYM_BLOCK <= n {
        sym_rows_block::<SYM_BLOCK>(rows, kern, x, out);
        x += SYM_BLOCK;
    }
    while x + 8 <= n {
        sym_rows_block::<8>(rows, kern, x, out);
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

/// One `N`-column block of [`sum_shift`] starting at column `x`.
#[inline(always)]
fn sum_shift_block<const N: usize>(src: &[f32], k: usize, scale: f32, x: usize, out: &mut [f32]) {
    let mut s = [0f32; N];
    s.copy_from_slice(&src[x..x + N]);
    for j in 1..k {
        let v = &src[x + j..x + j + N];
        for i in 0..N {
            s[i] += v[i];
        }
    }
    for (o, &v) in out[x..x + N].iter_mut().zip(&s) {
        *o = v * scale;
    }
}

/// [`sum_rows`] over the `k` shifted windows `src[j..]` (horizontal box sum), times `scale`.
#[inline(always)]
fn sum_shift(src: &[f32], k: usize, scale: f32, out: &mut [f32]) {
    let n = out.len();
    let mut x = 0;
    while x + SYM_BLOCK <= n {
        sum_shift_block::<SYM_BLOCK>(src, k, scale, x, out);
        x += SYM_BLOCK;
    }
    while x + 8 <= n {
        sum_shift_block::<8>(src, k, scale, x, out);
        x += 8;
    }
    for (xx, o) in out.iter_mut().enumerate().skip(x) {
        let mut a = src[xx];
        for j in 1..k {
            a += src[xx + j];
        }
        *o = a * scale;
    }
}

/// One `N`-column block of [`sym_shift`] starting at column `x`, clipped to [0, 1] when
/// `clip01`.
#[inline(always)]
fn sym_shift_block<const N: usize>(
    src: &[f32],
    kern: &[f32],
    x: usize,
    clip01: bool,
    out: &mut [f32],
) {
    let k = kern.len();
    let r = k / 2;
    let kc = kern[r];
    let mut s = [0f32; N];
    let m = &src[x + r..x + r + N];
    for i in 0..N {
        s[i] = m[i] * kc;
    }
    for (j, &kj) in kern[..r].iter().enumerate() {
        let (t, b) = (
            &src[x + j..x + j + N],
            &src[x + k - 1 - j..x + k - 1 - j + N],
        );
        for i in 0..N {
            s[i] += (t[i] + b[i]) * kj;
        }
    }
    if clip01 {
        for v in s.iter_mut() {
            *v = v.clamp(0.0, 1.0);
        }
    }
    out[x..x + N].copy_from_slice(&s);
}

/// [`sym_rows`] over the shifted windows `src[j..]` (horizontal symmetric filter), clipped to
/// [0, 1] when `clip01`.
#[inline(always)]
fn sym_shift(src: &[f32], kern: &[f32], clip01: bool, out: &mut [f32]) {
    let k = kern.len();
    let r = k / 2;
    let kc = kern[r];
    let n = out.len();
    let mut x = 0;
    while x + SYM_BLOCK <= n {
        sym_shift_block::<SYM_BLOCK>(src, kern, x, clip01, out);
        x += SYM_BLOCK;
    }
    while x + 8 <= n {
        sym_shift_block::<8>(src, kern, x, clip01, out);
        x += 8;
    }
    for (xx, o) in out.iter_mut().enumerate().skip(x) {
        let mut a = src[xx + r] * kc;
        for j in 0..r {
            a += (src[xx + j] + src[xx + k - 1 - j]) * kern[j];
        }
        *o = if clip01 { a.clamp(0.0, 1.0) } else { a };
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
        sum_shift(acc, k, scale, &mut dst.data[y * w..(y + 1) * w]);
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

#[cfg(test)]
mod tests {
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
}
