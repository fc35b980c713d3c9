//! Global-norm gradient clipping (`torch.nn.utils.clip_grad_norm_` semantics), which moved
//! to the shared training crate: see [`twinscan_train::clip`]. Re-exported here so
//! `twinscan_ssl::clip_global_norm` keeps working.

pub use twinscan_train::clip::{clip_global_norm, global_grad_norm};
