//! Voxel volumes with their patient-space geometry, in one convention for every reader.
//!
//! **Convention.** World coordinates are DICOM patient coordinates, **LPS+ in millimetres**
//! (x towards the patient's Left, y Posterior, z Superior). NIfTI's RAS affine is converted on
//! read (x and y negated). Voxel data are stored with the first index fastest:
//! `index = i + dims[0] * (j + dims[1] * k)`.
//!
//! **Canonical orientation** ([`Volume::to_canonical`]): axis 0 runs towards +x (patient Left:
//! column 0 is the patient's right), axis 1 towards +y (Posterior: row 0 is anterior), axis 2
//! towards +z (Superior: slice 0 is the most inferior). A 2-D axial slice `k` of a canonical
//! volume is then a row-major image `[row = j][col = i]` that looks like a DICOM image.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Where a voxel grid sits in patient space (LPS, mm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Number of voxels along axes 0, 1, 2 (axis 0 fastest in memory).
    pub dims: [usize; 3],
    /// LPS position (mm) of the centre of voxel (0, 0, 0).
    pub origin: [f64; 3],
    /// `directions[a]` is the LPS displacement (mm) of one step along voxel axis `a`; its
    /// length is the spacing along that axis.
    pub directions: [[f64; 3]; 3],
}

impl Geometry {
    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// True when the grid has no voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Spacing (mm) along voxel axis `a`.
    pub fn spacing(&self, a: usize) -> f64 {
        let d = self.directions[a];
        (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
    }

    /// LPS position (mm) of the centre of voxel `(i, j, k)` (fractional indices allowed).
    pub fn world(&self, ijk: [f64; 3]) -> [f64; 3] {
        let mut p = self.origin;
        for (a, &idx) in ijk.iter().enumerate() {
            for (c, pc) in p.iter_mut().enumerate() {
                *pc += idx * self.directions[a][c];
            }
        }
        p
    }

    /// Checks that the grid can place voxels in space: origin and directions finite, every
    /// spacing within 1e-6..=1e6 mm, and the three direction vectors independent (the
    /// determinant at least 1e-6 of the product of their lengths). A zero, infinite or
    /// singular grid (all slices at one z, `z = inf`) is refused, naming `path`.
    pub fn check(&self, path: &std::path::Path) -> Result<()> {
        let bad = |detail: String| DataError::format(path, detail);
        if self
            .origin
            .iter()
            .chain(self.directions.iter().flatten())
            .any(|v| !v.is_finite())
        {
            return Err(bad(format!(
                "non-finite geometry: origin {:?}, directions {:?}",
                self.origin, self.directions
            )));
        }
        for a in 0..3 {
            let s = self.spacing(a);
            if !(1e-6..=1e6).contains(&s) {
                return Err(bad(format!(
                    "voxel spacing {s} mm along axis {a} (direction {:?}): must be within \
                     1e-6..1e6 mm",
                    self.directions[a]
                )));
            }
        }
        let [a, b, c] = self.directions;
        let det = a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
            + a[2] * (b[0] * c[1] - b[1] * c[0]);
        let scale = self.spacing(0) * self.spacing(1) * self.spacing(2);
        if det.is_nan() || det.abs() < 1e-6 * scale {
            return Err(bad(format!(
                "singular voxel directions {:?} (axes not independent)",
                self.directions
            )));
        }
        Ok(())
    }

    /// True when both grids have the same size and place voxels within `tol_mm` of each
    /// other (origin and every direction vector compared).
    pub fn same_grid(&self, other: &Geometry, tol_mm: f64) -> bool {
        if self.dims != other.dims {
            return false;
        }
        let close = |a: [f64; 3], b: [f64; 3]| (0..3).all(|c| (a[c] - b[c]).abs() <= tol_mm);
        close(self.origin, other.origin)
            && (0..3).all(|a| close(self.directions[a], other.directions[a]))
    }
}

/// A scalar volume on a [`Geometry`]. `T` is `f32` for CT (Hounsfield units after the
/// modality LUT / NIfTI scaling), `u8` for binary masks, `i32` for label maps.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    /// The grid.
    pub geometry: Geometry,
    /// Voxels, axis 0 fastest; `data.len() == geometry.len()`.
    pub data: Vec<T>,
}

