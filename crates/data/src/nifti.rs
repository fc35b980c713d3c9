//! NIfTI-1 reader and writer (`.nii`, `.nii.gz`) on top of the `nifti` crate (nifti-rs 0.18).
//!
//! Reading follows nibabel's rules:
//!
//! * **affine**: the sform when `sform_code > 0`, else the qform (quaternion, `qoffset`,
//!   `pixdim[1..4]`, `qfac = pixdim[0]` flipping the third axis; 0 counts as 1) when
//!   `qform_code > 0`, else NIfTI "method 1": `diag(pixdim[1..4])` with origin 0 (nibabel's
//!   Analyze-style fallback, which also flips x and centres the grid, is not imitated);
//! * the affine maps to **RAS+** world coordinates; x and y are negated to give the crate's LPS
//!   [`Geometry`];
//! * **scaling**: when `scl_slope` is finite and non-zero and `(slope, inter) != (1, 0)`, voxels
//!   become `value * slope + inter` as `f32` (`f64` when stored as `f64`); otherwise (including
//!   slope 0 or NaN, as nibabel) the stored integer type is kept, so uint8 masks stay
//!   [`Voxels::U8`];
//! * 3-D images, and 4-D (up to 7-D) images whose extra dimensions are all 1; anything else,
//!   NIfTI-2 (`sizeof_hdr` 540, detected before the crate is called) and 64-bit/complex/RGB
//!   voxels are [`DataError::Unsupported`].
//!
//! The axial axis is never assumed: use [`Geometry::axial_axis`] or
//! [`crate::Volume::to_canonical`].

use std::fs;
use std::io::Read;
use std::path::Path;

use ::nifti::{NiftiHeader, NiftiObject, NiftiType, ReaderOptions, writer::WriterOptions};

use crate::error::{DataError, Result};
use crate::volume::{Geometry, RawVolume, Sample, Volume, VoxelKind, Voxels};

/// True when the file name ends with `.gz`.
fn is_gz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Reads the first 4 bytes (`sizeof_hdr`), through gzip when the name ends with `.gz`.
fn sizeof_hdr(path: &Path) -> Result<[u8; 4]> {
    let file = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut b = [0u8; 4];
    let r = if is_gz(path) {
        flate2::read::GzDecoder::new(file).read_exact(&mut b)
    } else {
        std::io::BufReader::new(file).read_exact(&mut b)
    };
    r.map_err(|e| DataError::format(path, format!("cannot read the NIfTI header: {e}")))?;
    Ok(b)
}

fn nifti_err(path: &Path, e: ::nifti::NiftiError) -> DataError {
    match e {
        // The crate's `Io` variant has no message of its own (its Display is Rust debug
        // text); the I/O error's message is the useful part.
        ::nifti::NiftiError::Io(io) => DataError::format(path, format!("NIfTI: {io}")),
        e => DataError::format(path, format!("NIfTI: {e}")),
    }
}

