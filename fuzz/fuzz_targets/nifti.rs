//! The NIfTI reader on arbitrary bytes, as `.nii` (first byte even) or `.nii.gz` (odd).
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let name = if sel % 2 == 0 { "in.nii" } else { "in.nii.gz" };
    let p = common::input_file(name, rest);
    let _ = twinscan_data::nifti::read_nifti(&p);
});
