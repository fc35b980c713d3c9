//! ResNet encoders in torchvision topology (ResNet v1.5: the stride of a bottleneck block sits
//! on its 3×3 convolution).
//!
//! Field names follow torchvision's `state_dict` keys (`conv1`, `bn1`, `layer1.0.conv1`, ...,
//! `fc`), so a torchvision checkpoint loads with the two remaps of
//! [`crate::weights::TORCHVISION_REMAP`] only.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use twinscan_models::ResNetConfig;
//!
//! let device = Device::flex();
//! let model = ResNetConfig::resnet10().with_in_channels(1).init(&device).unwrap();
//! let x = Tensor::<4>::random([2, 1, 32, 32], Distribution::Default, &device);
//! assert_eq!(model.forward_features(x).dims(), [2, 512]);
//! ```

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{ModelsError, Result};

/// Residual block type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// Two 3×3 convolutions (ResNet-10/18/34); expansion 1, pooled feature 512.
    Basic,
    /// 1×1 → 3×3 → 1×1 convolutions (ResNet-50/101/152); expansion 4, pooled feature 2048.
    Bottleneck,
}

impl BlockKind {
    /// Output channels of a block relative to its `planes` (1 or 4).
    pub fn expansion(self) -> usize {
        match self {
            Self::Basic => 1,
            Self::Bottleneck => 4,
        }
    }
}

/// A ResNet preset by name, the typed form of the `arch` field of the run configurations
/// (serialised as its lower-case name, `"resnet18"`).
///
/// ```
/// use twinscan_models::{Arch, ResNetConfig};
/// let arch: Arch = "ResNet18".parse().unwrap();
/// assert_eq!(arch, Arch::ResNet18);
/// assert_eq!(arch.to_string(), "resnet18");
/// assert_eq!(ResNetConfig::from_arch(arch), ResNetConfig::resnet18());
/// assert!("resnet19".parse::<Arch>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Arch {
    /// ResNet-10 (BasicBlock, `[1, 1, 1, 1]`).
    ResNet10,
    /// ResNet-18 (BasicBlock, `[2, 2, 2, 2]`): the study.
    ResNet18,
    /// ResNet-34 (BasicBlock, `[3, 4, 6, 3]`).
    ResNet34,
    /// ResNet-50 (Bottleneck, `[3, 4, 6, 3]`).
    ResNet50,
    /// ResNet-101 (Bottleneck, `[3, 4, 23, 3]`).
    ResNet101,
}

impl Arch {
    /// Every preset, smallest first.
    pub const ALL: [Arch; 5] = [
        Self::ResNet10,
        Self::ResNet18,
        Self::ResNet34,
        Self::ResNet50,
        Self::ResNet101,
    ];

    /// The lower-case name (`resnet18`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ResNet10 => "resnet10",
            Self::ResNet18 => "resnet18",
            Self::ResNet34 => "resnet34",
            Self::ResNet50 => "resnet50",
            Self::ResNet101 => "resnet101",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Arch {
    type Err = ModelsError;

    /// Case-insensitive preset name.
    fn from_str(name: &str) -> Result<Self> {
        let lower = name.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|a| a.name() == lower)
            .ok_or_else(|| {
                ModelsError::InvalidConfig(format!(
                    "unknown ResNet preset '{lower}' (expected resnet10, resnet18, resnet34, \
                     resnet50 or resnet101)"
                ))
            })
    }
}

impl TryFrom<String> for Arch {
    type Error = ModelsError;

    fn try_from(name: String) -> Result<Self> {
        name.parse()
    }
}

impl From<Arch> for String {
    fn from(arch: Arch) -> String {
        arch.name().to_string()
    }
}

/// Configuration of a torchvision-topology ResNet.
///
/// Defaults of the presets are torchvision's (`in_channels` 3, no head,
/// `zero_init_residual` false); the Barlow Twins study uses
/// `ResNetConfig::resnet18().with_zero_init_residual(true)` with 1 input channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResNetConfig {
    /// Residual block type.
    pub block: BlockKind,
    /// Number of blocks in each of the four stages (`layer1` .. `layer4`); each ≥ 1.
    pub layers: [usize; 4],
    /// Image channels of the input (1 for CT slices, 3 for RGB / ImageNet weights).
    pub in_channels: usize,
    /// Classes of the optional linear head `fc`; `None` = encoder only.
    pub num_classes: Option<usize>,
    /// Start the last BatchNorm gamma of every residual block at 0, so each block begins as
    /// the identity (torchvision `zero_init_residual=True`; the Barlow Twins code sets it).
    pub zero_init_residual: bool,
}

