//! NRRD reader and writer (the format of the public DeepMind head-and-neck set).
//!
//! Hand-written: there is no NRRD crate on crates.io. Supported, as in the
//! [NRRD format spec](http://teem.sourceforge.net/nrrd/format.html):
//!
//! * **attached** headers only (`NRRD000x` magic, `field: value` lines, `key:=value` pairs,
//!   `#` comments, a blank line, then the payload); `data file` (detached `.nhdr`) is refused;
//! * encodings `raw` and `gzip` (`gz`, also multi-member); the payload is inflated with
//!   flate2's raw inflate (zlib-rs backend) in one call straight into the typed voxel buffer,
//!   and each member's CRC-32 and length trailer is checked; `byte skip`/`line skip` must be 0
//!   (or absent);
//! * types `u8 i8 u16 i16 u32 i32 f32 f64` under every NRRD spelling (`uchar`, `unsigned char`,
//!   `uint8_t`, `short`, `signed short int`, `int16`, `float`, `double`, ...);
//!   `endian: little|big` (required for multi-byte types);
//! * `dimension: 3` only, with `space directions` (three vectors) and `space origin`
//!   (0 when absent); `space` may be any of the 8 three-letter anatomical spaces
//!   (`left-posterior-superior`/`LPS`, `right-anterior-superior`/`RAS`, `LAS`, ...), converted
//!   to LPS; `kinds` are checked to be spatial (`domain`/`space`).
//!
//! Everything else (`bzip2`, `ascii`, `hex` encodings, 2-D/4-D arrays, `scanner-xyz` spaces,
//! 64-bit integers) is a clear [`DataError::Unsupported`]; corrupt input (truncated gzip,
//! payload shorter or longer than the header says, a missing field) is a
//! [`DataError::Format`]; both name the file.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{DataError, Result};
use crate::volume::{Geometry, RawVolume, Sample, Volume, VoxelKind, Voxels};

/// Voxel types [`write_nrrd`] can write (`u8 i8 u16 i16 u32 i32 f32 f64`).
pub use crate::volume::Sample as NrrdType;

/// The NRRD type name for a stored type.
fn type_name(kind: VoxelKind) -> &'static str {
    match kind {
        VoxelKind::U8 => "uint8",
        VoxelKind::I8 => "int8",
        VoxelKind::U16 => "uint16",
        VoxelKind::I16 => "int16",
        VoxelKind::U32 => "uint32",
        VoxelKind::I32 => "int32",
        VoxelKind::F32 => "float",
        VoxelKind::F64 => "double",
    }
}

/// Parses an NRRD `type` value (all spellings of the spec's table).
fn parse_type(s: &str) -> Option<std::result::Result<VoxelKind, &'static str>> {
    let kind = match s {
        "signed char" | "int8" | "int8_t" => VoxelKind::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => VoxelKind::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => {
            VoxelKind::I16
        }
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => {
            VoxelKind::U16
        }
        "int" | "signed int" | "int32" | "int32_t" => VoxelKind::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => VoxelKind::U32,
        "float" => VoxelKind::F32,
        "double" => VoxelKind::F64,
        "longlong"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "int64"
        | "int64_t"
        | "ulonglong"
        | "unsigned long long"
        | "unsigned long long int"
        | "uint64"
        | "uint64_t" => return Some(Err("64-bit integer voxels")),
        "block" => return Some(Err("block voxels")),
        _ => return None,
    };
    Some(Ok(kind))
}

fn kind_size(kind: VoxelKind) -> usize {
    match kind {
        VoxelKind::U8 | VoxelKind::I8 => 1,
        VoxelKind::U16 | VoxelKind::I16 => 2,
        VoxelKind::U32 | VoxelKind::I32 | VoxelKind::F32 => 4,
        VoxelKind::F64 => 8,
    }
}

