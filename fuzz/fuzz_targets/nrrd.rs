//! The NRRD reader on arbitrary bytes: any error is fine, a panic, abort or hang is a bug.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let p = common::input_file("in.nrrd", data);
    let _ = twinscan_data::nrrd::read_nrrd(&p);
});
