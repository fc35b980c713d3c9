//! Global-norm gradient clipping with `torch.nn.utils.clip_grad_norm_` semantics.
//!
//! ```text
//! total = sqrt(Σ_p ‖g_p‖²)           over every parameter of the module that has a gradient
//! coef  = max_norm / (total + 1e-6)
//! if coef < 1:  g_p <- coef · g_p    for every p
//! ```
//!
//! burn's own `GradientClipping::Norm` clips each tensor by its own norm, which is not the
//! same thing: it changes the direction of the whole update.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::error::{Result, TrainError};

/// Sums `‖g‖²` over the module's parameters, on the device.
struct SquaredNorms<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorms<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let sq = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + sq,
                None => sq,
            });
        }
    }
}

/// Multiplies every gradient of the module by a scalar.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    coef: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.coef));
        }
    }
}

/// The global L2 norm `sqrt(Σ_p ‖g_p‖²)` of the gradients of `module`'s parameters (0 when none
/// has a gradient). One read back from the device.
///
/// # Errors
/// [`TrainError::TensorRead`] if the device cannot return the value.
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> Result<f64> {
    let mut v = SquaredNorms { grads, total: None };
    module.visit(&mut v);
    match v.total {
        None => Ok(0.0),
        Some(t) => {
            let sq: f32 =
                t.sqrt()
                    .try_into_scalar::<f32>()
                    .map_err(|e| TrainError::TensorRead {
                        what: "global gradient norm",
                        reason: format!("{e:?}"),
                    })?;
            Ok(sq as f64)
        }
    }
}

/// Clips the gradients of `module`'s parameters to a global L2 norm of at most `max_norm`, in
/// place, as `torch.nn.utils.clip_grad_norm_(params, max_norm)` does, and returns the norm
/// *before* clipping (as torch does). A non-finite norm is returned unchanged and nothing is
/// scaled (the caller decides; the pretraining loop stops on it).
///
/// ```
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::GradientsParams;
/// use burn::tensor::{Device, Tensor};
/// use twinscan_train::clip_global_norm;
///
/// let device = Device::flex().autodiff();
/// let layer: Linear = LinearConfig::new(2, 1).init(&device);
/// let x = Tensor::<2>::from_floats([[3.0, 4.0]], &device);
/// // d(sum(xW + b))/dW = xᵀ = [3, 4], d/db = 1: global norm sqrt(9 + 16 + 1) = sqrt(26).
/// let mut grads = GradientsParams::from_grads(layer.forward(x).sum().backward(), &layer);
/// let norm = clip_global_norm(&layer, &mut grads, 1.0)?;
/// assert!((norm - 26f64.sqrt()).abs() < 1e-5);
/// assert!((twinscan_train::global_grad_norm(&layer, &grads)? - 1.0).abs() < 1e-5);
/// # Ok::<(), twinscan_train::TrainError>(())
/// ```
///
/// # Errors
/// [`TrainError::InvalidConfig`] if `max_norm` is not positive and finite;
/// [`TrainError::TensorRead`] if the norm cannot be read back.
pub fn clip_global_norm<M: Module>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> Result<f64> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(TrainError::InvalidConfig {
            field: "clip.max_norm",
            reason: format!("must be finite and > 0, got {max_norm}"),
        });
    }
    let total = global_grad_norm(module, grads)?;
    if !total.is_finite() {
        return Ok(total);
    }
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        module.visit(&mut Scale { grads, coef });
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    /// Two linear layers; hand-computed gradients of sum(layer(x)) are xᵀ for W and 1 for b.
    #[derive(Module, Debug)]
    struct Two {
        a: Linear,
        b: Linear,
    }

    fn grads_of(model: &Two, dev: &Device) -> GradientsParams {
        let xa = Tensor::<2>::from_floats([[1.0, 2.0]], dev);
        let xb = Tensor::<2>::from_floats([[2.0, 0.0, 4.0]], dev);
        let loss = model.a.forward(xa).sum() + model.b.forward(xb).sum();
        GradientsParams::from_grads(loss.backward(), model)
    }

    fn vals(model: &Two, grads: &GradientsParams) -> Vec<f32> {
        let mut out = Vec::new();
        for l in [&model.a, &model.b] {
            out.extend(
                grads
                    .get::<2>(l.weight.id)
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap(),
            );
            let b = l.bias.as_ref().unwrap();
            out.extend(
                grads
                    .get::<1>(b.id)
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap(),
            );
        }
        out
    }

    #[test]
    fn clips_globally_like_torch() {
        let dev = Device::flex().autodiff();
        let model = Two {
            a: LinearConfig::new(2, 1).init(&dev),
            b: LinearConfig::new(3, 1).init(&dev),
        };
        // Gradients: a.W = [1, 2], a.b = [1], b.W = [2, 0, 4], b.b = [1]:
        // Σ g² = 1 + 4 + 1 + 4 + 0 + 16 + 1 = 27, total = sqrt(27) = 5.196152422706632.
        let mut grads = grads_of(&model, &dev);
        let total = clip_global_norm(&model, &mut grads, 2.0).unwrap();
        assert!((total - 27f64.sqrt()).abs() < 1e-5, "{total}");
        let coef = 2.0 / (27f64.sqrt() + 1e-6);
        let want = [1.0, 2.0, 1.0, 2.0, 0.0, 4.0, 1.0].map(|g: f64| (g * coef) as f32);
        for (a, b) in vals(&model, &grads).iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // A per-tensor clip would give a.b = 1 (its own norm is 1 < 2); the global clip
        // scaled it to 2/sqrt(27) = 0.3849.
        assert!((vals(&model, &grads)[2] - 0.384_900_2).abs() < 1e-6);

        // Below the threshold nothing changes.
        let mut grads = grads_of(&model, &dev);
        let total = clip_global_norm(&model, &mut grads, 10.0).unwrap();
        assert!((total - 27f64.sqrt()).abs() < 1e-5);
        for (a, b) in vals(&model, &grads)
            .iter()
            .zip([1.0, 2.0, 1.0, 2.0, 0.0, 4.0, 1.0])
        {
            assert_eq!(*a, b);
        }
        assert!(clip_global_norm(&model, &mut grads, 0.0).is_err());
        assert!(clip_global_norm(&model, &mut grads, f64::NAN).is_err());
    }
}