/// Parses `(a,b,c)`; `none` gives `None`.
fn parse_vector(path: &Path, field: &str, s: &str) -> Result<Option<[f64; 3]>> {
    let s = s.trim();
    if s == "none" {
        return Ok(None);
    }
    let bad = || DataError::format(path, format!("{field}: cannot parse vector {s:?}"));
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(bad)?;
    let parts: Vec<f64> = inner
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad())?;
    match parts[..] {
        [a, b, c] if a.is_finite() && b.is_finite() && c.is_finite() => Ok(Some([a, b, c])),
        [_, _, _] => Err(DataError::format(
            path,
            format!("{field}: non-finite value in {s:?}"),
        )),
        _ => Err(DataError::Unsupported {
            path: path.to_path_buf(),
            what: format!("{field}: {}-D space (only 3-D spaces)", parts.len()),
        }),
    }
}

/// Splits `(a,b,c) (d,e,f) none` into its vector tokens.
fn split_vectors(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('(') {
            let end = r.find(')').map(|e| e + 2).unwrap_or(rest.len());
            out.push(&rest[..end]);
            rest = rest[end..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            out.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
    }
    out
}

/// Signs that take a vector in the file's anatomical space to LPS, per component.
fn space_to_lps(path: &Path, space: &str) -> Result<[f64; 3]> {
    let code: String = match space.to_ascii_lowercase().as_str() {
        // Characters, not bytes: a non-ASCII value must not pass as three letters.
        s if s.chars().count() == 3 => s.to_string(),
        s => {
            let parts: Vec<&str> = s.split('-').collect();
            if parts.len() != 3 {
                return Err(DataError::Unsupported {
                    path: path.to_path_buf(),
                    what: format!(
                        "space {space:?} (only anatomical 3-D spaces such as left-posterior-superior)"
                    ),
                });
            }
            parts
                .iter()
                .map(|p| p.chars().next().unwrap_or('?'))
                .collect()
        }
    };
    let c: Vec<char> = code.chars().collect();
    let sign = |ch: char, pos: char, neg: char| -> Option<f64> {
        if ch == pos {
            Some(1.0)
        } else if ch == neg {
            Some(-1.0)
        } else {
            None
        }
    };
    match (
        sign(c[0], 'l', 'r'),
        sign(c[1], 'p', 'a'),
        sign(c[2], 's', 'i'),
    ) {
        (Some(x), Some(y), Some(z)) => Ok([x, y, z]),
        _ => Err(DataError::Unsupported {
            path: path.to_path_buf(),
            what: format!(
                "space {space:?} (only anatomical 3-D spaces such as left-posterior-superior)"
            ),
        }),
    }
}

/// The parsed header of an attached NRRD.
#[derive(Debug)]
struct Header {
    kind: VoxelKind,
    dims: [usize; 3],
    gzip: bool,
    big_endian: bool,
    geometry: Geometry,
    /// Byte offset of the payload in the file.
    data_offset: usize,
}

fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    if !bytes.starts_with(b"NRRD000") {
        return Err(DataError::format(
            path,
            "not an NRRD file (no NRRD000x magic line)",
        ));
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut pos = 0usize;
    let mut data_offset = None;
    let mut first = true;
    while pos < bytes.len() {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|e| pos + e)
            .ok_or_else(|| {
                DataError::format(path, "header not terminated by a blank line (no payload)")
            })?;
        let raw = &bytes[pos..end];
        pos = end + 1;
        let line = std::str::from_utf8(raw)
            .map_err(|_| DataError::format(path, "header line is not text"))?
            .trim_end_matches('\r');
        if first {
            first = false;
            continue;
        }
        if line.is_empty() {
            data_offset = Some(pos);
            break;
        }
        if line.starts_with('#') || line.contains(":=") {
            continue;
        }
        let (k, v) = line
            .split_once(": ")
            .ok_or_else(|| DataError::format(path, format!("malformed header line {line:?}")))?;
        fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let data_offset = data_offset
        .ok_or_else(|| DataError::format(path, "header not terminated by a blank line"))?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let need = |name: &str| {
        get(name).ok_or_else(|| DataError::format(path, format!("missing required field {name:?}")))
    };
    let unsupported = |what: String| DataError::Unsupported {
        path: path.to_path_buf(),
        what,
    };

    if get("data file").or(get("datafile")).is_some() {
        return Err(unsupported(
            "detached header (`data file`): only attached NRRD files are read".into(),
        ));
    }
    let kind = match parse_type(need("type")?) {
        Some(Ok(k)) => k,
        Some(Err(what)) => return Err(unsupported(what.into())),
        None => {
            return Err(DataError::format(
                path,
                format!("unknown type {:?}", need("type")?),
            ));
        }
    };
    let dimension: usize = need("dimension")?
        .parse()
        .map_err(|_| DataError::format(path, "dimension is not an integer"))?;
    if dimension != 3 {
        return Err(unsupported(format!(
            "{dimension}-D array (only 3-D volumes)"
        )));
    }
    let sizes: Vec<usize> = need("sizes")?
        .split_whitespace()
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| DataError::format(path, "sizes are not integers"))?;
    if sizes.len() != 3 {
        return Err(DataError::format(
            path,
            format!("dimension is 3 but sizes lists {} values", sizes.len()),
        ));
    }
    let dims = [sizes[0], sizes[1], sizes[2]];
    let gzip = match need("encoding")? {
        "raw" => false,
        "gzip" | "gz" => true,
        other => {
            return Err(unsupported(format!(
                "encoding {other:?} (raw and gzip only)"
            )));
        }
    };
    let big_endian = match get("endian") {
        Some("little") => false,
        Some("big") => true,
        Some(other) => return Err(DataError::format(path, format!("endian {other:?}"))),
        None if kind_size(kind) == 1 => false,
        None => {
            return Err(DataError::format(
                path,
                "missing required field \"endian\" for a multi-byte type",
            ));
        }
    };
    for skip in ["byte skip", "byteskip", "line skip", "lineskip"] {
        if let Some(v) = get(skip)
            && v != "0"
        {
            return Err(unsupported(format!("{skip}: {v}")));
        }
    }
    if let Some(kinds) = get("kinds") {
        for k in kinds.split_whitespace() {
            if !matches!(k, "domain" | "space" | "???" | "none") {
                return Err(unsupported(format!("axis kind {k:?} (spatial axes only)")));
            }
        }
    }
    let signs = match get("space") {
        Some(space) => space_to_lps(path, space)?,
        None if get("space dimension").is_some() => {
            return Err(unsupported(
                "`space dimension` without an anatomical `space` (orientation unknown)".into(),
            ));
        }
        None => {
            return Err(DataError::format(
                path,
                "missing required field \"space\" (orientation unknown)",
            ));
        }
    };
    let dir_tokens = split_vectors(need("space directions")?);
    if dir_tokens.len() != 3 {
        return Err(DataError::format(
            path,
            format!(
                "space directions lists {} entries, expected 3",
                dir_tokens.len()
            ),
        ));
    }
    let mut directions = [[0.0; 3]; 3];
    for (a, tok) in dir_tokens.iter().enumerate() {
        let v = parse_vector(path, "space directions", tok)?.ok_or_else(|| {
            DataError::format(path, format!("space directions: axis {a} is `none`"))
        })?;
        directions[a] = [v[0] * signs[0], v[1] * signs[1], v[2] * signs[2]];
    }
    let origin = match get("space origin") {
        Some(s) => {
            let v = parse_vector(path, "space origin", s)?
                .ok_or_else(|| DataError::format(path, "space origin is `none`"))?;
            [v[0] * signs[0], v[1] * signs[1], v[2] * signs[2]]
        }
        None => [0.0; 3],
    };
    let geometry = Geometry {
        dims,
        origin,
        directions,
    };
    geometry.check(path)?;
    Ok(Header {
        kind,
        dims,
        gzip,
        big_endian,
        geometry,
        data_offset,
    })
}

