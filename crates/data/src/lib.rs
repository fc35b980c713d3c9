//! # twinscan-data
//!
//! CT volumes and organ delineations in, windowed 2-D axial slices with tri-state labels out.
//! Knows nothing of burn: the prepared dataset folder it writes is the seam between the
//! burn-free lower layers and the training crates.

pub mod dicom;
pub mod error;
pub mod labelmap;
pub mod labels;
pub mod layout;
pub mod nifti;
pub mod nrrd;
pub mod prepare;
pub mod prepare_cli;
pub mod prepared;
pub mod slices;
pub mod split;
pub mod structures;
pub mod synth;
pub mod volume;
pub mod volume_io;

pub use error::{DataError, Result};
pub use volume::{Geometry, Mask, Volume};
pub use volume::{RawVolume, Sample, VoxelKind, Voxels, count_non_finite};
pub use volume_io::read_volume;
