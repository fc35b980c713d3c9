//! Multi-label maps: one integer volume (NIfTI or NRRD, read with
//! [`crate::read_volume`] + [`crate::RawVolume::into_labels`]) plus a label table CSV
//! `value,name`, as an alternative to one mask file per structure.
//!
//! **Convention.** A structure listed in the table but absent from the map (no voxel with its
//! value) was delineated and found empty: it gets an all-zero mask, i.e. label −1 on every
//! slice, not "unknown". Values in the map that the table does not list are ignored
//! (0 is the usual background and need not be listed).
//!
//! ```
//! use twinscan_data::labelmap::split_label_map;
//! use twinscan_data::{Geometry, Volume};
//! let g = Geometry { dims: [4, 1, 1], origin: [0.0; 3],
//!     directions: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]] };
//! let map = Volume { geometry: g, data: vec![0, 2, 2, 5] };
//! let table = vec![(2, "Brainstem".to_string()), (7, "Lens_L".to_string())];
//! let masks = split_label_map(&map, &table);
//! assert_eq!(masks[0].1.data, vec![0, 1, 1, 0]);
//! assert_eq!(masks[1].1.data, vec![0, 0, 0, 0]); // listed, absent: delineated and empty
//! ```

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{DataError, Result};
use crate::volume::{Mask, Volume};

/// Reads a label table: CSV rows `value,name` (integer label value, structure name), an
/// optional header row (a first row whose value is not an integer), surrounding whitespace
/// trimmed, blank lines skipped. Errors ([`DataError::Csv`], with the line): a row without
/// two fields, a non-integer value after the first row, an empty name, a value or name
/// listed twice, or no rows at all.
pub fn read_label_table(csv: &Path) -> Result<Vec<(i32, String)>> {
    let file = std::fs::File::open(csv).map_err(|e| DataError::io(csv, e))?;
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(file);
    let err = |line: u64, detail: String| DataError::Csv {
        path: csv.to_path_buf(),
        line,
        detail,
    };
    let mut out: Vec<(i32, String)> = Vec::new();
    let mut values = HashSet::new();
    let mut names = HashSet::new();
    for (row, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            err(line, e.to_string())
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(row as u64 + 1);
        if rec.iter().all(|f| f.is_empty()) {
            continue;
        }
        if rec.len() != 2 {
            return Err(err(
                line,
                format!("expected 2 fields `value,name`, found {}", rec.len()),
            ));
        }
        let (v, name) = (&rec[0], &rec[1]);
        let value: i32 = match v.parse() {
            Ok(v) => v,
            Err(_) if out.is_empty() && values.is_empty() && row == 0 => continue, // header
            Err(_) => return Err(err(line, format!("label value {v:?} is not an integer"))),
        };
        if name.is_empty() {
            return Err(err(line, format!("empty name for label {value}")));
        }
        if !values.insert(value) {
            return Err(err(line, format!("label value {value} listed twice")));
        }
        if !names.insert(name.to_string()) {
            return Err(err(line, format!("name {name:?} listed twice")));
        }
        out.push((value, name.to_string()));
    }
    if out.is_empty() {
        return Err(err(0, "no label rows".into()));
    }
    Ok(out)
}

/// One binary mask per table entry, in table order, on the map's grid: voxel = 1 where the
/// map holds the entry's value. An entry whose value does not occur gives an all-zero mask
/// ("delineated and empty", label −1); unlisted values are ignored.
pub fn split_label_map(map: &Volume<i32>, table: &[(i32, String)]) -> Vec<(String, Mask)> {
    let index: HashMap<i32, usize> = table
        .iter()
        .enumerate()
        .map(|(i, (v, _))| (*v, i))
        .collect();
    let mut data = vec![vec![0u8; map.data.len()]; table.len()];
    for (voxel, v) in map.data.iter().enumerate() {
        if let Some(&i) = index.get(v) {
            data[i][voxel] = 1;
        }
    }
    table
        .iter()
        .zip(data)
        .map(|((_, name), data)| {
            (
                name.clone(),
                Volume {
                    geometry: map.geometry.clone(),
                    data,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::Geometry;

    fn table(text: &str) -> Result<Vec<(i32, String)>> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("labels.csv");
        std::fs::write(&p, text).unwrap();
        read_label_table(&p)
    }

    #[test]
    fn tables_with_and_without_header() {
        let want = vec![(1, "Brain".to_string()), (12, "Parotid_L".to_string())];
        assert_eq!(table("value,name\n1,Brain\n12, Parotid_L\n").unwrap(), want);
        assert_eq!(table("1,Brain\n\n12,Parotid_L\n").unwrap(), want);
    }

    #[test]
    fn bad_tables() {
        let e = table("value,name\n1,Brain\nx,Lens\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("labels.csv") && e.contains("line 3") && e.contains("\"x\""),
            "{e}"
        );
        let e = table("1,Brain\n1,Lens\n").unwrap_err().to_string();
        assert!(e.contains("listed twice") && e.contains("line 2"), "{e}");
        let e = table("1,Brain\n2,Brain\n").unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        let e = table("1,Brain,extra\n").unwrap_err().to_string();
        assert!(e.contains("2 fields"), "{e}");
        let e = table("1,\n").unwrap_err().to_string();
        assert!(e.contains("empty name"), "{e}");
        assert!(table("value,name\n").is_err());
    }

    #[test]
    fn split_by_hand() {
        let g = Geometry {
            dims: [3, 2, 1],
            origin: [0.0; 3],
            directions: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        };
        let map = Volume {
            geometry: g.clone(),
            data: vec![0, 3, 3, 9, 1, 3],
        };
        let t = vec![(3, "A".into()), (1, "B".into()), (4, "Absent".into())];
        let m = split_label_map(&map, &t);
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[0].0.as_str(), &m[0].1.data[..]),
            ("A", &[0, 1, 1, 0, 0, 1][..])
        );
        assert_eq!(m[1].1.data, vec![0, 0, 0, 0, 1, 0]);
        assert_eq!(m[2].1.data, vec![0; 6]);
        assert_eq!(m[2].1.geometry, g);
    }
}
