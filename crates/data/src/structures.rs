//! Structure (organ) names: the study's 21 canonical names and the one alias table.
//!
//! Every mask file name or RTSTRUCT ROI name goes through [`StructureTable::canonical`].
//! Matching ignores case and treats `-`, `_` and spaces alike, so `Parotid-Lt`, `parotid_lt`
//! and `PAROTID LT` are one name. The built-in table maps the DeepMind/TCIA spellings to the
//! study's TG-263-style names (`Orbit-Lt` → `Eye_L`, `Mandible` → `Bone_Mandible`,
//! `Optic-Nerve-Rt` → `OpticNrv_cnv_R`, `Spinal-Canal` → `SpinalCanal`, ...); a CSV file
//! `alias,canonical` extends it ([`StructureTable::extend_from_csv`]).
//!
//! ```
//! use twinscan_data::structures::StructureTable;
//! let t = StructureTable::study();
//! assert_eq!(t.canonical("Optic_Nerve_Lt").as_deref(), Some("OpticNrv_cnv_L"));
//! assert_eq!(t.canonical("orbit-rt").as_deref(), Some("Eye_R"));
//! assert_eq!(t.canonical("Skin"), None); // not a study structure: dropped
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// The study's 21 canonical structure names, in the column order of `labels.csv`.
pub const CANONICAL: [&str; 21] = [
    "Brain",
    "Brainstem",
    "Bone_Mandible",
    "Cochlea_L",
    "Cochlea_R",
    "Glnd_Lacrimal_L",
    "Glnd_Lacrimal_R",
    "Lens_L",
    "Lens_R",
    "Lung_L",
    "Lung_R",
    "OpticNrv_cnv_L",
    "OpticNrv_cnv_R",
    "Eye_L",
    "Eye_R",
    "Parotid_L",
    "Parotid_R",
    "SpinalCanal",
    "SpinalCord",
    "Glnd_Submand_L",
    "Glnd_Submand_R",
];

/// DeepMind base names (before the `-Lt`/`-Rt` side suffix) and the canonical base they map
/// to. A side suffix `Lt`/`Rt` (or `L`/`R`) becomes `_L`/`_R`.
const DEEPMIND_BASES: [(&str, &str); 13] = [
    ("Brain", "Brain"),
    ("Brainstem", "Brainstem"),
    ("Cochlea", "Cochlea"),
    ("Lacrimal", "Glnd_Lacrimal"),
    ("Lens", "Lens"),
    ("Lung", "Lung"),
    ("Mandible", "Bone_Mandible"),
    ("Optic-Nerve", "OpticNrv_cnv"),
    ("Orbit", "Eye"),
    ("Parotid", "Parotid"),
    ("Spinal-Canal", "SpinalCanal"),
    ("Spinal-Cord", "SpinalCord"),
    ("Submandibular", "Glnd_Submand"),
];

/// TotalSegmentator (v2) base names that mean the same structure as a canonical one
/// (tasks `total`, `head_glands_cavities`, `craniofacial_structures`, `brain_structures`);
/// sides come as `_left` / `_right`. `brain`, `brainstem` and `spinal_cord` match the
/// canonical names directly. Not mapped: the lung lobes (`lung_upper_lobe_left`, ...: a
/// lobe is not the whole lung), `skull`, `vertebrae_*`, `optic_chiasm` and every other
/// TotalSegmentator structure; TotalSegmentator has no cochlea, lacrimal gland or spinal
/// canal.
const TOTALSEGMENTATOR_BASES: [(&str, &str); 5] = [
    ("Eye", "Eye"),
    ("Eye-Lens", "Lens"),
    ("Parotid-Gland", "Parotid"),
    ("Submandibular-Gland", "Glnd_Submand"),
    ("Lacrimal-Gland", "Glnd_Lacrimal"),
];

/// Which structures become `labels.csv` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StructureSelection {
    /// The study's 21 canonical names (unknown names are dropped).
    #[default]
    Study,
    /// Every structure found: known aliases still map to their canonical name, any other
    /// name is kept as written in the file / ROI.
    All,
}

