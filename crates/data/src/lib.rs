//! # twinscan-data
//!
//! CT volumes and organ delineations in, windowed 2-D axial slices with tri-state labels out.
//! Knows nothing of burn: the prepared dataset folder it writes is the seam between the
//! burn-free lower layers and the training crates.
//!
//! The main path: [`prepare`] a folder of scans into a prepared dataset (written once), then
//! read it with [`Prepared`] (memory-mapped, read many times). The synthetic cohort makes a
//! runnable example without data:
//!
//! ```
//! use twinscan_data::{PrepareConfig, Prepared, Split, SynthConfig, SynthFormat, prepare, write_cohort};
//!
//! let tmp = tempfile::tempdir()?;
//! let scans = tmp.path().join("scans");
//! write_cohort(&scans, &SynthConfig { scans: 3, size: 32, ..SynthConfig::default() }, SynthFormat::Nrrd)?;
//! let mut config = PrepareConfig::new(&scans, tmp.path().join("prepared"));
//! config.size = 32;
//! let summary = prepare(&config, &|_progress| {})?;
//! let data = Prepared::open(&summary.out)?;
//! let row = data.indices(Split::Train)[0];
//! let (pixels, labels) = (data.image(row), data.labels(row)); // 32×32 u8, tri-state per structure
//! assert_eq!((pixels.len(), labels.len()), (32 * 32, data.structures().len()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod atomic;
pub mod dicom;
pub mod error;
pub mod labelmap;
pub mod labels;
pub mod layout;
pub mod nbia;
pub mod nifti;
pub mod nrrd;
pub mod png_io;
pub mod prepare;
pub mod prepared;
pub mod slices;
pub mod split;
pub mod structures;
pub mod synth;
pub mod volume;
pub mod volume_io;

pub use error::{DataError, Result};
pub use prepare::{PrepareConfig, Summary, prepare};
pub use prepared::Prepared;
pub use split::Split;
pub use synth::{SynthConfig, SynthFormat, write_cohort, write_prepared_cohort};
pub use volume::{Geometry, Mask, Volume};
pub use volume::{RawVolume, Sample, VoxelKind, Voxels, count_non_finite};
pub use volume_io::read_volume;
