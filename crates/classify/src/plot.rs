//! PNG charts (plotters): a run's training curves, the comparison chart of a result table and
//! the chart of paired differences against a baseline.
//!
//! Text is drawn with a bundled DejaVu Sans (`assets/fonts`, its licence beside it) through
//! plotters' `ab_glyph` backend, so a chart looks the same on a machine without system fonts
//! (CI runners, containers). Files are written under a temporary name and renamed.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{ClassifyError, Result};
use crate::metrics::Interval;
use crate::report::{ResultTable, TableMetric};
use crate::tables::{DeltaCell, DeltaTable, MEAN_ROW};

/// Colour of the bootstrap error bars of [`plot_table_with_intervals`].
const GREY_CI: RGBColor = RGBColor(90, 90, 90);

/// The bundled font.
const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// The family name the charts use.
const FAMILY: &str = "twinscan-sans";

/// One line of a curve chart: `(x, y)` points; a NaN `y` leaves a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
}

/// One sub-chart of a curve figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Y-axis label.
    pub y_label: String,
    /// Its lines.
    pub series: Vec<Series>,
}

fn plot_err(path: &Path, message: impl std::fmt::Display) -> ClassifyError {
    ClassifyError::Plot {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn font_ready(path: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(plot_err(path, "the bundled font could not be loaded"))
    }
}

/// A colour per series / experiment, distinguishable for up to ~20 entries.
fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    let c = PALETTE[i % PALETTE.len()];
    if i < PALETTE.len() {
        c
    } else {
        // Second round: darker shades of the same hues.
        RGBColor(c.0 / 2, c.1 / 2, c.2 / 2)
    }
}

/// Renders into a temporary PNG beside `path` and renames it; removes it on failure.
fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    font_ready(path)?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(plot_err(
            path,
            format!("folder {} does not exist", parent.display()),
        ));
    }
    if path.file_name().is_none() {
        return Err(plot_err(path, "no file name"));
    }
    // The bitmap backend picks the image format by the extension: keep `.png` last.
    let tmp = twinscan_data::atomic::TempFile::with_extension(path, "png")?;
    {
        let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        draw(&root)?;
        root.present().map_err(|e| plot_err(path, e))?;
    }
    Ok(tmp.persist()?) // on any error above, dropping `tmp` removes it
}

fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let mut r: Option<(f64, f64)> = None;
    for v in values.filter(|v| v.is_finite()) {
        r = Some(match r {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
    r.map(|(lo, hi)| {
        if hi - lo < 1e-12 {
            (lo - 0.5, hi + 0.5)
        } else {
            let pad = 0.05 * (hi - lo);
            (lo - pad, hi + pad)
        }
    })
}

/// Writes a PNG, 1000 px wide, with one panel per entry of `panels` stacked vertically (320 px
/// each), all on the same x range with `x_label` under the bottom panel, each panel with its
/// y label, its series (lines with point markers, a NaN `y` leaves a gap) and its legend: e.g.
/// loss (train, validation) and validation macro F1 per epoch. A panel whose values are all
/// undefined (NaN) is drawn empty with a note, so a run whose validation AUROC is never defined
/// still gets its loss curves.
///
/// # Errors
/// [`ClassifyError::Plot`] naming `path` when there is nothing to draw (no panel, a panel
/// without a series, a series without points, or no finite point at all), the folder does not
/// exist, or rendering fails. No file is left behind on error.
///
/// # Example
/// ```
/// use twinscan_classify::plot::{Panel, Series, plot_curves};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("curves.png");
/// let loss = Panel {
///     y_label: "loss".into(),
///     series: vec![Series { name: "train".into(), points: vec![(1.0, 0.9), (2.0, 0.6)] }],
/// };
/// plot_curves(&path, "resnet18 frozen (random)", "epoch", &[loss]).unwrap();
/// assert!(path.exists());
/// // Nothing to draw is an error naming the file.
/// let err = plot_curves(&dir.path().join("empty.png"), "t", "epoch", &[]).unwrap_err();
/// assert!(err.to_string().contains("empty.png"));
/// ```
pub fn plot_curves(path: &Path, title: &str, x_label: &str, panels: &[Panel]) -> Result<()> {
    if panels.is_empty() {
        return Err(plot_err(path, "no panel to draw"));
    }
    for p in panels {
        if p.series.is_empty() {
            return Err(plot_err(
                path,
                format!("panel {:?} has no series", p.y_label),
            ));
        }
        if let Some(s) = p.series.iter().find(|s| s.points.is_empty()) {
            return Err(plot_err(
                path,
                format!("series {:?} of panel {:?} has no points", s.name, p.y_label),
            ));
        }
    }
    let defined = |p: &Panel| -> Vec<(f64, f64)> {
        p.series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|q| q.0.is_finite() && q.1.is_finite())
            .collect()
    };
    let all: Vec<(f64, f64)> = panels.iter().flat_map(defined).collect();
    let Some(xr) = finite_range(all.iter().map(|q| q.0)) else {
        return Err(plot_err(path, "no panel has a finite point"));
    };
    // Panels without a defined value get [0, 1] and a note.
    let yranges: Vec<Option<(f64, f64)>> = panels
        .iter()
        .map(|p| finite_range(defined(p).into_iter().map(|q| q.1)))
        .collect();
    let height = 40 + 320 * panels.len() as u32;
    write_png(path, (1000, height), |root| {
        let root = root
            .titled(title, (FAMILY, 22))
            .map_err(|e| plot_err(path, e))?;
        let areas = root.split_evenly((panels.len(), 1));
        let last = panels.len() - 1;
        for (k, ((panel, area), yr)) in panels.iter().zip(&areas).zip(&yranges).enumerate() {
            let (y0, y1) = yr.unwrap_or((0.0, 1.0));
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(if k == last { 44 } else { 26 })
                .y_label_area_size(70)
                .build_cartesian_2d(xr.0..xr.1, y0..y1)
                .map_err(|e| plot_err(path, e))?;
            let mut mesh = chart.configure_mesh();
            mesh.y_desc(panel.y_label.as_str())
                .label_style((FAMILY, 14))
                .axis_desc_style((FAMILY, 16));
            if k == last {
                mesh.x_desc(x_label);
            }
            mesh.draw().map_err(|e| plot_err(path, e))?;
            if yr.is_none() {
                let note = format!("{}: no defined value", panel.y_label);
                chart
                    .draw_series(std::iter::once(Text::new(
                        note,
                        (xr.0 + 0.02 * (xr.1 - xr.0), 0.55),
                        (FAMILY, 18),
                    )))
                    .map_err(|e| plot_err(path, e))?;
            }
            for (i, s) in panel.series.iter().enumerate() {
                let c = colour(i);
                // Split at NaN values so gaps stay gaps.
                let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for &(x, y) in &s.points {
                    if x.is_finite() && y.is_finite() {
                        if let Some(seg) = segments.last_mut() {
                            seg.push((x, y));
                        }
                    } else if segments.last().is_some_and(|seg| !seg.is_empty()) {
                        segments.push(Vec::new());
                    }
                }
                let mut first = true;
                for seg in segments.into_iter().filter(|s| !s.is_empty()) {
                    chart
                        .draw_series(PointSeries::of_element(
                            seg.clone(),
                            3,
                            c.filled(),
                            &|p, size, style| {
                                EmptyElement::at(p) + Circle::new((0, 0), size, style)
                            },
                        ))
                        .map_err(|e| plot_err(path, e))?;
                    let drawn = chart
                        .draw_series(LineSeries::new(seg, c.stroke_width(2)))
                        .map_err(|e| plot_err(path, e))?;
                    if first {
                        drawn.label(s.name.as_str()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                        });
                        first = false;
                    }
                }
            }
            if yr.is_some() {
                // The legend goes to the right corner the curves leave free: bottom when a
                // point in the right third lies in the top 40 % (a rising F1), else top.
                let high_right = defined(panel)
                    .iter()
                    .any(|&(x, y)| x >= xr.0 + 0.67 * (xr.1 - xr.0) && y >= y0 + 0.6 * (y1 - y0));
                chart
                    .configure_series_labels()
                    .label_font((FAMILY, 14))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .position(if high_right {
                        SeriesLabelPosition::LowerRight
                    } else {
                        SeriesLabelPosition::UpperRight
                    })
                    .draw()
                    .map_err(|e| plot_err(path, e))?;
            }
        }
        Ok(())
    })
}

