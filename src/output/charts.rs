//! SVG charts (plotters, no system fonts needed: text is left to the viewer): fan charts with
//! 95%, 80% and 50% bands and the median, scenario overlays, plan-target markers, difference fan
//! charts, and population pyramids. Each function returns the SVG text.

use plotters::prelude::*;

/// One scenario's band series: per year the nine quantiles p025 … p975 (stats::PROBS order).
pub struct Fan<'a> {
    /// Legend name.
    pub name: &'a str,
    /// (year, quantiles).
    pub points: Vec<(i32, [f64; 9])>,
}

/// A plan target drawn as a marker.
pub struct Marker<'a> {
    /// Target name.
    pub name: &'a str,
    /// Year.
    pub year: i32,
    /// Threshold.
    pub threshold: f64,
}

/// An observed value drawn over the bands: filled when the run used it, hollow when not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ObsPoint {
    /// Year.
    pub year: i32,
    /// Value, in the chart's unit.
    pub value: f64,
    /// Whether the run used it (forced it, restated the base with it, or set it beside the band).
    pub used: bool,
}

/// Scenario colours (colour-blind safe: Okabe–Ito).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

const W: u32 = 760;
const H: u32 = 430;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("chart: {e:?}")
}

fn y_range(fans: &[Fan<'_>], markers: &[Marker<'_>], observed: &[ObsPoint], with_zero: bool) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for f in fans {
        for (_, q) in &f.points {
            lo = lo.min(q[0]);
            hi = hi.max(q[8]);
        }
    }
    for m in markers {
        lo = lo.min(m.threshold);
        hi = hi.max(m.threshold);
    }
    for o in observed {
        lo = lo.min(o.value);
        hi = hi.max(o.value);
    }
    if with_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.06 * (hi - lo) } else { lo.abs().max(1.0) * 0.05 };
    (lo - pad, hi + pad)
}

fn band(points: &[(i32, [f64; 9])], lo: usize, hi: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = points.iter().map(|(y, q)| (f64::from(*y), q[lo])).collect();
    v.extend(points.iter().rev().map(|(y, q)| (f64::from(*y), q[hi])));
    v
}