/// Checks the NIfTI-1 header's sizes against the file before the `nifti` crate sees it:
/// `vox_offset` finite, at least 352 and within the data the file can hold, and the voxel
/// payload (dims × bitpix / 8) within it too. Bounds: the file size for `.nii`, 1032 × the
/// file size for `.nii.gz` (deflate's largest expansion). A hostile `vox_offset` or `dim`
/// otherwise makes the crate read or allocate without bound.
fn check_header_sizes(path: &Path) -> Result<()> {
    let file = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut h = [0u8; 348];
    let r = if is_gz(path) {
        flate2::read::GzDecoder::new(file).read_exact(&mut h)
    } else {
        std::io::BufReader::new(file).read_exact(&mut h)
    };
    r.map_err(|e| DataError::format(path, format!("cannot read the NIfTI header: {e}")))?;
    let le = i32::from_le_bytes([h[0], h[1], h[2], h[3]]) == 348;
    let be = i32::from_be_bytes([h[0], h[1], h[2], h[3]]) == 348;
    if !le && !be {
        return Err(DataError::format(
            path,
            "not a NIfTI-1 file (sizeof_hdr is not 348)",
        ));
    }
    let i16_at = |o: usize| {
        let b = [h[o], h[o + 1]];
        if le {
            i16::from_le_bytes(b)
        } else {
            i16::from_be_bytes(b)
        }
    };
    let vox_offset = {
        let b = [h[108], h[109], h[110], h[111]];
        f64::from(if le {
            f32::from_le_bytes(b)
        } else {
            f32::from_be_bytes(b)
        })
    };
    let limit = if is_gz(path) {
        file_len.saturating_mul(crate::nrrd::MAX_DEFLATE_RATIO as u64)
    } else {
        file_len
    } as f64;
    if !vox_offset.is_finite() || vox_offset < 0.0 || vox_offset > limit {
        return Err(DataError::format(
            path,
            format!("vox_offset {vox_offset} is not a data offset within this file"),
        ));
    }
    let ndim = i16_at(40);
    if !(1..=7).contains(&ndim) {
        return Err(DataError::format(
            path,
            format!("dim[0] = {ndim}: not 1..7"),
        ));
    }
    let bitpix = i16_at(72);
    let mut bytes = f64::from(bitpix.max(0)) / 8.0;
    for d in 1..=ndim as usize {
        let n = i16_at(40 + 2 * d);
        if n < 1 {
            return Err(DataError::format(
                path,
                format!("dim[{d}] = {n}: not a size"),
            ));
        }
        bytes *= f64::from(n);
    }
    if vox_offset.max(352.0) + bytes > limit {
        return Err(DataError::format(
            path,
            format!(
                "header says {bytes} voxel bytes at offset {vox_offset}, more than the file \
                 can hold (header/payload size mismatch)"
            ),
        ));
    }
    Ok(())
}

/// The voxel-to-RAS affine (3x4, rows x, y, z) chosen by nibabel's preference.
fn ras_affine(h: &NiftiHeader) -> [[f64; 4]; 3] {
    if h.sform_code > 0 {
        return [h.srow_x, h.srow_y, h.srow_z].map(|r| r.map(f64::from));
    }
    let zooms = [h.pixdim[1], h.pixdim[2], h.pixdim[3]].map(f64::from);
    if h.qform_code > 0 {
        let (b, c, d) = (
            f64::from(h.quatern_b),
            f64::from(h.quatern_c),
            f64::from(h.quatern_d),
        );
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let z = [zooms[0], zooms[1], zooms[2] * qfac];
        let off = [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from);
        return [0, 1, 2].map(|row| {
            [
                r[row][0] * z[0],
                r[row][1] * z[1],
                r[row][2] * z[2],
                off[row],
            ]
        });
    }
    [
        [zooms[0], 0.0, 0.0, 0.0],
        [0.0, zooms[1], 0.0, 0.0],
        [0.0, 0.0, zooms[2], 0.0],
    ]
}

/// RAS affine -> LPS geometry.
fn geometry_from_ras(dims: [usize; 3], aff: [[f64; 4]; 3]) -> Geometry {
    let sign = [-1.0, -1.0, 1.0];
    Geometry {
        dims,
        origin: [0, 1, 2].map(|r| aff[r][3] * sign[r]),
        directions: [0, 1, 2].map(|a| [0, 1, 2].map(|r| aff[r][a] * sign[r])),
    }
}

fn kind_of(path: &Path, datatype: i16) -> Result<VoxelKind> {
    Ok(match datatype {
        2 => VoxelKind::U8,
        4 => VoxelKind::I16,
        8 => VoxelKind::I32,
        16 => VoxelKind::F32,
        64 => VoxelKind::F64,
        256 => VoxelKind::I8,
        512 => VoxelKind::U16,
        768 => VoxelKind::U32,
        other => {
            return Err(DataError::Unsupported {
                path: path.to_path_buf(),
                what: format!("NIfTI datatype {other} (u8/i8/u16/i16/u32/i32/f32/f64 voxels only)"),
            });
        }
    })
}

fn typed<T: Sample>(raw: &[u8], swap: bool) -> Vec<T> {
    let size = std::mem::size_of::<T>();
    let mut out = vec![T::zeroed(); raw.len() / size];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
    bytes.copy_from_slice(&raw[..bytes.len()]);
    if swap && size > 1 {
        for c in bytes.chunks_exact_mut(size) {
            c.reverse();
        }
    }
    out
}