/// A binary organ mask (0 or 1 per voxel) on a CT volume's grid.
pub type Mask = Volume<u8>;

impl<T> Volume<T> {
    /// Value at voxel `(i, j, k)`. Panics when the index is outside the grid.
    pub fn get(&self, i: usize, j: usize, k: usize) -> &T {
        let d = self.geometry.dims;
        assert!(
            i < d[0] && j < d[1] && k < d[2],
            "voxel ({i}, {j}, {k}) outside {d:?}"
        );
        &self.data[i + d[0] * (j + d[1] * k)]
    }
}

impl Geometry {
    /// The voxel axis (0, 1 or 2) whose direction has the largest |z| (superior) component:
    /// the axis that runs across axial slices. Never assumed to be 2: NIfTI files converted
    /// with other tools may store slices along another axis.
    ///
    /// ```
    /// use twinscan_data::Geometry;
    /// let g = Geometry {
    ///     dims: [4, 5, 6],
    ///     origin: [0.0; 3],
    ///     directions: [[1.0, 0.0, 0.0], [0.0, 0.0, -2.5], [0.0, 1.0, 0.0]],
    /// };
    /// assert_eq!(g.axial_axis(), 1);
    /// ```
    pub fn axial_axis(&self) -> usize {
        let mut best = 2;
        let mut best_z = f64::NEG_INFINITY;
        for a in 0..3 {
            let z = self.directions[a][2].abs() / self.spacing(a).max(f64::MIN_POSITIVE);
            if z > best_z {
                best_z = z;
                best = a;
            }
        }
        best
    }

    /// For each voxel axis `a`, `(world component, sign)` it is closest to: the assignment of
    /// the three voxel axes to the three LPS axes that maximises the summed |cosine| (so an
    /// oblique grid still gets a permutation), and the sign of that cosine.
    pub fn axis_codes(&self) -> [(usize, f64); 3] {
        const PERMS: [[usize; 3]; 6] = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let cos =
            |a: usize, c: usize| self.directions[a][c] / self.spacing(a).max(f64::MIN_POSITIVE);
        let mut best = PERMS[0];
        let mut best_score = f64::NEG_INFINITY;
        for p in PERMS {
            let score: f64 = (0..3).map(|a| cos(a, p[a]).abs()).sum();
            if score > best_score + 1e-12 {
                best_score = score;
                best = p;
            }
        }
        [0, 1, 2].map(|a| (best[a], if cos(a, best[a]) < 0.0 { -1.0 } else { 1.0 }))
    }
}

impl<T: Copy> Volume<T> {
    /// The same voxels on a permuted/flipped grid whose axis 0 runs towards +x (patient
    /// Left), axis 1 towards +y (Posterior) and axis 2 towards +z (Superior); every voxel
    /// keeps its world (LPS) position. Axes are matched to LPS axes by
    /// [`Geometry::axis_codes`]; an oblique grid is only permuted/flipped, never resampled.
    ///
    /// ```
    /// use twinscan_data::{Geometry, Volume};
    /// // Axis 0 runs towards the patient's right (-x): canonical order reverses it.
    /// let v = Volume {
    ///     geometry: Geometry {
    ///         dims: [3, 1, 1],
    ///         origin: [10.0, 0.0, 0.0],
    ///         directions: [[-2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    ///     },
    ///     data: vec![1, 2, 3],
    /// };
    /// let c = v.to_canonical();
    /// assert_eq!(c.data, vec![3, 2, 1]);
    /// assert_eq!(c.geometry.origin, [6.0, 0.0, 0.0]);
    /// assert_eq!(c.geometry.directions[0], [2.0, 0.0, 0.0]);
    /// ```
    pub fn to_canonical(&self) -> Volume<T> {
        let g = &self.geometry;
        let codes = g.axis_codes();
        let old_stride = [1usize, g.dims[0], g.dims[0] * g.dims[1]];
        let mut dims = [0usize; 3];
        let mut directions = [[0.0f64; 3]; 3];
        // Per new axis: signed step in the old buffer.
        let mut step = [0isize; 3];
        let mut start = 0isize;
        let mut corner = [0.0f64; 3];
        for (a, &(c, sign)) in codes.iter().enumerate() {
            dims[c] = g.dims[a];
            directions[c] = g.directions[a].map(|v| v * sign);
            if sign < 0.0 {
                step[c] = -(old_stride[a] as isize);
                let last = g.dims[a].saturating_sub(1);
                start += (last * old_stride[a]) as isize;
                corner[a] = last as f64;
            } else {
                step[c] = old_stride[a] as isize;
            }
        }
        let origin = g.world(corner);
        let mut data = Vec::with_capacity(self.data.len());
        for k in 0..dims[2] as isize {
            for j in 0..dims[1] as isize {
                let row = start + j * step[1] + k * step[2];
                for i in 0..dims[0] as isize {
                    data.push(self.data[(row + i * step[0]) as usize]);
                }
            }
        }
        Volume {
            geometry: Geometry {
                dims,
                origin,
                directions,
            },
            data,
        }
    }
}

