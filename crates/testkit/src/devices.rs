//! The accelerator devices a CI or GPU machine names for the device tests.

use twinscan_models::DeviceSpec;
use twinscan_models::burn::tensor::Device;

/// The variable that names the devices: comma-separated `--device` strings (`wgpu` on Mesa's
/// lavapipe in CI, `cuda,wgpu` on a GPU machine; see `.ci/run`).
pub const PARITY_DEVICES: &str = "TWINSCAN_PARITY_DEVICES";

/// Each device named in `TWINSCAN_PARITY_DEVICES`, with its string, in the order given. Unset:
/// an empty list after a printed note (`what` says what is then not run). A string that does
/// not parse, or a device that is not compiled in (`--features wgpu`), fails the test.
pub fn parity_devices(what: &str) -> Vec<(String, Device)> {
    let Ok(list) = std::env::var(PARITY_DEVICES) else {
        eprintln!("note: {PARITY_DEVICES} unset: {what}");
        return vec![];
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let spec = DeviceSpec::parse_from(s, PARITY_DEVICES).unwrap_or_else(|e| panic!("{e}"));
            let device = spec.device().unwrap_or_else(|e| panic!("{e}"));
            (s.to_string(), device)
        })
        .collect()
}
