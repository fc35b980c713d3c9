//! Run-time device selection shared by every twinscan binary.
//!
//! burn 0.22 has no backend type parameter: the backend is chosen by the [`Device`] value.
//! [`DeviceSpec`] parses the `--device` flag (or the `TWINSCAN_DEVICE` environment variable)
//! and turns it into a [`Device`], with an error naming the cargo feature when the backend
//! was not compiled in.
//!
//! | spec | device | cargo feature |
//! |---|---|---|
//! | `cpu`, `flex` | `Device::flex()` (burn's pure-Rust CPU backend) | `flex` |
//! | `wgpu`, `wgpu:N` | `Device::wgpu(..)`: best adapter, or discrete GPU `N` | `wgpu` |
//! | `vulkan`, `vulkan:N` | `Device::vulkan(..)`: Vulkan only, best adapter or discrete GPU `N` | `vulkan` |
//! | `tch`, `tch:N` | LibTorch CPU, or LibTorch CUDA GPU `N` | `tch` |
//! | `cuda`, `cuda:N` | CubeCL CUDA GPU `N` (default 0) | `cuda` |
//!
//! ```
//! use twinscan_models::DeviceSpec;
//! let spec: DeviceSpec = "cuda:1".parse().unwrap();
//! assert_eq!(spec, DeviceSpec::Cuda(1));
//! assert_eq!(spec.feature(), "cuda");
//! assert!("gpu".parse::<DeviceSpec>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{ModelsError, Result};

/// Name of the environment variable read when no `--device` flag is given.
pub const DEVICE_ENV: &str = "TWINSCAN_DEVICE";

/// A parsed device choice; see the module documentation for the accepted strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// burn's pure-Rust CPU backend (`cpu` or `flex`); the default.
    #[default]
    Flex,
    /// wgpu on the platform's preferred graphics API; `Some(n)` = discrete GPU `n`.
    Wgpu(Option<usize>),
    /// wgpu pinned to Vulkan; `Some(n)` = discrete GPU `n`.
    Vulkan(Option<usize>),
    /// LibTorch: `None` = CPU, `Some(n)` = CUDA GPU `n`.
    Tch(Option<usize>),
    /// CubeCL CUDA GPU with this index.
    Cuda(usize),
}

impl DeviceSpec {
    /// Parses a device string; `source_name` (e.g. `--device`) is quoted in errors.
    ///
    /// Case-insensitive; surrounding white space is ignored.
    pub fn parse_from(spec: &str, source_name: &str) -> Result<Self> {
        let err = |reason: String| ModelsError::InvalidDevice {
            spec: spec.to_string(),
            source_name: source_name.to_string(),
            reason,
        };
        let lower = spec.trim().to_ascii_lowercase();
        let (name, index) = match lower.split_once(':') {
            Some((name, idx)) => {
                let idx: usize = idx.parse().map_err(|_| {
                    err(format!(
                        "device index '{idx}' is not a non-negative integer"
                    ))
                })?;
                (name, Some(idx))
            }
            None => (lower.as_str(), None),
        };
        match name {
            "cpu" | "flex" => match index {
                None => Ok(Self::Flex),
                Some(_) => Err(err(format!("'{name}' takes no device index"))),
            },
            "wgpu" => Ok(Self::Wgpu(index)),
            "vulkan" => Ok(Self::Vulkan(index)),
            "tch" | "libtorch" => Ok(Self::Tch(index)),
            "cuda" => Ok(Self::Cuda(index.unwrap_or(0))),
            "" => Err(err("empty device name".to_string())),
            other => Err(err(format!("unknown device name '{other}'"))),
        }
    }

    /// The device from a command-line value if given, else from `TWINSCAN_DEVICE`, else
    /// [`DeviceSpec::Flex`].
    pub fn from_arg_or_env(arg: Option<&str>) -> Result<Self> {
        let env = std::env::var(DEVICE_ENV).ok();
        Self::resolve(arg, env.as_deref())
    }

    /// Same as [`DeviceSpec::from_arg_or_env`] with the environment value passed in
    /// explicitly (testable without touching the process environment). Empty values count as
    /// absent.
    pub fn resolve(arg: Option<&str>, env_value: Option<&str>) -> Result<Self> {
        match (arg, env_value) {
            (Some(a), _) if !a.trim().is_empty() => Self::parse_from(a, "--device"),
            (_, Some(e)) if !e.trim().is_empty() => Self::parse_from(e, DEVICE_ENV),
            _ => Ok(Self::Flex),
        }
    }