impl ResNetConfig {
    /// A ResNet with the given block and stage depths, 3 input channels, no head.
    pub fn new(block: BlockKind, layers: [usize; 4]) -> Self {
        Self {
            block,
            layers,
            in_channels: 3,
            num_classes: None,
            zero_init_residual: false,
        }
    }

    /// ResNet-10: BasicBlock, `[1, 1, 1, 1]` (not in torchvision; same topology).
    pub fn resnet10() -> Self {
        Self::new(BlockKind::Basic, [1, 1, 1, 1])
    }

    /// ResNet-18: BasicBlock, `[2, 2, 2, 2]`.
    pub fn resnet18() -> Self {
        Self::new(BlockKind::Basic, [2, 2, 2, 2])
    }

    /// ResNet-34: BasicBlock, `[3, 4, 6, 3]`.
    pub fn resnet34() -> Self {
        Self::new(BlockKind::Basic, [3, 4, 6, 3])
    }

    /// ResNet-50: Bottleneck, `[3, 4, 6, 3]`.
    pub fn resnet50() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 6, 3])
    }

    /// ResNet-101: Bottleneck, `[3, 4, 23, 3]`.
    pub fn resnet101() -> Self {
        Self::new(BlockKind::Bottleneck, [3, 4, 23, 3])
    }

    /// A preset by name: `resnet10`, `resnet18`, `resnet34`, `resnet50`, `resnet101`.
    pub fn preset(name: &str) -> Result<Self> {
        Ok(Self::from_arch(name.parse()?))
    }

    /// The preset of `arch`.
    pub fn from_arch(arch: Arch) -> Self {
        match arch {
            Arch::ResNet10 => Self::resnet10(),
            Arch::ResNet18 => Self::resnet18(),
            Arch::ResNet34 => Self::resnet34(),
            Arch::ResNet50 => Self::resnet50(),
            Arch::ResNet101 => Self::resnet101(),
        }
    }

    /// Sets the number of input channels.
    pub fn with_in_channels(mut self, in_channels: usize) -> Self {
        self.in_channels = in_channels;
        self
    }

    /// Sets (or removes, with `None`) the linear head.
    pub fn with_num_classes(mut self, num_classes: Option<usize>) -> Self {
        self.num_classes = num_classes;
        self
    }

    /// Sets `zero_init_residual`.
    pub fn with_zero_init_residual(mut self, zero_init_residual: bool) -> Self {
        self.zero_init_residual = zero_init_residual;
        self
    }

    /// Width of the pooled feature: 512 (BasicBlock) or 2048 (Bottleneck).
    pub fn feature_dim(&self) -> usize {
        512 * self.block.expansion()
    }

    /// Checks the configuration without building anything.
    pub fn validate(&self) -> Result<()> {
        if self.in_channels == 0 {
            return Err(ModelsError::InvalidConfig(
                "in_channels must be at least 1".into(),
            ));
        }
        if let Some(i) = self.layers.iter().position(|&n| n == 0) {
            return Err(ModelsError::InvalidConfig(format!(
                "layers[{i}] is 0: every stage needs at least one block (layers = {:?})",
                self.layers
            )));
        }
        if self.num_classes == Some(0) {
            return Err(ModelsError::InvalidConfig(
                "num_classes is Some(0); use None for an encoder without head".into(),
            ));
        }
        Ok(())
    }

    /// Builds the model on `device` with torchvision's initialisation: convolutions Kaiming
    /// normal (fan-out, ReLU gain √2), BatchNorm gamma 1 / beta 0 (running mean 0, variance
    /// 1), the head `Linear` with PyTorch's default (uniform ±1/√fan_in for weight and bias),
    /// and, with `zero_init_residual`, the last BatchNorm gamma of each block 0.
    pub fn init(&self, device: &Device) -> Result<ResNet> {
        self.validate()?;
        let conv1 = conv(self.in_channels, 64, 7, 2, 3, device);
        let bn1 = BatchNormConfig::new(64).init(device);
        let maxpool = MaxPool2dConfig::new([3, 3])
            .with_strides([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init();
        let mut inplanes = 64;
        let mut stages = Vec::with_capacity(4);
        for (i, (&blocks, planes)) in self.layers.iter().zip([64, 128, 256, 512]).enumerate() {
            let stride = if i == 0 { 1 } else { 2 };
            let mut stage = Vec::with_capacity(blocks);
            for b in 0..blocks {
                let s = if b == 0 { stride } else { 1 };
                stage.push(ResidualBlock::new(
                    self.block,
                    inplanes,
                    planes,
                    s,
                    self.zero_init_residual,
                    device,
                ));
                inplanes = planes * self.block.expansion();
            }
            stages.push(stage);
        }
        let fc = self
            .num_classes
            .map(|n| LinearConfig::new(self.feature_dim(), n).init(device));
        let mut stages = stages.into_iter();
        let mut next = || stages.next().unwrap_or_default();
        Ok(ResNet {
            conv1,
            bn1,
            maxpool,
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            fc,
        })
    }
}

/// torchvision's convolution initialiser: Kaiming normal, `mode="fan_out"`, ReLU gain.
fn kaiming_fan_out() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: true,
    }
}