impl std::str::FromStr for StructureSelection {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "study" | "default" => Ok(Self::Study),
            "all" => Ok(Self::All),
            _ => Err(DataError::InvalidConfig {
                field: "structures",
                detail: format!("{s:?}: expected `study` or `all`"),
            }),
        }
    }
}

/// Normalises a name for matching: lower case, `-` and spaces become `_`, repeated `_`
/// collapse, leading/trailing `_` are dropped.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.trim().chars() {
        let c = if ch == '-' || ch == ' ' {
            '_'
        } else {
            ch.to_ascii_lowercase()
        };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// The alias table: normalised alias → canonical name, plus the selection mode.
#[derive(Debug, Clone)]
pub struct StructureTable {
    aliases: HashMap<String, String>,
    canonical: Vec<String>,
    selection: StructureSelection,
}

impl StructureTable {
    /// The built-in table (21 canonical names + DeepMind spellings), [`StructureSelection::Study`].
    pub fn study() -> Self {
        let mut aliases = HashMap::new();
        for name in CANONICAL {
            aliases.insert(normalise(name), name.to_string());
        }
        for (dm, canon_base) in DEEPMIND_BASES.into_iter().chain(TOTALSEGMENTATOR_BASES) {
            let sided = CANONICAL
                .iter()
                .any(|c| *c == format!("{canon_base}_L").as_str());
            if sided {
                for (suffixes, side) in [(["Lt", "L", "Left"], "L"), (["Rt", "R", "Right"], "R")] {
                    for suf in suffixes {
                        aliases.insert(
                            normalise(&format!("{dm}-{suf}")),
                            format!("{canon_base}_{side}"),
                        );
                        // DeepMind's underscore spellings (`Optic_Nerve_Lt`) normalise the same.
                    }
                }
            } else {
                aliases.insert(normalise(dm), canon_base.to_string());
            }
        }
        Self {
            aliases,
            canonical: CANONICAL.iter().map(|s| s.to_string()).collect(),
            selection: StructureSelection::Study,
        }
    }

    /// The built-in table with the given selection mode.
    pub fn with_selection(selection: StructureSelection) -> Self {
        let mut t = Self::study();
        t.selection = selection;
        t
    }

    /// The selection mode.
    pub fn selection(&self) -> StructureSelection {
        self.selection
    }

    /// The canonical names known to the table (the 21, plus new canonical names introduced
    /// by an alias file), in column order.
    pub fn canonical_names(&self) -> &[String] {
        &self.canonical
    }

    /// Adds one alias. A canonical name not yet known becomes a new column (appended).
    pub fn add_alias(&mut self, alias: &str, canonical: &str) {
        let canonical = canonical.trim().to_string();
        if !self.canonical.iter().any(|c| c == &canonical) {
            // An alias to an existing canonical name spelled differently maps to that name.
            if let Some(existing) = self.aliases.get(&normalise(&canonical)).cloned() {
                self.aliases.insert(normalise(alias), existing);
                return;
            }
            self.canonical.push(canonical.clone());
            self.aliases
                .insert(normalise(&canonical), canonical.clone());
        }
        self.aliases.insert(normalise(alias), canonical);
    }

