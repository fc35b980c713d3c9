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
}