fn scale<T: Copy>(v: Vec<T>, f: impl Fn(T) -> f64, slope: f64, inter: f64) -> Vec<f32> {
    v.into_iter()
        .map(|x| (f(x) * slope + inter) as f32)
        .collect()
}

/// Reads a NIfTI-1 volume (`.nii` or `.nii.gz`; see the module doc for the rules).
///
/// Errors name the file: [`DataError::Unsupported`] for NIfTI-2 ("NIfTI-2 is not
/// supported"), non-singleton 4-D images and exotic voxel types; [`DataError::Format`] for
/// corrupt or truncated files; [`DataError::Io`].
pub fn read_nifti(path: &Path) -> Result<RawVolume> {
    let magic = sizeof_hdr(path)?;
    if i32::from_le_bytes(magic) == 540 || i32::from_be_bytes(magic) == 540 {
        return Err(DataError::Unsupported {
            path: path.to_path_buf(),
            what: "NIfTI-2 is not supported (only NIfTI-1: convert with nibabel or \
                   `fslchfiletype NIFTI_GZ`)"
                .into(),
        });
    }
    check_header_sizes(path)?;
    let obj = ReaderOptions::new()
        .read_file(path)
        .map_err(|e| nifti_err(path, e))?;
    let h = obj.header().clone();
    let ndim = h.dim[0] as usize;
    if !(3..=7).contains(&ndim) {
        return Err(DataError::Unsupported {
            path: path.to_path_buf(),
            what: format!("{ndim}-D NIfTI image (3-D volumes only)"),
        });
    }
    if let Some(extra) = (4..=ndim).find(|&d| h.dim[d] != 1) {
        return Err(DataError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "{ndim}-D NIfTI image with dim[{extra}] = {} (3-D volumes, or 4-D with one \
                 volume, only)",
                h.dim[extra]
            ),
        });
    }
    let dims = [h.dim[1], h.dim[2], h.dim[3]].map(usize::from);
    if dims.contains(&0) {
        return Err(DataError::format(path, format!("empty grid {dims:?}")));
    }
    let kind = kind_of(path, h.datatype)?;
    let raw = obj.into_volume().into_raw_data();
    let n = dims[0] * dims[1] * dims[2];
    let size = match kind {
        VoxelKind::U8 | VoxelKind::I8 => 1,
        VoxelKind::U16 | VoxelKind::I16 => 2,
        VoxelKind::U32 | VoxelKind::I32 | VoxelKind::F32 => 4,
        VoxelKind::F64 => 8,
    };
    if raw.len() != n * size {
        return Err(DataError::format(
            path,
            format!(
                "header says {} payload bytes, read {} (header/payload size mismatch)",
                n * size,
                raw.len()
            ),
        ));
    }
    let swap = h.endianness != ::nifti::Endianness::native();
    let voxels = match kind {
        VoxelKind::U8 => Voxels::U8(raw),
        VoxelKind::I8 => Voxels::I8(typed(&raw, swap)),
        VoxelKind::U16 => Voxels::U16(typed(&raw, swap)),
        VoxelKind::I16 => Voxels::I16(typed(&raw, swap)),
        VoxelKind::U32 => Voxels::U32(typed(&raw, swap)),
        VoxelKind::I32 => Voxels::I32(typed(&raw, swap)),
        VoxelKind::F32 => Voxels::F32(typed(&raw, swap)),
        VoxelKind::F64 => Voxels::F64(typed(&raw, swap)),
    };
    let slope = f64::from(h.scl_slope);
    let inter = if h.scl_inter.is_finite() {
        f64::from(h.scl_inter)
    } else {
        0.0
    };
    let voxels = if slope.is_finite() && slope != 0.0 && (slope != 1.0 || inter != 0.0) {
        match voxels {
            Voxels::F64(v) => Voxels::F64(v.into_iter().map(|x| x * slope + inter).collect()),
            Voxels::U8(v) => Voxels::F32(scale(v, f64::from, slope, inter)),
            Voxels::I8(v) => Voxels::F32(scale(v, f64::from, slope, inter)),
            Voxels::U16(v) => Voxels::F32(scale(v, f64::from, slope, inter)),
            Voxels::I16(v) => Voxels::F32(scale(v, f64::from, slope, inter)),
            Voxels::U32(v) => Voxels::F32(scale(v, f64::from, slope, inter)),
            Voxels::I32(v) => Voxels::F32(scale(v, f64::from, slope, inter)),
            Voxels::F32(v) => Voxels::F32(scale(v, f64::from, slope, inter)),
        }
    } else {
        voxels
    };
    let geometry = geometry_from_ras(dims, ras_affine(&h));
    geometry.check(path)?;
    Ok(RawVolume {
        path: path.to_path_buf(),
        geometry,
        voxels,
    })
}