/// Writes the study's comparison chart of a result table: for each structure (x, labels
/// rotated), one vertical bar per experiment (one colour each, legend below the chart), height
/// = mean over seeds, error bar = ± sd (only when at least two seeds gave a value and the sd
/// is finite; clipped to [0, 1]); undefined (NaN) means are left empty, and a table without
/// any defined cell says so on the chart. Y is the table's metric on [0, 1]. The width grows
/// with the number of structures × experiments (about 14 px per bar, at least 900 px), so
/// 21 structures × 20 experiments stay readable (about 6400 px).
///
/// # Errors
/// [`ClassifyError::Plot`] naming `path` for a table without structures or experiments, a
/// missing folder or a rendering failure. No file is left behind on error.
pub fn plot_table(path: &Path, table: &ResultTable) -> Result<()> {
    draw_table(path, table, None)
}

/// [`plot_table`] plus a second, grey error bar per bar: `intervals[structure][experiment]`
/// (e.g. the patient-bootstrap interval of the seed-mean; clipped to [0, 1], left out when
/// undefined), named in the caption by `interval_name` (e.g. `patient-bootstrap 95% interval`).
///
/// # Errors
/// As [`plot_table`]; also when `intervals` does not have the table's shape.
pub fn plot_table_with_intervals(
    path: &Path,
    table: &ResultTable,
    intervals: &[Vec<Interval>],
    interval_name: &str,
) -> Result<()> {
    if intervals.len() != table.cells.len()
        || intervals
            .iter()
            .zip(&table.cells)
            .any(|(i, c)| i.len() != c.len())
    {
        return Err(plot_err(
            path,
            "the intervals do not have the table's shape (structures x experiments)",
        ));
    }
    draw_table(path, table, Some((intervals, interval_name)))
}

