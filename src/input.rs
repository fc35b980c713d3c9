//! The glue between the two burn-free crates: a prepared slice as an augmentation input.

use twinscan_augment::InputPlane;
use twinscan_data::Prepared;

/// Slice `row` of a prepared dataset (its `labels.csv` row), HU-window channel `channel`, as
/// an 8-bit [`InputPlane`] for [`twinscan_augment::Pipeline`]. Burn-free.
///
/// # Panics
/// When `row >= data.len()` or `channel >= data.channels()`.
///
/// ```no_run
/// use twinscan::augment::{Pipeline, SampleKey, Worker};
/// use twinscan::data::Prepared;
///
/// let data = Prepared::open("runs/quickstart/prepared".as_ref())?;
/// let pipe = Pipeline::preset("study_barlow")?;
/// let key = SampleKey { seed: 0, epoch: 0, index: 0, view: 0, domain: 0 };
/// let view = pipe.augment(&twinscan::slice_input(&data, 0, 0), key, &mut Worker::default());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn slice_input(data: &Prepared, row: usize, channel: usize) -> InputPlane<'_> {
    assert!(
        channel < data.channels(),
        "channel {channel} of a dataset with {} channel(s)",
        data.channels()
    );
    let s = data.size();
    InputPlane::u8(
        s,
        s,
        &data.image(row)[channel * s * s..(channel + 1) * s * s],
    )
}
