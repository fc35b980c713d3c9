//! # twinscan-models
//!
//! ResNet encoders in torchvision topology (weights load from and export to torchvision key
//! names) and the Barlow Twins projector, on burn 0.22 run-time devices.
//!
//! - [`DeviceSpec`]: `--device cpu|flex|wgpu|vulkan|tch|cuda[:N]` (or `TWINSCAN_DEVICE`) →
//!   a burn [`Device`](burn::tensor::Device).
//! - [`ResNetConfig`] / [`ResNet`]: BasicBlock and Bottleneck ResNets (presets 10/18/34/50/101),
//!   `forward_features` → `[N, 512]` or `[N, 2048]`, optional linear head.
//! - [`weights`]: torchvision `.pth` / `.safetensors` in, torchvision-named safetensors out.
//! - [`ProjectorConfig`] / [`Projector`]: `512-8192-8192-8192` MLP heads.
//! - [`meta`]: what a weight file records about its inputs (safetensors metadata).
//! - [`sharded`]: data-parallel forward passes over batch shards with synchronised
//!   BatchNorm, the shards' statistics reduced by a [`Collective`]: burn's NCCL
//!   [`AllReduce`] on CUDA, [`HostAllReduce`] (one replica per thread, summed on the host)
//!   everywhere, or [`InProcessSum`] (every shard in one thread).
//! - [`image_batch`]: an `N×C×H×W` f32 buffer → `Tensor<4>`.
//!
//! The main path: [`ResNetConfig::init`] on a [`DeviceSpec`]'s device, then [`weights::load`]
//! (example in [`weights`]) or training; [`weights::export_encoder_safetensors`] writes it back
//! for torchvision.
//!
//! Freezing uses burn's `Module::freeze()`: parameters stop requiring gradients and every
//! BatchNorm switches to its running statistics.

/// The burn crate this crate is built on (0.22.1), re-exported so dependants (benches,
/// examples, higher crates) use the same version and features.
pub use burn;

pub mod batch;
pub mod device;
pub mod error;
pub mod host_collective;
pub mod init;
pub mod meta;
pub mod projector;
pub mod resnet;
pub mod sharded;
pub mod weights;

pub use batch::image_batch;
pub use device::{DEVICE_ENV, DeviceSpec, device_name, seeded};
pub use error::{ModelsError, Result};
pub use host_collective::HostAllReduce;
pub use init::BackboneInit;
pub use projector::{Projector, ProjectorBlock, ProjectorConfig};
pub use resnet::{Arch, BlockKind, Downsample, ResNet, ResNetConfig, ResidualBlock};
pub use sharded::{AllReduce, Collective, InProcessSum, sync_batch_norm};
