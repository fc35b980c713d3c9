//! Image containers: one f32 plane, a C-plane image, and borrowed 8/16-bit or f32 inputs.

use crate::error::{AugmentError, Result};

/// One grey plane of `h` rows × `w` columns, row-major, values nominally in [0, 1].
///
/// Every transform works on a `Plane`; multi-channel images whose channels are copies of one
/// grey plane are computed once and replicated at the end (see [`Plane::write_replicated`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plane {
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// `h * w` pixels, row-major.
    pub data: Vec<f32>,
}

impl Plane {
    /// A plane of zeros, `h` rows × `w` columns.
    pub fn zeros(h: usize, w: usize) -> Self {
        Self {
            h,
            w,
            data: vec![0.0; h * w],
        }
    }

    /// Wraps row-major pixels; errors when `data.len() != h * w`.
    pub fn from_vec(h: usize, w: usize, data: Vec<f32>) -> Result<Self> {
        if data.len() != h * w {
            return Err(AugmentError::Shape {
                what: "Plane::from_vec data".into(),
                expected: format!("{h}×{w} = {} values", h * w),
                got: format!("{} values", data.len()),
            });
        }
        Ok(Self { h, w, data })
    }

    /// Resizes the plane to `h × w` without initialising new pixels' values meaningfully
    /// (contents are unspecified afterwards; kernels overwrite every pixel).
    pub(crate) fn reshape_for_output(&mut self, h: usize, w: usize) {
        self.h = h;
        self.w = w;
        self.data.resize(h * w, 0.0);
    }

    /// Pixel at row `y`, column `x` (panics when out of range).
    #[inline]
    pub fn at(&self, y: usize, x: usize) -> f32 {
        self.data[y * self.w + x]
    }

    /// Row `y` as a slice.
    #[inline]
    pub fn row(&self, y: usize) -> &[f32] {
        &self.data[y * self.w..(y + 1) * self.w]
    }

    /// Writes this plane `c` times, one after the other, into `out` (length `c * h * w`): the
    /// C×H×W layout of one sample of an N×C×H×W batch.
    pub fn write_replicated(&self, c: usize, out: &mut [f32]) -> Result<()> {
        let n = self.h * self.w;
        if out.len() != c * n {
            return Err(AugmentError::Shape {
                what: "Plane::write_replicated out".into(),
                expected: format!("{c}×{}×{} = {} values", self.h, self.w, c * n),
                got: format!("{} values", out.len()),
            });
        }
        for chunk in out.chunks_exact_mut(n) {
            chunk.copy_from_slice(&self.data);
        }
        Ok(())
    }
}

/// An image of `c` planes, each `h × w`, stored C×H×W contiguously.
///
/// Use it for multi-channel inputs whose channels differ; the pipeline applies the same drawn
/// parameters to every plane (as albumentations does for H×W×C arrays).
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Channels.
    pub c: usize,
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// `c * h * w` values, C×H×W.
    pub data: Vec<f32>,
}

impl Image {
    /// `c` copies of `plane`.
    pub fn replicate(plane: &Plane, c: usize) -> Self {
        let mut data = vec![0.0; c * plane.h * plane.w];
        plane
            .write_replicated(c, &mut data)
            .expect("sizes computed here");
        Self {
            c,
            h: plane.h,
            w: plane.w,
            data,
        }
    }

    /// Plane `i` as a new [`Plane`].
    pub fn plane(&self, i: usize) -> Plane {
        let n = self.h * self.w;
        Plane {
            h: self.h,
            w: self.w,
            data: self.data[i * n..(i + 1) * n].to_vec(),
        }
    }

    /// Builds an image from planes of equal size.
    pub fn from_planes(planes: &[Plane]) -> Result<Self> {
        let Some(first) = planes.first() else {
            return Err(AugmentError::Shape {
                what: "Image::from_planes".into(),
                expected: "at least one plane".into(),
                got: "none".into(),
            });
        };
        let mut data = Vec::with_capacity(planes.len() * first.data.len());
        for (i, p) in planes.iter().enumerate() {
            if (p.h, p.w) != (first.h, first.w) {
                return Err(AugmentError::Shape {
                    what: format!("Image::from_planes plane {i}"),
                    expected: format!("{}×{}", first.h, first.w),
                    got: format!("{}×{}", p.h, p.w),
                });
            }
            data.extend_from_slice(&p.data);
        }
        Ok(Self {
            c: planes.len(),
            h: first.h,
            w: first.w,
            data,
        })
    }
}

