//! # twinscan-ssl
//!
//! Barlow Twins pretraining (Zbontar et al., ICML 2021, arXiv 2103.03230) on burn 0.22:
//!
//! - [`loss`]: the cross-correlation loss with its on- and off-diagonal terms
//!   ([`BarlowTwinsLoss`]), memory-lean for D = 8192 (no D×D matrix by default).
//! - [`vicreg`]: the VICReg loss (Bardes et al., ICLR 2022) with its three terms, the second
//!   [`objective`] (`barlow` | `vicreg`) the same loop trains with.
//! - [`lars`]: LARS as a burn [`Optimizer`](burn::optim::Optimizer) ([`Lars`]), with 1-D
//!   parameters excluded from weight decay and trust ratio and stepped with the biases' rate.
//! - [`schedule`]: linear warm-up then cosine to `peak × 0.001`, a plain function of the step,
//!   and [`clip`]: global-norm gradient clipping with `torch.nn.utils.clip_grad_norm_`
//!   semantics; both live in `twinscan-train` (shared with the classifier) and are
//!   re-exported here.
//! - [`step`]: encoder + projector ([`BarlowTwinsModel`]) and one training step ([`Trainer`]).
//! - [`pretrain`]: the loop over a prepared dataset ([`pretrain::pretrain`]): two views
//!   augmented on a background thread (`twinscan_train::BatchSource`), atomic per-epoch [`checkpoint`]s,
//!   bit-identical `resume` on the CPU, a JSON-lines log, the [`knn`] probe, and the encoder
//!   exported with torchvision key names and its inputs in the metadata ([`encoder_meta`]).
//!   [`PretrainConfig`] holds every setting.
//!
//! The main path is [`pretrain::pretrain`] (example in its module documentation): a prepared
//! dataset in, checkpoints, `log.jsonl` and `encoder.safetensors` out.
//!
//! All tensors are `burn::tensor::Tensor<D>` on a run-time [`burn::tensor::Device`]
//! (`Device::flex()` on the CPU; `.autodiff()` for training).

pub mod checkpoint;
pub mod clip;
pub mod config;
pub mod encoder_meta;
pub mod error;
pub mod knn;
pub mod lars;
pub mod loss;
pub mod objective;
pub mod pretrain;
mod replicas;
pub mod schedule;
pub mod step;
pub mod vicreg;

pub use clip::{clip_global_norm, global_grad_norm};
pub use config::PretrainConfig;
pub use error::{Result, SslError};
pub use lars::{Lars, LarsConfig, LarsState};
pub use loss::{
    BarlowTwinsLoss, BarlowTwinsLossConfig, BarlowTwinsOutput, CorrelationStrategy, embedding_std,
};
pub use objective::{Objective, ObjectiveKind, ObjectiveOutput, Terms};
pub use schedule::{LrScaling, WarmupCosine};
pub use step::{BarlowTwinsModel, StepStats, Trainer, reduce_gradients};
/// The encoder preset and input shape flattened into [`PretrainConfig`].
pub use twinscan_train::EncoderInput;
pub use vicreg::{VicRegLoss, VicRegLossConfig, VicRegOutput};
