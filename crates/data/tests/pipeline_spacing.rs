//! `--spacing MM` (issue 10 §2): a fixed in-plane pixel size, centre-cropped or padded
//! with air, recorded in dataset.json.

mod common;

use twinscan_data::Volume;
use twinscan_data::prepared::Prepared;

#[test]
fn fixed_spacing_pads_with_air_and_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    // 20 × 20 mm at 1 mm, 40 HU everywhere (window 40:400 -> 128).
    let g = common::grid([20, 20, 2], [1.0, 1.0, 2.0]);
    let ct = Volume {
        geometry: g.clone(),
        data: vec![40i16; g.len()],
    };
    let m = Volume {
        geometry: g.clone(),
        data: vec![1u8; g.len()],
    };
    common::write_deepmind(&input.join("s1"), &ct, &[("Brain", &m)]);
    let run = |name: &str, spacing: Option<f64>| {
        let out = tmp.path().join(name);
        common::run(&input, &out, |c| {
            c.size = 20;
            c.png_bit_depth = None;
            c.spacing_mm = spacing;
        })
        .map(|_| Prepared::open(&out).unwrap())
    };
    // Default: the whole field of view.
    let ds = run("fov", None).unwrap();
    assert_eq!(ds.info().pixel_spacing_mm, None);
    assert!(ds.image(0).iter().all(|&v| v == 128));
    // 2 mm pixels: 40 mm shown, the 20 mm image in columns/rows 5..=14, air (0) around.
    let ds = run("two", Some(2.0)).unwrap();
    assert_eq!(ds.info().pixel_spacing_mm, Some(2.0));
    let img = ds.image(0);
    for r in 0..20 {
        for c in 0..20 {
            let inside = (5..=14).contains(&r) && (5..=14).contains(&c);
            assert_eq!(img[r * 20 + c], if inside { 128 } else { 0 }, "({r}, {c})");
        }
    }
    // 0.5 mm pixels: the central 10 mm, no padding.
    let ds = run("half", Some(0.5)).unwrap();
    assert!(ds.image(0).iter().all(|&v| v == 128));
    // A non-positive spacing is refused, naming the config field.
    let e = run("bad", Some(0.0)).unwrap_err();
    assert!(e.to_string().contains("invalid `spacing_mm`"), "{e}");
}
