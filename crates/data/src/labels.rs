//! Tri-state slice labels, exactly as the study defines them (docs/data.md, Labels).
//!
//! For a slice `k` of a scan and a structure `s`:
//! * `1`: the structure's mask has at least one voxel on slice `k`
//!   ([`LabelRule::Exact`], the default), or `k` lies within the z-extent of the mask's
//!   bounding box ([`LabelRule::BoundingBox`], the original study's rule);
//! * `-1`: otherwise, when the structure is delineated in the scan (elsewhere, or
//!   delineated and empty everywhere);
//! * `0`: the structure is not delineated for this scan at all (no mask file, no ROI).
//!
//! ```
//! use twinscan_data::labels::{slice_labels, LabelRule};
//! let counts = [0u64, 3, 0, 2, 0];
//! assert_eq!(slice_labels(Some(&counts), 5, LabelRule::Exact), vec![-1, 1, -1, 1, -1]);
//! assert_eq!(slice_labels(Some(&counts), 5, LabelRule::BoundingBox), vec![-1, 1, 1, 1, -1]);
//! assert_eq!(slice_labels(Some(&[0, 0, 0]), 3, LabelRule::Exact), vec![-1, -1, -1]);
//! assert_eq!(slice_labels(None, 3, LabelRule::Exact), vec![0, 0, 0]);
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::volume::Mask;

/// How a delineated structure's mask turns into `1` / `-1` per slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LabelRule {
    /// `1` exactly on the slices where the mask has a voxel.
    #[default]
    Exact,
    /// `1` on every slice between the first and last slice with a voxel (the study's
    /// bounding-box z-extent), gaps included.
    #[serde(rename = "bbox")]
    BoundingBox,
}

impl std::str::FromStr for LabelRule {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "exact" => Ok(Self::Exact),
            "bbox" | "bounding-box" => Ok(Self::BoundingBox),
            _ => Err(DataError::InvalidConfig {
                field: "label_rule",
                detail: format!("{s:?}: expected `exact` or `bbox`"),
            }),
        }
    }
}

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HI: u64 = 0x8080_8080_8080_8080;

/// Number of non-zero bytes in `s`. Works on 64-byte blocks of eight `u64` words: an
/// all-zero block (most of a mask) is skipped after one OR; otherwise each word's non-zero
/// bytes are counted with `popcount(((w & 0x7f..) + 0x7f..) | w) & 0x80..)`.
pub fn count_nonzero(s: &[u8]) -> u64 {
    let mut total = 0u64;
    let mut it = s.chunks_exact(64);
    for c in &mut it {
        let w: [u64; 8] = std::array::from_fn(|i| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&c[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        });
        if w.iter().fold(0, |a, &x| a | x) == 0 {
            continue;
        }
        total += w
            .iter()
            .map(|&x| ((((x & LO7) + LO7) | x) & HI).count_ones() as u64)
            .sum::<u64>();
    }
    total + it.remainder().iter().filter(|&&b| b != 0).count() as u64
}

/// Number of non-zero voxels on each slice along axis 2 of a mask (a canonical mask: slice
/// `k` = axial slice `k`, inferior to superior). Length `dims[2]`.
pub fn slice_pixel_counts(mask: &Mask) -> Vec<u64> {
    let plane = mask.geometry.dims[0] * mask.geometry.dims[1];
    if plane == 0 {
        return vec![0; mask.geometry.dims[2]];
    }
    mask.data.chunks_exact(plane).map(count_nonzero).collect()
}

/// Per-slice non-zero voxel counts of a mask in **canonical** slice order (inferior →
/// superior), without reorienting the mask: the voxel axis that runs along patient z
/// ([`Geometry::axis_codes`](crate::Geometry::axis_codes), the same assignment
/// [`Volume::to_canonical`](crate::Volume::to_canonical) uses) is summed over, reversed when
/// it runs superior → inferior. Equal to `slice_pixel_counts(&mask.to_canonical())`.
pub fn canonical_slice_counts(mask: &Mask) -> Vec<u64> {
    let g = &mask.geometry;
    let codes = g.axis_codes();
    let (axis, sign) = (0..3)
        .find(|&a| codes[a].0 == 2)
        .map(|a| (a, codes[a].1))
        .unwrap_or((2, 1.0));
    let [d0, d1, d2] = g.dims;
    let mut counts = vec![0u64; g.dims[axis]];
    match axis {
        2 => counts = slice_pixel_counts(mask),
        1 => {
            for k in 0..d2 {
                let plane = &mask.data[k * d1 * d0..(k + 1) * d1 * d0];
                for (c, row) in counts.iter_mut().zip(plane.chunks_exact(d0)) {
                    *c += count_nonzero(row);
                }
            }
        }
        _ => {
            for row in mask.data.chunks_exact(d0.max(1)) {
                for (i, &v) in row.iter().enumerate() {
                    if v != 0 {
                        counts[i] += 1;
                    }
                }
            }
        }
    }
    if sign < 0.0 {
        counts.reverse();
    }
    counts
}