fn draw_table(
    path: &Path,
    table: &ResultTable,
    intervals: Option<(&[Vec<Interval>], &str)>,
) -> Result<()> {
    let (ns, ne) = (table.structures.len(), table.experiments.len());
    if ns == 0 || ne == 0 {
        return Err(plot_err(
            path,
            "the table has no structure or no experiment",
        ));
    }
    if table.cells.len() != ns || table.cells.iter().any(|row| row.len() != ne) {
        return Err(plot_err(
            path,
            format!(
                "the table's cells are not {ns} structures x {ne} experiments (rows: {:?})",
                table.cells.iter().map(Vec::len).collect::<Vec<_>>()
            ),
        ));
    }
    font_ready(path)?;
    let metric = match table.metric {
        TableMetric::F1 => "held-out macro F1 (known labels)",
        TableMetric::Auroc => "held-out AUROC (known labels)",
    };
    // Each structure gets a slot of width 1: bars side by side inside 0.8 of it (~14 px each).
    let slot_px = (14 * ne as u32 + 16).max(40);
    let width = (200 + slot_px * ns as u32).clamp(900, 12_000);
    // Structure names: horizontal where they fit their slot, else rotated to read downwards.
    let label_font = (FAMILY, 13).into_font();
    let label_px = table
        .structures
        .iter()
        .map(|n| label_font.box_size(n).map(|b| b.0))
        .try_fold(0, |m, w| w.map(|w| m.max(w)))
        .map_err(|e| plot_err(path, e))?;
    let rotate = label_px + 12 > (width - 200) / ns as u32;
    let x_label_px = if rotate { label_px + 20 } else { 32 };
    // Rotated names start just under the axis (the mesh would centre them on the tick, so
    // they are drawn separately below).
    let rotated_style = TextStyle::from(label_font.clone().transform(FontTransform::Rotate90))
        .pos(Pos::new(HPos::Left, VPos::Center));
    let label_style = TextStyle::from(label_font).pos(Pos::new(HPos::Center, VPos::Top));
    // Legend: as many columns as the longest experiment name allows.
    let legend_font = (FAMILY, 15).into_font();
    let longest = table
        .experiments
        .iter()
        .map(|n| legend_font.box_size(n).map(|b| b.0 as i32))
        .try_fold(0, |m, w| w.map(|w| m.max(w)))
        .map_err(|e| plot_err(path, e))?;
    let col_w = longest + 22 + 28;
    let cols = ((width as i32 - 80) / col_w).clamp(1, ne as i32) as usize;
    let legend_rows = ne.div_ceil(cols) as u32;
    let plot_h = 500 + x_label_px;
    let height = plot_h + 24 * legend_rows + 16;
    write_png(path, (width, height), |root| {
        let (plot_area, legend_area) = root.split_vertically(plot_h);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(14)
            .caption(
                match intervals {
                    None => format!("{metric}, mean ± sd over seeds"),
                    Some((_, name)) => {
                        format!("{metric}, mean ± sd over seeds (black), {name} (grey)")
                    }
                },
                (FAMILY, 20),
            )
            .x_label_area_size(x_label_px)
            .y_label_area_size(60)
            .right_y_label_area_size(40)
            .build_cartesian_2d(0f64..ns as f64, 0f64..1.0f64)
            .map_err(|e| plot_err(path, e))?
            // The same y scale on the right, for wide charts.
            .set_secondary_coord(0f64..ns as f64, 0f64..1.0f64);
        let names = table.structures.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(ns * 2 + 1)
            .x_label_formatter(&|x| {
                // Label the slot centres only.
                let i = (x - 0.5).round();
                if !rotate && (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_max_light_lines(1)
            .y_desc(metric)
            // `label_style` sets both axes: the x style must come after it.
            .label_style((FAMILY, 13))
            .x_label_style(label_style)
            .axis_desc_style((FAMILY, 15))
            .draw()
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_secondary_axes()
            .label_style((FAMILY, 13))
            .draw()
            .map_err(|e| plot_err(path, e))?;
        if rotate {
            for (s, name) in table.structures.iter().enumerate() {
                // `plot_area` starts at the image origin, so backend pixels are its pixels.
                let (px, py) = chart.backend_coord(&(s as f64 + 0.5, 0.0));
                plot_area
                    .draw(&Text::new(
                        name.clone(),
                        (px, py + 8),
                        rotated_style.clone(),
                    ))
                    .map_err(|e| plot_err(path, e))?;
            }
        }
        let bar_w = 0.8 / ne as f64;
        for (e, _) in table.experiments.iter().enumerate() {
            let c = colour(e);
            let mut bars = Vec::new();
            let mut whiskers = Vec::new();
            for (s, row) in table.cells.iter().enumerate() {
                let cell = &row[e];
                if cell.n == 0 || !cell.mean.is_finite() {
                    continue;
                }
                let x0 = s as f64 + 0.1 + e as f64 * bar_w;
                let m = cell.mean.clamp(0.0, 1.0);
                bars.push(Rectangle::new(
                    [(x0, 0.0), (x0 + bar_w * 0.9, m)],
                    c.filled(),
                ));
                if cell.n >= 2 && cell.sd.is_finite() {
                    let xc = x0 + bar_w * 0.45;
                    let (lo, hi) = (m - cell.sd, m + cell.sd);
                    whiskers.push(PathElement::new(
                        vec![(xc, lo.max(0.0)), (xc, hi.min(1.0))],
                        BLACK.stroke_width(1),
                    ));
                    // Caps where the bar is not clipped to [0, 1].
                    let cap = bar_w * 0.25;
                    for end in [lo, hi].into_iter().filter(|v| (0.0..=1.0).contains(v)) {
                        whiskers.push(PathElement::new(
                            vec![(xc - cap, end), (xc + cap, end)],
                            BLACK.stroke_width(1),
                        ));
                    }
                }
                if let Some((iv, _)) = intervals {
                    let Interval { lo, hi } = iv[s][e];
                    if lo.is_finite() && hi.is_finite() {
                        // Right of the sd bar, so both stay readable.
                        let xg = x0 + bar_w * 0.72;
                        let (lo, hi) = (lo.clamp(0.0, 1.0), hi.clamp(0.0, 1.0));
                        let cap = bar_w * 0.12;
                        whiskers.push(PathElement::new(
                            vec![(xg, lo), (xg, hi)],
                            GREY_CI.stroke_width(2),
                        ));
                        for end in [lo, hi] {
                            whiskers.push(PathElement::new(
                                vec![(xg - cap, end), (xg + cap, end)],
                                GREY_CI.stroke_width(2),
                            ));
                        }
                    }
                }
            }
            chart.draw_series(bars).map_err(|e| plot_err(path, e))?;
            chart.draw_series(whiskers).map_err(|e| plot_err(path, e))?;
        }
        let any_defined = table
            .cells
            .iter()
            .flatten()
            .any(|c| c.n > 0 && c.mean.is_finite());
        if !any_defined {
            chart
                .draw_series(std::iter::once(Text::new(
                    "no defined value in this table",
                    (0.02 * ns as f64, 0.55),
                    (FAMILY, 20),
                )))
                .map_err(|e| plot_err(path, e))?;
        }
        // Legend: coloured squares with the experiment names, `cols` per row.
        for (e, name) in table.experiments.iter().enumerate() {
            let (r, k) = ((e / cols) as i32, (e % cols) as i32);
            let (x, y) = (60 + k * col_w, 4 + r * 24);
            legend_area
                .draw(&Rectangle::new(
                    [(x, y + 3), (x + 16, y + 19)],
                    colour(e).filled(),
                ))
                .map_err(|er| plot_err(path, er))?;
            legend_area
                .draw(&Text::new(
                    name.clone(),
                    (x + 22, y + 3),
                    legend_font.clone(),
                ))
                .map_err(|er| plot_err(path, er))?;
        }
        Ok(())
    })
}

/// Writes the chart of a [`DeltaTable`]: for each structure and the final `mean` group (x,
/// labels rotated when they do not fit), one bar per compared column from 0 to its difference
/// to the baseline (one colour each, legend below the chart), an error bar spanning its paired
/// bootstrap interval, a `*` above the intervals that exclude 0, and a black zero line. The y
/// range covers 0, every defined difference and every defined bound. Undefined differences draw
/// nothing; a table without any compared column or any defined difference says so on the
/// chart. Width as [`plot_table`] (about 14 px per bar, at least 900 px).
///
/// # Errors
/// [`ClassifyError::Plot`] naming `path` for a table without structures or with cells of the
/// wrong shape, a missing folder or a rendering failure. No file is left behind on error.
pub fn plot_delta(path: &Path, table: &DeltaTable) -> Result<()> {
    let (ns, nc) = (table.structures.len(), table.columns.len());
    if ns == 0 {
        return Err(plot_err(path, "the delta table has no structure"));
    }
    if table.cells.len() != ns
        || table.cells.iter().any(|row| row.len() != nc)
        || table.mean.len() != nc
    {
        return Err(plot_err(
            path,
            format!("the delta table's cells are not {ns} structures (+ mean) x {nc} columns"),
        ));
    }
    font_ready(path)?;
    let groups: Vec<(&str, &[DeltaCell])> = table.rows().collect();
    let ng = groups.len(); // structures + mean
    let values = groups.iter().flat_map(|(_, r)| r.iter()).flat_map(|c| {
        if c.delta.is_nan() {
            vec![]
        } else {
            vec![c.delta, c.ci.lo, c.ci.hi]
        }
    });
    let (y0, y1) = finite_range(values.chain(std::iter::once(0.0))).unwrap_or((-1.0, 1.0));
    // Room for the markers beyond the outermost intervals.
    let (y0, y1) = (y0 - 0.05 * (y1 - y0), y1 + 0.05 * (y1 - y0));
    let metric = match table.metric {
        TableMetric::F1 => "macro F1",
        TableMetric::Auroc => "AUROC",
    };
    let slot_px = (14 * nc.max(1) as u32 + 16).max(40);
    let width = (200 + slot_px * ng as u32).clamp(900, 12_000);
    let label_font = (FAMILY, 13).into_font();
    let label_px = groups
        .iter()
        .map(|(n, _)| label_font.box_size(n).map(|b| b.0))
        .try_fold(0, |m, w| w.map(|w| m.max(w)))
        .map_err(|e| plot_err(path, e))?;
    let rotate = label_px + 12 > (width - 200) / ng as u32;
    let x_label_px = if rotate { label_px + 20 } else { 32 };
    let rotated_style = TextStyle::from(label_font.clone().transform(FontTransform::Rotate90))
        .pos(Pos::new(HPos::Left, VPos::Center));
    let label_style = TextStyle::from(label_font).pos(Pos::new(HPos::Center, VPos::Top));
    let legend_font = (FAMILY, 15).into_font();
    let legend: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{c} − {}", table.baseline))
        .collect();
    let longest = legend
        .iter()
        .map(|n| legend_font.box_size(n).map(|b| b.0 as i32))
        .try_fold(0, |m, w| w.map(|w| m.max(w)))
        .map_err(|e| plot_err(path, e))?;
    let col_w = longest + 22 + 28;
    let cols = ((width as i32 - 80) / col_w).clamp(1, nc.max(1) as i32) as usize;
    let legend_rows = nc.div_ceil(cols).max(1) as u32;
    let plot_h = 500 + x_label_px;
    let height = plot_h + 24 * legend_rows + 16;
    let star_font = (FAMILY, 16).into_font();
    // Above the interval of a positive difference, below that of a negative one.
    let star_above = TextStyle::from(star_font.clone()).pos(Pos::new(HPos::Center, VPos::Bottom));
    let star_below = TextStyle::from(star_font).pos(Pos::new(HPos::Center, VPos::Top));
    // Tick labels without a "-0.00".
    let tick = |v: &f64| format!("{:.2}", if v.abs() < 1e-9 { 0.0 } else { *v });
    write_png(path, (width, height), |root| {
        let (plot_area, legend_area) = root.split_vertically(plot_h);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(14)
            .caption(
                format!(
                    "held-out {metric}: difference to {}, paired patient-bootstrap interval \
                     (* excludes 0)",
                    table.baseline
                ),
                (FAMILY, 20),
            )
            .x_label_area_size(x_label_px)
            .y_label_area_size(70)
            .right_y_label_area_size(50)
            .build_cartesian_2d(0f64..ng as f64, y0..y1)
            .map_err(|e| plot_err(path, e))?
            .set_secondary_coord(0f64..ng as f64, y0..y1);
        let names: Vec<String> = groups.iter().map(|(n, _)| (*n).to_owned()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(ng * 2 + 1)
            .x_label_formatter(&|x| {
                let i = (x - 0.5).round();
                if !rotate && (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .y_max_light_lines(1)
            .y_label_formatter(&tick)
            .y_desc(format!("Δ {metric} vs {}", table.baseline))
            .label_style((FAMILY, 13))
            .x_label_style(label_style)
            .axis_desc_style((FAMILY, 15))
            .draw()
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_secondary_axes()
            .y_label_formatter(&tick)
            .label_style((FAMILY, 13))
            .draw()
            .map_err(|e| plot_err(path, e))?;
        if rotate {
            for (g, name) in names.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(g as f64 + 0.5, y0));
                plot_area
                    .draw(&Text::new(
                        name.clone(),
                        (px, py + 8),
                        rotated_style.clone(),
                    ))
                    .map_err(|e| plot_err(path, e))?;
            }
        }
        // The `mean` group is set apart by a thin vertical line.
        debug_assert_eq!(names.last().map(String::as_str), Some(MEAN_ROW));
        let sep = (ng - 1) as f64;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(sep, y0), (sep, y1)],
                RGBColor(160, 160, 160).stroke_width(1),
            )))
            .map_err(|e| plot_err(path, e))?;
        let bar_w = 0.8 / nc.max(1) as f64;
        let clip = |v: f64| v.clamp(y0, y1);
        for c in 0..nc {
            let fill = colour(c);
            let mut bars = Vec::new();
            let mut whiskers = Vec::new();
            let mut stars = Vec::new();
            for (g, (_, row)) in groups.iter().enumerate() {
                let cell = &row[c];
                if !cell.delta.is_finite() {
                    continue;
                }
                let x0 = g as f64 + 0.1 + c as f64 * bar_w;
                let xc = x0 + bar_w * 0.45;
                bars.push(Rectangle::new(
                    [(x0, 0.0), (x0 + bar_w * 0.9, clip(cell.delta))],
                    fill.filled(),
                ));
                let (lo, hi) = (cell.ci.lo, cell.ci.hi);
                if lo.is_finite() && hi.is_finite() {
                    whiskers.push(PathElement::new(
                        vec![(xc, clip(lo)), (xc, clip(hi))],
                        BLACK.stroke_width(1),
                    ));
                    let cap = bar_w * 0.25;
                    for end in [lo, hi] {
                        whiskers.push(PathElement::new(
                            vec![(xc - cap, clip(end)), (xc + cap, clip(end))],
                            BLACK.stroke_width(1),
                        ));
                    }
                    if cell.excludes_zero() {
                        stars.push(if cell.delta >= 0.0 {
                            Text::new("*", (xc, clip(hi.max(cell.delta))), star_above.clone())
                        } else {
                            Text::new("*", (xc, clip(lo.min(cell.delta))), star_below.clone())
                        });
                    }
                }
            }
            chart.draw_series(bars).map_err(|e| plot_err(path, e))?;
            chart.draw_series(whiskers).map_err(|e| plot_err(path, e))?;
            chart.draw_series(stars).map_err(|e| plot_err(path, e))?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (ng as f64, 0.0)],
                BLACK.stroke_width(2),
            )))
            .map_err(|e| plot_err(path, e))?;
        let any_defined = groups
            .iter()
            .flat_map(|(_, r)| r.iter())
            .any(|c| c.delta.is_finite());
        if !any_defined {
            let note = if nc == 0 {
                "no column besides the baseline"
            } else {
                "no defined difference in this table"
            };
            chart
                .draw_series(std::iter::once(Text::new(
                    note,
                    (0.02 * ng as f64, y0 + 0.7 * (y1 - y0)),
                    (FAMILY, 20),
                )))
                .map_err(|e| plot_err(path, e))?;
        }
        for (c, name) in legend.iter().enumerate() {
            let (r, k) = ((c / cols) as i32, (c % cols) as i32);
            let (x, y) = (60 + k * col_w, 4 + r * 24);
            legend_area
                .draw(&Rectangle::new(
                    [(x, y + 3), (x + 16, y + 19)],
                    colour(c).filled(),
                ))
                .map_err(|er| plot_err(path, er))?;
            legend_area
                .draw(&Text::new(
                    name.clone(),
                    (x + 22, y + 3),
                    legend_font.clone(),
                ))
                .map_err(|er| plot_err(path, er))?;
        }
        Ok(())
    })
}