/// Fills `out` from the payload, checking its length exactly.
fn fill_payload(path: &Path, payload: &[u8], gzip: bool, out: &mut [u8]) -> Result<()> {
    let want = out.len();
    if !gzip {
        if payload.len() != want {
            return Err(DataError::format(
                path,
                format!(
                    "header says {want} payload bytes, file holds {} (header/payload size mismatch)",
                    payload.len()
                ),
            ));
        }
        out.copy_from_slice(payload);
        return Ok(());
    }
    gunzip_into(path, payload, out)
}

/// Inflates a (possibly multi-member) gzip stream straight into `out`, which must be filled
/// exactly; checks each member's CRC-32 and length trailer.
fn gunzip_into(path: &Path, payload: &[u8], out: &mut [u8]) -> Result<()> {
    use flate2::{Decompress, FlushDecompress, Status};
    let want = out.len();
    let corrupt = |what: String| {
        DataError::format(path, format!("truncated or corrupt gzip payload: {what}"))
    };
    let mismatch = |have: String| {
        DataError::format(
            path,
            format!(
                "header says {want} payload bytes, gzip stream holds {have} (header/payload size mismatch)"
            ),
        )
    };
    let mut pos = 0usize;
    let mut filled = 0usize;
    loop {
        let h = &payload[pos..];
        if h.len() < 10 || h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 {
            return Err(corrupt(format!(
                "no gzip member header at payload byte {pos}"
            )));
        }
        let flags = h[3];
        let mut p = 10usize;
        if flags & 4 != 0 {
            let xlen = h
                .get(p..p + 2)
                .ok_or_else(|| corrupt("header cut short".into()))?;
            p += 2 + u16::from_le_bytes([xlen[0], xlen[1]]) as usize;
        }
        for bit in [8u8, 16] {
            if flags & bit != 0 {
                let nul = h
                    .get(p..)
                    .and_then(|r| r.iter().position(|&b| b == 0))
                    .ok_or_else(|| corrupt("header cut short".into()))?;
                p += nul + 1;
            }
        }
        if flags & 2 != 0 {
            p += 2;
        }
        let body = h
            .get(p..)
            .ok_or_else(|| corrupt("header cut short".into()))?;
        let mut d = Decompress::new(false);
        let status = d
            .decompress(body, &mut out[filled..], FlushDecompress::Finish)
            .map_err(|e| corrupt(e.to_string()))?;
        let consumed = d.total_in() as usize;
        let produced = d.total_out() as usize;
        if status != Status::StreamEnd {
            return Err(if filled + produced == want && consumed < body.len() {
                mismatch(format!("more than {want}"))
            } else {
                corrupt(format!(
                    "stream ends after {} inflated bytes",
                    filled + produced
                ))
            });
        }
        let trailer = body
            .get(consumed..consumed + 8)
            .ok_or_else(|| corrupt("CRC/length trailer missing".into()))?;
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let isize = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        let mut c = flate2::Crc::new();
        c.update(&out[filled..filled + produced]);
        if c.sum() != crc || isize != produced as u32 {
            return Err(corrupt("CRC or length check failed".into()));
        }
        filled += produced;
        pos += p + consumed + 8;
        // Another member follows only if the gzip magic does; other trailing bytes (zero
        // padding, a newline) are ignored, as zlib-based readers (pynrrd) do.
        if !payload[pos..].starts_with(&[0x1f, 0x8b]) {
            break;
        }
        if filled == want {
            return Err(mismatch(format!("more than {want}")));
        }
    }
    if filled != want {
        return Err(mismatch(filled.to_string()));
    }
    Ok(())
}