/// Number of NaN or infinite voxels (0 for a clean CT volume).
pub fn count_non_finite(volume: &Volume<f32>) -> usize {
    volume.data.iter().filter(|v| !v.is_finite()).count()
}

/// The stored voxel type of a file, before any conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoxelKind {
    /// `uint8`
    U8,
    /// `int8`
    I8,
    /// `uint16`
    U16,
    /// `int16`
    I16,
    /// `uint32`
    U32,
    /// `int32`
    I32,
    /// `float32`
    F32,
    /// `float64`
    F64,
}

/// Voxel values as stored in a file (NRRD or NIfTI), axis 0 fastest, native byte order.
#[derive(Debug, Clone, PartialEq)]
pub enum Voxels {
    /// Unsigned 8-bit (masks).
    U8(Vec<u8>),
    /// Signed 8-bit.
    I8(Vec<i8>),
    /// Unsigned 16-bit.
    U16(Vec<u16>),
    /// Signed 16-bit (typical CT).
    I16(Vec<i16>),
    /// Unsigned 32-bit.
    U32(Vec<u32>),
    /// Signed 32-bit (label maps).
    I32(Vec<i32>),
    /// 32-bit float.
    F32(Vec<f32>),
    /// 64-bit float.
    F64(Vec<f64>),
}

macro_rules! voxels_map {
    ($v:expr, $x:ident => $body:expr) => {
        match $v {
            Voxels::U8($x) => $body,
            Voxels::I8($x) => $body,
            Voxels::U16($x) => $body,
            Voxels::I16($x) => $body,
            Voxels::U32($x) => $body,
            Voxels::I32($x) => $body,
            Voxels::F32($x) => $body,
            Voxels::F64($x) => $body,
        }
    };
}

impl Voxels {
    /// Number of voxels.
    pub fn len(&self) -> usize {
        voxels_map!(self, v => v.len())
    }

    /// True when there is no voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored type.
    pub fn kind(&self) -> VoxelKind {
        match self {
            Voxels::U8(_) => VoxelKind::U8,
            Voxels::I8(_) => VoxelKind::I8,
            Voxels::U16(_) => VoxelKind::U16,
            Voxels::I16(_) => VoxelKind::I16,
            Voxels::U32(_) => VoxelKind::U32,
            Voxels::I32(_) => VoxelKind::I32,
            Voxels::F32(_) => VoxelKind::F32,
            Voxels::F64(_) => VoxelKind::F64,
        }
    }

    /// Every value as `f32` (`f64` and large 32-bit integers are rounded to nearest).
    pub fn into_f32(self) -> Vec<f32> {
        match self {
            Voxels::F32(v) => v,
            Voxels::U8(v) => v.into_iter().map(f32::from).collect(),
            Voxels::I8(v) => v.into_iter().map(f32::from).collect(),
            Voxels::U16(v) => v.into_iter().map(f32::from).collect(),
            Voxels::I16(v) => v.into_iter().map(f32::from).collect(),
            Voxels::U32(v) => v.into_iter().map(|x| x as f32).collect(),
            Voxels::I32(v) => v.into_iter().map(|x| x as f32).collect(),
            Voxels::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        }
    }
}

/// A voxel type that files can store: `u8`, `i8`, `u16`, `i16`, `u32`, `i32`, `f32`, `f64`.
/// Implemented for exactly these types; the writers ([`crate::nrrd::write_nrrd`],
/// [`crate::nifti::write_nifti`]) are generic over it.
pub trait Sample: bytemuck::Pod + Send + Sync + 'static {
    /// The stored type.
    const KIND: VoxelKind;
    /// Wraps a buffer of this type.
    fn wrap(data: Vec<Self>) -> Voxels;
}

