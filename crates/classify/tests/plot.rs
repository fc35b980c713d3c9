//! Charts are real PNGs with content; empty input and a missing folder are errors.

use std::path::Path;

use twinscan_classify::metrics::MeanSd;
use twinscan_classify::plot::{Panel, Series, plot_curves, plot_table};
use twinscan_classify::report::{ResultTable, TableMetric};

/// Decodes a PNG: (width, height, number of distinct RGB colours).
fn decode(path: &Path) -> (u32, u32, usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()]
        .chunks(ch)
        .map(|p| &p[..3])
        .collect();
    (info.width, info.height, colours.len())
}

fn has_colour(path: &Path, rgb: [u8; 3]) -> bool {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    buf[..info.buffer_size()].chunks(ch).any(|p| p[..3] == rgb)
}

#[test]
fn curves_are_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("curves.png");
    let panels = [
        Panel {
            y_label: "loss".into(),
            series: vec![
                Series {
                    name: "train".into(),
                    points: vec![(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)],
                },
                Series {
                    name: "validation".into(),
                    points: vec![(1.0, 0.8), (2.0, f64::NAN), (3.0, 0.6)],
                },
            ],
        },
        Panel {
            y_label: "macro F1".into(),
            series: vec![Series {
                name: "val".into(),
                points: vec![(1.0, 0.5), (2.0, 0.6), (3.0, 0.7)],
            }],
        },
    ];
    plot_curves(&path, "resnet18 frozen (random)", "epoch", &panels).unwrap();
    let (w, h, colours) = decode(&path);
    assert_eq!((w, h), (1000, 40 + 2 * 320));
    assert!(colours > 20, "only {colours} colours: blank chart?");
    assert!(has_colour(&path, [31, 119, 180]) && has_colour(&path, [255, 127, 14]));
    // Nothing else left in the folder (the temporary file was renamed).
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

fn table(experiments: &[&str], structures: &[&str]) -> ResultTable {
    ResultTable {
        metric: TableMetric::F1,
        structures: structures.iter().map(|s| s.to_string()).collect(),
        experiments: experiments.iter().map(|s| s.to_string()).collect(),
        cells: structures
            .iter()
            .enumerate()
            .map(|(i, _)| {
                experiments
                    .iter()
                    .enumerate()
                    .map(|(j, _)| {
                        MeanSd::of(&[
                            0.3 + 0.02 * i as f64 + 0.1 * j as f64,
                            0.35 + 0.02 * i as f64,
                        ])
                    })
                    .collect()
            })
            .collect(),
    }
}

#[test]
fn table_chart_is_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("chart_f1.png");
    let t = table(
        &["random-frozen", "bt-scratch-frozen", "bt-imagenet-finetune"],
        &["Brain", "Brainstem", "Parotid_L", "SpinalCord"],
    );
    plot_table(&path, &t).unwrap();
    let (w, _, colours) = decode(&path);
    assert!(w >= 900);
    assert!(colours > 20);
    for rgb in [[31, 119, 180], [255, 127, 14], [44, 160, 44]] {
        assert!(has_colour(&path, rgb), "experiment colour {rgb:?} missing");
    }
}

#[test]
fn empty_input_and_missing_folders_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.png");
    let e = plot_curves(&path, "t", "epoch", &[]).unwrap_err();
    assert!(e.to_string().contains("x.png"), "{e}");
    let e = plot_curves(
        &path,
        "t",
        "epoch",
        &[Panel {
            y_label: "loss".into(),
            series: vec![Series {
                name: "a".into(),
                points: vec![(1.0, f64::NAN)],
            }],
        }],
    )
    .unwrap_err();
    assert!(e.to_string().contains("no finite point"), "{e}");
    let e = plot_table(&path, &table(&[], &["Brain"])).unwrap_err();
    assert!(e.to_string().contains("x.png"), "{e}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    let missing = tmp.path().join("no/such/folder/c.png");
    let e = plot_table(&missing, &table(&["a"], &["Brain"])).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
}
