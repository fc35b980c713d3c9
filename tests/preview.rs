//! `twinscan::preview` (the augment_preview example's work) on a prepared dataset: the slice
//! comes from the slice cache, the grid PNG has the expected size, bad rows name the folder.

use twinscan::augment::Pipeline;
use twinscan::data::png_io::read_png_gray;
use twinscan::preview::{PreviewSource, preview_tiles, write_grid};
use twinscan_testkit::Cohort;

#[test]
fn a_dataset_slice_previews_into_a_grid_png() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Cohort::new(2, 48, 3).write(tmp.path());
    let (input, what) = PreviewSource::Dataset {
        dir: data.clone(),
        row: 3,
    }
    .load()
    .unwrap();
    assert_eq!((input.h, input.w), (64, 64));
    assert!(what.ends_with("row 3"), "{what}");
    let pipe = Pipeline::preset("study_barlow").unwrap();
    let tiles = preview_tiles(&pipe, &input, &what, 4, 7).unwrap();
    assert_eq!(tiles.len(), 5);
    // study_barlow resizes to 128²: the input tile is shown at the views' size.
    assert!(tiles.iter().all(|t| (t.h, t.w) == (128, 128)));
    let out = tmp.path().join("grid.png");
    write_grid(&out, &tiles, 3).unwrap();
    let png = read_png_gray(&out).unwrap();
    assert_eq!((png.width, png.height), (3 * 130 + 2, 2 * 130 + 2));

    let e = PreviewSource::Dataset {
        dir: data.clone(),
        row: 1_000_000,
    }
    .load()
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("row 1000000") && e.contains(&data.display().to_string()),
        "{e}"
    );
}
