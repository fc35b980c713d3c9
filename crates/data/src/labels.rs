//! Tri-state slice labels, exactly as the study defines them (study.md §1).
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
use crate::volume::Volume;

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
            _ => Err(DataError::InvalidArgument {
                name: "--label-rule".into(),
                detail: format!("{s:?}: expected `exact` or `bbox`"),
            }),
        }
    }
}

/// Number of non-zero voxels on each slice along axis 2 of a mask (a canonical mask: slice
/// `k` = axial slice `k`, inferior to superior). Length `dims[2]`.
pub fn slice_pixel_counts<T: Copy + Default + PartialEq>(mask: &Volume<T>) -> Vec<u64> {
    let plane = mask.geometry.dims[0] * mask.geometry.dims[1];
    let zero = T::default();
    if plane == 0 {
        return vec![0; mask.geometry.dims[2]];
    }
    mask.data
        .chunks_exact(plane)
        .map(|s| s.iter().filter(|&&v| v != zero).count() as u64)
        .collect()
}

/// Per-slice non-zero voxel counts of a mask in **canonical** slice order (inferior →
/// superior), without reorienting the mask: the voxel axis that runs along patient z
/// ([`Geometry::axis_codes`](crate::Geometry::axis_codes), the same assignment
/// [`Volume::to_canonical`] uses) is summed over, reversed when it runs superior → inferior.
/// Equal to `slice_pixel_counts(&mask.to_canonical())`.
pub fn canonical_slice_counts<T: Copy + Default + PartialEq>(mask: &Volume<T>) -> Vec<u64> {
    let g = &mask.geometry;
    let codes = g.axis_codes();
    let (axis, sign) = (0..3)
        .find(|&a| codes[a].0 == 2)
        .map(|a| (a, codes[a].1))
        .unwrap_or((2, 1.0));
    let [d0, d1, d2] = g.dims;
    let zero = T::default();
    let mut counts = vec![0u64; g.dims[axis]];
    match axis {
        2 => counts = slice_pixel_counts(mask),
        1 => {
            for k in 0..d2 {
                let plane = &mask.data[k * d1 * d0..(k + 1) * d1 * d0];
                for (c, row) in counts.iter_mut().zip(plane.chunks_exact(d0)) {
                    *c += row.iter().filter(|&&v| v != zero).count() as u64;
                }
            }
        }
        _ => {
            for row in mask.data.chunks_exact(d0.max(1)) {
                for (i, &v) in row.iter().enumerate() {
                    if v != zero {
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
    use crate::volume::Geometry;

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
