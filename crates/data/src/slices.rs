//! Windowed, resampled 2-D axial slices and their PNG encoding.
//!
//! **Order of operations** for slice `k` of a canonical CT volume (row 0 anterior, column 0
//! the patient's right, `k = 0` most inferior):
//! 1. bilinear resample of the HU values to `size × size` ([`Resampler`]);
//! 2. per window, `v = clamp((HU − (L − W/2)) / W, 0, 1)`, then `round(v · 255)` (8-bit)
//!    or `round(v · 65535)` (16-bit), round half away from zero.
//!
//! **Resampling rule** (OpenCV `INTER_LINEAR` / PIL-without-antialias convention, half-pixel
//! centres): output column `c` of `size` samples source column
//! `x = (c + 0.5) · W_in / size − 0.5`, clamped to `[0, W_in − 1]`; the value is
//! `(1 − f) · src[⌊x⌋] + f · src[⌊x⌋ + 1]` with `f = x − ⌊x⌋` (the right neighbour is
//! clamped to the last column). Rows likewise, independently. The whole in-plane grid maps to
//! the square: a non-square field of view is stretched. Downsampling does not low-pass
//! filter first (as `cv2.resize(..., INTER_LINEAR)`).

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// An HU window: level (centre) and width, in Hounsfield units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Window centre (HU).
    pub level: f32,
    /// Window width (HU), > 0.
    pub width: f32,
}

impl Default for Window {
    /// The head-and-neck soft-tissue window L 40 / W 400 (HU −160..240).
    fn default() -> Self {
        Window {
            level: 40.0,
            width: 400.0,
        }
    }
}

/// Named windows (level:width, HU): the usual radiology presets.
pub const NAMED_WINDOWS: [(&str, f32, f32); 5] = [
    ("brain", 40.0, 80.0),
    ("soft_tissue", 40.0, 400.0),
    ("lung", -600.0, 1500.0),
    ("bone", 400.0, 1800.0),
    ("head_neck", 40.0, 350.0),
];

impl Window {
    /// The window covering HU `min..max` (`--hu-range MIN:MAX`): level `(min + max) / 2`,
    /// width `max − min`.
    pub fn from_hu_range(s: &str) -> Result<Self> {
        let bad = |detail: String| DataError::InvalidConfig {
            field: "hu_range",
            detail: format!("{s:?}: {detail}"),
        };
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| bad("expected MIN:MAX, e.g. -160:240".into()))?;
        let num = |t: &str| -> Result<f32> {
            t.trim()
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("{t:?} is not a number")))
        };
        let (lo, hi) = (num(a)?, num(b)?);
        if hi <= lo {
            return Err(bad(
                "MAX must be above MIN (the width MAX − MIN must be > 0)".into(),
            ));
        }
        Ok(Window {
            level: (lo + hi) / 2.0,
            width: hi - lo,
        })
    }

    /// A note when the window looks written the wrong way round (`400:40`: a level above
    /// its width, as when LEVEL and WIDTH are swapped); `None` otherwise.
    pub fn swapped_warning(&self) -> Option<String> {
        (self.level > self.width).then(|| {
            format!(
                "window {self}: level {} is above width {}; the order is LEVEL:WIDTH (did you \
                 mean {}:{}?)",
                self.level, self.width, self.width, self.level
            )
        })
    }
}

impl std::str::FromStr for Window {
    type Err = DataError;
    /// Parses `LEVEL:WIDTH` (e.g. `40:400` or `-600:1500`) or a name of
    /// [`NAMED_WINDOWS`] (`brain`, `soft_tissue`, `lung`, `bone`, `head_neck`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |detail: String| DataError::InvalidConfig {
            field: "windows",
            detail,
        };
        let key = s.trim().to_ascii_lowercase().replace('-', "_");
        if let Some(&(_, level, width)) = NAMED_WINDOWS.iter().find(|(n, _, _)| *n == key) {
            return Ok(Window { level, width });
        }
        let (l, w) = s.split_once(':').ok_or_else(|| {
            bad(format!(
                "{s:?}: expected LEVEL:WIDTH, e.g. 40:400, or one of brain, soft_tissue, \
                     lung, bone, head_neck"
            ))
        })?;
        let level: f32 = l
            .trim()
            .parse()
            .map_err(|_| bad(format!("{s:?}: level {l:?} is not a number")))?;
        let width: f32 = w
            .trim()
            .parse()
            .map_err(|_| bad(format!("{s:?}: width {w:?} is not a number")))?;
        if !level.is_finite() || !width.is_finite() || width <= 0.0 {
            return Err(bad(format!(
                "{s:?}: width must be a positive number (LEVEL:WIDTH)"
            )));
        }
        Ok(Window { level, width })
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.level, self.width)
    }
}

impl Window {
    /// The window's lower edge (HU), mapped to 0.
    pub fn low(&self) -> f32 {
        self.level - self.width / 2.0
    }

    /// `HU` → `0..=1` (clamped).
    #[inline]
    pub fn unit(&self, hu: f32) -> f32 {
        ((hu - self.low()) / self.width).clamp(0.0, 1.0)
    }

