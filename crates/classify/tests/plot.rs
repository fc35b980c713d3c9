//! Charts are real PNGs with content where the inputs say it should be; empty input and a
//! missing folder are errors that name the file and leave nothing behind.
//!
//! Geometry checks use only hand-derivable facts (a bar's height is proportional to its
//! value, so a 0.8 bar is twice as tall as a 0.4 bar; an undefined mean draws no bar; an error
//! bar exists only with two or more seeds), not pixel positions copied from the implementation.
//! Set `TWINSCAN_PLOT_OUT=/some/folder` to keep the charts for a look.

use std::collections::HashSet;
use std::path::Path;

use twinscan_classify::ClassifyError;
use twinscan_classify::metrics::{Interval, MeanSd};
use twinscan_classify::plot::{Panel, Series, plot_curves, plot_table, plot_table_with_intervals};
use twinscan_classify::report::{ResultTable, TableMetric};

/// The first colours the charts assign (series / experiments 0, 1, 2): matplotlib's tab10.
const BLUE: [u8; 3] = [31, 119, 180];
const ORANGE: [u8; 3] = [255, 127, 14];
const GREEN: [u8; 3] = [44, 160, 44];

/// A decoded RGB image.
struct Image {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

impl Image {
    fn read(path: &Path) -> Self {
        let file = std::fs::File::open(path).unwrap();
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let ch = info.color_type.samples();
        assert!(ch >= 3, "not an RGB image: {:?}", info.color_type);
        let rgb = buf[..info.buffer_size()]
            .chunks(ch)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        if let Some(dir) = std::env::var_os("TWINSCAN_PLOT_OUT") {
            std::fs::copy(path, Path::new(&dir).join(path.file_name().unwrap())).unwrap();
        }
        Image {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        self.rgb[y * self.width + x]
    }

    fn distinct_colours(&self) -> usize {
        self.rgb.iter().collect::<HashSet<_>>().len()
    }

    fn count(&self, c: [u8; 3]) -> usize {
        self.rgb.iter().filter(|&&p| p == c).count()
    }

    /// Per column: (longest vertical run of colour `c`, the row just above that run).
    fn runs(&self, c: [u8; 3]) -> Vec<(usize, usize)> {
        (0..self.width)
            .map(|x| {
                let (mut best, mut top, mut cur) = (0, 0, 0);
                for y in 0..self.height {
                    if self.at(x, y) == c {
                        cur += 1;
                        if cur > best {
                            best = cur;
                            top = y + 1 - cur;
                        }
                    } else {
                        cur = 0;
                    }
                }
                (best, top)
            })
            .collect()
    }

    /// The tallest run of colour `c` in any column (a bar's height in pixels).
    fn tallest(&self, c: [u8; 3]) -> usize {
        self.runs(c).iter().map(|r| r.0).max().unwrap_or(0)
    }

    /// True when the rows `y0..y1` hold a dark (text or axis) pixel.
    fn has_dark_in_rows(&self, y0: usize, y1: usize) -> bool {
        (y0..y1).any(|y| (0..self.width).any(|x| self.at(x, y).iter().all(|&v| v < 80)))
    }
}

fn series(name: &str, points: &[(f64, f64)]) -> Series {
    Series {
        name: name.into(),
        points: points.to_vec(),
    }
}

fn panel(y_label: &str, series: Vec<Series>) -> Panel {
    Panel {
        y_label: y_label.into(),
        series,
    }
}

#[test]
fn curves_are_drawn() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("curves.png");
    let panels = [
        panel(
            "loss",
            vec![
                series("train", &[(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)]),
                series("validation", &[(1.0, 0.8), (2.0, f64::NAN), (3.0, 0.6)]),
            ],
        ),
        panel(
            "macro F1",
            vec![series("val", &[(1.0, 0.5), (2.0, 0.6), (3.0, 0.7)])],
        ),
    ];
    plot_curves(&path, "resnet18 frozen (random)", "epoch", &panels).unwrap();
    let img = Image::read(&path);
    // About 1000 px wide; each added panel adds height.
    assert_eq!(img.width, 1000);
    assert!(img.height >= 2 * 250, "height {}", img.height);
    assert!(
        img.distinct_colours() > 20,
        "only {} colours: blank chart?",
        img.distinct_colours()
    );
    // Both series colours are drawn (lines, markers, legend swatches).
    assert!(img.count(BLUE) > 200 && img.count(ORANGE) > 100);
    // The title (bundled font) is drawn in the top strip.
    assert!(img.has_dark_in_rows(0, 30), "no title text");
    // Nothing else left in the folder (the temporary file was renamed).
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