/// Labels of one structure on `n_slices` slices. `counts` holds the structure's per-slice
/// voxel counts when it is delineated in the scan (all zeros = delineated but empty), `None`
/// when it is not delineated at all. `counts.len()` must equal `n_slices`.
pub fn slice_labels(counts: Option<&[u64]>, n_slices: usize, rule: LabelRule) -> Vec<i8> {
    let Some(counts) = counts else {
        return vec![0; n_slices];
    };
    assert_eq!(counts.len(), n_slices, "one count per slice");
    match rule {
        LabelRule::Exact => counts.iter().map(|&c| if c > 0 { 1 } else { -1 }).collect(),
        LabelRule::BoundingBox => {
            let first = counts.iter().position(|&c| c > 0);
            let last = counts.iter().rposition(|&c| c > 0);
            match (first, last) {
                (Some(a), Some(b)) => (0..n_slices)
                    .map(|k| if (a..=b).contains(&k) { 1 } else { -1 })
                    .collect(),
                _ => vec![-1; n_slices],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Geometry, Volume};

    #[test]
    fn counts_per_axial_slice() {
        // 2x2x3 mask: slice 0 empty, slice 1 one voxel, slice 2 all four.
        let g = Geometry {
            dims: [2, 2, 3],
            origin: [0.0; 3],
            directions: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.5]],
        };
        let m = Volume {
            geometry: g,
            data: vec![0u8, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1],
        };
        assert_eq!(slice_pixel_counts(&m), vec![0, 1, 4]);
    }

    #[test]
    fn count_nonzero_matches_naive() {
        let mut x = 12345u64;
        let data: Vec<u8> = (0..100_003)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if (x >> 60) < 3 {
                    (x >> 52) as u8 | 1
                } else {
                    0
                }
            })
            .collect();
        let naive = data.iter().filter(|&&b| b != 0).count() as u64;
        assert_eq!(count_nonzero(&data), naive);
        assert_eq!(count_nonzero(&[]), 0);
        assert_eq!(count_nonzero(&[255; 9000]), 9000);
    }

    #[test]
    fn canonical_counts_equal_counts_of_the_canonical_mask() {
        // Axial axis stored as axis 1 running superior -> inferior, axis 0 flipped.
        let g = Geometry {
            dims: [3, 4, 5],
            origin: [0.0, 0.0, 30.0],
            directions: [[-1.0, 0.0, 0.0], [0.0, 0.0, -2.5], [0.0, 1.0, 0.0]],
        };
        let data: Vec<u8> = (0..60).map(|v| ((v * 7) % 5 == 0) as u8).collect();
        let m = Volume { geometry: g, data };
        let want = slice_pixel_counts(&m.to_canonical());
        assert_eq!(want.len(), 4);
        assert_eq!(canonical_slice_counts(&m), want);
        // Axial axis 0.
        let g0 = Geometry {
            dims: [4, 3, 5],
            origin: [0.0; 3],
            directions: [[0.0, 0.0, 3.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        };
        let m0 = Volume {
            geometry: g0,
            data: m.data.clone(),
        };
        assert_eq!(
            canonical_slice_counts(&m0),
            slice_pixel_counts(&m0.to_canonical())
        );
    }

    #[test]
    fn bbox_rule_fills_gaps_and_empty_is_negative() {
        let c = [0u64, 0, 5, 0, 0, 7, 0];
        assert_eq!(
            slice_labels(Some(&c), 7, LabelRule::BoundingBox),
            vec![-1, -1, 1, 1, 1, 1, -1]
        );
        assert_eq!(
            slice_labels(Some(&c), 7, LabelRule::Exact),
            vec![-1, -1, 1, -1, -1, 1, -1]
        );
        assert_eq!(
            slice_labels(Some(&[0; 4]), 4, LabelRule::BoundingBox),
            vec![-1; 4]
        );
    }
}