    /// `HU` → `0..=255`, rounded.
    #[inline]
    pub fn to_u8(&self, hu: f32) -> u8 {
        (self.unit(hu) * 255.0).round() as u8
    }

    /// `HU` → `0..=65535`, rounded.
    #[inline]
    pub fn to_u16(&self, hu: f32) -> u16 {
        (self.unit(hu) * 65535.0).round() as u16
    }
}

/// Parses a list of windows (`40:400,-600:1500` or several `--window` values).
pub fn parse_windows<S: AsRef<str>>(values: &[S]) -> Result<Vec<Window>> {
    let mut out = Vec::new();
    for v in values {
        for part in v.as_ref().split(',').filter(|p| !p.trim().is_empty()) {
            out.push(part.trim().parse()?);
        }
    }
    if out.is_empty() {
        out.push(Window::default());
    }
    Ok(out)
}

/// One axis of the bilinear map: for each output index, the two source indices and the
/// weight of the second.
#[derive(Debug, Clone)]
struct Taps {
    i0: Vec<usize>,
    i1: Vec<usize>,
    f: Vec<f32>,
    /// False where the output sample lies outside the input (fixed-spacing padding).
    inside: Vec<bool>,
}

impl Taps {
    fn new(n_in: usize, n_out: usize) -> Self {
        let scale = n_in as f64 / n_out as f64;
        let mut t = Taps {
            i0: Vec::with_capacity(n_out),
            i1: Vec::with_capacity(n_out),
            f: Vec::with_capacity(n_out),
            inside: Vec::with_capacity(n_out),
        };
        let last = n_in.saturating_sub(1);
        for o in 0..n_out {
            let x = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, last as f64);
            let x0 = x.floor() as usize;
            let x1 = (x0 + 1).min(last);
            t.i0.push(x0);
            t.i1.push(x1);
            t.f.push((x - x0 as f64) as f32);
            t.inside.push(true);
        }
        t
    }

    /// Fixed physical pixel size: output sample `o` of `n_out` lies `(o − (n_out − 1)/2) ·
    /// mm` from the image centre, i.e. at input index `x = (n_in − 1)/2 + (o − (n_out −
    /// 1)/2) · mm / spacing_in`; samples with `x` outside `[−0.5, n_in − 0.5]` (beyond the
    /// input's outer pixel edges) are padding.
    fn physical(n_in: usize, n_out: usize, spacing_in: f64, mm: f64) -> Self {
        let mut t = Taps {
            i0: Vec::with_capacity(n_out),
            i1: Vec::with_capacity(n_out),
            f: Vec::with_capacity(n_out),
            inside: Vec::with_capacity(n_out),
        };
        let last = n_in.saturating_sub(1);
        let centre_in = last as f64 / 2.0;
        let centre_out = (n_out as f64 - 1.0) / 2.0;
        for o in 0..n_out {
            let x = centre_in + (o as f64 - centre_out) * mm / spacing_in;
            t.inside.push(x >= -0.5 && x <= n_in as f64 - 0.5);
            let x = x.clamp(0.0, last as f64);
            let x0 = x.floor() as usize;
            t.i0.push(x0);
            t.i1.push((x0 + 1).min(last));
            t.f.push((x - x0 as f64) as f32);
        }
        t
    }
}

/// HU of the padding around an image resampled at a fixed spacing (air).
pub const AIR_HU: f32 = -1000.0;

/// Bilinear resampler from a `rows_in × cols_in` row-major image to `size × size`.
/// Build once per scan, apply to every slice.
#[derive(Debug, Clone)]
pub struct Resampler {
    cols_in: usize,
    rows_in: usize,
    size: usize,
    cols: Taps,
    rows: Taps,
}

impl Resampler {
    /// A resampler for input images of `rows_in × cols_in` pixels to `size × size`.
    pub fn new(rows_in: usize, cols_in: usize, size: usize) -> Self {
        Resampler {
            cols_in,
            rows_in,
            size,
            cols: Taps::new(cols_in, size),
            rows: Taps::new(rows_in, size),
        }
    }

    /// A resampler to a fixed physical pixel size (`--spacing MM`): the `size × size`
    /// output covers `size · mm` millimetres centred on the input image's centre; input
    /// spacings are `col_mm` (between columns) and `row_mm` (between rows). Same bilinear
    /// rule as [`Resampler::new`] (no anti-alias filter); output beyond the input's edges
    /// is air ([`AIR_HU`]): a larger field of view is centre-cropped, a smaller one padded.
    pub fn physical(
        rows_in: usize,
        cols_in: usize,
        size: usize,
        col_mm: f64,
        row_mm: f64,
        mm: f64,
    ) -> Self {
        Resampler {
            cols_in,
            rows_in,
            size,
            cols: Taps::physical(cols_in, size, col_mm, mm),
            rows: Taps::physical(rows_in, size, row_mm, mm),
        }
    }