    // One panel is shorter than two: the panels are stacked.
    let one = tmp.path().join("one.png");
    plot_curves(&one, "t", "epoch", &panels[..1]).unwrap();
    let img1 = Image::read(&one);
    assert_eq!(img1.width, 1000);
    assert!(img1.height < img.height);
}

#[test]
fn curves_with_an_undefined_panel_are_drawn() {
    // Validation AUROC can be undefined for every epoch (one class per structure); the chart
    // must still be written, since the loss panel has data.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("curves_nan.png");
    let panels = [
        panel("loss", vec![series("train", &[(1.0, 0.9), (2.0, 0.5)])]),
        panel(
            "validation",
            vec![series("AUROC", &[(1.0, f64::NAN), (2.0, f64::NAN)])],
        ),
    ];
    plot_curves(&path, "t", "epoch", &panels).unwrap();
    assert!(Image::read(&path).count(BLUE) > 100);
}

fn table(
    experiments: &[&str],
    structures: &[&str],
    cell: impl Fn(usize, usize) -> MeanSd,
) -> ResultTable {
    ResultTable {
        metric: TableMetric::F1,
        structures: structures.iter().map(|s| s.to_string()).collect(),
        experiments: experiments.iter().map(|s| s.to_string()).collect(),
        cells: (0..structures.len())
            .map(|i| (0..experiments.len()).map(|j| cell(i, j)).collect())
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
        |i, j| {
            MeanSd::of(&[
                0.3 + 0.02 * i as f64 + 0.1 * j as f64,
                0.35 + 0.02 * i as f64,
            ])
        },
    );
    plot_table(&path, &t).unwrap();
    let img = Image::read(&path);
    assert!(img.width >= 900);
    assert!(img.distinct_colours() > 20);
    for rgb in [BLUE, ORANGE, GREEN] {
        // A bar, not just a legend swatch.
        assert!(
            img.tallest(rgb) > 50,
            "experiment colour {rgb:?} has no bar"
        );
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn bar_heights_follow_the_means_and_undefined_means_are_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("heights.png");
    // One seed each (n = 1: no error bars): 0.8 for experiment a, 0.4 for b, NaN for c.
    let one = |v: f64| MeanSd::of(&[v]);
    let t = table(&["a", "b", "c"], &["Brain", "Eye_L"], |_, j| {
        one([0.8, 0.4, f64::NAN][j])
    });
    plot_table(&path, &t).unwrap();
    let img = Image::read(&path);
    let (ha, hb) = (img.tallest(BLUE), img.tallest(ORANGE));
    let ratio = ha as f64 / hb as f64;
    assert!(hb > 80, "bar b only {hb} px tall");
    assert!(
        (ratio - 2.0).abs() < 0.03,
        "0.8 vs 0.4 bars: {ha} / {hb} px"
    );
    // Two bars of a (one per structure) have the same height.
    let runs_a = img.runs(BLUE);
    let tall_cols: Vec<usize> = (0..img.width).filter(|&x| runs_a[x].0 == ha).collect();
    assert!(
        tall_cols.windows(2).any(|w| w[1] - w[0] > 20),
        "one bar of a only"
    );
    // The undefined experiment has its legend swatch (a small square) but no bar.
    let hc = img.tallest(GREEN);
    assert!(hc > 5 && hc < 30, "experiment c: tallest run {hc} px");
    // n = 1: no error bar above a's bars.
    for &x in &tall_cols {
        let top = runs_a[x].1;
        assert!(
            (top.saturating_sub(40)..top).all(|y| img.at(x, y) != [0, 0, 0]),
            "error bar drawn for a single seed at column {x}"
        );
    }
}

#[test]
fn error_bars_need_two_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sd.png");
    // Experiment a: seeds 0.5 and 0.7 (mean 0.6, sd 0.1414); b: one seed 0.6.
    let t = table(&["a", "b"], &["Brain"], |_, j| {
        if j == 0 {
            MeanSd::of(&[0.5, 0.7])
        } else {
            MeanSd::of(&[0.6, f64::NAN])
        }
    });
    assert_eq!(t.cells[0][1].n, 1);
    plot_table(&path, &t).unwrap();
    let img = Image::read(&path);
    let (ha, hb) = (img.tallest(BLUE), img.tallest(ORANGE));
    assert!(
        (ha as i64 - hb as i64).abs() <= 1,
        "equal means: {ha} vs {hb} px"
    );
    // A black whisker rises above a's bar by sd / mean of its height (0.1414 / 0.6 ≈ 0.236):
    // the longest black run going up from the bar's top row, over the bar's columns (the
    // whisker itself is one of them, drawn over the bar).
    let above = |c: [u8; 3], h: usize| -> usize {
        let runs = img.runs(c);
        let cols: Vec<usize> = (0..img.width).filter(|&x| runs[x].0 == h).collect();
        let top = runs[cols[0]].1;
        (cols[0]..=*cols.last().unwrap())
            .map(|x| {
                (0..top)
                    .rev()
                    .take_while(|&y| img.at(x, y) == [0, 0, 0])
                    .count()
            })
            .max()
            .unwrap()
    };
    let wa = above(BLUE, ha);
    let expected = 0.1414 / 0.6 * ha as f64;
    assert!(
        (wa as f64 - expected).abs() <= 3.0,
        "whisker above a: {wa} px, expected {expected:.1}"
    );
    assert_eq!(above(ORANGE, hb), 0, "whisker drawn for one seed");
}

#[test]
fn one_bar_per_structure() {
    // 21 structures, one experiment: narrow slots (names are written rotated), 21 bars.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("narrow.png");
    let structures = twinscan_data::structures::CANONICAL;
    let t = table(&["random-frozen"], &structures, |i, _| {
        MeanSd::of(&[0.3 + 0.02 * i as f64])
    });
    plot_table(&path, &t).unwrap();
    let img = Image::read(&path);
    let runs = img.runs(BLUE);
    let tall: Vec<bool> = runs.iter().map(|r| r.0 > 50).collect();
    let bars = (0..img.width)
        .filter(|&x| tall[x] && (x == 0 || !tall[x - 1]))
        .count();
    assert_eq!(bars, 21);
    // Heights grow with the means: the last bar (0.70) vs the first (0.30).
    let first = (0..img.width).find(|&x| tall[x]).unwrap();
    let last = (0..img.width).rev().find(|&x| tall[x]).unwrap();
    let ratio = runs[last].0 as f64 / runs[first].0 as f64;
    assert!((ratio - 0.7 / 0.3).abs() < 0.05, "ratio {ratio}");
}

#[test]
fn full_study_table_grows_and_keeps_every_experiment() {
    // 21 structures x 20 experiments (the study's grid and then some).
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("study.png");
    let structures = twinscan_data::structures::CANONICAL;
    let names: Vec<String> = (0..20).map(|j| format!("experiment-{j:02}")).collect();
    let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    let t = table(&names, &structures, |i, j| {
        MeanSd::of(&[
            0.2 + 0.03 * j as f64,
            0.25 + 0.03 * j as f64 + 0.01 * i as f64,
        ])
    });
    plot_table(&path, &t).unwrap();
    let img = Image::read(&path);
    // Room for every bar: at least 5 px per bar.
    assert!(img.width >= 21 * 20 * 5, "width {} px", img.width);
    // Every experiment has its own colour, drawn as bars (columns of one colour at least
    // 60 px tall; legend swatches are smaller).
    assert!(img.tallest(BLUE) > 50);
    let bar_colours: HashSet<[u8; 3]> = {
        let mut set = HashSet::new();
        for x in 0..img.width {
            let mut run = 0;
            let mut prev = [255, 255, 255];
            for y in 0..img.height {
                let p = img.at(x, y);
                run = if p == prev { run + 1 } else { 1 };
                prev = p;
                if run == 60 && p != [255, 255, 255] && p != [0, 0, 0] {
                    set.insert(p);
                }
            }
        }
        set
    };
    assert!(
        bar_colours.len() >= 20,
        "only {} bar colours",
        bar_colours.len()
    );
}

#[test]
fn empty_input_and_missing_folders_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.png");
    let names_path = |e: ClassifyError| {
        let msg = e.to_string();
        assert!(matches!(e, ClassifyError::Plot { .. }), "{msg}");
        assert!(msg.contains("x.png"), "{msg}");
        msg
    };
    names_path(plot_curves(&path, "t", "epoch", &[]).unwrap_err());
    names_path(plot_curves(&path, "t", "epoch", &[panel("loss", vec![])]).unwrap_err());
    names_path(
        plot_curves(
            &path,
            "t",
            "epoch",
            &[panel("loss", vec![series("a", &[])])],
        )
        .unwrap_err(),
    );
    // Points, but none defined anywhere.
    let msg = names_path(
        plot_curves(
            &path,
            "t",
            "epoch",
            &[panel("loss", vec![series("a", &[(1.0, f64::NAN)])])],
        )
        .unwrap_err(),
    );
    assert!(msg.contains("finite"), "{msg}");
    let cell = |_, _| MeanSd::of(&[0.5]);
    names_path(plot_table(&path, &table(&[], &["Brain"], cell)).unwrap_err());
    names_path(plot_table(&path, &table(&["a"], &[], cell)).unwrap_err());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    let missing = tmp.path().join("no/such/folder/c.png");
    let e = plot_table(&missing, &table(&["a"], &["Brain"], cell)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("does not exist") && msg.contains("no/such/folder"),
        "{msg}"
    );
    assert!(!missing.exists());
}