    /// The cargo feature (of `twinscan` and `twinscan-models`) that compiles this backend in.
    pub fn feature(&self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Wgpu(_) => "wgpu",
            Self::Vulkan(_) => "vulkan",
            Self::Tch(_) => "tch",
            Self::Cuda(_) => "cuda",
        }
    }

    /// Whether this binary was compiled with the backend's cargo feature.
    pub fn is_compiled(&self) -> bool {
        match self {
            Self::Flex => cfg!(feature = "flex"),
            Self::Wgpu(_) => cfg!(feature = "wgpu"),
            Self::Vulkan(_) => cfg!(feature = "vulkan"),
            Self::Tch(_) => cfg!(feature = "tch"),
            Self::Cuda(_) => cfg!(feature = "cuda"),
        }
    }

    /// Every device string form accepted for the backends compiled into this binary.
    pub fn compiled_backends() -> Vec<&'static str> {
        let all = [
            (Self::Flex, "cpu|flex"),
            (Self::Wgpu(None), "wgpu[:N]"),
            (Self::Vulkan(None), "vulkan[:N]"),
            (Self::Tch(None), "tch[:N]"),
            (Self::Cuda(0), "cuda[:N]"),
        ];
        all.iter()
            .filter(|(s, _)| s.is_compiled())
            .map(|(_, n)| *n)
            .collect()
    }

    /// The burn device (without autodiff; call `.autodiff()` on it for training).
    ///
    /// # Errors
    /// [`ModelsError::DeviceNotCompiled`] naming the cargo feature when the backend is not
    /// compiled into this binary. Devices are created lazily by burn: a missing GPU shows up
    /// at the first tensor operation, not here.
    pub fn device(&self) -> Result<Device> {
        if !self.is_compiled() {
            return Err(ModelsError::DeviceNotCompiled {
                device: self.to_string(),
                feature: self.feature(),
            });
        }
        Ok(self.build())
    }

    #[allow(unreachable_code, unused_variables)]
    fn build(&self) -> Device {
        match *self {
            #[cfg(feature = "flex")]
            Self::Flex => Device::flex(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu(index) => Device::wgpu(device_kind(index)),
            #[cfg(feature = "vulkan")]
            Self::Vulkan(index) => Device::vulkan(device_kind(index)),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Self::Tch(index) => match index {
                None => Device::libtorch(),
                Some(i) => Device::libtorch_cuda(i),
            },
            #[cfg(feature = "cuda")]
            Self::Cuda(index) => Device::cuda(index),
            #[allow(unreachable_patterns)]
            _ => unreachable!("device() checks is_compiled() before build()"),
        }
    }
}

/// The hardware behind `device`, as its backend names it, for logs: the adapter's own name on
/// CubeCL backends (`wgpu`, `vulkan`, `cuda`), e.g. `llvmpipe (LLVM 15.0.6, 256 bits)` for
/// Mesa's software Vulkan driver or `NVIDIA H200` for a GPU, else burn's description of the
/// device (`flex`, `tch`).
///
/// Opens the device (on a GPU backend this initialises the runtime), so a missing driver
/// shows up here rather than at the first tensor operation.
pub fn device_name(device: &Device) -> String {
    #[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
    if let Some(identity) = device.identity() {
        return identity.name;
    }
    format!("{device:?}")
}

#[cfg(feature = "wgpu")]
fn device_kind(index: Option<usize>) -> burn::tensor::DeviceKind {
    match index {
        None => burn::tensor::DeviceKind::DefaultDevice,
        Some(i) => burn::tensor::DeviceKind::DiscreteGpu(i),
    }
}

impl FromStr for DeviceSpec {
    type Err = ModelsError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse_from(s, "--device")
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flex => write!(f, "flex"),
            Self::Wgpu(None) => write!(f, "wgpu"),
            Self::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
            Self::Vulkan(None) => write!(f, "vulkan"),
            Self::Vulkan(Some(i)) => write!(f, "vulkan:{i}"),
            Self::Tch(None) => write!(f, "tch"),
            Self::Tch(Some(i)) => write!(f, "tch:{i}"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// Seeds `device` and runs `build`, which draws a model's random initial weights from it, while
/// holding a process-wide lock. burn's device random generator is one per device, shared by
/// every thread, so two models built at once in one process (two tests, two replicas' runs)
/// would interleave their draws and neither would get the weights of its seed. `build` must
/// initialise the parameters itself: burn draws lazily, at a parameter's first use, unless
/// asked (`ResNet::initialize_in_forward_order`).
pub fn seeded<T>(device: &Device, seed: u64, build: impl FnOnce() -> T) -> T {
    static DRAWS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _draws = DRAWS.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    build()
}