fn conv(
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .with_initializer(kaiming_fan_out())
        .init(device)
}

/// The projection shortcut of a block whose shape changes: 1×1 convolution (stride of the
/// block) and BatchNorm. torchvision keys `downsample.0` / `downsample.1` map to
/// `downsample.conv` / `downsample.bn`.
#[derive(Module, Debug)]
pub struct Downsample {
    /// 1×1 convolution, no bias.
    pub conv: Conv2d,
    /// BatchNorm after it.
    pub bn: BatchNorm,
}

/// One residual block, BasicBlock (`conv3`/`bn3` absent) or Bottleneck.
///
/// One struct for both kinds (rather than an enum) keeps the parameter paths free of enum
/// variant names, i.e. identical to torchvision's.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    /// Basic: 3×3 (stride of the block); Bottleneck: 1×1 reduction.
    pub conv1: Conv2d,
    /// BatchNorm after `conv1`.
    pub bn1: BatchNorm,
    /// 3×3 convolution (Bottleneck: carries the stride).
    pub conv2: Conv2d,
    /// BatchNorm after `conv2` (the last one of a BasicBlock).
    pub bn2: BatchNorm,
    /// Bottleneck only: 1×1 expansion to `planes * 4`.
    pub conv3: Option<Conv2d>,
    /// Bottleneck only: BatchNorm after `conv3` (the last one of the block).
    pub bn3: Option<BatchNorm>,
    /// Projection shortcut when stride ≠ 1 or the channel count changes.
    pub downsample: Option<Downsample>,
}

impl ResidualBlock {
    fn new(
        kind: BlockKind,
        inplanes: usize,
        planes: usize,
        stride: usize,
        zero_init_last: bool,
        device: &Device,
    ) -> Self {
        let out = planes * kind.expansion();
        let bn = |c: usize| BatchNormConfig::new(c).init(device);
        let zero = |mut b: BatchNorm| {
            // `zeros_like` returns a tensor without gradient tracking: keep the parameter
            // trainable (torchvision's zero-initialised gamma trains like any other).
            b.gamma = b.gamma.map(|g| {
                let trainable = g.is_require_grad();
                g.zeros_like().set_require_grad(trainable)
            });
            b
        };
        let downsample = (stride != 1 || inplanes != out).then(|| Downsample {
            conv: conv(inplanes, out, 1, stride, 0, device),
            bn: bn(out),
        });
        match kind {
            BlockKind::Basic => {
                let bn2 = bn(planes);
                Self {
                    conv1: conv(inplanes, planes, 3, stride, 1, device),
                    bn1: bn(planes),
                    conv2: conv(planes, planes, 3, 1, 1, device),
                    bn2: if zero_init_last { zero(bn2) } else { bn2 },
                    conv3: None,
                    bn3: None,
                    downsample,
                }
            }
            BlockKind::Bottleneck => {
                let bn3 = bn(out);
                Self {
                    conv1: conv(inplanes, planes, 1, 1, 0, device),
                    bn1: bn(planes),
                    conv2: conv(planes, planes, 3, stride, 1, device),
                    bn2: bn(planes),
                    conv3: Some(conv(planes, out, 1, 1, 0, device)),
                    bn3: Some(if zero_init_last { zero(bn3) } else { bn3 }),
                    downsample,
                }
            }
        }
    }

    /// The last BatchNorm of the block (`bn2` for BasicBlock, `bn3` for Bottleneck): the one
    /// `zero_init_residual` zeroes.
    pub fn last_bn(&self) -> &BatchNorm {
        self.bn3.as_ref().unwrap_or(&self.bn2)
    }