/// The most a deflate stream can expand (zlib technical details: 1032:1).
pub(crate) const MAX_DEFLATE_RATIO: usize = 1032;

fn decode<T: Sample>(path: &Path, h: &Header, payload: &[u8]) -> Result<Vec<T>> {
    let n = h.dims[0]
        .checked_mul(h.dims[1])
        .and_then(|x| x.checked_mul(h.dims[2]))
        .ok_or_else(|| DataError::format(path, "sizes overflow"))?;
    // Checked against the payload before allocating: raw data must be exactly that long,
    // and deflate cannot expand more than 1032:1 (zlib's limit), so a gzip payload bounds
    // the size too. A hostile `sizes` line then fails here instead of aborting on
    // allocation.
    let bytes = n
        .checked_mul(std::mem::size_of::<T>())
        .ok_or_else(|| DataError::format(path, "sizes times the voxel size overflow"))?;
    let most = if h.gzip {
        payload.len().saturating_mul(MAX_DEFLATE_RATIO)
    } else {
        payload.len()
    };
    if bytes > most {
        return Err(DataError::format(
            path,
            format!(
                "header says {bytes} payload bytes ({:?} voxels), the {} payload of {} bytes \
                 cannot hold them (header/payload size mismatch)",
                h.dims,
                if h.gzip { "gzip" } else { "raw" },
                payload.len()
            ),
        ));
    }
    let mut data = vec![T::zeroed(); n];
    fill_payload(path, payload, h.gzip, bytemuck::cast_slice_mut(&mut data))?;
    let size = std::mem::size_of::<T>();
    if size > 1 && h.big_endian != cfg!(target_endian = "big") {
        for chunk in bytemuck::cast_slice_mut::<T, u8>(&mut data).chunks_exact_mut(size) {
            chunk.reverse();
        }
    }
    Ok(data)
}

