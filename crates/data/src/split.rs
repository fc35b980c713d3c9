//! Patient-level train / validation / test split.
//!
//! Every patient gets a key `splitmix64(fnv1a64(seed as 8 LE bytes ++ patient id bytes))`.
//! Patients are sorted by key (ties by id), and the sorted list is cut into three parts whose
//! sizes are the fractions times the number of patients, rounded by largest remainder (a
//! part with a non-zero fraction gets at least one patient when there are enough patients).
//! The split depends only on the set of patient ids, the fractions and the seed: not on scan
//! order, thread count or run. All scans of one patient land on the same side.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// One side of the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training patients.
    Train,
    /// Validation patients.
    Val,
    /// Held-out test patients.
    Test,
}

impl Split {
    /// `train`, `val` or `test` (the `split` column of `labels.csv`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }

    /// All three, in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];
}

impl std::str::FromStr for Split {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "val" => Ok(Split::Val),
            "test" => Ok(Split::Test),
            _ => Err(DataError::InvalidConfig {
                field: "split",
                detail: format!("{s:?}: expected train, val or test"),
            }),
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Train / validation / test fractions (non-negative, summing to 1 within 1e-6).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitFractions {
    /// Fraction of patients for training.
    pub train: f64,
    /// Fraction for validation.
    pub val: f64,
    /// Fraction for the held-out test set.
    pub test: f64,
}

impl Default for SplitFractions {
    /// 0.7 : 0.15 : 0.15.
    fn default() -> Self {
        SplitFractions {
            train: 0.7,
            val: 0.15,
            test: 0.15,
        }
    }
}

impl std::str::FromStr for SplitFractions {
    type Err = DataError;
    /// Parses `TRAIN:VAL:TEST`, e.g. `0.7:0.15:0.15`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = |detail: String| DataError::InvalidConfig {
            field: "split",
            detail: format!("{s:?}: {detail}"),
        };
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 3 {
            return Err(bad("expected TRAIN:VAL:TEST, e.g. 0.7:0.15:0.15".into()));
        }
        let mut v = [0f64; 3];
        for (x, p) in v.iter_mut().zip(&parts) {
            *x = p
                .trim()
                .parse()
                .map_err(|_| bad(format!("{p:?} is not a number")))?;
            if !x.is_finite() || *x < 0.0 {
                return Err(bad(format!("{p:?} is not a fraction >= 0")));
            }
        }
        let sum: f64 = v.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(bad(format!("fractions sum to {sum}, not 1")));
        }
        Ok(SplitFractions {
            train: v[0],
            val: v[1],
            test: v[2],
        })
    }
}

/// FNV-1a, 64-bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The splitmix64 finaliser (a bijective mix of all 64 bits).
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The sort key of a patient for a seed.
pub fn patient_key(patient: &str, seed: u64) -> u64 {
    let mut bytes = seed.to_le_bytes().to_vec();
    bytes.extend_from_slice(patient.as_bytes());
    splitmix64(fnv1a64(&bytes))
}

/// Number of patients per part (train, val, test) for `n` patients: largest remainder
/// rounding, then every part with a non-zero fraction gets at least one patient when
/// `n` allows (taken from the largest part).
pub fn part_sizes(n: usize, f: SplitFractions) -> [usize; 3] {
    let fr = [f.train, f.val, f.test];
    let exact: Vec<f64> = fr.iter().map(|x| x * n as f64).collect();
    let mut sizes: [usize; 3] = [0, 1, 2].map(|i| exact[i].floor() as usize);
    let mut left = n - sizes.iter().sum::<usize>().min(n);
    let mut order = [0usize, 1, 2];
    // Largest remainder first; ties go to the earlier part.
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.partial_cmp(&ra)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        if fr[i] > 0.0 {
            sizes[i] += 1;
            left -= 1;
        }
    }
    for i in 0..3 {
        if fr[i] > 0.0 && sizes[i] == 0 {
            let largest = (0..3).max_by_key(|&j| sizes[j]).unwrap_or(0);
            if sizes[largest] > 1 {
                sizes[largest] -= 1;
                sizes[i] += 1;
            }
        }
    }
    sizes
}

/// Assigns every patient to a side. Input order and duplicates do not matter.
///
/// ```
/// use twinscan_data::split::{assign_patients, Split, SplitFractions};
/// let ids = ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10"];
/// let a = assign_patients(ids.iter().copied(), SplitFractions::default(), 7);
/// assert_eq!(a.values().filter(|s| **s == Split::Train).count(), 7);
/// let mut rev = ids.to_vec();
/// rev.reverse();
/// assert_eq!(a, assign_patients(rev.into_iter(), SplitFractions::default(), 7));
/// ```
pub fn assign_patients<'a>(
    patients: impl IntoIterator<Item = &'a str>,
    fractions: SplitFractions,
    seed: u64,
) -> BTreeMap<String, Split> {
    let unique: BTreeSet<&str> = patients.into_iter().collect();
    let mut keyed: Vec<(u64, &str)> = unique.iter().map(|p| (patient_key(p, seed), *p)).collect();
    keyed.sort();
    let sizes = part_sizes(keyed.len(), fractions);
    let mut out = BTreeMap::new();
    for (idx, (_, p)) in keyed.iter().enumerate() {
        let side = if idx < sizes[0] {
            Split::Train
        } else if idx < sizes[0] + sizes[1] {
            Split::Val
        } else {
            Split::Test
        };
        out.insert(p.to_string(), side);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_vectors() {
        // Published FNV-1a 64 test vectors (Fowler/Noll/Vo reference code).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn splitmix_reference() {
        // splitmix64 with state 0: first output of the reference generator (Vigna).
        assert_eq!(splitmix64(0), 0xe220a8397b1dcdaf);
    }

    #[test]
    fn sizes() {
        let f = SplitFractions::default();
        assert_eq!(part_sizes(10, f), [7, 2, 1]);
        assert_eq!(part_sizes(20, f), [14, 3, 3]);
        assert_eq!(part_sizes(3, f), [1, 1, 1]);
        assert_eq!(part_sizes(0, f), [0, 0, 0]);
        let only_train: SplitFractions = "1:0:0".parse().unwrap();
        assert_eq!(part_sizes(5, only_train), [5, 0, 0]);
        assert!("0.5:0.5".parse::<SplitFractions>().is_err());
        assert!("0.5:0.6:0.1".parse::<SplitFractions>().is_err());
    }
}
