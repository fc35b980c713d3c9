//! # twinscan-models
//!
//! ResNet encoders in torchvision topology (weights load from and export to torchvision key
//! names) and the Barlow Twins projector, on burn 0.22 run-time devices.