/// Borrowed grey pixels of one input slice (e.g. from a prepared dataset).
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    /// 8-bit grey, mapped to [0, 1] by /255 (albumentations' `max_value` for uint8).
    U8(&'a [u8]),
    /// 16-bit grey, mapped to [0, 1] by /65535.
    U16(&'a [u16]),
    /// Float grey, used as is (must be finite).
    F32(&'a [f32]),
}

/// One borrowed input plane: `h` rows × `w` columns of [`Pixels`], row-major.
#[derive(Debug, Clone, Copy)]
pub struct InputPlane<'a> {
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// The pixels, `h * w` of them.
    pub pixels: Pixels<'a>,
}

impl<'a> InputPlane<'a> {
    /// 8-bit grey input.
    pub fn u8(h: usize, w: usize, data: &'a [u8]) -> Self {
        Self {
            h,
            w,
            pixels: Pixels::U8(data),
        }
    }
    /// 16-bit grey input.
    pub fn u16(h: usize, w: usize, data: &'a [u16]) -> Self {
        Self {
            h,
            w,
            pixels: Pixels::U16(data),
        }
    }
    /// f32 grey input.
    pub fn f32(h: usize, w: usize, data: &'a [f32]) -> Self {
        Self {
            h,
            w,
            pixels: Pixels::F32(data),
        }
    }
    /// Borrow a [`Plane`] as input.
    pub fn from_plane(p: &'a Plane) -> Self {
        Self::f32(p.h, p.w, &p.data)
    }

    pub(crate) fn len(&self) -> usize {
        match self.pixels {
            Pixels::U8(d) => d.len(),
            Pixels::U16(d) => d.len(),
            Pixels::F32(d) => d.len(),
        }
    }

    /// Checks the length (and, for f32, finiteness); `what` names the input in errors.
    pub fn validate(&self, what: &str) -> Result<()> {
        if self.len() != self.h * self.w || self.h == 0 || self.w == 0 {
            return Err(AugmentError::Shape {
                what: what.to_string(),
                expected: format!(
                    "{}×{} = {} non-empty pixels",
                    self.h,
                    self.w,
                    self.h * self.w
                ),
                got: format!("{} pixels", self.len()),
            });
        }
        if let Pixels::F32(d) = self.pixels
            && let Some(index) = d.iter().position(|v| !v.is_finite())
        {
            return Err(AugmentError::NonFinite {
                what: what.to_string(),
                index,
            });
        }
        Ok(())
    }

    /// Converts into `dst` (resized to `h × w`), mapping integers to [0, 1]. Panics when the
    /// pixel count is not `h × w` (call [`Self::validate`] on untrusted input first).
    pub fn load_into(&self, dst: &mut Plane) {
        assert_eq!(
            self.len(),
            self.h * self.w,
            "InputPlane pixel count must be h × w"
        );
        dst.reshape_for_output(self.h, self.w);
        match self.pixels {
            Pixels::U8(d) => {
                for (o, &v) in dst.data.iter_mut().zip(d) {
                    *o = v as f32 * (1.0 / 255.0);
                }
            }
            Pixels::U16(d) => {
                for (o, &v) in dst.data.iter_mut().zip(d) {
                    *o = v as f32 * (1.0 / 65535.0);
                }
            }
            Pixels::F32(d) => dst.data.copy_from_slice(d),
        }
    }
}

/// A grey source read row by row as f32: a [`Plane`], or an [`InputPlane`] whose integer rows
/// are converted on demand. Resampling transforms read their source through it, so a resize
/// or crop of a borrowed input converts only the rows it samples instead of loading the whole
/// image first (same values as [`InputPlane::load_into`]).
pub trait SourceRows {
    /// Rows.
    fn height(&self) -> usize;
    /// Columns.
    fn width(&self) -> usize;
    /// Row `y` (`width()` values): borrowed when stored as f32, else converted into `buf`.
    fn row_f32<'a>(&'a self, y: usize, buf: &'a mut Vec<f32>) -> &'a [f32];
    /// The whole source as a plane in `dst` (a copy, or [`InputPlane::load_into`]).
    fn copy_into(&self, dst: &mut Plane);
}

impl SourceRows for Plane {
    fn height(&self) -> usize {
        self.h
    }
    fn width(&self) -> usize {
        self.w
    }
    #[inline]
    fn row_f32<'a>(&'a self, y: usize, _buf: &'a mut Vec<f32>) -> &'a [f32] {
        self.row(y)
    }
    fn copy_into(&self, dst: &mut Plane) {
        dst.clone_from(self);
    }
}

impl SourceRows for InputPlane<'_> {
    fn height(&self) -> usize {
        self.h
    }
    fn width(&self) -> usize {
        self.w
    }
    /// Panics when the pixel count is not `h × w` (validate untrusted input first).
    #[inline]
    fn row_f32<'a>(&'a self, y: usize, buf: &'a mut Vec<f32>) -> &'a [f32] {
        let w = self.w;
        let span = y * w..(y + 1) * w;
        buf.clear();
        match self.pixels {
            Pixels::U8(d) => buf.extend(d[span].iter().map(|&v| v as f32 * (1.0 / 255.0))),
            Pixels::U16(d) => buf.extend(d[span].iter().map(|&v| v as f32 * (1.0 / 65535.0))),
            Pixels::F32(d) => return &d[span],
        }
        buf
    }
    fn copy_into(&self, dst: &mut Plane) {
        self.load_into(dst);
    }
}
