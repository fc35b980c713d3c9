//! The Barlow Twins projector: `Linear(no bias) → BatchNorm1d → ReLU`, repeated, then a last
//! `Linear(no bias)`, with widths from a spec string such as `512-8192-8192-8192`.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use twinscan_models::ProjectorConfig;
//!
//! let device = Device::flex();
//! let config: ProjectorConfig = "512-64-64-32".parse().unwrap();
//! config.check_input_width(512).unwrap();
//! let projector = config.init(&device);
//! let z = projector.forward(Tensor::<2>::random([4, 512], Distribution::Default, &device));
//! assert_eq!(z.dims(), [4, 32]);
//! ```

use std::fmt;
use std::str::FromStr;

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{ModelsError, Result};

/// Widths of the projector, input first: `[512, 8192, 8192, 8192]` for the study. Serialised
/// as its spec string (`"512-8192-8192-8192"`), the form of the run configurations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectorConfig {
    /// Input width followed by the output width of every Linear layer; at least two entries,
    /// all ≥ 1.
    pub widths: Vec<usize>,
}

impl ProjectorConfig {
    /// The study's projector for a ResNet-18 encoder: `512-8192-8192-8192`.
    pub fn barlow_twins() -> Self {
        Self {
            widths: vec![512, 8192, 8192, 8192],
        }
    }

    /// Parses `"512-8192-8192-8192"` (numbers joined by `-`).
    pub fn parse(spec: &str) -> Result<Self> {
        let err = |reason: String| ModelsError::InvalidProjectorSpec {
            spec: spec.to_string(),
            reason,
        };
        let widths = spec
            .trim()
            .split('-')
            .map(|part| {
                let w: usize = part
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("'{part}' is not a positive integer")))?;
                if w == 0 {
                    return Err(err("widths must be at least 1".into()));
                }
                Ok(w)
            })
            .collect::<Result<Vec<_>>>()?;
        if widths.len() < 2 {
            return Err(err(
                "need an input width and at least one output width, e.g. 512-8192".into(),
            ));
        }
        Ok(Self { widths })
    }

    /// Input width (must equal the encoder's feature width).
    pub fn input_width(&self) -> usize {
        self.widths[0]
    }

    /// Output (embedding) width.
    pub fn output_width(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }

    /// Fails with [`ModelsError::ProjectorWidthMismatch`] unless the input width equals the
    /// encoder's pooled feature width (512 for ResNet-18, 2048 for ResNet-50).
    pub fn check_input_width(&self, encoder_features: usize) -> Result<()> {
        if self.input_width() != encoder_features {
            return Err(ModelsError::ProjectorWidthMismatch {
                projector_input: self.input_width(),
                encoder_features,
            });
        }
        Ok(())
    }

    /// Builds the projector (PyTorch default Linear initialisation, BatchNorm gamma 1 beta 0).
    pub fn init(&self, device: &Device) -> Projector {
        let n = self.widths.len();
        let hidden = self.widths[..n - 1]
            .windows(2)
            .map(|w| ProjectorBlock {
                linear: LinearConfig::new(w[0], w[1]).with_bias(false).init(device),
                bn: BatchNormConfig::new(w[1]).init(device),
            })
            .collect();
        let last = LinearConfig::new(self.widths[n - 2], self.widths[n - 1])
            .with_bias(false)
            .init(device);
        Projector { hidden, last }
    }
}

impl FromStr for ProjectorConfig {
    type Err = ModelsError;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ProjectorConfig {
    type Error = ModelsError;

    fn try_from(spec: String) -> Result<Self> {
        Self::parse(&spec)
    }
}

impl From<ProjectorConfig> for String {
    fn from(config: ProjectorConfig) -> String {
        config.to_string()
    }
}

impl fmt::Display for ProjectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.widths.iter().map(|w| w.to_string()).collect();
        write!(f, "{}", parts.join("-"))
    }
}

/// One hidden stage: `Linear(no bias) → BatchNorm1d → ReLU`.
#[derive(Module, Debug)]
pub struct ProjectorBlock {
    /// Linear layer without bias.
    pub linear: Linear,
    /// BatchNorm1d over the layer's outputs.
    pub bn: BatchNorm,
}

/// The projector head; built by [`ProjectorConfig::init`].
#[derive(Module, Debug)]
pub struct Projector {
    /// Hidden stages (one fewer than the Linear layers).
    pub hidden: Vec<ProjectorBlock>,
    /// Final Linear layer without bias (no BatchNorm, no ReLU).
    pub last: Linear,
}

impl Projector {
    /// Shapes: `[N, input_width]` → `[N, output_width]`. In training mode the BatchNorm
    /// layers use batch statistics, so N ≥ 2.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut x = x;
        for block in &self.hidden {
            x = relu(block.bn.forward(block.linear.forward(x)));
        }
        self.last.forward(x)
    }

    /// Initialises every lazily initialised parameter now, in the order a first
    /// [`forward`](Self::forward) would (see [`ResNet::initialize_in_forward_order`]).
    ///
    /// [`ResNet::initialize_in_forward_order`]: crate::ResNet::initialize_in_forward_order
    pub fn initialize_in_forward_order(&self) {
        for block in &self.hidden {
            crate::resnet::touch(&block.linear);
            crate::resnet::touch(&block.bn);
        }
        crate::resnet::touch(&self.last);
    }

    /// Input width the projector expects.
    pub fn input_width(&self) -> usize {
        match self.hidden.first() {
            Some(b) => b.linear.weight.dims()[0],
            None => self.last.weight.dims()[0],
        }
    }
}
