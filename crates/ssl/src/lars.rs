//! LARS (You et al. 2017) as the Barlow Twins reference code runs it, as a burn 0.22
//! [`Optimizer`].
//!
//! Per parameter `p` with gradient `g` and momentum buffer `mu` (zero before the first step):
//!
//! ```text
//! if rank(p) > 1:                                   (1-D parameters are excluded)
//!     g <- g + weight_decay * p
//!     q <- eta * ‖p‖ / ‖g‖   if ‖p‖ > 0 and ‖g‖ > 0, else 1
//!     g <- q * g
//! mu <- momentum * mu + g
//! p  <- p - lr * mu
//! ```
//!
//! **Learning rates.** The `lr` that burn passes to [`Optimizer::step`] is the *multiplier*
//! `m(step)` of the schedule (warm-up + cosine, times `batch/256` in the paper's scaling, see
//! [`crate::schedule`]); the step uses `m × lr_weights` for parameters of rank ≥ 2 and
//! `m × lr_biases` for rank-1 parameters (biases, BatchNorm gamma and beta). This is exactly the
//! reference code's two parameter groups (`param.ndim == 1` → biases group), without needing
//! burn parameter groups. [`LarsConfig::learning_rates`] gives both effective rates for a
//! multiplier, for logging.
//!
//! The momentum buffer is the optimiser state ([`LarsState`], a burn `RecordState`), so
//! `ModuleOptimizer::to_record` / `load_record` / `save` / `load` carry it into checkpoints.

use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SslError};

/// Hyper-parameters of [`Lars`]. Defaults are the paper's; [`LarsConfig::study`] gives the
/// study's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LarsConfig {
    /// Base learning rate of parameters of rank ≥ 2 (conv and linear weights), multiplied by the
    /// schedule's multiplier. Paper: 0.2; study: 0.002.
    pub lr_weights: f64,
    /// Base learning rate of rank-1 parameters (biases, BatchNorm gamma/beta). Paper: 0.0048;
    /// study: 0.000048.
    pub lr_biases: f64,
    /// L2 weight decay added to the gradient of rank ≥ 2 parameters. Paper 1.5e-6; the study's
    /// code 1e-6.
    pub weight_decay: f64,
    /// Trust coefficient η of the layer-wise ratio `η ‖p‖ / ‖g‖`. Paper and study: 0.001.
    pub eta: f64,
    /// Momentum factor (no dampening, no Nesterov). Paper and study: 0.9.
    pub momentum: f64,
}

impl Default for LarsConfig {
    fn default() -> Self {
        Self {
            lr_weights: 0.2,
            lr_biases: 0.0048,
            weight_decay: 1.5e-6,
            eta: 0.001,
            momentum: 0.9,
        }
    }
}

impl LarsConfig {
    /// The study's values: `lr_weights` 0.002, `lr_biases` 0.000048, weight decay 1e-6 (its
    /// code), eta 0.001, momentum 0.9. Use with [`crate::LrScaling::Fixed`]`(8.0)`.
    pub fn study() -> Self {
        Self {
            lr_weights: 0.002,
            lr_biases: 0.000048,
            weight_decay: 1e-6,
            ..Self::default()
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`SslError::InvalidConfig`] naming the first field that is negative or not finite.
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("lars.lr_weights", self.lr_weights),
            ("lars.lr_biases", self.lr_biases),
            ("lars.weight_decay", self.weight_decay),
            ("lars.eta", self.eta),
            ("lars.momentum", self.momentum),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(SslError::InvalidConfig {
                    field,
                    reason: format!("must be finite and >= 0, got {value}"),
                });
            }
        }
        Ok(())
    }

    /// Validates and builds the per-parameter optimiser.
    ///
    /// # Errors
    /// See [`validate`](Self::validate).
    pub fn build(&self) -> Result<Lars> {
        self.validate()?;
        Ok(Lars { config: *self })
    }

    /// Validates and builds the module-level driver (`ModuleOptimizer::from(lars)`); step it
    /// with `optim.step(multiplier, model, grads)`.
    ///
    /// # Errors
    /// See [`validate`](Self::validate).
    pub fn init(&self) -> Result<ModuleOptimizer> {
        Ok(ModuleOptimizer::from(self.build()?))
    }

    /// The effective `(weights, biases)` learning rates for a schedule multiplier.
    pub fn learning_rates(&self, multiplier: f64) -> (f64, f64) {
        (multiplier * self.lr_weights, multiplier * self.lr_biases)
    }
}

