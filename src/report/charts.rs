//! The report's charts, drawn with plotters' SVG backend into strings of inline SVG (text as
//! `<text>` elements: no font files are read).

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::error::{AutotabError, Result};

/// Width and height of a chart in pixels.
pub type Size = (u32, u32);

/// A half-width chart (two per row).
pub const HALF: Size = (560, 400);
/// A full-width chart.
pub const FULL: Size = (1140, 420);

/// Tableau's ten colours: distinct, readable on white.
pub const PALETTE: [RGBColor; 10] = [
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

/// The `i`-th colour of the palette (cycling).
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const FONT: &str = "sans-serif";
const GREY: RGBColor = RGBColor(110, 110, 110);

fn chart_error(e: impl std::fmt::Display) -> AutotabError {
    AutotabError::Report(format!("cannot draw a chart: {e}"))
}

/// A range padded by 4% on each side (a point range widened to one unit).
pub fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
}

/// The smallest and largest finite values.
pub fn extent(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Where a chart's legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// Top left corner.
    UpperLeft,
    /// Top right corner.
    UpperRight,
    /// Bottom left corner.
    LowerLeft,
    /// Bottom right corner.
    LowerRight,
}

impl Legend {
    fn position(self) -> SeriesLabelPosition {
        match self {
            Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
            Legend::UpperRight => SeriesLabelPosition::UpperRight,
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
            Legend::LowerRight => SeriesLabelPosition::LowerRight,
        }
    }
}

/// A named series of a line or scatter chart.
pub struct Series<'a> {
    /// Legend text.
    pub name: String,
    /// Points.
    pub points: &'a [(f64, f64)],
    /// Its colour.
    pub colour: RGBColor,
    /// Drawn as a line (else as dots).
    pub line: bool,
    /// Radius of the dots in pixels (dots only).
    pub radius: u32,
}

/// Axes and furniture of an x-y chart.
pub struct Frame<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// X axis description.
    pub x_label: &'a str,
    /// Y axis description.
    pub y_label: &'a str,
    /// X range.
    pub x: (f64, f64),
    /// Y range.
    pub y: (f64, f64),
    /// Pixels.
    pub size: Size,
    /// A dashed reference line from `(x0, y0)` to `(x1, y1)` (a diagonal, a zero line).
    pub reference: Option<((f64, f64), (f64, f64))>,
    /// Where the legend goes (`None`: no legend).
    pub legend: Option<Legend>,
}

/// Lines and dots on x-y axes.
pub fn xy_chart(frame: &Frame, series: &[Series]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, frame.size).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(frame.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(frame.x.0..frame.x.1, frame.y.0..frame.y.1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc(frame.x_label)
            .y_desc(frame.y_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(220, 220, 220))
            .x_labels(8)
            .y_labels(8)
            .draw()
            .map_err(chart_error)?;
        if let Some((a, b)) = frame.reference {
            chart
                .draw_series(DashedLineSeries::new([a, b], 6, 4, GREY.stroke_width(1)))
                .map_err(chart_error)?;
        }
        for s in series {
            let colour = s.colour;
            let drawn = if s.line {
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().copied(),
                        colour.stroke_width(2),
                    ))
                    .map_err(chart_error)?
            } else {
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|&p| Circle::new(p, s.radius, colour.mix(0.8).filled())),
                    )
                    .map_err(chart_error)?
            };
            if frame.legend.is_some() && !s.name.is_empty() {
                drawn.label(s.name.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                });
            }
        }
        if let Some(position) = frame.legend {
            chart
                .configure_series_labels()
                .position(position.position())
                .label_font((FONT, 13))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .draw()
                .map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Horizontal bars, one per label, largest first from the top; `errors` are drawn as
/// whiskers (± one standard deviation).
pub fn bar_chart(
    title: &str,
    x_label: &str,
    labels: &[String],
    values: &[f64],
    errors: &[f64],
    size: Size,
) -> Result<String> {
    let n = labels.len().max(1);
    let (lo, hi) = extent(
        values
            .iter()
            .zip(errors.iter().chain(std::iter::repeat(&0.0)))
            .flat_map(|(v, e)| [v - e, v + e, 0.0]),
    );
    let (lo, hi) = padded(lo, hi);
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size((longest as u32 * 7 + 16).clamp(60, 260))
            // A segmented range holds its end too: 0..n-1 is n rows.
            .build_cartesian_2d(lo..hi, (0..(n as i32 - 1).max(1)).into_segmented())
            .map_err(chart_error)?;
        let name_of = |v: &SegmentValue<i32>| match v {
            // Row 0 is drawn at the bottom: the largest value (first label) goes on top.
            SegmentValue::CenterOf(i) if (*i as usize) < n => {
                labels.get(n - 1 - *i as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .x_desc(x_label)
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(220, 220, 220))
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&name_of)
            .draw()
            .map_err(chart_error)?;
        let bar = colour(0);
        chart
            .draw_series(values.iter().enumerate().map(|(k, &v)| {
                let row = (n - 1 - k) as i32;
                let mut r = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (v, SegmentValue::Exact(row + 1)),
                    ],
                    bar.mix(0.85).filled(),
                );
                r.set_margin(3, 3, 0, 0);
                r
            }))
            .map_err(chart_error)?;
        chart
            .draw_series(
                values
                    .iter()
                    .zip(errors)
                    .enumerate()
                    .filter(|(_, (_, e))| **e > 0.0)
                    .map(|(k, (&v, &e))| {
                        let row = (n - 1 - k) as i32;
                        PathElement::new(
                            vec![
                                (v - e, SegmentValue::CenterOf(row)),
                                (v + e, SegmentValue::CenterOf(row)),
                            ],
                            BLACK.stroke_width(1),
                        )
                    }),
            )
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A forecast chart: the history, the forecast after it and its interval as a band; the x
/// axis is grid steps, labelled with `times`.
pub struct ForecastChart<'a> {
    /// Title.
    pub title: &'a str,
    /// Time stamps of the history then the forecast.
    pub times: &'a [String],
    /// History values (the first `history.len()` steps).
    pub history: &'a [f64],
    /// Forecast values (the steps after the history).
    pub forecast: &'a [f64],
    /// Lower bound of the interval per forecast step.
    pub lower: &'a [f64],
    /// Upper bound of the interval per forecast step.
    pub upper: &'a [f64],
    /// Legend text of the band, such as "90% interval".
    pub band: &'a str,
    /// Pixels.
    pub size: Size,
}