#[test]
fn interval_bars_are_grey_and_only_where_defined() {
    const GREY: [u8; 3] = [90, 90, 90];
    let tmp = tempfile::tempdir().unwrap();
    let t = table(&["a", "b"], &["Brain", "Lens_L"], |i, j| {
        MeanSd::of(&[0.4 + 0.1 * i as f64 + 0.2 * j as f64, 0.5])
    });
    let iv = |lo: f64, hi: f64| Interval { lo, hi };
    let none = tmp.path().join("none.png");
    plot_table(&none, &t).unwrap();
    // Anti-aliased text may hit the grey on a few pixels.
    let n_none = Image::read(&none).count(GREY);
    assert!(n_none < 50, "{n_none}");
    let all = tmp.path().join("all.png");
    let wide = vec![vec![iv(0.1, 0.9); 2]; 2];
    plot_table_with_intervals(&all, &t, &wide, "bootstrap 95% interval").unwrap();
    let n_all = Image::read(&all).count(GREY);
    assert!(n_all > n_none + 4 * 2 * 200, "{n_all}");
    // One undefined interval draws one bar fewer.
    let mut some = wide.clone();
    some[1][0] = Interval::NAN;
    let one_less = tmp.path().join("one_less.png");
    plot_table_with_intervals(&one_less, &t, &some, "bootstrap 95% interval").unwrap();
    let n = Image::read(&one_less).count(GREY);
    assert!(n < n_all - 2 * 200 && n > 3 * 2 * 200, "{n} vs {n_all}");
    // Wrong shape: an error naming the file, nothing written.
    let bad = tmp.path().join("bad.png");
    let e = plot_table_with_intervals(&bad, &t, &wide[..1], "x").unwrap_err();
    assert!(matches!(e, ClassifyError::Plot { .. }) && e.to_string().contains("bad.png"));
    assert!(!bad.exists());
}