macro_rules! impl_sample {
    ($t:ty, $k:ident) => {
        impl Sample for $t {
            const KIND: VoxelKind = VoxelKind::$k;
            fn wrap(data: Vec<Self>) -> Voxels {
                Voxels::$k(data)
            }
        }
    };
}
impl_sample!(u8, U8);
impl_sample!(i8, I8);
impl_sample!(u16, U16);
impl_sample!(i16, I16);
impl_sample!(u32, U32);
impl_sample!(i32, I32);
impl_sample!(f32, F32);
impl_sample!(f64, F64);

/// A volume as read from a file: its geometry (LPS) and its voxels in the stored type
/// (after NIfTI scaling, which may turn integers into `f32`). Convert with
/// [`RawVolume::into_f32`], [`RawVolume::into_mask`] or [`RawVolume::into_labels`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawVolume {
    /// The file it was read from (named in conversion errors).
    pub path: PathBuf,
    /// The grid, LPS mm.
    pub geometry: Geometry,
    /// The voxels, `geometry.len()` of them, axis 0 fastest.
    pub voxels: Voxels,
}

impl RawVolume {
    /// Voxel values as `f32` (CT in HU). NaN/infinities are kept: check with
    /// [`count_non_finite`] or use [`RawVolume::into_f32_finite`].
    pub fn into_f32(self) -> Volume<f32> {
        Volume {
            geometry: self.geometry,
            data: self.voxels.into_f32(),
        }
    }

    /// Like [`RawVolume::into_f32`] but a [`DataError::NonFinite`] error naming the file when
    /// any voxel is NaN or infinite.
    pub fn into_f32_finite(self) -> Result<Volume<f32>> {
        let path = self.path.clone();
        let v = self.into_f32();
        match count_non_finite(&v) {
            0 => Ok(v),
            count => Err(DataError::NonFinite { path, count }),
        }
    }

    /// A binary mask: every nonzero voxel becomes 1, zero (and NaN) becomes 0.
    pub fn into_mask(self) -> Mask {
        let data = match self.voxels {
            Voxels::U8(mut v) => {
                for x in v.iter_mut() {
                    *x = (*x != 0) as u8;
                }
                v
            }
            Voxels::F32(v) => v
                .into_iter()
                .map(|x| (x != 0.0 && !x.is_nan()) as u8)
                .collect(),
            Voxels::F64(v) => v
                .into_iter()
                .map(|x| (x != 0.0 && !x.is_nan()) as u8)
                .collect(),
            Voxels::I8(v) => v.into_iter().map(|x| (x != 0) as u8).collect(),
            Voxels::U16(v) => v.into_iter().map(|x| (x != 0) as u8).collect(),
            Voxels::I16(v) => v.into_iter().map(|x| (x != 0) as u8).collect(),
            Voxels::U32(v) => v.into_iter().map(|x| (x != 0) as u8).collect(),
            Voxels::I32(v) => v.into_iter().map(|x| (x != 0) as u8).collect(),
        };
        Volume {
            geometry: self.geometry,
            data,
        }
    }

