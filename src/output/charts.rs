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
    /// Median and band outlines dashed (a later scenario of an overlay: drawn over an equal
    /// one, both stay visible).
    pub dashed: bool,
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
const H: u32 = 440;
/// Text sizes as plotters takes them; it writes `size / 1.24` into the SVG, so 18 is 14.5 SVG
/// units, and a chart shown at the report's narrowest 640 px (of 760) keeps its text at 12.2 px.
pub const TEXT: u32 = 18;
const CAPTION: u32 = 22;
/// How plotters turns a font size into the SVG's `font-size`.
const SVG_FONT_SCALE: f64 = 1.0 / 1.24;

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

/// A legend entry's sample: how the series it names is drawn.
#[derive(Clone, Copy)]
enum Swatch {
    /// A line (a median).
    Line(ShapeStyle),
    /// A dashed line (a later scenario's median).
    Dashed(ShapeStyle),
    /// A filled or outlined box (a band, a bar).
    Box(ShapeStyle),
    /// A dot (an observation), filled or hollow.
    Dot(ShapeStyle),
    /// A cross (a target).
    Cross(ShapeStyle),
}

/// Height of one legend row below a chart, in the SVG's units.
const LEGEND_ROW: u32 = 26;

/// The approximate width of a label at the chart's text size (CJK characters are square, the
/// rest about half as wide): enough to lay out a legend without measuring fonts, which the SVG
/// leaves to the viewer.
fn text_width(label: &str) -> i32 {
    let w: f64 = label.chars().map(|c| if c >= '\u{2e80}' { 1.0 } else { 0.56 }).sum();
    (w * f64::from(TEXT) * SVG_FONT_SCALE).ceil() as i32
}

/// Lays out legend entries left to right in rows below the plot; returns each entry's (x, row)
/// and the number of rows.
fn legend_layout(items: &[(Swatch, String)]) -> (Vec<(i32, i32)>, u32) {
    let (left, right) = (24, W as i32 - 12);
    let (mut x, mut row) = (left, 0);
    let mut at = Vec::with_capacity(items.len());
    for (_, label) in items {
        let w = 26 + text_width(label);
        if x + w > right && x > left {
            x = left;
            row += 1;
        }
        at.push((x, row));
        x += w + 22;
    }
    (at, if items.is_empty() { 0 } else { row as u32 + 1 })
}

