//! The workspace's one PNG reader and writer (grey images, 8 or 16 bit), on the `png` crate:
//! `prepare` writes its slices with [`write_png_gray`], `augment_preview` reads inputs with
//! [`read_png_gray`] and writes its grid through the same writer.

use std::io::Cursor;
use std::path::Path;

use crate::error::{DataError, Result};

/// Writes a grey PNG: `height × width` 8-bit values (`bit_depth == 8`) or 16-bit values
/// (`bit_depth == 16`, given in `data16`). Fast compression (the images are small).
pub fn write_png_gray(
    path: &Path,
    width: usize,
    height: usize,
    image: PngPixels<'_>,
) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    let w = std::io::BufWriter::new(file);
    let mut enc = png::Encoder::new(w, width as u32, height as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_compression(png::Compression::Fast);
    let to_err = |e: png::EncodingError| DataError::format(path, format!("PNG encoding: {e}"));
    match image {
        PngPixels::Eight(px) => {
            assert_eq!(px.len(), width * height);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().map_err(to_err)?;
            wr.write_image_data(px).map_err(to_err)?;
            wr.finish().map_err(to_err)?;
        }
        PngPixels::Sixteen(px) => {
            assert_eq!(px.len(), width * height);
            enc.set_depth(png::BitDepth::Sixteen);
            let bytes: Vec<u8> = px.iter().flat_map(|v| v.to_be_bytes()).collect();
            let mut wr = enc.write_header().map_err(to_err)?;
            wr.write_image_data(&bytes).map_err(to_err)?;
            wr.finish().map_err(to_err)?;
        }
    }
    Ok(())
}

/// Pixels for [`write_png_gray`].
#[derive(Debug, Clone, Copy)]
pub enum PngPixels<'a> {
    /// 8-bit grey values.
    Eight(&'a [u8]),
    /// 16-bit grey values (written big-endian as PNG requires).
    Sixteen(&'a [u16]),
}

/// A decoded grey image, values in [0, 1], row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `height × width` values in [0, 1] (8-bit / 255, 16-bit / 65535).
    pub values: Vec<f32>,
}

/// Decodes a PNG into grey values in [0, 1]: grey (± alpha) as is, RGB(A) with BT.601
/// weights (0.299, 0.587, 0.114), palettes expanded. Reads at most the file's size into
/// memory and decodes one frame.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::Format`] naming the file for
/// anything that is not a decodable PNG.
pub fn read_png_gray(path: &Path) -> Result<GrayImage> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let bad = |what: String| DataError::format(path, what);
    let mut dec = png::Decoder::new(Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec
        .read_info()
        .map_err(|e| bad(format!("not a valid PNG: {e}")))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("PNG too large".into()))?;
    let mut buf = vec![0u8; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(format!("truncated or corrupt PNG: {e}")))?;
    let (width, height) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let wide = info.bit_depth == png::BitDepth::Sixteen;
    let sample = |i: usize| -> f32 {
        if wide {
            u16::from_be_bytes([buf[2 * i], buf[2 * i + 1]]) as f32 / 65535.0
        } else {
            buf[i] as f32 / 255.0
        }
    };
    let values = (0..width * height)
        .map(|p| match channels {
            1 | 2 => sample(p * channels),
            _ => {
                let b = p * channels;
                0.299 * sample(b) + 0.587 * sample(b + 1) + 0.114 * sample(b + 2)
            }
        })
        .collect();
    Ok(GrayImage {
        height,
        width,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_and_sixteen_bit_round_trip_and_bad_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p8 = dir.path().join("a.png");
        write_png_gray(&p8, 3, 2, PngPixels::Eight(&[0, 51, 255, 102, 204, 153])).unwrap();
        let g = read_png_gray(&p8).unwrap();
        assert_eq!((g.height, g.width), (2, 3));
        assert_eq!(g.values[1], 0.2);
        let p16 = dir.path().join("b.png");
        write_png_gray(&p16, 2, 1, PngPixels::Sixteen(&[0, 65535])).unwrap();
        assert_eq!(read_png_gray(&p16).unwrap().values, vec![0.0, 1.0]);
        let junk = dir.path().join("junk.png");
        std::fs::write(&junk, b"not a png").unwrap();
        let e = read_png_gray(&junk).unwrap_err().to_string();
        assert!(
            e.contains("junk.png") && e.contains("not a valid PNG"),
            "{e}"
        );
    }
}
