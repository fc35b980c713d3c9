//! Gated fixture folders: reference numbers computed outside this project and kept in
//! `../shared/fixtures/<name>` beside the workspace (see the shared README), each with a
//! `meta.json`. `.ci/run` names them in `TWINSCAN_*_FIXTURE` variables.

use std::env;
use std::path::{Path, PathBuf};

/// The workspace's root folder (where the facade's `Cargo.toml` is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder of the fixture `name`, with the gating rule every fixture test follows:
///
/// - `var` set: the folder it names (a relative path that does not exist from the current
///   folder is taken from the workspace root); when it has no `meta.json` the test FAILS
///   (panics), so a CI that provides the fixtures never skips them silently;
/// - `var` unset: `../shared/fixtures/<name>` beside the workspace if it has a `meta.json`,
///   else `None` after a printed note: the caller returns (skips).
pub fn fixture_dir(var: &str, name: &str) -> Option<PathBuf> {
    match env::var_os(var) {
        Some(value) => {
            let mut dir = PathBuf::from(&value);
            if dir.is_relative() && !dir.exists() {
                dir = workspace_root().join(dir);
            }
            assert!(
                dir.join("meta.json").is_file(),
                "{var}={} is set but {} is missing",
                value.to_string_lossy(),
                dir.join("meta.json").display()
            );
            Some(dir)
        }
        None => {
            let dir = workspace_root().join("../shared/fixtures").join(name);
            if dir.join("meta.json").is_file() {
                Some(dir)
            } else {
                println!(
                    "note: {var} unset and {} absent: fixture test skipped",
                    dir.display()
                );
                None
            }
        }
    }
}

/// A JSON file of a fixture, parsed; a missing or malformed file fails the test, naming it.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A float32 `.npy` array of a fixture (any rank); a missing or malformed file fails the test,
/// naming it.
pub fn read_npy(path: &Path) -> ndarray::ArrayD<f32> {
    ndarray_npy::read_npy(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
