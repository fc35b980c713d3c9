//! Pixel kernels on single planes (the hot loops). All follow OpenCV's conventions as given in
//! the pixel conventions of docs/augment.md (OpenCV's): pixel centres at integer coordinates, REFLECT_101 for filters,
//! half-pixel-centred two-tap INTER_LINEAR for resizing, constant border for warps.
//!
//! One file per family (anchors: kornia-imgproc's `interpolation/`, `filter/`, `warp/`):
//! `border` (extrapolation), `resize` (INTER_LINEAR taps and the planned resample), `filter`
//! (box, separable, 3×3), `warp` (affine, remap) and `simd` (AVX2 multiversioning and the
//! register-blocked loops); every public item is re-exported here, so paths are
//! `kernels::name` whatever the file.

#[macro_use]
mod simd;
mod border;
mod filter;
mod resize;
#[cfg(test)]
mod tests;
mod warp;

pub use border::{pad_reflect101, reflect, reflect101};
pub use filter::{box_blur, filter3x3_sharpen, gaussian_kernel, sep_filter};
pub use resize::{ResampleScratch, Tap, linear_taps, resample, resample_with};
pub use warp::{
    affine_from_points, floor_coord, invert_affine, remap_displacement, warp_affine,
    warp_affine_with,
};

use crate::plane::Plane;

/// Sets the rectangle rows `[y1, y2)` × columns `[x1, x2)` to `fill` (clipped to the plane).
pub fn fill_rect(p: &mut Plane, y1: usize, y2: usize, x1: usize, x2: usize, fill: f32) {
    let (y2, x2) = (y2.min(p.h), x2.min(p.w));
    if x1 >= x2 {
        return;
    }
    for y in y1..y2 {
        p.data[y * p.w + x1..y * p.w + x2].fill(fill);
    }
}

/// Mean of the plane, accumulated in f64 over eight interleaved partial sums.
pub fn mean(p: &Plane) -> f64 {
    if p.data.is_empty() {
        return 0.0;
    }
    let mut acc = [0f64; 8];
    let chunks = p.data.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(|&v| v as f64).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v as f64;
        }
    }
    (acc.iter().sum::<f64>() + rest) / p.data.len() as f64
}