/// A fan chart: for one scenario the 95%, 80% and 50% bands and the median; for several
/// (an overlay), each scenario's 80% band and median in its own colour; the observations as
/// points (hollow when not used). `zero_line` draws y = 0 (for differences).
pub fn fan_chart(
    title: &str,
    y_desc: &str,
    fans: &[Fan<'_>],
    markers: &[Marker<'_>],
    observed: &[ObsPoint],
    zero_line: bool,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let years: Vec<i32> = fans.iter().flat_map(|f| f.points.iter().map(|p| p.0)).collect();
        let (x0, x1) = (years.iter().min().copied().unwrap_or(0), years.iter().max().copied().unwrap_or(1));
        let (y0, y1) = y_range(fans, markers, observed, zero_line);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(10)
            .x_label_area_size(42)
            .y_label_area_size(78)
            .build_cartesian_2d(f64::from(x0) - 0.3..f64::from(x1) + 0.3, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("year 年")
            .y_desc(y_desc)
            .x_labels(((x1 - x0) as usize / 2).max(2))
            .x_label_formatter(&|x| format!("{}", x.round() as i32))
            .y_label_formatter(&|y| fmt_tick(*y))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        if zero_line {
            chart
                .draw_series(LineSeries::new(
                    [(f64::from(x0), 0.0), (f64::from(x1), 0.0)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?;
        }
        let single = fans.len() == 1;
        for (k, f) in fans.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let bands: &[(usize, usize, f64, &str)] = if single {
                &[(0, 8, 0.15, "95%"), (2, 6, 0.25, "80%"), (3, 5, 0.4, "50%")]
            } else {
                &[(2, 6, 0.18, "80%")]
            };
            for &(lo, hi, alpha, label) in bands {
                let name = if single { format!("{label} band 区间") } else { format!("{} 80%", f.name) };
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        band(&f.points, lo, hi),
                        color.mix(alpha).filled(),
                    )))
                    .map_err(err)?
                    .label(name)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.mix(alpha).filled())
                    });
            }
            let name = if single { "median 中位数".to_string() } else { format!("{} median", f.name) };
            chart
                .draw_series(LineSeries::new(
                    f.points.iter().map(|(y, q)| (f64::from(*y), q[4])),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        let ink = RGBColor(20, 20, 20);
        for (used, label) in [(true, "observed 观测值"), (false, "observed, not used 未用观测值")] {
            let points: Vec<(f64, f64)> =
                observed.iter().filter(|o| o.used == used).map(|o| (f64::from(o.year), o.value)).collect();
            if points.is_empty() {
                continue;
            }
            let style = if used { ink.filled() } else { ink.stroke_width(1) };
            chart
                .draw_series(points.into_iter().map(|p| Circle::new(p, 4, style)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 7, y), 4, style));
        }
        for m in markers {
            let label = format!("target {} 规划目标", m.name);
            chart
                .draw_series(std::iter::once(Cross::new(
                    (f64::from(m.year), m.threshold),
                    7,
                    RED.stroke_width(2),
                )))
                .map_err(err)?
                .label(label)
                .legend(|(x, y)| Cross::new((x + 7, y), 5, RED.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A population pyramid: males left, females right, by 5-year group; the first year as outlines,
/// the second filled.
pub fn pyramid(
    title: &str,
    groups: &[&str],
    first: (i32, &[[f64; 2]]),
    second: (i32, &[[f64; 2]]),
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H + 60)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max =
            first.1.iter().chain(second.1).flat_map(|v| v.iter().copied()).fold(0.0f64, f64::max).max(1e-9)
                * 1.08;
        let n = groups.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(10)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(-max..max, -0.5..n - 0.5)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("← male 男   population 人口, 10k persons 万人   female 女 →")
            .y_desc("age 年龄")
            .x_label_formatter(&|x| fmt_tick(x.abs()))
            .draw()
            .map_err(err)?;
        // Age groups written inside the plot at its left edge (plotters places f64 ticks at round
        // numbers, not at each group).
        chart
            .draw_series(groups.iter().enumerate().map(|(g, label)| {
                Text::new(
                    label.to_string(),
                    (-max * 0.99, g as f64 + 0.3),
                    ("sans-serif", 11).into_font().color(&BLACK),
                )
            }))
            .map_err(err)?;
        let (c_m, c_f) = (PALETTE[0], PALETTE[1]);
        let rects = |data: &[[f64; 2]], filled: bool| -> Vec<Rectangle<(f64, f64)>> {
            data.iter()
                .enumerate()
                .flat_map(|(g, v)| {
                    let (y0, y1) = (g as f64 - 0.4, g as f64 + 0.4);
                    let m = if filled { c_m.mix(0.6).filled() } else { BLACK.stroke_width(1) };
                    let f = if filled { c_f.mix(0.6).filled() } else { BLACK.stroke_width(1) };
                    [Rectangle::new([(-v[1], y0), (0.0, y1)], m), Rectangle::new([(0.0, y0), (v[0], y1)], f)]
                })
                .collect()
        };
        chart
            .draw_series(rects(second.1, true))
            .map_err(err)?
            .label(format!("{} (median 中位数)", second.0))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c_m.mix(0.6).filled()));
        chart
            .draw_series(rects(first.1, false))
            .map_err(err)?
            .label(format!("{} (outline 轮廓)", first.0))
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLACK.stroke_width(1)));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The legend box, the same on every chart.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .position(position)
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(err)
}

/// A tick label: thousands separated, at most 3 significant decimals.
pub fn fmt_tick(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 {
        let s = format!("{:.0}", x);
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if a >= 10.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.1}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{x:.3}")
    }
}