fn nifti_type(kind: VoxelKind) -> NiftiType {
    match kind {
        VoxelKind::U8 => NiftiType::Uint8,
        VoxelKind::I8 => NiftiType::Int8,
        VoxelKind::U16 => NiftiType::Uint16,
        VoxelKind::I16 => NiftiType::Int16,
        VoxelKind::U32 => NiftiType::Uint32,
        VoxelKind::I32 => NiftiType::Int32,
        VoxelKind::F32 => NiftiType::Float32,
        VoxelKind::F64 => NiftiType::Float64,
    }
}

/// Writes `volume` as NIfTI-1 (`.nii`, or gzip-compressed when the name ends with `.gz`)
/// with the geometry exactly as given: an sform (code 2, "aligned") holding the RAS affine
/// (LPS x and y negated), `qform_code` 0 (as nibabel writes), `pixdim` = spacings,
/// millimetre units, no scaling. A grid whose axes are flipped or permuted relative to
/// another file's is written as such. Written under a temporary name, renamed when complete.
pub fn write_nifti<T: Sample>(path: &Path, volume: &Volume<T>) -> Result<()> {
    let g = &volume.geometry;
    if volume.data.len() != g.len() {
        return Err(DataError::InvalidConfig {
            field: "volume",
            detail: format!(
                "{} voxels for a {:?} grid (writing {})",
                volume.data.len(),
                g.dims,
                path.display()
            ),
        });
    }
    let dims16 = g.dims.map(|d| u16::try_from(d).ok().filter(|&d| d > 0));
    let [Some(d0), Some(d1), Some(d2)] = dims16 else {
        return Err(DataError::InvalidConfig {
            field: "volume",
            detail: format!(
                "grid {:?} does not fit NIfTI-1 (1..=65535 per axis)",
                g.dims
            ),
        });
    };
    let sign = [-1.0, -1.0, 1.0];
    let row = |r: usize| -> [f32; 4] {
        [
            (g.directions[0][r] * sign[r]) as f32,
            (g.directions[1][r] * sign[r]) as f32,
            (g.directions[2][r] * sign[r]) as f32,
            (g.origin[r] * sign[r]) as f32,
        ]
    };
    let header = NiftiHeader {
        dim: [3, d0, d1, d2, 1, 1, 1, 1],
        pixdim: [
            1.0,
            g.spacing(0) as f32,
            g.spacing(1) as f32,
            g.spacing(2) as f32,
            1.0,
            1.0,
            1.0,
            1.0,
        ],
        sform_code: 2,
        qform_code: 0,
        srow_x: row(0),
        srow_y: row(1),
        srow_z: row(2),
        xyzt_units: 2,
        scl_slope: 1.0,
        scl_inter: 0.0,
        ..NiftiHeader::default()
    };
    // nifti-rs reverses the axes before writing: hand it [i, j, k] in Fortran order.
    let arr = ndarray::ArrayView3::from_shape(ndarray::ShapeBuilder::f(g.dims), &volume.data[..])
        .map_err(|e| DataError::InvalidConfig {
        field: "volume",
        detail: e.to_string(),
    })?;
    let gz = is_gz(path);
    // nifti-rs rewrites the last extension of the name it is given, so the temporary name
    // has no other dot than the one(s) of `.nii(.gz)`.
    let tmp = crate::atomic::TempFile::with_extension(path, if gz { "nii.gz" } else { "nii" })?;
    WriterOptions::new(tmp.path())
        .reference_header(&header)
        .compress(gz)
        .write_nifti_with_type(&arr, nifti_type(T::KIND))
        .map_err(|e| DataError::format(path, format!("writing NIfTI: {e}")))?;
    Ok(tmp.persist()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(dims: [usize; 3]) -> Geometry {
        Geometry {
            dims,
            origin: [12.5, -30.0, 7.0],
            // In-plane axis 0 runs towards the patient's right (-x), as a flipped converter.
            directions: [[-0.5, 0.0, 0.0], [0.0, 0.75, 0.0], [0.0, 0.0, 2.5]],
        }
    }

    fn roundtrip<T: Sample + std::fmt::Debug + PartialEq>(vals: Vec<T>) {
        let dir = tempfile::tempdir().unwrap();
        let v = Volume {
            geometry: geom([3, 2, 2]),
            data: vals,
        };
        for name in ["v.nii", "v.nii.gz"] {
            let p = dir.path().join(name);
            write_nifti(&p, &v).unwrap();
            let r = read_nifti(&p).unwrap();
            assert!(r.geometry.same_grid(&v.geometry, 1e-6), "{:?}", r.geometry);
            assert_eq!(r.voxels, T::wrap(v.data.clone()));
            assert_eq!(
                fs::read_dir(dir.path()).unwrap().count(),
                1 + (name == "v.nii.gz") as usize
            );
        }
    }

    #[test]
    fn write_read_every_type() {
        roundtrip::<u8>((0..12).map(|i| i * 20).collect());
        roundtrip::<i8>((0..12).map(|i| i * 10 - 60).collect());
        roundtrip::<u16>((0..12).map(|i| i * 5000).collect());
        roundtrip::<i16>((0..12).map(|i| i * 200 - 1024).collect());
        roundtrip::<u32>((0..12).map(|i| i * 300_000_000).collect());
        roundtrip::<i32>((0..12).map(|i| i * 100_000_000 - 600_000_000).collect());
        roundtrip::<f32>((0..12).map(|i| i as f32 * 0.1 - 0.5).collect());
        roundtrip::<f64>((0..12).map(|i| i as f64 * 1e-3 - 7.0).collect());
    }

    /// Writes an uncompressed file and returns its bytes for patching header fields at their
    /// NIfTI-1 byte offsets (little-endian on this machine).
    fn written(dir: &Path, dims: [usize; 3], data: Vec<i16>) -> (std::path::PathBuf, Vec<u8>) {
        let p = dir.join("p.nii");
        write_nifti(
            &p,
            &Volume {
                geometry: geom(dims),
                data,
            },
        )
        .unwrap();
        let b = fs::read(&p).unwrap();
        assert_eq!(i32::from_le_bytes(b[0..4].try_into().unwrap()), 348);
        (p, b)
    }

    fn put_f32(b: &mut [u8], off: usize, v: f32) {
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put_i16(b: &mut [u8], off: usize, v: i16) {
        b[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn written_bytes_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let (_, b) = written(dir.path(), [2, 1, 1], vec![-1024, 3]);
        // datatype int16 at 70, dim at 40, sform_code at 254, srow_x at 280, vox_offset 108.
        assert_eq!(i16::from_le_bytes([b[70], b[71]]), 4);
        assert_eq!(i16::from_le_bytes([b[40], b[41]]), 3);
        assert_eq!(i16::from_le_bytes([b[42], b[43]]), 2);
        assert_eq!(i16::from_le_bytes([b[254], b[255]]), 2);
        let f = |o: usize| f32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        // srow_x = (0.5, 0, 0, -12.5): LPS x negated.
        assert_eq!([f(280), f(284), f(288), f(292)], [0.5, 0.0, 0.0, -12.5]);
        assert_eq!(f(108), 352.0);
        assert_eq!(&b[352..356], &[0x00, 0xFC, 3, 0]);
    }

    #[test]
    fn scaling_follows_nibabel() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut b) = written(dir.path(), [2, 1, 1], vec![100, -3]);
        put_f32(&mut b, 112, 2.0);
        put_f32(&mut b, 116, -1024.0);
        fs::write(&p, &b).unwrap();
        assert_eq!(
            read_nifti(&p).unwrap().voxels,
            Voxels::F32(vec![-824.0, -1030.0])
        );
        // Slope 0 or NaN: no scaling, integer type kept.
        for slope in [0.0, f32::NAN] {
            put_f32(&mut b, 112, slope);
            fs::write(&p, &b).unwrap();
            assert_eq!(read_nifti(&p).unwrap().voxels, Voxels::I16(vec![100, -3]));
        }
    }

    #[test]
    fn qform_with_qfac_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut b) = written(dir.path(), [2, 1, 1], vec![1, 2]);
        put_i16(&mut b, 252, 1); // qform_code
        put_i16(&mut b, 254, 0); // sform_code
        // 90 degrees about z: b = c = 0, d = sin(45 deg).
        put_f32(&mut b, 256, 0.0);
        put_f32(&mut b, 260, 0.0);
        put_f32(&mut b, 264, std::f32::consts::FRAC_1_SQRT_2);
        put_f32(&mut b, 268, 5.0);
        put_f32(&mut b, 272, 6.0);
        put_f32(&mut b, 276, 7.0);
        for (i, v) in [-1.0f32, 2.0, 3.0, 4.0].iter().enumerate() {
            put_f32(&mut b, 76 + 4 * i, *v);
        }
        fs::write(&p, &b).unwrap();
        let g = read_nifti(&p).unwrap().geometry;
        // RAS columns: R e0 * 2 = (0, 2, 0); R e1 * 3 = (-3, 0, 0); R e2 * 4 * qfac = (0, 0, -4).
        // LPS: negate x and y.
        let want = [[0.0, -2.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, -4.0]];
        for (got, want) in g.directions.iter().zip(want) {
            for (x, y) in got.iter().zip(want) {
                assert!((x - y).abs() < 1e-6, "{g:?}");
            }
        }
        assert_eq!(g.origin, [-5.0, -6.0, 7.0]);
        assert_eq!(g.axial_axis(), 2);
        // Neither form: pixdim scaling, origin 0.
        put_i16(&mut b, 252, 0);
        fs::write(&p, &b).unwrap();
        let g = read_nifti(&p).unwrap().geometry;
        assert_eq!(
            g.directions,
            [[-2.0, 0.0, 0.0], [0.0, -3.0, 0.0], [0.0, 0.0, 4.0]]
        );
        assert_eq!(g.origin, [0.0, 0.0, 0.0]);
    }

    #[test]
    fn four_d_singleton_only() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut b) = written(dir.path(), [2, 2, 2], (0..8).collect());
        put_i16(&mut b, 40, 4);
        put_i16(&mut b, 48, 1);
        fs::write(&p, &b).unwrap();
        let r = read_nifti(&p).unwrap();
        assert_eq!(r.geometry.dims, [2, 2, 2]);
        assert_eq!(r.voxels, Voxels::I16((0..8).collect()));
        // 2x2x1 with 2 volumes (same byte count): refused.
        put_i16(&mut b, 46, 1);
        put_i16(&mut b, 48, 2);
        fs::write(&p, &b).unwrap();
        let e = read_nifti(&p).unwrap_err();
        assert!(matches!(e, DataError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("dim[4] = 2"), "{e}");
    }

    #[test]
    fn nifti2_and_truncation_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("two.nii");
        let mut b = vec![0u8; 600];
        b[..4].copy_from_slice(&540i32.to_le_bytes());
        fs::write(&p, &b).unwrap();
        let e = read_nifti(&p).unwrap_err().to_string();
        assert!(
            e.contains("two.nii") && e.contains("NIfTI-2 is not supported"),
            "{e}"
        );

        let v = Volume {
            geometry: geom([16, 16, 8]),
            data: (0..2048)
                .map(|i| ((i * 7919) % 2000) as i16)
                .collect::<Vec<_>>(),
        };
        let p = dir.path().join("cut.nii.gz");
        write_nifti(&p, &v).unwrap();
        let z = fs::read(&p).unwrap();
        fs::write(&p, &z[..z.len() / 2]).unwrap();
        let e = read_nifti(&p).unwrap_err();
        assert!(matches!(e, DataError::Format { .. }), "{e}");
        assert!(e.to_string().contains("cut.nii.gz"), "{e}");
        let p = dir.path().join("cut.nii");
        write_nifti(&p, &v).unwrap();
        let z = fs::read(&p).unwrap();
        fs::write(&p, &z[..z.len() - 10]).unwrap();
        let e = read_nifti(&p).unwrap_err();
        assert!(e.to_string().contains("cut.nii"), "{e}");
    }
}