/// One group of points of a scatter chart (one colour, one legend entry).
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterGroup {
    /// Legend label.
    pub name: String,
    /// Colour.
    pub rgb: (u8, u8, u8),
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// Writes a 900 × 800 PNG scatter chart of `groups` (drawn in order, so the last group is on
/// top), with axis labels and a legend: e.g. the first two principal components of slice
/// embeddings coloured by one structure's label.
///
/// # Errors
/// [`ClassifyError::Plot`] naming `path` when no group has a finite point, the folder does
/// not exist, or rendering fails. No file is left behind on error.
pub fn plot_scatter(
    path: &Path,
    title: &str,
    axes: (&str, &str),
    groups: &[ScatterGroup],
) -> Result<()> {
    let finite = |g: &ScatterGroup| -> Vec<(f64, f64)> {
        g.points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect()
    };
    let all: Vec<(f64, f64)> = groups.iter().flat_map(finite).collect();
    let (Some(xr), Some(yr)) = (
        finite_range(all.iter().map(|p| p.0)),
        finite_range(all.iter().map(|p| p.1)),
    ) else {
        return Err(plot_err(path, "no finite point to draw"));
    };
    write_png(path, (900, 800), |root| {
        let root = root
            .titled(title, (FAMILY, 22))
            .map_err(|e| plot_err(path, e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .draw()
            .map_err(|e| plot_err(path, e))?;
        for g in groups {
            let c = RGBColor(g.rgb.0, g.rgb.1, g.rgb.2);
            let n = g.points.len();
            chart
                .draw_series(finite(g).into_iter().map(|p| Circle::new(p, 3, c.filled())))
                .map_err(|e| plot_err(path, e))?
                .label(format!("{} ({n})", g.name))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| plot_err(path, e))?;
        Ok(())
    })
}