/// LARS as a burn [`Optimizer`]; see the [module documentation](self) for the update rule.
///
/// ```
/// use burn::optim::Optimizer;
/// use burn::tensor::{Device, Tensor};
/// use twinscan_ssl::LarsConfig;
///
/// let device = Device::flex();
/// let lars = LarsConfig { weight_decay: 0.0, momentum: 0.9, eta: 0.5, lr_weights: 1.0, lr_biases: 0.1 }
///     .build()?;
/// // A 2-D weight: ‖p‖ = 5, ‖g‖ = 1, trust ratio 0.5·5/1 = 2.5, so p ← p − 2.5 g.
/// let p = Tensor::<2>::from_floats([[3.0, 4.0]], &device);
/// let g = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
/// let (p, _state) = lars.step(1.0, p, g, None);
/// let v = p.into_data().try_to_vec::<f32>().unwrap();
/// assert!((v[0] - 0.5).abs() < 1e-6 && (v[1] - 4.0).abs() < 1e-6);
/// # Ok::<(), twinscan_ssl::SslError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Lars {
    config: LarsConfig,
}

/// Per-parameter state of [`Lars`]: the momentum buffer, same shape as the parameter.
///
/// Recorded as one tensor leaf `{param id}.momentum` (burn 0.22's `#[derive(RecordState)]`
/// only works inside burn-optim, so the two methods are written out here).
#[derive(Clone, Debug)]
pub struct LarsState<const D: usize> {
    /// Momentum buffer `mu`.
    pub momentum: Tensor<D>,
}

impl<const D: usize> RecordState for LarsState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "momentum", self.momentum.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let data = src.take_tensor(prefix, "momentum")?;
        if data.rank() != D {
            return None;
        }
        Some(Self {
            momentum: Tensor::from_data(data, device),
        })
    }
}

impl Lars {
    /// The hyper-parameters.
    pub fn config(&self) -> &LarsConfig {
        &self.config
    }
}

/// L2 norm of a tensor as a one-element tensor (stays on the device).
fn l2<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    t.square().sum().sqrt()
}

