//! Turning host image buffers into device tensors.

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{ModelsError, Result};

/// Builds a `[N, C, H, W]` f32 tensor on `device` from a row-major (C order) buffer.
///
/// # Errors
/// [`ModelsError::InvalidBatch`] when a dimension is 0, the buffer length is not
/// `N·C·H·W`, or a value is NaN or infinite (its flat index is named).
///
/// ```
/// use burn::tensor::Device;
/// let device = Device::flex();
/// let x = twinscan_models::image_batch(&[0.0; 2 * 1 * 4 * 4], [2, 1, 4, 4], &device).unwrap();
/// assert_eq!(x.dims(), [2, 1, 4, 4]);
/// assert!(twinscan_models::image_batch(&[0.0; 3], [1, 1, 2, 2], &device).is_err());
/// ```
pub fn image_batch(data: &[f32], shape: [usize; 4], device: &Device) -> Result<Tensor<4>> {
    if shape.contains(&0) {
        return Err(ModelsError::InvalidBatch(format!(
            "shape {shape:?} has a zero dimension"
        )));
    }
    let expected: usize = shape.iter().product();
    if data.len() != expected {
        return Err(ModelsError::InvalidBatch(format!(
            "buffer holds {} values but shape {shape:?} (N, C, H, W) needs {expected}",
            data.len()
        )));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(ModelsError::InvalidBatch(format!(
            "value {} at flat index {i} (image {}) is not finite",
            data[i],
            i / (expected / shape[0])
        )));
    }
    Ok(Tensor::from_data(
        TensorData::new(data.to_vec(), shape),
        device,
    ))
}