/// Draws the legend below a chart, outside the plot, so that it never covers a series.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    items: &[(Swatch, String)],
) -> Result<(), String> {
    let (at, _) = legend_layout(items);
    let font = ("sans-serif", TEXT).into_font().color(&BLACK);
    for ((swatch, label), &(x, row)) in items.iter().zip(&at) {
        let y = 6 + row * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2;
        match *swatch {
            Swatch::Line(s) => area.draw(&PathElement::new([(x, y), (x + 18, y)], s)),
            Swatch::Dashed(s) => area
                .draw(&PathElement::new([(x, y), (x + 7, y)], s))
                .and_then(|()| area.draw(&PathElement::new([(x + 11, y), (x + 18, y)], s))),
            Swatch::Box(s) => area.draw(&Rectangle::new([(x, y - 6), (x + 18, y + 6)], s)),
            Swatch::Dot(s) => area.draw(&Circle::new((x + 9, y), 4, s)),
            Swatch::Cross(s) => area.draw(&Cross::new((x + 9, y), 5, s)),
        }
        .map_err(err)?;
        area.draw(&Text::new(
            label.clone(),
            (x + 26, y - (f64::from(TEXT) * SVG_FONT_SCALE / 2.0).round() as i32 - 1),
            font.clone(),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// A fan chart: for one scenario the 95%, 80% and 50% bands and the median; for several
/// (an overlay), each scenario's 80% band, outlined (a dashed fan's not filled), and median in
/// its own colour; the
/// observations as points (hollow when not used); the legend below the plot. `zero_line` draws
/// y = 0 (for differences).
pub fn fan_chart(
    title: &str,
    y_desc: &str,
    fans: &[Fan<'_>],
    markers: &[Marker<'_>],
    observed: &[ObsPoint],
    zero_line: bool,
) -> Result<String, String> {
    let single = fans.len() == 1;
    let single_bands: [(usize, usize, f64, &str); 3] =
        [(0, 8, 0.15, "95%"), (2, 6, 0.25, "80%"), (3, 5, 0.4, "50%")];
    let ink = RGBColor(20, 20, 20);
    let obs_kinds = [
        (true, "observed 观测值", ink.filled()),
        (false, "observed, not used 未用观测值", ink.stroke_width(1)),
    ];
    // The legend, in drawing order.
    let mut items: Vec<(Swatch, String)> = Vec::new();
    for (k, f) in fans.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        if single {
            for (_, _, alpha, label) in single_bands {
                items.push((Swatch::Box(color.mix(alpha).filled()), format!("{label} band 区间")));
            }
            items.push((Swatch::Line(color.stroke_width(2)), format!("median 中位数: {}", f.name)));
        } else {
            let line = if f.dashed {
                Swatch::Dashed(color.stroke_width(2))
            } else {
                Swatch::Line(color.stroke_width(2))
            };
            items.push((line, format!("{} (median, 80% band)", f.name)));
        }
    }
    for (used, label, style) in obs_kinds {
        if observed.iter().any(|o| o.used == used) {
            items.push((Swatch::Dot(style), label.to_string()));
        }
    }
    for m in markers {
        items.push((Swatch::Cross(RED.stroke_width(2)), format!("target {} 规划目标", m.name)));
    }
    let (_, rows) = legend_layout(&items);
    let legend_h = if rows == 0 { 0 } else { rows * LEGEND_ROW + 12 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H + legend_h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(H);
        let years: Vec<i32> = fans.iter().flat_map(|f| f.points.iter().map(|p| p.0)).collect();
        let (x0, x1) = (years.iter().min().copied().unwrap_or(0), years.iter().max().copied().unwrap_or(1));
        let (y0, y1) = y_range(fans, markers, observed, zero_line);
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, ("sans-serif", CAPTION))
            .margin(12)
            .x_label_area_size(54)
            .y_label_area_size(100)
            .build_cartesian_2d(f64::from(x0) - 0.3..f64::from(x1) + 0.3, y0..y1)
            .map_err(err)?;
        years_mesh(&mut chart, x0, x1, y_desc, &|y| fmt_tick(*y))?;
        if zero_line {
            chart
                .draw_series(LineSeries::new(
                    [(f64::from(x0), 0.0), (f64::from(x1), 0.0)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?;
        }
        for (k, f) in fans.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let bands: &[(usize, usize, f64, &str)] =
                if single { &single_bands } else { &[(2, 6, 0.10, "80%")] };
            for &(lo, hi, alpha, _) in bands {
                // A dashed fan's band is its outline only: two tinted fills over each other
                // would mix into one muddy colour.
                if !f.dashed {
                    chart
                        .draw_series(std::iter::once(Polygon::new(
                            band(&f.points, lo, hi),
                            color.mix(alpha).filled(),
                        )))
                        .map_err(err)?;
                }
                if !single {
                    // Overlaid bands are outlined, so that each stays legible where they cross.
                    for q in [lo, hi] {
                        line(&mut chart, f, q, color.mix(0.8).stroke_width(1))?;
                    }
                }
            }
            line(&mut chart, f, 4, color.stroke_width(2))?;
        }
        for (used, _, style) in obs_kinds {
            let points = observed.iter().filter(|o| o.used == used).map(|o| (f64::from(o.year), o.value));
            chart.draw_series(points.map(|p| Circle::new(p, 4, style))).map_err(err)?;
        }
        for m in markers {
            chart
                .draw_series(std::iter::once(Cross::new(
                    (f64::from(m.year), m.threshold),
                    7,
                    RED.stroke_width(2),
                )))
                .map_err(err)?;
        }
        draw_legend(&legend_area, &items)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The grid and axes of a chart over the years x0..=x1: a label every fifth year (2020, 2025,
/// 2030, 2035: the plan's milestones), six on the y axis, formatted by `y_label`.
fn years_mesh<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    x0: i32,
    x1: i32,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<(), String> {
    chart
        .configure_mesh()
        .x_desc("year 年")
        .y_desc(y_desc)
        .x_labels(((x1 - x0) as usize / 5 + 1).max(2))
        .y_labels(6)
        .x_label_formatter(&|x| format!("{}", x.round() as i32))
        .y_label_formatter(y_label)
        .label_style(("sans-serif", TEXT))
        .axis_desc_style(("sans-serif", TEXT))
        .bold_line_style(RGBColor(230, 230, 230))
        .max_light_lines(0)
        .draw()
        .map_err(err)
}

/// Quantile `q` of a fan over the years, solid or dashed as the fan says.
fn line<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<
        'a,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    f: &Fan<'_>,
    q: usize,
    style: ShapeStyle,
) -> Result<(), String> {
    let points = f.points.iter().map(|(y, v)| (f64::from(*y), v[q]));
    if f.dashed {
        chart.draw_series(DashedLineSeries::new(points, 7, 4, style)).map_err(err)?;
    } else {
        chart.draw_series(LineSeries::new(points, style)).map_err(err)?;
    }
    Ok(())
}

/// A population pyramid: males left, females right, by 5-year group; the first year as outlines,
/// the second filled.
pub fn pyramid(
    title: &str,
    groups: &[&str],
    first: (i32, &[[f64; 2]]),
    second: (i32, &[[f64; 2]]),
) -> Result<String, String> {
    let (c_m, c_f) = (PALETTE[0], PALETTE[1]);
    let items = [
        (Swatch::Box(c_m.mix(0.6).filled()), format!("{} male 男 (median 中位数)", second.0)),
        (Swatch::Box(c_f.mix(0.6).filled()), format!("{} female 女 (median 中位数)", second.0)),
        (Swatch::Box(BLACK.stroke_width(1)), format!("{} (outline 轮廓)", first.0)),
    ];
    let (_, rows) = legend_layout(&items);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (W, H + 60 + rows * LEGEND_ROW + 12)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (root, legend_area) = root.split_vertically(H + 60);
        let max =
            first.1.iter().chain(second.1).flat_map(|v| v.iter().copied()).fold(0.0f64, f64::max).max(1e-9)
                * 1.08;
        let n = groups.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", CAPTION))
            .margin(12)
            .x_label_area_size(54)
            .y_label_area_size(60)
            .build_cartesian_2d(-max * 1.22..max, -0.5..n - 0.5)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("← male 男   population 人口, 10k persons 万人   female 女 →")
            .y_desc("age 年龄")
            .x_label_formatter(&|x| fmt_tick(x.abs()))
            .label_style(("sans-serif", TEXT))
            .axis_desc_style(("sans-serif", TEXT))
            .bold_line_style(RGBColor(230, 230, 230))
            .max_light_lines(0)
            .draw()
            .map_err(err)?;
        // Age groups written in a strip at the plot's left, beyond the longest bar (plotters places f64
        // ticks at round numbers, not at each group).
        chart
            .draw_series(groups.iter().enumerate().map(|(g, label)| {
                Text::new(
                    label.to_string(),
                    (-max * 1.21, g as f64 + 0.3),
                    ("sans-serif", TEXT).into_font().color(&BLACK),
                )
            }))
            .map_err(err)?;
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
        chart.draw_series(rects(second.1, true)).map_err(err)?;
        chart.draw_series(rects(first.1, false)).map_err(err)?;
        draw_legend(&legend_area, &items)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// One layer of a stacked shares chart: its name, its share in each year and its colour.
pub struct Layer {
    /// Legend name.
    pub name: String,
    /// The share per year (of the chart's years), negative values drawn as 0.
    pub shares: Vec<f64>,
    /// Its colour: the k-th of [`LAYER_COLOURS`] (the same input the same colour on every chart
    /// of a page), or grey (`None`: other inputs, interactions; the later the darker).
    pub colour: Option<usize>,
}

/// The colours of stacked layers: Okabe–Ito's (as [`PALETTE`]) and its yellow, then three that
/// stay apart from them.
pub const LAYER_COLOURS: [RGBColor; 10] = [
    PALETTE[0],
    PALETTE[1],
    PALETTE[2],
    PALETTE[3],
    PALETTE[4],
    PALETTE[5],
    RGBColor(240, 228, 66),
    RGBColor(120, 80, 40),
    RGBColor(60, 60, 140),
    RGBColor(150, 200, 120),
];

/// A stacked area chart of shares (0 to 1) over the years: each layer on the ones before it, in
/// order, in its colour. The legend below.
pub fn shares_chart(title: &str, years: &[i32], layers: &[Layer]) -> Result<String, String> {
    let mut greys = 0u8;
    let colours: Vec<RGBColor> = layers
        .iter()
        .map(|l| match l.colour {
            Some(k) => LAYER_COLOURS[k % LAYER_COLOURS.len()],
            None => {
                greys += 1;
                let g = 215u8.saturating_sub(75 * (greys - 1));
                RGBColor(g, g, g)
            }
        })
        .collect();
    let color = |k: usize| colours[k];
    let items: Vec<(Swatch, String)> = layers
        .iter()
        .enumerate()
        .map(|(k, l)| (Swatch::Box(color(k).mix(0.85).filled()), l.name.clone()))
        .collect();
    let (_, rows) = legend_layout(&items);
    let legend_h = if rows == 0 { 0 } else { rows * LEGEND_ROW + 12 };
    let top = layers
        .iter()
        .fold(vec![0.0f64; years.len()], |acc, l| {
            acc.iter().zip(&l.shares).map(|(a, s)| a + s.max(0.0)).collect()
        })
        .into_iter()
        .fold(1.0f64, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H + legend_h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (plot_area, legend_area) = root.split_vertically(H);
        let (x0, x1) = (years.first().copied().unwrap_or(0), years.last().copied().unwrap_or(1));
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(title, ("sans-serif", CAPTION))
            .margin(12)
            .x_label_area_size(54)
            .y_label_area_size(100)
            .build_cartesian_2d(f64::from(x0) - 0.3..f64::from(x1) + 0.6, 0.0..top * 1.02)
            .map_err(err)?;
        years_mesh(&mut chart, x0, x1, "share of the variance 方差占比", &|y| {
            format!("{:.0}%", y * 100.0)
        })?;
        let mut below = vec![0.0f64; years.len()];
        for (k, l) in layers.iter().enumerate() {
            let above: Vec<f64> = below.iter().zip(&l.shares).map(|(b, s)| b + s.max(0.0)).collect();
            let mut poly: Vec<(f64, f64)> =
                years.iter().map(|&y| f64::from(y)).zip(above.iter().copied()).collect();
            poly.extend(years.iter().rev().map(|&y| f64::from(y)).zip(below.iter().rev().copied()));
            chart
                .draw_series(std::iter::once(Polygon::new(poly, color(k).mix(0.85).filled())))
                .map_err(err)?;
            below = above;
        }
        draw_legend(&legend_area, &items)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
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
    } else if a < 0.0005 {
        // Zero, and what rounds to it, without a sign (a tick at −1e-17 is not "-0.000").
        "0".into()
    } else {
        format!("{x:.3}")
    }
}