/// Reads an attached NRRD volume (see the module doc for what is supported).
///
/// Returns the voxels in the stored type and the grid in LPS mm (RAS and other anatomical
/// spaces converted). Errors name the file: [`DataError::Io`], [`DataError::Format`]
/// (missing field, truncated gzip, payload size differs from the header's),
/// [`DataError::Unsupported`].
pub fn read_nrrd(path: &Path) -> Result<RawVolume> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    let h = parse_header(path, &bytes)?;
    let payload = &bytes[h.data_offset..];
    let voxels = match h.kind {
        VoxelKind::U8 => Voxels::U8(decode(path, &h, payload)?),
        VoxelKind::I8 => Voxels::I8(decode(path, &h, payload)?),
        VoxelKind::U16 => Voxels::U16(decode(path, &h, payload)?),
        VoxelKind::I16 => Voxels::I16(decode(path, &h, payload)?),
        VoxelKind::U32 => Voxels::U32(decode(path, &h, payload)?),
        VoxelKind::I32 => Voxels::I32(decode(path, &h, payload)?),
        VoxelKind::F32 => Voxels::F32(decode(path, &h, payload)?),
        VoxelKind::F64 => Voxels::F64(decode(path, &h, payload)?),
    };
    Ok(RawVolume {
        path: path.to_path_buf(),
        geometry: h.geometry,
        voxels,
    })
}

/// A sibling temporary name for `path` (`.<name>.partial`), renamed onto `path` once complete.
fn fmt_vec(v: [f64; 3]) -> String {
    format!("({},{},{})", v[0], v[1], v[2])
}