    /// Output side length.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Resamples one row-major image (`rows_in · cols_in` values) into `out`
    /// (`size · size` values, row-major).
    pub fn apply(&self, src: &[f32], out: &mut [f32]) {
        assert_eq!(src.len(), self.rows_in * self.cols_in, "input image size");
        assert_eq!(out.len(), self.size * self.size, "output image size");
        let n = self.size;
        let mut r0 = vec![0f32; n];
        let mut r1 = vec![0f32; n];
        for (orow, out_row) in out.chunks_exact_mut(n).enumerate() {
            let a = &src[self.rows.i0[orow] * self.cols_in..][..self.cols_in];
            let b = &src[self.rows.i1[orow] * self.cols_in..][..self.cols_in];
            self.horizontal(a, &mut r0);
            self.horizontal(b, &mut r1);
            let fy = self.rows.f[orow];
            for ((o, &p), &q) in out_row.iter_mut().zip(&r0).zip(&r1) {
                *o = p + fy * (q - p);
            }
            if !self.rows.inside[orow] {
                out_row.fill(AIR_HU);
            } else {
                for (o, &inside) in out_row.iter_mut().zip(&self.cols.inside) {
                    if !inside {
                        *o = AIR_HU;
                    }
                }
            }
        }
    }

    fn horizontal(&self, row: &[f32], out: &mut [f32]) {
        for (c, o) in out.iter_mut().enumerate() {
            let p = row[self.cols.i0[c]];
            let q = row[self.cols.i1[c]];
            *o = p + self.cols.f[c] * (q - p);
        }
    }
}

pub use crate::png_io::{PngPixels, write_png_gray};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_parse_and_map() {
        let w: Window = "40:400".parse().unwrap();
        assert_eq!(w, Window::default());
        assert_eq!(w.to_u8(-1000.0), 0);
        assert_eq!(w.to_u8(240.0), 255);
        // HU 40 is the centre: 0.5 * 255 = 127.5 -> 128 (half away from zero).
        assert_eq!(w.to_u8(40.0), 128);
        // HU 0: (0 + 160) / 400 * 255 = 102.0
        assert_eq!(w.to_u8(0.0), 102);
        assert!("40".parse::<Window>().is_err());
        assert!("40:-5".parse::<Window>().is_err());
        assert!("a:400".parse::<Window>().is_err());
        let ws = parse_windows(&["40:400,-600:1500"]).unwrap();
        assert_eq!(ws.len(), 2);
        assert_eq!(ws[1].level, -600.0);
    }

    #[test]
    fn downsample_by_two_averages_pairs() {
        // 4x4 -> 2x2: x = (c + 0.5) * 2 - 0.5 = 0.5, 2.5: mean of columns (0,1) and (2,3),
        // rows likewise: each output is the mean of a 2x2 block (cv2 INTER_LINEAR gives the
        // same for an exact factor of 2).
        let src: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let r = Resampler::new(4, 4, 2);
        let mut out = vec![0.0; 4];
        r.apply(&src, &mut out);
        assert_eq!(out, vec![2.5, 4.5, 10.5, 12.5]);
    }

    #[test]
    fn upsample_clamps_at_edges() {
        // 1x2 -> 4x4. Columns: x = (c + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamped
        // to 0, 0.25, 0.75, 1: values 0, 2.5, 7.5, 10 for src [0, 10].
        let r = Resampler::new(1, 2, 4);
        let mut out = vec![0.0; 16];
        r.apply(&[0.0, 10.0], &mut out);
        for row in out.chunks(4) {
            assert_eq!(row, &[0.0, 2.5, 7.5, 10.0]);
        }
    }
}

#[cfg(test)]
mod spacing_tests {
    use super::*;

    #[test]
    fn physical_resampling_crops_and_pads() {
        // 4 columns × 2 rows at 1 mm: values = column index.
        let src: Vec<f32> = (0..2).flat_map(|_| (0..4).map(|c| c as f32)).collect();
        // At 1 mm and size 4: the identity.
        let mut out = vec![0f32; 16];
        Resampler::physical(2, 4, 4, 1.0, 1.0, 1.0).apply(&src, &mut out);
        assert_eq!(&out[4..8], &[0.0, 1.0, 2.0, 3.0]);
        // Rows 0 and 3 lie beyond the 2-row input: air.
        assert!(out[..4].iter().all(|&v| v == AIR_HU));
        assert!(out[12..].iter().all(|&v| v == AIR_HU));
        // 2 mm pixels, size 4: 8 mm wide, the 4 mm image in the middle two columns.
        let mut out = vec![0f32; 16];
        Resampler::physical(2, 4, 4, 1.0, 1.0, 2.0).apply(&src, &mut out);
        let row = &out[4..8];
        assert_eq!(row[0], AIR_HU);
        assert_eq!(row[3], AIR_HU);
        // Output columns 1 and 2 sample input x = 1.5 ∓ 1 = 0.5 and 2.5.
        assert_eq!((row[1], row[2]), (0.5, 2.5));
        // 0.5 mm pixels, size 4: the central 2 mm (crop), x = 0.75, 1.25, 1.75, 2.25.
        let mut out = vec![0f32; 16];
        Resampler::physical(2, 4, 4, 1.0, 1.0, 0.5).apply(&src, &mut out);
        assert_eq!(&out[4..8], &[0.75, 1.25, 1.75, 2.25]);
    }
}