    /// Extends the table from a CSV file `alias,canonical` (a header line `alias,canonical`
    /// is allowed; blank lines and lines starting with `#` are skipped).
    pub fn extend_from_csv(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != 2 || fields[0].is_empty() || fields[1].is_empty() {
                return Err(DataError::Csv {
                    path: path.to_path_buf(),
                    line: i as u64 + 1,
                    detail: format!("expected `alias,canonical`, found {line:?}"),
                });
            }
            if i == 0
                && fields[0].eq_ignore_ascii_case("alias")
                && fields[1].eq_ignore_ascii_case("canonical")
            {
                continue;
            }
            self.add_alias(fields[0], fields[1]);
        }
        Ok(())
    }

    /// The canonical name for a file stem or ROI name; `None` when the name is not a known
    /// structure and the selection is [`StructureSelection::Study`]. With
    /// [`StructureSelection::All`] an unknown name is returned as written (trimmed).
    pub fn canonical(&self, name: &str) -> Option<String> {
        match self.aliases.get(&normalise(name)) {
            Some(c) => Some(c.clone()),
            None => match self.selection {
                StructureSelection::Study => None,
                StructureSelection::All => {
                    let t = name.trim();
                    (!t.is_empty()).then(|| t.to_string())
                }
            },
        }
    }

    /// The `labels.csv` columns given the names found over all scans: with `Study`, the
    /// canonical names; with `All`, the canonical names that were found followed by the other
    /// names found (sorted).
    pub fn columns<'a>(&self, found: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        match self.selection {
            StructureSelection::Study => self.canonical.clone(),
            StructureSelection::All => {
                let found: std::collections::BTreeSet<&str> = found.into_iter().collect();
                let mut cols: Vec<String> = self
                    .canonical
                    .iter()
                    .filter(|c| found.contains(c.as_str()))
                    .cloned()
                    .collect();
                for f in found {
                    if !cols.iter().any(|c| c == f) {
                        cols.push(f.to_string());
                    }
                }
                cols
            }
        }
    }
}

impl Default for StructureTable {
    fn default() -> Self {
        Self::study()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totalsegmentator_names_that_do_not_map() {
        let t = StructureTable::study();
        for n in [
            "lung_upper_lobe_left",
            "lung_lower_lobe_right",
            "skull",
            "vertebrae_C1",
        ] {
            assert_eq!(t.canonical(n), None, "{n}");
        }
    }

    #[test]
    fn all_deepmind_spellings_map() {
        let t = StructureTable::study();
        let cases = [
            ("Brain", "Brain"),
            ("Brainstem", "Brainstem"),
            ("Cochlea-Lt", "Cochlea_L"),
            ("Cochlea_Rt", "Cochlea_R"),
            ("Lacrimal-Lt", "Glnd_Lacrimal_L"),
            ("Lacrimal_Rt", "Glnd_Lacrimal_R"),
            ("Lens-Lt", "Lens_L"),
            ("Lung-Rt", "Lung_R"),
            ("Mandible", "Bone_Mandible"),
            ("Optic-Nerve-Lt", "OpticNrv_cnv_L"),
            ("Optic_Nerve_Rt", "OpticNrv_cnv_R"),
            ("Orbit-Lt", "Eye_L"),
            ("Orbit_Rt", "Eye_R"),
            ("Parotid-Lt", "Parotid_L"),
            ("Parotid_Rt", "Parotid_R"),
            ("Spinal-Canal", "SpinalCanal"),
            ("Spinal_Cord", "SpinalCord"),
            ("Submandibular-Lt", "Glnd_Submand_L"),
            ("Submandibular_Rt", "Glnd_Submand_R"),
            ("OPTICNRV_CNV_L", "OpticNrv_cnv_L"),
            // TotalSegmentator spellings.
            ("spinal_cord", "SpinalCord"),
            ("brain", "Brain"),
            ("brainstem", "Brainstem"),
            ("mandible", "Bone_Mandible"),
            ("parotid_gland_left", "Parotid_L"),
            ("parotid_gland_right", "Parotid_R"),
            ("submandibular_gland_left", "Glnd_Submand_L"),
            ("eye_left", "Eye_L"),
            ("eye_right", "Eye_R"),
            ("eye_lens_left", "Lens_L"),
            ("optic_nerve_right", "OpticNrv_cnv_R"),
            ("spinalcanal", "SpinalCanal"),
        ];
        for (a, c) in cases {
            assert_eq!(t.canonical(a).as_deref(), Some(c), "{a}");
        }
        assert_eq!(t.canonical("Skin"), None);
        assert_eq!(t.canonical_names().len(), 21);
    }

    #[test]
    fn all_mode_keeps_unknown_names() {
        let t = StructureTable::with_selection(StructureSelection::All);
        assert_eq!(t.canonical("Skin").as_deref(), Some("Skin"));
        assert_eq!(t.canonical("Parotid-Lt").as_deref(), Some("Parotid_L"));
        assert_eq!(
            t.columns(["Skin", "Brain", "Parotid_L"]),
            vec!["Brain", "Parotid_L", "Skin"]
        );
    }
}
