//! The DICOM CT reader (one-slice series: header checks, pixel decoding, HU) on arbitrary
//! bytes, Part-10 or bare.
#![no_main]

mod common;

use twinscan_data::dicom::{CtSeriesFiles, read_ct_series};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let p = common::input_file("ct.dcm", data);
    let _ = read_ct_series(&CtSeriesFiles {
        series_instance_uid: String::new(),
        files: vec![p],
    });
});
