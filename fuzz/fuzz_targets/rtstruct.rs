//! The RTSTRUCT reader on arbitrary bytes, then the rasteriser on a small CT grid in the
//! same frame of reference (so that contours, however wild, are drawn).
#![no_main]

mod common;


use twinscan_data::dicom::{CtSeries, rasterize, read_rtstruct};
use twinscan_data::{Geometry, Volume};

fn ct(frame: &str) -> CtSeries {
    let geometry = Geometry {
        dims: [32, 32, 8],
        origin: [-16.0, -16.0, 0.0],
        directions: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.5]],
    };
    CtSeries {
        series_instance_uid: String::new(),
        frame_of_reference_uid: frame.to_string(),
        patient_id: None,
        sop_instance_uids: vec![String::new(); 8],
        files: Vec::new(),
        volume: Volume {
            data: vec![0.0; geometry.len()],
            geometry,
        },
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let p = common::input_file("rt.dcm", data);
    if let Ok(rt) = read_rtstruct(&p) {
        let frame = rt.frame_of_reference_uid.clone().unwrap_or_default();
        let _ = rasterize(&rt, &ct(&frame));
    }
});