/// Draws a [`ForecastChart`].
pub fn forecast_chart(f: &ForecastChart) -> Result<String> {
    let h = f.history.len();
    let total = h + f.forecast.len();
    let (lo, hi) = extent(
        f.history
            .iter()
            .chain(f.forecast)
            .chain(f.lower)
            .chain(f.upper)
            .copied(),
    );
    let (lo, hi) = padded(lo, hi);
    let x_hi = (total.max(2) - 1) as f64;
    let times = f.times;
    let label = |x: &f64| {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        times.get(i as usize).cloned().unwrap_or_default()
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, f.size).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(f.title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_hi, lo..hi)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .label_style((FONT, 12))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(220, 220, 220))
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&label)
            .draw()
            .map_err(chart_error)?;
        let history: Vec<(f64, f64)> = f
            .history
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64, *v))
            .collect();
        let step = |i: usize| (h + i) as f64;
        if !f.lower.is_empty() && f.lower.len() == f.upper.len() {
            let mut band: Vec<(f64, f64)> = f
                .upper
                .iter()
                .enumerate()
                .map(|(i, v)| (step(i), *v))
                .collect();
            band.extend(f.lower.iter().enumerate().rev().map(|(i, v)| (step(i), *v)));
            let shade = colour(1);
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    shade.mix(0.25).filled(),
                )))
                .map_err(chart_error)?
                .label(f.band)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], shade.mix(0.25).filled())
                });
        }
        chart
            .draw_series(LineSeries::new(
                history.iter().copied(),
                colour(0).stroke_width(2),
            ))
            .map_err(chart_error)?
            .label("history")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour(0).filled()));
        // The forecast line starts at the last observed value so the two join.
        let forecast: Vec<(f64, f64)> = history
            .last()
            .copied()
            .into_iter()
            .chain(f.forecast.iter().enumerate().map(|(i, v)| (step(i), *v)))
            .collect();
        chart
            .draw_series(LineSeries::new(forecast, colour(1).stroke_width(2)))
            .map_err(chart_error)?
            .label("forecast")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour(1).filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_text() {
        let pts = [(0.0, 0.0), (0.5, 0.8), (1.0, 1.0)];
        let svg = xy_chart(
            &Frame {
                title: "ROC <curve>",
                x_label: "false positive rate",
                y_label: "true positive rate",
                x: (0.0, 1.0),
                y: (0.0, 1.0),
                size: HALF,
                reference: Some(((0.0, 0.0), (1.0, 1.0))),
                legend: Some(Legend::LowerRight),
            },
            &[Series {
                name: "class 1".into(),
                points: &pts,
                colour: colour(0),
                line: true,
                radius: 0,
            }],
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert!(svg.contains("false positive rate"));
        assert!(svg.contains("class 1"));
        // Text is escaped by the backend.
        assert!(svg.contains("ROC &lt;curve&gt;"));
        let bars = bar_chart(
            "importance",
            "loss increase",
            &["time".into(), "age".into()],
            &[0.2, -0.01],
            &[0.02, 0.0],
            HALF,
        )
        .unwrap();
        // The backend writes each text on a line of its own inside its element.
        assert!(
            bars.contains(">\ntime\n</text>") && bars.contains(">\nage\n</text>"),
            "{bars}"
        );
    }
}
