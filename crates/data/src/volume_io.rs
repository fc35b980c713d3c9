//! Reading a volume file of any supported format, chosen by its extension.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::volume::RawVolume;

/// The volume file formats twinscan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeFormat {
    /// Attached-header NRRD (`.nrrd`).
    Nrrd,
    /// NIfTI-1 (`.nii`, `.nii.gz`).
    Nifti,
}

/// The format of a volume file from its name (case-insensitive): `.nrrd` → NRRD,
/// `.nii`/`.nii.gz` → NIfTI; `None` for anything else (including detached `.nhdr`).
pub fn volume_format(path: &Path) -> Option<VolumeFormat> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".nrrd") {
        Some(VolumeFormat::Nrrd)
    } else if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        Some(VolumeFormat::Nifti)
    } else {
        None
    }
}

/// Reads a volume (CT, mask or label map) from `.nrrd`, `.nii` or `.nii.gz`, dispatching on
/// the extension to [`crate::nrrd::read_nrrd`] or [`crate::nifti::read_nifti`]. Detached
/// NRRD headers (`.nhdr`) and other extensions are [`DataError::Unsupported`].
pub fn read_volume(path: &Path) -> Result<RawVolume> {
    match volume_format(path) {
        Some(VolumeFormat::Nrrd) => crate::nrrd::read_nrrd(path),
        Some(VolumeFormat::Nifti) => crate::nifti::read_nifti(path),
        None => {
            let lower = path.to_string_lossy().to_ascii_lowercase();
            let what = if lower.ends_with(".nhdr") {
                "detached NRRD header (.nhdr): only attached .nrrd files are read".to_string()
            } else {
                "unknown volume file extension (expected .nrrd, .nii or .nii.gz)".to_string()
            };
            Err(DataError::Unsupported {
                path: path.to_path_buf(),
                what,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Geometry, Volume, Voxels};

    #[test]
    fn dispatch_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let v = Volume {
            geometry: Geometry {
                dims: [2, 2, 1],
                origin: [1.0, 2.0, 3.0],
                directions: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]],
            },
            data: vec![1u8, 0, 0, 1],
        };
        let a = dir.path().join("A.NRRD");
        crate::nrrd::write_nrrd(&a, &v, true).unwrap();
        let b = dir.path().join("b.nii.gz");
        crate::nifti::write_nifti(&b, &v).unwrap();
        for p in [a, b] {
            let r = read_volume(&p).unwrap();
            assert_eq!(r.voxels, Voxels::U8(vec![1, 0, 0, 1]));
            assert!(r.geometry.same_grid(&v.geometry, 1e-6));
        }
        for bad in ["x.nhdr", "x.mha", "x"] {
            let r = read_volume(&dir.path().join(bad));
            assert!(
                matches!(r, Err(DataError::Unsupported { .. })),
                "{bad}: {r:?}"
            );
        }
    }

    /// One volume written as NRRD (canonical LPS grid) and as NIfTI with axis 1 flipped
    /// (rows running anterior, stored reversed) and axis 2 flipped: both read back to the
    /// same canonical voxels and grid.
    #[test]
    fn flipped_nifti_equals_nrrd_after_canonical() {
        let dir = tempfile::tempdir().unwrap();
        let dims = [4, 3, 2];
        let g = Geometry {
            dims,
            origin: [-10.0, 5.0, 30.0],
            directions: [[0.5, 0.0, 0.0], [0.0, 0.8, 0.0], [0.0, 0.0, 3.0]],
        };
        let data: Vec<i16> = (0..24).map(|v| v * 7 - 50).collect();
        let v = Volume {
            geometry: g.clone(),
            data: data.clone(),
        };
        let mut flipped = vec![0i16; 24];
        for k in 0..2 {
            for j in 0..3 {
                for i in 0..4 {
                    flipped[i + 4 * ((2 - j) + 3 * (1 - k))] = data[i + 4 * (j + 3 * k)];
                }
            }
        }
        let fg = Geometry {
            dims,
            // Voxel (0, 0, 0) of the flipped grid is voxel (0, 2, 1) of the original.
            origin: g.world([0.0, 2.0, 1.0]),
            directions: [[0.5, 0.0, 0.0], [0.0, -0.8, 0.0], [0.0, 0.0, -3.0]],
        };
        let a = dir.path().join("a.nrrd");
        let b = dir.path().join("b.nii.gz");
        crate::nrrd::write_nrrd(&a, &v, true).unwrap();
        crate::nifti::write_nifti(
            &b,
            &Volume {
                geometry: fg,
                data: flipped.clone(),
            },
        )
        .unwrap();
        let ra = read_volume(&a).unwrap();
        let rb = read_volume(&b).unwrap();
        assert_eq!(rb.voxels, Voxels::I16(flipped));
        let ca = ra.into_f32().to_canonical();
        let cb = rb.into_f32().to_canonical();
        assert!(
            ca.geometry.same_grid(&cb.geometry, 1e-5),
            "{:?} {:?}",
            ca.geometry,
            cb.geometry
        );
        assert_eq!(ca.data, cb.data);
        assert_eq!(ca.data, data.iter().map(|&x| x as f32).collect::<Vec<_>>());
    }

    #[test]
    fn unknown_extensions() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["y.nhdr", "y.hdr"] {
            let r = read_volume(&dir.path().join(bad));
            assert!(
                matches!(r, Err(DataError::Unsupported { .. })),
                "{bad}: {r:?}"
            );
        }
    }
}