impl Optimizer for Lars {
    type State<const D: usize> = LarsState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        mut grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let lr = if D > 1 {
            grad = grad.add(tensor.clone().mul_scalar(c.weight_decay));
            let p_norm = l2(tensor.clone());
            let g_norm = l2(grad.clone());
            let usable = p_norm
                .clone()
                .greater_elem(0.0)
                .bool_and(g_norm.clone().greater_elem(0.0));
            // Where a norm is zero the quotient is inf/NaN; mask_where discards it (a select,
            // not an arithmetic blend), leaving a ratio of exactly 1.
            let ratio = p_norm
                .ones_like()
                .mask_where(usable, p_norm.mul_scalar(c.eta).div(g_norm));
            let ratio: Tensor<D> = ratio.reshape([1; D]);
            grad = grad.mul(ratio);
            lr * c.lr_weights
        } else {
            lr * c.lr_biases
        };
        let momentum = match state {
            Some(state) => state.momentum.mul_scalar(c.momentum).add(grad),
            None => grad,
        };
        let tensor = tensor - momentum.clone().mul_scalar(lr);
        (tensor, Some(LarsState { momentum }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        LarsState {
            momentum: state.momentum.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Hand-computed: wd 0.1, eta 0.5, momentum 0.9, lr_weights 2, lr_biases 3, multiplier 0.5.
    #[test]
    fn hand_computed_step_weights_biases_and_zero() {
        let dev = Device::flex();
        let lars = LarsConfig {
            lr_weights: 2.0,
            lr_biases: 3.0,
            weight_decay: 0.1,
            eta: 0.5,
            momentum: 0.9,
        }
        .build()
        .unwrap();
        // Weight p = [[3, 4]] (‖p‖ = 5), g = [[0.7, -0.4]]: g + 0.1 p = [[1.0, 0.0]], ‖·‖ = 1,
        // ratio 0.5·5/1 = 2.5 → g = [[2.5, 0]]; mu = 0.9·[[1, 1]] + g = [[3.4, 0.9]];
        // lr = 0.5·2 = 1 → p = [[3 − 3.4, 4 − 0.9]] = [[−0.4, 3.1]].
        let p = Tensor::<2>::from_floats([[3.0, 4.0]], &dev);
        let g = Tensor::<2>::from_floats([[0.7, -0.4]], &dev);
        let mu = Tensor::<2>::from_floats([[1.0, 1.0]], &dev);
        let (p, s) = lars.step(0.5, p, g, Some(LarsState { momentum: mu }));
        let p = v(p);
        let mu = v(s.unwrap().momentum);
        for (a, b) in p.iter().zip([-0.4, 3.1]) {
            assert!((a - b).abs() < 1e-6, "{p:?}");
        }
        for (a, b) in mu.iter().zip([3.4, 0.9]) {
            assert!((a - b).abs() < 1e-6, "{mu:?}");
        }

        // Bias: no decay, no ratio, lr = 0.5·3 = 1.5, no state → mu = g.
        // p = [1, 2] − 1.5·[0.2, −0.4] = [0.7, 2.6].
        let p = Tensor::<1>::from_floats([1.0, 2.0], &dev);
        let g = Tensor::<1>::from_floats([0.2, -0.4], &dev);
        let (p, s) = lars.step(0.5, p, g, None);
        for (a, b) in v(p).iter().zip([0.7, 2.6]) {
            assert!((a - b).abs() < 1e-6);
        }
        for (a, b) in v(s.unwrap().momentum).iter().zip([0.2, -0.4]) {
            assert!((a - b).abs() < 1e-6);
        }

        // All-zero weight: ‖p‖ = 0 → ratio 1, decay adds 0: p = 0 − 1·g.
        let p = Tensor::<2>::zeros([2, 2], &dev);
        let g = Tensor::<2>::from_floats([[1.0, -2.0], [0.5, 0.0]], &dev);
        let (p, _) = lars.step(0.5, p, g, None);
        for (a, b) in v(p).iter().zip([-1.0, 2.0, -0.5, 0.0]) {
            assert!((a - b).abs() < 1e-6);
        }

        // Zero gradient on a non-zero weight: g = wd·p ≠ 0 here; with wd 0 too, ‖g‖ = 0 → ratio 1
        // and the parameter only moves by the momentum.
        let lars0 = LarsConfig {
            weight_decay: 0.0,
            ..*lars.config()
        }
        .build()
        .unwrap();
        let p = Tensor::<2>::from_floats([[1.0, 1.0]], &dev);
        let g = Tensor::<2>::zeros([1, 2], &dev);
        let mu = Tensor::<2>::from_floats([[1.0, -1.0]], &dev);
        let (p, _) = lars0.step(0.5, p, g, Some(LarsState { momentum: mu }));
        for (a, b) in v(p).iter().zip([0.1, 1.9]) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    /// Momentum survives a byte round trip of the optimiser record: the restored optimiser's
    /// next step equals the original's bit for bit.
    #[test]
    fn state_round_trips_through_bytes() {
        use burn::nn::{Linear, LinearConfig};
        use burn::optim::GradientsParams;

        let dev = Device::flex().autodiff();
        let mut model: Linear = LinearConfig::new(3, 2).init(&dev);
        let x = Tensor::<2>::from_floats([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]], &dev);
        let grads = |m: &Linear, s: f32| {
            GradientsParams::from_grads(m.forward(x.clone()).mul_scalar(s).sum().backward(), m)
        };
        let mut optim = LarsConfig::default().init().unwrap();
        for s in [1.0, 0.5] {
            let g = grads(&model, s);
            model = optim.step(1.0, model, g);
        }
        let bytes = optim.into_bytes().unwrap();
        let mut restored = LarsConfig::default()
            .init()
            .unwrap()
            .from_bytes(bytes)
            .unwrap();
        // A fresh optimiser (no momentum) must differ, or the test proves nothing.
        let mut fresh = LarsConfig::default().init().unwrap();
        let a = optim.step(1.0, model.clone(), grads(&model, -0.3));
        let b = restored.step(1.0, model.clone(), grads(&model, -0.3));
        let c = fresh.step(1.0, model.clone(), grads(&model, -0.3));
        let (wa, wb, wc) = (v(a.weight.val()), v(b.weight.val()), v(c.weight.val()));
        assert_eq!(wa, wb);
        assert_ne!(wa, wc);
        let ba = v(a.bias.unwrap().val());
        assert_eq!(ba, v(b.bias.unwrap().val()));
        assert_ne!(ba, v(c.bias.unwrap().val()));
    }

    #[test]
    fn config_validation_and_rates() {
        assert!(LarsConfig::default().validate().is_ok());
        let bad = LarsConfig {
            eta: -1.0,
            ..LarsConfig::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(SslError::InvalidConfig {
                field: "lars.eta",
                ..
            })
        ));
        let (w, b) = LarsConfig::study().learning_rates(8.0);
        assert!((w - 0.016).abs() < 1e-12 && (b - 0.000384).abs() < 1e-12);
    }
}
