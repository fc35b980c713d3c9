//! PNG charts (plotters): a run's training curves and the comparison chart of a result table.
//!
//! Text is drawn with a bundled DejaVu Sans (`assets/fonts`, its licence beside it) through
//! plotters' `ab_glyph` backend, so a chart looks the same on a machine without system fonts
//! (CI runners, containers). Files are written under a temporary name and renamed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{ClassifyError, Result};
use crate::report::{ResultTable, TableMetric};

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
    let name = path
        .file_name()
        .ok_or_else(|| plot_err(path, "no file name"))?
        .to_string_lossy();
    let tmp: PathBuf = parent.join(format!(".{name}.tmp-{}.png", std::process::id()));
    let result = (|| {
        {
            let root = BitMapBackend::new(&tmp, size).into_drawing_area();
            root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
            draw(&root)?;
            root.present().map_err(|e| plot_err(path, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| ClassifyError::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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

/// Writes a PNG with one panel per entry of `panels` (stacked, shared x label), each with its
/// series and legend: e.g. loss (train, validation) and validation macro F1 per epoch.
///
/// # Errors
/// [`ClassifyError::Plot`] naming `path` when there is nothing to draw (no panel, or a panel
/// without a finite point), the folder does not exist, or rendering fails.
pub fn plot_curves(path: &Path, title: &str, x_label: &str, panels: &[Panel]) -> Result<()> {
    if panels.is_empty() {
        return Err(plot_err(path, "no panel to draw"));
    }
    let mut ranges = Vec::new();
    for p in panels {
        let pts = || p.series.iter().flat_map(|s| s.points.iter());
        let (Some(x), Some(y)) = (
            finite_range(pts().map(|q| q.0)),
            finite_range(pts().map(|q| q.1)),
        ) else {
            return Err(plot_err(
                path,
                format!("panel {:?} has no finite point", p.y_label),
            ));
        };
        ranges.push((x, y));
    }
    let height = 40 + 320 * panels.len() as u32;
    write_png(path, (1000, height), |root| {
        let root = root
            .titled(title, (FAMILY, 22))
            .map_err(|e| plot_err(path, e))?;
        let areas = root.split_evenly((panels.len(), 1));
        for ((panel, area), (xr, yr)) in panels.iter().zip(&areas).zip(&ranges) {
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
                .map_err(|e| plot_err(path, e))?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(panel.y_label.as_str())
                .label_style((FAMILY, 14))
                .axis_desc_style((FAMILY, 16))
                .draw()
                .map_err(|e| plot_err(path, e))?;
            for (i, s) in panel.series.iter().enumerate() {
                let c = colour(i);
                // Split at NaN values so gaps stay gaps.
                let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for &(x, y) in &s.points {
                    if x.is_finite() && y.is_finite() {
                        segments.last_mut().map(|seg| seg.push((x, y)));
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
            chart
                .configure_series_labels()
                .label_font((FAMILY, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| plot_err(path, e))?;
        }
        Ok(())
    })
}

/// Writes the study's comparison chart of a result table: for each structure (x), one bar
/// per experiment (colour, legend), height = mean over seeds, error bar = ± sd (when at least
/// two seeds gave a value); undefined cells are left empty. Y is the table's metric on [0, 1].
///
/// # Errors
/// [`ClassifyError::Plot`] naming `path` for an empty table, a missing folder or a rendering
/// failure.
pub fn plot_table(path: &Path, table: &ResultTable) -> Result<()> {
    let (ns, ne) = (table.structures.len(), table.experiments.len());
    if ns == 0 || ne == 0 {
        return Err(plot_err(
            path,
            "the table has no structure or no experiment",
        ));
    }
    let metric = match table.metric {
        TableMetric::F1 => "held-out macro F1 (known labels)",
        TableMetric::Auroc => "held-out AUROC (known labels)",
    };
    // Each structure gets a slot of width 1: bars side by side inside 0.8 of it.
    let slot_px = (14 * ne as u32 + 16).max(40);
    let width = (160 + slot_px * ns as u32).clamp(900, 12_000);
    let legend_rows = ne.div_ceil(4) as u32;
    let height = 560 + 22 * legend_rows;
    write_png(path, (width, height), |root| {
        let (plot_area, legend_area) = root.split_vertically(height - 24 * legend_rows - 16);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(14)
            .caption(format!("{metric}, mean ± sd over seeds"), (FAMILY, 20))
            .x_label_area_size(120)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..ns as f64, 0f64..1.0f64)
            .map_err(|e| plot_err(path, e))?;
        let names = table.structures.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(ns * 2 + 1)
            .x_label_formatter(&|x| {
                // Label the slot centres only.
                let i = (x - 0.5).round();
                if (x - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_label_style(
                TextStyle::from((FAMILY, 13).into_font())
                    .transform(FontTransform::Rotate90)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
            .y_desc(metric)
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .draw()
            .map_err(|e| plot_err(path, e))?;
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
                    let (lo, hi) = ((m - cell.sd).max(0.0), (m + cell.sd).min(1.0));
                    whiskers.push(PathElement::new(
                        vec![(xc, lo), (xc, hi)],
                        BLACK.stroke_width(1),
                    ));
                }
            }
            chart.draw_series(bars).map_err(|e| plot_err(path, e))?;
            chart.draw_series(whiskers).map_err(|e| plot_err(path, e))?;
        }
        // Legend: coloured squares with the experiment names, four per row.
        let cols = 4usize;
        let col_w = (width as i32 - 80) / cols as i32;
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
                .draw(&Text::new(name.clone(), (x + 22, y + 3), (FAMILY, 15)))
                .map_err(|er| plot_err(path, er))?;
        }
        Ok(())
    })
}