    /// Forward pass. Shapes: `[N, inplanes, H, W]` → `[N, planes·expansion, H/stride, W/stride]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let mut out = self.bn2.forward(self.conv2.forward(out));
        if let (Some(conv3), Some(bn3)) = (&self.conv3, &self.bn3) {
            out = bn3.forward(conv3.forward(relu(out)));
        }
        relu(out + identity)
    }
}

/// A torchvision-topology ResNet: stem (7×7/2 convolution, BatchNorm, ReLU, 3×3/2 max pool),
/// four stages of residual blocks (64, 128, 256, 512 planes; stride 1, 2, 2, 2), global
/// average pooling and an optional linear head.
///
/// Freezing: `model.freeze()` (burn's `Module::freeze`) stops gradients for every parameter
/// and switches every BatchNorm to its running statistics, also on an autodiff device.
#[derive(Module, Debug)]
pub struct ResNet {
    /// Stem convolution 7×7, stride 2, padding 3, no bias.
    pub conv1: Conv2d,
    /// Stem BatchNorm.
    pub bn1: BatchNorm,
    /// Stem max pool 3×3, stride 2, padding 1.
    pub maxpool: MaxPool2d,
    /// Stage 1 (64 planes, stride 1).
    pub layer1: Vec<ResidualBlock>,
    /// Stage 2 (128 planes, stride 2).
    pub layer2: Vec<ResidualBlock>,
    /// Stage 3 (256 planes, stride 2).
    pub layer3: Vec<ResidualBlock>,
    /// Stage 4 (512 planes, stride 2).
    pub layer4: Vec<ResidualBlock>,
    /// Optional linear head (`feature_dim` → classes, with bias).
    pub fc: Option<Linear>,
}

impl ResNet {
    /// Pooled features. Shapes: `[N, in_channels, H, W]` → `[N, 512]` (BasicBlock) or
    /// `[N, 2048]` (Bottleneck). H and W of at least 32 keep every stage non-empty.
    pub fn forward_features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let mut x = self.maxpool.forward(x);
        for block in self.blocks() {
            x = block.forward(x);
        }
        let [n, c, h, w] = x.dims();
        x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
    }

    /// Logits `[N, num_classes]` when the model has a head, else the pooled features
    /// (same as [`ResNet::forward_features`]).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let features = self.forward_features(x);
        match &self.fc {
            Some(fc) => fc.forward(features),
            None => features,
        }
    }

    /// Initialises every lazily initialised parameter now, in the order a first
    /// [`forward`](Self::forward) would (so the random weights are the ones that pass would draw
    /// from the seeded device). Copies made afterwards (`fork` onto other devices for data
    /// parallelism) then share these values instead of drawing their own.
    pub fn initialize_in_forward_order(&self) {
        touch(&self.conv1);
        touch(&self.bn1);
        for block in self.blocks() {
            // ResidualBlock::forward computes the identity branch first.
            if let Some(d) = &block.downsample {
                touch(&d.conv);
                touch(&d.bn);
            }
            touch(&block.conv1);
            touch(&block.bn1);
            touch(&block.conv2);
            touch(&block.bn2);
            if let (Some(conv3), Some(bn3)) = (&block.conv3, &block.bn3) {
                touch(conv3);
                touch(bn3);
            }
        }
        if let Some(fc) = &self.fc {
            touch(fc);
        }
    }

    /// All residual blocks in order (`layer1.0`, `layer1.1`, ..., `layer4.last`).
    pub fn blocks(&self) -> impl Iterator<Item = &ResidualBlock> {
        self.layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
    }

    /// Width of the pooled feature (512 or 2048), read from the last block.
    pub fn feature_dim(&self) -> usize {
        self.blocks()
            .last()
            .map(|b| b.last_bn().gamma.dims()[0])
            .unwrap_or(0)
    }

    /// Number of input channels the stem expects.
    pub fn in_channels(&self) -> usize {
        self.conv1.weight.dims()[1]
    }

    /// Removes the head and returns the encoder alone (`fc` dropped).
    pub fn without_head(mut self) -> Self {
        self.fc = None;
        self
    }

    /// Whether the model has a linear head.
    pub fn has_head(&self) -> bool {
        self.fc.is_some()
    }
}

/// Initialises `module`'s lazily initialised parameters, in its field order (the order a layer's
/// own forward reads them: weight, then bias).
pub(crate) fn touch<M: Module>(module: &M) {
    struct Touch;
    impl burn::module::ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            drop(param.val());
        }
    }
    module.visit(&mut Touch);
}
