//! `--device` / `TWINSCAN_DEVICE` parsing.

use twinscan_models::{DeviceSpec, ModelsError};

#[test]
fn parses_every_form() {
    let cases = [
        ("cpu", DeviceSpec::Flex),
        ("flex", DeviceSpec::Flex),
        (" FLEX ", DeviceSpec::Flex),
        ("wgpu", DeviceSpec::Wgpu(None)),
        ("wgpu:1", DeviceSpec::Wgpu(Some(1))),
        ("vulkan", DeviceSpec::Vulkan(None)),
        ("vulkan:0", DeviceSpec::Vulkan(Some(0))),
        ("tch", DeviceSpec::Tch(None)),
        ("tch:2", DeviceSpec::Tch(Some(2))),
        ("cuda", DeviceSpec::Cuda(0)),
        ("cuda:3", DeviceSpec::Cuda(3)),
    ];
    for (s, want) in cases {
        assert_eq!(s.parse::<DeviceSpec>().unwrap(), want, "{s}");
        // Display round-trips.
        assert_eq!(want.to_string().parse::<DeviceSpec>().unwrap(), want);
    }
}

#[test]
fn rejects_bad_strings_naming_the_source() {
    for bad in ["gpu", "", "cuda:-1", "cuda:x", "cpu:0", "wgpu:", ":1"] {
        let err = DeviceSpec::parse_from(bad, "--device").unwrap_err();
        assert!(
            matches!(err, ModelsError::InvalidDevice { .. }),
            "{bad}: {err}"
        );
        assert!(err.to_string().contains("--device"), "{err}");
    }
    let err = DeviceSpec::resolve(None, Some("metal")).unwrap_err();
    assert!(err.to_string().contains("TWINSCAN_DEVICE"), "{err}");
}

#[test]
fn flag_beats_environment_beats_default() {
    assert_eq!(
        DeviceSpec::resolve(Some("cuda:1"), Some("wgpu")).unwrap(),
        DeviceSpec::Cuda(1)
    );
    assert_eq!(
        DeviceSpec::resolve(None, Some("wgpu")).unwrap(),
        DeviceSpec::Wgpu(None)
    );
    assert_eq!(
        DeviceSpec::resolve(Some(" "), Some("tch")).unwrap(),
        DeviceSpec::Tch(None)
    );
    assert_eq!(DeviceSpec::resolve(None, None).unwrap(), DeviceSpec::Flex);
    assert_eq!(
        DeviceSpec::resolve(None, Some("")).unwrap(),
        DeviceSpec::Flex
    );
}

#[test]
fn devices_not_compiled_in_name_their_feature() {
    let all = [
        DeviceSpec::Flex,
        DeviceSpec::Wgpu(None),
        DeviceSpec::Vulkan(Some(0)),
        DeviceSpec::Tch(None),
        DeviceSpec::Cuda(0),
    ];
    for spec in all {
        let expected = match spec {
            DeviceSpec::Flex => cfg!(feature = "flex"),
            DeviceSpec::Wgpu(_) => cfg!(feature = "wgpu"),
            DeviceSpec::Vulkan(_) => cfg!(feature = "vulkan"),
            DeviceSpec::Tch(_) => cfg!(feature = "tch"),
            DeviceSpec::Cuda(_) => cfg!(feature = "cuda"),
        };
        assert_eq!(spec.is_compiled(), expected, "{spec}");
        if !spec.is_compiled() {
            match spec.device() {
                Err(ModelsError::DeviceNotCompiled { feature, .. }) => {
                    assert_eq!(feature, spec.feature());
                    let msg = spec.device().unwrap_err().to_string();
                    assert!(
                        msg.contains(&format!("--features {}", spec.feature())),
                        "{msg}"
                    );
                }
                other => panic!("{spec}: expected DeviceNotCompiled, got {other:?}"),
            }
        }
    }
    // The test build always has flex (the crate's default feature).
    #[cfg(feature = "flex")]
    {
        assert!(DeviceSpec::Flex.device().is_ok());
        assert!(DeviceSpec::compiled_backends().contains(&"cpu|flex"));
    }
    #[cfg(not(feature = "cuda"))]
    assert!(DeviceSpec::Cuda(0).device().is_err());
}
