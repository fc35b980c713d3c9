//! The built `synth` and `prepare` examples: success, a bad flag and bad input (non-zero
//! exit, message naming the problem, no labels.csv).
//!
//! `cargo test` builds the examples next to the test binaries (`<target>/<profile>/examples/`);
//! this test runs them from there.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/prepare_cli-<hash>
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let p = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.is_file(),
        "{} not built: run the whole `cargo test` (it builds the examples)",
        p.display()
    );
    p
}

#[test]
fn synth_then_prepare_and_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("cohort");
    let st = Command::new(example("synth"))
        .args([
            "--out",
            input.to_str().unwrap(),
            "--scans",
            "2",
            "--size",
            "32",
            "--z-spacing",
            "10",
        ])
        .status()
        .unwrap();
    assert!(st.success());

    // Success: exit 0, labels.csv written, summary printed.
    let out = tmp.path().join("prepared");
    let o = Command::new(example("prepare"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--size",
            "16",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("labels.csv").is_file());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("2 scans"), "{stdout}");
    assert!(stdout.contains("Parotid_L"), "{stdout}");
    // synth's patients.csv is read without a flag; the dataset's fingerprint is shown.
    assert!(stdout.contains("patients from"), "{stdout}");
    assert!(stdout.contains("fingerprint "), "{stdout}");
    // Two patients: no test patient, said on stderr (not an error).
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("test split is empty"), "{stderr}");

    // A negative level after a space, and a swapped-looking window: accepted, warned about.
    let lung = tmp.path().join("lung");
    let o = Command::new(example("prepare"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--out",
            lung.to_str().unwrap(),
            "--size",
            "16",
            "--no-png",
            "--window",
            "-600:1500",
            "--window",
            "400:40",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("did you mean 40:400"), "{stderr}");
    let json = std::fs::read_to_string(lung.join("dataset.json")).unwrap();
    assert!(json.contains("-600.0"), "{json}");

    // A bad flag: clap's usage error, non-zero exit.
    let bad_out = tmp.path().join("bad");
    let o = Command::new(example("prepare"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--out",
            bad_out.to_str().unwrap(),
            "--bogus",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--bogus"));
    assert!(!bad_out.exists());

    // A bad value.
    let o = Command::new(example("prepare"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--out",
            bad_out.to_str().unwrap(),
            "--window",
            "40",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--window"));
    assert!(!bad_out.exists());

    // Bad input: a truncated CT file. Exit code 1, the file named, no labels.csv.
    let ct = input.join("synth_001/CT_IMAGE.nrrd");
    let bytes = std::fs::read(&ct).unwrap();
    std::fs::write(&ct, &bytes[..bytes.len() / 2]).unwrap();
    let o = Command::new(example("prepare"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--out",
            bad_out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("synth_001/CT_IMAGE.nrrd"), "{stderr}");
    assert!(!bad_out.join("labels.csv").exists());
    assert!(!bad_out.exists());
}