    /// Integer labels (a multi-label map). Floating-point voxels must hold integers within
    /// the `i32` range, else a [`DataError::Format`] naming the file and the first bad value.
    pub fn into_labels(self) -> Result<Volume<i32>> {
        let path = self.path;
        let bad = |x: f64| {
            DataError::format(
                &path,
                format!("label map holds {x}, which is not an integer label (i32)"),
            )
        };
        let float = |x: f64| -> Result<i32> {
            if x.is_finite() && x.fract() == 0.0 && x >= i32::MIN as f64 && x <= i32::MAX as f64 {
                Ok(x as i32)
            } else {
                Err(bad(x))
            }
        };
        let data: Vec<i32> = match self.voxels {
            Voxels::I32(v) => v,
            Voxels::U8(v) => v.into_iter().map(i32::from).collect(),
            Voxels::I8(v) => v.into_iter().map(i32::from).collect(),
            Voxels::U16(v) => v.into_iter().map(i32::from).collect(),
            Voxels::I16(v) => v.into_iter().map(i32::from).collect(),
            Voxels::U32(v) => v
                .into_iter()
                .map(|x| i32::try_from(x).map_err(|_| bad(x as f64)))
                .collect::<Result<_>>()?,
            Voxels::F32(v) => v
                .into_iter()
                .map(|x| float(x as f64))
                .collect::<Result<_>>()?,
            Voxels::F64(v) => v.into_iter().map(float).collect::<Result<_>>()?,
        };
        Ok(Volume {
            geometry: self.geometry,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every voxel of the canonical volume must sit at the same LPS position as the voxel of
    /// the original volume it came from, and the canonical axes must point to +x, +y, +z.
    fn check_canonical(geometry: Geometry) {
        let n = geometry.len();
        let v = Volume {
            geometry: geometry.clone(),
            data: (0..n).collect::<Vec<usize>>(),
        };
        let c = v.to_canonical();
        let g = &c.geometry;
        for a in 0..3 {
            assert!(g.directions[a][a] > 0.0, "axis {a}: {:?}", g.directions);
        }
        let d = geometry.dims;
        for k in 0..g.dims[2] {
            for j in 0..g.dims[1] {
                for i in 0..g.dims[0] {
                    let orig = *c.get(i, j, k);
                    let oi = orig % d[0];
                    let oj = (orig / d[0]) % d[1];
                    let ok = orig / (d[0] * d[1]);
                    let w0 = geometry.world([oi as f64, oj as f64, ok as f64]);
                    let w1 = g.world([i as f64, j as f64, k as f64]);
                    for x in 0..3 {
                        assert!((w0[x] - w1[x]).abs() < 1e-9, "{w0:?} vs {w1:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn canonical_preserves_world_positions() {
        // Already canonical.
        check_canonical(Geometry {
            dims: [3, 4, 5],
            origin: [1.0, 2.0, 3.0],
            directions: [[0.5, 0.0, 0.0], [0.0, 0.7, 0.0], [0.0, 0.0, 2.0]],
        });
        // RAS-like NIfTI read into LPS: x and y flipped, z reversed too.
        check_canonical(Geometry {
            dims: [3, 4, 5],
            origin: [10.0, -2.0, 30.0],
            directions: [[-0.5, 0.0, 0.0], [0.0, -0.7, 0.0], [0.0, 0.0, -2.0]],
        });
        // Permuted: axis 0 = superior, axis 1 = left, axis 2 = anterior (-y).
        check_canonical(Geometry {
            dims: [2, 3, 4],
            origin: [0.0, 5.0, -7.0],
            directions: [[0.0, 0.0, 3.0], [1.5, 0.0, 0.0], [0.0, -1.0, 0.0]],
        });
        // Slightly oblique.
        check_canonical(Geometry {
            dims: [4, 3, 2],
            origin: [0.0, 0.0, 0.0],
            directions: [[0.0, 0.99, 0.1], [-1.0, 0.0, 0.05], [0.0, 0.1, -2.0]],
        });
    }

    #[test]
    fn permuted_canonical_by_hand() {
        // dims [2, 1, 3]; axis 0 runs inferior (-z), axis 2 runs left (+x).
        let v = Volume {
            geometry: Geometry {
                dims: [2, 1, 3],
                origin: [0.0, 0.0, 10.0],
                directions: [[0.0, 0.0, -5.0], [0.0, 1.0, 0.0], [2.0, 0.0, 0.0]],
            },
            data: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(v.geometry.axial_axis(), 0);
        let c = v.to_canonical();
        assert_eq!(c.geometry.dims, [3, 1, 2]);
        // New axis 0 (x) = old axis 2; new axis 2 (z) = old axis 0 reversed.
        // Old value at (i, 0, k) = 1 + i + 2k. New (x, 0, z): old i = 1 - z, old k = x.
        assert_eq!(c.data, vec![2, 4, 6, 1, 3, 5]);
        assert_eq!(c.geometry.origin, [0.0, 0.0, 5.0]);
        assert_eq!(c.geometry.directions[2], [0.0, 0.0, 5.0]);
    }

    #[test]
    fn non_finite_count() {
        let v = Volume {
            geometry: Geometry {
                dims: [4, 1, 1],
                origin: [0.0; 3],
                directions: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            },
            data: vec![0.0, f32::NAN, f32::NEG_INFINITY, -1024.0],
        };
        assert_eq!(count_non_finite(&v), 2);
    }
}
