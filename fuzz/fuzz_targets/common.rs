//! Shared by the targets: the readers take paths, so each input is written to a file of
//! this process first (one per target and process, overwritten every run).

use std::path::PathBuf;

/// Writes `data` to `<tmp>/twinscan-fuzz-<pid>-<name>` and returns the path.
pub fn input_file(name: &str, data: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("twinscan-fuzz-{}-{name}", std::process::id()));
    std::fs::write(&p, data).expect("write the fuzz input");
    p
}