/// Writes `volume` as an attached NRRD: `space: left-posterior-superior`, the geometry's
/// `space directions`/`space origin` as given, little-endian, `raw` or `gzip` (level 6)
/// payload. The file is written under a temporary name and renamed when complete.
pub fn write_nrrd<T: NrrdType>(path: &Path, volume: &Volume<T>, gzip: bool) -> Result<()> {
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
    let header = format!(
        "NRRD0004\n# written by twinscan-data\ntype: {}\ndimension: 3\nspace: left-posterior-superior\n\
         sizes: {} {} {}\nspace directions: {} {} {}\nkinds: domain domain domain\n\
         endian: little\nencoding: {}\nspace origin: {}\n\n",
        type_name(T::KIND),
        g.dims[0],
        g.dims[1],
        g.dims[2],
        fmt_vec(g.directions[0]),
        fmt_vec(g.directions[1]),
        fmt_vec(g.directions[2]),
        if gzip { "gzip" } else { "raw" },
        fmt_vec(g.origin),
    );
    let tmp = crate::atomic::TempFile::new(path)?;
    let write = || -> std::io::Result<()> {
        let file = fs::File::create(tmp.path())?;
        let mut w = std::io::BufWriter::new(file);
        w.write_all(header.as_bytes())?;
        let le: std::borrow::Cow<[u8]> = if cfg!(target_endian = "little") {
            std::borrow::Cow::Borrowed(bytemuck::cast_slice(&volume.data))
        } else {
            let size = std::mem::size_of::<T>();
            let mut b = bytemuck::cast_slice::<T, u8>(&volume.data).to_vec();
            for c in b.chunks_exact_mut(size) {
                c.reverse();
            }
            std::borrow::Cow::Owned(b)
        };
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(w, flate2::Compression::new(6));
            enc.write_all(&le)?;
            enc.finish()?.flush()?;
        } else {
            w.write_all(&le)?;
            w.flush()?;
        }
        Ok(())
    };
    write().map_err(|e| DataError::io(path, e))?; // on error, dropping `tmp` removes it
    Ok(tmp.persist()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn geom(dims: [usize; 3]) -> Geometry {
        Geometry {
            dims,
            origin: [-10.5, 20.25, 3.0],
            directions: [[0.5, 0.0, 0.0], [0.0, 0.75, 0.0], [0.0, 0.0, 2.5]],
        }
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn file_with(dir: &Path, name: &str, header: &str, payload: &[u8]) -> PathBuf {
        let p = dir.join(name);
        let mut b = header.as_bytes().to_vec();
        b.extend_from_slice(payload);
        fs::write(&p, b).unwrap();
        p
    }

    #[test]
    fn big_endian_ras_short_by_hand() {
        // 2x1x2 "signed short" big-endian, RAS: values -2, 300, 7, -1024, bytes written by hand.
        let dir = tempfile::tempdir().unwrap();
        let payload = [0xFF, 0xFE, 0x01, 0x2C, 0x00, 0x07, 0xFC, 0x00];
        let header = "NRRD0004\n# comment\ntype: signed short\ndimension: 3\n\
                      space: right-anterior-superior\nsizes: 2 1 2\n\
                      space directions: (-0.5,0,0) (0,2,0) (0,0,3)\nkinds: domain domain domain\n\
                      endian: big\nencoding: raw\nspace origin: (10,-20,5)\nmy key:=my: value\n\n";
        let p = file_with(dir.path(), "be.nrrd", header, &payload);
        let v = read_nrrd(&p).unwrap();
        assert_eq!(v.voxels, Voxels::I16(vec![-2, 300, 7, -1024]));
        // RAS -> LPS: x and y negated.
        assert_eq!(v.geometry.origin, [-10.0, 20.0, 5.0]);
        assert_eq!(
            v.geometry.directions,
            [[0.5, 0.0, 0.0], [0.0, -2.0, 0.0], [0.0, 0.0, 3.0]]
        );
        assert_eq!(v.geometry.dims, [2, 1, 2]);
    }

    #[test]
    fn gzip_pynrrd_style_uint8() {
        let dir = tempfile::tempdir().unwrap();
        let vals: Vec<u8> = (0..24).map(|i| (i * 7 % 5) as u8).collect();
        let header = "NRRD0005\n# This NRRD file was generated by pynrrd\ntype: uint8\ndimension: 3\n\
                      space: left-posterior-superior\nsizes: 2 3 4\n\
                      space directions: (0.9765625,0,0) (0,0.9765625,0) (0,0,2.5)\n\
                      kinds: domain domain domain\nencoding: gzip\nspace origin: (-255,-180,154)\n\
                      canonical_class_id:=3\n\n";
        let p = file_with(dir.path(), "m.nrrd", header, &gz(&vals));
        let v = read_nrrd(&p).unwrap();
        assert_eq!(v.geometry.origin, [-255.0, -180.0, 154.0]);
        assert_eq!(v.geometry.spacing(2), 2.5);
        let m = v.into_mask();
        let expect: Vec<u8> = vals.iter().map(|&x| (x != 0) as u8).collect();
        assert_eq!(m.data, expect);
    }

    #[test]
    fn type_spellings() {
        for (s, k) in [
            ("uchar", VoxelKind::U8),
            ("unsigned char", VoxelKind::U8),
            ("uint8_t", VoxelKind::U8),
            ("signed char", VoxelKind::I8),
            ("short", VoxelKind::I16),
            ("signed short", VoxelKind::I16),
            ("short int", VoxelKind::I16),
            ("int16", VoxelKind::I16),
            ("ushort", VoxelKind::U16),
            ("unsigned short int", VoxelKind::U16),
            ("int", VoxelKind::I32),
            ("signed int", VoxelKind::I32),
            ("uint32_t", VoxelKind::U32),
            ("float", VoxelKind::F32),
            ("double", VoxelKind::F64),
        ] {
            assert_eq!(parse_type(s), Some(Ok(k)), "{s}");
        }
        assert!(matches!(parse_type("int64"), Some(Err(_))));
        assert_eq!(parse_type("quad"), None);
    }

    fn roundtrip<T: NrrdType + std::fmt::Debug + PartialEq>(vals: Vec<T>) {
        let dir = tempfile::tempdir().unwrap();
        let v = Volume {
            geometry: geom([3, 2, 2]),
            data: vals,
        };
        for gzip in [false, true] {
            let p = dir.path().join(format!("v{gzip}.nrrd"));
            write_nrrd(&p, &v, gzip).unwrap();
            let r = read_nrrd(&p).unwrap();
            assert_eq!(r.geometry, v.geometry);
            assert_eq!(r.voxels, T::wrap(v.data.clone()));
            let left: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(left.is_empty(), "temporary files left: {left:?}");
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

    #[test]
    fn written_header_is_readable_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.nrrd");
        let v = Volume {
            geometry: geom([1, 1, 1]),
            data: vec![5i16],
        };
        write_nrrd(&p, &v, false).unwrap();
        let b = fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("type: int16\n"));
        assert!(text.contains("space directions: (0.5,0,0) (0,0.75,0) (0,0,2.5)\n"));
        assert!(text.contains("space origin: (-10.5,20.25,3)\n"));
        // Little-endian 5 at the very end.
        assert_eq!(&b[b.len() - 2..], &[5, 0]);
    }

    const H8: &str = "NRRD0004\ntype: uint8\ndimension: 3\nspace: LPS\nsizes: 4 4 4\n\
                      space directions: (1,0,0) (0,1,0) (0,0,1)\nencoding: gzip\n\n";

    fn err_text(r: Result<RawVolume>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn truncated_gzip_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let vals: Vec<u8> = (0..64).map(|i| (i * 37 % 251) as u8).collect();
        let z = gz(&vals);
        let p = file_with(dir.path(), "trunc.nrrd", H8, &z[..z.len() / 2]);
        let e = err_text(read_nrrd(&p));
        assert!(
            e.contains("trunc.nrrd") && e.contains("truncated or corrupt gzip"),
            "{e}"
        );
        // Trailer cut off (CRC missing) is caught too.
        let p = file_with(dir.path(), "trailer.nrrd", H8, &z[..z.len() - 4]);
        let e = err_text(read_nrrd(&p));
        assert!(e.contains("trailer.nrrd") && e.contains("gzip"), "{e}");
    }

    #[test]
    fn multi_member_gzip_and_crc_check() {
        let dir = tempfile::tempdir().unwrap();
        let vals: Vec<u8> = (0..64).map(|i| (i * 37 % 251) as u8).collect();
        // Two gzip members (as `cat a.gz b.gz`) and trailing padding: accepted.
        let mut z = gz(&vals[..20]);
        z.extend(gz(&vals[20..]));
        z.extend([0u8, 0, b'\n']);
        let p = file_with(dir.path(), "multi.nrrd", H8, &z);
        assert_eq!(read_nrrd(&p).unwrap().voxels, Voxels::U8(vals.clone()));
        // A corrupted CRC trailer is caught.
        let mut z = gz(&vals);
        let n = z.len();
        z[n - 8] ^= 0xFF;
        let p = file_with(dir.path(), "crc.nrrd", H8, &z);
        let e = err_text(read_nrrd(&p));
        assert!(e.contains("crc.nrrd") && e.contains("CRC"), "{e}");
    }

    #[test]
    fn payload_size_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_with(dir.path(), "short.nrrd", H8, &gz(&[1u8; 63]));
        let e = err_text(read_nrrd(&p));
        assert!(
            e.contains("short.nrrd") && e.contains("size mismatch"),
            "{e}"
        );
        let p = file_with(dir.path(), "long.nrrd", H8, &gz(&[1u8; 65]));
        let e = err_text(read_nrrd(&p));
        assert!(
            e.contains("long.nrrd") && e.contains("size mismatch"),
            "{e}"
        );
        let raw = H8.replace("gzip", "raw");
        let p = file_with(dir.path(), "raw.nrrd", &raw, &[0u8; 60]);
        let e = err_text(read_nrrd(&p));
        assert!(e.contains("raw.nrrd") && e.contains("60"), "{e}");
    }

    #[test]
    fn missing_and_unsupported_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_with(
            dir.path(),
            "nosizes.nrrd",
            &H8.replace("sizes: 4 4 4\n", ""),
            &[],
        );
        let e = err_text(read_nrrd(&p));
        assert!(e.contains("nosizes.nrrd") && e.contains("\"sizes\""), "{e}");
        let p = file_with(
            dir.path(),
            "nospace.nrrd",
            &H8.replace("space: LPS\n", ""),
            &[],
        );
        let e = err_text(read_nrrd(&p));
        assert!(e.contains("\"space\""), "{e}");
        let p = file_with(
            dir.path(),
            "endian.nrrd",
            &H8.replace("uint8", "int16"),
            &[],
        );
        assert!(err_text(read_nrrd(&p)).contains("endian"));
        let four = "NRRD0004\ntype: uint8\ndimension: 4\nsizes: 1 1 1 1\nencoding: raw\n\n";
        let p = file_with(dir.path(), "4d.nrrd", four, &[0]);
        let r = read_nrrd(&p);
        assert!(matches!(r, Err(DataError::Unsupported { .. })), "{r:?}");
        let p = file_with(
            dir.path(),
            "det.nhdr",
            &H8.replace("encoding: gzip\n", "encoding: raw\ndata file: x.raw\n"),
            &[],
        );
        let r = read_nrrd(&p);
        assert!(matches!(r, Err(DataError::Unsupported { .. })), "{r:?}");
        let p = file_with(dir.path(), "bz.nrrd", &H8.replace("gzip", "bzip2"), &[]);
        assert!(matches!(read_nrrd(&p), Err(DataError::Unsupported { .. })));
        let p = file_with(dir.path(), "junk.nrrd", "hello\n\n", &[]);
        assert!(err_text(read_nrrd(&p)).contains("not an NRRD"));
        let p = dir.path().join("absent.nrrd");
        assert!(matches!(read_nrrd(&p), Err(DataError::Io { .. })));
    }

    #[test]
    fn nan_detected_on_conversion() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nan.nrrd");
        let mut data = vec![1.0f32; 12];
        data[3] = f32::NAN;
        data[7] = f32::INFINITY;
        write_nrrd(
            &p,
            &Volume {
                geometry: geom([3, 2, 2]),
                data,
            },
            true,
        )
        .unwrap();
        match read_nrrd(&p).unwrap().into_f32_finite() {
            Err(DataError::NonFinite { path, count }) => {
                assert_eq!(count, 2);
                assert_eq!(path, p);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn labels_from_floats() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lab.nrrd");
        let v = Volume {
            geometry: geom([2, 1, 1]),
            data: vec![3.0f32, 17.0],
        };
        write_nrrd(&p, &v, false).unwrap();
        assert_eq!(
            read_nrrd(&p).unwrap().into_labels().unwrap().data,
            vec![3, 17]
        );
        let v = Volume {
            geometry: geom([2, 1, 1]),
            data: vec![3.0f32, 1.5],
        };
        write_nrrd(&p, &v, false).unwrap();
        let e = read_nrrd(&p)
            .unwrap()
            .into_labels()
            .unwrap_err()
            .to_string();
        assert!(e.contains("lab.nrrd") && e.contains("1.5"), "{e}");
    }
}
