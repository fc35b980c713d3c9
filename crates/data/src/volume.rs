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

use serde::{Deserialize, Serialize};

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
